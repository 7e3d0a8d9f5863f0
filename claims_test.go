package jwtauth_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jwtauth-go/jwtauth"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClaims_ExposeScopesRawJSONAndCustomClaims(t *testing.T) {
	f := newLocal(t, "ES256")
	c, err := f.verify(f.token(nil, map[string]any{
		"scope":                        "read:messages  write:messages\tadmin read:messages",
		"scp":                          []string{"profile", "read:messages"},
		"permissions":                  []string{"delete:messages"},
		"email":                        "user@example.com",
		"https://example.com/roles":    []string{"editor"},
		"https://example.com/metadata": map[string]any{"plan": "pro"},
	}))
	require.NoError(t, err)
	// scope splits on ASCII space only: the tab stays inside a scope.
	assert.Equal(t, []string{"read:messages", "write:messages\tadmin", "profile", "delete:messages"}, c.Scopes)
	assert.True(t, c.HasScope("delete:messages"))
	assert.False(t, c.HasScope("admin"))
	assert.False(t, c.HasScope("Read:messages"), "scopes are case-sensitive")

	email, err := jwtauth.GetClaim[string](c, "email")
	require.NoError(t, err)
	assert.Equal(t, "user@example.com", email)
	roles, err := jwtauth.GetClaim[[]string](c, "https://example.com/roles")
	require.NoError(t, err)
	assert.Equal(t, []string{"editor"}, roles)
	_, err = jwtauth.GetClaim[string](c, "missing")
	assert.ErrorIs(t, err, jwtauth.ErrClaimMissing)
	_, err = jwtauth.GetClaim[int](c, "email")
	assert.ErrorContains(t, err, `claim "email" is not a int`)

	var mine struct {
		Email    string `json:"email"`
		Metadata struct {
			Plan string `json:"plan"`
		} `json:"https://example.com/metadata"`
	}
	require.NoError(t, c.Decode(&mine))
	assert.Equal(t, "pro", mine.Metadata.Plan)

	raw := c.RawJSON()
	raw[0] = 'X'
	assert.Equal(t, byte('{'), c.RawJSON()[0], "RawJSON returns a copy")
}

func TestClaims_ScpAsStringIsSpaceDelimited(t *testing.T) {
	f := newLocal(t, "ES256")
	c, err := f.verify(f.token(nil, map[string]any{"scope": nil, "scp": "a b"}))
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, c.Scopes)
}

type appClaims struct {
	Sub    string   `json:"sub"`
	Email  string   `json:"email"`
	Tenant string   `json:"https://example.com/tenant"`
	Groups []string `json:"groups"`
}

func TestClaimsAs_DecodesOncePerRequest(t *testing.T) {
	f := newLocal(t, "ES256") // the cache is on by default
	tok := f.token(nil, map[string]any{"sub": "alice", "email": "a@example.com", "https://example.com/tenant": "t1"})
	c, err := f.verify(tok)
	require.NoError(t, err)

	first, err := jwtauth.ClaimsAs[appClaims](c)
	require.NoError(t, err)
	assert.Equal(t, appClaims{Sub: "alice", Email: "a@example.com", Tenant: "t1"}, first)
	allocs := testing.AllocsPerRun(100, func() { _, _ = jwtauth.ClaimsAs[appClaims](c) })
	assert.Zero(t, allocs, "later calls for the same type return the first decode")

	ptr, err := jwtauth.ClaimsAs[*appClaims](c)
	require.NoError(t, err)
	again, _ := jwtauth.ClaimsAs[*appClaims](c)
	assert.Same(t, ptr, again, "one decode per type")

	// A cache hit is a new request: its claims carry no decode of an earlier one.
	hit, err := f.verify(tok)
	require.NoError(t, err)
	p2, err := jwtauth.ClaimsAs[*appClaims](hit)
	require.NoError(t, err)
	assert.NotSame(t, ptr, p2)
	assert.Equal(t, *ptr, *p2)
}

func TestClaimsAs_RemembersErrorsAndManyTypes(t *testing.T) {
	f := newLocal(t, "ES256")
	c, err := f.verify(f.token(nil, map[string]any{"email": 42}))
	require.NoError(t, err)
	_, err = jwtauth.ClaimsAs[appClaims](c)
	assert.ErrorContains(t, err, "decoding claims into *jwtauth_test.appClaims")
	_, err2 := jwtauth.ClaimsAs[appClaims](c)
	assert.Same(t, err, err2)
	// Past the per-request bound, types are decoded on every call, still correctly.
	type t1 struct{ Sub string }
	type t2 struct{ Sub string }
	type t3 struct{ Sub string }
	type t4 struct{ Sub string }
	type t5 struct{ Sub string }
	type t6 struct{ Sub string }
	type t7 struct{ Sub string }
	type t8 struct{ Sub string }
	_, _ = jwtauth.ClaimsAs[t1](c)
	_, _ = jwtauth.ClaimsAs[t2](c)
	_, _ = jwtauth.ClaimsAs[t3](c)
	_, _ = jwtauth.ClaimsAs[t4](c)
	_, _ = jwtauth.ClaimsAs[t5](c)
	_, _ = jwtauth.ClaimsAs[t6](c)
	_, _ = jwtauth.ClaimsAs[t7](c)
	v, err := jwtauth.ClaimsAs[t8](c)
	require.NoError(t, err)
	assert.Equal(t, "user-1", v.Sub)
	m, err := jwtauth.ClaimsAs[map[string]any](c)
	require.NoError(t, err)
	assert.Equal(t, "user-1", m["sub"])
}

func TestClaimsAs_ConcurrentCallersSeeOneResult(t *testing.T) {
	f := newLocal(t, "ES256")
	c, err := f.verify(f.token(nil, nil))
	require.NoError(t, err)
	results := make(chan *appClaims, 8)
	for range 8 {
		go func() {
			p, _ := jwtauth.ClaimsAs[*appClaims](c)
			results <- p
		}()
	}
	first := <-results
	for range 7 {
		assert.Same(t, first, <-results)
	}
}

func TestDecode_RefusesCaseVariantsOfClaimsVerifyRead(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("groups")))
	for _, name := range []string{"Sub", "SUB", "ſub", "Iss", "EXP", "Aud", "Scope", "ſcope", "Permissions", "Groups", "\u212Aid"} {
		t.Run(name, func(t *testing.T) {
			c, err := f.verify(f.token(nil, map[string]any{name: "admin"}))
			if name == "\u212Aid" { // "Kid" with the Kelvin sign: not a claim Verify reads
				require.NoError(t, err)
				assert.NoError(t, c.Decode(&appClaims{}))
				return
			}
			if err != nil {
				// A stricter parser refuses the token outright; that is as good.
				assert.ErrorIs(t, err, jwt.ErrTokenMalformed)
				return
			}
			var got appClaims
			err = c.Decode(&got)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "a case variant of")
			_, err = jwtauth.ClaimsAs[appClaims](c)
			assert.Error(t, err)
		})
	}
}

func TestDecode_RefusesCaseVariantsAlongRolePaths(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("realm_access", "roles")))
	type keycloak struct {
		RealmAccess struct {
			Roles []string `json:"roles"`
		} `json:"realm_access"`
	}
	cases := []struct {
		name   string
		claims map[string]any
		refuse bool
	}{
		{"exact names", map[string]any{"realm_access": map[string]any{"roles": []string{"admin"}}}, false},
		{"nested variant", map[string]any{"realm_access": map[string]any{"Roles": []string{"admin"}}}, true},
		{"nested variant with long s", map[string]any{"realm_access": map[string]any{"roleſ": []string{"admin"}}}, true},
		{"top-level variant", map[string]any{"Realm_Access": map[string]any{"roles": []string{"admin"}}}, true},
		{"variant under another member is not read", map[string]any{"other": map[string]any{"Roles": []string{"x"}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.verify(f.token(nil, tc.claims))
			require.NoError(t, err)
			got, err := jwtauth.ClaimsAs[keycloak](c)
			if tc.refuse {
				assert.ErrorContains(t, err, "a case variant of")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.Roles, got.RealmAccess.Roles, "the decoded struct agrees with the verified roles")
		})
	}
}

func TestClaims_CloneKeepsRolesPrivate(t *testing.T) {
	f := newLocal(t, "ES256", withRoles(jwtauth.RolesAt("roles"))) // the cache is on by default
	tok := f.token(nil, map[string]any{"roles": []string{"a", "b"}, "scope": "s1 s2"})
	c1, err := f.verify(tok)
	require.NoError(t, err)
	c1.Roles[0] = "changed"
	c1.Roles = append(c1.Roles, "appended")
	c2, err := f.verify(tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "b"}, c2.Roles)
	c2.Scopes = append(c2.Scopes, "x")
	c2.Audience = append(c2.Audience, "y")
	assert.Equal(t, []string{"a", "b"}, c2.Roles, "appending to Scopes or Audience never overwrites Roles")
	c3, err := f.verify(tok)
	require.NoError(t, err)
	assert.Equal(t, []string{"s1", "s2"}, c3.Scopes)
	assert.Equal(t, []string{"a", "b"}, c3.Roles)
}

// A5: Claims.Decode uses encoding/json, which matches member names ignoring case. A token whose claims
// encoding/json would read differently from the verified registered claims is refused, so Decode and the
// Claims fields never disagree.
func TestClaimsDecode_NeverDisagreesWithTheRegisteredClaims(t *testing.T) {
	f := newLocal(t, "ES256")
	exp := f.clock.Now().Add(time.Hour).Unix()
	base := `"iss":"` + testIssuer + `","aud":"` + testAudience + `","exp":` + strconv.FormatInt(exp, 10)
	for name, extra := range map[string]string{
		"issue's example": `"sub":"alice","Sub":"admin","SCOPE":"admin"`,
		"long s":          `"sub":"alice","ſub":"admin"`,
		"variant alone":   `"Sub":"admin"`,
		"custom claim":    `"sub":"alice","role":"user","Role":"admin"`,
	} {
		_, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, "{"+base+","+extra+"}"))
		assert.ErrorIs(t, err, jwt.ErrTokenMalformed, name)
	}

	c, err := f.verify(f.raw(`{"alg":"ES256","kid":"k1"}`, "{"+base+`,"sub":"alice","scope":"read"}`))
	require.NoError(t, err)
	var mine struct {
		Sub   string `json:"sub"`
		Scope string `json:"scope"`
	}
	require.NoError(t, c.Decode(&mine))
	assert.Equal(t, c.Subject, mine.Sub)
	assert.Equal(t, "alice", mine.Sub)
	assert.Equal(t, []string{mine.Scope}, c.Scopes)
}
