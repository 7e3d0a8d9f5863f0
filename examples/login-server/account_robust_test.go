package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Users ask for reset and verify mails all at once, and every mailed token is presented by two racing clients,
// while a second connection pool on the same file (another process) writes account tokens and consumes
// unknown ones. No answer is a 500; each token is used exactly once; afterwards every user logs in with the
// new password and is verified.
func TestRobust_AccountTokensUnderRacesAndASecondWriter(t *testing.T) {
	ts, m := startAccountServer(t, func(c *config) {
		c.Account.Limits = accountLimits{IPPerHour: 1 << 20, EmailPerHour: 1 << 20}
		c.HashConcurrency = 4
	})
	const users = 6
	email := func(i int) string { return fmt.Sprintf("u%d@example.com", i) }
	for i := range users {
		require.Equal(t, http.StatusCreated, ts.register(t, email(i), classicPassword).status)
	}

	other, err := openStore(t.Context(), ts.cfg.DatabasePath, nil)
	require.NoError(t, err)
	defer other.Close()
	stop, writerDone := make(chan struct{}), make(chan struct{})
	var writerErrs []error
	go func() {
		defer close(writerDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			u, err := other.userByEmail(t.Context(), email(i%users))
			if err == nil {
				err = other.addAccountToken(t.Context(), u, purposeVerify, hashAccountToken(newAccountToken()), time.Now().Add(time.Hour).UnixNano())
			}
			if err == nil {
				if _, err = other.resetPassword(t.Context(), hashAccountToken(newAccountToken()), "x"); errors.Is(err, errAccountTokenInvalid) {
					err = nil
				}
			}
			if err != nil {
				writerErrs = append(writerErrs, err)
			}
			time.Sleep(time.Millisecond)
		}
	}()

	var wg sync.WaitGroup
	var fails atomic.Int32
	for i := range users {
		for _, route := range []string{"/forgot-password", "/request-verify-token"} {
			wg.Go(func() {
				r := robDo(ts.srv.Client(), "POST", ts.URL+route, "application/json", []byte(`{"email":"`+email(i)+`"}`), nil)
				if r.status != http.StatusAccepted {
					fails.Add(1)
					t.Errorf("%s %s: %s", route, email(i), r)
				}
			})
		}
	}
	wg.Wait()
	require.Zero(t, fails.Load())

	type use struct{ route, token, to string }
	var uses []use
	for range 2 * users {
		msg := m.next(t)
		route := "/verify"
		if msg.Subject == "Reset your password" {
			route = "/reset-password"
		}
		uses = append(uses, use{route, tokenOfLink(t, msg.Link), msg.To})
	}
	statuses := make([][2]int, len(uses))
	for i, u := range uses {
		for j := range 2 {
			wg.Go(func() {
				body := `{"token":"` + u.token + `"}`
				if u.route == "/reset-password" {
					body = `{"token":"` + u.token + `","password":"` + newPassword + `"}`
				}
				statuses[i][j] = robDo(ts.srv.Client(), "POST", ts.URL+u.route, "application/json", []byte(body), nil).status
			})
		}
	}
	wg.Wait()
	close(stop)
	<-writerDone
	assert.Empty(t, writerErrs)
	for i, u := range uses {
		assert.ElementsMatch(t, []int{http.StatusOK, http.StatusBadRequest}, statuses[i][:], "%s for %s: one use wins", u.route, u.to)
	}
	for i := range users {
		access := ts.tokenOf(t, email(i), newPassword)
		assert.Equal(t, true, claimsOf(t, access)["email_verified"], email(i))
	}
	assert.NotContains(t, ts.logs.String(), `"level":"ERROR"`)
}

// robAccountSIGKILL is a subtest of TestRobust_Binary: the binary, killed with SIGKILL while password resets are
// in flight, keeps every reset it acknowledged, and for the others the password changed exactly when the token
// was used (one transaction): after the restart a used token is refused and an unused one still works.
func robAccountSIGKILL(t *testing.T, bin string, env []string, client *http.Client) {
	db := filepath.Join(t.TempDir(), "auth.db")
	env = append(env, "DATABASE_URL="+db, "TRUSTED_PROXIES=127.0.0.1")
	srv := robStart(t, bin, env)
	var ipN atomic.Int32
	ip := func() http.Header { // a client IP per request, so that no per-IP limit is in the way
		n := ipN.Add(1)
		return http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.%d.%d", n/250, n%250+1)}}
	}
	post := func(s *robServer, path, body string) robResult {
		return robDo(client, http.MethodPost, s.url+path, "application/json", []byte(body), ip())
	}
	const users, killAfter = 12, 3
	email := func(i int) string { return fmt.Sprintf("k%02d@example.com", i) }
	for i := range users {
		require.Equal(t, http.StatusCreated, post(srv, "/register", string(robCredentials(email(i), classicPassword))).status)
		require.Equal(t, http.StatusAccepted, post(srv, "/forgot-password", `{"email":"`+email(i)+`"}`).status)
	}
	tokens := map[string]string{}
	require.Eventually(t, func() bool {
		for line := range strings.Lines(srv.logs.String()) {
			var rec struct{ To, Link string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Link != "" {
				tokens[rec.To] = tokenOfLink(t, rec.Link)
			}
		}
		return len(tokens) == users
	}, 30*time.Second, 10*time.Millisecond, "the log mailer logs every link; logs: %s", srv.logs)

	results := make([]robResult, users)
	var ok atomic.Int32
	enough := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() {
			results[i] = post(srv, "/reset-password", `{"token":"`+tokens[email(i)]+`","password":"`+newPassword+`"}`)
			if results[i].status == http.StatusOK && ok.Add(1) == killAfter {
				close(enough)
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatalf("not %d resets answered within a minute; logs: %s", killAfter, srv.logs)
	}
	err := srv.stop(t, syscall.SIGKILL)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	wg.Wait()
	robIntegrity(t, db)

	srv = robStart(t, bin, env)
	acked := 0
	for i, r := range results {
		e := email(i)
		newWorks := post(srv, "/login", string(robCredentials(e, newPassword))).status == http.StatusOK
		oldWorks := post(srv, "/login", string(robCredentials(e, classicPassword))).status == http.StatusOK
		retry := post(srv, "/reset-password", `{"token":"`+tokens[e]+`","password":"Third_pass9!"}`).status
		switch {
		case r.err == nil:
			require.Equal(t, http.StatusOK, r.status, "%s: %s", e, r)
			acked++
			assert.True(t, newWorks && !oldWorks, "%s: an acknowledged reset is kept", e)
			assert.Equal(t, http.StatusBadRequest, retry, "%s: its token stays used", e)
		case newWorks:
			assert.False(t, oldWorks, e)
			assert.Equal(t, http.StatusBadRequest, retry, "%s: the password changed, so the token is used", e)
		default:
			assert.True(t, oldWorks, "%s: neither password works", e)
			assert.Equal(t, http.StatusOK, retry, "%s: the password did not change, so the token is unused", e)
		}
	}
	t.Logf("at the kill %d of %d resets had answered 200", acked, users)
	require.NoError(t, srv.stop(t, syscall.SIGTERM), "a clean shutdown; logs: %s", srv.logs)
	assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`)
	robIntegrity(t, db)
}
