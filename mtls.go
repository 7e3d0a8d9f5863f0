package jwtauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// MTLSPolicy says whether a trusted issuer's certificate-bound access tokens (RFC 8705 §3: a cnf claim with
// an x5t#S256 member) are accepted, and whether unbound ones still are.
type MTLSPolicy uint8

const (
	// MTLSOff refuses certificate-bound tokens like any other sender-constrained token: the default.
	MTLSOff MTLSPolicy = iota
	// MTLSAllowed accepts a certificate-bound token when the request's client certificate is the one its
	// cnf x5t#S256 names, and accepts unbound bearer tokens of the issuer too.
	MTLSAllowed
	// MTLSRequired accepts only certificate-bound tokens, each with the client certificate it names.
	MTLSRequired
)

// ClientCertEncoding is how a TLS-terminating proxy encodes the client certificate it forwards.
type ClientCertEncoding uint8

const (
	// ClientCertRFC9440 is the Client-Cert header of RFC 9440: the DER certificate as a structured-field byte
	// sequence, ":" base64 ":" (Envoy, HAProxy and others can send it).
	ClientCertRFC9440 ClientCertEncoding = iota
	// ClientCertEscapedPEM is a URL-escaped PEM certificate, as nginx's $ssl_client_escaped_cert.
	ClientCertEscapedPEM
)

// ForwardedClientCert tells the Verifier where a TLS-terminating proxy in front of the server puts the
// client certificate of the connection it terminated, for certificate-bound tokens (TrustedIssuer.MTLS).
// The header is believed only from the proxies listed: from any other peer it is ignored and only the
// certificate of the request's own TLS connection counts. From a listed proxy, only the header counts
// (the proxy's own certificate is not the client's). The proxy must remove or overwrite the header on every
// request it forwards, or clients could set it themselves.
type ForwardedClientCert struct {
	// Header names the request header, e.g. "Client-Cert" (RFC 9440). Empty: no proxy forwards certificates.
	Header string
	// Encoding is the header's format. The zero value is ClientCertRFC9440.
	Encoding ClientCertEncoding
	// TrustedProxies lists the IP addresses or CIDR prefixes ("10.0.0.0/8", "::1") of the proxies that set
	// Header, compared with the request's RemoteAddr. Required with Header.
	TrustedProxies []string
}

// maxForwardedCert bounds a forwarded certificate header: real client certificates are a few KiB.
const maxForwardedCert = 32 << 10

// forwardedCert is ForwardedClientCert as the Verifier uses it.
type forwardedCert struct {
	header   string // canonical; "" when off
	encoding ClientCertEncoding
	proxies  []netip.Prefix
}

// check validates f into fc; bad reports each problem.
func (f ForwardedClientCert) check(anyMTLS bool, bad func(string, ...any)) forwardedCert {
	var fc forwardedCert
	if f.Header == "" {
		if len(f.TrustedProxies) > 0 {
			bad("Config.ForwardedClientCert.TrustedProxies is set but Header is empty: name the header the proxy forwards the certificate in, e.g. \"Client-Cert\"")
		}
		return fc
	}
	fc.header = http.CanonicalHeaderKey(f.Header)
	fc.encoding = f.Encoding
	switch {
	case !isToken(f.Header) || strings.IndexByte(f.Header, '/') >= 0:
		bad("Config.ForwardedClientCert.Header %q is not a header name", f.Header)
	case fc.header == "Authorization" || fc.header == "Cookie" || fc.header == "Dpop":
		bad("Config.ForwardedClientCert.Header %q carries credentials already: use the header your proxy sets, e.g. \"Client-Cert\"", f.Header)
	}
	if f.Encoding > ClientCertEscapedPEM {
		bad("Config.ForwardedClientCert.Encoding %d is unknown: use ClientCertRFC9440 or ClientCertEscapedPEM", f.Encoding)
	}
	if len(f.TrustedProxies) == 0 {
		bad("Config.ForwardedClientCert.TrustedProxies is empty: list the addresses of the proxies that set %s, or any client could claim any certificate", f.Header)
	}
	for _, s := range f.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			fc.proxies = append(fc.proxies, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			fc.proxies = append(fc.proxies, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			bad("Config.ForwardedClientCert.TrustedProxies contains %q, which is neither an IP address nor a CIDR prefix", s)
		}
	}
	if !anyMTLS {
		bad("Config.ForwardedClientCert is set but no issuer accepts certificate-bound tokens: set TrustedIssuer.MTLS to MTLSAllowed or MTLSRequired")
	}
	return fc
}

// trusted reports whether the request comes straight from a listed proxy.
func (fc *forwardedCert) trusted(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	a := ap.Addr().Unmap()
	for _, p := range fc.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

var (
	errTwoCertHeaders = newError(failCertHeader, "the request has the forwarded client certificate header more than once")
	errCertHeaderSize = newError(failCertHeader, fmt.Sprintf("the forwarded client certificate header is over %d bytes", maxForwardedCert))
)

// clientCert returns the DER of the request's client certificate: forwarded by a trusted proxy, or of the
// TLS connection. der is nil when there is none; note says why, for the refusal's log message.
func (v *Verifier) clientCert(r *http.Request) (der []byte, note string, err *Error) {
	fc := &v.fwdCert
	if fc.header != "" {
		values := r.Header.Values(fc.header)
		if fc.trusted(r.RemoteAddr) {
			switch len(values) {
			case 0:
				return nil, "; the trusted proxy forwarded no " + fc.header + " header", nil
			case 1:
				der, err := fc.decode(values[0])
				return der, "", err
			}
			return nil, "", errTwoCertHeaders
		}
		if len(values) > 0 {
			note = fmt.Sprintf("; the %s header was ignored: peer %s is not in ForwardedClientCert.TrustedProxies", fc.header, quote(r.RemoteAddr))
		}
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		if r.TLS == nil {
			return nil, note + "; the connection is not TLS", nil
		}
		return nil, note + "; the TLS client sent no certificate (tls.Config.ClientAuth must request one)", nil
	}
	return r.TLS.PeerCertificates[0].Raw, "", nil
}

// decode reads one forwarded certificate header value into DER.
func (fc *forwardedCert) decode(s string) ([]byte, *Error) {
	if len(s) > maxForwardedCert {
		return nil, errCertHeaderSize
	}
	s = strings.Trim(s, " \t")
	switch fc.encoding {
	case ClientCertEscapedPEM:
		p, err := url.PathUnescape(s)
		if err != nil {
			return nil, newError(failCertHeader, "the "+fc.header+" header is not URL-escaped PEM")
		}
		block, rest := pem.Decode([]byte(p))
		if block == nil || block.Type != "CERTIFICATE" || strings.TrimSpace(string(rest)) != "" {
			return nil, newError(failCertHeader, "the "+fc.header+" header is not one PEM CERTIFICATE block")
		}
		return block.Bytes, nil
	default:
		// RFC 8941 §3.3.5 byte sequence; parameters are not part of RFC 9440's field.
		if len(s) < 2 || s[0] != ':' || s[len(s)-1] != ':' {
			return nil, newError(failCertHeader, "the "+fc.header+" header is not an RFC 9440 byte sequence (\":base64:\")")
		}
		b64 := s[1 : len(s)-1]
		if strings.ContainsAny(b64, "\r\n") { // encoding/base64 skips them even in Strict mode
			return nil, newError(failCertHeader, "the "+fc.header+" header is not an RFC 9440 byte sequence: bad base64")
		}
		der, err := base64.StdEncoding.Strict().DecodeString(b64)
		if err != nil {
			// RFC 8941 §4.2.7: parsers should not fail when the padding is missing.
			der, err = base64.RawStdEncoding.Strict().DecodeString(b64)
		}
		if err != nil || len(der) == 0 {
			return nil, newError(failCertHeader, "the "+fc.header+" header is not an RFC 9440 byte sequence: bad base64")
		}
		return der, nil
	}
}

// CertificateThumbprint returns the x5t#S256 confirmation of a DER-encoded X.509 certificate (RFC 8705
// §3.1): base64url of its SHA-256, without padding. Authorization servers put it in a token's cnf claim.
func CertificateThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkConfirmation checks the token's cnf claim against what the request proves. Every confirmation method
// a token names must be checked: one that cannot be refuses the token, so a binding is never dropped.
// r is nil for Verify, which has no connection to check a binding against.
func (v *Verifier) checkConfirmation(t *trust, c *confirmation, present bool, r *http.Request, dp *dpopProof) *Error {
	if e, done := checkDPoPConfirmation(t, c, present, dp); done {
		return e
	}
	if !present {
		if t.mtls == MTLSRequired {
			return newError(failCertBoundRequired, fmt.Sprintf("issuer %q requires certificate-bound tokens (TrustedIssuer.MTLS is MTLSRequired) and the token has no cnf claim", t.issuer))
		}
		return nil
	}
	switch {
	case c.other:
		return newError(failCnf, "token has a cnf claim with a confirmation method other than x5t#S256 (names are case-sensitive); none but x5t#S256 can be checked")
	case c.hasJkt:
		return newError(failCnf, "token is DPoP-bound (cnf jkt, RFC 9449); this verifier does not check DPoP proofs")
	case !c.hasX5t:
		return newError(failCnf, "token has an empty cnf claim; a bearer check cannot prove possession of a key it does not name")
	case t.mtls == MTLSOff:
		return newError(failCnf, fmt.Sprintf("token is certificate-bound (cnf x5t#S256) but issuer %q does not accept such tokens: set TrustedIssuer.MTLS to MTLSAllowed", t.issuer))
	}
	if !isThumbprint(c.x5t) {
		return newError(failCnf, "cnf x5t#S256 is not 43 base64url characters (the SHA-256 of a certificate)")
	}
	if r == nil {
		return newError(failCertRequired, "token is certificate-bound (cnf x5t#S256) and Verify has no TLS connection to check it against: verify it with RequireAuth or OptionalAuth")
	}
	der, note, err := v.clientCert(r)
	if err != nil {
		return err
	}
	if der == nil {
		return newError(failCertRequired, "token is certificate-bound (cnf x5t#S256) and the request has no client certificate"+note)
	}
	if subtle.ConstantTimeCompare([]byte(CertificateThumbprint(der)), []byte(c.x5t)) != 1 {
		return newError(failCertMismatch, "token is bound to another client certificate than the request's (cnf x5t#S256 differs from its SHA-256)")
	}
	return nil
}

// isThumbprint reports whether s is the canonical unpadded base64url of 32 bytes.
func isThumbprint(s string) bool {
	if len(s) != 43 {
		return false
	}
	var b [33]byte
	n, err := base64.RawURLEncoding.Strict().Decode(b[:], []byte(s))
	return err == nil && n == 32
}
