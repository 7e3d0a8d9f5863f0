package jwtauth_test

// JWKS fault injection (issue #6). A key set server under the test's control misbehaves in every way a real
// identity provider does; after a good load the verifier must keep verifying known keys, never make a request
// wait past JWKSOptions.MaxWait or its own context, fetch at most once per RefreshCooldown for unknown kids,
// keep its memory bounded whatever the server sends, and recover once the server is back. CONTRACTS.md: an
// unknown kid is 401 even while the JWKS is down, as long as some keys are cached. Advisories against JWKS
// caches (refresh storms on random kids, unbounded bodies, stale sets winning a race) motivate each check.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// atkFault is a way the key set server misbehaves.
type atkFault int

const (
	atkServe     atkFault = iota // answer normally
	atkDown                      // accept, then close the connection without answering
	atkRefused                   // nothing listens on the port (connection refused)
	atkHang                      // never answer
	atkSlow                      // answer correctly, but later than MaxWait
	atkStatus500                 // 500
	atkHTML                      // 200 text/html error page
	atkTruncated                 // 200 with JSON cut in the middle
	atkEmptySet                  // {"keys":[]}
	atkUnusable                  // only keys that must not verify
	atkHuge                      // 200 with a 100 MB body
	atkEndless                   // 200 with a chunked body that never ends
	atkRedirect                  // 302 to another origin serving an attacker's keys
)

func (f atkFault) String() string {
	return [...]string{"serve", "down", "refused", "hang", "slow", "500", "html", "truncated", "empty set",
		"unusable keys only", "100 MB body", "endless chunked body", "redirect to another origin"}[f]
}

type atkPubKey struct {
	kid string
	key *ecdsa.PrivateKey
}

// atkIdP serves a JWK Set on a loopback port it can stop listening on and take back.
type atkIdP struct {
	mu       sync.Mutex
	fault    atkFault
	delay    time.Duration
	keys     []atkPubKey
	addr     string
	srv      *http.Server
	closing  chan struct{}
	fetches  atomic.Int64
	foreign  *httptest.Server
	foreignN atomic.Int64
	attacker *ecdsa.PrivateKey
}

func atkNewEC() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func atkNewIdP(t testing.TB, keys ...atkPubKey) *atkIdP {
	t.Helper()
	p := &atkIdP{keys: keys, closing: make(chan struct{}), attacker: atkNewEC()}
	p.foreign = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.foreignN.Add(1)
		p.mu.Lock()
		kids := make([]atkPubKey, 0, len(p.keys)+1)
		for _, k := range p.keys {
			kids = append(kids, atkPubKey{k.kid, p.attacker})
		}
		p.mu.Unlock()
		_, _ = w.Write(atkSetOf(kids...))
	}))
	p.listen(t)
	t.Cleanup(func() {
		close(p.closing)
		p.mu.Lock()
		srv := p.srv
		p.mu.Unlock()
		if srv != nil {
			_ = srv.Close()
		}
		p.foreign.Close()
	})
	return p
}

// listen starts serving, on the port used before if there was one.
func (p *atkIdP) listen(t testing.TB) {
	t.Helper()
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the old socket may linger for a moment
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(p.serve), ReadHeaderTimeout: 5 * time.Second}
	p.mu.Lock()
	p.addr, p.srv = ln.Addr().String(), srv
	p.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// refuse stops listening and drops every connection: the next dial is refused.
func (p *atkIdP) refuse() {
	p.mu.Lock()
	srv := p.srv
	p.srv = nil
	p.mu.Unlock()
	_ = srv.Close()
}

func (p *atkIdP) URL() string { return "http://" + p.addr + "/.well-known/jwks.json" }

func (p *atkIdP) set(f atkFault, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.delay = f, delay
}

func (p *atkIdP) publish(k atkPubKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
}

// rotate publishes k and unpublishes the oldest keys beyond keep; it returns when it did so and what left.
func (p *atkIdP) rotate(k atkPubKey, keep int) (at time.Time, removed []atkPubKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = append(p.keys, k)
	if n := len(p.keys) - keep; n > 0 {
		removed = append(removed, p.keys[:n]...)
		p.keys = append([]atkPubKey(nil), p.keys[n:]...)
	}
	return time.Now(), removed
}

func atkSetOf(keys ...atkPubKey) []byte {
	list := make([]any, 0, len(keys))
	for _, k := range keys {
		list = append(list, jwtauthtest.PublicJWK(&k.key.PublicKey, k.kid, "ES256"))
	}
	b, _ := json.Marshal(map[string]any{"keys": list})
	return b
}

// atkUnusableSet holds keys that must never verify: use enc, an oct secret, RSA 1024, an unknown kty.
func atkUnusableSet(kid string) []byte {
	k := atkKeys()
	enc := atkJWK(&k.enc.PublicKey, kid, "ES256")
	enc["use"] = "enc"
	return atkJSON(map[string]any{"keys": []any{
		enc,
		atkJWK(&k.rs1024.PublicKey, kid+"-rsa", "RS256"),
		map[string]any{"kty": "oct", "kid": kid + "-oct", "k": atkB64([]byte(atkOctSecret))},
		map[string]any{"kty": "XYZ", "kid": kid + "-xyz"},
	}})
}

func (p *atkIdP) wait(r *http.Request, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
	case <-p.closing:
	}
	return false
}

func (p *atkIdP) serve(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	fault, delay := p.fault, p.delay
	p.mu.Unlock()
	if delay > 0 && !p.wait(r, delay) {
		return
	}
	p.mu.Lock()
	keys := append([]atkPubKey(nil), p.keys...)
	// The snapshot time: a key removed before it is absent from this response, one published before it present.
	w.Header().Set("X-Atk-Snapshot", strconv.FormatInt(time.Now().UnixNano(), 10))
	p.mu.Unlock()
	body := atkSetOf(keys...)
	switch fault {
	case atkDown:
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	case atkHang:
		p.wait(r, time.Hour)
		return
	case atkStatus500:
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	case atkHTML:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte("<!doctype html><h1>502 Bad Gateway</h1>"))
		return
	case atkTruncated:
		body = body[:len(body)/2]
	case atkEmptySet:
		body = []byte(`{"keys":[]}`)
	case atkUnusable:
		body = atkUnusableSet(keys[0].kid)
	case atkHuge:
		w.Header().Set("Content-Type", "application/json")
		chunk := []byte(strings.Repeat(" ", 1<<20))
		_, _ = w.Write([]byte(`{"keys":[`))
		for i := 0; i < 100; i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		_, _ = w.Write([]byte(`]}`))
		return
	case atkEndless:
		w.Header().Set("Content-Type", "application/json")
		fl, _ := w.(http.Flusher)
		chunk := []byte(strings.Repeat(" ", 32<<10))
		_, _ = w.Write([]byte(`{"keys":[`))
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			select {
			case <-r.Context().Done():
				return
			case <-p.closing:
				return
			default:
			}
		}
	case atkRedirect:
		http.Redirect(w, r, p.foreign.URL+r.URL.Path, http.StatusFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// atkFaultOpts are short knobs so each fault runs in about two seconds.
var atkFaultOpts = shortTimers(jwtauth.JWKSOptions{
	RefreshInterval:  time.Minute,
	RefreshCooldown:  250 * time.Millisecond,
	MaxWait:          300 * time.Millisecond,
	FetchTimeout:     600 * time.Millisecond,
	MaxRetryInterval: 400 * time.Millisecond,
	MaxStale:         time.Hour,
})

// atkSched is the scheduling slack allowed on top of a time bound: -race on two cores.
const atkSched = 250 * time.Millisecond

func atkHeapAfterGC() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func atkToken(k atkPubKey, sub string) string {
	return atkSignRaw("ES256", k.key, atkJSON(map[string]any{"alg": "ES256", "kid": k.kid, "typ": "JWT"}),
		atkJSON(map[string]any{"iss": atkIss, "aud": atkAud, "sub": sub, "exp": time.Now().Add(time.Hour).Unix()}))
}

// atkDo sends one request with token through h, with ctx, and returns the status and how long it took.
func atkDo(ctx context.Context, h http.Handler, token string) (int, string, time.Duration) {
	r := httptest.NewRequestWithContext(ctx, http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	w := httptest.NewRecorder()
	start := time.Now()
	h.ServeHTTP(w, r)
	return w.Code, w.Header().Get("WWW-Authenticate"), time.Since(start)
}

// atkTally collects unexpected outcomes from concurrent clients.
type atkTally struct {
	mu   sync.Mutex
	n    int
	bad  []string
	seen map[string]int
}

func (t *atkTally) ok(kind string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if t.seen == nil {
		t.seen = map[string]int{}
	}
	t.seen[kind]++
}

func (t *atkTally) fail(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	if len(t.bad) < 20 {
		t.bad = append(t.bad, fmt.Sprintf(format, args...))
	} else if len(t.bad) == 20 {
		t.bad = append(t.bad, "...")
	}
}

func TestFaults_KnownKeysKeepVerifyingBoundedAndRecover(t *testing.T) {
	faults := []atkFault{atkDown, atkRefused, atkHang, atkSlow, atkStatus500, atkHTML, atkTruncated, atkEmptySet,
		atkUnusable, atkHuge, atkEndless, atkRedirect}
	for _, fault := range faults {
		t.Run(fault.String(), func(t *testing.T) {
			k1 := atkPubKey{"k1", atkNewEC()}
			k2 := atkPubKey{"k2", atkNewEC()} // published only once the IdP is back
			idp := atkNewIdP(t, k1)
			opts := atkFaultOpts
			v, err := jwtauth.New(context.Background(), jwtauth.Config{
				Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud},
					Algorithms: []string{"ES256"}, Keys: jwtauth.RemoteJWKS(idp.URL())}},
				JWKS:   opts,
				Logger: atkQuietLogger(),
			})
			require.NoError(t, err)
			defer v.Close()
			require.NoError(t, v.Ready(), "good load before the fault")
			h := v.RequireAuth(&atkRecorder{})
			known := atkToken(k1, "known")
			status, _, _ := atkDo(context.Background(), h, known)
			require.Equal(t, http.StatusOK, status)

			// Tokens with kids the set never had: each may trigger a refresh, rate-limited by the cooldown.
			unknown := make([]string, 32)
			for i := range unknown {
				unknown[i] = atkToken(atkPubKey{fmt.Sprintf("unknown-%d", i), atkNewEC()}, "unknown")
			}
			forged := atkToken(atkPubKey{"k2", idp.attacker}, "forged") // what the foreign origin would vouch for
			next := atkToken(k2, "next")

			heapBefore := atkHeapAfterGC()
			fetchesBefore := idp.fetches.Load()
			switch fault {
			case atkRefused:
				idp.refuse()
			case atkSlow:
				idp.set(atkServe, opts.MaxWait+200*time.Millisecond)
			default:
				idp.set(fault, 0)
			}

			const window = time.Second
			var tally atkTally
			start := time.Now()
			deadline := start.Add(window)
			var wg sync.WaitGroup
			client := func(fn func()) {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for time.Now().Before(deadline) {
						fn()
						time.Sleep(time.Duration(2+mrand.IntN(6)) * time.Millisecond)
					}
				}()
			}
			for i := 0; i < 3; i++ {
				client(func() { // known keys: always 200, never waiting on the key set
					s, _, d := atkDo(context.Background(), h, known)
					switch {
					case s != http.StatusOK:
						tally.fail("known kid: status %d", s)
					case d > opts.MaxWait+atkSched: // it should not wait at all; a hanging fetch would take FetchTimeout
						tally.fail("known kid: waited %s", d)
					default:
						tally.ok("known 200")
					}
				})
			}
			for i := 0; i < 3; i++ {
				client(func() { // unknown kids: 401 invalid_token within MaxWait
					tok := unknown[mrand.IntN(len(unknown))]
					if mrand.IntN(4) == 0 {
						tok = forged
					}
					s, ch, d := atkDo(context.Background(), h, tok)
					switch {
					case s != http.StatusUnauthorized || !strings.Contains(ch, `error="invalid_token"`):
						tally.fail("unknown kid: status %d, challenge %q", s, ch)
					case d > opts.MaxWait+atkSched:
						tally.fail("unknown kid: waited %s, more than MaxWait %s", d, opts.MaxWait)
					default:
						tally.ok("unknown 401")
					}
				})
			}
			client(func() { // a caller's own deadline shortens the wait
				const own = 50 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), own)
				defer cancel()
				s, _, d := atkDo(ctx, h, unknown[mrand.IntN(len(unknown))])
				switch {
				case s != http.StatusUnauthorized:
					tally.fail("unknown kid with a %s context: status %d", own, s)
				case d > own+atkSched:
					tally.fail("unknown kid with a %s context: waited %s", own, d)
				default:
					tally.ok("ctx 401")
				}
			})
			// Peak heap while the server misbehaves: reading a 100 MB or endless body whole would show here
			// even if it is garbage by the end.
			peak := heapBefore
			stopSampling := make(chan struct{})
			sampled := make(chan struct{})
			go func() {
				defer close(sampled)
				var m runtime.MemStats
				for {
					select {
					case <-stopSampling:
						return
					case <-time.After(5 * time.Millisecond):
					}
					runtime.ReadMemStats(&m)
					peak = max(peak, m.HeapAlloc)
				}
			}()
			wg.Wait()
			close(stopSampling)
			<-sampled
			elapsed := time.Since(start)
			fetches := idp.fetches.Load() - fetchesBefore

			assert.Empty(t, tally.bad, "unexpected outcomes under %s (of %d requests)", fault, tally.n)
			assert.Greater(t, tally.seen["known 200"], 10)
			assert.Greater(t, tally.seen["unknown 401"], 10)
			// Triggered fetches: one per cooldown at most; failed fetches add backoff retries no more often
			// than MaxRetryInterval (less 10% jitter); +2 for the fetches straddling the window's edges.
			limit := int64(elapsed/opts.RefreshCooldown) + int64(float64(elapsed)/(0.9*float64(opts.MaxRetryInterval))) + 2
			assert.LessOrEqual(t, fetches, limit, "%d fetches in %s", fetches, elapsed)
			if fault != atkRefused { // a refused connection never reaches the server's counter
				assert.Positive(t, fetches, "unknown kids should have asked for a refresh")
			}
			heapAfter := atkHeapAfterGC()
			if heapAfter > heapBefore {
				assert.Less(t, heapAfter-heapBefore, uint64(20<<20), "heap grew by %d bytes", heapAfter-heapBefore)
			}
			assert.Less(t, peak-heapBefore, uint64(20<<20), "heap peaked %d bytes above the start", peak-heapBefore)
			if fault == atkRedirect {
				assert.Zero(t, idp.foreignN.Load(), "the redirect to another origin was followed")
			}

			// The IdP comes back with a new key: it verifies within 30 s (seconds with these knobs) and the
			// old one still does.
			if fault == atkRefused {
				idp.listen(t)
			}
			idp.set(atkServe, 0)
			idp.publish(k2)
			back := time.Now()
			recovered := false
			for time.Since(back) < 30*time.Second {
				if s, _, _ := atkDo(context.Background(), h, next); s == http.StatusOK {
					recovered = true
					break
				}
				time.Sleep(25 * time.Millisecond)
			}
			took := time.Since(back)
			assert.True(t, recovered, "no recovery within 30 s")
			t.Logf("%s: %d requests, %d fetches in %s, heap peak +%d KiB, recovered in %s", fault, tally.n, fetches,
				elapsed.Round(time.Millisecond), (peak-heapBefore)>>10, took.Round(time.Millisecond))
			s, _, _ := atkDo(context.Background(), h, known)
			assert.Equal(t, http.StatusOK, s, "the old key after recovery")
			s, _, _ = atkDo(context.Background(), h, forged)
			assert.Equal(t, http.StatusUnauthorized, s, "a forged token for the new kid")
		})
	}
}

// atkTrace records, for each key set response, when the server took its snapshot and when the client had read
// it all, so the rotation test knows the earliest moment the verifier could have swapped to that set.
type atkTrace struct {
	mu      sync.Mutex
	fetches []atkFetch
}

type atkFetch struct{ snapshot, read time.Time }

func (t *atkTrace) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	ns, _ := strconv.ParseInt(resp.Header.Get("X-Atk-Snapshot"), 10, 64)
	resp.Body = &atkTracedBody{ReadCloser: resp.Body, snapshot: time.Unix(0, ns), tr: t}
	return resp, nil
}

func (t *atkTrace) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.fetches)
}

// firstReadAfter is when the client finished reading the first response whose snapshot is after at.
func (t *atkTrace) firstReadAfter(at time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var best time.Time
	for _, f := range t.fetches {
		if f.snapshot.After(at) && (best.IsZero() || f.read.Before(best)) {
			best = f.read
		}
	}
	return best, !best.IsZero()
}

type atkTracedBody struct {
	io.ReadCloser
	snapshot time.Time
	tr       *atkTrace
	once     sync.Once
}

func (b *atkTracedBody) Close() error {
	b.once.Do(func() {
		b.tr.mu.Lock()
		b.tr.fetches = append(b.tr.fetches, atkFetch{b.snapshot, time.Now()})
		b.tr.mu.Unlock()
	})
	return b.ReadCloser.Close()
}

// TestFaults_RotationEvery100msUnder200Clients rotates the signing key every 100 ms while 200 clients send
// tokens of the newest key, of older published keys, of keys already removed, and forged ones. RFC 8725 §3.10
// and RFC 7517 §4.5 make kid the only link to a key: a removed key must stop verifying once the verifier has
// fetched a set without it (and never come back), a new key must verify within the unknown-kid bound
// (RefreshCooldown + MaxWait), and no other status than 200/401 may appear.
func TestFaults_RotationEvery100msUnder200Clients(t *testing.T) {
	const (
		clients = 200
		period  = 100 * time.Millisecond
		keep    = 20 // each key is published for two seconds
		run     = 3 * time.Second
	)
	opts := shortTimers(jwtauth.JWKSOptions{RefreshInterval: time.Minute, RefreshCooldown: 50 * time.Millisecond,
		MaxWait: 500 * time.Millisecond, FetchTimeout: 2 * time.Second, MaxRetryInterval: time.Second, MaxStale: time.Hour})
	bound := opts.RefreshCooldown + opts.MaxWait

	type rkey struct {
		atkPubKey
		tok, forged        string
		published, removed time.Time // removed is zero while published
	}
	n := keep + int(run/period) + 5
	keys := make([]*rkey, n)
	attacker := atkNewEC()
	for i := range keys {
		k := atkPubKey{fmt.Sprintf("rot-%02d", i), atkNewEC()}
		keys[i] = &rkey{atkPubKey: k, tok: atkToken(k, "rot"), forged: atkToken(atkPubKey{k.kid, attacker}, "forged")}
	}
	initial := make([]atkPubKey, keep)
	for i := 0; i < keep; i++ {
		initial[i] = keys[i].atkPubKey
	}
	idp := atkNewIdP(t, initial...)
	trace := &atkTrace{}
	o := opts
	o.HTTPClient = &http.Client{Transport: trace}
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud},
			Algorithms: []string{"ES256"}, Keys: jwtauth.RemoteJWKS(idp.URL())}},
		JWKS:   o,
		Logger: atkQuietLogger(),
	})
	require.NoError(t, err)
	defer v.Close()
	require.NoError(t, v.Ready())
	h := v.RequireAuth(&atkRecorder{})

	var mu sync.Mutex // guards published/removed of keys, and the lists below
	loadedAt := time.Now()
	for i := 0; i < keep; i++ {
		keys[i].published = loadedAt.Add(-bound) // loaded by New: verifiable at once
	}
	published := make([]int, keep)
	for i := range published {
		published[i] = i
	}
	var removed []int
	index := map[string]int{}
	for i, k := range keys {
		index[k.kid] = i
	}

	deadline := time.Now().Add(run)
	done := make(chan struct{})
	go func() { // the rotator
		defer close(done)
		tick := time.NewTicker(period)
		defer tick.Stop()
		for next := keep; next < n && time.Now().Before(deadline); next++ {
			<-tick.C
			at, gone := idp.rotate(keys[next].atkPubKey, keep)
			mu.Lock()
			keys[next].published = at
			published = append(published, next)
			for _, g := range gone {
				i := index[g.kid]
				keys[i].removed = at
				removed = append(removed, i)
				for j, p := range published {
					if p == i {
						published = append(published[:j], published[j+1:]...)
						break
					}
				}
			}
			mu.Unlock()
		}
	}()

	type result struct {
		key    int
		forged bool
		start  time.Time
		end    time.Time
		status int
	}
	results := make([][]result, clients)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(uint64(c), 42))
			for time.Now().Before(deadline) {
				mu.Lock()
				var ki int
				forged := false
				switch x := rng.IntN(10); {
				case x < 4 || (x < 9 && len(removed) == 0):
					ki = published[len(published)-1]
				case x < 7:
					ki = published[rng.IntN(len(published))]
				case x < 9:
					ki = removed[rng.IntN(len(removed))]
				default:
					ki, forged = published[rng.IntN(len(published))], true
				}
				tok := keys[ki].tok
				if forged {
					tok = keys[ki].forged
				}
				mu.Unlock()
				r := httptest.NewRequest(http.MethodGet, "/", nil)
				r.Header.Set("Authorization", "Bearer "+tok)
				w := httptest.NewRecorder()
				start := time.Now()
				h.ServeHTTP(w, r)
				results[c] = append(results[c], result{ki, forged, start, time.Now(), w.Code})
				time.Sleep(time.Duration(5+rng.IntN(15)) * time.Millisecond)
			}
		}(c)
	}
	wg.Wait()
	<-done

	// Analysis, after the fact, against what the server published and when the client could have seen it.
	var all []result
	for _, rs := range results {
		all = append(all, rs...)
	}
	var bad []string
	unexpected := func(format string, args ...any) {
		if len(bad) < 20 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	counts := map[string]int{}
	firstOK := map[int]time.Time{}         // end of the first 200 per key
	lastOKStart := map[int]time.Time{}     // start of the last 200 per key
	first401AfterOK := map[int]time.Time{} // filled in a second pass
	for _, r := range all {
		if r.status == http.StatusOK && !r.forged {
			if f, ok := firstOK[r.key]; !ok || r.end.Before(f) {
				firstOK[r.key] = r.end
			}
			if l := lastOKStart[r.key]; r.start.After(l) {
				lastOKStart[r.key] = r.start
			}
		}
	}
	for _, r := range all {
		if r.status == http.StatusUnauthorized && !r.forged {
			if f, ok := firstOK[r.key]; ok && r.start.After(f) {
				if g, ok := first401AfterOK[r.key]; !ok || r.end.Before(g) {
					first401AfterOK[r.key] = r.end
				}
			}
		}
	}
	for _, r := range all {
		k := keys[r.key]
		switch {
		case r.status != http.StatusOK && r.status != http.StatusUnauthorized:
			unexpected("%s: status %d", k.kid, r.status)
		case r.forged && r.status == http.StatusOK:
			unexpected("%s: a forged token verified", k.kid)
		case r.forged:
			counts["forged 401"]++
		case r.status == http.StatusUnauthorized:
			// A published key is due to verify once the unknown-kid bound has passed since its publication.
			switch {
			case !r.start.Before(k.published.Add(bound+atkSched)) && (k.removed.IsZero() || r.end.Before(k.removed)):
				unexpected("%s: 401 %s after publication (bound %s)", k.kid, r.start.Sub(k.published), bound)
			case !k.removed.IsZero() && r.end.After(k.removed):
				counts["401 removed key"]++
			default:
				counts["401 new key, not fetched yet"]++
			}
		default: // 200
			if g, ok := first401AfterOK[r.key]; ok && r.start.After(g) {
				unexpected("%s: verified again after it had stopped verifying", k.kid)
			} else if !k.removed.IsZero() && r.end.After(k.removed) {
				if seen, ok := trace.firstReadAfter(k.removed); ok && r.start.After(seen.Add(atkSched)) {
					unexpected("%s: verified %s after a set without it was read", k.kid, r.start.Sub(seen))
				} else {
					counts["200 removed, not refreshed yet"]++
				}
			} else {
				counts["200"]++
			}
		}
	}
	// How long each key published during the run took to verify for the first time.
	var worst time.Duration
	measured := 0
	for i := keep; i < n; i++ {
		if keys[i].published.IsZero() {
			continue
		}
		if f, ok := firstOK[i]; ok {
			measured++
			worst = max(worst, f.Sub(keys[i].published))
		}
	}
	t.Logf("%d requests: %v; %d rotations, %d fetches; slowest first verification of a new key %s (bound %s)",
		len(all), counts, measured, trace.count(), worst.Round(time.Millisecond), bound)
	assert.Empty(t, bad, "unexpected statuses")
	assert.GreaterOrEqual(t, measured, int(run/period)/2, "new keys verified during the run")
	assert.LessOrEqual(t, worst, bound+atkSched, "a new key verified later than RefreshCooldown + MaxWait")
	removedSeen := 0
	for _, k := range keys {
		if !k.removed.IsZero() {
			removedSeen++
		}
	}
	assert.Greater(t, removedSeen, 10, "keys removed during the run")
	assert.Positive(t, counts["401 removed key"], "removed keys were refused")
}
