package jwtauthredis

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jwtauth-go/jwtauth/jwtauthtest"
)

// Round trips to the test Redis (loopback in CI): one command or script per call.
//
//	eval "$(bash .ci/services start)"; go -C redis test -run '^$' -bench . -benchtime 2s

func BenchmarkReplayStoreAdd(b *testing.B) {
	c, prefix := testClient(b)
	s := NewReplayStore(c, prefix)
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Add(context.Background(), strconv.FormatInt(n.Add(1), 36), time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDenylistRevoked(b *testing.B) {
	c, prefix := testClient(b)
	d := NewDenylist(c, prefix)
	claims := jwtauthtest.Claims(b, map[string]any{"sub": "u1", "jti": "j1", "sid": "s1", "iat": time.Now().Unix()})
	if err := d.RevokeSubject(context.Background(), iss, "u1", time.Now().Add(-time.Hour), time.Now().Add(time.Hour)); err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if r, err := d.Revoked(context.Background(), claims); err != nil || r {
				b.Fatal(r, err)
			}
		}
	})
}

func BenchmarkLimiterAllow(b *testing.B) {
	c, prefix := testClient(b)
	l := NewLimiter(c, prefix)
	lim := Limit{Rate: 100_000, Period: time.Second, Burst: 100_000}
	var n atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Allow(context.Background(), strconv.FormatInt(n.Add(1)%64, 10), lim); err != nil {
				b.Fatal(err)
			}
		}
	})
}
