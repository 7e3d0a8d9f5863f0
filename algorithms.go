package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"strings"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithms.

type keyFamily uint8

const (
	famRSA keyFamily = iota + 1
	famP256
	famP384
	famP521
	famEd25519
)

func (f keyFamily) String() string {
	switch f {
	case famRSA:
		return "RSA"
	case famP256:
		return "EC P-256"
	case famP384:
		return "EC P-384"
	case famP521:
		return "EC P-521"
	case famEd25519:
		return "OKP Ed25519"
	}
	return "unknown"
}

// familyOf says which algorithm family a public key can serve, or 0 when none.
func familyOf(key any) keyFamily {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return famRSA
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return famP256
		case elliptic.P384():
			return famP384
		case elliptic.P521():
			return famP521
		}
	case ed25519.PublicKey:
		return famEd25519
	}
	return 0
}

type algSet uint16

type algInfo struct {
	name   string
	fam    keyFamily
	bit    algSet
	method jwt.SigningMethod
}

// pss returns a PS method that verifies with the salt length RFC 7518 §3.5 requires (equal to the hash),
// where golang-jwt's defaults also accept any salt length.
func pss(m *jwt.SigningMethodRSAPSS) *jwt.SigningMethodRSAPSS {
	strict := *m
	strict.VerifyOptions = strict.Options
	return &strict
}

var (
	algRS256 = &algInfo{"RS256", famRSA, 1 << 0, jwt.SigningMethodRS256}
	algRS384 = &algInfo{"RS384", famRSA, 1 << 1, jwt.SigningMethodRS384}
	algRS512 = &algInfo{"RS512", famRSA, 1 << 2, jwt.SigningMethodRS512}
	algPS256 = &algInfo{"PS256", famRSA, 1 << 3, pss(jwt.SigningMethodPS256)}
	algPS384 = &algInfo{"PS384", famRSA, 1 << 4, pss(jwt.SigningMethodPS384)}
	algPS512 = &algInfo{"PS512", famRSA, 1 << 5, pss(jwt.SigningMethodPS512)}
	algES256 = &algInfo{"ES256", famP256, 1 << 6, jwt.SigningMethodES256}
	algES384 = &algInfo{"ES384", famP384, 1 << 7, jwt.SigningMethodES384}
	algES512 = &algInfo{"ES512", famP521, 1 << 8, jwt.SigningMethodES512}
	algEdDSA = &algInfo{"EdDSA", famEd25519, 1 << 9, jwt.SigningMethodEdDSA}
)

// allAlgs is every supported algorithm, for issuers whose keys pin their own.
const allAlgs = algSet(1<<10 - 1)

// lookupAlg returns the asymmetric algorithm called name (exact, case-sensitive as RFC 7515 requires),
// or nil. "none" and the HMAC algorithms are never found.
func lookupAlg(name string) *algInfo {
	switch name {
	case "RS256":
		return algRS256
	case "RS384":
		return algRS384
	case "RS512":
		return algRS512
	case "PS256":
		return algPS256
	case "PS384":
		return algPS384
	case "PS512":
		return algPS512
	case "ES256":
		return algES256
	case "ES384":
		return algES384
	case "ES512":
		return algES512
	case "EdDSA":
		return algEdDSA
	}
	return nil
}

func algAdvice(name string) string {
	switch strings.ToUpper(name) {
	case "NONE":
		return "unsigned tokens are never accepted"
	case "HS256", "HS384", "HS512":
		return "HMAC uses a shared secret, which every verifier could use to mint tokens; jwtauth verifies asymmetric signatures only (use RS256 or ES256)"
	}
	return "use one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (names are case-sensitive)"
}
