package jwtauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fetchLog collects what Config.OnFetch receives.
type fetchLog chan jwtauth.FetchOutcome

func newFetchLog() fetchLog { return make(fetchLog, 256) }

func (l fetchLog) hook(o jwtauth.FetchOutcome) {
	select {
	case l <- o:
	default: // a test that stops reading must not block the fetch
	}
}

// next returns the next outcome with the given trigger, skipping others.
func (l fetchLog) next(t *testing.T, trigger jwtauth.FetchTrigger) jwtauth.FetchOutcome {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case o := <-l:
			if o.Trigger == trigger {
				return o
			}
		case <-timeout:
			t.Fatalf("no %s fetch reported within 5s", trigger)
			return jwtauth.FetchOutcome{}
		}
	}
}

// unknownKid makes Verify ask for a refresh with a kid the IdP never published.
func unknownKid(idp *jwtauthtest.IdP, kid string) string {
	return idp.Sign(map[string]any{"kid": kid},
		map[string]any{"iss": idp.Issuer(), "aud": idp.Audience(), "exp": time.Now().Add(time.Hour).Unix()})
}

func TestOnFetch_ReportsEachTriggerWithItsResult(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	log := newFetchLog()
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.OnFetch = log.hook
		c.JWKS.RefreshCooldown = 50 * time.Millisecond
	})

	first := log.next(t, jwtauth.TriggerStartup)
	assert.Equal(t, idp.Issuer(), first.Issuer)
	assert.Equal(t, idp.JWKSURL(), first.URL)
	assert.Equal(t, jwtauth.FetchOK, first.Result)
	assert.NoError(t, first.Err)
	assert.Equal(t, 1, first.Keys)
	assert.Positive(t, first.Duration)

	idp.Rotate()
	_, err := v.Verify(context.Background(), idp.Mint(nil))
	require.NoError(t, err)
	rotated := log.next(t, jwtauth.TriggerUnknownKey)
	assert.Equal(t, jwtauth.FetchOK, rotated.Result, "a rotation loads a different key set")
	assert.Equal(t, 2, rotated.Keys, "old and new key are both published")

	time.Sleep(100 * time.Millisecond) // past the cooldown
	_, err = v.Verify(context.Background(), unknownKid(idp, "never-published"))
	require.ErrorIs(t, err, jwtauth.ErrUnknownKey)
	same := log.next(t, jwtauth.TriggerUnknownKey)
	assert.Equal(t, jwtauth.FetchUnchanged, same.Result, "the IdP served the keys already in use")
	assert.Equal(t, 2, same.Keys)
}

func TestOnFetch_ReportsPeriodicRefreshes(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	log := newFetchLog()
	remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.OnFetch = log.hook
		c.JWKS.RefreshInterval = 50 * time.Millisecond
	})
	o := log.next(t, jwtauth.TriggerPeriodic)
	assert.Equal(t, jwtauth.FetchUnchanged, o.Result)
	assert.Equal(t, 1, o.Keys)
}

func TestOnFetch_ClassifiesFailures(t *testing.T) {
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	cases := []struct {
		name    string
		fault   jwtauthtest.Fault
		handler http.Handler
		want    jwtauth.FetchResult
	}{
		{"connection closed", jwtauthtest.FaultDown, nil, jwtauth.FetchNetworkError},
		{"hanging past FetchTimeout", jwtauthtest.FaultHang, nil, jwtauth.FetchNetworkError},
		{"redirect to another origin", jwtauthtest.FaultRedirect, nil, jwtauth.FetchNetworkError},
		{"500", jwtauthtest.FaultStatus500, nil, "http_5xx"},
		{"404", jwtauthtest.FaultNone, notFound, "http_4xx"},
		{"HTML page", jwtauthtest.FaultHTML, nil, jwtauth.FetchInvalidDocument},
		{"truncated JSON", jwtauthtest.FaultTruncated, nil, jwtauth.FetchInvalidDocument},
		{"empty set", jwtauthtest.FaultEmpty, nil, jwtauth.FetchInvalidDocument},
		{"unusable keys only", jwtauthtest.FaultUnusable, nil, jwtauth.FetchInvalidDocument},
		{"50 MB body", jwtauthtest.FaultHuge, nil, jwtauth.FetchInvalidDocument},
		{"endless body", jwtauthtest.FaultEndless, nil, jwtauth.FetchInvalidDocument},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
			log := newFetchLog()
			v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
				c.OnFetch = log.hook
				c.JWKS.FetchTimeout = 300 * time.Millisecond
				c.JWKS.MaxWait = 400 * time.Millisecond
			})
			require.Equal(t, jwtauth.FetchOK, log.next(t, jwtauth.TriggerStartup).Result)
			idp.SetFault(tc.fault)
			idp.SetJWKSHandler(tc.handler)

			_, err := v.Verify(context.Background(), unknownKid(idp, "k-new"))
			require.ErrorIs(t, err, jwtauth.ErrUnknownKey)
			o := log.next(t, jwtauth.TriggerUnknownKey)
			assert.Equal(t, tc.want, o.Result)
			assert.Error(t, o.Err)
			assert.Zero(t, o.Keys, "a failed fetch loads nothing")

			ks := v.KeySets()
			require.Len(t, ks, 1)
			assert.Equal(t, 1, ks[0].Keys, "the last good keys stay in use")
			assert.Error(t, ks[0].LastError)
		})
	}
}

func TestOnFetch_ReportsDiscoveryFailuresWithTheDiscoveryURL(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultStatus500)
	log := newFetchLog()
	remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.Issuers[0].Keys = jwtauth.Discover(idp.Issuer())
		c.OnFetch = log.hook
	})
	o := log.next(t, jwtauth.TriggerStartup)
	assert.Equal(t, jwtauth.FetchResult("http_5xx"), o.Result)
	assert.Equal(t, idp.Issuer()+"/.well-known/openid-configuration", o.URL)
	assert.ErrorContains(t, o.Err, "discovery document")

	idp.SetFault(jwtauthtest.FaultNone)
	o = log.next(t, jwtauth.TriggerPeriodic)
	assert.Equal(t, jwtauth.FetchOK, o.Result, "the retry after backoff discovers and loads")
	assert.Equal(t, idp.JWKSURL(), o.URL)
}

func TestOnFetch_NeverReceivesTokenContent(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	log := newFetchLog()
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) { c.OnFetch = log.hook })
	log.next(t, jwtauth.TriggerStartup)
	idp.SetFault(jwtauthtest.FaultStatus500)

	const kid = "attacker-chosen-kid-7f3a"
	tok := unknownKid(idp, kid)
	_, err := v.Verify(context.Background(), tok)
	require.Error(t, err)
	o := log.next(t, jwtauth.TriggerUnknownKey)
	text := fmt.Sprintf("%+v %v", o, o.Err)
	assert.NotContains(t, text, kid)
	assert.NotContains(t, text, tok[:strings.IndexByte(tok, '.')])
}

func TestOnFetch_SlowHookDelaysNoRequest(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	release := make(chan struct{})
	entered := make(chan jwtauth.FetchOutcome, 4)
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.OnFetch = func(o jwtauth.FetchOutcome) {
			if o.Trigger == jwtauth.TriggerUnknownKey {
				entered <- o
				<-release
			}
		}
	})
	defer close(release) // before Close, which waits for the hook

	idp.Rotate()
	done := make(chan error, 1)
	go func() {
		_, err := v.Verify(context.Background(), idp.Mint(nil))
		done <- err
	}()
	<-entered
	select {
	case err := <-done:
		assert.NoError(t, err, "the request got the rotated key while the hook was still running")
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked OnFetch held up the request that triggered the fetch")
	}
}

func TestKeySets_ReportsKeysLoadTimeAndLastError(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	clock := &fixedClock{now: time.Now()}
	local := newLocal(t, "RS256")
	log := newFetchLog()
	v := remoteVerifier(t, idp, func(c *jwtauth.Config) {
		c.Clock = clock.Now
		c.OnFetch = log.hook
		c.Issuers = append(c.Issuers, jwtauth.TrustedIssuer{
			Issuer: "https://local.example", Audiences: []string{"api"}, Algorithms: []string{"RS256"},
			Keys: jwtauth.PublicKeys(local.key.Public()),
		})
	})
	loaded := clock.Now()
	assert.Equal(t, []jwtauth.KeySetInfo{
		{Issuer: idp.Issuer(), URL: idp.JWKSURL(), Keys: 1, LoadedAt: loaded},
		{Issuer: "https://local.example", Keys: 1},
	}, v.KeySets())

	log.next(t, jwtauth.TriggerStartup)
	idp.SetFault(jwtauthtest.FaultStatus500)
	clock.Add(time.Hour)
	_, err := v.Verify(context.Background(), unknownKid(idp, "k-new"))
	require.Error(t, err)
	log.next(t, jwtauth.TriggerUnknownKey)
	ks := v.KeySets()[0]
	assert.Equal(t, 1, ks.Keys)
	assert.Equal(t, loaded, ks.LoadedAt, "a failed fetch does not refresh the age")
	assert.ErrorContains(t, ks.LastError, "HTTP status 500")

	idp.SetFault(jwtauthtest.FaultNone)
	time.Sleep(150 * time.Millisecond) // past the cooldown
	_, err = v.Verify(context.Background(), unknownKid(idp, "k-newer"))
	require.Error(t, err)
	assert.Equal(t, jwtauth.FetchUnchanged, log.next(t, jwtauth.TriggerUnknownKey).Result)
	ks = v.KeySets()[0]
	assert.Equal(t, clock.Now(), ks.LoadedAt, "a fetch serving the same keys restarts their age")
	assert.NoError(t, ks.LastError)
}

// A discovery document that the strict pass refuses (names equal under case folding) is an invalid
// document for metrics, not a network error.
func TestOnFetch_StrictDiscoveryFailureIsAnInvalidDocument(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"ISSUER":"https://evil.example","jwks_uri":%q}`, srv.URL, srv.URL+"/jwks")
	}))
	t.Cleanup(srv.Close)
	log := newFetchLog()
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: srv.URL, Audiences: []string{testAudience}, Keys: jwtauth.Discover(srv.URL)}},
		Logger:  quietLogger(t),
		OnFetch: log.hook,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	o := log.next(t, jwtauth.TriggerStartup)
	assert.Equal(t, jwtauth.FetchInvalidDocument, o.Result)
	assert.ErrorContains(t, o.Err, "not one strict JSON object")
}
