package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// smtpConfig is the mail server of SMTP_ADDR and friends.
type smtpConfig struct {
	Addr     string // host:port
	From     string // envelope and header sender, a bare address
	Username string // empty: no AUTH
	Password string
	// Insecure allows sending without STARTTLS when the server does not offer it (a relay on localhost).
	Insecure bool
	// TLS overrides the STARTTLS client configuration; tests use it to trust their own certificate.
	TLS *tls.Config
}

// smtpMailer sends each Message in its own SMTP session: STARTTLS whenever the server offers it, and required
// unless Insecure; AUTH PLAIN when a username is set (net/smtp refuses it without TLS except on localhost).
type smtpMailer struct {
	cfg  smtpConfig
	host string
	now  func() time.Time
}

func newSMTPMailer(cfg smtpConfig, now func() time.Time) (*smtpMailer, error) {
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("SMTP_ADDR=%q is not host:port, like smtp.example.com:587", cfg.Addr)
	}
	if now == nil {
		now = time.Now
	}
	return &smtpMailer{cfg: cfg, host: host, now: now}, nil
}

var errNoSTARTTLS = errors.New("the SMTP server does not offer STARTTLS")

// Send delivers m, within ctx's deadline for the whole session.
func (s *smtpMailer) Send(ctx context.Context, m Message) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("connecting to SMTP_ADDR %s: %w", s.cfg.Addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, s.host)
	if err != nil {
		return fmt.Errorf("SMTP greeting from %s: %w", s.cfg.Addr, err)
	}
	defer c.Close()
	if err := c.Hello("localhost"); err != nil {
		return fmt.Errorf("SMTP EHLO to %s: %w", s.cfg.Addr, err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		tc := s.cfg.TLS
		if tc == nil {
			tc = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
		}
		if err := c.StartTLS(tc); err != nil {
			return fmt.Errorf("SMTP STARTTLS with %s: %w", s.cfg.Addr, err)
		}
	} else if !s.cfg.Insecure {
		return fmt.Errorf("%w (%s): mail would cross the network in clear; use a server that does, or set SMTP_INSECURE=true for a relay on this host", errNoSTARTTLS, s.cfg.Addr)
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.host)); err != nil {
			return fmt.Errorf("SMTP AUTH as %s at %s (check SMTP_USERNAME and SMTP_PASSWORD): %w", s.cfg.Username, s.cfg.Addr, err)
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return fmt.Errorf("SMTP MAIL FROM:<%s> at %s (check SMTP_FROM): %w", s.cfg.From, s.cfg.Addr, err)
	}
	if err := c.Rcpt(m.To); err != nil {
		return fmt.Errorf("SMTP RCPT TO refused by %s: %w", s.cfg.Addr, err)
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("SMTP DATA at %s: %w", s.cfg.Addr, err)
	}
	if _, err := w.Write(s.render(m)); err != nil {
		return fmt.Errorf("SMTP writing the message to %s: %w", s.cfg.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("SMTP message refused by %s: %w", s.cfg.Addr, err)
	}
	return c.Quit()
}

// render is m as an RFC 5322 message. Addresses come from normalizeEmail and the subject is ours, so no header
// carries a CR or LF of the client's.
func (s *smtpMailer) render(m Message) []byte {
	var id [12]byte
	_, _ = rand.Read(id[:])
	domain := s.cfg.From[strings.LastIndexByte(s.cfg.From, '@')+1:]
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n",
		s.cfg.From, m.To, m.Subject, s.now().Format(time.RFC1123Z), hex.EncodeToString(id[:]), domain)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n"))
	return []byte(b.String())
}
