package main

import (
	"context"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limits are the login attempt limits of CONTRACTS.md and the registration limits. Zero fields mean the
// defaults below.
type limits struct {
	IPPerMinute   int           // login attempts per client IP per minute (token bucket refill)
	IPBurst       int           // bucket size
	EmailFailures int           // failed attempts per email within EmailWindow
	EmailWindow   time.Duration // the sliding window of EmailFailures
	// MaxKeys caps how many IPs and how many emails are tracked, each: an attacker spraying addresses or
	// emails cannot grow memory without bound.
	MaxKeys int

	// Registration limits: every attempt counts against the client's IP (so probing which emails exist is
	// limited too); only registrations about to hash a password count against the global bucket, so that junk
	// requests cannot spend everyone's budget.
	RegisterIPPerHour int // registration attempts per client IP per hour (token bucket refill)
	RegisterIPBurst   int // bucket size
	RegisterPerMinute int // registrations that reach password hashing, all clients together, per minute
	RegisterBurst     int // bucket size

	// POST /token/refresh per client IP per minute (token bucket refill), and its bucket size.
	RefreshIPPerMinute int
	RefreshIPBurst     int
}

func (l limits) withDefaults() limits {
	if l.IPPerMinute == 0 {
		l.IPPerMinute = 30
	}
	if l.IPBurst == 0 {
		l.IPBurst = 30
	}
	if l.EmailFailures == 0 {
		l.EmailFailures = 5
	}
	if l.EmailWindow == 0 {
		l.EmailWindow = 15 * time.Minute
	}
	if l.MaxKeys == 0 {
		l.MaxKeys = 100_000
	}
	if l.RefreshIPPerMinute == 0 {
		l.RefreshIPPerMinute = 60
	}
	if l.RefreshIPBurst == 0 {
		l.RefreshIPBurst = 60
	}
	if l.RegisterIPPerHour == 0 {
		l.RegisterIPPerHour = 30
	}
	if l.RegisterIPBurst == 0 {
		l.RegisterIPBurst = 30
	}
	if l.RegisterPerMinute == 0 {
		l.RegisterPerMinute = 60
	}
	if l.RegisterBurst == 0 {
		l.RegisterBurst = 60
	}
	return l
}

// Outcomes of a login attempt, for the per-email limit.
const (
	attemptSucceeded = iota
	attemptFailed
	attemptAbandoned // the client went away or the server failed: neither a guess nor a proof
)

const (
	// sweepEvery is how often idle entries are dropped during normal traffic.
	sweepEvery = time.Minute
	// minSweepGap keeps a full table from costing a whole scan on every new key: between scans, room is made by
	// evicting one entry at random.
	minSweepGap = time.Second
)

// loginLimiter enforces both login limits: a token bucket per client IP, and a sliding window of failed
// attempts per email. It has no goroutine: idle entries are swept as requests come in.
type loginLimiter struct {
	lim    limits
	ipRate rate.Limit // refill of each IP's bucket, whose size is lim.IPBurst
	now    func() time.Time

	mu        sync.Mutex
	ips       map[string]*ipEntry
	emails    map[string]*emailEntry
	lastSweep time.Time
}

type ipEntry struct{ bucket *rate.Limiter }

type emailEntry struct {
	fails    []time.Time // failures inside the window, oldest first, at most EmailFailures
	inFlight int         // attempts being checked right now
}

func newLoginLimiter(l limits, now func() time.Time) *loginLimiter {
	if now == nil {
		now = time.Now
	}
	l = l.withDefaults()
	return &loginLimiter{
		lim:    l,
		ipRate: perSecond(l.IPPerMinute, time.Minute),
		now:    now,
		ips:    make(map[string]*ipEntry),
		emails: make(map[string]*emailEntry),
	}
}

// allowIP takes one login attempt from ip's bucket. When the bucket is empty it returns false and how long until
// the next attempt is allowed.
func (l *loginLimiter) allowIP(ip string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)
	e := l.ips[ip]
	if e == nil {
		makeRoom(l, l.ips, now, func(*ipEntry) bool { return true })
		e = &ipEntry{bucket: rate.NewLimiter(l.ipRate, l.lim.IPBurst)}
		l.ips[ip] = e
	}
	return take(e.bucket, now)
}

// take takes one token from b at now; when there is none it returns false and how long until there is.
func take(b *rate.Limiter, now time.Time) (bool, time.Duration) {
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// rateLimit is one rate limit: a token bucket per key. take counts one request against key; when the bucket
// is empty it returns false and how long until the next request is allowed. In process (ipLimit, globalLimit)
// or, with REDIS_URL, shared by the replicas (redisLimit, redisstate.go).
type rateLimit interface {
	take(ctx context.Context, key string) (bool, time.Duration)
}

// failureLimit is the per-email failed-login limit; begin is loginLimiter.beginEmail.
type failureLimit interface {
	begin(ctx context.Context, email string) (done func(outcome int), ok bool, retry time.Duration)
}

// ipLimit is the IP table of a loginLimiter as a rateLimit.
type ipLimit struct{ l *loginLimiter }

func (l ipLimit) take(_ context.Context, key string) (bool, time.Duration) { return l.l.allowIP(key) }

// emailLimit is the email table of a loginLimiter as a failureLimit.
type emailLimit struct{ l *loginLimiter }

func (l emailLimit) begin(_ context.Context, email string) (func(int), bool, time.Duration) {
	return l.l.beginEmail(email)
}

// globalLimit is one token bucket for all clients together (registrations that reach password hashing).
type globalLimit struct {
	b   *rate.Limiter
	now func() time.Time
}

func newGlobalLimit(n int, per time.Duration, burst int, now func() time.Time) globalLimit {
	return globalLimit{b: rate.NewLimiter(perSecond(n, per), burst), now: now}
}

func (l globalLimit) take(context.Context, string) (bool, time.Duration) { return take(l.b, l.now()) }

// perSecond is n per period as a rate.Limit.
func perSecond(n int, per time.Duration) rate.Limit { return rate.Limit(float64(n) / per.Seconds()) }

// beginEmail starts a login attempt for email (lower-cased by the caller). It refuses when the email already
// has EmailFailures failures inside the window, counting attempts still in flight, so that concurrent guesses
// cannot slip past the limit. When ok, the caller must call done with the attempt's outcome (attemptSucceeded,
// attemptFailed or attemptAbandoned).
func (l *loginLimiter) beginEmail(email string) (done func(outcome int), ok bool, retry time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.maybeSweep(now)
	e := l.emails[email]
	if e == nil {
		makeRoom(l, l.emails, now, func(e *emailEntry) bool { return e.inFlight == 0 })
		e = &emailEntry{}
		l.emails[email] = e
	}
	e.prune(now, l.lim.EmailWindow)
	if len(e.fails)+e.inFlight >= l.lim.EmailFailures {
		retry = time.Second // only in-flight attempts are in the way: they finish soon
		if len(e.fails) >= l.lim.EmailFailures {
			retry = e.fails[len(e.fails)-l.lim.EmailFailures].Add(l.lim.EmailWindow).Sub(now)
		}
		return nil, false, retry
	}
	e.inFlight++
	var once sync.Once
	return func(outcome int) { once.Do(func() { l.endEmail(e, outcome) }) }, true, 0
}

// endEmail records the outcome of an attempt. e is still in l.emails: entries with attempts in flight are
// never swept or evicted.
func (l *loginLimiter) endEmail(e *emailEntry, outcome int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	e.inFlight--
	switch outcome {
	case attemptSucceeded:
		// A successful login clears the failures: the owner proved they know the password.
		e.fails = nil
	case attemptFailed:
		e.prune(now, l.lim.EmailWindow)
		e.fails = append(e.fails, now)
		if over := len(e.fails) - l.lim.EmailFailures; over > 0 {
			e.fails = append(e.fails[:0], e.fails[over:]...)
		}
	}
}

func (e *emailEntry) prune(now time.Time, window time.Duration) {
	n := 0
	for n < len(e.fails) && !now.Before(e.fails[n].Add(window)) {
		n++
	}
	if n > 0 {
		e.fails = append(e.fails[:0], e.fails[n:]...)
	}
}

func (e *emailEntry) idle(now time.Time, window time.Duration) bool {
	e.prune(now, window)
	return len(e.fails) == 0 && e.inFlight == 0
}

func (e *ipEntry) idle(now time.Time) bool {
	// A full bucket behaves exactly like a new one, so dropping it loses nothing.
	return e.bucket.TokensAt(now) >= float64(e.bucket.Burst())
}

// maybeSweep drops idle entries once per sweepEvery. Called with l.mu held.
func (l *loginLimiter) maybeSweep(now time.Time) {
	if now.Sub(l.lastSweep) >= sweepEvery {
		l.sweep(now)
	}
}

func (l *loginLimiter) sweep(now time.Time) {
	l.lastSweep = now
	for k, e := range l.ips {
		if e.idle(now) {
			delete(l.ips, k)
		}
	}
	for k, e := range l.emails {
		if e.idle(now, l.lim.EmailWindow) {
			delete(l.emails, k)
		}
	}
}

// makeRoom makes room for one more key in m, a table of l: first by sweeping idle entries (at most once per
// minSweepGap), then by evicting a random evictable entry. Random eviction keeps the cost constant; to push a
// given entry out an attacker must insert on the order of MaxKeys new keys, which the per-IP limit makes slow.
// Called with l.mu held.
func makeRoom[E any](l *loginLimiter, m map[string]E, now time.Time, evictable func(E) bool) {
	if len(m) < l.lim.MaxKeys {
		return
	}
	if now.Sub(l.lastSweep) >= minSweepGap {
		l.sweep(now)
	}
	for k, e := range m { // map iteration order is random
		if len(m) < l.lim.MaxKeys {
			return
		}
		if evictable(e) {
			delete(m, k)
		}
	}
}

// tracked reports the number of IPs and emails held, for tests.
func (l *loginLimiter) tracked() (ips, emails int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.ips), len(l.emails)
}

// retryAfterSeconds renders d for a Retry-After header: whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// clientIP returns the address the request comes from: the peer, unless the peer is a trusted proxy, in which
// case the right-most X-Forwarded-For entry that is not itself a trusted proxy. Entries left of that one were
// written by the client and prove nothing.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	if !peer.IsValid() || !inPrefixes(peer, trusted) {
		return peer
	}
	client := peer
	values := r.Header.Values("X-Forwarded-For")
	for i := len(values) - 1; i >= 0; i-- {
		hops := strings.Split(values[i], ",")
		for j := len(hops) - 1; j >= 0; j-- {
			a := parseHostAddr(strings.TrimSpace(hops[j]))
			if !a.IsValid() {
				// Garbage where a trusted proxy should have written an address: trust nothing further left.
				return client
			}
			client = a
			if !inPrefixes(a, trusted) {
				return a
			}
		}
	}
	return client
}

// parseHostAddr parses "ip", "ip:port" or "[ipv6]:port", dropping any zone and unmapping IPv4-in-IPv6.
func parseHostAddr(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		host, _, serr := net.SplitHostPort(s)
		if serr != nil {
			return netip.Addr{}
		}
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.Addr{}
		}
	}
	return a.WithZone("").Unmap()
}

func inPrefixes(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// limiterKey is the rate-limit bucket of a client address: IPv6 clients by their /64, since a single host
// usually has a whole /64 to pick addresses from.
func limiterKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
