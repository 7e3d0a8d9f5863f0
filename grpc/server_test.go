package jwtauthgrpc_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	jwtauthgrpc "github.com/jwtauth-go/jwtauth/grpc"
	"github.com/jwtauth-go/jwtauth/jwtauthtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionalphapb "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
)

// testService answers with the subject of the claims its handlers find in their context.
type testService struct {
	testpb.UnimplementedTestServiceServer
}

func subject(ctx context.Context) string {
	if c, ok := jwtauth.ClaimsFromContext(ctx); ok {
		return c.Subject
	}
	return "<no claims>"
}

func (testService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (testService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	return &testpb.SimpleResponse{Username: subject(ctx)}, nil
}

func (testService) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, s grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	for range 2 {
		if err := s.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(subject(s.Context()))}}); err != nil {
			return err
		}
	}
	return nil
}

// rules protects the test service: health and reflection are public, UnaryCall needs read:messages, StreamingOutputCall
// read:messages or admin, and EmptyCall falls to the default (a valid token).
func rules(v *jwtauth.Verifier) jwtauthgrpc.Config {
	return jwtauthgrpc.Config{
		Verifier: v,
		Methods: map[string]jwtauthgrpc.Rule{
			"/grpc.health.v1.Health/*":                      {Public: true},
			"/grpc.reflection.v1.ServerReflection/*":        {Public: true},
			"/grpc.reflection.v1alpha.ServerReflection/*":   {Public: true},
			"/grpc.testing.TestService/UnaryCall":           {Scopes: []string{"read:messages"}},
			"/grpc.testing.TestService/StreamingOutputCall": {AnyScope: []string{"read:messages", "admin"}},
		},
	}
}

type fixture struct {
	idp    *jwtauthtest.IdP
	v      *jwtauth.Verifier
	conn   *grpc.ClientConn
	test   testpb.TestServiceClient
	health healthpb.HealthClient
}

// newFixture runs a real gRPC server with the interceptors on 127.0.0.1 and a client connected to it.
func newFixture(t *testing.T, mutate ...func(*jwtauth.Config)) *fixture {
	t.Helper()
	f := &fixture{idp: jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))}
	cfg := jwtauth.Config{Issuers: []jwtauth.TrustedIssuer{f.idp.TrustedIssuer()}, Realm: "api"}
	for _, m := range mutate {
		m(&cfg)
	}
	v, err := jwtauth.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	f.v = v
	auth, err := jwtauthgrpc.New(rules(v))
	require.NoError(t, err)
	f.conn = serveLoopback(t, auth)
	f.test = testpb.NewTestServiceClient(f.conn)
	f.health = healthpb.NewHealthClient(f.conn)
	return f
}

func serveLoopback(t *testing.T, auth *jwtauthgrpc.Interceptor, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
	testpb.RegisterTestServiceServer(srv, testService{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv) // both v1 and v1alpha
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	conn, err := grpc.NewClient(lis.Addr().String(), opts...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// withAuth is the test's context with the given authorization metadata values.
func withAuth(t *testing.T, values ...string) context.Context {
	ctx := t.Context()
	for _, v := range values {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", v)
	}
	return ctx
}

func TestUnary_StatusFollowsTheContractTable(t *testing.T) {
	f := newFixture(t)
	good := f.idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages"})
	noScope := f.idp.Mint(map[string]any{"sub": "user-1", "scope": "write:messages"})
	expired := f.idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages", "exp": time.Now().Add(-time.Hour).Unix()})
	otherAud := f.idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages", "aud": "https://other.example"})
	cases := []struct {
		name      string
		auth      []string
		code      codes.Code
		message   string
		challenge string
	}{
		{"valid", []string{"Bearer " + good}, codes.OK, "", ""},
		{"scheme is case-insensitive", []string{"bearer " + good}, codes.OK, "", ""},
		{"several spaces", []string{"Bearer   " + good}, codes.OK, "", ""},
		{"no metadata", nil, codes.Unauthenticated, "bearer token required", `Bearer realm="api"`},
		{"Basic scheme", []string{"Basic dXNlcjpwYXNz"}, codes.Unauthenticated, "bearer token required", `Bearer realm="api"`},
		{"two authorization values", []string{"Bearer " + good, "Bearer " + good}, codes.InvalidArgument, "malformed credentials",
			`Bearer realm="api", error="invalid_request", error_description="malformed credentials"`},
		{"Bearer without token", []string{"Bearer"}, codes.InvalidArgument, "malformed credentials",
			`Bearer realm="api", error="invalid_request", error_description="malformed credentials"`},
		{"two tokens in one value", []string{"Bearer " + good + " " + good}, codes.InvalidArgument, "malformed credentials",
			`Bearer realm="api", error="invalid_request", error_description="malformed credentials"`},
		{"malformed", []string{"Bearer abc.def"}, codes.Unauthenticated, "malformed token",
			`Bearer realm="api", error="invalid_token", error_description="malformed token"`},
		{"expired", []string{"Bearer " + expired}, codes.Unauthenticated, "token expired",
			`Bearer realm="api", error="invalid_token", error_description="token expired"`},
		{"wrong audience", []string{"Bearer " + otherAud}, codes.Unauthenticated, "audience not accepted",
			`Bearer realm="api", error="invalid_token", error_description="audience not accepted"`},
		{"missing scope", []string{"Bearer " + noScope}, codes.PermissionDenied, "insufficient scope",
			`Bearer realm="api", error="insufficient_scope", scope="read:messages"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var trailer metadata.MD
			resp, err := f.test.UnaryCall(withAuth(t, tc.auth...), &testpb.SimpleRequest{}, grpc.Trailer(&trailer))
			st := status.Convert(err)
			assert.Equal(t, tc.code, st.Code(), "%v", err)
			if tc.code == codes.OK {
				assert.Equal(t, "user-1", resp.GetUsername(), "the handler sees the claims")
				assert.Empty(t, trailer.Get("www-authenticate"))
				return
			}
			assert.Equal(t, tc.message, st.Message())
			assert.Equal(t, []string{tc.challenge}, trailer.Get("www-authenticate"))
			assert.NotContains(t, st.Message()+strings.Join(trailer.Get("www-authenticate"), ""), good[:20], "no token content")
		})
	}
}

func TestRules_RolesAndChecksRefuseWithPermissionDenied(t *testing.T) {
	f := newFixture(t, func(c *jwtauth.Config) { c.Issuers[0].Roles = []jwtauth.RoleClaim{jwtauth.RolesAt("roles")} })
	auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{
		Verifier: f.v,
		Methods: map[string]jwtauthgrpc.Rule{
			"/grpc.testing.TestService/EmptyCall": {Roles: []string{"admin"}},
			"/grpc.testing.TestService/UnaryCall": {AnyRole: []string{"admin", "editor"}, Check: func(c *jwtauth.Claims) error {
				switch c.Subject {
				case "banned":
					return errors.New("subject banned by policy 7")
				case "revoked":
					return jwtauth.Reject(errors.New("token revoked"))
				}
				return nil
			}},
			"/grpc.testing.TestService/StreamingOutputCall": {Roles: []string{"admin"}},
		},
	})
	require.NoError(t, err)
	conn := serveLoopback(t, auth)
	client := testpb.NewTestServiceClient(conn)
	token := func(sub string, roles ...string) string {
		return "Bearer " + f.idp.Mint(map[string]any{"sub": sub, "roles": roles})
	}
	const (
		roleChallenge   = `Bearer realm="api", error="insufficient_scope", error_description="insufficient role"`
		deniedChallenge = `Bearer realm="api", error="insufficient_scope", error_description="access denied"`
	)
	cases := []struct {
		name      string
		call      func(ctx context.Context, opts ...grpc.CallOption) error
		auth      string
		code      codes.Code
		message   string
		challenge string
	}{
		{"all roles present", emptyCall(client), token("user-1", "admin", "viewer"), codes.OK, "", ""},
		{"a role missing", emptyCall(client), token("user-1", "editor"), codes.PermissionDenied, "insufficient role", roleChallenge},
		{"no roles claim", emptyCall(client), token("user-1"), codes.PermissionDenied, "insufficient role", roleChallenge},
		{"any role: one present", unaryCall(client), token("user-1", "editor"), codes.OK, "", ""},
		{"any role: none present", unaryCall(client), token("user-1", "viewer"), codes.PermissionDenied, "insufficient role", roleChallenge},
		{"Check refuses", unaryCall(client), token("banned", "editor"), codes.PermissionDenied, "access denied", deniedChallenge},
		{"Check rejects the token", unaryCall(client), token("revoked", "editor"), codes.Unauthenticated, "token not accepted",
			`Bearer realm="api", error="invalid_token", error_description="token not accepted"`},
		{"Check runs after the roles", unaryCall(client), token("banned", "viewer"), codes.PermissionDenied, "insufficient role", roleChallenge},
		{"stream: a role missing", streamCall(client), token("user-1", "viewer"), codes.PermissionDenied, "insufficient role", roleChallenge},
		{"stream: role present", streamCall(client), token("user-1", "admin"), codes.OK, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var trailer metadata.MD
			err := tc.call(withAuth(t, tc.auth), grpc.Trailer(&trailer))
			st := status.Convert(err)
			assert.Equal(t, tc.code, st.Code(), "%v", err)
			if tc.code == codes.OK {
				return
			}
			assert.Equal(t, tc.message, st.Message(), "a fixed phrase; the check's own text stays on the server")
			assert.Equal(t, []string{tc.challenge}, trailer.Get("www-authenticate"))
		})
	}
}

func emptyCall(c testpb.TestServiceClient) func(context.Context, ...grpc.CallOption) error {
	return func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := c.EmptyCall(ctx, &testpb.Empty{}, opts...)
		return err
	}
}

func unaryCall(c testpb.TestServiceClient) func(context.Context, ...grpc.CallOption) error {
	return func(ctx context.Context, opts ...grpc.CallOption) error {
		_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, opts...)
		return err
	}
}

// streamCall reads the whole stream; a refusal arrives on the first Recv.
func streamCall(c testpb.TestServiceClient) func(context.Context, ...grpc.CallOption) error {
	return func(ctx context.Context, opts ...grpc.CallOption) error {
		s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{}, opts...)
		if err != nil {
			return err
		}
		for {
			if _, err := s.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
}

// syncBuffer is a log sink the server's goroutines can write to while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRefusals_AreLoggedAsOverHTTPWithoutTheToken(t *testing.T) {
	var logs syncBuffer
	f := newFixture(t, func(c *jwtauth.Config) { c.Logger = slog.New(slog.NewJSONHandler(&logs, nil)) })
	expired := f.idp.Mint(map[string]any{"sub": "user-1", "exp": time.Now().Add(-time.Hour).Unix()})
	_, err := f.test.EmptyCall(withAuth(t), &testpb.Empty{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	assert.NotContains(t, logs.String(), "token refused", "no token is the first step of a challenge, not logged")
	_, err = f.test.EmptyCall(withAuth(t, "Bearer "+expired, "Bearer "+expired), &testpb.Empty{})
	require.Equal(t, codes.InvalidArgument, status.Code(err))
	_, err = f.test.EmptyCall(withAuth(t, "Bearer "+expired), &testpb.Empty{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = f.test.UnaryCall(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-1"})), &testpb.SimpleRequest{})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	assert.Contains(t, logs.String(), `"reason":"malformed credentials"`)
	assert.Contains(t, logs.String(), `"reason":"insufficient scope"`)
	assert.Contains(t, logs.String(), `"reason":"token expired"`)
	for _, part := range strings.Split(expired, ".") {
		assert.NotContains(t, logs.String(), part, "no part of the token is logged")
	}
}

func TestUnary_DefaultRuleNeedsAValidTokenOnly(t *testing.T) {
	f := newFixture(t)
	_, err := f.test.EmptyCall(withAuth(t), &testpb.Empty{})
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = f.test.EmptyCall(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-1"})), &testpb.Empty{})
	assert.NoError(t, err, "a valid token without scopes passes the default rule")
}

func TestHealth_IsPublicWhenListed(t *testing.T) {
	f := newFixture(t)
	resp, err := f.health.Check(withAuth(t), &healthpb.HealthCheckRequest{})
	require.NoError(t, err, "no token needed")
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, resp.GetStatus())
	_, err = f.health.Check(withAuth(t, "Bearer garbage"), &healthpb.HealthCheckRequest{})
	assert.NoError(t, err, "a public method does not read the metadata")

	w, err := f.health.Watch(withAuth(t), &healthpb.HealthCheckRequest{})
	require.NoError(t, err)
	got, err := w.Recv()
	require.NoError(t, err, "public streams too")
	assert.Equal(t, healthpb.HealthCheckResponse_SERVING, got.GetStatus())
}

func TestReflection_IsPublicWhenListed(t *testing.T) {
	f := newFixture(t)
	s, err := reflectionpb.NewServerReflectionClient(f.conn).ServerReflectionInfo(withAuth(t))
	require.NoError(t, err)
	require.NoError(t, s.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}))
	resp, err := s.Recv()
	require.NoError(t, err, "v1 without a token")
	var names []string
	for _, svc := range resp.GetListServicesResponse().GetService() {
		names = append(names, svc.GetName())
	}
	assert.Contains(t, names, "grpc.testing.TestService")

	a, err := reflectionalphapb.NewServerReflectionClient(f.conn).ServerReflectionInfo(withAuth(t))
	require.NoError(t, err)
	require.NoError(t, a.Send(&reflectionalphapb.ServerReflectionRequest{MessageRequest: &reflectionalphapb.ServerReflectionRequest_ListServices{}}))
	_, err = a.Recv()
	assert.NoError(t, err, "v1alpha without a token")

	// Unlisted, reflection falls to the default rule like any other service.
	auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{Verifier: f.v})
	require.NoError(t, err)
	s, err = reflectionpb.NewServerReflectionClient(serveLoopback(t, auth)).ServerReflectionInfo(withAuth(t))
	require.NoError(t, err)
	_, err = s.Recv()
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
}

func TestStream_VerifiesTokenAndCarriesClaims(t *testing.T) {
	f := newFixture(t)
	recvAll := func(ctx context.Context) ([]string, metadata.MD, error) {
		s, err := f.test.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		require.NoError(t, err)
		var bodies []string
		for {
			m, err := s.Recv()
			if err == io.EOF {
				return bodies, s.Trailer(), nil
			}
			if err != nil {
				return bodies, s.Trailer(), err
			}
			bodies = append(bodies, string(m.GetPayload().GetBody()))
		}
	}

	bodies, _, err := recvAll(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-2", "scope": "admin"})))
	require.NoError(t, err)
	assert.Equal(t, []string{"user-2", "user-2"}, bodies, "the stream's Context carries the claims")

	bodies, trailer, err := recvAll(withAuth(t))
	assert.Equal(t, codes.Unauthenticated, status.Code(err))
	assert.Equal(t, "bearer token required", status.Convert(err).Message())
	assert.Equal(t, []string{`Bearer realm="api"`}, trailer.Get("www-authenticate"))
	assert.Empty(t, bodies, "the handler never ran")

	_, trailer, err = recvAll(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-2", "scope": "other"})))
	assert.Equal(t, codes.PermissionDenied, status.Code(err))
	assert.Equal(t, []string{`Bearer realm="api", error="insufficient_scope", scope="read:messages admin"`}, trailer.Get("www-authenticate"))

	_, _, err = recvAll(withAuth(t, "Bearer a", "Bearer b"))
	assert.Equal(t, codes.InvalidArgument, status.Code(err))
}

func TestUnary_UnknownKidWhileKeysAreCachedIsUnauthenticated(t *testing.T) {
	f := newFixture(t)
	_, err := f.test.EmptyCall(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-1"})), &testpb.Empty{})
	require.NoError(t, err, "keys are loaded and cached")
	f.idp.SetFault(jwtauthtest.FaultDown)
	f.idp.Unpublish(f.idp.Rotate())
	var trailer metadata.MD
	_, err = f.test.EmptyCall(withAuth(t, "Bearer "+f.idp.Mint(map[string]any{"sub": "user-1"})), &testpb.Empty{}, grpc.Trailer(&trailer))
	assert.Equal(t, codes.Unauthenticated, status.Code(err), "not Unavailable: the cached keys answer")
	assert.Equal(t, "unknown signing key", status.Convert(err).Message())
	assert.Equal(t, []string{`Bearer realm="api", error="invalid_token", error_description="unknown signing key"`}, trailer.Get("www-authenticate"))
}

func TestUnary_NoUsableKeysIsUnavailable(t *testing.T) {
	idp := jwtauthtest.NewIdP(t, jwtauthtest.WithAlgorithm("ES256"))
	idp.SetFault(jwtauthtest.FaultDown)
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{idp.TrustedIssuer()},
		JWKS:    jwtauth.JWKSOptions{FetchTimeout: time.Second}, // the floor: New waits this long for keys
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = v.Close() })
	auth, err := jwtauthgrpc.New(rules(v))
	require.NoError(t, err)
	client := testpb.NewTestServiceClient(serveLoopback(t, auth))
	var trailer metadata.MD
	_, err = client.EmptyCall(withAuth(t, "Bearer "+idp.Mint(map[string]any{"sub": "user-1"})), &testpb.Empty{}, grpc.Trailer(&trailer))
	assert.Equal(t, codes.Unavailable, status.Code(err), "clients may retry")
	assert.Equal(t, "signing keys unavailable", status.Convert(err).Message())
	assert.Empty(t, trailer.Get("www-authenticate"), "no challenge: the token was not judged")
}

func TestNew_RefusesMisconfiguration(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		cfg  jwtauthgrpc.Config
		want []string
	}{
		{"nil verifier", jwtauthgrpc.Config{}, []string{"Verifier is nil"}},
		{"empty scope", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"/a.B/C": {Scopes: []string{""}}}},
			[]string{`Methods["/a.B/C"].Scopes[0] "" is not a valid scope`}},
		{"scope with a space", jwtauthgrpc.Config{Verifier: f.v, Default: jwtauthgrpc.Rule{AnyScope: []string{"read write"}}},
			[]string{`Default.AnyScope[0] "read write" is not a valid scope`}},
		{"public with scopes", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"/a.B/*": {Public: true, Scopes: []string{"x"}}}},
			[]string{`Methods["/a.B/*"] is Public and also requires scopes`}},
		{"public with a role", jwtauthgrpc.Config{Verifier: f.v, Default: jwtauthgrpc.Rule{Public: true, AnyRole: []string{"x"}}},
			[]string{`Default is Public and also requires`}},
		{"public with a Check", jwtauthgrpc.Config{Verifier: f.v, Default: jwtauthgrpc.Rule{Public: true, Check: func(*jwtauth.Claims) error { return nil }}},
			[]string{`Default is Public and also requires`}},
		{"empty role", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"/a.B/C": {Roles: []string{"admin", ""}}}},
			[]string{`Methods["/a.B/C"].Roles[1] is empty`}},
		{"method without leading slash", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"a.B/C": {}}},
			[]string{`Methods["a.B/C"]: a key is a full method name`}},
		{"service without method", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"/a.B": {}}},
			[]string{`Methods["/a.B"]: a key is a full method name`}},
		{"empty key", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"": {}}},
			[]string{`Methods[""]: a key is a full method name`}},
		{"partial wildcard", jwtauthgrpc.Config{Verifier: f.v, Methods: map[string]jwtauthgrpc.Rule{"/a.B/Get*": {}}},
			[]string{`Methods["/a.B/Get*"]`}},
		{"every problem at once", jwtauthgrpc.Config{Methods: map[string]jwtauthgrpc.Rule{"x": {}}, Default: jwtauthgrpc.Rule{Scopes: []string{""}}},
			[]string{"Verifier is nil", `Methods["x"]`, "Default.Scopes[0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth, err := jwtauthgrpc.New(tc.cfg)
			assert.Nil(t, auth)
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestRules_MethodEntryWinsOverItsService(t *testing.T) {
	f := newFixture(t)
	cfg := rules(f.v)
	cfg.Methods["/grpc.testing.TestService/*"] = jwtauthgrpc.Rule{Scopes: []string{"admin"}}
	cfg.Methods["/grpc.testing.TestService/EmptyCall"] = jwtauthgrpc.Rule{Public: true}
	auth, err := jwtauthgrpc.New(cfg)
	require.NoError(t, err)
	client := testpb.NewTestServiceClient(serveLoopback(t, auth))

	_, err = client.EmptyCall(withAuth(t), &testpb.Empty{})
	assert.NoError(t, err, "the method's own Public entry")
	reader := "Bearer " + f.idp.Mint(map[string]any{"sub": "user-1", "scope": "read:messages"})
	_, err = client.UnaryCall(withAuth(t, reader), &testpb.SimpleRequest{})
	assert.NoError(t, err, "the method's own Scopes entry, not the service's admin")
	_, err = client.CacheableUnaryCall(withAuth(t, reader), &testpb.SimpleRequest{})
	assert.Equal(t, codes.PermissionDenied, status.Code(err), "an unlisted method of the service gets the service's rule")
}

// Older gRPC servers route a :path without its leading slash to the same method; the rule lookup
// reads such a name as the method it reaches, so a public Default cannot open a protected method that way.
func TestRules_MethodNameWithoutLeadingSlashGetsTheMethodsRule(t *testing.T) {
	f := newFixture(t)
	auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{Verifier: f.v, Default: jwtauthgrpc.Rule{Public: true},
		Methods: map[string]jwtauthgrpc.Rule{
			"/grpc.testing.TestService/UnaryCall": {Scopes: []string{"admin"}},
			"/grpc.testing.Other/*":               {Scopes: []string{"admin"}},
		}})
	require.NoError(t, err)
	reached := false
	handler := func(context.Context, any) (any, error) { reached = true; return nil, nil }
	for _, m := range []string{"grpc.testing.TestService/UnaryCall", "grpc.testing.Other/Any"} {
		reached = false
		_, err = auth.Unary(context.Background(), nil, &grpc.UnaryServerInfo{FullMethod: m}, handler)
		assert.Equal(t, codes.Unauthenticated, status.Code(err), m)
		assert.False(t, reached, m)
	}
}
