// Command login-server is a self-hosted login API: users register and log in with an email and a password,
// and receive ES256 access tokens that any jwtauth Verifier (or other JWT library) checks against the server's
// JWKS. It replaces a FastAPI + PyJWT login service; see README.md for the environment and a walkthrough.
//
//	go -C examples run ./login-server
//	go -C examples run ./login-server create-superuser -email admin@example.com
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jwtauth-go/jwtauth"
)

// config is everything the server is configured with. loadConfig fills it from the environment; tests build
// it directly.
type config struct {
	Addr           string
	DatabasePath   string                // DATABASE_URL: a SQLite file path (or sqlite:PATH), or a postgres:// URL
	DatabasePool   dbOptions             // DATABASE_MAX_CONNS, DATABASE_TIMEOUT (db.go); URL is DatabasePath
	Keys           []*jwtauth.SigningKey // empty: an ephemeral key
	ActiveKeyID    string
	Issuer         string
	Audience       string
	TokenTTL       time.Duration
	Policy         jwtauth.PasswordPolicy
	TrustedProxies []netip.Prefix
	Account        accountConfig // PUBLIC_BASE_URL, RESET_TOKEN_TTL, VERIFY_TOKEN_TTL, SMTP_* (account.go)
	Refresh        refreshConfig // REFRESH_TTL, REFRESH_IDLE_TTL (refresh.go)
	Redis          redisConfig   // REDIS_URL, REDIS_PREFIX (redisstate.go)

	// Not read from the environment.
	Limits          limits           // zero fields: CONTRACTS.md's login limits and the registration limits of README.md
	HashConcurrency int              // PasswordHasher.MaxConcurrent; zero: its default
	HashWait        time.Duration    // how long a request may wait for and spend in hashing; zero: 20s
	Clock           func() time.Time // nil: time.Now
	// HashCap bounds the cost of the stored hashes the server verifies (imported bcrypt and argon2id hashes);
	// zero fields: defaultHashCap.
	HashCap hashCap
	// FailedLoginFloor is the least time any failed login takes. Zero: measured at start, as the time one
	// verification of the costliest hash HashCap admits takes, plus a margin.
	FailedLoginFloor time.Duration
}

// Defaults of CONTRACTS.md.
const (
	defaultAddr     = ":8000"
	defaultDatabase = "auth.db"
	defaultIssuer   = "http://localhost:8000"
	defaultAudience = "login-server"
	defaultTTL      = 15 * time.Minute
	defaultPolicy   = "classic"
	maxTTL          = 24 * time.Hour // what jwtauth.Issuer accepts
)

// loadConfig reads the environment through getenv and reports every bad value in one error.
func loadConfig(getenv func(string) string) (config, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	env := func(name, def string) string {
		if v := strings.TrimSpace(getenv(name)); v != "" {
			return v
		}
		return def
	}
	cfg := config{
		Addr:     env("ADDR", defaultAddr),
		Issuer:   env("JWT_ISSUER", defaultIssuer),
		Audience: env("JWT_AUDIENCE", defaultAudience),
	}

	path, err := databasePath(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.DatabasePath = path
	pool, err := databasePool(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	cfg.DatabasePool = pool

	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		bad("ADDR=%q is not a listen address like :8000 or 127.0.0.1:8000", cfg.Addr)
	}
	if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" {
		bad("JWT_ISSUER=%q is not an http(s) URL without query or fragment, like https://login.example.com", cfg.Issuer)
	}

	cfg.TokenTTL, err = parseTTL(env("TOKEN_TTL", ""))
	if err != nil {
		errs = append(errs, err)
	}

	cfg.Policy, err = passwordPolicy(getenv)
	if err != nil {
		errs = append(errs, err)
	}

	for _, entry := range strings.Split(getenv("TRUSTED_PROXIES"), ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		p, err := parsePrefix(entry)
		if err != nil {
			bad("TRUSTED_PROXIES: %q is not an IP address or CIDR prefix (like 10.0.0.0/8 or 192.0.2.7)", entry)
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}

	var refreshErrs []error
	cfg.Refresh, refreshErrs = loadRefreshConfig(getenv)
	errs = append(errs, refreshErrs...)

	var redisErrs []error
	cfg.Redis, redisErrs = loadRedisConfig(getenv)
	errs = append(errs, redisErrs...)

	var accErrs []error
	cfg.Account, accErrs = loadAccountConfig(getenv, cfg.Issuer)
	errs = append(errs, accErrs...)

	keyData, kid := strings.TrimSpace(getenv("ES256_KEY")), strings.TrimSpace(getenv("ES256_KID"))
	switch {
	case keyData != "":
		// The error never quotes the variable: it holds a private key.
		keys, err := jwtauth.ParseSigningKeys([]byte(keyData))
		if err != nil {
			bad("ES256_KEY: %v (expected base64 of a private JWKS, as `jwtauth keygen -base64` prints)", err)
			break
		}
		var kids []string
		for _, k := range keys {
			if slices.Contains(kids, k.KeyID()) {
				bad("ES256_KEY: kid %q is used by two keys: kids must be unique", k.KeyID())
			}
			kids = append(kids, k.KeyID())
			if k.Algorithm() != "ES256" {
				bad("ES256_KEY: key %q is for %s; this server signs with ES256 (P-256) keys only", k.KeyID(), k.Algorithm())
			}
		}
		cfg.Keys = keys
		if kid != "" {
			if !slices.Contains(kids, kid) {
				bad("ES256_KID=%q is not a key of ES256_KEY: known kids are %s", kid, quoteAll(kids))
			}
			cfg.ActiveKeyID = kid
		}
	case kid != "":
		bad("ES256_KID=%q is set but ES256_KEY is not: set ES256_KEY to the key set holding that kid", kid)
	}
	return cfg, errors.Join(errs...)
}

// databasePath reads DATABASE_URL: a postgres:// or postgresql:// URL (PostgreSQL), or a SQLite file path,
// plain or as sqlite:PATH.
func databasePath(getenv func(string) string) (string, error) {
	p := strings.TrimSpace(getenv("DATABASE_URL"))
	if isPostgresURL(p) {
		if _, err := pgx.ParseConfig(p); err != nil {
			return "", fmt.Errorf("DATABASE_URL=%s is not a valid PostgreSQL URL: give one like postgres://user:password@host:5432/db?sslmode=require", redactURL(p))
		}
		return p, nil
	}
	file := strings.TrimPrefix(p, "sqlite:")
	switch {
	case p == "":
		return defaultDatabase, nil
	case file == "":
		return "", errors.New("DATABASE_URL=\"sqlite:\" names no file: give sqlite:/data/auth.db or a plain path")
	case strings.ContainsRune(file, '?'), strings.HasPrefix(file, "file:"), strings.Contains(file, "://"):
		return "", fmt.Errorf("DATABASE_URL=%q: give a postgres:// URL or a plain SQLite file path such as /data/auth.db (no other URI, no '?')", redactURL(p))
	case file == ":memory:":
		return "", errors.New("DATABASE_URL=\":memory:\": users would vanish on restart; give a file path such as auth.db")
	}
	return p, nil
}

// passwordPolicy reads PASSWORD_POLICY.
func passwordPolicy(getenv func(string) string) (jwtauth.PasswordPolicy, error) {
	name := strings.TrimSpace(getenv("PASSWORD_POLICY"))
	if name == "" {
		name = defaultPolicy
	}
	p, err := jwtauth.PasswordPolicyByName(name)
	if err != nil {
		return jwtauth.PasswordPolicy{}, fmt.Errorf("PASSWORD_POLICY=%q is not a known policy: use classic or nist", name)
	}
	return p, nil
}

// parseTTL reads TOKEN_TTL: a Go duration ("15m") or whole seconds ("900").
func parseTTL(s string) (time.Duration, error) {
	if s == "" {
		return defaultTTL, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > int64(maxTTL/time.Second) {
			return 0, fmt.Errorf("TOKEN_TTL=%q is out of range: use 1s up to %s", s, maxTTL)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(s); err != nil {
		return 0, fmt.Errorf("TOKEN_TTL=%q is neither a Go duration (15m) nor whole seconds (900)", s)
	}
	if d < time.Second || d > maxTTL {
		return 0, fmt.Errorf("TOKEN_TTL=%q is out of range: use 1s up to %s (tokens cannot be revoked, keep them short)", s, maxTTL)
	}
	return d, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.ContainsRune(s, '/') {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func quoteAll(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run is main with its surroundings passed in; it returns the exit code: 0 success, 1 failure, 2 usage or
// configuration error.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "create-superuser":
			return createSuperuserCommand(ctx, args[1:], getenv, stdin, stdout, stderr)
		case "migrate":
			return migrateCommand(ctx, args[1:], getenv, stdout, stderr)
		case "-h", "-help", "--help", "help":
			fmt.Fprint(stdout, usage)
			return 0
		}
		fmt.Fprintf(stderr, "login-server: unknown argument %q\n\n%s", args[0], usage)
		return 2
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "login-server: invalid configuration:\n%s\n", indent(err))
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	routeRedisLogs(cfg, log)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, log); err != nil {
		log.Error("login-server stopped", "err", err)
		return 1
	}
	return 0
}

const usage = `usage:
  login-server                                run the server (configured by environment, see README.md)
  login-server create-superuser -email EMAIL  create or promote a superuser; the password comes from
                                              SUPERUSER_PASSWORD or, if unset, standard input
  login-server migrate                        apply the schema migrations of DATABASE_URL and exit (the
                                              server also applies them at start)
`

func indent(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = "  - " + l
	}
	return strings.Join(lines, "\n")
}

// Timeouts of the HTTP server. Writes get longer than reads because a login may queue for the password hasher.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10 // room for a 16 KiB token and then some
	shutdownTimeout   = 15 * time.Second
)

// serve runs the server until ctx is done, then drains in-flight requests for at most shutdownTimeout.
func serve(ctx context.Context, cfg config, log *slog.Logger) error {
	a, err := newApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	srv := &http.Server{
		Handler:           a,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "database", redactURL(cfg.DatabasePath))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// createSuperuserCommand is `login-server create-superuser -email E`.
func createSuperuserCommand(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("create-superuser", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email of the superuser (required)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: login-server create-superuser -email EMAIL\n"+
			"Creates the user, or promotes an existing one, as an active superuser with the given password.\n"+
			"The password comes from SUPERUSER_PASSWORD or, if unset, the first line of standard input.\n"+
			"DATABASE_URL and PASSWORD_POLICY apply as for the server.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *email == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if _, err := normalizeEmail(*email); err != nil {
		fmt.Fprintf(stderr, "login-server: -email %q: %v\n", *email, err)
		return 2
	}
	path, err1 := databasePath(getenv)
	policy, err2 := passwordPolicy(getenv)
	if err := errors.Join(err1, err2); err != nil {
		fmt.Fprintf(stderr, "login-server: invalid configuration:\n%s\n", indent(err))
		return 2
	}
	password := getenv("SUPERUSER_PASSWORD")
	if password == "" {
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
				fmt.Fprint(stderr, "Password (will be echoed; prefer SUPERUSER_PASSWORD or a pipe): ")
			}
		}
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			fmt.Fprintf(stderr, "login-server: reading the password from standard input: %v\n", err)
			return 1
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		fmt.Fprintln(stderr, "login-server: no password: set SUPERUSER_PASSWORD or write it to standard input")
		return 2
	}

	st, err := openStore(ctx, path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "login-server: %v\n", err)
		return 1
	}
	defer st.Close()
	u, created, err := createSuperuser(ctx, st, &jwtauth.PasswordHasher{}, policy, *email, password)
	switch {
	case errors.Is(err, errInvalidEmail):
		fmt.Fprintf(stderr, "login-server: -email %q: %v\n", *email, err)
		return 2
	case errors.Is(err, jwtauth.ErrWeakPassword):
		fmt.Fprintf(stderr, "login-server: the password does not meet the %s policy: %s\n", policy.Name, policyReason(err))
		return 1
	case err != nil:
		fmt.Fprintf(stderr, "login-server: %v\n", err)
		return 1
	}
	verb := "promoted existing user"
	if created {
		verb = "created superuser"
	}
	fmt.Fprintf(stderr, "login-server: %s %s (id %s) in %s\n", verb, u.Email, u.ID, redactURL(path))
	out, _ := json.Marshal(u)
	fmt.Fprintf(stdout, "%s\n", out)
	return 0
}

// createSuperuser makes email an active superuser with password, creating the user if needed. It is what the
// create-superuser command runs.
func createSuperuser(ctx context.Context, st *store, hasher *jwtauth.PasswordHasher, policy jwtauth.PasswordPolicy, email, password string) (user, bool, error) {
	email, err := normalizeEmail(email)
	if err != nil {
		return user{}, false, err
	}
	if err := policy.Validate(password); err != nil {
		return user{}, false, err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return user{}, false, fmt.Errorf("hashing the password: %w", err)
	}
	return st.upsertSuperuser(ctx, email, hash)
}
