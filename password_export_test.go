package jwtauth

import "context"

// SetPasswordHasherArgon2IDForTest replaces argon2.IDKey inside h, so tests
// can observe and gate computations without paying for real ones.
func SetPasswordHasherArgon2IDForTest(h *PasswordHasher, f func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte) {
	h.argon2IDKey = f
}

// HoldPasswordHasherSlotsForTest takes n of h's computation slots and keeps
// them until release is called, so tests can prove callers wait for them.
func HoldPasswordHasherSlotsForTest(ctx context.Context, h *PasswordHasher, n int) (release func(), err error) {
	held := 0
	release = func() {
		for ; held > 0; held-- {
			h.release()
		}
	}
	for range n {
		if err := h.acquire(ctx); err != nil {
			release()
			return nil, err
		}
		held++
	}
	return release, nil
}
