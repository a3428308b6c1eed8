package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"

	"github.com/chorusdb/chorus/internal/api"
)

// Prefix is the path the console is served under; Handler's routes all start with it.
const Prefix = "/ui/"

//go:embed static
var static embed.FS

// contentSecurityPolicy lets the page load only the node's own files and call only the
// node's own API.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler returns the console's routes for b, to be mounted at Prefix on the node's
// HTTP mux: the page and its files under /ui/, and GET /ui/api/ring. It is safe for
// concurrent use.
func Handler(b api.Backend) http.Handler {
	files, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree always has static/
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Prefix, http.StripPrefix(Prefix, http.FileServerFS(files)))
	mux.HandleFunc("GET "+Prefix+"api/ring", func(w http.ResponseWriter, r *http.Request) { serveRing(w, r, b) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache") // embedded files have no modification time
		mux.ServeHTTP(w, r)
	})
}

// writeJSON writes v as the JSON body with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// badRequest answers 400 in the API's error shape.
func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": "bad_request", "message": msg})
}
