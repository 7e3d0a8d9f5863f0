package main

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/jwtauth-go/jwtauth"
)

// robResult is one answer, or the transport error that stood in for it.
type robResult struct {
	status int
	body   []byte
	err    error
}

func (r robResult) String() string {
	if r.err != nil {
		return "no answer: " + r.err.Error()
	}
	return fmt.Sprintf("%d %s", r.status, bytes.TrimSpace(r.body))
}

// robDo sends one request; it is safe in any goroutine (no require). A 503 "try again" from an overloaded
// hasher is retried, as the answer asks: on a loaded machine it is the server working as designed.
func robDo(client *http.Client, method, url, contentType string, body []byte, header http.Header) robResult {
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			return robResult{err: err}
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		res, err := client.Do(req)
		if err != nil {
			return robResult{err: err}
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return robResult{err: err}
		}
		if res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") != "" && attempt < 3 {
			continue
		}
		return robResult{status: res.StatusCode, body: b}
	}
}

func robCredentials(email, password string) []byte {
	b, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return b
}

func robRegister(client *http.Client, base, email, password string) robResult {
	return robDo(client, http.MethodPost, base+"/register", "application/json", robCredentials(email, password), nil)
}

func robLogin(client *http.Client, base, email, password string) robResult {
	return robDo(client, http.MethodPost, base+"/login", "application/json", robCredentials(email, password), nil)
}

func robRefresh(client *http.Client, base, refreshToken string) robResult {
	b, _ := json.Marshal(map[string]string{"refresh_token": refreshToken})
	return robDo(client, http.MethodPost, base+"/token/refresh", "application/json", b, nil)
}

func robLogout(client *http.Client, base, token string) robResult {
	return robDo(client, http.MethodPost, base+"/logout", "", nil, http.Header{"Authorization": {"Bearer " + token}})
}

func robMe(client *http.Client, base, token string) robResult {
	return robDo(client, http.MethodGet, base+"/users/me", "", nil, http.Header{"Authorization": {"Bearer " + token}})
}

// robField reads one string field of a JSON answer ("" when absent).
func robField(r robResult, name string) string {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	s, _ := m[name].(string)
	return s
}

// robArgon2id is the shape of every stored hash: the library's PHC string with its current parameters.
var robArgon2id = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

// Forty clients at once register new users, race for one email in two cases, log in with right and wrong
// passwords and read /users/me. No answer may be a 500, each must be the one the contract gives, and
// afterwards every registered user can log in and the user count adds up.
func TestRobust_ConcurrentRegisterLoginAndMe(t *testing.T) {
	cfg := testConfig(t)
	// The limits are not under test here: forty clients share one IP, and wrong passwords are deliberate.
	cfg.Limits = limits{IPPerMinute: 1 << 20, IPBurst: 1 << 20, EmailFailures: 1000,
		RegisterIPPerHour: 1 << 20, RegisterIPBurst: 1 << 20}
	// Nor is capacity: four hashing slots leave registrations two, as GOMAXPROCS slots did before registrations
	// got half, so that fourteen of them hash well within HashWait even under -race on a busy machine.
	cfg.HashConcurrency = 4
	ts := startServer(t, cfg)
	client := ts.srv.Client()

	const seeds = 4
	seedEmail := func(i int) string { return fmt.Sprintf("seed%d@example.com", i) }
	seedTokens := make([]string, seeds)
	for i := range seeds {
		require.Equal(t, http.StatusCreated, ts.register(t, seedEmail(i), classicPassword).status)
		seedTokens[i] = ts.tokenOf(t, seedEmail(i), classicPassword)
	}

	type op struct {
		name    string
		allowed []int
		run     func() (robResult, error) // the error is a wrong answer beyond its status
	}
	meOf := func(token, email string) func() (robResult, error) {
		return func() (robResult, error) {
			r := robMe(client, ts.URL, token)
			if r.status == http.StatusOK && robField(r, "email") != email {
				return r, fmt.Errorf("/users/me answered for %q, not %q", robField(r, "email"), email)
			}
			return r, nil
		}
	}
	var ops []op
	const fresh = 12
	newEmail := func(i int) string { return fmt.Sprintf("new%02d@example.com", i) }
	for i := range fresh {
		ops = append(ops, op{"register " + newEmail(i), []int{http.StatusCreated}, func() (robResult, error) {
			r := robRegister(client, ts.URL, newEmail(i), classicPassword)
			if r.status == http.StatusCreated && robField(r, "email") != newEmail(i) {
				return r, errors.New("the created user has another email")
			}
			return r, nil
		}})
	}
	for _, email := range []string{"Race@Example.com", "race@example.COM"} {
		ops = append(ops, op{"register " + email, []int{http.StatusCreated, http.StatusConflict}, func() (robResult, error) {
			return robRegister(client, ts.URL, email, classicPassword), nil
		}})
	}
	for i := range 2 {
		ops = append(ops, op{"register existing " + seedEmail(i), []int{http.StatusConflict}, func() (robResult, error) {
			return robRegister(client, ts.URL, strings.ToUpper(seedEmail(i)), classicPassword), nil
		}})
	}
	for i := range 8 {
		email := seedEmail(i % seeds)
		ops = append(ops, op{"login " + email, []int{http.StatusOK}, func() (robResult, error) {
			r := robLogin(client, ts.URL, email, classicPassword)
			if r.status != http.StatusOK {
				return r, nil
			}
			// The fresh token works at once and names its user.
			if me, err := meOf(robField(r, "access_token"), email)(); err != nil || me.status != http.StatusOK {
				return me, fmt.Errorf("the new token does not work: %v", err)
			}
			return r, nil
		}})
	}
	for i := range 6 {
		email := seedEmail(i % seeds)
		ops = append(ops, op{"wrong password " + email, []int{http.StatusUnauthorized}, func() (robResult, error) {
			r := robLogin(client, ts.URL, email, "Wr0ng-Passw0rd!")
			if r.status == http.StatusUnauthorized && robField(r, "error") != "invalid_credentials" {
				return r, errors.New("not invalid_credentials")
			}
			return r, nil
		}})
	}
	for i := range 2 {
		ops = append(ops, op{"unknown user", []int{http.StatusUnauthorized}, func() (robResult, error) {
			return robLogin(client, ts.URL, fmt.Sprintf("nobody%d@example.com", i), classicPassword), nil
		}})
	}
	// Sessions (refresh.go): rotation chains, a replay that revokes its family, logouts.
	for i := range 3 {
		p := ts.loginPair(t, seedEmail(i))
		ops = append(ops, op{"refresh chain " + seedEmail(i), []int{http.StatusOK}, func() (robResult, error) {
			rt := p.refresh
			var r robResult
			for range 3 {
				if r = robRefresh(client, ts.URL, rt); r.status != http.StatusOK {
					return r, nil
				}
				rt = robField(r, "refresh_token")
				if me, err := meOf(robField(r, "access_token"), seedEmail(i))(); err != nil || me.status != http.StatusOK {
					return me, fmt.Errorf("the refreshed token does not work: %v", err)
				}
			}
			return r, nil
		}})
	}
	replayed := ts.loginPair(t, seedEmail(3))
	rotated := ts.refreshPair(t, replayed.refresh)
	ops = append(ops, op{"replay a rotated refresh token", []int{http.StatusBadRequest}, func() (robResult, error) {
		r := robRefresh(client, ts.URL, replayed.refresh)
		if r.status == http.StatusBadRequest && robField(r, "error") != "invalid_grant" {
			return r, errors.New("not invalid_grant")
		}
		return r, nil
	}})
	loggedOut := make([]pair, 2)
	for i := range loggedOut {
		loggedOut[i] = ts.loginPair(t, seedEmail(i))
		ops = append(ops, op{"logout " + seedEmail(i), []int{http.StatusUnauthorized}, func() (robResult, error) {
			if r := robLogout(client, ts.URL, loggedOut[i].access); r.status != http.StatusNoContent {
				return r, fmt.Errorf("logout answered %d", r.status)
			}
			return robMe(client, ts.URL, loggedOut[i].access), nil // refused at once
		}})
	}
	for len(ops) < 40 {
		i := len(ops) % seeds
		ops = append(ops, op{"me " + seedEmail(i), []int{http.StatusOK}, func() (robResult, error) {
			for range 4 {
				if r, err := meOf(seedTokens[i], seedEmail(i))(); err != nil || r.status != http.StatusOK {
					return r, err
				}
			}
			return meOf(seedTokens[i], seedEmail(i))()
		}})
	}

	results := make([]robResult, len(ops))
	errs := make([]error, len(ops))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, o := range ops {
		wg.Go(func() {
			<-start
			results[i], errs[i] = o.run()
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	t.Logf("%d concurrent operations in %v", len(ops), time.Since(began).Round(time.Millisecond))

	raceWins := 0
	for i, o := range ops {
		r := results[i]
		assert.NotEqual(t, http.StatusInternalServerError, r.status, "%s: %s", o.name, r)
		assert.Contains(t, o.allowed, r.status, "%s: %s", o.name, r)
		assert.NoError(t, errs[i], "%s: %s", o.name, r)
		if strings.HasPrefix(o.name, "register Race@") || strings.HasPrefix(o.name, "register race@") {
			if r.status == http.StatusCreated {
				raceWins++
			}
		}
	}
	assert.Equal(t, 1, raceWins, "exactly one of the two registrations of one email in two cases wins")

	// Every user registered above can log in, and there are exactly these users.
	for i := range fresh {
		r := robLogin(client, ts.URL, newEmail(i), classicPassword)
		assert.Equal(t, http.StatusOK, r.status, "login %s after the storm: %s", newEmail(i), r)
	}
	r := robLogin(client, ts.URL, "RACE@example.com", classicPassword)
	assert.Equal(t, http.StatusOK, r.status, "the winner of the race logs in: %s", r)
	assert.Equal(t, seeds+fresh+1, ts.countUsers(t))
	// The replay revoked its whole family; logged-out sessions refresh no more; the seed tokens still work.
	assert.Equal(t, http.StatusBadRequest, robRefresh(client, ts.URL, rotated.refresh).status)
	assert.Equal(t, http.StatusUnauthorized, robMe(client, ts.URL, rotated.access).status)
	for _, p := range loggedOut {
		assert.Equal(t, http.StatusBadRequest, robRefresh(client, ts.URL, p.refresh).status)
	}
	assert.Equal(t, http.StatusOK, robMe(client, ts.URL, seedTokens[0]).status)
	assert.NotContains(t, ts.logs.String(), `"level":"ERROR"`)
}

// A second writer on the same database file (another connection pool, as another process would have, and the
// create-superuser code path) writes while the server registers users. SQLite's busy handling must absorb the
// contention: no request gets a 500, no write of either side fails, and every 201 is in the database afterwards.
func TestRobust_SecondWriterOnTheSameDatabase(t *testing.T) {
	cfg := testConfig(t)
	ts := startServer(t, cfg)
	client := ts.srv.Client()
	ctx := t.Context()

	other, err := openStore(ctx, cfg.DatabasePath, nil)
	require.NoError(t, err)
	defer other.Close()
	hash, err := (&jwtauth.PasswordHasher{}).Hash(ctx, classicPassword)
	require.NoError(t, err)

	// The other writer: transactions of every kind the store has, in quick succession, until the registrations end.
	stop := make(chan struct{})
	var writes atomic.Int64
	var writerErrs, writerErrs2 []error
	var bulk []string
	admins := map[string]bool{}
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		var lastID string
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var err error
			switch i % 5 {
			case 0:
				email := fmt.Sprintf("bulk%05d@example.com", i)
				var u user
				if u, err = other.createUser(ctx, email, hash); err == nil {
					bulk, lastID = append(bulk, email), u.ID
				}
			case 1:
				email := fmt.Sprintf("admin%d@example.com", i%5)
				if _, _, err = other.upsertSuperuser(ctx, email, hash); err == nil {
					admins[email] = true
				}
			case 2:
				err = other.setPasswordHash(ctx, lastID, hash)
			case 3: // a session, rotated once: the tables of refresh.go under the same contention
				var sess session
				if sess, err = other.createSession(ctx, lastID, refreshConfig{}.withDefaults()); err == nil {
					_, err = other.rotateRefresh(ctx, hashRefreshToken(sess.token), refreshConfig{}.withDefaults())
				}
			case 4:
				_, err = other.revokeUserSessions(ctx, lastID, "", revokeAdmin)
			}
			if err != nil {
				writerErrs = append(writerErrs, fmt.Errorf("write %d: %w", i, err))
			}
			writes.Add(1)
			// A breath between transactions. SQLite's lock is not a fair queue: a writer that commits back to back
			// starves the others' busy handlers (a server write then waits seconds, up to the 5 s busy_timeout).
			time.Sleep(time.Millisecond)
		}
	}()

	// A slow writer on a third pool: it holds the write lock for a while, as a batch job or a migration would,
	// then lets go briefly. Writers that meet the lock wait for it (busy_timeout is 5 s) instead of failing.
	slow, err := openStore(ctx, cfg.DatabasePath, nil)
	require.NoError(t, err)
	defer slow.Close()
	var held atomic.Int64
	slowDone := make(chan struct{})
	go func() {
		defer close(slowDone)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := slow.write(ctx, func(tx *dbTx) error {
				u := user{ID: newUserID(), Email: fmt.Sprintf("slow%03d@example.com", i), IsActive: true,
					createdAt: time.Now().UTC(), passwordHash: hash}
				if err := insertUser(ctx, tx, u); err != nil {
					return err
				}
				time.Sleep(300 * time.Millisecond) // holding the lock: the point of this writer, not a wait
				return nil
			})
			if err != nil {
				writerErrs2 = append(writerErrs2, fmt.Errorf("slow write %d: %w", i, err))
				continue
			}
			held.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// The create-superuser command, in-process: it opens the database once more.
	const commands = 2
	codes := make([]int, commands)
	outs := make([]string, commands)
	var cmds sync.WaitGroup
	for i := range commands {
		cmds.Go(func() {
			env := map[string]string{"DATABASE_URL": cfg.DatabasePath, "SUPERUSER_PASSWORD": classicPassword}
			var stdout, stderr bytes.Buffer
			codes[i] = run(ctx, []string{"create-superuser", "-email", fmt.Sprintf("root%d@example.com", i)},
				func(k string) string { return env[k] }, strings.NewReader(""), &stdout, &stderr)
			outs[i] = stderr.String()
		})
	}

	const n = 16
	results := make([]robResult, n)
	var slowest atomic.Int64
	var wg sync.WaitGroup
	// A session of the server's, refreshed while the other pools write.
	require.Equal(t, http.StatusCreated, ts.register(t, "sess@example.com", classicPassword).status)
	sess := ts.loginPair(t, "sess@example.com")
	refreshes := make([]robResult, 6)
	wg.Go(func() {
		rt := sess.refresh
		for i := range refreshes {
			refreshes[i] = robRefresh(client, ts.URL, rt)
			rt = robField(refreshes[i], "refresh_token")
		}
	})
	writesBefore := writes.Load()
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				began := time.Now()
				results[i] = robRegister(client, ts.URL, fmt.Sprintf("user%02d@example.com", i), classicPassword)
				robSlowest(&slowest, time.Since(began))
			}
		})
	}
	wg.Wait()
	writesDuring := writes.Load() - writesBefore
	cmds.Wait()
	close(stop)
	<-writerDone
	<-slowDone
	t.Logf("the other pool wrote %d transactions while %d registrations ran (%d in all); the slow writer held the lock "+
		"%d times; slowest registration %v", writesDuring, n, writes.Load(), held.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	require.Positive(t, writesDuring, "the writers overlapped")
	require.Positive(t, held.Load(), "the slow writer ran")

	for i, r := range results {
		assert.Equal(t, http.StatusCreated, r.status, "register user%02d: %s", i, r)
	}
	assert.Empty(t, writerErrs, "the other writer's transactions never fail (busy_timeout)")
	assert.Empty(t, writerErrs2, "the slow writer's transactions never fail (busy_timeout)")
	for i := range commands {
		assert.Equal(t, 0, codes[i], "create-superuser %d: %s", i, outs[i])
	}
	assert.NotContains(t, ts.logs.String(), `"level":"ERROR"`)

	// Every acknowledged write is there, complete.
	for i, r := range results {
		if r.status != http.StatusCreated {
			continue
		}
		u, err := ts.app.store.userByEmail(ctx, fmt.Sprintf("user%02d@example.com", i))
		if assert.NoError(t, err, "user%02d answered 201", i) {
			assert.Equal(t, robField(r, "id"), u.ID)
			assert.Regexp(t, robArgon2id, u.passwordHash)
		}
	}
	for _, email := range bulk {
		_, err := ts.app.store.userByEmail(ctx, email)
		assert.NoError(t, err, email)
	}
	for i := range commands {
		u, err := ts.app.store.userByEmail(ctx, fmt.Sprintf("root%d@example.com", i))
		if assert.NoError(t, err) {
			assert.True(t, u.IsSuperuser)
		}
	}
	for i, r := range refreshes {
		assert.Equal(t, http.StatusOK, r.status, "refresh %d: %s", i, r)
	}
	robSessionIntegrity(t, cfg.DatabasePath)
	assert.Equal(t, 1+n+len(bulk)+commands+len(admins)+int(held.Load()), ts.countUsers(t))
	for _, i := range []int{0, n - 1} { // a sample: each login is a full argon2id hash
		assert.Equal(t, http.StatusOK, robLogin(client, ts.URL, fmt.Sprintf("user%02d@example.com", i), classicPassword).status)
	}
}

// robServer is the real binary, running.
type robServer struct {
	cmd    *exec.Cmd
	url    string
	logs   *syncBuffer
	exited chan error
}

// robSlowest raises m to d if d is larger.
func robSlowest(m *atomic.Int64, d time.Duration) {
	for {
		cur := m.Load()
		if int64(d) <= cur || m.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// robStart runs bin with env and waits for its "listening" log line (ADDR=127.0.0.1:0 picks a free port).
func robStart(t *testing.T, bin string, env []string) *robServer {
	t.Helper()
	s := &robServer{logs: &syncBuffer{}, exited: make(chan error, 1)}
	s.cmd = exec.Command(bin)
	s.cmd.Env, s.cmd.Stderr = env, s.logs
	require.NoError(t, s.cmd.Start())
	go func() { s.exited <- s.cmd.Wait() }()
	t.Cleanup(func() { _ = s.cmd.Process.Kill() })
	require.Eventually(t, func() bool {
		for line := range strings.Lines(s.logs.String()) {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
				s.url = "http://" + rec.Addr
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond, "the server logs its address; logs: %s", s.logs)
	return s
}

// stop sends sig and waits for the process to end.
func (s *robServer) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()
	require.NoError(t, s.cmd.Process.Signal(sig))
	select {
	case err := <-s.exited:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the server did not end after %v; logs: %s", sig, s.logs)
		return nil
	}
}

// robIntegrity runs PRAGMA integrity_check on the database file through its own connection.
func robIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	var result []string
	rows, err := db.Query(`PRAGMA integrity_check`)
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		result = append(result, s)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"ok"}, result, "integrity_check of %s", path)
}

// robSessionIntegrity checks the session tables: every refresh token belongs to a session, and no session
// has more than one unspent refresh token (a rotation spends one and adds one in the same transaction).
func robSessionIntegrity(t *testing.T, path string) {
	t.Helper()
	st, err := openStore(t.Context(), path, nil)
	require.NoError(t, err)
	defer st.Close()
	db := st.db
	var orphans, forked int
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM refresh_tokens t LEFT JOIN refresh_families f ON f.id = t.family_id
		WHERE f.id IS NULL`).Scan(&orphans))
	require.NoError(t, db.QueryRow(`SELECT COUNT(*) FROM (SELECT family_id FROM refresh_tokens WHERE used_at IS NULL
		GROUP BY family_id HAVING COUNT(*) > 1) AS forked`).Scan(&forked))
	assert.Zero(t, orphans, "refresh tokens without a session")
	assert.Zero(t, forked, "sessions with two live refresh tokens")
}

// robRows reads every user row straight from the file.
func robRows(t *testing.T, path string) map[string]user {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer db.Close()
	rows, err := db.Query(`SELECT ` + userColumns + ` FROM users`)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]user{}
	for rows.Next() {
		u, err := scanUser(rows)
		require.NoError(t, err)
		out[u.Email] = u
	}
	require.NoError(t, rows.Err())
	return out
}

// The real binary, as operators run it: killed with SIGKILL while registrations are in flight it loses no
// user it acknowledged and leaves no corrupt or half-written row; a second process (create-superuser) writing
// to the same file while the server registers users causes no 500 and loses nothing.
func TestRobust_Binary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary; skipped under -short")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build the binary")
	}
	bin := filepath.Join(t.TempDir(), "login-server")
	build := exec.CommandContext(t.Context(), goTool, "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)

	key, err := jwtauth.GenerateSigningKey("ES256")
	require.NoError(t, err)
	jwks, err := jwtauth.PrivateJWKS(key)
	require.NoError(t, err)
	envFor := func(db string) []string {
		return []string{"ADDR=127.0.0.1:0", "DATABASE_URL=" + db, "ES256_KEY=" + base64.StdEncoding.EncodeToString(jwks),
			"JWT_ISSUER=http://login.test", "JWT_AUDIENCE=login-server"}
	}
	client := &http.Client{Timeout: 60 * time.Second}

	t.Run("SIGKILL during registrations loses no acknowledged user", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "auth.db")
		// Logins come from many client IPs (X-Forwarded-For from a trusted loopback proxy), so that the per-IP
		// login limit (30 a minute) does not cap how many acknowledged users are checked.
		env := append(envFor(db), "TRUSTED_PROXIES=127.0.0.1")
		srv := robStart(t, bin, env)
		var acked, unanswered []string
		for i := range 5 {
			email := fmt.Sprintf("early%d@example.com", i)
			r := robRegister(client, srv.url, email, classicPassword)
			require.Equal(t, http.StatusCreated, r.status, "%s", r)
			acked = append(acked, email)
		}
		// A session per early user, refreshed over and over during each round: the kill also lands in rotations.
		type robSession struct {
			refresh string // the last refresh token the server handed out and we received
			lost    bool   // a later refresh went unanswered: it may have committed, spending refresh
			ip      http.Header
		}
		sessions := make([]*robSession, len(acked))
		for i, email := range acked {
			ip := http.Header{"X-Forwarded-For": {fmt.Sprintf("198.51.100.%d", i+1)}}
			r := robDo(client, http.MethodPost, srv.url+"/login", "application/json", robCredentials(email, classicPassword), ip)
			require.Equal(t, http.StatusOK, r.status, "%s", r)
			sessions[i] = &robSession{refresh: robField(r, "refresh_token"), ip: ip}
		}
		refreshBody := func(rt string) []byte { return []byte(`{"refresh_token":"` + rt + `"}`) }

		// Rounds of many registrations at once, killed once a few of them have answered 201: the others are then
		// queued for the hasher, hashing, or writing.
		const rounds, inFlight, killAfter = 3, 16, 4
		for round := range rounds {
			if round > 0 {
				srv = robStart(t, bin, env)
			}
			results := make([]robResult, inFlight)
			var created atomic.Int64
			enough := make(chan struct{})
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range inFlight {
				wg.Go(func() {
					<-start
					results[i] = robRegister(client, srv.url, fmt.Sprintf("r%d-%02d@example.com", round, i), classicPassword)
					if results[i].status == http.StatusCreated && created.Add(1) == killAfter {
						close(enough)
					}
				})
			}
			for _, sess := range sessions {
				if sess.lost { // its token may be spent: refreshing it would be a replay
					continue
				}
				wg.Go(func() {
					<-start
					for range 20 {
						r := robDo(client, http.MethodPost, srv.url+"/token/refresh", "application/json", refreshBody(sess.refresh), sess.ip)
						if r.err != nil {
							sess.lost = true
							return
						}
						if r.status != http.StatusOK {
							t.Errorf("refresh before the kill: %s", r)
							return
						}
						sess.refresh = robField(r, "refresh_token")
					}
				})
			}
			close(start)
			select {
			case <-enough:
			case <-time.After(60 * time.Second):
				t.Fatalf("round %d: not %d registrations answered within a minute; logs: %s", round, killAfter, srv.logs)
			}
			err := srv.stop(t, syscall.SIGKILL)
			var exit *exec.ExitError
			require.ErrorAs(t, err, &exit)
			require.Equal(t, "signal: killed", exit.Error())
			wg.Wait()

			n201 := 0
			for i, r := range results {
				email := fmt.Sprintf("r%d-%02d@example.com", round, i)
				switch {
				case r.err != nil:
					unanswered = append(unanswered, email)
				case r.status == http.StatusCreated:
					acked = append(acked, email)
					n201++
				default:
					t.Errorf("register %s before the kill: %s", email, r)
				}
			}
			t.Logf("round %d: at the kill %d of %d registrations had answered 201", round, n201, inFlight)

			// The file as the crash left it: recovered on open, and sound.
			robIntegrity(t, db)
		}

		// Restarted on the same file: every acknowledged user logs in and is who they say.
		srv = robStart(t, bin, env)
		for i, email := range acked {
			ip := http.Header{"X-Forwarded-For": {fmt.Sprintf("192.0.2.%d", i+1)}}
			r := robDo(client, http.MethodPost, srv.url+"/login", "application/json", robCredentials(email, classicPassword), ip)
			if assert.Equal(t, http.StatusOK, r.status, "login %s after the crashes: %s", email, r) {
				me := robMe(client, srv.url, robField(r, "access_token"))
				assert.Equal(t, email, robField(me, "email"), "%s", me)
			}
		}
		// Every session refreshes with the last token it received, unless a refresh after it went unanswered
		// and may have committed: then that token is spent, and presenting it is a replay (400) by design.
		for i, sess := range sessions {
			r := robDo(client, http.MethodPost, srv.url+"/token/refresh", "application/json", refreshBody(sess.refresh), sess.ip)
			if sess.lost {
				assert.Contains(t, []int{http.StatusOK, http.StatusBadRequest}, r.status, "session %d: %s", i, r)
			} else {
				assert.Equal(t, http.StatusOK, r.status, "session %d after the crashes: %s", i, r)
			}
		}
		require.NoError(t, srv.stop(t, syscall.SIGTERM), "a clean shutdown; logs: %s", srv.logs)
		assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`)
		robSessionIntegrity(t, db)

		// No row is half-written: each is a user we asked for, with a complete hash of the password we sent.
		robIntegrity(t, db)
		rows := robRows(t, db)
		hasher := &jwtauth.PasswordHasher{}
		for email, u := range rows {
			assert.True(t, slices.Contains(acked, email) || slices.Contains(unanswered, email), "unexpected row %q", email)
			assert.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, u.ID, email)
			assert.True(t, u.IsActive, email)
			assert.False(t, u.createdAt.IsZero(), "%s: created_at", email)
			assert.Regexp(t, robArgon2id, u.passwordHash, email)
			if slices.Contains(unanswered, email) { // the acknowledged ones proved their hash by logging in
				match, _, err := hasher.Verify(t.Context(), classicPassword, u.passwordHash)
				assert.NoError(t, err, email)
				assert.True(t, match, "%s: the stored hash is of the password sent", email)
			}
		}
		for _, email := range acked {
			assert.Contains(t, rows, email)
		}
		t.Logf("%d rows after %d crashes: %d acknowledged, %d of the %d unanswered made it",
			len(rows), rounds, len(acked), len(rows)-len(acked), len(unanswered))
	})

	t.Run("SIGKILL during password resets keeps token and password in step", func(t *testing.T) {
		robAccountSIGKILL(t, bin, envFor(""), client)
	})

	t.Run("create-superuser in another process while the server registers", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "auth.db")
		srv := robStart(t, bin, envFor(db))

		// The other process, in a loop until the registrations are over (and at least a few times).
		stop := make(chan struct{})
		var runs []string // stderr of each run, "" on success
		var admins []string
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := 0; ; i++ {
				select {
				case <-stop:
					if i >= 4 {
						return
					}
				default:
				}
				email := fmt.Sprintf("admin%02d@example.com", i)
				cmd := exec.Command(bin, "create-superuser", "-email", email)
				cmd.Env = []string{"DATABASE_URL=" + db, "SUPERUSER_PASSWORD=" + classicPassword}
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					runs = append(runs, fmt.Sprintf("%s: %v: %s", email, err, stderr.String()))
					continue
				}
				runs = append(runs, "")
				admins = append(admins, email)
			}
		}()

		const n = 24
		results := make([]robResult, n)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := w; i < n; i += 8 {
					results[i] = robRegister(client, srv.url, fmt.Sprintf("user%02d@example.com", i), classicPassword)
				}
			})
		}
		wg.Wait()
		close(stop)
		<-done

		for i, r := range results {
			assert.Equal(t, http.StatusCreated, r.status, "register user%02d: %s", i, r)
		}
		for _, failure := range runs {
			assert.Empty(t, failure, "create-superuser failed")
		}
		t.Logf("create-superuser ran %d times while %d registrations went through", len(runs), n)
		require.NoError(t, srv.stop(t, syscall.SIGTERM))
		assert.NotContains(t, srv.logs.String(), `"level":"ERROR"`)
		assert.NotContains(t, srv.logs.String(), `"status":500`)

		robIntegrity(t, db)
		rows := robRows(t, db)
		for i, r := range results {
			if r.status == http.StatusCreated {
				email := fmt.Sprintf("user%02d@example.com", i)
				if assert.Contains(t, rows, email) {
					assert.Equal(t, robField(r, "id"), rows[email].ID)
				}
			}
		}
		for _, email := range admins {
			if assert.Contains(t, rows, email) {
				assert.True(t, rows[email].IsSuperuser, email)
			}
		}
		assert.Len(t, rows, n+len(admins))
	})
}
