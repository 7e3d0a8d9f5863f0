package jwtauthgrpc

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"google.golang.org/grpc/credentials"
)

// CredentialOption configures IssuerCredentials and StaticToken.
type CredentialOption func(*credentialConfig)

type credentialConfig struct {
	insecure bool
	now      func() time.Time
}

// WithInsecureTransport lets the credentials travel over a connection without transport security, where
// anyone on the path can read and replay the token. Use it only for loopback tests and for a sidecar on the
// same host that adds TLS; without it, gRPC refuses to send the credentials over plaintext.
func WithInsecureTransport() CredentialOption { return func(c *credentialConfig) { c.insecure = true } }

// WithClock sets the clock IssuerCredentials uses to decide when a cached token is due for renewal. Give it
// the Issuer's IssuerConfig.Clock. Nil means time.Now.
func WithClock(now func() time.Time) CredentialOption {
	return func(c *credentialConfig) { c.now = now }
}

func newCredentialConfig(opts []CredentialOption) credentialConfig {
	c := credentialConfig{now: time.Now}
	for _, o := range opts {
		o(&c)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// IssuerCredentials returns per-RPC credentials that send "authorization: Bearer <token>" with tokens that iss
// mints for subject with claims (e.g. {"scope": "orders:read"}), for service-to-service calls and tests:
// grpc.WithPerRPCCredentials(creds). A token is reused until three quarters of its lifetime (Issuer.TTL)
// have passed, so the one on the wire always has at least a quarter left, and a fresh one is minted then.
// The first token is minted here, so a bad subject or a reserved claim is an error now, not on the first call.
func IssuerCredentials(iss *jwtauth.Issuer, subject string, claims map[string]any, opts ...CredentialOption) (credentials.PerRPCCredentials, error) {
	if iss == nil {
		return nil, errors.New("jwtauthgrpc: IssuerCredentials: the Issuer is nil: build one with jwtauth.NewIssuer")
	}
	c := &issuerCredentials{
		cfg:     newCredentialConfig(opts),
		iss:     iss,
		subject: subject,
		claims:  maps.Clone(claims),
		renew:   iss.TTL() * 3 / 4,
	}
	if _, err := c.token(); err != nil {
		return nil, fmt.Errorf("jwtauthgrpc: IssuerCredentials: %w", err)
	}
	return c, nil
}

type issuerCredentials struct {
	cfg     credentialConfig
	iss     *jwtauth.Issuer
	subject string
	claims  map[string]any
	renew   time.Duration // a token's age at which a new one is minted

	mu       sync.Mutex
	header   string // "Bearer <token>"
	mintedAt time.Time
}

// token returns the cached authorization value, minting a new token when the cached one is due.
func (c *issuerCredentials) token() (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.now()
	if age := now.Sub(c.mintedAt); c.header != "" && age >= 0 && age < c.renew {
		return c.header, nil
	}
	tok, err := c.iss.Issue(c.subject, c.claims)
	if err != nil {
		return "", err
	}
	c.header, c.mintedAt = "Bearer "+tok, now
	return c.header, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *issuerCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	h, err := c.token()
	if err != nil {
		return nil, fmt.Errorf("jwtauthgrpc: minting a token: %w", err)
	}
	return map[string]string{"authorization": h}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: true unless WithInsecureTransport.
func (c *issuerCredentials) RequireTransportSecurity() bool { return !c.cfg.insecure }

// StaticToken returns per-RPC credentials that send "authorization: Bearer <token>" with the same token on
// every call, for tests and for tokens obtained elsewhere. Only WithInsecureTransport applies to it.
func StaticToken(token string, opts ...CredentialOption) credentials.PerRPCCredentials {
	return staticCredentials{header: "Bearer " + token, insecure: newCredentialConfig(opts).insecure}
}

type staticCredentials struct {
	header   string
	insecure bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c staticCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": c.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: true unless WithInsecureTransport.
func (c staticCredentials) RequireTransportSecurity() bool { return !c.insecure }
