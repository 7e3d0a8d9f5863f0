// Package jwtauthtest provides an in-process identity provider for tests of code protected by jwtauth: it
// serves an OpenID discovery document and a JWK Set over httptest on loopback, mints signed tokens with chosen
// claims, rotates keys, and simulates the faults a real provider has (down, hanging, slow, garbage).
//
//	idp := jwtauthtest.NewIdP(t)
//	v, err := jwtauth.New(ctx, jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()}})
//	token := idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages"})
//
// Nothing here is meant for production: keys are generated per IdP and live in memory.
package jwtauthtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
)

// DefaultAudience is the audience an IdP puts into minted tokens and its TrustedIssuer unless WithAudience
// says otherwise.
const DefaultAudience = "https://api.example.test"

// Fault is a way the IdP's key set endpoint (and discovery document) misbehaves. See SetFault.
type Fault int

// The faults an IdP can simulate.
const (
	FaultNone      Fault = iota // serve normally
	FaultDown                   // close the connection without answering
	FaultHang                   // never answer (until the client gives up or the IdP closes)
	FaultStatus500              // answer 500
	FaultHTML                   // answer 200 with an HTML error page
	FaultTruncated              // answer 200 with JSON cut in the middle
	FaultEmpty                  // answer {"keys":[]}
	FaultUnusable               // answer a set whose keys cannot verify (enc use, oct secret, 1024-bit RSA)
	FaultHuge                   // answer 200 with a 50 MB body
	FaultEndless                // answer 200 with a chunked body that never ends
	FaultRedirect               // redirect to another origin serving the same keys
)

// Option configures an IdP.
type Option func(*IdP)

// WithAlgorithm sets the signing algorithm: RS256 (default), RS384, RS512, PS256, PS384, PS512, ES256, ES384,
// ES512 or EdDSA.
func WithAlgorithm(alg string) Option { return func(p *IdP) { p.alg = alg } }

// WithAudience sets the aud of minted tokens and of TrustedIssuer.
func WithAudience(aud string) Option { return func(p *IdP) { p.audience = aud } }

// WithClock sets the clock used for iat and exp of minted tokens.
func WithClock(now func() time.Time) Option { return func(p *IdP) { p.now = now } }

// WithIssuer sets the issuer (iss of minted tokens, TrustedIssuer.Issuer, the discovery document's issuer).
// A path is appended to the IdP's URL and discovery is served under it: "/" gives the trailing slash Auth0
// uses, "/realms/main" a Keycloak realm. An absolute URL is used as it is, for provider-shaped tokens
// (https://login.microsoftonline.com/TENANT/v2.0); TrustedIssuer still fetches keys from JWKSURL.
func WithIssuer(issuer string) Option { return func(p *IdP) { p.issuer = issuer } }

// WithTLS serves the IdP over https with a self-signed certificate; Client returns a client that trusts it
// (put it in jwtauth.JWKSOptions.HTTPClient).
func WithTLS() Option { return func(p *IdP) { p.tls = true } }

// WithHeader adds members to the header of every token the IdP signs, for provider-shaped tokens (x5t,
// typ "at+jwt"). Members given to Sign win; a nil value leaves the member out.
func WithHeader(members map[string]any) Option {
	return func(p *IdP) { p.header = mergeMaps(p.header, members) }
}

// WithClaims sets default claims of every minted token, for provider-shaped tokens: Entra's tid, Cognito's
// client_id and token_use, Okta's scp. They override iss, aud, iat and exp, Mint's claims override them, and
// a nil value leaves the claim out (WithClaims(map[string]any{"aud": nil}) for tokens without aud).
func WithClaims(claims map[string]any) Option {
	return func(p *IdP) { p.claims = mergeMaps(p.claims, claims) }
}

// mergeMaps returns a copy of base with extra's entries set, keeping nil values (they mean "leave out").
func mergeMaps(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// TB is the part of testing.TB an IdP needs; *testing.T and *testing.B satisfy it.
type TB interface {
	Helper()
	Cleanup(func())
	Fatalf(format string, args ...any)
}

// IdP is an in-process identity provider. Its methods are safe for concurrent use.
type IdP struct {
	tb       TB
	srv      *httptest.Server
	other    *httptest.Server // the foreign origin of FaultRedirect
	alg      string
	audience string
	now      func() time.Time
	closing  chan struct{}
	issuer   string         // WithIssuer: a path on the IdP's URL, or an absolute issuer
	tls      bool           // WithTLS
	header   map[string]any // WithHeader
	claims   map[string]any // WithClaims

	mu        sync.Mutex
	keys      []*key // published, in order of creation
	active    *key
	fault     Fault
	delay     time.Duration
	cacheCtl  string
	handler   http.Handler
	fetches   atomic.Int64
	discovery atomic.Int64
}

type key struct {
	kid    string
	signer crypto.Signer
}

// NewIdP starts an IdP on loopback with one signing key; it is closed when the test ends.
func NewIdP(tb TB, opts ...Option) *IdP {
	tb.Helper()
	p := &IdP{tb: tb, alg: "RS256", audience: DefaultAudience, now: time.Now, closing: make(chan struct{})}
	for _, o := range opts {
		o(p)
	}
	if jwt.GetSigningMethod(p.alg) == nil || strings.HasPrefix(p.alg, "HS") || p.alg == "none" {
		tb.Fatalf("jwtauthtest: unsupported algorithm %q", p.alg)
	}
	if p.issuer != "" && !strings.HasPrefix(p.issuer, "/") && !strings.Contains(p.issuer, "://") {
		tb.Fatalf("jwtauthtest: WithIssuer(%q): give a path (/realms/main) or an absolute URL", p.issuer)
	}
	p.active = p.newKey()
	p.keys = []*key{p.active}
	start := httptest.NewServer
	if p.tls {
		start = httptest.NewTLSServer
	}
	p.srv = start(http.HandlerFunc(p.serve))
	p.other = start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.JWKS())
	}))
	tb.Cleanup(p.Close)
	return p
}

// Client returns an HTTP client for the IdP: with WithTLS, one that trusts its certificate.
func (p *IdP) Client() *http.Client { return p.srv.Client() }

// Close stops the IdP. It is called automatically at the end of the test.
func (p *IdP) Close() {
	select {
	case <-p.closing:
		return
	default:
		close(p.closing)
	}
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.other.Close()
}

// Issuer is the IdP's issuer identifier: its base URL (no trailing slash), or as set by WithIssuer.
func (p *IdP) Issuer() string {
	if strings.HasPrefix(p.issuer, "/") {
		return p.srv.URL + p.issuer
	}
	if p.issuer != "" {
		return p.issuer
	}
	return p.srv.URL
}

// discoveryPath is where the IdP serves its discovery document, as jwtauth.Discover looks for it.
func (p *IdP) discoveryPath() string {
	return strings.TrimSuffix(p.issuer, "/") + "/.well-known/openid-configuration"
}

// JWKSURL is where the IdP serves its JWK Set.
func (p *IdP) JWKSURL() string { return p.srv.URL + "/.well-known/jwks.json" }

// Algorithm is the IdP's signing algorithm.
func (p *IdP) Algorithm() string { return p.alg }

// Audience is the aud the IdP puts into minted tokens.
func (p *IdP) Audience() string { return p.audience }

// TrustedIssuer is the configuration that trusts this IdP through its JWK Set URL.
func (p *IdP) TrustedIssuer() jwtauth.TrustedIssuer {
	return jwtauth.TrustedIssuer{
		Issuer:     p.Issuer(),
		Audiences:  []string{p.audience},
		Algorithms: []string{p.alg},
		Keys:       jwtauth.RemoteJWKS(p.JWKSURL()),
	}
}

// KeyID is the kid of the key that signs new tokens.
func (p *IdP) KeyID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active.kid
}

// Signer is the private key that signs new tokens, for crafting tokens by hand.
func (p *IdP) Signer() crypto.Signer {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.active.signer
}

// Rotate creates a new signing key, publishes it next to the old ones and makes it the one that signs.
// It returns the new kid.
func (p *IdP) Rotate() string {
	k := p.newKey()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
	p.active = k
	return k.kid
}

// Unpublish removes the key with kid from the JWK Set (it may still sign if it is the active key, which is how
// tests make tokens with a kid the set does not have).
func (p *IdP) Unpublish(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	kept := p.keys[:0]
	for _, k := range p.keys {
		if k.kid != kid {
			kept = append(kept, k)
		}
	}
	p.keys = kept
}

// SetFault makes the key set endpoint and the discovery document misbehave until SetFault(FaultNone).
func (p *IdP) SetFault(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault = f
}

// SetDelay makes every answer wait d first (a slow IdP).
func (p *IdP) SetDelay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// SetCacheControl sets the Cache-Control header of the key set response ("" for none).
func (p *IdP) SetCacheControl(v string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cacheCtl = v
}

// SetJWKSHandler replaces the key set endpoint with h (nil restores it), for faults SetFault does not cover.
// Fetches are still counted.
func (p *IdP) SetJWKSHandler(h http.Handler) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.handler = h
}

// Fetches is how many times the key set endpoint was requested.
func (p *IdP) Fetches() int { return int(p.fetches.Load()) }

// DiscoveryFetches is how many times the discovery document was requested.
func (p *IdP) DiscoveryFetches() int { return int(p.discovery.Load()) }

// JWKS returns the public JWK Set as served.
func (p *IdP) JWKS() []byte {
	p.mu.Lock()
	keys := append([]*key(nil), p.keys...)
	p.mu.Unlock()
	set := struct {
		Keys []map[string]string `json:"keys"`
	}{Keys: []map[string]string{}}
	for _, k := range keys {
		set.Keys = append(set.Keys, PublicJWK(k.signer.Public(), k.kid, p.alg))
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

// Mint returns a token signed by the active key. Unless claims (or WithClaims) set them, iss is the IdP's
// issuer, aud its audience, iat now and exp one hour later; a claim set to nil is left out (Mint({"exp": nil})
// makes a token without exp). The header is {"alg", "kid", "typ": "JWT"} plus WithHeader's members.
func (p *IdP) Mint(claims map[string]any) string {
	now := p.now()
	full := map[string]any{
		"iss": p.Issuer(),
		"aud": p.audience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for _, set := range []map[string]any{p.claims, claims} {
		for k, v := range set {
			if v == nil {
				delete(full, k)
				continue
			}
			full[k] = v
		}
	}
	return p.Sign(mergeMaps(map[string]any{"typ": "JWT"}, p.header), full)
}

// Sign signs the given claims with the active key under the given header, to which alg, kid and WithHeader's
// members are added unless present (set them to nil to leave them out).
func (p *IdP) Sign(header, claims map[string]any) string {
	p.mu.Lock()
	k := p.active
	p.mu.Unlock()
	h := map[string]any{"alg": p.alg, "kid": k.kid}
	for _, set := range []map[string]any{p.header, header} {
		for name, v := range set {
			if v == nil {
				delete(h, name)
				continue
			}
			h[name] = v
		}
	}
	hb, err := json.Marshal(h)
	if err != nil {
		p.tb.Fatalf("jwtauthtest: header: %v", err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		p.tb.Fatalf("jwtauthtest: claims: %v", err)
	}
	return p.SignRaw(hb, cb)
}

// SignRaw signs exactly the given header and payload bytes (base64url-encoded here) with the active key,
// for tokens no encoder would produce: duplicate members, odd whitespace, invalid JSON.
func (p *IdP) SignRaw(header, payload []byte) string {
	p.mu.Lock()
	k := p.active
	p.mu.Unlock()
	return SignRaw(p.alg, k.signer, header, payload)
}

// SignRaw signs header and payload bytes with key under alg and returns the compact token.
func SignRaw(alg string, key crypto.Signer, header, payload []byte) string {
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := jwt.GetSigningMethod(alg)
	if m == nil {
		panic("jwtauthtest: unknown algorithm " + alg)
	}
	sig, err := m.Sign(input, key)
	if err != nil {
		panic(fmt.Sprintf("jwtauthtest: signing with %s: %v", alg, err))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// NewKey generates a private key for alg (2048-bit RSA, the matching EC curve, or Ed25519).
func NewKey(alg string) crypto.Signer {
	var (
		k   crypto.Signer
		err error
	)
	switch {
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	case alg == "ES256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case alg == "ES384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case alg == "ES512":
		k, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case alg == "EdDSA":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		panic("jwtauthtest: no key type for " + alg)
	}
	if err != nil {
		panic(err)
	}
	return k
}

// PublicJWK is the public JWK of pub with kid, alg and use "sig" (alg or kid left out when empty).
func PublicJWK(pub crypto.PublicKey, kid, alg string) map[string]string {
	m := map[string]string{"use": "sig"}
	if kid != "" {
		m["kid"] = kid
	}
	if alg != "" {
		m["alg"] = alg
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		m["kty"] = "RSA"
		m["n"] = b64(k.N.Bytes())
		m["e"] = b64(big.NewInt(int64(k.E)).Bytes())
	case *ecdsa.PublicKey:
		size := (k.Curve.Params().BitSize + 7) / 8
		m["kty"] = "EC"
		m["crv"] = k.Curve.Params().Name
		m["x"] = b64(k.X.FillBytes(make([]byte, size)))
		m["y"] = b64(k.Y.FillBytes(make([]byte, size)))
	case ed25519.PublicKey:
		m["kty"] = "OKP"
		m["crv"] = "Ed25519"
		m["x"] = b64(k)
	default:
		panic(fmt.Sprintf("jwtauthtest: unsupported key %T", pub))
	}
	return m
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (p *IdP) newKey() *key {
	s := NewKey(p.alg)
	der := fmt.Sprint(PublicJWK(s.Public(), "", ""))
	sum := sha256.Sum256([]byte(der))
	return &key{kid: b64(sum[:12]), signer: s}
}

func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	fault, delay, cacheCtl, custom := p.fault, p.delay, p.cacheCtl, p.handler
	p.mu.Unlock()

	var body []byte
	switch r.URL.Path {
	case "/.well-known/jwks.json":
		p.fetches.Add(1)
		if custom != nil {
			custom.ServeHTTP(w, r)
			return
		}
		body = p.JWKS()
	case p.discoveryPath(), "/.well-known/openid-configuration":
		p.discovery.Add(1)
		body, _ = json.Marshal(map[string]any{
			"issuer":                                p.Issuer(),
			"jwks_uri":                              p.JWKSURL(),
			"id_token_signing_alg_values_supported": []string{p.alg},
		})
	default:
		http.NotFound(w, r)
		return
	}
	if delay > 0 && !p.wait(r.Context(), delay) {
		return
	}
	switch fault {
	case FaultDown:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case FaultHang:
		p.wait(r.Context(), 24*time.Hour)
		return
	case FaultStatus500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case FaultHTML:
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><body><h1>Service temporarily unavailable</h1></body></html>"))
		return
	case FaultTruncated:
		body = body[:len(body)/2]
	case FaultEmpty:
		body = []byte(`{"keys":[]}`)
	case FaultUnusable:
		body = unusableSet()
	case FaultHuge:
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte(" "), 1<<20)
		_, _ = w.Write([]byte(`{"keys":[`))
		for i := 0; i < 50; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`]}`))
		return
	case FaultEndless:
		w.Header().Set("Content-Type", "application/json")
		flusher, _ := w.(http.Flusher)
		chunk := bytes.Repeat([]byte(" "), 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-p.closing:
				return
			default:
			}
		}
	case FaultRedirect:
		http.Redirect(w, r, p.other.URL+r.URL.Path, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if cacheCtl != "" {
		w.Header().Set("Cache-Control", cacheCtl)
	}
	_, _ = w.Write(body)
}

// wait sleeps d unless the request or the IdP ends first; it reports whether the full time passed.
func (p *IdP) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-p.closing:
	}
	return false
}

// unusableSet is a JWK Set none of whose keys may verify a token.
func unusableSet() []byte {
	weak, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // deliberately weak: it must be refused
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	enc := PublicJWK(ec.Public(), "enc-key", "")
	enc["use"] = "enc"
	small := PublicJWK(weak.Public(), "weak-rsa", "RS256")
	set := map[string]any{"keys": []any{
		enc,
		small,
		map[string]string{"kty": "oct", "kid": "hmac", "k": b64([]byte("0123456789abcdef0123456789abcdef"))},
	}}
	b, _ := json.Marshal(set)
	return b
}
