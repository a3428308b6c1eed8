package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/chorusdb/chorus/internal/core"
)

// Errors of this package that are not the core's.
var (
	// errNotFound: the key is absent (or deleted), or no route matches.
	errNotFound = errors.New("not_found")
	// errMethod: the route does not accept the request's method.
	errMethod = errors.New("method_not_allowed")
	// errUnauthorized: authentication is required and the request had no valid token.
	errUnauthorized = errors.New("unauthorized")
)

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// classify is the one place where the HTTP server maps errors to status codes and
// the "error" field of CONTRACT.md.
func classify(err error) (status int, code, sentinel string) {
	switch {
	case errors.Is(err, core.ErrUnavailable):
		return http.StatusServiceUnavailable, "unavailable", core.ErrUnavailable.Error()
	case errors.Is(err, core.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusGatewayTimeout, "timeout", core.ErrTimeout.Error()
	case errors.Is(err, core.ErrTooLarge):
		return http.StatusRequestEntityTooLarge, "too_large", core.ErrTooLarge.Error()
	case errors.Is(err, core.ErrWrongType):
		return http.StatusConflict, "wrong_type", core.ErrWrongType.Error()
	case errors.Is(err, core.ErrSiblingCap):
		return http.StatusConflict, "too_many_siblings", core.ErrSiblingCap.Error()
	case errors.Is(err, core.ErrBadRequest):
		return http.StatusBadRequest, "bad_request", core.ErrBadRequest.Error()
	case errors.Is(err, errNotFound):
		return http.StatusNotFound, "not_found", errNotFound.Error()
	case errors.Is(err, errMethod):
		return http.StatusMethodNotAllowed, "method_not_allowed", errMethod.Error()
	case errors.Is(err, errUnauthorized):
		return http.StatusUnauthorized, "unauthorized", errUnauthorized.Error()
	}
	return http.StatusInternalServerError, "internal", ""
}

// writeError answers with err as {"error": code, "message": reason}. The reason is
// err's text without the leading code the core's errors carry ("UNAVAILABLE need 3
// replicas for ALL, 2 alive" → "need 3 replicas for ALL, 2 alive"). Internal errors
// are logged when log is not nil.
func writeError(w http.ResponseWriter, log *slog.Logger, err error) {
	status, code, sentinel := classify(err)
	msg := err.Error()
	if sentinel != "" {
		msg = strings.TrimPrefix(msg, sentinel)
		msg = strings.TrimLeft(msg, " :")
	}
	if msg == "" {
		msg = strings.ReplaceAll(code, "_", " ")
	}
	if status == http.StatusInternalServerError && log != nil {
		log.Error("httpapi: internal error", "err", err)
	}
	writeJSON(w, status, errorBody{Error: code, Message: msg})
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // only for types this package does not use
		status, b = http.StatusInternalServerError, []byte(`{"error":"internal","message":"encoding the response failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
