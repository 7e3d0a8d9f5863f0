package jwtauth

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode"
)

// Provider profiles: one constructor per identity provider, each returning the TrustedIssuer that provider's
// tokens need (issuer format, key location, algorithms, audience rule and its own claim checks), as the
// provider documents them. The sources of each shape are in testdata/providers/*/NOTES.md.

// Auth0 is the profile of an Auth0 tenant: issuer "https://DOMAIN/", keys from
// "https://DOMAIN/.well-known/jwks.json", RS256. domain is the tenant domain as shown in the Auth0 dashboard
// (dev-abc.us.auth0.com) or a custom domain (login.example.com); tokens carry the domain they were requested
// through, so trust each domain your clients use. audiences are API identifiers.
func Auth0(domain string, audiences ...string) TrustedIssuer {
	d := strings.TrimSuffix(strings.TrimPrefix(domain, "https://"), "/")
	if d == "" || strings.ContainsFunc(d, func(r rune) bool { return strings.ContainsRune("/?#@", r) || unicode.IsSpace(r) }) {
		return invalidProfile("Auth0 domain %q is not a host name: use the tenant domain, e.g. dev-abc.us.auth0.com", domain)
	}
	return TrustedIssuer{
		Issuer:     "https://" + d + "/",
		Audiences:  audiences,
		Algorithms: []string{"RS256"},
		Keys:       RemoteJWKS("https://" + d + "/.well-known/jwks.json"),
	}
}

// Okta is the profile of an Okta authorization server, given by its issuer as shown under Security → API →
// Authorization Servers: "https://ORG.okta.com/oauth2/default" or another custom authorization server
// ("https://ORG.okta.com/oauth2/ausXXXX"), keys from ISSUER/v1/keys; or the org authorization server
// "https://ORG.okta.com", keys from ISSUER/oauth2/v1/keys, whose access tokens are meant for Okta's own APIs.
// RS256. Custom domains work the same way. Scopes come from scp (an array), roles from groups (a claim you
// add to the authorization server).
func Okta(issuer string, audiences ...string) TrustedIssuer {
	iss := strings.TrimSuffix(issuer, "/")
	u, err := url.Parse(iss)
	advice := "use the authorization server's Issuer URI, e.g. https://dev-123.okta.com/oauth2/default (or https://dev-123.okta.com for the org server)"
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return invalidProfile("Okta issuer %q is not an https URL: %s", issuer, advice)
	}
	keys := iss + "/oauth2/v1/keys" // the org authorization server
	if u.Path != "" {
		id, ok := strings.CutPrefix(u.Path, "/oauth2/")
		if !ok || id == "" || strings.Contains(id, "/") {
			return invalidProfile("Okta issuer %q has the path %q: %s", issuer, u.Path, advice)
		}
		keys = iss + "/v1/keys"
	}
	org := u.Scheme + "://" + u.Host
	hint := func(got string) string {
		if u.Path != "" && strings.TrimSuffix(got, "/") == org {
			return "it is a token of the Okta org authorization server, whose access tokens are for Okta's own APIs; request the token from " + iss
		}
		return ""
	}
	return TrustedIssuer{Issuer: iss, Audiences: audiences, Algorithms: []string{"RS256"}, Keys: RemoteJWKS(keys),
		Roles: []RoleClaim{RolesAt("groups")}, issuerHint: hint}
}

// entraConsumers is the tenant ID of personal Microsoft accounts, which "consumers" tokens carry.
const entraConsumers = "9188040d-6c67-4c5b-b112-36a304b66dad"

// EntraID is the profile of Microsoft Entra ID (Azure AD) v2.0 access tokens: issuer
// "https://login.microsoftonline.com/TENANT/v2.0", keys from
// "https://login.microsoftonline.com/TENANT/discovery/v2.0/keys", RS256. tenant is the Directory (tenant)
// ID, a GUID; "common" or "organizations" make a multi-tenant issuer that matches each tenant's
// "https://login.microsoftonline.com/{tid}/v2.0" only together with that token's tid claim (restrict them
// with Tenants; "organizations" refuses personal Microsoft accounts, "common" accepts them); "consumers"
// accepts personal Microsoft accounts only. audiences is the API's application
// (client) ID, which v2.0 tokens carry in aud. Only APIs whose manifest sets requestedAccessTokenVersion to 2
// get v2.0 tokens; otherwise use EntraIDv1. Each key's issuer member is enforced. App roles are in roles,
// delegated scopes in scp (a space-delimited string).
func EntraID(tenant string, audiences ...string) TrustedIssuer {
	return entra(tenant, false, audiences)
}

// EntraIDv1 is EntraID for v1.0 access tokens, which Entra issues to APIs whose manifest leaves
// requestedAccessTokenVersion unset or 1 (the default): issuer "https://sts.windows.net/TENANT/", keys from
// "https://login.microsoftonline.com/TENANT/discovery/keys", and aud the Application ID URI
// ("api://...") or the client ID. Multi-tenant tenants work as in EntraID.
func EntraIDv1(tenant string, audiences ...string) TrustedIssuer {
	return entra(tenant, true, audiences)
}

func entra(tenant string, v1 bool, audiences []string) TrustedIssuer {
	name := "EntraID"
	if v1 {
		name = "EntraIDv1"
	}
	tid, keysTenant := tenant, tenant
	switch strings.ToLower(tenant) {
	case "common", "organizations":
		tid, keysTenant = tenantPlaceholder, strings.ToLower(tenant)
	case "consumers":
		tid = entraConsumers
	default:
		if !isGUID(tenant) {
			return invalidProfile("%s tenant %q is not a tenant ID: use the Directory (tenant) ID GUID from the app registration's Overview page, or \"common\", \"organizations\" or \"consumers\"", name, tenant)
		}
		tid, keysTenant = strings.ToLower(tenant), strings.ToLower(tenant)
	}
	ti := TrustedIssuer{
		Issuer:     "https://login.microsoftonline.com/" + tid + "/v2.0",
		Audiences:  audiences,
		Algorithms: []string{"RS256"},
		Keys:       RemoteJWKS("https://login.microsoftonline.com/" + keysTenant + "/discovery/v2.0/keys"),
		Roles:      []RoleClaim{RolesAt("roles")},
	}
	if v1 {
		ti.Issuer = "https://sts.windows.net/" + tid + "/"
		ti.Keys = RemoteJWKS("https://login.microsoftonline.com/" + keysTenant + "/discovery/keys")
	}
	ti.issuerHint = func(got string) string { return entraHint(got, v1, tid == tenantPlaceholder) }
	if keysTenant == "organizations" {
		ti.profileCheck = entraOrganizations
	}
	return ti
}

// entraOrganizations refuses personal Microsoft accounts at an "organizations" profile: to the issuer
// template their tenant is one more tenant, but "organizations" means work and school accounts only.
func entraOrganizations(c *Claims) error {
	if tid, _ := GetClaim[string](c, "tid"); tid == entraConsumers {
		return errors.New(`token is of a personal Microsoft account (tid of the "consumers" tenant), which "organizations" does not accept: use "common" to accept them too`)
	}
	return nil
}

// entraHint explains an Entra issuer that the profile does not trust.
func entraHint(got string, v1, multi bool) string {
	switch {
	case !v1 && strings.HasPrefix(got, "https://sts.windows.net/"):
		return `it is an Entra ID v1.0 token: set "requestedAccessTokenVersion": 2 in the API's app manifest, or trust jwtauth.EntraIDv1`
	case v1 && strings.HasPrefix(got, "https://login.microsoftonline.com/") && strings.HasSuffix(got, "/v2.0"):
		return "it is an Entra ID v2.0 token: trust jwtauth.EntraID"
	case !multi && (strings.HasPrefix(got, "https://login.microsoftonline.com/") || strings.HasPrefix(got, "https://sts.windows.net/")):
		return `it is a token of another tenant; for a multi-tenant app use jwtauth.EntraID("organizations", ...) with Tenants`
	}
	return ""
}

func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
			if c != '-' {
				return false
			}
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// Cognito is the profile of Amazon Cognito user pool access tokens: issuer
// "https://cognito-idp.REGION.amazonaws.com/POOL", keys from ISSUER/.well-known/jwks.json, RS256. userPoolID
// is the pool's ID (us-east-1_AbC123; the region is its prefix). Access tokens carry no aud: client_id must
// be one of clientIDs (the app clients whose tokens are accepted, as AuthorizedParties), and token_use must
// be "access", so an ID token is refused. Scopes come from scope, roles from cognito:groups.
func Cognito(userPoolID string, clientIDs ...string) TrustedIssuer {
	region, id, ok := strings.Cut(userPoolID, "_")
	if !ok || !isName(region, "-") || !isName(id, "") {
		return invalidProfile("Cognito user pool ID %q is not REGION_ID: copy it from the user pool's overview, e.g. us-east-1_AbC123", userPoolID)
	}
	if len(clientIDs) == 0 {
		return invalidProfile("Cognito user pool %q: list the app client IDs whose access tokens are accepted", userPoolID)
	}
	iss := "https://cognito-idp." + region + ".amazonaws.com/" + userPoolID
	return TrustedIssuer{
		Issuer:            iss,
		AuthorizedParties: clientIDs,
		Algorithms:        []string{"RS256"},
		Keys:              RemoteJWKS(iss + "/.well-known/jwks.json"),
		Roles:             []RoleClaim{RolesAt("cognito:groups")},
		azpClaim:          "client_id",
		profileCheck:      cognitoAccessToken,
	}
}

func cognitoAccessToken(c *Claims) error {
	use, err := GetClaim[string](c, "token_use")
	switch {
	case errors.Is(err, ErrClaimMissing):
		return errors.New("token has no token_use claim; Cognito access tokens carry token_use \"access\"")
	case err != nil:
		return errors.New("token_use claim is not a string")
	case use == "id":
		return errors.New("token_use is \"id\": this is a Cognito ID token; send the access token")
	case use != "access":
		return fmt.Errorf("token_use is %s, not \"access\"", quote(use))
	}
	return nil
}

// Keycloak is the profile of a Keycloak realm: issuer "BASE/realms/REALM", keys from
// ISSUER/protocol/openid-connect/certs, algorithms taken from the keys (Keycloak publishes each key's alg;
// its encryption key is skipped). base is the server URL, with "/auth" for Keycloak before 17. Roles are the
// realm roles (realm_access.roles) and the client roles of each audience (resource_access.AUD.roles). Keycloak puts
// your client in aud only with an audience mapper; without one, set AuthorizedParties to the clients whose
// tokens are accepted (checked against azp). ID and refresh tokens are refused (their typ claim is not
// "Bearer").
func Keycloak(base, realm string, audiences ...string) TrustedIssuer {
	b := strings.TrimSuffix(base, "/")
	if u, err := url.Parse(b); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return invalidProfile("Keycloak base URL %q is not an http(s) URL: use the server's address, e.g. https://sso.example.com", base)
	}
	if realm == "" || strings.ContainsAny(realm, "/?# ") {
		return invalidProfile("Keycloak realm %q is not a realm name", realm)
	}
	iss := b + "/realms/" + realm
	roles := []RoleClaim{RolesAt("realm_access", "roles")}
	for _, a := range audiences {
		roles = append(roles, RolesAt("resource_access", a, "roles"))
	}
	return TrustedIssuer{
		Issuer:       iss,
		Audiences:    audiences,
		Roles:        roles,
		Keys:         RemoteJWKS(iss + "/protocol/openid-connect/certs"),
		profileCheck: keycloakBearer,
	}
}

func keycloakBearer(c *Claims) error {
	typ, err := GetClaim[string](c, "typ")
	switch {
	case errors.Is(err, ErrClaimMissing):
		return nil
	case err != nil:
		return errors.New("typ claim is not a string")
	case typ != "Bearer":
		return fmt.Errorf("typ claim is %s: only Keycloak access tokens (typ \"Bearer\") are accepted", quote(typ))
	}
	return nil
}

// Google is the profile of Google ID tokens (Sign in with Google, Cloud Run and IAP service identities):
// issuer "https://accounts.google.com", also accepted in its other documented spelling "accounts.google.com",
// keys from https://www.googleapis.com/oauth2/v3/certs, RS256. audiences are your OAuth client IDs (or, for
// service-to-service ID tokens, the audience they were minted for). Google access tokens are opaque, not
// JWTs: send the ID token.
func Google(audiences ...string) TrustedIssuer {
	if len(audiences) == 0 {
		return invalidProfile("Google: pass the OAuth client IDs that your ID tokens carry in aud")
	}
	return TrustedIssuer{
		Issuer:     "https://accounts.google.com",
		Audiences:  audiences,
		Algorithms: []string{"RS256"},
		Keys:       RemoteJWKS("https://www.googleapis.com/oauth2/v3/certs"),
		aliases:    []string{"accounts.google.com"},
	}
}

// Firebase is the profile of Firebase Authentication ID tokens: issuer
// "https://securetoken.google.com/PROJECT", aud the project ID, keys from
// https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com, RS256, and a
// non-empty sub (the user's uid).
func Firebase(projectID string) TrustedIssuer {
	if !isName(projectID, "-") {
		return invalidProfile("Firebase project ID %q is not a project ID: copy it from the Firebase console's project settings", projectID)
	}
	return TrustedIssuer{
		Issuer:       "https://securetoken.google.com/" + projectID,
		Audiences:    []string{projectID},
		Algorithms:   []string{"RS256"},
		Keys:         RemoteJWKS("https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"),
		profileCheck: firebaseSubject,
	}
}

func firebaseSubject(c *Claims) error {
	if c.Subject == "" {
		return errors.New("token has no sub; Firebase ID tokens carry the user's uid in sub")
	}
	return nil
}

// OIDC is the profile of any OpenID Connect provider: keys through Discover(issuer), algorithms taken from
// the keys (each key's alg, or the algorithms of its type), so a provider that rotates from RS256 to ES256
// keeps working. Set Algorithms to pin them.
func OIDC(issuer string, audiences ...string) TrustedIssuer {
	return TrustedIssuer{Issuer: issuer, Audiences: audiences, Keys: Discover(issuer)}
}

// invalidProfile is a TrustedIssuer that makes New report one error about a profile's arguments.
func invalidProfile(format string, args ...any) TrustedIssuer {
	return TrustedIssuer{Keys: errSource{fmt.Errorf(format, args...)}}
}

// isName reports whether s is non-empty ASCII letters and digits, plus the bytes of extra.
func isName(s, extra string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// Issuer templates: an Issuer with one {tenantid} path segment, matched together with the token's tid.

const tenantPlaceholder = "{tenantid}"

type issuerTemplate struct{ prefix, suffix string }

// parseIssuerTemplate returns nil for an exact issuer.
func parseIssuerTemplate(iss string) (*issuerTemplate, error) {
	i := strings.Index(iss, tenantPlaceholder)
	if i < 0 {
		if strings.Contains(iss, "{") && strings.Contains(iss, "}") {
			return nil, fmt.Errorf("Issuer %q has a placeholder other than {tenantid}, the only one supported", iss)
		}
		return nil, nil
	}
	t := &issuerTemplate{prefix: iss[:i], suffix: iss[i+len(tenantPlaceholder):]}
	switch {
	case strings.Contains(t.suffix, tenantPlaceholder):
		return nil, fmt.Errorf("Issuer %q has {tenantid} more than once", iss)
	case !strings.HasPrefix(t.prefix, "https://") || strings.Count(t.prefix, "/") < 3 || !strings.HasSuffix(t.prefix, "/"),
		t.suffix != "" && t.suffix[0] != '/':
		return nil, fmt.Errorf("Issuer %q: {tenantid} must be a whole path segment of an https URL", iss)
	}
	return t, nil
}

// match returns the part of iss that stands in place of {tenantid}.
func (tp *issuerTemplate) match(iss string) (string, bool) {
	if len(iss) <= len(tp.prefix)+len(tp.suffix) || !strings.HasPrefix(iss, tp.prefix) || !strings.HasSuffix(iss, tp.suffix) {
		return "", false
	}
	seg := iss[len(tp.prefix) : len(iss)-len(tp.suffix)]
	if strings.ContainsAny(seg, "/?#") {
		return "", false
	}
	return seg, true
}

func (v *Verifier) templateListed(iss string) bool {
	for _, t := range v.templates {
		if t.issuer == iss {
			return true
		}
	}
	return false
}

// matchTemplate selects the template issuer that iss fits, or says why a token that fits one is refused.
// It runs before the signature check only to select keys; nothing of the token is trusted yet.
func (v *Verifier) matchTemplate(iss string, payload []byte) (*trust, string) {
	for _, t := range v.templates {
		seg, ok := t.template.match(iss)
		if !ok {
			continue
		}
		tid, present, isString := topLevelString(payload, "tid")
		switch {
		case !present:
			return nil, fmt.Sprintf("token has no tid claim, so issuer %s cannot match the template %q", quote(iss), t.issuer)
		case !isString:
			return nil, "token's tid claim is not a string"
		case tid != seg:
			return nil, fmt.Sprintf("issuer %s names tenant %s but the token's tid is %s; one tenant's token cannot pass as another's", quote(iss), quote(seg), quote(tid))
		case len(t.tenants) > 0 && !slices.Contains(t.tenants, tid):
			return nil, fmt.Sprintf("tenant %s is not in TrustedIssuer.Tenants of %q", quote(tid), t.issuer)
		}
		return t, ""
	}
	return nil, ""
}

// keyIssuerMismatch enforces a key's issuer member (Entra ID publishes one per key): the key signs only for
// that issuer, {tenantid} standing for the token's tid ("" when it has none).
func keyIssuerMismatch(k *pubKey, iss, tid string) string {
	want := k.issuer
	if strings.Contains(want, tenantPlaceholder) {
		if tid == "" {
			return fmt.Sprintf("key %s signs for the issuer template %s and the token has no tid claim", quote(k.kid), quote(k.issuer))
		}
		want = strings.Replace(want, tenantPlaceholder, tid, 1)
	}
	if want != iss {
		return fmt.Sprintf("key %s is published for issuer %s, not %s", quote(k.kid), quote(want), quote(iss))
	}
	return ""
}

// checkAuthorizedParty enforces TrustedIssuer.AuthorizedParties against azp (or the profile's claim).
func checkAuthorizedParty(t *trust, payload []byte) string {
	got, present, isString := topLevelString(payload, t.azpClaim)
	switch {
	case !present:
		return fmt.Sprintf("token has no %s claim; TrustedIssuer.AuthorizedParties requires one of %s", t.azpClaim, quoteList(t.azps))
	case !isString:
		return fmt.Sprintf("token's %s claim is not a string", t.azpClaim)
	case !slices.Contains(t.azps, got):
		return fmt.Sprintf("%s %s is not one of the TrustedIssuer.AuthorizedParties %s", t.azpClaim, quote(got), quoteList(t.azps))
	}
	return ""
}
