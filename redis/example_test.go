package jwtauthredis_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	jwtauthredis "github.com/jwtauth-go/jwtauth/redis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The examples need a Redis, so they have no Output comment (go test would run them everywhere);
// TestExamples runs them and checks their output when JWTAUTH_TEST_REDIS_URL is set.

// A Verifier whose DPoP replay store and revocation denylist are shared, through Redis, by every replica.
func Example() {
	client, err := jwtauthredis.Open(os.Getenv("REDIS_URL")) // e.g. redis://127.0.0.1:6379/0
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	issuer := jwtauth.TrustedIssuer{
		Issuer:     "https://login.example.com",
		Audiences:  []string{"https://api.example.com"},
		Algorithms: []string{"ES256"},
		Keys:       jwtauth.RemoteJWKS("https://login.example.com/.well-known/jwks.json"),
		DPoP:       jwtauth.DPoPOptional,
	}
	cfg := jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{issuer},
		DPoP: jwtauth.DPoPOptions{
			ExternalURL: "https://api.example.com",
			Replay:      jwtauthredis.NewReplayStore(client, "example:"),
		},
		Revocations: jwtauthredis.NewDenylist(client, "example:"),
	}
	fmt.Println(cfg.DPoP.Replay != nil, cfg.Revocations != nil)
	// Output (with a Redis):
	// true true
}

// A logout revokes the session's tokens on every replica sharing the denylist.
func ExampleDenylist_RevokeSession() {
	client, err := jwtauthredis.Open(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	deny := jwtauthredis.NewDenylist(client, "example:")

	ctx := context.Background()
	tokenTTL := 15 * time.Minute
	if err := deny.RevokeSession(ctx, "https://login.example.com", "session-42", time.Now().Add(tokenTTL)); err != nil {
		log.Fatal(err) // not stored: answer the logout with an error so that the client retries
	}
	fmt.Println("revoked")
	// Output (with a Redis):
	// revoked
}

// A per-IP login limit that holds across replicas: 5 attempts at once, then one every 12 seconds.
func ExampleLimiter_Allow() {
	client, err := jwtauthredis.Open(os.Getenv("REDIS_URL"))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	limiter := jwtauthredis.NewLimiter(client, "example:")
	perIP := jwtauthredis.Limit{Rate: 5, Period: time.Minute, Burst: 5}

	for range 6 {
		res, err := limiter.Allow(context.Background(), "login:ip:203.0.113.7", perIP)
		if err != nil {
			log.Printf("WARN rate limit unavailable, allowing: %v", err) // fail open, loudly
			continue
		}
		fmt.Println(res.Allowed, res.Remaining, res.RetryAfter.Round(time.Second))
	}
	// Output (with a Redis):
	// true 4 0s
	// true 3 0s
	// true 2 0s
	// true 1 0s
	// true 0 0s
	// false 0 12s
}

func TestExamples(t *testing.T) {
	url := jwtauthredis.RedisURL(t)
	t.Setenv("REDIS_URL", url)
	client, err := jwtauthredis.Open(url)
	require.NoError(t, err)
	defer client.Close()
	clean := func() {
		ctx := context.Background()
		for iter := client.Scan(ctx, 0, "example:*", 1000).Iterator(); iter.Next(ctx); {
			client.Del(ctx, iter.Val())
		}
	}
	clean()
	t.Cleanup(clean)
	for _, ex := range []struct {
		name string
		f    func()
		want string
	}{
		{"Example", Example, "true true\n"},
		{"ExampleDenylist_RevokeSession", ExampleDenylist_RevokeSession, "revoked\n"},
		{"ExampleLimiter_Allow", ExampleLimiter_Allow, "true 4 0s\ntrue 3 0s\ntrue 2 0s\ntrue 1 0s\ntrue 0 0s\nfalse 0 12s\n"},
	} {
		t.Run(ex.name, func(t *testing.T) { assert.Equal(t, ex.want, captureStdout(t, ex.f)) })
	}
}

// captureStdout runs f with os.Stdout redirected to a pipe, as go test does for examples.
func captureStdout(t *testing.T, f func()) string {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	defer func() { os.Stdout = old }()
	f()
	require.NoError(t, w.Close())
	os.Stdout = old
	return string(<-done)
}
