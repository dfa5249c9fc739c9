package money

import (
	"github.com/shopspring/decimal"
)

// rateDecimals is the precision of exchange rates stored by the ledger.
const rateDecimals = 10

// two is used to compare a remainder against half of the rounding unit
// without dividing (which could itself round).
var two = decimal.NewFromInt(2)

// RateOf returns to/from rounded half-even to at most 10 decimals (from > 0).
//
// The rate is computed exactly and rounded once. Going through
// decimal.Div (which first rounds to DivisionPrecision digits) and then
// RoundBank would round twice, and a quotient such as 0.00146484374999999...
// would first become 0.0014648437500000 and then be rounded to even in the
// wrong direction. DivRound is not used either because it rounds half away
// from zero, not half-even.
//
// RateOf panics if from is zero: callers validate amounts as positive before
// asking for a rate, so a zero here is a programming error. A negative from
// (outside the contract) still yields the correctly rounded quotient.
func RateOf(from, to decimal.Decimal) decimal.Decimal {
	if from.IsZero() {
		panic("money.RateOf: from amount is zero")
	}

	// q is the quotient truncated towards zero to rateDecimals places and
	// to = from*q + r, with |r| < |from| * 10^-rateDecimals.
	q, r := to.QuoRem(from, rateDecimals)
	if r.IsZero() {
		return q
	}

	// Compare the discarded part, r/from, with half a unit in the last place
	// (0.5 * 10^-rateDecimals); multiplied through by 2*|from| that is
	// 2*|r| versus |from| * 10^-rateDecimals, all exact.
	halfCmp := r.Abs().Mul(two).Cmp(from.Abs().Shift(-rateDecimals))
	roundAway := halfCmp > 0 || (halfCmp == 0 && isOddLastDigit(q))
	if !roundAway {
		return q
	}

	// Round away from zero in the direction of the exact quotient. Its sign
	// comes from the operands, not from q, which may have truncated to 0.
	step := decimal.New(1, -rateDecimals)
	if to.Sign()*from.Sign() < 0 {
		return q.Sub(step)
	}
	return q.Add(step)
}

// isOddLastDigit reports whether the last digit of q's coefficient is odd.
// QuoRem returns q with exponent exactly -rateDecimals, so that digit is the
// 10th decimal.
func isOddLastDigit(q decimal.Decimal) bool {
	c := q.Coefficient() // a copy; safe to modify
	return c.Abs(c).Bit(0) == 1
}

// FormatRate renders a rate with trailing zeros trimmed ("1.2332", "2", never "2.0000", never exponent notation).
//
// decimal.Decimal.String already behaves this way in shopspring/decimal
// v1.4.0; wrapping it pins the behaviour to this package's contract, and the
// tests will catch it if a library upgrade ever changes it.
func FormatRate(r decimal.Decimal) string {
	return r.String()
}
