package jwtauth_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/jwtauth-go/jwtauth"
)

// Reference vectors from the Argon2 reference implementation's src/test.c
// (password "password", salt "somesalt"): cheap, and proof of interoperability.
const (
	pwRefArgon2idP1 = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	pwRefArgon2idP2 = "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc"
)

var pwPHCPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=([1-9][0-9]*),t=([1-9][0-9]*),p=([1-9][0-9]*)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

var pwBcryptPattern = regexp.MustCompile(`^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$`)

// pwArgon2idPHC builds a PHC string with arbitrary parameters, independently
// of the code under test.
func pwArgon2idPHC(password, salt string, m, t uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey([]byte(password), []byte(salt), t, m, p, keyLen)
	return "$argon2id$v=19$m=" + strconv.Itoa(int(m)) + ",t=" + strconv.Itoa(int(t)) + ",p=" + strconv.Itoa(int(p)) +
		"$" + base64.RawStdEncoding.EncodeToString([]byte(salt)) + "$" + base64.RawStdEncoding.EncodeToString(key)
}

// pwFakeArgon2 is a cheap stand-in for argon2.IDKey, deterministic in its inputs.
func pwFakeArgon2(password, salt []byte, _, _ uint32, _ uint8, keyLen uint32) []byte {
	out := make([]byte, keyLen)
	for i := range out {
		out[i] = byte(i)
	}
	for i, b := range append(append([]byte{}, password...), salt...) {
		out[i%len(out)] ^= b + byte(i)
	}
	return out
}

func TestPasswordHasher_HashRoundTrip(t *testing.T) {
	ctx := context.Background()
	var h jwtauth.PasswordHasher // zero value is ready to use
	const password = "correct horse battery staple"

	first, err := h.Hash(ctx, password)
	require.NoError(t, err)
	second, err := h.Hash(ctx, password)
	require.NoError(t, err)

	t.Run("PHC string carries the exact current parameters", func(t *testing.T) {
		m := pwPHCPattern.FindStringSubmatch(first)
		require.NotNil(t, m, "not a PHC argon2id string: %s", first)
		assert.Equal(t, []string{"19456", "2", "1"}, m[1:4])
		salt, err := base64.RawStdEncoding.Strict().DecodeString(m[4])
		require.NoError(t, err)
		key, err := base64.RawStdEncoding.Strict().DecodeString(m[5])
		require.NoError(t, err)
		assert.Len(t, salt, 16)
		assert.Len(t, key, 32)
		// Recomputed outside the package: the stored key is plain argon2id.
		assert.Equal(t, argon2.IDKey([]byte(password), salt, 2, 19456, 1, 32), key)
	})
	t.Run("two hashes of one password differ by salt", func(t *testing.T) {
		assert.NotEqual(t, first, second)
		require.Regexp(t, pwPHCPattern, second)
	})
	t.Run("right password matches without rehash", func(t *testing.T) {
		match, rehash, err := h.Verify(ctx, password, first)
		require.NoError(t, err)
		assert.True(t, match)
		assert.False(t, rehash)
	})
	t.Run("wrong password does not match", func(t *testing.T) {
		match, rehash, err := h.Verify(ctx, password+"!", first)
		require.NoError(t, err)
		assert.False(t, match)
		assert.False(t, rehash)
	})
}

func TestPasswordHasher_VerifiesForeignArgon2idAndAsksForRehash(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name, password, encoded string
	}{
		{"reference vector p=1", "password", pwRefArgon2idP1},
		{"reference vector p=2", "password", pwRefArgon2idP2},
		{"t=1", "hunter2hunter2", pwArgon2idPHC("hunter2hunter2", "0123456789abcdef", 1024, 1, 1, 32)},
		{"16-byte key", "hunter2hunter2", pwArgon2idPHC("hunter2hunter2", "0123456789abcdef", 64, 2, 1, 16)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h jwtauth.PasswordHasher
			match, rehash, err := h.Verify(ctx, tt.password, tt.encoded)
			require.NoError(t, err)
			assert.True(t, match)
			assert.True(t, rehash, "parameters differ from the current ones")

			match, rehash, err = h.Verify(ctx, tt.password+"x", tt.encoded)
			require.NoError(t, err)
			assert.False(t, match)
			assert.False(t, rehash)
		})
	}
}

func TestPasswordHasher_CurrentParametersNeedNoRehashOnlyWithCurrentLengths(t *testing.T) {
	// The fake key derivation keeps this cheap; only parsing and comparison are tested.
	ctx := context.Background()
	phc := func(salt string, keyLen uint32) string {
		key := pwFakeArgon2([]byte("pw"), []byte(salt), 2, 19456, 1, keyLen)
		return "$argon2id$v=19$m=19456,t=2,p=1$" + base64.RawStdEncoding.EncodeToString([]byte(salt)) + "$" + base64.RawStdEncoding.EncodeToString(key)
	}
	tests := []struct {
		name       string
		encoded    string
		wantRehash bool
	}{
		{"16-byte salt, 32-byte key", phc("0123456789abcdef", 32), false},
		{"8-byte salt", phc("01234567", 32), true},
		{"64-byte key", phc("0123456789abcdef", 64), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h jwtauth.PasswordHasher
			jwtauth.SetPasswordHasherArgon2IDForTest(&h, pwFakeArgon2)
			match, rehash, err := h.Verify(ctx, "pw", tt.encoded)
			require.NoError(t, err)
			assert.True(t, match)
			assert.Equal(t, tt.wantRehash, rehash)
		})
	}
}

func TestPasswordHasher_VerifiesBcryptAndAsksForRehash(t *testing.T) {
	ctx := context.Background()
	generated, err := bcrypt.GenerateFromPassword([]byte("tr0ub4dor&3"), bcrypt.MinCost)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(generated), "$2a$"))

	tests := []struct {
		name, password, encoded string
	}{
		{"$2a$ from x/crypto/bcrypt", "tr0ub4dor&3", string(generated)},
		// jBCrypt / pyca bcrypt test vectors.
		{"$2a$ fixed vector", "abcdefghijklmnopqrstuvwxyz", "$2a$08$aTsUwsyowQuzRrDqFflhgekJ8d9/7Z3GV3UcgvzQW3J5zMyrTvlz."},
		{"$2b$ fixed vector", "Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"},
		// PHP's password_verify documentation example.
		{"$2y$ PHP vector", "rasmuslerdorf", "$2y$07$BCryptRequires22Chrcte/VlQH0piJtjXl.0t1XkA8pw9dMXTpOq"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h jwtauth.PasswordHasher
			match, rehash, err := h.Verify(ctx, tt.password, tt.encoded)
			require.NoError(t, err)
			assert.True(t, match)
			assert.True(t, rehash, "bcrypt hashes are always migrated to argon2id")

			match, rehash, err = h.Verify(ctx, tt.password+"x", tt.encoded)
			require.NoError(t, err)
			assert.False(t, match)
			assert.False(t, rehash)
		})
	}
}

func TestPasswordHasher_RefusesBcryptPasswordOver72Bytes(t *testing.T) {
	ctx := context.Background()
	exactly72 := strings.Repeat("0123456789ab", 6)
	require.Len(t, exactly72, 72)
	over72 := exactly72 + "EXTRA"
	hash, err := bcrypt.GenerateFromPassword([]byte(exactly72), bcrypt.MinCost)
	require.NoError(t, err)
	// The danger: plain bcrypt ignores everything after byte 72.
	require.NoError(t, bcrypt.CompareHashAndPassword(hash, []byte(over72)))

	var h jwtauth.PasswordHasher
	match, rehash, err := h.Verify(ctx, over72, string(hash))
	require.ErrorIs(t, err, jwtauth.ErrPasswordTooLong)
	assert.Contains(t, err.Error(), "72 bytes")
	assert.False(t, match)
	assert.False(t, rehash)

	match, _, err = h.Verify(ctx, exactly72, string(hash))
	require.NoError(t, err)
	assert.True(t, match, "72 bytes is still within bcrypt's limit")
}

func TestPasswordHasher_RefusesPasswordsOver4096Bytes(t *testing.T) {
	ctx := context.Background()
	var h jwtauth.PasswordHasher
	jwtauth.SetPasswordHasherArgon2IDForTest(&h, pwFakeArgon2)
	tooLong := strings.Repeat("a", 4097)

	_, err := h.Hash(ctx, tooLong)
	require.ErrorIs(t, err, jwtauth.ErrPasswordTooLong)
	assert.Contains(t, err.Error(), "4096 bytes")

	match, _, err := h.Verify(ctx, tooLong, pwRefArgon2idP1)
	require.ErrorIs(t, err, jwtauth.ErrPasswordTooLong)
	assert.False(t, match)

	require.ErrorIs(t, h.VerifyUnknownUser(ctx, tooLong), jwtauth.ErrPasswordTooLong)

	encoded, err := h.Hash(ctx, tooLong[:4096])
	require.NoError(t, err, "4096 bytes is the limit, not over it")
	match, _, err = h.Verify(ctx, tooLong[:4096], encoded)
	require.NoError(t, err)
	assert.True(t, match)
}

func TestPasswordHasher_RejectsMalformedHashes(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"                                 // "somesalt"
		key  = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4" // 32 bytes
		good = "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key
	)
	require.Equal(t, pwRefArgon2idP1, good)
	bcryptTail := "cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"

	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"plain text", "hunter2"},
		{"random string", "d41d8cd98f00b204e9800998ecf8427e"},
		{"scheme only", "$argon2id$"},
		{"scheme without trailing dollar", "$argon2id"},
		{"truncated after parameters", "$argon2id$v=19$m=256,t=2,p=1$"},
		{"truncated key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$"},
		{"extra field", good + "$extra"},
		{"missing version", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key},
		{"version 16", strings.Replace(good, "v=19", "v=16", 1)},
		{"version with leading zero", strings.Replace(good, "v=19", "v=019", 1)},
		{"m=0", strings.Replace(good, "m=256", "m=0", 1)},
		{"m below 8 KiB per lane", strings.Replace(good, "m=256,t=2,p=1", "m=15,t=2,p=2", 1)},
		{"m over 1 GiB", strings.Replace(good, "m=256", "m=1048577", 1)},
		{"m overflows uint32", strings.Replace(good, "m=256", "m=4294967296", 1)},
		{"m with 11 digits", strings.Replace(good, "m=256", "m=99999999999", 1)},
		{"m with leading zero", strings.Replace(good, "m=256", "m=0256", 1)},
		{"m with plus sign", strings.Replace(good, "m=256", "m=+256", 1)},
		{"m negative", strings.Replace(good, "m=256", "m=-256", 1)},
		{"m empty", strings.Replace(good, "m=256", "m=", 1)},
		{"t=0", strings.Replace(good, "t=2", "t=0", 1)},
		{"t huge", strings.Replace(good, "t=2", "t=4294967295", 1)},
		{"t=11", strings.Replace(good, "t=2", "t=11", 1)},
		{"p=0", strings.Replace(good, "p=1", "p=0", 1)},
		{"p=17", strings.Replace(good, "m=256,t=2,p=1", "m=256,t=2,p=17", 1)},
		{"p=256 overflows uint8", strings.Replace(good, "m=256,t=2,p=1", "m=4096,t=2,p=256", 1)},
		{"parameters reordered", strings.Replace(good, "m=256,t=2,p=1", "t=2,m=256,p=1", 1)},
		{"parameter missing", strings.Replace(good, "m=256,t=2,p=1", "m=256,t=2", 1)},
		{"extra parameter", strings.Replace(good, "m=256,t=2,p=1", "m=256,t=2,p=1,k=1", 1)},
		{"space in parameters", strings.Replace(good, "t=2", "t= 2", 1)},
		{"salt not base64", strings.Replace(good, salt, "c29tZX!hbHQ", 1)},
		{"salt padded", strings.Replace(good, salt, salt+"=", 1)},
		{"salt with newline", strings.Replace(good, salt, "c29tZXNh\nbHQ", 1)},
		{"salt with non-zero trailing bits", strings.Replace(good, salt, "c29tZXNhbHR", 1)},
		{"salt URL-safe alphabet", strings.Replace(good, salt, "c29tZXNhbHQ-", 1)},
		{"salt too short", strings.Replace(good, salt, "c29tZQ", 1)},
		{"salt too long", strings.Replace(good, salt, strings.Repeat("A", 87), 1)},
		{"key not base64", strings.Replace(good, key, "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/*", 1)},
		{"key too short", strings.Replace(good, key, "nf65EOgLrQMR/uIPnA4r", 1)}, // 15 bytes
		{"key too long", strings.Replace(good, key, strings.Repeat("A", 88), 1)},
		{"hash over 256 bytes", good + strings.Repeat("A", 200)},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1)},
		{"argon2d", strings.Replace(good, "argon2id", "argon2d", 1)},
		{"upper-case scheme", strings.Replace(good, "argon2id", "ARGON2ID", 1)},
		{"scrypt", "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E"},
		{"md5crypt", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"},
		{"bcrypt junk", "$2a$"},
		{"bcrypt truncated", "$2a$10$" + bcryptTail[:40]},
		{"bcrypt one character too long", "$2b$04$" + bcryptTail + "A"},
		{"bcrypt cost 03", "$2b$03$" + bcryptTail},
		{"bcrypt cost 17", "$2b$17$" + bcryptTail},
		{"bcrypt cost 31", "$2b$31$" + bcryptTail},
		{"bcrypt cost not digits", "$2b$1a$" + bcryptTail},
		{"bcrypt missing separator", "$2b$04x" + bcryptTail},
		{"bcrypt character outside alphabet", "$2b$04$" + strings.Replace(bcryptTail, "/", "+", 1)},
		{"bcrypt $2x$", "$2x$04$" + bcryptTail},
		{"bcrypt $2$", "$2$04$" + bcryptTail + "A"},
		{"bcrypt major version 3", "$3a$04$" + bcryptTail},
		{"very long string", strings.Repeat("$argon2id$", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h jwtauth.PasswordHasher
			jwtauth.SetPasswordHasherArgon2IDForTest(&h, func([]byte, []byte, uint32, uint32, uint8, uint32) []byte {
				t.Fatal("a malformed hash must be refused before any key derivation")
				return nil
			})
			var (
				match, rehash bool
				err           error
			)
			require.NotPanics(t, func() { match, rehash, err = h.Verify(context.Background(), "password", tt.encoded) })
			require.ErrorIs(t, err, jwtauth.ErrMalformedHash)
			assert.False(t, match)
			assert.False(t, rehash)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, "jwtauth: malformed password hash: "), msg)
			if len(tt.encoded) > 20 {
				assert.NotContains(t, msg, tt.encoded, "the error must not echo the hash")
			}
			assert.NotContains(t, msg, key, "the error must not echo the stored key")
		})
	}
}

func TestPasswordHasher_UnknownSchemeErrorNamesTheScheme(t *testing.T) {
	var h jwtauth.PasswordHasher
	_, _, err := h.Verify(context.Background(), "pw", "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$iekCn0Y3spW+sCcFanM2xBT63UP2sghkUoHLIUpWRS8")
	require.ErrorIs(t, err, jwtauth.ErrMalformedHash)
	assert.Contains(t, err.Error(), `"argon2i"`)
	assert.NotContains(t, err.Error(), "iekCn0Y3")
}

func TestPasswordHasher_RunsAtMostMaxConcurrentComputations(t *testing.T) {
	const callers = 8
	h := &jwtauth.PasswordHasher{MaxConcurrent: 2}
	var inFlight, maxInFlight atomic.Int32
	entered := make(chan struct{}, callers+1)
	gate := make(chan struct{})
	t.Cleanup(func() {
		if t.Failed() {
			close(gate) // unblock whatever is still gated
		}
	})
	jwtauth.SetPasswordHasherArgon2IDForTest(h, func(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		entered <- struct{}{}
		if string(password) == "gated" {
			<-gate // held until the test lets this computation finish
		}
		inFlight.Add(-1)
		return pwFakeArgon2(password, salt, passes, memory, threads, keyLen)
	})
	waitEntered := func() {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(time.Minute): // a guard against hanging, not an assertion
			t.Fatal("no computation started")
		}
	}

	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, err := h.Hash(context.Background(), "gated")
			errs <- err
		})
	}

	// Two computations hold both slots; the other six wait.
	waitEntered()
	waitEntered()

	// A caller whose deadline passes while waiting gives up with the context's error.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err := h.Hash(ctx, "not gated")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Contains(t, err.Error(), "MaxConcurrent")

	// Each finished computation lets exactly one waiter in.
	for i := range callers {
		gate <- struct{}{}
		if i < callers-2 {
			waitEntered()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Equal(t, int32(2), maxInFlight.Load(), "never more than MaxConcurrent at once")
}

func TestPasswordHasher_WaitingForASlotRespectsContext(t *testing.T) {
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	require.NoError(t, err)
	calls := map[string]func(*jwtauth.PasswordHasher, context.Context) error{
		"Hash": func(h *jwtauth.PasswordHasher, ctx context.Context) error {
			_, err := h.Hash(ctx, "password")
			return err
		},
		"Verify argon2id": func(h *jwtauth.PasswordHasher, ctx context.Context) error {
			_, _, err := h.Verify(ctx, "password", pwRefArgon2idP1)
			return err
		},
		"Verify bcrypt": func(h *jwtauth.PasswordHasher, ctx context.Context) error {
			_, _, err := h.Verify(ctx, "pw", string(bcryptHash))
			return err
		},
		"VerifyUnknownUser": func(h *jwtauth.PasswordHasher, ctx context.Context) error {
			return h.VerifyUnknownUser(ctx, "password")
		},
	}
	for name, call := range calls {
		t.Run(name+" gives up with DeadlineExceeded while all slots are held", func(t *testing.T) {
			h := &jwtauth.PasswordHasher{MaxConcurrent: 2}
			jwtauth.SetPasswordHasherArgon2IDForTest(h, pwFakeArgon2)
			release, err := jwtauth.HoldPasswordHasherSlotsForTest(context.Background(), h, 2)
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			err = call(h, ctx)
			require.ErrorIs(t, err, context.DeadlineExceeded)
			assert.True(t, strings.HasPrefix(err.Error(), "jwtauth: "), err.Error())

			release()
			require.NoError(t, call(h, context.Background()), "works again once a slot is free")
		})
		t.Run(name+" does not start with a cancelled context even if a slot is free", func(t *testing.T) {
			h := &jwtauth.PasswordHasher{MaxConcurrent: 2}
			jwtauth.SetPasswordHasherArgon2IDForTest(h, func([]byte, []byte, uint32, uint32, uint8, uint32) []byte {
				t.Fatal("no computation may start after cancellation")
				return nil
			})
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			require.ErrorIs(t, call(h, ctx), context.Canceled)
		})
	}
}

func TestPasswordHasher_ZeroMaxConcurrentMeansGOMAXPROCS(t *testing.T) {
	var h jwtauth.PasswordHasher
	release, err := jwtauth.HoldPasswordHasherSlotsForTest(context.Background(), &h, runtime.GOMAXPROCS(0))
	require.NoError(t, err)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, err = jwtauth.HoldPasswordHasherSlotsForTest(ctx, &h, 1)
	require.ErrorIs(t, err, context.DeadlineExceeded, "GOMAXPROCS slots, no more")
}

func TestPasswordHasher_VerifyUnknownUserRunsCurrentArgon2id(t *testing.T) {
	type call struct {
		time, memory     uint32
		threads          uint8
		saltLen, keyLen  int
		passwordReceived string
	}
	var calls []call
	var h jwtauth.PasswordHasher
	jwtauth.SetPasswordHasherArgon2IDForTest(&h, func(password, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
		calls = append(calls, call{passes, memory, threads, len(salt), int(keyLen), string(password)})
		return pwFakeArgon2(password, salt, passes, memory, threads, keyLen)
	})
	require.NoError(t, h.VerifyUnknownUser(context.Background(), "guess"))
	_, err := h.Hash(context.Background(), "guess")
	require.NoError(t, err)
	require.Len(t, calls, 2)
	assert.Equal(t, call{2, 19456, 1, 16, 32, "guess"}, calls[0])
	assert.Equal(t, calls[1], calls[0], "same work as hashing or verifying with current parameters")
}

func TestPasswordHasher_VerifyUnknownUserReturnsNilWithRealArgon2id(t *testing.T) {
	var h jwtauth.PasswordHasher
	require.NoError(t, h.VerifyUnknownUser(context.Background(), "no such user's password"))
}

func TestPasswordPolicy_Classic(t *testing.T) {
	tests := []struct {
		name, password, wantReason string
	}{
		{"valid seed example", "!Kingh_a1234", ""},
		{"valid at 8", "Ab1!cdef", ""},
		{"valid at 20", "Ab1!" + strings.Repeat("x", 16), ""},
		{"seed special characters count", "Abcdef1^", ""},
		{"non-ASCII letters count", "Ärger#über9", ""},
		{"too short", "Ab1!cde", "password must be at least 8 characters long"},
		{"too long at 21", "Ab1!" + strings.Repeat("x", 17), "password must be at most 20 characters long"},
		{"missing upper", "ab1!cdef", "password must contain at least one upper-case letter"},
		{"missing lower", "AB1!CDEF", "password must contain at least one lower-case letter"},
		{"missing digit", "Abc!defg", "password must contain at least one digit"},
		{"missing special", "Abc1defg", "password must contain at least one special character"},
		{"space is not special", "Abc1 efg", "password must contain at least one special character"},
		{"all classes missing at once", "        ", "password must contain at least one upper-case letter, one lower-case letter, one digit and one special character"},
		{"two missing", "abcdefgh1", "password must contain at least one upper-case letter and one special character"},
		{"short and missing classes", "abc", "password must be at least 8 characters long and contain at least one upper-case letter, one digit and one special character"},
	}
	policy := jwtauth.ClassicPasswordPolicy()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pwAssertReason(t, policy, tt.password, tt.wantReason)
		})
	}
}

func TestPasswordPolicy_NIST(t *testing.T) {
	tests := []struct {
		name, password, wantReason string
	}{
		{"15 ASCII characters", "tangerine-otter", ""},
		{"14 code points of multi-byte runes", strings.Repeat("ж", 14), "password must be at least 15 characters long"},
		{"15 code points of multi-byte runes", strings.Repeat("ж", 15), ""},
		{"15 emoji (60 bytes)", strings.Repeat("🔑", 15), ""},
		{"64-character passphrase", "correct horse battery staple and a quiet river under autumn sky!", ""},
		{"128 code points", strings.Repeat("ab", 64), ""},
		{"129 code points", strings.Repeat("ab", 64) + "c", "password must be at most 128 characters long"},
		{"no composition rules", "all lower case words", ""},
		{"common 16-character password", "passwordpassword", "password is too common; choose a longer, less predictable passphrase"},
		{"common password compared case-insensitively", "1QAZ2WSX3EDC4RFV", "password is too common; choose a longer, less predictable passphrase"},
		{"common 15-character password", "qwerty123456789", "password is too common; choose a longer, less predictable passphrase"},
		{"common but too short reports the length", "password", "password must be at least 15 characters long"},
		{"tab refused", "tangerine\totter!", "password must not contain control characters such as tabs or line breaks"},
		{"newline refused", "tangerine\notter!", "password must not contain control characters such as tabs or line breaks"},
		{"line separator refused", "tangerine\u2028otter!", "password must not contain control characters such as tabs or line breaks"},
		{"invalid UTF-8 refused", "tangerine-otter\xff", "password is not valid UTF-8 text"},
	}
	policy := jwtauth.NISTPasswordPolicy()
	assert.Len(t, "correct horse battery staple and a quiet river under autumn sky!", 64)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pwAssertReason(t, policy, tt.password, tt.wantReason)
		})
	}
}

func TestPasswordPolicy_RejectsShortCommonPasswordsWithLowerMinimum(t *testing.T) {
	policy := jwtauth.PasswordPolicy{Name: "custom", MinLength: 6, RejectCommon: true}
	for _, pw := range []string{"password", "letmein", "iloveyou", "Password", "QWERTY"} {
		pwAssertReason(t, policy, pw, "password is too common; choose a longer, less predictable passphrase")
	}
	pwAssertReason(t, policy, "tangerine-otter", "")
	pwAssertReason(t, jwtauth.PasswordPolicy{MinLength: 6}, "password", "")
}

func TestPasswordPolicy_InvalidUTF8IsRefusedByEveryPolicy(t *testing.T) {
	for _, policy := range []jwtauth.PasswordPolicy{jwtauth.ClassicPasswordPolicy(), jwtauth.NISTPasswordPolicy(), {}} {
		pwAssertReason(t, policy, "Ab1!cdef\xc3", "password is not valid UTF-8 text")
	}
}

func TestPasswordPolicy_ErrorNamesPolicyAndWrapsErrWeakPassword(t *testing.T) {
	err := jwtauth.NISTPasswordPolicy().Validate("short")
	require.ErrorIs(t, err, jwtauth.ErrWeakPassword)
	assert.Equal(t, `jwtauth: password rejected by the "nist" policy: password must be at least 15 characters long`, err.Error())
	var pe *jwtauth.PasswordPolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "nist", pe.Policy)
}

func TestPasswordPolicy_ByName(t *testing.T) {
	tests := []struct {
		name string
		want jwtauth.PasswordPolicy
	}{
		{"classic", jwtauth.ClassicPasswordPolicy()},
		{"Classic", jwtauth.ClassicPasswordPolicy()},
		{"nist", jwtauth.NISTPasswordPolicy()},
		{"NIST", jwtauth.NISTPasswordPolicy()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jwtauth.PasswordPolicyByName(tt.name)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
	for _, bad := range []string{"", "nist ", "strong", "owasp", strings.Repeat("x", 1000)} {
		t.Run("unknown "+strconv.Quote(bad[:min(len(bad), 10)]), func(t *testing.T) {
			_, err := jwtauth.PasswordPolicyByName(bad)
			require.ErrorIs(t, err, jwtauth.ErrUnknownPasswordPolicy)
			assert.Less(t, len(err.Error()), 120, "long names are cut in the message")
			assert.Contains(t, err.Error(), `"classic"`)
			assert.Contains(t, err.Error(), `"nist"`)
		})
	}
}

func TestPasswordPolicy_BuiltInValues(t *testing.T) {
	assert.Equal(t, jwtauth.PasswordPolicy{
		Name: "classic", MinLength: 8, MaxLength: 20,
		RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSpecial: true,
	}, jwtauth.ClassicPasswordPolicy())
	assert.Equal(t, jwtauth.PasswordPolicy{Name: "nist", MinLength: 15, MaxLength: 128, RejectCommon: true}, jwtauth.NISTPasswordPolicy())
}

func TestPasswordPolicy_CommonPasswordListIsSortedAndEveryEntryIsRefused(t *testing.T) {
	data, err := os.ReadFile("common-passwords.txt")
	require.NoError(t, err)
	require.True(t, bytes.HasSuffix(data, []byte("\n")), "last line must end with a newline")
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	require.Greater(t, len(lines), 10000)
	require.LessOrEqual(t, len(lines), 100000)

	policy := jwtauth.PasswordPolicy{RejectCommon: true}
	for i, line := range lines {
		switch {
		case line == "" || strings.ToLower(line) != line || !utf8.ValidString(line):
			t.Fatalf("line %d %q must be non-empty, lower-case UTF-8", i+1, line)
		case i > 0 && lines[i-1] >= line:
			t.Fatalf("line %d %q must sort after line %d, without duplicates", i+1, line, i)
		}
		// The binary search must find every entry, first and last included.
		if err := policy.Validate(line); !errors.Is(err, jwtauth.ErrWeakPassword) {
			t.Fatalf("line %d %q not found by the lookup", i+1, line)
		}
	}
	// Neighbours that are not in the list are accepted.
	for _, pw := range []string{"", "passwordpasswordx", "0", "zzzzzzzzzzzzzzzzzzzz", "tangerine-otter"} {
		assert.NoError(t, policy.Validate(pw), pw)
	}
}

func pwAssertReason(t *testing.T, policy jwtauth.PasswordPolicy, password, wantReason string) {
	t.Helper()
	err := policy.Validate(password)
	if wantReason == "" {
		assert.NoError(t, err)
		return
	}
	require.ErrorIs(t, err, jwtauth.ErrWeakPassword)
	var pe *jwtauth.PasswordPolicyError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, wantReason, pe.Reason)
	assert.True(t, strings.HasPrefix(err.Error(), "jwtauth: "), err.Error())
	if len(password) >= 3 && !strings.Contains(wantReason, password) {
		assert.NotContains(t, err.Error(), password, "the reason must not echo the password")
	}
}

// FuzzVerifyPasswordHash checks that Verify never panics on any stored hash,
// that errors are the documented ones, and that a match implies a well-formed
// hash. Inputs that would derive a key with more argon2id work (m×t) than
// the current parameters, or more than 4 lanes, and bcrypt costs above 5,
// are skipped to keep each iteration fast; the parser still runs on them,
// and TestPasswordHasher_RejectsMalformedHashes covers their bounds.
func FuzzVerifyPasswordHash(f *testing.F) {
	cheap := pwArgon2idPHC("hunter2", "0123456789abcdef", 64, 1, 1, 32)
	bcryptHash, err := bcrypt.GenerateFromPassword([]byte("hunter2"), bcrypt.MinCost)
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []struct{ password, encoded string }{
		{"hunter2", cheap},
		{"password", pwRefArgon2idP1},
		{"password", pwRefArgon2idP2},
		{"hunter2", string(bcryptHash)},
		{"hunter2", "$2y$" + string(bcryptHash[4:])},
		{"Kk4DQuMMfZL9o", "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"},
		{"x", ""},
		{"x", "$argon2id$"},
		{"x", "$argon2id$v=19$m=0,t=0,p=0$$"},
		{"x", "$argon2id$v=16$m=65536,t=3,p=4$c29tZXNhbHQ$c29tZXNhbHQ"},
		{"x", "$2a$"},
		{"x", "$scrypt$ln=16,r=8,p=1$abc$def"},
		{"x", "plain"},
	} {
		f.Add(seed.password, seed.encoded)
	}
	f.Fuzz(func(t *testing.T, password, encoded string) {
		if len(encoded) >= 7 && encoded[0] == '$' && encoded[1] == '2' && encoded[3] == '$' {
			if cost, err := strconv.Atoi(encoded[4:6]); err == nil && cost > 5 {
				t.Skip("bcrypt cost above 5 is too slow to fuzz")
			}
		}
		h := &jwtauth.PasswordHasher{MaxConcurrent: 1}
		jwtauth.SetPasswordHasherArgon2IDForTest(h, func(pw, salt []byte, passes, memory uint32, threads uint8, keyLen uint32) []byte {
			if uint64(memory)*uint64(passes) > 19456*2 || threads > 4 {
				t.Skip("argon2id work above the current parameters' is too slow to fuzz")
			}
			return argon2.IDKey(pw, salt, passes, memory, threads, keyLen)
		})
		match, rehash, err := h.Verify(context.Background(), password, encoded)
		if err != nil {
			if match || rehash {
				t.Fatalf("error %v came with match=%v rehash=%v", err, match, rehash)
			}
			if !errors.Is(err, jwtauth.ErrMalformedHash) && !errors.Is(err, jwtauth.ErrPasswordTooLong) {
				t.Fatalf("undocumented error: %v", err)
			}
			if !strings.HasPrefix(err.Error(), "jwtauth: ") {
				t.Fatalf("error lacks the jwtauth prefix: %v", err)
			}
			return
		}
		if rehash && !match {
			t.Fatal("needsRehash without a match")
		}
		if !match {
			return
		}
		switch {
		case pwBcryptPattern.MatchString(encoded):
			if len(password) > 72 {
				t.Fatal("bcrypt matched a password over 72 bytes")
			}
		case pwPHCPattern.MatchString(encoded):
			m := pwPHCPattern.FindStringSubmatch(encoded)
			for _, field := range m[4:6] {
				b, err := base64.RawStdEncoding.Strict().DecodeString(field)
				if err != nil || base64.RawStdEncoding.EncodeToString(b) != field {
					t.Fatalf("matched a non-canonical base64 field %q", field)
				}
			}
		default:
			t.Fatalf("matched a hash that is not well-formed: %q", encoded)
		}
	})
}
