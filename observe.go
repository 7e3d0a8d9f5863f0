package jwtauth

import (
	"errors"
	"strconv"
	"time"
)

// FetchOutcome describes one fetch of a remote key set (discovery included), for Config.OnFetch. It never
// holds token content: not even the kid that triggered the fetch.
type FetchOutcome struct {
	// Issuer is the TrustedIssuer's Issuer, as configured: safe as a metrics label.
	Issuer string
	// URL is the key set URL, or the discovery document's URL while the key set URL is not known yet.
	URL string
	// Trigger says why the fetch started.
	Trigger FetchTrigger
	// Result classifies the outcome; Err is nil exactly when it is FetchOK or FetchUnchanged.
	Result FetchResult
	// Err says what went wrong, for logs. After a failure the last good keys stay in use.
	Err error
	// Duration is the wall time of the fetch, discovery included.
	Duration time.Duration
	// Keys is the number of usable keys loaded by this fetch; 0 when it failed.
	Keys int
}

// FetchTrigger says why a key set fetch started. Its values are fixed strings, fit for metrics labels.
type FetchTrigger string

// The reasons a key set is fetched.
const (
	// TriggerStartup is the first fetch, started by New.
	TriggerStartup FetchTrigger = "startup"
	// TriggerPeriodic is a background refresh: at the refresh interval, or a retry with backoff after a failure.
	TriggerPeriodic FetchTrigger = "periodic"
	// TriggerUnknownKey is a fetch asked for by a token that names a key not loaded (an unknown kid, or no
	// keys yet). At most one per JWKSOptions.RefreshCooldown.
	TriggerUnknownKey FetchTrigger = "unknown_kid"
)

// FetchResult classifies a key set fetch. Its values are fixed strings, fit for metrics labels.
type FetchResult string

// The results of a key set fetch. A non-200 HTTP status is reported by its class: "http_4xx", "http_5xx", and
// so on.
const (
	// FetchOK means a key set was loaded that differs from the one in use (the first load, or a rotation).
	FetchOK FetchResult = "ok"
	// FetchUnchanged means the fetch succeeded and served the keys already in use; their age starts again.
	FetchUnchanged FetchResult = "unchanged"
	// FetchNetworkError means no HTTP answer (refused, reset, timed out, redirect refused) or the body broke off.
	FetchNetworkError FetchResult = "network_error"
	// FetchInvalidDocument means an answer that is not a usable key set or discovery document (not JSON, HTML, too
	// large, no usable key, discovery naming another issuer).
	FetchInvalidDocument FetchResult = "invalid_document"
)

// httpResult is the FetchResult of a non-200 status: its class, "http_5xx" for 503.
func httpResult(status int) FetchResult {
	if status < 100 || status > 999 {
		return "http_other"
	}
	return FetchResult("http_" + strconv.Itoa(status/100) + "xx")
}

// fetchError tags a fetch error with its result class; its text is the wrapped error's.
type fetchError struct {
	result FetchResult
	error
}

func (e fetchError) Unwrap() error { return e.error }

func invalidDoc(err error) error { return fetchError{FetchInvalidDocument, err} }

func statusErr(status int) error {
	return fetchError{httpResult(status), errors.New("HTTP status " + strconv.Itoa(status))}
}

// resultOf classifies a fetch error; errors not tagged otherwise come from the transport.
func resultOf(err error) FetchResult {
	var fe fetchError
	if errors.As(err, &fe) {
		return fe.result
	}
	return FetchNetworkError
}

// KeySetInfo is the state of one trusted issuer's keys, as Verifier.KeySets reports it.
type KeySetInfo struct {
	// Issuer is the TrustedIssuer's Issuer, as configured.
	Issuer string
	// URL is the key set URL (or the discovery URL until discovery succeeds); "" for local keys.
	URL string
	// Keys is the number of usable keys in use; 0 when none are loaded.
	Keys int
	// LoadedAt is when the keys in use were last fetched successfully (by Config.Clock); JWKSOptions.MaxStale
	// counts from it. Zero for local keys, which never age, and for a key set never loaded.
	LoadedAt time.Time
	// LastError is why the last fetch failed; nil after a success, and for local keys.
	LastError error
}

// KeySets reports, per trusted issuer in Config order, the keys in use: for gauges read at scrape time
// (keys loaded, age of the key set) and for status pages. It is cheap and safe to call while tokens are verified.
func (v *Verifier) KeySets() []KeySetInfo {
	out := make([]KeySetInfo, len(v.trusts))
	for i, t := range v.trusts {
		out[i] = t.keys.info()
		out[i].Issuer = t.issuer
	}
	return out
}
