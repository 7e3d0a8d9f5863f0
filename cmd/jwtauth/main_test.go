package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixedNow is the clock of most tests: 2026-01-02T03:04:05Z, Unix 1767323045.
var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func clock(t time.Time) func() time.Time { return func() time.Time { return t } }

type result struct {
	code           int
	stdout, stderr string
}

// cli runs one command line in-process with the given clock and standard input.
func cli(t *testing.T, now func() time.Time, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := runWith(now, args, strings.NewReader(stdin), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// ok runs a command line that must succeed and returns its stdout.
func ok(t *testing.T, now func() time.Time, stdin string, args ...string) string {
	t.Helper()
	r := cli(t, now, stdin, args...)
	require.Equal(t, exitOK, r.code, "jwtauth %s\nstderr: %s", strings.Join(args, " "), r.stderr)
	return r.stdout
}

// writeFile writes data to a new file in a test directory and returns its path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// keygen runs jwtauth keygen and stores the key in a file.
func keygen(t *testing.T, args ...string) string {
	t.Helper()
	out := ok(t, time.Now, "", append([]string{"keygen"}, args...)...)
	return writeFile(t, "key.json", []byte(out))
}

// segments decodes the header and payload of a compact token.
func segments(t *testing.T, token string) (header, payload []byte) {
	t.Helper()
	parts := strings.Split(strings.TrimSpace(token), ".")
	require.Len(t, parts, 3)
	header, err := base64.RawURLEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	payload, err = base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	return header, payload
}

// indented is raw JSON as verify prints it.
func indented(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Indent(&b, raw, "", "  "))
	return b.String() + "\n"
}

func TestRun_UsageErrorsExitTwo(t *testing.T) {
	key := keygen(t)
	tests := []struct {
		name      string
		args      []string
		firstLine string
		hint      string // the second and last line
	}{
		{"unknown command", []string{"frobnicate"}, `jwtauth: unknown command "frobnicate"`, "Run 'jwtauth -h' for the list of commands."},
		{"flag before command", []string{"-v"}, "jwtauth: flag -v comes before any command", "Run 'jwtauth -h' for the list of commands."},
		{"help for unknown command", []string{"help", "nope"}, `jwtauth: unknown command "nope"`, "Run 'jwtauth -h' for the list of commands."},
		{"verify with two key sources", []string{"verify", "-key", key, "-jwks", key, "-iss", "https://i", "-aud", "a", "t.t.t"},
			"jwtauth verify: -jwks and -key are key sources: give only one", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify with three key sources", []string{"verify", "-key", key, "-jwks", key, "-discover", "https://i", "-aud", "a", "t.t.t"},
			"jwtauth verify: -jwks and -key and -discover are key sources: give only one", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify without key source", []string{"verify", "-iss", "https://i", "-aud", "a", "t.t.t"},
			"jwtauth verify: no key source: give one of -jwks, -key or -discover", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify without iss and aud", []string{"verify", "-key", key, "t.t.t"},
			"jwtauth verify: -iss and -aud are required", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify with -iss other than -discover", []string{"verify", "-discover", "https://a.example", "-iss", "https://b.example", "-aud", "a"},
			`jwtauth verify: -iss "https://b.example" differs from -discover "https://a.example": with -discover, the issuer is the discovery URL (omit -iss)`, "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify with empty -aud", []string{"verify", "-key", key, "-iss", "https://i", "-aud", "", "t.t.t"},
			"jwtauth verify: -aud is empty", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify with two tokens", []string{"verify", "-key", key, "-iss", "https://i", "-aud", "a", "t.t.t", "u.u.u"},
			"jwtauth verify: one token at a time: got 2 arguments", "Run 'jwtauth verify -h' for its flags and examples."},
		{"verify with bad -alg", []string{"verify", "-key", key, "-iss", "https://i", "-aud", "a", "-alg", "ES256,HS256", "t.t.t"},
			`jwtauth verify: -alg: "HS256" is not supported: use RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 or EdDSA (case-sensitive; none and HMAC are never accepted)`, "Run 'jwtauth verify -h' for its flags and examples."},
		{"sign without -iss", []string{"sign", "-key", key, "-aud", "a", "-sub", "s"},
			"jwtauth sign: -iss is required", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign without anything", []string{"sign"},
			"jwtauth sign: -key, -iss, -aud and -sub are required", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with bad -ttl", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-ttl", "soon"},
			`jwtauth sign: invalid value "soon" for flag -ttl: not a duration (15m, 1h) or whole seconds (900)`, "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with too long -ttl", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-ttl", "25h"},
			`jwtauth sign: invalid value "25h" for flag -ttl: 25h0m0s is out of range: use 1s up to 24h0m0s (bearer tokens cannot be revoked, so keep them short-lived)`, "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with -claim without =", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-claim", "admin"},
			`jwtauth sign: -claim "admin" is not NAME=VALUE`, "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with -claim without name", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-claim", "=1"},
			`jwtauth sign: -claim "=1" has an empty name`, "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with -claim twice", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-claim", "a=1", "-claim", "a=2"},
			"jwtauth sign: -claim a is given twice", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with reserved -claim", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-claim", "exp=1"},
			"jwtauth sign: -claim exp: exp is set from -iss, -sub, -aud, -iat and -ttl (jti is random); remove this -claim", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with scope twice", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "-scope", "a", "-claim", "scope=b"},
			"jwtauth sign: scope is given both by -scope and by -claim; use one", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with unknown flag", []string{"sign", "-key", key, "-issuer", "https://i"},
			"jwtauth sign: flag provided but not defined: -issuer", "Run 'jwtauth sign -h' for its flags and examples."},
		{"sign with argument", []string{"sign", "-key", key, "-iss", "https://i", "-aud", "a", "-sub", "s", "extra"},
			`jwtauth sign: unexpected argument "extra"`, "Run 'jwtauth sign -h' for its flags and examples."},
		{"keygen with HMAC", []string{"keygen", "-alg", "HS256"},
			`jwtauth keygen: -alg: algorithm "HS256" is not supported: HMAC uses a shared secret, which every verifier could use to mint tokens; jwtauth verifies asymmetric signatures only (use RS256 or ES256)`, "Run 'jwtauth keygen -h' for its flags and examples."},
		{"keygen with bad kid", []string{"keygen", "-kid", "a\x01b"},
			`jwtauth keygen: -kid: signing keys: key 0 (kid "a\x01b"): kid "a\x01b" has control characters or is not UTF-8`, "Run 'jwtauth keygen -h' for its flags and examples."},
		{"pub without -key", []string{"pub"}, "jwtauth pub: -key is required", "Run 'jwtauth pub -h' for its flags and examples."},
		{"decode with two tokens", []string{"decode", "a.b.c", "d.e.f"}, "jwtauth decode: one token at a time: got 2 arguments", "Run 'jwtauth decode -h' for its flags and examples."},
		{"decode with a flag", []string{"decode", "-x"}, "jwtauth decode: flag provided but not defined: -x", "Run 'jwtauth decode -h' for its flags and examples."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := cli(t, clock(fixedNow), "", tt.args...)
			assert.Equal(t, exitUsage, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, tt.firstLine+"\n"+tt.hint+"\n", r.stderr, "one line and a hint, not the whole help")
		})
	}
}

func TestRun_NoCommandPrintsTheCommandListAndExitsTwo(t *testing.T) {
	r := cli(t, clock(fixedNow), "")
	assert.Equal(t, exitUsage, r.code)
	assert.True(t, strings.HasPrefix(r.stderr, "jwtauth: no command given\n\nusage: jwtauth <command>"), r.stderr)
	assert.Contains(t, r.stderr, "  version ")
}

func TestRun_HelpPrintsUsageWithExampleAndExitsZero(t *testing.T) {
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"},
		{"keygen", "-h"}, {"pub", "-h"}, {"sign", "-h"}, {"verify", "-h"}, {"decode", "-h"}, {"version", "-h"},
		{"keygen", "--help"}, {"pub", "--help"}, {"sign", "--help"}, {"verify", "--help"}, {"decode", "--help"},
		{"help", "sign"}, {"sign", "-key", "x.json", "-h"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := cli(t, clock(fixedNow), "", args...)
			assert.Equal(t, exitOK, r.code)
			assert.Empty(t, r.stdout, "help goes to stderr, so stdout only ever holds keys, tokens and claims")
			assert.True(t, strings.HasPrefix(r.stderr, "usage: jwtauth "), r.stderr)
			assert.Contains(t, r.stderr, "\nexample:\n  jwtauth ")
		})
	}
}

func TestRun_CommandHelpListsFlags(t *testing.T) {
	tests := map[string][]string{
		"keygen": {"-alg ALG", "-kid KID", "-base64"},
		"pub":    {"-key FILE"},
		"sign":   {"-key FILE", "-kid KID", "-iss ISSUER", "-aud AUDIENCE", "-sub SUBJECT", "-scope SCOPES", "-ttl DURATION", "-claim NAME=VALUE"},
		"verify": {"-jwks URL_OR_FILE", "-key FILE", "-discover ISSUER_URL", "-iss ISSUER", "-aud AUDIENCE", "-alg LIST"},
		"decode": {"usage: jwtauth decode [TOKEN | -]"},
	}
	for cmd, want := range tests {
		r := cli(t, clock(fixedNow), "", cmd, "-h")
		for _, w := range want {
			assert.Contains(t, r.stderr, w, cmd)
		}
	}
}

func TestVersion_PrintsTheBuildInformation(t *testing.T) {
	r := cli(t, clock(fixedNow), "", "version")
	assert.Equal(t, exitOK, r.code)
	assert.Regexp(t, `^jwtauth \S+( [0-9a-f]{1,12}( \(modified\))?)? go\d`, r.stdout)
	assert.Empty(t, r.stderr)

	info := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}}}
	assert.Equal(t, "jwtauth (devel) 0123456789ab (modified) go1.26.0", versionLine(info))
	info.Main.Version, info.Settings = "v1.2.3", nil
	assert.Equal(t, "jwtauth v1.2.3 go1.26.0", versionLine(info))
}

func TestRun_FailuresNameFlagsNotLibraryFields(t *testing.T) {
	key := keygen(t)
	rsa := keygen(t, "-alg", "RS256")
	token := strings.TrimSpace(cli(t, clock(fixedNow), "", "sign", "-key", key, "-iss", testIss, "-aud", testAud, "-sub", "s").stdout)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"issuer with a trailing space", []string{"verify", "-key", key, "-iss", testIss + " ", "-aud", testAud, token},
			"jwtauth verify: -iss has leading or trailing whitespace or a control character"},
		{"no key for -alg", []string{"verify", "-key", rsa, "-iss", testIss, "-aud", testAud, "-alg", "ES256", token},
			"fits none of the -alg list"},
		{"http key set on another host", []string{"verify", "-jwks", "http://keycloak:8080/certs", "-iss", testIss, "-aud", testAud, token},
			"set -insecure-allow-http"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := cli(t, clock(fixedNow), "", tc.args...)
			assert.Equal(t, exitFail, r.code)
			assert.Contains(t, r.stderr, tc.want)
			for _, field := range []string{"Config.", "Issuers[", "IssuerConfig", "TrustedIssuer", "JWKSOptions", "LocalKeysFile", "RemoteJWKS"} {
				assert.NotContains(t, r.stderr, field)
			}
		})
	}
}
