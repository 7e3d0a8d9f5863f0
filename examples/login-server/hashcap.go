package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

// hashCap bounds the cost of the stored password hashes the server verifies. Its own hashes (the library's
// argon2id, m=19 MiB, t=2) are far below it; imported bcrypt and argon2id hashes above it are refused without
// being computed, so that the costliest verification, and with it the padding of failed logins, is bounded.
type hashCap struct {
	BcryptCost   int    // highest bcrypt cost verified
	Argon2Memory uint32 // highest argon2id memory, KiB
	Argon2Work   uint64 // highest argon2id memory (KiB) times passes
}

// The default cap admits the defaults of the systems users are imported from: bcrypt cost 12 (Rails, Laravel,
// Django's bcrypt hasher), argon2id at 64 MiB × 3 passes (argon2-cffi, node-argon2, RFC 9106's second
// recommendation), 64 MiB × 4 (PHP's password_hash) and 100 MiB × 2 (Django, passlib). That is memory up to
// 128 MiB, and memory times passes up to 256 MiB.
const (
	defaultCapBcryptCost   = 12
	defaultCapArgon2Memory = 128 << 10 // KiB
	defaultCapArgon2Work   = 256 << 10 // KiB × passes
)

func (c hashCap) withDefaults() hashCap {
	if c.BcryptCost == 0 {
		c.BcryptCost = defaultCapBcryptCost
	}
	if c.Argon2Memory == 0 {
		c.Argon2Memory = defaultCapArgon2Memory
	}
	if c.Argon2Work == 0 {
		c.Argon2Work = defaultCapArgon2Work
	}
	return c
}

// errHashOverCap marks a stored hash that costs more to verify than the cap allows.
var errHashOverCap = errors.New("stored password hash is costlier than this server verifies")

// check returns an error wrapping errHashOverCap when encoded costs more than c allows. Hashes it cannot read
// pass: PasswordHasher.Verify parses them strictly and refuses them as malformed.
func (c hashCap) check(encoded string) error {
	if len(encoded) >= 7 && strings.HasPrefix(encoded, "$2") && strings.ContainsRune("aby", rune(encoded[2])) &&
		encoded[3] == '$' && encoded[6] == '$' {
		if cost, err := strconv.Atoi(encoded[4:6]); err == nil && cost > c.BcryptCost {
			return fmt.Errorf("%w: bcrypt cost %d is above %d", errHashOverCap, cost, c.BcryptCost)
		}
		return nil
	}
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[1] != "argon2id" {
		return nil
	}
	var m, t, p uint64
	if _, err := fmt.Sscanf(f[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 {
		return nil
	}
	switch {
	case m > uint64(c.Argon2Memory):
		return fmt.Errorf("%w: argon2id memory m=%d KiB is above %d", errHashOverCap, m, c.Argon2Memory)
	case t > c.Argon2Work/m:
		return fmt.Errorf("%w: argon2id memory times passes (%d KiB × %d) is above %d", errHashOverCap, m, t, c.Argon2Work)
	}
	return nil
}

// costliest returns hashes that cost as much to verify as any c admits: bcrypt at the highest cost, and
// argon2id doing all the work the cap allows in one lane (more lanes run in parallel, so finish sooner).
// Their salts and keys are dummies: verifying any password against them fails after the full computation.
func (c hashCap) costliest() []string {
	passes := min(max(c.Argon2Work/uint64(c.Argon2Memory), 1), 10) // the library verifies at most 10 passes
	memory := min(uint64(c.Argon2Memory), c.Argon2Work/passes)
	b64 := base64.RawStdEncoding.EncodeToString
	return []string{
		fmt.Sprintf("$2b$%02d$%s", c.BcryptCost, legacyBcryptSaltAndHash),
		fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=1$%s$%s", memory, passes, b64(make([]byte, 16)), b64(make([]byte, 32))),
	}
}

// legacyBcryptSaltAndHash is the salt and hash part of a real bcrypt hash; with another cost in front it is a
// well-formed hash that no password matches.
const legacyBcryptSaltAndHash = "shxCZSwoabW354YCypWDieo8YKwVoMljrH1PNhaYXUxvzr13tEpEi"

// measureFloor times one verification of each of c's costliest hashes and returns the slowest plus a quarter,
// headroom for a machine busier later than at start.
func (c hashCap) measureFloor(ctx context.Context, h *jwtauth.PasswordHasher) (time.Duration, error) {
	var slowest time.Duration
	for _, dummy := range c.costliest() {
		began := time.Now()
		if _, _, err := h.Verify(ctx, "not the password", dummy); err != nil {
			return 0, fmt.Errorf("measuring the cost of the costliest accepted password hash: %w", err)
		}
		slowest = max(slowest, time.Since(began))
	}
	return slowest + slowest/4, nil
}

// nativeHashPrefix starts every hash PasswordHasher.Hash makes today; it only sorts stored hashes for the
// startup report (a hash made with other parameters is upgraded at its user's next login either way).
const nativeHashPrefix = "$argon2id$v=19$m=19456,t=2,p=1$"

// reportStoredHashes logs, at start, how many users have hashes from elsewhere (upgraded at their next login)
// and which have hashes over the cap: those cannot log in until their password is reset or the cap raised.
func (a *app) reportStoredHashes(ctx context.Context) error {
	rows, err := a.store.db.QueryContext(ctx, `SELECT id, hashed_password FROM users WHERE hashed_password NOT LIKE ?`,
		nativeHashPrefix+"%")
	if err != nil {
		return fmt.Errorf("reading stored password hashes: %w", err)
	}
	defer rows.Close()
	imported, over := 0, []string{}
	for rows.Next() {
		var id, hash string
		if err := rows.Scan(&id, &hash); err != nil {
			return fmt.Errorf("reading stored password hashes: %w", err)
		}
		imported++
		if a.hashCap.check(hash) != nil && len(over) < 100 {
			over = append(over, id)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading stored password hashes: %w", err)
	}
	if imported > 0 {
		a.log.InfoContext(ctx, "users with password hashes made elsewhere: each is upgraded to argon2id at the user's next login",
			"count", imported)
	}
	if len(over) > 0 {
		a.log.WarnContext(ctx, errHashOverCap.Error()+": these users cannot log in until their password is reset",
			"count", len(over), "user_ids", over, "bcrypt_cost_max", a.hashCap.BcryptCost,
			"argon2id_memory_kib_max", a.hashCap.Argon2Memory, "argon2id_work_max", a.hashCap.Argon2Work)
	}
	return nil
}
