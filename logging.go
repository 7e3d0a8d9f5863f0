package jwtauth

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Refusal logging: every refused token is logged at INFO (the default level, so a server built from the
// quickstart says why it answers 401), rate-limited per reason so a flood of bad tokens cannot flood the log.

const (
	// refusalLogBurst is how many refusals of one reason are logged per refusalLogWindow.
	refusalLogBurst = 10
	// refusalLogWindow is the interval of the per-reason budget; past it, the count of refusals that were not
	// logged is reported in one line.
	refusalLogWindow = time.Minute
)

// refusalLog rate-limits refusal log lines with a fixed window per failure kind: at most refusalLogBurst
// lines per reason per window, then one "not logged" summary with the count when the next window begins
// (on the next refusal of that reason, or at Close). It needs no goroutine and takes the Verifier's clock.
type refusalLog struct {
	logger  *slog.Logger
	now     func() time.Time
	mu      sync.Mutex
	buckets map[*failure]*logBucket // bounded: one entry per failure kind, which are package-level values
}

type logBucket struct {
	start      time.Time
	logged     int
	suppressed int
}

func newRefusalLog(logger *slog.Logger, now func() time.Time) *refusalLog {
	return &refusalLog{logger: logger, now: now, buckets: map[*failure]*logBucket{}}
}

// log records one refusal. err is normally an *Error; its message quotes and truncates anything taken from
// the token, and the token itself is never logged.
func (l *refusalLog) log(ctx context.Context, err error) {
	if l == nil || !l.logger.Enabled(ctx, slog.LevelInfo) {
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = newError(failMalformed, err.Error())
	}
	now := l.now()
	l.mu.Lock()
	b := l.buckets[e.kind]
	if b == nil {
		b = &logBucket{start: now}
		l.buckets[e.kind] = b
	}
	missed := 0
	if now.Sub(b.start) >= refusalLogWindow || now.Before(b.start) {
		missed = b.suppressed
		*b = logBucket{start: now}
	}
	ok := b.logged < refusalLogBurst
	if ok {
		b.logged++
	} else {
		b.suppressed++
	}
	l.mu.Unlock()
	if missed > 0 {
		l.summary(ctx, e.kind, missed)
	}
	if ok {
		l.logger.InfoContext(ctx, "jwtauth: token refused", "reason", e.Description(), "status", e.Status(), "error", e.Error())
	}
}

func (l *refusalLog) summary(ctx context.Context, kind *failure, n int) {
	l.logger.InfoContext(ctx, "jwtauth: more tokens refused than logged", "reason", kind.phrase, "not_logged", n,
		"logged_per_minute", refusalLogBurst)
}

// LogRefusal logs a refused request as RequireAuth does: at INFO, rate-limited per reason, with the error's
// message (values from the token quoted and truncated) and never the token; ErrNoToken, the first step of a
// challenge, is not logged. Verify logs its own refusals already: call it for the others (BearerToken's,
// CheckScopes', CheckRoles', a Deny) when adapting jwtauth to another transport.
func (v *Verifier) LogRefusal(ctx context.Context, err error) {
	if err != nil && !errors.Is(err, ErrNoToken) {
		v.refusals.log(ctx, err)
	}
}

// flush reports the refusals not logged yet, at Close.
func (l *refusalLog) flush() {
	if l == nil {
		return
	}
	l.mu.Lock()
	type pending struct {
		kind *failure
		n    int
	}
	var out []pending
	for k, b := range l.buckets {
		if b.suppressed > 0 {
			out = append(out, pending{k, b.suppressed})
			b.suppressed = 0
		}
	}
	l.mu.Unlock()
	for _, p := range out {
		l.summary(context.Background(), p.kind, p.n)
	}
}
