package jwtauth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequireScope_NeedsEveryScope(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Realm = "api" })
	cases := []struct {
		name   string
		claims map[string]any
		scopes []string
		status int
	}{
		{"scope string", map[string]any{"scope": "read:messages"}, []string{"read:messages"}, 200},
		{"permissions array", map[string]any{"scope": nil, "permissions": []string{"read:messages"}}, []string{"read:messages"}, 200},
		{"scp array", map[string]any{"scope": nil, "scp": []string{"read:messages"}}, []string{"read:messages"}, 200},
		{"scp string", map[string]any{"scope": nil, "scp": "write read:messages"}, []string{"read:messages"}, 200},
		{"all from different claims", map[string]any{"scope": "a", "permissions": []string{"b"}}, []string{"a", "b"}, 200},
		{"one missing", map[string]any{"scope": "a"}, []string{"a", "b"}, 403},
		{"no scope claims", map[string]any{"scope": nil}, []string{"a"}, 403},
		{"case matters", map[string]any{"scope": "Read:Messages"}, []string{"read:messages"}, 403},
		{"prefix is not a match", map[string]any{"scope": "read:messages:all"}, []string{"read:messages"}, 403},
		{"tab is not a separator", map[string]any{"scope": "a\tread:messages"}, []string{"read:messages"}, 403},
		{"comma is not a separator", map[string]any{"scope": "a,read:messages"}, []string{"read:messages"}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &okHandler{}
			w := serve(f.v.RequireAuth(jwtauth.RequireScope(tc.scopes...)(h)), "Bearer "+f.token(nil, tc.claims))
			assert.Equal(t, tc.status, w.Code)
			if tc.status == 403 {
				assert.Zero(t, h.count())
				assert.Equal(t, `Bearer realm="api", error="insufficient_scope", scope="`+joinSpace(tc.scopes)+`"`, w.Header().Get("WWW-Authenticate"))
				assert.Equal(t, "insufficient_scope", errorBody(t, w)["error"])
			}
		})
	}
}

func TestRequireAnyScope_NeedsOneScope(t *testing.T) {
	f := newLocal(t, "ES256")
	mw := jwtauth.RequireAnyScope("admin", "read:messages")
	assert.Equal(t, 200, serve(f.v.RequireAuth(mw(&okHandler{})), "Bearer "+f.token(nil, map[string]any{"scope": "read:messages"})).Code)
	w := serve(f.v.RequireAuth(mw(&okHandler{})), "Bearer "+f.token(nil, map[string]any{"scope": "other"}))
	assert.Equal(t, 403, w.Code)
	assert.Equal(t, `Bearer error="insufficient_scope", scope="admin read:messages"`, w.Header().Get("WWW-Authenticate"))
}

func TestRequireScope_WithoutRequireAuthAnswers401(t *testing.T) {
	h := &okHandler{}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	require.NotPanics(t, func() { jwtauth.RequireScope("a")(h).ServeHTTP(w, r) })
	assert.Equal(t, 401, w.Code)
	assert.Equal(t, "Bearer", w.Header().Get("WWW-Authenticate"))
	assert.Zero(t, h.count())
}

func TestRequireScope_PanicsOnInvalidScopeAtSetup(t *testing.T) {
	for _, s := range []string{"", "a b", `a"b`, `a\b`, "é"} {
		assert.Panics(t, func() { jwtauth.RequireScope(s) }, "%q", s)
	}
	assert.Panics(t, func() { jwtauth.RequireScope() })
}

func TestClaims_ScopeMethods(t *testing.T) {
	c := &jwtauth.Claims{Scopes: []string{"a", "b"}}
	assert.True(t, c.HasAllScopes("a", "b"))
	assert.False(t, c.HasAllScopes("a", "c"))
	assert.True(t, c.HasAnyScope("c", "b"))
	assert.False(t, c.HasAnyScope("c"))
	assert.True(t, c.HasAllScopes(), "no scope required")
}

func joinSpace(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

func TestClaims_CheckScopesRefusesLikeRequireScope(t *testing.T) {
	c := &jwtauth.Claims{Scopes: []string{"a", "b"}}
	assert.NoError(t, c.CheckScopes("a", "b"))
	assert.NoError(t, c.CheckAnyScope("c", "b"))
	for _, err := range []error{c.CheckScopes("a", "c"), c.CheckAnyScope("c", "d")} {
		require.ErrorIs(t, err, jwtauth.ErrInsufficientScope)
		var e *jwtauth.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusForbidden, e.Status())
		assert.Equal(t, "insufficient_scope", e.Code())
		assert.Equal(t, "insufficient scope", e.Description())
	}
	var e *jwtauth.Error
	require.ErrorAs(t, c.CheckScopes("a", "c"), &e)
	assert.Equal(t, []string{"a", "c"}, e.RequiredScopes())
}

// CheckScopes takes any strings, including ones a handler built from the request; the challenge carries only
// valid scope tokens, so none of them can add attributes to it ("x", error="...) or break its quoting.
func TestChallenge_CarriesOnlyValidScopeTokens(t *testing.T) {
	f := newLocal(t, "ES256")
	c := &jwtauth.Claims{Scopes: []string{"a"}}
	err := c.CheckScopes("read", `x", error_description="forged`, "b\\", "c d")
	require.ErrorIs(t, err, jwtauth.ErrInsufficientScope)
	assert.Equal(t, `Bearer error="insufficient_scope", scope="read"`, f.v.Challenge(err))

	w := httptest.NewRecorder()
	f.v.Refuse(w, httptest.NewRequest(http.MethodGet, "/", nil), err)
	assert.Equal(t, `Bearer error="insufficient_scope", scope="read"`, w.Header().Get("WWW-Authenticate"))
}
