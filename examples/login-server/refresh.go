package main

// Sessions: refresh tokens (RFC 6749 §6, rotated with reuse detection per RFC 9700 §4.14.2), logout, and the
// revocation of a user's sessions that access tokens are checked against (Config.Revocations).
//
// A session is a refresh-token family: the login that started it and every rotation since. Its id is the sid
// claim of each access token issued in it, so revoking the family (logout, reuse, password change,
// deactivation) also stops its outstanding access tokens on this server at the next request.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

// Refresh-token lifetimes (REFRESH_TTL, REFRESH_IDLE_TTL).
const (
	defaultRefreshTTL  = 30 * 24 * time.Hour // absolute: a session ends this long after its login
	defaultRefreshIdle = 7 * 24 * time.Hour  // idle: a refresh token unused this long expires
	maxRefreshTTL      = 365 * 24 * time.Hour
)

// Reasons a session was revoked, stored with it and logged.
const (
	revokeLogout      = "logout"
	revokeReuse       = "refresh_token_reuse"
	revokePassword    = "password_changed"
	revokeAdmin       = "admin_change"
	revokeInactive    = "user_inactive"
	refreshTokenBytes = 32 // 256 bits from crypto/rand: not guessable, so a hash lookup needs no salt
)

var (
	errRefreshInvalid = errors.New("the refresh token is invalid, expired or revoked")
	errRefreshReused  = errors.New("the refresh token was already used; its session is revoked")
)

// refreshConfig holds the session lifetimes.
type refreshConfig struct {
	TTL  time.Duration // absolute lifetime of a session; zero: defaultRefreshTTL
	Idle time.Duration // idle timeout of a refresh token; zero: defaultRefreshIdle
}

func (c refreshConfig) withDefaults() refreshConfig {
	if c.TTL <= 0 {
		c.TTL = defaultRefreshTTL
	}
	if c.Idle <= 0 {
		c.Idle = defaultRefreshIdle
	}
	c.Idle = min(c.Idle, c.TTL)
	return c
}

func loadRefreshConfig(getenv func(string) string) (refreshConfig, []error) {
	var c refreshConfig
	var errs []error
	var err error
	if c.TTL, err = parseAccountTTL("REFRESH_TTL", strings.TrimSpace(getenv("REFRESH_TTL")), defaultRefreshTTL, maxRefreshTTL); err != nil {
		errs = append(errs, err)
	}
	if c.Idle, err = parseAccountTTL("REFRESH_IDLE_TTL", strings.TrimSpace(getenv("REFRESH_IDLE_TTL")), defaultRefreshIdle, maxRefreshTTL); err != nil {
		errs = append(errs, err)
	}
	return c, errs
}

// sessionsSchema is migration 3. Refresh tokens are stored only as SHA-256 hashes: a copy of the database
// refreshes nobody's session. jkt is the RFC 9449 JWK thumbprint of a DPoP-bound login (NULL: bearer):
// /token/refresh then requires a proof by that key, and mints tokens bound to it (dpoplogin.go).
var sessionsSchema = []string{
	`CREATE TABLE refresh_families (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL,
	created_at    INTEGER NOT NULL,
	expires_at    INTEGER NOT NULL,
	revoked_at    INTEGER,
	revoke_reason TEXT,
	jkt           TEXT
)`,
	`CREATE INDEX refresh_families_user ON refresh_families (user_id)`,
	`CREATE INDEX refresh_families_expiry ON refresh_families (expires_at)`,
	`CREATE TABLE refresh_tokens (
	token_hash      BLOB PRIMARY KEY,
	family_id       TEXT NOT NULL,
	issued_at       INTEGER NOT NULL,
	idle_expires_at INTEGER NOT NULL,
	used_at         INTEGER
)`,
	`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
}

// newRefreshToken returns a fresh opaque refresh token and the hash it is stored and looked up by. The lookup
// is by hash in an index, so no comparison of secrets happens whose time could leak a token.
func newRefreshToken() (string, []byte) {
	var b [refreshTokenBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	return tok, hashRefreshToken(tok)
}

func hashRefreshToken(tok string) []byte {
	h := sha256.Sum256([]byte(tok))
	return h[:]
}

// session is what a login or a rotation hands the client.
type session struct {
	familyID string
	token    string    // the new refresh token
	idleEnd  time.Time // when it expires unused
	jkt      string    // the DPoP key thumbprint its access tokens are bound to; "" for bearer (dpoplogin.go)
}

// createSession starts a session for userID. Sessions whose absolute lifetime (plus the longest access-token
// lifetime, after which none of their access tokens is valid) has passed are deleted on the way, so the
// tables hold only live sessions.
func (s *store) createSession(ctx context.Context, userID string, rc refreshConfig) (session, error) {
	now := s.now()
	tok, h := newRefreshToken()
	sess := session{familyID: newUserID(), token: tok, idleEnd: now.Add(rc.Idle)}
	err := s.write(ctx, func(tx *dbTx) error {
		cutoff := now.Add(-maxTTL).UnixNano()
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE family_id IN
			(SELECT id FROM refresh_families WHERE expires_at < ?)`, cutoff); err != nil {
			return fmt.Errorf("deleting expired refresh tokens: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_families WHERE expires_at < ?`, cutoff); err != nil {
			return fmt.Errorf("deleting expired sessions: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refresh_families (id, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			sess.familyID, userID, now.UnixNano(), now.Add(rc.TTL).UnixNano()); err != nil {
			return fmt.Errorf("storing session: %w", err)
		}
		return insertRefreshToken(ctx, tx, h, sess.familyID, now, sess.idleEnd)
	})
	return sess, err
}

func insertRefreshToken(ctx context.Context, tx *dbTx, h []byte, familyID string, now, idleEnd time.Time) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, issued_at, idle_expires_at) VALUES (?, ?, ?, ?)`,
		h, familyID, now.UnixNano(), idleEnd.UnixNano())
	if err != nil {
		return fmt.Errorf("storing refresh token: %w", err)
	}
	return nil
}

// rotation is the result of rotateRefresh.
type rotation struct {
	user    user
	session session
	// Set with errRefreshReused or errRefreshInvalid when the call revoked a session.
	revokedFamily string
}

// rotateRefresh spends the refresh token hashed h and issues its successor in the same session, in one
// transaction. A token already spent is a replay (RFC 9700 §4.14.2: the attacker's or the client's copy, no
// telling which): its whole session is revoked, committed, and errRefreshReused returned. An unknown,
// expired or revoked token, or one of a user deleted or deactivated since, is errRefreshInvalid.
func (s *store) rotateRefresh(ctx context.Context, h []byte, rc refreshConfig) (rotation, error) {
	var res rotation
	var outcome error
	err := s.write(ctx, func(tx *dbTx) error {
		res, outcome = rotation{}, nil
		now := s.now()
		var famID, userID string
		var used, revoked sql.NullInt64
		var jkt sql.NullString
		var idleEnd, absEnd int64
		err := tx.QueryRowContext(ctx, `SELECT t.family_id, t.used_at, t.idle_expires_at, f.user_id, f.expires_at, f.revoked_at, f.jkt
			FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id WHERE t.token_hash = ?`, h).
			Scan(&famID, &used, &idleEnd, &userID, &absEnd, &revoked, &jkt)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			outcome = errRefreshInvalid
			return nil
		case err != nil:
			return fmt.Errorf("looking up refresh token: %w", err)
		case revoked.Valid:
			outcome = errRefreshInvalid
			return nil
		case used.Valid:
			outcome, res.revokedFamily = errRefreshReused, famID
			return revokeFamilyTx(ctx, tx, famID, revokeReuse, now)
		case now.UnixNano() >= idleEnd || now.UnixNano() >= absEnd:
			outcome = errRefreshInvalid
			return nil
		}
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, userID))
		if errors.Is(err, errUserNotFound) || (err == nil && !u.IsActive) {
			outcome, res.revokedFamily = errRefreshInvalid, famID
			return revokeFamilyTx(ctx, tx, famID, revokeInactive, now)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ?`, now.UnixNano(), h); err != nil {
			return fmt.Errorf("spending refresh token: %w", err)
		}
		tok, nh := newRefreshToken()
		res.user = u
		res.session = session{familyID: famID, token: tok, idleEnd: time.Unix(0, min(now.Add(rc.Idle).UnixNano(), absEnd)), jkt: jkt.String}
		return insertRefreshToken(ctx, tx, nh, famID, now, res.session.idleEnd)
	})
	if err != nil {
		return rotation{}, err
	}
	return res, outcome
}

func revokeFamilyTx(ctx context.Context, tx *dbTx, familyID, reason string, now time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`,
		now.UnixNano(), reason, familyID)
	if err != nil {
		return fmt.Errorf("revoking session: %w", err)
	}
	return nil
}

// revokeSession revokes session familyID of userID (a session of another user is left alone).
func (s *store) revokeSession(ctx context.Context, userID, familyID, reason string) error {
	return s.write(ctx, func(tx *dbTx) error {
		_, err := tx.ExecContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
			s.now().UnixNano(), reason, familyID, userID)
		return err
	})
}

// revokeUserSessions revokes every session of userID except keep ("" keeps none) and returns their ids.
func (s *store) revokeUserSessions(ctx context.Context, userID, keep, reason string) ([]string, error) {
	var ids []string
	err := s.write(ctx, func(tx *dbTx) error {
		ids = nil
		rows, err := tx.QueryContext(ctx, `UPDATE refresh_families SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND id != ? AND revoked_at IS NULL RETURNING id`,
			s.now().UnixNano(), reason, userID, keep)
		if err != nil {
			return fmt.Errorf("revoking sessions: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return fmt.Errorf("revoking sessions: %w", err)
			}
			ids = append(ids, id)
		}
		return rows.Err()
	})
	return ids, err
}

// familyOfRefreshToken returns the session a refresh token belongs to, whatever its state.
func (s *store) familyOfRefreshToken(ctx context.Context, h []byte) (familyID, userID string, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT f.id, f.user_id FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.token_hash = ?`, h).Scan(&familyID, &userID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", errRefreshInvalid
	}
	return familyID, userID, err
}

// sessionRevocations is the login server's jwtauth.Revocations: an access token is revoked when its user is
// gone or inactive, or its session (sid) is revoked or gone. It reads the database, so revocations hold across
// restarts and for every process on the same database. An error fails closed (503) in the verifier.
type sessionRevocations struct{ s *store }

type sidClaim struct {
	Sid string `json:"sid"`
}

func (r sessionRevocations) Revoked(ctx context.Context, c *jwtauth.Claims) (bool, error) {
	sc, err := jwtauth.ClaimsAs[sidClaim](c)
	if err != nil {
		return true, nil // not a sid this server wrote
	}
	var active bool
	var famID sql.NullString
	var revokedAt sql.NullInt64
	err = r.s.db.QueryRowContext(ctx, `SELECT u.is_active, f.id, f.revoked_at FROM users u
		LEFT JOIN refresh_families f ON f.id = ? AND f.user_id = u.id WHERE u.id = ?`, sc.Sid, c.Subject).
		Scan(&active, &famID, &revokedAt)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return true, nil // deleted
	case err != nil:
		return false, err
	case !active:
		return true, nil
	case sc.Sid != "" && (!famID.Valid || revokedAt.Valid):
		return true, nil
	}
	// Tokens without sid were issued before sessions existed: only the user checks apply, until they expire.
	return false, nil
}

// revokeUser ends every session of userID but keepSession ("" for all): their refresh tokens stop working
// and so do their access tokens, on this server, at the next request. Password change keeps the caller's
// session; reset, deactivation, demotion and deletion keep none. Call it after the change is committed.
//
// With REDIS_URL it also publishes the revocation to the denylist that API replicas check: every token of the
// user issued until now (RevokeSubject), or, when a session is kept, each revoked session (RevokeSession), so
// that the caller's own token keeps working there too. An error wrapping errNotPublished means the sessions
// are revoked here but API replicas were not told.
func (a *app) revokeUser(ctx context.Context, userID, reason, keepSession string) error {
	ids, err := a.store.revokeUserSessions(ctx, userID, keepSession, reason)
	if err != nil {
		a.log.ErrorContext(ctx, "revoking the user's sessions failed", "user_id", userID, "reason", reason, "err", err)
		return err
	}
	if keepSession == "" {
		err = a.publishSubject(ctx, userID)
	} else {
		err = a.publishSessions(ctx, ids)
	}
	if err != nil {
		a.log.ErrorContext(ctx, "user sessions revoked, but not on the API servers", "user_id", userID, "reason", reason,
			"sessions", len(ids), "err", err)
		return err
	}
	a.log.InfoContext(ctx, "user sessions revoked", "user_id", userID, "reason", reason, "sessions", len(ids))
	return nil
}

// revocationFailed answers a change that is committed but whose revocation of sessions failed (revokeUser):
// 503, saying what happened, since the user's old tokens may still work somewhere.
func (a *app) revocationFailed(w http.ResponseWriter, done string, err error) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", "5")
	if errors.Is(err, errNotPublished) {
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", done+
			", and the sessions are ended on the login server, but the API servers could not be told (Redis unreachable): "+
			"their access tokens may be accepted there until they expire")
		return
	}
	writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", done+
		", but ending the user's other sessions failed (database unavailable): their tokens may still work until they expire")
}

// sessionOf returns the sid of the request's access token, or "".
func sessionOf(ctx context.Context) string {
	c, ok := jwtauth.ClaimsFromContext(ctx)
	if !ok {
		return ""
	}
	sc, _ := jwtauth.ClaimsAs[sidClaim](c)
	return sc.Sid
}

// tokenResponse is the RFC 6749 §5.1 answer of /login and /token/refresh.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshToken     string `json:"refresh_token,omitempty"`
	RefreshExpiresIn int64  `json:"refresh_expires_in,omitempty"` // until the refresh token expires unused
}

// writeSession issues an access token in sess for u and answers with the pair.
func (a *app) writeSession(w http.ResponseWriter, r *http.Request, u user, sess session) {
	token, err := a.issueToken(u, sess.familyID, sess.jkt)
	if err != nil {
		a.serverError(w, r, "issuing token", err)
		return
	}
	w.Header().Set("Pragma", "no-cache") // RFC 6749 §5.1
	writeJSON(w, http.StatusOK, tokenResponse{
		AccessToken:      token,
		TokenType:        tokenType(sess.jkt),
		ExpiresIn:        int64(a.issuer.TTL() / time.Second),
		RefreshToken:     sess.token,
		RefreshExpiresIn: int64(sess.idleEnd.Sub(a.store.now()).Round(time.Second) / time.Second),
	})
}

// refresh is POST /token/refresh: JSON {"refresh_token"} or the form of RFC 6749 §6
// (grant_type=refresh_token&refresh_token=...). Refusals are 400 invalid_grant (RFC 6749 §5.2).
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	if ok, retry := a.shared.refreshIP.take(r.Context(), limiterKey(clientIPFrom(r.Context()))); !ok {
		a.log.WarnContext(r.Context(), "refresh rate limited", "limit", "ip")
		tooManyRequests(w, retry, "refresh requests")
		return
	}
	tok, ok := readRefreshToken(w, r, true)
	if !ok {
		return
	}
	if tok == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	if !a.refreshDPoP(w, r, hashRefreshToken(tok)) {
		return
	}
	rot, err := a.store.rotateRefresh(r.Context(), hashRefreshToken(tok), a.cfg.Refresh)
	switch {
	case errors.Is(err, errRefreshReused):
		// Never the token: the session id is enough to find the family.
		a.log.WarnContext(r.Context(), "refresh token reused: session revoked", "session", rot.revokedFamily)
		if err := a.publishSessions(r.Context(), []string{rot.revokedFamily}); err != nil {
			// The answer is a refusal either way; the session's access tokens may work on API servers until
			// they expire.
			a.log.ErrorContext(r.Context(), "reused session revoked, but not on the API servers", "session", rot.revokedFamily, "err", err)
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", errRefreshInvalid.Error())
		return
	case errors.Is(err, errRefreshInvalid):
		if rot.revokedFamily != "" {
			a.log.InfoContext(r.Context(), "refresh refused: user deleted or inactive; session revoked", "session", rot.revokedFamily)
		}
		writeError(w, http.StatusBadRequest, "invalid_grant", errRefreshInvalid.Error())
		return
	case err != nil:
		a.serverError(w, r, "rotating refresh token", err)
		return
	}
	a.log.InfoContext(r.Context(), "session refreshed", "user_id", rot.user.ID, "session", rot.session.familyID)
	a.writeSession(w, r, rot.user, rot.session)
}

// readRefreshToken reads refresh_token from a JSON or form body; an empty body gives "" when optional.
// grantRequired asks for RFC 6749 §6's grant_type=refresh_token in a form.
func readRefreshToken(w http.ResponseWriter, r *http.Request, grantRequired bool) (string, bool) {
	switch {
	case hasMediaType(r, "application/json"):
		var body struct {
			RefreshToken string `json:"refresh_token"`
		}
		if !decodeJSON(w, r, &body, `with string field "refresh_token"`, false) {
			return "", false
		}
		return body.RefreshToken, true
	case hasMediaType(r, "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			if isTooLarge(err) {
				writeTooLarge(w)
			} else {
				writeError(w, http.StatusBadRequest, "invalid_request", "the form body is malformed")
			}
			return "", false
		}
		if gt := r.PostForm.Get("grant_type"); grantRequired && gt != "refresh_token" {
			writeError(w, http.StatusBadRequest, "unsupported_grant_type", `send grant_type "refresh_token"`)
			return "", false
		}
		return r.PostForm.Get("refresh_token"), true
	case !grantRequired && r.ContentLength == 0:
		return "", true
	}
	writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
		"send the body as application/json or application/x-www-form-urlencoded")
	return "", false
}

// logout is POST /logout with the access token: it revokes the token's session (its refresh tokens and its
// access tokens), and the session of the refresh token in the body when one is sent and is the caller's. 204.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	tok, ok := readRefreshToken(w, r, false)
	if !ok {
		return
	}
	c, _ := jwtauth.ClaimsFromContext(r.Context())
	var sessions []string
	if sid := sessionOf(r.Context()); sid != "" {
		sessions = append(sessions, sid)
	}
	if tok != "" {
		fam, owner, err := a.store.familyOfRefreshToken(r.Context(), hashRefreshToken(tok))
		switch {
		case err == nil && owner == c.Subject:
			sessions = append(sessions, fam)
		case err != nil && !errors.Is(err, errRefreshInvalid):
			a.serverError(w, r, "looking up refresh token", err)
			return
		}
	}
	for _, sid := range sessions {
		if err := a.store.revokeSession(r.Context(), c.Subject, sid, revokeLogout); err != nil {
			a.serverError(w, r, "revoking session", err)
			return
		}
	}
	// The database first: whatever happens next, the refresh tokens are dead and this server refuses the
	// access tokens. Then the API replicas; if they cannot be told, the logout is not a success.
	if err := a.publishSessions(r.Context(), sessions); err != nil {
		a.log.ErrorContext(r.Context(), "logged out, but not on the API servers", "user_id", c.Subject, "sessions", len(sessions), "err", err)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable",
			"the session is ended on the login server (its refresh token no longer works), but the API servers could not be told "+
				"(Redis unreachable): the access token may be accepted there until it expires")
		return
	}
	a.log.InfoContext(r.Context(), "logged out", "user_id", c.Subject, "sessions", len(sessions))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}
