//go:build ignore

// generate writes the provider fixtures' keys and key sets: go run ./testdata/providers/generate.go
// (from the repository root). keys.pem holds test-only private keys, never used anywhere else; each
// provider's jwks.json reproduces the shape that provider publishes (see its NOTES.md). Tokens are not
// generated: each provider's tokens.json lists header and claims, signed by the tests at run time.
package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

const dir = "testdata/providers"

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

type key struct {
	name string
	priv crypto.Signer
	der  []byte // self-signed certificate
}

func main() {
	names := []string{"auth0-1", "auth0-2", "okta-custom", "okta-org", "entra-1", "entra-2", "entra-other", "entra-v1",
		"cognito-id", "cognito-access", "keycloak-rs", "keycloak-enc", "google-1", "google-2", "firebase-1", "attacker"}
	keys := map[string]*key{}
	var pemOut []byte
	for _, n := range names {
		keys[n] = newKey(n, rsaKey())
	}
	keys["keycloak-es"] = newKey("keycloak-es", ecKey())
	for _, n := range append(names, "keycloak-es") {
		der, err := x509.MarshalPKCS8PrivateKey(keys[n].priv)
		check(err)
		pemOut = append(pemOut, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Key-Name": n}, Bytes: der})...)
	}
	write("keys.pem", pemOut)

	x5t := func(k *key) string { s := sha1.Sum(k.der); return b64(s[:]) }
	x5tS256 := func(k *key) string { s := sha256.Sum256(k.der); return b64(s[:]) }
	x5c := func(k *key) []string { return []string{base64.StdEncoding.EncodeToString(k.der)} }
	rsaJWK := func(k *key, members ...any) map[string]any {
		pub := k.priv.Public().(*rsa.PublicKey)
		m := map[string]any{"kty": "RSA", "n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
		for i := 0; i < len(members); i += 2 {
			m[members[i].(string)] = members[i+1]
		}
		return m
	}
	set := func(keys ...map[string]any) map[string]any { return map[string]any{"keys": keys} }

	// Auth0: two keys (current and next), each with x5c, x5t and alg.
	writeJSON("auth0/jwks.json", set(
		rsaJWK(keys["auth0-1"], "use", "sig", "kid", "auth0-1", "x5t", x5t(keys["auth0-1"]), "x5c", x5c(keys["auth0-1"]), "alg", "RS256"),
		rsaJWK(keys["auth0-2"], "use", "sig", "kid", "auth0-2", "x5t", x5t(keys["auth0-2"]), "x5c", x5c(keys["auth0-2"]), "alg", "RS256"),
	))
	// Okta: kty, alg, kid, use, e, n; the org and the custom authorization server publish different keys.
	writeJSON("okta/custom-jwks.json", set(rsaJWK(keys["okta-custom"], "alg", "RS256", "kid", "okta-custom", "use", "sig")))
	writeJSON("okta/org-jwks.json", set(rsaJWK(keys["okta-org"], "alg", "RS256", "kid", "okta-org", "use", "sig")))
	// Entra ID v2.0 keys (common): kid equals x5t, x5c, cloud_instance_name and a per-key issuer; no alg.
	// entra-other is a key published for one tenant only.
	entra := func(k *key, issuer string) map[string]any {
		return rsaJWK(k, "kty", "RSA", "use", "sig", "kid", x5t(k), "x5t", x5t(k), "x5c", x5c(k),
			"cloud_instance_name", "microsoftonline.com", "issuer", issuer)
	}
	writeJSON("entra/jwks.json", set(
		entra(keys["entra-1"], "https://login.microsoftonline.com/{tenantid}/v2.0"),
		entra(keys["entra-2"], "https://login.microsoftonline.com/{tenantid}/v2.0"),
		entra(keys["entra-other"], "https://login.microsoftonline.com/cccccccc-cccc-cccc-cccc-cccccccccccc/v2.0"),
	))
	// Entra ID v1.0 keys: the same shape without the issuer member.
	writeJSON("entra/jwks-v1.json", set(rsaJWK(keys["entra-v1"], "use", "sig", "kid", x5t(keys["entra-v1"]),
		"x5t", x5t(keys["entra-v1"]), "x5c", x5c(keys["entra-v1"]))))
	// Cognito: two keys (one signs ID tokens, the other access tokens): alg, e, kid, kty, n, use.
	writeJSON("cognito/jwks.json", set(
		rsaJWK(keys["cognito-id"], "alg", "RS256", "kid", "cognito-id", "use", "sig"),
		rsaJWK(keys["cognito-access"], "alg", "RS256", "kid", "cognito-access", "use", "sig"),
	))
	// Keycloak: the realm's RS256 signing key with x5c, x5t and x5t#S256, its RSA-OAEP encryption key, and an
	// ES256 key (a realm whose ECDSA key provider is active).
	kcRS, kcEnc, kcES := keys["keycloak-rs"], keys["keycloak-enc"], keys["keycloak-es"]
	ecPub := kcES.priv.Public().(*ecdsa.PublicKey)
	writeJSON("keycloak/jwks.json", set(
		rsaJWK(kcRS, "kid", "keycloak-rs", "use", "sig", "alg", "RS256", "x5c", x5c(kcRS), "x5t", x5t(kcRS), "x5t#S256", x5tS256(kcRS)),
		rsaJWK(kcEnc, "kid", "keycloak-enc", "use", "enc", "alg", "RSA-OAEP", "x5c", x5c(kcEnc), "x5t", x5t(kcEnc), "x5t#S256", x5tS256(kcEnc)),
		map[string]any{"kid": "keycloak-es", "kty": "EC", "alg": "ES256", "use": "sig", "crv": "P-256",
			"x": b64(ecPub.X.FillBytes(make([]byte, 32))), "y": b64(ecPub.Y.FillBytes(make([]byte, 32))),
			"x5c": x5c(kcES), "x5t": x5t(kcES), "x5t#S256": x5tS256(kcES)},
	))
	// Google and Firebase: e, kty, use, alg, n, kid.
	g := func(k *key) map[string]any {
		return rsaJWK(k, "kty", "RSA", "use", "sig", "alg", "RS256", "kid", k.name)
	}
	writeJSON("google/jwks.json", set(g(keys["google-1"]), g(keys["google-2"])))
	writeJSON("firebase/jwks.json", set(g(keys["firebase-1"])))
}

func rsaKey() crypto.Signer {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	check(err)
	return k
}

func ecKey() crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check(err)
	return k
}

func newKey(name string, priv crypto.Signer) *key {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " (jwtauth test fixture)"},
		NotBefore: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2036, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	check(err)
	return &key{name: name, priv: priv, der: der}
}

func writeJSON(name string, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	check(err)
	write(name, append(b, '\n'))
}

func write(name string, b []byte) {
	p := filepath.Join(dir, name)
	check(os.MkdirAll(filepath.Dir(p), 0o755))
	check(os.WriteFile(p, b, 0o644))
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}
