// Package apperr defines the one error type that crosses package boundaries
// in bss-api. Domain packages classify failures with a Code; the HTTP layer
// maps codes to status codes in exactly one place.
package apperr

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error by its cause, independent of transport.
type Code string

// Error codes. Internal is the zero-value fallback for unclassified errors.
const (
	Invalid  Code = "invalid"   // the caller sent something that breaks a rule
	NotFound Code = "not_found" // the named thing does not exist
	// Conflict: the request cannot be done in the server's current
	// configuration, such as a write to strategies kept elsewhere.
	Conflict Code = "conflict"
	TooLarge Code = "too_large" // the request body is over the limit
	Timeout  Code = "timeout"   // the request did not arrive in time (a body too slow)
	// Unauthenticated: no credential, or one that does not check out.
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"   // a known caller without the permission
	TooMany         Code = "too_many"    // a rate limit was reached; retry later
	Unsupported     Code = "unsupported" // the media type is not accepted
	Unavailable     Code = "unavailable" // a dependency is down; retry later
	Internal        Code = "internal"    // a bug or an unexpected failure
)

// Error is an error with a Code and a message safe to show to clients.
type Error struct {
	Code    Code
	Message string
	Err     error // optional cause, never shown to clients
	// RetryAfter, when set, is how long the client should wait before it
	// tries again (TooMany, Unavailable).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an *Error with the given code that keeps err as its cause.
func Wrap(code Code, err error, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-safe message of err: the message of the first
// *Error in its chain, or a generic text for anything unclassified.
func MessageOf(err error) string {
	if e, ok := errors.AsType[*Error](err); ok && e.Code != Internal {
		return e.Message
	}
	return "internal server error"
}

// RetryAfterOf returns the RetryAfter of the first *Error in err's chain.
func RetryAfterOf(err error) time.Duration {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.RetryAfter
	}
	return 0
}
