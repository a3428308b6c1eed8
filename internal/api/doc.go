// Package api holds what the client-facing servers (api/resp, api/http) share: the
// Backend they drive, which a node implements, and request limits.
package api
