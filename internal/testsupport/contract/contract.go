// Package contract checks HTTP responses against an OpenAPI 3 document in
// tests. It takes the document as bytes and imports nothing of bss-api, so
// the tests of package httpapi itself can use it; tests elsewhere use the
// apitest package, which loads the document embedded in httpapi.
package contract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// Names of the document's shared responses for requests that match no
// operation: an unknown path, and a documented path with another method.
const (
	UnknownPathResponse      = "UnknownPath"
	MethodNotAllowedResponse = "MethodNotAllowed"
)

// maxShown bounds how much of a body a failure message quotes.
const maxShown = 2000

// Validator checks responses against an OpenAPI document. It is safe for
// concurrent use.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// NewValidator parses and validates document and returns a Validator for
// it. Routing uses only the request path and method: the host of a test
// server never matches the document's servers, so they are ignored.
func NewValidator(t testing.TB, document []byte) *Validator {
	t.Helper()
	doc, err := Load(document)
	if err != nil {
		t.Fatalf("OpenAPI document: %v", err)
	}
	doc.Servers = nil // route on the path alone, whatever the host
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatalf("OpenAPI router: %v", err)
	}
	return &Validator{doc: doc, router: router}
}

// Load parses document and validates it, examples included.
func Load(document []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return doc, nil
}

// Document returns the parsed document. The caller must not modify it.
func (v *Validator) Document() *openapi3.T { return v.doc }

// Check reports a test failure unless the document has an operation for
// req and resp matches it: a documented status, the Content-Type of a
// documented media type, the documented required headers, and a body that
// matches the schema. reqBody is only quoted in failure messages; request
// bodies are not validated, so tests may send bad ones on purpose.
func (v *Validator) Check(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	t.Helper()
	if err := v.check(req, resp, respBody); err != nil {
		t.Errorf("%s\n%s", err, describe(req, reqBody, resp, respBody))
	}
}

func (v *Validator) check(req *http.Request, resp *http.Response, respBody []byte) error {
	routed := req
	if req.Method == http.MethodHead {
		// Every GET also answers HEAD, which the document leaves implicit.
		routed = req.Clone(req.Context())
		routed.Method = http.MethodGet
	}
	route, pathParams, err := v.findRoute(routed)
	if err != nil {
		return fmt.Errorf("%s %s is not an operation of the OpenAPI document: %w", req.Method, req.URL.Path, err)
	}
	return v.validate(req, route, pathParams, resp, respBody)
}

// CheckUnrouted is Check for a request that deliberately matches no
// operation. It reports a test failure if the document has an operation for
// req, and otherwise checks resp against the document's shared responses:
// UnknownPath (404) for a path the document does not list,
// MethodNotAllowed (405, with an Allow header naming exactly the
// documented methods plus HEAD for GET) for a listed path.
func (v *Validator) CheckUnrouted(t testing.TB, req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) {
	t.Helper()
	if err := v.checkUnrouted(req, resp, respBody); err != nil {
		t.Errorf("%s\n%s", err, describe(req, reqBody, resp, respBody))
	}
}

func (v *Validator) checkUnrouted(req *http.Request, resp *http.Response, respBody []byte) error {
	_, _, err := v.findRoute(req)
	if err == nil {
		return fmt.Errorf("%s %s is an operation of the OpenAPI document; use Check", req.Method, req.URL.Path)
	}
	name, status := UnknownPathResponse, http.StatusNotFound
	pathItem := v.doc.Paths.Find(req.URL.Path)
	if pathItem != nil && v.sameTrailingSlash(req.URL.Path, pathItem) {
		name, status = MethodNotAllowedResponse, http.StatusMethodNotAllowed
	}
	if resp.StatusCode != status {
		return fmt.Errorf("%s %s: got status %d, want %d (%s)", req.Method, req.URL.Path, resp.StatusCode, status, name)
	}
	if status == http.StatusMethodNotAllowed {
		if err := checkAllow(pathItem, resp.Header.Get("Allow")); err != nil {
			return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
	}
	ref := v.doc.Components.Responses[name]
	if ref == nil {
		return fmt.Errorf("the OpenAPI document has no components.responses.%s", name)
	}
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses(openapi3.WithStatus(status, ref))
	route := &routers.Route{Spec: v.doc, Path: req.URL.Path, Method: req.Method, Operation: op}
	return v.validate(req, route, nil, resp, respBody)
}

// findRoute is the router's FindRoute, made as strict as net/http.ServeMux:
// the router ignores a trailing slash, the server does not.
func (v *Validator) findRoute(req *http.Request) (*routers.Route, map[string]string, error) {
	route, pathParams, err := v.router.FindRoute(req)
	if err != nil {
		return nil, nil, err
	}
	if strings.HasSuffix(route.Path, "/") != strings.HasSuffix(req.URL.Path, "/") {
		return nil, nil, routers.ErrPathNotFound
	}
	return route, pathParams, nil
}

// sameTrailingSlash reports whether path and the document's path of item
// agree on a trailing slash.
func (v *Validator) sameTrailingSlash(path string, item *openapi3.PathItem) bool {
	for p, it := range v.doc.Paths.Map() {
		if it == item {
			return strings.HasSuffix(p, "/") == strings.HasSuffix(path, "/")
		}
	}
	return false
}

// checkAllow compares an Allow header with the methods of pathItem.
func checkAllow(pathItem *openapi3.PathItem, allow string) error {
	var want []string
	for method := range pathItem.Operations() {
		want = append(want, method)
		if method == http.MethodGet {
			want = append(want, http.MethodHead)
		}
	}
	var got []string
	for m := range strings.SplitSeq(allow, ",") {
		if m = strings.TrimSpace(m); m != "" {
			got = append(got, m)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		return fmt.Errorf("the Allow header lists %q, the document %q", got, want)
	}
	return nil
}

// validate checks resp against the responses of route's operation.
func (v *Validator) validate(req *http.Request, route *routers.Route, pathParams map[string]string,
	resp *http.Response, respBody []byte) error {
	responses := route.Operation.Responses
	if responses.Status(resp.StatusCode) == nil && responses.Default() == nil {
		return fmt.Errorf("%s %s: status %d is not documented for %s %s",
			req.Method, req.URL.Path, resp.StatusCode, route.Method, route.Path)
	}
	if req.Method == http.MethodHead {
		// No body to check; ValidateResponse skips HEAD altogether.
		return checkContentType(responses.Status(resp.StatusCode), resp.Header.Get("Content-Type"))
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
		},
		Status: resp.StatusCode,
		Header: resp.Header,
		Body:   io.NopCloser(bytes.NewReader(respBody)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		return fmt.Errorf("%s %s: response does not match the OpenAPI document: %w", req.Method, req.URL.Path, err)
	}
	// ValidateResponse accepts any Content-Type when no content is documented.
	return checkContentType(responses.Status(resp.StatusCode), resp.Header.Get("Content-Type"))
}

// checkContentType requires ct to be one of ref's media types, or empty
// when ref documents no content.
func checkContentType(ref *openapi3.ResponseRef, ct string) error {
	if ref == nil || ref.Value == nil {
		return nil
	}
	content := ref.Value.Content
	switch {
	case len(content) == 0 && ct != "":
		return fmt.Errorf("Content-Type %q on a response documented without content", ct)
	case len(content) > 0 && content.Get(ct) == nil:
		return fmt.Errorf("Content-Type %q is not documented; want one of %q", ct, slices.Sorted(maps.Keys(content)))
	}
	return nil
}

// describe renders an exchange for a failure message.
func describe(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) string {
	var b strings.Builder
	fmt.Fprintf(&b, "request: %s %s", req.Method, req.URL.RequestURI())
	if ct := req.Header.Get("Content-Type"); ct != "" {
		fmt.Fprintf(&b, " (Content-Type %s)", ct)
	}
	if len(reqBody) > 0 {
		fmt.Fprintf(&b, "\n  body: %s", shorten(reqBody))
	}
	fmt.Fprintf(&b, "\nresponse: %d (Content-Type %s)\n  body: %s",
		resp.StatusCode, resp.Header.Get("Content-Type"), shorten(respBody))
	return b.String()
}

func shorten(b []byte) string {
	if len(b) > maxShown {
		return fmt.Sprintf("%s… (%d bytes)", b[:maxShown], len(b))
	}
	return string(b)
}

// Response is what Client returns: the status, headers and whole body.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// Client performs requests against a server under test and validates every
// response with a Validator.
type Client struct {
	// BaseURL is prepended to the paths given to Get, Post and Request,
	// e.g. an httptest.Server's URL.
	BaseURL   string
	HTTP      *http.Client
	Validator *Validator
}

// NewClient returns a Client for the server at baseURL. A nil hc means
// http.DefaultClient.
func NewClient(v *Validator, baseURL string, hc *http.Client) *Client {
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{BaseURL: strings.TrimSuffix(baseURL, "/"), HTTP: hc, Validator: v}
}

// Do performs req, reads the whole response, validates it with Check and
// returns it. A transport error is fatal.
func (c *Client) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, reqBody, respBody := c.roundTrip(t, req) //nolint:bodyclose // roundTrip reads and closes the body
	c.Validator.Check(t, req, reqBody, resp, respBody)
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: respBody}
}

// DoUnrouted is Do for a request that deliberately matches no operation of
// the document (an unknown path or a wrong method); see CheckUnrouted.
func (c *Client) DoUnrouted(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, reqBody, respBody := c.roundTrip(t, req) //nolint:bodyclose // roundTrip reads and closes the body
	c.Validator.CheckUnrouted(t, req, reqBody, resp, respBody)
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: respBody}
}

// Get performs a validated GET of path.
func (c *Client) Get(t testing.TB, path string) *Response {
	t.Helper()
	return c.Do(t, c.NewRequest(t, http.MethodGet, path, "", nil))
}

// Post performs a validated POST of body to path. An empty contentType
// sends no Content-Type header.
func (c *Client) Post(t testing.TB, path, contentType string, body []byte) *Response {
	t.Helper()
	return c.Do(t, c.NewRequest(t, http.MethodPost, path, contentType, body))
}

// NewRequest builds a request for path on the client's server. A nil body
// sends none; an empty contentType sends no Content-Type header.
func (c *Client) NewRequest(t testing.TB, method, path, contentType string, body []byte) *http.Request {
	t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, c.BaseURL+path, r)
	if err != nil {
		t.Fatalf("new request %s %s: %v", method, path, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func (c *Client) roundTrip(t testing.TB, req *http.Request) (*http.Response, []byte, []byte) {
	t.Helper()
	reqBody, err := requestBody(req)
	if err != nil {
		t.Fatalf("%s %s: read request body: %v", req.Method, req.URL, err)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	respBody, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read response body: %v", req.Method, req.URL, err)
	}
	return resp, reqBody, respBody
}

// requestBody returns a copy of req's body for failure messages, without
// consuming it. Bodies that cannot be replayed are not shown.
func requestBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody == nil {
		return nil, nil
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}
