// Package grafana holds the Grafana dashboard for Chorus (chorus.json: import it in
// Grafana, pick a Prometheus data source) and a test that every metric its queries use
// is one a running node registers. See docs/operations.md.
package grafana
