package resp

import (
	"context"
	"errors"
	"strings"

	"github.com/tidwall/redcon"

	"github.com/chorusdb/chorus/internal/api"
	"github.com/chorusdb/chorus/internal/core"
)

// appendError appends err as a RESP error reply. It is the one place where the RESP
// server maps errors to the codes of CONTRACT.md: errors wrapping a core sentinel are
// sent verbatim (their text already starts with the code and a readable reason, e.g.
// "UNAVAILABLE need 3 replicas for ALL, 2 alive"), prefixed with the code if they do
// not start with it; a context error counts as TIMEOUT; anything else is reported as
// "ERR internal error: …".
func appendError(dst []byte, err error) []byte {
	msg := err.Error()
	code := errorCode(err)
	switch {
	case code == "":
		msg = "ERR internal error: " + msg
	case msg != code && !strings.HasPrefix(msg, code+" "):
		msg = code + " " + msg
	}
	return redcon.AppendError(dst, msg)
}

// errorCode returns the RESP error code of a sentinel-wrapping error, or "" for an
// error that wraps none.
func errorCode(err error) string {
	switch {
	case errors.Is(err, core.ErrUnavailable):
		return "UNAVAILABLE"
	case errors.Is(err, core.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return "TIMEOUT"
	case errors.Is(err, core.ErrTooLarge):
		return "TOOLARGE"
	case errors.Is(err, core.ErrWrongType):
		return "WRONGTYPE"
	case errors.Is(err, core.ErrBadRequest):
		return "ERR"
	case errors.Is(err, errNoAuth):
		return "NOAUTH"
	case errors.Is(err, api.ErrAuth):
		return "WRONGPASS"
	}
	return ""
}
