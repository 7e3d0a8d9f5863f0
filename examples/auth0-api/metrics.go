package main

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// untrusted is the issuer label of verifications whose iss is no configured issuer. Outcome.Issuer is token
// text, so it never becomes a label value (unbounded cardinality, attacker-chosen text); ConfiguredIssuer is
// the configured string, a template for multi-tenant issuers.
const untrusted = "untrusted"

// metrics feeds Prometheus from jwtauth's hooks. Every label value is a configured issuer or a fixed string
// from jwtauth (reason phrases, fetch results), so cardinality is bounded by the configuration.
type metrics struct {
	reg           *prometheus.Registry
	verifications *prometheus.CounterVec
	fetches       *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	unknownKid    *prometheus.CounterVec
}

// newMetrics builds the collectors and points cfg.OnVerify and cfg.OnFetch at them; call it before
// jwtauth.New, then serve handler(v).
func newMetrics(cfg *jwtauth.Config) *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwtauth_verifications_total",
			Help: "Token verifications by issuer (configured, or \"untrusted\"), outcome (ok or the RFC 6750 code) and reason.",
		}, []string{"issuer", "outcome", "reason"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwtauth_jwks_fetches_total",
			Help: "Key set fetches by issuer and result (ok, unchanged, http_5xx, network_error, invalid_document, ...).",
		}, []string{"issuer", "result"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jwtauth_jwks_fetch_duration_seconds",
			Help:    "Duration of key set fetches, discovery included, whatever their result.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"issuer"}),
		unknownKid: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jwtauth_jwks_unknown_kid_refreshes_total",
			Help: "Key set fetches started because a token named a key not loaded (at most one per cooldown).",
		}, []string{"issuer"}),
	}
	m.reg.MustRegister(m.verifications, m.fetches, m.fetchDuration, m.unknownKid,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cfg.OnVerify = m.onVerify
	cfg.OnFetch = m.onFetch
	return m
}

func (m *metrics) onVerify(_ context.Context, o jwtauth.Outcome) {
	issuer, outcome := untrusted, "ok"
	if o.ConfiguredIssuer != "" {
		issuer = o.ConfiguredIssuer // a configured value, even when the token only claimed it
	}
	var e *jwtauth.Error
	if errors.As(o.Err, &e) {
		outcome = e.Code()
	}
	m.verifications.WithLabelValues(issuer, outcome, o.Reason).Inc()
}

// onFetch only increments counters: jwtauth calls it on the fetch's goroutine and it must be fast.
func (m *metrics) onFetch(o jwtauth.FetchOutcome) {
	m.fetches.WithLabelValues(o.Issuer, string(o.Result)).Inc()
	m.fetchDuration.WithLabelValues(o.Issuer).Observe(o.Duration.Seconds())
	if o.Trigger == jwtauth.TriggerUnknownKey {
		m.unknownKid.WithLabelValues(o.Issuer).Inc()
	}
}

// handler registers the key set gauges of v and serves every metric in the Prometheus text format.
func (m *metrics) handler(v *jwtauth.Verifier) http.Handler {
	m.reg.MustRegister(keySetCollector{
		v: v,
		keys: prometheus.NewDesc("jwtauth_jwks_keys",
			"Usable keys in use per issuer; 0 while none could be loaded.", []string{"issuer"}, nil),
		age: prometheus.NewDesc("jwtauth_jwks_age_seconds",
			"Seconds since the keys in use were last fetched successfully; verification answers 503 past JWKS.MaxStale. Absent until the first load.",
			[]string{"issuer"}, nil),
	})
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// keySetCollector reads the gauges at scrape time from Verifier.KeySets, so they are exact whenever scraped.
type keySetCollector struct {
	v         *jwtauth.Verifier
	keys, age *prometheus.Desc
}

func (c keySetCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.keys
	ch <- c.age
}

func (c keySetCollector) Collect(ch chan<- prometheus.Metric) {
	for _, ks := range c.v.KeySets() {
		ch <- prometheus.MustNewConstMetric(c.keys, prometheus.GaugeValue, float64(ks.Keys), ks.Issuer)
		if !ks.LoadedAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, time.Since(ks.LoadedAt).Seconds(), ks.Issuer)
		}
	}
}
