package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/examples/internal/testsvc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testEngine is the engine the suite runs on: LOGIN_SERVER_TEST_ENGINE=postgres (on JWTAUTH_TEST_POSTGRES_URL's
// server) or sqlite, the default.
func testEngine() string {
	if os.Getenv("LOGIN_SERVER_TEST_ENGINE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// testDatabase is DATABASE_URL of a fresh, empty database of the test engine, gone when t ends.
func testDatabase(t testing.TB) string {
	t.Helper()
	if testEngine() == "postgres" {
		return testsvc.PostgresURL(t)
	}
	return filepath.Join(t.TempDir(), "auth.db")
}

// sqliteOnly skips t when the suite runs on PostgreSQL: it tests something only SQLite has (why).
func sqliteOnly(t testing.TB, why string) {
	t.Helper()
	if testEngine() != "sqlite" {
		t.Skip("SQLite only: " + why)
	}
}

func TestDatabasePath_SelectsEngineByForm(t *testing.T) {
	for _, tc := range []struct{ env, want, err string }{
		{"", "auth.db", ""},
		{"/data/auth.db", "/data/auth.db", ""},
		{"sqlite:/data/auth.db", "sqlite:/data/auth.db", ""},
		{"postgres://u:pw@db:5432/auth?sslmode=require", "postgres://u:pw@db:5432/auth?sslmode=require", ""},
		{"postgresql://u@db/auth", "postgresql://u@db/auth", ""},
		{"sqlite:", "", "names no file"},
		{"mysql://u:secret@db/auth", "", "give a postgres:// URL or a plain SQLite file path"},
		{"postgres://u:secret@db:notaport/auth", "", "is not a valid PostgreSQL URL"},
	} {
		got, err := databasePath(func(string) string { return tc.env })
		if tc.err != "" {
			require.Error(t, err, tc.env)
			assert.Contains(t, err.Error(), tc.err)
			assert.NotContains(t, err.Error(), "secret", "the password never reaches a message")
			continue
		}
		require.NoError(t, err, tc.env)
		assert.Equal(t, tc.want, got)
		assert.Equal(t, strings.HasPrefix(tc.env, "postgres"), isPostgresURL(got))
	}
}

func TestRedactURL_HidesPassword(t *testing.T) {
	assert.Equal(t, "postgres://u:redacted@db:5432/auth?sslmode=require", redactURL("postgres://u:s3cret@db:5432/auth?sslmode=require"))
	assert.Equal(t, "postgres://db/auth?password=redacted", redactURL("postgres://db/auth?password=s3cret"))
	assert.Equal(t, "/data/auth.db", redactURL("/data/auth.db"))
}

func TestDatabasePool_ValidatesWithFixIts(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	o, err := databasePool(env(nil))
	require.NoError(t, err)
	assert.Equal(t, dbOptions{MaxConns: 10, Timeout: 5 * time.Second}, o)
	o, err = databasePool(env(map[string]string{"DATABASE_MAX_CONNS": "40", "DATABASE_TIMEOUT": "2s"}))
	require.NoError(t, err)
	assert.Equal(t, dbOptions{MaxConns: 40, Timeout: 2 * time.Second}, o)
	_, err = databasePool(env(map[string]string{"DATABASE_MAX_CONNS": "0", "DATABASE_TIMEOUT": "5"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `DATABASE_MAX_CONNS="0" is not a pool size: use a whole number from 1 to 1000`)
	assert.Contains(t, err.Error(), `DATABASE_TIMEOUT="5" is not a timeout: use a Go duration from 100ms to 10m0s, like 5s`)
}

func TestMigrateCommand_AppliesOnceThenReportsUpToDate(t *testing.T) {
	db := testDatabase(t)
	getenv := func(k string) string {
		if k == "DATABASE_URL" {
			return db
		}
		return ""
	}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"migrate"}, getenv, nil, &out, &errOut), errOut.String())
	assert.Equal(t, "applied migration 1\napplied migration 2\napplied migration 3\n"+testEngine()+" database "+redactURL(db)+" is at schema version 3\n", out.String())
	out.Reset()
	require.Equal(t, 0, run(context.Background(), []string{"migrate"}, getenv, nil, &out, &errOut), errOut.String())
	assert.Contains(t, out.String(), "is up to date (schema version 3)")
}

func TestMigrateCommand_UnreachableDatabaseExitsNonZero(t *testing.T) {
	getenv := func(k string) string {
		switch k {
		case "DATABASE_URL":
			return "postgres://u:s3cret@127.0.0.1:1/auth?sslmode=disable"
		case "DATABASE_TIMEOUT":
			return "1s"
		}
		return ""
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, 1, run(context.Background(), []string{"migrate"}, getenv, nil, &out, &errOut))
	assert.Contains(t, errOut.String(), "login-server migrate: postgres database postgres://u:redacted@127.0.0.1:1/auth?sslmode=disable:")
	assert.NotContains(t, errOut.String(), "s3cret")
}

func TestPostgresMigrate_ConcurrentStartsApplyOnce(t *testing.T) {
	url := testsvc.PostgresURL(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			st, err := openStore(context.Background(), url, nil)
			if err == nil {
				err = st.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		assert.NoError(t, <-errs)
	}
	st, err := openStore(context.Background(), url, nil)
	require.NoError(t, err)
	defer st.Close()
	var n, max int
	require.NoError(t, st.db.QueryRow(`SELECT COUNT(*), MAX(version) FROM schema_migrations`).Scan(&n, &max))
	assert.Equal(t, [2]int{len(pgMigrations), len(pgMigrations)}, [2]int{n, max}, "each step recorded once")
}
