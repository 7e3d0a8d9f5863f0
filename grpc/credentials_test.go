package jwtauthgrpc_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	jwtauthgrpc "github.com/jwtauth-go/jwtauth/grpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newIssuer is an ES256 Issuer with a 15-minute TTL on clk.
func newIssuer(t *testing.T, clk *clock) *jwtauth.Issuer {
	t.Helper()
	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	iss, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer: "https://login.example.test", Audience: []string{"orders"}, Keys: []*jwtauth.SigningKey{key},
		TTL: 15 * time.Minute, Clock: clk.Now,
	})
	require.NoError(t, err)
	return iss
}

func TestIssuerCredentials_AuthenticateServiceToServiceCalls(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	iss := newIssuer(t, clk)
	v, err := iss.Verifier(context.Background())
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	auth, err := jwtauthgrpc.New(rules(v))
	require.NoError(t, err)
	creds, err := jwtauthgrpc.IssuerCredentials(iss, "svc-billing", map[string]any{"scope": "read:messages"},
		jwtauthgrpc.WithInsecureTransport(), jwtauthgrpc.WithClock(clk.Now))
	require.NoError(t, err)
	client := testpb.NewTestServiceClient(serveLoopback(t, auth, grpc.WithPerRPCCredentials(creds)))

	for _, step := range []time.Duration{0, 10 * time.Minute, 10 * time.Minute, 30 * time.Minute} {
		clk.Add(step)
		resp, err := client.UnaryCall(t.Context(), &testpb.SimpleRequest{})
		require.NoError(t, err, "after %s: a token past three quarters of its life is replaced in time", step)
		assert.Equal(t, "svc-billing", resp.GetUsername())
	}
}

func TestIssuerCredentials_ReuseATokenUntilThreeQuartersOfItsLifetime(t *testing.T) {
	clk := &clock{now: time.Unix(1_800_000_000, 0)}
	creds, err := jwtauthgrpc.IssuerCredentials(newIssuer(t, clk), "svc-billing", nil, jwtauthgrpc.WithClock(clk.Now))
	require.NoError(t, err)
	get := func() string {
		md, err := creds.GetRequestMetadata(t.Context(), "https://orders.example.test")
		require.NoError(t, err)
		require.Len(t, md, 1)
		require.Regexp(t, `^Bearer [\w-]+\.[\w-]+\.[\w-]+$`, md["authorization"])
		return md["authorization"]
	}
	first := get()
	clk.Add(11*time.Minute + 14*time.Second)
	assert.Equal(t, first, get(), "11m14s into a 15m token: reused")
	clk.Add(time.Second)
	second := get()
	assert.NotEqual(t, first, second, "11m15s: renewed")
	assert.Equal(t, second, get())
	clk.Add(-time.Hour)
	assert.NotEqual(t, second, get(), "a clock that went back renews rather than trust the cached age")

	var wg sync.WaitGroup
	got := make([]string, 16)
	for i := range got {
		wg.Go(func() { md, _ := creds.GetRequestMetadata(context.Background()); got[i] = md["authorization"] })
	}
	wg.Wait()
	for _, g := range got {
		assert.Equal(t, got[0], g, "concurrent calls share one cached token")
	}
}

func TestIssuerCredentials_RefuseBadInputAtConstruction(t *testing.T) {
	iss := newIssuer(t, &clock{now: time.Now()})
	_, err := jwtauthgrpc.IssuerCredentials(nil, "svc", nil)
	assert.ErrorContains(t, err, "the Issuer is nil")
	_, err = jwtauthgrpc.IssuerCredentials(iss, "", nil)
	assert.ErrorContains(t, err, "subject is empty")
	_, err = jwtauthgrpc.IssuerCredentials(iss, "svc", map[string]any{"aud": "elsewhere"})
	assert.ErrorIs(t, err, jwtauth.ErrReservedClaim)
}

func TestCredentials_RequireTransportSecurityByDefault(t *testing.T) {
	iss := newIssuer(t, &clock{now: time.Now()})
	creds, err := jwtauthgrpc.IssuerCredentials(iss, "svc", nil)
	require.NoError(t, err)
	for name, c := range map[string]credentials.PerRPCCredentials{
		"IssuerCredentials": creds,
		"StaticToken":       jwtauthgrpc.StaticToken("t"),
	} {
		assert.True(t, c.RequireTransportSecurity(), name)
		_, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithPerRPCCredentials(c))
		assert.ErrorContains(t, err, "transport level security", "%s: gRPC refuses to send it over plaintext", name)
	}
	assert.False(t, jwtauthgrpc.StaticToken("t", jwtauthgrpc.WithInsecureTransport()).RequireTransportSecurity())
}

func TestStaticToken_SendsTheTokenPerCall(t *testing.T) {
	f := newFixture(t)
	tok := f.idp.Mint(map[string]any{"sub": "user-3", "scope": "read:messages"})
	resp, err := f.test.UnaryCall(t.Context(), &testpb.SimpleRequest{},
		grpc.PerRPCCredentials(jwtauthgrpc.StaticToken(tok, jwtauthgrpc.WithInsecureTransport())))
	require.NoError(t, err)
	assert.Equal(t, "user-3", resp.GetUsername())

	_, err = f.test.UnaryCall(t.Context(), &testpb.SimpleRequest{}, grpc.PerRPCCredentials(jwtauthgrpc.StaticToken(tok)))
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "without the insecure option the client refuses plaintext")
	assert.Contains(t, status.Convert(err).Message(), "insecure connection")
}
