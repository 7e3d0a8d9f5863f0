package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/jwtauth-go/jwtauth"
)

// User administration: GET, PATCH and DELETE /admin/users/{id}, for active superusers.

var (
	// errNotSuperuser: the caller, re-read inside the transaction that would make the change, is no longer an
	// active superuser.
	errNotSuperuser = errors.New("the caller is no longer an active superuser")
	// errLastSuperuser: the change would leave no active superuser, and nobody could administer users again
	// except through create-superuser on the server's machine.
	errLastSuperuser = errors.New("the change would leave no active superuser")
)

// maxUserIDLen bounds the {id} of /admin/users/{id}: ids are UUIDs (36 bytes); anything much longer is no id.
const maxUserIDLen = 64

// userPatch is the body of PATCH /admin/users/{id}: the flags to set; absent ones stay as they are.
type userPatch struct {
	IsActive    *bool `json:"is_active"`
	IsSuperuser *bool `json:"is_superuser"`
	IsVerified  *bool `json:"is_verified"`
}

func (p userPatch) empty() bool {
	return p.IsActive == nil && p.IsSuperuser == nil && p.IsVerified == nil
}

// apply returns u with the patch's flags set.
func (p userPatch) apply(u user) user {
	if p.IsActive != nil {
		u.IsActive = *p.IsActive
	}
	if p.IsSuperuser != nil {
		u.IsSuperuser = *p.IsSuperuser
	}
	if p.IsVerified != nil {
		u.IsVerified = *p.IsVerified
	}
	return u
}

// adminChangeLock is the key admin changes serialize on (engine.serialize).
const adminChangeLock = 0x6a77746175746802

// adminChange is what one admin request does to a user: patch it, or (patch nil) delete it.
type adminChange struct {
	callerID, targetID string
	patch              *userPatch
}

// adminChangeUser applies change in one write transaction, which also re-reads the caller: the caller must
// still be an active superuser (errNotSuperuser), the target must exist (errUserNotFound), and at least one
// active superuser must remain afterwards (errLastSuperuser). One transaction, under SQLite's write lock
// (BEGIN IMMEDIATE) held across processes too, so two superusers demoting each other at once cannot leave
// none: the second sees the first's change. It returns the user before and after (zero after a delete).
func (s *store) adminChangeUser(ctx context.Context, change adminChange) (before, after user, err error) {
	err = s.write(ctx, func(tx *dbTx) error {
		// Under READ COMMITTED (PostgreSQL) two demotions would each count the other superuser; they queue instead.
		if err := tx.e.serialize(ctx, tx, adminChangeLock); err != nil {
			return err
		}
		byID := func(id string) (user, error) {
			return scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
		}
		caller, err := byID(change.callerID)
		if errors.Is(err, errUserNotFound) || (err == nil && (!caller.IsActive || !caller.IsSuperuser)) {
			return errNotSuperuser
		}
		if err != nil {
			return err
		}
		if before, err = byID(change.targetID); err != nil {
			return err
		}
		after = user{}
		if change.patch != nil {
			after = change.patch.apply(before)
		}
		if before.IsActive && before.IsSuperuser && !(after.IsActive && after.IsSuperuser) {
			var others int
			if err := tx.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM users WHERE is_active = 1 AND is_superuser = 1 AND id <> ?`, before.ID,
			).Scan(&others); err != nil {
				return fmt.Errorf("counting superusers: %w", err)
			}
			if others == 0 {
				return errLastSuperuser
			}
		}
		if change.patch == nil {
			_, err = tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, before.ID)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE users SET is_active = ?, is_superuser = ?, is_verified = ? WHERE id = ?`,
				after.IsActive, after.IsSuperuser, after.IsVerified, before.ID)
		}
		return err
	})
	if err != nil {
		return user{}, user{}, err
	}
	return before, after, nil
}

// userIDFrom reads {id}; an id no user can have is answered 404 here, before any lookup.
func userIDFrom(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if id == "" || len(id) > maxUserIDLen {
		writeUserNotFound(w)
		return "", false
	}
	return id, true
}

func writeUserNotFound(w http.ResponseWriter) {
	writeError(w, http.StatusNotFound, "user_not_found", "no user has this id; GET /admin/users lists them")
}

func (a *app) adminGetUser(w http.ResponseWriter, r *http.Request) {
	id, ok := userIDFrom(w, r)
	if !ok {
		return
	}
	u, err := a.store.userByID(r.Context(), id)
	switch {
	case errors.Is(err, errUserNotFound):
		writeUserNotFound(w)
	case err != nil:
		a.serverError(w, r, "looking up user", err)
	default:
		writeJSON(w, http.StatusOK, u)
	}
}

func (a *app) adminPatchUser(w http.ResponseWriter, r *http.Request) {
	id, ok := userIDFrom(w, r)
	if !ok {
		return
	}
	if !hasMediaType(r, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		return
	}
	var p userPatch
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&p)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data")
	}
	switch {
	case isTooLarge(err):
		writeTooLarge(w)
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request",
			"the body must be one JSON object with only the boolean fields is_active, is_superuser, is_verified")
		return
	case p.empty():
		writeError(w, http.StatusBadRequest, "invalid_request",
			"nothing to change: set at least one of is_active, is_superuser, is_verified")
		return
	}
	a.adminChange(w, r, adminChange{targetID: id, patch: &p})
}

func (a *app) adminDeleteUser(w http.ResponseWriter, r *http.Request) {
	id, ok := userIDFrom(w, r)
	if !ok {
		return
	}
	a.adminChange(w, r, adminChange{targetID: id})
}

// adminChange runs a PATCH or DELETE and answers it.
func (a *app) adminChange(w http.ResponseWriter, r *http.Request, change adminChange) {
	ctx := r.Context()
	c, _ := jwtauth.ClaimsFromContext(ctx)
	change.callerID = c.Subject
	before, after, err := a.store.adminChangeUser(ctx, change)
	switch {
	case errors.Is(err, errNotSuperuser):
		a.log.WarnContext(ctx, "admin change refused: the caller is no longer an active superuser", "user_id", c.Subject)
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="insufficient_scope", scope="`+adminScope+`"`)
		writeError(w, http.StatusForbidden, "insufficient_scope", "the token's user is no longer an active superuser")
		return
	case errors.Is(err, errUserNotFound):
		writeUserNotFound(w)
		return
	case errors.Is(err, errLastSuperuser):
		a.log.InfoContext(ctx, "admin change refused: last active superuser", "actor_id", c.Subject, "user_id", change.targetID)
		writeError(w, http.StatusConflict, "last_superuser",
			"this is the last active superuser: it cannot be demoted, deactivated or deleted; promote another user first")
		return
	case err != nil:
		a.serverError(w, r, "changing user", err)
		return
	}
	deleted := change.patch == nil
	a.log.InfoContext(ctx, "admin changed user", "actor_id", c.Subject, "user_id", before.ID,
		"change", describeChange(before, after, deleted))
	// The user's outstanding tokens must stop working at once, on every route, refresh tokens included. An
	// inactive user is revoked again on every PATCH, so that repeating a deactivation whose revocation failed
	// (503) publishes it.
	if deleted || !after.IsActive || (before.IsSuperuser && !after.IsSuperuser) {
		if err := a.revokeUserAfterAdminChange(ctx, before.ID); err != nil {
			a.revocationFailed(w, "the change is saved", err)
			return
		}
	}
	if deleted {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, after)
}

// revokeUserAfterAdminChange is the one call site where user administration revokes a user's tokens.
// Every session ends: refresh tokens stop working, and access tokens at the next request (refresh.go).
func (a *app) revokeUserAfterAdminChange(ctx context.Context, userID string) error {
	return a.revokeUser(ctx, userID, revokeAdmin, "")
}

// describeChange names what an admin request changed, for the audit log: "deleted" or "is_active=false ...".
func describeChange(before, after user, deleted bool) string {
	if deleted {
		return "deleted"
	}
	var parts []string
	flag := func(name string, was, is bool) {
		if was != is {
			parts = append(parts, fmt.Sprintf("%s=%t", name, is))
		}
	}
	flag("is_active", before.IsActive, after.IsActive)
	flag("is_superuser", before.IsSuperuser, after.IsSuperuser)
	flag("is_verified", before.IsVerified, after.IsVerified)
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}
