package jwtauth

// DPoP, resource-server side (RFC 9449 §4.3, §7, §8, §9, §11): proofs are decoded by the strict reader of
// parse.go, their keys checked like every other key (keyparse.go), and replays remembered in a bounded store.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// DPoPPolicy says whether an issuer's tokens are presented with DPoP proofs (TrustedIssuer.DPoP).
type DPoPPolicy uint8

const (
	// DPoPOff accepts bearer tokens only, as before DPoP: the DPoP scheme is refused for this issuer.
	DPoPOff DPoPPolicy = iota
	// DPoPOptional accepts unbound bearer tokens and DPoP-bound tokens with a valid proof.
	DPoPOptional
	// DPoPRequired accepts only DPoP-bound tokens with a valid proof.
	DPoPRequired
)

// Defaults and bounds of DPoPOptions.
const (
	// DefaultDPoPProofWindow is how far a proof's iat may be from now, either way, when ProofWindow is zero.
	DefaultDPoPProofWindow = 5 * time.Minute
	// DefaultDPoPReplayCapacity is the number of proofs the built-in replay store remembers when
	// ReplayCapacity is zero: about 35 MB when full (some 130 bytes per proof, measured by
	// BenchmarkDPoPReplayFlood), room for about 870 proofs a second at the default ProofWindow.
	DefaultDPoPReplayCapacity = 1 << 18
	// DefaultDPoPNonceLifetime is how often server nonces rotate when NonceLifetime is zero; a nonce is
	// accepted for one to two lifetimes.
	DefaultDPoPNonceLifetime = time.Minute
	// MaxDPoPProofSize bounds a DPoP header, checked before anything is decoded: an RSA-8192 proof fits.
	MaxDPoPProofSize = 8 << 10
)

// DPoPOptions configures the checks of DPoP proofs. It matters only when some TrustedIssuer.DPoP is not DPoPOff.
type DPoPOptions struct {
	// ExternalURL is this server's URL as clients call it, e.g. "https://api.example.com" or, behind a proxy
	// that strips a path prefix, "https://example.com/api". A proof's htu must equal it followed by the
	// request path (RFC 9449 §4.3). Required: Host and X-Forwarded-* are chosen by the client, so they are
	// never used to guess it.
	ExternalURL string
	// ProofWindow is how far a proof's iat may be from now, in the past or the future, leeway included.
	// Zero means DefaultDPoPProofWindow (5 minutes); at most 1 hour. Replays are remembered this long.
	ProofWindow time.Duration
	// Algorithms lists the proof signature algorithms accepted and advertised in the algs challenge
	// attribute. Empty means every asymmetric algorithm jwtauth supports; none and HMAC are never accepted.
	Algorithms []string
	// Replay remembers the proofs seen, so that each is used once (RFC 9449 §11.1). Nil means a store in
	// memory, which is enough for one replica; replicas behind one load balancer must share one.
	Replay ReplayStore
	// ReplayCapacity bounds the built-in store (Replay nil). Zero means DefaultDPoPReplayCapacity. When it is
	// full of unexpired entries, new proofs are refused with 503 rather than forget one that could be replayed.
	ReplayCapacity int
	// NonceSecret, when set, turns on server nonces (RFC 9449 §9): every proof must carry a nonce the server
	// made. Nonces are a MAC of the time with this secret, so replicas sharing it agree without shared state.
	// At least 32 random bytes.
	NonceSecret []byte
	// NonceLifetime is how often nonces rotate; zero means DefaultDPoPNonceLifetime.
	NonceLifetime time.Duration
}

// ReplayStore remembers DPoP proofs for the replay check. A Redis implementation is SET key 1 NX PX ttl.
type ReplayStore interface {
	// Add inserts key, to expire after ttl, unless it is present and unexpired, as one atomic step.
	// added is false when key was already present. An error refuses the request with 503 (fail closed).
	// Keys are at most 64 bytes of base64url.
	Add(ctx context.Context, key string, ttl time.Duration) (added bool, err error)
}

// dpopVerifier is DPoPOptions as the Verifier uses them.
type dpopVerifier struct {
	base      string // normalised ExternalURL without a trailing slash
	window    time.Duration
	algs      algSet
	algsAttr  string // space-separated, for the challenge
	replay    ReplayStore
	nonceKey  []byte // nil when nonces are off
	nonceStep time.Duration
	now       func() time.Time
	bearer    bool // some issuer accepts bearer tokens
}

// dpopAlgs is the order algorithms are advertised in when DPoPOptions.Algorithms is empty.
var dpopAlgs = [...]*algInfo{algES256, algES384, algES512, algEdDSA, algPS256, algPS384, algPS512, algRS256, algRS384, algRS512}

func newDPoPVerifier(o DPoPOptions, trusts []*trust, now func() time.Time) (*dpopVerifier, []error) {
	d := &dpopVerifier{window: o.ProofWindow, nonceStep: o.NonceLifetime, now: now}
	on := false
	for _, t := range trusts {
		on = on || t.dpop != DPoPOff
		d.bearer = d.bearer || t.dpop != DPoPRequired
	}
	if !on {
		return nil, nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwtauth: Config.DPoP."+format, args...))
	}
	if o.ExternalURL == "" {
		bad("ExternalURL is empty: set this server's URL as clients call it (e.g. https://api.example.com); DPoP proofs name it in htu")
	} else if base, ok := normalizeHTU(o.ExternalURL); !ok || strings.ContainsAny(o.ExternalURL, "?#") {
		bad("ExternalURL %q is not an absolute http or https URL without user info, query or fragment", o.ExternalURL)
	} else {
		d.base = strings.TrimSuffix(base, "/")
	}
	if d.window == 0 {
		d.window = DefaultDPoPProofWindow
	}
	if d.window < 0 || d.window > time.Hour {
		bad("ProofWindow %s is out of range: use 0 (default %s) up to 1h", o.ProofWindow, DefaultDPoPProofWindow)
	}
	var names []string
	if len(o.Algorithms) == 0 {
		for _, a := range dpopAlgs {
			d.algs |= a.bit
			names = append(names, a.name)
		}
	}
	for _, name := range o.Algorithms {
		a := lookupAlg(name)
		if a == nil {
			bad("Algorithms: %q is not supported: %s", name, algAdvice(name))
			continue
		}
		d.algs |= a.bit
		names = append(names, a.name)
	}
	d.algsAttr = strings.Join(names, " ")
	d.replay = o.Replay
	if d.replay == nil {
		capacity := o.ReplayCapacity
		if capacity == 0 {
			capacity = DefaultDPoPReplayCapacity
		}
		if capacity < 0 {
			bad("ReplayCapacity %d is negative: use 0 for the default %d", o.ReplayCapacity, DefaultDPoPReplayCapacity)
			capacity = 1
		}
		d.replay = newMemoryReplay(capacity, now)
	} else if o.ReplayCapacity != 0 {
		bad("ReplayCapacity is set but Replay is too: the capacity bounds the built-in store only; bound your store instead")
	}
	if o.NonceSecret != nil {
		if len(o.NonceSecret) < 32 {
			bad("NonceSecret has %d bytes: use at least 32 random bytes, the same on every replica", len(o.NonceSecret))
		}
		d.nonceKey = append([]byte(nil), o.NonceSecret...)
	}
	if d.nonceStep == 0 {
		d.nonceStep = DefaultDPoPNonceLifetime
	}
	if d.nonceStep < time.Second || d.nonceStep > time.Hour {
		bad("NonceLifetime %s is out of range: use 0 (default %s), or 1s up to 1h", o.NonceLifetime, DefaultDPoPNonceLifetime)
	}
	return d, errs
}

// checkDPoPConfirmation is checkConfirmation's part for DPoP; dp is the request's checked proof, nil on the
// bearer path (Verify, the Bearer scheme). done is false when the rest of the cnf claim is still to be
// checked (x5t#S256, unknown methods).
func checkDPoPConfirmation(t *trust, c *confirmation, present bool, dp *dpopProof) (e *Error, done bool) {
	if dp == nil {
		switch {
		case !present && t.dpop == DPoPRequired:
			return newError(failDPoPRequired, fmt.Sprintf("issuer %q accepts tokens only with a DPoP proof (TrustedIssuer.DPoP is DPoPRequired); send Authorization: DPoP and a DPoP header", t.issuer)), true
		case present && c.hasJkt && !c.other:
			// Whatever the policy: without the proof a stolen DPoP-bound token would work as a bearer token.
			return newError(failCnf, "token is DPoP-bound (cnf jkt, RFC 9449) and came without a DPoP proof: send it with Authorization: DPoP and a proof"), true
		}
		return nil, false
	}
	switch {
	case t.dpop == DPoPOff:
		return newError(failDPoPOff, fmt.Sprintf("issuer %q does not accept DPoP (TrustedIssuer.DPoP is DPoPOff)", t.issuer)), true
	case !present || !c.hasJkt:
		return newError(failNotBound, "the token has no cnf.jkt: it is not bound to a DPoP key; send it as a Bearer token"), true
	case c.other || c.hasX5t:
		return newError(failCnf, "token has a cnf claim with another confirmation method besides jkt; jwtauth checks one binding per token"), true
	case subtle.ConstantTimeCompare([]byte(dp.jkt), []byte(c.jkt)) != 1:
		return newError(failProofBinding, "the proof's jwk thumbprint is not the token's cnf.jkt"), true
	}
	return nil, true
}

// verifyDPoP checks a request with Authorization: DPoP in the order of RFC 9449 §4.3 and §7.1, cheapest
// first: the proof alone and its ath, then the token and its cnf.jkt, then the nonce, and only then the
// replay store, so that only holders of a valid token and proof can fill it.
func (v *Verifier) verifyDPoP(w http.ResponseWriter, r *http.Request, token string) (*Claims, error) {
	ctx := r.Context()
	d := v.dpop
	var o Outcome
	fail := func(kind *failure, msg string) (*Claims, error) {
		e := newError(kind, msg)
		e.dpop = true
		o.Err = e
		return v.finish(ctx, nil, o)
	}
	p, now, iat, kind, msg := d.checkProof(r)
	if kind != nil {
		return fail(kind, msg)
	}
	if !p.hasAth {
		return fail(failProofAth, "proof has no ath claim (RFC 9449 §4.2: required with an access token)")
	}
	ath := sha256.Sum256([]byte(token))
	var athBuf [43]byte
	base64.RawURLEncoding.Encode(athBuf[:], ath[:])
	if subtle.ConstantTimeCompare([]byte(p.ath), athBuf[:]) != 1 {
		return fail(failProofAth, "proof ath is not the SHA-256 hash of this access token")
	}

	c, to := v.verify(ctx, token, r, p) // checkConfirmation compares cnf.jkt with the proof key
	o = to
	v.revoked(ctx, &c, &o)
	if o.Err != nil {
		var e *Error
		if errors.As(o.Err, &e) { // a copy: a user's check may return one *Error for every request
			cp := *e
			cp.dpop = true
			o.Err = &cp
		}
		return v.finish(ctx, nil, o)
	}
	if d.nonceKey != nil {
		fresh, msg := d.checkNonce(p, now)
		if msg != "" {
			e := newError(failNonce, msg)
			e.dpop, e.nonce = true, d.nonce(now)
			o.Err = e
			return v.finish(ctx, nil, o)
		}
		if !fresh {
			w.Header().Set("DPoP-Nonce", d.nonce(now)) // RFC 9449 §8.2: the next one, before this one expires
		}
	}
	if kind, msg := d.record(ctx, p, now, iat); kind != nil {
		return fail(kind, msg)
	}
	c.DPoPThumbprint = c.cnf.jkt
	return v.finish(ctx, c, o)
}

// checkProof makes the checks of the request's proof that need no access token (RFC 9449 §4.3 checks 1 to 9
// and 11): one DPoP header, decoded strictly, its alg allowed, htm and htu those of r, iat fresh, and the
// signature by its jwk. kind is nil when they pass; now is the time they were made at.
func (d *dpopVerifier) checkProof(r *http.Request) (p *dpopProof, now, iat time.Time, kind *failure, msg string) {
	proofs := r.Header.Values("DPoP")
	switch len(proofs) {
	case 0:
		return nil, now, iat, failProofMissing, "the request has no DPoP header"
	case 1:
	default:
		return nil, now, iat, failProofMany, "the request has more than one DPoP header"
	}
	p, kind, msg = parseDPoPProof(proofs[0])
	if kind != nil {
		return nil, now, iat, kind, msg
	}
	if d.algs&p.alg.bit == 0 {
		return nil, now, iat, failProofAlg, fmt.Sprintf("proof algorithm %s is not in Config.DPoP.Algorithms (%s)", p.alg.name, d.algsAttr)
	}
	if p.htm != r.Method {
		return nil, now, iat, failProofMethod, fmt.Sprintf("proof htm %s is not the request method %q", quote(p.htm), r.Method)
	}
	want, _ := normalizeHTU(d.base + r.URL.EscapedPath())
	if got, ok := normalizeHTU(p.htu); !ok || got != want {
		return nil, now, iat, failProofURL, fmt.Sprintf("proof htu %s is not the request URL %q (Config.DPoP.ExternalURL and the path)", quote(p.htu), want)
	}
	now = d.now()
	iat = numericTime(p.iat)
	if iat.Before(now.Add(-d.window)) {
		return nil, now, iat, failProofStale, fmt.Sprintf("proof iat %s is older than Config.DPoP.ProofWindow %s", fmtTime(p.iat), d.window)
	}
	if iat.After(now.Add(d.window)) {
		return nil, now, iat, failProofFuture, fmt.Sprintf("proof iat %s is more than Config.DPoP.ProofWindow %s in the future", fmtTime(p.iat), d.window)
	}
	if err := p.alg.method.Verify(p.signingInput, p.sig, p.key); err != nil {
		return nil, now, iat, failProofSignature, "proof signature does not verify with the proof's jwk"
	}
	return p, now, iat, nil, ""
}

// record puts the proof into the replay store, to expire when its iat leaves the window.
func (d *dpopVerifier) record(ctx context.Context, p *dpopProof, now, iat time.Time) (*failure, string) {
	added, err := d.replay.Add(ctx, replayKey(p.jkt, p.jti), iat.Add(d.window).Sub(now)+time.Second)
	switch {
	case err != nil:
		return failReplayDown, "the DPoP replay store failed: " + err.Error()
	case !added:
		return failProofReplayed, "proof jti was already used within Config.DPoP.ProofWindow"
	}
	return nil, ""
}

// replayKey names a proof in the replay store: a hash of its key's thumbprint and its jti, so that keys are
// short whatever the jti, and one client's jtis cannot collide with another's.
func replayKey(jkt, jti string) string {
	h := sha256.New()
	h.Write([]byte(jkt))
	h.Write([]byte{0})
	h.Write([]byte(jti))
	var sum [sha256.Size]byte
	return "dpop:" + base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
}

// nonce returns the server nonce of now's time step: the step and a MAC of it.
func (d *dpopVerifier) nonce(now time.Time) string {
	return d.nonceFor(now.UnixNano() / int64(d.nonceStep))
}

func (d *dpopVerifier) nonceFor(step int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(step))
	m := hmac.New(sha256.New, d.nonceKey)
	m.Write([]byte("jwtauth DPoP nonce\x00"))
	m.Write(b[:8])
	var sum [sha256.Size]byte
	copy(b[8:], m.Sum(sum[:0]))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// checkNonce accepts the nonces of the current and the previous step; fresh is true for the current one.
func (d *dpopVerifier) checkNonce(p *dpopProof, now time.Time) (fresh bool, msg string) {
	if !p.hasNonce {
		return false, "proof has no nonce; this server requires one (Config.DPoP.NonceSecret): retry with the DPoP-Nonce it sent"
	}
	var b [24]byte
	raw, ok := decodeSegment(b[:0], p.nonce)
	if !ok || len(raw) != len(b) {
		return false, "proof nonce is not a nonce of this server"
	}
	step := int64(binary.BigEndian.Uint64(raw[:8]))
	cur := now.UnixNano() / int64(d.nonceStep)
	if step != cur && step != cur-1 {
		return false, "proof nonce is not current (stale, or not made by this server)"
	}
	if !hmac.Equal([]byte(d.nonceFor(step)), []byte(p.nonce)) {
		return false, "proof nonce is not current (stale, or not made by this server)"
	}
	return step == cur, ""
}

// dpopProof is a DPoP proof decoded and checked on its own; its signature is checked by the caller.
type dpopProof struct {
	alg              *algInfo
	key              crypto.PublicKey
	jkt              string
	signingInput     string
	sig              []byte
	htm, htu, jti    string
	ath, nonce       string
	iat              float64
	hasAth, hasNonce bool
	hasIat, hasHtm   bool
}

// parseDPoPProof decodes a proof strictly (RFC 9449 §4.2, §4.3 checks 2 to 8 that need no request): size, one
// compact JWS, typ dpop+jwt, an asymmetric alg fitting a public jwk, and the required claims.
func parseDPoPProof(s string) (*dpopProof, *failure, string) {
	if len(s) > MaxDPoPProofSize {
		return nil, failProofTooLarge, fmt.Sprintf("DPoP proof is %d bytes, more than the %d allowed", len(s), MaxDPoPProofSize)
	}
	raw, ok := splitToken(s)
	if !ok {
		return nil, failProofMalformed, "DPoP proof is not a compact JWS (three base64url segments)"
	}
	var hbuf [1024]byte
	hb, ok := decodeSegment(hbuf[:0], raw.header)
	if !ok || !utf8.Valid(hb) {
		return nil, failProofMalformed, "DPoP proof header is not canonical base64url of UTF-8"
	}
	var typ, alg string
	var jwk []byte
	var hasTyp, crit bool
	r := jsonReader{b: hb}
	ok = r.object(0, func(name []byte) bool {
		var ok bool
		switch string(name) {
		case "typ":
			typ, ok = r.str()
			hasTyp = true
		case "alg":
			alg, ok = r.str()
		case "jwk":
			start := r.i
			ok = r.skip(1)
			jwk = r.b[start:r.i]
		case "crit":
			crit = true
			ok = r.skip(1)
		default:
			ok = r.skip(1)
		}
		return ok
	}) && r.end()
	if !ok {
		return nil, failProofMalformed, "DPoP proof header: " + string(r.err)
	}
	if !hasTyp || typ != "dpop+jwt" {
		return nil, failProofType, fmt.Sprintf("DPoP proof typ is %s, not \"dpop+jwt\"", quote(typ))
	}
	a := lookupAlg(alg)
	if a == nil {
		return nil, failProofAlg, fmt.Sprintf("DPoP proof algorithm %s is never accepted: proofs are signed with an asymmetric key", quote(alg))
	}
	if crit {
		return nil, failProofMalformed, "DPoP proof header lists crit parameters; none are supported"
	}
	if jwk == nil {
		return nil, failProofKey, "DPoP proof header has no jwk"
	}
	key, err := parseProofJWK(jwk)
	if err != nil {
		return nil, failProofKey, "DPoP proof jwk: " + err.Error()
	}
	fam, err := checkKey(key)
	if err != nil {
		return nil, failProofKey, "DPoP proof jwk: " + err.Error()
	}
	if fam != a.fam {
		return nil, failProofAlg, fmt.Sprintf("DPoP proof algorithm %s does not fit its %s jwk", a.name, fam)
	}
	p := &dpopProof{alg: a, key: key, signingInput: raw.signingInput}
	if p.jkt, err = thumbprint(key); err != nil {
		return nil, failProofKey, "DPoP proof jwk: " + err.Error()
	}
	pb, ok := decodeSegment(nil, raw.payload)
	if !ok || !utf8.Valid(pb) {
		return nil, failProofMalformed, "DPoP proof payload is not canonical base64url of UTF-8"
	}
	r = jsonReader{b: pb}
	var hasJti, hasHtu bool
	ok = r.object(0, func(name []byte) bool {
		var ok bool
		switch string(name) {
		case "jti":
			p.jti, ok = r.str()
			hasJti = true
		case "htm":
			p.htm, ok = r.str()
			p.hasHtm = true
		case "htu":
			p.htu, ok = r.str()
			hasHtu = true
		case "iat":
			p.iat, ok = r.numericDate()
			p.hasIat = true
		case "ath":
			p.ath, ok = r.str()
			p.hasAth = true
		case "nonce":
			p.nonce, ok = r.str()
			p.hasNonce = true
		default:
			ok = r.skip(1)
		}
		return ok
	}) && r.end()
	switch {
	case !ok:
		return nil, failProofMalformed, "DPoP proof payload: " + string(r.err)
	case !hasJti || p.jti == "":
		return nil, failProofMalformed, "DPoP proof has no jti"
	case !p.hasHtm || !hasHtu || !p.hasIat:
		return nil, failProofMalformed, "DPoP proof lacks htm, htu or iat"
	}
	if p.sig, ok = decodeSegment(nil, raw.signature); !ok {
		return nil, failProofMalformed, "DPoP proof signature is not canonical base64url"
	}
	return p, nil, ""
}

// privateJWKMembers are the JWK members of private and symmetric keys (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
var privateJWKMembers = [...]string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// parseProofJWK reads the public key of a proof's jwk strictly by exact member names. A private member is
// refused in any letter case, as is a key member in the wrong case, since lenient JSON readers (encoding/json)
// would take "D" for "d" or "X" for "x".
func parseProofJWK(raw []byte) (crypto.PublicKey, error) {
	var kty, crv, x, y, n, e string
	var problem string
	r := jsonReader{b: raw}
	ok := r.object(1, func(name []byte) bool {
		var ok bool
		switch string(name) {
		case "kty":
			kty, ok = r.str()
		case "crv":
			crv, ok = r.str()
		case "x":
			x, ok = r.str()
		case "y":
			y, ok = r.str()
		case "n":
			n, ok = r.str()
		case "e":
			e, ok = r.str()
		default:
			lower := strings.ToLower(string(name))
			for _, m := range privateJWKMembers {
				if lower == m {
					problem = "it has a private key member; a proof carries the public key only"
					return false
				}
			}
			switch lower {
			case "kty", "crv", "x", "y", "n", "e":
				problem = "a member name is in the wrong letter case"
				return false
			}
			ok = r.skip(2)
		}
		return ok
	}) && r.end()
	if problem != "" {
		return nil, errors.New(problem)
	}
	if !ok {
		return nil, errors.New("not a JSON object: " + string(r.err))
	}
	switch kty {
	case "EC":
		var curve elliptic.Curve
		switch crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("EC curve %s is not supported (P-256, P-384, P-521)", quote(crv))
		}
		size := (curve.Params().BitSize + 7) / 8
		xb, okx := decodeSegment(nil, x)
		yb, oky := decodeSegment(nil, y)
		if !okx || !oky || len(xb) != size || len(yb) != size {
			return nil, fmt.Errorf("EC x and y must be %d bytes of canonical base64url each", size)
		}
		pt := append(append([]byte{4}, xb...), yb...)
		k, err := ecdsa.ParseUncompressedPublicKey(curve, pt)
		if err != nil {
			return nil, errors.New("EC point is not on the curve")
		}
		return k, nil
	case "RSA":
		nb, okn := decodeSegment(nil, n)
		eb, oke := decodeSegment(nil, e)
		if !okn || !oke || len(nb) == 0 || nb[0] == 0 || len(eb) == 0 || len(eb) > 4 || eb[0] == 0 {
			return nil, errors.New("RSA n and e must be minimal big-endian integers in canonical base64url")
		}
		var exp int
		for _, c := range eb {
			exp = exp<<8 | int(c)
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: exp}, nil
	case "OKP":
		if crv != "Ed25519" {
			return nil, fmt.Errorf("OKP curve %s is not supported (Ed25519)", quote(crv))
		}
		xb, ok := decodeSegment(nil, x)
		if !ok || len(xb) != ed25519.PublicKeySize {
			return nil, errors.New("Ed25519 x must be 32 bytes of canonical base64url")
		}
		return ed25519.PublicKey(xb), nil
	}
	return nil, fmt.Errorf("kty %s is not an asymmetric key type (EC, RSA, OKP)", quote(kty))
}

// normalizeHTU reduces an http(s) URL to the form compared for htu (RFC 9449 §4.3, RFC 3986 §6.2.2 and
// §6.2.3): lower-case scheme and host, no default port, upper-case percent-encodings with unreserved
// characters decoded, dot segments removed, an empty path as "/", and no query or fragment.
func normalizeHTU(s string) (string, bool) {
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" || u.User != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(host)
	if port != "" {
		b.WriteByte(':')
		b.WriteString(port)
	}
	path, ok := normalizePercent(u.EscapedPath())
	if !ok {
		return "", false
	}
	path = removeDotSegments(path)
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	return b.String(), true
}

// normalizePercent upper-cases percent-encodings and decodes those of unreserved characters (RFC 3986 §6.2.2.1–2).
func normalizePercent(p string) (string, bool) {
	if strings.IndexByte(p, '%') < 0 {
		return p, true
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(p) || !ishex(p[i+1]) || !ishex(p[i+2]) {
			return "", false
		}
		v := unhex(p[i+1])<<4 | unhex(p[i+2])
		i += 2
		if 'A' <= v && v <= 'Z' || 'a' <= v && v <= 'z' || '0' <= v && v <= '9' || v == '-' || v == '.' || v == '_' || v == '~' {
			b.WriteByte(v)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[v>>4])
		b.WriteByte(hex[v&15])
	}
	return b.String(), true
}

func ishex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// removeDotSegments is RFC 3986 §5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string
	segs := strings.Split(in, "/")
	for i, s := range segs {
		switch s {
		case ".":
			if i == len(segs)-1 {
				out = append(out, "")
			}
		case "..":
			if len(out) > 1 {
				out = out[:len(out)-1]
			}
			if i == len(segs)-1 {
				out = append(out, "")
			}
		default:
			out = append(out, s)
		}
	}
	return strings.Join(out, "/")
}

// errReplayFull is the built-in store's answer when every entry is unexpired.
var errReplayFull = errors.New("the built-in replay store is full of unexpired proofs (raise Config.DPoP.ReplayCapacity)")

const replayShards = 16

// memoryReplay is the built-in ReplayStore: sharded maps of key hashes to expiry, each with a queue in
// insertion order from which expired entries are dropped. It never evicts an unexpired entry, since that
// would let its proof be replayed; when full it refuses.
type memoryReplay struct {
	now    func() time.Time
	shards [replayShards]replayShard
}

type replayShard struct {
	mu    sync.Mutex
	seen  map[[sha256.Size]byte]int64 // expiry in Unix nanoseconds
	queue []replayEntry               // insertion order; queue[head:] are live
	head  int
	max   int
}

type replayEntry struct {
	key [sha256.Size]byte
	exp int64
}

func newMemoryReplay(capacity int, now func() time.Time) *memoryReplay {
	m := &memoryReplay{now: now}
	per := max(1, (capacity+replayShards-1)/replayShards)
	for i := range m.shards {
		m.shards[i].seen = make(map[[sha256.Size]byte]int64)
		m.shards[i].max = per
	}
	return m
}

// Add implements ReplayStore.
func (m *memoryReplay) Add(_ context.Context, key string, ttl time.Duration) (bool, error) {
	h := sha256.Sum256([]byte(key))
	s := &m.shards[h[0]%replayShards]
	now := m.now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.seen[h]; ok && exp > now {
		return false, nil
	}
	for s.head < len(s.queue) && s.queue[s.head].exp <= now {
		e := s.queue[s.head]
		if s.seen[e.key] == e.exp {
			delete(s.seen, e.key)
		}
		s.queue[s.head] = replayEntry{}
		s.head++
	}
	if s.head > len(s.queue)/2 { // compact, so the queue's backing array stays within twice the live entries
		s.queue = append(s.queue[:0], s.queue[s.head:]...)
		s.head = 0
	}
	if len(s.queue)-s.head >= s.max {
		return false, errReplayFull
	}
	exp := now + int64(ttl)
	s.seen[h] = exp
	s.queue = append(s.queue, replayEntry{h, exp})
	return true, nil
}

// DPoPProofVerifier checks DPoP proofs that come without an access token, as at an authorization server's
// token endpoint (RFC 9449 §5), where the proof's key is the one the issued token is bound to. It makes the
// checks a Verifier makes of proofs, but for ath and the token binding: a proof with ath is refused, since it
// was made for a request with a token. It is safe for concurrent use.
type DPoPProofVerifier struct{ d *dpopVerifier }

// NewDPoPProofVerifier returns a DPoPProofVerifier for o: ExternalURL is the authorization server's URL as
// clients call it, and every other field means what it does in Config.DPoP. clock nil means time.Now.
func NewDPoPProofVerifier(o DPoPOptions, clock func() time.Time) (*DPoPProofVerifier, error) {
	if clock == nil {
		clock = time.Now
	}
	d, errs := newDPoPVerifier(o, []*trust{{dpop: DPoPRequired}}, clock)
	if len(errs) > 0 { // the messages name Config.DPoP, where the Verifier takes the options
		return nil, errors.New(strings.ReplaceAll(errors.Join(errs...).Error(), "Config.DPoP.", "NewDPoPProofVerifier: DPoPOptions."))
	}
	return &DPoPProofVerifier{d: d}, nil
}

// Verify checks the DPoP proof of r and records it against replay; it returns the RFC 7638 thumbprint of the
// proof's key, the jkt to bind the token to (Issuer.IssueDPoP). Call it once the client is authenticated, so
// that only clients can fill the replay store. Refusals are *Error: ErrDPoPProof (answer 400
// invalid_dpop_proof, RFC 9449 §5), ErrDPoPNonce (400 use_dpop_nonce with a DPoP-Nonce header of Nonce(),
// §8) or ErrReplayUnavailable (503).
func (v *DPoPProofVerifier) Verify(r *http.Request) (jkt string, err error) {
	d := v.d
	p, now, iat, kind, msg := d.checkProof(r)
	switch {
	case kind != nil:
	case p.hasAth:
		kind, msg = failProofAth, "proof has ath but no access token comes with this request: make the proof without one"
	case d.nonceKey != nil:
		if _, m := d.checkNonce(p, now); m != "" {
			e := newError(failNonce, m)
			e.dpop, e.nonce = true, d.nonce(now)
			return "", e
		}
	}
	if kind == nil {
		kind, msg = d.record(r.Context(), p, now, iat)
	}
	if kind != nil {
		e := newError(kind, msg)
		e.dpop = true
		return "", e
	}
	return p.jkt, nil
}

// Nonce returns the current server nonce, for the DPoP-Nonce header (RFC 9449 §8); "" when
// DPoPOptions.NonceSecret is not set.
func (v *DPoPProofVerifier) Nonce() string {
	if v.d.nonceKey == nil {
		return ""
	}
	return v.d.nonce(v.d.now())
}

// DPoPProver makes DPoP proofs (RFC 9449 §4) with one key, for clients: tests, service-to-service calls.
// It is safe for concurrent use.
type DPoPProver struct {
	key    *SigningKey
	header string // base64url of {"alg","jwk","typ"} and '.', the same for every proof
	jkt    string
	now    func() time.Time
}

// NewDPoPProver returns a prover signing with key (GenerateSigningKey("ES256") makes one; keep it for the
// token's lifetime, since the token is bound to it). clock gives iat; nil means time.Now.
func NewDPoPProver(key *SigningKey, clock func() time.Time) (*DPoPProver, error) {
	if key == nil || key.signer() == nil {
		return nil, errors.New("jwtauth: NewDPoPProver: key is nil: use GenerateSigningKey or ParseSigningKeys")
	}
	jwk, err := publicJWKJSON(key.pub)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: NewDPoPProver: %w", err)
	}
	jkt, err := thumbprint(key.pub)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: NewDPoPProver: %w", err)
	}
	if clock == nil {
		clock = time.Now
	}
	h := `{"typ":"dpop+jwt","alg":"` + key.alg.name + `","jwk":` + jwk + `}`
	return &DPoPProver{key: key, header: base64.RawURLEncoding.EncodeToString([]byte(h)) + ".", jkt: jkt, now: clock}, nil
}

// Thumbprint returns the RFC 7638 thumbprint of the prover's key: the cnf.jkt of tokens bound to it
// (Issuer.IssueDPoP).
func (p *DPoPProver) Thumbprint() string { return p.jkt }

// Proof returns a proof for one request: method, the target URL (its query and fragment are dropped),
// the access token it comes with ("" for none, as at a token endpoint) and the server's nonce ("" for none).
func (p *DPoPProver) Proof(method, target, accessToken, nonce string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("jwtauth: DPoPProver.Proof: target %q is not an absolute URL", target)
	}
	u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = "", "", "", false
	var jti [16]byte
	_, _ = rand.Read(jti[:])
	b := []byte(`{"jti":"`)
	b = base64.RawURLEncoding.AppendEncode(b, jti[:])
	b = append(b, `","htm":`...)
	b = appendJSONString(b, method)
	b = append(b, `,"htu":`...)
	b = appendJSONString(b, u.String())
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, p.now().Unix(), 10)
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		b = append(b, `,"ath":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, sum[:])
		b = append(b, '"')
	}
	if nonce != "" {
		b = append(b, `,"nonce":`...)
		b = appendJSONString(b, nonce)
	}
	b = append(b, '}')
	tok := p.header + base64.RawURLEncoding.EncodeToString(b)
	sig, err := p.key.alg.method.Sign(tok, p.key.signer())
	if err != nil {
		return "", fmt.Errorf("jwtauth: DPoPProver.Proof: signing: %w", err)
	}
	return tok + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// publicJWKJSON renders the required members of a public key's JWK (RFC 7638 order).
func publicJWKJSON(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		pt, err := k.Bytes()
		if err != nil {
			return "", fmt.Errorf("EC key is invalid: %v", err)
		}
		n := (len(pt) - 1) / 2
		return `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + b64(pt[1:1+n]) + `","y":"` + b64(pt[1+n:]) + `"}`, nil
	case *rsa.PublicKey:
		return `{"e":"` + b64(big.NewInt(int64(k.E)).Bytes()) + `","kty":"RSA","n":"` + b64(k.N.Bytes()) + `"}`, nil
	case ed25519.PublicKey:
		return `{"crv":"Ed25519","kty":"OKP","x":"` + b64(k) + `"}`, nil
	}
	return "", fmt.Errorf("key type %T has no JWK", pub)
}

// DPoPTransport is an http.RoundTripper that sends Token with the DPoP scheme and a fresh proof on every
// request, remembers the server's DPoP-Nonce, and retries once when the server answers use_dpop_nonce
// (RFC 9449 §9) if the request body can be replayed (GetBody is set, or there is no body).
type DPoPTransport struct {
	// Prover makes the proofs; its key is the one Token is bound to. Required.
	Prover *DPoPProver
	// Token is the DPoP-bound access token. Required.
	Token string
	// Base does the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu    sync.Mutex
	nonce string
}

// RoundTrip implements http.RoundTripper. It does not modify req.
func (t *DPoPTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.Prover == nil || t.Token == "" {
		return nil, errors.New("jwtauth: DPoPTransport needs a Prover and a Token")
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	t.mu.Lock()
	nonce := t.nonce
	t.mu.Unlock()
	resp, err := t.send(base, req, req.Body, nonce)
	if err != nil {
		return nil, err
	}
	fresh := resp.Header.Get("DPoP-Nonce")
	if fresh == "" || len(fresh) > 1024 {
		return resp, nil
	}
	t.mu.Lock()
	t.nonce = fresh
	t.mu.Unlock()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(strings.Join(resp.Header.Values("WWW-Authenticate"), ","), `error="use_dpop_nonce"`) {
		return resp, nil
	}
	body := req.Body
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			return resp, nil // the body was consumed and cannot be sent again
		}
		if body, err = req.GetBody(); err != nil {
			return resp, nil
		}
	}
	resp.Body.Close()
	return t.send(base, req, body, fresh)
}

func (t *DPoPTransport) send(base http.RoundTripper, req *http.Request, body io.ReadCloser, nonce string) (*http.Response, error) {
	proof, err := t.Prover.Proof(req.Method, req.URL.String(), t.Token, nonce)
	if err != nil {
		return nil, err
	}
	r := req.Clone(req.Context())
	r.Body = body
	r.Header.Set("Authorization", "DPoP "+t.Token)
	r.Header.Set("DPoP", proof)
	return base.RoundTrip(r)
}
