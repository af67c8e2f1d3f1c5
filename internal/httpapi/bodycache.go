package httpapi

import (
	"bytes"
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// cachedBody is one complete response body, plain and gzipped, for one
// snapshot version and timestamp second.
type cachedBody struct {
	version uint64
	second  int64
	body    []byte
	gzOnce  sync.Once
	gz      []byte
}

// gzipped returns the body compressed, computing it once.
func (c *cachedBody) gzipped() []byte {
	c.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		_, _ = zw.Write(c.body)
		_ = zw.Close()
		c.gz = buf.Bytes()
	})
	return c.gz
}

// bodyCache keeps the last body of each of two variants (e.g. with and
// without threads), so the answer a poller gets costs a lookup and a write,
// not an encoding. A crowd of requests arriving as an entry goes stale
// costs one build: the others wait for it. A body larger than max (when
// set) is served but not kept, so a cache holds at most two bodies of max
// bytes and their gzipped copies; past it, requests build their own, one
// at a time per variant.
type bodyCache struct {
	max   int64
	slots [2]atomic.Pointer[cachedBody]
	build [2]sync.Mutex
}

// get returns the cached body of slot for version and second, building it
// with build when missing.
func (c *bodyCache) get(slot int, version uint64, second int64, build func() ([]byte, error)) (*cachedBody, error) {
	fresh := func() *cachedBody {
		if cb := c.slots[slot].Load(); cb != nil && cb.version == version && cb.second == second {
			return cb
		}
		return nil
	}
	if cb := fresh(); cb != nil {
		return cb, nil
	}
	c.build[slot].Lock()
	defer c.build[slot].Unlock()
	if cb := fresh(); cb != nil {
		return cb, nil
	}
	body, err := build()
	if err != nil {
		return nil, err
	}
	cb := &cachedBody{version: version, second: second, body: body}
	if c.max > 0 && int64(len(body)) > c.max {
		c.slots[slot].Store(nil) // nor keep an older one
		return cb, nil
	}
	c.slots[slot].Store(cb)
	return cb, nil
}

// writeBody writes a JSON body, gzipped when the client accepts it and it
// is worth it. answeredCurrent has set the validators.
func writeBody(w http.ResponseWriter, r *http.Request, cb *cachedBody) {
	body := cb.body
	h := w.Header()
	if len(body) > 1024 && acceptsGzip(r) {
		body = cb.gzipped()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

// acceptsGzip reports whether the client accepts a gzip-encoded response.
// Go's HTTP client asks for it by default and decodes it transparently.
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		name, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(name) == "gzip" && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}
