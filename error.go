package workspace

import (
	"errors"
	"fmt"
	"time"
)

// Application error codes. They are stable: clients read them from the
// "code" member of a problem document, and httpapi maps each to one status.
const (
	ECONFLICT       = "conflict"        // unique or state conflict (409)
	EINTERNAL       = "internal"        // a bug or an unexpected failure (500)
	EINVALID        = "invalid"         // malformed or invalid input (400)
	ENOTFOUND       = "not_found"       // no such resource, or not yours (404)
	ENOTIMPLEMENTED = "not_implemented" // not available on this engine (501)
	EUNAUTHORIZED   = "unauthorized"    // no or bad credentials (401)
	EFORBIDDEN      = "forbidden"       // authenticated but not allowed (403)
	ETOOMANY        = "rate_limited"    // throttled; see Error.RetryAfter (429)
	EUNAVAILABLE    = "unavailable"     // database unreachable (503)
	EUNPROCESSABLE  = "unprocessable"   // well-formed but refused by the data (422)
)

// Error is the one application error. Message is safe to show to a client;
// anything else (driver errors, paths) stays in wrapped errors that are
// only logged.
type Error struct {
	Code    string
	Message string
	// Fields lists per-field problems for EINVALID.
	Fields []FieldError
	// RetryAfter is set with ETOOMANY and EUNAVAILABLE.
	RetryAfter time.Duration
}

// FieldError names one invalid input field and says what is wrong with it.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("workspace error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error for one field.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Code: EINVALID, Message: field + ": " + msg, Fields: []FieldError{{Field: field, Message: msg}}}
}

// ErrorCode returns the code of an application error, EINTERNAL for any
// other non-nil error and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the client-safe message of an application error, or
// "Internal error." for any other error.
func ErrorMessage(err error) string {
	var e *Error
	if err == nil {
		return ""
	} else if errors.As(err, &e) {
		return e.Message
	}
	return "Internal error."
}

// Validation accumulates field errors; Err returns nil when there are none.
type Validation struct{ fields []FieldError }

// Add records a problem with field.
func (v *Validation) Add(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Err returns an EINVALID *Error listing every recorded field, or nil.
func (v *Validation) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msg := "Validation failed: " + v.fields[0].Field + ": " + v.fields[0].Message
	if len(v.fields) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(v.fields)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Fields: v.fields}
}

// Conflict returns an ECONFLICT error about one field (a taken username).
func Conflict(field, msg string) *Error {
	return &Error{Code: ECONFLICT, Message: field + " " + msg + ".", Fields: []FieldError{{Field: field, Message: msg}}}
}
