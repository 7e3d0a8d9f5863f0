package jwtauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
)

// JWKSOptions are the rarely changed knobs of remote key sets. Zero values mean the defaults given per field.
// New refuses a MaxWait below 1ms and any other duration below 1s: it is almost always a number written without
// a unit (RefreshInterval: 900 is 900ns, not 15 minutes).
type JWKSOptions struct {
	// RefreshInterval is the period of background refreshes, with ±10% jitter so a fleet does not fetch in
	// step. A shorter Cache-Control max-age from the server wins, down to one minute. Default 15 minutes.
	RefreshInterval time.Duration
	// RefreshCooldown is the least time between two fetches triggered by tokens with an unknown kid, so a
	// flood of random kids costs at most one fetch per cooldown. Default 5 seconds.
	RefreshCooldown time.Duration
	// MaxWait bounds how long a request waits for a refresh it triggered (an unknown kid, or no keys yet)
	// before it is refused. The request's own context can only shorten it. Default 2 seconds.
	MaxWait time.Duration
	// FetchTimeout bounds each HTTP fetch (discovery document or key set), and how long New waits.
	// Default 5 seconds.
	FetchTimeout time.Duration
	// MaxResponseSize caps the bytes read from a discovery document or key set. Default 1 MiB.
	MaxResponseSize int64
	// MaxStale is how long the last good keys stay in use while refreshes fail. Past it, verification answers
	// ErrKeysUnavailable rather than trusting keys the issuer may have revoked. Default 24 hours.
	MaxStale time.Duration
	// MaxRetryInterval caps the backoff between failed fetches; it bounds how long recovery takes once the
	// issuer is back. Default 15 seconds.
	MaxRetryInterval time.Duration
	// HTTPClient makes the requests. Default: a client with FetchTimeout. Whatever the client, redirects to
	// another origin are refused and each request is bounded by FetchTimeout.
	HTTPClient *http.Client
	// InsecureAllowHTTP accepts plain http key set and discovery URLs for any host, not only loopback: for a
	// docker-compose network (http://keycloak:8080/realms/main) or a sidecar that terminates TLS. Whoever
	// can alter traffic on that path can substitute keys and mint accepted tokens, so New logs a warning
	// for each http URL it accepts this way. Default false: https, or http on localhost, 127.0.0.0/8, ::1.
	InsecureAllowHTTP bool

	// shortTimersForTest lifts the floors below, so the package's own tests can refresh in milliseconds.
	shortTimersForTest bool
}

// Floors of JWKSOptions durations: anything shorter is a configuration error, almost always a number without
// a unit (RefreshInterval: 900 is 900ns). MaxWait may be sub-second (a request's latency budget); the others
// pace fetches against the issuer, and a sub-second period would hammer it.
const (
	minJWKSPeriod  = time.Second
	minJWKSMaxWait = time.Millisecond
)

// Defaults of JWKSOptions.
const (
	DefaultRefreshInterval  = 15 * time.Minute
	DefaultRefreshCooldown  = 5 * time.Second
	DefaultMaxWait          = 2 * time.Second
	DefaultFetchTimeout     = 5 * time.Second
	DefaultMaxResponseSize  = 1 << 20
	DefaultMaxStale         = 24 * time.Hour
	DefaultMaxRetryInterval = 15 * time.Second
)

func (o JWKSOptions) withDefaults() (JWKSOptions, []error) {
	var errs []error
	dur := func(name string, p *time.Duration, def, floor time.Duration) {
		switch {
		case *p < 0:
			errs = append(errs, fmt.Errorf("jwtauth: Config.JWKS.%s %s is negative: use 0 for the default %s", name, *p, def))
		case *p > 0 && *p < floor && !o.shortTimersForTest:
			errs = append(errs, fmt.Errorf("jwtauth: Config.JWKS.%s %s", name, belowFloor(*p, floor)))
		}
		if *p <= 0 {
			*p = def
		}
	}
	dur("RefreshInterval", &o.RefreshInterval, DefaultRefreshInterval, minJWKSPeriod)
	dur("RefreshCooldown", &o.RefreshCooldown, DefaultRefreshCooldown, minJWKSPeriod)
	dur("MaxWait", &o.MaxWait, DefaultMaxWait, minJWKSMaxWait)
	dur("FetchTimeout", &o.FetchTimeout, DefaultFetchTimeout, minJWKSPeriod)
	dur("MaxStale", &o.MaxStale, DefaultMaxStale, minJWKSPeriod)
	dur("MaxRetryInterval", &o.MaxRetryInterval, DefaultMaxRetryInterval, minJWKSPeriod)
	if o.MaxResponseSize < 0 {
		errs = append(errs, fmt.Errorf("jwtauth: Config.JWKS.MaxResponseSize %d is negative: use 0 for the default 1 MiB", o.MaxResponseSize))
	}
	if o.MaxResponseSize <= 0 {
		o.MaxResponseSize = DefaultMaxResponseSize
	}
	client := http.Client{Timeout: o.FetchTimeout}
	if o.HTTPClient != nil {
		client = *o.HTTPClient // a copy: the caller's client is not modified
	}
	client.CheckRedirect = sameOriginRedirects
	o.HTTPClient = &client
	return o, errs
}

// belowFloor says that d is under floor; a value under a millisecond is almost surely a count of seconds
// written without a unit, so the hint offers that reading.
func belowFloor(d, floor time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%s is below %s; did you mean %d * time.Second?", d, floor, int64(d))
	}
	return fmt.Sprintf("%s is below %s: use at least %s", d, floor, floor)
}

// sameOriginRedirects refuses redirects that leave the origin of the first request: a key set must come from
// where it was configured, not from wherever that server points.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 3 {
		return errors.New("stopped after 3 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		return fmt.Errorf("redirect from %s to another origin %s refused", first.Redacted(), req.URL.Redacted())
	}
	return nil
}

// RemoteJWKS fetches the issuer's keys from a JWK Set URL, keeps them cached, refreshes them in the
// background and when a token names an unknown kid. The URL must be https, except for loopback hosts
// (localhost, 127.0.0.0/8, ::1) used in development and tests, or with JWKSOptions.InsecureAllowHTTP.
func RemoteJWKS(jwksURL string) KeySource { return remoteJWKS{jwksURL: jwksURL} }

// Discover finds the issuer's JWK Set through OpenID Connect discovery
// (issuerURL + "/.well-known/openid-configuration"), then behaves as RemoteJWKS. The document's issuer must
// equal issuerURL, which must equal the TrustedIssuer's Issuer.
func Discover(issuerURL string) KeySource {
	return remoteJWKS{discoverIssuer: issuerURL, discover: true}
}

type remoteJWKS struct {
	jwksURL        string
	discoverIssuer string
	discover       bool
}

// String names the source: RemoteJWKS(url) or Discover(issuer).
func (s remoteJWKS) String() string {
	if s.discover {
		return fmt.Sprintf("Discover(%s)", s.discoverIssuer)
	}
	return fmt.Sprintf("RemoteJWKS(%s)", s.jwksURL)
}

func (s remoteJWKS) provider(issuer string, algs algSet, env sourceEnv) (keyProvider, error) {
	r := &remoteSource{issuer: issuer, jwksURL: s.jwksURL, discover: s.discoverIssuer, algs: algs, env: env, rescheduled: make(chan struct{}, 1)}
	if s.discover {
		if s.discoverIssuer == "" {
			return nil, errors.New("Discover: the issuer URL is empty: pass the issuer your tokens carry in iss, e.g. https://login.example.com")
		}
		if s.discoverIssuer != issuer {
			return nil, fmt.Errorf("Discover(%q) names another issuer than Issuer; they must be equal", s.discoverIssuer)
		}
		u, err := checkFetchURL(discoveryURL(issuer), env)
		if err != nil {
			return nil, fmt.Errorf("Discover: %w", err)
		}
		r.where = u
		return r, nil
	}
	u, err := checkFetchURL(s.jwksURL, env)
	if err != nil {
		return nil, fmt.Errorf("RemoteJWKS: %w", err)
	}
	r.jwksURL, r.where = u, u
	return r, nil
}

func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// checkFetchURL requires an absolute https URL, or http for a loopback host or with InsecureAllowHTTP (then
// it logs a warning: the keys can be substituted by anyone on the network path).
func checkFetchURL(raw string, env sourceEnv) (string, error) {
	if i := strings.IndexFunc(raw, unicode.IsSpace); i >= 0 {
		return "", fmt.Errorf("URL %q contains whitespace at byte %d (a trailing newline from a file or environment variable?): remove it", raw, i)
	}
	if raw == "" {
		return "", errors.New("the URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("URL %q does not parse: %v", raw, err)
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("URL %q has no host", raw)
	}
	if u.User != nil {
		return "", fmt.Errorf("URL %q carries credentials; they would leak into logs", u.Redacted())
	}
	switch u.Scheme {
	case "https":
	case "http":
		if isLoopback(u.Hostname()) {
			break
		}
		if !env.opts.InsecureAllowHTTP {
			return "", fmt.Errorf("URL %q is http; key sets must be fetched over https (http is allowed for localhost, 127.0.0.0/8 and ::1; for a private network such as docker-compose, set JWKSOptions.InsecureAllowHTTP)", raw)
		}
		env.logger.Warn("jwtauth: fetching keys over plain http (JWKSOptions.InsecureAllowHTTP): anyone who can alter this traffic can substitute the keys and mint accepted tokens",
			"url", u.Redacted())
	default:
		return "", fmt.Errorf("URL %q must be https", raw)
	}
	return u.String(), nil
}

// isLoopback reports whether host is localhost, in 127.0.0.0/8, or ::1. Names are not resolved.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startupError marks a fetch failure that no retry can fix: the URL answers 4xx, the discovery document names
// another issuer, or no key fits Algorithms. New reports it when it ends the first load, instead of starting
// a Verifier whose keys will never load; after a first success it is retried like any other failure.
type startupError struct{ error }

func (e startupError) Unwrap() error { return e.error }

// startupError returns the error of a failed first load when no retry can fix it, else nil.
func (s *remoteSource) startupError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set.Load() != nil || s.lastErr == nil || !errors.As(s.lastErr, new(startupError)) {
		return nil
	}
	return s.lastErr
}

// remoteSource is the fetch-and-cache engine of a remote key set. Readers load the snapshot atomically and
// never lock; fetches are de-duplicated (one in flight, shared by every waiter, on the Verifier's context and
// never a request's) and triggered fetches are rate-limited by the cooldown.
type remoteSource struct {
	issuer   string
	jwksURL  string // known from the start, or found by discovery
	discover string // issuer to discover; "" for a plain RemoteJWKS
	where    string // for logs
	algs     algSet
	env      sourceEnv

	set atomic.Pointer[keySet]

	mu            sync.Mutex
	ctx           context.Context
	wg            *sync.WaitGroup
	stopped       bool
	inflight      chan struct{}
	lastTriggered time.Time // start of the last fetch triggered by a request, for the cooldown
	lastErr       error
	failures      int
	nextDelay     time.Duration
	// rescheduled wakes the loop when a fetch it did not start has set a new delay.
	rescheduled chan struct{}
}

func (s *remoteSource) current(now time.Time) (*keySet, error) {
	ks := s.set.Load()
	if ks == nil {
		s.mu.Lock()
		err := s.lastErr
		s.mu.Unlock()
		if err == nil {
			err = errors.New("keys not loaded yet")
		}
		return nil, err
	}
	if now.Sub(ks.loadedAt) > s.env.opts.MaxStale {
		return nil, fmt.Errorf("last good keys loaded at %s are older than JWKS.MaxStale %s", ks.loadedAt.UTC().Format(time.RFC3339), s.env.opts.MaxStale)
	}
	return ks, nil
}

func (s *remoteSource) refresh() <-chan struct{} { return s.trigger(TriggerUnknownKey) }

func (s *remoteSource) info() KeySetInfo {
	s.mu.Lock()
	info := KeySetInfo{URL: s.jwksURL, LastError: s.lastErr}
	s.mu.Unlock()
	if info.URL == "" {
		info.URL = s.where
	}
	if ks := s.set.Load(); ks != nil {
		info.Keys, info.LoadedAt = ks.size, ks.loadedAt
	}
	return info
}

func (s *remoteSource) start(ctx context.Context, wg *sync.WaitGroup) <-chan struct{} {
	s.mu.Lock()
	s.ctx, s.wg = ctx, wg
	s.mu.Unlock()
	first := s.trigger(TriggerStartup)
	wg.Add(1)
	go s.loop(first)
	return first
}

func (s *remoteSource) stop() {
	s.mu.Lock()
	s.stopped = true
	s.mu.Unlock()
}

// loop refreshes periodically: at the refresh interval after a success, with capped exponential backoff after
// a failure. Every completed fetch, triggered or periodic, reschedules the next one.
func (s *remoteSource) loop(first <-chan struct{}) {
	defer s.wg.Done()
	select {
	case <-first:
	case <-s.ctx.Done():
		return
	}
	for {
		s.mu.Lock()
		d := s.nextDelay
		s.mu.Unlock()
		timer := time.NewTimer(d)
		select {
		case <-timer.C:
			done := s.trigger(TriggerPeriodic)
			if done == nil {
				return
			}
			select {
			case <-done:
			case <-s.ctx.Done():
				return
			}
		case <-s.rescheduled:
			timer.Stop()
		case <-s.ctx.Done():
			timer.Stop()
			return
		}
	}
}

// trigger starts a fetch unless one is in flight (then it shares it) or, for a fetch asked for by a request
// (TriggerUnknownKey), the last such fetch started within the cooldown (then it returns nil). Periodic fetches
// do not count towards the cooldown, so a rotation right after one is still picked up at once.
func (s *remoteSource) trigger(why FetchTrigger) <-chan struct{} {
	force := why != TriggerUnknownKey
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil || s.stopped || s.ctx.Err() != nil {
		return nil
	}
	if s.inflight != nil {
		return s.inflight
	}
	if !force {
		if time.Since(s.lastTriggered) < s.env.opts.RefreshCooldown {
			return nil
		}
		s.lastTriggered = time.Now()
	}
	ch := make(chan struct{})
	s.inflight = ch
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		start := time.Now()
		out, maxAge := s.fetch()
		out.Duration, out.Trigger, out.Issuer = time.Since(start), why, s.issuer
		s.mu.Lock()
		s.record(maxAge, out.Err)
		s.inflight = nil
		s.mu.Unlock()
		close(ch)
		if !force {
			select {
			case s.rescheduled <- struct{}{}:
			default:
			}
		}
		// After the waiters are released and outside the lock, so a slow hook delays no request.
		if s.env.onFetch != nil {
			s.env.onFetch(out)
		}
	}()
	return ch
}

// record sets the next delay from a fetch result; s.mu is held. After a success it is the refresh interval,
// or the server's shorter max-age (not under a minute); after a failure, a capped exponential backoff.
func (s *remoteSource) record(maxAge time.Duration, err error) {
	o := s.env.opts
	if err == nil {
		s.failures, s.lastErr = 0, nil
		s.nextDelay = o.RefreshInterval
		if maxAge > 0 {
			s.nextDelay = max(min(maxAge, o.RefreshInterval), min(time.Minute, o.RefreshInterval))
		}
		s.nextDelay = jitter(s.nextDelay)
		return
	}
	s.lastErr = err
	s.failures++
	d := time.Second << min(s.failures-1, 10)
	s.nextDelay = jitter(min(d, o.MaxRetryInterval))
}

// jitter spreads d by ±10%.
func jitter(d time.Duration) time.Duration {
	return d - d/10 + time.Duration(rand.Int64N(int64(d/5)+1))
}

// fetch loads the key set once (after discovery if needed) and swaps it in when it has a usable key.
// A failed, empty or unusable response leaves the last good keys in place. It returns the outcome (without
// the fields trigger fills in) and the server's max-age.
func (s *remoteSource) fetch() (FetchOutcome, time.Duration) {
	o := s.env.opts
	ctx, cancel := context.WithTimeout(s.ctx, o.FetchTimeout)
	defer cancel()
	s.mu.Lock()
	jwksURL := s.jwksURL
	s.mu.Unlock()
	if jwksURL == "" {
		u, err := s.discoverJWKS(ctx)
		if err != nil {
			s.env.logger.Warn("jwtauth: OpenID discovery failed; retrying with backoff", "issuer", s.discover, "error", err.Error())
			return FetchOutcome{URL: s.where, Result: resultOf(err), Err: err}, 0
		}
		s.mu.Lock()
		s.jwksURL, jwksURL = u, u
		s.mu.Unlock()
	}
	body, maxAge, err := s.get(ctx, jwksURL)
	if err == nil {
		var keys []*pubKey
		keys, err = parseJWKSet(body, false, s.algs, s.env.logger, jwksURL)
		if err != nil {
			err = invalidDoc(err)
		} else {
			ks := newKeySet(keys, s.env.now(), s.env.logger, jwksURL)
			if ks.size == 0 {
				err = invalidDoc(errors.New("no usable key in the key set"))
			} else {
				result := FetchOK
				if ks.sameKeys(s.set.Load()) {
					result = FetchUnchanged
				}
				s.set.Store(ks)
				s.env.logger.Debug("jwtauth: key set loaded", "url", jwksURL, "keys", ks.size)
				return FetchOutcome{URL: jwksURL, Result: result, Keys: ks.size}, maxAge
			}
		}
	}
	if errors.As(err, new(startupError)) && strings.HasPrefix(err.Error(), "HTTP status 4") {
		err = fmt.Errorf("%w: is the key set URL right? For OpenID providers it is the discovery document's jwks_uri", err)
	}
	err = fmt.Errorf("fetching key set %s: %w", jwksURL, err)
	if s.set.Load() != nil {
		s.env.logger.Warn("jwtauth: key set refresh failed; keeping the last good keys", "url", jwksURL, "error", err.Error())
	} else {
		s.env.logger.Warn("jwtauth: key set fetch failed; retrying with backoff", "url", jwksURL, "error", err.Error())
	}
	return FetchOutcome{URL: jwksURL, Result: resultOf(err), Err: err}, 0
}

func (s *remoteSource) discoverJWKS(ctx context.Context) (string, error) {
	body, _, err := s.get(ctx, s.where)
	if err != nil {
		if errors.As(err, new(startupError)) {
			return "", fmt.Errorf("fetching discovery document %s: %w: is Issuer right? The document must be at Issuer + /.well-known/openid-configuration", s.where, err)
		}
		return "", fmt.Errorf("fetching discovery document: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	// The strict pass refuses names equal under case folding ("issuer" and "ISSUER"), which encoding/json
	// would read as one member, the last one winning.
	if r := (jsonReader{b: body}); !r.object(0, nil) || !r.end() {
		return "", invalidDoc(fmt.Errorf("discovery document %s is not one strict JSON object: %s", s.where, r.err))
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", invalidDoc(fmt.Errorf("discovery document %s is not JSON: %v", s.where, err))
	}
	if doc.Issuer != s.discover {
		hint := ""
		if strings.TrimSuffix(doc.Issuer, "/") == strings.TrimSuffix(s.discover, "/") {
			hint = fmt.Sprintf(" (they differ only by a trailing slash: set Issuer to %s, the spelling the provider's tokens carry in iss)", quote(doc.Issuer))
		}
		return "", startupError{invalidDoc(fmt.Errorf("discovery document %s names issuer %s, not the configured %q%s", s.where, quote(doc.Issuer), s.discover, hint))}
	}
	u, err := checkFetchURL(doc.JWKSURI, s.env)
	if err != nil {
		return "", startupError{invalidDoc(fmt.Errorf("discovery document jwks_uri: %w", err))}
	}
	return u, nil
}

// get fetches a URL with the size cap, returning the body and the Cache-Control max-age (0 when absent).
func (s *remoteSource) get(ctx context.Context, u string) ([]byte, time.Duration, error) {
	o := s.env.opts
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, invalidDoc(err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		code := resp.StatusCode
		if code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests {
			// The server says the request itself is wrong (no such URL, no access): retrying cannot help.
			return nil, 0, startupError{fetchError{httpResult(code), fmt.Errorf("HTTP status %d %s", code, http.StatusText(code))}}
		}
		return nil, 0, statusErr(code)
	}
	if resp.ContentLength > o.MaxResponseSize {
		return nil, 0, invalidDoc(fmt.Errorf("response of %d bytes exceeds JWKS.MaxResponseSize %d", resp.ContentLength, o.MaxResponseSize))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "text/html" {
			return nil, 0, invalidDoc(errors.New("response is an HTML page, not JSON (wrong URL?)"))
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxResponseSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(body)) > o.MaxResponseSize {
		return nil, 0, invalidDoc(fmt.Errorf("response exceeds JWKS.MaxResponseSize %d bytes", o.MaxResponseSize))
	}
	return body, maxAge(resp.Header.Get("Cache-Control")), nil
}

// maxAge reads max-age from a Cache-Control value; 0 when absent or invalid.
func maxAge(cc string) time.Duration {
	for _, d := range strings.Split(cc, ",") {
		d = strings.TrimSpace(d)
		if v, ok := strings.CutPrefix(strings.ToLower(d), "max-age="); ok {
			if n, err := strconv.Atoi(strings.Trim(v, `"`)); err == nil && n > 0 {
				return time.Duration(min(n, 7*24*3600)) * time.Second
			}
		}
	}
	return 0
}
