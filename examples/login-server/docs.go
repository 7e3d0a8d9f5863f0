package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"strconv"
	"strings"

	swaggerui "github.com/swaggest/swgui/v5/static"
)

// Interactive API docs: GET /docs is Swagger UI for /openapi.json. The Swagger UI files (v5.29.1, Apache-2.0)
// come embedded, gzipped, in github.com/swaggest/swgui/v5/static; the page and its start script are ours, so
// that the page runs under a Content-Security-Policy without inline scripts and loads nothing from elsewhere.

// docsCSP allows only this server's own scripts and requests. Swagger UI sets inline styles (React style
// attributes) and uses data: URIs for its icons, hence the two exceptions.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

const docsPage = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>login-server API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/docs.js"></script>
</body>
</html>
`

// docsScript starts Swagger UI. A successful "Try it out" of POST /login authorizes the page with the token
// it returned, so a person can register, log in and call /users/me without copying the token by hand. The
// token stays in the page's memory (persistAuthorization off): closing the tab forgets it.
const docsScript = `"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: false,
  queryConfigEnabled: false,
  persistAuthorization: false,
  validatorUrl: null,
  tryItOutEnabled: false,
  responseInterceptor: function (res) {
    try {
      var path = new URL(res.url, window.location.href).pathname;
      if (path === "/login" && res.status === 200 && res.body && res.body.access_token) {
        window.ui.preauthorizeApiKey("bearerAuth", res.body.access_token);
      }
    } catch (e) {
      console.warn("could not authorize with the login's token", e);
    }
    return res;
  }
});
`

// docsAsset is one file under /docs/.
type docsAsset struct {
	contentType string
	body        []byte // gzipped when gzipped is set
	gzipped     bool
	etag        string
}

// docsAssets reads the files the page needs out of the embedded Swagger UI, once, at start.
func docsAssets() (map[string]docsAsset, error) {
	assets := map[string]docsAsset{}
	add := func(name, contentType string, body []byte, gzipped bool) {
		sum := sha256.Sum256(body)
		assets[name] = docsAsset{contentType, body, gzipped, `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	for name, contentType := range map[string]string{
		"swagger-ui.css":       "text/css; charset=utf-8",
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"favicon-32x32.png":    "image/png",
		"favicon-16x16.png":    "image/png",
	} {
		file, gzipped := name, false
		if !strings.HasSuffix(name, ".png") {
			file, gzipped = name+".gz", true
		}
		b, err := fs.ReadFile(swaggerui.FS, file)
		if err != nil {
			return nil, err
		}
		add(name, contentType, b, gzipped)
	}
	add("docs.js", "text/javascript; charset=utf-8", []byte(docsScript), false)
	return assets, nil
}

// docsHandler serves the page.
func docsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", docsCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Length", strconv.Itoa(len(docsPage)))
		if r.Method != http.MethodHead {
			_, _ = io.WriteString(w, docsPage)
		}
	})
}

// docsAssetHandler serves the page's scripts, styles and icons: gzipped as embedded to clients that accept
// it, decompressed for the others.
func docsAssetHandler(assets map[string]docsAsset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assets[r.PathValue("asset")]
		if !ok {
			writeError(w, http.StatusNotFound, "not_found", "no such file of the API docs; open /docs")
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "public, max-age=86400")
		h.Set("ETag", a.etag)
		h.Set("Vary", "Accept-Encoding")
		if r.Header.Get("If-None-Match") == a.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		body := io.Reader(bytes.NewReader(a.body))
		if a.gzipped {
			if acceptsGzip(r) {
				h.Set("Content-Encoding", "gzip")
				h.Set("Content-Length", strconv.Itoa(len(a.body)))
			} else {
				zr, err := gzip.NewReader(body)
				if err != nil { // embedded at build time: cannot happen
					writeError(w, http.StatusInternalServerError, "server_error", "the embedded file is corrupt")
					return
				}
				defer zr.Close()
				body = zr
			}
		} else {
			h.Set("Content-Length", strconv.Itoa(len(a.body)))
		}
		if r.Method == http.MethodHead {
			return
		}
		_, _ = io.Copy(w, body)
	})
}

// acceptsGzip reports whether the request's Accept-Encoding lists gzip with a non-zero weight.
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
