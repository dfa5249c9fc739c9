// Package money holds the ledger's representation of currencies and amounts.
//
// Amounts are shopspring/decimal values end to end: they are parsed straight
// from the API's decimal strings and never pass through float64, because a
// binary float cannot represent most decimal fractions (0.1 + 0.2 != 0.3) and
// a ledger must balance to the last minor unit.
package money

// Currency is an ISO 4217 currency with its number of minor units.
type Currency struct {
	Code       string // "RON"
	MinorUnits int32  // 2 for RON/EUR/USD, 0 for JPY, 3 for BHD
}

// LookupCurrency returns the active ISO 4217 currency for an upper-case alphabetic code.
// Lower-case, unknown, historic or fund/metal codes (XAU, XDR, XXX, XTS...) are not found.
//
// The lookup is deliberately case-sensitive: ISO codes are upper-case, and
// the API contract asks clients to send them that way, so "eur" is reported
// as unknown rather than silently normalised.
func LookupCurrency(code string) (Currency, bool) {
	minor, ok := iso4217[code]
	if !ok {
		return Currency{}, false
	}
	return Currency{Code: code, MinorUnits: minor}, true
}
