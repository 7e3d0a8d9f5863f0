package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newProver(t testing.TB) *jwtauth.DPoPProver {
	t.Helper()
	k, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	p, err := jwtauth.NewDPoPProver(k, nil)
	require.NoError(t, err)
	return p
}

func (ts *testServer) proof(t testing.TB, p *jwtauth.DPoPProver, method, path, token string) string {
	t.Helper()
	proof, err := p.Proof(method, ts.cfg.Issuer+path, token, "")
	require.NoError(t, err)
	return proof
}

func (ts *testServer) loginDPoP(t testing.TB, email string, proofs ...string) response {
	t.Helper()
	return ts.postJSON(t, "/login", map[string]string{"email": email, "password": classicPassword}, http.Header{"Dpop": proofs})
}

func cnfOf(t testing.TB, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c struct {
		Cnf map[string]any `json:"cnf"`
	}
	require.NoError(t, json.Unmarshal(b, &c))
	return c.Cnf
}

// A login with a valid proof gets a DPoP-bound token (RFC 9449 §5) that the server's own routes accept with a
// proof by the same key, and refuse as a bearer token; refreshing needs a proof by that key and keeps the binding.
func TestLoginDPoP_IssuesBoundTokenUsableWithProofs(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := newProver(t)
	res := ts.loginDPoP(t, "alice@example.com", ts.proof(t, p, "POST", "/login", ""))
	require.Equal(t, http.StatusOK, res.status, "%s", res.body)
	m := res.json(t)
	assert.Equal(t, "DPoP", m["token_type"])
	access := m["access_token"].(string)
	assert.Equal(t, map[string]any{"jkt": p.Thumbprint()}, cnfOf(t, access))

	// The library's Verifier, configured as a DPoP resource server would be, accepts it with a proof.
	ti := ts.app.issuer.TrustedIssuer()
	ti.DPoP = jwtauth.DPoPRequired
	v, err := jwtauth.New(context.Background(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{ti},
		DPoP: jwtauth.DPoPOptions{ExternalURL: "https://api.example"}})
	require.NoError(t, err)
	defer v.Close()
	_, err = v.Verify(context.Background(), access)
	assert.ErrorIs(t, err, jwtauth.ErrSenderConstrained, "no downgrade to bearer")

	me := func(scheme, token string, proofs ...string) response {
		return ts.do(t, "GET", "/users/me", "", nil, http.Header{"Authorization": {scheme + " " + token}, "Dpop": proofs})
	}
	r := me("DPoP", access, ts.proof(t, p, "GET", "/users/me", access))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	assert.Equal(t, "alice@example.com", r.json(t)["email"])
	assert.Equal(t, http.StatusUnauthorized, me("Bearer", access).status, "a bound token is not a bearer token")
	assert.Equal(t, http.StatusUnauthorized, me("DPoP", access, ts.proof(t, newProver(t), "GET", "/users/me", access)).status,
		"a proof by another key")

	refresh := func(proofs ...string) response {
		return ts.postJSON(t, "/token/refresh", map[string]string{"refresh_token": m["refresh_token"].(string)}, http.Header{"Dpop": proofs})
	}
	rp := refresh()
	assert.Equal(t, http.StatusBadRequest, rp.status)
	assert.Equal(t, map[string]any{"error": "invalid_dpop_proof", "error_description": "DPoP proof missing"}, rp.json(t))
	rp = refresh(ts.proof(t, newProver(t), "POST", "/token/refresh", ""))
	assert.Equal(t, http.StatusBadRequest, rp.status)
	assert.Equal(t, map[string]any{"error": "invalid_dpop_proof", "error_description": "DPoP proof key does not match token"}, rp.json(t))
	rp = refresh(ts.proof(t, p, "POST", "/token/refresh", "")) // the refused attempts did not spend the token
	require.Equal(t, http.StatusOK, rp.status, "%s", rp.body)
	rm := rp.json(t)
	assert.Equal(t, "DPoP", rm["token_type"], "the session stays bound")
	assert.Equal(t, map[string]any{"jkt": p.Thumbprint()}, cnfOf(t, rm["access_token"].(string)))

	// Without a DPoP header nothing changes (CONTRACTS.md).
	res = ts.login(t, "bob@example.com", classicPassword)
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "bearer", res.json(t)["token_type"])
	assert.Nil(t, cnfOf(t, res.json(t)["access_token"].(string)))
}

func TestLoginDPoP_RefusesBadProofs(t *testing.T) {
	ts := newSessionServer(t, nil)
	p := newProver(t)
	replayed := ts.proof(t, p, "POST", "/login", "")
	require.Equal(t, http.StatusOK, ts.loginDPoP(t, "alice@example.com", replayed).status)
	tests := []struct {
		name   string
		proofs []string
		phrase string
	}{
		{"replayed", []string{replayed}, "DPoP proof replayed"},
		{"for another URL", []string{ts.proof(t, p, "POST", "/token/refresh", "")}, "DPoP proof htu mismatch"},
		{"for another method", []string{ts.proof(t, p, "GET", "/login", "")}, "DPoP proof htm mismatch"},
		{"with ath", []string{ts.proof(t, p, "POST", "/login", "a-token")}, "DPoP proof ath mismatch"},
		{"two proofs", []string{ts.proof(t, p, "POST", "/login", ""), ts.proof(t, p, "POST", "/login", "")}, "more than one DPoP proof"},
		{"malformed", []string{"not-a-jws"}, "malformed DPoP proof"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := ts.loginDPoP(t, "alice@example.com", tt.proofs...)
			assert.Equal(t, http.StatusBadRequest, res.status)
			assert.Equal(t, map[string]any{"error": "invalid_dpop_proof", "error_description": tt.phrase}, res.json(t))
		})
	}
	// Credentials come first: a wrong password is invalid_credentials whatever the proof.
	res := ts.postJSON(t, "/login", map[string]string{"email": "alice@example.com", "password": "wrong-Password-1"},
		http.Header{"Dpop": {"not-a-jws"}})
	assert.Equal(t, http.StatusUnauthorized, res.status)
	assert.Equal(t, "invalid_credentials", res.json(t)["error"])
}
