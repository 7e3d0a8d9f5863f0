package jwtauth_test

// Fuzz targets of the adversarial suite (issue #6). Run each with
//
//	go test -run '^$' -fuzz '^FuzzVerify$' -fuzztime 20s .
//
// The properties come from RFC 8725 §3.1-§3.4 (only what a trusted key signed is accepted, whatever the
// encoding), RFC 7519 §7.2 (exp, iss, aud hold for everything accepted), RFC 6750 §3 with CONTRACTS.md (only
// 200/400/401, fixed challenge phrases that never echo the request) and RFC 7517 (a key set vouches only for
// the keys it literally contains).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// atkFuzzKey is the one real signing key of FuzzVerify and FuzzAuthorizationHeader (ES256: fast to sign).
var atkFuzzKey = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// atkFuzzVerifier trusts atkFuzzKey under kid "fz" for atkIss/atkAud, at the fixed clock atkNow.
var atkFuzzVerifier = sync.OnceValue(func() *jwtauth.Verifier {
	set := atkJSON(map[string]any{"keys": []any{jwtauthtest.PublicJWK(&atkFuzzKey().PublicKey, "fz", "ES256")}})
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud},
			Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(set)}},
		Clock:  func() time.Time { return atkNow },
		Logger: atkQuietLogger(),
	})
	if err != nil {
		panic(err)
	}
	return v
})

func FuzzVerify(f *testing.F) {
	hdr := []byte(`{"alg":"ES256","kid":"fz","typ":"JWT"}`)
	exp := atkNow.Add(time.Hour).Unix()
	claims := atkJSON(map[string]any{"iss": atkIss, "aud": atkAud, "sub": "s", "exp": exp})
	f.Add(hdr, claims, []byte{}, byte(0))                                                                      // valid
	f.Add(hdr, atkJSON(map[string]any{"iss": atkIss, "aud": []string{atkAud}, "exp": exp}), []byte{}, byte(0)) // aud array
	f.Add(hdr, atkJSON(map[string]any{"iss": atkIss, "aud": atkAud, "exp": atkNow.Unix() - 3600}), []byte{}, byte(0))
	f.Add(hdr, atkJSON(map[string]any{"iss": atkIss, "aud": atkAud}), []byte{}, byte(0))
	f.Add([]byte(`{"alg":"none"}`), claims, []byte{}, byte(1))
	f.Add([]byte(`{"alg":"ES256","kid":"fz","alg":"none"}`), claims, []byte{}, byte(0))
	f.Add(hdr, []byte(`{"iss":"`+atkIss+`","aud":"`+atkAud+`","exp":1,"exp":99999999999}`), []byte{}, byte(0))
	f.Add(hdr, []byte(`{"iss":"`+atkIss+`","aud":"`+atkAud+`","exp":"9999999999"}`), []byte{}, byte(0))
	f.Add(hdr, []byte(`{"iss":"`+atkIss+`","aud":"`+atkAud+`","exp":1e300}`), []byte{}, byte(0))
	f.Add(hdr, []byte(`{"iss":"`+atkIss+`","aud":"`+atkAud+`","EXP":9999999999}`), []byte{}, byte(0))
	f.Add(hdr, []byte(`{"\u0069ss":"`+atkIss+`","aud":"`+atkAud+`","exp":9999999999}`), []byte{}, byte(0))
	f.Add(hdr, claims, make([]byte, 64), byte(1))                              // psychic r=s=0
	f.Add(hdr, claims, []byte{0x30, 0x44, 0x02, 0x20}, byte(2))                // DER-ish prefix on a real signature
	f.Add([]byte("eyJhbGciOiJFUzI1NiJ9"), []byte("e30"), []byte("x"), byte(3)) // raw segments
	f.Add([]byte("a.b.c.d.e"), []byte(""), []byte(""), byte(3))
	f.Add(hdr, claims, []byte{}, byte(4|3)) // raw JSON as segments, signed as sent

	f.Fuzz(func(t *testing.T, header, payload, sig []byte, mode byte) {
		v := atkFuzzVerifier()
		// signed records exactly the signing inputs this iteration signed with the real key: Verify sees only
		// this iteration's token, so anything it accepts must be one of them.
		signed := map[string]bool{}
		sign := func(input string) []byte {
			signed[input] = true
			return atkSig("ES256", atkFuzzKey(), input)
		}
		var tok string
		switch mode & 3 {
		case 0: // real signature over the encoded parts
			input := atkB64(header) + "." + atkB64(payload)
			tok = input + "." + atkB64(sign(input))
		case 1: // fuzzed signature bytes
			tok = atkB64(header) + "." + atkB64(payload) + "." + atkB64(sig)
		case 2: // a real signature, then changed by the fuzzed bytes
			input := atkB64(header) + "." + atkB64(payload)
			mutated := sign(input)
			for i, b := range sig {
				if i < len(mutated) {
					mutated[i] ^= b
				} else {
					mutated = append(mutated, b)
				}
			}
			tok = input + "." + atkB64(mutated)
		case 3: // the fuzzed bytes are the segments themselves, not encoded
			input := string(header) + "." + string(payload)
			if mode&4 != 0 {
				tok = input + "." + atkB64(sign(input))
			} else {
				tok = input + "." + string(sig)
			}
		}
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			var e *jwtauth.Error
			if !errors.As(err, &e) {
				t.Fatalf("error is not a *jwtauth.Error: %T %v", err, err)
			}
			return
		}
		// Accepted: it must be exactly something the harness signed with the real key ...
		dot := strings.LastIndexByte(tok, '.')
		if dot < 0 || !signed[tok[:dot]] {
			t.Fatalf("accepted a token whose signing input the harness never signed: %q", tok)
		}
		// ... in the one canonical encoding, and its claims must satisfy the configuration.
		parts := strings.Split(tok, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts", len(parts))
		}
		hb, err1 := base64.RawURLEncoding.Strict().DecodeString(parts[0])
		pb, err2 := base64.RawURLEncoding.Strict().DecodeString(parts[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("accepted a token that is not strict base64url: %v %v", err1, err2)
		}
		var h map[string]json.RawMessage
		if err := json.Unmarshal(hb, &h); err != nil || string(h["alg"]) != `"ES256"` {
			t.Fatalf("accepted header %q", hb)
		}
		var p map[string]json.RawMessage
		if err := json.Unmarshal(pb, &p); err != nil {
			t.Fatalf("accepted payload that is not a JSON object: %q", pb)
		}
		var iss string
		if json.Unmarshal(p["iss"], &iss) != nil || iss != atkIss || c.Issuer != atkIss {
			t.Fatalf("accepted iss %s", p["iss"])
		}
		var expN float64
		if json.Unmarshal(p["exp"], &expN) != nil || !atkNow.Before(time.Unix(int64(expN), 0).Add(jwtauth.DefaultLeeway+time.Second)) {
			t.Fatalf("accepted exp %s at %s", p["exp"], atkNow)
		}
		if !c.ExpiresAt.Add(jwtauth.DefaultLeeway).After(atkNow) {
			t.Fatalf("accepted ExpiresAt %s at %s", c.ExpiresAt, atkNow)
		}
		var aud []string
		var one string
		if json.Unmarshal(p["aud"], &one) == nil {
			aud = []string{one}
		} else if json.Unmarshal(p["aud"], &aud) != nil {
			t.Fatalf("accepted aud %s", p["aud"])
		}
		if !atkContains(aud, atkAud) || !atkContains(c.Audience, atkAud) {
			t.Fatalf("accepted aud %s", p["aud"])
		}
	})
}

func atkContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// atkFuzzValid is the one token FuzzAuthorizationHeader's verifier accepts.
var atkFuzzValid = sync.OnceValue(func() string {
	return atkSignRaw("ES256", atkFuzzKey(), []byte(`{"alg":"ES256","kid":"fz","typ":"JWT"}`),
		atkJSON(map[string]any{"iss": atkIss, "aud": atkAud, "sub": "fuzz-user", "exp": atkNow.Add(time.Hour).Unix()}))
})

// atkChallengeAlphabet is every byte the fixed challenge phrases may use: "Bearer", the attribute names, the
// RFC 6750 codes and lower-case descriptions. A byte of the request outside it must never be echoed.
var atkChallengeAlphabet = func() (ok [256]bool) {
	for _, c := range []byte(`Bearer error="_", error_description="abcdefghijklmnopqrstuvwxyz -"`) {
		ok[c] = true
	}
	return ok
}()

func FuzzAuthorizationHeader(f *testing.F) {
	valid := atkFuzzValid()
	f.Add("Bearer "+valid, "", uint8(1))
	f.Add("bearer   "+valid, "", uint8(1))
	f.Add("Bearer "+valid, "Bearer "+valid, uint8(2))
	f.Add("Bearer\t"+valid, "", uint8(1))
	f.Add("Bearer "+valid+" x", "", uint8(1))
	f.Add("Bearer", "", uint8(1))
	f.Add("Basic dXNlcjpwYXNz", "Bearer "+valid, uint8(2))
	f.Add("Bearer "+valid[:len(valid)-2]+"XY", "", uint8(1))
	f.Add("Bearer "+strings.Repeat(".", 100), "", uint8(1))
	f.Add("", "", uint8(0))
	f.Add("Bearer \"quoted\\\"", "", uint8(1))
	f.Add("Bearer ZZZ{\x00\xff}", "", uint8(1))

	rec := &atkRecorder{}
	h := atkFuzzVerifier().RequireAuth(rec)
	f.Fuzz(func(t *testing.T, a, b string, n uint8) {
		values := []string{a, b}[:n%3]
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if len(values) > 0 {
			r.Header["Authorization"] = values
		}
		before := rec.reached.Load()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		reached := rec.reached.Load() - before

		switch w.Code {
		case http.StatusOK:
			if len(values) != 1 {
				t.Fatalf("200 with %d Authorization values", len(values))
			}
			v := values[0]
			if len(v) < 7 || !strings.EqualFold(v[:6], "Bearer") || v[6] != ' ' || strings.TrimLeft(v[6:], " ") != valid {
				t.Fatalf("200 for %q, which is not Bearer, spaces and the valid token", v)
			}
			if reached != 1 || rec.sub.Load() != "fuzz-user" {
				t.Fatalf("200 without the handler seeing the valid claims")
			}
			return
		case http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("status %d for %q", w.Code, values)
		}
		if reached != 0 {
			t.Fatalf("refused request reached the handler")
		}
		ch := w.Header().Values("WWW-Authenticate")
		if len(ch) != 1 {
			t.Fatalf("%d challenges", len(ch))
		}
		for i := 0; i < len(ch[0]); i++ {
			if !atkChallengeAlphabet[ch[0][i]] {
				t.Fatalf("challenge %q has byte %q outside the fixed phrases", ch[0], ch[0][i])
			}
		}
		if len(values) == 0 && ch[0] != "Bearer" {
			t.Fatalf("no credentials, challenge %q", ch[0])
		}
	})
}

// atkFuzzAttacker is the key FuzzJWKS's tokens are signed with: it must be trusted only when the fuzzed key set
// literally contains it.
var atkFuzzAttacker = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

// atkHoldsKey reports whether data spells pub: as JWK coordinates, or as a PEM block of it, directly or after
// the base64 layer LocalKeys accepts.
func atkHoldsKey(data []byte, pub *ecdsa.PublicKey) bool {
	jwk := jwtauthtest.PublicJWK(pub, "", "")
	holds := func(b []byte) bool {
		if bytes.Contains(b, []byte(jwk["x"])) && bytes.Contains(b, []byte(jwk["y"])) {
			return true
		}
		for rest := b; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				return false
			}
			if k, err := x509.ParsePKIXPublicKey(block.Bytes); err == nil {
				if e, ok := k.(*ecdsa.PublicKey); ok && e.Equal(pub) {
					return true
				}
			}
			if c, err := x509.ParseCertificate(block.Bytes); err == nil {
				if e, ok := c.PublicKey.(*ecdsa.PublicKey); ok && e.Equal(pub) {
					return true
				}
			}
			if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
				if e, ok := k.(*ecdsa.PrivateKey); ok && e.PublicKey.Equal(pub) {
					return true
				}
			}
			if k, err := x509.ParseECPrivateKey(block.Bytes); err == nil && k.PublicKey.Equal(pub) {
				return true
			}
		}
	}
	if holds(data) {
		return true
	}
	clean := bytes.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, data)
	s := strings.TrimRight(string(clean), "=")
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		if d, err := enc.DecodeString(s); err == nil && holds(d) {
			return true
		}
	}
	return false
}

// atkFuzzJWKSServer serves whatever set the current FuzzJWKS iteration put into it.
type atkFuzzJWKSServer struct {
	url  string
	body atomic.Pointer[[]byte]
}

var atkFuzzServer = sync.OnceValue(func() *atkFuzzJWKSServer {
	s := &atkFuzzJWKSServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b := s.body.Load(); b != nil {
			_, _ = w.Write(*b)
		}
	}))
	s.url = srv.URL + "/jwks.json" // lives for the fuzzing process
	return s
})

func FuzzJWKS(f *testing.F) {
	att := atkFuzzAttacker()
	attJWK := jwtauthtest.PublicJWK(&att.PublicKey, "att", "ES256")
	other := jwtauthtest.PublicJWK(&atkFuzzKey().PublicKey, "fz", "ES256")
	der, _ := x509.MarshalPKIXPublicKey(&att.PublicKey)
	attPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	f.Add(atkJSON(map[string]any{"keys": []any{other}}))
	f.Add(atkJSON(map[string]any{"keys": []any{attJWK}}))        // holds the attacker key: may verify
	f.Add(atkJSON(map[string]any{"keys": []any{other, attJWK}})) // idem
	f.Add(atkJSON(other))
	f.Add(attPEM)
	f.Add([]byte(base64.StdEncoding.EncodeToString(atkJSON(map[string]any{"keys": []any{other}}))))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA","kid":"att"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"att"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQ","kid":"att"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Add([]byte(`{"keys":[],"keys":[{}]}`))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"))

	claims := atkJSON(map[string]any{"iss": atkIss, "aud": atkAud, "sub": "att", "exp": atkNow.Add(time.Hour).Unix()})
	tokens := []string{
		atkSignRaw("ES256", att, []byte(`{"alg":"ES256","kid":"att"}`), claims),
		atkSignRaw("ES256", att, []byte(`{"alg":"ES256"}`), claims),
		atkSignRaw("ES256", att, []byte(`{"alg":"ES256","kid":"fz"}`), claims),
	}
	algs := []string{"RS256", "PS256", "ES256", "ES384", "ES512", "EdDSA"}
	check := func(t *testing.T, v *jwtauth.Verifier, data []byte, where string) {
		for _, tok := range tokens {
			if _, err := v.Verify(context.Background(), tok); err == nil && !atkHoldsKey(data, &att.PublicKey) {
				t.Fatalf("%s: a token of the attacker key verified against a set without it: %q", where, data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := jwtauth.New(context.Background(), jwtauth.Config{
			Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: algs,
				Keys: jwtauth.LocalKeys(data)}},
			Clock:  func() time.Time { return atkNow },
			Logger: atkQuietLogger(),
		})
		if err == nil {
			check(t, v, data, "LocalKeys")
			_ = v.Close()
		}
		// One iteration in eight also goes through a real fetch (RemoteJWKS), which is slower.
		if sum := sha256.Sum256(data); sum[0]&7 != 0 {
			return
		}
		srv := atkFuzzServer()
		body := append([]byte(nil), data...)
		srv.body.Store(&body)
		v, err = jwtauth.New(context.Background(), jwtauth.Config{
			Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: algs,
				Keys: jwtauth.RemoteJWKS(srv.url)}},
			Clock:  func() time.Time { return atkNow },
			Logger: atkQuietLogger(),
			JWKS:   jwtauth.JWKSOptions{FetchTimeout: 2 * time.Second, MaxWait: 100 * time.Millisecond},
		})
		if err != nil {
			t.Fatalf("RemoteJWKS config refused: %v", err)
		}
		defer v.Close()
		check(t, v, data, "RemoteJWKS")
	})
}

// FuzzIssuerTemplate: a multi-tenant issuer (https://login.atk.test/{tenantid}/v2.0, Tenants t1 and t2)
// accepts a token only when its iss is the template with exactly its own tid in place of {tenantid}, and that
// tid is listed: whatever iss and tid the token carries, one tenant's token never passes as another's.
func FuzzIssuerTemplate(f *testing.F) {
	const tmpl = "https://login.atk.test/{tenantid}/v2.0"
	tenants := []string{"t1", "t2"}
	for _, seed := range [][2]string{
		{"https://login.atk.test/t1/v2.0", "t1"}, {"https://login.atk.test/t1/v2.0", "t2"},
		{"https://login.atk.test/t3/v2.0", "t3"}, {"https://login.atk.test/t1/x/v2.0", "t1/x"},
		{"https://login.atk.test//v2.0", ""}, {"https://login.atk.test/{tenantid}/v2.0", "{tenantid}"},
		{"https://login.atk.test/T1/v2.0", "t1"}, {"https://login.atk.test/t1/v2.0/", "t1"},
	} {
		f.Add(seed[0], seed[1], true)
	}
	f.Add("https://login.atk.test/t1/v2.0", "", false)
	key := atkFuzzKey()
	set := atkJSON(map[string]any{"keys": []any{atkJWK(&key.PublicKey, "k", "ES256")}})
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: tmpl, Tenants: tenants, Audiences: []string{atkAud},
			Algorithms: []string{"ES256"}, Keys: jwtauth.LocalKeys(set)}},
		Clock:  func() time.Time { return atkNow },
		Logger: atkQuietLogger(),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = v.Close() })
	f.Fuzz(func(t *testing.T, iss, tid string, withTid bool) {
		claims := map[string]any{"iss": iss, "aud": atkAud, "exp": atkNow.Add(time.Hour).Unix()}
		if withTid {
			claims["tid"] = tid
		}
		tok := atkSignRaw("ES256", key, []byte(`{"alg":"ES256","kid":"k"}`), atkJSON(claims))
		c, err := v.Verify(context.Background(), tok)
		if err != nil {
			var e *jwtauth.Error
			if !errors.As(err, &e) {
				t.Fatalf("not an *Error: %v", err)
			}
			return
		}
		if !withTid || iss != strings.Replace(tmpl, "{tenantid}", tid, 1) || (tid != "t1" && tid != "t2") {
			t.Fatalf("accepted iss %q with tid %q (present %v)", iss, tid, withTid)
		}
		if c.Issuer != iss {
			t.Fatalf("Claims.Issuer %q, token iss %q", c.Issuer, iss)
		}
	})
}

// FuzzForwardedClientCert: the Client-Cert header of a trusted proxy (RFC 9440) lets a certificate-bound
// token through only when it encodes exactly the certificate the token names; anything else is 400 or 401.
func FuzzForwardedClientCert(f *testing.F) {
	k := atkKeys()
	der := atkSelfSigned(k.attEC)
	std := base64.StdEncoding.EncodeToString(der)
	raw := base64.RawStdEncoding.EncodeToString(der)
	f.Add(":"+std+":", "", uint8(1))
	f.Add(" :"+raw+": ", "", uint8(1))
	f.Add(":"+std+":", ":"+std+":", uint8(2))
	f.Add(std, "", uint8(1))
	f.Add(":"+std[:len(std)-4]+":", "", uint8(1))
	f.Add(":"+strings.ReplaceAll(std, "+", "-")+":", "", uint8(1))
	f.Add("::", "", uint8(1))
	f.Add(":"+std[:8]+"\n"+std[8:]+":", "", uint8(1))
	f.Add(":"+std+":;a=1", "", uint8(1))
	f.Add("", "", uint8(0))

	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{Issuer: atkIss, Audiences: []string{atkAud}, Algorithms: []string{"ES256"},
			Keys: jwtauth.LocalKeys(atkTrustedJWKS()), MTLS: jwtauth.MTLSAllowed}},
		ForwardedClientCert: jwtauth.ForwardedClientCert{Header: "Client-Cert", TrustedProxies: []string{"192.0.2.1"}},
		Clock:               func() time.Time { return atkNow },
		Logger:              atkQuietLogger(),
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = v.Close() })
	token := atkES(nil, map[string]any{"cnf": map[string]any{"x5t#S256": jwtauth.CertificateThumbprint(der)}})
	rec := &atkRecorder{}
	h := v.RequireAuth(rec)
	f.Fuzz(func(t *testing.T, a, b string, n uint8) {
		values := []string{a, b}[:n%3]
		r := httptest.NewRequest(http.MethodGet, "/", nil) // from 192.0.2.1, the trusted proxy
		r.Header.Set("Authorization", "Bearer "+token)
		if len(values) > 0 {
			r.Header["Client-Cert"] = values
		}
		before := rec.reached.Load()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		reached := rec.reached.Load() - before
		switch w.Code {
		case http.StatusOK:
			s := ""
			if len(values) == 1 {
				s = strings.Trim(values[0], " \t")
			}
			if s != ":"+std+":" && s != ":"+raw+":" {
				t.Fatalf("200 for Client-Cert %q, which is not the bound certificate", values)
			}
			if reached != 1 {
				t.Fatalf("200 without reaching the handler")
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
			if reached != 0 {
				t.Fatalf("status %d but the handler ran", w.Code)
			}
		default:
			t.Fatalf("status %d for Client-Cert %q", w.Code, values)
		}
	})
}

// FuzzDPoPProof feeds arbitrary DPoP headers to RequireAuth of a verifier requiring DPoP, with a valid bound
// token. The strict proof parser must never panic, a proof nobody signed must never pass, and the answer is
// always the fixed invalid_dpop_proof refusal (or 503 for a full replay store), never echoing the input.
func FuzzDPoPProof(f *testing.F) {
	fix := atkDPoPNewFixture(f)
	tok := fix.bound
	valid := fix.proof(tok, nil, nil)
	seeds := map[string]bool{}
	for _, s := range []string{
		valid,
		fix.proof(tok, map[string]any{"jwk": atkMerge(atkDPoPJWK(fix.client), map[string]any{"d": "AAAA"})}, nil),
		fix.proof(tok, map[string]any{"typ": "JWT"}, nil),
		fix.proof(tok, nil, map[string]any{"htu": "https://api.atk.test/x?/api/private"}),
		fix.proof(tok, map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}, nil),
		fix.proof(tok, map[string]any{"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": atkB64(make([]byte, 32))}, "alg": "EdDSA"}, nil),
		"e30.e30.AA", "..", "", strings.Repeat("A", 9000),
	} {
		seeds[s] = true
		f.Add(s)
	}
	rec := &atkRecorder{}
	h := fix.v["required"].RequireAuth(rec)
	f.Fuzz(func(t *testing.T, proof string) {
		r := httptest.NewRequest(http.MethodGet, atkDPoPURL, nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof)
		w := httptest.NewRecorder()
		before := rec.reached.Load()
		h.ServeHTTP(w, r)
		if w.Code == http.StatusOK {
			if !seeds[proof] {
				t.Fatalf("a proof nobody signed was accepted: %q", proof)
			}
			return
		}
		if rec.reached.Load() != before {
			t.Fatal("refused, yet the handler was reached")
		}
		switch w.Code {
		case http.StatusUnauthorized, http.StatusServiceUnavailable:
		default:
			t.Fatalf("status %d", w.Code)
		}
		for _, ch := range w.Header().Values("WWW-Authenticate") {
			if len(proof) > 8 && strings.Contains(ch, proof) {
				t.Fatal("the challenge echoes the proof")
			}
		}
	})
}
