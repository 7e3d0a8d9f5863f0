package jwtauth_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clientCert makes a self-signed client certificate (RFC 8705 §2.2 self-signed mode) and its TLS form.
func clientCert(t testing.TB, cn string) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, der
}

func withMTLS(p jwtauth.MTLSPolicy) func(*jwtauth.Config) {
	return func(c *jwtauth.Config) { c.Issuers[0].MTLS = p }
}

// tlsServer serves h over real TLS, asking clients for a certificate without verifying its chain (RFC 8705
// binds the token to the certificate itself).
func tlsServer(t *testing.T, h http.Handler, auth tls.ClientAuthType) *httptest.Server {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{ClientAuth: auth, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// get calls srv over TLS presenting certs (none when empty) with the Authorization value auth.
func get(t *testing.T, srv *httptest.Server, auth string, certs ...tls.Certificate) *http.Response {
	t.Helper()
	tr := srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = certs
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", auth)
	resp, err := c.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	return resp
}

func TestRequireAuth_ChecksCertificateBoundTokensOverRealTLS(t *testing.T) {
	certA, derA := clientCert(t, "client-a")
	certB, _ := clientCert(t, "client-b")
	for _, auth := range []tls.ClientAuthType{tls.RequestClientCert, tls.RequireAnyClientCert} {
		f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSAllowed))
		h := &okHandler{}
		srv := tlsServer(t, f.v.RequireAuth(h), auth)
		bound := "Bearer " + f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}})
		unbound := "Bearer " + f.token(nil, nil)

		resp := get(t, srv, bound, certA)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the token's own certificate")
		resp = get(t, srv, unbound, certB)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "MTLSAllowed still accepts bearer tokens")
		resp = get(t, srv, bound, certB)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		assert.Equal(t, `Bearer error="invalid_token", error_description="client certificate mismatch"`, resp.Header.Get("WWW-Authenticate"))
		if auth == tls.RequestClientCert {
			resp = get(t, srv, bound)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
			assert.Equal(t, `Bearer error="invalid_token", error_description="client certificate required"`, resp.Header.Get("WWW-Authenticate"))
		}
		assert.Equal(t, 2, h.count(), "only the two accepted requests reach the handler")
	}
}

func TestRequireAuth_MTLSRequiredRefusesUnboundTokens(t *testing.T) {
	certA, derA := clientCert(t, "client-a")
	f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSRequired))
	srv := tlsServer(t, f.v.RequireAuth(&okHandler{}), tls.RequestClientCert)

	resp := get(t, srv, "Bearer "+f.token(nil, nil), certA)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer error="invalid_token", error_description="certificate-bound token required"`, resp.Header.Get("WWW-Authenticate"))
	resp = get(t, srv, "Bearer "+f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}}), certA)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestRequireAuth_MTLSOffRefusesCertificateBoundTokens(t *testing.T) {
	certA, derA := clientCert(t, "client-a")
	f := newLocal(t, "ES256")
	srv := tlsServer(t, f.v.RequireAuth(&okHandler{}), tls.RequestClientCert)
	resp := get(t, srv, "Bearer "+f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}}), certA)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Equal(t, `Bearer error="invalid_token", error_description="sender-constrained token not accepted"`, resp.Header.Get("WWW-Authenticate"))
}

// A proxy on loopback terminates TLS and forwards the certificate; the server itself is plain HTTP.
func TestRequireAuth_BelievesTheForwardedCertificateOfATrustedProxyOnly(t *testing.T) {
	_, derA := clientCert(t, "client-a")
	_, derB := clientCert(t, "client-b")
	rfc9440 := func(der []byte) string { return ":" + base64.StdEncoding.EncodeToString(der) + ":" }
	escapedPEM := func(der []byte) string {
		return url.PathEscape(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	cases := []struct {
		name     string
		fwd      jwtauth.ForwardedClientCert
		header   string
		value    string
		status   int
		describe string
	}{
		{"RFC 9440 from loopback", jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"127.0.0.1", "::1"}},
			"Client-Cert", rfc9440(derA), http.StatusOK, ""},
		{"RFC 9440 from a CIDR", jwtauth.ForwardedClientCert{Header: "client-cert", TrustedProxies: []string{"127.0.0.0/8", "::1/128"}},
			"Client-Cert", rfc9440(derA), http.StatusOK, ""},
		{"escaped PEM (nginx)", jwtauth.ForwardedClientCert{Header: "X-SSL-Client-Cert", Encoding: jwtauth.ClientCertEscapedPEM, TrustedProxies: []string{"127.0.0.1", "::1"}},
			"X-SSL-Client-Cert", escapedPEM(derA), http.StatusOK, ""},
		{"another certificate", jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"127.0.0.1", "::1"}},
			"Client-Cert", rfc9440(derB), http.StatusUnauthorized, "client certificate mismatch"},
		{"untrusted peer", jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"10.0.0.0/8"}},
			"Client-Cert", rfc9440(derA), http.StatusUnauthorized, "client certificate required"},
		{"PEM where RFC 9440 is configured", jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"127.0.0.1", "::1"}},
			"Client-Cert", escapedPEM(derA), http.StatusBadRequest, "malformed client certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSAllowed), func(c *jwtauth.Config) { c.ForwardedClientCert = tc.fwd })
			h := &okHandler{}
			srv := httptest.NewServer(f.v.RequireAuth(h))
			t.Cleanup(srv.Close)
			req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}}))
			req.Header.Set(tc.header, tc.value)
			resp, err := srv.Client().Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, tc.status, resp.StatusCode)
			if tc.status == http.StatusOK {
				assert.Equal(t, 1, h.count())
				return
			}
			assert.Zero(t, h.count())
			code := "invalid_token"
			if tc.status == http.StatusBadRequest {
				code = "invalid_request"
			}
			assert.Equal(t, `Bearer error="`+code+`", error_description="`+tc.describe+`"`, resp.Header.Get("WWW-Authenticate"))
		})
	}
}

func TestVerify_RefusesCertificateBoundTokensWithoutARequest(t *testing.T) {
	_, der := clientCert(t, "client-a")
	f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSAllowed))
	_, err := f.verify(f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(der)}}))
	require.Error(t, err)
	assert.ErrorIs(t, err, jwtauth.ErrCertificateBinding)
	assert.ErrorContains(t, err, "Verify has no TLS connection")
}

// A cache hit re-checks the binding: a token verified with its certificate is not accepted with another.
func TestRequireAuth_CachedCertificateBoundTokenIsCheckedAgain(t *testing.T) {
	certA, derA := clientCert(t, "client-a")
	certB, _ := clientCert(t, "client-b")
	var outcomes []jwtauth.Outcome
	f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSAllowed), func(c *jwtauth.Config) {
		c.OnVerify = func(_ context.Context, o jwtauth.Outcome) { outcomes = append(outcomes, o) }
	})
	srv := tlsServer(t, f.v.RequireAuth(&okHandler{}), tls.RequestClientCert)
	bound := "Bearer " + f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}})
	assert.Equal(t, http.StatusOK, get(t, srv, bound, certA).StatusCode)
	assert.Equal(t, http.StatusUnauthorized, get(t, srv, bound, certB).StatusCode)
	assert.Equal(t, http.StatusOK, get(t, srv, bound, certA).StatusCode)
	require.Len(t, outcomes, 3)
	assert.True(t, outcomes[1].Cached, "the second request was answered from the cache")
	assert.Equal(t, "client certificate mismatch", outcomes[1].Reason)
	_, err := f.verify(strings.TrimPrefix(bound, "Bearer "))
	assert.ErrorIs(t, err, jwtauth.ErrCertificateBinding, "a cached bound token is refused by Verify too")
}

func TestCertificateThumbprint_IsBase64urlSHA256OfTheDER(t *testing.T) {
	_, der := clientCert(t, "client-a")
	sum := sha256.Sum256(der)
	assert.Equal(t, base64.RawURLEncoding.EncodeToString(sum[:]), jwtauth.CertificateThumbprint(der))
	assert.Len(t, jwtauth.CertificateThumbprint(der), 43)
}

func TestNew_ValidatesCertificateBinding(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*jwtauth.Config)
		want   string
	}{
		{"header without proxies", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "Client-Cert"}
		}, "TrustedProxies is empty"},
		{"proxies without header", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{TrustedProxies: []string{"10.0.0.1"}}
		}, "Header is empty"},
		{"bad proxy", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"proxy.internal"}}
		}, `"proxy.internal", which is neither an IP address nor a CIDR prefix`},
		{"credential header", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "authorization", TrustedProxies: []string{"10.0.0.1"}}
		}, "carries credentials already"},
		{"bad header name", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "Client Cert", TrustedProxies: []string{"10.0.0.1"}}
		}, "is not a header name"},
		{"unknown encoding", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS = jwtauth.MTLSAllowed
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "Client-Cert", Encoding: 9, TrustedProxies: []string{"10.0.0.1"}}
		}, "Encoding 9 is unknown"},
		{"forwarding without any MTLS issuer", func(c *jwtauth.Config) {
			c.ForwardedClientCert = jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"10.0.0.1"}}
		}, "no issuer accepts certificate-bound tokens"},
		{"unknown policy", func(c *jwtauth.Config) { c.Issuers[0].MTLS = 7 }, "MTLS 7 is unknown"},
		{"MTLSRequired with DPoP", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS, c.Issuers[0].DPoP = jwtauth.MTLSRequired, jwtauth.DPoPOptional
			c.DPoP.ExternalURL = "https://api.example.test"
		}, "MTLS and DPoP contradict"},
		{"DPoPRequired with MTLS", func(c *jwtauth.Config) {
			c.Issuers[0].MTLS, c.Issuers[0].DPoP = jwtauth.MTLSAllowed, jwtauth.DPoPRequired
			c.DPoP.ExternalURL = "https://api.example.test"
		}, "MTLS and DPoP contradict"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{Issuer: testIssuer, Audiences: []string{testAudience},
				Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(jwksOf(map[string]string{"k1": "ES256"}, map[string]crypto.Signer{"k1": testKey("ES256", 0)}))}}}
			tc.mutate(&cfg)
			_, err := jwtauth.New(context.Background(), cfg)
			require.Error(t, err)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNew_AcceptsBothBindingsWhenNeitherIsRequired(t *testing.T) {
	f := newLocal(t, "ES256", withMTLS(jwtauth.MTLSAllowed), func(c *jwtauth.Config) {
		c.Issuers[0].DPoP = jwtauth.DPoPOptional
		c.DPoP.ExternalURL = "https://api.example.test"
	})
	certA, derA := clientCert(t, "client-a")
	srv := tlsServer(t, f.v.RequireAuth(&okHandler{}), tls.RequestClientCert)
	assert.Equal(t, http.StatusOK, get(t, srv, "Bearer "+f.token(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(derA)}}), certA).StatusCode)
	assert.Equal(t, http.StatusOK, get(t, srv, "Bearer "+f.token(nil, nil), certA).StatusCode)
}
