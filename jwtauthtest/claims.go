package jwtauthtest

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

// ClaimsIssuer is the iss of Claims built by Claims when the map has none.
const ClaimsIssuer = "https://issuer.example.test/"

// Claims builds a *jwtauth.Claims for handler tests, with no IdP: pair it with jwtauth.NewContext.
//
//	ctx := jwtauth.NewContext(req.Context(), jwtauthtest.Claims(t, map[string]any{"sub": "u1", "scope": "read"}))
//	handler.ServeHTTP(rec, req.WithContext(ctx))
//
// The claims are signed with a throwaway key and verified by a throwaway Verifier, so every field (Subject,
// Audience, Scopes, and Roles read from roles, e.g. jwtauth.RolesAt("groups") or your TrustedIssuer's Roles)
// agrees with RawJSON and Decode exactly as for a real token, and claims Verify would refuse fail the test.
// Unless the map sets them, iss is ClaimsIssuer and exp is one hour after iat (or now); aud is optional and
// not checked; a claim set to nil is left out. The verifying clock is set so that the claims are valid.
// Such claims come from no real issuer: use them only in tests.
func Claims(tb TB, claims map[string]any, roles ...jwtauth.RoleClaim) *jwtauth.Claims {
	tb.Helper()
	full := map[string]any{"iss": ClaimsIssuer}
	for k, v := range claims {
		full[k] = v
	}
	num := func(name string) (float64, bool) {
		b, err := json.Marshal(full[name])
		var f float64
		return f, err == nil && full[name] != nil && json.Unmarshal(b, &f) == nil
	}
	now := float64(time.Now().Unix())
	for _, name := range []string{"iat", "nbf"} {
		if t, ok := num(name); ok && t > now {
			now = t
		}
	}
	if _, set := full["exp"]; !set {
		full["exp"] = int64(now) + 3600
	}
	if exp, ok := num("exp"); ok && exp <= now {
		now = exp - 1
	}
	for k, v := range full {
		if v == nil {
			delete(full, k)
		}
	}
	payload, err := json.Marshal(full)
	if err != nil {
		tb.Fatalf("jwtauthtest: Claims: %v", err)
		return nil
	}
	iss, _ := full["iss"].(string)
	key := NewKey("ES256")
	sec, frac := math.Modf(now)
	clock := time.Unix(int64(sec), int64(frac*1e9))
	v, err := jwtauth.New(context.Background(), jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{{
			Issuer:                    iss,
			InsecureSkipAudienceCheck: true,
			Algorithms:                []string{"ES256"},
			Keys:                      jwtauth.PublicKeys(key.Public()),
			Roles:                     roles,
		}},
		Clock:  func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		tb.Fatalf("jwtauthtest: Claims: %v", err)
		return nil
	}
	defer v.Close()
	c, err := v.Verify(context.Background(), SignRaw("ES256", key, []byte(`{"alg":"ES256","typ":"JWT"}`), payload))
	if err != nil {
		tb.Fatalf("jwtauthtest: Claims: these claims would never pass Verify: %v", err)
		return nil
	}
	return c
}
