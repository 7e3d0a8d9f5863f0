package jwtauth_test

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var errNotOwner = errors.New("caller does not own the record")

func TestRequire_RefusesThroughTheLibrarysResponsePath(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Realm = "api" })
	cases := []struct {
		name      string
		check     func(*jwtauth.Claims) error
		status    int
		challenge string
		body      string
		is        []error
	}{
		{"accepted", func(*jwtauth.Claims) error { return nil }, 200, "", "ok", nil},
		{"plain error is a 403",
			func(*jwtauth.Claims) error { return errNotOwner }, 403,
			`Bearer realm="api", error="insufficient_scope", error_description="access denied"`,
			`{"error":"insufficient_scope","error_description":"access denied"}`,
			[]error{jwtauth.ErrAccessDenied, errNotOwner}},
		{"Reject is a 401",
			func(*jwtauth.Claims) error { return jwtauth.Reject(errNotOwner) }, 401,
			`Bearer realm="api", error="invalid_token", error_description="token not accepted"`,
			`{"error":"invalid_token","error_description":"token not accepted"}`,
			[]error{jwtauth.ErrTokenRejected, jwt.ErrTokenInvalidClaims, errNotOwner}},
		{"a wrapped Reject keeps its status and the wrapper",
			func(*jwtauth.Claims) error { return errors.Join(errNotOwner, jwtauth.Reject(nil)) }, 401,
			`Bearer realm="api", error="invalid_token", error_description="token not accepted"`,
			`{"error":"invalid_token","error_description":"token not accepted"}`,
			[]error{jwtauth.ErrTokenRejected, errNotOwner}},
		{"the user's message never reaches the wire",
			func(*jwtauth.Claims) error { return errors.New(`secret "detail" \ here`) }, 403,
			`Bearer realm="api", error="insufficient_scope", error_description="access denied"`,
			`{"error":"insufficient_scope","error_description":"access denied"}`,
			[]error{jwtauth.ErrAccessDenied}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := serve(f.v.RequireAuth(jwtauth.Require(tc.check)(&okHandler{})), "Bearer "+f.token(nil, nil))
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
			if tc.status == 200 {
				assert.Equal(t, tc.body, w.Body.String())
			} else {
				assert.JSONEq(t, tc.body, w.Body.String())
			}
		})
	}
	for _, tc := range cases {
		if tc.status == 200 {
			continue
		}
		t.Run(tc.name+" through ErrorHandler", func(t *testing.T) {
			var got error
			g := newLocal(t, "ES256", func(c *jwtauth.Config) {
				c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
					got = err
					w.WriteHeader(http.StatusTeapot)
				}
			})
			w := serve(g.v.RequireAuth(jwtauth.Require(tc.check)(&okHandler{})), "Bearer "+g.token(nil, nil))
			assert.Equal(t, http.StatusTeapot, w.Code)
			var e *jwtauth.Error
			require.True(t, errors.As(got, &e), "ErrorHandler gets an *Error: %T", got)
			assert.Equal(t, tc.status, e.Status())
			for _, target := range tc.is {
				assert.ErrorIs(t, got, target)
			}
		})
	}
}

func TestRequire_SeesTheVerifiedClaims(t *testing.T) {
	f := newLocal(t, "ES256")
	var sub string
	mw := jwtauth.Require(func(c *jwtauth.Claims) error { sub = c.Subject; return nil })
	assert.Equal(t, 200, serve(f.v.RequireAuth(mw(&okHandler{})), "Bearer "+f.token(nil, map[string]any{"sub": "alice"})).Code)
	assert.Equal(t, "alice", sub)
}

func TestRequire_WithoutRequireAuthAnswers401AndNeverCallsTheCheck(t *testing.T) {
	called := false
	w := httptest.NewRecorder()
	jwtauth.Require(func(*jwtauth.Claims) error { called = true; return nil })(&okHandler{}).
		ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, 401, w.Code)
	assert.False(t, called)
	assert.Panics(t, func() { jwtauth.Require(nil) })
}

func TestVerifierRefuse_AnswersLikeTheMiddleware(t *testing.T) {
	f := newLocal(t, "ES256", func(c *jwtauth.Config) { c.Realm = "api" })
	cases := []struct {
		name      string
		err       error
		status    int
		challenge string
	}{
		{"plain error", errNotOwner, 403, `Bearer realm="api", error="insufficient_scope", error_description="access denied"`},
		{"Deny", jwtauth.Deny(errNotOwner), 403, `Bearer realm="api", error="insufficient_scope", error_description="access denied"`},
		{"Reject", jwtauth.Reject(errNotOwner), 401, `Bearer realm="api", error="invalid_token", error_description="token not accepted"`},
		{"nil is a denial", nil, 403, `Bearer realm="api", error="insufficient_scope", error_description="access denied"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			f.v.Refuse(w, httptest.NewRequest(http.MethodGet, "/", nil), tc.err)
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, tc.challenge, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		})
	}
}

func TestDenyReject_WrapTheUsersError(t *testing.T) {
	d := jwtauth.Deny(errNotOwner)
	assert.ErrorIs(t, d, errNotOwner)
	assert.ErrorIs(t, d, jwtauth.ErrAccessDenied)
	assert.Equal(t, "jwtauth: access denied: caller does not own the record", d.Error())
	assert.Equal(t, "insufficient_scope", d.Code())
	r := jwtauth.Reject(errNotOwner)
	assert.ErrorIs(t, r, errNotOwner)
	assert.Equal(t, "invalid_token", r.Code())
	assert.Equal(t, "jwtauth: token not accepted", jwtauth.Reject(nil).Error())
	assert.Same(t, r, jwtauth.Deny(r), "an *Error is kept as it is")
}

func TestVerify_RunsTheIssuersValidateHookLast(t *testing.T) {
	errWrongClient := errors.New("azp is not my-app")
	cases := []struct {
		name   string
		claims map[string]any
		hook   func(*jwtauth.Claims) error
		called bool
		err    []error
		status int
	}{
		{"accepted", map[string]any{"azp": "my-app"}, func(c *jwtauth.Claims) error { return nil }, true, nil, 0},
		{"refused is 401 and wraps the user's error", map[string]any{"azp": "other"},
			func(c *jwtauth.Claims) error { return errWrongClient }, true,
			[]error{jwtauth.ErrTokenRejected, jwt.ErrTokenInvalidClaims, errWrongClient}, 401},
		{"a Deny from the hook is a 403", nil,
			func(c *jwtauth.Claims) error { return jwtauth.Deny(errWrongClient) }, true,
			[]error{jwtauth.ErrAccessDenied, errWrongClient}, 403},
		{"not called for an expired token", map[string]any{"exp": 1_700_000_000},
			func(c *jwtauth.Claims) error { return errWrongClient }, false,
			[]error{jwt.ErrTokenExpired}, 401},
		{"not called for a wrong audience", map[string]any{"aud": "other"},
			func(c *jwtauth.Claims) error { return errWrongClient }, false,
			[]error{jwt.ErrTokenInvalidAudience}, 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			var sawRoles []string
			f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles")), func(c *jwtauth.Config) {
				c.Issuers[0].Validate = func(c *jwtauth.Claims) error {
					called, sawRoles = true, c.Roles
					return tc.hook(c)
				}
			})
			claims := map[string]any{"roles": []string{"r"}}
			for k, v := range tc.claims {
				claims[k] = v
			}
			c, err := f.verify(f.token(nil, claims))
			assert.Equal(t, tc.called, called)
			if tc.err == nil {
				require.NoError(t, err)
				assert.Equal(t, []string{"r"}, sawRoles, "the hook sees the roles")
				assert.NotNil(t, c)
				return
			}
			for _, target := range tc.err {
				assert.ErrorIs(t, err, target)
			}
			var e *jwtauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, tc.status, e.Status())
			if called {
				assert.Contains(t, err.Error(), `TrustedIssuer.Validate of issuer "`+testIssuer+`"`)
			}
		})
	}
}

func TestVerify_ValidateHookRunsOnCachedTokensToo(t *testing.T) {
	var calls atomic.Int32
	var refuse atomic.Bool
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Issuers[0].Validate = func(*jwtauth.Claims) error {
			calls.Add(1)
			if refuse.Load() {
				return errNotOwner
			}
			return nil
		}
	})
	tok := f.token(nil, nil)
	_, err := f.verify(tok)
	require.NoError(t, err)
	_, err = f.verify(tok)
	require.NoError(t, err)
	assert.EqualValues(t, 2, calls.Load())
	refuse.Store(true)
	_, err = f.verify(tok)
	assert.ErrorIs(t, err, errNotOwner, "a cached token is refused once the hook refuses it")
}

func TestRequireAuth_ValidateRefusalGoesThroughErrorHandler(t *testing.T) {
	var got error
	f := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Realm = "api"
		c.Issuers[0].Validate = func(*jwtauth.Claims) error { return errNotOwner }
	})
	w := serve(f.v.RequireAuth(&okHandler{}), "Bearer "+f.token(nil, nil))
	assert.Equal(t, 401, w.Code)
	assert.Equal(t, `Bearer realm="api", error="invalid_token", error_description="token not accepted"`, w.Header().Get("WWW-Authenticate"))
	assert.JSONEq(t, `{"error":"invalid_token","error_description":"token not accepted"}`, w.Body.String())

	g := newLocal(t, "ES256", func(c *jwtauth.Config) {
		c.Issuers[0].Validate = func(*jwtauth.Claims) error { return errNotOwner }
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) { got = err; w.WriteHeader(499) }
	})
	assert.Equal(t, 499, serve(g.v.RequireAuth(&okHandler{}), "Bearer "+g.token(nil, nil)).Code)
	assert.ErrorIs(t, got, errNotOwner)
	assert.ErrorIs(t, got, jwtauth.ErrTokenRejected)
}

func TestAuthorization_RefusalsAreLoggedLikeTokenRefusals(t *testing.T) {
	var logs logCapture
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles")), func(c *jwtauth.Config) { c.Logger = logs.logger(slog.LevelInfo) })
	tok := "Bearer " + f.token(nil, map[string]any{"roles": []string{"user"}, "scope": "read"})
	deny := jwtauth.Require(func(*jwtauth.Claims) error { return errNotOwner })
	for _, mw := range []func(http.Handler) http.Handler{jwtauth.RequireRole("admin"), jwtauth.RequireScope("write"), deny} {
		assert.Equal(t, 403, serve(f.v.RequireAuth(mw(&okHandler{})), tok).Code)
	}
	var reasons, statuses []any
	for _, r := range logs.records(refusedMsg) {
		reasons, statuses = append(reasons, r["reason"]), append(statuses, r["status"])
	}
	assert.Equal(t, []any{"insufficient role", "insufficient scope", "access denied"}, reasons)
	assert.Equal(t, []any{403.0, 403.0, 403.0}, statuses)
	assert.Contains(t, logs.String(), errNotOwner.Error(), "the user's reason is in the log")
	assert.Equal(t, 200, serve(f.v.RequireAuth(jwtauth.RequireRole("user")(&okHandler{})), tok).Code)
	assert.Len(t, logs.records(refusedMsg), 3, "granted requests are not logged")
}
