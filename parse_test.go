package jwtauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

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

// The decoder works eight characters at a time: every length and every position of a bad character must
// give what encoding/base64's strict decoder gives.
func TestDecodeSegment_AgreesWithEncodingBase64AtEveryLengthAndPosition(t *testing.T) {
	for n := 0; n <= 40; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(i*37 + n)
		}
		seg := base64.RawURLEncoding.EncodeToString(data)
		got, ok := decodeSegment(nil, seg)
		require.True(t, ok, seg)
		assert.Equal(t, data, got, seg)
		for i := range seg {
			for _, c := range []byte{'=', '+', '/', '.', ' ', 0, 0x80, 0xff} {
				bad := seg[:i] + string(c) + seg[i+1:]
				_, ok := decodeSegment(nil, bad)
				assert.False(t, ok, "%q", bad)
			}
		}
	}
}

// The reader skips eight bytes at a time through a string: a quote, a backslash or a control character must
// be found at every position, next to any other byte.
func TestJSONReader_FindsEveryStringDelimiterAtEveryPosition(t *testing.T) {
	for i := 0; i < 24; i++ {
		for c := 0; c < 256; c++ {
			s := []byte(strings.Repeat("a", 24))
			s[i] = byte(c)
			r := jsonReader{b: append(append([]byte{'"'}, s...), '"')}
			got, ok := r.stringBytes()
			switch {
			case c == '"':
				require.True(t, ok)
				assert.Equal(t, string(s[:i]), string(got), "string ends at the first quote")
			case c == '\\':
				assert.False(t, ok, "a backslash before an 'a' is a bad escape") // \a is not an escape
			case c < 0x20:
				assert.False(t, ok, "control character %#x at %d", c, i)
			default:
				require.True(t, ok, "byte %#x at %d", c, i)
				assert.Equal(t, string(s), string(got))
			}
		}
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

func TestParsePayload_NumericDates(t *testing.T) {
	for lit, want := range map[string]float64{
		"1800000000": 1800000000, "1800000000.25": 1800000000.25, "18e8": 1800000000, "1.8E9": 1800000000, "0": 0,
		"253402300799": 253402300799, "999999999999999e-5": 9999999999.99999, "1 ": 1,
	} {
		var p payload
		require.NoError(t, parsePayload([]byte(`{"exp":`+lit+`}`), &p), lit)
		assert.Equal(t, want, p.exp, lit)
	}
	for _, lit := range []string{"253402300800", "1000000000000000", "-1", "01", "1.", "1e", "1x", `"1"`, "1e999", "+1"} {
		assert.Error(t, parsePayload([]byte(`{"exp":`+lit+`}`), &payload{}), lit)
	}
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
		`{"sub":"a","Sub":"b"}`, `{"sub":"a","ſub":"b"}`, `{"a":{"k":1,"\u212a":2}}`, `{"ß":1,"ss":2}`, `{"SUB":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p payload
		err := parsePayload(data, &p)
		// Duplicates are exactly the names bytes.EqualFold (encoding/json's matching) finds equal, at any depth.
		if utf8.Valid(data) && json.Valid(data) {
			dup := foldDuplicateReference(data)
			if dup && err == nil {
				t.Fatalf("accepted names equal under case folding: %q", data)
			}
			if !dup && err != nil && strings.Contains(err.Error(), "duplicate member name") {
				t.Fatalf("refused as duplicate, but encoding/json sees no two names alike: %q: %v", data, err)
			}
		}
		if err != nil {
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
		// What Claims.Decode reads into a struct (names matched ignoring case) is what the exact reader read.
		var viaStruct struct {
			Iss json.RawMessage `json:"iss"`
			Sub json.RawMessage `json:"sub"`
			Exp json.RawMessage `json:"exp"`
			Aud json.RawMessage `json:"aud"`
		}
		if json.Unmarshal(data, &viaStruct) != nil {
			t.Fatalf("encoding/json cannot decode accepted %q into a struct", data)
		}
		for name, got := range map[string]json.RawMessage{"iss": viaStruct.Iss, "sub": viaStruct.Sub, "exp": viaStruct.Exp, "aud": viaStruct.Aud} {
			want, _ := exactMember(data, name)
			if !bytes.Equal(got, want) {
				t.Fatalf("%s: a struct decode reads %s, the exact name %s, in %q", name, got, want, data)
			}
		}
	})
}

// foldDuplicateReference walks data with encoding/json's tokenizer and reports whether any object has two
// member names that bytes.EqualFold finds equal: an independent statement of the rule the strict reader applies.
func foldDuplicateReference(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	type frame struct {
		object bool
		names  []string
		key    bool // the next token in this object is a member name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if name, ok := tok.(string); ok {
				for _, n := range top.names {
					if bytes.EqualFold([]byte(n), []byte(name)) {
						return true
					}
				}
				top.names = append(top.names, name)
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true // a value ended: a name comes next
		}
	}
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

// A5: encoding/json reads member names ignoring case (bytes.EqualFold, with Unicode simple folding), so two
// names equal under that folding are one member to Claims.Decode and two to an exact reader.
func TestJSONReader_RefusesNamesEqualUnderCaseFolding(t *testing.T) {
	var many strings.Builder
	many.WriteString(`{`)
	for i := 0; i < 40; i++ {
		many.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":1,`)
	}
	many.WriteString(`"\u212aAA":2}`) // Kelvin sign: the same name as "kaa" under folding, found through the map

	refused := map[string]string{
		"ASCII case":               `{"sub":"alice","Sub":"admin"}`,
		"long s (U+017F)":          `{"sub":"alice","ſub":"admin"}`,
		"Kelvin sign (U+212A)":     `{"x":1,"k":1,"K":2}`,
		"escaped":                  `{"email":"a","\u0045MAIL":"b"}`,
		"nested object":            `{"org":{"role":"user","ROLE":"admin"}}`,
		"object in an array":       `{"a":[1,{"s":1,"ſ":2}]}`,
		"past the small set":       many.String(),
		"registered claim variant": `{"SUB":"admin"}`,
		"registered via long s":    `{"ſcope":"admin"}`,
	}
	for name, js := range refused {
		assert.Error(t, parsePayload([]byte(js), &payload{}), name)
	}
	assert.ErrorContains(t, parsePayload([]byte(`{"sub":"alice","Sub":"admin"}`), &payload{}), "duplicate member name")
	assert.Error(t, parseHeader([]byte(`{"alg":"ES256","kid":"a","KID":"b"}`), &header{}))
	assert.Error(t, parseHeader([]byte(`{"alg":"ES256","\u212aid":"b"}`), &header{}), "a case variant of kid alone")

	accepted := map[string]string{
		"distinct names":          `{"sub":"a","subject":"b","sub_id":"c"}`,
		"ß is not ss":             `{"ß":1,"ss":2}`,
		"dotless i is not i":      `{"ıss_x":1,"iss_x":2}`,
		"same name, other depths": `{"role":"a","org":{"role":"b","Role2":{"role":"c"}}}`,
	}
	for name, js := range accepted {
		assert.NoError(t, parsePayload([]byte(js), &payload{}), name)
	}
}

// TestFoldName_AgreesWithBytesEqualFold pins the folding to the one encoding/json documents: two names fold
// equal exactly when bytes.EqualFold says so.
func TestFoldName_AgreesWithBytesEqualFold(t *testing.T) {
	names := []string{"s", "S", "ſ", "k", "K", "K", "ß", "ss", "ẞ", "Σ", "σ", "ς", "ı", "i", "I", "İ", "µ", "μ", "Μ", "Å", "å", "Å", "abc", "ABC", "aBc"}
	for _, a := range names {
		for _, b := range names {
			want := bytes.EqualFold([]byte(a), []byte(b))
			got := string(appendFoldedName(nil, []byte(a))) == string(appendFoldedName(nil, []byte(b)))
			assert.Equal(t, want, got, "%q %q", a, b)
			if want {
				assert.Equal(t, foldKey([]byte(a)), foldKey([]byte(b)), "%q %q", a, b)
			}
		}
	}
}
