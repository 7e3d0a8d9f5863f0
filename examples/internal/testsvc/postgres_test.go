package testsvc

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func query(t *testing.T, url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close(context.Background()) }()
	var db string
	err = c.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
	return db, err
}

func TestPostgresURL_GivesEachTestItsOwnDatabase(t *testing.T) {
	a, b := PostgresURL(t), PostgresURL(t)
	assert.NotEqual(t, a, b)
	db, err := query(t, a)
	require.NoError(t, err)
	assert.Regexp(t, `^t_[0-9a-f]{16}$`, db)
}

func TestStartPostgres_StopsAndStartsOnTheSamePort(t *testing.T) {
	p := StartPostgres(t)
	_, err := query(t, p.URL)
	require.NoError(t, err)
	p.Stop()
	_, err = query(t, p.URL)
	assert.Error(t, err, "a stopped cluster refuses connections")
	p.Start()
	db, err := query(t, p.URL)
	require.NoError(t, err)
	assert.Equal(t, "postgres", db)
}
