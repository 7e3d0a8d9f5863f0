package main

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func schemaVersion(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var v int
	require.NoError(t, db.QueryRow(`PRAGMA user_version`).Scan(&v))
	return v
}

func TestMigrate_FreshDatabaseGetsLatestVersion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	st, err := openStore(context.Background(), path, nil)
	require.NoError(t, err)
	require.NoError(t, st.Close())
	assert.Equal(t, len(migrations), schemaVersion(t, path))
}

func TestMigrate_PreVersioningDatabaseKeepsItsUsers(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	// The schema as it was before migrations existed, at user_version 0.
	_, err = db.Exec(migrations[0][0])
	require.NoError(t, err)
	_, err = db.Exec(`INSERT INTO users (id, email, email_lower, hashed_password, created_at) VALUES ('u1', 'A@x.org', 'a@x.org', 'h', '2026-01-01T00:00:00Z')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := openStore(ctx, path, nil)
	require.NoError(t, err)
	defer st.Close()
	u, err := st.userByEmail(ctx, "a@x.org")
	require.NoError(t, err)
	assert.Equal(t, "u1", u.ID)
	assert.Equal(t, len(migrations), schemaVersion(t, path))
}

func TestMigrate_RefusesNewerDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations)+1))
	require.NoError(t, err)
	require.NoError(t, db.Close())

	_, err = openStore(context.Background(), path, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "newer than this server's")
}

func TestMigrate_ConcurrentStartsApplyOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "auth.db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			st, err := openStore(context.Background(), path, nil)
			if err == nil {
				err = st.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for _, err := range errs {
		assert.NoError(t, err)
	}
	assert.Equal(t, len(migrations), schemaVersion(t, path))
}
