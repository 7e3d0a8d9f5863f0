package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// scrape reads /metrics as Prometheus would.
func scrape(t *testing.T, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// value is the counter, gauge or histogram count of the series of name with exactly these labels; -1 when
// there is no such series.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := families[name]
	if f == nil {
		return -1
	}
series:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue()
		case m.Gauge != nil:
			return m.GetGauge().GetValue()
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

// labelValues lists the values a label takes in a family.
func labelValues(families map[string]*dto.MetricFamily, name, label string) []string {
	var out []string
	for _, m := range families[name].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label {
				out = append(out, l.GetValue())
			}
		}
	}
	return out
}

func TestMetrics_CountVerificationsFetchesAndKeySetState(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	stranger := jwtauthtest.NewIdP(t)
	const cooldown = time.Second // the least jwtauth accepts
	srv := startAPI(t, idpEnv(idp), func(c *jwtauth.Config) { c.JWKS.RefreshCooldown = cooldown })
	iss := idp.Issuer()
	verifications := func(issuer, outcome, reason string) map[string]string {
		return map[string]string{"issuer": issuer, "outcome": outcome, "reason": reason}
	}
	fetches := func(result string) map[string]string { return map[string]string{"issuer": iss, "result": result} }
	byIssuer := map[string]string{"issuer": iss}

	good := idp.Mint(nil)
	for range 2 {
		require.Equal(t, http.StatusOK, get(t, srv, http.MethodGet, "/api/private", bearer(good)).status)
	}
	expired := idp.Mint(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()})
	require.Equal(t, http.StatusUnauthorized, get(t, srv, http.MethodGet, "/api/private", bearer(expired)).status)
	require.Equal(t, http.StatusUnauthorized, get(t, srv, http.MethodGet, "/api/private", "").status, "no token: nothing verified")
	// Attacker-chosen issuers must not become label values.
	for i := range 20 {
		tok := stranger.Mint(map[string]any{"iss": "https://evil.example/" + strconv.Itoa(i)})
		require.Equal(t, http.StatusUnauthorized, get(t, srv, http.MethodGet, "/api/private", bearer(tok)).status)
	}
	// A forged token claiming the trusted issuer: its kid is unknown, so one refresh, which serves the same keys.
	forged := stranger.Mint(map[string]any{"iss": iss})
	require.Equal(t, http.StatusUnauthorized, get(t, srv, http.MethodGet, "/api/private", bearer(forged)).status)

	m := scrape(t, srv)
	assert.Equal(t, 2.0, value(m, "jwtauth_verifications_total", verifications(iss, "ok", "ok")))
	assert.Equal(t, 1.0, value(m, "jwtauth_verifications_total", verifications(iss, "invalid_token", "token expired")))
	assert.Equal(t, 20.0, value(m, "jwtauth_verifications_total", verifications("untrusted", "invalid_token", "issuer not accepted")))
	assert.Equal(t, 1.0, value(m, "jwtauth_verifications_total", verifications(iss, "invalid_token", "unknown signing key")))
	assert.ElementsMatch(t, []string{iss, iss, iss, "untrusted"}, labelValues(m, "jwtauth_verifications_total", "issuer"),
		"issuer labels are configured issuers or \"untrusted\", never token text")
	assert.Equal(t, 1.0, value(m, "jwtauth_jwks_fetches_total", fetches("ok")), "the startup fetch")
	assert.Equal(t, 1.0, value(m, "jwtauth_jwks_keys", byIssuer))
	age := value(m, "jwtauth_jwks_age_seconds", byIssuer)
	assert.True(t, age >= 0 && age < 60, "age %v", age)
	require.Eventually(t, func() bool { // the hook runs just after the request is released
		m = scrape(t, srv)
		return value(m, "jwtauth_jwks_unknown_kid_refreshes_total", byIssuer) == 1
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 1.0, value(m, "jwtauth_jwks_fetches_total", fetches("unchanged")))
	assert.Equal(t, 2.0, value(m, "jwtauth_jwks_fetch_duration_seconds", byIssuer), "one observation per fetch")

	// The JWKS fails while the IdP rotates: the new key cannot be fetched, the last good key stays in use.
	idp.SetFault(jwtauthtest.FaultStatus500)
	idp.Rotate()
	time.Sleep(cooldown) // so the rotated kid may trigger a refresh again
	require.Equal(t, http.StatusUnauthorized, get(t, srv, http.MethodGet, "/api/private", bearer(idp.Mint(nil))).status)
	require.Eventually(t, func() bool {
		m = scrape(t, srv)
		return value(m, "jwtauth_jwks_unknown_kid_refreshes_total", byIssuer) == 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.GreaterOrEqual(t, value(m, "jwtauth_jwks_fetches_total", fetches("http_5xx")), 1.0)
	assert.Equal(t, 1.0, value(m, "jwtauth_jwks_keys", byIssuer), "the last good key is kept")
	assert.Equal(t, 2.0, value(m, "jwtauth_verifications_total", verifications(iss, "invalid_token", "unknown signing key")))

	// Once the IdP is back, a retry loads the rotated set. The keys gauge is read from the new snapshot at
	// scrape time, while OnFetch runs just after the swap: wait for both.
	idp.SetFault(jwtauthtest.FaultNone)
	require.Eventually(t, func() bool {
		m = scrape(t, srv)
		return value(m, "jwtauth_jwks_keys", byIssuer) == 2 && value(m, "jwtauth_jwks_fetches_total", fetches("ok")) >= 2
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 2.0, value(m, "jwtauth_jwks_fetches_total", fetches("ok")))
}

func TestMetrics_KeySetNeverLoadedShowsNoKeysAndNoAge(t *testing.T) {
	idp := jwtauthtest.NewIdP(t)
	idp.SetFault(jwtauthtest.FaultDown)
	srv := startAPI(t, idpEnv(idp))
	require.Equal(t, http.StatusServiceUnavailable, get(t, srv, http.MethodGet, "/api/private", bearer(idp.Mint(nil))).status)

	byIssuer := map[string]string{"issuer": idp.Issuer()}
	var m map[string]*dto.MetricFamily
	require.Eventually(t, func() bool {
		m = scrape(t, srv)
		return value(m, "jwtauth_jwks_fetches_total", map[string]string{"issuer": idp.Issuer(), "result": "network_error"}) >= 1
	}, 5*time.Second, 20*time.Millisecond)
	assert.Equal(t, 0.0, value(m, "jwtauth_jwks_keys", byIssuer))
	assert.Equal(t, -1.0, value(m, "jwtauth_jwks_age_seconds", byIssuer), "no age before the first load")
	assert.Equal(t, 1.0, value(m, "jwtauth_verifications_total",
		map[string]string{"issuer": idp.Issuer(), "outcome": "temporarily_unavailable", "reason": "signing keys unavailable"}))
}
