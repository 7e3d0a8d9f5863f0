package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDocs_ServesThePageAndItsFiles(t *testing.T) {
	ts := startServer(t, testConfig(t))
	res := ts.get(t, "/docs", "")
	require.Equal(t, http.StatusOK, res.status)
	assert.Equal(t, "text/html; charset=utf-8", res.header.Get("Content-Type"))
	assert.Contains(t, res.header.Get("Content-Security-Policy"), "script-src 'self';")
	assert.NotContains(t, string(res.body), "<script>", "no inline script: the CSP forbids them")
	assert.NotContains(t, string(res.body), "https://", "nothing loaded from elsewhere")

	// The standard client asks for gzip and decompresses transparently; ask for identity to see the raw answer.
	raw := func(path, encoding string) (*http.Response, []byte) {
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Accept-Encoding", encoding)
		r, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
		require.NoError(t, err)
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		return r, b
	}
	r, plain := raw("/docs/swagger-ui-bundle.js", "identity")
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Empty(t, r.Header.Get("Content-Encoding"))
	assert.Equal(t, "text/javascript; charset=utf-8", r.Header.Get("Content-Type"))
	assert.Contains(t, string(plain[:200]), "swagger-ui-bundle.js.LICENSE.txt", "Swagger UI's bundle")

	r, zipped := raw("/docs/swagger-ui-bundle.js", "gzip, deflate")
	require.Equal(t, http.StatusOK, r.StatusCode)
	assert.Equal(t, "gzip", r.Header.Get("Content-Encoding"))
	assert.Less(t, len(zipped), len(plain)/2)
	zr, err := gzip.NewReader(bytes.NewReader(zipped))
	require.NoError(t, err)
	unzipped, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, plain, unzipped)

	r, _ = raw("/docs/swagger-ui-bundle.js", "gzip;q=0")
	assert.Empty(t, r.Header.Get("Content-Encoding"), "q=0 refuses gzip")

	res = ts.get(t, "/docs/docs.js", "")
	require.Equal(t, http.StatusOK, res.status)
	assert.Contains(t, string(res.body), "SwaggerUIBundle(")
	res = ts.do(t, "GET", "/docs/docs.js", "", nil, http.Header{"If-None-Match": {res.header.Get("ETag")}})
	assert.Equal(t, http.StatusNotModified, res.status)

	assertError(t, ts.get(t, "/docs/swagger-ui.js", ""), http.StatusNotFound, "not_found")
	assertError(t, ts.get(t, "/docs/oauth2-redirect.html", ""), http.StatusNotFound, "not_found")
}

// chromium finds Debian's chromium. .ci/run installs it (CI is set there); elsewhere the browser test is
// skipped when it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed: CI needs it for the /docs browser test (apt-get install -y chromium)")
	}
	t.Skip("chromium not installed: skipping the /docs browser test (apt-get install chromium to run it)")
	return ""
}

// The interactive docs in a real headless Chromium: the page loads with no console error (CSP violations
// and failed loads included), and a person can register, log in and call /users/me from it. Logging in
// through "Try it out" authorizes the page with the returned token; an Authorize dialog with a pasted
// token works the same way, through ui.preauthorizeApiKey.
func TestDocs_TryItOutInChromium(t *testing.T) {
	path := chromium(t)
	ts := startServer(t, testConfig(t))

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	// Console reports console.error calls, uncaught exceptions and the browser's own log (CSP violations,
	// failed loads), from the moment the tab exists.
	cctx, stopConsole := context.WithCancel(bctx)
	var problems []string
	consoleDone := make(chan struct{})
	messages := chromedp.Console(cctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				problems = append(problems, m.String()+" "+m.URL)
			}
		}
	}()

	// tryItOut runs one operation from the page, as a person would: expand it, "Try it out" (the request
	// body is the schema's example), "Execute", and returns the response code and body Swagger UI shows.
	tryItOut := func(opID string) (status, body string) {
		op := "#" + opID
		require.NoError(t, chromedp.Do(bctx,
			chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
			chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
			chromedp.Click(chromedp.CSS(op+" .execute")),
			chromedp.WaitVisible(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")),
		), "operation %s", opID)
		status, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table tr.response .response-col_status")))
		require.NoError(t, err)
		body, err = chromedp.Run(bctx, chromedp.Text(chromedp.CSS(op+" .live-responses-table .response-col_description pre")))
		require.NoError(t, err)
		return strings.TrimSpace(status), body
	}

	require.NoError(t, chromedp.Do(bctx,
		chromedp.Navigate(ts.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS("#operations-users-me")),
	))
	title, err := chromedp.Run(bctx, chromedp.Title())
	require.NoError(t, err)
	assert.Equal(t, "login-server API", title)

	// The examples of the Credentials schema are a valid classic-policy account: nothing needs typing.
	status, body := tryItOut("operations-auth-register")
	assert.Equal(t, "201", status, "register: %s", body)
	status, body = tryItOut("operations-auth-login")
	assert.Equal(t, "200", status, "login: %s", body)
	status, body = tryItOut("operations-users-me")
	assert.Equal(t, "200", status, "/users/me with the page authorized by the login: %s", body)
	assert.Contains(t, body, "alice@example.com")

	t.Run("a token pasted into Authorize", func(t *testing.T) {
		require.Equal(t, http.StatusCreated, ts.register(t, "paste@example.com", classicPassword).status)
		token := ts.tokenOf(t, "paste@example.com", classicPassword)
		authorized, err := chromedp.Run(bctx,
			chromedp.Evaluate[bool](fmt.Sprintf(`ui.preauthorizeApiKey("bearerAuth", %q), true`, token)))
		require.NoError(t, err)
		assert.True(t, authorized)
		require.NoError(t, chromedp.Do(bctx, chromedp.Click(chromedp.CSS("#operations-users-me .execute"))))
		_, err = chromedp.Run(bctx, chromedp.Poll[bool](
			`document.querySelector("#operations-users-me .live-responses-table .response-col_description pre").textContent.includes("paste@example.com")`,
			chromedp.WithPollingTimeout(20*time.Second)))
		assert.NoError(t, err, "/users/me answers for the pasted token's user")
	})

	_, err = chromedp.Run(bctx, chromedp.Evaluate[bool](`true`)) // events before this are queued by now
	require.NoError(t, err)
	stopConsole()
	<-consoleDone
	assert.Empty(t, problems, "the page logs no errors")
}
