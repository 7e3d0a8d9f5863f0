package main

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminFixture is a server with one superuser (root) and one ordinary user (erin), both logged in.
type adminFixture struct {
	ts                   *testServer
	rootID, erinID       string
	rootToken, erinToken string
}

func newAdminFixture(t *testing.T) adminFixture {
	t.Helper()
	ts := startServer(t, testConfig(t))
	root, _, err := createSuperuser(context.Background(), ts.app.store, ts.app.hasher, ts.cfg.Policy, "root@example.com", classicPassword)
	require.NoError(t, err)
	res := ts.register(t, "erin@example.com", classicPassword)
	require.Equal(t, http.StatusCreated, res.status)
	erinID, _ := res.json(t)["id"].(string)
	return adminFixture{ts: ts, rootID: root.ID, erinID: erinID,
		rootToken: ts.tokenOf(t, "root@example.com", classicPassword),
		erinToken: ts.tokenOf(t, "erin@example.com", classicPassword)}
}

func (ts *testServer) patchUser(t testing.TB, token, id, body string) response {
	t.Helper()
	return ts.do(t, "PATCH", "/admin/users/"+id, "application/json", strings.NewReader(body), bearer(token))
}

func (ts *testServer) deleteUser(t testing.TB, token, id string) response {
	t.Helper()
	return ts.do(t, "DELETE", "/admin/users/"+id, "", nil, bearer(token))
}

// bearer is the Authorization header for token; none for "".
func bearer(token string) http.Header {
	if token == "" {
		return nil
	}
	return http.Header{"Authorization": {"Bearer " + token}}
}

// activeSuperusers counts what the last-superuser rule protects.
func (ts *testServer) activeSuperusers(t testing.TB) int {
	t.Helper()
	var n int
	require.NoError(t, ts.app.store.db.QueryRow(`SELECT COUNT(*) FROM users WHERE is_active = 1 AND is_superuser = 1`).Scan(&n))
	return n
}

func TestAdminUser_GetOne(t *testing.T) {
	f := newAdminFixture(t)
	res := f.ts.get(t, "/admin/users/"+f.erinID, f.rootToken)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	u := res.json(t)
	assert.Equal(t, map[string]any{"id": f.erinID, "email": "erin@example.com", "is_active": true,
		"is_superuser": false, "is_verified": false}, u, "user JSON fields only, never the hash")

	assertError(t, f.ts.get(t, "/admin/users/00000000-0000-4000-8000-000000000000", f.rootToken), http.StatusNotFound, "user_not_found")
	assertError(t, f.ts.get(t, "/admin/users/"+strings.Repeat("a", 100), f.rootToken), http.StatusNotFound, "user_not_found")
}

// Every admin route refuses a caller without a token (401) and an ordinary user (403), and changes nothing.
func TestAdminUser_RefusesNonSuperusers(t *testing.T) {
	f := newAdminFixture(t)
	for _, tc := range []struct {
		name string
		call func(token string) response
	}{
		{"GET", func(tok string) response { return f.ts.get(t, "/admin/users/"+f.rootID, tok) }},
		{"PATCH", func(tok string) response { return f.ts.patchUser(t, tok, f.rootID, `{"is_active":false}`) }},
		{"DELETE", func(tok string) response { return f.ts.deleteUser(t, tok, f.rootID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := tc.call("")
			require.Equal(t, http.StatusUnauthorized, res.status, "no token: %s", res.body)
			assert.Equal(t, `Bearer realm="login-server"`, res.header.Get("WWW-Authenticate"))

			res = tc.call(f.erinToken)
			assertError(t, res, http.StatusForbidden, "insufficient_scope")
			assert.Equal(t, `Bearer realm="login-server", error="insufficient_scope", scope="admin"`, res.header.Get("WWW-Authenticate"))
			assert.NotContains(t, string(res.body), "root@example.com")
		})
	}
	u, err := f.ts.app.store.userByID(context.Background(), f.rootID)
	require.NoError(t, err)
	assert.True(t, u.IsActive && u.IsSuperuser, "nothing changed")
}

func TestAdminUser_DeactivateAndActivate(t *testing.T) {
	f := newAdminFixture(t)
	res := f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_active":false}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, false, res.json(t)["is_active"])

	assertError(t, f.ts.get(t, "/users/me", f.erinToken), http.StatusUnauthorized, "invalid_token")
	assertError(t, f.ts.get(t, "/secret", f.erinToken), http.StatusUnauthorized, "invalid_token")
	assertError(t, f.ts.login(t, "erin@example.com", classicPassword), http.StatusUnauthorized, "invalid_credentials")
	assert.Contains(t, f.ts.logs.String(), `"change":"is_active=false"`, "audit log")

	res = f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_active":true}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, true, res.json(t)["is_active"])
	// Deactivation ended erin's sessions: reactivation does not bring them back; a new login works.
	assertError(t, f.ts.get(t, "/users/me", f.erinToken), http.StatusUnauthorized, "invalid_token")
	assert.Equal(t, http.StatusOK, f.ts.get(t, "/users/me", f.ts.tokenOf(t, "erin@example.com", classicPassword)).status, "active again")
}

func TestAdminUser_PromoteAndDemote(t *testing.T) {
	f := newAdminFixture(t)
	res := f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_superuser":true,"is_verified":true}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, true, res.json(t)["is_superuser"])
	assert.Equal(t, true, res.json(t)["is_verified"])

	assertError(t, f.ts.get(t, "/admin/users", f.erinToken), http.StatusForbidden, "insufficient_scope")
	adminToken := f.ts.tokenOf(t, "erin@example.com", classicPassword)
	require.Equal(t, http.StatusOK, f.ts.get(t, "/admin/users", adminToken).status, "promotion counts from the next login")

	res = f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_superuser":false}`)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	assert.Equal(t, false, res.json(t)["is_superuser"])
	// Demotion ended erin's sessions: the token with the admin scope is revoked.
	assertError(t, f.ts.get(t, "/admin/users", adminToken), http.StatusUnauthorized, "invalid_token")
	assertError(t, f.ts.patchUser(t, adminToken, f.rootID, `{"is_superuser":false}`), http.StatusUnauthorized, "invalid_token")
	userToken := f.ts.tokenOf(t, "erin@example.com", classicPassword)
	assertError(t, f.ts.get(t, "/admin/users", userToken), http.StatusForbidden, "insufficient_scope")
}

func TestAdminUser_Delete(t *testing.T) {
	f := newAdminFixture(t)
	res := f.ts.deleteUser(t, f.rootToken, f.erinID)
	require.Equal(t, http.StatusNoContent, res.status, "body: %s", res.body)
	assert.Empty(t, res.body)

	assertError(t, f.ts.get(t, "/admin/users/"+f.erinID, f.rootToken), http.StatusNotFound, "user_not_found")
	assertError(t, f.ts.deleteUser(t, f.rootToken, f.erinID), http.StatusNotFound, "user_not_found")
	assertError(t, f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_active":true}`), http.StatusNotFound, "user_not_found")
	assertError(t, f.ts.get(t, "/users/me", f.erinToken), http.StatusUnauthorized, "invalid_token")
	assert.Equal(t, http.StatusCreated, f.ts.register(t, "erin@example.com", classicPassword).status, "the email is free again")
}

func TestAdminUser_PatchRefusesBadBodies(t *testing.T) {
	f := newAdminFixture(t)
	for _, tc := range []struct {
		name, contentType, body string
		status                  int
		code                    string
	}{
		{"empty object", "application/json", `{}`, 400, "invalid_request"},
		{"unknown field", "application/json", `{"email":"x@example.com"}`, 400, "invalid_request"},
		{"password is not settable here", "application/json", `{"password":"Kingh_a1234!"}`, 400, "invalid_request"},
		{"not a boolean", "application/json", `{"is_active":"no"}`, 400, "invalid_request"},
		{"trailing data", "application/json", `{"is_active":false}{}`, 400, "invalid_request"},
		{"not JSON", "text/plain", `{"is_active":false}`, 415, "unsupported_media_type"},
		{"over 1 MiB", "application/json", `{"is_active":false,"x":"` + strings.Repeat("a", maxBodyBytes) + `"}`, 413, "request_too_large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := f.ts.do(t, "PATCH", "/admin/users/"+f.erinID, tc.contentType, bytes.NewReader([]byte(tc.body)),
				http.Header{"Authorization": {"Bearer " + f.rootToken}})
			assertError(t, res, tc.status, tc.code)
		})
	}
	u, err := f.ts.app.store.userByID(context.Background(), f.erinID)
	require.NoError(t, err)
	assert.True(t, u.IsActive, "nothing changed")
}

// The last active superuser can be neither demoted, deactivated nor deleted: nobody could administer users
// afterwards. An inactive superuser does not count.
func TestAdminUser_LastSuperuserCannotBeRemoved(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	// A deactivated superuser is no way back in: it cannot log in.
	_, _, err := createSuperuser(ctx, f.ts.app.store, f.ts.app.hasher, f.ts.cfg.Policy, "dormant@example.com", classicPassword)
	require.NoError(t, err)
	f.ts.setActive(t, "dormant@example.com", false)

	for name, call := range map[string]func() response{
		"demote":     func() response { return f.ts.patchUser(t, f.rootToken, f.rootID, `{"is_superuser":false}`) },
		"deactivate": func() response { return f.ts.patchUser(t, f.rootToken, f.rootID, `{"is_active":false}`) },
		"delete":     func() response { return f.ts.deleteUser(t, f.rootToken, f.rootID) },
	} {
		m := assertError(t, call(), http.StatusConflict, "last_superuser")
		assert.Contains(t, m["error_description"], "promote another user first", name)
	}
	assert.Equal(t, 1, f.ts.activeSuperusers(t))
	res := f.ts.patchUser(t, f.rootToken, f.rootID, `{"is_verified":true}`)
	assert.Equal(t, http.StatusOK, res.status, "other changes to the last superuser are fine: %s", res.body)

	require.Equal(t, http.StatusOK, f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_superuser":true}`).status)
	res = f.ts.patchUser(t, f.rootToken, f.rootID, `{"is_superuser":false}`)
	assert.Equal(t, http.StatusOK, res.status, "with another active superuser, root may step down: %s", res.body)
	assert.Equal(t, 1, f.ts.activeSuperusers(t))
}

// The caller's rights are read in the same transaction as the change: one demoted between the middleware's
// check and the write changes nothing.
func TestStore_AdminChangeRechecksTheCaller(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	off := false
	for name, change := range map[string]adminChange{
		"an ordinary user":  {callerID: f.erinID, targetID: f.rootID, patch: &userPatch{IsActive: &off}},
		"an unknown caller": {callerID: "nobody", targetID: f.erinID},
	} {
		_, _, err := f.ts.app.store.adminChangeUser(ctx, change)
		assert.ErrorIs(t, err, errNotSuperuser, name)
	}
	assert.Equal(t, 2, f.ts.countUsers(t))
	assert.Equal(t, 1, f.ts.activeSuperusers(t))
}

// Two superusers removing each other, or themselves, at the same moment: the transactions serialize, the
// second sees the first's change, and exactly one superuser is left every time.
func TestAdminUser_ConcurrentDemotionsLeaveOneSuperuser(t *testing.T) {
	f := newAdminFixture(t)
	ctx := context.Background()
	require.Equal(t, http.StatusOK, f.ts.patchUser(t, f.rootToken, f.erinID, `{"is_superuser":true}`).status)
	erinAdmin := f.ts.tokenOf(t, "erin@example.com", classicPassword)
	callers := []struct{ id, token string }{{f.rootID, f.rootToken}, {f.erinID, erinAdmin}}
	restore := func() {
		_, err := f.ts.app.store.wdb.Exec(`UPDATE users SET is_active = 1, is_superuser = 1 WHERE id IN (?, ?)`, f.rootID, f.erinID)
		require.NoError(t, err)
		// The demotion also revoked the loser's sessions; bring the callers' tokens back for the next round.
		_, err = f.ts.app.store.wdb.Exec(`UPDATE refresh_families SET revoked_at = NULL`)
		require.NoError(t, err)
	}
	for _, mode := range []string{"each other", "themselves"} {
		for _, body := range []string{`{"is_superuser":false}`, `{"is_active":false}`} {
			for round := range 5 {
				restore()
				statuses := make([]int, 2)
				var wg sync.WaitGroup
				for i, c := range callers {
					target := callers[1-i].id
					if mode == "themselves" {
						target = c.id
					}
					wg.Go(func() { statuses[i] = f.ts.patchUser(t, c.token, target, body).status })
				}
				wg.Wait()
				assert.Equal(t, 1, f.ts.activeSuperusers(t), "%s, %s, round %d: %v", mode, body, round, statuses)
				assert.Contains(t, statuses, http.StatusOK, "%s, %s: one of them wins", mode, body)
				// The loser was demoted by the winner: refused in the transaction (403), or, when the winner's
				// revocation of its sessions came first, by the verifier (401).
				refused := slices.Contains(statuses, http.StatusForbidden) || slices.Contains(statuses, http.StatusUnauthorized)
				if mode == "themselves" {
					refused = slices.Contains(statuses, http.StatusConflict) // the loser is the last one
				}
				assert.True(t, refused, "%s, %s: the other is refused: %v", mode, body, statuses)
			}
		}
	}
	restore()
	var wg sync.WaitGroup
	for _, c := range callers {
		wg.Go(func() { f.ts.deleteUser(t, c.token, c.id) })
	}
	wg.Wait()
	assert.Equal(t, 1, f.ts.activeSuperusers(t), "deleting themselves at once: one stays")
	_, err := f.ts.app.store.userByID(ctx, f.rootID)
	_, err2 := f.ts.app.store.userByID(ctx, f.erinID)
	assert.True(t, (err == nil) != (err2 == nil), "exactly one of them is gone: %v, %v", err, err2)
}
