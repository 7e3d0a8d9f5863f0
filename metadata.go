package jwtauth

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// ResourceMetadataPath is the well-known path of OAuth 2.0 protected-resource metadata (RFC 9728 §3). For a
// resource with a path, the document lives at this path followed by the resource's path (§3.1).
const ResourceMetadataPath = "/.well-known/oauth-protected-resource"

// resourceMetadata is the RFC 9728 §2 document. Members that are false or empty are omitted (their default).
type resourceMetadata struct {
	Resource             string   `json:"resource"`
	AuthorizationServers []string `json:"authorization_servers,omitempty"`
	ScopesSupported      []string `json:"scopes_supported,omitempty"`
	BearerMethods        []string `json:"bearer_methods_supported"`
	CertificateBound     bool     `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	DPoPAlgorithms       []string `json:"dpop_signing_alg_values_supported,omitempty"`
	DPoPRequired         bool     `json:"dpop_bound_access_tokens_required,omitempty"`
}

// metadata is what the Verifier serves and challenges with when Config.Resource is set.
type metadata struct {
	resource string
	path     string // where the document is served (RFC 9728 §3.1)
	url      string // resource_metadata of challenges (§5.1)
	doc      []byte
}

// checkResource validates Config.Resource: an https URL (http for loopback hosts, for tests and local
// development) without query, fragment or credentials (RFC 9728 §2, RFC 8707 §2), quotable in a challenge.
func checkResource(raw string, bad func(string, ...any)) *metadata {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Opaque != "":
		bad("Config.Resource %q is not an absolute URL: use this API's URL, e.g. \"https://api.example.com\"", raw)
		return nil
	case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
		bad("Config.Resource %q must be an https URL (http only for localhost, 127.0.0.0/8 and ::1)", raw)
	case u.Hostname() == "":
		bad("Config.Resource %q has no host", raw)
	case u.User != nil:
		bad("Config.Resource %q carries credentials: remove them", u.Redacted())
	case u.Fragment != "" || strings.Contains(raw, "#"):
		bad("Config.Resource %q has a fragment, which a resource identifier must not have (RFC 9728 §2): remove it", raw)
	case u.RawQuery != "" || u.ForceQuery:
		bad("Config.Resource %q has a query, which a resource identifier should not have (RFC 8707 §2): remove it", raw)
	case !isQuotable(raw) || strings.ContainsAny(raw, " "):
		bad("Config.Resource %q must be printable ASCII without spaces, '\"' or '\\'", raw)
	default:
		path := u.EscapedPath()
		if path == "/" {
			path = "" // https://api.example.com/ is the same resource as https://api.example.com
		}
		m := &metadata{resource: raw, path: ResourceMetadataPath + path}
		m.url = u.Scheme + "://" + u.Host + m.path
		return m
	}
	return nil
}

// audiencesFor applies Config.Resource to one issuer's audiences: Resource IS the audience, so an issuer
// without Audiences gets it, and one with Audiences must list it; an issuer that checks no aud cannot bind
// tokens to the resource. It returns the audiences to check.
func audiencesFor(resource string, ti *TrustedIssuer, where string, bad func(string, ...any)) []string {
	if resource == "" {
		return ti.Audiences
	}
	switch {
	case ti.InsecureSkipAudienceCheck:
		bad("%s: InsecureSkipAudienceCheck contradicts Config.Resource, which is the audience every token must carry (RFC 8707): remove InsecureSkipAudienceCheck", where)
	case len(ti.Audiences) == 0 && len(ti.AuthorizedParties) > 0:
		bad("%s: the issuer is bound by AuthorizedParties instead of aud, so its tokens cannot be bound to Config.Resource %q: set Audiences to it if the issuer puts it in aud", where, resource)
	case len(ti.Audiences) == 0:
		return []string{resource}
	case !slices.Contains(ti.Audiences, resource):
		bad("%s: Audiences %s do not contain Config.Resource %q, the audience clients ask tokens for (RFC 8707): add it, or leave Audiences empty to use Resource", where, quoteList(ti.Audiences), resource)
	}
	return ti.Audiences
}

// buildMetadata renders the document once, at New: it never changes while the Verifier lives.
func (v *Verifier) buildMetadata(m *metadata, scopes []string, bad func(string, ...any)) {
	doc := resourceMetadata{Resource: m.resource, ScopesSupported: scopes, BearerMethods: []string{"header"}}
	if v.tokenQuery != "" {
		doc.BearerMethods = append(doc.BearerMethods, "query") // RFC 9728 has no value for cookies
	}
	if v.dpop != nil { // built before the metadata, from DPoPOptions
		doc.DPoPAlgorithms = strings.Fields(v.dpop.algsAttr)
		doc.DPoPRequired = !v.dpop.bearer // every issuer is DPoPRequired
	}
	for _, t := range v.trusts {
		if t.mtls != MTLSOff {
			doc.CertificateBound = true
		}
		names := []string{t.issuer}
		if t.template != nil {
			if len(t.tenants) == 0 {
				bad("Config.Resource is set, but issuer %q is a template without Tenants, so no authorization server can be named in the metadata: list its Tenants", t.issuer)
				continue
			}
			names = names[:0]
			for _, tid := range t.tenants {
				names = append(names, strings.Replace(t.issuer, "{tenantid}", tid, 1))
			}
		}
		for _, n := range names {
			if !slices.Contains(doc.AuthorizationServers, n) {
				doc.AuthorizationServers = append(doc.AuthorizationServers, n)
			}
		}
	}
	for _, s := range scopes {
		if s == "" || strings.ContainsAny(s, " \"\\") || !isQuotable(s) {
			bad("Config.ScopesSupported contains %q, which is not a scope token (RFC 6749 §3.3)", s)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		bad("protected-resource metadata: %v", err)
		return
	}
	m.doc = append(b, '\n')
	v.meta = m
}

// ResourceMetadataURL returns the URL of this resource's protected-resource metadata (RFC 9728 §3.1), which
// challenges carry as resource_metadata; "" when Config.Resource is not set.
func (v *Verifier) ResourceMetadataURL() string {
	if v.meta == nil {
		return ""
	}
	return v.meta.url
}

// ResourceMetadata returns the handler of the protected-resource metadata document (RFC 9728 §2, §3) built
// from the configuration: resource (Config.Resource), authorization_servers (the trusted issuers; a
// template issuer once per tenant of Tenants), scopes_supported (Config.ScopesSupported),
// bearer_methods_supported ("header", and "query" with Config.TokenQuery; cookies have no registered value),
// tls_client_certificate_bound_access_tokens (true when an issuer's MTLS is on),
// dpop_signing_alg_values_supported (the proof algorithms of Config.DPoP, when an issuer accepts DPoP) and
// dpop_bound_access_tokens_required (true when every issuer is DPoPRequired). Register it on the root
// mux for both the path-suffixed URL of §3.1 and the bare well-known path, which clients fall back to:
//
//	mux.Handle(jwtauth.ResourceMetadataPath, v.ResourceMetadata())
//	mux.Handle(jwtauth.ResourceMetadataPath+"/", v.ResourceMetadata())
//
// It answers GET and HEAD with the JSON document (cacheable for an hour, readable from any origin: it is
// public), OPTIONS with 204, other methods with 405, and other paths with 404. It never requires a token. It
// panics when Config.Resource is not set, as the document would have no resource.
func (v *Verifier) ResourceMetadata() http.Handler {
	if v.meta == nil {
		panic("jwtauth: ResourceMetadata needs Config.Resource: set it to this API's URL, the audience of its tokens")
	}
	m := v.meta
	length := strconv.Itoa(len(m.doc))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != m.path && r.URL.Path != ResourceMetadataPath {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", "*")
		switch r.Method {
		case http.MethodGet, http.MethodHead:
		case http.MethodOptions:
			h.Set("Access-Control-Allow-Methods", "GET, HEAD")
			h.Set("Access-Control-Allow-Headers", "*")
			h.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		default:
			h.Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed: protected-resource metadata is read with GET", http.StatusMethodNotAllowed)
			return
		}
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Content-Length", length)
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(m.doc)
		}
	})
}
