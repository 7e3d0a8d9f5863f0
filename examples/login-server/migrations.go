package main

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations is the schema history, applied in order; migration i brings the database to version i+1, recorded
// in SQLite's user_version. Append new steps at the end (one per change, in its own statement list); never
// edit or reorder a step that has landed: databases in the field already ran it.
var migrations = [...][]string{
	// 1: users. IF NOT EXISTS because databases made before versioning have the table at user_version 0.
	{`CREATE TABLE IF NOT EXISTS users (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL,
	email_lower     TEXT NOT NULL UNIQUE,
	hashed_password TEXT NOT NULL,
	is_active       INTEGER NOT NULL DEFAULT 1,
	is_superuser    INTEGER NOT NULL DEFAULT 0,
	is_verified     INTEGER NOT NULL DEFAULT 0,
	created_at      TEXT NOT NULL
)`},
	// 2: reset and verify tokens (accountstore.go), only as SHA-256 hashes; email_lower binds a token to the
	// address it was mailed to.
	{`CREATE TABLE IF NOT EXISTS account_tokens (
	token_hash  BLOB PRIMARY KEY,
	user_id     TEXT NOT NULL,
	email_lower TEXT NOT NULL,
	purpose     TEXT NOT NULL,
	expires_at  INTEGER NOT NULL,
	used_at     INTEGER
)`, `CREATE INDEX IF NOT EXISTS account_tokens_user ON account_tokens (user_id)`},
	// 3: sessions: refresh-token families and their tokens (refresh.go).
	sessionsSchema,
}

// pgMigrations are the same steps for PostgreSQL (pgstore.go), in its types: BYTEA for hashes, BIGINT for unix
// nanoseconds (its INTEGER is 32 bits). Flags stay INTEGER 0/1 so the queries are the same on both engines.
// Step i here must do what step i of migrations does.
var pgMigrations = [...][]string{
	{`CREATE TABLE users (
	id              TEXT PRIMARY KEY,
	email           TEXT NOT NULL,
	email_lower     TEXT NOT NULL UNIQUE,
	hashed_password TEXT NOT NULL,
	is_active       INTEGER NOT NULL DEFAULT 1,
	is_superuser    INTEGER NOT NULL DEFAULT 0,
	is_verified     INTEGER NOT NULL DEFAULT 0,
	created_at      TEXT NOT NULL
)`},
	{`CREATE TABLE account_tokens (
	token_hash  BYTEA PRIMARY KEY,
	user_id     TEXT NOT NULL,
	email_lower TEXT NOT NULL,
	purpose     TEXT NOT NULL,
	expires_at  BIGINT NOT NULL,
	used_at     BIGINT
)`, `CREATE INDEX account_tokens_user ON account_tokens (user_id)`},
	{`CREATE TABLE refresh_families (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL,
	created_at    BIGINT NOT NULL,
	expires_at    BIGINT NOT NULL,
	revoked_at    BIGINT,
	revoke_reason TEXT,
	jkt           TEXT
)`,
		`CREATE INDEX refresh_families_user ON refresh_families (user_id)`,
		`CREATE INDEX refresh_families_expiry ON refresh_families (expires_at)`,
		`CREATE TABLE refresh_tokens (
	token_hash      BYTEA PRIMARY KEY,
	family_id       TEXT NOT NULL,
	issued_at       BIGINT NOT NULL,
	idle_expires_at BIGINT NOT NULL,
	used_at         BIGINT
)`,
		`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`},
}

// migrate brings a SQLite database to the latest schema version, returning the versions it applied. It runs
// in one write transaction (BEGIN IMMEDIATE), so two processes starting together apply each step once: the
// second waits for the lock, then finds the version already raised. A database newer than this binary is
// refused rather than used with a schema it does not know.
func (sqliteEngine) migrate(ctx context.Context, db *sql.DB) ([]int, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return nil, fmt.Errorf("reading the schema version: %w", err)
	}
	if version > len(migrations) {
		return nil, fmt.Errorf("the database has schema version %d, newer than this server's %d: run a newer build of the login server", version, len(migrations))
	}
	var applied []int
	for i := version; i < len(migrations); i++ {
		for _, stmt := range migrations[i] {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return nil, fmt.Errorf("schema migration %d: %w", i+1, err)
			}
		}
		applied = append(applied, i+1)
	}
	if version == len(migrations) {
		return nil, nil
	}
	// PRAGMA takes no placeholders; the value is an int of ours.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return nil, fmt.Errorf("recording schema version %d: %w", len(migrations), err)
	}
	return applied, tx.Commit()
}
