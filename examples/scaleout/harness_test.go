// Package scaleout tests the login server and auth0-api as operators scale them out: several processes (not
// goroutines) sharing one PostgreSQL database and one Redis. It has only tests and a load benchmark.
package scaleout

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/require"
)

// binDir holds the binaries built for this test run (TestMain); they are built at the first test that needs
// them, so a run whose tests all skip builds nothing.
var binDir string

var build struct {
	once sync.Once
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scaleout-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "scaleout:", err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// binaries builds login-server and auth0-api once per test run and returns their paths.
func binaries(t testing.TB) (loginServer, authAPI string) {
	t.Helper()
	build.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			build.err = fmt.Errorf("no go tool on PATH to build the servers: %w", err)
			return
		}
		// One go build for both: they share most packages. Built without -race: the servers' own suites run
		// under the race detector; here argon2id under -race would be several times slower.
		out, err := exec.Command(goTool, "build", "-o", binDir+string(filepath.Separator), "../login-server", "../auth0-api").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, build.err)
	return filepath.Join(binDir, "login-server"), filepath.Join(binDir, "auth0-api")
}

// proc is one server process.
type proc struct {
	name   string
	URL    string // http://127.0.0.1:PORT
	cmd    *exec.Cmd
	logs   *testsvc.Logs
	exited chan struct{}
}

// startProc runs bin with exactly env (plus ADDR=127.0.0.1:0 unless env sets ADDR) and waits until it is ready
// (see launch and ready).
func startProc(t testing.TB, name, bin string, env ...string) *proc {
	t.Helper()
	p := launch(t, name, bin, env...)
	p.ready(t)
	return p
}

// startReplicas starts n processes of bin with the same env at once, as a deployment rolls out replicas, and
// waits until all are ready. They are named name-0, name-1, ...
func startReplicas(t testing.TB, n int, name, bin string, env ...string) []*proc {
	t.Helper()
	ps := make([]*proc, n)
	for i := range ps {
		ps[i] = launch(t, fmt.Sprintf("%s-%d", name, i), bin, env...)
	}
	for _, p := range ps {
		p.ready(t)
	}
	return ps
}

// launch starts bin and stops it when the test ends: SIGTERM, then SIGKILL after 15 s. Its standard error is
// kept for failure messages (p.Logs) and printed when the test fails.
func launch(t testing.TB, name, bin string, env ...string) *proc {
	t.Helper()
	if !hasVar(env, "ADDR") {
		env = append(env, "ADDR=127.0.0.1:0")
	}
	p := &proc{name: name, cmd: exec.Command(bin), logs: &testsvc.Logs{}, exited: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.logs
	p.cmd.SysProcAttr = testsvc.ChildAttr()
	require.NoError(t, p.cmd.Start(), "starting %s", name)
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("%s stderr (last 8 KiB):\n%s", name, p.tail(8<<10))
		}
	})
	return p
}

// ready waits for the "listening" log line, which names the port, and for GET /healthz to answer 200.
func (p *proc) ready(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for p.URL == "" {
		if addr := testsvc.ListenAddr(p.logs.String()); addr != "" {
			p.URL = "http://" + addr
			break
		}
		p.wait(t, deadline, "to log its address")
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		resp, err := hc.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		p.wait(t, deadline, "for /healthz to answer 200")
	}
}

// wait sleeps a little, failing the test when the process has exited or the deadline has passed.
func (p *proc) wait(t testing.TB, deadline time.Time, what string) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited (%v) while waiting %s; stderr:\n%s", p.name, p.cmd.ProcessState, what, p.tail(8<<10))
	case <-time.After(20 * time.Millisecond):
	}
	if time.Now().After(deadline) {
		t.Fatalf("%s: timed out waiting %s; stderr:\n%s", p.name, what, p.tail(8<<10))
	}
}

func (p *proc) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// Logs returns what the process wrote to standard error so far.
// logged reports whether the process logs substr within a few seconds: its stderr reaches the buffer through
// a pipe and a copying goroutine, so a line written before a response may arrive after the response does.
func (p *proc) logged(substr string) bool {
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logs.String(), substr) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func (p *proc) tail(n int) string {
	s := p.logs.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// cpuTime is the CPU time (user + system) the process has used so far, from /proc (Linux; 0 elsewhere).
func (p *proc) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may hold spaces: utime and stime are the
	// 14th and 15th fields of the line, in clock ticks (USER_HZ, 100 on Linux).
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100)
}

func hasVar(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// The login server as every test configures it. Replicas share the signing key and the issuer, as behind one
// load balancer; JWT_ISSUER is the public name, the processes listen on loopback ports.
const (
	issuer   = "http://login.test"
	audience = "login-server"
	password = "Kingh_a1234!" // meets the classic policy
)

// signingKey returns a fresh ES256_KEY value (base64 of a private JWKS).
func signingKey(t testing.TB) string {
	t.Helper()
	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	jwks, err := jwtauth.PrivateJWKS(key)
	require.NoError(t, err)
	return base64.StdEncoding.EncodeToString(jwks)
}

// loginEnv is the environment of a login-server replica; extra entries are appended.
func loginEnv(key, databaseURL string, extra ...string) []string {
	return append([]string{
		"DATABASE_URL=" + databaseURL, "ES256_KEY=" + key, "JWT_ISSUER=" + issuer, "JWT_AUDIENCE=" + audience,
		"TRUSTED_PROXIES=127.0.0.1", // the test client plays the load balancer: X-Forwarded-For names the client
	}, extra...)
}

// apiEnv is the environment of an auth0-api replica trusting the login server at loginURL.
func apiEnv(loginURL string, extra ...string) []string {
	return append([]string{
		"AUTH0_ISSUER=" + issuer, "JWKS_URL=" + loginURL + "/.well-known/jwks.json", "AUTH0_AUDIENCE=" + audience,
		"AUTH0_ALGORITHMS=ES256",
	}, extra...)
}

// reply is an HTTP answer, read whole.
type reply struct {
	status int
	header http.Header
	body   []byte
	err    error
}

func (r reply) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, r.body)
}

// challenges returns every WWW-Authenticate value of the answer (Bearer and DPoP come as two headers).
func challenges(r reply) string { return strings.Join(r.header.Values("WWW-Authenticate"), ", ") }

// field returns a string member of a JSON body, or "".
func (r reply) field(name string) string {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	s, _ := m[name].(string)
	return s
}

var client = &http.Client{Timeout: 60 * time.Second}

// call sends one request; header holds "Name: value" pairs.
func call(method, url string, body any, header ...string) reply {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case string: // a form
		rd, contentType = strings.NewReader(b), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return reply{err: err}
		}
		rd, contentType = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return reply{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		if strings.EqualFold(name, "Host") {
			req.Host = value
			continue
		}
		req.Header.Add(name, value)
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return reply{status: resp.StatusCode, header: resp.Header, body: b, err: err}
}

// credentials is the body of /register and /login.
func credentials(email string) map[string]string {
	return map[string]string{"email": email, "password": password}
}

// forwardedFor says, as the trusted load balancer, that the request comes from client n (a TEST-NET address).
func forwardedFor(n int) string {
	return fmt.Sprintf("X-Forwarded-For: 198.18.%d.%d", n/250, n%250+1)
}

// sqlitePath is a fresh SQLite database file: the tests that are about Redis run one login server on it.
func sqlitePath(t testing.TB) string { return filepath.Join(t.TempDir(), "auth.db") }

// register creates email's account (201), unless it exists already (409).
func register(t testing.TB, login *proc, email string) {
	t.Helper()
	r := call(http.MethodPost, login.URL+"/register", credentials(email), forwardedFor(0))
	require.Contains(t, []int{http.StatusCreated, http.StatusConflict}, r.status, "%s", r)
}

// bearerLogin registers email if needed and returns a bearer access token.
func bearerLogin(t testing.TB, login *proc, email string) string {
	t.Helper()
	register(t, login, email)
	r := call(http.MethodPost, login.URL+"/login", credentials(email), forwardedFor(0))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	return r.field("access_token")
}

// dpopLogin registers email if needed and logs in with a DPoP proof: the access token is bound to the prover's key.
func dpopLogin(t testing.TB, login *proc, email string) (*jwtauth.DPoPProver, string) {
	t.Helper()
	register(t, login, email)
	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	prover, err := jwtauth.NewDPoPProver(key, nil)
	require.NoError(t, err)
	proof, err := prover.Proof(http.MethodPost, issuer+"/login", "", "")
	require.NoError(t, err)
	r := call(http.MethodPost, login.URL+"/login", credentials(email), "DPoP: "+proof, forwardedFor(0))
	require.Equal(t, http.StatusOK, r.status, "%s", r)
	require.Equal(t, "DPoP", r.field("token_type"), "%s", r)
	return prover, r.field("access_token")
}

// dpopProof is a proof for a request to the API replicas (their public URL, whichever replica gets it).
func dpopProof(t testing.TB, prover *jwtauth.DPoPProver, method, path, token string) string {
	t.Helper()
	proof, err := prover.Proof(method, apiExternalURL+path, token, "")
	require.NoError(t, err)
	return proof
}
