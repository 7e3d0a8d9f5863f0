package jwtauth_test

import (
	"testing"

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
