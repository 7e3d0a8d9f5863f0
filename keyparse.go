package jwtauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
)

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
		if isSmallOrderEd25519(k) {
			return 0, errors.New("Ed25519 key is a point of small order (such as the identity or all zero bytes): signatures forged without any private key verify with it")
		}
	}
	fam := familyOf(key)
	if fam == 0 {
		return 0, fmt.Errorf("key type %T cannot verify JWS signatures (use RSA >= 2048 bits, EC P-256/P-384/P-521, or Ed25519)", key)
	}
	return fam, nil
}

// smallOrderEd25519Y lists, 32 bytes each, the y coordinates (little-endian, sign bit cleared) of every encoding
// of the 8 points of small order on edwards25519, non-canonical ones (y >= p) included: the list libsodium
// refuses. crypto/ed25519 accepts these keys, and for them a signature with S = 0 and R a small-order point
// verifies for a share of all messages (every message, for the identity).
const smallOrderEd25519Y = "" +
	// y = 0 (order 4)
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	// y = 1 (the identity)
	"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	// y = p-1 (order 2)
	"\xec\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" +
	// y = p, a non-canonical 0
	"\xed\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" +
	// y = p+1, a non-canonical 1
	"\xee\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f" +
	// y of a point of order 8
	"\x26\xe8\x95\x8f\xc2\xb2\x27\xb0\x45\xc3\xf4\x89\xf2\xef\x98\xf0\xd5\xdf\xac\x05\xd3\xc6\x33\x39\xb1\x38\x02\x88\x6d\x53\xfc\x05" +
	// y of a point of order 8
	"\xc7\x17\x6a\x70\x3d\x4d\xd8\x4f\xba\x3c\x0b\x76\x0d\x10\x67\x0f\x2a\x20\x53\xfa\x2c\x39\xcc\xc6\x4e\xc7\xfd\x77\x92\xac\x03\x7a"

// isSmallOrderEd25519 reports whether key encodes a point of small order, whatever its sign bit.
func isSmallOrderEd25519(key []byte) bool {
	if len(key) != 32 {
		return false
	}
	var y [32]byte
	copy(y[:], key)
	y[31] &= 0x7f
	for i := 0; i < len(smallOrderEd25519Y); i += 32 {
		if string(y[:]) == smallOrderEd25519Y[i:i+32] {
			return true
		}
	}
	return false
}

// jwkMeta are the JWK members checked before the key is used, read strictly by their exact names.
type jwkMeta struct {
	kty, use, alg, kid string
	issuer             string // Entra ID's per-key issuer
	hasUse, hasOps     bool
	opsVerify          bool
	hasPrivate         bool
	variant            bool // a member name is a case variant of kty, use, alg, kid or key_ops
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
		case "issuer":
			m.issuer, ok = r.str()
		case "key_ops":
			var ops []string
			ops, ok = r.stringArray()
			m.hasOps = true
			for _, op := range ops {
				m.opsVerify = m.opsVerify || op == "verify"
			}
		case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
			m.hasPrivate = true
			ok = r.skip(1)
		default:
			// jwkset reads members through encoding/json, which matches names ignoring case: "D" is d to
			// it, "KID" is kid. One key, one reading: a variant of a private member counts as private, and
			// a variant of a member checked here makes the key unusable.
			if caseVariantOf(name, "d", "p", "q", "dp", "dq", "qi", "oth", "k") {
				m.hasPrivate = true
			} else if caseVariantOf(name, "kty", "use", "alg", "kid", "key_ops") {
				m.variant = true
			}
			ok = r.skip(1)
		}
		return ok
	}) && r.end()
	if !ok {
		return m, errors.New("not a JSON object: " + string(r.err))
	}
	return m, nil
}

var errJWKCaseVariant = errors.New("a member name is a case variant of kty, use, alg, kid or key_ops (JWK member names are case-sensitive)")

// parseJWK turns one JWK into a verification key, or says why it cannot be one.
func parseJWK(raw []byte, local bool) (*pubKey, jwkMeta, error) {
	m, err := readJWKMeta(raw)
	if err != nil {
		return nil, m, err
	}
	switch {
	case m.variant:
		return nil, m, errJWKCaseVariant
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
		return nil, m, fmt.Errorf("alg %s does not fit an %s key", m.alg, fam)
	}
	return &pubKey{kid: m.kid, wild: local && m.kid == "", fam: fam, alg: m.alg, issuer: m.issuer, key: j.Key(), private: m.hasPrivate}, m, nil
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
	var misfits []keyFamily // families of keys that parsed but fit no configured algorithm
	for i, raw := range set.Keys {
		k, m, err := parseJWK(raw, local)
		if err == nil && algs != 0 && !familyAllowed(k.fam, algs) {
			err = fmt.Errorf("an %s key fits none of the configured Algorithms", k.fam)
			if !slices.Contains(misfits, k.fam) {
				misfits = append(misfits, k.fam)
			}
		}
		if m.hasPrivate && !local {
			// Whoever read this public document can sign with the key, so it proves nothing.
			err = errors.New("the key set publishes its private part, so anyone can sign with it; the issuer must rotate it")
			logger.Error("jwtauth: the key set publishes private key material; the key is not used and the issuer must rotate it",
				"source", where, "kid", cut(m.kid))
		}
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("key %d (kid %s): %v", i, quote(m.kid), err))
			level := slog.LevelWarn
			if m.hasUse && m.use == "enc" {
				// Keycloak and others publish encryption keys next to signing keys: expected, not a fault.
				level = slog.LevelDebug
			}
			logger.Log(context.Background(), level, "jwtauth: skipping unusable key", "source", where, "index", i, "kid", cut(m.kid), "reason", err.Error())
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		if len(reasons) == 0 {
			return nil, errors.New("the key set is empty")
		}
		err := fmt.Errorf("no usable key in the key set: %s", strings.Join(reasons, "; "))
		if len(misfits) > 0 {
			// No retry can fix this: the configuration names the wrong algorithms.
			return nil, startupError{fmt.Errorf("%w; the key set has %s keys: add %s to Algorithms", err, familyList(misfits), algsForFamilies(misfits))}
		}
		return nil, err
	}
	return keys, nil
}

func familyList(fams []keyFamily) string {
	names := make([]string, len(fams))
	for i, f := range fams {
		names[i] = f.String()
	}
	return strings.Join(names, " and ")
}

// algsForFamilies names the algorithms that keys of these families verify, for a hint.
func algsForFamilies(fams []keyFamily) string {
	var names []string
	for _, a := range [...]*algInfo{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512, algES256, algES384, algES512, algEdDSA} {
		if slices.Contains(fams, a.fam) {
			names = append(names, a.name)
		}
	}
	return "one of " + strings.Join(names, ", ")
}

func familyAllowed(f keyFamily, algs algSet) bool {
	for _, a := range [...]*algInfo{algRS256, algRS384, algRS512, algPS256, algPS384, algPS512, algES256, algES384, algES512, algEdDSA} {
		if a.fam == f && algs&a.bit != 0 {
			return true
		}
	}
	return false
}

func parsePEMKeys(data []byte) ([]*pubKey, error) {
	var out []*pubKey
	err := eachPEMKey(data, func(key any) error {
		p, private := key.(interface{ Public() crypto.PublicKey })
		if private {
			key = p.Public()
		}
		fam, err := checkKey(key)
		if err != nil {
			return err
		}
		out = append(out, &pubKey{wild: true, fam: fam, key: key, private: private})
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
