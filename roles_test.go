package jwtauth_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// withRoles configures the fixture's issuer to read roles from rcs.
func withRoles(rcs ...jwtauth.RoleClaim) func(*jwtauth.Config) {
	return func(c *jwtauth.Config) { c.Issuers[0].Roles = rcs }
}

func TestVerify_ReadsRolesFromEachProvidersClaim(t *testing.T) {
	cases := []struct {
		name   string
		rcs    []jwtauth.RoleClaim
		claims map[string]any
		want   []string
	}{
		{"Entra roles", []jwtauth.RoleClaim{jwtauth.RolesAt("roles")},
			map[string]any{"roles": []string{"Task.Read", "Task.Write"}}, []string{"Task.Read", "Task.Write"}},
		{"Okta groups", []jwtauth.RoleClaim{jwtauth.RolesAt("groups")},
			map[string]any{"groups": []string{"Everyone", "admins"}}, []string{"Everyone", "admins"}},
		{"Cognito groups (colon in the name)", []jwtauth.RoleClaim{jwtauth.RolesAt("cognito:groups")},
			map[string]any{"cognito:groups": []string{"editors"}}, []string{"editors"}},
		{"Keycloak realm and client roles, merged without duplicates",
			[]jwtauth.RoleClaim{jwtauth.RolesAt("realm_access", "roles"), jwtauth.RolesAt("resource_access", "my-app", "roles")},
			map[string]any{
				"realm_access":    map[string]any{"roles": []string{"offline_access", "admin"}},
				"resource_access": map[string]any{"my-app": map[string]any{"roles": []string{"admin", "reports"}}, "other-app": map[string]any{"roles": []string{"root"}}},
			}, []string{"offline_access", "admin", "reports"}},
		{"Zitadel object keyed by role", []jwtauth.RoleClaim{jwtauth.RoleMapAt("urn:zitadel:iam:org:project:roles")},
			map[string]any{"urn:zitadel:iam:org:project:roles": map[string]any{"admin": map[string]any{"123": "org.example"}, "user": map[string]any{}}},
			[]string{"admin", "user"}},
		{"Auth0 namespaced claim (dots and slashes in one name)", []jwtauth.RoleClaim{jwtauth.RolesAt("https://example.com/roles")},
			map[string]any{"https://example.com/roles": []string{"admin"}}, []string{"admin"}},
		{"dotted name is one member, not a path", []jwtauth.RoleClaim{jwtauth.RolesAt("realm_access.roles")},
			map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}, "realm_access.roles": []string{"viewer"}}, []string{"viewer"}},
		{"a string is one role, never split", []jwtauth.RoleClaim{jwtauth.RolesAt("roles")},
			map[string]any{"roles": "admin user"}, []string{"admin user"}},
		{"absent claim: no roles", []jwtauth.RoleClaim{jwtauth.RolesAt("roles")}, nil, nil},
		{"empty array: no roles", []jwtauth.RoleClaim{jwtauth.RolesAt("roles")}, map[string]any{"roles": []string{}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocal(t, "ES256", withRoles(tc.rcs...))
			c, err := f.verify(f.token(nil, tc.claims))
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Roles)
			for _, r := range tc.want {
				assert.True(t, c.HasRole(r), r)
			}
		})
	}
}

func TestVerify_RolesOfTheWrongShapeGrantNothing(t *testing.T) {
	cases := []struct {
		name  string
		rc    jwtauth.RoleClaim
		value any
		want  []string
	}{
		{"number", jwtauth.RolesAt("roles"), 1, nil},
		{"true", jwtauth.RolesAt("roles"), true, nil},
		{"null", jwtauth.RolesAt("roles"), nil, nil},
		{"object where an array is expected", jwtauth.RolesAt("roles"), map[string]any{"admin": true}, nil},
		{"array where an object is expected", jwtauth.RoleMapAt("roles"), []string{"admin"}, nil},
		{"false or null members of an object", jwtauth.RoleMapAt("roles"), map[string]any{"admin": false, "root": nil, "user": map[string]any{}, "ops": true}, []string{"ops", "user"}},
		{"string where an object is expected", jwtauth.RoleMapAt("roles"), "admin", nil},
		{"non-string elements are skipped", jwtauth.RolesAt("roles"), []any{1, "user", map[string]any{"admin": true}, []string{"admin"}, nil, false}, []string{"user"}},
		{"nested arrays are not flattened", jwtauth.RolesAt("roles"), [][]string{{"admin"}}, nil},
		{"empty string is no role", jwtauth.RolesAt("roles"), []string{"", "user"}, []string{"user"}},
		{"path through a string", jwtauth.RolesAt("roles", "x"), "admin", nil},
		{"path through an array", jwtauth.RolesAt("roles", "x"), []any{map[string]any{"x": []string{"admin"}}}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newLocal(t, "ES256", withRoles(tc.rc))
			claims := map[string]any{"roles": tc.value}
			if tc.value == nil {
				claims = nil
			}
			tok := f.token(nil, claims)
			if tc.value == nil {
				tok = f.raw(`{"alg":"ES256","kid":"k1"}`, fmt.Sprintf(`{"iss":%q,"aud":%q,"exp":%d,"roles":null}`, testIssuer, testAudience, f.clock.Now().Unix()+60))
			}
			c, err := f.verify(tok)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Roles)
			assert.False(t, c.HasRole("admin"))
		})
	}
}

func TestVerify_RoleNamesAreMatchedExactly(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles")))
	for _, name := range []string{"Roles", "ROLES", "roleſ", "roles "} {
		c, err := f.verify(f.token(nil, map[string]any{name: []string{"admin"}}))
		require.NoError(t, err, name)
		assert.Empty(t, c.Roles, name)
	}
	c, err := f.verify(f.token(nil, map[string]any{"roles": []string{"Admin", "ADMIN"}}))
	require.NoError(t, err)
	assert.False(t, c.HasRole("admin"), "role values are case-sensitive")
}

func TestVerify_RefusesHugeRoleClaims(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles")), func(c *jwtauth.Config) { c.MaxTokenSize = 1 << 20 })
	many := make([]string, 1025)
	for i := range many {
		many[i] = fmt.Sprintf("r%d", i)
	}
	dups := make([]string, 5000)
	for i := range dups {
		dups[i] = "same"
	}
	cases := []struct {
		name  string
		roles []string
		ok    bool
	}{
		{"1024 roles", many[:1024], true},
		{"1025 roles", many, false},
		{"duplicates count once", dups, true},
		{"a role of 1024 bytes", []string{strings.Repeat("a", 1024)}, true},
		{"a role of 1025 bytes", []string{strings.Repeat("a", 1025)}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verify(f.token(nil, map[string]any{"roles": tc.roles}))
			if tc.ok {
				require.NoError(t, err)
				assert.NotEmpty(t, c.Roles)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, jwtauth.ErrRolesTooLarge)
			assert.ErrorIs(t, err, jwt.ErrTokenInvalidClaims)
			var e *jwtauth.Error
			require.ErrorAs(t, err, &e)
			assert.Equal(t, 401, e.Status())
			assert.Equal(t, "roles claim too large", e.Description())
		})
	}
}

func TestNew_RefusesEmptyRolePaths(t *testing.T) {
	for _, rc := range []jwtauth.RoleClaim{jwtauth.RolesAt(), jwtauth.RolesAt("realm_access", "")} {
		_, err := jwtauth.New(t.Context(), jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{{
			Issuer: testIssuer, Audiences: []string{testAudience}, Algorithms: []string{"ES256"},
			Keys: jwtauth.PublicKeys(testKey("ES256", 0).Public()), Roles: []jwtauth.RoleClaim{rc},
		}}})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "Roles[0]")
	}
}

func TestRoleClaim_StringQuotesNamesThatNeedIt(t *testing.T) {
	assert.Equal(t, "realm_access.roles", jwtauth.RolesAt("realm_access", "roles").String())
	assert.Equal(t, `"https://example.com/roles"`, jwtauth.RolesAt("https://example.com/roles").String())
	assert.Equal(t, "urn:zitadel:iam:org:project:roles (member names)", jwtauth.RoleMapAt("urn:zitadel:iam:org:project:roles").String())
}

func TestRequireRole_AnswersLikeTheScopeHelpers(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles")), func(c *jwtauth.Config) { c.Realm = "api" })
	cases := []struct {
		name   string
		mw     func(http.Handler) http.Handler
		roles  any
		status int
	}{
		{"has the role", jwtauth.RequireRole("admin"), []string{"admin"}, 200},
		{"has every role", jwtauth.RequireRole("admin", "ops"), []string{"ops", "admin"}, 200},
		{"lacks one of all", jwtauth.RequireRole("admin", "ops"), []string{"admin"}, 403},
		{"any: has one", jwtauth.RequireAnyRole("admin", "ops"), []string{"ops"}, 200},
		{"any: has none", jwtauth.RequireAnyRole("admin", "ops"), []string{"user"}, 403},
		{"no roles claim", jwtauth.RequireRole("admin"), nil, 403},
		{"case variant", jwtauth.RequireRole("admin"), []string{"Admin"}, 403},
		{"role as a string", jwtauth.RequireRole("admin"), "admin", 200},
		{"roles in an object", jwtauth.RequireRole("admin"), map[string]any{"admin": true}, 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := &okHandler{}
			claims := map[string]any{"roles": tc.roles}
			if tc.roles == nil {
				claims = nil
			}
			w := serve(f.v.RequireAuth(tc.mw(h)), "Bearer "+f.token(nil, claims))
			assert.Equal(t, tc.status, w.Code)
			if tc.status != 403 {
				assert.Equal(t, 1, h.count())
				return
			}
			assert.Zero(t, h.count())
			assert.Equal(t, `Bearer realm="api", error="insufficient_scope", error_description="insufficient role"`, w.Header().Get("WWW-Authenticate"))
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.JSONEq(t, `{"error":"insufficient_scope","error_description":"insufficient role"}`, w.Body.String())
		})
	}
}

func TestRequireRole_GoesThroughErrorHandler(t *testing.T) {
	var got error
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("groups")), func(c *jwtauth.Config) {
		c.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	w := serve(f.v.RequireAuth(jwtauth.RequireRole("admin")(&okHandler{})), "Bearer "+f.token(nil, map[string]any{"groups": []string{"user"}}))
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.ErrorIs(t, got, jwtauth.ErrInsufficientRole)
	var e *jwtauth.Error
	require.True(t, errors.As(got, &e))
	assert.Equal(t, 403, e.Status())
	assert.Contains(t, e.Error(), `all of "admin" required`)
}

func TestRequireRole_WithoutRequireAuthAnswers401(t *testing.T) {
	h := &okHandler{}
	w := httptest.NewRecorder()
	jwtauth.RequireRole("admin")(h).ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, 401, w.Code)
	assert.Equal(t, "Bearer", w.Header().Get("WWW-Authenticate"))
	assert.Zero(t, h.count())
}

func TestRequireRole_PanicsOnNoRoleAtSetup(t *testing.T) {
	assert.Panics(t, func() { jwtauth.RequireRole() })
	assert.Panics(t, func() { jwtauth.RequireAnyRole("") })
}

func TestClaims_RoleMethods(t *testing.T) {
	c := &jwtauth.Claims{Roles: []string{"a", "b"}}
	assert.True(t, c.HasAllRoles("a", "b"))
	assert.False(t, c.HasAllRoles("a", "c"))
	assert.True(t, c.HasAnyRole("c", "b"))
	assert.False(t, c.HasAnyRole("c"))
	assert.False(t, c.HasRole(""))
}

func TestClaims_CheckRolesReturnsTheMiddlewaresError(t *testing.T) {
	c := &jwtauth.Claims{Roles: []string{"a"}}
	assert.NoError(t, c.CheckRoles("a"))
	assert.NoError(t, c.CheckAnyRole("b", "a"))
	err := c.CheckRoles("a", "b")
	assert.ErrorIs(t, err, jwtauth.ErrInsufficientRole)
	var e *jwtauth.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, 403, e.Status())
	assert.Equal(t, "insufficient role", e.Description())
	assert.Equal(t, `Bearer error="insufficient_scope", error_description="insufficient role"`, (&jwtauth.Verifier{}).Challenge(err))
	assert.ErrorIs(t, c.CheckAnyRole("b"), jwtauth.ErrInsufficientRole)
}

func TestVerify_ReadsRolesWhateverTheWhitespace(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("realm_access", "roles"), jwtauth.RoleMapAt("z")))
	payload := fmt.Sprintf(" \n{ \"iss\" : %q , \"aud\":%q,\"exp\":%d, \"realm_access\" :\t{ \"roles\" :\r\n [ \"a\" , 1 ,\n\"b\" ] } ,\"z\": { \"c\" : { } , \"d\" :\tfalse } } \n",
		testIssuer, testAudience, f.clock.Now().Unix()+60)
	c, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, payload))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b", "c"}, c.Roles)
}

// FuzzRoles checks the roles walker against encoding/json on every payload Verify accepts: the same roles (as
// a set, without duplicates), and ErrRolesTooLarge exactly when the claims hold too many or too long roles.
//
//	go test -run '^$' -fuzz '^FuzzRoles$' -fuzztime 20s .
func FuzzRoles(f *testing.F) {
	fx := newLocal(f, "ES256", withRoles(jwtauth.RolesAt("roles"), jwtauth.RolesAt("a", "b"),
		jwtauth.RoleMapAt("m"), jwtauth.RolesAt("x.y/z")), func(c *jwtauth.Config) {
		c.MaxTokenSize = 1 << 20
		c.Issuers[0].InsecureSkipAudienceCheck = true
		c.Issuers[0].Audiences = nil
	})
	for _, seed := range []string{
		`"roles":["a","b"]`, `"roles":"a"`, `"roles":[1,"a",{"b":1},["c"],null]`,
		`"a":{"b":["x"]},"roles":["x"]`, `"a":"b"`, `"a":{"b":{"b":["x"]}}`,
		`"m":{"r1":{},"r2":false,"r3":null,"r4":true}`, `"m":["r1"]`, `"x.y/z":["q"]`, `"x":{"y/z":["q"]}`,
		` "roles" : [ "a" , "" , "a" ] `, `"roles":["\u0061","a"]`, `"r\u006fles":["a"]`,
	} {
		f.Add(seed)
	}
	exp := fx.clock.Now().Unix() + 60
	f.Fuzz(func(t *testing.T, members string) {
		payload := fmt.Sprintf(`{"iss":%q,"exp":%d,%s}`, testIssuer, exp, members)
		c, err := fx.verify(fx.raw(`{"alg":"ES256","kid":"k1"}`, payload))
		if err != nil && !errors.Is(err, jwtauth.ErrRolesTooLarge) {
			return // refused for another reason: nothing to compare
		}
		var doc map[string]any
		require.NoError(t, json.Unmarshal([]byte(payload), &doc), "Verify accepted what encoding/json refuses")
		want := map[string]bool{}
		tooLarge := false
		add := func(s string) {
			if len(s) > 1024 {
				tooLarge = true
			}
			if s != "" {
				want[s] = true
			}
		}
		at := func(path ...string) any {
			var v any = doc
			for _, p := range path {
				m, ok := v.(map[string]any)
				if !ok {
					return nil
				}
				v = m[p]
			}
			return v
		}
		for _, path := range [][]string{{"roles"}, {"a", "b"}, {"x.y/z"}} {
			switch v := at(path...).(type) {
			case string:
				add(v)
			case []any:
				for _, e := range v {
					if s, ok := e.(string); ok {
						add(s)
					}
				}
			}
		}
		if m, ok := at("m").(map[string]any); ok {
			for k, v := range m {
				if v != nil && v != false {
					add(k)
				}
			}
		}
		if len(want) > 1024 {
			tooLarge = true
		}
		if tooLarge {
			assert.ErrorIs(t, err, jwtauth.ErrRolesTooLarge)
			return
		}
		require.NoError(t, err)
		got := map[string]bool{}
		for _, r := range c.Roles {
			assert.False(t, got[r], "duplicate role %q", r)
			got[r] = true
		}
		assert.Equal(t, want, got)
	})
}

// BenchmarkVerify_Roles measures what reading roles adds to a verification: none configured, and Keycloak's
// realm and client roles in a typical access token. The cache is on, so the signature check does not hide it.
func BenchmarkVerify_Roles(b *testing.B) {
	claims := map[string]any{
		"realm_access":    map[string]any{"roles": []string{"offline_access", "uma_authorization", "admin"}},
		"resource_access": map[string]any{"my-app": map[string]any{"roles": []string{"reports", "refunds"}}, "account": map[string]any{"roles": []string{"view-profile"}}},
		"email":           "user@example.com",
	}
	for _, bc := range []struct {
		name string
		rcs  []jwtauth.RoleClaim
	}{
		{"none", nil},
		{"keycloak", []jwtauth.RoleClaim{jwtauth.RolesAt("realm_access", "roles"), jwtauth.RolesAt("resource_access", "my-app", "roles")}},
	} {
		for _, cached := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/cached=%v", bc.name, cached), func(b *testing.B) {
				f := newLocal(b, "ES256", withRoles(bc.rcs...), func(c *jwtauth.Config) {
					if !cached {
						c.CacheBytes = jwtauth.CacheOff
					}
				})
				tok := f.token(nil, claims)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := f.verify(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
