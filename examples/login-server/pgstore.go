package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// postgres is the PostgreSQL engine, through pgx's database/sql driver: the store's SQL and transactions are
// shared with SQLite, and database/sql's pool discards connections pgx reports broken (its ResetSession pings
// a connection idle for over a second, so one killed by a server restart is dropped before a request gets it).
type postgres struct{}

func (postgres) name() string { return "postgres" }

func (postgres) rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// args turns booleans into 0 and 1: the flag columns are INTEGER on both engines, so the queries comparing
// them with 1 stay the same.
func (postgres) args(args []any) []any {
	for i, a := range args {
		if b, ok := a.(bool); ok {
			args[i] = 0
			if b {
				args[i] = 1
			}
		}
	}
	return args
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func (postgres) isUniqueViolation(err error) bool { return pgCode(err) == "23505" }

// retry: a serialization failure or deadlock rolled the transaction back, and a connection that failed before
// anything was sent (pgconn.SafeToRetry) committed nothing; a few attempts, then the error stands.
func (postgres) retry(err error) (bool, int) {
	switch code := pgCode(err); {
	case code == "40001", code == "40P01":
		return true, 5
	case code == "57P01", code == "57P02": // the server ended this connection's session: nothing committed
		return true, 3
	case code == "" && pgconn.SafeToRetry(err):
		return true, 3
	}
	return false, 0
}

func (postgres) unavailable(err error) bool {
	if err == nil {
		return false
	}
	code := pgCode(err)
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		code == "57P01", code == "57P02", code == "57P03", // shutting down, crashed, starting up
		code == "53300", // too many connections
		code == "57014": // statement_timeout (DATABASE_TIMEOUT)
		return true
	case code != "":
		return false
	}
	var ce *pgconn.ConnectError
	return errors.As(err, &ce) || pgconn.Timeout(err) || isConnectionError(err) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "conn closed")
}

func (postgres) serialize(ctx context.Context, tx *dbTx, key int64) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(?)`, key)
	return err
}

// pgMigrationLock is the pg_advisory_xact_lock key the migrations hold, so two servers starting together on one
// database apply each step once: the second waits, then finds the steps recorded.
const pgMigrationLock = 0x6a77746175746801

// migrate applies pgMigrations (the same steps as SQLite's migrations, in PostgreSQL's types) in one
// transaction under an advisory lock, recording each version in schema_migrations.
func (postgres) migrate(ctx context.Context, db *sql.DB) ([]int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(pgMigrationLock)); err != nil {
		return nil, fmt.Errorf("taking the migration lock: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	var version int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	if version > len(pgMigrations) {
		return nil, fmt.Errorf("the database has schema version %d, newer than this server's %d: run a newer build of the login server", version, len(pgMigrations))
	}
	var applied []int
	for i := version; i < len(pgMigrations); i++ {
		for _, stmt := range pgMigrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("schema migration %d: %w", i+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, i+1); err != nil {
			return nil, fmt.Errorf("recording schema version %d: %w", i+1, err)
		}
		applied = append(applied, i+1)
	}
	return applied, tx.Commit()
}

// openPostgres connects to the server of rawURL with a pool of maxConns connections; every statement is
// bounded by timeout (statement_timeout), and so is connecting.
func openPostgres(ctx context.Context, rawURL string, maxConns int, timeout time.Duration) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(rawURL)
	if err != nil {
		// pgx's message can quote the URL; never its password.
		return nil, fmt.Errorf("DATABASE_URL=%s is not a valid PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=require)", redactURL(rawURL))
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > timeout {
		cfg.ConnectTimeout = timeout
	}
	if _, set := cfg.RuntimeParams["statement_timeout"]; !set {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(timeout.Milliseconds(), 10)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	return db, nil
}
