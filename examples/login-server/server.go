package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jwtauth-go/jwtauth"
)

const (
	// maxBodyBytes bounds every request body (CONTRACTS.md: over 1 MiB is 413).
	maxBodyBytes = 1 << 20
	// realm is sent in WWW-Authenticate challenges.
	realm = "login-server"
	// userScope is granted to every user, so tokens of this server work with the auth0-api example's scoped
	// route; superusers also get adminScope.
	userScope  = "read:messages"
	adminScope = "admin"
	// defaultHashWait bounds how long a request waits for, and spends in, password hashing: when logins queue
	// up for the hasher's slots, answering 503 soon beats holding connections open past the server's WriteTimeout.
	defaultHashWait = 20 * time.Second
	// Pages of GET /admin/users.
	defaultPageSize = 100
	maxPageSize     = 1000
)

// app is the login server: its store, token issuer and verifier, password hasher and rate limiters.
type app struct {
	cfg      config
	log      *slog.Logger
	store    *store
	issuer   *jwtauth.Issuer
	verifier *jwtauth.Verifier
	hasher   *jwtauth.PasswordHasher
	// shared holds the rate limits, and with REDIS_URL the DPoP replay store and the denylist (redisstate.go).
	shared  *sharedState
	handler http.Handler

	// hashCap bounds the stored hashes verified at login; failFloor is the least time a failed login takes:
	// what verifying the costliest hash hashCap admits takes, so that no failure is told apart by its time.
	hashCap   hashCap
	failFloor time.Duration

	// registering holds the emails (emailKey) being registered right now: a concurrent duplicate is answered
	// 409 at once instead of costing a password hash that the UNIQUE constraint would then throw away.
	registering sync.Map

	// regSlots bounds how many registrations wait for, or hold, a slot of hasher: half of its slots, at least
	// one. However many registrations queue, a login waits behind at most that many registration hashes.
	regSlots chan struct{}
	hashWait time.Duration

	// acct serves password change and reset and email verification (account.go).
	acct *accounts

	// dpopProofs checks the DPoP proofs of logins (dpoplogin.go).
	dpopProofs *jwtauth.DPoPProofVerifier

	// docs are the files of the interactive API docs (docs.go).
	docs map[string]docsAsset
}

// newApp opens the database and builds everything the handlers need. With no keys in cfg it signs with a
// fresh key, and says loudly that tokens will not survive a restart. Close releases what it holds.
func newApp(ctx context.Context, cfg config, log *slog.Logger) (*app, error) {
	cfg.Refresh = cfg.Refresh.withDefaults()
	keys := cfg.Keys
	if len(keys) == 0 {
		k, err := jwtauth.GenerateSigningKey("ES256")
		if err != nil {
			return nil, err
		}
		keys = []*jwtauth.SigningKey{k}
		log.Warn("ES256_KEY is not set: signing with an ephemeral key; tokens will not survive a restart. "+
			"Make a persistent key with `go run ./cmd/jwtauth keygen -base64` and set ES256_KEY", "kid", k.KeyID())
	}
	issuer, err := jwtauth.NewIssuer(jwtauth.IssuerConfig{
		Issuer:      cfg.Issuer,
		Audience:    []string{cfg.Audience},
		TTL:         cfg.TokenTTL,
		Keys:        keys,
		ActiveKeyID: cfg.ActiveKeyID,
		Clock:       cfg.Clock,
	})
	if err != nil {
		return nil, err
	}
	hashWait := cmp.Or(cfg.HashWait, defaultHashWait)
	shared, err := newSharedState(ctx, cfg, hashWait+5*time.Second, log)
	if err != nil {
		return nil, err
	}
	pool := cfg.DatabasePool
	pool.URL = cfg.DatabasePath
	st, err := openStoreWith(ctx, pool, cfg.Clock)
	if err != nil {
		_ = shared.close()
		return nil, err
	}
	trusted := issuer.TrustedIssuer()
	trusted.DPoP = jwtauth.DPoPOptional // the tokens of DPoP logins (dpoplogin.go)
	verifier, err := jwtauth.New(ctx, jwtauth.Config{
		Issuers: []jwtauth.TrustedIssuer{trusted},
		DPoP:    dpopOptions(cfg, shared.replay),
		Realm:   realm,
		Clock:   cfg.Clock,
		Logger:  log,
		// Logged-out, deactivated, deleted and password-changed users' tokens stop here (refresh.go).
		Revocations: sessionRevocations{st},
	})
	if err != nil {
		_ = st.Close()
		_ = shared.close()
		return nil, err
	}
	dpopProofs, err := newDPoPProofs(cfg, shared.replay)
	if err != nil {
		_ = verifier.Close()
		_ = st.Close()
		_ = shared.close()
		return nil, err
	}
	acct, err := newAccounts(cfg.Account, cfg.Issuer, cfg.Clock, log)
	if err != nil {
		_ = verifier.Close()
		_ = st.Close()
		_ = shared.close()
		return nil, err
	}
	slots := cfg.HashConcurrency
	if slots <= 0 {
		slots = runtime.GOMAXPROCS(0)
	}
	a := &app{
		cfg:        cfg,
		log:        log,
		store:      st,
		issuer:     issuer,
		verifier:   verifier,
		hasher:     &jwtauth.PasswordHasher{MaxConcurrent: slots},
		shared:     shared,
		hashCap:    cfg.HashCap.withDefaults(),
		failFloor:  cfg.FailedLoginFloor,
		regSlots:   make(chan struct{}, max(1, slots/2)),
		hashWait:   hashWait,
		acct:       acct,
		dpopProofs: dpopProofs,
	}
	if a.failFloor <= 0 {
		if a.failFloor, err = a.hashCap.measureFloor(ctx, a.hasher); err != nil {
			_ = a.Close()
			return nil, err
		}
	}
	if err := a.reportStoredHashes(ctx); err != nil {
		_ = a.Close()
		return nil, err
	}
	if a.docs, err = docsAssets(); err != nil {
		_ = a.Close()
		return nil, err
	}
	a.handler = a.accessLog(limitBody(a.routes()))
	log.Info("signing tokens", "issuer", cfg.Issuer, "audience", cfg.Audience, "ttl", issuer.TTL().String(),
		"kid", issuer.ActiveKey().KeyID(), "password_policy", cfg.Policy.Name)
	log.Info("failed logins are padded to the cost of the costliest accepted password hash",
		"floor_ms", a.failFloor.Milliseconds(), "bcrypt_cost_max", a.hashCap.BcryptCost,
		"argon2id_memory_kib_max", a.hashCap.Argon2Memory, "argon2id_work_max", a.hashCap.Argon2Work)
	return a, nil
}

// ServeHTTP serves the API.
func (a *app) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.handler.ServeHTTP(w, r) }

// Close closes the database and the Redis client and stops the verifier.
func (a *app) Close() error {
	a.acct.Close()
	return errors.Join(a.verifier.Close(), a.store.Close(), a.shared.close())
}

// route is one entry of the API; openapi.json documents the same list (a test keeps them in step).
type route struct {
	method, path string
	handler      http.Handler
}

func (a *app) routeTable() []route {
	auth := a.verifier.RequireAuth
	admin := func(h http.HandlerFunc) http.Handler {
		return auth(jwtauth.RequireScope(adminScope)(a.requireActiveSuperuser(h)))
	}
	return []route{
		{"POST", "/register", http.HandlerFunc(a.register)},
		{"POST", "/login", http.HandlerFunc(a.login)},
		{"POST", "/token/refresh", http.HandlerFunc(a.refresh)},
		{"POST", "/logout", auth(http.HandlerFunc(a.logout))},
		{"GET", "/secret", auth(http.HandlerFunc(a.secret))},
		{"GET", "/users/me", auth(http.HandlerFunc(a.me))},
		{"GET", "/admin/users", admin(a.adminUsers)},
		{"GET", "/admin/users/{id}", admin(a.adminGetUser)},
		{"PATCH", "/admin/users/{id}", admin(a.adminPatchUser)},
		{"DELETE", "/admin/users/{id}", admin(a.adminDeleteUser)},
		{"PATCH", "/users/me", auth(http.HandlerFunc(a.updateMe))},
		{"POST", "/forgot-password", http.HandlerFunc(a.forgotPassword)},
		{"POST", "/reset-password", http.HandlerFunc(a.resetPassword)},
		{"POST", "/request-verify-token", http.HandlerFunc(a.requestVerifyToken)},
		{"POST", "/verify", http.HandlerFunc(a.verify)},
		{"GET", "/.well-known/jwks.json", a.issuer.JWKSHandler()},
		{"GET", "/.well-known/openid-configuration",
			a.issuer.DiscoveryHandler(strings.TrimSuffix(a.cfg.Issuer, "/") + "/.well-known/jwks.json")},
		{"GET", "/healthz", http.HandlerFunc(a.healthz)},
		{"GET", "/openapi.json", openAPIHandler()},
		{"GET", "/docs", docsHandler()},
		{"GET", "/docs/{asset}", docsAssetHandler(a.docs)},
	}
}

// routes builds the mux. Every path also gets a method-less pattern answering a JSON 405, and "/" a JSON 404,
// so that no answer of this server is ServeMux's plain text.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range a.routeTable() {
		mux.Handle(rt.method+" "+rt.path, rt.handler)
		if allowed[rt.path] == nil {
			paths = append(paths, rt.path)
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
		if rt.method == http.MethodGet {
			allowed[rt.path] = append(allowed[rt.path], http.MethodHead)
		}
	}
	for _, p := range paths {
		allow := strings.Join(allowed[p], ", ")
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", allow)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "use "+allow)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route; GET /openapi.json lists them")
	})
	return mux
}

// credentials is the body of /register and the JSON body of /login.
type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (a *app) register(w http.ResponseWriter, r *http.Request) {
	// The IP limit comes first and counts every attempt, so that probing which emails exist (409) is limited too.
	if ok, retry := a.shared.registerIP.take(r.Context(), limiterKey(clientIPFrom(r.Context()))); !ok {
		a.log.WarnContext(r.Context(), "registration rate limited", "limit", "ip")
		tooManyRequests(w, retry, "registrations")
		return
	}
	if !hasMediaType(r, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		return
	}
	var c credentials
	if !decodeJSON(w, r, &c, "with string fields email and password", false) {
		return
	}
	email, err := normalizeEmail(c.Email)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_email", err.Error())
		return
	}
	if err := a.cfg.Policy.Validate(c.Password); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_password", policyReason(err))
		return
	}
	// Spare the password hash when the answer is known already; the UNIQUE constraint still decides races.
	if _, err := a.store.userByEmail(r.Context(), email); err == nil {
		writeUserExists(w)
		return
	} else if !errors.Is(err, errUserNotFound) {
		a.serverError(w, r, "looking up user", err)
		return
	}
	key := emailKey(email)
	if _, busy := a.registering.LoadOrStore(key, struct{}{}); busy {
		writeUserExists(w)
		return
	}
	defer a.registering.Delete(key)
	if ok, retry := a.shared.registerGlobal.take(r.Context(), ""); !ok {
		a.log.WarnContext(r.Context(), "registration rate limited", "limit", "global")
		tooManyRequests(w, retry, "registrations")
		return
	}
	hctx, cancel := context.WithTimeout(r.Context(), a.hashWait)
	defer cancel()
	select {
	case a.regSlots <- struct{}{}:
	case <-hctx.Done():
		a.hashError(w, r, fmt.Errorf("waiting for a registration hashing slot: %w", hctx.Err()))
		return
	}
	hash, err := a.hasher.Hash(hctx, c.Password)
	<-a.regSlots
	switch {
	case errors.Is(err, jwtauth.ErrPasswordTooLong):
		writeError(w, http.StatusUnprocessableEntity, "invalid_password", "password is too long")
		return
	case err != nil:
		a.hashError(w, r, err)
		return
	}
	u, err := a.store.createUser(r.Context(), email, hash)
	switch {
	case errors.Is(err, errUserExists):
		writeUserExists(w)
		return
	case err != nil:
		a.serverError(w, r, "creating user", err)
		return
	}
	a.log.InfoContext(r.Context(), "user registered", "user_id", u.ID)
	writeJSON(w, http.StatusCreated, u)
}

func writeUserExists(w http.ResponseWriter) {
	writeError(w, http.StatusConflict, "user_exists", "a user with this email already exists")
}

// policyReason is the policy's explanation of why a password is refused.
func policyReason(err error) string {
	var pe *jwtauth.PasswordPolicyError
	if errors.As(err, &pe) && pe.Reason != "" {
		return pe.Reason
	}
	return err.Error()
}

// loginFailed is the one answer for an unknown user, a wrong password and an inactive user, so that none can
// be told apart from the others: the same body, no sooner than failFloor after the request began. The wait
// holds no hashing slot; it ends early only when ctx does (the client left, or the hash wait passed).
func (a *app) loginFailed(ctx context.Context, w http.ResponseWriter, began time.Time) {
	if wait := a.failFloor - time.Since(began); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`"`)
	writeError(w, http.StatusUnauthorized, "invalid_credentials", "the email or password is incorrect")
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), a.hashWait)
	defer cancel()
	// The IP limit comes first and counts every attempt, well-formed or not.
	if ok, retry := a.shared.loginIP.take(ctx, limiterKey(clientIPFrom(ctx))); !ok {
		a.log.WarnContext(ctx, "login rate limited", "limit", "ip")
		tooManyRequests(w, retry, "login attempts")
		return
	}
	email, password, ok := readLoginForm(w, r)
	if !ok {
		return
	}
	done, ok, retry := a.shared.emails.begin(ctx, emailKey(email))
	if !ok {
		a.log.WarnContext(ctx, "login rate limited", "limit", "email")
		tooManyRequests(w, retry, "login attempts")
		return
	}
	outcome := attemptAbandoned
	defer func() { done(outcome) }()

	u, err := a.store.userByEmail(ctx, email)
	if errors.Is(err, errUserNotFound) {
		// Hash anyway, so that an unknown email takes as long as a known one.
		err := a.hasher.VerifyUnknownUser(ctx, password)
		if err != nil && !errors.Is(err, jwtauth.ErrPasswordTooLong) {
			a.hashError(w, r, err)
			return
		}
		outcome = attemptFailed
		a.log.InfoContext(ctx, "login failed", "reason", "unknown_user")
		a.loginFailed(ctx, w, began)
		return
	}
	if err != nil {
		a.serverError(w, r, "looking up user", err)
		return
	}
	// A hash over the cap is never computed: it could take longer than the padding of failed logins.
	var match, needsRehash bool
	if err = a.hashCap.check(u.passwordHash); err == nil {
		match, needsRehash, err = a.hasher.Verify(ctx, password, u.passwordHash)
	}
	switch {
	case errors.Is(err, errHashOverCap), errors.Is(err, jwtauth.ErrMalformedHash), errors.Is(err, jwtauth.ErrPasswordTooLong):
		// A broken or too costly stored hash, or a password longer than a bcrypt hash can check: a mismatch,
		// after hashing work and padding like any other, so that neither the answer nor its time confirms the
		// user exists.
		switch {
		case errors.Is(err, errHashOverCap):
			a.log.ErrorContext(ctx, errHashOverCap.Error()+"; reset the user's password", "user_id", u.ID, "err", err)
		case errors.Is(err, jwtauth.ErrMalformedHash):
			a.log.ErrorContext(ctx, "stored password hash is malformed", "user_id", u.ID)
		}
		if err := a.hasher.VerifyUnknownUser(ctx, password); err != nil && !errors.Is(err, jwtauth.ErrPasswordTooLong) {
			a.hashError(w, r, err)
			return
		}
		match = false
	case err != nil:
		a.hashError(w, r, err)
		return
	}
	// Checked after the hash, so an inactive user answers in the same time as a wrong password.
	if !match || !u.IsActive {
		outcome = attemptFailed
		reason := "wrong_password"
		if match {
			reason = "inactive_user"
		}
		a.log.InfoContext(ctx, "login failed", "reason", reason, "user_id", u.ID)
		a.loginFailed(ctx, w, began)
		return
	}
	outcome = attemptSucceeded
	if needsRehash {
		a.rehash(ctx, u, password)
	}
	jkt, ok := a.loginDPoP(w, r)
	if !ok {
		return
	}
	sess, err := a.store.createSession(ctx, u.ID, a.cfg.Refresh)
	if err == nil && jkt != "" {
		sess.jkt, err = jkt, a.store.bindSession(ctx, sess.familyID, jkt)
	}
	if err != nil {
		a.serverError(w, r, "starting session", err)
		return
	}
	a.log.InfoContext(ctx, "login succeeded", "user_id", u.ID, "session", sess.familyID)
	a.writeSession(w, r, u, sess)
}

// issueToken issues an access token for u in session sid (its sid claim, which revocation checks), bound to
// the DPoP key jkt unless it is "".
func (a *app) issueToken(u user, sid, jkt string) (string, error) {
	scope := userScope
	if u.IsSuperuser {
		scope += " " + adminScope
	}
	claims := map[string]any{"email": u.Email, "email_verified": u.IsVerified, "scope": scope, "sid": sid}
	if jkt != "" {
		return a.issuer.IssueDPoP(u.ID, jkt, claims)
	}
	return a.issuer.Issue(u.ID, claims)
}

// rehash replaces a hash made with outdated parameters, now that the password is known. Failing is not fatal:
// the old hash still works, and the next login tries again.
func (a *app) rehash(ctx context.Context, u user, password string) {
	hash, err := a.hasher.Hash(ctx, password)
	if err == nil {
		err = a.store.setPasswordHash(ctx, u.ID, hash)
	}
	if err != nil {
		a.log.WarnContext(ctx, "upgrading password hash failed", "user_id", u.ID, "err", err)
		return
	}
	a.log.InfoContext(ctx, "password hash upgraded", "user_id", u.ID)
}

// readLoginForm reads the credentials of /login: JSON {"email","password"}, or the form of OAuth 2.0's password
// grant (username, password; grant_type, when sent, must be "password"). Only the body counts: credentials in
// the URL would end up in logs. On failure it has answered the request.
func readLoginForm(w http.ResponseWriter, r *http.Request) (email, password string, ok bool) {
	switch {
	case hasMediaType(r, "application/json"):
		var c credentials
		if !decodeJSON(w, r, &c, "with string fields email and password", false) {
			return "", "", false
		}
		email, password = c.Email, c.Password
	case hasMediaType(r, "application/x-www-form-urlencoded"):
		if err := r.ParseForm(); err != nil {
			if isTooLarge(err) {
				writeTooLarge(w)
			} else {
				writeError(w, http.StatusBadRequest, "invalid_request", "the form body is malformed")
			}
			return "", "", false
		}
		if gt := r.PostForm.Get("grant_type"); gt != "" && gt != "password" {
			writeError(w, http.StatusBadRequest, "unsupported_grant_type", `only grant_type "password" is supported`)
			return "", "", false
		}
		email, password = r.PostForm.Get("username"), r.PostForm.Get("password")
	default:
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
			"send the body as application/json or application/x-www-form-urlencoded")
		return "", "", false
	}
	email = strings.TrimSpace(email)
	if email == "" || password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "email (or username) and password are required")
		return "", "", false
	}
	if len(email) > maxEmailLen {
		// Cannot be a registered user; refusing here keeps huge keys out of the limiter.
		writeError(w, http.StatusBadRequest, "invalid_request", "email is too long")
		return "", "", false
	}
	return email, password, true
}

func (a *app) secret(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"message": "Top Secret data only authorized users can access this info"})
}

func (a *app) me(w http.ResponseWriter, r *http.Request) {
	if u, ok := a.currentUser(w, r); ok {
		writeJSON(w, http.StatusOK, u)
	}
}

// requireActiveSuperuser re-reads the token's user on every request: the admin scope says the user was a
// superuser when the token was issued, and one demoted, deactivated or deleted since loses access at once,
// not when the token expires.
func (a *app) requireActiveSuperuser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := jwtauth.ClaimsFromContext(r.Context())
		u, err := a.store.userByID(r.Context(), c.Subject)
		if err != nil && !errors.Is(err, errUserNotFound) {
			a.serverError(w, r, "looking up user", err)
			return
		}
		if err != nil || !u.IsActive || !u.IsSuperuser {
			a.log.WarnContext(r.Context(), "admin route refused: the token's user is no longer an active superuser",
				"user_id", c.Subject)
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm+`", error="insufficient_scope", scope="`+adminScope+`"`)
			writeError(w, http.StatusForbidden, "insufficient_scope", "the token's user is no longer an active superuser")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *app) adminUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err1 := queryInt(q.Get("limit"), defaultPageSize, 1, maxPageSize)
	offset, err2 := queryInt(q.Get("offset"), 0, 0, 1<<31-1)
	if err := errors.Join(err1, err2); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request",
			fmt.Sprintf("limit must be 1 to %d and offset at least 0", maxPageSize))
		return
	}
	users, err := a.store.listUsers(r.Context(), limit, offset)
	if err != nil {
		a.serverError(w, r, "listing users", err)
		return
	}
	writeJSON(w, http.StatusOK, users)
}

func queryInt(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errors.New("out of range")
	}
	return n, nil
}

func (a *app) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := a.store.ping(ctx); err != nil {
		a.log.ErrorContext(ctx, "health check: database unreachable", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", errDatabaseUnreachable)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// hashError answers a failure of the password hasher: the request's context ending (the client left, or the
// server is shutting down) is 503, anything else 500.
func (a *app) hashError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the server is busy; try again")
		return
	}
	a.serverError(w, r, "password hashing", err)
}

func (a *app) serverError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if a.store.unavailable(err) {
		a.log.WarnContext(r.Context(), what+" failed: the database is unreachable", "err", err)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", errDatabaseUnreachable)
		return
	}
	a.log.ErrorContext(r.Context(), what+" failed", "err", err)
	writeError(w, http.StatusInternalServerError, "server_error", "internal error; see the server log")
}

// tooManyRequests answers 429; what names what was limited ("login attempts", "registrations").
func tooManyRequests(w http.ResponseWriter, retry time.Duration, what string) {
	s := retryAfterSeconds(retry)
	w.Header().Set("Retry-After", strconv.Itoa(s))
	writeError(w, http.StatusTooManyRequests, "too_many_requests",
		fmt.Sprintf("too many %s; retry in %d seconds", what, s))
}

// JSON helpers.

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil { // only our own types are written: cannot happen
		status, body = http.StatusInternalServerError, []byte(`{"error":"server_error","error_description":"encoding the response failed"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, errorBody{code, description})
}

func writeTooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, "request_too_large",
		fmt.Sprintf("the request body is larger than %d bytes", maxBodyBytes))
}

// hasMediaType reports whether the request's Content-Type is want, ignoring parameters such as charset.
func hasMediaType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == want
}

// decodeJSON reads exactly one JSON object from the body into dst; want describes the object for the error.
// With exact, a field dst does not have is refused rather than ignored. On failure it has answered the request.
func decodeJSON(w http.ResponseWriter, r *http.Request, dst any, want string, exact bool) bool {
	dec := json.NewDecoder(r.Body)
	if exact {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(dst)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("trailing data after the JSON object")
	}
	switch {
	case err == nil:
		return true
	case isTooLarge(err):
		writeTooLarge(w)
	default:
		writeError(w, http.StatusBadRequest, "invalid_request", "the body must be one JSON object "+want)
	}
	return false
}

func isTooLarge(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

// Middleware.

// limitBody refuses bodies over maxBodyBytes: at once when Content-Length says so, else when reading passes it.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > maxBodyBytes {
			writeTooLarge(w)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		next.ServeHTTP(w, r)
	})
}

type clientIPKey struct{}

func clientIPFrom(ctx context.Context) netip.Addr {
	a, _ := ctx.Value(clientIPKey{}).(netip.Addr)
	return a
}

// accessLog works out the client IP once (for the limiter too) and logs one line per request: method, path,
// status, duration, client IP. Never the query, headers or body: they may carry tokens or passwords.
func (a *app) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ip := clientIP(r, a.cfg.TrustedProxies)
		ctx := context.WithValue(r.Context(), clientIPKey{}, ip)
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		path := r.URL.Path
		if len(path) > 256 {
			path = path[:256] + "..."
		}
		a.log.LogAttrs(ctx, level, "request",
			slog.String("method", r.Method),
			slog.String("path", path),
			slog.Int("status", rec.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("client_ip", ip.String()),
			slog.Int64("bytes", rec.bytes),
		)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
