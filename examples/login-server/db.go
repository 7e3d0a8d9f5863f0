package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// engine is what differs between the two databases the store runs on (SQLite, PostgreSQL). Every query of
// the store is written once, with ? placeholders, and runs through database/sql on either: the engine rewrites
// placeholders and arguments, classifies errors, and owns the migrations.
type engine interface {
	// name is "sqlite" or "postgres", for logs and messages.
	name() string
	// rebind rewrites a query written with ? placeholders into the engine's own.
	rebind(query string) string
	// args converts arguments the engine's driver does not take as they are.
	args(args []any) []any
	// isUniqueViolation reports a unique constraint refusing a row (SQLITE_CONSTRAINT_UNIQUE, 23505).
	isUniqueViolation(err error) bool
	// retry reports whether a failed transaction committed nothing and may be run again at once, and how many
	// attempts in all it gets (0: as long as the context allows).
	retry(err error) (ok bool, attempts int)
	// unavailable reports that the database could not be reached (down, restarting, out of connections): the
	// request is answered 503 with Retry-After rather than 500.
	unavailable(err error) bool
	// serialize makes tx wait for every other transaction that serializes on key, until it ends. SQLite's
	// BEGIN IMMEDIATE already orders all writers; PostgreSQL takes an advisory transaction lock.
	serialize(ctx context.Context, tx *dbTx, key int64) error
	// migrate brings the schema to the latest version, returning the versions it applied.
	migrate(ctx context.Context, db *sql.DB) ([]int, error)
}

// dbHandle is a pool of one engine: database/sql with the engine's placeholders and arguments.
type dbHandle struct {
	db *sql.DB
	e  engine
}

func (h *dbHandle) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return h.db.ExecContext(ctx, h.e.rebind(q), h.e.args(args)...)
}

func (h *dbHandle) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return h.db.QueryContext(ctx, h.e.rebind(q), h.e.args(args)...)
}

func (h *dbHandle) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return h.db.QueryRowContext(ctx, h.e.rebind(q), h.e.args(args)...)
}

// Exec and QueryRow are for tests, which poke at rows directly.
func (h *dbHandle) Exec(q string, args ...any) (sql.Result, error) {
	return h.ExecContext(context.Background(), q, args...)
}

func (h *dbHandle) QueryRow(q string, args ...any) *sql.Row {
	return h.QueryRowContext(context.Background(), q, args...)
}

func (h *dbHandle) BeginTx(ctx context.Context) (*dbTx, error) {
	tx, err := h.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return &dbTx{tx: tx, e: h.e}, nil
}

func (h *dbHandle) PingContext(ctx context.Context) error { return h.db.PingContext(ctx) }

func (h *dbHandle) Close() error { return h.db.Close() }

// dbTx is a transaction of a dbHandle.
type dbTx struct {
	tx *sql.Tx
	e  engine
}

func (t *dbTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.e.rebind(q), t.e.args(args)...)
}

func (t *dbTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.e.rebind(q), t.e.args(args)...)
}

func (t *dbTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.e.rebind(q), t.e.args(args)...)
}

func (t *dbTx) Commit() error   { return t.tx.Commit() }
func (t *dbTx) Rollback() error { return t.tx.Rollback() }

// isPostgresURL reports whether DATABASE_URL names a PostgreSQL server rather than a SQLite file.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// redactURL is DATABASE_URL fit for a log line or message: a URL without its password, a SQLite path as it is.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "(a URL that does not parse)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "redacted")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "redacted")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// isConnectionError reports errors of a connection that broke or could not be made, whatever the engine.
func isConnectionError(err error) bool {
	var ne net.Error
	return errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.As(err, &ne)
}

// errDatabaseUnreachable is the fixed detail of the 503 a request gets while the database cannot be reached.
const errDatabaseUnreachable = "the database is unreachable; try again"

// Bounds of DATABASE_MAX_CONNS and DATABASE_TIMEOUT.
const (
	maxDBConns   = 1000
	maxDBTimeout = 10 * time.Minute
)

// databasePool reads DATABASE_MAX_CONNS (PostgreSQL pool size) and DATABASE_TIMEOUT (bound of each statement
// and write transaction, and of connecting).
func databasePool(getenv func(string) string) (dbOptions, error) {
	o := dbOptions{MaxConns: defaultDBMaxConns, Timeout: defaultDBTimeout}
	var errs []error
	if s := strings.TrimSpace(getenv("DATABASE_MAX_CONNS")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxDBConns {
			errs = append(errs, fmt.Errorf("DATABASE_MAX_CONNS=%q is not a pool size: use a whole number from 1 to %d (default %d); keep it under the server's max_connections divided by the replicas", s, maxDBConns, defaultDBMaxConns))
		} else {
			o.MaxConns = n
		}
	}
	if s := strings.TrimSpace(getenv("DATABASE_TIMEOUT")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 100*time.Millisecond || d > maxDBTimeout {
			errs = append(errs, fmt.Errorf("DATABASE_TIMEOUT=%q is not a timeout: use a Go duration from 100ms to %s, like 5s (the default)", s, maxDBTimeout))
		} else {
			o.Timeout = d
		}
	}
	return o, errors.Join(errs...)
}

// migrateCommand is `login-server migrate`: it applies the migrations DATABASE_URL's database lacks and says
// which.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "login-server migrate takes no arguments (got %q); DATABASE_URL names the database\n", args)
		return 2
	}
	rawURL, err1 := databasePath(getenv)
	o, err2 := databasePool(getenv)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(stderr, "login-server: invalid configuration:\n%s\n", indent(err))
		return 2
	}
	var (
		db *sql.DB
		e  engine
	)
	if isPostgresURL(rawURL) {
		db, err1 = openPostgres(ctx, rawURL, 1, o.Timeout)
		e = postgres{}
	} else {
		db, err1 = sql.Open("sqlite", strings.TrimPrefix(rawURL, "sqlite:")+"?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		e = sqliteEngine{}
	}
	if err1 != nil {
		fmt.Fprintf(stderr, "login-server migrate: %v\n", err1)
		return 1
	}
	defer db.Close()
	mctx, cancel := context.WithTimeout(ctx, 4*o.Timeout)
	defer cancel()
	applied, err := e.migrate(mctx, db)
	if err != nil {
		fmt.Fprintf(stderr, "login-server migrate: %s database %s: %v\n", e.name(), redactURL(rawURL), err)
		return 1
	}
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "%s database %s is up to date (schema version %d)\n", e.name(), redactURL(rawURL), len(migrations))
		return 0
	}
	for _, v := range applied {
		fmt.Fprintf(stdout, "applied migration %d\n", v)
	}
	fmt.Fprintf(stdout, "%s database %s is at schema version %d\n", e.name(), redactURL(rawURL), len(migrations))
	return 0
}
