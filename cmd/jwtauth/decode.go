package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

func cmdDecode() *command {
	return &command{
		name:     "decode",
		synopsis: "[TOKEN | -]",
		summary:  "print a token's header and claims, WITHOUT verifying it",
		about: `Prints {"header": {...}, "claims": {...}} of TOKEN (or of the token on standard input, when
TOKEN is - or absent), each exactly as in the token: member order and numbers are kept.
Standard error gets exp, iat and nbf as dates relative to now. Nothing is verified: anyone
can write any claims into a token. Use 'jwtauth verify' to check one.
Surrounding whitespace and a "Bearer " prefix are ignored.`,
		example: `jwtauth decode eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln
pbpaste | jwtauth decode
jwtauth decode < token.txt | jq -r .claims.sub`,
		run: runDecode,
	}
}

func runDecode(e *env, args []string) int {
	c := cmdDecode()
	fs := newFlags(c)
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 1 {
		return e.usageError(c, fs, "one token at a time: got %d arguments", len(positional))
	}
	token, err := e.readToken(positional)
	if err != nil {
		return e.fail(c, err)
	}
	header, claims, err := splitJWT(token)
	if err != nil {
		return e.fail(c, err)
	}
	var out bytes.Buffer
	out.WriteString("{\n  \"header\": ")
	if err := json.Indent(&out, header, "  ", "  "); err != nil {
		return e.fail(c, err)
	}
	out.WriteString(",\n  \"claims\": ")
	if err := json.Indent(&out, claims, "  ", "  "); err != nil {
		return e.fail(c, err)
	}
	out.WriteString("\n}\n")
	if _, err := e.stdout.Write(out.Bytes()); err != nil {
		return e.fail(c, err)
	}
	_, _ = io.WriteString(e.stderr, timeNotes(claims, e.now()))
	return exitOK
}

// splitJWT returns the header and claims JSON of a compact JWS, each checked to be one JSON object, or says
// what is wrong with the token.
func splitJWT(token string) (header, claims []byte, err error) {
	parts := strings.Split(token, ".")
	switch n := len(parts); {
	case n == 5:
		return nil, nil, errors.New("the token has 5 segments: it is encrypted (JWE), so only its key holder can read it")
	case n != 3:
		return nil, nil, fmt.Errorf("not a JWT: expected 3 segments separated by dots (header.claims.signature), found %d", n)
	}
	names := [3]string{"header", "claims", "signature"}
	var decoded [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p, "="))
		if err != nil {
			return nil, nil, fmt.Errorf("not a JWT: the %s segment is not base64url", names[i])
		}
		decoded[i] = b
	}
	for i := range 2 {
		b := bytes.TrimSpace(decoded[i])
		if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
			return nil, nil, fmt.Errorf("not a JWT: the %s segment is not a JSON object", names[i])
		}
		if !utf8.Valid(b) {
			return nil, nil, fmt.Errorf("not a JWT: the %s segment is not UTF-8", names[i])
		}
		decoded[i] = b
	}
	return decoded[0], decoded[1], nil
}

// timeNotes describes exp, iat and nbf relative to now, then warns that nothing was verified.
func timeNotes(claims []byte, now time.Time) string {
	var m map[string]json.RawMessage
	_ = json.Unmarshal(claims, &m) // splitJWT checked it is an object
	var b strings.Builder
	for _, name := range []string{"exp", "iat", "nbf"} {
		raw, ok := m[name]
		if !ok {
			if name == "exp" {
				b.WriteString("exp: none (jwtauth refuses tokens that never expire)\n")
			}
			continue
		}
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') { // a string, null, an object...
			fmt.Fprintf(&b, "%s: not a number (verifiers refuse this token)\n", name)
			continue
		}
		// Beyond ±100 billion seconds (about year 5000) time arithmetic would overflow.
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.Abs(f) > 1e11 {
			shown := string(raw)
			if len(shown) > 32 {
				shown = shown[:32] + "..."
			}
			fmt.Fprintf(&b, "%s: %s (out of range: verifiers refuse this token)\n", name, shown)
			continue
		}
		sec := int64(math.Floor(f))
		at := time.Unix(sec, 0).UTC()
		diff := sec - now.Unix() // seconds until the time; negative when it is past
		var rel string
		switch name {
		case "exp":
			if diff > 0 {
				rel = "expires in " + ago(diff)
			} else {
				rel = "expired " + ago(-diff) + " ago"
			}
		case "iat":
			if diff > 0 {
				rel = "issued " + ago(diff) + " in the future"
			} else {
				rel = "issued " + ago(-diff) + " ago"
			}
		case "nbf":
			if diff > 0 {
				rel = "not valid yet: becomes valid in " + ago(diff)
			} else {
				rel = "valid since " + ago(-diff) + " ago"
			}
		}
		fmt.Fprintf(&b, "%s: %s (%s)\n", name, at.Format(time.RFC3339), rel)
	}
	b.WriteString("warning: the signature was NOT checked, so none of this is trustworthy; use 'jwtauth verify' to check the token\n")
	return b.String()
}

// ago renders a number of seconds (at least 0) in its largest unit, with the next smaller unit when that is
// hours or more: 45s, 14m, 2h5m, 3d4h, 2y12d.
func ago(s int64) string {
	const (
		minute = 60
		hour   = 60 * minute
		day    = 24 * hour
		year   = 365 * day
	)
	two := func(big int64, bigUnit string, small int64, smallUnit string) string {
		if small == 0 {
			return fmt.Sprintf("%d%s", big, bigUnit)
		}
		return fmt.Sprintf("%d%s%d%s", big, bigUnit, small, smallUnit)
	}
	switch {
	case s < minute:
		return fmt.Sprintf("%ds", s)
	case s < hour:
		return fmt.Sprintf("%dm", s/minute)
	case s < day:
		return two(s/hour, "h", s%hour/minute, "m")
	case s < year:
		return two(s/day, "d", s%day/hour, "h")
	}
	return two(s/year, "y", s%year/day, "d")
}
