package bench

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth"
	jwtauthgrpc "github.com/jwtauth-go/jwtauth/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	grpcstatus "google.golang.org/grpc/status"
)

// grpcService answers EmptyCall and nothing else: the call costs gRPC's own work and the interceptor's.
type grpcService struct {
	testpb.UnimplementedTestServiceServer
}

func (grpcService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

// grpcClient serves grpcService on 127.0.0.1 (with the interceptor when v is not nil) and returns a client
// that sends token on every call.
func grpcClient(tb testing.TB, v *jwtauth.Verifier, token string) testpb.TestServiceClient {
	tb.Helper()
	var opts []grpc.ServerOption
	if v != nil {
		auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{Verifier: v, Default: jwtauthgrpc.Rule{Scopes: []string{needed}}})
		if err != nil {
			tb.Fatal(err)
		}
		opts = append(opts, grpc.UnaryInterceptor(auth.Unary))
	}
	srv := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(srv, grpcService{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	tb.Cleanup(func() { srv.Stop(); <-done })
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(jwtauthgrpc.StaticToken(token, jwtauthgrpc.WithInsecureTransport())))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return testpb.NewTestServiceClient(conn)
}

// BenchmarkGRPCUnary is one unary call over loopback TCP, ES256, without auth and through jwtauthgrpc's
// interceptor (token verified, scope checked, claims in the context; no verified-token cache). Both clients
// send the same authorization metadata, so the difference is the server's check alone. paired alternates the
// two calls in one loop, so both see the same load, and reports their ratio.
func BenchmarkGRPCUnary(b *testing.B) {
	f := fixtures["ES256"]()
	noAuth := grpcClient(b, nil, f.token)
	withAuth := grpcClient(b, newJWTAuth(b, f, jwtauth.CacheOff), f.token)
	ctx := context.Background()
	call := func(b *testing.B, c testpb.TestServiceClient) {
		if _, err := c.EmptyCall(ctx, &testpb.Empty{}); err != nil {
			b.Fatal(err)
		}
	}
	call(b, withAuth)
	if _, err := grpcClient(b, newJWTAuth(b, f, jwtauth.CacheOff), f.tampered).EmptyCall(ctx, &testpb.Empty{}); grpcstatus.Code(err) != codes.Unauthenticated {
		b.Fatalf("the tampered token got %v, want Unauthenticated", err)
	}
	b.Run("no-auth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call(b, noAuth)
		}
	})
	b.Run("jwtauth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			call(b, withAuth)
		}
	})
	b.Run("paired", func(b *testing.B) {
		var plain, authed time.Duration
		for b.Loop() {
			t0 := time.Now()
			call(b, noAuth)
			t1 := time.Now()
			call(b, withAuth)
			authed += time.Since(t1)
			plain += t1.Sub(t0)
		}
		b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N), "no-auth-ns/op")
		b.ReportMetric(float64(authed.Nanoseconds())/float64(b.N), "jwtauth-ns/op")
		b.ReportMetric(float64(authed)/float64(plain), "ratio")
	})
}
