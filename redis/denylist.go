package jwtauthredis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"github.com/redis/go-redis/v9"
)

// Denylist is a jwtauth.Revocations in Redis, for Config.Revocations: a token, a subject or a session revoked
// on one replica (or by the login server) is refused by every Verifier sharing the Redis and prefix, on its
// next request. Entries are keyed on (issuer, jti), (issuer, sub) and (issuer, sid), hashed, never on the
// token string, and expire by themselves once the tokens they revoke have expired (plus jwtauth.MaxLeeway),
// so the denylist stays bounded by the revocations of one token lifetime. It is safe for concurrent use.
type Denylist struct {
	c      redis.UniversalClient
	prefix string
}

var _ jwtauth.Revocations = (*Denylist)(nil)

// NewDenylist returns a Denylist on c whose keys start with prefix ("" means DefaultPrefix).
func NewDenylist(c redis.UniversalClient, prefix string) *Denylist {
	return &Denylist{c: c, prefix: normPrefix(prefix)}
}

// revokeScript stores "issuedBefore until" (Unix milliseconds) under KEYS[1], expiring at until, keeping the
// later of the stored and given values of each, in one atomic step: revoking again never moves issuedBefore
// or the expiry back.
var revokeScript = redis.NewScript(`
local b, u = tonumber(ARGV[1]), tonumber(ARGV[2])
local v = redis.call('GET', KEYS[1])
if v then
  local ob, ou = string.match(v, '^(%-?%d+) (%-?%d+)$')
  if ob then
    b = math.max(b, tonumber(ob))
    u = math.max(u, tonumber(ou))
  end
end
redis.call('SET', KEYS[1], string.format('%d %d', b, u), 'PXAT', string.format('%d', u))
return 1
`)

// RevokeToken revokes the token of issuer with jti id, which expires at expires (its exp claim). A token
// already expired (past jwtauth.MaxLeeway) needs no entry and none is written.
func (d *Denylist) RevokeToken(ctx context.Context, issuer, id string, expires time.Time) error {
	if issuer == "" || id == "" {
		return fmt.Errorf("jwtauthredis: RevokeToken needs the token's issuer and jti (got issuer %s, jti %s)", quote(issuer), quote(id))
	}
	return d.revoke(ctx, d.tokenKey(issuer, id), time.Time{}, expires)
}

// RevokeSubject revokes every token of issuer for subject issued at or before issuedBefore, and its tokens
// without iat (iat has one-second resolution: a token issued in the same second as issuedBefore is revoked
// too). The entry is kept until latestExpiry: issuedBefore plus the longest lifetime of the issuer's tokens.
// Revoking a subject again moves issuedBefore forward, never back. Use it for logout everywhere, password
// changes and deactivated users.
func (d *Denylist) RevokeSubject(ctx context.Context, issuer, subject string, issuedBefore, latestExpiry time.Time) error {
	if issuer == "" || subject == "" {
		return fmt.Errorf("jwtauthredis: RevokeSubject needs the issuer and subject (got issuer %s, sub %s)", quote(issuer), quote(subject))
	}
	if issuedBefore.IsZero() {
		// A zero time would revoke only tokens without iat: a silent no-op for nearly every token.
		return errors.New("jwtauthredis: RevokeSubject's issuedBefore is the zero time, which revokes almost nothing: pass time.Now() to revoke every token issued until now")
	}
	return d.revoke(ctx, d.subjectKey(issuer, subject), issuedBefore, latestExpiry)
}

// RevokeSession revokes every token of issuer whose sid claim (OpenID Connect session ID) is sid, whenever it
// was issued: a logout of that session. The entry is kept until latestExpiry, the latest exp of the
// session's tokens.
func (d *Denylist) RevokeSession(ctx context.Context, issuer, sid string, latestExpiry time.Time) error {
	if issuer == "" || sid == "" {
		return fmt.Errorf("jwtauthredis: RevokeSession needs the issuer and sid (got issuer %s, sid %s)", quote(issuer), quote(sid))
	}
	return d.revoke(ctx, d.sessionKey(issuer, sid), time.Time{}, latestExpiry)
}

func (d *Denylist) revoke(ctx context.Context, k string, before, expires time.Time) error {
	if d.c == nil {
		return errNilClient
	}
	until := expires.Add(jwtauth.MaxLeeway)
	if !until.After(time.Now()) {
		return nil
	}
	b := int64(0)
	if !before.IsZero() {
		b = before.UnixMilli()
	}
	if err := revokeScript.Run(ctx, d.c, []string{k}, b, until.UnixMilli()).Err(); err != nil {
		return fmt.Errorf("jwtauthredis: revocation not stored, retry it: %w", err)
	}
	return nil
}

// Revoked implements jwtauth.Revocations with one round trip (a pipeline of up to three GETs). An error
// (Redis unreachable, timeout, ctx done) makes the Verifier refuse the token with 503 and Retry-After.
func (d *Denylist) Revoked(ctx context.Context, c *jwtauth.Claims) (bool, error) {
	if d.c == nil {
		return false, errNilClient
	}
	sid, err := sessionID(c)
	if err != nil {
		return false, err
	}
	var tok, sub, sess *redis.StringCmd
	_, err = d.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		if c.ID != "" {
			tok = p.Get(ctx, d.tokenKey(c.Issuer, c.ID))
		}
		sub = p.Get(ctx, d.subjectKey(c.Issuer, c.Subject))
		if sid != "" {
			sess = p.Get(ctx, d.sessionKey(c.Issuer, sid))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, fmt.Errorf("jwtauthredis: denylist: %w", err)
	}
	// Pipelined reports only the first error: a later lookup's failure can hide behind an earlier redis.Nil.
	for _, cmd := range [...]*redis.StringCmd{tok, sub, sess} {
		if cmd != nil && cmd.Err() != nil && !errors.Is(cmd.Err(), redis.Nil) {
			return false, fmt.Errorf("jwtauthredis: denylist: %w", cmd.Err())
		}
	}
	if present(tok) || present(sess) {
		return true, nil
	}
	if !present(sub) {
		return false, nil
	}
	if c.IssuedAt.IsZero() { // when it was issued is unknown, so it may predate the revocation
		return true, nil
	}
	before, _, ok := strings.Cut(sub.Val(), " ")
	ms, perr := strconv.ParseInt(before, 10, 64)
	if !ok || perr != nil {
		return false, fmt.Errorf("jwtauthredis: denylist entry for issuer %s, subject %s is not one this package wrote: delete it", quote(c.Issuer), quote(c.Subject))
	}
	return !c.IssuedAt.After(time.UnixMilli(ms)), nil
}

func present(c *redis.StringCmd) bool { return c != nil && c.Err() == nil }

// maxSID bounds the sid claim read for the session check; a longer one is refused rather than hashed.
const maxSID = 1024

// sessionID returns the token's sid claim, "" when it has none. It reads the member named exactly "sid"
// (Claims.Decode would also take "SID", by encoding/json's case folding).
func sessionID(c *jwtauth.Claims) (string, error) {
	raw := c.RawJSON()
	if len(raw) == 0 { // a Claims built by hand, not by Verify
		return "", nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return "", fmt.Errorf("jwtauthredis: the token's claims could not be read for its sid: %w", err)
	}
	raw, ok := m["sid"]
	if !ok {
		return "", nil
	}
	var sid string
	if err := json.Unmarshal(raw, &sid); err != nil {
		return "", fmt.Errorf("jwtauthredis: the token's sid claim is not a string, so its session's revocation cannot be checked")
	}
	if len(sid) > maxSID {
		return "", fmt.Errorf("jwtauthredis: the token's sid claim has %d bytes, more than %d", len(sid), maxSID)
	}
	return sid, nil
}

func (d *Denylist) tokenKey(iss, jti string) string   { return key(d.prefix, "rev:jti", iss, jti) }
func (d *Denylist) subjectKey(iss, sub string) string { return key(d.prefix, "rev:sub", iss, sub) }
func (d *Denylist) sessionKey(iss, sid string) string { return key(d.prefix, "rev:sid", iss, sid) }

// quote quotes s for an error message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strconv.Quote(s)
}
