package jwtauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Claims are the verified claims of a token. The registered claims are decoded; every claim, including custom
// ones, is available through Decode and GetClaim. Treat a Claims as read-only: it may be shared.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub
	Audience  []string  // aud, always as a list
	ExpiresAt time.Time // exp
	NotBefore time.Time // nbf; zero when absent
	IssuedAt  time.Time // iat; zero when absent
	ID        string    // jti
	// Scopes is the union of the space-delimited scope claim, the scp claim (string or array) and the
	// permissions claim (Auth0 RBAC), without duplicates, in order of first appearance.
	Scopes []string
	// KeyID and Algorithm are the kid and alg of the header, as verified.
	KeyID     string
	Algorithm string

	raw []byte // the payload JSON, never handed out without copying
	v   *Verifier
}

// RawJSON returns a copy of the token's payload JSON.
func (c *Claims) RawJSON() json.RawMessage { return append(json.RawMessage(nil), c.raw...) }

// Decode unmarshals the token's payload JSON into dst, a pointer to the caller's own claims struct.
func (c *Claims) Decode(dst any) error {
	if err := json.Unmarshal(c.raw, dst); err != nil {
		return fmt.Errorf("jwtauth: decoding claims into %T: %w", dst, err)
	}
	return nil
}

// ErrClaimMissing is returned by GetClaim when the token has no claim of that name.
var ErrClaimMissing = errors.New("jwtauth: claim not present")

// GetClaim decodes the claim called name into a T: GetClaim[string](c, "email"),
// GetClaim[[]string](c, "https://example.com/roles").
func GetClaim[T any](c *Claims, name string) (T, error) {
	var zero T
	var m map[string]json.RawMessage
	if err := json.Unmarshal(c.raw, &m); err != nil {
		return zero, fmt.Errorf("jwtauth: decoding claims: %w", err)
	}
	raw, ok := m[name]
	if !ok {
		return zero, fmt.Errorf("%w: %q", ErrClaimMissing, name)
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return zero, fmt.Errorf("jwtauth: claim %q is not a %T: %w", name, v, err)
	}
	return v, nil
}

// clone returns a deep copy, so a cached Claims cannot be changed through one handed out. Audience and Scopes
// share one new backing array, capped so that appending to one cannot overwrite the other.
func (c *Claims) clone() *Claims {
	d := *c
	if n := len(c.Audience) + len(c.Scopes); n > 0 {
		buf := make([]string, 0, n)
		buf = append(buf, c.Audience...)
		buf = append(buf, c.Scopes...)
		na := len(c.Audience)
		if c.Audience != nil {
			d.Audience = buf[:na:na]
		}
		if c.Scopes != nil {
			d.Scopes = buf[na:n:n]
		}
	}
	return &d
}

// newClaims builds the Claims handed to callers from a verified payload.
func newClaims(p *payload, h *header, raw []byte, v *Verifier) *Claims {
	c := &Claims{
		Issuer:    p.iss,
		Subject:   p.sub,
		ID:        p.jti,
		ExpiresAt: numericTime(p.exp),
		KeyID:     h.kid,
		Algorithm: h.alg,
		raw:       raw,
		v:         v,
	}
	if p.hasNbf {
		c.NotBefore = numericTime(p.nbf)
	}
	if p.hasIat {
		c.IssuedAt = numericTime(p.iat)
	}
	if p.audIsArray {
		c.Audience = p.audMany
	} else if p.hasAud {
		c.Audience = []string{p.audOne}
	}
	c.Scopes = unionScopes(p)
	return c
}

// unionScopes merges scope, scp and permissions, splitting strings on ASCII space only.
func unionScopes(p *payload) []string {
	var out []string
	add := func(s string) {
		if s == "" {
			return
		}
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	split := func(s string) {
		for s != "" {
			i := strings.IndexByte(s, ' ')
			if i < 0 {
				add(s)
				return
			}
			add(s[:i])
			s = s[i+1:]
		}
	}
	split(p.scope)
	split(p.scpOne)
	for _, s := range p.scpMany {
		add(s)
	}
	for _, s := range p.permissions {
		add(s)
	}
	return out
}
