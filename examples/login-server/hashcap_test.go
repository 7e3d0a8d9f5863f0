package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtauth-go/jwtauth"
)

func TestHashCap_RefusesOnlyHashesCostlierThanTheCap(t *testing.T) {
	c := hashCap{}.withDefaults()
	const saltKey = "$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5"
	tests := []struct {
		name string
		hash string
		over bool
	}{
		{"native argon2id", nativeHashPrefix + saltKey[1:], false},
		{"bcrypt cost 12", "$2b$12$" + legacyBcryptSaltAndHash, false},
		{"bcrypt cost 13", "$2a$13$" + legacyBcryptSaltAndHash, true},
		{"bcrypt $2y$ cost 16", "$2y$16$" + legacyBcryptSaltAndHash, true},
		{"argon2id 64 MiB, 3 passes, 4 lanes (argon2-cffi, node-argon2)", "$argon2id$v=19$m=65536,t=3,p=4" + saltKey, false},
		{"argon2id 64 MiB, 4 passes (PHP)", "$argon2id$v=19$m=65536,t=4,p=1" + saltKey, false},
		{"argon2id 100 MiB, 2 passes, 8 lanes (Django)", "$argon2id$v=19$m=102400,t=2,p=8" + saltKey, false},
		{"argon2id 19 MiB, 10 passes", "$argon2id$v=19$m=19456,t=10,p=1" + saltKey, false},
		{"argon2id 128 MiB, 2 passes: the cap itself", "$argon2id$v=19$m=131072,t=2,p=1" + saltKey, false},
		{"argon2id 256 MiB", "$argon2id$v=19$m=262144,t=1,p=1" + saltKey, true},
		{"argon2id 128 MiB, 3 passes", "$argon2id$v=19$m=131072,t=3,p=1" + saltKey, true},
		{"argon2id 64 MiB, 5 passes", "$argon2id$v=19$m=65536,t=5,p=1" + saltKey, true},
		{"argon2id with absurd passes", "$argon2id$v=19$m=8,t=99999999999,p=1" + saltKey, true},
		{"unreadable argon2id: left to Verify", "$argon2id$garbage", false},
		{"not a hash: left to Verify", "plain text", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.check(tt.hash)
			if tt.over {
				assert.ErrorIs(t, err, errHashOverCap)
			} else {
				assert.NoError(t, err)
			}
		})
	}
}

// The hashes the floor is measured on are the costliest the cap admits, and the library really computes them.
func TestHashCap_CostliestHashesAreAdmittedAndVerified(t *testing.T) {
	def := hashCap{}.withDefaults()
	got := def.costliest()
	assert.Equal(t, []string{"$2b$12$", "$argon2id$v=19$m=131072,t=2,p=1$"}, []string{got[0][:7], got[1][:32]})
	for _, h := range got {
		assert.NoError(t, def.check(h), h)
	}

	small := hashCap{BcryptCost: 4, Argon2Memory: 64, Argon2Work: 128}
	hasher := &jwtauth.PasswordHasher{}
	for _, h := range small.costliest() {
		require.NoError(t, small.check(h))
		match, _, err := hasher.Verify(context.Background(), "any password", h)
		require.NoError(t, err, "%s is well formed", h)
		assert.False(t, match)
	}
	floor, err := small.measureFloor(context.Background(), hasher)
	require.NoError(t, err)
	assert.Positive(t, floor)
}

// At start the server reports users whose hashes came from elsewhere, and names those over the cap, which can
// no longer log in: the operator resets them instead of finding out from a user.
func TestNewApp_ReportsImportedAndOverCapHashes(t *testing.T) {
	cfg := testConfig(t)
	cfg.FailedLoginFloor = 0 // measured at start, on a cap small enough to be quick
	cfg.HashCap = hashCap{BcryptCost: 5, Argon2Memory: 64, Argon2Work: 64}
	st, err := openStore(context.Background(), cfg.DatabasePath, nil)
	require.NoError(t, err)
	native, err := (&jwtauth.PasswordHasher{}).Hash(context.Background(), classicPassword)
	require.NoError(t, err)
	_, err = st.createUser(context.Background(), "native@example.com", native)
	require.NoError(t, err)
	_, err = st.createUser(context.Background(), "legacy@example.com", legacyBcryptHash)
	require.NoError(t, err)
	costly, err := st.createUser(context.Background(), "costly@example.com", "$2b$06$"+legacyBcryptSaltAndHash)
	require.NoError(t, err)
	require.NoError(t, st.Close())

	ts := startServer(t, cfg)
	var imported, over, padded map[string]any
	for line := range strings.Lines(ts.logs.String()) {
		var rec map[string]any
		require.NoError(t, json.Unmarshal([]byte(line), &rec))
		msg, _ := rec["msg"].(string)
		switch {
		case strings.HasPrefix(msg, "users with password hashes made elsewhere"):
			imported = rec
		case strings.HasPrefix(msg, errHashOverCap.Error()):
			over = rec
		case strings.HasPrefix(msg, "failed logins are padded"):
			padded = rec
		}
	}
	require.NotNil(t, imported, "logs: %s", ts.logs)
	assert.EqualValues(t, 2, imported["count"])
	require.NotNil(t, over, "logs: %s", ts.logs)
	assert.Equal(t, "WARN", over["level"])
	assert.Equal(t, []any{costly.ID}, over["user_ids"])
	require.NotNil(t, padded)
	assert.Contains(t, padded, "floor_ms")
	assert.Positive(t, ts.app.failFloor, "measured at start")

	// Both imported users are refused alike at login; the legacy one logs in and is upgraded.
	assertError(t, ts.login(t, "costly@example.com", classicPassword), 401, "invalid_credentials")
	require.Equal(t, 200, ts.login(t, "legacy@example.com", classicPassword).status)
}
