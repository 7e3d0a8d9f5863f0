package testsvc

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RedisURL returns JWTAUTH_TEST_REDIS_URL, the shared Redis that .ci/services starts. Unset, the test is
// skipped with a line saying how to run it (failed when CI=true). Tests sharing it use RedisPrefix for their keys.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("JWTAUTH_TEST_REDIS_URL")
	if u == "" {
		missing(t, `needs Redis: run eval "$(bash .ci/services start)" first (sets JWTAUTH_TEST_REDIS_URL)`)
	}
	return u
}

// RedisPrefix returns a key prefix of this test alone ("test:<random>:"), so that tests sharing one Redis never
// touch each other's keys, and none needs FLUSHALL.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "test:" + hex.EncodeToString(b[:]) + ":"
}

// missing skips t with why, or fails it when CI=true: in CI the servers are required.
func missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(why + " (CI=true: required)")
	}
	t.Skip(why)
}

// Redis is a private redis-server on a free loopback port, owned by one test, for tests that stop and start
// it. It keeps its data in an append-only file (fsync on every write) in a temporary directory, so a Stop and
// Start loses nothing, as with a production Redis that persists. It is stopped when the test ends.
type Redis struct {
	// URL is redis://127.0.0.1:PORT/0; it stays the same across Stop and Start.
	URL string

	t    testing.TB
	bin  string
	dir  string
	port int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a private redis-server. Without redis-server on PATH the test is skipped (failed when
// CI=true) with a line saying how to install it.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		missing(t, "needs redis-server on PATH for a private Redis: apt-get install redis-server (bash .ci/run installs it)")
	}
	r := &Redis{t: t, bin: bin, dir: t.TempDir()}
	t.Cleanup(r.Stop)
	// The port is free when asked for but may be taken before redis-server binds it: try a few.
	var last error
	for range 5 {
		r.port = freePort(t)
		r.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", r.port)
		if last = r.start(); last == nil {
			return r
		}
	}
	t.Fatalf("testsvc: redis-server did not start: %v", last)
	return nil
}

// Stop shuts the server down (SIGTERM: it flushes its append-only file) and waits for it to exit. Clients
// then get connection errors until Start.
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
	r.cmd = nil
}

// Start starts the server again on the same port, with the data it had, and waits until it answers PING.
func (r *Redis) Start() {
	r.t.Helper()
	if err := r.start(); err != nil {
		r.t.Fatalf("testsvc: restarting redis-server on port %d: %v", r.port, err)
	}
}

func (r *Redis) start() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return nil
	}
	logFile := filepath.Join(r.dir, "redis.log")
	cmd := exec.Command(r.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(r.port), "--dir", r.dir,
		"--save", "", "--appendonly", "yes", "--appendfsync", "always", "--logfile", logFile)
	cmd.SysProcAttr = ChildAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if ping(r.port) {
			r.cmd, r.done = cmd, done
			return nil
		}
		select {
		case <-done:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("redis-server exited: %s", lastLines(string(log), 5))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-done
			return fmt.Errorf("no PONG from port %d within 15s", r.port)
		}
	}
}

// ping sends PING in RESP and expects +PONG (no client library needed).
func ping(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testsvc: no free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
