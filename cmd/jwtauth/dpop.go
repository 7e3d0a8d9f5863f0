package main

import (
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/jwtauth-go/jwtauth"
)

func cmdDPoP() *command {
	return &command{
		name:     "dpop",
		synopsis: "-key FILE [-kid KID] (-url URL [-method GET] [-token TOKEN|-] [-nonce N] | -thumbprint)",
		summary:  "print a DPoP proof (RFC 9449) for one request",
		about: `Prints a DPoP proof for one request, signed with the client's private key from FILE (as
'jwtauth sign' reads it): send it as the DPoP header, with the token as "Authorization: DPoP TOKEN".
The proof's htu is -url without query and fragment; with -token it carries ath, the token's hash.
A proof is good once and for a few minutes: make one per request. -thumbprint prints the key's
RFC 7638 thumbprint instead: the cnf.jkt of tokens bound to it ('jwtauth sign -dpop-jkt').`,
		example: `jwtauth keygen > client.json
TOKEN=$(jwtauth sign -key key.json -iss https://login.example.com -aud orders-api -sub user-1 \
  -dpop-jkt "$(jwtauth dpop -key client.json -thumbprint)")
curl -H "Authorization: DPoP $TOKEN" \
  -H "DPoP: $(jwtauth dpop -key client.json -method GET -url https://api.example.com/orders -token "$TOKEN")" \
  https://api.example.com/orders`,
		run: runDPoP,
	}
}

func runDPoP(e *env, args []string) int {
	c := cmdDPoP()
	fs := newFlags(c)
	keyFile := fs.String("key", "", "the client's private key `FILE`: JWK Set, JWK, PEM, or base64 of those; - for standard input")
	kid := fs.String("kid", "", "key ID `KID` of the key in FILE that signs (default: the first key)")
	method := fs.String("method", "GET", "HTTP `METHOD` of the request (htm), case-sensitive")
	target := fs.String("url", "", "the request's absolute `URL` (htu), as the server is called")
	token := fs.String("token", "", "the access `TOKEN` sent with the proof, for ath; - reads it from standard input")
	nonce := fs.String("nonce", "", "the server's `NONCE`, from its DPoP-Nonce header")
	thumb := fs.Bool("thumbprint", false, "print the key's RFC 7638 thumbprint (cnf.jkt) instead of a proof")
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return e.usageError(c, fs, "unexpected argument %q", positional[0])
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case *keyFile == "":
		return e.usageError(c, fs, "-key is required")
	case *thumb:
		for _, name := range []string{"url", "method", "token", "nonce"} {
			if set[name] {
				return e.usageError(c, fs, "-thumbprint prints only the key's thumbprint; drop -%s", name)
			}
		}
	case *target == "":
		return e.usageError(c, fs, "-url is required (or -thumbprint)")
	case *keyFile == "-" && *token == "-":
		return e.usageError(c, fs, "-key - and -token - both read standard input; put one in a file")
	}
	if !*thumb {
		if !isMethod(*method) {
			return e.usageError(c, fs, "-method %q is not an HTTP method in upper case (GET, POST, ...); htm is compared case-sensitively", *method)
		}
		u, err := url.Parse(*target)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return e.usageError(c, fs, "-url %q is not an absolute http(s) URL such as https://api.example.com/orders", *target)
		}
	}

	keys, err := e.loadSigningKeys(*keyFile)
	if err != nil {
		return e.fail(c, err)
	}
	key := keys[0]
	if *kid != "" {
		if !hasKID(keys, *kid) {
			return e.usageError(c, fs, "-kid %q is not in %s; its kids are %s", *kid, *keyFile, kidList(keys))
		}
		for _, k := range keys {
			if k.KeyID() == *kid {
				key = k
				break
			}
		}
	}
	prover, err := jwtauth.NewDPoPProver(key, e.now)
	if err != nil {
		return e.fail(c, err)
	}
	if *thumb {
		fmt.Fprintln(e.stdout, prover.Thumbprint())
		return exitOK
	}
	access := *token
	if access != "" {
		if access, err = e.readToken([]string{access}); err != nil { // "-" reads standard input
			return e.usageError(c, fs, "-token: %v", err)
		}
		if len(access) > 5 && strings.EqualFold(access[:5], "DPoP ") { // pasted with its scheme
			access = strings.TrimSpace(access[5:])
		}
	}
	proof, err := prover.Proof(*method, *target, access, *nonce)
	if err != nil {
		return e.fail(c, err)
	}
	fmt.Fprintln(e.stdout, proof)
	return exitOK
}

// isMethod reports whether m is an RFC 9110 method token in upper case, as every registered method is.
func isMethod(m string) bool {
	if m == "" || len(m) > 32 {
		return false
	}
	for _, r := range m {
		if (r < 'A' || r > 'Z') && r != '-' && r != '_' {
			return false
		}
	}
	return true
}
