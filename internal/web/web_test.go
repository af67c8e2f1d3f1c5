package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

// response is what the handler answered, read whole.
type response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

func get(t *testing.T, h http.Handler, target string, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{StatusCode: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
}

func body(_ *testing.T, res response) []byte { return res.Body }

// assetNames lists the embedded files as served names.
func assetNames(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, "assets/"))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestIndexAndSecurityHeaders(t *testing.T) {
	h := Handler()
	res := get(t, h, "/ui/")
	b := body(t, res)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /ui/ = %d %s", res.StatusCode, b)
	}
	if got := res.Header.Get("Content-Type"); got != "text/html; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	if !bytes.Contains(b, []byte(`<script type="module" src="app.js"></script>`)) {
		t.Errorf("index.html does not load app.js:\n%s", b)
	}
	for k, want := range map[string]string{
		"Content-Security-Policy": CSP,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-cache",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	for _, directive := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'", "base-uri 'none'"} {
		if !strings.Contains(CSP, directive+";") && !strings.HasSuffix(CSP, directive) {
			t.Errorf("CSP lacks %q: %s", directive, CSP)
		}
	}
	if strings.Contains(CSP, "unsafe") {
		t.Errorf("CSP allows something unsafe: %s", CSP)
	}
}

// The CSP forbids inline script and style, and the page must not need
// them: a script tag only loads a file, no element carries a style or an
// event handler attribute, and no script writes HTML or evaluates strings.
func TestNoInlineScriptOrStyle(t *testing.T) {
	scriptTag := regexp.MustCompile(`<script\b[^>]*>`)
	forbidden := map[string][]*regexp.Regexp{
		".html": {regexp.MustCompile(`<style`), regexp.MustCompile(`\sstyle=`), regexp.MustCompile(`\son[a-z]+=`), regexp.MustCompile(`javascript:`)},
		".js": {regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write`), regexp.MustCompile(`\beval\(|new Function\(`),
			regexp.MustCompile(`setAttribute\('style'|'style':`), regexp.MustCompile(`javascript:`)},
	}
	for _, name := range assetNames(t) {
		res, ok := forbidden[path.Ext(name)]
		if !ok {
			continue
		}
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range res {
			if m := re.Find(b); m != nil {
				t.Errorf("%s has %q, which the CSP would block or which writes markup", name, m)
			}
		}
		if path.Ext(name) != ".html" {
			continue
		}
		for _, loc := range scriptTag.FindAllIndex(b, -1) {
			tag, rest := string(b[loc[0]:loc[1]]), string(b[loc[1]:])
			if !strings.Contains(tag, " src=") || !strings.HasPrefix(rest, "</script>") {
				t.Errorf("%s: %s is an inline script", name, tag)
			}
		}
	}
}

func TestEveryAssetServedWithItsType(t *testing.T) {
	h := Handler()
	names := assetNames(t)
	if len(names) < 3 {
		t.Fatalf("only %d assets embedded: %v", len(names), names)
	}
	for _, name := range names {
		ct := contentType(path.Ext(name))
		if ct == "" {
			t.Errorf("%s: no content type for %s", name, path.Ext(name))
			continue
		}
		res := get(t, h, Prefix+name)
		want, _ := assets.ReadFile("assets/" + name)
		if got := body(t, res); res.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
			t.Errorf("GET %s = %d, %d bytes; want 200 and the file's %d", Prefix+name, res.StatusCode, len(got), len(want))
		}
		if got := res.Header.Get("Content-Type"); got != ct {
			t.Errorf("%s: Content-Type %q, want %q", name, got, ct)
		}
		if res.Header.Get("Content-Security-Policy") != CSP {
			t.Errorf("%s: no CSP", name)
		}
	}
}

func TestGzipAndETag(t *testing.T) {
	h := Handler()
	plain := body(t, get(t, h, "/ui/app.js"))
	res := get(t, h, "/ui/app.js", "Accept-Encoding", "gzip, deflate, br")
	if res.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("no gzip for a client that accepts it: %v", res.Header)
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, res)))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzipped, plain) {
		t.Error("gzipped body differs from the file")
	}
	if res := get(t, h, "/ui/app.js", "Accept-Encoding", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent to a client that refused it")
	}

	etag := res.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if res := get(t, h, "/ui/app.js", "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag = %d, want 304", res.StatusCode)
	}
	if res := get(t, h, "/ui/app.js", "If-None-Match", `"stale"`); res.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match with another ETag = %d, want 200", res.StatusCode)
	}
	if other := get(t, h, "/ui/app.css").Header.Get("ETag"); other == etag {
		t.Error("two files share an ETag")
	}
}

func TestUnknownPaths(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/ui/nope.js", "/ui/../go.mod", "/ui/assets/app.js", "/ui/index.html/"} {
		res := get(t, h, p)
		b := body(t, res)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, res.StatusCode)
		}
		if res.Header.Get("Content-Security-Policy") != CSP || res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: 404 without the security headers", p)
		}
		if !bytes.Contains(b, []byte(Prefix)) {
			t.Errorf("GET %s: %q does not say where the dashboard is", p, b)
		}
	}
}

func TestHeadSendsNoBody(t *testing.T) {
	req := httptest.NewRequest(http.MethodHead, "/ui/", nil)
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD /ui/ = %d with %d body bytes, Content-Length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
}
