// Package httpapi serves Chorus's HTTP JSON API (CONTRACT.md) on an api.Backend:
//
//	PUT    /v1/kv/{keyspace}/{key}?w=LEVEL  body: one JSON value → 200 {"context": "…"}
//	GET    /v1/kv/{keyspace}/{key}?r=LEVEL  → 200 the value (header X-Chorus-Context),
//	                                           300 {"siblings": […], "context": "…"}, 404
//	DELETE /v1/kv/{keyspace}/{key}?w=LEVEL  → 200 {"existed": bool}
//	GET    /v1/cluster                       → {"node", "replication_factor", "members"}
//	GET    /healthz                          → {"status": "ok", "node": id}
//	GET    /metrics                          → Prometheus text from Config.Gatherer
//
// Other routes (keyspaces, hints, read repairs) are added through Config.Extra.
//
// The key is everything after the keyspace segment, percent-decoded, so it may hold
// '/'; key paths are never cleaned or redirected. A request is refused with 400
// bad_request, never served with a silent default, for a query parameter other than
// the route's r or w, one given twice, an unknown level, ANY as a read level, a body
// that is not one JSON value or a malformed X-Chorus-Context header. Keys over
// Limits.MaxKeyBytes and bodies over Limits.MaxValueBytes are refused with 413
// too_large before anything reaches the Backend. Errors are JSON {"error", "message"}:
// unavailable 503, timeout 504, bad_request 400, too_large 413, wrong_type 409,
// not_found 404, method_not_allowed 405, internal 500.
//
// Values written over RESP need not be JSON; GET returns such a value as a JSON
// string. The X-Chorus-Context header of PUT and DELETE is validated but not yet
// forwarded: core.Request has no field for a causal context.
//
// The package is named httpapi so that it does not shadow net/http.
package httpapi
