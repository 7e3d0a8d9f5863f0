package jwtauthgrpc_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/jwtauth-go/jwtauth"
	jwtauthgrpc "github.com/jwtauth-go/jwtauth/grpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
)

// A server whose health checks are public, whose UnaryCall needs the read:messages scope and whose other
// methods need a valid token; and a client that calls it with tokens from an Issuer.
func Example() {
	ctx := context.Background()
	key, err := jwtauth.GenerateSigningKey("ES256")
	if err != nil {
		log.Fatal(err)
	}
	iss, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer: "https://login.example.test", Audience: []string{"messages"}, Keys: []*jwtauth.SigningKey{key},
	})
	if err != nil {
		log.Fatal(err)
	}
	v, err := iss.Verifier(ctx) // in production: jwtauth.New with your identity provider
	if err != nil {
		log.Fatal(err)
	}
	defer v.Close()

	auth, err := jwtauthgrpc.New(jwtauthgrpc.Config{
		Verifier: v,
		Methods: map[string]jwtauthgrpc.Rule{
			"/grpc.health.v1.Health/*":            {Public: true},
			"/grpc.testing.TestService/UnaryCall": {Scopes: []string{"read:messages"}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnaryInterceptor(auth.Unary), grpc.StreamInterceptor(auth.Stream))
	testpb.RegisterTestServiceServer(srv, testService{}) // its handlers call jwtauth.ClaimsFromContext
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	// The client: tokens minted by the Issuer, renewed before they expire. Over TLS, drop
	// WithInsecureTransport; this example talks plaintext to loopback.
	creds, err := jwtauthgrpc.IssuerCredentials(iss, "svc-reports", map[string]any{"scope": "read:messages"},
		jwtauthgrpc.WithInsecureTransport())
	if err != nil {
		log.Fatal(err)
	}
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(creds))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	resp, err := testpb.NewTestServiceClient(conn).UnaryCall(ctx, &testpb.SimpleRequest{})
	fmt.Println(resp.GetUsername(), err)

	// Without credentials: health is public, the rest is refused.
	anon, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer anon.Close()
	h, err := healthpb.NewHealthClient(anon).Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(h.GetStatus(), err)
	_, err = testpb.NewTestServiceClient(anon).EmptyCall(ctx, &testpb.Empty{})
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// svc-reports <nil>
	// SERVING <nil>
	// Unauthenticated bearer token required
}
