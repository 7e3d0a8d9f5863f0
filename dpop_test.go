package jwtauth_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopFixture is an Issuer, a client key and a Verifier whose one issuer has the given policy.
type dpopFixture struct {
	clock  *fixedClock
	issuer *jwtauth.Issuer
	prover *jwtauth.DPoPProver
	v      *jwtauth.Verifier
}

func newDPoPFixture(t testing.TB, policy jwtauth.DPoPPolicy, opts jwtauth.DPoPOptions) *dpopFixture {
	f := &dpopFixture{clock: newClock()}
	sk, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	f.issuer, err = jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: "https://login.example", Audience: []string{"https://api.example"},
		Keys: []*jwtauth.SigningKey{sk}, Clock: f.clock.Now})
	require.NoError(t, err)
	ck, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	f.prover, err = jwtauth.NewDPoPProver(ck, f.clock.Now)
	require.NoError(t, err)
	ti := f.issuer.TrustedIssuer()
	ti.DPoP = policy
	if opts.ExternalURL == "" {
		opts.ExternalURL = "https://api.example"
	}
	f.v, err = jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, DPoP: opts,
		Clock: f.clock.Now, Logger: quietLogger(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.v.Close() })
	return f
}

func (f *dpopFixture) boundToken(t testing.TB) string {
	tok, err := f.issuer.IssueDPoP("alice", f.prover.Thumbprint(), map[string]any{"scope": "read"})
	require.NoError(t, err)
	return tok
}

// request is a GET of url with tok under the DPoP scheme and a fresh proof.
func (f *dpopFixture) request(t testing.TB, url, tok, nonce string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, url, nil)
	proof, err := f.prover.Proof(http.MethodGet, url, tok, nonce)
	require.NoError(t, err)
	r.Header.Set("Authorization", "DPoP "+tok)
	r.Header.Set("DPoP", proof)
	return r
}

func TestDPoP_AcceptsBoundTokenAndExposesThumbprint(t *testing.T) {
	f := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{})
	h := &okHandler{}
	w := httptest.NewRecorder()
	f.v.RequireAuth(h).ServeHTTP(w, f.request(t, "https://api.example/things?x=1", f.boundToken(t), ""))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Equal(t, f.prover.Thumbprint(), h.claims.DPoPThumbprint)
	assert.Equal(t, "alice", h.claims.Subject)
	assert.Empty(t, w.Header().Get("DPoP-Nonce"), "no nonces unless NonceSecret is set")
}

// Verify is the bearer path (gRPC, keyfunc): a DPoP-bound token is refused there, since no proof is checked.
func TestDPoP_VerifyRefusesBoundToken(t *testing.T) {
	f := newDPoPFixture(t, jwtauth.DPoPOptional, jwtauth.DPoPOptions{})
	_, err := f.v.Verify(context.Background(), f.boundToken(t))
	assert.ErrorIs(t, err, jwtauth.ErrSenderConstrained)
	req := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{})
	tok, err := req.issuer.Issue("bob", nil)
	require.NoError(t, err)
	_, err = req.v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrDPoPRequired, "a DPoPRequired issuer's tokens are refused without a proof")
}

// The verified-token cache must not let a token verified once with a proof pass later as a bearer token.
func TestDPoP_CacheDoesNotDowngrade(t *testing.T) {
	base := newDPoPFixture(t, jwtauth.DPoPOptional, jwtauth.DPoPOptions{})
	ti := base.issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPOptional
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti},
		DPoP: jwtauth.DPoPOptions{ExternalURL: "https://api.example"}, Clock: base.clock.Now, Logger: quietLogger(t)})
	require.NoError(t, err)
	defer v.Close()
	tok := base.boundToken(t)
	w := httptest.NewRecorder()
	v.RequireAuth(&okHandler{}).ServeHTTP(w, base.request(t, "https://api.example/", tok, ""))
	require.Equal(t, http.StatusOK, w.Code)
	w = serve(v.RequireAuth(&okHandler{}), "Bearer "+tok)
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	_, err = v.Verify(context.Background(), tok)
	assert.ErrorIs(t, err, jwtauth.ErrSenderConstrained)
}

// A cached DPoP-bound token skips its signature check, never its proof: each request needs a fresh proof by
// the bound key, so a replayed proof, a proof by another key and no proof are refused on cache hits too.
func TestDPoP_CachedTokenStillNeedsAFreshProof(t *testing.T) {
	f := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{}) // the cache is on by default
	tok := f.boundToken(t)
	h := f.v.RequireAuth(&okHandler{})
	first := f.request(t, "https://api.example/", tok, "")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, first)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, ""))
	require.Equal(t, http.StatusOK, w.Code, "a fresh proof with the cached token")

	other := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{})
	for _, tc := range []struct {
		name string
		req  *http.Request
	}{
		{"replayed proof", first},
		{"proof by another key", other.request(t, "https://api.example/", tok, "")},
		{"no proof", func() *http.Request {
			r := f.request(t, "https://api.example/", tok, "")
			r.Header.Del("DPoP")
			return r
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, tc.req)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
		})
	}
}

func TestDPoP_NonceRoundTripAndRotation(t *testing.T) {
	f := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{NonceSecret: bytes.Repeat([]byte{7}, 32), NonceLifetime: time.Minute})
	tok := f.boundToken(t)
	h := f.v.RequireAuth(&okHandler{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, ""))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	nonce := w.Header().Get("DPoP-Nonce")
	require.NotEmpty(t, nonce)
	assert.Equal(t, `{"error":"use_dpop_nonce","error_description":"DPoP nonce required"}`+"\n", w.Body.String())

	w = httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, nonce))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	assert.Empty(t, w.Header().Get("DPoP-Nonce"), "the nonce is current: nothing new to send")

	f.clock.Add(time.Minute) // the nonce is now of the previous step: still accepted, and a new one offered
	w = httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, nonce))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	next := w.Header().Get("DPoP-Nonce")
	assert.NotEmpty(t, next)
	assert.NotEqual(t, nonce, next)

	f.clock.Add(time.Minute) // two steps old: refused
	w = httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, nonce))
	assert.Equal(t, http.StatusUnauthorized, w.Code)
	assert.NotEmpty(t, w.Header().Get("DPoP-Nonce"))
	assert.NotEqual(t, nonce, w.Header().Get("DPoP-Nonce"))
}

// DPoPTransport over a real loopback server: the first request lacks the nonce, the transport retries once
// with the DPoP-Nonce it got, and replays a body only through GetBody.
func TestDPoPTransport_RetriesOnceOnUseDPoPNonce(t *testing.T) {
	var hits atomic.Int64
	var mu sync.Mutex
	var bodies []string
	var f *dpopFixture
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		f.v.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			bodies = append(bodies, string(b))
			mu.Unlock()
			_, _ = io.WriteString(w, "hello")
		})).ServeHTTP(w, r)
	}))
	defer srv.Close()
	f = newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{ExternalURL: srv.URL, NonceSecret: bytes.Repeat([]byte{9}, 32)})
	client := &http.Client{Transport: &jwtauth.DPoPTransport{Prover: f.prover, Token: f.boundToken(t)}}

	resp, err := client.Post(srv.URL+"/things", "text/plain", strings.NewReader("payload"))
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	assert.Equal(t, int64(2), hits.Load(), "one refusal with use_dpop_nonce, one retry")
	mu.Lock()
	assert.Equal(t, []string{"payload"}, bodies)
	mu.Unlock()

	resp, err = client.Get(srv.URL + "/things")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, int64(3), hits.Load(), "the remembered nonce is used at once")

	// A body that cannot be replayed is not sent twice: the use_dpop_nonce answer is returned as is.
	t2 := &jwtauth.DPoPTransport{Prover: f.prover, Token: f.boundToken(t)}
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/things", io.NopCloser(strings.NewReader("once")))
	require.NoError(t, err)
	resp, err = (&http.Client{Transport: t2}).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.NotEmpty(t, resp.Header.Get("DPoP-Nonce"))
}

func TestNew_DPoPConfigErrors(t *testing.T) {
	sk, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	iss, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: "https://login.example", Audience: []string{"a"}, Keys: []*jwtauth.SigningKey{sk}})
	require.NoError(t, err)
	ti := iss.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPRequired
	for _, tc := range []struct {
		name string
		opts jwtauth.DPoPOptions
		want string
	}{
		{"no external URL", jwtauth.DPoPOptions{}, "Config.DPoP.ExternalURL is empty"},
		{"external URL with a query", jwtauth.DPoPOptions{ExternalURL: "https://api.example/?x"}, "is not an absolute http or https URL"},
		{"external URL relative", jwtauth.DPoPOptions{ExternalURL: "/api"}, "is not an absolute http or https URL"},
		{"short nonce secret", jwtauth.DPoPOptions{ExternalURL: "https://a", NonceSecret: []byte("short")}, "use at least 32 random bytes"},
		{"HMAC algorithm", jwtauth.DPoPOptions{ExternalURL: "https://a", Algorithms: []string{"HS256"}}, `Algorithms: "HS256" is not supported`},
		{"window too long", jwtauth.DPoPOptions{ExternalURL: "https://a", ProofWindow: 2 * time.Hour}, "ProofWindow 2h0m0s is out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti}, DPoP: tc.opts, Logger: quietLogger(t)})
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestIssueDPoP_RefusesBadThumbprintAndCnfClaim(t *testing.T) {
	sk, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	iss, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: "https://login.example", Audience: []string{"a"}, Keys: []*jwtauth.SigningKey{sk}})
	require.NoError(t, err)
	_, err = iss.IssueDPoP("alice", "not-a-thumbprint", nil)
	assert.ErrorContains(t, err, "jkt is not a base64url SHA-256 JWK thumbprint")
	_, err = iss.Issue("alice", map[string]any{"cnf": map[string]any{"jkt": "x"}})
	assert.ErrorIs(t, err, jwtauth.ErrReservedClaim)
}

// failingStore is a ReplayStore that is down: the request must be refused (fail closed), never let through.
type failingStore struct{}

func (failingStore) Add(context.Context, string, time.Duration) (bool, error) {
	return false, errors.New("connection refused")
}

func TestDPoP_ReplayStoreErrorFailsClosed(t *testing.T) {
	f := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{Replay: failingStore{}})
	h := &okHandler{}
	w := httptest.NewRecorder()
	f.v.RequireAuth(h).ServeHTTP(w, f.request(t, "https://api.example/", f.boundToken(t), ""))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.Equal(t, `{"error":"temporarily_unavailable","error_description":"DPoP replay check unavailable"}`+"\n", w.Body.String())
	assert.Zero(t, h.count())
}

// The built-in store holds at most ReplayCapacity unexpired proofs: a flood of unique jtis beyond it is
// refused (503) rather than evicting a proof that could then be replayed; once entries expire, room returns.
func TestDPoP_ReplayStoreBoundedUnderFlood(t *testing.T) {
	const capacity = 64
	f := newDPoPFixture(t, jwtauth.DPoPRequired, jwtauth.DPoPOptions{ReplayCapacity: capacity, ProofWindow: time.Minute})
	tok := f.boundToken(t)
	h := f.v.RequireAuth(&okHandler{})
	accepted, full := 0, 0
	for i := 0; i < 4*capacity; i++ {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, f.request(t, "https://api.example/", tok, ""))
		switch w.Code {
		case http.StatusOK:
			accepted++
		case http.StatusServiceUnavailable:
			full++
		default:
			t.Fatalf("unexpected status %d: %s", w.Code, w.Body.String())
		}
	}
	// Sharding by hash fills some shards before others: at most capacity entries, and most of it is used.
	assert.LessOrEqual(t, accepted, capacity)
	assert.Greater(t, accepted, capacity/2)
	assert.Equal(t, 4*capacity-accepted, full)

	f.clock.Add(2*time.Minute + 2*time.Second) // every entry expired
	w := httptest.NewRecorder()
	h.ServeHTTP(w, f.request(t, "https://api.example/", tok, ""))
	assert.Equal(t, http.StatusOK, w.Code)
}

// BenchmarkDPoP compares a DPoP request (ES256 proof + ES256 token) with a Bearer request through
// RequireAuth, in one run, so the ratio is measured on the same machine state.
func BenchmarkDPoP(b *testing.B) {
	f := newDPoPFixture(b, jwtauth.DPoPOptional, jwtauth.DPoPOptions{ReplayCapacity: 1 << 22})
	bearer, err := f.issuer.Issue("alice", nil)
	require.NoError(b, err)
	bound := f.boundToken(b)
	h := f.v.RequireAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	b.Run("bearer", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodGet, "https://api.example/things", nil)
		r.Header.Set("Authorization", "Bearer "+bearer)
		b.ReportAllocs()
		for b.Loop() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				b.Fatal(w.Code)
			}
		}
	})
	b.Run("dpop", func(b *testing.B) {
		proofs := make([]string, 0, 1<<16)
		for range cap(proofs) { // proofs are made outside the timer: clients pay for them, not the server
			p, err := f.prover.Proof(http.MethodGet, "https://api.example/things", bound, "")
			require.NoError(b, err)
			proofs = append(proofs, p)
		}
		r := httptest.NewRequest(http.MethodGet, "https://api.example/things", nil)
		r.Header.Set("Authorization", "DPoP "+bound)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.Header.Set("DPoP", proofs[i%len(proofs)])
			i++
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != http.StatusOK && i <= len(proofs) {
				b.Fatal(w.Code, w.Body.String())
			}
		}
	})
}

// BenchmarkDPoPReplayFlood measures the built-in replay store's memory per remembered proof: it fills a
// store of 20 000 entries with unique jtis and reports the live heap growth per entry (ns/op is mostly the
// client's signing and says nothing).
func BenchmarkDPoPReplayFlood(b *testing.B) {
	const n = 20_000
	for b.Loop() {
		f := newDPoPFixture(b, jwtauth.DPoPRequired, jwtauth.DPoPOptions{ReplayCapacity: n})
		tok := f.boundToken(b)
		h := f.v.RequireAuth(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		stored := 0
		for range n {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, f.request(b, "https://api.example/", tok, ""))
			if w.Code == http.StatusOK {
				stored++
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(stored), "heapB/entry")
		b.ReportMetric(float64(stored), "entries")
		runtime.KeepAlive(h)
	}
}

// A Validate hook may return one *Error for every request; marking a DPoP refusal must not change it, or a
// later Bearer refusal would carry its error on the DPoP challenge.
func TestDPoP_SharedValidateErrorNotModified(t *testing.T) {
	shared := jwtauth.Reject(errors.New("tenant suspended"))
	base := newDPoPFixture(t, jwtauth.DPoPOptional, jwtauth.DPoPOptions{})
	ti := base.issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPOptional
	ti.Validate = func(*jwtauth.Claims) error { return shared }
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti},
		DPoP: jwtauth.DPoPOptions{ExternalURL: "https://api.example"}, Clock: base.clock.Now, Logger: quietLogger(t)})
	require.NoError(t, err)
	defer v.Close()
	h := v.RequireAuth(&okHandler{})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, base.request(t, "https://api.example/", base.boundToken(t), ""))
	require.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, []string{"Bearer", `DPoP error="invalid_token", error_description="token not accepted", algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`},
		w.Header().Values("WWW-Authenticate"))
	bearer, err := base.issuer.Issue("bob", nil)
	require.NoError(t, err)
	w = serve(h, "Bearer "+bearer)
	assert.Equal(t, []string{`Bearer error="invalid_token", error_description="token not accepted"`, `DPoP algs="ES256 ES384 ES512 EdDSA PS256 PS384 PS512 RS256 RS384 RS512"`},
		w.Header().Values("WWW-Authenticate"))
}

// A token endpoint's proof (RFC 9449 §5): checked like a resource's proof, but it must come without ath,
// and its key's thumbprint is what the issued token is bound to.
func TestDPoPProofVerifier_ChecksTokenEndpointProofs(t *testing.T) {
	clk := newClock()
	pv, err := jwtauth.NewDPoPProofVerifier(jwtauth.DPoPOptions{ExternalURL: "https://login.example"}, clk.Now)
	require.NoError(t, err)
	ck, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(ck, clk.Now)
	require.NoError(t, err)
	req := func(method, path string, proofs ...string) *http.Request {
		r := httptest.NewRequest(method, "http://internal:8000"+path, nil) // Host is never trusted
		for _, p := range proofs {
			r.Header.Add("DPoP", p)
		}
		return r
	}
	proof := func(method, url, token string) string {
		p, err := prover.Proof(method, url, token, "")
		require.NoError(t, err)
		return p
	}

	good := proof("POST", "https://login.example/login", "")
	jkt, err := pv.Verify(req("POST", "/login", good))
	require.NoError(t, err)
	assert.Equal(t, prover.Thumbprint(), jkt)
	assert.Empty(t, pv.Nonce(), "nonces are off")
	_, err = pv.Verify(req("POST", "/login", good))
	assert.ErrorIs(t, err, jwtauth.ErrDPoPReplayed, "a proof is good once")

	stale := proof("POST", "https://login.example/login", "")
	clk.Add(jwtauth.DefaultDPoPProofWindow + time.Second)
	tests := []struct {
		name   string
		r      *http.Request
		target error
		phrase string
	}{
		{"stale", req("POST", "/login", stale), jwtauth.ErrDPoPProof, "DPoP proof too old"},
		{"missing", req("POST", "/login"), jwtauth.ErrDPoPProof, "DPoP proof missing"},
		{"two headers", req("POST", "/login", proof("POST", "https://login.example/login", ""), proof("POST", "https://login.example/login", "")), jwtauth.ErrDPoPProof, "more than one DPoP proof"},
		{"other method", req("POST", "/login", proof("GET", "https://login.example/login", "")), jwtauth.ErrDPoPProof, "DPoP proof htm mismatch"},
		{"other URL", req("POST", "/login", proof("POST", "https://login.example/token", "")), jwtauth.ErrDPoPProof, "DPoP proof htu mismatch"},
		{"with ath", req("POST", "/login", proof("POST", "https://login.example/login", "some-token")), jwtauth.ErrDPoPProof, "DPoP proof ath mismatch"},
		{"not a JWS", req("POST", "/login", "abc"), jwtauth.ErrDPoPProof, "malformed DPoP proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			jkt, err := pv.Verify(tt.r)
			assert.Empty(t, jkt)
			assert.ErrorIs(t, err, tt.target)
			var e *jwtauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, "invalid_dpop_proof", e.Code())
			assert.Equal(t, tt.phrase, e.Description())
		})
	}
}

func TestDPoPProofVerifier_Nonces(t *testing.T) {
	clk := newClock()
	pv, err := jwtauth.NewDPoPProofVerifier(jwtauth.DPoPOptions{ExternalURL: "https://login.example/", NonceSecret: bytes.Repeat([]byte{9}, 32)}, clk.Now)
	require.NoError(t, err)
	ck, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(ck, clk.Now)
	require.NoError(t, err)
	send := func(nonce string) (string, error) {
		p, err := prover.Proof("POST", "https://login.example/login", "", nonce)
		require.NoError(t, err)
		r := httptest.NewRequest("POST", "/login", nil)
		r.Header.Set("DPoP", p)
		return pv.Verify(r)
	}
	_, err = send("")
	require.ErrorIs(t, err, jwtauth.ErrDPoPNonce)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "use_dpop_nonce", e.Code())
	nonce := pv.Nonce()
	require.NotEmpty(t, nonce)
	jkt, err := send(nonce)
	require.NoError(t, err)
	assert.Equal(t, prover.Thumbprint(), jkt)
	_, err = send("forged")
	assert.ErrorIs(t, err, jwtauth.ErrDPoPNonce)
}

func TestNewDPoPProofVerifier_ConfigErrorsNameTheOptions(t *testing.T) {
	_, err := jwtauth.NewDPoPProofVerifier(jwtauth.DPoPOptions{}, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NewDPoPProofVerifier: DPoPOptions.ExternalURL is empty")
	_, err = jwtauth.NewDPoPProofVerifier(jwtauth.DPoPOptions{ExternalURL: "https://login.example", NonceSecret: []byte("short")}, nil)
	assert.ErrorContains(t, err, "DPoPOptions.NonceSecret has 5 bytes")
}
