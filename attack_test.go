package jwtauth_test

// Adversarial table for the bearer middleware (issue #6). Every row is one crafted request driven through
// v.RequireAuth (and RequireScope where scopes matter); the expected outcome comes from the "Bearer
// middleware" table of CONTRACTS.md and from the RFCs cited per class, not from the implementation:
//
//	RFC 6750 (bearer usage, error codes), RFC 7235 (credentials syntax), RFC 7515 (JWS), RFC 7516 (JWE),
//	RFC 7517 (JWK), RFC 7518 (JWA), RFC 7519 (JWT), RFC 8259 / RFC 7493 (JSON, I-JSON), RFC 8725 (JWT BCP),
//	the attack modes of ticarpi/jwt_tool (-X a/n/b/p/s/k/i, kid injection playbook) and advisories against
//	JWT libraries (CVE-2015-9235, CVE-2016-10555, CVE-2018-0114, CVE-2022-21449, CVE-2025-27144,
//	CVE-2025-30204).
//
// Rows for surfaces that live in other modules are in those modules (this one cannot import their
// dependencies): grpc/attack_test.go (gRPC metadata and method names), redis/attack_test.go (Redis keys and
// memory: separators, huge values, Lua injection, entries not written by jwtauthredis).
//
// Helpers of this file carry the atk prefix.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// atkTmplIss is a multi-tenant issuer of the main verifier (Entra ID's shape), allowing tenant-a and
	// tenant-b; its key set publishes es-1 for every tenant and tb-only for tenant-b alone.
	atkTmplIss = "https://login.atk.test/{tenantid}/v2.0"
	atkIss     = "https://issuer.atk.test/"
	atkAud     = "https://api.atk.test"
	atkScope   = "read:messages"
	// atkCookie and atkQuery name the optional token sources of the "sources on" verifier.
	atkCookie = "access_token"
	atkQuery  = "access_token"
)

// atkNow is the verifiers' fixed clock.
var atkNow = time.Unix(1_900_000_000, 0)

// atkKeyRing holds every key of the suite, generated once per process (RSA generation is slow under -race).
type atkKeyRing struct {
	es       *ecdsa.PrivateKey // trusted, kid es-1, alg ES256
	p384     *ecdsa.PrivateKey // trusted, kid es384-1, no alg
	rs       *rsa.PrivateKey   // trusted, kid rs-1 (no alg) and rs-pin (alg RS256)
	attEC    *ecdsa.PrivateKey // attacker
	attP521  *ecdsa.PrivateKey // attacker
	attRS    *rsa.PrivateKey   // attacker
	enc      *ecdsa.PrivateKey // published with use "enc"
	ops      *ecdsa.PrivateKey // published with key_ops ["sign"]
	algmis   *ecdsa.PrivateKey // P-256 published with alg RS256
	algcurve *ecdsa.PrivateKey // P-256 published with alg ES384
	dupA     *ecdsa.PrivateKey // published under kid "dup"
	dupB     *ecdsa.PrivateKey // published under kid "dup" too
	priv     *ecdsa.PrivateKey // published WITH its private part d
	rs1024   *rsa.PrivateKey   // published, too small (RFC 7518 §3.3: 2048 bits or larger MUST be used)
	tenantB  *ecdsa.PrivateKey // published for the template issuer with an issuer member naming tenant-b only
	// privD publishes its private scalar as "D", kidVar names itself with "KID", useVar says "USE":"enc":
	// encoding/json (jwkset) reads those as d, kid and use (A8).
	privD, kidVar, useVar *ecdsa.PrivateKey
}

var atkKeys = sync.OnceValue(func() *atkKeyRing {
	ec := func(c elliptic.Curve) *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	}
	rsaKey := func(bits int) *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(err)
		}
		return k
	}
	return &atkKeyRing{
		es: ec(elliptic.P256()), p384: ec(elliptic.P384()), rs: rsaKey(2048),
		attEC: ec(elliptic.P256()), attP521: ec(elliptic.P521()), attRS: rsaKey(2048),
		enc: ec(elliptic.P256()), ops: ec(elliptic.P256()), algmis: ec(elliptic.P256()),
		algcurve: ec(elliptic.P256()), dupA: ec(elliptic.P256()), dupB: ec(elliptic.P256()),
		priv: ec(elliptic.P256()), rs1024: rsaKey(1024), tenantB: ec(elliptic.P256()),
		privD: ec(elliptic.P256()), kidVar: ec(elliptic.P256()), useVar: ec(elliptic.P256()),
	}
})

func atkB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// atkJSON marshals v, failing loudly: fixtures are always marshalable.
func atkJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// atkHashOf returns the hash RFC 7518 pairs with an algorithm name's digits.
func atkHashOf(alg string) crypto.Hash {
	switch {
	case strings.HasSuffix(alg, "384"):
		return crypto.SHA384
	case strings.HasSuffix(alg, "512"):
		return crypto.SHA512
	}
	return crypto.SHA256
}

func atkDigest(h crypto.Hash, input string) []byte {
	var hh hash.Hash
	switch h {
	case crypto.SHA384:
		hh = sha512.New384()
	case crypto.SHA512:
		hh = sha512.New()
	default:
		hh = sha256.New()
	}
	hh.Write([]byte(input))
	return hh.Sum(nil)
}

// atkSig signs input the way RFC 7518 defines alg, with any key: HMAC over a []byte secret (§3.2), RSASSA
// PKCS1-v1_5 (§3.3), RSASSA-PSS with salt = hash length (§3.5), ECDSA as fixed-width R||S sized by the key's
// curve (§3.4), whatever curve alg names. Mismatches are the point of several rows.
func atkSig(alg string, key any, input string) []byte {
	h := atkHashOf(alg)
	switch {
	case strings.HasPrefix(alg, "HS"):
		var hf func() hash.Hash
		switch h {
		case crypto.SHA384:
			hf = sha512.New384
		case crypto.SHA512:
			hf = sha512.New
		default:
			hf = sha256.New
		}
		m := hmac.New(hf, key.([]byte))
		m.Write([]byte(input))
		return m.Sum(nil)
	case strings.HasPrefix(alg, "RS"):
		sig, err := rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), h, atkDigest(h, input))
		if err != nil {
			panic(err)
		}
		return sig
	case strings.HasPrefix(alg, "PS"):
		sig, err := rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), h, atkDigest(h, input),
			&rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		if err != nil {
			panic(err)
		}
		return sig
	case strings.HasPrefix(alg, "ES"):
		k := key.(*ecdsa.PrivateKey)
		r, s, err := ecdsa.Sign(rand.Reader, k, atkDigest(h, input))
		if err != nil {
			panic(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		return append(r.FillBytes(make([]byte, size)), s.FillBytes(make([]byte, size))...)
	}
	panic("atkSig: no signer for " + alg)
}

// atkSignRaw returns base64url(header).base64url(payload).base64url(sig) signed under alg with key.
func atkSignRaw(alg string, key any, header, payload []byte) string {
	input := atkB64(header) + "." + atkB64(payload)
	return input + "." + atkB64(atkSig(alg, key, input))
}

// atkSignInput signs an arbitrary signing input (possibly not base64url at all) and appends the signature.
func atkSignInput(alg string, key any, input string) string {
	return input + "." + atkB64(atkSig(alg, key, input))
}

// atkMerge returns base with extra merged over it; a nil value deletes the member.
func atkMerge(base, extra map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(extra))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// atkClaims are valid claims at atkNow with the required scope; extra overrides (nil deletes).
func atkClaims(extra map[string]any) map[string]any {
	return atkMerge(map[string]any{
		"iss":   atkIss,
		"aud":   atkAud,
		"sub":   "user-1",
		"iat":   atkNow.Unix(),
		"exp":   atkNow.Add(time.Hour).Unix(),
		"scope": atkScope + " write:messages",
	}, extra)
}

// atkPayload is the default claims JSON, for rows that hand-write a header.
func atkPayload() string { return string(atkJSON(atkClaims(nil))) }

// atkES signs claims under an ES256 header with the trusted es-1 key; header/claims override the defaults.
func atkES(header, claims map[string]any) string {
	h := atkMerge(map[string]any{"alg": "ES256", "kid": "es-1", "typ": "JWT"}, header)
	return atkSignRaw("ES256", atkKeys().es, atkJSON(h), atkJSON(atkClaims(claims)))
}

// atkESRaw signs exact header and payload texts with the trusted es-1 key.
func atkESRaw(header, payload string) string {
	return atkSignRaw("ES256", atkKeys().es, []byte(header), []byte(payload))
}

// atkHdr is the default trusted header text.
const atkHdr = `{"alg":"ES256","kid":"es-1","typ":"JWT"}`

func atkSplit(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	return parts[0], parts[1], parts[2]
}

// atkPEM is the PKIX PEM of a public key, as an attacker downloads it for RS→HS confusion.
func atkPEM(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func atkDER(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return der
}

// atkSelfSigned is a self-signed certificate of key (for x5c injection).
func atkSelfSigned(key crypto.Signer) []byte {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "issuer.atk.test"},
		NotBefore: atkNow.Add(-time.Hour), NotAfter: atkNow.Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		panic(err)
	}
	return der
}

// atkJWK is a public JWK as a map that can carry non-string members.
func atkJWK(pub crypto.PublicKey, kid, alg string) map[string]any {
	out := map[string]any{}
	for k, v := range jwtauthtest.PublicJWK(pub, kid, alg) {
		out[k] = v
	}
	return out
}

// atkPKCS1Forgery is an RS256 "signature" that verifies under the public exponent e=1: the encoded message
// itself (EMSA-PKCS1-v1_5, RFC 8017 §9.2), since s^1 mod n = s.
func atkPKCS1Forgery(n *big.Int, input string) []byte {
	prefix := []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	sum := sha256.Sum256([]byte(input))
	k := (n.BitLen() + 7) / 8
	t := append(prefix, sum[:]...)
	em := make([]byte, k)
	em[1] = 0x01
	for i := 2; i < k-len(t)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em
}

// atkServedJWKS is the key set the main verifier fetches: the trusted keys next to every kind of key that
// must never verify (RFC 7517 §4.2 use, §4.3 key_ops, §4.4 alg, §4.5 kid; RFC 7518 §3.3 and §6.2.1).
func atkServedJWKS() []byte {
	k := atkKeys()
	enc := atkJWK(&k.enc.PublicKey, "enc", "ES256")
	enc["use"] = "enc"
	ops := atkJWK(&k.ops.PublicKey, "ops", "ES256")
	delete(ops, "use")
	ops["key_ops"] = []string{"sign"}
	off := atkJWK(&k.es.PublicKey, "offcurve", "ES256")
	y := new(big.Int).Add(k.es.Y, big.NewInt(1))
	off["y"] = atkB64(y.FillBytes(make([]byte, 32)))
	priv := atkJWK(&k.priv.PublicKey, "priv", "ES256")
	priv["d"] = atkB64(k.priv.D.FillBytes(make([]byte, 32)))
	privD := atkJWK(&k.privD.PublicKey, "privD", "ES256")
	privD["D"] = atkB64(k.privD.D.FillBytes(make([]byte, 32)))
	kidVar := atkJWK(&k.kidVar.PublicKey, "", "ES256")
	delete(kidVar, "kid")
	kidVar["KID"] = "kidVar"
	useVar := atkJWK(&k.useVar.PublicKey, "useVar", "ES256")
	delete(useVar, "use")
	useVar["USE"] = "enc"
	e1 := atkJWK(&k.rs.PublicKey, "e1", "RS256")
	e1["e"] = "AQ"
	keys := []any{
		atkJWK(&k.es.PublicKey, "es-1", "ES256"),
		atkJWK(&k.rs.PublicKey, "rs-1", ""),
		atkJWK(&k.rs.PublicKey, "rs-pin", "RS256"),
		atkJWK(&k.p384.PublicKey, "es384-1", ""),
		enc, ops, off, priv, privD, kidVar, useVar, e1,
		atkJWK(&k.algmis.PublicKey, "algmis", "RS256"),
		atkJWK(&k.algcurve.PublicKey, "algcurve", "ES384"),
		atkJWK(&k.rs1024.PublicKey, "rsa1024", "RS256"),
		atkJWK(&k.dupA.PublicKey, "dup", "ES256"),
		atkJWK(&k.dupB.PublicKey, "dup", "ES256"),
		map[string]any{"kty": "oct", "kid": "oct", "alg": "HS256", "k": atkB64([]byte(atkOctSecret))},
		map[string]any{"kty": "XYZ", "kid": "unk", "alg": "ES256", "x": atkB64([]byte("whatever"))},
	}
	return atkJSON(map[string]any{"keys": keys})
}

const atkOctSecret = "published-shared-secret-0123456789abcdef"

// atkTrustedJWKS holds the trusted keys only (the "sources on" verifier uses it as LocalKeys).
func atkTrustedJWKS() []byte {
	k := atkKeys()
	return atkJSON(map[string]any{"keys": []any{
		atkJWK(&k.es.PublicKey, "es-1", "ES256"),
		atkJWK(&k.rs.PublicKey, "rs-1", ""),
		atkJWK(&k.p384.PublicKey, "es384-1", ""),
	}})
}

// atkFixture is the system under attack: a verifier over a key set served by a server we control, a second
// verifier with the cookie and query sources turned on, and an attacker's server for jku/x5u.
type atkFixture struct {
	v, vSrc  *jwtauth.Verifier
	jwksHits atomic.Int64
	attHits  atomic.Int64
	attURL   string
	// observed is what OnVerify and OnFetch received, for the check that no token text reaches a metrics
	// label (ConfiguredIssuer) or a fetch outcome.
	mu       sync.Mutex
	verified []jwtauth.Outcome
	fetched  []jwtauth.FetchOutcome
}

func (f *atkFixture) onVerify(_ context.Context, o jwtauth.Outcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.verified = append(f.verified, o)
}

func (f *atkFixture) onFetch(o jwtauth.FetchOutcome) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetched = append(f.fetched, o)
}

// observedSince returns what the hooks received after the first nv outcomes and nf fetches.
func (f *atkFixture) observedSince(nv, nf int) ([]jwtauth.Outcome, []jwtauth.FetchOutcome, int, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]jwtauth.Outcome(nil), f.verified[nv:]...), append([]jwtauth.FetchOutcome(nil), f.fetched[nf:]...),
		len(f.verified), len(f.fetched)
}

func atkQuietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func atkNewFixture(t *testing.T) *atkFixture {
	t.Helper()
	f := &atkFixture{}
	served := atkServedJWKS()
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(served)
	}))
	t.Cleanup(jwks.Close)
	k := atkKeys()
	attSet := atkJSON(map[string]any{"keys": []any{
		atkJWK(&k.attEC.PublicKey, "attacker", "ES256"), atkJWK(&k.attEC.PublicKey, "es-1", "ES256"),
	}})
	att := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.attHits.Add(1)
		_, _ = w.Write(attSet)
	}))
	t.Cleanup(att.Close)
	f.attURL = att.URL

	tenantSet := atkJSON(map[string]any{"keys": []any{
		atkMerge(atkJWK(&k.es.PublicKey, "es-1", "ES256"), map[string]any{"issuer": atkTmplIss}),
		atkMerge(atkJWK(&k.tenantB.PublicKey, "tb-only", "ES256"), map[string]any{"issuer": "https://login.atk.test/tenant-b/v2.0"}),
	}})
	tenantKeys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(tenantSet) }))
	t.Cleanup(tenantKeys.Close)

	algs := []string{"RS256", "PS256", "ES256", "ES384"}
	var err error
	f.v, err = jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: algs,
			Keys: jwtauth.RemoteJWKS(jwks.URL + "/.well-known/jwks.json"), Roles: atkRoleClaims},
			{Issuer: atkTmplIss, Tenants: []string{"tenant-a", "tenant-b"}, Audiences: []string{atkAud}, Algorithms: []string{"ES256"},
				Keys: jwtauth.RemoteJWKS(tenantKeys.URL + "/common/discovery/v2.0/keys")}},
		Clock:    func() time.Time { return atkNow },
		Logger:   atkQuietLogger(),
		OnVerify: f.onVerify,
		OnFetch:  f.onFetch,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.v.Close() })
	require.NoError(t, f.v.Ready(), "the served set must load: its good keys are usable")

	f.vSrc, err = jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: algs,
			Keys: jwtauth.LocalKeys(atkTrustedJWKS())}},
		Clock:          func() time.Time { return atkNow },
		Logger:         atkQuietLogger(),
		TokenCookie:    atkCookie,
		TokenQuery:     atkQuery,
		AllowPreflight: true,
		OnVerify:       f.onVerify,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.vSrc.Close() })
	return f
}

// atkRecorder is the protected handler: it records whether a request reached it.
type atkRecorder struct {
	reached atomic.Int64
	sub     atomic.Value
}

func (h *atkRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.reached.Add(1)
	if c, ok := jwtauth.ClaimsFromContext(r.Context()); ok {
		h.sub.Store(c.Subject)
	}
	_, _ = io.WriteString(w, "reached")
}

// atkBody is a request body that records any read: the middleware must never read the body (RFC 6750 §2.2
// form-encoded tokens are not a supported source, and reading would consume the handler's input).
type atkBody struct {
	r     io.Reader
	reads atomic.Int64
}

func (b *atkBody) Read(p []byte) (int, error) {
	b.reads.Add(1)
	return b.r.Read(p)
}

// atkReq builds a GET request with the given Authorization values.
func atkReq(auth ...string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
		for _, a := range auth {
			r.Header.Add("Authorization", a)
		}
		return r
	}
}

func atkBearer(tok string) func() *http.Request { return atkReq("Bearer " + tok) }

// atkRow is one crafted request and its exact expected outcome.
type atkRow struct {
	class, name string
	req         func() *http.Request
	sources     bool     // use the verifier with the cookie and query sources on
	scopes      []string // when set, the route is RequireAuth(RequireScope(scopes...)(handler))
	roles       []string // when set, the route is RequireAuth(RequireRole(roles...)(handler))
	status      int
	code        string // error= of WWW-Authenticate; "" for none
	// attacker marks tokens made without any trusted private key (forged, unsigned, or signed by a key the
	// verifier must not trust). None of them may ever reach the handler.
	attacker bool
	body     *atkBody      // when set, must be left unread
	maxDur   time.Duration // when set, the answer must come within it (DoS rows)
	probes   []string      // attacker-chosen strings that must never be echoed in the response
}

func (r atkRow) full() string { return r.class + "/" + r.name }

const (
	atkClassTransport = "transport"
	atkClassSerial    = "serialization"
	atkClassAlg       = "algorithms"
	atkClassHeader    = "header-params"
	atkClassClaims    = "claims"
	atkClassScopes    = "scopes"
	atkClassJWKS      = "jwks-content"
	atkClassRoles     = "roles"
	atkClassTemplate  = "issuer-template"
)

// atkRoleClaims are where the attack fixture's issuer carries roles: one of each shape a profile sets.
var atkRoleClaims = []jwtauth.RoleClaim{
	jwtauth.RolesAt("roles"),
	jwtauth.RolesAt("realm_access", "roles"),
	jwtauth.RolesAt("https://example.com/roles"),
	jwtauth.RoleMapAt("urn:zitadel:iam:org:project:roles"),
}

// atkSizedToken is a valid token of exactly n bytes, padded through a custom claim and, when base64 cannot
// hit n (a length of 1 mod 4 is impossible), a custom header member.
func atkSizedToken(n int) string {
	k := atkKeys()
	for hpad := 0; hpad < 4; hpad++ {
		h := atkJSON(map[string]any{"alg": "ES256", "kid": "es-1", "typ": "JWT", "x": strings.Repeat("h", hpad)})
		base := len(atkJSON(atkClaims(map[string]any{"pad": ""})))
		want := n - len(atkB64(h)) - 2 - 86 // ES256 signatures are 64 bytes: 86 characters
		for l := want * 3 / 4; l <= want*3/4+1; l++ {
			if pad := l - base; pad >= 0 && base64.RawURLEncoding.EncodedLen(l) == want {
				tok := atkSignRaw("ES256", k.es, h, atkJSON(atkClaims(map[string]any{"pad": strings.Repeat("p", pad)})))
				if len(tok) != n {
					panic("atkSizedToken: length arithmetic is off")
				}
				return tok
			}
		}
	}
	panic(fmt.Sprintf("atkSizedToken: cannot build %d bytes", n))
}

// atkFindEncodable returns header JSON whose base64url encoding contains '-' or '_' (so the standard
// alphabet encodes it differently) and whose length is not a multiple of 3 (so padding would be added).
func atkFindEncodable() []byte {
	for i := 0; i < 64; i++ {
		h := []byte(`{"alg":"ES256","kid":"es-1","typ":"JWT","x":"` + strings.Repeat("a", i%3) + strings.Repeat("?>", 1+i/3) + `"}`)
		e := atkB64(h)
		if strings.ContainsAny(e, "-_") && len(h)%3 != 0 {
			return h
		}
	}
	panic("atkFindEncodable: none found")
}

// atkNonCanonical flips the unused low bits of the last character of a base64url segment: lenient decoders
// yield the same bytes, so a signature over the canonical form would still check (RFC 4648 §3.5).
func atkNonCanonical(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	if len(seg)%4 == 0 {
		panic("atkNonCanonical: segment has no unused bits")
	}
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last|1])
}

// atkPayloadWithUnusedBits is claims JSON whose length leaves unused bits in base64url (len % 3 != 0).
func atkPayloadWithUnusedBits() []byte {
	for i := 0; ; i++ {
		p := atkJSON(atkClaims(map[string]any{"x": strings.Repeat("q", i)}))
		if len(p)%3 != 0 {
			return p
		}
	}
}

func atkRows(f *atkFixture) []atkRow {
	k := atkKeys()
	// good is a valid token whose signature has '-' or '_', so the standard alphabet spells it differently.
	good := atkES(nil, nil)
	for _, _, s := atkSplit(good); !strings.ContainsAny(s, "-_"); _, _, s = atkSplit(good) {
		good = atkES(nil, nil)
	}
	other := atkES(nil, map[string]any{"sub": "user-2"})
	gh, gp, gs := atkSplit(good)
	_, _, otherSig := atkSplit(other)
	sig, _ := base64.RawURLEncoding.DecodeString(gs)
	now := atkNow.Unix()
	future := now + 3600
	past := now - 3600
	pl := atkPayload()
	att := func(alg string, key any, header map[string]any, claims map[string]any) string {
		return atkSignRaw(alg, key, atkJSON(header), atkJSON(atkClaims(claims)))
	}
	rows := []atkRow{}
	add := func(r ...atkRow) { rows = append(rows, r...) }

	// --- transport: RFC 6750 §2.1 (b64token after "Bearer" 1*SP), RFC 7235 §2.1 (scheme case-insensitive),
	// §2.2/§2.3 (form body and query), CONTRACTS.md "Bearer middleware": 401 bare challenge without a token
	// or with another scheme; 400 invalid_request for two tokens or an empty one; 16 KiB cap before decoding.
	bodyOff := &atkBody{r: strings.NewReader(atkQuery + "=" + good)}
	bodyOn := &atkBody{r: strings.NewReader(atkQuery + "=" + good)}
	bodyWithHeader := &atkBody{r: strings.NewReader(atkQuery + "=" + other)}
	add(
		atkRow{class: atkClassTransport, name: "no credentials", req: atkReq(), status: 401},
		atkRow{class: atkClassTransport, name: "Basic scheme", req: atkReq("Basic dXNlcjpwYXNz"), status: 401},
		atkRow{class: atkClassTransport, name: "Token scheme carrying a valid JWT", req: atkReq("Token " + good), status: 401},
		atkRow{class: atkClassTransport, name: "Bearer without token", req: atkReq("Bearer"), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "Bearer and one space", req: atkReq("Bearer "), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "Bearer and only spaces", req: atkReq("Bearer     "), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "scheme lower case", req: atkReq("bearer " + good), status: 200},
		atkRow{class: atkClassTransport, name: "scheme upper case", req: atkReq("BEARER " + good), status: 200},
		atkRow{class: atkClassTransport, name: "scheme mixed case", req: atkReq("bEaReR " + good), status: 200},
		atkRow{class: atkClassTransport, name: "several spaces after scheme", req: atkReq("Bearer    " + good), status: 200},
		// A tab is not 1*SP (CONTRACTS.md): malformed credentials, RFC 6750 §3.1 invalid_request.
		atkRow{class: atkClassTransport, name: "tab separator", req: atkReq("Bearer\t" + good), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "two headers folded with a comma", req: atkReq("Bearer " + good + ", Bearer " + other), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "two tokens after one scheme", req: atkReq("Bearer " + good + " " + other), status: 400, code: "invalid_request"},
		// ',' is outside b64token (RFC 6750 §2.1) and outside base64url: a malformed token.
		atkRow{class: atkClassTransport, name: "comma-joined tokens", req: atkReq("Bearer " + good + "," + other), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTransport, name: "two Authorization headers", req: atkReq("Bearer "+good, "Bearer "+good), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "Basic header plus Bearer header", req: atkReq("Basic dXNlcjpwYXNz", "Bearer "+good), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "non-ASCII token", req: atkReq("Bearer t\u00f6ken." + gp + "." + gs), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTransport, name: "NUL after token", req: atkReq("Bearer " + good + "\x00"), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTransport, name: "header and cookie (sources on)", sources: true, status: 400, code: "invalid_request",
			req: func() *http.Request {
				r := atkBearer(good)()
				r.AddCookie(&http.Cookie{Name: atkCookie, Value: other})
				return r
			}},
		atkRow{class: atkClassTransport, name: "header and query (sources on)", sources: true, status: 400, code: "invalid_request",
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+other, nil)
				r.Header.Set("Authorization", "Bearer "+good)
				return r
			}},
		atkRow{class: atkClassTransport, name: "cookie and query (sources on)", sources: true, status: 400, code: "invalid_request",
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+good, nil)
				r.AddCookie(&http.Cookie{Name: atkCookie, Value: good})
				return r
			}},
		atkRow{class: atkClassTransport, name: "cookie alone (sources on)", sources: true, status: 200,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
				r.AddCookie(&http.Cookie{Name: atkCookie, Value: good})
				return r
			}},
		atkRow{class: atkClassTransport, name: "query alone (sources on)", sources: true, status: 200,
			req: func() *http.Request {
				return httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+good, nil)
			}},
		atkRow{class: atkClassTransport, name: "cookie twice (sources on)", sources: true, status: 400, code: "invalid_request",
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
				r.Header.Add("Cookie", atkCookie+"="+good+"; "+atkCookie+"="+other)
				return r
			}},
		atkRow{class: atkClassTransport, name: "query parameter twice (sources on)", sources: true, status: 400, code: "invalid_request",
			req: func() *http.Request {
				return httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+good+"&"+atkQuery+"="+other, nil)
			}},
		atkRow{class: atkClassTransport, name: "query token while the source is off", status: 401,
			req: func() *http.Request {
				return httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+good, nil)
			}},
		// CONTRACTS.md counts tokens "among the enabled sources": a disabled source is not read at all.
		atkRow{class: atkClassTransport, name: "header token and a query token while the source is off", status: 200,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private?"+atkQuery+"="+other, nil)
				r.Header.Set("Authorization", "Bearer "+good)
				return r
			}},
		atkRow{class: atkClassTransport, name: "scheme repeated", req: atkReq("Bearer Bearer " + good), status: 400, code: "invalid_request"},
		atkRow{class: atkClassTransport, name: "cookie token while the source is off", status: 401,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
				r.AddCookie(&http.Cookie{Name: atkCookie, Value: good})
				return r
			}},
		atkRow{class: atkClassTransport, name: "form body token (sources off)", status: 401, body: bodyOff,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/api/private", bodyOff)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			}},
		atkRow{class: atkClassTransport, name: "form body token (sources on)", sources: true, status: 401, body: bodyOn,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/api/private", bodyOn)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				return r
			}},
		atkRow{class: atkClassTransport, name: "header token with a body token too: body untouched", status: 200, body: bodyWithHeader,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodPost, "/api/private", bodyWithHeader)
				r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				r.Header.Set("Authorization", "Bearer "+good)
				return r
			}},
		atkRow{class: atkClassTransport, name: "preflight without AllowPreflight", status: 401,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodOptions, "/api/private", nil)
				r.Header.Set("Origin", "https://evil.example")
				r.Header.Set("Access-Control-Request-Method", "GET")
				return r
			}},
		// A1: with AllowPreflight the middleware answers the preflight itself; the handler, which may serve
		// OPTIONS like GET when its route names no method, is never reached.
		atkRow{class: atkClassTransport, name: "preflight with AllowPreflight (sources on)", sources: true, status: 204, attacker: true,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodOptions, "/api/private", nil)
				r.Header.Set("Origin", "https://evil.example")
				r.Header.Set("Access-Control-Request-Method", "GET")
				return r
			}},
		atkRow{class: atkClassTransport, name: "HEAD with a valid token", status: 200,
			req: func() *http.Request {
				r := httptest.NewRequest(http.MethodHead, "/api/private", nil)
				r.Header.Set("Authorization", "Bearer "+good)
				return r
			}},
		atkRow{class: atkClassTransport, name: "valid token of exactly 16 KiB", req: atkBearer(atkSizedToken(jwtauth.DefaultMaxTokenSize)), status: 200},
		atkRow{class: atkClassTransport, name: "valid token of 16 KiB + 1", req: atkBearer(atkSizedToken(jwtauth.DefaultMaxTokenSize + 1)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTransport, name: "1 MB Authorization header", req: atkBearer(strings.Repeat("A", 1<<20)), status: 401, code: "invalid_token", maxDur: time.Second},
	)

	// --- serialization: RFC 7515 §7.1 (exactly three base64url parts), §2 and RFC 4648 §5 (base64url without
	// padding; no other characters), §5.2 (each part one completely valid JSON object, UTF-8), RFC 7516 §9
	// (a five-part JWE is not a JWS), RFC 8259 §8.1 (UTF-8, no BOM), RFC 7493 §2.1/§2.3 (no lone surrogates,
	// unique names), RFC 7519 §4 (unique claim names), RFC 7515 §4 (member names are case-sensitive),
	// RFC 8725 §2.6/§3.7. Many dots: CVE-2025-27144 (go-jose), CVE-2025-30204 (golang-jwt).
	encHdr := atkFindEncodable()
	stdInput := base64.RawStdEncoding.EncodeToString(encHdr) + "." + atkB64([]byte(pl))
	paddedInput := base64.URLEncoding.EncodeToString(encHdr) + "." + base64.URLEncoding.EncodeToString([]byte(pl))
	unusedBits := atkPayloadWithUnusedBits()
	ncPayloadInput := atkB64([]byte(atkHdr)) + "." + atkNonCanonical(atkB64(unusedBits))
	stdSig := strings.NewReplacer("-", "+", "_", "/").Replace(gs)
	if !strings.ContainsAny(stdInput, "+/") || !strings.Contains(paddedInput, "=") || stdSig == gs {
		panic("atkRows: the encoding rows would not test what they say")
	}
	jweHdr := atkB64([]byte(`{"alg":"RSA-OAEP","enc":"A256GCM","kid":"es-1"}`))
	rnd := func(n int) string { b := make([]byte, n); _, _ = rand.Read(b); return atkB64(b) }
	deep := `{"iss":"` + atkIss + `","aud":"` + atkAud + `","exp":` + strconv.FormatInt(future, 10) + `,"deep":` +
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`
	nested := atkClaims(map[string]any{"org": map[string]any{"team": map[string]any{"roles": []any{map[string]any{"n": []any{1, []any{2}}}}}}})
	bigInt := `{"iss":"` + atkIss + `","aud":"` + atkAud + `","exp":` + strconv.FormatInt(future, 10) + `,"n":` + "9" + strings.Repeat("0", 5000) + `}`
	withExp := func(rest string) string {
		return `{"iss":"` + atkIss + `","aud":"` + atkAud + `",` + rest + `}`
	}
	expF := strconv.FormatInt(future, 10)
	expP := strconv.FormatInt(past, 10)
	add(
		atkRow{class: atkClassSerial, name: "two segments", req: atkBearer(gh + "." + gp), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "four segments", req: atkBearer(good + "." + gs), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "JWE compact (five parts)", req: atkBearer(jweHdr + "." + rnd(256) + "." + rnd(12) + "." + rnd(64) + "." + rnd(16)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassSerial, name: "JWE compact with empty key and parts", req: atkBearer(atkB64([]byte(`{"alg":"dir","enc":"A128GCM"}`)) + ".." + rnd(12) + "." + rnd(32) + "." + rnd(16)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassSerial, name: "JWE header in a signed three-part token", req: atkBearer(atkESRaw(`{"alg":"dir","enc":"A128GCM","kid":"es-1"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "JWS JSON serialization", req: atkBearer(`{"payload":"` + gp + `","protected":"` + gh + `","signature":"` + gs + `"}`), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "16000 dots", req: atkBearer(strings.Repeat(".", 16000)), status: 401, code: "invalid_token", maxDur: time.Second},
		atkRow{class: atkClassSerial, name: "valid parts then 10000 dots", req: atkBearer(good + strings.Repeat(".", 10000)), status: 401, code: "invalid_token", maxDur: time.Second},
		atkRow{class: atkClassSerial, name: "1 MB of dots", req: atkBearer(strings.Repeat(".", 1<<20)), status: 401, code: "invalid_token", maxDur: time.Second},
		atkRow{class: atkClassSerial, name: "empty header segment", req: atkBearer("." + gp + "." + gs), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "empty payload segment (detached content)", req: atkBearer(atkSignInput("ES256", k.es, gh+".")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "empty signature (jwt_tool -X n)", req: atkBearer(gh + "." + gp + "."), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassSerial, name: "signature in the standard alphabet", req: atkBearer(gh + "." + gp + "." + stdSig), status: 401, code: "invalid_token"},
		// Controls: the same header and payload, canonically encoded, verify.
		atkRow{class: atkClassSerial, name: "control: canonical encoding of the next rows' header", req: atkBearer(atkSignRaw("ES256", k.es, encHdr, []byte(pl))), status: 200},
		atkRow{class: atkClassSerial, name: "control: canonical encoding of the non-canonical payload", req: atkBearer(atkSignRaw("ES256", k.es, []byte(atkHdr), unusedBits)), status: 200},
		atkRow{class: atkClassSerial, name: "header in the standard alphabet, signed as sent", req: atkBearer(atkSignInput("ES256", k.es, stdInput)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "padded segments, signed as sent", req: atkBearer(atkSignInput("ES256", k.es, paddedInput)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "padded signature", req: atkBearer(gh + "." + gp + "." + base64.URLEncoding.EncodeToString(sig)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "line break inside a segment, signed as sent", req: atkBearer(atkSignInput("ES256", k.es, gh+"."+gp[:10]+"\n"+gp[10:])), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "tab inside the token", req: atkBearer(gh + "." + gp + "\t." + gs), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "non-canonical last character of the signature", req: atkBearer(gh + "." + gp + "." + atkNonCanonical(gs)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "non-canonical payload, signed as sent", req: atkBearer(atkSignInput("ES256", k.es, ncPayloadInput)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header is an array", req: atkBearer(atkESRaw(`[`+atkHdr+`]`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header is null", req: atkBearer(atkESRaw(`null`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "payload is null", req: atkBearer(atkESRaw(atkHdr, `null`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "payload is an array of claims", req: atkBearer(atkESRaw(atkHdr, `[`+pl+`]`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "payload is a JSON string of claims", req: atkBearer(atkESRaw(atkHdr, strconv.Quote(pl))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "payload with a second object after it", req: atkBearer(atkESRaw(atkHdr, pl+`{"sub":"admin"}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "payload with trailing garbage", req: atkBearer(atkESRaw(atkHdr, pl+`x`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header with a second object after it", req: atkBearer(atkESRaw(atkHdr+`{"alg":"none"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "whitespace around JSON is fine", req: atkBearer(atkESRaw(" \n"+atkHdr+"\r\n", "\t"+pl+" ")), status: 200},
		atkRow{class: atkClassSerial, name: "nested objects in a custom claim are fine", req: atkBearer(atkSignRaw("ES256", k.es, []byte(atkHdr), atkJSON(nested))), status: 200},
		// RFC 8259 §9 lets a parser limit nesting; 10000 levels must be refused, never crash the server.
		atkRow{class: atkClassSerial, name: "10000 levels of nesting", req: atkBearer(atkESRaw(atkHdr, deep)), status: 401, code: "invalid_token", maxDur: time.Second},
		// RFC 7519 §4: claims that are not understood MUST be ignored; a 5000-digit number is valid JSON.
		atkRow{class: atkClassSerial, name: "5000-digit number in a custom claim", req: atkBearer(atkESRaw(atkHdr, bigInt)), status: 200},
		atkRow{class: atkClassSerial, name: "BOM before the header JSON", req: atkBearer(atkESRaw("\ufeff"+atkHdr, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "BOM before the payload JSON", req: atkBearer(atkESRaw(atkHdr, "\ufeff"+pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "invalid UTF-8 in a claim", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+",\"name\":\"\xff\xfe\""))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "overlong UTF-8 '/' in iss", req: atkBearer(atkESRaw(atkHdr, "{\"iss\":\"https:\xc0\xaf\xc0\xafissuer.atk.test/\",\"aud\":\""+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "overlong UTF-8 in kid", req: atkBearer(atkESRaw("{\"alg\":\"ES256\",\"kid\":\"es\xc0\xad1\"}", pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "lone surrogate in sub", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"sub":"\ud800"`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate alg in header", req: atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","alg":"none"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate alg via \\u escape", req: atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","\u0061lg":"none"}`, pl)), status: 401, code: "invalid_token"},
		// A5: encoding/json (Claims.Decode, golang-jwt) matches member names ignoring case, with Unicode simple
		// folding: "Sub", "ſub" (U+017F) and "\u212aid" (Kelvin sign) are sub and kid to it.
		atkRow{class: atkClassSerial, name: "case-variant duplicate sub and SCOPE", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"sub":"alice","Sub":"admin","SCOPE":"admin"`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "case-variant duplicate sub via long s (U+017F)", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"sub":"alice","ſub":"admin"`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "case variant of sub alone", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"SUB":"admin"`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "case-variant duplicate kid via Kelvin sign escape", req: atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","\u212aid":"attacker"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "case-variant duplicate in a nested custom claim", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"org":{"roles":[{"role":"user","ROLE":"admin"}]}`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "control: names that only look alike (ß, ss) are distinct", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"ß":1,"ss":2,"sub_id":"x"`))), status: 200},
		atkRow{class: atkClassSerial, name: "duplicate kid", req: atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","kid":"attacker"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate exp (past then future)", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expP+`,"exp":`+expF))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate exp (future then past)", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"exp":`+expP))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate iss via \\u escape", req: atkBearer(atkESRaw(atkHdr, `{"iss":"https://evil.atk.test/","\u0069ss":"`+atkIss+`","aud":"`+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate aud", req: atkBearer(atkESRaw(atkHdr, `{"iss":"`+atkIss+`","aud":"https://other.api","aud":"`+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "duplicate scope", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expF+`,"scope":"none","scope":"`+atkScope+`"`))), scopes: []string{atkScope}, status: 401, code: "invalid_token"},
		// RFC 8259 §8.3: names are compared after unescaping, so "\u0061lg" is alg.
		atkRow{class: atkClassSerial, name: "escaped member name is the same member", req: atkBearer(atkESRaw(`{"\u0061lg":"ES256","kid":"es-1"}`, pl)), status: 200},
		atkRow{class: atkClassSerial, name: "number with a leading zero (not JSON)", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":0`+expF))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header ALG instead of alg", req: atkBearer(atkESRaw(`{"ALG":"ES256","kid":"es-1"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header Alg instead of alg", req: atkBearer(atkESRaw(`{"Alg":"ES256","kid":"es-1"}`, pl)), status: 401, code: "invalid_token"},
		// RFC 7515 §4 says unknown members are ignored and "Alg" is not "alg", but encoding/json-based readers
		// (golang-jwt) take "Alg" as alg, the last one winning: one header, two readings, so it is refused (A5).
		atkRow{class: atkClassSerial, name: "header Alg none beside alg ES256 is refused", req: atkBearer(atkESRaw(`{"Alg":"none","alg":"ES256","kid":"es-1"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "header alg ES256 then Alg none is refused", req: atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","Alg":"none"}`, pl)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "EXP instead of exp", req: atkBearer(atkESRaw(atkHdr, withExp(`"EXP":`+expF))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "exp past, EXP future", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":`+expP+`,"EXP":`+expF))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "Iss instead of iss", req: atkBearer(atkESRaw(atkHdr, `{"Iss":"`+atkIss+`","aud":"`+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "iss foreign, ISS trusted", req: atkBearer(atkESRaw(atkHdr, `{"iss":"https://evil.atk.test/","ISS":"`+atkIss+`","aud":"`+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassSerial, name: "Aud instead of aud", req: atkBearer(atkESRaw(atkHdr, `{"iss":"`+atkIss+`","Aud":"`+atkAud+`","exp":`+expF+`}`)), status: 401, code: "invalid_token"},
	)

	// --- algorithms and signatures: RFC 8725 §2.1/§3.1/§3.2 (allow-list, never "none" or an algorithm the key
	// was not meant for), RFC 7515 §4.1.1 (alg is case-sensitive), RFC 7518 §3.4 (ECDSA R||S of fixed width,
	// curve bound to the algorithm), §3.5 (PSS), jwt_tool -X a (none casings), -X k (RS→HS key confusion,
	// CVE-2015-9235, CVE-2016-10555), -X b (blank HMAC secret), -X p (psychic signature, CVE-2022-21449).
	pemPub := atkPEM(&k.rs.PublicKey)
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rs.PublicKey)})
	jwkPub := atkJSON(jwtauthtest.PublicJWK(&k.rs.PublicKey, "rs-1", ""))
	none := func(alg string) string {
		return atkB64([]byte(`{"alg":"`+alg+`","typ":"JWT"}`)) + "." + atkB64([]byte(pl)) + "."
	}
	n256 := elliptic.P256().Params().N.FillBytes(make([]byte, 32))
	inputES := atkB64([]byte(atkHdr)) + "." + atkB64([]byte(pl))
	der, err := ecdsa.SignASN1(rand.Reader, k.es, atkDigest(crypto.SHA256, inputES))
	if err != nil {
		panic(err)
	}
	rsHdr := func(alg, kid string) map[string]any { return map[string]any{"alg": alg, "kid": kid, "typ": "JWT"} }
	add(
		atkRow{class: atkClassAlg, name: "baseline ES256", req: atkBearer(good), status: 200},
		atkRow{class: atkClassAlg, name: "baseline RS256 (key without alg)", req: atkBearer(att("RS256", k.rs, rsHdr("RS256", "rs-1"), nil)), status: 200},
		atkRow{class: atkClassAlg, name: "baseline PS256 (key without alg)", req: atkBearer(att("PS256", k.rs, rsHdr("PS256", "rs-1"), nil)), status: 200},
		atkRow{class: atkClassAlg, name: "baseline ES384 on P-384", req: atkBearer(att("ES384", k.p384, rsHdr("ES384", "es384-1"), nil)), status: 200},
		atkRow{class: atkClassAlg, name: "alg none", req: atkBearer(none("none")), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg None", req: atkBearer(none("None")), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg NONE", req: atkBearer(none("NONE")), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg nOnE", req: atkBearer(none("nOnE")), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg none with a kid and a real signature", req: atkBearer(atkB64([]byte(`{"alg":"none","kid":"es-1"}`)) + "." + gp + "." + gs), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg none, two segments", req: atkBearer(strings.TrimSuffix(none("none"), ".")), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 keyed with the RSA public key PEM", req: atkBearer(att("HS256", pemPub, rsHdr("HS256", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 keyed with the PEM minus its final newline", req: atkBearer(att("HS256", bytes.TrimSpace(pemPub), rsHdr("HS256", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 keyed with the PKCS#1 PEM", req: atkBearer(att("HS256", pkcs1, rsHdr("HS256", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS384 keyed with the DER", req: atkBearer(att("HS384", atkDER(&k.rs.PublicKey), rsHdr("HS384", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS512 keyed with the JWK JSON", req: atkBearer(att("HS512", jwkPub, rsHdr("HS512", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 keyed with the modulus bytes", req: atkBearer(att("HS256", k.rs.N.Bytes(), rsHdr("HS256", "rs-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 keyed with the EC public key PEM", req: atkBearer(att("HS256", atkPEM(&k.es.PublicKey), rsHdr("HS256", "es-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "HS256 with a blank secret (jwt_tool -X b)", req: atkBearer(att("HS256", []byte{}, rsHdr("HS256", "es-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "RS256 header, PSS signature", req: atkBearer(atkSignInput("PS256", k.rs, atkB64(atkJSON(rsHdr("RS256", "rs-1")))+"."+atkB64([]byte(pl)))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "PS256 header, PKCS#1 v1.5 signature", req: atkBearer(atkSignInput("RS256", k.rs, atkB64(atkJSON(rsHdr("PS256", "rs-1")))+"."+atkB64([]byte(pl)))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "ES256 header naming the RSA key", req: atkBearer(atkSignInput("RS256", k.rs, atkB64(atkJSON(rsHdr("ES256", "rs-1")))+"."+atkB64([]byte(pl)))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "RS256 header naming the EC key, attacker RSA signature", req: atkBearer(att("RS256", k.attRS, rsHdr("RS256", "es-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "ES256 with the P-384 key", req: atkBearer(att("ES256", k.p384, rsHdr("ES256", "es384-1"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "ES384 with the P-256 key", req: atkBearer(att("ES384", k.es, rsHdr("ES384", "es-1"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "psychic signature r=s=0 (CVE-2022-21449)", req: atkBearer(gh + "." + gp + "." + atkB64(make([]byte, 64))), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "psychic signature r=s=n", req: atkBearer(gh + "." + gp + "." + atkB64(append(append([]byte{}, n256...), n256...))), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "psychic signature r=s=0 on ES384", req: atkBearer(atkB64(atkJSON(rsHdr("ES384", "es384-1"))) + "." + gp + "." + atkB64(make([]byte, 96))), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "DER-encoded ECDSA signature", req: atkBearer(inputES + "." + atkB64(der)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "signature truncated by a byte", req: atkBearer(gh + "." + gp + "." + atkB64(sig[:len(sig)-1])), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "signature extended by a byte", req: atkBearer(gh + "." + gp + "." + atkB64(append(append([]byte{}, sig...), 0))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "signature doubled", req: atkBearer(gh + "." + gp + "." + atkB64(append(append([]byte{}, sig...), sig...))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "signature with a flipped bit", req: atkBearer(gh + "." + gp + "." + atkB64(append([]byte{sig[0] ^ 1}, sig[1:]...))), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "signature of another token", req: atkBearer(gh + "." + gp + "." + otherSig), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "payload swapped under a valid signature", req: atkBearer(gh + "." + atkB64(atkJSON(atkClaims(map[string]any{"sub": "admin"}))) + "." + gs), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "RS512 outside the allow-list", req: atkBearer(att("RS512", k.rs, rsHdr("RS512", "rs-1"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "ES512 outside the allow-list", req: atkBearer(att("ES512", k.attP521, rsHdr("ES512", "es-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "unknown alg XS256", req: atkBearer(att("ES256", k.attEC, rsHdr("XS256", "es-1"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassAlg, name: "alg in lower case", req: atkBearer(att("RS256", k.rs, rsHdr("rs256", "rs-1"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "alg with a trailing space", req: atkBearer(atkES(map[string]any{"alg": "ES256 "}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "alg as an array", req: atkBearer(atkES(map[string]any{"alg": []string{"ES256"}}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "alg missing", req: atkBearer(atkES(map[string]any{"alg": nil}, nil)), status: 401, code: "invalid_token"},
		// RFC 7517 §4.4: a key published with alg RS256 is not for PS256.
		atkRow{class: atkClassAlg, name: "PS256 with a key pinned to RS256", req: atkBearer(att("PS256", k.rs, rsHdr("PS256", "rs-pin"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassAlg, name: "RS256 with the key pinned to RS256", req: atkBearer(att("RS256", k.rs, rsHdr("RS256", "rs-pin"), nil)), status: 200},
	)

	// --- header parameters: RFC 8725 §3.10 and §2.9 (never trust jku/x5u/jwk/x5c; kid is untrusted input:
	// path traversal, SQL and command injection), RFC 7515 §4.1.2-§4.1.6, CVE-2018-0114 (embedded jwk),
	// jwt_tool -X i (inline JWKS) and -X s (spoofed JWKS), §4.1.11 (crit: understood or invalid; empty list
	// forbidden), RFC 7797 (b64), §4.1.9 and RFC 8725 §3.11 (typ), RFC 7519 §5.2 (cty JWT = nested token).
	attJWK := jwtauthtest.PublicJWK(&k.attEC.PublicKey, "attacker", "ES256")
	x5c := []string{base64.StdEncoding.EncodeToString(atkSelfSigned(k.attEC))}
	hdr := func(extra map[string]any) map[string]any {
		return atkMerge(map[string]any{"alg": "ES256", "typ": "JWT"}, extra)
	}
	longKid := strings.Repeat("k", 8<<10)
	add(
		atkRow{class: atkClassHeader, name: "embedded jwk with the attacker key (CVE-2018-0114)", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "attacker", "jwk": attJWK}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "embedded jwk under the trusted kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1", "jwk": attJWK}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "embedded jwk without kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"jwk": attJWK}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "jku to the attacker's server", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "attacker", "jku": f.attURL + "/jwks.json"}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "jku under the trusted kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1", "jku": f.attURL + "/jwks.json"}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "x5u to the attacker's server", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "attacker", "x5u": f.attURL + "/cert.pem"}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "x5c self-signed under the trusted kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1", "x5c": x5c}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "x5c self-signed without kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"x5c": x5c}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "kid path traversal with an empty HMAC secret", req: atkBearer(att("HS256", []byte{}, map[string]any{"alg": "HS256", "kid": "../../../../../../dev/null"}, nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"dev/null"}},
		atkRow{class: atkClassHeader, name: "kid path traversal, ES256", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "../../dev/null"}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"dev/null"}},
		atkRow{class: atkClassHeader, name: "kid SQL injection", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "' OR '1'='1"}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"OR '1'"}},
		atkRow{class: atkClassHeader, name: "kid SQL UNION with the known HMAC secret", req: atkBearer(att("HS256", []byte("atk"), map[string]any{"alg": "HS256", "kid": "x' UNION SELECT 'atk';--"}, nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"UNION"}},
		atkRow{class: atkClassHeader, name: "kid command injection |id", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "|id"}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"|id"}},
		atkRow{class: atkClassHeader, name: "kid command injection $(id) and backticks", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1;$(id)`id`"}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"$(id)"}},
		atkRow{class: atkClassHeader, name: "kid of 8 KiB", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": longKid}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"kkkkkkkk"}},
		atkRow{class: atkClassHeader, name: "kid with NUL after the trusted kid", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1\x00"}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "kid with a forged log line", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1\nlevel=INFO msg=\"admin login\""}), nil)), status: 401, code: "invalid_token", attacker: true, probes: []string{"admin login"}},
		atkRow{class: atkClassHeader, name: "kid as a number", req: atkBearer(att("ES256", k.es, hdr(map[string]any{"kid": 1}), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "trusted kid, attacker signature", req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1"}), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassHeader, name: "crit names a claim", req: atkBearer(atkES(map[string]any{"crit": []string{"exp"}, "exp": future}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "crit is an empty list", req: atkBearer(atkES(map[string]any{"crit": []string{}}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "crit b64 false (RFC 7797)", req: atkBearer(atkES(map[string]any{"crit": []string{"b64"}, "b64": false}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ jwt", req: atkBearer(atkES(map[string]any{"typ": "jwt"}, nil)), status: 200},
		atkRow{class: atkClassHeader, name: "typ at+jwt", req: atkBearer(atkES(map[string]any{"typ": "at+jwt"}, nil)), status: 200},
		atkRow{class: atkClassHeader, name: "typ application/at+jwt", req: atkBearer(atkES(map[string]any{"typ": "application/at+jwt"}, nil)), status: 200},
		atkRow{class: atkClassHeader, name: "typ AT+JWT (media types are case-insensitive)", req: atkBearer(atkES(map[string]any{"typ": "AT+JWT"}, nil)), status: 200},
		atkRow{class: atkClassHeader, name: "no typ", req: atkBearer(atkES(map[string]any{"typ": nil}, nil)), status: 200},
		atkRow{class: atkClassHeader, name: "typ dpop+jwt", req: atkBearer(atkES(map[string]any{"typ": "dpop+jwt"}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ logout+jwt", req: atkBearer(atkES(map[string]any{"typ": "logout+jwt"}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ secevent+jwt", req: atkBearer(atkES(map[string]any{"typ": "secevent+jwt"}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ JOSE+JSON", req: atkBearer(atkES(map[string]any{"typ": "JOSE+JSON"}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ empty", req: atkBearer(atkES(map[string]any{"typ": ""}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "typ as a number", req: atkBearer(atkES(map[string]any{"typ": 1}, nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassHeader, name: "cty JWT with a nested token as payload", req: atkBearer(atkSignRaw("ES256", k.es, []byte(`{"alg":"ES256","kid":"es-1","cty":"JWT"}`), []byte(good))), status: 401, code: "invalid_token"},
	)

	// --- registered claims: RFC 7519 §2 (NumericDate: a JSON number, fractions allowed), §4.1.1-§4.1.7
	// (StringOrURI compared case-sensitively; aud string or array), §7.2, RFC 8725 §3.8/§3.9. Leeway is the
	// default 60 s. Far-future dates (1e300, year 10000) would overflow time arithmetic into "never expires".
	add(
		atkRow{class: atkClassClaims, name: "exp missing", req: atkBearer(atkES(nil, map[string]any{"exp": nil})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp 0", req: atkBearer(atkES(nil, map[string]any{"exp": 0})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp negative", req: atkBearer(atkES(nil, map[string]any{"exp": -1})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp -0", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("-0")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp quoted", req: atkBearer(atkES(nil, map[string]any{"exp": strconv.FormatInt(future, 10)})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp with a fraction", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage(strconv.FormatInt(future, 10) + ".5")})), status: 200},
		atkRow{class: atkClassClaims, name: "exp in exponent form", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("1.9000036e9")})), status: 200},
		atkRow{class: atkClassClaims, name: "exp 1e300", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("1e300")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp 1e400 (overflows float64)", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("1e400")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp in year 10000", req: atkBearer(atkES(nil, map[string]any{"exp": 253402300800})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp 2^63", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("9223372036854775808")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp \"NaN\"", req: atkBearer(atkES(nil, map[string]any{"exp": "NaN"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp \"Infinity\"", req: atkBearer(atkES(nil, map[string]any{"exp": "Infinity"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp bare NaN (not JSON)", req: atkBearer(atkESRaw(atkHdr, withExp(`"exp":NaN`))), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp null", req: atkBearer(atkES(nil, map[string]any{"exp": json.RawMessage("null")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp true", req: atkBearer(atkES(nil, map[string]any{"exp": true})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp past the leeway", req: atkBearer(atkES(nil, map[string]any{"exp": now - 61})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "exp within the leeway", req: atkBearer(atkES(nil, map[string]any{"exp": now - 30})), status: 200},
		atkRow{class: atkClassClaims, name: "nbf in the future", req: atkBearer(atkES(nil, map[string]any{"nbf": future})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "nbf within the leeway", req: atkBearer(atkES(nil, map[string]any{"nbf": now + 30})), status: 200},
		atkRow{class: atkClassClaims, name: "nbf quoted", req: atkBearer(atkES(nil, map[string]any{"nbf": strconv.FormatInt(past, 10)})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iat in the future", req: atkBearer(atkES(nil, map[string]any{"iat": future})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss without the trailing slash", req: atkBearer(atkES(nil, map[string]any{"iss": strings.TrimSuffix(atkIss, "/")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss with a second trailing slash", req: atkBearer(atkES(nil, map[string]any{"iss": atkIss + "/"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss in upper case", req: atkBearer(atkES(nil, map[string]any{"iss": strings.ToUpper(atkIss)})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss with a leading space", req: atkBearer(atkES(nil, map[string]any{"iss": " " + atkIss})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss with a trailing newline", req: atkBearer(atkES(nil, map[string]any{"iss": atkIss + "\n"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss missing", req: atkBearer(atkES(nil, map[string]any{"iss": nil})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss as an array", req: atkBearer(atkES(nil, map[string]any{"iss": []string{atkIss}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "iss null", req: atkBearer(atkES(nil, map[string]any{"iss": json.RawMessage("null")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud as an array containing ours", req: atkBearer(atkES(nil, map[string]any{"aud": []string{"https://other.api", atkAud}})), status: 200},
		atkRow{class: atkClassClaims, name: "aud as an array without ours", req: atkBearer(atkES(nil, map[string]any{"aud": []string{"https://other.api"}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud empty array", req: atkBearer(atkES(nil, map[string]any{"aud": []string{}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud absent", req: atkBearer(atkES(nil, map[string]any{"aud": nil})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud null", req: atkBearer(atkES(nil, map[string]any{"aud": json.RawMessage("null")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud empty string", req: atkBearer(atkES(nil, map[string]any{"aud": ""})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud in another case", req: atkBearer(atkES(nil, map[string]any{"aud": strings.ToUpper(atkAud)})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud with a trailing slash", req: atkBearer(atkES(nil, map[string]any{"aud": atkAud + "/"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud array of numbers", req: atkBearer(atkES(nil, map[string]any{"aud": []int{1}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "aud as an object", req: atkBearer(atkES(nil, map[string]any{"aud": map[string]string{"aud": atkAud}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "sub as a number", req: atkBearer(atkES(nil, map[string]any{"sub": 42})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "sub as an object", req: atkBearer(atkES(nil, map[string]any{"sub": map[string]string{"id": "admin"}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassClaims, name: "jti as a number", req: atkBearer(atkES(nil, map[string]any{"jti": 7})), status: 401, code: "invalid_token"},
	)

	// --- roles: no RFC; each provider documents its claim (Entra roles, Keycloak realm_access.roles, Auth0
	// namespaced claims, Zitadel's object keyed by role). A role is granted only by an exact, case-sensitive
	// string at a configured path; every other shape grants nothing (403), names are matched after JSON
	// unescaping like every other reader, and a claim too large to be real refuses the token (401).
	rl := []string{"admin"}
	zitadel := "urn:zitadel:iam:org:project:roles"
	many := make([]string, 1025)
	for i := range many {
		many[i] = fmt.Sprintf("r%04d", i)
	}
	dups := make([]string, 1000)
	for i := range dups {
		dups[i] = "admin"
	}
	rolesDeep := any([]string{"admin"})
	for i := 0; i < 40; i++ {
		rolesDeep = []any{rolesDeep}
	}
	rolesRaw := func(members string) func() *http.Request {
		return atkBearer(atkESRaw(`{"alg":"ES256","kid":"es-1","typ":"JWT"}`,
			fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"user-1","exp":%d,%s}`, atkIss, atkAud, future, members)))
	}
	role := func(name string, claims map[string]any, status int) atkRow {
		code := ""
		switch status {
		case 401:
			code = "invalid_token"
		case 403:
			code = "insufficient_scope"
		}
		return atkRow{class: atkClassRoles, name: name, roles: rl, req: atkBearer(atkES(nil, claims)), status: status, code: code}
	}
	add(
		role("roles array grants", map[string]any{"roles": []string{"user", "admin"}}, 200),
		role("roles as one string grants that role", map[string]any{"roles": "admin"}, 200),
		role("roles string is never split on spaces", map[string]any{"roles": "user admin"}, 403),
		role("roles string is never split on commas", map[string]any{"roles": "user,admin"}, 403),
		role("role in upper case", map[string]any{"roles": []string{"ADMIN"}}, 403),
		role("role with trailing space", map[string]any{"roles": []string{"admin "}}, 403),
		role("role prefix", map[string]any{"roles": []string{"admin:read"}}, 403),
		role("role wildcard", map[string]any{"roles": []string{"*"}}, 403),
		role("claim name in another case", map[string]any{"Roles": []string{"admin"}}, 403),
		role("claim name in upper case", map[string]any{"ROLES": []string{"admin"}}, 403),
		role("claim name with long s (folds to s)", map[string]any{"roleſ": []string{"admin"}}, 403),
		role("roles as an object keyed by role at an array path", map[string]any{"roles": map[string]any{"admin": true}}, 403),
		role("roles as an array of objects", map[string]any{"roles": []any{map[string]any{"name": "admin"}}}, 403),
		role("roles as nested arrays", map[string]any{"roles": []any{[]string{"admin"}}}, 403),
		role("roles as a number", map[string]any{"roles": 1}, 403),
		role("roles as true", map[string]any{"roles": true}, 403),
		role("roles nested past the depth limit", map[string]any{"roles": rolesDeep}, 401),
		role("roles from an unconfigured claim", map[string]any{"groups": []string{"admin"}}, 403),
		role("scope admin is not role admin", map[string]any{"scope": "admin"}, 403),
		role("Keycloak realm roles grant", map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}}, 200),
		role("Keycloak realm_access as a string", map[string]any{"realm_access": "admin"}, 403),
		role("dotted top-level name is not the nested path", map[string]any{"realm_access.roles": []string{"admin"}}, 403),
		role("Keycloak roles one level too deep", map[string]any{"realm_access": map[string]any{"roles": map[string]any{"roles": []string{"admin"}}}}, 403),
		role("namespaced claim grants", map[string]any{"https://example.com/roles": []string{"admin"}}, 200),
		role("namespaced claim of another namespace", map[string]any{"https://evil.example/roles": []string{"admin"}}, 403),
		role("Zitadel object keyed by role grants", map[string]any{zitadel: map[string]any{"admin": map[string]any{"1": "org.example"}}}, 200),
		role("Zitadel member set to false", map[string]any{zitadel: map[string]any{"admin": false}}, 403),
		role("Zitadel member set to null", map[string]any{zitadel: map[string]any{"admin": nil}}, 403),
		role("Zitadel claim as an array", map[string]any{zitadel: []string{"admin"}}, 403),
		role("Zitadel claim as a string", map[string]any{zitadel: "admin"}, 403),
		role("1025 roles refuse the token", map[string]any{"roles": many}, 401),
		role("1000 duplicates count once", map[string]any{"roles": dups}, 200),
		role("a role over 1 KiB refuses the token", map[string]any{"roles": []string{strings.Repeat("a", 1025), "admin"}}, 401),
		atkRow{class: atkClassRoles, name: "escaped slashes in a namespaced name", roles: rl, req: rolesRaw(`"https:\/\/example.com\/roles":["admin"]`), status: 200},
		atkRow{class: atkClassRoles, name: "unicode escape in the claim name", roles: rl, req: rolesRaw(`"\u0072oles":["admin"]`), status: 200},
		atkRow{class: atkClassRoles, name: "unicode escape in the role", roles: rl, req: rolesRaw(`"roles":["\u0061dmin"]`), status: 200},
		atkRow{class: atkClassRoles, name: "duplicate roles claim", roles: rl, req: rolesRaw(`"roles":["user"],"roles":["admin"]`), status: 401, code: "invalid_token"},
		atkRow{class: atkClassRoles, name: "duplicate nested roles member", roles: rl, req: rolesRaw(`"realm_access":{"roles":["user"],"roles":["admin"]}`), status: 401, code: "invalid_token"},
		atkRow{class: atkClassRoles, name: "role with CRLF is not echoed", roles: rl, req: atkBearer(atkES(nil, map[string]any{"roles": []string{"admin\r\nX-Injected: 1"}})), status: 403, code: "insufficient_scope", probes: []string{"X-Injected"}},
		atkRow{class: atkClassRoles, name: "admin role signed by an untrusted key", roles: rl, attacker: true,
			req: atkBearer(att("ES256", k.attEC, map[string]any{"alg": "ES256", "kid": "es-1"}, map[string]any{"roles": []string{"admin"}})), status: 401, code: "invalid_token"},
	)

	// --- scopes: RFC 6749 §3.3 (scope is space-delimited, case-sensitive scope-tokens), RFC 8693 §4.2 and
	// RFC 9068 §2.2.3 (scope is a string), CONTRACTS.md (scp string or array, permissions array), RFC 6750
	// §3.1 (403 insufficient_scope with the required scope). A scope claim of the wrong JSON type makes the
	// token malformed for this verifier (401), it never grants.
	sc := []string{atkScope}
	add(
		atkRow{class: atkClassScopes, name: "scope grants", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": atkScope})), status: 200},
		atkRow{class: atkClassScopes, name: "scope missing", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope separated by a tab", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": atkScope + "\twrite:messages"})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope separated by a comma", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": atkScope + ",write:messages"})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope separated by a newline", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": "write:messages\n" + atkScope})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope in upper case", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": strings.ToUpper(atkScope)})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope prefix", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": "read"})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope extended", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": atkScope + ":all"})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope with a wildcard", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": "read:*"})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "scope as an array", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": []string{atkScope}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassScopes, name: "scp as an array", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "scp": []string{atkScope}})), status: 200},
		atkRow{class: atkClassScopes, name: "scp as a string", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "scp": atkScope})), status: 200},
		atkRow{class: atkClassScopes, name: "scp array with the scope in upper case", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "scp": []string{strings.ToUpper(atkScope)}})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "permissions array", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "permissions": []string{atkScope}})), status: 200},
		atkRow{class: atkClassScopes, name: "permissions as a string", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "permissions": atkScope})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassScopes, name: "permissions as an object", scopes: sc, req: atkBearer(atkES(nil, map[string]any{"scope": nil, "permissions": map[string]bool{atkScope: true}})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassScopes, name: "two scopes required, one granted", scopes: []string{atkScope, "admin"}, req: atkBearer(atkES(nil, map[string]any{"scope": atkScope})), status: 403, code: "insufficient_scope"},
		atkRow{class: atkClassScopes, name: "bad signature on a scoped route is 401, not 403", scopes: sc, req: atkBearer(att("ES256", k.attEC, hdr(map[string]any{"kid": "es-1"}), map[string]any{"scope": nil})), status: 401, code: "invalid_token", attacker: true},
	)

	// --- key set content: for each key of the served set that must not verify (RFC 7517 §4.2 use "enc",
	// §4.3 key_ops without "verify", §4.4 alg that does not fit the key, §4.5 duplicate kids, §5 unknown kty,
	// RFC 7518 §3.3 RSA under 2048 bits, §6.2.1 point not on the curve, RFC 8725 §3.2 oct secrets, a public
	// set leaking d, an RSA exponent of 1), a token signed with that key is refused while the trusted keys of
	// the same set keep verifying (the baseline rows above).
	rsInput := func(kid string) string {
		return atkB64(atkJSON(rsHdr("RS256", kid))) + "." + atkB64([]byte(pl))
	}
	add(
		atkRow{class: atkClassJWKS, name: "key with use enc", req: atkBearer(att("ES256", k.enc, rsHdr("ES256", "enc"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "key_ops without verify", req: atkBearer(att("ES256", k.ops, rsHdr("ES256", "ops"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "EC key labelled RS256", req: atkBearer(att("ES256", k.algmis, rsHdr("ES256", "algmis"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "P-256 key labelled ES384", req: atkBearer(att("ES256", k.algcurve, rsHdr("ES256", "algcurve"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "P-256 key labelled ES384, used as ES384", req: atkBearer(att("ES384", k.algcurve, rsHdr("ES384", "algcurve"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "RSA 1024", req: atkBearer(att("RS256", k.rs1024, rsHdr("RS256", "rsa1024"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "EC point not on the curve", req: atkBearer(att("ES256", k.es, rsHdr("ES256", "offcurve"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "oct key used for HS256", req: atkBearer(att("HS256", []byte(atkOctSecret), rsHdr("HS256", "oct"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassJWKS, name: "duplicate kid, first key", req: atkBearer(att("ES256", k.dupA, rsHdr("ES256", "dup"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "duplicate kid, second key", req: atkBearer(att("ES256", k.dupB, rsHdr("ES256", "dup"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "unknown kty", req: atkBearer(att("ES256", k.attEC, rsHdr("ES256", "unk"), nil)), status: 401, code: "invalid_token", attacker: true},
		// d is published: everyone holds this private key now, so it is an attacker key.
		atkRow{class: atkClassJWKS, name: "key published with its private part", req: atkBearer(att("ES256", k.priv, rsHdr("ES256", "priv"), nil)), status: 401, code: "invalid_token", attacker: true},
		// A8: jwkset reads "D" as d: the private part is public all the same.
		atkRow{class: atkClassJWKS, name: "key published with its private part as D", req: atkBearer(att("ES256", k.privD, rsHdr("ES256", "privD"), nil)), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassJWKS, name: "key named by KID, not kid", req: atkBearer(att("ES256", k.kidVar, rsHdr("ES256", "kidVar"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "key marked USE enc, not use", req: atkBearer(att("ES256", k.useVar, rsHdr("ES256", "useVar"), nil)), status: 401, code: "invalid_token"},
		atkRow{class: atkClassJWKS, name: "RSA exponent 1: forged PKCS#1 signature", req: atkBearer(rsInput("e1") + "." + atkB64(atkPKCS1Forgery(k.rs.N, rsInput("e1")))), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassJWKS, name: "trusted key of the same set still verifies", req: atkBearer(atkES(nil, map[string]any{"sub": "after-bad-keys"})), status: 200},
	)

	// --- issuer templates: Entra ID multi-tenant issuers (https://login.microsoftonline.com/{tenantid}/v2.0)
	// match only together with tid, exactly (access-token validation docs; Microsoft.IdentityModel's
	// ValidateSigningKeyIssuer for the per-key issuer). A signature by a trusted key must not let one tenant's
	// token pass as another's, nor a tenant outside TrustedIssuer.Tenants in.
	tenantIss := func(tid string) string { return strings.Replace(atkTmplIss, "{tenantid}", tid, 1) }
	tmpl := func(iss string, tid any) string {
		return atkES(nil, map[string]any{"iss": iss, "tid": tid})
	}
	tbOnly := func(tid string) string {
		return att("ES256", k.tenantB, rsHdr("ES256", "tb-only"), map[string]any{"iss": tenantIss(tid), "tid": tid})
	}
	add(
		atkRow{class: atkClassTemplate, name: "tenant in the allow-list", req: atkBearer(tmpl(tenantIss("tenant-a"), "tenant-a")), status: 200},
		atkRow{class: atkClassTemplate, name: "tid differs from the issuer's tenant", req: atkBearer(tmpl(tenantIss("tenant-a"), "tenant-b")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "tenant outside the allow-list", req: atkBearer(tmpl(tenantIss("tenant-c"), "tenant-c")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "template issuer without tid", req: atkBearer(atkES(nil, map[string]any{"iss": tenantIss("tenant-a")})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "tid is not a string", req: atkBearer(tmpl(tenantIss("tenant-a"), []string{"tenant-a"})), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "tid differs only in case", req: atkBearer(tmpl(tenantIss("tenant-a"), "TENANT-A")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "tenant segment with a slash", req: atkBearer(tmpl(tenantIss("tenant-a/x"), "tenant-a/x")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "empty tenant segment", req: atkBearer(tmpl(tenantIss(""), "")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "the template itself as iss", req: atkBearer(tmpl(atkTmplIss, "{tenantid}")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "key published for tenant-b signs a tenant-a token", req: atkBearer(tbOnly("tenant-a")), status: 401, code: "invalid_token"},
		atkRow{class: atkClassTemplate, name: "key published for tenant-b signs a tenant-b token", req: atkBearer(tbOnly("tenant-b")), status: 200},
		atkRow{class: atkClassTemplate, name: "attacker key, allowed tenant", req: atkBearer(att("ES256", k.attEC, rsHdr("ES256", "es-1"), map[string]any{"iss": tenantIss("tenant-a"), "tid": "tenant-a"})), status: 401, code: "invalid_token", attacker: true},
		atkRow{class: atkClassTemplate, name: "template tenant's token at the exact issuer", req: atkBearer(atkES(nil, map[string]any{"tid": "tenant-a"})), status: 200},
	)
	return rows
}

// atkChallenge matches an RFC 6750 §3 challenge carrying an error; the description is a quoted-string of
// printable ASCII without '"' or '\' (CONTRACTS.md: a fixed phrase, never a value from the token).
var atkChallenge = regexp.MustCompile(`^Bearer error="(invalid_request|invalid_token)", error_description="([\x20\x21\x23-\x5b\x5d-\x7e]{1,80})"$`)

// atkCheck asserts the exact outcome of one row.
func atkCheck(t *testing.T, row atkRow, w *httptest.ResponseRecorder, reached int64, tok string) {
	t.Helper()
	res := w.Result()
	assert.Equal(t, row.status, res.StatusCode, "status")
	challenge := res.Header.Values("WWW-Authenticate")
	switch {
	case row.status == http.StatusOK:
		assert.EqualValues(t, 1, reached, "a valid request must reach the handler exactly once")
		assert.Empty(t, challenge)
		return
	case row.status == http.StatusNoContent: // a CORS preflight, answered by the middleware
		assert.Zero(t, reached, "a preflight must never reach the handler")
		assert.Empty(t, challenge)
		assert.Empty(t, w.Body.String())
		return
	case row.code == "":
		assert.Equal(t, []string{"Bearer"}, challenge, "a request without a bearer token gets a bare challenge")
	case row.code == "insufficient_scope" && len(row.roles) > 0:
		assert.Equal(t, []string{`Bearer error="insufficient_scope", error_description="insufficient role"`}, challenge)
	case row.code == "insufficient_scope":
		assert.Equal(t, []string{`Bearer error="insufficient_scope", scope="` + strings.Join(row.scopes, " ") + `"`}, challenge)
	default:
		if assert.Len(t, challenge, 1) {
			m := atkChallenge.FindStringSubmatch(challenge[0])
			if assert.NotNil(t, m, "challenge %q", challenge[0]) {
				assert.Equal(t, row.code, m[1], "error code")
			}
		}
	}
	assert.Zero(t, reached, "a refused request must never reach the handler")
	assert.Equal(t, "application/json", res.Header.Get("Content-Type"))
	var body map[string]any
	if assert.NoError(t, json.Unmarshal(w.Body.Bytes(), &body), "error body is JSON: %q", w.Body.String()) && row.code != "" {
		assert.Equal(t, row.code, body["error"])
	}
	// Nothing the attacker chose may come back: not the token, not injected strings (CONTRACTS.md, RFC 8725 §2.9).
	everything := strings.Join(challenge, "\n") + "\n" + w.Body.String()
	if len(tok) >= 16 {
		assert.NotContains(t, everything, tok[:16], "response echoes the token")
	}
	for _, p := range row.probes {
		assert.NotContains(t, everything, p, "response echoes attacker input")
	}
}

// atkTokenOf extracts what the row sends as a token, for the echo check.
func atkTokenOf(r *http.Request) string {
	if a := r.Header.Get("Authorization"); a != "" {
		if _, t, ok := strings.Cut(a, " "); ok {
			return strings.TrimLeft(t, " ")
		}
	}
	if c, err := r.Cookie(atkCookie); err == nil {
		return c.Value
	}
	return r.URL.Query().Get(atkQuery)
}

func TestAttack_CraftedRequestsGetTheContractOutcome(t *testing.T) {
	f := atkNewFixture(t)
	rows := atkRows(f)
	require.GreaterOrEqual(t, len(rows), 60)
	attackerRows := 0
	for _, r := range rows {
		if r.attacker {
			attackerRows++
		}
	}
	require.Greater(t, attackerRows, 30, "the table must keep its forged tokens")

	type outcome struct {
		row     atkRow
		status  int
		reached int64
	}
	var outcomes []outcome
	seen := map[string]bool{}
	perClass := map[string]int{}
	_, _, nv, nf := f.observedSince(0, 0)
	for _, row := range rows {
		require.False(t, seen[row.full()], "duplicate row name %q", row.full())
		seen[row.full()] = true
		perClass[row.class]++
		t.Run(row.full(), func(t *testing.T) {
			v := f.v
			if row.sources {
				v = f.vSrc
			}
			rec := &atkRecorder{}
			var h http.Handler = rec
			if len(row.scopes) > 0 {
				h = jwtauth.RequireScope(row.scopes...)(h)
			}
			if len(row.roles) > 0 {
				h = jwtauth.RequireRole(row.roles...)(h)
			}
			h = v.RequireAuth(h)
			r := row.req()
			tok := atkTokenOf(r)
			attHits := f.attHits.Load()
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, r)
			took := time.Since(start)
			atkCheck(t, row, w, rec.reached.Load(), tok)
			if row.body != nil {
				assert.Zero(t, row.body.reads.Load(), "the middleware read the request body")
			}
			if row.maxDur > 0 {
				assert.Less(t, took, row.maxDur, "answer took %s", took)
			}
			// RFC 8725 §3.10: URLs in the header are never dereferenced.
			assert.Equal(t, attHits, f.attHits.Load(), "the attacker's jku/x5u server was contacted")
			// Metrics hooks: the issuer label is a configured string, and fetch outcomes carry no token text.
			var verified []jwtauth.Outcome
			var fetched []jwtauth.FetchOutcome
			verified, fetched, nv, nf = f.observedSince(nv, nf)
			for _, o := range verified {
				assert.Contains(t, []string{"", atkIss, atkTmplIss}, o.ConfiguredIssuer, "Outcome.ConfiguredIssuer is token text")
			}
			for _, o := range fetched {
				if tok != "" {
					assert.NotContains(t, fmt.Sprintf("%+v %v", o, o.Err), tok, "a fetch outcome carries the token")
				}
			}
			outcomes = append(outcomes, outcome{row, w.Code, rec.reached.Load()})
		})
	}
	t.Logf("rows per class: %v (total %d)", perClass, len(rows))
	assert.Greater(t, nv, len(rows)/2, "OnVerify saw the rows whose token reached Verify")

	// The property the whole table exists for: no token crafted without a trusted private key got through.
	for _, o := range outcomes {
		if o.row.attacker {
			assert.Zero(t, o.reached, "attacker token reached the handler: %s", o.row.full())
			assert.NotEqual(t, http.StatusOK, o.status, "attacker token accepted: %s", o.row.full())
		}
	}
	assert.Zero(t, f.attHits.Load(), "jku/x5u: the attacker's server must get zero requests")
}

// TestAttack_UnknownKidFloodIsRateLimited: kid is attacker-controlled (RFC 8725 §3.10); a stream of random kids
// must not turn the verifier into a fetch amplifier against the issuer (at most one fetch per cooldown).
func TestAttack_UnknownKidFloodIsRateLimited(t *testing.T) {
	f := atkNewFixture(t)
	k := atkKeys()
	before := f.jwksHits.Load()
	h := f.v.RequireAuth(&atkRecorder{})
	start := time.Now()
	for i := 0; i < 200; i++ {
		tok := atkSignRaw("ES256", k.attEC, atkJSON(map[string]any{"alg": "ES256", "kid": fmt.Sprintf("random-%d", i)}), []byte(atkPayload()))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		require.Equal(t, http.StatusUnauthorized, w.Code)
	}
	elapsed := time.Since(start)
	allowed := int64(elapsed/jwtauth.DefaultRefreshCooldown) + 1
	assert.LessOrEqual(t, f.jwksHits.Load()-before, allowed, "fetches for 200 unknown kids in %s", elapsed)
}

// TestAttack_OneMegabyteHeaderOverTheWire: a real server refuses a 1 MB header before the middleware runs
// (net/http's MaxHeaderBytes), so the handler is never reached.
func TestAttack_OneMegabyteHeaderOverTheWire(t *testing.T) {
	f := atkNewFixture(t)
	rec := &atkRecorder{}
	srv := httptest.NewServer(f.v.RequireAuth(rec))
	defer srv.Close()
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("A", 1<<20))
	resp, err := srv.Client().Do(req)
	if err == nil {
		_ = resp.Body.Close()
		assert.Contains(t, []int{http.StatusRequestHeaderFieldsTooLarge, http.StatusUnauthorized}, resp.StatusCode)
	}
	assert.Zero(t, rec.reached.Load())

	// A header just over the 16 KiB token cap passes net/http and is refused by the middleware.
	req.Header.Set("Authorization", "Bearer "+atkSizedToken(jwtauth.DefaultMaxTokenSize+1))
	resp, err = srv.Client().Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Zero(t, rec.reached.Load())
}

// TestAttack_PlainHTTPKeyURLs: a key set fetched over plain http can be replaced by anyone on the path, so
// http is refused for every host that is not loopback by spelling (names are not resolved) unless
// JWKSOptions.InsecureAllowHTTP says so; the opt-in widens nothing else. All requests go to one loopback
// server whatever the URL's host.
func TestAttack_PlainHTTPKeyURLs(t *testing.T) {
	k := atkKeys()
	const compose = "http://keycloak:8080"
	jwks := atkJSON(map[string]any{"keys": []any{atkJWK(k.es.Public(), "es-1", "ES256")}})
	var redirected atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/.well-known/openid-configuration":
			_, _ = w.Write(atkJSON(map[string]string{"issuer": "http://" + r.Host, "jwks_uri": compose + "/certs"}))
		case r.URL.Path == "/redirect":
			redirected.Add(1)
			http.Redirect(w, r, "http://evil:8080/certs", http.StatusFound)
		default:
			_, _ = w.Write(jwks)
		}
	}))
	defer srv.Close()
	client := loopbackClient(srv)

	rows := []struct {
		name   string
		issuer string
		keys   jwtauth.KeySource
		optIn  bool
		refuse string // New's error; "" when New must succeed and verify exactly the trusted key's tokens
	}{
		{"compose host refused by default", atkIss, jwtauth.RemoteJWKS(compose + "/certs"), false, `URL "http://keycloak:8080/certs" is http`},
		{"trailing-dot localhost is not loopback by spelling", atkIss, jwtauth.RemoteJWKS("http://localhost./certs"), false, "is http"},
		{"loopback-looking name is not loopback", atkIss, jwtauth.RemoteJWKS("http://127.0.0.1.nip.io/certs"), false, "is http"},
		{"discovered http jwks_uri refused by default", srv.URL, jwtauth.Discover(srv.URL), false, `discovery document jwks_uri: URL "http://keycloak:8080/certs" is http`},
		{"other schemes refused even with the opt-in", atkIss, jwtauth.RemoteJWKS("ftp://keycloak/certs"), true, "must be https"},
		{"file URLs refused even with the opt-in", atkIss, jwtauth.RemoteJWKS("file:///etc/jwks.json"), true, "has no host"},
		{"redirect to another http origin refused with the opt-in", atkIss, jwtauth.RemoteJWKS(compose + "/redirect"), true, ""},
		{"compose host with the opt-in", atkIss, jwtauth.RemoteJWKS(compose + "/certs"), true, ""},
		{"discovered http jwks_uri with the opt-in", srv.URL, jwtauth.Discover(srv.URL), true, ""},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			v, err := jwtauth.New(context.Background(), jwtauth.Config{
				Issuers: []jwtauth.TrustedIssuer{{Issuer: row.issuer, Audiences: []string{atkAud}, Algorithms: []string{"ES256"}, Keys: row.keys}},
				Clock:   func() time.Time { return atkNow },
				JWKS:    jwtauth.JWKSOptions{HTTPClient: client, InsecureAllowHTTP: row.optIn, MaxWait: 50 * time.Millisecond},
				Logger:  atkQuietLogger(),
			})
			if row.refuse != "" {
				assert.ErrorContains(t, err, row.refuse)
				return
			}
			require.NoError(t, err)
			defer v.Close()
			claims := atkClaims(map[string]any{"iss": row.issuer})
			good := atkSignRaw("ES256", k.es, atkJSON(map[string]any{"alg": "ES256", "kid": "es-1"}), atkJSON(claims))
			forged := atkSignRaw("ES256", k.attEC, atkJSON(map[string]any{"alg": "ES256", "kid": "es-1"}), atkJSON(claims))
			_, ferr := v.Verify(context.Background(), forged)
			assert.Error(t, ferr, "a forged token is refused whatever the transport")
			_, err = v.Verify(context.Background(), good)
			if strings.HasSuffix(row.name, "refused with the opt-in") {
				assert.ErrorIs(t, err, jwtauth.ErrKeysUnavailable, "the redirect was not followed")
				assert.ErrorContains(t, err, "another origin")
				assert.Positive(t, redirected.Load())
				return
			}
			assert.NoError(t, err)
			assert.ErrorIs(t, ferr, jwt.ErrTokenSignatureInvalid)
		})
	}
}

// atkSmallOrderEd25519 are every encoding of the 8 small-order points of edwards25519 (canonical and y >= p,
// each with both sign bits), as 32-byte keys: the identity, all zero bytes, and the rest of libsodium's list.
func atkSmallOrderEd25519() map[string][]byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	le := func(y *big.Int) []byte {
		b := y.FillBytes(make([]byte, 32))
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return b
	}
	hexLE := func(s string) []byte {
		b, err := hex.DecodeString(s)
		if err != nil {
			panic(err)
		}
		return b
	}
	ys := map[string][]byte{
		"y=0 (all zero bytes, order 4)": le(big.NewInt(0)),
		"y=1 (identity)":                le(big.NewInt(1)),
		"y=p-1 (order 2)":               le(new(big.Int).Sub(p, big.NewInt(1))),
		"y=p (non-canonical 0)":         le(p),
		"y=p+1 (non-canonical 1)":       le(new(big.Int).Add(p, big.NewInt(1))),
		"order 8 (26e8...)":             hexLE("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),
		"order 8 (c717...)":             hexLE("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),
	}
	out := map[string][]byte{}
	for name, y := range ys {
		out[name] = y
		neg := bytes.Clone(y)
		neg[31] |= 0x80
		out[name+", sign bit set"] = neg
	}
	return out
}

// atkForgeEd25519 signs input without any private key: S = 0 and R a small-order point, which crypto/ed25519
// accepts for a small-order public key when R happens to equal -[k]A. It returns "" when no R fits.
func atkForgeEd25519(pub []byte, input string) string {
	for _, r := range atkSmallOrderEd25519() {
		sig := append(bytes.Clone(r), make([]byte, 32)...)
		if ed25519.Verify(ed25519.PublicKey(pub), []byte(input), sig) {
			return input + "." + atkB64(sig)
		}
	}
	return ""
}

// A4: a small-order Ed25519 key verifies signatures forged without a private key (for the identity, one fixed
// signature verifies every token). Every source refuses such keys, as it refuses EC points off the curve; a
// key set holding one keeps its other keys.
func TestAttack_SmallOrderEd25519KeysAreRefusedInEverySource(t *testing.T) {
	good := jwtauthtest.NewKey("EdDSA")
	goodJWK := jwtauthtest.PublicJWK(good.Public(), "good", "EdDSA")
	iss := func(keys jwtauth.KeySource) jwtauth.Config {
		return jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud},
			Algorithms: []string{"EdDSA"}, Keys: keys}}, Clock: func() time.Time { return atkNow }, Logger: atkQuietLogger()}
	}
	payload := atkB64([]byte(atkPayload()))
	forgedSomewhere := 0
	for name, pub := range atkSmallOrderEd25519() {
		t.Run(name, func(t *testing.T) {
			jwk := map[string]any{"kty": "OKP", "crv": "Ed25519", "x": atkB64(pub), "kid": "small", "alg": "EdDSA"}
			input := atkB64(atkJSON(map[string]any{"alg": "EdDSA", "kid": "small"})) + "." + payload
			forged := atkForgeEd25519(pub, input)
			if forged != "" {
				forgedSomewhere++
			}

			_, err := jwtauth.New(context.Background(), iss(jwtauth.PublicKeys(ed25519.PublicKey(pub))))
			assert.ErrorContains(t, err, "small order", "PublicKeys")
			_, err = jwtauth.New(context.Background(), iss(jwtauth.LocalKeys(atkJSON(map[string]any{"keys": []any{jwk}}))))
			assert.ErrorContains(t, err, "small order", "LocalKeys JWK Set")
			der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(pub))
			require.NoError(t, err)
			_, err = jwtauth.New(context.Background(), iss(jwtauth.LocalKeys(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))))
			assert.ErrorContains(t, err, "small order", "LocalKeys PEM")

			set := atkJSON(map[string]any{"keys": []any{jwk, goodJWK}})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(set) }))
			defer srv.Close()
			v, err := jwtauth.New(context.Background(), iss(jwtauth.RemoteJWKS(srv.URL)))
			require.NoError(t, err)
			defer v.Close()
			require.NoError(t, v.Ready(), "the good key of the set still loads")
			rec := &atkRecorder{}
			h := v.RequireAuth(rec)
			if forged != "" {
				w := httptest.NewRecorder()
				r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
				r.Header.Set("Authorization", "Bearer "+forged)
				h.ServeHTTP(w, r)
				assert.Equal(t, http.StatusUnauthorized, w.Code, "forged token")
			}
			goodTok := jwtauthtest.SignRaw("EdDSA", good, atkJSON(map[string]any{"alg": "EdDSA", "kid": "good"}), []byte(atkPayload()))
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
			r.Header.Set("Authorization", "Bearer "+goodTok)
			h.ServeHTTP(w, r)
			assert.Equal(t, http.StatusOK, w.Code, "a token of the good key")
			assert.EqualValues(t, 1, rec.reached.Load(), "only the good token reaches the handler")
		})
	}
	assert.Greater(t, forgedSomewhere, 8, "crypto/ed25519 accepts forged signatures for most of these keys")
}

// atkClassMTLS rows are certificate-bound tokens (RFC 8705 §3): the token's cnf x5t#S256 must be the SHA-256
// of the request's client certificate, taken from the TLS connection or, from a trusted proxy only, from the
// RFC 9440 Client-Cert header.
const atkClassMTLS = "mtls"

func TestAttack_CertificateBoundTokens(t *testing.T) {
	k := atkKeys()
	certA, certB := atkSelfSigned(k.attEC), atkSelfSigned(k.attRS)
	parsed := func(der []byte) *x509.Certificate {
		c, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		return c
	}
	newV := func(p jwtauth.MTLSPolicy, fwd jwtauth.ForwardedClientCert) *jwtauth.Verifier {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{
			Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: []string{"ES256"},
				Keys: jwtauth.LocalKeys(atkTrustedJWKS()), MTLS: p}},
			ForwardedClientCert: fwd,
			Clock:               func() time.Time { return atkNow },
			Logger:              atkQuietLogger(),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		return v
	}
	// httptest.NewRequest's RemoteAddr is 192.0.2.1: the trusted proxy unless a row sets another peer.
	vAllowed := newV(jwtauth.MTLSAllowed, jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"192.0.2.0/24"}})
	vOff := newV(jwtauth.MTLSOff, jwtauth.ForwardedClientCert{})

	thumbA := jwtauth.CertificateThumbprint(certA)
	sumA := sha256.Sum256(certA)
	bound := atkES(nil, map[string]any{"cnf": map[string]any{"x5t#S256": thumbA}})
	cnf := func(c any) string { return atkES(nil, map[string]any{"cnf": c}) }
	sf := func(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }

	// req builds a request with token, a TLS client certificate (nil: none; empty: TLS without one), a peer
	// and forwarded Client-Cert values.
	type reqSpec struct {
		tls   []byte
		noTLS bool
		peer  string
		fwd   []string
	}
	req := func(token string, s reqSpec) func() *http.Request {
		return func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/api/private", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			if s.peer != "" {
				r.RemoteAddr = s.peer
			}
			if !s.noTLS {
				r.TLS = &tls.ConnectionState{HandshakeComplete: true}
				if s.tls != nil {
					r.TLS.PeerCertificates = []*x509.Certificate{parsed(s.tls)}
				}
			}
			for _, v := range s.fwd {
				r.Header.Add("Client-Cert", v)
			}
			return r
		}
	}
	const untrusted = "198.51.100.7:4444"
	const (
		required = `Bearer error="invalid_token", error_description="client certificate required"`
		mismatch = `Bearer error="invalid_token", error_description="client certificate mismatch"`
		refused  = `Bearer error="invalid_token", error_description="sender-constrained token not accepted"`
		badHdr   = `Bearer error="invalid_request", error_description="malformed client certificate"`
		malform  = `Bearer error="invalid_token", error_description="malformed token"`
	)
	rows := []struct {
		name      string
		v         *jwtauth.Verifier
		req       func() *http.Request
		status    int
		challenge string
	}{
		{"bound token with its certificate over TLS", vAllowed, req(bound, reqSpec{tls: certA, peer: untrusted}), 200, ""},
		{"bound token with its certificate from the trusted proxy", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{sf(certA)}}), 200, ""},
		{"unbound token with MTLSAllowed", vAllowed, req(atkES(nil, nil), reqSpec{noTLS: true, peer: untrusted}), 200, ""},
		{"no client certificate, plain HTTP", vAllowed, req(bound, reqSpec{noTLS: true, peer: untrusted}), 401, required},
		{"no client certificate, TLS", vAllowed, req(bound, reqSpec{peer: untrusted}), 401, required},
		{"another certificate over TLS", vAllowed, req(bound, reqSpec{tls: certB, peer: untrusted}), 401, mismatch},
		{"another certificate from the trusted proxy", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{sf(certB)}}), 401, mismatch},
		{"forwarded header from an untrusted peer", vAllowed, req(bound, reqSpec{noTLS: true, peer: untrusted, fwd: []string{sf(certA)}}), 401, required},
		{"forwarded header from an untrusted peer with another TLS certificate", vAllowed, req(bound, reqSpec{tls: certB, peer: untrusted, fwd: []string{sf(certA)}}), 401, mismatch},
		{"trusted proxy's own TLS certificate does not count", vAllowed, req(bound, reqSpec{tls: certA}), 401, required},
		{"forwarded header malformed: no colons", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{base64.StdEncoding.EncodeToString(certA)}}), 400, badHdr},
		{"forwarded header malformed: base64url alphabet", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{":" + strings.NewReplacer("+", "-", "/", "_").Replace(base64.StdEncoding.EncodeToString(certA)) + "-_:"}}), 400, badHdr},
		{"forwarded header malformed: empty byte sequence", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{"::"}}), 400, badHdr},
		{"forwarded header malformed: over 32 KiB", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{":" + strings.Repeat("A", 40<<10) + ":"}}), 400, badHdr},
		{"two forwarded headers", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{sf(certA), sf(certA)}}), 400, badHdr},
		{"forwarded header list in one line", vAllowed, req(bound, reqSpec{noTLS: true, fwd: []string{sf(certA) + ", " + sf(certB)}}), 400, badHdr},
		{"cnf with jkt and x5t#S256 when only mTLS is allowed", vAllowed, req(cnf(map[string]any{"x5t#S256": thumbA, "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}), reqSpec{tls: certA}), 401, refused},
		{"cnf with x5t#S256 and jwk", vAllowed, req(cnf(map[string]any{"x5t#S256": thumbA, "jwk": atkJWK(&k.attEC.PublicKey, "", "")}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 too short", vAllowed, req(cnf(map[string]any{"x5t#S256": thumbA[:42]}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 padded", vAllowed, req(cnf(map[string]any{"x5t#S256": thumbA + "="}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 in the standard alphabet", vAllowed, req(cnf(map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(sumA[:])}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 in hex", vAllowed, req(cnf(map[string]any{"x5t#S256": fmt.Sprintf("%x", sumA)}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 of SHA-1 length", vAllowed, req(cnf(map[string]any{"x5t#S256": atkB64(sumA[:20])}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 with non-zero trailing bits (the example value of RFC 8705 §3.1)", vAllowed, req(cnf(map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}), reqSpec{tls: certA}), 401, refused},
		{"x5t#S256 not a string", vAllowed, req(cnf(map[string]any{"x5t#S256": 1}), reqSpec{tls: certA}), 401, malform},
		{"x5t (SHA-1 member) instead of x5t#S256", vAllowed, req(cnf(map[string]any{"x5t": thumbA}), reqSpec{tls: certA}), 401, refused},
		{"case variant X5T#S256", vAllowed, req(cnf(map[string]any{"X5T#S256": thumbA}), reqSpec{tls: certA}), 401, refused},
		{"case variant x5t#s256", vAllowed, req(cnf(map[string]any{"x5t#s256": thumbA}), reqSpec{tls: certA}), 401, refused},
		{"cnf not an object", vAllowed, req(cnf(thumbA), reqSpec{tls: certA}), 401, malform},
		{"cnf empty", vAllowed, req(cnf(map[string]any{}), reqSpec{tls: certA}), 401, refused},
		{"cnf x5t#S256 twice", vAllowed, req(atkESRaw(atkHdr, strings.TrimSuffix(atkPayload(), "}")+`,"cnf":{"x5t#S256":"`+thumbA+`","x5t#S256":"`+thumbA+`"}}`), reqSpec{tls: certA}), 401, malform},
		{"bound token with MTLSOff", vOff, req(bound, reqSpec{tls: certA}), 401, refused},
		{"bound token signed by an attacker", vAllowed, req(atkSignRaw("ES256", k.attEC, []byte(atkHdr), atkJSON(atkClaims(map[string]any{"cnf": map[string]any{"x5t#S256": thumbA}}))), reqSpec{tls: certA}), 401, `Bearer error="invalid_token", error_description="signature invalid"`},
	}
	for _, row := range rows {
		t.Run(atkClassMTLS+"/"+row.name, func(t *testing.T) {
			rec := &atkRecorder{}
			w := httptest.NewRecorder()
			r := row.req()
			row.v.RequireAuth(rec).ServeHTTP(w, r)
			assert.Equal(t, row.status, w.Code)
			if row.status == http.StatusOK {
				assert.EqualValues(t, 1, rec.reached.Load())
				assert.Empty(t, w.Header().Values("WWW-Authenticate"))
				return
			}
			assert.Zero(t, rec.reached.Load(), "a refused request must never reach the handler")
			assert.Equal(t, []string{row.challenge}, w.Header().Values("WWW-Authenticate"))
			phrase := row.challenge[strings.Index(row.challenge, `error_description="`)+len(`error_description="`) : len(row.challenge)-1]
			code := "invalid_token"
			if row.status == http.StatusBadRequest {
				code = "invalid_request"
			}
			assert.JSONEq(t, `{"error":"`+code+`","error_description":"`+phrase+`"}`, w.Body.String())
			assert.NotContains(t, w.Body.String()+w.Header().Get("WWW-Authenticate"), thumbA[:16], "the response echoes the thumbprint")
		})
	}
}

// TestAttack_RevokedTokens drives revoked tokens (Config.Revocations, issue #13) through RequireAuth: a
// revoked token stays refused however it is re-presented, and a revocation store that is down refuses
// rather than accepts.
func TestAttack_RevokedTokens(t *testing.T) {
	list := jwtauth.NewRevocationList(100, nil)
	var store jwtauth.Revocations = list
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Revocations = revocationsFunc(func(ctx context.Context, cl *jwtauth.Claims) (bool, error) {
			return store.Revoked(ctx, cl)
		})
	})
	now := f.clock.Now()
	h := &okHandler{}
	mw := f.v.RequireAuth(h)
	tokJTI := f.token(nil, map[string]any{"jti": "logged-out"})
	tokOld := f.token(nil, map[string]any{"sub": "deactivated", "jti": "o1", "iat": now.Add(-time.Minute).Unix()})
	tokNoIat := f.token(nil, map[string]any{"sub": "deactivated", "jti": "o2", "iat": nil})
	tokNew := f.token(nil, map[string]any{"sub": "deactivated", "jti": "o3", "iat": now.Add(time.Second).Unix()})
	for _, tok := range []string{tokJTI, tokOld, tokNoIat, tokNew} { // warm the cache: hits must not bypass revocation
		require.Equal(t, http.StatusOK, serve(mw, "Bearer "+tok).Code)
	}
	require.NoError(t, list.RevokeToken(testIssuer, "logged-out", now.Add(time.Hour)))
	require.NoError(t, list.RevokeSubject(testIssuer, "deactivated", now, now.Add(time.Hour)))

	for _, row := range []struct {
		name   string
		tok    string
		status int
	}{
		{"revoked jti, cached", tokJTI, 401},
		// ECDSA signatures are malleable and re-signing gives a new string: revocation keys on jti, not the string.
		{"revoked jti, same claims signed again", f.token(nil, map[string]any{"jti": "logged-out"}), 401},
		{"subject revoked, iat before", tokOld, 401},
		{"subject revoked, no iat", tokNoIat, 401},
		{"subject revoked, iat equal", f.token(nil, map[string]any{"sub": "deactivated", "jti": "o4"}), 401},
		{"subject revoked, iat after (a new login)", tokNew, 200},
		{"another subject's token", f.token(nil, map[string]any{"jti": "fine"}), 200},
	} {
		t.Run(row.name, func(t *testing.T) {
			w := serve(mw, "Bearer "+row.tok)
			assert.Equal(t, row.status, w.Code)
			if row.status == 401 {
				assert.Equal(t, `Bearer error="invalid_token", error_description="token revoked"`, w.Header().Get("WWW-Authenticate"))
			}
		})
	}

	t.Run("store down: 503 with Retry-After, even for a cached valid token", func(t *testing.T) {
		store = failingRevocations{}
		w := serve(mw, "Bearer "+tokNew)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "5", w.Header().Get("Retry-After"))
		assert.Empty(t, w.Header().Get("WWW-Authenticate"))
		assert.Equal(t, "temporarily_unavailable", errorBody(t, w)["error"])
	})
}

type revocationsFunc func(context.Context, *jwtauth.Claims) (bool, error)

func (f revocationsFunc) Revoked(ctx context.Context, c *jwtauth.Claims) (bool, error) {
	return f(ctx, c)
}

// DPoP class (issue #12): RFC 9449 §4.3 (proof checks), §7.1 (resource-server challenges and the binding to
// cnf.jkt), §9 (server nonces), §11.1 (replay). Each row is one request to RequireAuth of a verifier with the
// stated policy; every refusal is asserted by status, every WWW-Authenticate value, the exact body, and the
// handler not being reached.

const (
	atkDPoPIss   = "https://login.dpop.atk.test"
	atkDPoPOther = "https://other.dpop.atk.test"
	atkDPoPURL   = "https://api.atk.test/api/private"
	atkDPoPAlgs  = `algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`
)

// atkDPoPFix holds the DPoP verifiers (one per policy), the client key and tokens bound to it.
type atkDPoPFix struct {
	v                      map[string]*jwtauth.Verifier
	client, attacker       *ecdsa.PrivateKey
	bound, bound2, unbound string // bound and bound2 are bound to client's key; unbound is a bearer token
	otherIssBound          string // bound token of atkDPoPOther, whose policy is DPoPOff in the "mixed" verifier
	staleNonce, forged     string
}

func atkDPoPNewFixture(t testing.TB) *atkDPoPFix {
	ec := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	f := &atkDPoPFix{v: map[string]*jwtauth.Verifier{}, client: ec(), attacker: ec()}
	clientKey, err := jwtauth.NewSigningKey(f.client, "ES256", "client")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(clientKey, func() time.Time { return atkNow })
	require.NoError(t, err)
	issuer := func(name string) *jwtauth.Issuer {
		sk, err := jwtauth.NewSigningKey(ec(), "ES256", "as-1")
		require.NoError(t, err)
		i, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: name, Audience: []string{atkAud}, Keys: []*jwtauth.SigningKey{sk},
			Clock: func() time.Time { return atkNow }})
		require.NoError(t, err)
		return i
	}
	main, other := issuer(atkDPoPIss), issuer(atkDPoPOther)
	mint := func(i *jwtauth.Issuer, jkt string) string {
		var tok string
		var err error
		if jkt == "" {
			tok, err = i.Issue("alice", nil)
		} else {
			tok, err = i.IssueDPoP("alice", jkt, nil)
		}
		require.NoError(t, err)
		return tok
	}
	f.bound, f.bound2, f.unbound = mint(main, prover.Thumbprint()), mint(main, prover.Thumbprint()), mint(main, "")
	f.otherIssBound = mint(other, prover.Thumbprint())

	secret := bytes.Repeat([]byte("n"), 32)
	build := func(name string, policy jwtauth.DPoPPolicy, nonce []byte, now time.Time, extra ...jwtauth.TrustedIssuer) {
		ti := main.TrustedIssuer()
		ti.DPoP = policy
		v, err := jwtauth.New(context.Background(), jwtauth.Config{
			Issuers: append([]jwtauth.TrustedIssuer{ti}, extra...),
			DPoP:    jwtauth.DPoPOptions{ExternalURL: "https://API.atk.test:443/", NonceSecret: nonce, NonceLifetime: 10 * time.Second},
			Clock:   func() time.Time { return now },
			Logger:  atkQuietLogger(),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = v.Close() })
		f.v[name] = v
	}
	otherTI := other.TrustedIssuer()
	build("required", jwtauth.DPoPRequired, nil, atkNow)
	build("optional", jwtauth.DPoPOptional, nil, atkNow)
	// mixed: the main issuer is DPoPOff while another accepts DPoP, so the DPoP scheme is recognised.
	build("mixed", jwtauth.DPoPOff, nil, atkNow, func() jwtauth.TrustedIssuer { otherTI.DPoP = jwtauth.DPoPOptional; return otherTI }())
	build("nonce", jwtauth.DPoPRequired, secret, atkNow)
	build("nonce-early", jwtauth.DPoPRequired, secret, atkNow.Add(-30*time.Second))
	build("nonce-forger", jwtauth.DPoPRequired, bytes.Repeat([]byte("f"), 32), atkNow)
	// nonce-early runs 30 s (three nonce lifetimes) behind: its nonces are stale at atkNow, though the token
	// is valid for it within the leeway; nonce-forger has another secret.
	f.staleNonce = atkDPoPNonceOf(t, f.v["nonce-early"], f.bound, f, atkNow.Add(-30*time.Second))
	f.forged = atkDPoPNonceOf(t, f.v["nonce-forger"], f.bound, f, atkNow)
	return f
}

// atkDPoPNonceOf returns the DPoP-Nonce a verifier whose clock says now hands out with use_dpop_nonce.
func atkDPoPNonceOf(t testing.TB, v *jwtauth.Verifier, tok string, f *atkDPoPFix, now time.Time) string {
	r := httptest.NewRequest(http.MethodGet, atkDPoPURL, nil)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", f.proof(tok, nil, map[string]any{"iat": now.Unix()}))
	w := httptest.NewRecorder()
	v.RequireAuth(http.NotFoundHandler()).ServeHTTP(w, r)
	require.Equal(t, http.StatusUnauthorized, w.Code, w.Body.String())
	n := w.Header().Get("DPoP-Nonce")
	require.NotEmpty(t, n)
	return n
}

// atkDPoPJWK is the public JWK of an EC key as a proof header carries it.
func atkDPoPJWK(k *ecdsa.PrivateKey) map[string]any {
	pt, _ := k.PublicKey.Bytes()
	return map[string]any{"kty": "EC", "crv": "P-256", "x": atkB64(pt[1:33]), "y": atkB64(pt[33:])}
}

func atkATH(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return atkB64(s[:])
}

var atkJTI atomic.Int64

// proof builds a proof signed ES256 by the client key for a GET of atkDPoPURL with tok's ath; mutate edits
// header and claims before signing (a nil value deletes a member).
func (f *atkDPoPFix) proof(tok string, header, claims map[string]any) string {
	h := atkMerge(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": atkDPoPJWK(f.client)}, header)
	c := atkMerge(map[string]any{"jti": fmt.Sprintf("jti-%d", atkJTI.Add(1)), "htm": "GET", "htu": atkDPoPURL,
		"iat": atkNow.Unix(), "ath": atkATH(tok)}, claims)
	return atkSignRaw("ES256", f.client, atkJSON(h), atkJSON(c))
}

// atkDPoPReq is a GET of url with the given Authorization value and DPoP headers.
func atkDPoPReq(url, auth string, proofs ...string) func() *http.Request {
	return func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, url, nil)
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		return r
	}
}

type atkDPoPRow struct {
	name     string
	verifier string // key of atkDPoPFix.v
	req      func() *http.Request
	replay   bool // send the request twice; the second answer is checked
	status   int
	chal     []string // every WWW-Authenticate value, in order
	desc     string   // error_description of the body; its error is the challenge's
	code     string
	nonce    bool // a DPoP-Nonce header is expected
}

func atkDPoPRows(f *atkDPoPFix) []atkDPoPRow {
	b, b2 := f.bound, f.bound2
	dp := func(tok string) string { return "DPoP " + tok }
	good := func() string { return f.proof(b, nil, nil) }
	refuse := func(name string, req func() *http.Request, desc string) atkDPoPRow {
		return atkDPoPRow{name: name, verifier: "required", req: req, status: 401, code: "invalid_dpop_proof", desc: desc}
	}
	with := func(claims map[string]any) func() *http.Request {
		return func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), f.proof(b, nil, claims))() }
	}
	withH := func(header map[string]any) func() *http.Request {
		return func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), f.proof(b, header, nil))() }
	}
	jwkWith := func(extra map[string]any) map[string]any { return atkMerge(atkDPoPJWK(f.client), extra) }
	// smallOrder is the Ed25519 identity point: with S = 0 and R the identity, "signatures" verify under it.
	smallOrder := func() *http.Request {
		h := atkJSON(map[string]any{"typ": "dpop+jwt", "alg": "EdDSA", "jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": atkB64(append([]byte{1}, make([]byte, 31)...))}})
		c := atkJSON(map[string]any{"jti": "so", "htm": "GET", "htu": atkDPoPURL, "iat": atkNow.Unix(), "ath": atkATH(b)})
		sig := append(append([]byte{1}, make([]byte, 31)...), make([]byte, 32)...)
		return atkDPoPReq(atkDPoPURL, dp(b), atkB64(h)+"."+atkB64(c)+"."+atkB64(sig))()
	}
	unsigned := func(sig string) func() *http.Request {
		return func() *http.Request {
			h := atkJSON(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": atkDPoPJWK(f.client)})
			c := atkJSON(map[string]any{"jti": "none", "htm": "GET", "htu": atkDPoPURL, "iat": atkNow.Unix(), "ath": atkATH(b)})
			return atkDPoPReq(atkDPoPURL, dp(b), atkB64(h)+"."+atkB64(c)+"."+sig)()
		}
	}
	rows := []atkDPoPRow{
		{name: "valid proof", verifier: "required", req: func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), good())() }, status: 200},
		{name: "valid proof, request query ignored", verifier: "required", req: func() *http.Request { return atkDPoPReq(atkDPoPURL+"?a=1", dp(b), good())() }, status: 200},
		{name: "htu normalised: case, default port, percent-encoding, dot segment", verifier: "required", status: 200,
			req: with(map[string]any{"htu": "HTTPS://Api.ATK.test:443/api/x/../%70rivate"})},
		{name: "htu with a query for this path (ignored per RFC 9449 §4.3)", verifier: "required", status: 200,
			req: with(map[string]any{"htu": atkDPoPURL + "?x=1#f"})},
		refuse("proof replayed (same jti)", func() *http.Request {
			return atkDPoPReq(atkDPoPURL, dp(b), f.proof(b, nil, map[string]any{"jti": "once"}))()
		}, "DPoP proof replayed"),
		refuse("proof for another method", with(map[string]any{"htm": "POST"}), "DPoP proof htm mismatch"),
		refuse("proof method in lower case", with(map[string]any{"htm": "get"}), "DPoP proof htm mismatch"),
		refuse("proof for another path", with(map[string]any{"htu": "https://api.atk.test/api/public"}), "DPoP proof htu mismatch"),
		refuse("proof for another host", with(map[string]any{"htu": "https://evil.test/api/private"}), "DPoP proof htu mismatch"),
		refuse("proof for http instead of https", with(map[string]any{"htu": "http://api.atk.test/api/private"}), "DPoP proof htu mismatch"),
		refuse("proof for another port", with(map[string]any{"htu": "https://api.atk.test:8443/api/private"}), "DPoP proof htu mismatch"),
		refuse("htu path hidden in the query", with(map[string]any{"htu": "https://api.atk.test/x?/api/private"}), "DPoP proof htu mismatch"),
		refuse("htu path hidden in the fragment", with(map[string]any{"htu": "https://api.atk.test/x#/api/private"}), "DPoP proof htu mismatch"),
		refuse("htu with user info", with(map[string]any{"htu": "https://api.atk.test@evil.test/api/private"}), "DPoP proof htu mismatch"),
		refuse("htu with an encoded slash", with(map[string]any{"htu": "https://api.atk.test/api%2Fprivate"}), "DPoP proof htu mismatch"),
		refuse("Host header names the proof's host (ExternalURL wins)", func() *http.Request {
			r := atkDPoPReq("https://evil.test/api/private", dp(b), f.proof(b, nil, map[string]any{"htu": "https://evil.test/api/private"}))()
			r.Header.Set("X-Forwarded-Host", "evil.test")
			return r
		}, "DPoP proof htu mismatch"),
		refuse("iat stale", with(map[string]any{"iat": atkNow.Add(-5*time.Minute - time.Second).Unix()}), "DPoP proof too old"),
		refuse("iat in the future", with(map[string]any{"iat": atkNow.Add(5*time.Minute + time.Second).Unix()}), "DPoP proof issued in the future"),
		refuse("iat a string", with(map[string]any{"iat": fmt.Sprint(atkNow.Unix())}), "malformed DPoP proof"),
		refuse("no jti", with(map[string]any{"jti": nil}), "malformed DPoP proof"),
		refuse("missing ath", with(map[string]any{"ath": nil}), "DPoP proof ath mismatch"),
		refuse("wrong ath", with(map[string]any{"ath": atkATH("another token")}), "DPoP proof ath mismatch"),
		refuse("proof reused with another access token", func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b2), good())() }, "DPoP proof ath mismatch"),
		refuse("proof key is not cnf.jkt", func() *http.Request {
			h := atkJSON(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": atkDPoPJWK(f.attacker)})
			c := atkJSON(map[string]any{"jti": "att", "htm": "GET", "htu": atkDPoPURL, "iat": atkNow.Unix(), "ath": atkATH(b)})
			return atkDPoPReq(atkDPoPURL, dp(b), atkSignRaw("ES256", f.attacker, h, c))()
		}, "DPoP proof key does not match token"),
		refuse("proof signed by another key than its jwk", func() *http.Request {
			h := atkJSON(map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": atkDPoPJWK(f.client)})
			c := atkJSON(map[string]any{"jti": "sig", "htm": "GET", "htu": atkDPoPURL, "iat": atkNow.Unix(), "ath": atkATH(b)})
			return atkDPoPReq(atkDPoPURL, dp(b), atkSignRaw("ES256", f.attacker, h, c))()
		}, "DPoP proof signature invalid"),
		refuse("proof HS256", func() *http.Request {
			h := atkJSON(map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": map[string]any{"kty": "oct", "k": atkB64([]byte("secret"))}})
			c := atkJSON(map[string]any{"jti": "hs", "htm": "GET", "htu": atkDPoPURL, "iat": atkNow.Unix(), "ath": atkATH(b)})
			return atkDPoPReq(atkDPoPURL, dp(b), atkSignRaw("HS256", []byte("secret"), h, c))()
		}, "DPoP proof algorithm not allowed"),
		refuse("proof none with an empty signature", unsigned(""), "malformed DPoP proof"),
		refuse("proof none with a signature", unsigned("AAAA"), "DPoP proof algorithm not allowed"),
		refuse("proof alg ES384 with a P-256 jwk", withH(map[string]any{"alg": "ES384"}), "DPoP proof algorithm not allowed"),
		refuse("private key in jwk (d)", withH(map[string]any{"jwk": jwkWith(map[string]any{"d": atkB64(f.client.D.Bytes())})}), "DPoP proof key not accepted"),
		refuse("private key in jwk (D)", withH(map[string]any{"jwk": jwkWith(map[string]any{"D": atkB64(f.client.D.Bytes())})}), "DPoP proof key not accepted"),
		refuse("jwk member in the wrong case beside the right one (x, X)", withH(map[string]any{"jwk": jwkWith(map[string]any{"X": "AA"})}), "malformed DPoP proof"),
		refuse("jwk member only in the wrong case (Y)", withH(map[string]any{"jwk": atkMerge(atkDPoPJWK(f.client), map[string]any{"y": nil, "Y": "AA"})}), "DPoP proof key not accepted"),
		refuse("jwk symmetric (oct)", withH(map[string]any{"jwk": map[string]any{"kty": "oct", "k": "c2VjcmV0"}}), "DPoP proof key not accepted"),
		refuse("jwk point not on the curve", withH(map[string]any{"jwk": jwkWith(map[string]any{"y": atkB64(make([]byte, 32))})}), "DPoP proof key not accepted"),
		refuse("jwk small-order Ed25519 key", smallOrder, "DPoP proof key not accepted"),
		refuse("no jwk", withH(map[string]any{"jwk": nil}), "DPoP proof key not accepted"),
		refuse("typ JWT", withH(map[string]any{"typ": "JWT"}), "DPoP proof typ must be dpop+jwt"),
		refuse("typ application/dpop+jwt", withH(map[string]any{"typ": "application/dpop+jwt"}), "DPoP proof typ must be dpop+jwt"),
		refuse("typ DPOP+JWT", withH(map[string]any{"typ": "DPOP+JWT"}), "DPoP proof typ must be dpop+jwt"),
		refuse("no typ", withH(map[string]any{"typ": nil}), "DPoP proof typ must be dpop+jwt"),
		refuse("crit header", withH(map[string]any{"crit": []string{"exp"}}), "malformed DPoP proof"),
		refuse("two DPoP headers", func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), good(), good())() }, "more than one DPoP proof"),
		refuse("no DPoP header", atkDPoPReq(atkDPoPURL, dp(b)), "DPoP proof missing"),
		refuse("huge proof (size cap before decoding)", atkDPoPReq(atkDPoPURL, dp(b), strings.Repeat("A", 8<<10+1)), "DPoP proof too large"),
		refuse("proof not a JWS", atkDPoPReq(atkDPoPURL, dp(b), "not-a-jws"), "malformed DPoP proof"),
		{name: "proof with a token not DPoP-bound (required)", verifier: "required", status: 401, code: "invalid_token", desc: "token not DPoP-bound",
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(f.unbound), f.proof(f.unbound, nil, nil))() }},
		{name: "proof with a token not DPoP-bound (optional)", verifier: "optional", status: 401, code: "invalid_token", desc: "token not DPoP-bound",
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(f.unbound), f.proof(f.unbound, nil, nil))() }},
		{name: "unbound bearer token (required)", verifier: "required", status: 401, code: "invalid_token", desc: "DPoP proof required",
			req: atkDPoPReq(atkDPoPURL, "Bearer "+f.unbound)},
		{name: "unbound bearer token (optional)", verifier: "optional", status: 200, req: atkDPoPReq(atkDPoPURL, "Bearer "+f.unbound)},
		{name: "DPoP-bound token as Bearer (required)", verifier: "required", status: 401, code: "invalid_token", desc: "sender-constrained token not accepted",
			req: atkDPoPReq(atkDPoPURL, "Bearer "+b)},
		{name: "DPoP-bound token as Bearer (optional)", verifier: "optional", status: 401, code: "invalid_token", desc: "sender-constrained token not accepted",
			req: atkDPoPReq(atkDPoPURL, "Bearer "+b)},
		{name: "DPoP-bound token as Bearer with a valid proof (optional)", verifier: "optional", status: 401, code: "invalid_token", desc: "sender-constrained token not accepted",
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, "Bearer "+b, good())() }},
		{name: "DPoP scheme for an issuer with DPoPOff", verifier: "mixed", status: 401, code: "invalid_token", desc: "DPoP not accepted for this issuer",
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), good())() }},
		{name: "DPoP scheme, other issuer DPoPOptional (mixed)", verifier: "mixed", status: 200,
			req: func() *http.Request {
				return atkDPoPReq(atkDPoPURL, dp(f.otherIssBound), f.proof(f.otherIssBound, nil, nil))()
			}},
		{name: "DPoP scheme without a token", verifier: "required", status: 400, code: "invalid_request", desc: "malformed credentials",
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, "DPoP ", good())() }},
		{name: "no credentials (required)", verifier: "required", status: 401, req: atkDPoPReq(atkDPoPURL, "")},
		{name: "no credentials (optional)", verifier: "optional", status: 401, req: atkDPoPReq(atkDPoPURL, "")},
		{name: "nonce missing", verifier: "nonce", status: 401, code: "use_dpop_nonce", desc: "DPoP nonce required", nonce: true,
			req: func() *http.Request { return atkDPoPReq(atkDPoPURL, dp(b), good())() }},
		{name: "nonce stale", verifier: "nonce", status: 401, code: "use_dpop_nonce", desc: "DPoP nonce required", nonce: true,
			req: with(map[string]any{"nonce": f.staleNonce})},
		{name: "nonce forged (another secret)", verifier: "nonce", status: 401, code: "use_dpop_nonce", desc: "DPoP nonce required", nonce: true,
			req: with(map[string]any{"nonce": f.forged})},
		{name: "nonce garbage", verifier: "nonce", status: 401, code: "use_dpop_nonce", desc: "DPoP nonce required", nonce: true,
			req: with(map[string]any{"nonce": "x\"y"})},
	}
	rows[4].replay = true
	return rows
}

func TestAttack_DPoP(t *testing.T) {
	f := atkDPoPNewFixture(t)
	for _, row := range atkDPoPRows(f) {
		t.Run(row.name, func(t *testing.T) {
			v := f.v[row.verifier]
			h := &atkRecorder{}
			srv := v.RequireAuth(h)
			var w *httptest.ResponseRecorder
			if row.replay {
				first := row.req()
				w = httptest.NewRecorder()
				srv.ServeHTTP(w, first)
				require.Equal(t, 200, w.Code, "the first use of the proof is accepted")
				again := row.req()
				again.Header = first.Header.Clone()
				h.reached.Store(0)
				w = httptest.NewRecorder()
				srv.ServeHTTP(w, again)
			} else {
				w = httptest.NewRecorder()
				srv.ServeHTTP(w, row.req())
			}
			assert.Equal(t, row.status, w.Code)
			if row.status == 200 {
				assert.Equal(t, int64(1), h.reached.Load())
				return
			}
			assert.Zero(t, h.reached.Load(), "the handler must not be reached")
			assert.Equal(t, atkDPoPChallenges(row), w.Header().Values("WWW-Authenticate"))
			code := row.code
			if code == "" {
				code = "unauthorized"
			}
			desc := row.desc
			if desc == "" {
				desc = "bearer token required"
			}
			assert.Equal(t, `{"error":"`+code+`","error_description":"`+desc+`"}`+"\n", w.Body.String())
			assert.Equal(t, row.nonce, w.Header().Get("DPoP-Nonce") != "", "DPoP-Nonce header")
		})
	}
}

// atkDPoPChallenges is what RFC 9449 §7.1 and RFC 6750 §3 ask for: a DPoP challenge with algs, a Bearer one
// too when the verifier accepts bearer tokens, and the error on the scheme the request used (on DPoP when
// Bearer is not accepted at all).
func atkDPoPChallenges(row atkDPoPRow) []string {
	errAttr := ""
	if row.code != "" {
		errAttr = ` error="` + row.code + `", error_description="` + row.desc + `"`
	}
	usedDPoP := strings.HasPrefix(row.req().Header.Get("Authorization"), "DPoP")
	if row.verifier == "required" || strings.HasPrefix(row.verifier, "nonce") {
		if errAttr == "" {
			return []string{"DPoP " + atkDPoPAlgs}
		}
		return []string{"DPoP" + errAttr + ", " + atkDPoPAlgs}
	}
	if errAttr == "" {
		return []string{"Bearer", "DPoP " + atkDPoPAlgs}
	}
	if usedDPoP {
		return []string{"Bearer", "DPoP" + errAttr + ", " + atkDPoPAlgs}
	}
	return []string{"Bearer" + errAttr, "DPoP " + atkDPoPAlgs}
}

// TestAttack_NearMissesOfACachedToken: the verified-token cache is on by default, so a valid token is cached
// before an attacker who holds it tries variants of it. Each variant is a different string, so it misses the
// cache (entries are confirmed on the exact bytes, in full) and is verified from scratch; none reaches the
// handler, and the original is still answered by the cache afterwards.
func TestAttack_NearMissesOfACachedToken(t *testing.T) {
	p := &cacheProbe{}
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.OnVerify = p.observe })
	tok := f.token(nil, nil)
	h := &okHandler{}
	route := f.v.RequireAuth(h)
	for i := 0; i < 2; i++ {
		require.Equal(t, http.StatusOK, serve(route, "Bearer "+tok).Code)
	}
	require.True(t, p.cached())
	hd, pl, sig := atkSplit(tok)
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	longer := atkJSON(atkMerge(f.claims(nil), map[string]any{"exp": f.clock.Now().Add(100 * time.Hour).Unix()}))
	for _, tc := range []struct{ name, tok string }{
		{"last signature character changed", hd + "." + pl + "." + flip(sig, len(sig)-1)},
		{"first character changed", flip(tok, 0)},
		{"exp extended, signature kept", hd + "." + atkB64(longer) + "." + sig},
		{"alg none, payload and signature kept", atkB64([]byte(`{"alg":"none","kid":"k1"}`)) + "." + pl + "." + sig},
		{"signature dropped", hd + "." + pl + "."},
		{"one byte longer", tok + "A"},
		{"one byte shorter", tok[:len(tok)-1]},
		{"base64 padding added", tok + "=="},
		{"header of another token, same payload and signature", func() string {
			h2, _, _ := atkSplit(f.token(map[string]any{"typ": "at+jwt"}, nil))
			return h2 + "." + pl + "." + sig
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEqual(t, tok, tc.tok)
			reached := h.count()
			w := serve(route, "Bearer "+tc.tok)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.False(t, p.cached(), "a variant is never a hit")
			assert.Equal(t, reached, h.count(), "a variant reached the handler")
		})
	}
	require.Equal(t, http.StatusOK, serve(route, "Bearer "+tok).Code)
	assert.True(t, p.cached(), "the original stays cached")
}
