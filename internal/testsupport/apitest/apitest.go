// Package apitest helps tests check bss-api's HTTP responses against the
// OpenAPI document that the server embeds and serves:
//
//	v := apitest.NewValidator(t)
//	c := apitest.NewClient(v, srv.URL, srv.Client())
//	res := c.Get(t, "/api/v1/metrics") // fails t if the response breaks the document
//
// Only responses are validated; requests may be invalid on purpose. A
// request to a path or method the document does not list fails the test,
// as does an undocumented status. Use Client.DoUnrouted (or
// Validator.CheckUnrouted) for requests that deliberately miss every route.
package apitest

import (
	"net/http"
	"testing"

	"github.com/bss-api/bss-api/internal/httpapi"
	"github.com/bss-api/bss-api/internal/testsupport/contract"
)

// Validator checks responses against the OpenAPI document; see
// contract.Validator for Check and CheckUnrouted.
type Validator = contract.Validator

// Client performs requests and validates every response; see
// contract.Client for Do, DoUnrouted, Get, Post and NewRequest.
type Client = contract.Client

// Response is the status, headers and whole body a Client returns.
type Response = contract.Response

// NewValidator loads and validates the OpenAPI document embedded in package
// httpapi. An invalid document is fatal.
func NewValidator(t testing.TB) *Validator {
	t.Helper()
	return contract.NewValidator(t, httpapi.OpenAPIDocument())
}

// NewClient returns a Client for the server at baseURL (an httptest.Server's
// URL) that validates with v. A nil hc means http.DefaultClient.
func NewClient(v *Validator, baseURL string, hc *http.Client) *Client {
	return contract.NewClient(v, baseURL, hc)
}
