// Package localauth is the local stack's token issuer: a signing key kept
// under the local data folder, tokens signed with it (make token), and the
// check the local gateway runs in place of API Gateway's JWT authorizer.
package localauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer and Audience of local tokens; on AWS they are template parameters.
const (
	Issuer   = "https://treasury.local/issuer"
	Audience = "treasury-api"
	keyFile  = "jwt-signing-key.pem"
)

// LoadOrCreateKey reads the RSA signing key from dir, creating it on first use.
func LoadOrCreateKey(dir string) (*rsa.PrivateKey, error) {
	path := filepath.Join(dir, keyFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		block := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: mustPKCS8(key)})
		// Write to a temp file and rename, so two first starts cannot
		// leave a half-written key.
		tmp, err := os.CreateTemp(dir, keyFile+".*")
		if err != nil {
			return nil, err
		}
		if _, err := tmp.Write(block); err != nil {
			tmp.Close()
			return nil, err
		}
		if err := tmp.Close(); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp.Name(), path); err != nil {
			return nil, err
		}
		return LoadOrCreateKey(dir)
	}
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s is not an RSA key", path)
	}
	return rk, nil
}

func mustPKCS8(k *rsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err) // an RSA key always marshals
	}
	return b
}

// Token is what a local token says.
type Token struct {
	Sub, Tenant, Scope string
	TTL                time.Duration
	Audience           string // "" = Audience
}

// Sign returns a signed RS256 JWT.
func Sign(key *rsa.PrivateKey, t Token, now time.Time) (string, error) {
	aud := t.Audience
	if aud == "" {
		aud = Audience
	}
	ttl := t.TTL
	if ttl == 0 {
		ttl = 12 * time.Hour
	}
	claims := jwt.MapClaims{
		"iss": Issuer, "aud": aud, "sub": t.Sub, "tenant": t.Tenant, "scope": t.Scope,
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(key)
}

// Verifier checks tokens the way the HTTP API JWT authorizer does: RS256
// only, issuer and audience, expiry with a small clock skew.
type Verifier struct {
	Key *rsa.PublicKey
}

// Verify returns the claims of a valid token as strings, as API Gateway
// hands them to the function.
func (v Verifier) Verify(token string) (map[string]string, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.Key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(Issuer), jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second), jwt.WithJSONNumber())
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(claims))
	for k, val := range claims {
		switch x := val.(type) {
		case string:
			out[k] = x
		case json.Number:
			out[k] = x.String()
		default:
			out[k] = fmt.Sprint(x)
		}
	}
	return out, nil
}
