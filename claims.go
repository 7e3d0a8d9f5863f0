package jwtauth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
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
	// ID is jti. Key replay and revocation checks on it (with Issuer), never on the token string: ECDSA
	// signatures are malleable, so the same claims can arrive in two different valid token strings.
	ID string
	// Scopes is the union of the space-delimited scope claim, the scp claim (string or array) and the
	// permissions claim (Auth0 RBAC), without duplicates, in order of first appearance.
	Scopes []string
	// Roles holds the roles (or groups) read from the claims named by the issuer's TrustedIssuer.Roles,
	// without duplicates, in order of first appearance; nil when the issuer has none configured.
	Roles []string
	// KeyID and Algorithm are the kid and alg of the header, as verified.
	KeyID     string
	Algorithm string

	// DPoPThumbprint is the token's cnf.jkt, the RFC 7638 thumbprint of the key whose DPoP proof came with
	// it; set only when RequireAuth checked that proof (RFC 9449), "" for bearer tokens.
	DPoPThumbprint string

	raw    []byte // the payload JSON, never handed out without copying
	v      *Verifier
	cnf    confirmation // checked against each request, cached or not
	hasCnf bool
	typed  atomic.Value // *typedClaims: ClaimsAs's decodes of this request's claims
}

// maxTypedClaims bounds how many types ClaimsAs remembers per request; more are decoded on every call.
const maxTypedClaims = 8

// typedClaims is one ClaimsAs result, in a list that only ever grows by an atomic swap of its head.
type typedClaims struct {
	typ  reflect.Type
	val  any
	err  error
	next *typedClaims
	n    int // list length up to here
}

// ClaimsAs decodes the token's claims into the caller's own type T (with Decode), once per request: later
// calls for the same T on the same *Claims return the first result, so middleware and handler can both ask
// at the cost of one decode. Nothing is decoded for callers that never ask. Each verified request has its own
// *Claims, also when the verified-token cache answers, so results never leak between requests. The result is
// shared by the callers of one request: treat maps, slices and pointers in it as read-only.
//
//	type myClaims struct {
//		Email  string `json:"email"`
//		Tenant string `json:"https://example.com/tenant"`
//	}
//	mc, err := jwtauth.ClaimsAs[myClaims](c)
func ClaimsAs[T any](c *Claims) (T, error) {
	typ := reflect.TypeFor[T]()
	for {
		head, _ := c.typed.Load().(*typedClaims)
		for m := head; m != nil; m = m.next {
			if m.typ == typ {
				v, _ := m.val.(T)
				return v, m.err
			}
		}
		var v T
		err := c.Decode(&v)
		if head != nil && head.n >= maxTypedClaims {
			return v, err
		}
		node := &typedClaims{typ: typ, val: v, err: err, next: head, n: 1}
		var old any // untyped nil while empty: atomic.Value's first CompareAndSwap
		if head != nil {
			node.n, old = head.n+1, head
		}
		if c.typed.CompareAndSwap(old, node) {
			return v, err
		}
		// Another goroutine of this request stored first; look again so both see one result.
	}
}

// RawJSON returns a copy of the token's payload JSON.
func (c *Claims) RawJSON() json.RawMessage { return append(json.RawMessage(nil), c.raw...) }

// Decode unmarshals the token's payload JSON into dst, a pointer to the caller's own claims struct.
// encoding/json matches names ignoring case, so Verify refuses tokens with two names equal that way at any
// depth or with a case variant of a registered claim it reads ("Sub", "EXP", "ſcope"), and Decode refuses a
// case variant of a claim along a TrustedIssuer.Roles path ("Roles"): dst never gets a value that Verify did
// not check. Prefer ClaimsAs, which decodes once per request.
func (c *Claims) Decode(dst any) error {
	if name, want := c.caseVariant(); name != "" {
		return fmt.Errorf("jwtauth: decoding claims into %T: the token has a claim %s, a case variant of %q that Verify read; refusing, since encoding/json would confuse them", dst, quote(name), want)
	}
	if err := json.Unmarshal(c.raw, dst); err != nil {
		return fmt.Errorf("jwtauth: decoding claims into %T: %w", dst, err)
	}
	return nil
}

// readClaims are the top-level claims Verify reads by exact name.
var readClaims = [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "scp", "permissions", "cnf"}

// caseVariant finds a member name that equals, under encoding/json's case folding (bytes.EqualFold: Unicode
// simple folding, so 'ſ' is 's' and 'K' (Kelvin) is 'k'), a claim Verify read without being it: a top-level
// registered or scope claim, or any member along a TrustedIssuer.Roles path ("realm_access": {"Roles": ...}).
func (c *Claims) caseVariant() (name, want string) {
	paths := make([][]string, 0, len(readClaims)+4)
	for i := range readClaims {
		paths = append(paths, readClaims[i:i+1])
	}
	if c.v != nil {
		for _, t := range c.v.trusts {
			for _, rc := range t.roles {
				paths = append(paths, rc.Path)
			}
		}
	}
	r := jsonReader{b: c.raw}
	return variantIn(&r, 0, paths)
}

// variantIn checks the members of the object at r against the names paths expect at depth, and descends into
// those members where a path goes on. It consumes the value at r.
func variantIn(r *jsonReader, depth int, paths [][]string) (name, want string) {
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		r.skip(depth)
		return "", ""
	}
	r.object(depth, func(n []byte) bool {
		var deeper [][]string
		exact := false
		for _, p := range paths {
			if string(n) == p[depth] {
				exact = true
				if len(p) > depth+1 {
					deeper = append(deeper, p)
				}
			}
		}
		for _, p := range paths {
			if !exact && bytes.EqualFold(n, []byte(p[depth])) {
				name, want = string(n), strings.Join(p[:depth+1], ".")
				return false
			}
		}
		if len(deeper) == 0 {
			return r.skip(depth + 1)
		}
		name, want = variantIn(r, depth+1, deeper)
		return name == ""
	})
	return name, want
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

// ownedClaims is a Claims with room for its lists, so that a verified token's claims, and the copy a cache
// hit hands out, are usually one allocation.
type ownedClaims struct {
	Claims
	lists [6]string
}

// clone returns a deep copy, so a cached Claims cannot be changed through one handed out, with no ClaimsAs
// results: each request decodes its own. The payload JSON is shared: nothing writes it, and RawJSON copies.
// Audience, Scopes and Roles share one new backing array, capped so that appending to one cannot overwrite
// another.
func (c *Claims) clone() *Claims {
	o := &ownedClaims{Claims: Claims{
		Issuer: c.Issuer, Subject: c.Subject, ExpiresAt: c.ExpiresAt, NotBefore: c.NotBefore,
		IssuedAt: c.IssuedAt, ID: c.ID, KeyID: c.KeyID, Algorithm: c.Algorithm, raw: c.raw, v: c.v,
		cnf: c.cnf, hasCnf: c.hasCnf, DPoPThumbprint: c.DPoPThumbprint,
		Audience: c.Audience, Scopes: c.Scopes, Roles: c.Roles,
	}}
	d := &o.Claims
	na, ns := len(c.Audience), len(c.Scopes)
	if n := na + ns + len(c.Roles); n > 0 {
		var buf []string
		if n <= len(o.lists) {
			buf = o.lists[:0:n]
		} else {
			buf = make([]string, 0, n)
		}
		buf = append(buf, c.Audience...)
		buf = append(buf, c.Scopes...)
		buf = append(buf, c.Roles...)
		if c.Audience != nil {
			d.Audience = buf[:na:na]
		}
		if c.Scopes != nil {
			d.Scopes = buf[na : na+ns : na+ns]
		}
		if c.Roles != nil {
			d.Roles = buf[na+ns : n : n]
		}
	}
	return d
}

// newClaims builds the Claims handed to callers from a verified payload. Audience and Scopes go into the
// inline lists of an ownedClaims while they fit, so a common token's claims are one allocation.
func newClaims(p *payload, h *header, raw []byte, v *Verifier) *Claims {
	o := &ownedClaims{Claims: Claims{
		Issuer:    p.iss,
		Subject:   p.sub,
		ID:        p.jti,
		ExpiresAt: numericTime(p.exp),
		KeyID:     h.kid,
		Algorithm: h.alg,
		raw:       raw,
		v:         v,
		cnf:       p.cnf,
		hasCnf:    p.hasCnf,
	}}
	c := &o.Claims
	if p.hasNbf {
		c.NotBefore = numericTime(p.nbf)
	}
	if p.hasIat {
		c.IssuedAt = numericTime(p.iat)
	}
	lists := o.lists[:0]
	if p.audIsArray {
		c.Audience = p.audMany
	} else if p.hasAud {
		o.lists[0] = p.audOne
		c.Audience, lists = o.lists[:1:1], o.lists[1:1]
	}
	c.Scopes = unionScopes(lists, p)
	return c
}

// unionScopes merges scope, scp and permissions, splitting strings on ASCII space only, appending to out
// (empty, with room to use); nil when there are none. The result is capped at its length, so appending to
// it never writes into out's spare room.
func unionScopes(out []string, p *payload) []string {
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
	if len(out) == 0 {
		return nil
	}
	return out[:len(out):len(out)]
}
