package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const notChecked = "warning: the signature was NOT checked, so none of this is trustworthy; use 'jwtauth verify' to check the token\n"

// fixtureToken has a header and claims in no canonical order, with numbers no float64 round trip keeps.
// Relative to fixedNow it expires in 14m30s, was issued 3m ago and becomes valid in 5m.
var fixtureToken = b64(`{"typ":"JWT","alg":"ES256","kid":"k-1"}`) + "." +
	b64(`{"sub":"user-1","exp":1767323915,"iat":1767322865,"nbf":1767323345,"n":12345678901234567890,"f":1.50,"e":1e3,`+
		`"nested":{"z":1,"a":[true,null],"o":{}},"html":"<a&b>","esc":"\u00e9\n"}`) + "." + b64("signature")

const fixtureDecoded = `{
  "header": {
    "typ": "JWT",
    "alg": "ES256",
    "kid": "k-1"
  },
  "claims": {
    "sub": "user-1",
    "exp": 1767323915,
    "iat": 1767322865,
    "nbf": 1767323345,
    "n": 12345678901234567890,
    "f": 1.50,
    "e": 1e3,
    "nested": {
      "z": 1,
      "a": [
        true,
        null
      ],
      "o": {}
    },
    "html": "<a&b>",
    "esc": "\u00e9\n"
  }
}
`

func TestDecode_PrintsHeaderAndClaimsExactlyAsInTheToken(t *testing.T) {
	for name, in := range map[string]struct{ stdin, arg string }{
		"argument":                   {"", fixtureToken},
		"stdin":                      {fixtureToken, ""},
		"stdin with dash":            {fixtureToken + "\n", "-"},
		"pasted with Bearer, spaces": {"\n  Bearer " + fixtureToken + "  \r\n", ""},
		"argument with bearer":       {"", "bearer " + fixtureToken},
	} {
		t.Run(name, func(t *testing.T) {
			args := []string{"decode"}
			if in.arg != "" {
				args = append(args, in.arg)
			}
			r := cli(t, clock(fixedNow), in.stdin, args...)
			assert.Equal(t, exitOK, r.code, r.stderr)
			assert.Equal(t, fixtureDecoded, r.stdout)
			assert.Equal(t, "exp: 2026-01-02T03:18:35Z (expires in 14m)\n"+
				"iat: 2026-01-02T03:01:05Z (issued 3m ago)\n"+
				"nbf: 2026-01-02T03:09:05Z (not valid yet: becomes valid in 5m)\n"+
				notChecked, r.stderr)
		})
	}
}

func TestDecode_DescribesTimesRelativeToNow(t *testing.T) {
	tests := []struct {
		name, claims, stderr string
	}{
		{"expired, issued and valid in the past", `{"exp":1767315835,"iat":1767312235,"nbf":1767312235}`,
			"exp: 2026-01-02T01:03:55Z (expired 2h ago)\n" +
				"iat: 2026-01-02T00:03:55Z (issued 3h ago)\n" +
				"nbf: 2026-01-02T00:03:55Z (valid since 3h ago)\n"},
		{"expiring now", `{"exp":1767323045}`, "exp: 2026-01-02T03:04:05Z (expired 0s ago)\n"},
		{"seconds, hours and minutes, days", `{"exp":1767323090,"iat":1767315705,"nbf":1767056000}`,
			"exp: 2026-01-02T03:04:50Z (expires in 45s)\n" +
				"iat: 2026-01-02T01:01:45Z (issued 2h2m ago)\n" +
				"nbf: 2025-12-30T00:53:20Z (valid since 3d2h ago)\n"},
		{"years, issued in the future", `{"exp":1830395045,"iat":1767326645}`,
			"exp: 2028-01-02T03:04:05Z (expires in 2y)\n" +
				"iat: 2026-01-02T04:04:05Z (issued 1h in the future)\n"},
		{"fractional seconds", `{"exp":1767323045.9}`, "exp: 2026-01-02T03:04:05Z (expired 0s ago)\n"},
		{"no exp", `{"sub":"u"}`, "exp: none (jwtauth refuses tokens that never expire)\n"},
		{"exp not a number", `{"exp":"tomorrow","iat":null}`,
			"exp: not a number (verifiers refuse this token)\n" +
				"iat: not a number (verifiers refuse this token)\n"},
		{"out of range", `{"exp":1e300,"nbf":-1e12}`,
			"exp: 1e300 (out of range: verifiers refuse this token)\n" +
				"nbf: -1e12 (out of range: verifiers refuse this token)\n"},
		{"too large for float64", `{"exp":1e400,"iat":123456789012345678901234567890123456789}`,
			"exp: 1e400 (out of range: verifiers refuse this token)\n" +
				"iat: 12345678901234567890123456789012... (out of range: verifiers refuse this token)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token := b64(`{"alg":"RS256"}`) + "." + b64(tt.claims) + "." + b64("sig")
			r := cli(t, clock(fixedNow), "", "decode", token)
			assert.Equal(t, exitOK, r.code)
			assert.Equal(t, tt.stderr+notChecked, r.stderr)
		})
	}
}

func TestDecode_RefusesWhatIsNotAJWT(t *testing.T) {
	h, c := b64(`{"alg":"ES256"}`), b64(`{"sub":"u"}`)
	tests := []struct {
		name, input, stderr string
	}{
		{"empty", "", "jwtauth decode: no token on standard input: pass it as an argument or pipe it in\n"},
		{"only Bearer", "Bearer ", "jwtauth decode: not a JWT: expected 3 segments separated by dots (header.claims.signature), found 1\n"},
		{"one segment", "hello", "jwtauth decode: not a JWT: expected 3 segments separated by dots (header.claims.signature), found 1\n"},
		{"two segments", h + "." + c, "jwtauth decode: not a JWT: expected 3 segments separated by dots (header.claims.signature), found 2\n"},
		{"four segments", h + "." + c + ".s.t", "jwtauth decode: not a JWT: expected 3 segments separated by dots (header.claims.signature), found 4\n"},
		{"JWE", h + ".k.iv.ct.tag", "jwtauth decode: the token has 5 segments: it is encrypted (JWE), so only its key holder can read it\n"},
		{"standard base64 alphabet", h + "." + c + ".a+b/", "jwtauth decode: not a JWT: the signature segment is not base64url\n"},
		{"space inside", h + " ." + c + ".c2ln", "jwtauth decode: not a JWT: the header segment is not base64url\n"},
		{"header not JSON", b64("alg=ES256") + "." + c + ".c2ln", "jwtauth decode: not a JWT: the header segment is not a JSON object\n"},
		{"header a JSON array", b64(`["alg"]`) + "." + c + ".c2ln", "jwtauth decode: not a JWT: the header segment is not a JSON object\n"},
		{"claims null", h + "." + b64("null") + ".c2ln", "jwtauth decode: not a JWT: the claims segment is not a JSON object\n"},
		{"claims empty", h + ".." + "c2ln", "jwtauth decode: not a JWT: the claims segment is not a JSON object\n"},
		{"claims with trailing data", h + "." + b64(`{"a":1}{"b":2}`) + ".c2ln", "jwtauth decode: not a JWT: the claims segment is not a JSON object\n"},
		{"claims not UTF-8", h + "." + b64("{\"a\":\"\xff\"}") + ".c2ln", "jwtauth decode: not a JWT: the claims segment is not UTF-8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, clock(fixedNow), tt.input, "decode")
			assert.Equal(t, exitFail, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, tt.stderr, r.stderr)
		})
	}
}

func TestDecode_RefusesHugeInput(t *testing.T) {
	r := cli(t, clock(fixedNow), strings.Repeat("a", maxInput+1), "decode")
	assert.Equal(t, exitFail, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, "jwtauth decode: standard input is larger than 1048576 bytes; is it really a token?\n", r.stderr)
}

func TestDecode_SignedTokenMatchesVerify(t *testing.T) {
	key := keygen(t)
	token := ok(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "u", "-claim", "n=1.0")
	decoded := ok(t, clock(fixedNow), token, "decode")
	verified := ok(t, clock(fixedNow), token, "verify", "-key", key, "-iss", testIss, "-aud", testAud)
	var d struct{ Claims json.RawMessage }
	require.NoError(t, json.Unmarshal([]byte(decoded), &d))
	var a, b bytes.Buffer
	require.NoError(t, json.Compact(&a, d.Claims))
	require.NoError(t, json.Compact(&b, []byte(verified)))
	assert.Equal(t, b.String(), a.String())
	assert.Contains(t, a.String(), `"n":1.0`)
}

func FuzzDecode(f *testing.F) {
	f.Add(fixtureToken)
	f.Add("Bearer " + fixtureToken)
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add(b64(`{}`) + "." + b64(`{}`) + ".")
	f.Add(b64(`{"alg":"none"}`) + "." + b64(`{"exp":1e400,"iat":"x","nbf":-1e300}`) + ".")
	f.Add(b64(`{"a":"\u0000"}`) + "." + b64(`{"exp":9223372036854775807}`) + ".c2ln")
	f.Add(b64("{\"a\":\"\xff\"}") + "." + b64(`{}`) + ".c2ln")
	f.Add("eyJ.eyJ.===")
	f.Fuzz(func(t *testing.T, input string) {
		var stdout, stderr bytes.Buffer
		code := runWith(clock(fixedNow), []string{"decode"}, strings.NewReader(input), &stdout, &stderr)
		if code != exitOK {
			if code != exitFail {
				t.Fatalf("exit code %d, want 0 or 1; stderr: %s", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Fatalf("exit 1 with output on stdout: %q", stdout.String())
			}
			return
		}
		var out map[string]json.RawMessage
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			t.Fatalf("stdout is not JSON: %v\n%s", err, stdout.String())
		}
		if len(out) != 2 || out["header"] == nil || out["claims"] == nil {
			t.Fatalf("stdout has keys other than header and claims: %s", stdout.String())
		}
		for _, k := range []string{"header", "claims"} {
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(out[k], &obj); err != nil {
				t.Fatalf("%s is not a JSON object: %v", k, err)
			}
		}
		if !strings.HasSuffix(stderr.String(), notChecked) {
			t.Fatalf("stderr lacks the warning: %s", stderr.String())
		}
	})
}

// The fixture's times are as the test comments say.
func TestDecode_FixtureTimes(t *testing.T) {
	assert.Equal(t, int64(1767323045), fixedNow.Unix())
	assert.Equal(t, time.Unix(1767323915, 0).Sub(fixedNow), 14*time.Minute+30*time.Second)
}
