package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

const partner = "https://partner.example"

func newTestHandler(t *testing.T) http.Handler {
	t.Helper()
	h, err := New(Options{PartnerOrigins: []string{partner, "http://127.0.0.2:8081/"}, Version: "v1"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return h
}

func get(h http.Handler, method, target string, hdr map[string]string) *http.Response {
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestRoutes(t *testing.T) {
	h := newTestHandler(t)
	const immutable = "public, max-age=31536000, immutable"
	tests := []struct {
		name, method, path string
		status             int
		contentType        string // prefix
		cache              string
		frameAncestors     string
		body               string // substring of the raw body
	}{
		{"index", "GET", "/", 200, "text/html", "no-cache", "'none'", `/assets/v1/js/index.bundle.js`},
		{"viewer", "GET", "/p/abc123xyz9", 200, "text/html", "no-cache", "'none'", `/assets/v1/js/viewer.bundle.js`},
		{"viewer unicode id", "GET", "/p/%ED%88%AC%ED%91%9C", 404, "text/plain", "no-store", "'none'", ""},
		{"viewer nested", "GET", "/p/abc/def", 404, "text/plain", "", "'none'", ""},
		{"viewer empty id", "GET", "/p/", 404, "text/plain", "", "'none'", ""},
		{"admin", "GET", "/admin", 200, "text/html", "no-cache", "'none'", `/assets/v1/js/admin.bundle.js`},
		{"receipt check", "GET", "/verify", 200, "text/html", "no-cache", "'none'", `/assets/v1/js/verify.bundle.js`},
		{"embed", "GET", "/embed/abc123xyz9", 200, "text/html", "no-cache", "'self' https://partner.example http://127.0.0.2:8081", `/assets/v1/js/embed.bundle.js`},
		{"widget", "GET", "/widget.js", 200, "text/javascript", "public, max-age=300", "'none'", "votecast"},
		{"asset js", "GET", "/assets/v1/js/viewer.js", 200, "text/javascript", immutable, "'none'", "startPollPage"},
		{"asset css", "GET", "/assets/v1/css/app.css", 200, "text/css", immutable, "'none'", "--accent"},
		{"asset svg", "GET", "/assets/v1/favicon.svg", 200, "image/svg+xml", immutable, "'none'", "<svg"},
		{"asset other version", "GET", "/assets/old/js/viewer.js", 200, "text/javascript", "no-cache", "'none'", "startPollPage"},
		{"asset missing", "GET", "/assets/v1/js/nope.js", 404, "text/plain", "no-store", "'none'", ""},
		{"page template not an asset", "GET", "/assets/v1/viewer.html", 404, "text/plain", "no-store", "'none'", ""},
		{"asset traversal is cleaned away", "GET", "/assets/v1/../web.go", 307, "", "", "'none'", ""},
		{"unknown", "GET", "/nope", 404, "text/plain", "", "'none'", ""},
		{"api is not ours", "GET", "/api/polls", 404, "text/plain", "", "'none'", ""},
		{"admin subpath", "GET", "/admin/x", 404, "text/plain", "", "'none'", ""},
		{"head", "HEAD", "/", 200, "text/html", "no-cache", "'none'", ""},
		{"post page", "POST", "/", 405, "text/plain", "", "'none'", ""},
		{"allowed probe", "GET", "/widget/allowed", 200, "application/json", "no-store", "'none'", `"allowed":true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := get(h, tt.method, tt.path, nil)
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tt.contentType)
			}
			if tt.cache != "" && res.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", res.Header.Get("Cache-Control"), tt.cache)
			}
			checkSecurityHeaders(t, res, tt.frameAncestors)
			if tt.body != "" && !bytes.Contains(body, []byte(tt.body)) {
				t.Errorf("body lacks %q", tt.body)
			}
			if tt.method == "HEAD" && len(body) != 0 {
				t.Errorf("HEAD has a body of %d bytes", len(body))
			}
		})
	}
}

func checkSecurityHeaders(t *testing.T, res *http.Response, frameAncestors string) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "base-uri 'none'", "frame-ancestors " + frameAncestors} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	want := map[string]string{"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"}
	for k, v := range want {
		if got := res.Header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	xfo := res.Header.Get("X-Frame-Options")
	if frameAncestors == "'none'" && xfo != "DENY" {
		t.Errorf("X-Frame-Options %q, want DENY", xfo)
	}
	if frameAncestors != "'none'" && xfo != "" {
		t.Errorf("framable page has X-Frame-Options %q", xfo)
	}
}

var inlineScript = regexp.MustCompile(`(?is)<script(?:\s[^>]*)?>\s*[^<\s]`)
var inlineHandler = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)

func TestPagesHaveNoInlineScriptOrStyle(t *testing.T) {
	h := newTestHandler(t)
	for _, path := range []string{"/", "/p/abc", "/admin", "/embed/abc", "/verify"} {
		res := get(h, "GET", path, nil)
		body, _ := io.ReadAll(res.Body)
		if m := inlineScript.Find(body); m != nil {
			t.Errorf("%s: inline script: %q", path, m)
		}
		if m := inlineHandler.Find(body); m != nil {
			t.Errorf("%s: inline event handler: %q", path, m)
		}
		if bytes.Contains(body, []byte("<style")) || bytes.Contains(body, []byte("style=")) {
			t.Errorf("%s: inline style", path)
		}
		if bytes.Contains(body, []byte(assetsPlaceholder)) {
			t.Errorf("%s: unrendered placeholder", path)
		}
	}
}

func TestGzip(t *testing.T) {
	h := newTestHandler(t)
	tests := []struct {
		accept string
		gz     bool
	}{
		{"gzip, deflate, br", true},
		{"br;q=1.0, gzip;q=0.8", true},
		{"*", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000", false},
		{"identity", false},
		{"", false},
	}
	for _, path := range []string{"/assets/v1/js/ballot.js", "/p/abc", "/widget.js"} {
		plain := get(h, "GET", path, nil)
		want, _ := io.ReadAll(plain.Body)
		for _, tt := range tests {
			res := get(h, "GET", path, map[string]string{"Accept-Encoding": tt.accept})
			body, _ := io.ReadAll(res.Body)
			if got := res.Header.Get("Content-Encoding") == "gzip"; got != tt.gz {
				t.Errorf("%s with %q: gzip %v, want %v", path, tt.accept, got, tt.gz)
				continue
			}
			if !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
				t.Errorf("%s: no Vary: Accept-Encoding", path)
			}
			if tt.gz {
				zr, err := gzip.NewReader(bytes.NewReader(body))
				if err != nil {
					t.Fatalf("%s: %v", path, err)
				}
				body, _ = io.ReadAll(zr)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("%s with %q: body differs", path, tt.accept)
			}
		}
	}
}

func TestConditionalGet(t *testing.T) {
	h := newTestHandler(t)
	for _, enc := range []string{"", "gzip"} {
		res := get(h, "GET", "/assets/v1/css/app.css", map[string]string{"Accept-Encoding": enc})
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		res = get(h, "GET", "/assets/v1/css/app.css", map[string]string{"Accept-Encoding": enc, "If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("If-None-Match %s (%q): status %d, want 304", etag, enc, res.StatusCode)
		}
	}
}

func TestViewerPreloadsPoll(t *testing.T) {
	h := newTestHandler(t)
	res := get(h, "GET", "/p/abc123xyz9", nil)
	want := "</api/polls/abc123xyz9>; rel=preload; as=fetch; crossorigin=anonymous"
	if got := res.Header.Get("Link"); got != want {
		t.Errorf("Link %q, want %q", got, want)
	}
}

func TestWidgetAllowed(t *testing.T) {
	h := newTestHandler(t)
	tests := []struct {
		origin string
		want   string
	}{
		{"", `{"allowed":true}`},
		{"https://partner.example", `{"allowed":true}`},
		{"HTTPS://PARTNER.EXAMPLE", `{"allowed":true}`},
		{"http://127.0.0.2:8081", `{"allowed":true}`},
		{"http://example.com", `{"allowed":true}`}, // the server's own host in the test request
		{"https://evil.example", `{"allowed":false}`},
		{"http://partner.example", `{"allowed":false}`},
		{"null", `{"allowed":false}`},
	}
	for _, tt := range tests {
		res := get(h, "GET", "/widget/allowed", map[string]string{"Origin": tt.origin})
		body, _ := io.ReadAll(res.Body)
		if strings.TrimSpace(string(body)) != tt.want {
			t.Errorf("Origin %q: %s, want %s", tt.origin, body, tt.want)
		}
		if res.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("Origin %q: not readable cross-origin", tt.origin)
		}
	}
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		ok   bool
	}{
		{"zero", Options{}, true},
		{"partners", Options{PartnerOrigins: []string{"https://a.example", "http://b.example:8080"}}, true},
		{"path", Options{PartnerOrigins: []string{"https://a.example/x"}}, false},
		{"scheme", Options{PartnerOrigins: []string{"ftp://a.example"}}, false},
		{"no scheme", Options{PartnerOrigins: []string{"a.example"}}, false},
		{"injection", Options{PartnerOrigins: []string{"https://a.example;script-src *"}}, false},
		{"wildcard", Options{PartnerOrigins: []string{"*"}}, false},
		{"version", Options{Version: "2025.1-rc_1"}, true},
		{"bad version", Options{Version: "a/b"}, false},
	}
	for _, tt := range tests {
		_, err := New(tt.opts)
		if (err == nil) != tt.ok {
			t.Errorf("%s: err %v, want ok=%v", tt.name, err, tt.ok)
		}
	}
}

func TestDefaultVersionIsAssetHash(t *testing.T) {
	h, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(get(h, "GET", "/", nil).Body)
	m := regexp.MustCompile(`/assets/([0-9a-f]{12})/js/index\.bundle\.js`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no hashed asset URL in %s", body)
	}
	res := get(h, "GET", "/assets/"+string(m[1])+"/js/index.bundle.js", nil)
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("hashed asset: %d %q", res.StatusCode, res.Header.Get("Cache-Control"))
	}
}

// TestViewerWeight keeps the viewer page under its budget: everything it
// loads (HTML, CSS, every module, the icon), gzipped, under 50 KB.
func TestViewerWeight(t *testing.T) {
	h := newTestHandler(t)
	gz := map[string]string{"Accept-Encoding": "gzip"}
	res := get(h, "GET", "/p/abc", gz)
	page, _ := io.ReadAll(res.Body)
	total := len(page)
	zr, err := gzip.NewReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(zr)
	seen := map[string]bool{}
	queue := regexp.MustCompile(`(?:href|src)="(/assets/[^"]+)"`).FindAllStringSubmatch(string(html), -1)
	var urls []string
	for _, m := range queue {
		urls = append(urls, m[1])
	}
	importRE := regexp.MustCompile(`from '\./([a-z]+\.js)'`)
	for len(urls) > 0 {
		u := urls[0]
		urls = urls[1:]
		if seen[u] {
			continue
		}
		seen[u] = true
		res := get(h, "GET", u, gz)
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d", u, res.StatusCode)
		}
		total += len(b)
		if strings.HasSuffix(u, ".js") {
			raw, _ := io.ReadAll(get(h, "GET", u, nil).Body)
			for _, m := range importRE.FindAllStringSubmatch(string(raw), -1) {
				urls = append(urls, u[:strings.LastIndex(u, "/")+1]+m[1])
			}
		}
	}
	t.Logf("viewer page: %d files, %d bytes gzipped", len(seen)+1, total)
	if total > 50*1024 {
		t.Errorf("viewer page weighs %d bytes gzipped, budget 51200", total)
	}
}
