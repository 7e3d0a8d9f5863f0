package jwtauth

import (
	"fmt"
	"net/http"
	"strings"
)

// Bounds of Claims.Roles: a token beyond them is refused with ErrRolesTooLarge rather than silently cut, so a
// role lost to a cut never turns into a puzzling 403. Real providers stay far below (Entra switches to a
// groups overage claim past 200 groups).
const (
	maxRoles      = 1024
	maxRoleLength = 1024
)

// RoleClaim says where an issuer's tokens carry roles (or groups). Path names the claim one member name per
// element, from the top of the payload, so names with dots, slashes or colons need no escaping:
//
//	jwtauth.RolesAt("roles")                                 // Entra app roles
//	jwtauth.RolesAt("groups")                                // Okta, Dex
//	jwtauth.RolesAt("cognito:groups")                        // Amazon Cognito
//	jwtauth.RolesAt("realm_access", "roles")                 // Keycloak realm roles
//	jwtauth.RolesAt("resource_access", "my-client", "roles") // Keycloak client roles
//	jwtauth.RolesAt("https://example.com/roles")             // an Auth0 namespaced claim
//	jwtauth.RoleMapAt("urn:zitadel:iam:org:project:roles")   // Zitadel: an object keyed by role
type RoleClaim struct {
	// Path is the member names leading to the claim, outermost first. Members are matched exactly and
	// case-sensitively.
	Path []string
	// MemberNames reads the claim as a JSON object whose member names are the roles; a member whose value is
	// false or null grants nothing, any other value is ignored. Otherwise the claim is a string (one role, not
	// split) or an array of strings.
	MemberNames bool
}

// RolesAt is the RoleClaim of a string or array of strings at path.
func RolesAt(path ...string) RoleClaim { return RoleClaim{Path: path} }

// RoleMapAt is the RoleClaim of an object at path whose member names are the roles.
func RoleMapAt(path ...string) RoleClaim { return RoleClaim{Path: path, MemberNames: true} }

// String renders the path for messages, e.g. realm_access.roles, with each name quoted when it needs it.
func (rc RoleClaim) String() string {
	parts := make([]string, len(rc.Path))
	for i, p := range rc.Path {
		parts[i] = p
		if p == "" || strings.ContainsAny(p, ".\"\\ ") {
			parts[i] = fmt.Sprintf("%q", p)
		}
	}
	s := strings.Join(parts, ".")
	if rc.MemberNames {
		s += " (member names)"
	}
	return s
}

// checkRoleClaims reports what is wrong with TrustedIssuer.Roles, for New.
func checkRoleClaims(rcs []RoleClaim) error {
	for i, rc := range rcs {
		if len(rc.Path) == 0 {
			return fmt.Errorf("Roles[%d] has an empty Path: use jwtauth.RolesAt(\"roles\") or the claim your issuer uses", i)
		}
		for _, p := range rc.Path {
			if p == "" {
				return fmt.Errorf("Roles[%d] (%s) has an empty member name in its Path", i, rc)
			}
		}
	}
	return nil
}

// extractRoles reads the roles at every claim of rcs from a payload the strict parser has already accepted,
// in order of first appearance and without duplicates. Values of another type than the RoleClaim expects, and
// non-string array elements, grant nothing and are skipped.
func extractRoles(raw []byte, rcs []RoleClaim) ([]string, string) {
	x := roleExtractor{}
	for _, rc := range rcs {
		r := jsonReader{b: raw}
		if !x.walk(&r, 0, rc) || x.tooLarge != "" {
			if x.tooLarge != "" {
				return nil, fmt.Sprintf("%s at %s", x.tooLarge, rc)
			}
			return nil, fmt.Sprintf("roles claim %s: %s", rc, r.err)
		}
	}
	return x.out, ""
}

type roleExtractor struct {
	out      []string
	seen     map[string]struct{} // once out is long enough that a linear search costs more
	tooLarge string
}

func (x *roleExtractor) walk(r *jsonReader, depth int, rc RoleClaim) bool {
	path := rc.Path[depth:]
	r.ws()
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return r.skip(depth)
	}
	return r.object(depth, func(name []byte) bool {
		switch {
		case string(name) != path[0]:
			return r.skip(depth + 1)
		case len(path) > 1:
			return x.walk(r, depth+1, rc)
		}
		return x.take(r, depth+1, rc.MemberNames)
	})
}

// take reads the claim's value.
func (x *roleExtractor) take(r *jsonReader, depth int, memberNames bool) bool {
	r.ws()
	if r.i >= len(r.b) {
		return r.fail("expected a value")
	}
	switch c := r.b[r.i]; {
	case memberNames && c == '{':
		return r.object(depth, func(name []byte) bool {
			// {"admin": false} must not read as a grant of admin.
			if !r.literal("false") && !r.literal("null") {
				x.add(name)
			}
			return r.skip(depth + 1)
		})
	case !memberNames && c == '"':
		s, ok := r.stringBytes()
		x.add(s)
		return ok
	case !memberNames && c == '[':
		return r.array(func() bool {
			if r.i < len(r.b) && r.b[r.i] == '"' {
				s, ok := r.stringBytes()
				if ok {
					x.add(s)
				}
				return ok
			}
			return r.skip(depth + 1)
		})
	}
	return r.skip(depth)
}

// literal reports whether the value at r is the JSON literal lit, without consuming it.
func (r *jsonReader) literal(lit string) bool {
	return len(r.b)-r.i >= len(lit) && string(r.b[r.i:r.i+len(lit)]) == lit
}

func (x *roleExtractor) add(b []byte) {
	switch {
	case len(b) == 0 || x.tooLarge != "":
		return
	case len(b) > maxRoleLength:
		x.tooLarge = fmt.Sprintf("a role is %d bytes, more than the %d allowed", len(b), maxRoleLength)
		return
	}
	if x.seen != nil {
		if _, dup := x.seen[string(b)]; dup {
			return
		}
	} else {
		for _, have := range x.out {
			if have == string(b) {
				return
			}
		}
	}
	if len(x.out) == maxRoles {
		x.tooLarge = fmt.Sprintf("the token carries more than %d roles", maxRoles)
		return
	}
	s := string(b)
	x.out = append(x.out, s)
	if x.seen != nil {
		x.seen[s] = struct{}{}
	} else if len(x.out) == 32 {
		x.seen = make(map[string]struct{}, 64)
		for _, have := range x.out {
			x.seen[have] = struct{}{}
		}
	}
}

// HasRole reports whether the token carries role, exactly and case-sensitively, at one of the issuer's
// TrustedIssuer.Roles claims.
func (c *Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if r == role {
			return true
		}
	}
	return false
}

// HasAllRoles reports whether the token carries every one of roles.
func (c *Claims) HasAllRoles(roles ...string) bool {
	for _, r := range roles {
		if !c.HasRole(r) {
			return false
		}
	}
	return true
}

// HasAnyRole reports whether the token carries at least one of roles.
func (c *Claims) HasAnyRole(roles ...string) bool {
	for _, r := range roles {
		if c.HasRole(r) {
			return true
		}
	}
	return false
}

// RequireRole returns middleware that lets a request through only when its token carries every one of roles
// (Claims.Roles, read from the claims named by TrustedIssuer.Roles). Otherwise it answers 403 with
// error="insufficient_scope" and error_description="insufficient role" (RFC 6750 has no role attribute, and
// role names are not sent to clients), through Config.ErrorHandler when set. Put it behind RequireAuth:
// without verified claims in the context it answers 401. It panics when roles is empty or holds "".
func RequireRole(roles ...string) func(http.Handler) http.Handler {
	return roleMiddleware("RequireRole", roles, true)
}

// RequireAnyRole is RequireRole satisfied by any one of roles.
func RequireAnyRole(roles ...string) func(http.Handler) http.Handler {
	return roleMiddleware("RequireAnyRole", roles, false)
}

func roleMiddleware(name string, roles []string, all bool) func(http.Handler) http.Handler {
	if len(roles) == 0 {
		panic("jwtauth: " + name + " needs at least one role")
	}
	for _, r := range roles {
		if r == "" {
			panic("jwtauth: " + name + " was given an empty role name")
		}
	}
	roles = append([]string(nil), roles...)
	return authorize(name, func(c *Claims) *Error { return c.roleError(roles, all) })
}

// CheckRoles returns nil when the token carries every one of roles, and otherwise the *Error that RequireRole
// refuses with (ErrInsufficientRole, status 403). It is for other transports, such as gRPC.
func (c *Claims) CheckRoles(roles ...string) error {
	if e := c.roleError(roles, true); e != nil {
		return e
	}
	return nil
}

// CheckAnyRole is CheckRoles satisfied by any one of roles.
func (c *Claims) CheckAnyRole(roles ...string) error {
	if e := c.roleError(roles, false); e != nil {
		return e
	}
	return nil
}

// roleError is the refusal of a token that lacks roles, or nil when it has them.
func (c *Claims) roleError(roles []string, all bool) *Error {
	if all && c.HasAllRoles(roles...) || !all && c.HasAnyRole(roles...) {
		return nil
	}
	which := "all"
	if !all {
		which = "one"
	}
	return newError(failRole, fmt.Sprintf("token lacks a required role; %s of %s required (it carries %d roles)", which, quoteList(roles), len(c.Roles)))
}
