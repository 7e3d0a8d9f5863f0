package jwtauthtest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClaims_AgreesWithTheRawJSON(t *testing.T) {
	c := jwtauthtest.Claims(t, map[string]any{
		"sub":    "alice",
		"aud":    []string{"api-1", "api-2"},
		"scope":  "read write",
		"groups": []string{"admins"},
		"email":  "alice@example.com",
	}, jwtauth.RolesAt("groups"))
	assert.Equal(t, jwtauthtest.ClaimsIssuer, c.Issuer)
	assert.Equal(t, "alice", c.Subject)
	assert.Equal(t, []string{"api-1", "api-2"}, c.Audience)
	assert.Equal(t, []string{"read", "write"}, c.Scopes)
	assert.Equal(t, []string{"admins"}, c.Roles)
	assert.WithinDuration(t, time.Now().Add(time.Hour), c.ExpiresAt, 5*time.Second)
	email, err := jwtauth.GetClaim[string](c, "email")
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", email)
	assert.Contains(t, string(c.RawJSON()), `"exp":`)
}

func TestClaims_KeepsChosenTimesValid(t *testing.T) {
	exp := time.Unix(1_600_000_000, 0) // long past: the verifying clock follows the claims
	c := jwtauthtest.Claims(t, map[string]any{"iss": "https://other.example/", "exp": exp.Unix(), "iat": exp.Unix() - 60})
	assert.Equal(t, "https://other.example/", c.Issuer)
	assert.Equal(t, exp, c.ExpiresAt)
	assert.Equal(t, exp.Add(-time.Minute), c.IssuedAt)
}

type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Fatalf(format string, args ...any) { f.msg = fmt.Sprintf(format, args...) }

func TestClaims_FailsTheTestForClaimsVerifyWouldRefuse(t *testing.T) {
	for name, claims := range map[string]map[string]any{
		"no issuer":       {"iss": nil},
		"iss not string":  {"iss": 5},
		"sender-bound":    {"cnf": map[string]any{"jkt": "x"}},
		"exp as a string": {"exp": "tomorrow"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &fatalRecorder{TB: t}
			assert.Nil(t, jwtauthtest.Claims(rec, claims))
			assert.Contains(t, rec.msg, "jwtauthtest: Claims")
		})
	}
}

func TestClaims_DriveHandlersWithoutAnIdP(t *testing.T) {
	h := jwtauth.RequireRole("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		_, _ = w.Write([]byte(c.Subject))
	}))
	for _, tc := range []struct {
		groups []string
		status int
	}{{[]string{"admin"}, 200}, {[]string{"user"}, 403}} {
		c := jwtauthtest.Claims(t, map[string]any{"sub": "u1", "groups": tc.groups}, jwtauth.RolesAt("groups"))
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(jwtauth.NewContext(r.Context(), c)))
		assert.Equal(t, tc.status, w.Code)
		if tc.status == 403 {
			assert.Equal(t, `Bearer error="insufficient_scope", error_description="insufficient role"`, w.Header().Get("WWW-Authenticate"))
		} else {
			assert.Equal(t, "u1", w.Body.String())
		}
	}
}
