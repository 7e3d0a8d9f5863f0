package jwtauth_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSigningKey_NeverPrintsKeyMaterial(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := issKey(t, alg)
			secrets := issSecrets(t, k)
			want := fmt.Sprintf("jwtauth.SigningKey{kid: %q, alg: %s}", k.KeyID(), alg)
			assert.Equal(t, want, k.String())
			assert.Equal(t, want, k.GoString())
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%10v", "%-v"} {
				assert.Contains(t, fmt.Sprintf(verb, k), want, "pointer, %s", verb)
				assert.Contains(t, fmt.Sprintf(verb, *k), want, "value, %s", verb)
				assert.Contains(t, fmt.Sprintf(verb, []*jwtauth.SigningKey{k}), want, "in a slice, %s", verb)
				assert.Contains(t, fmt.Sprintf(verb, struct{ K *jwtauth.SigningKey }{k}), want, "in a struct, %s", verb)
			}
			assert.Equal(t, fmt.Sprintf("%q", want), fmt.Sprintf("%q", k))

			var buf bytes.Buffer
			slog.New(slog.NewTextHandler(&buf, nil)).Info("key", "key", k, "value", *k)
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("key", "key", k, "value", *k, slog.Any("any", k))
			assert.Equal(t, 5, strings.Count(buf.String(), k.KeyID()), buf.String())

			i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = []*jwtauth.SigningKey{k} })
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x"} {
				out := fmt.Sprintf(verb, i) + fmt.Sprintf(verb, *i)
				assert.Contains(t, out, k.KeyID())
				buf.WriteString(out)
			}
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("issuer", "issuer", i)
			assert.Equal(t, i.String(), i.GoString())
			assert.Equal(t, fmt.Sprintf(`jwtauth.Issuer{issuer: %q, audience: [%q], ttl: 15m0s, active: %q, keys: [%q]}`,
				issTestIssuer, issTestAudience, k.KeyID(), k.KeyID()), i.String())

			for _, text := range []string{buf.String(), fmt.Sprintf("%#v %+v %v %d %x", k, *k, k, k, k)} {
				issAssertNoSecret(t, text, secrets)
			}
		})
	}
}

// A7: fmt cannot call the methods of a value in an unexported struct field, so it prints the field's own
// fields by reflection: a SigningKey (or Issuer) held by value there must reach no key bytes that way.
func TestSigningKey_NeverPrintsKeyMaterialHeldByValueInAnUnexportedField(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := issKey(t, alg)
			i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = []*jwtauth.SigningKey{k} })
			type service struct {
				name   string
				key    jwtauth.SigningKey
				issuer jwtauth.Issuer
			}
			type embeds struct {
				jwtauth.SigningKey
				note string
			}
			values := []any{service{"svc", *k, *i}, &service{"svc", *k, *i}, embeds{*k, "n"}, []service{{"svc", *k, *i}}}
			var out strings.Builder
			for _, v := range values {
				for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d"} {
					out.WriteString(fmt.Sprintf(verb, v) + "\n")
				}
				out.WriteString(fmt.Sprint(v) + fmt.Sprintln(v))
				slog.New(slog.NewTextHandler(&out, nil)).Info("svc", "svc", v)
				slog.New(slog.NewJSONHandler(&out, nil)).Info("svc", "svc", v)
			}
			var forms []string
			for _, sec := range issSecrets(t, k) {
				b, err := base64.RawURLEncoding.DecodeString(sec)
				require.NoError(t, err)
				head := b[:8]
				forms = append(forms, hex.EncodeToString(head), strings.ToUpper(hex.EncodeToString(head)),
					strings.Trim(fmt.Sprint(head), "[]"), string(head), strings.Trim(strconv.Quote(string(head)), `"`),
					new(big.Int).SetBytes(b).String()[:15])
			}
			text := out.String()
			for _, f := range forms {
				assert.NotContains(t, text, f, "key material printed")
			}
		})
	}
}

func TestGenerateSigningKey_EveryAlgorithmWithAThumbprintKid(t *testing.T) {
	for _, tc := range []struct {
		alg, wantAlg string
		pub          any
	}{
		{"", "ES256", &ecdsa.PublicKey{}},
		{"ES384", "ES384", &ecdsa.PublicKey{}},
		{"ES512", "ES512", &ecdsa.PublicKey{}},
		{"RS256", "RS256", &rsa.PublicKey{}},
		{"RS512", "RS512", &rsa.PublicKey{}},
		{"PS384", "PS384", &rsa.PublicKey{}},
		{"EdDSA", "EdDSA", ed25519.PublicKey{}},
	} {
		t.Run(tc.wantAlg, func(t *testing.T) {
			k := issKey(t, tc.alg)
			assert.Equal(t, tc.wantAlg, k.Algorithm())
			assert.IsType(t, tc.pub, k.Public())
			assert.Equal(t, issThumbprint(t, k.Public()), k.KeyID())
			if rk, ok := k.Public().(*rsa.PublicKey); ok {
				assert.Equal(t, 2048, rk.N.BitLen())
			}
		})
	}
	for _, alg := range []string{"HS256", "none", "es256", "RSA-OAEP"} {
		_, err := jwtauth.GenerateSigningKey(alg)
		assert.Error(t, err, alg)
	}
}

func TestSigningKey_KidIsTheRFC7638ThumbprintOfTheRFCExampleKey(t *testing.T) {
	keys, err := jwtauth.LoadSigningKeys(filepath.Join("testdata", "issuer", "rfc7517-a2-rsa-private.json"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	// RFC 7638 §3.1: the thumbprint of the RFC 7517 Appendix A.1 RSA key.
	assert.Equal(t, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs", keys[0].KeyID())
	assert.Equal(t, "RS256", keys[0].Algorithm())
}

func TestNewSigningKey_AlgMustFitTheKey(t *testing.T) {
	ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ec521, _ := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := issRSA(t)
	for _, tc := range []struct {
		name    string
		key     crypto.Signer
		alg     string
		want    string // the algorithm, or the error text
		wantErr bool
	}{
		{"P-256 implies ES256", ec256, "", "ES256", false},
		{"P-384 implies ES384", ec384, "", "ES384", false},
		{"P-521 implies ES512", ec521, "", "ES512", false},
		{"RSA implies RS256", rsaKey, "", "RS256", false},
		{"Ed25519 implies EdDSA", ed, "", "EdDSA", false},
		{"pointer to Ed25519", &ed, "", "EdDSA", false},
		{"RSA may use PS512", rsaKey, "PS512", "PS512", false},
		{"ES384 on P-256", ec256, "ES384", "does not fit an EC P-256 key", true},
		{"RS256 on EC", ec256, "RS256", "does not fit", true},
		{"EdDSA on RSA", rsaKey, "EdDSA", "does not fit", true},
		{"HMAC", ec256, "HS256", "HMAC", true},
		{"none", ec256, "none", "unsigned", true},
		{"nil key", nil, "", "key is nil", true},
		{"nil EC pointer", (*ecdsa.PrivateKey)(nil), "", "key is nil", true},
		{"opaque signer", opaqueSigner{ec256}, "", "cannot sign here", true},
		{"short Ed25519", ed25519.PrivateKey(ed[:10]), "", "Ed25519 private key has 10 bytes", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := jwtauth.NewSigningKey(tc.key, tc.alg, "")
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.want)
				assert.True(t, strings.HasPrefix(err.Error(), "jwtauth: NewSigningKey: "), err.Error())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, k.Algorithm())
			assert.Equal(t, issThumbprint(t, k.Public()), k.KeyID())
		})
	}
}

func TestNewSigningKey_KeepsAGivenKidAndRefusesBadKeys(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, err := jwtauth.NewSigningKey(ec, "ES256", "2026-01-key")
	require.NoError(t, err)
	assert.Equal(t, "2026-01-key", k.KeyID())
	assert.True(t, ec.PublicKey.Equal(k.Public()))

	_, err = jwtauth.NewSigningKey(ec, "", "bad\nkid")
	assert.ErrorContains(t, err, "control characters")

	weak, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // must be refused
	require.NoError(t, err)
	_, err = jwtauth.NewSigningKey(weak, "", "")
	assert.ErrorContains(t, err, "RSA key of 1024 bits is too small")

	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	mismatched := &ecdsa.PrivateKey{PublicKey: ec.PublicKey, D: other.D} //nolint:staticcheck // a broken key on purpose
	_, err = jwtauth.NewSigningKey(mismatched, "", "")
	assert.ErrorContains(t, err, "does not match its public key")
}

func TestParseSigningKeys_ReadsEveryFormat(t *testing.T) {
	es, rs, ed := issKey(t, "ES256"), issKey(t, "RS256"), issKey(t, "EdDSA")
	jwks, err := jwtauth.PrivateJWKS(es, rs)
	require.NoError(t, err)

	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	rsaKey := issRSA(t)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		return issPEM("PRIVATE KEY", der)
	}
	sec1 := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		require.NoError(t, err)
		return issPEM("EC PRIVATE KEY", der)
	}
	seedJWK := issPrivateJWK(t, es)
	// The seed tutorial's key format, members in its order.
	tutorial := fmt.Sprintf(`{"keys":[{"kty":"EC","d":%q,"use":"sig","crv":"P-256","kid":"tutorial-key-1","x":%q,"y":%q,"alg":"ES256"}]}`,
		seedJWK["d"], seedJWK["x"], seedJWK["y"])
	noKid := fmt.Sprintf(`{"kty":"EC","crv":"P-256","d":%q,"x":%q,"y":%q}`, seedJWK["d"], seedJWK["x"], seedJWK["y"])

	for _, tc := range []struct {
		name string
		data []byte
		kids []string
		algs []string
		pubs []crypto.PublicKey
	}{
		{"private JWK Set", jwks, []string{es.KeyID(), rs.KeyID()}, []string{"ES256", "RS256"}, []crypto.PublicKey{es.Public(), rs.Public()}},
		{"private JWK Set, pretty", issIndent(t, jwks), []string{es.KeyID(), rs.KeyID()}, []string{"ES256", "RS256"}, nil},
		{"base64 JWK Set wrapped at 76 columns", issWrapLines(jwks, 76), []string{es.KeyID(), rs.KeyID()}, []string{"ES256", "RS256"}, nil},
		{"base64 JWK Set with CRLF", []byte(strings.ReplaceAll(string(issWrapLines(jwks, 64)), "\n", "\r\n")), []string{es.KeyID(), rs.KeyID()}, nil, nil},
		{"base64url JWK Set, unpadded", []byte(base64.RawURLEncoding.EncodeToString(jwks)), []string{es.KeyID(), rs.KeyID()}, nil, nil},
		{"single private JWK", issJSON(t, issPrivateJWK(t, ed)), []string{ed.KeyID()}, []string{"EdDSA"}, []crypto.PublicKey{ed.Public()}},
		{"JWK without kid or alg gets the thumbprint", []byte(noKid), []string{es.KeyID()}, []string{"ES256"}, nil},
		{"seed tutorial format", []byte(tutorial), []string{"tutorial-key-1"}, []string{"ES256"}, []crypto.PublicKey{es.Public()}},
		{"base64 of the seed tutorial format", issWrapLines([]byte(tutorial), 76), []string{"tutorial-key-1"}, []string{"ES256"}, nil},
		{"PEM PKCS#8 EC", pkcs8(ecKey), []string{issThumbprint(t, ecKey.Public())}, []string{"ES256"}, []crypto.PublicKey{ecKey.Public()}},
		{"PEM PKCS#8 RSA", pkcs8(rsaKey), []string{issThumbprint(t, rsaKey.Public())}, []string{"RS256"}, nil},
		{"PEM PKCS#8 Ed25519", pkcs8(edKey), []string{issThumbprint(t, edKey.Public())}, []string{"EdDSA"}, nil},
		{"PEM PKCS#1 RSA", issPEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)), []string{issThumbprint(t, rsaKey.Public())}, []string{"RS256"}, nil},
		{"PEM SEC1 EC", sec1(p384), []string{issThumbprint(t, p384.Public())}, []string{"ES384"}, nil},
		{"PEM SEC1 after EC PARAMETERS", append(issPEM("EC PARAMETERS", []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}), sec1(ecKey)...), []string{issThumbprint(t, ecKey.Public())}, nil, nil},
		{"two PEM blocks", append(sec1(ecKey), pkcs8(edKey)...), []string{issThumbprint(t, ecKey.Public()), issThumbprint(t, edKey.Public())}, []string{"ES256", "EdDSA"}, nil},
		{"base64 of PEM", issWrapLines(sec1(ecKey), 76), []string{issThumbprint(t, ecKey.Public())}, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := jwtauth.ParseSigningKeys(tc.data)
			require.NoError(t, err)
			require.Len(t, keys, len(tc.kids))
			for n, k := range keys {
				assert.Equal(t, tc.kids[n], k.KeyID())
				if tc.algs != nil {
					assert.Equal(t, tc.algs[n], k.Algorithm())
				}
				if tc.pubs != nil {
					assert.True(t, tc.pubs[n].(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()))
				}
			}
			// Whatever the format, the keys sign tokens that verify.
			i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = keys })
			tok, err := i.Issue("u1", nil)
			require.NoError(t, err)
			_, err = issVerifier(t, i).Verify(context.Background(), tok)
			assert.NoError(t, err)
		})
	}
}

func TestParseSigningKeys_RefusesWhatCannotSignWithoutLeakingKeys(t *testing.T) {
	es, rs := issKey(t, "ES256"), issKey(t, "RS256")
	secrets := append(issSecrets(t, es), issSecrets(t, rs)...)
	esJWK, rsJWK := issPrivateJWK(t, es), issPrivateJWK(t, rs)
	with := func(m map[string]any, set map[string]any, drop ...string) map[string]any {
		c := map[string]any{}
		for k, v := range m {
			c[k] = v
		}
		for k, v := range set {
			c[k] = v
		}
		for _, k := range drop {
			delete(c, k)
		}
		return c
	}
	other, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	otherD := issPrivateJWK(t, other)["d"]
	secrets = append(secrets, otherD.(string))
	rsaPub := x509.MarshalPKCS1PublicKey(&issRSA(t).PublicKey)
	weak, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // must be refused
	require.NoError(t, err)
	pubJWKS, err := jwtauth.PublicJWKS(es)
	require.NoError(t, err)

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"spaces", []byte(" \n\t "), "empty input"},
		{"garbage", []byte("this is not a key!"), "not PEM, JSON, or base64"},
		{"binary", []byte{0xff, 0x00, 0xfe, '{'}, "not PEM, JSON, or base64"},
		{"base64 of garbage", []byte(issBase64Std([]byte("garbage garbage"))), "base64-decoded data: not PEM or JSON"},
		{"truncated JSON", []byte(`{"keys":[{"kty":"EC",`), "not a JSON object"},
		{"JSON array", []byte(`[1,2]`), "not PEM, JSON, or base64"},
		{"no keys member", []byte(`{"foo":1}`), `no "keys" array`},
		{"empty set", []byte(`{"keys":[]}`), "the key set is empty"},
		{"public-only JWK", issJSON(t, with(esJWK, nil, "d")), "has no private part"},
		{"public JWK Set", pubJWKS, "key 0 (kid " + fmt.Sprintf("%q", es.KeyID()) + "): has no private part"},
		{"second key public", issKeysJSON(t, esJWK, with(rsJWK, nil, "d", "p", "q", "dp", "dq", "qi")), "key 1"},
		{"RSA without CRT members", issJSON(t, with(rsJWK, nil, "p", "q", "dp", "dq", "qi")), "needs all of d, p, q, dp, dq, qi"},
		{"oct", []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0","kid":"h"}]}`), `"oct" is a shared secret`},
		{"use enc", issJSON(t, with(esJWK, map[string]any{"use": "enc"})), `use is "enc"`},
		{"key_ops without sign", issJSON(t, with(esJWK, map[string]any{"key_ops": []string{"verify"}})), `key_ops does not include "sign"`},
		{"alg that does not fit", issJSON(t, with(esJWK, map[string]any{"alg": "RS256"})), "does not fit"},
		{"HMAC alg", issJSON(t, with(esJWK, map[string]any{"alg": "HS256"})), "HMAC"},
		{"unknown kty", []byte(`{"kty":"XYZ","d":"AAAA"}`), "XYZ"},
		{"d of another key", issJSON(t, with(esJWK, map[string]any{"d": otherD})), "does not match its public key"},
		{"d not base64", issJSON(t, with(esJWK, map[string]any{"d": "!!!"})), `"d"`},
		{"PEM public key", issPEM("RSA PUBLIC KEY", rsaPub), "is a public key"},
		{"PEM encrypted", issPEM("ENCRYPTED PRIVATE KEY", []byte{1, 2, 3}), "encrypted"},
		{"PEM unknown type", issPEM("OPENSSH PRIVATE KEY", []byte{1, 2, 3}), "unsupported PEM type"},
		{"PEM corrupt", issPEM("PRIVATE KEY", []byte{0x30, 0x03, 1, 2, 3}), "does not parse"},
		{"PEM header only", []byte("-----BEGIN PRIVATE KEY-----\n"), "no private key PEM block"},
		{"PEM weak RSA", issPEM("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(weak)), "too small"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var keys []*jwtauth.SigningKey
			var err error
			require.NotPanics(t, func() { keys, err = jwtauth.ParseSigningKeys(tc.data) })
			require.Error(t, err)
			assert.Nil(t, keys)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "jwtauth: signing keys: "), err.Error())
			issAssertNoSecret(t, err.Error(), secrets)
		})
	}
}

func TestPrivateJWKS_RoundTripsThroughParseSigningKeys(t *testing.T) {
	custom, err := jwtauth.NewSigningKey(issRSA(t), "PS256", "rsa-2026")
	require.NoError(t, err)
	keys := []*jwtauth.SigningKey{issKey(t, "ES256"), issKey(t, "RS256"), issKey(t, "EdDSA"), issKey(t, "ES512"), custom}
	raw, err := jwtauth.PrivateJWKS(keys...)
	require.NoError(t, err)

	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(raw, &set))
	require.Len(t, set.Keys, len(keys))
	for n, m := range set.Keys {
		assert.Equal(t, keys[n].KeyID(), m["kid"])
		assert.Equal(t, keys[n].Algorithm(), m["alg"])
		assert.Equal(t, "sig", m["use"])
		assert.NotEmpty(t, m["d"])
		if m["kty"] == "RSA" {
			for _, member := range []string{"n", "e", "p", "q", "dp", "dq", "qi"} {
				assert.NotEmpty(t, m[member], "RSA member %s", member)
			}
		}
	}

	back, err := jwtauth.ParseSigningKeys(raw)
	require.NoError(t, err)
	require.Len(t, back, len(keys))
	for n, k := range back {
		assert.Equal(t, keys[n].KeyID(), k.KeyID())
		assert.Equal(t, keys[n].Algorithm(), k.Algorithm())
		assert.True(t, keys[n].Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(k.Public()))
	}

	// A token signed by the parsed key verifies with the original's published keys.
	i := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = back; c.ActiveKeyID = "rsa-2026" })
	orig := issNew(t, func(c *jwtauth.IssuerConfig) { c.Keys = keys })
	tok, err := i.Issue("u1", nil)
	require.NoError(t, err)
	c, err := issVerifier(t, orig).Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, "PS256", c.Algorithm)

	_, err = jwtauth.PrivateJWKS(nil)
	assert.Error(t, err)
	_, err = jwtauth.PublicJWKS(&jwtauth.SigningKey{})
	assert.Error(t, err)
}

func TestPublicJWKS_PublishesKidAlgAndUseOnly(t *testing.T) {
	keys := []*jwtauth.SigningKey{issKey(t, "ES256"), issKey(t, "RS256"), issKey(t, "EdDSA")}
	raw, err := jwtauth.PublicJWKS(keys...)
	require.NoError(t, err)
	var set struct{ Keys []map[string]any }
	require.NoError(t, json.Unmarshal(raw, &set))
	require.Len(t, set.Keys, 3)
	want := [][]string{{"kty", "crv", "x", "y"}, {"kty", "n", "e"}, {"kty", "crv", "x"}}
	for n, m := range set.Keys {
		assert.ElementsMatch(t, append(want[n], "kid", "alg", "use"), keysOf(m))
		assert.Equal(t, keys[n].KeyID(), m["kid"])
		assert.Equal(t, keys[n].Algorithm(), m["alg"])
		assert.Equal(t, "sig", m["use"])
	}
	// The published set is usable by any verifier, jwtauth's included.
	_, err = jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
		Issuer: "x", Audiences: []string{"y"}, Algorithms: []string{"ES256", "RS256", "EdDSA"}, Keys: jwtauth.LocalKeys(raw),
	}}})
	assert.NoError(t, err)
}

func TestLoadSigningKeys_ReadsAFileAndBoundsItsSize(t *testing.T) {
	dir := t.TempDir()
	k := issKey(t, "ES256")
	raw, err := jwtauth.PrivateJWKS(k)
	require.NoError(t, err)
	path := filepath.Join(dir, "jwks.json")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	keys, err := jwtauth.LoadSigningKeys(path)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, k.KeyID(), keys[0].KeyID())

	big := filepath.Join(dir, "big.json")
	require.NoError(t, os.WriteFile(big, append(raw, bytes.Repeat([]byte(" "), 1<<20)...), 0o600))
	_, err = jwtauth.LoadSigningKeys(big)
	assert.ErrorContains(t, err, "larger than")

	_, err = jwtauth.LoadSigningKeys(filepath.Join(dir, "missing.json"))
	assert.True(t, errors.Is(err, os.ErrNotExist), "%v", err)

	bad := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(bad, []byte(`{"kty":"oct","k":"AAAA"}`), 0o600))
	_, err = jwtauth.LoadSigningKeys(bad)
	assert.ErrorContains(t, err, bad)
}
