package jwtauth

import (
	"bytes"
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
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/MicahParks/jwkset"
)

// SigningKey is a private signing key with its kid and algorithm. It never shows its key material: String, the
// fmt verbs and slog print only its kid and algorithm, so a key can be logged by mistake without leaking.
type SigningKey struct {
	kid string
	alg *algInfo
	// priv holds the key material behind a pointer to an interface: fmt cannot call String on a SigningKey
	// held by value in an unexported field and prints its fields instead, and it prints such a pointer as an
	// address whatever the verb (a pointer to a struct it would follow for %s, %q, %d).
	priv   *crypto.Signer
	pub    crypto.PublicKey
	header string // base64url of {"alg","kid","typ"} followed by '.', the fixed start of every token
}

// signer returns the private key, or nil for a SigningKey not built by this package.
func (k *SigningKey) signer() crypto.Signer {
	if k == nil || k.priv == nil {
		return nil
	}
	return *k.priv
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
		return nil, fmt.Errorf("algorithm %s does not fit an %s key (it needs %s)", alg, fam, a.fam)
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
	return &SigningKey{kid: kid, alg: a, priv: &key, pub: pub, header: base64.RawURLEncoding.EncodeToString(h) + "."}, nil
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
	canon, err := publicJWKJSON(pub) // the required members in lexicographic order, as RFC 7638 asks
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(canon))
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
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
	case m.variant:
		return nil, errJWKCaseVariant
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
		return nil, fmt.Errorf("an %s key cannot sign JWS tokens", quote(m.kty))
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
		if k.signer() == nil {
			return nil, fmt.Errorf("key %d is not a SigningKey from GenerateSigningKey, NewSigningKey or ParseSigningKeys", i)
		}
		var material any = k.pub
		if private {
			material = k.signer()
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
