package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jwtauth-go/jwtauth"
	"golang.org/x/time/rate"
)

// accountConfig configures password change and reset and email verification.
type accountConfig struct {
	// PublicBaseURL is where the links in mails point: the front end serving /reset-password and /verify pages,
	// which read the token from the link's fragment and POST it here. Never taken from a request's Host.
	PublicBaseURL string
	ResetTTL      time.Duration // lifetime of a reset token
	VerifyTTL     time.Duration // lifetime of a verify token
	SMTP          *smtpConfig   // nil: mails are logged, not sent

	// Not read from the environment.
	Mailer Mailer        // overrides SMTP and the log mailer (tests)
	Limits accountLimits // zero fields: the defaults of README.md
}

// accountLimits are the rate limits of the account routes. Every bucket refills over an hour, up to its size.
type accountLimits struct {
	IPPerHour    int // requests per client IP to each of the account routes
	EmailPerHour int // mails requested for one address (forgot-password and request-verify-token, each)
	UserPerHour  int // PATCH /users/me per user, which checks the current password
	MaxKeys      int // IPs, emails and users tracked per bucket table
}

func (l accountLimits) withDefaults() accountLimits {
	if l.IPPerHour == 0 {
		l.IPPerHour = 20
	}
	if l.EmailPerHour == 0 {
		l.EmailPerHour = 5
	}
	if l.UserPerHour == 0 {
		l.UserPerHour = 20
	}
	if l.MaxKeys == 0 {
		l.MaxKeys = 100_000
	}
	return l
}

const (
	defaultResetTTL  = 30 * time.Minute
	defaultVerifyTTL = 24 * time.Hour
	maxResetTTL      = 24 * time.Hour
	maxVerifyTTL     = 7 * 24 * time.Hour
)

// loadAccountConfig reads PUBLIC_BASE_URL, RESET_TOKEN_TTL, VERIFY_TOKEN_TTL and SMTP_*. Without SMTP_ADDR,
// PUBLIC_BASE_URL defaults to the issuer; with it, mails go to real people and PUBLIC_BASE_URL must be set.
func loadAccountConfig(getenv func(string) string, issuer string) (accountConfig, []error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	env := func(name string) string { return strings.TrimSpace(getenv(name)) }
	cfg := accountConfig{PublicBaseURL: env("PUBLIC_BASE_URL")}
	var err error
	if cfg.ResetTTL, err = parseAccountTTL("RESET_TOKEN_TTL", env("RESET_TOKEN_TTL"), defaultResetTTL, maxResetTTL); err != nil {
		errs = append(errs, err)
	}
	if cfg.VerifyTTL, err = parseAccountTTL("VERIFY_TOKEN_TTL", env("VERIFY_TOKEN_TTL"), defaultVerifyTTL, maxVerifyTTL); err != nil {
		errs = append(errs, err)
	}
	if addr := env("SMTP_ADDR"); addr != "" {
		sc := &smtpConfig{Addr: addr, From: env("SMTP_FROM"), Username: env("SMTP_USERNAME"), Password: getenv("SMTP_PASSWORD")}
		if _, err := newSMTPMailer(*sc, nil); err != nil {
			errs = append(errs, err)
		}
		if _, err := normalizeEmail(sc.From); err != nil {
			bad("SMTP_FROM=%q: set it to the sender address of account mails, like no-reply@example.com", sc.From)
		}
		switch v := env("SMTP_INSECURE"); v {
		case "", "false", "0":
		case "true", "1":
			sc.Insecure = true
		default:
			bad("SMTP_INSECURE=%q: use true (send without STARTTLS when the server offers none) or false", v)
		}
		if (sc.Username == "") != (sc.Password == "") {
			bad("SMTP_USERNAME and SMTP_PASSWORD: set both for AUTH, or neither")
		}
		if cfg.PublicBaseURL == "" {
			bad("PUBLIC_BASE_URL is not set but SMTP_ADDR is: set it to the public https URL that reset and verify links point to")
		}
		cfg.SMTP = sc
	}
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = issuer
	}
	if u, err := url.Parse(cfg.PublicBaseURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		bad("PUBLIC_BASE_URL=%q is not an http(s) URL without query, fragment or user info, like https://app.example.com", cfg.PublicBaseURL)
	}
	cfg.PublicBaseURL = strings.TrimSuffix(cfg.PublicBaseURL, "/")
	return cfg, errs
}

func parseAccountTTL(name, s string, def, hi time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if n, nerr := strconv.ParseInt(s, 10, 64); nerr == nil && n > 0 && n <= int64(hi/time.Second) {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d < time.Minute || d > hi {
		return 0, fmt.Errorf("%s=%q: use a Go duration (30m) or whole seconds from 1m up to %s", name, s, hi)
	}
	return d, nil
}

// accounts is the state of the account routes: the mailer and its queue, and the rate limits.
type accounts struct {
	cfg    accountConfig
	mailer Mailer
	mails  *mailQueue
	ips    map[string]*loginLimiter // per route: one token bucket per client IP
	emails *loginLimiter            // keyed purpose + email
	users  *loginLimiter            // keyed user id
}

// Names of the rate-limited account routes.
const (
	routeForgot        = "forgot-password"
	routeReset         = "reset-password"
	routeRequestVerify = "request-verify-token"
	routeVerify        = "verify"
)

func newAccounts(cfg accountConfig, issuer string, now func() time.Time, log *slog.Logger) (*accounts, error) {
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = strings.TrimSuffix(issuer, "/")
	}
	if cfg.ResetTTL == 0 {
		cfg.ResetTTL = defaultResetTTL
	}
	if cfg.VerifyTTL == 0 {
		cfg.VerifyTTL = defaultVerifyTTL
	}
	l := cfg.Limits.withDefaults()
	acc := &accounts{cfg: cfg, mailer: cfg.Mailer, ips: map[string]*loginLimiter{}}
	hourly := func(n int) *loginLimiter {
		b := newLoginLimiter(limits{IPBurst: n, MaxKeys: l.MaxKeys}, now)
		b.ipRate = rate.Limit(float64(n) / 3600)
		return b
	}
	for _, r := range []string{routeForgot, routeReset, routeRequestVerify, routeVerify} {
		acc.ips[r] = hourly(l.IPPerHour)
	}
	acc.emails, acc.users = hourly(l.EmailPerHour), hourly(l.UserPerHour)
	switch {
	case acc.mailer != nil:
	case cfg.SMTP != nil:
		m, err := newSMTPMailer(*cfg.SMTP, now)
		if err != nil {
			return nil, err
		}
		acc.mailer = m
		log.Info("account mails go through SMTP", "smtp_addr", cfg.SMTP.Addr, "from", cfg.SMTP.From,
			"starttls_required", !cfg.SMTP.Insecure, "public_base_url", cfg.PublicBaseURL)
	default:
		acc.mailer = logMailer{log}
		log.Warn("SMTP_ADDR is not set: account mails are logged, not sent, and their links are secrets "+
			"(anyone reading this log can reset passwords); for development only", "public_base_url", cfg.PublicBaseURL)
	}
	acc.mails = newMailQueue(log)
	return acc, nil
}

// Close stops the mail queue.
func (acc *accounts) Close() { acc.mails.Close() }

// allowRoute takes one request of route from the client's IP bucket; on refusal it has answered 429.
func (a *app) allowRoute(w http.ResponseWriter, r *http.Request, route string) bool {
	ok, retry := a.acct.ips[route].allowIP(limiterKey(clientIPFrom(r.Context())))
	if !ok {
		a.log.WarnContext(r.Context(), "account route rate limited", "route", route, "limit", "ip")
		tooManyRequests(w, retry, route+" requests")
	}
	return ok
}

// decodeAccountJSON reads a JSON object of exactly the fields of dst (described by want, for the error):
// an unknown field is refused rather than ignored, so that {"is_superuser": true} never looks accepted.
func decodeAccountJSON(w http.ResponseWriter, r *http.Request, dst any, want string) bool {
	if !hasMediaType(r, "application/json") {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json")
		return false
	}
	return decodeJSON(w, r, dst, want, true)
}

// mailAccepted is the one answer of /forgot-password and /request-verify-token, for every email.
var mailAccepted = map[string]string{"message": "if an account with this email can receive it, a mail is on its way"}

func (a *app) forgotPassword(w http.ResponseWriter, r *http.Request) {
	a.requestMail(w, r, routeForgot, purposeReset)
}

func (a *app) requestVerifyToken(w http.ResponseWriter, r *http.Request) {
	a.requestMail(w, r, routeRequestVerify, purposeVerify)
}

// requestMail answers 202 with the same body whether or not the email has a user: everything that depends on
// that (the lookup, the token, the mail) runs later on the mail queue, so the answer's time does not say either.
func (a *app) requestMail(w http.ResponseWriter, r *http.Request, route, purpose string) {
	if !a.allowRoute(w, r, route) {
		return
	}
	var body struct {
		Email string `json:"email"`
	}
	if !decodeAccountJSON(w, r, &body, `with string field "email"`) {
		return
	}
	email, err := normalizeEmail(body.Email)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_email", err.Error())
		return
	}
	if ok, retry := a.acct.emails.allowIP(purpose + " " + emailKey(email)); !ok {
		a.log.WarnContext(r.Context(), "account route rate limited", "route", route, "limit", "email")
		tooManyRequests(w, retry, "mails to this address")
		return
	}
	a.acct.mails.enqueue(func(ctx context.Context) { a.sendAccountMail(ctx, email, purpose) })
	writeJSON(w, http.StatusAccepted, mailAccepted)
}

// sendAccountMail runs on the mail queue: when email is an active user's (and, to verify, not verified yet),
// it stores a new token's hash and mails the link.
func (a *app) sendAccountMail(ctx context.Context, email, purpose string) {
	u, err := a.store.userByEmail(ctx, email)
	if errors.Is(err, errUserNotFound) {
		a.log.DebugContext(ctx, "account mail not sent: no such user", "purpose", purpose)
		return
	}
	if err != nil {
		a.log.ErrorContext(ctx, "account mail: looking up user failed", "purpose", purpose, "err", err)
		return
	}
	if !u.IsActive || (purpose == purposeVerify && u.IsVerified) {
		a.log.InfoContext(ctx, "account mail not sent: user inactive or already verified", "purpose", purpose, "user_id", u.ID)
		return
	}
	ttl, path, subject, text := a.acct.cfg.ResetTTL, "/reset-password", "Reset your password",
		"Someone (hopefully you) asked to reset the password of this account. To choose a new one, open"
	if purpose == purposeVerify {
		ttl, path, subject, text = a.acct.cfg.VerifyTTL, "/verify", "Verify your email address",
			"To confirm this email address for your account, open"
	}
	token := newAccountToken()
	if err := a.store.addAccountToken(ctx, u, purpose, hashAccountToken(token), a.store.now().Add(ttl).UnixNano()); err != nil {
		a.log.ErrorContext(ctx, "account mail: storing token failed", "purpose", purpose, "user_id", u.ID, "err", err)
		return
	}
	// The token rides in the fragment, which browsers never send to a server, nor put in a Referer.
	link := a.acct.cfg.PublicBaseURL + path + "#token=" + token
	msg := Message{To: u.Email, Subject: subject, Link: link,
		Body: fmt.Sprintf("%s\n\n%s\n\nThe link works once, within %s. If you did not ask for this, ignore this mail.\n", text, link, ttl)}
	if err := a.acct.mailer.Send(ctx, msg); err != nil {
		a.log.ErrorContext(ctx, "account mail: sending failed", "purpose", purpose, "user_id", u.ID, "err", err)
		return
	}
	a.log.InfoContext(ctx, "account mail sent", "purpose", purpose, "user_id", u.ID)
}

// newAccountToken returns 32 random bytes, base64url without padding (43 characters).
func newAccountToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func writeBadAccountToken(w http.ResponseWriter) {
	writeError(w, http.StatusBadRequest, "invalid_token", errAccountTokenInvalid.Error()+"; request a new one")
}

func (a *app) resetPassword(w http.ResponseWriter, r *http.Request) {
	if !a.allowRoute(w, r, routeReset) {
		return
	}
	var body struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if !decodeAccountJSON(w, r, &body, `with string fields "token" and "password"`) {
		return
	}
	if body.Token == "" || body.Password == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "token and password are required")
		return
	}
	th := hashAccountToken(body.Token)
	// Checked before the password is hashed, so that a bad token costs no hash; consumption decides races.
	live, err := a.store.accountTokenLive(r.Context(), th, purposeReset)
	if err != nil {
		a.serverError(w, r, "checking reset token", err)
		return
	}
	if !live {
		writeBadAccountToken(w)
		return
	}
	hash, ok := a.newPasswordHash(w, r, body.Password)
	if !ok {
		return
	}
	u, err := a.store.resetPassword(r.Context(), th, hash)
	switch {
	case errors.Is(err, errAccountTokenInvalid):
		writeBadAccountToken(w)
		return
	case err != nil:
		a.serverError(w, r, "resetting password", err)
		return
	}
	if err := a.revokeSessions(r.Context(), u.ID); err != nil {
		a.revocationFailed(w, "the password is changed", err)
		return
	}
	a.log.InfoContext(r.Context(), "password reset", "user_id", u.ID)
	writeJSON(w, http.StatusOK, map[string]string{"message": "the password is changed; log in with the new one"})
}

func (a *app) verify(w http.ResponseWriter, r *http.Request) {
	if !a.allowRoute(w, r, routeVerify) {
		return
	}
	var body struct {
		Token string `json:"token"`
	}
	if !decodeAccountJSON(w, r, &body, `with string field "token"`) {
		return
	}
	if body.Token == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	u, err := a.store.verifyEmail(r.Context(), hashAccountToken(body.Token))
	switch {
	case errors.Is(err, errAccountTokenInvalid):
		writeBadAccountToken(w)
		return
	case err != nil:
		a.serverError(w, r, "verifying email", err)
		return
	}
	a.log.InfoContext(r.Context(), "email verified", "user_id", u.ID)
	writeJSON(w, http.StatusOK, u)
}

// newPasswordHash checks password against the policy and hashes it; on failure it has answered the request.
func (a *app) newPasswordHash(w http.ResponseWriter, r *http.Request, password string) (string, bool) {
	if err := a.cfg.Policy.Validate(password); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_password", policyReason(err))
		return "", false
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.hashWait)
	defer cancel()
	hash, err := a.hasher.Hash(ctx, password)
	switch {
	case errors.Is(err, jwtauth.ErrPasswordTooLong):
		writeError(w, http.StatusUnprocessableEntity, "invalid_password", "password is too long")
		return "", false
	case err != nil:
		a.hashError(w, r, err)
		return "", false
	}
	return hash, true
}

// currentUser is the active user the request's token was issued to; otherwise it has answered 401.
func (a *app) currentUser(w http.ResponseWriter, r *http.Request) (user, bool) {
	c, _ := jwtauth.ClaimsFromContext(r.Context())
	u, err := a.store.userByID(r.Context(), c.Subject)
	if errors.Is(err, errUserNotFound) || (err == nil && !u.IsActive) {
		// The token is genuine but its user is gone or deactivated: it no longer speaks for anyone.
		w.Header().Set("WWW-Authenticate",
			`Bearer realm="`+realm+`", error="invalid_token", error_description="user unknown or inactive"`)
		writeError(w, http.StatusUnauthorized, "invalid_token", "the token's user no longer exists or is inactive")
		return user{}, false
	}
	if err != nil {
		a.serverError(w, r, "looking up user", err)
		return user{}, false
	}
	return u, true
}

// updateMe is PATCH /users/me: a new email (which then needs verifying again) and/or a new password, each
// only with the current password.
func (a *app) updateMe(w http.ResponseWriter, r *http.Request) {
	c, _ := jwtauth.ClaimsFromContext(r.Context())
	if ok, retry := a.acct.users.allowIP(c.Subject); !ok {
		a.log.WarnContext(r.Context(), "account route rate limited", "route", "PATCH /users/me", "limit", "user")
		tooManyRequests(w, retry, "account changes")
		return
	}
	var body struct {
		Email           *string `json:"email"`
		Password        *string `json:"password"`
		CurrentPassword string  `json:"current_password"`
	}
	if !decodeAccountJSON(w, r, &body, `with string fields "current_password" and "email" and/or "password"`) {
		return
	}
	u, ok := a.currentUser(w, r)
	if !ok {
		return
	}
	var email string
	if body.Email != nil {
		e, err := normalizeEmail(*body.Email)
		if err != nil {
			writeError(w, http.StatusBadRequest, "invalid_email", err.Error())
			return
		}
		if emailKey(e) != emailKey(u.Email) {
			email = e
		}
	}
	if email == "" && body.Password == nil {
		writeJSON(w, http.StatusOK, u)
		return
	}
	if body.CurrentPassword == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "current_password is required to change the email or password")
		return
	}
	if !a.checkCurrentPassword(w, r, u, body.CurrentPassword) {
		return
	}
	var hash string
	if body.Password != nil {
		if hash, ok = a.newPasswordHash(w, r, *body.Password); !ok {
			return
		}
	}
	u, err := a.store.updateAccount(r.Context(), u.ID, email, hash)
	switch {
	case errors.Is(err, errUserExists):
		// The caller proved the current password: telling them the address is taken is no leak worth a lie.
		writeUserExists(w)
		return
	case err != nil:
		a.serverError(w, r, "updating user", err)
		return
	}
	if hash != "" {
		if err := a.revokeSessions(r.Context(), u.ID); err != nil {
			a.revocationFailed(w, "the account is updated", err)
			return
		}
	}
	a.log.InfoContext(r.Context(), "account updated", "user_id", u.ID, "email_changed", email != "", "password_changed", hash != "")
	writeJSON(w, http.StatusOK, u)
}

// checkCurrentPassword verifies password against u's stored hash; on a mismatch or failure it has answered.
func (a *app) checkCurrentPassword(w http.ResponseWriter, r *http.Request, u user, password string) bool {
	ctx, cancel := context.WithTimeout(r.Context(), a.hashWait)
	defer cancel()
	var match bool
	err := a.hashCap.check(u.passwordHash)
	if err == nil {
		match, _, err = a.hasher.Verify(ctx, password, u.passwordHash)
	}
	switch {
	case errors.Is(err, errHashOverCap), errors.Is(err, jwtauth.ErrMalformedHash), errors.Is(err, jwtauth.ErrPasswordTooLong):
		a.log.WarnContext(ctx, "current password not checkable; reset the user's password", "user_id", u.ID, "err", err)
	case err != nil:
		a.hashError(w, r, err)
		return false
	}
	if !match {
		a.log.InfoContext(ctx, "account update refused: wrong current password", "user_id", u.ID)
		writeError(w, http.StatusForbidden, "invalid_current_password", "current_password is not the account's password")
		return false
	}
	return true
}

// revokeSessions ends the user's other sessions after a password change or reset: all but the caller's own
// (PATCH /users/me), or all of them (reset, which has no session). A failure is logged by revokeUser; the
// password change itself is committed and stands, and the caller answers 503 (revocationFailed).
func (a *app) revokeSessions(ctx context.Context, userID string) error {
	return a.revokeUser(ctx, userID, revokePassword, sessionOf(ctx))
}
