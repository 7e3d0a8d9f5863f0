package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

// Bounds of -ttl: those of jwtauth.IssuerConfig.TTL, checked here so the message names the flag.
const (
	defaultTTL = 15 * time.Minute
	maxTTL     = 24 * time.Hour
)

func cmdSign() *command {
	return &command{
		name:     "sign",
		synopsis: `-key FILE [-kid KID] -iss ISSUER -aud AUDIENCE... -sub SUBJECT [-scope "a b"] [-ttl 15m] [-iat TIME] [-dpop-jkt JKT] [-claim NAME=VALUE]...`,
		summary:  "print a signed token",
		about: `Prints a token signed with a private key from FILE (a JWK Set, a JWK, PEM, or base64 of those;
- reads standard input), as jwtauth.Issuer mints them: header {"alg","kid","typ":"JWT"},
claims iss, sub, aud, iat, nbf, exp, a random jti, then scope and the -claim values.
-claim VALUE is JSON when it parses as JSON (42, true, ["a","b"], {"k":1}, "quoted"), else a
string. iss, sub, aud, exp, nbf, iat and jti come from the other flags and cannot be -claim'ed.
For tests, -iat moves the issue time (exp is -iat plus -ttl): -iat -2h -ttl 1h mints a token
that expired an hour ago, -iat +10m one issued in the future. -dpop-jkt binds the token to a
client's DPoP key (cnf.jkt, RFC 9449 §6): 'jwtauth dpop -thumbprint' prints JKT.`,
		example: `jwtauth sign -key key.json -iss https://login.example.com -aud orders-api -sub user-1 \
  -scope "read:orders write:orders" -ttl 1h -claim email=ann@example.com -claim admin=true
jwtauth sign -key key.json -iss https://login.example.com -aud orders-api -sub user-1 -iat -2h -ttl 1h  # expired, for tests`,
		run: runSign,
	}
}

func runSign(e *env, args []string) int {
	c := cmdSign()
	fs := newFlags(c)
	keyFile := fs.String("key", "", "private key `FILE`: JWK Set, JWK, PEM, or base64 of those; - for standard input")
	kid := fs.String("kid", "", "key ID `KID` of the key in FILE that signs (default: the first key)")
	iss := fs.String("iss", "", "`ISSUER` (iss claim), e.g. https://login.example.com")
	var auds stringList
	fs.Var(&auds, "aud", "`AUDIENCE` (aud claim); repeat for several")
	sub := fs.String("sub", "", "`SUBJECT` (sub claim), e.g. a user ID")
	scope := fs.String("scope", "", "space-separated `SCOPES` (scope claim)")
	ttl := ttlFlag(defaultTTL)
	fs.Var(&ttl, "ttl", "token lifetime `DURATION`: a Go duration (90s, 15m, 1h) or whole seconds, at most 24h")
	var iat iatFlag
	fs.Var(&iat, "iat", "for tests: issue `TIME`, RFC 3339 or relative to now (-2h, +10m); exp is TIME plus -ttl (default: now)")
	jkt := fs.String("dpop-jkt", "", "bind the token to a DPoP key: its RFC 7638 thumbprint `JKT` (from 'jwtauth dpop -key FILE -thumbprint')")
	var claimArgs stringList
	fs.Var(&claimArgs, "claim", "extra claim `NAME=VALUE`, VALUE as JSON if it parses, else a string; repeatable")
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return e.usageError(c, fs, "unexpected argument %q", positional[0])
	}
	var missing []string
	for _, f := range []struct {
		name string
		set  bool
	}{{"-key", *keyFile != ""}, {"-iss", *iss != ""}, {"-aud", len(auds) > 0}, {"-sub", *sub != ""}} {
		if !f.set {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return e.usageError(c, fs, "%s required", plural(missing, "is", "are"))
	}
	for _, a := range auds {
		if a == "" {
			return e.usageError(c, fs, "-aud is empty")
		}
	}
	claims, err := parseClaims(claimArgs)
	if err != nil {
		return e.usageError(c, fs, "%v", err)
	}
	for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti"} {
		if _, ok := claims[name]; ok {
			return e.usageError(c, fs, "-claim %s: %s is set from -iss, -sub, -aud, -iat and -ttl (jti is random); remove this -claim", name, name)
		}
	}
	if _, ok := claims["cnf"]; ok {
		return e.usageError(c, fs, "-claim cnf: the confirmation claim is set by -dpop-jkt; remove this -claim")
	}
	if b, err := base64.RawURLEncoding.DecodeString(*jkt); *jkt != "" && (err != nil || len(b) != sha256.Size) {
		return e.usageError(c, fs, "-dpop-jkt %q is not a base64url SHA-256 thumbprint (43 characters); 'jwtauth dpop -key FILE -thumbprint' prints one", *jkt)
	}
	if *scope != "" {
		if _, ok := claims["scope"]; ok {
			return e.usageError(c, fs, "scope is given both by -scope and by -claim; use one")
		}
		claims["scope"] = *scope
	}

	keys, err := e.loadSigningKeys(*keyFile)
	if err != nil {
		return e.fail(c, err)
	}
	if *kid != "" && !hasKID(keys, *kid) {
		return e.usageError(c, fs, "-kid %q is not in %s; its kids are %s", *kid, *keyFile, kidList(keys))
	}
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer:      *iss,
		Audience:    auds,
		TTL:         time.Duration(ttl),
		Keys:        keys,
		ActiveKeyID: *kid,
		Clock:       iat.clock(e.now),
	})
	if err != nil { // the flags were checked above, so the problem is in FILE (two keys with one kid)
		return e.fail(c, err)
	}
	var token string
	if *jkt != "" {
		token, err = issuer.IssueDPoP(*sub, *jkt, claims)
	} else {
		token, err = issuer.Issue(*sub, claims)
	}
	if err != nil {
		return e.fail(c, err)
	}
	fmt.Fprintln(e.stdout, token)
	if iat.set {
		issued := iat.at(e.now())
		exp := issued.Add(time.Duration(ttl))
		state := "valid now"
		switch now := e.now(); {
		case !now.Before(exp):
			state = "already expired"
		case issued.After(now):
			state = "issued in the future"
		}
		fmt.Fprintf(e.stderr, "jwtauth sign: test token (-iat): issued %s, expires %s: %s\n",
			issued.UTC().Format(time.RFC3339), exp.UTC().Format(time.RFC3339), state)
	}
	return exitOK
}

// iatFlag is -iat: an RFC 3339 time, or a duration relative to now.
type iatFlag struct {
	set      bool
	abs      time.Time
	relative time.Duration
	isRel    bool
}

func (f *iatFlag) String() string {
	switch {
	case !f.set:
		return ""
	case f.isRel:
		return f.relative.String()
	}
	return f.abs.Format(time.RFC3339)
}

func (f *iatFlag) Set(v string) error {
	if d, err := time.ParseDuration(v); err == nil {
		*f = iatFlag{set: true, relative: d, isRel: true}
		return nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return errors.New("not an RFC 3339 time (2026-01-02T15:04:05Z) or a duration relative to now (-2h, +10m)")
	}
	*f = iatFlag{set: true, abs: t}
	return nil
}

// at is the issue time for the clock reading now.
func (f *iatFlag) at(now time.Time) time.Time {
	if f.isRel {
		return now.Add(f.relative)
	}
	return f.abs
}

// clock is the Issuer's clock: now, or the -iat time fixed at the moment of signing.
func (f *iatFlag) clock(now func() time.Time) func() time.Time {
	if !f.set {
		return now
	}
	t := f.at(now())
	return func() time.Time { return t }
}

// parseClaims turns NAME=VALUE arguments into claims: VALUE is JSON when it is valid JSON, else a string.
func parseClaims(args []string) (map[string]any, error) {
	claims := make(map[string]any, len(args)+1)
	for _, arg := range args {
		name, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("-claim %q is not NAME=VALUE", arg)
		}
		if name == "" {
			return nil, fmt.Errorf("-claim %q has an empty name", arg)
		}
		if _, dup := claims[name]; dup {
			return nil, fmt.Errorf("-claim %s is given twice", name)
		}
		if json.Valid([]byte(value)) {
			claims[name] = json.RawMessage(value)
		} else {
			claims[name] = value
		}
	}
	return claims, nil
}

func hasKID(keys []*jwtauth.SigningKey, kid string) bool {
	for _, k := range keys {
		if k.KeyID() == kid {
			return true
		}
	}
	return false
}

func kidList(keys []*jwtauth.SigningKey) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k.KeyID())
	}
	return strings.Join(q, ", ")
}

func plural(names []string, one, many string) string {
	if len(names) == 1 {
		return names[0] + " " + one
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " " + many
}

// ttlFlag is a token lifetime: a Go duration or whole seconds, as the login server's TOKEN_TTL.
type ttlFlag time.Duration

func (t *ttlFlag) String() string { return time.Duration(*t).String() }

func (t *ttlFlag) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseInt(v, 10, 64)
		if nerr != nil || n > int64(maxTTL/time.Second) {
			return errors.New("not a duration (15m, 1h) or whole seconds (900)")
		}
		d = time.Duration(n) * time.Second
	}
	if d < time.Second || d > maxTTL {
		return fmt.Errorf("%s is out of range: use 1s up to %s (bearer tokens cannot be revoked, so keep them short-lived)", d, maxTTL)
	}
	*t = ttlFlag(d)
	return nil
}
