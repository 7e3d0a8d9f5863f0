package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jwtauth-go/jwtauth"
)

func cmdKeygen() *command {
	return &command{
		name:     "keygen",
		synopsis: "[-alg ES256|RS256|...] [-kid KID] [-base64]",
		summary:  "print a new private signing key as a JWK Set",
		about: `Prints a new private signing key as a JWK Set {"keys":[{..., "d", "kid", "alg", "use":"sig"}]}.
The kid is the RFC 7638 thumbprint of the public key unless -kid is given. Keep the output
secret: publish the output of 'jwtauth pub' instead. -base64 prints the set base64-encoded on
one line, the form the login server reads from ES256_KEY.`,
		example: `jwtauth keygen > key.json
jwtauth keygen -alg RS256 -kid 2026-01 > rsa-key.json
export ES256_KEY="$(jwtauth keygen -base64)"`,
		run: runKeygen,
	}
}

func runKeygen(e *env, args []string) int {
	c := cmdKeygen()
	fs := newFlags(c)
	alg := fs.String("alg", "ES256", "signing algorithm `ALG`: ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 or EdDSA")
	kid := fs.String("kid", "", "key ID `KID` to write into the key and into the tokens it signs (default: the RFC 7638 thumbprint)")
	b64 := fs.Bool("base64", false, "print the key set standard-base64 encoded on one line (for ES256_KEY)")
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return e.usageError(c, fs, "unexpected argument %q", positional[0])
	}
	key, err := jwtauth.GenerateSigningKey(*alg)
	if err != nil { // an algorithm it does not support: the only way it fails
		return e.usageError(c, fs, "-alg: %s", strings.TrimPrefix(trimPrefix(err.Error()), "GenerateSigningKey: "))
	}
	if *kid != "" {
		if key, err = withKeyID(key, *kid); err != nil {
			return e.usageError(c, fs, "-kid: %s", trimPrefix(err.Error()))
		}
	}
	set, err := jwtauth.PrivateJWKS(key)
	if err != nil {
		return e.fail(c, err)
	}
	var out []byte
	if *b64 {
		out = []byte(base64.StdEncoding.EncodeToString(set) + "\n")
	} else if out, err = indentJSON(set); err != nil {
		return e.fail(c, err)
	}
	if _, err := e.stdout.Write(out); err != nil {
		return e.fail(c, err)
	}
	fmt.Fprintf(e.stderr, "jwtauth keygen: this is a PRIVATE key (kid %q, %s): keep it secret; share 'jwtauth pub -key FILE' instead\n",
		key.KeyID(), key.Algorithm())
	return exitOK
}

// withKeyID returns key under another kid. The library can neither rename a SigningKey nor hand out its private
// part, so the key makes a round trip through its own private JWK format, which ParseSigningKeys reads back
// with the kid checks NewSigningKey applies.
func withKeyID(key *jwtauth.SigningKey, kid string) (*jwtauth.SigningKey, error) {
	set, err := jwtauth.PrivateJWKS(key)
	if err != nil {
		return nil, err
	}
	defer clear(set)
	var parsed struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(set, &parsed); err != nil || len(parsed.Keys) != 1 {
		return nil, errors.New("cannot rewrite the generated key set")
	}
	if parsed.Keys[0]["kid"], err = json.Marshal(kid); err != nil {
		return nil, err
	}
	renamed, err := json.Marshal(parsed)
	if err != nil {
		return nil, err
	}
	defer clear(renamed)
	keys, err := jwtauth.ParseSigningKeys(renamed)
	if err != nil {
		return nil, err
	}
	return keys[0], nil
}

// isAlgorithm reports whether name is one of the asymmetric JWS algorithms jwtauth signs and verifies with.
func isAlgorithm(name string) bool {
	switch name {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA":
		return true
	}
	return false
}
