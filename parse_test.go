package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSplitToken_NeedsExactlyThreeNonEmptySegments(t *testing.T) {
	cases := map[string]bool{
		"a.b.c":      true,
		"aZ09-_.b.c": true,
		"a.b":        false,
		"a.b.c.d":    false,
		"a.b.c.":     false,
		".b.c":       false,
		"a..c":       false,
		"a.b.":       false,
		"":           false,
		"..":         false,
		"...":        false,
		"a":          false,
	}
	for tok, ok := range cases {
		raw, got := splitToken(tok)
		assert.Equal(t, ok, got, "%q", tok)
		if ok {
			assert.Equal(t, tok, raw.signingInput+"."+raw.signature)
		}
	}
}

func TestDecodeSegment_IsStrict(t *testing.T) {
	b, ok := decodeSegment(nil, "eyJhIjoxfQ")
	require.True(t, ok)
	assert.Equal(t, `{"a":1}`, string(b))
	for _, bad := range []string{"eyJhIjoxfR", "eyJhIjoxfQ==", "e", "eyJhIjoxfQ\n", "eyJh\rIjoxfQ", "eyJhIjoxf+", "eyJhIjoxf/"} {
		_, ok := decodeSegment(nil, bad)
		assert.False(t, ok, bad)
	}
}

func TestParsePayload_ReadsRegisteredClaims(t *testing.T) {
	var p payload
	err := parsePayload([]byte(`{"iss":"i","sub":"s","aud":["a","b"],"exp":1800000000.25,"nbf":1,"iat":2,"jti":"j",
		"scope":"x y","scp":"z","permissions":["p"],"cnf":{"jkt":"t"},"nested":{"exp":"not a date","iss":5}}`), &p)
	require.NoError(t, err)
	assert.Equal(t, "i", p.iss)
	assert.Equal(t, "s", p.sub)
	assert.Equal(t, []string{"a", "b"}, p.audMany)
	assert.True(t, p.audIsArray)
	assert.Equal(t, 1800000000.25, p.exp)
	assert.Equal(t, float64(1), p.nbf)
	assert.Equal(t, float64(2), p.iat)
	assert.Equal(t, "j", p.jti)
	assert.Equal(t, "x y", p.scope)
	assert.Equal(t, "z", p.scpOne)
	assert.Equal(t, []string{"p"}, p.permissions)
	assert.True(t, p.hasCnf)
}

func TestJSONReader_Escapes(t *testing.T) {
	var p payload
	require.NoError(t, parsePayload([]byte(`{"\u0069ss":"a\"b\\c\/d\u00e9\ud83d\ude00\n"}`), &p))
	assert.Equal(t, "a\"b\\c/dé😀\n", p.iss, "escaped names are registered names too")
	for _, bad := range []string{`{"iss":"\x"}`, `{"iss":"\u12"}`, `{"iss":"\udc00"}`, `{"iss":"\ud800\u0041"}`, `{"iss":"abc`, `{"iss":"a` + "\t" + `"}`} {
		assert.Error(t, parsePayload([]byte(bad), &payload{}), bad)
	}
}

func TestJSONReader_DuplicateDetectionScalesPastTheSmallSet(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 40; i++ {
		b.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1,`)
	}
	b.WriteString(`"kaa":2}`) // duplicate of the first member, found through the map
	assert.ErrorContains(t, parsePayload([]byte(b.String()), &payload{}), "duplicate member name")
}

// FuzzStrictJSON checks the strict reader against encoding/json: whatever it accepts must be valid JSON, and
// a registered claim it reads must have the value encoding/json sees under that exact name.
func FuzzStrictJSON(f *testing.F) {
	for _, s := range []string{
		`{"iss":"a","exp":1,"aud":["x"]}`, `{"a":{"b":[1,2,{"c":null}]},"d":true}`, `{"iss":"\u0041"}`,
		`{"exp":1e3}`, `{"a":1,"a":2}`, `[]`, `{"scp":"a b","permissions":["p"]}`, `{"x":-0.5e-3}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p payload
		if err := parsePayload(data, &p); err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON: %q", data)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted a non-object: %q", data)
		}
		if p.hasIss {
			var iss string
			raw, ok := exactMember(data, "iss")
			if !ok || json.Unmarshal(raw, &iss) != nil || iss != p.iss {
				t.Fatalf("iss %q disagrees with encoding/json in %q", p.iss, data)
			}
		}
	})
}

// exactMember finds the member whose unescaped name is exactly name (encoding/json's map decoding is exact
// for map keys).
func exactMember(data []byte, name string) (json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil, false
	}
	v, ok := m[name]
	return v, ok
}

// FuzzDecodeSegment checks the strict decoder against encoding/base64's strict raw URL decoder: they agree on
// every input made of the alphabet, and the strict decoder accepts nothing else.
func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{"", "eyJhIjoxfQ", "eyJhIjoxfR", "AA", "AB", "AAA", "AAB", "A", "a-_Z", "YQ==", "Y\nQ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := decodeSegment(nil, s)
		want, err := base64.RawURLEncoding.Strict().DecodeString(s)
		clean := !strings.ContainsAny(s, "\r\n")
		if clean && ok != (err == nil) {
			t.Fatalf("%q: strict decoder ok=%v, encoding/base64 err=%v", s, ok, err)
		}
		if ok && !bytes.Equal(got, want) {
			t.Fatalf("%q: decoded %x, encoding/base64 %x", s, got, want)
		}
		if ok && base64.RawURLEncoding.EncodeToString(got) != s {
			t.Fatalf("%q: accepted a non-canonical encoding", s)
		}
	})
}
