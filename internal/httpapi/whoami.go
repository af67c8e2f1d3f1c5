package httpapi

import (
	"net/http"
	"time"

	"github.com/bss-api/bss-api/internal/auth"
)

type whoamiResponse struct {
	envelope
	// CredentialsRequired is false on a server without any credential
	// method, where every caller is the anonymous operator.
	CredentialsRequired bool   `json:"credentials_required"`
	Authenticated       bool   `json:"authenticated"`
	Identity            string `json:"identity"`
	Role                string `json:"role"`
	Credential          string `json:"credential"`
	Node                string `json:"node"`
	// Allowed lists, as "METHOD path" the way GET / lists them, every
	// route the caller may call.
	Allowed []string `json:"allowed"`
}

// getWhoami tells callers who the server takes them for and which routes
// they may call, so a client (the dashboard) can offer only what will be
// allowed. It is public: a missing or refused credential is answered, not
// refused, with authenticated false and only the public routes. It shows
// a caller nothing about anyone else.
func getWhoami(g *auth.Guard, node string, index *endpointList, now func() time.Time, rs responder) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := auth.IdentityFrom(r.Context())
		authenticated := id.Method != auth.MethodNone // an open guard names everyone anonymous
		decided := map[auth.Permission]bool{}         // one review per permission
		allowed := []string{}
		for _, ep := range index.all {
			may := ep.rule.IsPublic()
			if !may {
				p := ep.rule.Permission()
				v, seen := decided[p]
				if !seen {
					v = g.Permits(r.Context(), id, p)
					decided[p] = v
				}
				may = v
			}
			if may {
				allowed = append(allowed, ep.Method+" "+ep.Path)
			}
		}
		rs.json(w, r, http.StatusOK, whoamiResponse{
			envelope:            ok(now(), "Caller identified"),
			CredentialsRequired: !g.Open(),
			Authenticated:       authenticated,
			Identity:            id.Name,
			Role:                string(id.Role),
			Credential:          string(id.Method),
			Node:                node,
			Allowed:             allowed,
		})
	})
}
