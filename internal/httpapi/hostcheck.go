package httpapi

import (
	"net"
	"net/http"
	"strings"

	"github.com/bss-api/bss-api/internal/apperr"
)

// checkHost answers 403 to any request whose Host (without its port)
// allow refuses, before any route sees it; refused requests are observed
// under the route "refused host" and reported to refused.
//
// It closes DNS rebinding on a server without credentials: a page of
// attacker.example whose name the attacker then points at 127.0.0.1 is,
// to the browser, the same origin as the server, so CORS does not stop
// its requests; but they carry Host: attacker.example.
func checkHost(allow func(host string) bool, obs observer, refused func(*http.Request, error), next http.Handler) http.Handler {
	refuse := obs.wrap("refused host", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := apperr.Errorf(apperr.Forbidden,
			"Host %q is not served: with no credential method configured this server answers only requests "+
				"addressed to a loopback name or address (localhost, 127.0.0.1, ::1)", hostOnly(r.Host))
		refused(r, err)
		obs.rs.error(w, r, err)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allow(hostOnly(r.Host)) {
			refuse.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly returns the host of a Host header: without its port, an IPv6
// address without its brackets.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}
