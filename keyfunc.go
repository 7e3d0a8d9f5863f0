package jwtauth

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Keyfunc returns the key store of one trusted issuer as a keyfunc/v3 Keyfunc, for code that already calls
// golang-jwt's parser:
//
//	k, err := v.Keyfunc("https://dev-abc.us.auth0.com/")
//	token, err := jwt.Parse(raw, k.Keyfunc,
//		jwt.WithValidMethods([]string{"RS256"}),
//		jwt.WithIssuer("https://dev-abc.us.auth0.com/"),
//		jwt.WithAudience("https://api.example.com"),
//		jwt.WithExpirationRequired(),
//		jwt.WithLeeway(time.Minute))
//
// The keys are the Verifier's: the same refresh engine, unknown-kid refresh cooldown and MaxWait, MaxStale
// bound, and per-key algorithm pinning. Before it returns a key, the Keyfunc checks what picks the key: the
// token's alg is in the issuer's Algorithms and fits the key's type, curve and JWK alg; a token without kid is
// accepted only when exactly one key fits (never "try every key"); iss is the issuer's; typ is one Verify
// accepts; crit is absent; the issuer's own claim checks hold (a profile's, such as Cognito's token_use and
// client_id or Keycloak's typ, and AuthorizedParties), and the token has no cnf claim, for tokens parsed into
// jwt.MapClaims (jwt.Parse's default; other claims types are refused by issuers with such checks). An issuer
// with a Validate hook, or any issuer of a Verifier with Config.Revocations, is not offered: those run only
// after a signature check. Its errors are *Error values (golang-jwt wraps them, so errors.Is works through
// jwt.Parse's error), ErrKeysUnavailable included.
//
// Everything else is golang-jwt's: exp, nbf, iat and aud are checked only as the parser options say, and
// golang-jwt's default parser does not even require exp. Verify and RequireAuth remain the strict path
// (strict decoder refusing duplicate members, exp and audience required, cnf bindings checked or refused, max age, cache).
func (v *Verifier) Keyfunc(issuer string) (keyfunc.Keyfunc, error) {
	t := v.byIssuer[issuer]
	if t == nil && v.templateListed(issuer) {
		return nil, fmt.Errorf("jwtauth: Keyfunc(%q): a multi-tenant issuer is matched together with the token's tid, which only Verify and RequireAuth check; use them", issuer)
	}
	if t == nil {
		return nil, fmt.Errorf("jwtauth: Keyfunc(%q): not a trusted issuer of this Verifier; expected one of %s", issuer, v.issuerList())
	}
	if v.revocations != nil {
		// As for Validate: the revocation store would be asked about tokens whose signature nobody checked.
		return nil, fmt.Errorf("jwtauth: Keyfunc(%q): Config.Revocations is set, and it is asked only after the signature check of Verify and RequireAuth; use them", issuer)
	}
	if t.validate != nil {
		// The keyfunc runs before golang-jwt checks the signature: Validate would see unverified claims.
		return nil, fmt.Errorf("jwtauth: Keyfunc(%q): the issuer has a TrustedIssuer.Validate hook, which runs only after the signature check of Verify and RequireAuth; use them", issuer)
	}
	return issuerKeyfunc{v: v, t: t}, nil
}

// issuerKeyfunc implements keyfunc.Keyfunc over one trust of a Verifier.
type issuerKeyfunc struct {
	v *Verifier
	t *trust
}

var _ keyfunc.Keyfunc = issuerKeyfunc{}

// Keyfunc is a jwt.Keyfunc; a refresh it triggers waits at most JWKSOptions.MaxWait.
func (k issuerKeyfunc) Keyfunc(token *jwt.Token) (any, error) {
	return k.key(context.Background(), token)
}

// KeyfuncCtx is Keyfunc whose refresh wait ctx can also cut short.
func (k issuerKeyfunc) KeyfuncCtx(ctx context.Context) jwt.Keyfunc {
	return func(token *jwt.Token) (any, error) { return k.key(ctx, token) }
}

// VerificationKeySet always fails: golang-jwt tries every key of a set, and without the token no rule can pick
// the one key its kid and alg allow. Use Keyfunc or KeyfuncCtx.
func (k issuerKeyfunc) VerificationKeySet(context.Context) (jwt.VerificationKeySet, error) {
	return jwt.VerificationKeySet{}, newError(failUnknownKey, fmt.Sprintf(
		"VerificationKeySet of issuer %q is not offered: golang-jwt would try every key, bypassing the kid and algorithm rules; pass Keyfunc to jwt.Parse", k.t.issuer))
}

// Storage is a read-only view of the issuer's current keys (public keys with kid, alg and use "sig"). Reads
// never trigger a refresh; writes fail. It is for inspection: keys read from it carry no algorithm pinning.
func (k issuerKeyfunc) Storage() jwkset.Storage { return keyView(k) }

func (k issuerKeyfunc) key(ctx context.Context, token *jwt.Token) (any, error) {
	if token == nil || token.Method == nil {
		return nil, newError(failMalformed, "no token or no signing method given to the keyfunc")
	}
	h, err := headerOf(token.Header)
	if err != nil {
		return nil, err
	}
	alg := lookupAlg(h.alg)
	if alg == nil || token.Method.Alg() != h.alg {
		return nil, newError(failAlg, fmt.Sprintf("algorithm %s is not allowed: %s", quote(h.alg), algAdvice(h.alg)))
	}
	if k.t.algs&alg.bit == 0 {
		return nil, newError(failAlg, fmt.Sprintf("algorithm %s is not allowed for issuer %q (TrustedIssuer.Algorithms)", quote(h.alg), k.t.issuer))
	}
	if h.crit {
		return nil, newError(failCrit, "header lists crit parameters; none are supported")
	}
	if !k.v.typeAccepted(h) {
		return nil, newError(failType, fmt.Sprintf("typ %s is not accepted%s", quote(h.typ), k.v.typeAdvice()))
	}
	if token.Claims == nil {
		return nil, newError(failIssuer, "token has no claims, so no iss")
	}
	iss, ierr := token.Claims.GetIssuer()
	switch {
	case ierr != nil:
		return nil, newError(failMalformed, "iss claim is not a string")
	case iss == "":
		return nil, newError(failIssuer, fmt.Sprintf("token has no iss claim; this keyfunc serves issuer %q", k.t.issuer))
	case iss != k.t.issuer && !slices.Contains(k.t.aliases, iss):
		return nil, newError(failIssuer, fmt.Sprintf("issuer %s is not the keyfunc's issuer %q", quote(iss), k.t.issuer))
	}
	if err := k.checkClaims(token, &h); err != nil {
		return nil, err
	}
	pk, err := k.v.findKey(ctx, k.t, &h, alg)
	if err != nil {
		return nil, err
	}
	if pk.issuer != "" {
		if msg := keyIssuerMismatch(pk, iss, tidOf(token.Claims)); msg != "" {
			return nil, newError(failUnknownKey, msg)
		}
	}
	// golang-jwt verifies with token.Method after the keyfunc returns: ours checks PSS salt lengths strictly.
	token.Method = alg.method
	return pk.key, nil
}

// checkClaims runs the checks of the issuer's own that golang-jwt's options cannot express (a profile's
// token_use or typ, AuthorizedParties, MTLSRequired) and refuses sender-constrained (cnf) tokens, which
// golang-jwt would downgrade to bearer tokens. They read the claims strictly, as Verify does; only
// jwt.MapClaims can be read so, and only a refusal can come of it, so running before the signature is safe.
func (k issuerKeyfunc) checkClaims(token *jwt.Token, h *header) error {
	t := k.t
	m, isMap := token.Claims.(jwt.MapClaims)
	_, hasCnf := m["cnf"]
	if !hasCnf && t.profileCheck == nil && len(t.azps) == 0 && t.mtls == MTLSOff {
		return nil
	}
	if !isMap {
		return newError(failRejected, fmt.Sprintf("issuer %q has claim checks of its own (its profile's, AuthorizedParties or MTLS) that the Keyfunc runs on jwt.MapClaims only, and the token was parsed into %T: use jwt.Parse, or Verify", t.issuer, token.Claims))
	}
	pb, err := json.Marshal(map[string]any(m))
	if err != nil {
		return newError(failMalformed, "claims do not encode as JSON: "+err.Error())
	}
	var p payload
	if err := parsePayload(pb, &p); err != nil {
		return newError(failMalformed, err.Error())
	}
	if e := k.v.checkConfirmation(t, &p.cnf, p.hasCnf, nil, nil); e != nil {
		return e
	}
	if f, msg := t.issuerChecks(newClaims(&p, h, pb, k.v), pb); f != nil {
		return newError(f, msg)
	}
	return nil
}

// headerOf reads the members that pick a key from golang-jwt's decoded header.
func headerOf(m map[string]any) (header, error) {
	var h header
	var ok bool
	if h.alg, ok = m["alg"].(string); !ok {
		return h, newError(failMalformed, "alg header is missing or not a string")
	}
	if kid, present := m["kid"]; present {
		if h.kid, ok = kid.(string); !ok {
			return h, newError(failMalformed, "kid header is not a string")
		}
		h.hasKID = true
	}
	if typ, present := m["typ"]; present {
		if h.typ, ok = typ.(string); !ok {
			return h, newError(failMalformed, "typ header is not a string")
		}
		h.hasTyp = true
	}
	_, h.crit = m["crit"]
	return h, nil
}

// keyView is the read-only jwkset.Storage of issuerKeyfunc.Storage.
type keyView issuerKeyfunc

var _ jwkset.Storage = keyView{}

// snapshot copies the current key set into a memory storage, or says why there are no keys.
func (s keyView) snapshot() (*jwkset.MemoryJWKSet, error) {
	ks, err := s.t.keys.current(s.v.now())
	if ks == nil {
		return nil, newError(failKeysUnavailable, fmt.Sprintf("no usable keys for issuer %q: %v", s.t.issuer, err))
	}
	mem := jwkset.NewMemoryStorage()
	for _, fam := range ks.byFam {
		for _, k := range fam {
			j, err := jwkset.NewJWKFromKey(k.key, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
				KID: k.kid, ALG: jwkset.ALG(k.alg), USE: jwkset.UseSig,
			}})
			if err != nil {
				return nil, fmt.Errorf("jwtauth: key %s of issuer %q cannot be shown as a JWK: %w", quote(k.kid), s.t.issuer, err)
			}
			if err := mem.KeyWrite(context.Background(), j); err != nil {
				return nil, err
			}
		}
	}
	return mem, nil
}

func (s keyView) readOnly() error {
	return fmt.Errorf("jwtauth: the Keyfunc's Storage of issuer %q is read-only: its keys change only by refresh from the key source", s.t.issuer)
}

// KeyDelete fails: the view is read-only.
func (s keyView) KeyDelete(context.Context, string) (bool, error) { return false, s.readOnly() }

// KeyReplaceAll fails: the view is read-only.
func (s keyView) KeyReplaceAll(context.Context, []jwkset.JWK) error { return s.readOnly() }

// KeyWrite fails: the view is read-only.
func (s keyView) KeyWrite(context.Context, jwkset.JWK) error { return s.readOnly() }

// KeyRead returns the key with kid, or an error wrapping jwkset.ErrKeyNotFound. It does not refresh.
func (s keyView) KeyRead(ctx context.Context, kid string) (jwkset.JWK, error) {
	mem, err := s.snapshot()
	if err != nil {
		return jwkset.JWK{}, err
	}
	return mem.KeyRead(ctx, kid)
}

// KeyReadAll returns every current key.
func (s keyView) KeyReadAll(ctx context.Context) ([]jwkset.JWK, error) {
	mem, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return mem.KeyReadAll(ctx)
}

// JSON is the current keys as a public JWK Set.
func (s keyView) JSON(ctx context.Context) (json.RawMessage, error) { return s.JSONPublic(ctx) }

// JSONPublic is the current keys as a public JWK Set.
func (s keyView) JSONPublic(ctx context.Context) (json.RawMessage, error) {
	mem, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return mem.JSONPublic(ctx)
}

// JSONPrivate is JSONPublic: the view never holds private keys.
func (s keyView) JSONPrivate(ctx context.Context) (json.RawMessage, error) { return s.JSONPublic(ctx) }

// JSONWithOptions is JSONPublic; options asking for private members change nothing, there are none.
func (s keyView) JSONWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, vo jwkset.JWKValidateOptions) (json.RawMessage, error) {
	mem, err := s.snapshot()
	if err != nil {
		return nil, err
	}
	return mem.JSONWithOptions(ctx, m, vo)
}

// Marshal is the current keys as a jwkset.JWKSMarshal.
func (s keyView) Marshal(ctx context.Context) (jwkset.JWKSMarshal, error) {
	mem, err := s.snapshot()
	if err != nil {
		return jwkset.JWKSMarshal{}, err
	}
	return mem.Marshal(ctx)
}

// MarshalWithOptions is Marshal with the given options.
func (s keyView) MarshalWithOptions(ctx context.Context, m jwkset.JWKMarshalOptions, vo jwkset.JWKValidateOptions) (jwkset.JWKSMarshal, error) {
	mem, err := s.snapshot()
	if err != nil {
		return jwkset.JWKSMarshal{}, err
	}
	return mem.MarshalWithOptions(ctx, m, vo)
}

// tidOf returns the tid claim of golang-jwt claims; other claims types than jwt.MapClaims cannot be read
// generically, so a key that needs tid then refuses.
func tidOf(c jwt.Claims) string {
	if m, ok := c.(jwt.MapClaims); ok {
		if tid, ok := m["tid"].(string); ok {
			return tid
		}
	}
	return ""
}
