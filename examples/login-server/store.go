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

// store keeps users in SQLite or PostgreSQL (engine). On SQLite it has two pools: one connection for writes, so
// that writers of this process queue in Go instead of spinning on SQLite's lock, and several for reads, which
// WAL runs alongside a write. On PostgreSQL both are one pool.
type store struct {
	db      *dbHandle // reads
	wdb     *dbHandle // writes: a single connection on SQLite
	engine  engine
	timeout time.Duration // of a write transaction; 0: the request's context alone
	now     func() time.Time
}

// maxReaders bounds the read pool; reads are short point lookups.
const maxReaders = 8

// Defaults of DATABASE_MAX_CONNS and DATABASE_TIMEOUT.
const (
	defaultDBMaxConns = 10
	defaultDBTimeout  = 5 * time.Second
)

// dbOptions is what DATABASE_URL, DATABASE_MAX_CONNS and DATABASE_TIMEOUT say.
type dbOptions struct {
	URL      string // a SQLite path (or sqlite:PATH) or a postgres:// URL
	MaxConns int
	Timeout  time.Duration
}

// openStore opens the database of rawURL with the default pool options; see openStoreWith.
func openStore(ctx context.Context, rawURL string, now func() time.Time) (*store, error) {
	return openStoreWith(ctx, dbOptions{URL: rawURL}, now)
}

// openStoreWith opens the database, PostgreSQL for a postgres:// URL and SQLite otherwise, and brings its
// schema to the latest version.
func openStoreWith(ctx context.Context, o dbOptions, now func() time.Time) (*store, error) {
	if now == nil {
		now = time.Now
	}
	if o.MaxConns <= 0 {
		o.MaxConns = defaultDBMaxConns
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultDBTimeout
	}
	if !isPostgresURL(o.URL) {
		return openSQLite(ctx, strings.TrimPrefix(o.URL, "sqlite:"), now)
	}
	db, err := openPostgres(ctx, o.URL, o.MaxConns, o.Timeout)
	if err != nil {
		return nil, err
	}
	e := postgres{}
	mctx, cancel := context.WithTimeout(ctx, 4*o.Timeout)
	defer cancel()
	if _, err := e.migrate(mctx, db); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("migrating the schema of %s: %w", redactURL(o.URL), err)
	}
	h := &dbHandle{db: db, e: e}
	return &store{db: h, wdb: h, engine: e, timeout: o.Timeout, now: now}, nil
}

// openSQLite opens (creating when missing) the SQLite database at path and its schema. WAL lets reads run
// while a write is under way; busy_timeout makes a writer wait for the lock (held by another process, such as
// create-superuser) instead of failing with SQLITE_BUSY; _txlock=immediate takes the write lock at BEGIN, so two
// transactions never deadlock upgrading a read lock.
func openSQLite(ctx context.Context, path string, now func() time.Time) (*store, error) {
	dsn := path + "?_txlock=immediate&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	wdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening database %s: %w", path, err)
	}
	wdb.SetMaxOpenConns(1)
	e := sqliteEngine{}
	if err := retryBusy(ctx, func() error { _, err := e.migrate(ctx, wdb); return err }); err != nil {
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
	return &store{db: &dbHandle{db: db, e: e}, wdb: &dbHandle{db: wdb, e: e}, engine: e, now: now}, nil
}

func (s *store) Close() error {
	if s.db == s.wdb {
		return s.db.Close()
	}
	return errors.Join(s.db.Close(), s.wdb.Close())
}

func (s *store) ping(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `SELECT 1 FROM users LIMIT 1`); err != nil {
		return err
	}
	return s.wdb.PingContext(ctx)
}

// unavailable reports an error meaning the database cannot be reached now: answered 503, not 500.
func (s *store) unavailable(err error) bool { return s.engine.unavailable(err) }

// write runs fn in a transaction and commits it when fn succeeds; only then does the caller answer, so no
// success is ever sent for a write the database did not keep. A transaction that failed in a way that
// committed nothing is retried (engine.retry): on SQLite, SQLITE_BUSY, whose lock is not a fair queue (a busy
// writer in another process can outlast busy_timeout), for as long as the request's context allows; on
// PostgreSQL serialization failures, deadlocks and connections broken before the query went out, a few times.
func (s *store) write(ctx context.Context, fn func(tx *dbTx) error) error {
	if s.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.timeout)
		defer cancel()
	}
	attempt := 0
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		err := s.writeOnce(ctx, fn)
		attempt++
		ok, attempts := s.engine.retry(err)
		if !ok || (attempts > 0 && attempt >= attempts) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
	}
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

func (s *store) writeOnce(ctx context.Context, fn func(tx *dbTx) error) error {
	tx, err := s.wdb.BeginTx(ctx)
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
	err := s.write(ctx, func(tx *dbTx) error { return insertUser(ctx, tx, u) })
	if err != nil {
		return user{}, err
	}
	return u, nil
}

func insertUser(ctx context.Context, tx *dbTx, u user) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO users (`+userColumns+`, email_lower) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Email, u.passwordHash, u.IsActive, u.IsSuperuser, u.IsVerified, u.createdAt.Format(time.RFC3339Nano),
		emailKey(u.Email))
	if tx.e.isUniqueViolation(err) {
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
	err = s.write(ctx, func(tx *dbTx) error {
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
	return s.write(ctx, func(tx *dbTx) error {
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

// sqliteEngine is the SQLite engine (modernc.org/sqlite): ? placeholders and Go booleans as they are.
type sqliteEngine struct{}

func (sqliteEngine) name() string                { return "sqlite" }
func (sqliteEngine) rebind(q string) string      { return q }
func (sqliteEngine) args(args []any) []any       { return args }
func (sqliteEngine) unavailable(error) bool      { return false }
func (sqliteEngine) retry(err error) (bool, int) { return isBusy(err), 0 }

func (sqliteEngine) serialize(context.Context, *dbTx, int64) error { return nil }

func (sqliteEngine) isUniqueViolation(err error) bool {
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
