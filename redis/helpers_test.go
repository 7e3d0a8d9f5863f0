package jwtauthredis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// redisURL returns JWTAUTH_TEST_REDIS_URL, skipping the test without it (failing it when CI=true).
func redisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("JWTAUTH_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("JWTAUTH_TEST_REDIS_URL is not set and CI=true: run the tests through bash .ci/run, or eval \"$(bash .ci/services start)\" first")
		}
		t.Skip("needs Redis: eval \"$(bash .ci/services start)\" (sets JWTAUTH_TEST_REDIS_URL), then go test ./...")
	}
	return u
}

// testClient returns a client of the shared test Redis and a random key prefix of this test's own, whose
// keys are deleted when the test ends (never FLUSHALL: other tests share the server).
func testClient(t testing.TB) (*redis.Client, string) {
	t.Helper()
	c, err := Open(redisURL(t))
	require.NoError(t, err)
	prefix := "jwtauthtest:" + randomHex(t) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c, prefix
}

func randomHex(t testing.TB) string {
	b := make([]byte, 8)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}

// privateRedis is a redis-server of one test's own, for tests that stop and start it.
type privateRedis struct {
	t    testing.TB
	port int
	cmd  *exec.Cmd
}

// startPrivateRedis starts redis-server on a free loopback port (stopped when the test ends). It needs the
// shared test Redis's variable too, so that it runs exactly where the other Redis tests run.
func startPrivateRedis(t testing.TB) *privateRedis {
	t.Helper()
	redisURL(t)
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server is not on PATH: apt-get install redis-server (bash .ci/services start installs it)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &privateRedis{t: t, port: l.Addr().(*net.TCPAddr).Port}
	require.NoError(t, l.Close())
	p.Start()
	t.Cleanup(p.Stop)
	return p
}

// URL is the server's redis:// URL.
func (p *privateRedis) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(p.port) + "/0" }

// Start starts the server (again) on its port and waits until it answers.
func (p *privateRedis) Start() {
	p.t.Helper()
	p.cmd = exec.Command("redis-server", "--bind", "127.0.0.1", "--port", strconv.Itoa(p.port),
		"--save", "", "--appendonly", "no", "--dir", p.t.TempDir())
	require.NoError(p.t, p.cmd.Start())
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(p.port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			p.t.Fatalf("redis-server on port %d did not answer within 10s", p.port)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server and waits for it to exit.
func (p *privateRedis) Stop() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	p.cmd = nil
}
