package jwtauth

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Revocations says whether a token that passed every other check of Verify has been revoked: logged out,
// or its subject deactivated, deleted or changed their password. Set it as Config.Revocations. Verify asks it
// last, for every accepted token, on verified-token cache hits too, so a revocation takes effect on the next
// request. It must be safe for concurrent use and fast: it runs on every request.
//
// An error from Revoked fails closed: the token is refused with 503 temporarily_unavailable and Retry-After
// (ErrRevocationUnavailable), as when no signing keys are available, since the client's token may be fine and
// it should retry rather than discard it. A revocation store that is down must never let a revoked token in.
//
// RevocationList is the in-memory implementation, for one process. Replicas that must share revocations
// implement Revocations over a shared store (Redis, a database); key it on (Claims.Issuer, Claims.ID) and
// (Claims.Issuer, Claims.Subject), never on the token string.
type Revocations interface {
	Revoked(ctx context.Context, c *Claims) (bool, error)
}

// ErrRevocationListFull means a RevocationList holds its maximum of unexpired revocations and refused a new
// one. Evicting an old revocation instead would silently accept a revoked token again, so the caller must
// treat this as a failed revocation (answer 503, or revoke more broadly with RevokeSubject on an existing key).
var ErrRevocationListFull = errors.New("jwtauth: revocation list full")

// revocationRetention is how long past a token's exp a revocation is kept: a Verifier accepts a token until
// exp plus its Leeway, which is at most MaxLeeway.
const revocationRetention = MaxLeeway

// RevocationList is a bounded in-memory Revocations: revoked token IDs (jti) and subjects whose tokens issued
// up to a time are revoked (logout everywhere, password change, deactivation). Each entry is kept until the
// tokens it revokes have expired (plus MaxLeeway), then dropped, so the list stays bounded by the revocations
// of one maximum token lifetime; past maxEntries unexpired entries, new revocations fail with
// ErrRevocationListFull instead of evicting one (that would un-revoke a token). It lives in one process and
// is lost on restart: persist revocations yourself and replay them at startup if that matters.
type RevocationList struct {
	mu       sync.Mutex
	max      int
	now      func() time.Time
	tokens   map[revocationKey]*revocation // (iss, jti)
	subjects map[revocationKey]*revocation // (iss, sub)
	expiry   revocationHeap
}

type revocationKey struct{ issuer, id string }

type revocation struct {
	key          revocationKey
	subject      bool
	issuedBefore time.Time // subject revocations: tokens with iat at or before this are revoked
	until        time.Time // dropped after this
	index        int       // in expiry
}

// NewRevocationList returns an empty list holding at most maxEntries unexpired revocations (at least 1).
// clock is the time source for expiry; nil means time.Now.
func NewRevocationList(maxEntries int, clock func() time.Time) *RevocationList {
	if clock == nil {
		clock = time.Now
	}
	return &RevocationList{max: max(1, maxEntries), now: clock,
		tokens: map[revocationKey]*revocation{}, subjects: map[revocationKey]*revocation{}}
}

// RevokeToken revokes the token of issuer with jti id, which expires at expires (its exp claim). A token
// already expired needs no entry and is not added.
func (l *RevocationList) RevokeToken(issuer, id string, expires time.Time) error {
	if issuer == "" || id == "" {
		return fmt.Errorf("jwtauth: RevokeToken needs the token's issuer and jti (got issuer %q, jti %q)", cut(issuer), cut(id))
	}
	return l.add(l.tokens, revocationKey{issuer, id}, false, time.Time{}, expires)
}

// RevokeSubject revokes every token of issuer for subject issued at or before issuedBefore, and tokens
// without iat. iat has one-second resolution, so a token issued in the same second as issuedBefore is revoked
// too. The entry is kept until latestExpiry: issuedBefore plus the longest lifetime of the issuer's tokens.
// Revoking a subject again moves issuedBefore forward, never back.
func (l *RevocationList) RevokeSubject(issuer, subject string, issuedBefore, latestExpiry time.Time) error {
	if issuer == "" || subject == "" {
		return fmt.Errorf("jwtauth: RevokeSubject needs the issuer and subject (got issuer %q, sub %q)", cut(issuer), cut(subject))
	}
	return l.add(l.subjects, revocationKey{issuer, subject}, true, issuedBefore, latestExpiry)
}

func (l *RevocationList) add(m map[revocationKey]*revocation, k revocationKey, subject bool, before, expires time.Time) error {
	now := l.now()
	until := expires.Add(revocationRetention)
	if !until.After(now) {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.dropExpired(now)
	if r := m[k]; r != nil {
		if before.After(r.issuedBefore) {
			r.issuedBefore = before
		}
		if until.After(r.until) {
			r.until = until
			heap.Fix(&l.expiry, r.index)
		}
		return nil
	}
	if len(l.expiry) >= l.max {
		return fmt.Errorf("%w: %d unexpired revocations, the maximum given to NewRevocationList; raise it or shorten token lifetimes", ErrRevocationListFull, l.max)
	}
	r := &revocation{key: k, subject: subject, issuedBefore: before, until: until}
	m[k] = r
	heap.Push(&l.expiry, r)
	return nil
}

// dropExpired removes entries whose tokens can no longer be accepted; each costs O(log n).
func (l *RevocationList) dropExpired(now time.Time) {
	for len(l.expiry) > 0 && !l.expiry[0].until.After(now) {
		r := heap.Pop(&l.expiry).(*revocation)
		if r.subject {
			delete(l.subjects, r.key)
		} else {
			delete(l.tokens, r.key)
		}
	}
}

// Revoked implements Revocations. It never fails.
func (l *RevocationList) Revoked(_ context.Context, c *Claims) (bool, error) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.ID != "" {
		if r := l.tokens[revocationKey{c.Issuer, c.ID}]; r != nil && r.until.After(now) {
			return true, nil
		}
	}
	if r := l.subjects[revocationKey{c.Issuer, c.Subject}]; r != nil && r.until.After(now) {
		// No iat: when it was issued is unknown, so it may predate the revocation.
		if c.IssuedAt.IsZero() || !c.IssuedAt.After(r.issuedBefore) {
			return true, nil
		}
	}
	return false, nil
}

// Len returns the number of revocations held, expired ones not yet dropped included.
func (l *RevocationList) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.expiry)
}

// revocationHeap orders revocations by until, soonest first (container/heap).
type revocationHeap []*revocation

func (h revocationHeap) Len() int           { return len(h) }
func (h revocationHeap) Less(i, j int) bool { return h[i].until.Before(h[j].until) }
func (h revocationHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *revocationHeap) Push(x any) {
	r := x.(*revocation)
	r.index = len(*h)
	*h = append(*h, r)
}
func (h *revocationHeap) Pop() any {
	old := *h
	r := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return r
}

// checkRevoked asks Config.Revocations about claims that passed every other check.
func (v *Verifier) checkRevoked(ctx context.Context, c *Claims) error {
	revoked, err := v.revocations.Revoked(ctx, c)
	switch {
	case err != nil:
		return &Error{kind: failRevocationUnavailable, msg: fmt.Sprintf("revocation status of the token of issuer %s could not be read (Config.Revocations): %v", quote(c.Issuer), err), cause: err}
	case revoked:
		return newError(failRevoked, fmt.Sprintf("token of issuer %s, subject %s, was revoked", quote(c.Issuer), quote(c.Subject)))
	}
	return nil
}
