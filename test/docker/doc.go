// Package docker holds the end-to-end test of the container image: it builds the image
// with scripts/docker-build.sh, brings up deploy/docker-compose.yml's three-node
// cluster (with docker compose or docker-compose) on a network of its own, talks to it
// with redis-cli and HTTP on loopback, stops one container, and tears everything down.
// It skips, saying why, where no Docker engine or compose tool is reachable.
package docker
