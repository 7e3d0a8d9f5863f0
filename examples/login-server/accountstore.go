package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
)

// Purposes of account tokens: a token made for one is never accepted for the other.
const (
	purposeReset  = "reset_password"
	purposeVerify = "verify_email"
)

// errAccountTokenInvalid is every refusal of a reset or verify token: unknown, used, expired, of the other
// purpose, or for an email the user no longer has. One error, so that the answer does not say which.
var errAccountTokenInvalid = errors.New("the token is invalid, expired or already used")

// Reset and verify tokens live in the account_tokens table (migration 2), only as SHA-256 hashes: a copy of
// the database does not reset anyone's password.

func hashAccountToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// addAccountToken stores the hash of a new token for u, valid until expires (unix nanoseconds). Rows past
// their expiry are deleted on the way, so the table holds only live tokens (their number is bounded by the
// per-email limit of the routes that make them).
func (s *store) addAccountToken(ctx context.Context, u user, purpose string, tokenHash []byte, expires int64) error {
	return s.write(ctx, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM account_tokens WHERE expires_at <= ?`, s.now().UnixNano()); err != nil {
			return fmt.Errorf("deleting expired account tokens: %w", err)
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO account_tokens (token_hash, user_id, email_lower, purpose, expires_at)
			VALUES (?, ?, ?, ?, ?)`, tokenHash, u.ID, emailKey(u.Email), purpose, expires)
		if err != nil {
			return fmt.Errorf("storing account token: %w", err)
		}
		return nil
	})
}

// accountTokenLive reports whether the token could be consumed now, without consuming it: /reset-password
// checks it before spending a password hash on a token that is no good.
func (s *store) accountTokenLive(ctx context.Context, tokenHash []byte, purpose string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_tokens
		WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?`,
		tokenHash, purpose, s.now().UnixNano()).Scan(&n)
	return n == 1, err
}

// consumeAccountToken marks the token used, in tx, and returns its active user; the UPDATE's WHERE makes the
// use single even when two requests race. A token for an email the user no longer has is refused.
func (s *store) consumeAccountToken(ctx context.Context, tx *dbTx, tokenHash []byte, purpose string) (user, error) {
	now := s.now().UnixNano()
	var id, email string
	err := tx.QueryRowContext(ctx, `UPDATE account_tokens SET used_at = ?
		WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
		RETURNING user_id, email_lower`, now, tokenHash, purpose, now).Scan(&id, &email)
	if errors.Is(err, sql.ErrNoRows) {
		return user{}, errAccountTokenInvalid
	}
	if err != nil {
		return user{}, fmt.Errorf("consuming account token: %w", err)
	}
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, errUserNotFound) || (err == nil && (!u.IsActive || emailKey(u.Email) != email)) {
		return user{}, errAccountTokenInvalid
	}
	return u, err
}

// voidResetTokens marks every outstanding reset token of the user used: a new password ends them all.
func voidResetTokens(ctx context.Context, tx *dbTx, userID string, now int64) error {
	_, err := tx.ExecContext(ctx, `UPDATE account_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL`,
		now, userID, purposeReset)
	return err
}

// resetPassword consumes a reset token and sets the password hash of its user, in one transaction.
func (s *store) resetPassword(ctx context.Context, tokenHash []byte, passwordHash string) (u user, err error) {
	err = s.write(ctx, func(tx *dbTx) error {
		if u, err = s.consumeAccountToken(ctx, tx, tokenHash, purposeReset); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET hashed_password = ? WHERE id = ?`, passwordHash, u.ID); err != nil {
			return fmt.Errorf("setting password: %w", err)
		}
		u.passwordHash = passwordHash
		return voidResetTokens(ctx, tx, u.ID, s.now().UnixNano())
	})
	return u, err
}

// verifyEmail consumes a verify token and marks its user's email verified.
func (s *store) verifyEmail(ctx context.Context, tokenHash []byte) (u user, err error) {
	err = s.write(ctx, func(tx *dbTx) error {
		if u, err = s.consumeAccountToken(ctx, tx, tokenHash, purposeVerify); err != nil {
			return err
		}
		u.IsVerified = true
		_, err := tx.ExecContext(ctx, `UPDATE users SET is_verified = 1 WHERE id = ?`, u.ID)
		return err
	})
	return u, err
}

// updateAccount changes the email (when email is not empty; it becomes unverified) and the password hash (when
// passwordHash is not empty; outstanding reset tokens die with the old password) of user id.
func (s *store) updateAccount(ctx context.Context, id, email, passwordHash string) (u user, err error) {
	err = s.write(ctx, func(tx *dbTx) error {
		if email != "" {
			_, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, email_lower = ?, is_verified = 0 WHERE id = ?`,
				email, emailKey(email), id)
			if tx.e.isUniqueViolation(err) {
				return errUserExists
			}
			if err != nil {
				return fmt.Errorf("changing email: %w", err)
			}
		}
		if passwordHash != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET hashed_password = ? WHERE id = ?`, passwordHash, id); err != nil {
				return fmt.Errorf("changing password: %w", err)
			}
			if err := voidResetTokens(ctx, tx, id, s.now().UnixNano()); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		return err
	})
	return u, err
}
