package jwtauthgrpc_test

import (
	"encoding/base64"
	"net"
	"strings"
	"testing"

	jwtauthgrpc "github.com/jwtauth-go/jwtauth/grpc"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// TestAttacks_GRPCMetadataAndMethodNames are the gRPC rows of the attack table (the HTTP ones are in the root
// module's attack_test.go): what reaches the interceptor through metadata and method names.
func TestAttacks_GRPCMetadataAndMethodNames(t *testing.T) {
	f := newFixture(t)
	good := f.idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages"})
	b64 := base64.RawURLEncoding.EncodeToString
	none := b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + strings.Split(good, ".")[1] + "."
	cases := []struct {
		name   string
		md     []string // key, value pairs
		method string
		code   codes.Code
	}{
		{"token under another metadata key is not read", []string{"x-authorization", "Bearer " + good}, "", codes.Unauthenticated},
		{"token in a -bin key is not read", []string{"authorization-bin", "Bearer " + good}, "", codes.Unauthenticated},
		{"mixed-case key is the same key (gRPC lowercases): two values", []string{"Authorization", "Bearer " + good, "authorization", "Bearer " + good}, "", codes.InvalidArgument},
		{"alg none", []string{"authorization", "Bearer " + none}, "", codes.Unauthenticated},
		{"token over MaxTokenSize", []string{"authorization", "Bearer " + strings.Repeat("a", 17<<10)}, "", codes.Unauthenticated},
		{"token with a comma-joined second token", []string{"authorization", "Bearer " + good + "," + good}, "", codes.Unauthenticated},
		{"path traversal in the method name routes nowhere", []string{"authorization", "Bearer " + good},
			"/grpc.health.v1.Health/../grpc.testing.TestService/UnaryCall", codes.Unimplemented},
		{"trailing slash in the method name is not the method", []string{"authorization", "Bearer " + good},
			"/grpc.testing.TestService/UnaryCall/", codes.Unimplemented},
		{"a public service's name as a prefix is another service", nil, "/grpc.health.v1.HealthX/Check", codes.Unimplemented},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(t.Context(), tc.md...)
			method := tc.method
			if method == "" {
				method = "/grpc.testing.TestService/UnaryCall"
			}
			var resp testpb.SimpleResponse
			err := f.conn.Invoke(ctx, method, &testpb.SimpleRequest{}, &resp)
			assert.Equal(t, tc.code, status.Code(err), "%v", err)
			assert.Empty(t, resp.GetUsername(), "the handler never ran")
		})
	}
}

// TestAttacks_PublicMethodsGetNoClaims: a public method does not read the metadata, so a handler behind it
// cannot mistake a token nobody verified for an authenticated caller.
func TestAttacks_PublicMethodsGetNoClaims(t *testing.T) {
	f := newFixture(t)
	cfg := rules(f.v)
	cfg.Methods["/grpc.testing.TestService/UnaryCall"] = jwtauthgrpc.Rule{Public: true}
	auth, err := jwtauthgrpc.New(cfg)
	require.NoError(t, err)
	client := testpb.NewTestServiceClient(serveLoopback(t, auth))
	resp, err := client.UnaryCall(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-1"})), &testpb.SimpleRequest{})
	require.NoError(t, err)
	assert.Equal(t, "<no claims>", resp.GetUsername())
}

// TestAttacks_UnknownServiceHandlerGetsTheDefaultRule: behind grpc.UnknownServiceHandler (a proxy, say) every
// method name reaches the interceptor, and names that only look like a public service's get the default rule.
func TestAttacks_UnknownServiceHandlerGetsTheDefaultRule(t *testing.T) {
	f := newFixture(t)
	auth, err := jwtauthgrpc.New(rules(f.v))
	require.NoError(t, err)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.StreamInterceptor(auth.Stream), grpc.UnknownServiceHandler(func(_ any, s grpc.ServerStream) error {
		var req testpb.SimpleRequest
		if err := s.RecvMsg(&req); err != nil {
			return err
		}
		return s.SendMsg(&testpb.SimpleResponse{Username: subject(s.Context())})
	}))
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })

	for method, code := range map[string]codes.Code{
		"/grpc.health.v1.HealthX/Check":                                codes.Unauthenticated,
		"/grpc.health.v1.Health/../grpc.testing.TestService/UnaryCall": codes.Unauthenticated,
		"/grpc.health.v1/Health/Check":                                 codes.Unauthenticated,
		"/grpc.health.v1.Health.Check":                                 codes.Unimplemented, // gRPC refuses it first
	} {
		var resp testpb.SimpleResponse
		err := conn.Invoke(t.Context(), method, &testpb.SimpleRequest{}, &resp)
		assert.Equal(t, code, status.Code(err), "%s: %v", method, err)
		assert.Empty(t, resp.GetUsername())
	}
	var resp testpb.SimpleResponse
	require.NoError(t, conn.Invoke(t.Context(), "/grpc.health.v1.Health/Check", &testpb.SimpleRequest{}, &resp), "the public service itself")
	assert.Equal(t, "<no claims>", resp.GetUsername())
	tok := "Bearer " + f.idp.Mint(map[string]any{"sub": "user-1"})
	require.NoError(t, conn.Invoke(withAuth(t, tok), "/any.Unknown/Method", &testpb.SimpleRequest{}, &resp))
	assert.Equal(t, "user-1", resp.GetUsername(), "the default rule with a token")
}
