// Command jwtauth creates signing keys, signs, verifies and decodes JSON Web Tokens, offline: the jwt.io and
// mkjwk.org of a jwtauth workflow, verifying exactly as the jwtauth middleware does.
//
//	jwtauth keygen > key.json
//	jwtauth sign -key key.json -iss https://login.example.com -aud orders-api -sub user-1 > token
//	jwtauth verify -key key.json -iss https://login.example.com -aud orders-api < token
//	jwtauth decode < token
//
// Exit status: 0 success, 1 invalid token or failed operation, 2 usage error. Tokens, keys and claims go to
// standard output; help, notes and errors to standard error.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Exit codes, as the CLI contract fixes them.
const (
	exitOK    = 0
	exitFail  = 1 // token invalid or operation failed
	exitUsage = 2
)

// maxInput bounds what is read from standard input or a file argument: tokens and keys are a few KiB.
const maxInput = 1 << 20

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runWith(time.Now, args, stdin, stdout, stderr)
}

// runWith is run with the clock injected, for tests.
func runWith(now func() time.Time, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{now: now, stdin: stdin, stdout: stdout, stderr: &lockedWriter{w: stderr}}
	if len(args) == 0 {
		e.topUsage("no command given")
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(rest) > 0 {
			if c := findCommand(rest[0]); c != nil {
				return c.run(e, []string{"-h"})
			}
			return e.topUsageError(fmt.Sprintf("unknown command %q", rest[0]))
		}
		e.topUsage("")
		return exitOK
	}
	c := findCommand(name)
	if c == nil {
		if strings.HasPrefix(name, "-") {
			return e.topUsageError(fmt.Sprintf("flag %s comes before any command", name))
		}
		return e.topUsageError(fmt.Sprintf("unknown command %q", name))
	}
	return c.run(e, rest)
}

// env is what a command may touch: the clock and the three standard streams.
type env struct {
	now    func() time.Time
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer // safe for concurrent use: the verifier's background fetches log to it
}

// command describes one subcommand for dispatch and help.
type command struct {
	name     string
	synopsis string // after "jwtauth NAME"
	summary  string // one line, for the command list
	about    string // a paragraph, for the command's help
	example  string // shell lines, for the command's help
	run      func(e *env, args []string) int
}

// commands returns the subcommands in the order of the help text.
func commands() []*command {
	return []*command{cmdKeygen(), cmdPub(), cmdSign(), cmdVerify(), cmdDecode(), cmdDPoP(), cmdVersion()}
}

func findCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

// topUsage prints the program's help to stderr, after problem when there is one.
func (e *env) topUsage(problem string) {
	var b strings.Builder
	if problem != "" {
		fmt.Fprintf(&b, "jwtauth: %s\n\n", problem)
	}
	b.WriteString("usage: jwtauth <command> [flags] [arguments]\n\n")
	b.WriteString("Creates signing keys, signs, verifies and decodes JSON Web Tokens, offline.\n\ncommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-7s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run 'jwtauth <command> -h' for a command's flags and examples.
Exit status: 0 success, 1 invalid token or failed operation, 2 usage error.

example:
  jwtauth keygen > key.json
  jwtauth sign -key key.json -iss https://login.example.com -aud orders-api -sub user-1 |
    jwtauth verify -key key.json -iss https://login.example.com -aud orders-api
`)
	_, _ = io.WriteString(e.stderr, b.String())
}

// newFlags returns the FlagSet of command c. It prints nothing itself: parse reports errors and help.
func newFlags(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("jwtauth "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// usage prints the help of command c to stderr.
func (e *env) usage(c *command, fs *flag.FlagSet) {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: %s\n\n%s\n", strings.TrimSpace("jwtauth "+c.name+" "+c.synopsis), c.about)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	if flags.Len() > 0 {
		b.WriteString("\nflags:\n")
		b.WriteString(flags.String())
	}
	b.WriteString("\nexample:\n")
	for _, line := range strings.Split(strings.TrimSpace(c.example), "\n") {
		b.WriteString("  " + line + "\n")
	}
	_, _ = io.WriteString(e.stderr, b.String())
}

// usageError reports a usage problem in one line with a hint to the command's help, and returns exitUsage.
// The whole help would bury the problem.
func (e *env) usageError(c *command, _ *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(e.stderr, "jwtauth %s: %s\nRun 'jwtauth %s -h' for its flags and examples.\n", c.name, fmt.Sprintf(format, args...), c.name)
	return exitUsage
}

// topUsageError is usageError before any command was found.
func (e *env) topUsageError(problem string) int {
	fmt.Fprintf(e.stderr, "jwtauth: %s\nRun 'jwtauth -h' for the list of commands.\n", problem)
	return exitUsage
}

// fail reports a failed operation and returns exitFail. The library's "jwtauth: " prefix is dropped, since
// every line already starts with the command, and library field names become the flags that set them.
func (e *env) fail(c *command, err error) int {
	fmt.Fprintf(e.stderr, "jwtauth %s: %s\n", c.name, flagTerms(trimPrefix(err.Error())))
	return exitFail
}

// libraryTerms maps the library's configuration names, as its errors spell them, to the CLI's flags. The CLI
// builds one TrustedIssuer or IssuerConfig from its flags, so "Config.Issuers[0]" says nothing to its user.
var libraryTerms = strings.NewReplacer(
	"JWKSOptions.InsecureAllowHTTP", "-insecure-allow-http",
	"TrustedIssuer.Algorithms", "-alg",
	"configured Algorithms", "-alg list",
	"to Algorithms", "to -alg",
	"Issuer has leading", "-iss has leading",
	"IssuerConfig.Issuer", "-iss",
	"IssuerConfig.Audience", "-aud",
	"IssuerConfig.TTL", "-ttl",
	"IssuerConfig.Keys is", "-key has no keys:",
	"IssuerConfig.ActiveKeyID", "-kid",
	"LocalKeysFile: ", "key file: ",
	"RemoteJWKS: ", "-jwks: ",
	"Discover: ", "-discover: ",
)

// issuerEntry matches the prefix New gives to each problem of a trusted issuer; signingKey names a key of
// IssuerConfig.Keys, which the CLI read from -key.
var (
	issuerEntry = regexp.MustCompile(`Config\.Issuers\[0\](?: \("(?:[^"\\]|\\.)*"\))?: `)
	signingKey  = regexp.MustCompile(`IssuerConfig\.Keys\[(\d+)\]`)
)

func flagTerms(msg string) string {
	msg = signingKey.ReplaceAllString(issuerEntry.ReplaceAllString(msg, ""), "key $1 of -key")
	return libraryTerms.Replace(msg)
}

func trimPrefix(msg string) string {
	return strings.ReplaceAll(strings.TrimPrefix(msg, "jwtauth: "), "\njwtauth: ", "\n")
}

// parse parses args with fs, letting flags and positional arguments mix (`verify TOKEN -iss I` works: tokens
// never start with '-'). ok is false when the command must stop, with code as its exit code: 0 after an
// explicit -h, 2 after a bad flag.
func (e *env) parse(c *command, fs *flag.FlagSet, args []string) (positional []string, code int, ok bool) {
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			e.usage(c, fs)
			return nil, exitOK, false
		}
		if err != nil {
			return nil, e.usageError(c, fs, "%v", err), false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, exitOK, true
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), exitOK, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// stringList is a flag that may be repeated: -aud a -aud b.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ", ") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// readInput reads standard input up to maxInput bytes.
func (e *env) readInput(what string) ([]byte, error) {
	if f, ok := e.stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			// Without this, a forgotten argument looks like a hang.
			fmt.Fprintf(e.stderr, "jwtauth: reading the %s from the terminal; paste it, then press Ctrl-D\n", what)
		}
	}
	data, err := io.ReadAll(io.LimitReader(e.stdin, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s from standard input: %w", what, err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("standard input is larger than %d bytes; is it really a %s?", maxInput, what)
	}
	return data, nil
}

// readToken returns the token from the single positional argument, or from standard input when it is "-" or
// absent, cleaned up the way a human pastes it: surrounding whitespace and a "Bearer " prefix are dropped.
func (e *env) readToken(positional []string) (string, error) {
	var tok string
	if len(positional) == 0 || positional[0] == "-" {
		data, err := e.readInput("token")
		if err != nil {
			return "", err
		}
		tok = string(data)
	} else {
		tok = positional[0]
	}
	tok = strings.TrimSpace(tok)
	if len(tok) > len("Bearer ") && strings.EqualFold(tok[:len("Bearer ")], "Bearer ") {
		tok = strings.TrimSpace(tok[len("Bearer "):])
	}
	if tok == "" {
		if len(positional) == 0 || positional[0] == "-" {
			return "", errors.New("no token on standard input: pass it as an argument or pipe it in")
		}
		return "", errors.New("the token argument is empty")
	}
	return tok, nil
}

// indentJSON renders compact JSON the way every command prints it: two-space indent, member order and
// number spelling kept, and a final newline.
func indentJSON(raw []byte) ([]byte, error) {
	var b bytes.Buffer
	if err := json.Indent(&b, bytes.TrimSpace(raw), "", "  "); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}

// lockedWriter serializes writes, so log lines from the verifier's goroutines never interleave with ours.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
