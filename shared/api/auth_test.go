package api

import "testing"

// TestScopeClaim: API Gateway hands a JSON array claim over as "[a b c]";
// read as a plain string, only its middle scopes counted.
func TestScopeClaim(t *testing.T) {
	for in, want := range map[string]string{
		"accounts:view admin":   "accounts:view admin",
		"[accounts:view admin]": "accounts:view admin",
		"[admin]":               "admin",
		"[":                     "[",
		"":                      "",
	} {
		if got := scopeClaim(in); got != want {
			t.Errorf("scopeClaim(%q) = %q, want %q", in, got, want)
		}
	}
}
