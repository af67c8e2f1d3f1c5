package bssctl

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"

	"github.com/bss-api/bss-api/client"
)

// Exit statuses. Scripts may rely on them; docs/bssctl.md lists them.
const (
	ExitOK          = 0
	ExitError       = 1 // the server refused the request, or anything else went wrong
	ExitUsage       = 2 // bad command line, file or config: nothing was sent
	ExitNotFound    = 3 // 404: no such strategy, PID or sample
	ExitAuth        = 4 // 401 or 403
	ExitUnreachable = 5 // no connection to the server
)

// usageError is a mistake on the command line, in an input file or in the
// config file: nothing was sent to the server.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErr(err error) error { return &usageError{err} }

func usagef(format string, args ...any) error { return &usageError{fmt.Errorf(format, args...)} }

// runtimeError is an error of a command's run, as opposed to cobra's own
// parsing errors.
type runtimeError struct{ err error }

func (e *runtimeError) Error() string { return e.err.Error() }
func (e *runtimeError) Unwrap() error { return e.err }

// notFoundError is a 404 a command explained itself (strategy "x" not
// found).
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }

// exitCode maps err to the process's exit status.
func exitCode(err error) int {
	var u *usageError
	var r *runtimeError
	var nf *notFoundError
	var apiErr *client.APIError
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case !errors.As(err, &r):
		return ExitUsage // cobra's: unknown command, bad flag, wrong arguments
	case errors.As(err, &nf):
		return ExitNotFound
	case errors.As(err, &apiErr):
		switch apiErr.StatusCode {
		case http.StatusNotFound:
			return ExitNotFound
		case http.StatusUnauthorized, http.StatusForbidden:
			return ExitAuth
		}
		return ExitError
	case isConnError(err):
		return ExitUnreachable
	}
	return ExitError
}

// isConnError reports whether err is a failure to reach the server (no
// answer at all), TLS handshake failures included.
func isConnError(err error) bool {
	var opErr *net.OpError
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var urlErr *url.Error
	return errors.As(err, &urlErr) || errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &certErr) ||
		errors.As(err, &unknownAuth) || errors.As(err, &hostErr)
}

// describe turns err into the one line printed after "error: ".
func (a *app) describe(err error) string {
	var apiErr *client.APIError
	var nf *notFoundError
	switch {
	case errors.As(err, &nf):
		return nf.msg
	case errors.As(err, &apiErr):
		return a.describeAPI(apiErr)
	case isConnError(err):
		return a.describeConn(err)
	}
	return oneLine(err.Error())
}

func (a *app) describeAPI(e *client.APIError) string {
	msg := oneLine(e.Message)
	switch e.StatusCode {
	case http.StatusUnauthorized:
		if a.conn.resolved.hasCredential() {
			return fmt.Sprintf("unauthorized (401): the server refused %s", a.conn.resolved.credentialSource)
		}
		return "unauthorized (401): the server wants a token; set --token or BSS_TOKEN"
	case http.StatusForbidden:
		return fmt.Sprintf("forbidden (403): %s", msg)
	case http.StatusNotFound:
		return fmt.Sprintf("not found (404): %s", msg)
	}
	if e.RetryAfter > 0 {
		return fmt.Sprintf("%s (%d %s; retry after %s)", msg, e.StatusCode, http.StatusText(e.StatusCode), e.RetryAfter)
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.StatusCode, http.StatusText(e.StatusCode))
}

func (a *app) describeConn(err error) string {
	server := a.conn.resolved.server
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("cannot connect to %s: connection refused (is bss-api running?)", server)
	case errors.As(err, &unknownAuth) || errors.As(err, &certErr) && errors.As(certErr.Err, &unknownAuth):
		return fmt.Sprintf("cannot connect to %s: the server's certificate is signed by an unknown authority; set --ca-file or the context's caFile", server)
	case errors.As(err, &hostErr):
		return fmt.Sprintf("cannot connect to %s: %s", server, oneLine(hostErr.Error()))
	}
	// The client's error reads "bss-api: GET /path: <net error>"; the
	// net error's own text is the useful part.
	var opErr *net.OpError
	var urlErr *url.Error
	switch {
	case errors.As(err, &opErr) && opErr.Err != nil:
		return fmt.Sprintf("cannot connect to %s: %s", server, oneLine(opErr.Err.Error()))
	case errors.As(err, &urlErr) && urlErr.Err != nil:
		return fmt.Sprintf("cannot connect to %s: %s", server, oneLine(urlErr.Err.Error()))
	}
	return fmt.Sprintf("cannot connect to %s: %s", server, oneLine(err.Error()))
}

// oneLine keeps an error to one line: its lines joined with spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
