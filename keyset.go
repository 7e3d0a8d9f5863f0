package jwtauth

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"time"
)

// pubKey is one verification key, pinned to its family and, when the JWK said so, to one algorithm.
type pubKey struct {
	kid  string
	wild bool // a local key given without kid: matches tokens with any kid
	fam  keyFamily
	alg  string // the JWK's alg, "" when absent
	// issuer is the JWK's issuer member (Entra ID), "" when absent: the key then signs only for that issuer,
	// {tenantid} standing for the token's tid.
	issuer string
	key    crypto.PublicKey
	// private is true when the key was configured as a private key, of which only the public part is used.
	private bool
}

type kidFam struct {
	kid string
	fam keyFamily
}

// keySet is an immutable snapshot of an issuer's keys, swapped atomically on refresh.
type keySet struct {
	byID     map[kidFam]*pubKey
	byFam    [famEd25519 + 1][]*pubKey
	wild     [famEd25519 + 1][]*pubKey
	loadedAt time.Time
	size     int
}

func newKeySet(keys []*pubKey, loadedAt time.Time, logger *slog.Logger, where string) *keySet {
	ks := &keySet{byID: make(map[kidFam]*pubKey, len(keys)), loadedAt: loadedAt}
	dup := map[kidFam]bool{}
	for _, k := range keys {
		if k.wild {
			continue
		}
		id := kidFam{k.kid, k.fam}
		if ks.byID[id] != nil {
			dup[id] = true
		}
		ks.byID[id] = k
	}
	for id := range dup {
		// Two keys answer to the same kid: either could be the one meant, so neither is used.
		delete(ks.byID, id)
		logger.Warn("jwtauth: key set has several keys with one kid and type; none of them is used",
			"source", where, "kid", id.kid, "type", id.fam.String())
	}
	for _, k := range keys {
		if !k.wild && dup[kidFam{k.kid, k.fam}] {
			continue
		}
		ks.byFam[k.fam] = append(ks.byFam[k.fam], k)
		if k.wild {
			ks.wild[k.fam] = append(ks.wild[k.fam], k)
		}
		ks.size++
	}
	return ks
}

// lookup finds the one key that may verify a token with this header, or says why there is none.
// notFound is true when a refresh could help (the kid is unknown).
func (ks *keySet) lookup(h *header, alg *algInfo) (k *pubKey, notFound bool, err error) {
	fits := func(k *pubKey) bool { return k.alg == "" || k.alg == alg.name }
	if h.hasKID {
		if k := ks.byID[kidFam{h.kid, alg.fam}]; k != nil {
			if !fits(k) {
				return nil, false, newError(failUnknownKey, fmt.Sprintf("key %s is for %s, not %s", quote(h.kid), k.alg, alg.name))
			}
			return k, false, nil
		}
		var found *pubKey
		n := 0
		for _, w := range ks.wild[alg.fam] {
			if fits(w) {
				found, n = w, n+1
			}
		}
		if n == 1 {
			return found, false, nil
		}
		return nil, true, nil
	}
	var found *pubKey
	n := 0
	for _, c := range ks.byFam[alg.fam] {
		if fits(c) {
			found, n = c, n+1
		}
	}
	switch n {
	case 1:
		return found, false, nil
	case 0:
		return nil, true, nil
	}
	return nil, false, newError(failUnknownKey, fmt.Sprintf("token has no kid and %d keys fit %s; the issuer must set kid", n, alg.name))
}

// has reports whether the set still holds a key equal to k, so cached verifications can be dropped when their
// key leaves the set.
func (ks *keySet) has(k *pubKey) bool {
	for _, c := range ks.byFam[k.fam] {
		if c == k || (c.kid == k.kid && c.wild == k.wild && c.alg == k.alg && c.issuer == k.issuer && keysEqual(c.key, k.key)) {
			return true
		}
	}
	return false
}

// sameKeys reports whether ks serves exactly the keys of old (nil: no keys yet), so a refresh can tell a
// rotation from a confirmation.
func (ks *keySet) sameKeys(old *keySet) bool {
	if old == nil || old.size != ks.size {
		return false
	}
	for _, keys := range ks.byFam {
		for _, k := range keys {
			if !old.has(k) {
				return false
			}
		}
	}
	return true
}

func keysEqual(a, b crypto.PublicKey) bool {
	e, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && e.Equal(b)
}

// findKey returns the key for a token, refreshing a remote key set (shared, rate-limited, time-bounded) when
// the kid is unknown or no keys are loaded.
func (v *Verifier) findKey(ctx context.Context, t *trust, h *header, alg *algInfo) (*pubKey, error) {
	ks, unavailable := t.keys.current(v.now())
	if ks != nil {
		k, notFound, err := ks.lookup(h, alg)
		if k != nil || !notFound {
			return k, err
		}
	}
	if ch := t.keys.refresh(); ch != nil {
		timer := time.NewTimer(v.maxWait)
		select {
		case <-ch:
		case <-ctx.Done():
		case <-timer.C:
		}
		timer.Stop()
		ks, unavailable = t.keys.current(v.now())
		if ks != nil {
			k, notFound, err := ks.lookup(h, alg)
			if k != nil || !notFound {
				return k, err
			}
		}
	}
	if ks == nil {
		return nil, newError(failKeysUnavailable, fmt.Sprintf("no usable keys for issuer %q: %v", t.issuer, unavailable))
	}
	if !h.hasKID {
		return nil, newError(failUnknownKey, fmt.Sprintf("token has no kid and no key of issuer %q fits %s", t.issuer, alg.name))
	}
	return nil, newError(failUnknownKey, fmt.Sprintf("no %s key with kid %s in the key set of issuer %q", alg.fam, quote(h.kid), t.issuer))
}
