package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var (
	errUserExists   = errors.New("a user with this email already exists")
	errUserNotFound = errors.New("user not found")
	errInvalidEmail = errors.New("invalid email address")
)

// user is a row of the users table. The password hash is unexported so that it never reaches a JSON response.
type user struct {
	ID          string `json:"id"`
	Email       string `json:"email"`
	IsActive    bool   `json:"is_active"`
	IsSuperuser bool   `json:"is_superuser"`
	IsVerified  bool   `json:"is_verified"`

	createdAt    time.Time
	passwordHash string
}

const userColumns = `id, email, hashed_password, is_active, is_superuser, is_verified, created_at`

// store keeps users in SQLite, through two pools: one connection for writes, so that writers of this process
// queue in Go instead of spinning on SQLite's lock, and several for reads, which WAL runs alongside a write.
type store struct {
	db  *sql.DB // reads
	wdb *sql.DB // writes: a single connection
	now func() time.Time
}

// maxReaders bounds the read pool; reads are short point lookups.
const maxReaders = 8

// openStore opens (creating when missing) the SQLite database at path and its schema. WAL lets reads run while
// a write is under way; busy_timeout makes a writer wait for the lock (held by another process, such as
// create-superuser) instead of failing with SQLITE_BUSY; _txlock=immediate takes the write lock at BEGIN, so two
// transactions never deadlock upgrading a read lock.
func openStore(ctx context.Context, path string, now func() time.Time) (*store, error) {
	if now == nil {
		now = time.Now
	}
	dsn := path + "?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	if err := retryBusy(ctx, func() error { return migrate(ctx, wdb) }); err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("migrating the schema of %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn+"&_query_only=1")
	if err != nil {
		_ = wdb.Close()
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	db.SetMaxOpenConns(maxReaders)
	db.SetMaxIdleConns(maxReaders)
	return &store{db: db, wdb: wdb, now: now}, nil
}

func (s *store) Close() error { return errors.Join(s.db.Close(), s.wdb.Close()) }

func (s *store) ping(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `SELECT 1 FROM users LIMIT 1`); err != nil {
		return err
	}
	return s.wdb.PingContext(ctx)
}

// write runs fn in a transaction (BEGIN IMMEDIATE, from the DSN) and commits it when fn succeeds. SQLite's lock
// is not a fair queue: a busy writer in another process (create-superuser in a loop, say) can outlast
// busy_timeout. A transaction that failed with SQLITE_BUSY committed nothing, so it is retried, with backoff,
// for as long as the request's context allows, instead of surfacing as a 500.
func (s *store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return retryBusy(ctx, func() error { return s.writeOnce(ctx, fn) })
}

// retryBusy runs op until it fails with something other than SQLITE_BUSY or ctx ends, with backoff.
func retryBusy(ctx context.Context, op func() error) error {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := op()
		if !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
}

func (s *store) writeOnce(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// createUser inserts a new user. A user whose email differs only in case already exists: errUserExists.
func (s *store) createUser(ctx context.Context, email, passwordHash string) (user, error) {
	u := user{ID: newUserID(), Email: email, IsActive: true, createdAt: s.now().UTC(), passwordHash: passwordHash}
	err := s.write(ctx, func(tx *sql.Tx) error { return insertUser(ctx, tx, u) })
	if err != nil {
		return user{}, err
	}
	return u, nil
}

func insertUser(ctx context.Context, tx *sql.Tx, u user) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`, email_lower) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.passwordHash, u.IsActive, u.IsSuperuser, u.IsVerified, u.createdAt.Format(time.RFC3339Nano),
		emailKey(u.Email))
	if isUniqueViolation(err) {
		return errUserExists
	}
	if err != nil {
		return fmt.Errorf("inserting user: %w", err)
	}
	return nil
}

// upsertSuperuser makes email an active, verified superuser with the given password hash, creating the user
// when there is none. created says which happened.
func (s *store) upsertSuperuser(ctx context.Context, email, passwordHash string) (u user, created bool, err error) {
	err = s.write(ctx, func(tx *sql.Tx) error {
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_lower = ?`, emailKey(email)))
		switch {
		case errors.Is(err, errUserNotFound):
			created = true
			u = user{ID: newUserID(), Email: email, IsActive: true, IsSuperuser: true, IsVerified: true,
				createdAt: s.now().UTC(), passwordHash: passwordHash}
			return insertUser(ctx, tx, u)
		case err != nil:
			return err
		}
		u.IsActive, u.IsSuperuser, u.IsVerified, u.passwordHash = true, true, true, passwordHash
		_, err := tx.ExecContext(ctx,
			`UPDATE users SET is_active = 1, is_superuser = 1, is_verified = 1, hashed_password = ? WHERE id = ?`,
			passwordHash, u.ID)
		if err != nil {
			return err
		}
		return voidResetTokens(ctx, tx, u.ID, s.now().UnixNano()) // a new password ends outstanding resets
	})
	if err != nil {
		return user{}, false, err
	}
	return u, created, nil
}

// setPasswordHash replaces a user's hash, after a login found it made with outdated parameters.
func (s *store) setPasswordHash(ctx context.Context, id, passwordHash string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE users SET hashed_password = ? WHERE id = ?`, passwordHash, id)
		return err
	})
}

func (s *store) userByEmail(ctx context.Context, email string) (user, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email_lower = ?`, emailKey(email)))
}

func (s *store) userByID(ctx context.Context, id string) (user, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// listUsers returns users in registration order.
func (s *store) listUsers(ctx context.Context, limit, offset int) ([]user, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users ORDER BY created_at, id LIMIT ? OFFSET ?`, limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	users := []user{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	return users, rows.Err()
}

func scanUser(row interface{ Scan(...any) error }) (user, error) {
	var u user
	var created string
	err := row.Scan(&u.ID, &u.Email, &u.passwordHash, &u.IsActive, &u.IsSuperuser, &u.IsVerified, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return user{}, errUserNotFound
	}
	if err != nil {
		return user{}, fmt.Errorf("reading user: %w", err)
	}
	u.createdAt, _ = time.Parse(time.RFC3339Nano, created)
	return u, nil
}

// isBusy reports SQLITE_BUSY and its extended codes (the database is locked by another connection).
func isBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// newUserID returns a random 128-bit id in UUID version 4 form.
func newUserID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Limits of RFC 5321 §4.5.3.1: a forward path of 256 octets with its brackets, a local part of 64.
const (
	maxEmailLen = 254
	maxLocalLen = 64
)

// normalizeEmail trims s and checks it is one bare address (no display name, no comments), of sane length.
func normalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("%w: email is empty", errInvalidEmail)
	}
	if len(s) > maxEmailLen {
		return "", fmt.Errorf("%w: longer than %d bytes", errInvalidEmail, maxEmailLen)
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return "", fmt.Errorf("%w: contains whitespace or control characters", errInvalidEmail)
		}
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return "", fmt.Errorf("%w: expected a bare address like user@example.com", errInvalidEmail)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > maxLocalLen || at == len(s)-1 {
		return "", fmt.Errorf("%w: the part before @ must be 1 to %d bytes", errInvalidEmail, maxLocalLen)
	}
	return s, nil
}

// emailKey is the form emails are compared in: the same address in any letter case is one user.
func emailKey(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
