package main

// DPoP at login (RFC 9449 §5): a login request with a valid DPoP proof gets an access token bound to the
// proof's key (cnf.jkt) and token_type "DPoP"; its session remembers the key (refresh_families.jkt), so that
// refreshed access tokens stay bound to it. Without a DPoP header, logins stay bearer, as CONTRACTS.md says.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"

	"github.com/jwtauth-go/jwtauth"
)

// newDPoPProofs checks the proofs of logins. The login server's public URL is its issuer identifier, so a
// proof's htu is JWT_ISSUER + "/login"; Host and X-Forwarded-* are never used. replay is the Redis replay
// store shared by the replicas (REDIS_URL), nil for the built-in one of this process.
func newDPoPProofs(cfg config, replay jwtauth.ReplayStore) (*jwtauth.DPoPProofVerifier, error) {
	return jwtauth.NewDPoPProofVerifier(dpopOptions(cfg, replay), cfg.Clock)
}

// dpopOptions are the DPoP options of logins and of the Verifier of the server's own protected routes.
func dpopOptions(cfg config, replay jwtauth.ReplayStore) jwtauth.DPoPOptions {
	return jwtauth.DPoPOptions{ExternalURL: cfg.Issuer, Replay: replay}
}

// loginDPoP checks the login (or refresh) request's DPoP proof, when it has a DPoP header, after the password matched (so
// only users fill the replay store). It returns the proof key's thumbprint, "" for a bearer login; ok is false
// when it has answered: 400 invalid_dpop_proof (RFC 9449 §5), or 503 when the replay check is down.
func (a *app) loginDPoP(w http.ResponseWriter, r *http.Request) (jkt string, ok bool) {
	if len(r.Header.Values("DPoP")) == 0 {
		return "", true
	}
	jkt, err := a.dpopProofs.Verify(r)
	if err == nil {
		return jkt, true
	}
	const e503 = "DPoP replay check unavailable"
	var e *jwtauth.Error
	switch {
	case errors.Is(err, jwtauth.ErrReplayUnavailable):
		a.log.ErrorContext(r.Context(), "DPoP replay check unavailable", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", e503)
	case errors.As(err, &e):
		a.log.InfoContext(r.Context(), "login refused: DPoP proof invalid", "err", err)
		writeError(w, http.StatusBadRequest, e.Code(), e.Description())
	default:
		a.serverError(w, r, "checking DPoP proof", err)
	}
	return "", false
}

// refreshDPoP requires, for the refresh of a session bound to a DPoP key, a proof by that key (RFC 9449 §5:
// refresh tokens of public clients are bound to the key), so that a stolen refresh token is not even spent
// without it. ok is false when it has answered.
func (a *app) refreshDPoP(w http.ResponseWriter, r *http.Request, tokenHash []byte) (ok bool) {
	bound, err := a.store.sessionKeyOf(r.Context(), tokenHash)
	if err != nil {
		a.serverError(w, r, "looking up the session's DPoP key", err)
		return false
	}
	if bound == "" {
		return true // a bearer session, or no such token: rotateRefresh answers
	}
	if len(r.Header.Values("DPoP")) == 0 {
		writeError(w, http.StatusBadRequest, "invalid_dpop_proof", "DPoP proof missing")
		return false
	}
	jkt, ok := a.loginDPoP(w, r)
	if ok && jkt != bound {
		a.log.WarnContext(r.Context(), "refresh refused: DPoP proof by another key than the session's")
		writeError(w, http.StatusBadRequest, "invalid_dpop_proof", "DPoP proof key does not match token")
		return false
	}
	return ok
}

// sessionKeyOf returns the DPoP key thumbprint of the session of a refresh token; "" when it is unbound or
// unknown.
func (s *store) sessionKeyOf(ctx context.Context, tokenHash []byte) (string, error) {
	var jkt sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT f.jkt FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
		WHERE t.token_hash = ?`, tokenHash).Scan(&jkt)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return jkt.String, err
}

// bindSession binds session familyID to the DPoP key jkt, before its refresh token is handed out.
func (s *store) bindSession(ctx context.Context, familyID, jkt string) error {
	return s.write(ctx, func(tx *dbTx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE refresh_families SET jkt = ? WHERE id = ?`, jkt, familyID); err != nil {
			return fmt.Errorf("binding session to its DPoP key: %w", err)
		}
		return nil
	})
}

// tokenType is the token_type of an access token bound to jkt (RFC 9449 §5: "DPoP") or not (CONTRACTS.md: "bearer").
func tokenType(jkt string) string {
	if jkt != "" {
		return "DPoP"
	}
	return "bearer"
}
