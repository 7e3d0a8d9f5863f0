package jwtauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed" // the common-password list is compiled into the binary
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Unexported package-level names carry a "pw" prefix so they cannot clash
// with the rest of package jwtauth.

// Current argon2id parameters: the OWASP Password Storage Cheat Sheet's
// baseline (m=19 MiB, t=2, p=1). Changing them makes Verify report
// needsRehash for every older hash.
const (
	pwArgon2Memory  = 19456 // KiB
	pwArgon2Time    = 2
	pwArgon2Threads = 1
	pwArgon2SaltLen = 16 // bytes
	pwArgon2KeyLen  = 32 // bytes
)

// Bounds for hashes read back from storage. A hash is data, possibly
// hostile, so its parameters are limited before anything is allocated:
// at most 1 GiB of memory per computation (libsodium's "sensitive" level),
// at most 10 passes and 16 lanes, 8–64 bytes of salt, 16–64 bytes of key.
// Together they cap one verification at roughly ten passes over 1 GiB.
const (
	pwMaxArgon2Memory  = 1 << 20 // KiB, i.e. 1 GiB
	pwMaxArgon2Time    = 10
	pwMaxArgon2Threads = 16
	pwMinArgon2SaltLen = 8
	pwMaxArgon2SaltLen = 64
	pwMinArgon2KeyLen  = 16
	pwMaxArgon2KeyLen  = 64
	// pwMaxEncodedLen is longer than any hash allowed by the bounds above
	// (about 210 characters) and stops huge strings before they are split.
	pwMaxEncodedLen = 256

	// pwMaxBcryptCost: cost 16 already takes seconds; above it a stored
	// hash is more likely hostile than deliberate.
	pwMaxBcryptCost = 16
	// pwBcryptMaxPassword is the number of bytes bcrypt reads; the rest is
	// silently ignored, so longer passwords are refused.
	pwBcryptMaxPassword = 72
	// pwMaxPassword keeps hashing input bounded; it is far above any
	// policy's MaxLength (128 code points are at most 512 bytes).
	pwMaxPassword = 4096
)

// ErrMalformedHash means a stored password hash could not be parsed, uses an
// unsupported scheme, or has parameters outside the accepted bounds. The hash
// is data from storage: fix or reset the stored value.
var ErrMalformedHash = errors.New("jwtauth: malformed password hash")

// ErrPasswordTooLong means a password was refused because of its length:
// over 4096 bytes for argon2id, or over 72 bytes against a bcrypt hash, where
// bcrypt would ignore the rest and compare a truncated password.
var ErrPasswordTooLong = errors.New("jwtauth: password too long")

// PasswordHasher hashes passwords with argon2id and verifies argon2id or
// bcrypt hashes, so that old bcrypt hashes can be migrated at login.
// Each computation waits for a slot first, so a burst of logins cannot
// exhaust memory or CPU.
// The zero value is ready to use. Do not copy after first use.
type PasswordHasher struct {
	// MaxConcurrent bounds how many argon2id/bcrypt computations run at once
	// (each argon2id run holds 19 MiB). Zero or negative means
	// runtime.GOMAXPROCS(0). It is read once, on first use.
	MaxConcurrent int

	once sync.Once
	sem  chan struct{} // one token per running computation

	// argon2IDKey replaces argon2.IDKey in tests; nil means argon2.IDKey.
	argon2IDKey func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte
}

// pwArgon2Hash is a parsed argon2id PHC string.
type pwArgon2Hash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// Hash returns a PHC string
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>" for password, with a fresh
// random salt, ready to store. It refuses passwords over 4096 bytes with
// ErrPasswordTooLong.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	if len(password) > pwMaxPassword {
		return "", pwTooLong()
	}
	salt := make([]byte, pwArgon2SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("jwtauth: reading random salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	key := h.idKey([]byte(password), salt, pwArgon2Time, pwArgon2Memory, pwArgon2Threads, pwArgon2KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, pwArgon2Memory, pwArgon2Time, pwArgon2Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, an argon2id PHC string or
// a bcrypt hash ($2a$, $2b$, $2y$). needsRehash is true when the hash is
// bcrypt or argon2id with parameters (m, t, p, salt or key length) other than
// the current ones, so callers re-hash after a successful login; it is false
// when match is false.
// Errors wrap ErrMalformedHash, ErrPasswordTooLong or the context's error.
func (h *PasswordHasher) Verify(ctx context.Context, password, encoded string) (match bool, needsRehash bool, err error) {
	if len(encoded) > pwMaxEncodedLen {
		return false, false, fmt.Errorf("%w: hash is %d bytes long, more than the %d any accepted hash needs", ErrMalformedHash, len(encoded), pwMaxEncodedLen)
	}
	switch pwScheme(encoded) {
	case "argon2id":
		ph, err := pwParseArgon2id(encoded)
		if err != nil {
			return false, false, err
		}
		if len(password) > pwMaxPassword {
			return false, false, pwTooLong()
		}
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		key := h.idKey([]byte(password), ph.salt, ph.time, ph.memory, ph.threads, uint32(len(ph.key)))
		if subtle.ConstantTimeCompare(key, ph.key) != 1 {
			return false, false, nil
		}
		current := ph.memory == pwArgon2Memory && ph.time == pwArgon2Time && ph.threads == pwArgon2Threads &&
			len(ph.salt) == pwArgon2SaltLen && len(ph.key) == pwArgon2KeyLen
		return true, !current, nil
	case "2a", "2b", "2y":
		if err := pwCheckBcrypt(encoded); err != nil {
			return false, false, err
		}
		if len(password) > pwBcryptMaxPassword {
			return false, false, fmt.Errorf("%w: bcrypt reads only the first %d bytes of a password and this one is longer, so it is refused rather than compared truncated; "+
				"the user must reset the password so it is stored with argon2id", ErrPasswordTooLong, pwBcryptMaxPassword)
		}
		if err := h.acquire(ctx); err != nil {
			return false, false, err
		}
		defer h.release()
		// x/crypto/bcrypt accepts $2y$ as is: it compares the hash with
		// the prefix it was given, and 2a, 2b and 2y compute the same.
		// It compares in constant time.
		err := bcrypt.CompareHashAndPassword([]byte(encoded), []byte(password))
		switch {
		case err == nil:
			return true, true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, false, nil
		default:
			return false, false, fmt.Errorf("%w: bcrypt: %w", ErrMalformedHash, err)
		}
	default:
		return false, false, pwUnknownScheme(encoded)
	}
}

// pwVerifyUnknownUserSalt and pwVerifyUnknownUserKey are fixed dummies
// for VerifyUnknownUser; their values do not matter.
const (
	pwVerifyUnknownUserSalt = "jwtauth-no-user!"                 // 16 bytes
	pwVerifyUnknownUserKey  = "jwtauth-unknown-user-dummy-key!!" // 32 bytes
)

// VerifyUnknownUser costs the same as a Verify against a current-parameters
// argon2id hash and always reports no match; call it when the user does not
// exist so response time does not reveal which emails are registered.
// It returns nil, or the same length and context errors Verify would.
func (h *PasswordHasher) VerifyUnknownUser(ctx context.Context, password string) error {
	if len(password) > pwMaxPassword {
		return pwTooLong()
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	defer h.release()
	key := h.idKey([]byte(password), []byte(pwVerifyUnknownUserSalt), pwArgon2Time, pwArgon2Memory, pwArgon2Threads, pwArgon2KeyLen)
	_ = subtle.ConstantTimeCompare(key, []byte(pwVerifyUnknownUserKey)) // same work as Verify; the result is meaningless
	return nil
}

func (h *PasswordHasher) idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	if h.argon2IDKey != nil {
		return h.argon2IDKey(password, salt, time, memory, threads, keyLen)
	}
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

// acquire takes a computation slot, waiting no longer than ctx allows.
func (h *PasswordHasher) acquire(ctx context.Context) error {
	h.once.Do(func() {
		n := h.MaxConcurrent
		if n <= 0 {
			n = runtime.GOMAXPROCS(0)
		}
		h.sem = make(chan struct{}, n)
	})
	// Checked first so a cancelled caller never starts, even if a slot is free.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("jwtauth: password hashing not started: %w", err)
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jwtauth: gave up waiting for one of %d password hashing slots: %w; "+
			"raise PasswordHasher.MaxConcurrent or the caller's deadline", cap(h.sem), ctx.Err())
	}
}

func (h *PasswordHasher) release() { <-h.sem }

func pwTooLong() error {
	return fmt.Errorf("%w: passwords longer than %d bytes are refused", ErrPasswordTooLong, pwMaxPassword)
}

// pwScheme returns the identifier between the first two '$', or "" when
// encoded does not start with '$'.
func pwScheme(encoded string) string {
	rest, ok := strings.CutPrefix(encoded, "$")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, "$")
	return id
}

// pwUnknownScheme names what was found without echoing the hash itself.
func pwUnknownScheme(encoded string) error {
	const want = "expected argon2id ($argon2id$...) or bcrypt ($2a$, $2b$, $2y$)"
	switch id := pwScheme(encoded); {
	case encoded == "":
		return fmt.Errorf("%w: hash is empty (was it never stored?); %s", ErrMalformedHash, want)
	case encoded[0] != '$':
		return fmt.Errorf("%w: hash does not start with '$', so it is no PHC or bcrypt string (a plain-text or unsalted hash?); %s", ErrMalformedHash, want)
	case len(id) > 0 && len(id) <= 32 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789-") == "":
		return fmt.Errorf("%w: unsupported hash scheme %q; %s", ErrMalformedHash, id, want)
	default:
		return fmt.Errorf("%w: unrecognised hash scheme identifier; %s", ErrMalformedHash, want)
	}
}

// pwParseArgon2id parses "$argon2id$v=19$m=M,t=T,p=P$salt$key" strictly:
// fields in this order, decimal numbers without sign or leading zeros,
// unpadded standard base64 with zero trailing bits, and every value within
// the bounds above.
func pwParseArgon2id(encoded string) (pwArgon2Hash, error) {
	var ph pwArgon2Hash
	f := strings.Split(encoded, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" {
		return ph, fmt.Errorf("%w: argon2id hash has %d '$'-separated fields, want 5 as in $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (truncated?)", ErrMalformedHash, len(f)-1)
	}
	if f[2] != "v=19" {
		return ph, fmt.Errorf("%w: argon2id version field %s is not supported; only v=19 (Argon2 1.3) is", ErrMalformedHash, pwQuoteShort(f[2]))
	}
	params := strings.Split(f[3], ",")
	if len(params) != 3 {
		return ph, fmt.Errorf("%w: argon2id parameters must be exactly m=<KiB>,t=<passes>,p=<lanes>", ErrMalformedHash)
	}
	m, okM := pwParam(params[0], "m=")
	t, okT := pwParam(params[1], "t=")
	p, okP := pwParam(params[2], "p=")
	if !okM || !okT || !okP {
		return ph, fmt.Errorf("%w: argon2id parameters must be exactly m=<KiB>,t=<passes>,p=<lanes> with decimal numbers", ErrMalformedHash)
	}
	switch {
	case p < 1 || p > pwMaxArgon2Threads:
		return ph, fmt.Errorf("%w: argon2id parallelism p=%d is outside 1..%d", ErrMalformedHash, p, pwMaxArgon2Threads)
	case t < 1 || t > pwMaxArgon2Time:
		return ph, fmt.Errorf("%w: argon2id passes t=%d is outside 1..%d", ErrMalformedHash, t, pwMaxArgon2Time)
	case m < 8*p || m > pwMaxArgon2Memory:
		return ph, fmt.Errorf("%w: argon2id memory m=%d KiB is outside %d..%d (at least 8 KiB per lane, at most 1 GiB)", ErrMalformedHash, m, 8*p, pwMaxArgon2Memory)
	}
	salt, err := pwDecodeB64(f[4], "salt", pwMinArgon2SaltLen, pwMaxArgon2SaltLen)
	if err != nil {
		return ph, err
	}
	key, err := pwDecodeB64(f[5], "key", pwMinArgon2KeyLen, pwMaxArgon2KeyLen)
	if err != nil {
		return ph, err
	}
	return pwArgon2Hash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

// pwParam parses "<prefix><decimal>" with at most 10 digits and no leading
// zero, so the result always fits in a uint64 and the text is canonical.
func pwParam(s, prefix string) (uint64, bool) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || len(digits) == 0 || len(digits) > 10 || (len(digits) > 1 && digits[0] == '0') {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// pwDecodeB64 decodes unpadded standard base64. The alphabet is checked
// first because encoding/base64 silently skips '\r' and '\n'.
func pwDecodeB64(s, what string, minLen, maxLen int) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("%w: argon2id %s is not unpadded standard base64", ErrMalformedHash, what)
		}
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: argon2id %s is not valid unpadded standard base64", ErrMalformedHash, what)
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("%w: argon2id %s is %d bytes, want %d..%d", ErrMalformedHash, what, len(b), minLen, maxLen)
	}
	return b, nil
}

// pwCheckBcrypt checks "$2x$NN$" + 53 characters of bcrypt's base64, with
// cost 4..16, before x/crypto/bcrypt (which is lenient) sees it.
func pwCheckBcrypt(encoded string) error {
	const bcryptLen = 60
	if len(encoded) != bcryptLen {
		return fmt.Errorf("%w: bcrypt hash is %d characters long, want %d (truncated by the storage column?)", ErrMalformedHash, len(encoded), bcryptLen)
	}
	c1, c2 := encoded[4], encoded[5]
	if c1 < '0' || c1 > '9' || c2 < '0' || c2 > '9' || encoded[6] != '$' {
		return fmt.Errorf("%w: bcrypt cost must be two digits followed by '$'", ErrMalformedHash)
	}
	if cost := int(c1-'0')*10 + int(c2-'0'); cost < bcrypt.MinCost || cost > pwMaxBcryptCost {
		return fmt.Errorf("%w: bcrypt cost %d is outside %d..%d", ErrMalformedHash, cost, bcrypt.MinCost, pwMaxBcryptCost)
	}
	for i := 7; i < len(encoded); i++ {
		c := encoded[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return fmt.Errorf("%w: bcrypt salt and hash contain a character outside bcrypt's base64 alphabet", ErrMalformedHash)
		}
	}
	return nil
}

// pwQuoteShort quotes s for an error message, cut to 16 bytes.
func pwQuoteShort(s string) string {
	if len(s) > 16 {
		return strconv.Quote(s[:16]) + "..."
	}
	return strconv.Quote(s)
}

// ErrWeakPassword is wrapped by every error PasswordPolicy.Validate returns,
// so callers can tell a rejected password (show the reason to the user) from
// other failures. Use errors.As with *PasswordPolicyError for the reason.
var ErrWeakPassword = errors.New("jwtauth: password does not meet the password policy")

// ErrUnknownPasswordPolicy means PasswordPolicyByName got a name it does not
// know, typically a configuration typo.
var ErrUnknownPasswordPolicy = errors.New("jwtauth: unknown password policy")

// PasswordPolicyError carries the human-readable reason a password was
// rejected, so it can be shown to the user as is. It never contains the
// password. It unwraps to ErrWeakPassword.
type PasswordPolicyError struct {
	// Policy is the Name of the policy that rejected the password.
	Policy string
	// Reason says every requirement the password misses, e.g.
	// "password must be at least 15 characters long".
	Reason string
}

// Error gives the policy name and the reason, prefixed "jwtauth: ".
func (e *PasswordPolicyError) Error() string {
	if e.Policy == "" {
		return "jwtauth: password rejected: " + e.Reason
	}
	return "jwtauth: password rejected by the " + strconv.Quote(e.Policy) + " policy: " + e.Reason
}

// Unwrap returns ErrWeakPassword so errors.Is(err, ErrWeakPassword) works.
func (e *PasswordPolicyError) Unwrap() error { return ErrWeakPassword }

// PasswordPolicy says which passwords are acceptable; Validate gives a human
// reason when one is not. Lengths count Unicode code points, not bytes, so
// non-Latin scripts are not penalised. Unicode normalization (NFKC) is not
// applied: it would need golang.org/x/text, which is not a dependency.
type PasswordPolicy struct {
	// Name identifies the policy in errors: "classic", "nist", or the caller's own.
	Name string
	// MinLength and MaxLength are counted in Unicode code points;
	// MaxLength 0 means no upper bound.
	MinLength, MaxLength int
	// RequireUpper, RequireLower, RequireDigit and RequireSpecial each demand
	// at least one character of that Unicode class; special means
	// punctuation or symbol.
	RequireUpper, RequireLower, RequireDigit, RequireSpecial bool
	// RejectCommon refuses passwords from the embedded common-password
	// list, compared case-insensitively.
	RejectCommon bool
}

// ClassicPasswordPolicy returns the common composition rule, for compatibility
// with existing deployments: 8–20 characters with at least one upper-case
// letter, lower-case letter, digit and special character. Prefer
// NISTPasswordPolicy for new ones: composition rules push users to
// predictable patterns such as "Password1!".
func ClassicPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{
		Name:      "classic",
		MinLength: 8, MaxLength: 20,
		RequireUpper: true, RequireLower: true, RequireDigit: true, RequireSpecial: true,
	}
}

// NISTPasswordPolicy returns the NIST SP 800-63B-4 rule for a password that
// is the only authentication factor: at least 15 code points, no composition
// rules, and common passwords refused. The maximum is 128 code points: NIST
// asks to accept at least 64, 128 leaves room for passphrases and password
// managers while keeping the input at most 512 bytes, well within Hash's
// 4096-byte limit.
func NISTPasswordPolicy() PasswordPolicy {
	return PasswordPolicy{Name: "nist", MinLength: 15, MaxLength: 128, RejectCommon: true}
}

// PasswordPolicyByName returns the built-in policy called name ("classic" or
// "nist", case-insensitive) so it can be chosen from configuration. Other
// names give an error wrapping ErrUnknownPasswordPolicy.
func PasswordPolicyByName(name string) (PasswordPolicy, error) {
	switch {
	case strings.EqualFold(name, "classic"):
		return ClassicPasswordPolicy(), nil
	case strings.EqualFold(name, "nist"):
		return NISTPasswordPolicy(), nil
	default:
		return PasswordPolicy{}, fmt.Errorf(`%w %s; valid names are "classic" and "nist"`, ErrUnknownPasswordPolicy, pwQuoteShort(name))
	}
}

// Validate returns nil if password is acceptable, or a *PasswordPolicyError
// (wrapping ErrWeakPassword) whose Reason lists every requirement missed at
// once, so the user can fix them in one go. Invalid UTF-8 and control
// characters are always refused. The common-password check runs only when
// everything else passes.
func (p PasswordPolicy) Validate(password string) error {
	reject := func(reason string) error { return &PasswordPolicyError{Policy: p.Name, Reason: reason} }
	if !utf8.ValidString(password) {
		return reject("password is not valid UTF-8 text")
	}
	var n int
	var upper, lower, digit, special, control bool
	for _, r := range password {
		n++
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			control = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			special = true
		}
	}
	if control {
		return reject("password must not contain control characters such as tabs or line breaks")
	}
	var musts []string
	if n < p.MinLength {
		musts = append(musts, fmt.Sprintf("be at least %d characters long", p.MinLength))
	} else if p.MaxLength > 0 && n > p.MaxLength {
		musts = append(musts, fmt.Sprintf("be at most %d characters long", p.MaxLength))
	}
	var missing []string
	for _, c := range []struct {
		required, present bool
		what              string
	}{
		{p.RequireUpper, upper, "upper-case letter"},
		{p.RequireLower, lower, "lower-case letter"},
		{p.RequireDigit, digit, "digit"},
		{p.RequireSpecial, special, "special character"},
	} {
		if c.required && !c.present {
			missing = append(missing, c.what)
		}
	}
	if len(missing) > 0 {
		s := "contain at least one " + missing[0]
		for i, m := range missing[1:] {
			if i == len(missing)-2 {
				s += " and one " + m
			} else {
				s += ", one " + m
			}
		}
		musts = append(musts, s)
	}
	if len(musts) > 0 {
		return reject("password must " + strings.Join(musts, " and "))
	}
	if p.RejectCommon && pwIsCommon(strings.ToLower(password)) {
		return reject("password is too common; choose a longer, less predictable passphrase")
	}
	return nil
}

// pwCommonPasswords is the blocklist: lower-case, sorted by byte value, one
// entry per line, each line ending in '\n'. See common-passwords.README for
// its source and licence.
//
//go:embed common-passwords.txt
var pwCommonPasswords string

// pwIsCommon binary-searches the embedded list in place: no index, no
// allocation, nothing to initialise.
func pwIsCommon(candidate string) bool {
	data := pwCommonPasswords
	lo, hi := 0, len(data) // data[lo:hi] is always a run of whole lines
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := lo + strings.LastIndexByte(data[lo:mid], '\n') + 1
		end := hi
		if i := strings.IndexByte(data[mid:hi], '\n'); i >= 0 {
			end = mid + i
		}
		switch c := strings.Compare(candidate, data[start:end]); {
		case c == 0:
			return true
		case c < 0:
			hi = start
		default:
			lo = end + 1
		}
	}
	return false
}
