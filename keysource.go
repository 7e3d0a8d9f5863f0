package jwtauth

import (
	"bytes"
	"context"
	"crypto"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// KeySource is where a TrustedIssuer's public keys come from. Build one with RemoteJWKS, Discover, LocalKeys,
// LocalKeysFile or PublicKeys. Problems with a source (a bad URL, an unreadable file, no usable key) are
// reported by New together with every other configuration problem. A KeySource may be reused; each Verifier
// keeps its own cache.
type KeySource interface {
	provider(issuer string, algs algSet, env sourceEnv) (keyProvider, error)
}

// sourceEnv is what a source needs from the Verifier.
type sourceEnv struct {
	opts    JWKSOptions
	now     func() time.Time
	logger  *slog.Logger
	onFetch func(FetchOutcome)
}

// keyProvider serves the current key set of one trusted issuer.
type keyProvider interface {
	// current returns the usable key set, or an error saying why there is none.
	current(now time.Time) (*keySet, error)
	// refresh asks for a fetch; it returns a channel closed when the shared fetch ends, or nil when no fetch
	// will happen (local keys, or within the cooldown).
	refresh() <-chan struct{}
	// start begins background work; it returns a channel closed when the first load ends, or nil.
	start(ctx context.Context, wg *sync.WaitGroup) <-chan struct{}
	// stop makes sure no new background work starts; called by Close before waiting.
	stop()
	// info reports the keys in use, for Verifier.KeySets (Issuer is filled in by the caller).
	info() KeySetInfo
}

// errSource reports a problem found while building a source (e.g. an empty Auth0 domain).
type errSource struct{ err error }

func (s errSource) provider(string, algSet, sourceEnv) (keyProvider, error) { return nil, s.err }

func (s errSource) String() string { return "invalid key source: " + s.err.Error() }

// LocalKeys uses the public keys in data: a PEM (PKIX or PKCS#1 public key, X.509 certificate, or a private
// key, reduced to its public part), a JWK, a JWK Set, or any of these base64-encoded (as in an environment
// variable set with `base64 jwks.json`; line breaks are ignored). Private JWK members are ignored. A key given
// without kid verifies tokens with any kid, or none, if its type fits the algorithm.
func LocalKeys(data []byte) KeySource { return localSource{data: data, name: "LocalKeys"} }

// LocalKeysFile is LocalKeys with the contents of the file at path, read once by New.
func LocalKeysFile(path string) KeySource {
	return localSource{path: path, isPath: true, name: "LocalKeysFile"}
}

// PublicKeys uses the given keys (*rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey, or private keys of
// those types, reduced to their public part). They have no kid, so each verifies tokens with any kid, or
// none, if its type fits the algorithm.
func PublicKeys(keys ...crypto.PublicKey) KeySource {
	return localSource{keys: keys, isKeys: true, name: "PublicKeys"}
}

type localSource struct {
	data   []byte
	path   string
	isPath bool
	keys   []crypto.PublicKey
	isKeys bool
	name   string
}

// String names the source for logs and tests, never its key material.
func (s localSource) String() string {
	switch {
	case s.isKeys:
		return fmt.Sprintf("PublicKeys(%d keys)", len(s.keys))
	case s.isPath:
		return fmt.Sprintf("LocalKeysFile(%q)", s.path)
	}
	return fmt.Sprintf("LocalKeys(%d bytes)", len(s.data))
}

func (s localSource) provider(_ string, algs algSet, env sourceEnv) (keyProvider, error) {
	keys, err := s.load(algs, env.logger)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	var usable []*pubKey
	byFam := map[keyFamily]int{}
	for _, k := range keys {
		if k.private {
			env.logger.Info("jwtauth: a private key is configured as a verification key; only its public part is used. Deploy the public key instead (jwtauth pub -key FILE), so this service cannot mint tokens",
				"source", s.String())
			break
		}
	}
	for _, k := range keys {
		if familyAllowed(k.fam, algs) {
			usable = append(usable, k)
			if k.wild {
				byFam[k.fam]++
			}
		}
	}
	if len(usable) == 0 {
		return nil, fmt.Errorf("%s: none of the %d keys fits the configured Algorithms", s.name, len(keys))
	}
	for fam, n := range byFam {
		if n > 1 {
			return nil, fmt.Errorf("%s: %d %s keys have no kid, so a token could not say which one signed it: give each a kid (use a JWK Set)", s.name, n, fam)
		}
	}
	return staticKeys{set: newKeySet(usable, time.Time{}, env.logger, s.name)}, nil
}

func (s localSource) load(algs algSet, logger *slog.Logger) ([]*pubKey, error) {
	switch {
	case s.isKeys:
		var out []*pubKey
		for i, k := range s.keys {
			p, private := k.(interface{ Public() crypto.PublicKey })
			if private {
				k = p.Public()
			}
			fam, err := checkKey(k)
			if err != nil {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			out = append(out, &pubKey{wild: true, fam: fam, key: k, private: private})
		}
		if len(out) == 0 {
			return nil, errors.New("no keys given")
		}
		return out, nil
	case s.isPath:
		if s.path == "" {
			return nil, errors.New("the path is empty: give the key file's path (if it comes from an environment variable, is that variable set?)")
		}
		data, err := readFileLimited(s.path, DefaultMaxResponseSize)
		if err != nil {
			return nil, err
		}
		return parseKeyData(data, algs, logger, s.path, true)
	default:
		return parseKeyData(s.data, algs, logger, s.name, true)
	}
}

func readFileLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; is it a key file?", path, limit)
	}
	return data, nil
}

// parseKeyData detects the format of data: PEM, JWK or JWK Set JSON, or base64 of one of them.
func parseKeyData(data []byte, algs algSet, logger *slog.Logger, where string, allowBase64 bool) ([]*pubKey, error) {
	data = bytes.TrimSpace(data)
	switch {
	case len(data) == 0:
		return nil, errors.New("no key data (empty input)")
	case bytes.HasPrefix(data, []byte("-----BEGIN")):
		return parsePEMKeys(data)
	case data[0] == '{':
		m, err := readJWKMeta(data)
		if err == nil && m.kty == "" {
			return parseJWKSet(data, true, algs, logger, where)
		}
		k, _, err := parseJWK(data, true)
		if err != nil {
			return nil, fmt.Errorf("JWK: %w", err)
		}
		return []*pubKey{k}, nil
	case allowBase64:
		decoded, err := decodeLooseBase64(data)
		if err != nil {
			return nil, errors.New("not PEM, JSON, or base64 of either")
		}
		keys, err := parseKeyData(decoded, algs, logger, where, false)
		if err != nil {
			return nil, fmt.Errorf("base64-decoded data: %w", err)
		}
		return keys, nil
	}
	return nil, errors.New("not PEM or JSON")
}

// decodeLooseBase64 decodes standard or URL-safe base64, padded or not, ignoring line breaks and spaces
// (`base64` wraps at 76 columns). This is for configuration, never for tokens.
func decodeLooseBase64(data []byte) ([]byte, error) {
	clean := make([]byte, 0, len(data))
	for _, c := range data {
		if c != '\n' && c != '\r' && c != ' ' && c != '\t' {
			clean = append(clean, c)
		}
	}
	s := strings.TrimRight(string(clean), "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// staticKeys serves a key set that never changes.
type staticKeys struct{ set *keySet }

func (s staticKeys) current(time.Time) (*keySet, error)                   { return s.set, nil }
func (staticKeys) refresh() <-chan struct{}                               { return nil }
func (staticKeys) start(context.Context, *sync.WaitGroup) <-chan struct{} { return nil }
func (staticKeys) stop()                                                  {}
func (s staticKeys) info() KeySetInfo                                     { return KeySetInfo{Keys: s.set.size} }
