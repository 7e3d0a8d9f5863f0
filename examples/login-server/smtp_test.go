package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smtpMail is one message the test SMTP server accepted.
type smtpMail struct {
	From, To string
	Data     string
	TLS      bool // the session was upgraded with STARTTLS
	Auth     string
}

// testSMTP is a minimal SMTP server on loopback (RFC 5321's EHLO, optional STARTTLS and AUTH PLAIN, MAIL, RCPT,
// DATA, QUIT): enough to receive what smtpMailer sends, and nothing a real server would accept that it refuses.
type testSMTP struct {
	ln    net.Listener
	tls   *tls.Config // nil: STARTTLS not offered
	mails chan smtpMail
	wg    sync.WaitGroup
}

func startTestSMTP(t *testing.T, withTLS bool) (*testSMTP, *x509.CertPool) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &testSMTP{ln: ln, mails: make(chan smtpMail, 16)}
	var pool *x509.CertPool
	if withTLS {
		s.tls, pool = selfSignedTLS(t)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.session(c) }()
		}
	}()
	t.Cleanup(func() { _ = ln.Close(); s.wg.Wait() })
	return s, pool
}

func (s *testSMTP) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r, w := bufio.NewReader(c), c
	reply := func(line string) { _, _ = w.Write([]byte(line + "\r\n")) }
	var m smtpMail
	reply("220 test ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch {
		case verb == "EHLO":
			if s.tls != nil && !m.TLS {
				reply("250-test\r\n250-STARTTLS\r\n250 AUTH PLAIN")
			} else {
				reply("250-test\r\n250 AUTH PLAIN")
			}
		case verb == "STARTTLS" && s.tls != nil:
			reply("220 go ahead")
			tc := tls.Server(c, s.tls)
			if tc.Handshake() != nil {
				return
			}
			c, r, w, m.TLS = tc, bufio.NewReader(tc), tc, true
		case verb == "AUTH":
			m.Auth = line
			reply("235 ok")
		case strings.HasPrefix(strings.ToUpper(line), "MAIL FROM:"):
			m.From = strings.Trim(line[len("MAIL FROM:"):], "<> ")
			reply("250 ok")
		case strings.HasPrefix(strings.ToUpper(line), "RCPT TO:"):
			m.To = strings.Trim(line[len("RCPT TO:"):], "<> ")
			reply("250 ok")
		case verb == "DATA":
			reply("354 end with .")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			m.Data = b.String()
			s.mails <- m
			reply("250 queued")
		case verb == "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func (s *testSMTP) next(t *testing.T) smtpMail {
	t.Helper()
	select {
	case m := <-s.mails:
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no mail reached the test SMTP server")
		return smtpMail{}
	}
}

// selfSignedTLS is a server certificate for 127.0.0.1 and the pool that trusts it.
func selfSignedTLS(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test smtp"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

var linkRe = regexp.MustCompile(`https?://[^\s]+`)

func TestSMTPMailer_UsesSTARTTLSWhenOffered(t *testing.T) {
	srv, pool := startTestSMTP(t, true)
	m, err := newSMTPMailer(smtpConfig{Addr: srv.ln.Addr().String(), From: "no-reply@example.com",
		Username: "mailer", Password: "s3cret", TLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, m.Send(ctx, Message{To: "alice@example.com", Subject: "Hi", Body: "line 1\nline 2\n"}))
	got := srv.next(t)
	assert.True(t, got.TLS, "the session was upgraded with STARTTLS")
	assert.Equal(t, "alice@example.com", got.To)
	assert.Equal(t, "no-reply@example.com", got.From)
	assert.Contains(t, got.Auth, "AUTH PLAIN", "credentials were sent, inside TLS")
	assert.Contains(t, got.Data, "To: alice@example.com\r\n")
	assert.Contains(t, got.Data, "Subject: Hi\r\n")
	assert.Contains(t, got.Data, "\r\n\r\nline 1\r\nline 2\r\n")
}

func TestSMTPMailer_RefusesCleartextUnlessInsecure(t *testing.T) {
	srv, _ := startTestSMTP(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msg := Message{To: "alice@example.com", Subject: "Hi", Body: "x"}

	m, err := newSMTPMailer(smtpConfig{Addr: srv.ln.Addr().String(), From: "no-reply@example.com"}, nil)
	require.NoError(t, err)
	err = m.Send(ctx, msg)
	require.ErrorIs(t, err, errNoSTARTTLS)
	assert.Contains(t, err.Error(), "SMTP_INSECURE=true")

	m.cfg.Insecure = true
	require.NoError(t, m.Send(ctx, msg))
	got := srv.next(t)
	assert.False(t, got.TLS)
	assert.Equal(t, "alice@example.com", got.To)
}

func TestSMTPMailer_GivesUpAtTheDeadline(t *testing.T) {
	// A server that accepts and then says nothing: Send must return when its context ends.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			defer c.Close()
			time.Sleep(5 * time.Second)
		}
	}()
	m, err := newSMTPMailer(smtpConfig{Addr: ln.Addr().String(), From: "no-reply@example.com"}, nil)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	began := time.Now()
	assert.Error(t, m.Send(ctx, Message{To: "a@example.com"}))
	assert.Less(t, time.Since(began), 3*time.Second)
}

// TestForgotPassword_SMTPLinkUsesPublicBaseURLWhateverTheHost is the attack row "reset link poisoning": the
// request names an attacker's host in Host and X-Forwarded-Host; the mail, sent over SMTP to the test server,
// goes to the user and its link points at PUBLIC_BASE_URL.
func TestForgotPassword_SMTPLinkUsesPublicBaseURLWhateverTheHost(t *testing.T) {
	srv, _ := startTestSMTP(t, false)
	cfg := testConfig(t)
	cfg.Account.PublicBaseURL = "https://app.example.com"
	cfg.Account.SMTP = &smtpConfig{Addr: srv.ln.Addr().String(), From: "no-reply@example.com", Insecure: true}
	ts := startServer(t, cfg)
	require.Equal(t, 201, ts.register(t, "victim@example.com", classicPassword).status)

	res := ts.postJSONHost(t, "/forgot-password", map[string]string{"email": "victim@example.com"}, "evil.example", "evil.example")
	require.Equal(t, 202, res.status, "%s", res.body)
	got := srv.next(t)
	assert.Equal(t, "victim@example.com", got.To)
	assert.Equal(t, "no-reply@example.com", got.From)
	assert.NotContains(t, got.Data, "evil.example")
	link := linkRe.FindString(got.Data)
	require.NotEmpty(t, link, "mail: %s", got.Data)
	u, err := url.Parse(link)
	require.NoError(t, err)
	assert.Equal(t, "app.example.com", u.Host)
	assert.Equal(t, "https", u.Scheme)
	assert.Equal(t, "/reset-password", u.Path)
	assert.Regexp(t, `^token=[A-Za-z0-9_-]{43}$`, u.Fragment)
	assert.Contains(t, ts.logs.String(), "account mails go through SMTP")
}
