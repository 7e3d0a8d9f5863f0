package main

import (
	"github.com/jwtauth-go/jwtauth"
)

func cmdPub() *command {
	return &command{
		name:     "pub",
		synopsis: "-key FILE",
		summary:  "print the public JWK Set of a private key",
		about: `Prints the public JWK Set of the private keys in FILE (a JWK Set, a JWK, PEM, or base64 of
those; - reads standard input): what verifiers fetch from /.well-known/jwks.json. Each key
keeps its kid and alg and has "use":"sig"; no private member is ever printed.`,
		example: `jwtauth pub -key key.json > jwks.json
jwtauth keygen | tee key.json | jwtauth pub -key -`,
		run: runPub,
	}
}

func runPub(e *env, args []string) int {
	c := cmdPub()
	fs := newFlags(c)
	keyFile := fs.String("key", "", "private key `FILE`: JWK Set, JWK, PEM, or base64 of those; - for standard input")
	positional, code, ok := e.parse(c, fs, args)
	if !ok {
		return code
	}
	if len(positional) > 0 {
		return e.usageError(c, fs, "unexpected argument %q", positional[0])
	}
	if *keyFile == "" {
		return e.usageError(c, fs, "-key is required")
	}
	keys, err := e.loadSigningKeys(*keyFile)
	if err != nil {
		return e.fail(c, err)
	}
	set, err := jwtauth.PublicJWKS(keys...)
	if err != nil {
		return e.fail(c, err)
	}
	out, err := indentJSON(set)
	if err != nil {
		return e.fail(c, err)
	}
	if _, err := e.stdout.Write(out); err != nil {
		return e.fail(c, err)
	}
	return exitOK
}

// loadSigningKeys reads private keys from path, or from standard input when path is "-".
func (e *env) loadSigningKeys(path string) ([]*jwtauth.SigningKey, error) {
	if path != "-" {
		return jwtauth.LoadSigningKeys(path)
	}
	data, err := e.readInput("key")
	if err != nil {
		return nil, err
	}
	defer clear(data)
	return jwtauth.ParseSigningKeys(data)
}
