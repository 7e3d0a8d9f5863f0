// Package testsvc gives tests real PostgreSQL servers: a fresh database on the shared server that .ci/services
// starts (PostgresURL), or a private cluster a test may stop and start (StartPostgres).
//
// Without the servers a test is skipped with one line saying how to run it; with CI=true it fails instead.
package testsvc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresURL returns the URL of a fresh, empty database on the server of JWTAUTH_TEST_POSTGRES_URL (a
// superuser URL); the database is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("JWTAUTH_TEST_POSTGRES_URL")
	if base == "" {
		missing(t, `needs PostgreSQL: run eval "$(bash .ci/services start)" first (sets JWTAUTH_TEST_POSTGRES_URL)`)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("JWTAUTH_TEST_POSTGRES_URL is not a URL: %v", err)
	}
	name := "t_" + randomHex(8)
	admin(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { admin(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u.Path = "/" + name
	return u.String()
}

// admin runs one statement (CREATE/DROP DATABASE, which take no parameters) on the server at rawURL.
func admin(t testing.TB, rawURL, stmt string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL server: %v", err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	if _, err := c.Exec(ctx, stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}

// Postgres is a private PostgreSQL cluster in a temporary directory, on a free loopback port, that a test may
// stop and start again (same port, same data). It is stopped and removed when the test ends.
type Postgres struct {
	// URL reaches the cluster's postgres database as the superuser postgres (trust auth, no TLS).
	URL string

	t    testing.TB
	bin  string
	dir  string
	port int
}

// StartPostgres initdb's a cluster into a temporary directory and starts it. As root the cluster runs as the
// postgres user, which PostgreSQL requires.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bin := pgBin()
	if bin == "" {
		missing(t, "needs PostgreSQL installed (initdb in JWTAUTH_TEST_PG_BIN, on PATH or in /usr/lib/postgresql/*/bin): apt-get install -y postgresql")
	}
	dir, err := os.MkdirTemp("", "testsvc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() == 0 {
		if out, err := exec.Command("chown", "postgres", data).CombinedOutput(); err != nil {
			t.Fatalf("chown postgres %s: %v: %s", data, err, out)
		}
	}
	p := &Postgres{t: t, bin: bin, dir: dir, port: freePort(t)}
	p.run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")
	p.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	p.Start()
	t.Cleanup(func() { p.pgctl("-m", "immediate", "stop") })
	return p
}

// Start starts the cluster (again) and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c max_connections=200 -c fsync=off", p.port,
		filepath.Join(p.dir, "data"))
	if err := p.pgctl("-l", filepath.Join(p.dir, "data", "server.log"), "-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "data", "server.log"))
		p.t.Fatalf("starting PostgreSQL: %v\n%s", err, log)
	}
}

// Stop shuts the cluster down at once (fast mode: open connections are cut, as in a restart).
func (p *Postgres) Stop() {
	p.t.Helper()
	if err := p.pgctl("-m", "fast", "-w", "stop"); err != nil {
		p.t.Fatalf("stopping PostgreSQL: %v", err)
	}
}

func (p *Postgres) pgctl(args ...string) error {
	args = append([]string{"-D", filepath.Join(p.dir, "data")}, args...)
	out, err := p.command("pg_ctl", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (p *Postgres) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v: %s", name, err, out)
	}
}

// command runs a PostgreSQL binary, as the postgres user when we are root.
func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(p.bin, name)
	if os.Getuid() == 0 {
		return exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	}
	return exec.Command(path, args...)
}

// pgBin finds the directory of initdb and pg_ctl, or "".
func pgBin() string {
	if d := os.Getenv("JWTAUTH_TEST_PG_BIN"); d != "" {
		return d
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Dir(r)
		}
	}
	ds, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(ds, func(i, j int) bool { return version(ds[i]) < version(ds[j]) })
	if len(ds) == 0 {
		return ""
	}
	return ds[len(ds)-1]
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}
