package money

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
)

// mustCurrency looks up a currency the test relies on being in the table.
func mustCurrency(t testing.TB, code string) Currency {
	t.Helper()
	c, ok := LookupCurrency(code)
	if !ok {
		t.Fatalf("LookupCurrency(%q) not found", code)
	}
	return c
}

func TestLookupCurrency(t *testing.T) {
	found := map[string]int32{
		"EUR": 2, "RON": 2, "USD": 2, "GBP": 2, "CHF": 2,
		"HUF": 2, "IDR": 2, "COP": 2, // ISO says 2 where CLDR says 0
		"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XAF": 0, "XOF": 0,
		"XPF": 0, "UGX": 0, "PYG": 0, "RWF": 0, "BIF": 0, "DJF": 0, "GNF": 0,
		"KMF": 0, "VUV": 0, "UYI": 0,
		"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
		"CLF": 4, "UYW": 4,
		"SLE": 2, "VES": 2, "VED": 2, "ZWG": 2, "XCG": 2,
	}
	for code, minor := range found {
		c, ok := LookupCurrency(code)
		if !ok {
			t.Errorf("LookupCurrency(%q) not found", code)
			continue
		}
		if c.Code != code || c.MinorUnits != minor {
			t.Errorf("LookupCurrency(%q) = %+v, want minor units %d", code, c, minor)
		}
	}

	notFound := []string{
		"", "eur", "Eur", "EU", "EURO", " EUR", "EUR ",
		// funds, metals, units of account, testing codes
		"XXX", "XTS", "XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA",
		// withdrawn
		"HRK", "SLL", "ZWL", "CUC", "MRO", "STD", "VEF", "BYR", "LTL", "LVL",
		"ANG", "BGN", "DEM", "FRF",
	}
	for _, code := range notFound {
		if c, ok := LookupCurrency(code); ok {
			t.Errorf("LookupCurrency(%q) = %+v, want not found", code, c)
		}
	}
}

// TestISO4217Table guards the data file against typos.
func TestISO4217Table(t *testing.T) {
	code := regexp.MustCompile(`^[A-Z]{3}$`)
	for k, minor := range iso4217 {
		if !code.MatchString(k) {
			t.Errorf("table key %q is not a three-letter upper-case code", k)
		}
		switch minor {
		case 0, 2, 3, 4:
		default:
			t.Errorf("%s: unexpected minor units %d", k, minor)
		}
	}
	if n := len(iso4217); n < 155 || n > 180 {
		t.Errorf("table has %d currencies, want roughly 155-180", n)
	}
}

func TestParseAmountAccepts(t *testing.T) {
	ron := mustCurrency(t, "RON")
	jpy := mustCurrency(t, "JPY")
	bhd := mustCurrency(t, "BHD")

	tests := []struct {
		in   string
		c    Currency
		want string // compared with decimal.Equal
	}{
		{"1250.50", ron, "1250.5"},
		{"1", ron, "1"},
		{"0", ron, "0"},
		{"1.5", ron, "1.5"},
		{"1.50", ron, "1.5"},
		{"0.01", ron, "0.01"},
		{"-3.10", ron, "-3.1"},
		{"-0.00", ron, "0"},
		{"-0", ron, "0"},
		{"999999999999999.99", ron, "999999999999999.99"}, // 15 integer digits
		{"-999999999999999", ron, "-999999999999999"},
		{"1", jpy, "1"},
		{"1200", jpy, "1200"},
		{"-5", jpy, "-5"},
		{"1.234", bhd, "1.234"},
		{"1.2", bhd, "1.2"},
		{"0.5", bhd, "0.5"},
		{"42", bhd, "42"},
	}
	for _, tt := range tests {
		t.Run(tt.c.Code+"/"+tt.in, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.c)
			if err != nil {
				t.Fatalf("ParseAmount(%q, %s) error = %v", tt.in, tt.c.Code, err)
			}
			if want := decimal.RequireFromString(tt.want); !got.Equal(want) {
				t.Errorf("ParseAmount(%q, %s) = %s, want %s", tt.in, tt.c.Code, got, want)
			}
		})
	}
}

func TestParseAmountRejects(t *testing.T) {
	ron := mustCurrency(t, "RON")
	jpy := mustCurrency(t, "JPY")
	bhd := mustCurrency(t, "BHD")

	// wantReason is a fragment of the expected message, so each rule is shown
	// to produce its own explanation rather than a generic one.
	tests := []struct {
		in         string
		c          Currency
		wantReason string
	}{
		{"", ron, "must not be empty"},
		{"", jpy, "must not be empty"},

		{" 1", ron, "whitespace"},
		{"1 ", ron, "whitespace"},
		{"1 000", ron, "whitespace"},
		{"1\t0", jpy, "whitespace"},
		{"1\n", bhd, "whitespace"},
		{"1\u00a0000", ron, "whitespace"}, // no-break space
		{"1\u202f000", ron, "whitespace"}, // narrow no-break space
		{"- 1", ron, "whitespace"},

		{"+1", ron, "'+'"},
		{"+1.00", bhd, "'+'"},
		{"+0", jpy, "'+'"},

		{"1e3", ron, "exponent"},
		{"1E3", ron, "exponent"},
		{"1.5e2", ron, "exponent"},
		{"1e-2", bhd, "exponent"},
		{"1E3", jpy, "exponent"},
		{"1.e3", ron, "exponent"},

		{"1,000", ron, "thousands separators"},
		{"1,000", jpy, "thousands separators"},
		{"1,5", ron, "thousands separators"}, // decimal comma is not allowed either
		{"1_000", ron, "thousands separators"},
		{"1'000", ron, "thousands separators"},
		{"1\u2019000", ron, "thousands separators"},
		{"1,000.250", bhd, "thousands separators"},

		{"1.", ron, "after the decimal point"},
		{"1.", jpy, "after the decimal point"},
		{"-1.", bhd, "after the decimal point"},
		{".5", ron, "before the decimal point"},
		{"-.5", ron, "before the decimal point"},
		{".", ron, "before the decimal point"},
		{"1.2.3", ron, "more than one decimal point"},

		{"NaN", ron, "NaN or Infinity"},
		{"nan", ron, "NaN or Infinity"},
		{"-NaN", jpy, "NaN or Infinity"},
		{"Infinity", ron, "NaN or Infinity"},
		{"-Infinity", ron, "NaN or Infinity"},
		{"+Inf", bhd, "NaN or Infinity"},

		{"1000000000000000", ron, "more than 15 digits"}, // 16 digits
		{"1000000000000000.00", ron, "more than 15 digits"},
		{"-1000000000000000", jpy, "more than 15 digits"},
		{"0001000000000000000", bhd, "leading zeros"},
		{"007", ron, "leading zeros"},
		{"0000000000000001.00", ron, "leading zeros"},
		{"-01.00", ron, "leading zeros"},
		{"1000000000000000", ron, "more than 15 digits"},

		{"1.500", ron, "more than 2 digits after the decimal point for RON"},
		{"1.000", ron, "more than 2 digits after the decimal point for RON"},
		{"0.001", ron, "more than 2 digits after the decimal point for RON"},
		{"1.0", jpy, "whole number for JPY"},
		{"1.5", jpy, "whole number for JPY"},
		{"-0.0", jpy, "whole number for JPY"},
		{"1.2340", bhd, "more than 3 digits after the decimal point for BHD"},
		{"0.0001", bhd, "more than 3 digits after the decimal point for BHD"},

		{"-", ron, "at least one digit"},
		{"--1", ron, "'-' sign"},
		{"1-", ron, "'-' sign"},
		{"-+1", ron, "'-' sign"},
		{"abc", ron, "only contain the digits"},
		{"$5", ron, "only contain the digits"},
		{"5RON", ron, "only contain the digits"},
		{"0x10", ron, "only contain the digits"},
		{"\uff11", ron, "only contain the digits"}, // full-width digit one
		{"\u0661", ron, "only contain the digits"}, // Arabic-Indic digit one
		{"\"1\"", ron, "only contain the digits"},
		{"1\x00", ron, "only contain the digits"},
		{"\xff", ron, "only contain the digits"},
	}
	for _, tt := range tests {
		t.Run(tt.c.Code+"/"+tt.in, func(t *testing.T) {
			got, err := ParseAmount(tt.in, tt.c)
			if err == nil {
				t.Fatalf("ParseAmount(%q, %s) = %s, want error", tt.in, tt.c.Code, got)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseAmount(%q, %s) error %T, want *ParseError", tt.in, tt.c.Code, err)
			}
			if !strings.Contains(pe.Error(), tt.wantReason) {
				t.Errorf("ParseAmount(%q, %s) error %q, want it to mention %q", tt.in, tt.c.Code, pe.Error(), tt.wantReason)
			}
			if pe.Error() != pe.Reason {
				t.Errorf("Error() = %q, want the bare reason %q", pe.Error(), pe.Reason)
			}
		})
	}
}

func TestFormat(t *testing.T) {
	eur := mustCurrency(t, "EUR")
	ron := mustCurrency(t, "RON")
	jpy := mustCurrency(t, "JPY")
	bhd := mustCurrency(t, "BHD")
	clf := mustCurrency(t, "CLF")

	tests := []struct {
		in   string
		c    Currency
		want string
	}{
		{"5", eur, "5.00"},
		{"-3.1", ron, "-3.10"},
		{"0", ron, "0.00"},
		{"1250.5", ron, "1250.50"},
		{"1200", jpy, "1200"},
		{"5", jpy, "5"},
		{"0.5", bhd, "0.500"},
		{"1.234", bhd, "1.234"},
		{"1", clf, "1.0000"},
		{"999999999999999.99", eur, "999999999999999.99"},
		{"1e3", eur, "1000.00"}, // an exponent in the value never reaches the output

		// Out of scale: banker's rounding to the currency's scale.
		{"1.005", eur, "1.00"},
		{"1.015", eur, "1.02"},
		{"1.0051", eur, "1.01"},
		{"-1.005", eur, "-1.00"},
		{"-1.015", eur, "-1.02"},
		{"2.5", jpy, "2"},
		{"3.5", jpy, "4"},
		{"0.0005", bhd, "0.000"},
		{"-0.001", eur, "0.00"}, // no negative zero
	}
	for _, tt := range tests {
		t.Run(tt.c.Code+"/"+tt.in, func(t *testing.T) {
			if got := Format(decimal.RequireFromString(tt.in), tt.c); got != tt.want {
				t.Errorf("Format(%s, %s) = %q, want %q", tt.in, tt.c.Code, got, tt.want)
			}
		})
	}
}

func TestRateOf(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		want     string // FormatRate of the result
	}{
		{"example", "100.00", "123.32", "1.2332"},
		{"identity", "5", "5", "1"},
		{"whole", "1", "2.0000", "2"},
		{"thirds truncate", "3", "1", "0.3333333333"},
		{"two thirds round up", "3", "2", "0.6666666667"},

		// 1/2048 = 0.00048828125 and 3/2048 = 0.00146484375: the 11th
		// decimal is exactly 5 followed by zeros, so half-even decides.
		{"half to even stays", "2048", "1", "0.0004882812"},
		{"half to even rounds up", "2048", "3", "0.0014648438"},
		{"half to even negative", "2048", "-1", "-0.0004882812"},
		{"half to even negative up", "2048", "-3", "-0.0014648438"},
		// 1.0000000001/2 = 0.50000000005 -> 0.5 (half-up would give 0.5000000001).
		{"half at 0.5", "2", "1.0000000001", "0.5"},
		{"half at 0.5 odd", "2", "1.0000000003", "0.5000000002"},
		{"half of smallest unit", "2", "0.0000000001", "0"},

		// Just either side of a half, closer than 16 digits: a Div-then-round
		// implementation would round twice and get these wrong.
		{"just below half", "2048", "2.99999999999999999999", "0.0014648437"},
		{"just above half", "2048", "1.00000000000000000001", "0.0004882813"},

		{"tiny", "1000000000", "0.01", "0"},
		{"huge", "0.01", "999999999999999.99", "99999999999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := RateOf(decimal.RequireFromString(tt.from), decimal.RequireFromString(tt.to))
			if s := FormatRate(got); s != tt.want {
				t.Errorf("RateOf(%s, %s) = %q, want %q", tt.from, tt.to, s, tt.want)
			}
			if !got.Equal(got.Truncate(rateDecimals)) {
				t.Errorf("RateOf(%s, %s) = %s has more than %d decimals", tt.from, tt.to, got, rateDecimals)
			}
		})
	}
}

func TestRateOfZeroPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("RateOf with from = 0 did not panic")
		}
	}()
	RateOf(decimal.Zero, decimal.NewFromInt(1))
}

func TestFormatRate(t *testing.T) {
	tests := []struct {
		in   decimal.Decimal
		want string
	}{
		{decimal.RequireFromString("1.2332"), "1.2332"},
		{decimal.New(20000, -4), "2"}, // 2.0000
		{decimal.RequireFromString("2.50"), "2.5"},
		{decimal.New(0, -10), "0"},
		{decimal.New(-15, -1), "-1.5"},
		{decimal.New(1, -10), "0.0000000001"},
		{decimal.New(1, -30), "0.000000000000000000000000000001"},
		{decimal.RequireFromString("1e-7"), "0.0000001"},
		{decimal.New(123, 20), "12300000000000000000000"},
		{decimal.RequireFromString("1E+6"), "1000000"},
		{decimal.New(5, 0), "5"},
	}
	for _, tt := range tests {
		got := FormatRate(tt.in)
		if got != tt.want {
			t.Errorf("FormatRate(%s) = %q, want %q", tt.want, got, tt.want)
		}
		if strings.ContainsAny(got, "eE") {
			t.Errorf("FormatRate(%s) = %q uses exponent notation", tt.want, got)
		}
	}
}

// amountGrammar is the API contract written independently of ParseAmount's
// hand-written scanner, so the fuzzer can compare the two.
var amountGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(?:\.([0-9]+))?$`)

// grammarAccepts reports whether s satisfies the full contract for c: the
// grammar (no leading zeros), at most 15 integer digits and at most
// c.MinorUnits decimals.
func grammarAccepts(s string, c Currency) bool {
	m := amountGrammar.FindStringSubmatch(s)
	if m == nil {
		return false
	}
	return len(m[1]) <= maxIntegerDigits && len(m[2]) <= int(c.MinorUnits)
}

func FuzzParseAmount(f *testing.F) {
	fuzzCurrencies := []Currency{
		mustCurrency(f, "RON"),
		mustCurrency(f, "JPY"),
		mustCurrency(f, "BHD"),
		mustCurrency(f, "CLF"),
	}
	seeds := []string{
		"1250.50", "0", "-0.00", "1.5", "1.500", "1.", ".5", "1e3", "+1",
		"1,000", " 1", "NaN", "000000000000000001.00", "1000000000000000",
		"999999999999999.999", "-", "--1", "1.2.3", "\u00a01",
	}
	for _, s := range seeds {
		for i := range fuzzCurrencies {
			f.Add(s, uint8(i))
		}
	}

	f.Fuzz(func(t *testing.T, s string, which uint8) {
		c := fuzzCurrencies[int(which)%len(fuzzCurrencies)]
		d, err := ParseAmount(s, c)

		if want := grammarAccepts(s, c); (err == nil) != want {
			t.Fatalf("ParseAmount(%q, %s) error = %v, but contract says accept = %v", s, c.Code, err, want)
		}
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Reason == "" {
				t.Fatalf("ParseAmount(%q, %s) error %#v, want *ParseError with a reason", s, c.Code, err)
			}
			return
		}

		// Round trip: what the ledger renders must be accepted again by the
		// API and mean the same amount.
		out := Format(d, c)
		if !grammarAccepts(out, c) {
			t.Fatalf("Format(%s, %s) = %q, which breaks the amount contract", d, c.Code, out)
		}
		back, err := ParseAmount(out, c)
		if err != nil {
			t.Fatalf("ParseAmount(Format(%q)) = ParseAmount(%q, %s) error = %v", s, out, c.Code, err)
		}
		if !back.Equal(d) {
			t.Fatalf("round trip %q -> %q -> %s, want %s", s, out, back, d)
		}
	})
}
