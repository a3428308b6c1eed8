// Package e2e holds end-to-end tests: they build the chorus binary, run real server
// processes on loopback and drive them as users do (go-redis, redis-cli, HTTP, the
// chorus CLI).
package e2e
