package jwtauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	defaultIssuerTTL = 15 * time.Minute
	// maxIssuerTTL bounds IssuerConfig.TTL: a bearer token cannot be revoked, so a stolen one works until it
	// expires.
	maxIssuerTTL = 24 * time.Hour
	// maxKeyFile bounds LoadSigningKeys: a key file is a few KiB at most.
	maxKeyFile = 1 << 20
	// jwksCacheControl is short so verifiers pick up a rotation within minutes; jwtauth's verifier honours max-age.
	jwksCacheControl = "public, max-age=300"
)

// ErrReservedClaim is returned by Issuer.Issue when the caller's claims name a registered claim the Issuer sets
// itself (iss, sub, aud, exp, nbf, iat, jti), or cnf, which promises a key binding it does not make:
// overriding them silently would mint tokens the caller did not mean.
var ErrReservedClaim = errors.New("jwtauth: reserved claim")

// IssuerConfig configures an Issuer. NewIssuer validates it all at once.
type IssuerConfig struct {
	// Issuer is the iss of issued tokens, the value verifiers compare exactly. Required.
	Issuer string
	// Audience is the aud of issued tokens: the APIs that accept them. Required. One value is written as a
	// string, several as an array.
	Audience []string
	// TTL is the lifetime of issued tokens. Zero means 15 minutes; at most 24 hours, because a bearer token
	// cannot be revoked: a stolen one works until it expires. exp is iat plus TTL in whole seconds.
	TTL time.Duration
	// Keys are the signing keys. All are published by JWKS and trusted by TrustedIssuer, so tokens signed by a
	// retired key keep verifying until they expire. At least one; kids must be unique.
	Keys []*SigningKey
	// ActiveKeyID is the kid of the key that signs new tokens. "" means the first of Keys.
	ActiveKeyID string
	// Clock returns the current time, for iat and exp. Nil means time.Now.
	Clock func() time.Time
}

// Issuer mints signed tokens for a self-hosted login and publishes the keys that verify them. It is safe for
// concurrent use and holds no mutable state.
type Issuer struct {
	issuer   string
	audience []string
	ttl      time.Duration
	ttlSec   int64
	keys     []*SigningKey
	active   *SigningKey
	clock    func() time.Time // as configured, nil for time.Now; handed on to Verifier
	now      func() time.Time
	algs     []string
	jwks     []byte
	// issPart is `{"iss":ISS,"sub":` and audPart `,"aud":AUD,"iat":`: the fixed parts of every payload.
	issPart []byte
	audPart []byte
}

// NewIssuer validates cfg and returns an Issuer. Every problem found is reported in one error.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwtauth: IssuerConfig."+format, args...))
	}
	if cfg.Issuer == "" {
		bad("Issuer is empty: set the iss your verifiers expect, e.g. https://login.example.com")
	}
	if len(cfg.Audience) == 0 {
		bad("Audience is empty: set the API identifier verifiers expect in aud")
	}
	for i, a := range cfg.Audience {
		if a == "" {
			bad("Audience[%d] is empty", i)
		}
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = defaultIssuerTTL
	}
	if ttl < time.Second || ttl > maxIssuerTTL {
		bad("TTL %s is out of range: use 0 (default %s), or 1s up to %s (bearer tokens cannot be revoked, so keep them short-lived)", cfg.TTL, defaultIssuerTTL, maxIssuerTTL)
	}
	if len(cfg.Keys) == 0 {
		bad("Keys is empty: add a key from GenerateSigningKey or LoadSigningKeys")
	}
	seen := map[string]bool{}
	var kids []string
	var usable []*SigningKey
	for i, k := range cfg.Keys {
		if k.signer() == nil {
			bad("Keys[%d] is not a usable key: build it with GenerateSigningKey, NewSigningKey or ParseSigningKeys", i)
			continue
		}
		if seen[k.kid] {
			bad("Keys[%d]: kid %q is used by another key: kids must be unique", i, k.kid)
			continue
		}
		seen[k.kid] = true
		kids = append(kids, k.kid)
		usable = append(usable, k)
	}
	var active *SigningKey
	if cfg.ActiveKeyID == "" {
		if len(usable) > 0 {
			active = usable[0]
		}
	} else {
		for _, k := range usable {
			if k.kid == cfg.ActiveKeyID {
				active = k
			}
		}
		if active == nil {
			bad("ActiveKeyID %q is not the kid of any key: known kids are %s", cfg.ActiveKeyID, quoteList(kids))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	i := &Issuer{
		issuer:   cfg.Issuer,
		audience: slices.Clone(cfg.Audience),
		ttl:      ttl,
		ttlSec:   int64(ttl / time.Second),
		keys:     slices.Clone(usable),
		active:   active,
		clock:    cfg.Clock,
		now:      cfg.Clock,
	}
	if i.now == nil {
		i.now = time.Now
	}
	for _, k := range i.keys {
		if !slices.Contains(i.algs, k.alg.name) {
			i.algs = append(i.algs, k.alg.name)
		}
	}
	jwks, err := PublicJWKS(i.keys...)
	if err != nil {
		return nil, err
	}
	i.jwks = jwks
	i.issPart = appendJSONString(append([]byte(nil), `{"iss":`...), i.issuer)
	i.issPart = append(i.issPart, `,"sub":`...)
	i.audPart = append([]byte(nil), `,"aud":`...)
	if len(i.audience) == 1 {
		i.audPart = appendJSONString(i.audPart, i.audience[0])
	} else {
		i.audPart = append(i.audPart, '[')
		for n, a := range i.audience {
			if n > 0 {
				i.audPart = append(i.audPart, ',')
			}
			i.audPart = appendJSONString(i.audPart, a)
		}
		i.audPart = append(i.audPart, ']')
	}
	i.audPart = append(i.audPart, `,"iat":`...)
	return i, nil
}

// Issue mints a token for subject, signed by the active key: header {"alg","kid","typ":"JWT"}; claims iss, sub,
// aud, iat, nbf (= iat), exp (= iat + TTL), a random jti, and the caller's claims (e.g. "email", "scope").
// Claims naming iss, sub, aud, exp, nbf, iat, jti or cnf, or a name equal to one of them ignoring case as
// encoding/json matches names ("SUB", "ſub"), or a case variant of scope, scp or permissions, are refused with
// ErrReservedClaim; so are claims with two names equal ignoring case at any depth, which the Verifier refuses.
func (i *Issuer) Issue(subject string, claims map[string]any) (string, error) {
	return i.issue(subject, "", claims)
}

// IssueDPoP is Issue for a token bound to a DPoP key (RFC 9449 §6): it adds cnf {"jkt": jkt}, where jkt is the
// RFC 7638 thumbprint of the client's proof key (DPoPProver.Thumbprint, or of the jwk of a checked proof).
// Verifiers accept the token only with proofs signed by that key, and only from issuers whose
// TrustedIssuer.DPoP is not DPoPOff.
func (i *Issuer) IssueDPoP(subject, jkt string, claims map[string]any) (string, error) {
	if b, ok := decodeSegment(nil, jkt); !ok || len(b) != sha256.Size {
		return "", errors.New("jwtauth: IssueDPoP: jkt is not a base64url SHA-256 JWK thumbprint (43 characters)")
	}
	return i.issue(subject, jkt, claims)
}

func (i *Issuer) issue(subject, jkt string, claims map[string]any) (string, error) {
	if subject == "" {
		return "", errors.New("jwtauth: Issue: subject is empty: every token must say whom it is for")
	}
	for name := range claims {
		// encoding/json-based verifiers match names ignoring case ("SUB", "ſub" are sub to them), so a
		// name that folds to a reserved one would override it there.
		switch r := foldedReserved(name); r {
		case "":
		case "cnf":
			// A confirmation claim promises a key binding: IssueDPoP makes the one jwtauth checks.
			return "", fmt.Errorf("%w: %q (RFC 7800 proof-of-possession) is set by IssueDPoP from the client's key thumbprint; remove it from claims", ErrReservedClaim, name)
		default:
			if r != name {
				return "", fmt.Errorf("%w: %q is read as %q by verifiers that match claim names ignoring case, as encoding/json does; %q is set by the Issuer", ErrReservedClaim, name, r, r)
			}
			return "", fmt.Errorf("%w: %q is set by the Issuer from IssuerConfig and the subject; remove it from claims", ErrReservedClaim, name)
		}
		if caseVariantOf([]byte(name), "scope", "scp", "permissions") {
			return "", fmt.Errorf("%w: %q differs from a claim verifiers read by its exact name only in case; spell it in lower case", ErrReservedClaim, name)
		}
	}
	var extra []byte
	if len(claims) > 0 {
		var err error
		if extra, err = json.Marshal(claims); err != nil {
			return "", fmt.Errorf("jwtauth: Issue: claims do not encode as JSON: %w", err)
		}
		// The Verifier's strict pass: two names equal ignoring case, at any depth, are one claim to
		// encoding/json and are refused by the Verifier, so such a token is not minted.
		if r := (jsonReader{b: extra}); !r.object(0, nil) {
			return "", fmt.Errorf("jwtauth: Issue: claims: %s", r.err)
		}
	}

	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails: crypto/rand.Read crashes the program rather than return an error
	iat := i.now().Unix()

	var pbuf [512]byte
	p := append(pbuf[:0], i.issPart...)
	p = appendJSONString(p, subject)
	p = append(p, i.audPart...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"nbf":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, iat+i.ttlSec, 10)
	p = append(p, `,"jti":"`...)
	p = base64.RawURLEncoding.AppendEncode(p, jti[:])
	p = append(p, '"')
	if jkt != "" {
		p = append(p, `,"cnf":{"jkt":"`...)
		p = append(p, jkt...)
		p = append(p, `"}`...)
	}
	if len(extra) > 2 { // `{...}` without its braces
		p = append(p, ',')
		p = append(p, extra[1:]...)
	} else {
		p = append(p, '}')
	}

	k := i.active
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(k.header)+enc.EncodedLen(len(p))+1+enc.EncodedLen(k.sigSize()))
	tok = append(tok, k.header...)
	tok = enc.AppendEncode(tok, p)
	sig, err := k.alg.method.Sign(string(tok), *k.priv)
	if err != nil {
		return "", fmt.Errorf("jwtauth: Issue: signing with key %q: %w", k.kid, err)
	}
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok), nil
}

// sigSize is the signature length, to size the token buffer once.
// foldedReserved returns the reserved claim name folds to under encoding/json's matching, or "".
func foldedReserved(name string) string {
	for _, r := range [...]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "cnf"} {
		if strings.EqualFold(name, r) {
			return r
		}
	}
	return ""
}

func (k *SigningKey) sigSize() int {
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return p.Size()
	case *ecdsa.PublicKey:
		return 2 * ((p.Curve.Params().BitSize + 7) / 8)
	}
	return ed25519.SignatureSize
}

// appendJSONString appends s as a JSON string, escaped as encoding/json does (without HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for n := 0; n < len(s); {
		c := s[n]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			n++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:n]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			n++
			start = n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:n]...)
			b = append(b, `\ufffd`...)
			n += size
			start = n
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but not valid JavaScript
			b = append(b, s[start:n]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			n += size
			start = n
			continue
		}
		n += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// TTL is the lifetime of issued tokens, e.g. for the expires_in of a login response.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// ActiveKey is the key that signs new tokens.
func (i *Issuer) ActiveKey() *SigningKey { return i.active }

// JWKS returns the public JWK Set of all keys, as JWKSHandler serves it. It is a copy: change it freely.
func (i *Issuer) JWKS() []byte { return slices.Clone(i.jwks) }

// JWKSHandler serves the public JWK Set (GET and HEAD) as application/jwk-set+json, cacheable for 5 minutes:
// short enough that verifiers see a new key soon after a rotation (jwtauth's verifier honours max-age).
func (i *Issuer) JWKSHandler() http.Handler {
	return staticJSON(i.jwks, "application/jwk-set+json")
}

// DiscoveryHandler serves a minimal OpenID discovery document (issuer, jwks_uri, the signing algorithms) so
// verifiers configured with Discover find the keys. jwksURL is where JWKSHandler is mounted; "" means
// Issuer + "/.well-known/jwks.json". Mount it at Issuer + "/.well-known/openid-configuration".
func (i *Issuer) DiscoveryHandler(jwksURL string) http.Handler {
	if jwksURL == "" {
		jwksURL = strings.TrimSuffix(i.issuer, "/") + "/.well-known/jwks.json"
	}
	doc, err := json.Marshal(struct {
		Issuer            string   `json:"issuer"`
		JWKSURI           string   `json:"jwks_uri"`
		ResponseTypes     []string `json:"response_types_supported"`
		SubjectTypes      []string `json:"subject_types_supported"`
		SigningAlgorithms []string `json:"id_token_signing_alg_values_supported"`
	}{i.issuer, jwksURL, []string{"token"}, []string{"public"}, i.algs})
	if err != nil { // strings only: cannot happen
		panic(err)
	}
	return staticJSON(doc, "application/json")
}

// staticJSON serves a fixed public document: GET and HEAD only, cacheable.
func staticJSON(body []byte, contentType string) http.Handler {
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":"method_not_allowed","error_description":"use GET or HEAD"}`))
			return
		}
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", jwksCacheControl)
		h.Set("Content-Length", length)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// TrustedIssuer is the configuration that trusts this Issuer's tokens, with its public keys held locally (no
// fetch): Issuer, Audiences = IssuerConfig.Audience, Algorithms = those of all keys.
func (i *Issuer) TrustedIssuer() TrustedIssuer {
	return TrustedIssuer{
		Issuer:     i.issuer,
		Audiences:  slices.Clone(i.audience),
		Algorithms: slices.Clone(i.algs),
		Keys:       LocalKeys(slices.Clone(i.jwks)),
	}
}

// Verifier is shorthand for a Verifier that trusts this Issuer only, with the Issuer's Clock. Close it when done.
func (i *Issuer) Verifier(ctx context.Context) (*Verifier, error) {
	return New(ctx, Config{Issuers: []TrustedIssuer{i.TrustedIssuer()}, Clock: i.clock})
}

// String describes the Issuer without key material.
func (i Issuer) String() string {
	kids := make([]string, len(i.keys))
	for n, k := range i.keys {
		kids[n] = k.kid
	}
	active := ""
	if i.active != nil {
		active = i.active.kid
	}
	return fmt.Sprintf("jwtauth.Issuer{issuer: %q, audience: [%s], ttl: %s, active: %q, keys: [%s]}",
		i.issuer, quoteList(i.audience), i.ttl, active, quoteList(kids))
}

// GoString is String: %#v must not print key material either.
func (i Issuer) GoString() string { return i.String() }

// Format prints String for every verb, so no verb reaches the keys through reflection.
func (i Issuer) Format(f fmt.State, verb rune) { formatSafe(f, verb, i.String()) }

// LogValue makes slog log the Issuer as String.
func (i Issuer) LogValue() slog.Value { return slog.StringValue(i.String()) }
