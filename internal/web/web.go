// Package web serves the dashboard: static HTML, CSS and JavaScript modules
// embedded in the binary, so nothing is built or fetched at run time.
//
// The assets hold no data and no credential: every figure the dashboard
// shows comes from the API, which the page calls with the caller's bearer
// token. They are therefore public, and served with a Content-Security-
// Policy that lets the page load only its own files and talk only to its
// own origin, with no inline script or style.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// Prefix is the path the dashboard is served under.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every answer: the page's own
// scripts, styles and images (and data: images) only, requests to its own
// origin only, no forms posted anywhere, no framing, no <base>.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// contentType is the type of a dashboard file by its extension, fixed
// here rather than taken from the system's MIME table, which differs
// between machines; "" for an extension the dashboard does not use.
func contentType(ext string) string {
	switch ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	return ""
}

// asset is one file, ready to serve.
type asset struct {
	contentType string
	etag        string
	plain       []byte
	gzipped     []byte // nil when gzip would not make it smaller
}

// Handler serves the dashboard's files under Prefix: Prefix itself is
// index.html. Any other path is 404. It is safe for concurrent use; the
// files are read and compressed once, here. Nothing here can fail on
// input: the files are compiled in, and the package's tests check each
// one's type.
func Handler() http.Handler {
	files := map[string]*asset{}
	err := fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		files[strings.TrimPrefix(p, "assets/")] = newAsset(p, b)
		return nil
	})
	if err != nil { // the files are compiled in: only a broken build gets here
		panic(fmt.Sprintf("read the embedded dashboard files: %v", err))
	}
	return serve(files)
}

func newAsset(name string, b []byte) *asset {
	ct := contentType(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	a := &asset{contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, plain: b}
	if z := compress(b); len(z) < len(b) {
		a.gzipped = z
	}
	return a
}

// compress gzips b. Writes to a bytes.Buffer do not fail.
func compress(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // a valid level
	_, _ = zw.Write(b)
	_ = zw.Close()
	return buf.Bytes()
}

func serve(files map[string]*asset) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")

		name, ok := strings.CutPrefix(r.URL.Path, Prefix)
		if !ok {
			http.NotFound(w, r)
			return
		}
		if name == "" {
			name = "index.html"
		}
		a := files[name]
		if a == nil {
			h.Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = fmt.Fprintf(w, "no dashboard file at %s; the dashboard is at %s\n", r.URL.Path, Prefix)
			return
		}
		// Revalidate on every load: a new binary's files are seen at once,
		// and an unchanged file costs a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Add("Vary", "Accept-Encoding")
		if matches(r.Header.Get("If-None-Match"), a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", a.contentType)
		body := a.plain
		if a.gzipped != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			body = a.gzipped
		}
		h.Set("Content-Length", fmt.Sprint(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// matches reports whether an If-None-Match header names etag.
func matches(header, etag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header admits gzip.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
