package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type jwkSet struct {
	Keys []map[string]any `json:"keys"`
}

func TestKeygen_PrintsPrivateJWKSForEachAlgorithm(t *testing.T) {
	tests := []struct {
		alg, kty string
		private  []string
	}{
		{"ES256", "EC", []string{"d"}},
		{"ES384", "EC", []string{"d"}},
		{"ES512", "EC", []string{"d"}},
		{"RS256", "RSA", []string{"d", "p", "q", "dp", "dq", "qi"}},
		{"RS384", "RSA", []string{"d", "p", "q", "dp", "dq", "qi"}},
		{"PS256", "RSA", []string{"d", "p", "q", "dp", "dq", "qi"}},
		{"EdDSA", "OKP", []string{"d"}},
	}
	for _, tt := range tests {
		t.Run(tt.alg, func(t *testing.T) {
			t.Parallel()
			r := cli(t, time.Now, "", "keygen", "-alg", tt.alg)
			require.Equal(t, exitOK, r.code, r.stderr)

			var set jwkSet
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &set))
			require.Len(t, set.Keys, 1)
			k := set.Keys[0]
			assert.Equal(t, tt.kty, k["kty"])
			assert.Equal(t, tt.alg, k["alg"])
			assert.Equal(t, "sig", k["use"])
			for _, m := range tt.private {
				assert.NotEmpty(t, k[m], "private member %s", m)
			}

			keys, err := jwtauth.ParseSigningKeys([]byte(r.stdout))
			require.NoError(t, err)
			assert.Equal(t, k["kid"], keys[0].KeyID())
			assert.Equal(t, tt.alg, keys[0].Algorithm())
			assert.Equal(t, fmt.Sprintf("jwtauth keygen: this is a PRIVATE key (kid %q, %s): keep it secret; share 'jwtauth pub -key FILE' instead\n", keys[0].KeyID(), tt.alg), r.stderr)
		})
	}
}

func TestKeygen_DefaultsToES256WithThumbprintKid(t *testing.T) {
	out := ok(t, time.Now, "", "keygen")
	var set jwkSet
	require.NoError(t, json.Unmarshal([]byte(out), &set))
	require.Len(t, set.Keys, 1)
	k := set.Keys[0]
	assert.Equal(t, "ES256", k["alg"])
	assert.Equal(t, "P-256", k["crv"])
	// The RFC 7638 thumbprint is what ParseSigningKeys derives for the same key without a kid.
	delete(k, "kid")
	noKid, err := json.Marshal(k)
	require.NoError(t, err)
	keys, err := jwtauth.ParseSigningKeys(noKid)
	require.NoError(t, err)
	var again jwkSet
	require.NoError(t, json.Unmarshal([]byte(out), &again))
	assert.Equal(t, again.Keys[0]["kid"], keys[0].KeyID())
}

func TestKeygen_KidFlagNamesTheKey(t *testing.T) {
	out := ok(t, time.Now, "", "keygen", "-alg", "RS256", "-kid", "2026-01")
	keys, err := jwtauth.ParseSigningKeys([]byte(out))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, "2026-01", keys[0].KeyID())
	assert.Equal(t, "RS256", keys[0].Algorithm())
	assert.Contains(t, out, `"kid": "2026-01"`)
}

func TestKeygen_Base64IsOneLineOfStandardBase64(t *testing.T) {
	out := ok(t, time.Now, "", "keygen", "-base64")
	require.True(t, strings.HasSuffix(out, "\n"))
	line := strings.TrimSuffix(out, "\n")
	assert.NotContains(t, line, "\n")
	raw, err := base64.StdEncoding.DecodeString(line)
	require.NoError(t, err)
	var set jwkSet
	require.NoError(t, json.Unmarshal(raw, &set))
	require.Len(t, set.Keys, 1)
	assert.NotEmpty(t, set.Keys[0]["d"])
	keys, err := jwtauth.ParseSigningKeys([]byte(out)) // what the login server does with ES256_KEY
	require.NoError(t, err)
	assert.Equal(t, "ES256", keys[0].Algorithm())
}

func TestPub_PrintsPublicJWKSWithoutPrivateMembers(t *testing.T) {
	for _, alg := range []string{"ES256", "RS256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			key := keygen(t, "-alg", alg, "-kid", "k-"+alg)
			r := cli(t, time.Now, "", "pub", "-key", key)
			require.Equal(t, exitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr)
			assert.NotContains(t, r.stdout, `"d"`)
			var set jwkSet
			require.NoError(t, json.Unmarshal([]byte(r.stdout), &set))
			require.Len(t, set.Keys, 1)
			k := set.Keys[0]
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
				assert.NotContains(t, k, m)
			}
			assert.Equal(t, "k-"+alg, k["kid"])
			assert.Equal(t, alg, k["alg"])
			assert.Equal(t, "sig", k["use"])
		})
	}
}

func TestPub_ReadsKeyFromStdinAndBase64(t *testing.T) {
	b64 := ok(t, time.Now, "", "keygen", "-base64", "-kid", "b64")
	out := ok(t, time.Now, b64, "pub", "-key", "-")
	assert.NotContains(t, out, `"d"`)
	assert.Contains(t, out, `"kid": "b64"`)
}

func TestPub_RefusesNonKeysWithExitOne(t *testing.T) {
	path := writeFile(t, "token.txt", []byte("not a key!"))
	r := cli(t, time.Now, "", "pub", "-key", path)
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "jwtauth pub: signing keys in "+path+": not PEM, JSON, or base64 of either\n", r.stderr)

	missing := path + ".missing"
	r = cli(t, time.Now, "", "pub", "-key", missing)
	assert.Equal(t, exitFail, r.code)
	assert.Equal(t, "jwtauth pub: signing keys: open "+missing+": no such file or directory\n", r.stderr)
}
