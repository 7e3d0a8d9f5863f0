package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
)

const (
	defaultIssuerTTL = 15 * time.Minute
	// maxIssuerTTL bounds IssuerConfig.TTL: a bearer token cannot be revoked, so a stolen one works until it
	// expires.
	maxIssuerTTL = 24 * time.Hour
	// maxKeyFile bounds LoadSigningKeys: a key file is a few KiB at most.
	maxKeyFile = 1 << 20
	// jwksCacheControl is short so verifiers pick up a rotation within minutes; jwtauth's verifier honours max-age.
	jwksCacheControl = "public, max-age=300"
)

// ErrReservedClaim is returned by Issuer.Issue when the caller's claims name a registered claim the Issuer sets
// itself (iss, sub, aud, exp, nbf, iat, jti), or cnf, which promises a key binding it does not make:
// overriding them silently would mint tokens the caller did not mean.
var ErrReservedClaim = errors.New("jwtauth: reserved claim")

// SigningKey is a private signing key with its kid and algorithm. It never shows its key material: String, the
// fmt verbs and slog print only its kid and algorithm, so a key can be logged by mistake without leaking.
type SigningKey struct {
	kid    string
	alg    *algInfo
	key    crypto.Signer
	pub    crypto.PublicKey
	header string // base64url of {"alg","kid","typ"} followed by '.', the fixed start of every token
}

// KeyID returns the kid written into the header of tokens this key signs.
func (k *SigningKey) KeyID() string { return k.kid }

// Algorithm returns the JWS algorithm this key signs with (ES256, RS256, EdDSA, ...).
func (k *SigningKey) Algorithm() string {
	if k.alg == nil {
		return ""
	}
	return k.alg.name
}

// Public returns the public key, for verifiers configured by hand (PublicKeys).
func (k *SigningKey) Public() crypto.PublicKey { return k.pub }

// The formatting methods have value receivers so a SigningKey value, not only a pointer, never prints its fields.

// String describes the key by kid and algorithm only.
func (k SigningKey) String() string {
	return fmt.Sprintf("jwtauth.SigningKey{kid: %q, alg: %s}", k.kid, k.Algorithm())
}

// GoString is String: %#v must not print key material either.
func (k SigningKey) GoString() string { return k.String() }

// Format prints String for every verb, so no verb (%d, %x, %+v) reaches the key's fields through reflection.
func (k SigningKey) Format(f fmt.State, verb rune) { formatSafe(f, verb, k.String()) }

// LogValue makes slog log the key as String, whatever the handler.
func (k SigningKey) LogValue() slog.Value { return slog.StringValue(k.String()) }

func formatSafe(f fmt.State, verb rune, s string) {
	if verb == 'q' {
		s = strconv.Quote(s)
	}
	_, _ = io.WriteString(f, s)
}

// GenerateSigningKey creates a new random key for alg: "" or ES256 (the default: short signatures, fast),
// ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 (2048-bit RSA, the size every verifier accepts), or
// EdDSA (Ed25519). Its kid is the RFC 7638 thumbprint of the public key.
func GenerateSigningKey(alg string) (*SigningKey, error) {
	if alg == "" {
		alg = "ES256"
	}
	a := lookupAlg(alg)
	if a == nil {
		return nil, fmt.Errorf("jwtauth: GenerateSigningKey: algorithm %q is not supported: %s", alg, algAdvice(alg))
	}
	var (
		key crypto.Signer
		err error
	)
	switch a.fam {
	case famRSA:
		key, err = rsa.GenerateKey(rand.Reader, minRSABits)
	case famP256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case famP384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case famP521:
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case famEd25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	}
	if err != nil {
		return nil, fmt.Errorf("jwtauth: GenerateSigningKey: %w", err)
	}
	k, err := newSigningKey(key, alg, "")
	if err != nil {
		return nil, fmt.Errorf("jwtauth: GenerateSigningKey: %w", err)
	}
	return k, nil
}

// NewSigningKey wraps a private key (*ecdsa.PrivateKey, *rsa.PrivateKey of at least 2048 bits, or
// ed25519.PrivateKey). alg "" means what the key implies (ES256/ES384/ES512 by curve, RS256, EdDSA); any other
// alg must fit the key. kid "" means the RFC 7638 thumbprint, which is stable for the same key everywhere.
// The key signs once here, so a private key that does not match its public part is refused now, not at login.
func NewSigningKey(key crypto.Signer, alg, kid string) (*SigningKey, error) {
	k, err := newSigningKey(key, alg, kid)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: NewSigningKey: %w", err)
	}
	return k, nil
}

// newSigningKey does NewSigningKey; its errors name the problem only, never key material.
func newSigningKey(key crypto.Signer, alg, kid string) (*SigningKey, error) {
	switch k := key.(type) {
	case nil:
		return nil, errors.New("key is nil")
	case *ecdsa.PrivateKey:
		if k == nil {
			return nil, errors.New("key is nil")
		}
	case *rsa.PrivateKey:
		if k == nil {
			return nil, errors.New("key is nil")
		}
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("Ed25519 private key has %d bytes, not %d", len(k), ed25519.PrivateKeySize)
		}
	case *ed25519.PrivateKey:
		if k == nil {
			return nil, errors.New("key is nil")
		}
		return newSigningKey(*k, alg, kid)
	default:
		// golang-jwt signs with these concrete types only; a KMS- or HSM-backed crypto.Signer cannot be used.
		return nil, fmt.Errorf("key type %T cannot sign here: use *ecdsa.PrivateKey, *rsa.PrivateKey or ed25519.PrivateKey", key)
	}
	pub := key.Public()
	fam, err := checkKey(pub)
	if err != nil {
		return nil, err
	}
	var a *algInfo
	if alg == "" {
		a = impliedAlg(fam)
	} else if a = lookupAlg(alg); a == nil {
		return nil, fmt.Errorf("algorithm %q is not supported: %s", alg, algAdvice(alg))
	} else if a.fam != fam {
		return nil, fmt.Errorf("algorithm %s does not fit a %s key (it needs %s)", alg, fam, a.fam)
	}
	if kid == "" {
		if kid, err = thumbprint(pub); err != nil {
			return nil, err
		}
	} else if err := checkKID(kid); err != nil {
		return nil, err
	}
	if err := selfTest(key, pub, a); err != nil {
		return nil, err
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{a.name, kid, "JWT"})
	if err != nil {
		return nil, err
	}
	return &SigningKey{kid: kid, alg: a, key: key, pub: pub, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
}

func impliedAlg(f keyFamily) *algInfo {
	switch f {
	case famP256:
		return algES256
	case famP384:
		return algES384
	case famP521:
		return algES512
	case famEd25519:
		return algEdDSA
	}
	return algRS256
}

// checkKID refuses kids that would garble logs or headers; anything printable is fine.
func checkKID(kid string) error {
	if len(kid) > 256 {
		return fmt.Errorf("kid is %d bytes long; keep it under 256", len(kid))
	}
	if !utf8.ValidString(kid) || strings.ContainsFunc(kid, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("kid %s has control characters or is not UTF-8", quote(kid))
	}
	return nil
}

// selfTest signs and verifies once: it catches a private part that does not match the public part (jwkset and
// ecdsa accept such keys), which would otherwise mint tokens that no verifier accepts.
func selfTest(key crypto.Signer, pub crypto.PublicKey, a *algInfo) (err error) {
	defer func() {
		if recover() != nil {
			err = errors.New("private key is malformed")
		}
	}()
	const msg = "jwtauth signing key self-test"
	sig, err := a.method.Sign(msg, key)
	if err != nil {
		return fmt.Errorf("private key cannot sign with %s: %v", a.name, err)
	}
	if err := a.method.Verify(msg, sig, pub); err != nil {
		return errors.New("private key does not match its public key")
	}
	return nil
}

// thumbprint is the RFC 7638 JWK thumbprint of pub: SHA-256 of the required members in lexicographic order,
// without whitespace, base64url-encoded.
func thumbprint(pub crypto.PublicKey) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	var canon string
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		pt, err := k.Bytes() // 0x04 || X || Y, each coordinate at full size
		if err != nil {
			return "", fmt.Errorf("EC key is invalid: %v", err)
		}
		n := (len(pt) - 1) / 2
		canon = `{"crv":"` + k.Curve.Params().Name + `","kty":"EC","x":"` + b64(pt[1:1+n]) + `","y":"` + b64(pt[1+n:]) + `"}`
	case *rsa.PublicKey:
		e := big.NewInt(int64(k.E)).Bytes()
		canon = `{"e":"` + b64(e) + `","kty":"RSA","n":"` + b64(k.N.Bytes()) + `"}`
	case ed25519.PublicKey:
		canon = `{"crv":"Ed25519","kty":"OKP","x":"` + b64(k) + `"}`
	default:
		return "", fmt.Errorf("key type %T has no JWK thumbprint", pub)
	}
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:]), nil
}

// ParseSigningKeys reads private signing keys from data: a private JWK, a private JWK Set, PEM (PKCS#8
// "PRIVATE KEY", PKCS#1 "RSA PRIVATE KEY", SEC1 "EC PRIVATE KEY"), or base64 of any of these with line breaks
// ignored (as `base64 jwks.json` prints, for environment variables). A JWK's kid and alg are kept (alg must fit
// the key); keys without a kid get their RFC 7638 thumbprint. Errors never contain key material.
func ParseSigningKeys(data []byte) ([]*SigningKey, error) {
	keys, err := parseSigningKeys(data, true)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: signing keys: %w", err)
	}
	return keys, nil
}

// LoadSigningKeys is ParseSigningKeys of the file at path (at most 1 MiB).
func LoadSigningKeys(path string) ([]*SigningKey, error) {
	data, err := readFileLimited(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: signing keys: %w", err)
	}
	keys, err := parseSigningKeys(data, true)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: signing keys in %s: %w", path, err)
	}
	return keys, nil
}

func parseSigningKeys(data []byte, allowBase64 bool) ([]*SigningKey, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, errors.New("no key data (empty input)")
	case bytes.HasPrefix(data, []byte("-----BEGIN")):
		return parsePrivatePEM(data)
	case data[0] == '{':
		m, err := readJWKMeta(data)
		if err != nil {
			return nil, err
		}
		if m.kty == "" {
			return parsePrivateJWKSet(data)
		}
		k, err := parsePrivateJWK(data, m)
		if err != nil {
			return nil, fmt.Errorf("JWK%s: %w", kidNote(m.kid), err)
		}
		return []*SigningKey{k}, nil
	case allowBase64:
		decoded, err := decodeLooseBase64(data)
		if err != nil {
			return nil, errors.New("not PEM, JSON, or base64 of either")
		}
		keys, err := parseSigningKeys(decoded, false)
		if err != nil {
			return nil, fmt.Errorf("base64-decoded data: %w", err)
		}
		return keys, nil
	}
	return nil, errors.New("not PEM or JSON")
}

func kidNote(kid string) string {
	if kid == "" {
		return ""
	}
	return " (kid " + quote(kid) + ")"
}

func parsePrivateJWKSet(data []byte) ([]*SigningKey, error) {
	r := jsonReader{b: data}
	if !r.object(0, nil) || !r.end() {
		return nil, fmt.Errorf("not a JSON object: %s", r.err)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil || set.Keys == nil {
		return nil, errors.New(`not a JWK Set: no "keys" array`)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("the key set is empty")
	}
	var keys []*SigningKey
	var problems []string
	for i, raw := range set.Keys {
		m, err := readJWKMeta(raw)
		var k *SigningKey
		if err == nil {
			k, err = parsePrivateJWK(raw, m)
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("key %d%s: %v", i, kidNote(m.kid), err))
			continue
		}
		keys = append(keys, k)
	}
	if len(problems) > 0 {
		return nil, errors.New(strings.Join(problems, "; "))
	}
	return keys, nil
}

// parsePrivateJWK turns one private JWK into a SigningKey.
func parsePrivateJWK(raw []byte, m jwkMeta) (*SigningKey, error) {
	switch {
	case m.kty == "oct":
		return nil, errors.New(`kty "oct" is a shared secret (HMAC); jwtauth signs with asymmetric keys only`)
	case m.hasUse && m.use != "sig":
		return nil, fmt.Errorf(`use is %s, not "sig"`, quote(m.use))
	case m.alg != "" && lookupAlg(m.alg) == nil:
		return nil, fmt.Errorf("alg %s is not supported: %s", quote(m.alg), algAdvice(m.alg))
	}
	j, err := jwkset.NewJWKFromRawJSON(raw, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	if err != nil {
		return nil, err
	}
	if ops := j.Marshal().KEYOPS; len(ops) > 0 && !slices.Contains(ops, jwkset.KeyOpsSign) {
		return nil, errors.New(`key_ops does not include "sign"`)
	}
	signer, ok := j.Key().(crypto.Signer)
	if !ok || isPublicKey(j.Key()) {
		if m.kty == "RSA" && m.hasPrivate {
			return nil, errors.New("has no usable private part: an RSA private JWK needs all of d, p, q, dp, dq, qi")
		}
		if !m.hasPrivate {
			return nil, errors.New("has no private part (d): this is a public key; signing needs the private JWK")
		}
		return nil, fmt.Errorf("a %s key cannot sign JWS tokens", quote(m.kty))
	}
	return newSigningKey(signer, m.alg, m.kid)
}

func isPublicKey(k any) bool {
	switch k.(type) {
	case *ecdsa.PublicKey, *rsa.PublicKey, ed25519.PublicKey:
		return true
	}
	return false
}

func parsePrivatePEM(data []byte) ([]*SigningKey, error) {
	var keys []*SigningKey
	err := eachPEMKey(data, func(key any) error {
		if isPublicKey(key) {
			return errors.New("is a public key; signing needs the private key")
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return fmt.Errorf("key type %T cannot sign", key)
		}
		k, err := newSigningKey(signer, "", "")
		if err != nil {
			return err
		}
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no private key PEM block found")
	}
	return keys, nil
}

// PrivateJWKS returns the keys as a private JWK Set, {"keys":[{..., "d", "kid", "alg", "use":"sig"}]} with every
// RSA CRT member (p, q, dp, dq, qi): the format ParseSigningKeys and ES256_KEY read. It holds secrets, hence
// the name: serve PublicJWKS, never this.
func PrivateJWKS(keys ...*SigningKey) ([]byte, error) {
	b, err := marshalJWKS(keys, true)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: PrivateJWKS: %w", err)
	}
	return b, nil
}

// PublicJWKS returns the public JWK Set of the keys, each with kid, alg and use "sig", and no private member:
// what verifiers fetch.
func PublicJWKS(keys ...*SigningKey) ([]byte, error) {
	b, err := marshalJWKS(keys, false)
	if err != nil {
		return nil, fmt.Errorf("jwtauth: PublicJWKS: %w", err)
	}
	return b, nil
}

func marshalJWKS(keys []*SigningKey, private bool) ([]byte, error) {
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(keys))}
	for i, k := range keys {
		if k == nil || k.key == nil {
			return nil, fmt.Errorf("key %d is not a SigningKey from GenerateSigningKey, NewSigningKey or ParseSigningKeys", i)
		}
		var material any = k.pub
		if private {
			material = k.key
		}
		j, err := jwkset.NewJWKFromKey(material, jwkset.JWKOptions{
			Marshal:  jwkset.JWKMarshalOptions{Private: private},
			Metadata: jwkset.JWKMetadataOptions{ALG: jwkset.ALG(k.alg.name), KID: k.kid, USE: jwkset.UseSig},
		})
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q) cannot be written as a JWK", i, k.kid)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	return json.Marshal(set)
}

// IssuerConfig configures an Issuer. NewIssuer validates it all at once.
type IssuerConfig struct {
	// Issuer is the iss of issued tokens, the value verifiers compare exactly. Required.
	Issuer string
	// Audience is the aud of issued tokens: the APIs that accept them. Required. One value is written as a
	// string, several as an array.
	Audience []string
	// TTL is the lifetime of issued tokens. Zero means 15 minutes; at most 24 hours, because a bearer token
	// cannot be revoked: a stolen one works until it expires. exp is iat plus TTL in whole seconds.
	TTL time.Duration
	// Keys are the signing keys. All are published by JWKS and trusted by TrustedIssuer, so tokens signed by a
	// retired key keep verifying until they expire. At least one; kids must be unique.
	Keys []*SigningKey
	// ActiveKeyID is the kid of the key that signs new tokens. "" means the first of Keys.
	ActiveKeyID string
	// Clock returns the current time, for iat and exp. Nil means time.Now.
	Clock func() time.Time
}

// Issuer mints signed tokens for a self-hosted login and publishes the keys that verify them. It is safe for
// concurrent use and holds no mutable state.
type Issuer struct {
	issuer   string
	audience []string
	ttl      time.Duration
	ttlSec   int64
	keys     []*SigningKey
	active   *SigningKey
	clock    func() time.Time // as configured, nil for time.Now; handed on to Verifier
	now      func() time.Time
	algs     []string
	jwks     []byte
	// issPart is `{"iss":ISS,"sub":` and audPart `,"aud":AUD,"iat":`: the fixed parts of every payload.
	issPart []byte
	audPart []byte
}

// NewIssuer validates cfg and returns an Issuer. Every problem found is reported in one error.
func NewIssuer(cfg IssuerConfig) (*Issuer, error) {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("jwtauth: IssuerConfig."+format, args...))
	}
	if cfg.Issuer == "" {
		bad("Issuer is empty: set the iss your verifiers expect, e.g. https://login.example.com")
	}
	if len(cfg.Audience) == 0 {
		bad("Audience is empty: set the API identifier verifiers expect in aud")
	}
	for i, a := range cfg.Audience {
		if a == "" {
			bad("Audience[%d] is empty", i)
		}
	}
	ttl := cfg.TTL
	if ttl == 0 {
		ttl = defaultIssuerTTL
	}
	if ttl < time.Second || ttl > maxIssuerTTL {
		bad("TTL %s is out of range: use 0 (default %s), or 1s up to %s (bearer tokens cannot be revoked, so keep them short-lived)", cfg.TTL, defaultIssuerTTL, maxIssuerTTL)
	}
	if len(cfg.Keys) == 0 {
		bad("Keys is empty: add a key from GenerateSigningKey or LoadSigningKeys")
	}
	seen := map[string]bool{}
	var kids []string
	var usable []*SigningKey
	for i, k := range cfg.Keys {
		if k == nil || k.key == nil {
			bad("Keys[%d] is not a usable key: build it with GenerateSigningKey, NewSigningKey or ParseSigningKeys", i)
			continue
		}
		if seen[k.kid] {
			bad("Keys[%d]: kid %q is used by another key: kids must be unique", i, k.kid)
			continue
		}
		seen[k.kid] = true
		kids = append(kids, k.kid)
		usable = append(usable, k)
	}
	var active *SigningKey
	if cfg.ActiveKeyID == "" {
		if len(usable) > 0 {
			active = usable[0]
		}
	} else {
		for _, k := range usable {
			if k.kid == cfg.ActiveKeyID {
				active = k
			}
		}
		if active == nil {
			bad("ActiveKeyID %q is not the kid of any key: known kids are %s", cfg.ActiveKeyID, quoteList(kids))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}

	i := &Issuer{
		issuer:   cfg.Issuer,
		audience: slices.Clone(cfg.Audience),
		ttl:      ttl,
		ttlSec:   int64(ttl / time.Second),
		keys:     slices.Clone(usable),
		active:   active,
		clock:    cfg.Clock,
		now:      cfg.Clock,
	}
	if i.now == nil {
		i.now = time.Now
	}
	for _, k := range i.keys {
		if !slices.Contains(i.algs, k.alg.name) {
			i.algs = append(i.algs, k.alg.name)
		}
	}
	jwks, err := PublicJWKS(i.keys...)
	if err != nil {
		return nil, err
	}
	i.jwks = jwks
	i.issPart = appendJSONString(append([]byte(nil), `{"iss":`...), i.issuer)
	i.issPart = append(i.issPart, `,"sub":`...)
	i.audPart = append([]byte(nil), `,"aud":`...)
	if len(i.audience) == 1 {
		i.audPart = appendJSONString(i.audPart, i.audience[0])
	} else {
		i.audPart = append(i.audPart, '[')
		for n, a := range i.audience {
			if n > 0 {
				i.audPart = append(i.audPart, ',')
			}
			i.audPart = appendJSONString(i.audPart, a)
		}
		i.audPart = append(i.audPart, ']')
	}
	i.audPart = append(i.audPart, `,"iat":`...)
	return i, nil
}

// Issue mints a token for subject, signed by the active key: header {"alg","kid","typ":"JWT"}; claims iss, sub,
// aud, iat, nbf (= iat), exp (= iat + TTL), a random jti, and the caller's claims (e.g. "email", "scope").
// Claims naming iss, sub, aud, exp, nbf, iat, jti or cnf are refused with ErrReservedClaim.
func (i *Issuer) Issue(subject string, claims map[string]any) (string, error) {
	if subject == "" {
		return "", errors.New("jwtauth: Issue: subject is empty: every token must say whom it is for")
	}
	for name := range claims {
		switch name {
		case "iss", "sub", "aud", "exp", "nbf", "iat", "jti":
			return "", fmt.Errorf("%w: %q is set by the Issuer from IssuerConfig and the subject; remove it from claims", ErrReservedClaim, name)
		case "cnf":
			// A confirmation claim promises a key binding this Issuer does not make, and jwtauth's Verifier
			// refuses tokens that carry one.
			return "", fmt.Errorf("%w: %q (RFC 7800 proof-of-possession) cannot be issued by a bearer-token Issuer", ErrReservedClaim, name)
		}
	}
	var extra []byte
	if len(claims) > 0 {
		var err error
		if extra, err = json.Marshal(claims); err != nil {
			return "", fmt.Errorf("jwtauth: Issue: claims do not encode as JSON: %w", err)
		}
	}

	var jti [16]byte
	_, _ = rand.Read(jti[:]) // never fails: crypto/rand.Read crashes the program rather than return an error
	iat := i.now().Unix()

	var pbuf [512]byte
	p := append(pbuf[:0], i.issPart...)
	p = appendJSONString(p, subject)
	p = append(p, i.audPart...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"nbf":`...)
	p = strconv.AppendInt(p, iat, 10)
	p = append(p, `,"exp":`...)
	p = strconv.AppendInt(p, iat+i.ttlSec, 10)
	p = append(p, `,"jti":"`...)
	p = base64.RawURLEncoding.AppendEncode(p, jti[:])
	p = append(p, '"')
	if len(extra) > 2 { // `{...}` without its braces
		p = append(p, ',')
		p = append(p, extra[1:]...)
	} else {
		p = append(p, '}')
	}

	k := i.active
	enc := base64.RawURLEncoding
	tok := make([]byte, 0, len(k.header)+enc.EncodedLen(len(p))+1+enc.EncodedLen(k.sigSize()))
	tok = append(tok, k.header...)
	tok = enc.AppendEncode(tok, p)
	sig, err := k.alg.method.Sign(string(tok), k.key)
	if err != nil {
		return "", fmt.Errorf("jwtauth: Issue: signing with key %q: %w", k.kid, err)
	}
	tok = append(tok, '.')
	tok = enc.AppendEncode(tok, sig)
	return string(tok), nil
}

// sigSize is the signature length, to size the token buffer once.
func (k *SigningKey) sigSize() int {
	switch p := k.pub.(type) {
	case *rsa.PublicKey:
		return p.Size()
	case *ecdsa.PublicKey:
		return 2 * ((p.Curve.Params().BitSize + 7) / 8)
	}
	return ed25519.SignatureSize
}

// appendJSONString appends s as a JSON string, escaped as encoding/json does (without HTML escaping).
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for n := 0; n < len(s); {
		c := s[n]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			n++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:n]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			n++
			start = n
			continue
		}
		r, size := utf8.DecodeRuneInString(s[n:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:n]...)
			b = append(b, `\ufffd`...)
			n += size
			start = n
			continue
		}
		if r == '\u2028' || r == '\u2029' { // valid JSON, but not valid JavaScript
			b = append(b, s[start:n]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			n += size
			start = n
			continue
		}
		n += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// TTL is the lifetime of issued tokens, e.g. for the expires_in of a login response.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// ActiveKey is the key that signs new tokens.
func (i *Issuer) ActiveKey() *SigningKey { return i.active }

// JWKS returns the public JWK Set of all keys, as JWKSHandler serves it. It is a copy: change it freely.
func (i *Issuer) JWKS() []byte { return slices.Clone(i.jwks) }

// JWKSHandler serves the public JWK Set (GET and HEAD) as application/jwk-set+json, cacheable for 5 minutes:
// short enough that verifiers see a new key soon after a rotation (jwtauth's verifier honours max-age).
func (i *Issuer) JWKSHandler() http.Handler {
	return staticJSON(i.jwks, "application/jwk-set+json")
}

// DiscoveryHandler serves a minimal OpenID discovery document (issuer, jwks_uri, the signing algorithms) so
// verifiers configured with Discover find the keys. jwksURL is where JWKSHandler is mounted; "" means
// Issuer + "/.well-known/jwks.json". Mount it at Issuer + "/.well-known/openid-configuration".
func (i *Issuer) DiscoveryHandler(jwksURL string) http.Handler {
	if jwksURL == "" {
		jwksURL = strings.TrimSuffix(i.issuer, "/") + "/.well-known/jwks.json"
	}
	doc, err := json.Marshal(struct {
		Issuer            string   `json:"issuer"`
		JWKSURI           string   `json:"jwks_uri"`
		ResponseTypes     []string `json:"response_types_supported"`
		SubjectTypes      []string `json:"subject_types_supported"`
		SigningAlgorithms []string `json:"id_token_signing_alg_values_supported"`
	}{i.issuer, jwksURL, []string{"token"}, []string{"public"}, i.algs})
	if err != nil { // strings only: cannot happen
		panic(err)
	}
	return staticJSON(doc, "application/json")
}

// staticJSON serves a fixed public document: GET and HEAD only, cacheable.
func staticJSON(body []byte, contentType string) http.Handler {
	length := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			h.Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			_, _ = w.Write([]byte(`{"error":"method_not_allowed","error_description":"use GET or HEAD"}`))
			return
		}
		h.Set("Content-Type", contentType)
		h.Set("Cache-Control", jwksCacheControl)
		h.Set("Content-Length", length)
		h.Set("X-Content-Type-Options", "nosniff")
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(body)
	})
}

// TrustedIssuer is the configuration that trusts this Issuer's tokens, with its public keys held locally (no
// fetch): Issuer, Audiences = IssuerConfig.Audience, Algorithms = those of all keys.
func (i *Issuer) TrustedIssuer() TrustedIssuer {
	return TrustedIssuer{
		Issuer:     i.issuer,
		Audiences:  slices.Clone(i.audience),
		Algorithms: slices.Clone(i.algs),
		Keys:       LocalKeys(slices.Clone(i.jwks)),
	}
}

// Verifier is shorthand for a Verifier that trusts this Issuer only, with the Issuer's Clock. Close it when done.
func (i *Issuer) Verifier(ctx context.Context) (*Verifier, error) {
	return New(ctx, Config{Issuers: []TrustedIssuer{i.TrustedIssuer()}, Clock: i.clock})
}

// String describes the Issuer without key material.
func (i Issuer) String() string {
	kids := make([]string, len(i.keys))
	for n, k := range i.keys {
		kids[n] = k.kid
	}
	active := ""
	if i.active != nil {
		active = i.active.kid
	}
	return fmt.Sprintf("jwtauth.Issuer{issuer: %q, audience: [%s], ttl: %s, active: %q, keys: [%s]}",
		i.issuer, quoteList(i.audience), i.ttl, active, quoteList(kids))
}

// GoString is String: %#v must not print key material either.
func (i Issuer) GoString() string { return i.String() }

// Format prints String for every verb, so no verb reaches the keys through reflection.
func (i Issuer) Format(f fmt.State, verb rune) { formatSafe(f, verb, i.String()) }

// LogValue makes slog log the Issuer as String.
func (i Issuer) LogValue() slog.Value { return slog.StringValue(i.String()) }
