package ledger

import (
	"crypto/rand"
	"encoding/binary"
	"strings"
	"time"
)

// ID prefixes of the contract.
const (
	AccountPrefix     = "acc_"
	TransactionPrefix = "txn_"
)

// crockford is Crockford's base32: no I, L, O, U, so ids read aloud well, and
// its order equals byte order, so ids sort by creation time.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewID returns prefix + 26 characters: 48 bits of milliseconds since the
// epoch, then 80 random bits (the ULID layout). Ids made in the same
// millisecond sort arbitrarily among themselves, which nothing relies on.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	if _, err := rand.Read(b[6:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never happens on Linux
	}
	// 128 bits -> 26 base32 digits, most significant first.
	hi := binary.BigEndian.Uint64(b[:8])
	lo := binary.BigEndian.Uint64(b[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return prefix + string(out[:])
}

// ValidID reports whether s looks like an id with the prefix, so that text
// from a URL never reaches a storage key unchecked.
func ValidID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 26 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if strings.IndexByte(crockford, rest[i]) < 0 {
			return false
		}
	}
	return true
}
