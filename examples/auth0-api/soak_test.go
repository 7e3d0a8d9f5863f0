package main

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
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

// Shape of the soak run. Rotations happen every soakRotateEvery requests; the key of generation g is unpublished
// half a generation after generation g+1 started, so its tokens go from "old but valid" to "must fail".
const (
	soakRequests    = 50_000
	soakWorkers     = 8
	soakRotateEvery = 6_250 // 7 rotations
	soakSamples     = 10    // heap samples, every soakRequests/soakSamples requests, the last after the run
	// soakRate caps the request rate, so that a generation lasts at least 3.1 s however fast the machine: well
	// over soakWindow, so that every key is required to work (and, once retired, to fail) for most of its time.
	soakRate = 2_000 // requests per second

	// Short JWKS knobs, so that a key set change is picked up well within a generation (under -race a generation
	// lasts about a second). soakMaxWait stays generous for a loopback fetch on a loaded 2-core machine.
	soakCooldown = time.Second // the least jwtauth.New accepts
	soakMaxWait  = 500 * time.Millisecond
	soakRefresh  = 2 * time.Second
	// soakWindow is the unknown-kid bound: a request that starts this long after a key set change at the IdP (a
	// rotation or an unpublish) sees the new set. Tokens with an unknown kid (a new key, a retired key, the forger)
	// trigger a fetch unless a triggered fetch started less than a cooldown ago, and a request waits for the fetch
	// at most MaxWait. The bound assumes that a loopback fetch takes less than MaxWait, even on a loaded machine.
	soakWindow = soakCooldown + soakMaxWait
)

// soakKind is what a request of the soak carries.
type soakKind int

const (
	soakValid       soakKind = iota // a valid token of some generation (which may have been unpublished since)
	soakExpired                     // signed by a generation's key, expired an hour ago
	soakWrongAud                    // signed by a generation's key, for another API
	soakBadSig                      // a generation's token with the payload of another one
	soakWrongIss                    // a token of another issuer
	soakUnknownKey                  // the right iss, signed by a key the IdP never published
	soakMalformed                   // Bearer and not three base64url segments
	soakNoHeader                    // no Authorization header
	soakOtherScheme                 // Basic, Token, Digest
	soakTwoHeaders                  // two Authorization headers
	soakEmptyBearer                 // "Bearer " without a token
	soakPublic                      // /api/public with whatever header
	soakKinds
)

var soakKindNames = [soakKinds]string{"valid", "expired", "wrong-aud", "bad-signature", "wrong-iss", "unknown-key",
	"malformed", "no-header", "other-scheme", "two-headers", "empty-bearer", "public"}

// soakWeights are the kinds' shares of the mix, in percent.
var soakWeights = [soakKinds]int{40, 6, 6, 6, 5, 3, 5, 6, 6, 5, 3, 9}

// soakToken is a token signed by one of the IdP's generations of keys.
type soakToken struct {
	raw     string
	gen     int
	owner   *soakGen // the generation whose key signed it
	sub     string
	hasRead bool   // read:messages in scope or permissions
	fail    string // "" for a valid token, else the error_description it gets while its key is known
}

// soakGen is one generation of the IdP's signing key, with its tokens and when its key appeared and went.
type soakGen struct {
	n         int
	kid       string
	rotated   time.Duration // since the run's base time, after Rotate returned; 0 for the first key
	valid     []*soakToken
	expired   []*soakToken
	wrongAud  []*soakToken
	badSig    []*soakToken
	unpubPre  atomic.Int64 // since base, just before Unpublish; 0 while published
	unpubPost atomic.Int64 // since base, just after Unpublish returned

	// Observed lags, for the log: the latest start, after the rotation, of a request refused for this key
	// being unknown; and the latest start, after the unpublish, of a request this key still verified.
	newLag, oldLag atomic.Int64
	// How many requests with this key's tokens had no latitude: the key had to be known, or had to be gone.
	mustKnow, mustForget atomic.Int64
}

// soakKeyState is what the verifier must know of a token's key when a request runs.
type soakKeyState int

const (
	soakNoKey      soakKeyState = iota // the request carries no token of the IdP's keys
	soakMustKnow                       // the key is published and was fetched: the token gets its own verdict
	soakEither                         // a key set change less than soakWindow ago: known or unknown
	soakMustForget                     // unpublished and refetched: unknown signing key
)

// soakSpec is one request.
type soakSpec struct {
	index int
	kind  soakKind
	path  string
	auth  []string // Authorization header values
	tok   *soakToken
}

// soakExpect is one acceptable answer.
type soakExpect struct {
	status    int
	challenge string // exact WWW-Authenticate; "" for none
	code      string // body "error"; "" for a success
	sub       string // for 200 on /api/private: the claims echoed must be the token's
}

func (e soakExpect) String() string {
	if e.status == http.StatusOK {
		return "200"
	}
	return fmt.Sprintf("%d %s", e.status, e.challenge)
}

func soakInvalidToken(desc string) soakExpect {
	return soakExpect{http.StatusUnauthorized, `Bearer error="invalid_token", error_description="` + desc + `"`, "invalid_token", ""}
}

var (
	soakNoToken    = soakExpect{http.StatusUnauthorized, "Bearer", "unauthorized", ""}
	soakBadRequest = soakExpect{http.StatusBadRequest, `Bearer error="invalid_request", error_description="malformed credentials"`, "invalid_request", ""}
	soakNoScope    = soakExpect{http.StatusForbidden, `Bearer error="insufficient_scope", scope="read:messages"`, "insufficient_scope", ""}
	soakUnknownKid = soakInvalidToken("unknown signing key")
	soakPublicOK   = soakExpect{status: http.StatusOK}
	soakSchemes    = []string{"Basic dXNlcjpwYXNz", "Token abc123", "Digest username=x"}
)

// soakBody is every field the API's JSON answers may carry.
type soakBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Message     string `json:"message"`
	Claims      *struct {
		Sub string `json:"sub"`
	} `json:"claims"`
}

// TestSoak_MixedTrafficWithKeyRotation sends 50,000 requests of every kind the contract table names through the
// real handler while the IdP rotates and retires keys. Every answer must be the one the table gives; the only
// latitude is for tokens whose key set changed less than soakWindow before the request (a new key not fetched
// yet, or an unpublished key still cached). Memory stays flat and key set fetches stay within the rate limit.
func TestSoak_MixedTrafficWithKeyRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("soak test: 50,000 requests; skipped under -short")
	}
	began := time.Now()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, seed>>1))

	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	stranger := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	var fetchMu sync.Mutex
	var fetchTimes []time.Duration // when the IdP served each key set, since base
	base := time.Now()
	idp.SetJWKSHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetchMu.Lock()
		fetchTimes = append(fetchTimes, time.Since(base))
		fetchMu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(idp.JWKS())
	}))

	cfg, err := loadConfig(envMap(idpEnv(idp)))
	require.NoError(t, err)
	cfg.auth.Logger = slog.New(slog.DiscardHandler)
	cfg.auth.JWKS.RefreshCooldown = soakCooldown
	cfg.auth.JWKS.MaxWait = soakMaxWait
	cfg.auth.JWKS.RefreshInterval = soakRefresh
	metrics := newMetrics(&cfg.auth)
	v, err := jwtauth.New(t.Context(), cfg.auth)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	require.NoError(t, v.Ready())
	handler := newHandler(v, metrics.handler(v))

	gens := []*soakGen{soakMintGen(idp, 0, idp.KeyID(), 0)}
	wrongIss := []string{stranger.Mint(map[string]any{"sub": "stranger"}), stranger.Mint(map[string]any{"sub": "stranger", "scope": "read:messages"})}
	unknownKey := []string{stranger.Mint(map[string]any{"sub": "forger", "iss": idp.Issuer()}), stranger.Mint(map[string]any{"sub": "forger", "iss": idp.Issuer(), "scope": "read:messages"})}

	// The verdicts, counted per kind; failures are kept, the first few in full.
	var (
		mu         sync.Mutex
		failures   []string
		nFailures  int
		perKind    [soakKinds]atomic.Int64
		n200       atomic.Int64 // 200s on the protected routes
		nNewKey401 atomic.Int64 // tokens of a new key refused before it was fetched
		nOldKeyOK  atomic.Int64 // tokens of an unpublished key still accepted, before the set was refetched
		lastStart  atomic.Int64 // the latest start of a request, since base
	)
	fail := func(msg string) {
		mu.Lock()
		defer mu.Unlock()
		nFailures++
		if len(failures) < 10 {
			failures = append(failures, msg)
		}
	}

	specs := make(chan soakSpec, 256)
	var wg sync.WaitGroup
	for range soakWorkers {
		wg.Go(func() {
			for sp := range specs {
				req := httptest.NewRequest(http.MethodGet, sp.path, nil)
				if sp.auth != nil {
					req.Header["Authorization"] = sp.auth
				}
				rec := httptest.NewRecorder()
				start := time.Since(base)
				handler.ServeHTTP(rec, req)
				end := time.Since(base)
				soakMax(&lastStart, start)

				allowed, state := soakAllowed(sp, start, end)
				got, ok := soakMatch(rec, allowed)
				perKind[sp.kind].Add(1)
				if ok == 0 {
					var unpub string
					if sp.tok != nil {
						g := sp.tok.owner
						unpub = fmt.Sprintf(", key unpublished %v..%v", time.Duration(g.unpubPre.Load()), time.Duration(g.unpubPost.Load()))
						unpub = fmt.Sprintf(" (token of generation %d: rotated in at %v%s)", sp.tok.gen, g.rotated, unpub)
					}
					fail(fmt.Sprintf("request %d %s %s [%v..%v]%s: got %s; allowed %v", sp.index, soakKindNames[sp.kind], sp.path,
						start, end, unpub, got, allowed))
					continue
				}
				switch state {
				case soakMustKnow:
					sp.tok.owner.mustKnow.Add(1)
				case soakMustForget:
					sp.tok.owner.mustForget.Add(1)
				case soakEither:
					g := sp.tok.owner
					if post := time.Duration(g.unpubPost.Load()); post > 0 && start > post && allowed[ok-1] != soakUnknownKid {
						nOldKeyOK.Add(1)
						soakMax(&g.oldLag, start-post)
					} else if allowed[ok-1] == soakUnknownKid && start < g.rotated+soakWindow && (post == 0 || start < post) {
						nNewKey401.Add(1)
						soakMax(&g.newLag, start-g.rotated)
					}
				}
				if rec.Code == http.StatusOK && sp.kind != soakPublic {
					n200.Add(1)
				}
			}
		})
	}

	// The producer: picks each request, rotates and retires keys at fixed request counts, samples the heap.
	var samples []uint64
	var rotations int
	paced := time.Now()
	for i := range soakRequests {
		if i%100 == 0 {
			if ahead := time.Duration(i)*time.Second/soakRate - time.Since(paced); ahead > 0 {
				time.Sleep(ahead) // pacing the producer, not waiting for an outcome
			}
		}
		if i > 0 && i%(soakRequests/soakSamples) == 0 {
			samples = append(samples, soakHeap())
		}
		if i > 0 && i%soakRotateEvery == 0 {
			kid := idp.Rotate()
			gens = append(gens, soakMintGen(idp, len(gens), kid, time.Since(base)))
			rotations++
		}
		if i%soakRotateEvery == soakRotateEvery/2 && len(gens) >= 2 {
			old := gens[len(gens)-2]
			old.unpubPre.Store(int64(time.Since(base)))
			idp.Unpublish(old.kid)
			old.unpubPost.Store(int64(time.Since(base)))
		}
		specs <- soakPick(rng, i, gens, wrongIss, unknownKey)
	}
	close(specs)
	wg.Wait()
	samples = append(samples, soakHeap())
	elapsed := time.Since(began)

	var counts []string
	for k := range soakKinds {
		counts = append(counts, fmt.Sprintf("%s=%d", soakKindNames[k], perKind[k].Load()))
	}
	t.Logf("%d requests in %v with %d workers, %d rotations; %d answered 200 on protected routes", soakRequests,
		elapsed.Round(time.Millisecond), soakWorkers, rotations, n200.Load())
	var lags []string
	for _, g := range gens {
		lags = append(lags, fmt.Sprintf("g%d: new %v, unpublished %v", g.n, time.Duration(g.newLag.Load()).Round(time.Millisecond),
			time.Duration(g.oldLag.Load()).Round(time.Millisecond)))
	}
	t.Logf("within the %v bound: %d new-key tokens refused, %d unpublished-key tokens accepted; latest such request "+
		"after the change per generation: %s", soakWindow, nNewKey401.Load(), nOldKeyOK.Load(), strings.Join(lags, "; "))
	var strict []string
	for _, g := range gens {
		strict = append(strict, fmt.Sprintf("g%d %d/%d", g.n, g.mustKnow.Load(), g.mustForget.Load()))
	}
	t.Logf("requests without latitude, key had to be known/gone: %s", strings.Join(strict, " "))
	t.Logf("per kind: %s", strings.Join(counts, " "))
	mib := make([]string, len(samples))
	for i, s := range samples {
		mib[i] = fmt.Sprintf("%.1f", float64(s)/(1<<20))
	}
	t.Logf("heap after GC (MiB): %s", strings.Join(mib, " "))

	mu.Lock()
	assert.Zero(t, nFailures, "unexpected answers; the first ones:\n%s", strings.Join(failures, "\n"))
	mu.Unlock()
	// The latitude never covered a whole generation: each new key was required to work, and each retired one
	// to fail, for requests outside soakWindow.
	for _, g := range gens {
		assert.Positive(t, g.mustKnow.Load(), "generation %d: no request had to be verified with its key", g.n)
		// (A key unpublished too close to the end of the run may see no request past its window.)
		if post := g.unpubPost.Load(); post > 0 && time.Duration(post)+soakWindow+250*time.Millisecond < time.Duration(lastStart.Load()) {
			assert.Positive(t, g.mustForget.Load(), "generation %d: no request had to find its key gone", g.n)
		}
	}

	// Memory: no leak per request, per token or per key set.
	require.Len(t, samples, soakSamples)
	assert.LessOrEqual(t, samples[len(samples)-1], samples[0]+20<<20, "heap grew by more than 20 MiB over the run")
	second := samples[len(samples)/2:]
	rising := true
	for i := 1; i < len(second); i++ {
		rising = rising && second[i] > second[i-1]
	}
	assert.False(t, rising && second[len(second)-1]-second[0] > 2<<20,
		"heap grew at every sample of the second half, by %d bytes in all", second[len(second)-1]-second[0])

	// Fetches: one at startup, at most one triggered fetch per cooldown (unknown kids keep coming: retired keys
	// and the forger), and the periodic refreshes, each at least 90% of the interval after the previous fetch.
	// (The fetches are counted before the time is taken, so each counted one falls inside the measured span.)
	fetches := idp.Fetches()
	run := time.Since(base)
	allowed := 1 + int(run/soakCooldown) + 1 + int(run/(soakRefresh*9/10)) + 1
	fetchMu.Lock()
	served := append([]time.Duration(nil), fetchTimes...)
	fetchMu.Unlock()
	t.Logf("key set fetches: %d in %v (rate limit allows %d)", fetches, run.Round(time.Millisecond), allowed)
	assert.LessOrEqual(t, fetches, allowed, "fetches served at %v", served)
}

// soakMintGen mints the tokens of generation gen, signed by the IdP's active key kid.
func soakMintGen(idp *jwtauthtest.IdP, gen int, kid string, rotated time.Duration) *soakGen {
	g := &soakGen{n: gen, kid: kid, rotated: rotated}
	scopes := []struct {
		claims  map[string]any
		hasRead bool
	}{
		{map[string]any{}, false},
		{map[string]any{"scope": "openid read:messages"}, true},
		{map[string]any{"permissions": []string{"write:messages", "read:messages"}}, true},
		{map[string]any{"scope": "openid profile read:message"}, false}, // a near miss
	}
	for i := range 4 {
		for j, s := range scopes {
			claims := map[string]any{"sub": fmt.Sprintf("g%d-u%d-%d", gen, i, j)}
			for k, v := range s.claims {
				claims[k] = v
			}
			g.valid = append(g.valid, &soakToken{raw: idp.Mint(claims), gen: gen, owner: g, sub: claims["sub"].(string), hasRead: s.hasRead})
		}
	}
	now := time.Now()
	for i := range 2 {
		sub := fmt.Sprintf("g%d-x%d", gen, i)
		g.expired = append(g.expired, &soakToken{gen: gen, owner: g, sub: sub, fail: "token expired",
			raw: idp.Mint(map[string]any{"sub": sub, "iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})})
		g.wrongAud = append(g.wrongAud, &soakToken{gen: gen, owner: g, sub: sub, fail: "audience not accepted",
			raw: idp.Mint(map[string]any{"sub": sub, "aud": "https://other-api.example", "scope": "read:messages"})})
		g.badSig = append(g.badSig, &soakToken{gen: gen, owner: g, sub: sub, fail: "signature invalid",
			raw: swapPayload(idp.Mint(map[string]any{"sub": sub}), idp.Mint(map[string]any{"sub": "admin", "scope": "read:messages"}))})
	}
	return g
}

// soakPick chooses request i: its kind by soakWeights, a route, and the token. Valid tokens are mostly of the
// newest generation, else of the previous one (published or not) or any earlier, retired one.
func soakPick(rng *rand.Rand, i int, gens []*soakGen, wrongIss, unknownKey []string) soakSpec {
	n := rng.IntN(100)
	kind := soakKind(0)
	for ; n >= soakWeights[kind]; kind++ {
		n -= soakWeights[kind]
	}
	sp := soakSpec{index: i, kind: kind, path: "/api/private"}
	if rng.IntN(2) == 0 {
		sp.path = "/api/private-scoped"
	}
	pickGen := func() *soakGen {
		switch r := rng.IntN(10); {
		case r < 6 || len(gens) == 1:
			return gens[len(gens)-1]
		case r < 8 || len(gens) == 2:
			return gens[len(gens)-2]
		default:
			return gens[rng.IntN(len(gens)-2)]
		}
	}
	one := func(toks []*soakToken) *soakToken { return toks[rng.IntN(len(toks))] }
	bearer := func(s string) []string { return []string{"Bearer " + s} }
	switch kind {
	case soakValid:
		sp.tok = one(pickGen().valid)
	case soakExpired:
		sp.tok = one(pickGen().expired)
	case soakWrongAud:
		sp.tok = one(pickGen().wrongAud)
	case soakBadSig:
		sp.tok = one(pickGen().badSig)
	case soakWrongIss:
		sp.auth = bearer(wrongIss[rng.IntN(len(wrongIss))])
	case soakUnknownKey:
		sp.auth = bearer(unknownKey[rng.IntN(len(unknownKey))])
	case soakMalformed:
		sp.auth = bearer([]string{"not.a.token", "eyJhbGciOiJFUzI1NiJ9", "a.b.c"}[rng.IntN(3)])
	case soakNoHeader:
	case soakOtherScheme:
		sp.auth = []string{soakSchemes[rng.IntN(len(soakSchemes))]}
	case soakTwoHeaders:
		g := gens[len(gens)-1]
		sp.auth = []string{"Bearer " + one(g.valid).raw, "Bearer " + one(g.valid).raw}
	case soakEmptyBearer:
		sp.auth = []string{[]string{"Bearer ", "Bearer", "bearer    "}[rng.IntN(3)]}
	case soakPublic:
		sp.path = "/api/public"
		if rng.IntN(2) == 0 {
			sp.auth = bearer(one(gens[len(gens)-1].valid).raw)
		}
	}
	if sp.tok != nil {
		sp.auth = bearer(sp.tok.raw)
	}
	return sp
}

// soakAllowed lists the acceptable answers to sp, which ran from start to end (since base), and what the verifier
// had to know of the token's key at the time.
func soakAllowed(sp soakSpec, start, end time.Duration) ([]soakExpect, soakKeyState) {
	switch sp.kind {
	case soakWrongIss:
		return []soakExpect{soakInvalidToken("issuer not accepted")}, soakNoKey
	case soakUnknownKey:
		return []soakExpect{soakUnknownKid}, soakNoKey
	case soakMalformed:
		return []soakExpect{soakInvalidToken("malformed token")}, soakNoKey
	case soakNoHeader, soakOtherScheme:
		return []soakExpect{soakNoToken}, soakNoKey
	case soakTwoHeaders, soakEmptyBearer:
		return []soakExpect{soakBadRequest}, soakNoKey
	case soakPublic:
		return []soakExpect{soakPublicOK}, soakNoKey
	}

	tok := sp.tok
	g := tok.owner       // its rotated time was written before the channel send that carried sp
	var known soakExpect // the answer while the key is known: the contract table's for this token
	switch {
	case tok.fail != "":
		known = soakInvalidToken(tok.fail)
	case sp.path == "/api/private":
		known = soakExpect{status: http.StatusOK, sub: tok.sub}
	case tok.hasRead:
		known = soakExpect{status: http.StatusOK}
	default:
		known = soakNoScope
	}
	// Read after the request ended: when unset, the unpublish began after the request ended.
	pre, post := time.Duration(g.unpubPre.Load()), time.Duration(g.unpubPost.Load())
	newKey := tok.gen > 0 && start < g.rotated+soakWindow // maybe not fetched yet: less than soakWindow after Rotate
	retiring := pre > 0 && end > pre                      // unpublished while or before the request ran
	gone := post > 0 && start >= post+soakWindow          // unpublished, and the key set refetched since
	switch {
	case gone:
		return []soakExpect{soakUnknownKid}, soakMustForget
	case newKey || retiring:
		return []soakExpect{known, soakUnknownKid}, soakEither
	}
	return []soakExpect{known}, soakMustKnow
}

// soakMatch returns a description of the answer and which of allowed it matched (1-based; 0 for none).
func soakMatch(rec *httptest.ResponseRecorder, allowed []soakExpect) (string, int) {
	challenge := rec.Header().Get("WWW-Authenticate")
	var b soakBody
	err := json.Unmarshal(rec.Body.Bytes(), &b)
	got := fmt.Sprintf("%d %q %s", rec.Code, challenge, strings.TrimSpace(rec.Body.String()))
	if err != nil || rec.Header().Get("Content-Type") != "application/json" {
		return got, 0
	}
	for i, e := range allowed {
		if rec.Code != e.status || challenge != e.challenge || b.Error != e.code {
			continue
		}
		if e.status == http.StatusOK {
			// The handler ran, and saw this request's token: the echoed claims are the token's.
			if b.Message == "" || (e.sub != "" && (b.Claims == nil || b.Claims.Sub != e.sub)) {
				continue
			}
		} else if b.Message != "" || b.Claims != nil || b.Description == "" {
			continue // a refused request never reaches the handler
		}
		return got, i + 1
	}
	return got, 0
}

// soakMax raises m to d if d is larger.
func soakMax(m *atomic.Int64, d time.Duration) {
	for {
		cur := m.Load()
		if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// soakHeap is the live heap after a full collection.
func soakHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
