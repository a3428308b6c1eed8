#!/usr/bin/env bash
# Builds the Chorus container image without a build stage (no image can be pulled): a
# static binary (CGO_ENABLED=0) is built on the host into a fresh context directory
# together with the Dockerfile's inputs, then `docker build` makes a FROM-scratch image.
#
#   scripts/docker-build.sh [TAG]     # default chorus:latest; prints the tag when done
#
# CHORUS_VERSION (default: git describe, else dev) is stamped into the binary.
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-chorus:latest}
version=${CHORUS_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT

echo "docker-build: building the static binary ($version)" >&2
CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X github.com/chorusdb/chorus/cli.Version=$version" -o "$ctx/chorus" ./cmd/chorus
mkdir "$ctx/data"
cp Dockerfile "$ctx/Dockerfile"

echo "docker-build: docker build -t $tag" >&2
docker build --quiet --tag "$tag" "$ctx" >&2
echo "$tag"
