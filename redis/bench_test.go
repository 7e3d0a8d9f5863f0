package jwtauthredis

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// One call after another, so ns/op is the latency of one round trip to the test Redis (loopback in CI):
//
//	eval "$(bash .ci/services start)"; go -C redis test -run '^$' -bench . -benchtime 2s

func BenchmarkReplayStoreAdd(b *testing.B) {
	c, prefix := testClient(b)
	s := NewReplayStore(c, prefix)
	i := 0
	for b.Loop() {
		i++
		if _, err := s.Add(context.Background(), strconv.Itoa(i), time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDenylistRevoked(b *testing.B) {
	c, prefix := testClient(b)
	d := NewDenylist(c, prefix)
	claims := jwtauthtest.Claims(b, map[string]any{"sub": "u1", "jti": "j1", "sid": "s1", "iat": time.Now().Unix()})
	if err := d.RevokeSubject(context.Background(), iss, "u1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := d.Revoked(context.Background(), claims); err != nil || r {
			b.Fatal(r, err)
		}
	}
}

func BenchmarkLimiterAllow(b *testing.B) {
	c, prefix := testClient(b)
	l := NewLimiter(c, prefix)
	lim := Limit{Rate: 100_000, Period: time.Second, Burst: 100_000}
	i := 0
	for b.Loop() {
		i++
		if _, err := l.Allow(context.Background(), strconv.Itoa(i%64), lim); err != nil {
			b.Fatal(err)
		}
	}
}
