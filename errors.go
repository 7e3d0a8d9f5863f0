package jwtauth

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Sentinel errors that jwtauth adds to golang-jwt's. Verify's errors also wrap golang-jwt's sentinels where one
// fits (jwt.ErrTokenExpired, jwt.ErrTokenMalformed, jwt.ErrTokenSignatureInvalid, jwt.ErrTokenInvalidAudience,
// ...), so code written against golang-jwt keeps working with errors.Is.
var (
	// ErrNoToken means the request carried no bearer token in any enabled source.
	ErrNoToken = errors.New("jwtauth: no bearer token in the request")
	// ErrInvalidRequest means the request's credentials were ambiguous or empty (two tokens, "Bearer" without one).
	ErrInvalidRequest = errors.New("jwtauth: invalid bearer credentials in the request")
	// ErrTokenTooLarge means the token is longer than Config.MaxTokenSize; nothing of it was decoded.
	ErrTokenTooLarge = errors.New("jwtauth: token too large")
	// ErrAlgorithmNotAllowed means the token's alg is not in the trusted issuer's Algorithms.
	ErrAlgorithmNotAllowed = errors.New("jwtauth: algorithm not allowed")
	// ErrTokenType means the token's typ header is not one this verifier accepts.
	ErrTokenType = errors.New("jwtauth: token type not accepted")
	// ErrCriticalHeader means the token lists crit header parameters, none of which jwtauth understands.
	ErrCriticalHeader = errors.New("jwtauth: unsupported critical header")
	// ErrUnknownKey means no key of the issuer's key set fits the token's kid and alg, even after a refresh.
	ErrUnknownKey = errors.New("jwtauth: no matching signing key")
	// ErrKeysUnavailable means the issuer's keys were never loaded or are older than JWKSOptions.MaxStale.
	// The middleware answers 503 so clients retry instead of discarding a possibly valid token.
	ErrKeysUnavailable = errors.New("jwtauth: signing keys unavailable")
	// ErrUntrustedIssuer means the token's iss is none of the configured trusted issuers.
	ErrUntrustedIssuer = errors.New("jwtauth: issuer not trusted")
	// ErrTokenTooOld means the token's iat is further in the past than Config.MaxAge allows.
	ErrTokenTooOld = errors.New("jwtauth: token too old")
	// ErrSenderConstrained means the token carries a cnf claim: it is bound to a key or certificate (RFC 8705,
	// RFC 9449) that a bearer check cannot prove, so accepting it would downgrade it to a bearer token.
	ErrSenderConstrained = errors.New("jwtauth: sender-constrained token not accepted")
	// ErrCertificateBinding means a certificate-bound token (RFC 8705 §3, TrustedIssuer.MTLS) came without the
	// client certificate it is bound to: none at all, another one, or none possible (Verify has no connection),
	// or the issuer requires certificate-bound tokens and the token is not one.
	ErrCertificateBinding = errors.New("jwtauth: certificate binding not satisfied")
	// ErrDPoPProof means the request's DPoP proof (RFC 9449) is missing, malformed, or does not fit the request
	// or the token: 401 with error="invalid_dpop_proof". A replayed proof also matches ErrDPoPReplayed.
	ErrDPoPProof = errors.New("jwtauth: invalid DPoP proof")
	// ErrDPoPReplayed means the DPoP proof's jti was already used within the proof window (RFC 9449 §11.1).
	ErrDPoPReplayed = errors.New("jwtauth: DPoP proof replayed")
	// ErrDPoPNonce means the DPoP proof lacks a current server nonce (RFC 9449 §9): 401 with
	// error="use_dpop_nonce" and a fresh nonce in the DPoP-Nonce header; retry with it.
	ErrDPoPNonce = errors.New("jwtauth: DPoP nonce required")
	// ErrDPoPRequired means the token's issuer accepts tokens only with DPoP proofs (TrustedIssuer.DPoP), or
	// that a token sent with the DPoP scheme is not bound to a DPoP key.
	ErrDPoPRequired = errors.New("jwtauth: DPoP-bound token and proof required")
	// ErrReplayUnavailable means the DPoP replay check could not be made (the ReplayStore failed, or the
	// built-in store is full of unexpired entries): the request is refused with 503 rather than risk a replay.
	ErrReplayUnavailable = errors.New("jwtauth: DPoP replay check unavailable")
	// ErrInsufficientScope means the token is valid but lacks a required scope.
	ErrInsufficientScope = errors.New("jwtauth: insufficient scope")
	// ErrInsufficientRole means the token is valid but lacks a required role (RequireRole, RequireAnyRole).
	ErrInsufficientRole = errors.New("jwtauth: insufficient role")
	// ErrAccessDenied means an authorization check refused a valid token: a Require predicate, or Deny.
	ErrAccessDenied = errors.New("jwtauth: access denied")
	// ErrTokenRejected means a TrustedIssuer.Validate hook, or Reject, refused the token after every built-in
	// check passed.
	ErrTokenRejected = errors.New("jwtauth: token rejected")
	// ErrTokenRevoked means Config.Revocations says the token was revoked (logout, deactivation, ...): 401.
	ErrTokenRevoked = errors.New("jwtauth: token revoked")
	// ErrRevocationUnavailable means Config.Revocations failed to answer; the token is refused, never let
	// through, with 503 and Retry-After, since it may be valid once the revocation store is back.
	ErrRevocationUnavailable = errors.New("jwtauth: revocation status unavailable")
	// ErrRolesTooLarge means the token's roles claims (TrustedIssuer.Roles) hold more than 1024 distinct roles
	// or a role longer than 1024 bytes: more than any provider sends, so the token is refused (401).
	ErrRolesTooLarge = errors.New("jwtauth: roles claim too large")
)

// failure is one kind of failure: how it is reported over HTTP and which sentinels it wraps.
type failure struct {
	status  int
	code    string // RFC 6750 error code; "" for a bare challenge
	phrase  string // fixed ASCII error_description: never a token value, never '"' or '\'
	targets []error
}

var (
	failNoToken               = &failure{http.StatusUnauthorized, "", "bearer token required", []error{ErrNoToken}}
	failInvalidRequest        = &failure{http.StatusBadRequest, "invalid_request", "malformed credentials", []error{ErrInvalidRequest}}
	failTooLarge              = &failure{http.StatusUnauthorized, "invalid_token", "token too large", []error{ErrTokenTooLarge, jwt.ErrTokenMalformed}}
	failMalformed             = &failure{http.StatusUnauthorized, "invalid_token", "malformed token", []error{jwt.ErrTokenMalformed}}
	failAlg                   = &failure{http.StatusUnauthorized, "invalid_token", "algorithm not allowed", []error{ErrAlgorithmNotAllowed, jwt.ErrTokenSignatureInvalid}}
	failType                  = &failure{http.StatusUnauthorized, "invalid_token", "token type not accepted", []error{ErrTokenType}}
	failCrit                  = &failure{http.StatusUnauthorized, "invalid_token", "unsupported critical header", []error{ErrCriticalHeader, jwt.ErrTokenUnverifiable}}
	failIssuer                = &failure{http.StatusUnauthorized, "invalid_token", "issuer not accepted", []error{ErrUntrustedIssuer, jwt.ErrTokenInvalidIssuer}}
	failUnknownKey            = &failure{http.StatusUnauthorized, "invalid_token", "unknown signing key", []error{ErrUnknownKey, jwt.ErrTokenUnverifiable}}
	failKeysUnavailable       = &failure{http.StatusServiceUnavailable, "temporarily_unavailable", "signing keys unavailable", []error{ErrKeysUnavailable, jwt.ErrTokenUnverifiable}}
	failSignature             = &failure{http.StatusUnauthorized, "invalid_token", "signature invalid", []error{jwt.ErrTokenSignatureInvalid}}
	failExpired               = &failure{http.StatusUnauthorized, "invalid_token", "token expired", []error{jwt.ErrTokenExpired}}
	failNotYetValid           = &failure{http.StatusUnauthorized, "invalid_token", "token not yet valid", []error{jwt.ErrTokenNotValidYet}}
	failIssuedFuture          = &failure{http.StatusUnauthorized, "invalid_token", "token issued in the future", []error{jwt.ErrTokenUsedBeforeIssued}}
	failTooOld                = &failure{http.StatusUnauthorized, "invalid_token", "token too old", []error{ErrTokenTooOld, jwt.ErrTokenInvalidClaims}}
	failMissingClaim          = &failure{http.StatusUnauthorized, "invalid_token", "missing required claim", []error{jwt.ErrTokenRequiredClaimMissing}}
	failAudience              = &failure{http.StatusUnauthorized, "invalid_token", "audience not accepted", []error{jwt.ErrTokenInvalidAudience}}
	failCnf                   = &failure{http.StatusUnauthorized, "invalid_token", "sender-constrained token not accepted", []error{ErrSenderConstrained, jwt.ErrTokenInvalidClaims}}
	failCertRequired          = &failure{http.StatusUnauthorized, "invalid_token", "client certificate required", []error{ErrCertificateBinding, jwt.ErrTokenInvalidClaims}}
	failCertMismatch          = &failure{http.StatusUnauthorized, "invalid_token", "client certificate mismatch", []error{ErrCertificateBinding, jwt.ErrTokenInvalidClaims}}
	failCertBoundRequired     = &failure{http.StatusUnauthorized, "invalid_token", "certificate-bound token required", []error{ErrCertificateBinding, jwt.ErrTokenInvalidClaims}}
	failCertHeader            = &failure{http.StatusBadRequest, "invalid_request", "malformed client certificate", []error{ErrInvalidRequest}}
	failScope                 = &failure{http.StatusForbidden, "insufficient_scope", "insufficient scope", []error{ErrInsufficientScope}}
	failRolesTooLarge         = &failure{http.StatusUnauthorized, "invalid_token", "roles claim too large", []error{ErrRolesTooLarge, jwt.ErrTokenInvalidClaims}}
	failRevoked               = &failure{http.StatusUnauthorized, "invalid_token", "token revoked", []error{ErrTokenRevoked}}
	failRevocationUnavailable = &failure{http.StatusServiceUnavailable, "temporarily_unavailable", "revocation status unavailable", []error{ErrRevocationUnavailable}}
	failRejected              = &failure{http.StatusUnauthorized, "invalid_token", "token not accepted", []error{ErrTokenRejected, jwt.ErrTokenInvalidClaims}}
	failProofMissing          = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof missing", []error{ErrDPoPProof}}
	failProofMany             = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "more than one DPoP proof", []error{ErrDPoPProof}}
	failProofTooLarge         = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof too large", []error{ErrDPoPProof}}
	failProofMalformed        = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "malformed DPoP proof", []error{ErrDPoPProof}}
	failProofType             = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof typ must be dpop+jwt", []error{ErrDPoPProof}}
	failProofAlg              = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof algorithm not allowed", []error{ErrDPoPProof}}
	failProofKey              = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof key not accepted", []error{ErrDPoPProof}}
	failProofSignature        = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof signature invalid", []error{ErrDPoPProof}}
	failProofMethod           = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof htm mismatch", []error{ErrDPoPProof}}
	failProofURL              = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof htu mismatch", []error{ErrDPoPProof}}
	failProofStale            = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof too old", []error{ErrDPoPProof}}
	failProofFuture           = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof issued in the future", []error{ErrDPoPProof}}
	failProofAth              = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof ath mismatch", []error{ErrDPoPProof}}
	failProofBinding          = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof key does not match token", []error{ErrDPoPProof}}
	failProofReplayed         = &failure{http.StatusUnauthorized, "invalid_dpop_proof", "DPoP proof replayed", []error{ErrDPoPReplayed, ErrDPoPProof}}
	failNonce                 = &failure{http.StatusUnauthorized, "use_dpop_nonce", "DPoP nonce required", []error{ErrDPoPNonce}}
	failDPoPRequired          = &failure{http.StatusUnauthorized, "invalid_token", "DPoP proof required", []error{ErrDPoPRequired}}
	failNotBound              = &failure{http.StatusUnauthorized, "invalid_token", "token not DPoP-bound", []error{ErrDPoPRequired, jwt.ErrTokenInvalidClaims}}
	failDPoPOff               = &failure{http.StatusUnauthorized, "invalid_token", "DPoP not accepted for this issuer", []error{ErrSenderConstrained, jwt.ErrTokenInvalidClaims}}
	failReplayDown            = &failure{http.StatusServiceUnavailable, "temporarily_unavailable", "DPoP replay check unavailable", []error{ErrReplayUnavailable}}
	// RFC 6750 has no role attribute; insufficient_scope is its code for "valid token, too few privileges".
	failRole   = &failure{http.StatusForbidden, "insufficient_scope", "insufficient role", []error{ErrInsufficientRole}}
	failDenied = &failure{http.StatusForbidden, "insufficient_scope", "access denied", []error{ErrAccessDenied}}
)

// Error is the type of every error that Verify and the middleware report about a token or a request.
// Its message is for logs and says what was found and what was expected; values taken from the token are
// quoted and truncated. Description and Status are what goes on the wire: fixed phrases, never token content.
type Error struct {
	kind   *failure
	msg    string
	scopes []string // required scopes, for ErrInsufficientScope
	cause  error    // the error of a user's check (Validate, Require, Deny, Reject), for errors.Is
	dpop   bool     // the refused request used the DPoP scheme: its challenge carries the error
	nonce  string   // a fresh DPoP-Nonce to send with the refusal (use_dpop_nonce)
}

func newError(kind *failure, msg string) *Error { return &Error{kind: kind, msg: msg} }

// Error implements error.
func (e *Error) Error() string { return "jwtauth: " + e.msg }

// Unwrap returns the sentinels this error matches and, for a refusal by a user's check, that check's error,
// for errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.cause == nil {
		return e.kind.targets
	}
	return append(append(make([]error, 0, len(e.kind.targets)+1), e.kind.targets...), e.cause)
}

// Status is the HTTP status the middleware answers with: 400, 401, 403 or 503.
func (e *Error) Status() int { return e.kind.status }

// Code is the RFC 6750 error code ("invalid_token", "invalid_request", "insufficient_scope"), or
// "temporarily_unavailable" for 503, or "" when the challenge carries no error (no token at all).
func (e *Error) Code() string { return e.kind.code }

// Description is a short fixed ASCII phrase for the failure kind, safe to send to clients.
func (e *Error) Description() string { return e.kind.phrase }

// Deny returns the refusal of an authorization check that err explains: 403 with error="insufficient_scope"
// and the fixed description "access denied", matching ErrAccessDenied and err. A Require predicate's errors
// are Denied already; call Deny to refuse from your own code with Verifier.Refuse, or from a gRPC service.
// err goes to logs and ErrorHandler only, never on the wire; it may be nil.
func Deny(err error) *Error { return userError(failDenied, err, "access denied") }

// Reject returns the refusal of a token that err says is not acceptable: 401 with error="invalid_token" and
// the fixed description "token not accepted", matching ErrTokenRejected, jwt.ErrTokenInvalidClaims and err.
// Errors of TrustedIssuer.Validate are Rejected already; return Reject(err) from a Require predicate for
// checks that mean the token itself is bad (revoked, wrong client) rather than that the user may not do this.
func Reject(err error) *Error { return userError(failRejected, err, "token not accepted") }

// userError wraps the error of a user's check; one that already is or wraps an *Error keeps that kind.
func userError(kind *failure, err error, what string) *Error {
	if err == nil {
		return newError(kind, what)
	}
	var inner *Error
	if errors.As(err, &inner) {
		if inner == err {
			return inner
		}
		return &Error{kind: inner.kind, msg: strings.TrimPrefix(err.Error(), "jwtauth: "), scopes: inner.scopes, cause: err}
	}
	return &Error{kind: kind, msg: what + ": " + strings.TrimPrefix(err.Error(), "jwtauth: "), cause: err}
}

// RequiredScopes lists the scopes that were required when the error is ErrInsufficientScope.
func (e *Error) RequiredScopes() []string { return append([]string(nil), e.scopes...) }

// quote renders an untrusted value for an error message or log: quoted, escaped, and cut to a sane length so a
// hostile token cannot flood logs or forge log lines.
func quote(s string) string {
	if n := cutAt(s); n < len(s) {
		return strconv.Quote(s[:n]) + "..."
	}
	return strconv.Quote(s)
}

// cut shortens an untrusted value for a log attribute as quote does for a message (the handler escapes it).
func cut(s string) string {
	if n := cutAt(s); n < len(s) {
		return s[:n] + "..."
	}
	return s
}

// cutAt is where quote and cut end an untrusted value: 64 bytes, backed up to a rune boundary.
func cutAt(s string) int {
	const max = 64
	if len(s) <= max {
		return len(s)
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return n
}

// quoteList renders a list of configured values for a message.
func quoteList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
