package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// dpopAPI serves GET /orders behind a Verifier that requires DPoP for tokens signed with issuerKey, and
// answers with the thumbprint the request was bound to.
func dpopAPI(t *testing.T, issuerKey string) *httptest.Server {
	t.Helper()
	keys, err := jwtauth.LoadSigningKeys(issuerKey)
	require.NoError(t, err)
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{Issuer: testIss, Audience: []string{testAud}, Keys: keys})
	require.NoError(t, err)
	srv := httptest.NewServer(nil)
	t.Cleanup(srv.Close)
	ti := issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPRequired
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti},
		DPoP: jwtauth.DPoPOptions{ExternalURL: srv.URL}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	srv.Config.Handler = v.RequireAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte(c.DPoPThumbprint))
	}))
	return srv
}

func call(t *testing.T, url, token, proof string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "DPoP "+token)
	req.Header.Set("DPoP", proof)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	require.NoError(t, err)
	return resp.StatusCode, string(body), strings.Join(resp.Header.Values("WWW-Authenticate"), ", ")
}

func TestDPoP_ProofIsAcceptedByDPoPRequiredAPI(t *testing.T) {
	issuerKey, clientKey := keygen(t), keygen(t)
	srv := dpopAPI(t, issuerKey)
	jkt := strings.TrimSpace(ok(t, time.Now, "", "dpop", "-key", clientKey, "-thumbprint"))
	require.Len(t, jkt, 43)
	token := strings.TrimSpace(ok(t, time.Now, "", "sign", "-key", issuerKey, "-iss", testIss, "-aud", testAud, "-sub", "user-1", "-dpop-jkt", jkt))
	_, payload := segments(t, token)
	var claims struct {
		Cnf map[string]string `json:"cnf"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	assert.Equal(t, map[string]string{"jkt": jkt}, claims.Cnf)

	// The query is not part of htu; the token comes once as a flag and once on standard input.
	proof := strings.TrimSpace(ok(t, time.Now, "", "dpop", "-key", clientKey, "-method", "GET", "-url", srv.URL+"/orders?page=2", "-token", token))
	status, body, _ := call(t, srv.URL+"/orders?page=2", token, proof)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, jkt, body, "the request is bound to the client key")
	_, pp := segments(t, proof)
	assert.Contains(t, string(pp), `"ath":"`)

	status, _, challenge := call(t, srv.URL+"/orders", token, proof)
	assert.Equal(t, http.StatusUnauthorized, status, "a proof is good once")
	assert.Contains(t, challenge, `error_description="DPoP proof replayed"`)

	proof = strings.TrimSpace(ok(t, time.Now, "DPoP "+token+"\n", "dpop", "-key", clientKey, "-url", srv.URL+"/orders", "-token", "-"))
	status, body, _ = call(t, srv.URL+"/orders", token, proof)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, jkt, body)

	proof = strings.TrimSpace(ok(t, time.Now, "", "dpop", "-key", clientKey, "-url", srv.URL+"/orders"))
	_, pp = segments(t, proof)
	assert.NotContains(t, string(pp), `"ath"`, "no token, no ath: a proof for a token endpoint")
	status, _, challenge = call(t, srv.URL+"/orders", token, proof)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, challenge, `DPoP proof ath mismatch`)
}

func TestDPoP_NonceGoesIntoTheProof(t *testing.T) {
	now := clock(fixedNow)
	proof := strings.TrimSpace(ok(t, now, "", "dpop", "-key", keygen(t), "-method", "POST", "-url", "https://api.example.com/token#x", "-nonce", "n-1"))
	header, payload := segments(t, proof)
	assert.Contains(t, string(header), `"typ":"dpop+jwt"`)
	var p map[string]any
	require.NoError(t, json.Unmarshal(payload, &p))
	assert.Equal(t, "POST", p["htm"])
	assert.Equal(t, "https://api.example.com/token", p["htu"])
	assert.Equal(t, "n-1", p["nonce"])
	assert.Equal(t, float64(fixedNow.Unix()), p["iat"])
}

func TestDPoP_UsageErrors(t *testing.T) {
	key := keygen(t)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no key", []string{"-url", "https://a.example/x"}, "-key is required"},
		{"no url", []string{"-key", key}, "-url is required (or -thumbprint)"},
		{"relative url", []string{"-key", key, "-url", "/x"}, `-url "/x" is not an absolute http(s) URL`},
		{"lower-case method", []string{"-key", key, "-url", "https://a.example/x", "-method", "get"}, `-method "get" is not an HTTP method in upper case`},
		{"thumbprint with url", []string{"-key", key, "-thumbprint", "-url", "https://a.example/x"}, "-thumbprint prints only the key's thumbprint; drop -url"},
		{"two stdins", []string{"-key", "-", "-url", "https://a.example/x", "-token", "-"}, "-key - and -token - both read standard input"},
		{"unknown kid", []string{"-key", key, "-kid", "nope", "-url", "https://a.example/x"}, `-kid "nope" is not in`},
		{"stray argument", []string{"-key", key, "-url", "https://a.example/x", "extra"}, `unexpected argument "extra"`},
		{"bad flag", []string{"-ath", "x"}, "flag provided but not defined: -ath"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, time.Now, "", append([]string{"dpop"}, tt.args...)...)
			assert.Equal(t, exitUsage, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, "jwtauth dpop: "+tt.want)
			assert.Contains(t, r.stderr, "Run 'jwtauth dpop -h'")
		})
	}
}

func TestSign_DPoPJKTUsageErrors(t *testing.T) {
	key := keygen(t)
	base := []string{"sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u"}
	r := cli(t, time.Now, "", append(base, "-dpop-jkt", "short")...)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, `jwtauth sign: -dpop-jkt "short" is not a base64url SHA-256 thumbprint`)
	r = cli(t, time.Now, "", append(base, "-claim", `cnf={"jkt":"x"}`)...)
	assert.Equal(t, exitUsage, r.code)
	assert.Contains(t, r.stderr, "jwtauth sign: -claim cnf: the confirmation claim is set by -dpop-jkt")
}
