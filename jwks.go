package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// JWKSOptions are the rarely changed knobs of remote key sets. Zero values mean the defaults given per field.
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
}

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
	dur := func(name string, p *time.Duration, def time.Duration) {
		if *p < 0 {
			errs = append(errs, fmt.Errorf("jwtauth: Config.JWKS.%s %s is negative: use 0 for the default %s", name, *p, def))
		}
		if *p <= 0 {
			*p = def
		}
	}
	dur("RefreshInterval", &o.RefreshInterval, DefaultRefreshInterval)
	dur("RefreshCooldown", &o.RefreshCooldown, DefaultRefreshCooldown)
	dur("MaxWait", &o.MaxWait, DefaultMaxWait)
	dur("FetchTimeout", &o.FetchTimeout, DefaultFetchTimeout)
	dur("MaxStale", &o.MaxStale, DefaultMaxStale)
	dur("MaxRetryInterval", &o.MaxRetryInterval, DefaultMaxRetryInterval)
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

// KeySource is where a TrustedIssuer's public keys come from. Build one with RemoteJWKS, Discover, LocalKeys,
// LocalKeysFile or PublicKeys. Problems with a source (a bad URL, an unreadable file, no usable key) are
// reported by New together with every other configuration problem. A KeySource may be reused; each Verifier
// keeps its own cache.
type KeySource interface {
	provider(issuer string, algs algSet, env sourceEnv) (keyProvider, error)
}

// sourceEnv is what a source needs from the Verifier.
type sourceEnv struct {
	opts   JWKSOptions
	now    func() time.Time
	logger *slog.Logger
}

// keyProvider serves the current key set of one trusted issuer.
type keyProvider interface {
	// current returns the usable key set, or an error saying why there is none.
	current(now time.Time) (*keySet, error)
	// refresh asks for a fetch; it returns a channel closed when the shared fetch ends, or nil when no fetch
	// will happen (local keys, or within the cooldown).
	refresh() <-chan struct{}
	// start begins background work; it returns a channel closed when the first load ends, or nil.
	start(ctx context.Context, wg *sync.WaitGroup) <-chan struct{}
	// stop makes sure no new background work starts; called by Close before waiting.
	stop()
}

// errSource reports a problem found while building a source (e.g. an empty Auth0 domain).
type errSource struct{ err error }

func (s errSource) provider(string, algSet, sourceEnv) (keyProvider, error) { return nil, s.err }

func (s errSource) String() string { return "invalid key source: " + s.err.Error() }

// pubKey is one verification key, pinned to its family and, when the JWK said so, to one algorithm.
type pubKey struct {
	kid  string
	wild bool // a local key given without kid: matches tokens with any kid
	fam  keyFamily
	alg  string // the JWK's alg, "" when absent
	key  crypto.PublicKey
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
		if c == k || (c.kid == k.kid && c.wild == k.wild && c.alg == k.alg && keysEqual(c.key, k.key)) {
			return true
		}
	}
	return false
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

// Key parsing and checks, shared by local and remote sources.

// minRSABits is the smallest RSA modulus accepted (NIST SP 800-131A); maxRSABits bounds verification cost.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// checkKey pins a public key to its family and refuses weak or unusable keys.
func checkKey(key any) (keyFamily, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		if bits < minRSABits {
			return 0, fmt.Errorf("RSA key of %d bits is too small (at least %d)", bits, minRSABits)
		}
		if bits > maxRSABits {
			return 0, fmt.Errorf("RSA key of %d bits is too large (at most %d)", bits, maxRSABits)
		}
		if k.E < 3 || k.E%2 == 0 {
			return 0, fmt.Errorf("RSA public exponent %d is invalid", k.E)
		}
	case *ecdsa.PublicKey:
		if _, err := k.ECDH(); err != nil { // also checks the point is on the curve
			return 0, fmt.Errorf("EC key is invalid: %v", err)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return 0, fmt.Errorf("Ed25519 key has %d bytes, not %d", len(k), ed25519.PublicKeySize)
		}
	}
	fam := familyOf(key)
	if fam == 0 {
		return 0, fmt.Errorf("key type %T cannot verify JWS signatures (use RSA >= 2048 bits, EC P-256/P-384/P-521, or Ed25519)", key)
	}
	return fam, nil
}

// jwkMeta are the JWK members checked before the key is used, read strictly by their exact names.
type jwkMeta struct {
	kty, use, alg, kid string
	hasUse, hasOps     bool
	opsVerify          bool
	hasPrivate         bool
}

func readJWKMeta(raw []byte) (jwkMeta, error) {
	var m jwkMeta
	r := jsonReader{b: raw}
	ok := r.object(0, func(name []byte) bool {
		var ok bool
		switch string(name) {
		case "kty":
			m.kty, ok = r.str()
		case "use":
			m.use, ok = r.str()
			m.hasUse = true
		case "alg":
			m.alg, ok = r.str()
		case "kid":
			m.kid, ok = r.str()
		case "key_ops":
			var ops []string
			ops, ok = r.stringArray()
			m.hasOps = true
			for _, op := range ops {
				m.opsVerify = m.opsVerify || op == "verify"
			}
		case "d", "p", "q", "dp", "dq", "qi", "k":
			m.hasPrivate = true
			ok = r.skip(1)
		default:
			ok = r.skip(1)
		}
		return ok
	}) && r.end()
	if !ok {
		return m, errors.New("not a JSON object: " + string(r.err))
	}
	return m, nil
}

// parseJWK turns one JWK into a verification key, or says why it cannot be one.
func parseJWK(raw []byte, local bool) (*pubKey, jwkMeta, error) {
	m, err := readJWKMeta(raw)
	if err != nil {
		return nil, m, err
	}
	switch {
	case m.kty == "oct":
		return nil, m, errors.New(`kty "oct" is a shared secret; jwtauth verifies asymmetric signatures only`)
	case m.hasUse && m.use != "sig":
		return nil, m, fmt.Errorf(`use is %q, not "sig"`, m.use)
	case m.hasOps && !m.opsVerify:
		return nil, m, errors.New(`key_ops does not include "verify"`)
	}
	var pinned *algInfo
	if m.alg != "" {
		if pinned = lookupAlg(m.alg); pinned == nil {
			return nil, m, fmt.Errorf("alg %q is not an asymmetric JWS algorithm", m.alg)
		}
	}
	j, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, m, err
	}
	fam, err := checkKey(j.Key())
	if err != nil {
		return nil, m, err
	}
	if pinned != nil && pinned.fam != fam {
		return nil, m, fmt.Errorf("alg %s does not fit a %s key", m.alg, fam)
	}
	return &pubKey{kid: m.kid, wild: local && m.kid == "", fam: fam, alg: m.alg, key: j.Key()}, m, nil
}

// parseJWKSet reads a JWK Set and returns its usable keys; a bad key is skipped and reported, never fatal.
func parseJWKSet(body []byte, local bool, algs algSet, logger *slog.Logger, where string) ([]*pubKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	r := jsonReader{b: body}
	if !r.object(0, nil) || !r.end() {
		return nil, fmt.Errorf("not a JSON object: %s", r.err)
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %v", err)
	}
	if set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	var keys []*pubKey
	var reasons []string
	for i, raw := range set.Keys {
		k, m, err := parseJWK(raw, local)
		if err == nil && algs != 0 && !familyAllowed(k.fam, algs) {
			err = fmt.Errorf("a %s key fits none of the configured Algorithms", k.fam)
		}
		if m.hasPrivate && !local {
			// Whoever read this public document can sign with the key, so it proves nothing.
			err = errors.New("the key set publishes its private part, so anyone can sign with it; the issuer must rotate it")
			logger.Error("jwtauth: the key set publishes private key material; the key is not used and the issuer must rotate it",
				"source", where, "kid", m.kid)
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("key %d (kid %q): %v", i, m.kid, err))
			logger.Warn("jwtauth: skipping unusable key", "source", where, "index", i, "kid", m.kid, "reason", err.Error())
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		if len(reasons) == 0 {
			return nil, errors.New("the key set is empty")
		}
		return nil, fmt.Errorf("no usable key in the key set: %s", strings.Join(reasons, "; "))
	}
	return keys, nil
}

func familyAllowed(f keyFamily, algs algSet) bool {
	for _, a := range [...]*algInfo{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512, algES256, algES384, algES512, algEdDSA} {
		if a.fam == f && algs&a.bit != 0 {
			return true
		}
	}
	return false
}

// Local keys.

// LocalKeys uses the public keys in data: a PEM (PKIX or PKCS#1 public key, X.509 certificate, or a private
// key, reduced to its public part), a JWK, a JWK Set, or any of these base64-encoded (as in an environment
// variable set with `base64 jwks.json`; line breaks are ignored). Private JWK members are ignored. A key given
// without kid verifies tokens with any kid, or none, if its type fits the algorithm.
func LocalKeys(data []byte) KeySource { return localSource{data: data, name: "LocalKeys"} }

// LocalKeysFile is LocalKeys with the contents of the file at path, read once by New.
func LocalKeysFile(path string) KeySource { return localSource{path: path, name: "LocalKeysFile"} }

// PublicKeys uses the given keys (*rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or private keys of
// those types, reduced to their public part). They have no kid, so each verifies tokens with any kid, or
// none, if its type fits the algorithm.
func PublicKeys(keys ...crypto.PublicKey) KeySource {
	return localSource{keys: keys, isKeys: true, name: "PublicKeys"}
}

type localSource struct {
	data   []byte
	path   string
	keys   []crypto.PublicKey
	isKeys bool
	name   string
}

// String names the source for logs and tests, never its key material.
func (s localSource) String() string {
	switch {
	case s.isKeys:
		return fmt.Sprintf("PublicKeys(%d keys)", len(s.keys))
	case s.path != "":
		return fmt.Sprintf("LocalKeysFile(%q)", s.path)
	}
	return fmt.Sprintf("LocalKeys(%d bytes)", len(s.data))
}

func (s localSource) provider(_ string, algs algSet, env sourceEnv) (keyProvider, error) {
	keys, err := s.load(algs, env.logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	var usable []*pubKey
	byFam := map[keyFamily]int{}
	for _, k := range keys {
		if familyAllowed(k.fam, algs) {
			usable = append(usable, k)
			if k.wild {
				byFam[k.fam]++
			}
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%s: none of the %d keys fits the configured Algorithms", s.name, len(keys))
	}
	for fam, n := range byFam {
		if n > 1 {
			return nil, fmt.Errorf("%s: %d %s keys have no kid, so a token could not say which one signed it: give each a kid (use a JWK Set)", s.name, n, fam)
		}
	}
	return staticKeys{set: newKeySet(usable, time.Time{}, env.logger, s.name)}, nil
}

func (s localSource) load(algs algSet, logger *slog.Logger) ([]*pubKey, error) {
	switch {
	case s.isKeys:
		var out []*pubKey
		for i, k := range s.keys {
			if p, ok := k.(interface{ Public() crypto.PublicKey }); ok {
				k = p.Public()
			}
			fam, err := checkKey(k)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			out = append(out, &pubKey{wild: true, fam: fam, key: k})
		}
		if len(out) == 0 {
			return nil, errors.New("no keys given")
		}
		return out, nil
	case s.path != "":
		data, err := readFileLimited(s.path, DefaultMaxResponseSize)
		if err != nil {
			return nil, err
		}
		return parseKeyData(data, algs, logger, s.path, true)
	default:
		return parseKeyData(s.data, algs, logger, s.name, true)
	}
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it a key file?", path, limit)
	}
	return data, nil
}

// parseKeyData detects the format of data: PEM, JWK or JWK Set JSON, or base64 of one of them.
func parseKeyData(data []byte, algs algSet, logger *slog.Logger, where string, allowBase64 bool) ([]*pubKey, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, errors.New("no key data (empty input)")
	case bytes.HasPrefix(data, []byte("-----BEGIN")):
		return parsePEMKeys(data)
	case data[0] == '{':
		m, err := readJWKMeta(data)
		if err == nil && m.kty == "" {
			return parseJWKSet(data, true, algs, logger, where)
		}
		k, _, err := parseJWK(data, true)
		if err != nil {
			return nil, fmt.Errorf("JWK: %w", err)
		}
		return []*pubKey{k}, nil
	case allowBase64:
		decoded, err := decodeLooseBase64(data)
		if err != nil {
			return nil, errors.New("not PEM, JSON, or base64 of either")
		}
		keys, err := parseKeyData(decoded, algs, logger, where, false)
		if err != nil {
			return nil, fmt.Errorf("base64-decoded data: %w", err)
		}
		return keys, nil
	}
	return nil, errors.New("not PEM or JSON")
}

// decodeLooseBase64 decodes standard or URL-safe base64, padded or not, ignoring line breaks and spaces
// (`base64` wraps at 76 columns). This is for configuration, never for tokens.
func decodeLooseBase64(data []byte) ([]byte, error) {
	clean := make([]byte, 0, len(data))
	for _, c := range data {
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			clean = append(clean, c)
		}
	}
	s := strings.TrimRight(string(clean), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func parsePEMKeys(data []byte) ([]*pubKey, error) {
	var out []*pubKey
	err := eachPEMKey(data, func(key any) error {
		if p, ok := key.(interface{ Public() crypto.PublicKey }); ok {
			key = p.Public()
		}
		fam, err := checkKey(key)
		if err != nil {
			return err
		}
		out = append(out, &pubKey{wild: true, fam: fam, key: key})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("no PEM block found")
	}
	return out, nil
}

// eachPEMKey calls fn with the key of every PEM block in data, public or private, skipping the EC PARAMETERS
// block that `openssl ecparam -genkey` writes before a key. It is shared by LocalKeys and ParseSigningKeys so
// both read the same formats; errors name the block.
func eachPEMKey(data []byte, fn func(key any) error) error {
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil
		}
		if block.Type == "EC PARAMETERS" {
			continue
		}
		key, err := pemBlockKey(block)
		if err == nil {
			err = fn(key)
		}
		if err != nil {
			return fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
	}
}

// pemBlockKey parses the key in a PEM block, public or private, as written by openssl and crypto/x509.
func pemBlockKey(block *pem.Block) (any, error) {
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED PRIVATE KEY":
		return nil, errors.New("the key is encrypted: decrypt it first (openssl pkcs8 -in key.pem -out plain.pem)")
	default:
		return nil, errors.New("unsupported PEM type (use PUBLIC KEY, RSA PUBLIC KEY, CERTIFICATE, PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)")
	}
	if err != nil {
		return nil, errors.New("the key does not parse: " + err.Error())
	}
	return key, nil
}

// staticKeys serves a key set that never changes.
type staticKeys struct{ set *keySet }

func (s staticKeys) current(time.Time) (*keySet, error)                   { return s.set, nil }
func (staticKeys) refresh() <-chan struct{}                               { return nil }
func (staticKeys) start(context.Context, *sync.WaitGroup) <-chan struct{} { return nil }
func (staticKeys) stop()                                                  {}

// Remote keys.

// RemoteJWKS fetches the issuer's keys from a JWK Set URL, keeps them cached, refreshes them in the
// background and when a token names an unknown kid. The URL must be https, except for loopback hosts
// (localhost, 127.0.0.0/8, ::1) used in development and tests.
func RemoteJWKS(jwksURL string) KeySource { return remoteJWKS{jwksURL: jwksURL} }

// Discover finds the issuer's JWK Set through OpenID Connect discovery
// (issuerURL + "/.well-known/openid-configuration"), then behaves as RemoteJWKS. The document's issuer must
// equal issuerURL, which must equal the TrustedIssuer's Issuer.
func Discover(issuerURL string) KeySource { return remoteJWKS{discoverIssuer: issuerURL} }

// Auth0 is the preset for an Auth0 tenant: issuer "https://DOMAIN/", keys from
// "https://DOMAIN/.well-known/jwks.json", RS256. domain is the tenant domain as shown in the Auth0 dashboard
// (dev-abc.us.auth0.com, or a custom domain); audiences are API identifiers.
func Auth0(domain string, audiences ...string) TrustedIssuer {
	d := strings.TrimSuffix(strings.TrimPrefix(domain, "https://"), "/")
	ti := TrustedIssuer{
		Issuer:     "https://" + d + "/",
		Audiences:  audiences,
		Algorithms: []string{"RS256"},
		Keys:       RemoteJWKS("https://" + d + "/.well-known/jwks.json"),
	}
	if d == "" || strings.ContainsAny(d, "/?#@ ") {
		ti.Keys = errSource{fmt.Errorf("Auth0 domain %q is not a host name: use the tenant domain, e.g. dev-abc.us.auth0.com", domain)}
	}
	return ti
}

// OIDC is the preset for an OpenID Connect provider: keys through Discover(issuer), RS256 (the algorithm
// every OpenID provider supports; change Algorithms if yours signs access tokens with another).
func OIDC(issuer string, audiences ...string) TrustedIssuer {
	return TrustedIssuer{Issuer: issuer, Audiences: audiences, Algorithms: []string{"RS256"}, Keys: Discover(issuer)}
}

type remoteJWKS struct {
	jwksURL        string
	discoverIssuer string
}

// String names the source: RemoteJWKS(url) or Discover(issuer).
func (s remoteJWKS) String() string {
	if s.discoverIssuer != "" {
		return fmt.Sprintf("Discover(%s)", s.discoverIssuer)
	}
	return fmt.Sprintf("RemoteJWKS(%s)", s.jwksURL)
}

func (s remoteJWKS) provider(issuer string, algs algSet, env sourceEnv) (keyProvider, error) {
	r := &remoteSource{jwksURL: s.jwksURL, discover: s.discoverIssuer, algs: algs, env: env, rescheduled: make(chan struct{}, 1)}
	if s.discoverIssuer != "" {
		if s.discoverIssuer != issuer {
			return nil, fmt.Errorf("Discover(%q) names another issuer than Issuer; they must be equal", s.discoverIssuer)
		}
		u, err := checkFetchURL(discoveryURL(issuer))
		if err != nil {
			return nil, fmt.Errorf("Discover: %w", err)
		}
		r.where = u
		return r, nil
	}
	u, err := checkFetchURL(s.jwksURL)
	if err != nil {
		return nil, fmt.Errorf("RemoteJWKS: %w", err)
	}
	r.jwksURL, r.where = u, u
	return r, nil
}

func discoveryURL(issuer string) string {
	return strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
}

// checkFetchURL requires an absolute https URL, or http for a loopback host.
func checkFetchURL(raw string) (string, error) {
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
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("URL %q is http; key sets must be fetched over https (http is allowed only for localhost, 127.0.0.0/8 and ::1)", raw)
		}
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

// remoteSource is the fetch-and-cache engine of a remote key set. Readers load the snapshot atomically and
// never lock; fetches are de-duplicated (one in flight, shared by every waiter, on the Verifier's context and
// never a request's) and triggered fetches are rate-limited by the cooldown.
type remoteSource struct {
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

func (s *remoteSource) refresh() <-chan struct{} { return s.trigger(false) }

func (s *remoteSource) start(ctx context.Context, wg *sync.WaitGroup) <-chan struct{} {
	s.mu.Lock()
	s.ctx, s.wg = ctx, wg
	s.mu.Unlock()
	first := s.trigger(true)
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
			done := s.trigger(true)
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
// (force false), the last such fetch started within the cooldown (then it returns nil). Periodic fetches do
// not count towards the cooldown, so a rotation right after one is still picked up at once.
func (s *remoteSource) trigger(force bool) <-chan struct{} {
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
		maxAge, err := s.fetch()
		s.mu.Lock()
		s.record(maxAge, err)
		s.inflight = nil
		s.mu.Unlock()
		close(ch)
		if !force {
			select {
			case s.rescheduled <- struct{}{}:
			default:
			}
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
// A failed, empty or unusable response leaves the last good keys in place.
func (s *remoteSource) fetch() (time.Duration, error) {
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
			return 0, err
		}
		s.mu.Lock()
		s.jwksURL, jwksURL = u, u
		s.mu.Unlock()
	}
	body, maxAge, err := s.get(ctx, jwksURL)
	if err == nil {
		var keys []*pubKey
		keys, err = parseJWKSet(body, false, s.algs, s.env.logger, jwksURL)
		if err == nil {
			ks := newKeySet(keys, s.env.now(), s.env.logger, jwksURL)
			if ks.size == 0 {
				err = errors.New("no usable key in the key set")
			} else {
				s.set.Store(ks)
				s.env.logger.Debug("jwtauth: key set loaded", "url", jwksURL, "keys", ks.size)
				return maxAge, nil
			}
		}
	}
	err = fmt.Errorf("fetching key set %s: %w", jwksURL, err)
	if s.set.Load() != nil {
		s.env.logger.Warn("jwtauth: key set refresh failed; keeping the last good keys", "url", jwksURL, "error", err.Error())
	} else {
		s.env.logger.Warn("jwtauth: key set fetch failed; retrying with backoff", "url", jwksURL, "error", err.Error())
	}
	return 0, err
}

func (s *remoteSource) discoverJWKS(ctx context.Context) (string, error) {
	body, _, err := s.get(ctx, s.where)
	if err != nil {
		return "", fmt.Errorf("fetching discovery document: %w", err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document %s is not JSON: %v", s.where, err)
	}
	if doc.Issuer != s.discover {
		return "", fmt.Errorf("discovery document %s names issuer %s, not the configured %q", s.where, quote(doc.Issuer), s.discover)
	}
	u, err := checkFetchURL(doc.JWKSURI)
	if err != nil {
		return "", fmt.Errorf("discovery document jwks_uri: %w", err)
	}
	return u, nil
}

// get fetches a URL with the size cap, returning the body and the Cache-Control max-age (0 when absent).
func (s *remoteSource) get(ctx context.Context, u string) ([]byte, time.Duration, error) {
	o := s.env.opts
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := o.HTTPClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, 0, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	if resp.ContentLength > o.MaxResponseSize {
		return nil, 0, fmt.Errorf("response of %d bytes exceeds JWKS.MaxResponseSize %d", resp.ContentLength, o.MaxResponseSize)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && mt == "text/html" {
			return nil, 0, errors.New("response is an HTML page, not JSON (wrong URL?)")
		}
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, o.MaxResponseSize+1))
	if err != nil {
		return nil, 0, fmt.Errorf("reading response: %w", err)
	}
	if int64(len(body)) > o.MaxResponseSize {
		return nil, 0, fmt.Errorf("response exceeds JWKS.MaxResponseSize %d bytes", o.MaxResponseSize)
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
