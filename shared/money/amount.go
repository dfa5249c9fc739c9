package money

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/shopspring/decimal"
)

// maxIntegerDigits bounds the significant digits before the decimal point.
// 15 digits (just under a quadrillion) is far beyond any real treasury
// amount, and the bound keeps totals of many amounts comfortably inside what
// downstream systems (databases, spreadsheets, other languages' JSON
// decoders) handle exactly.
const maxIntegerDigits = 15

// ParseError says why a string is not an acceptable amount; its Error() text is shown
// to API users as a field message, so it is plain English without Go jargon.
type ParseError struct{ Reason string }

// Error returns the reason unchanged, so it can be shown to API users as is.
func (e *ParseError) Error() string { return e.Reason }

// parseError builds the (zero, error) pair returned for a rejected amount.
func parseError(format string, args ...any) (decimal.Decimal, error) {
	return decimal.Decimal{}, &ParseError{Reason: fmt.Sprintf(format, args...)}
}

// ParseAmount parses an API amount string for the currency.
//
// The accepted grammar is deliberately much narrower than what
// decimal.NewFromString understands: an optional leading '-', one or more
// ASCII digits, then optionally '.' and one or more digits. Anything looser
// (exponents, separators, "+", ".5", "1.") is ambiguous across locales and
// client libraries, so it is rejected with a reason rather than guessed at.
//
// The number of decimal places may not exceed c.MinorUnits, even if the extra
// digits are zeros: "1.500" EUR is rejected, because it usually means the
// client is working at a different precision than the ledger and silently
// accepting it would hide that bug. Leading zeros ("007") are refused too.
// "-0.00" parses as zero. Negative amounts
// parse; whether a sign is allowed is the caller's rule, not a syntax rule.
//
// c should come from LookupCurrency. The error, when not nil, is always a
// *ParseError.
func ParseAmount(s string, c Currency) (decimal.Decimal, error) {
	if s == "" {
		return parseError("amount must not be empty")
	}
	// Whitespace is checked before anything else so that "1 000" and " 5"
	// get the most helpful message. unicode.IsSpace also covers no-break and
	// thin spaces, which some locales use as thousands separators.
	if strings.IndexFunc(s, unicode.IsSpace) >= 0 {
		return parseError("amount must not contain spaces or other whitespace")
	}

	body := strings.TrimPrefix(s, "-")
	if isNaNOrInfinity(strings.TrimPrefix(body, "+")) {
		return parseError("amount must be a number, not NaN or Infinity")
	}
	if s[0] == '+' {
		return parseError("amount must not start with a '+' sign; write positive amounts without a sign")
	}

	dot := -1 // byte index of the decimal point in body, if any
	for i, r := range body {
		switch {
		case '0' <= r && r <= '9':
			// ok
		case r == '.':
			if dot >= 0 {
				return parseError("amount must not contain more than one decimal point")
			}
			dot = i
		case (r == 'e' || r == 'E') && i > 0 && isDigitOrDot(body[i-1]):
			return parseError("amount must be written out in full, without an exponent such as 1e3")
		case r == ',' || r == '_' || r == '\'' || r == '\u2019' || r == '\u066C':
			// ASCII separators, the typographic apostrophe (Swiss style) and
			// the Arabic thousands separator.
			return parseError("amount must not contain thousands separators; write 1250.50, not 1,250.50")
		case r == '-' || r == '+':
			return parseError("amount may only have a '-' sign, and only at the start")
		default:
			return parseError("amount may only contain the digits 0-9, an optional leading '-' and a '.' decimal point")
		}
	}

	intPart, fracPart := body, ""
	if dot >= 0 {
		intPart, fracPart = body[:dot], body[dot+1:]
	}
	switch {
	case body == "":
		return parseError("amount must contain at least one digit")
	case intPart == "":
		return parseError("amount must have at least one digit before the decimal point; write 0.5, not .5")
	case dot >= 0 && fracPart == "":
		return parseError("amount must have at least one digit after the decimal point, or no decimal point at all")
	}

	// Leading zeros are refused like any other spelling that is not the
	// canonical one: "0000000000000001.00" passed a 15-digit limit that
	// counted only significant digits, and reads differently in other
	// systems (octal in some).
	if len(intPart) > 1 && intPart[0] == '0' {
		return parseError("amount must not have leading zeros; write 1.00, not 01.00")
	}
	if len(intPart) > maxIntegerDigits {
		return parseError("amount must not have more than %d digits before the decimal point", maxIntegerDigits)
	}

	if len(fracPart) > int(c.MinorUnits) {
		name := c.Code
		if name == "" {
			name = "this currency"
		}
		switch c.MinorUnits {
		case 0:
			return parseError("amount must be a whole number for %s, without a decimal point", name)
		case 1:
			return parseError("amount must not have more than 1 digit after the decimal point for %s", name)
		default:
			return parseError("amount must not have more than %d digits after the decimal point for %s", c.MinorUnits, name)
		}
	}

	d, err := decimal.NewFromString(s)
	if err != nil {
		// Unreachable: the grammar above is a strict subset of what
		// NewFromString accepts. The library's own message ("can't convert
		// ... to decimal") is not meant for API users, so it is not passed on.
		return parseError("amount is not a valid number")
	}
	return d, nil
}

// isNaNOrInfinity reports whether s spells one of the special float values
// that some JSON encoders emit, so it can be given a specific message.
func isNaNOrInfinity(s string) bool {
	for _, special := range []string{"nan", "inf", "infinity"} {
		if strings.EqualFold(s, special) {
			return true
		}
	}
	return false
}

func isDigitOrDot(b byte) bool { return b == '.' || ('0' <= b && b <= '9') }

// Format renders d with exactly the currency's minor units ("5" -> "5.00" for EUR, "5" for JPY).
// d is always already within the currency's scale when called by the ledger; if it is not, round half-even (banker's) to the scale.
//
// Half-even is used because it is unbiased: over many roundings it does not
// drift the total upwards the way half-up does. The output never uses
// exponent notation and never shows a negative zero ("-0.00").
func Format(d decimal.Decimal, c Currency) string {
	return d.StringFixedBank(c.MinorUnits)
}
