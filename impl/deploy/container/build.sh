#!/bin/sh
# Builds the bun13 registry image from this checkout, offline: a static
# binary, then an image FROM scratch (impl/deploy/container/Containerfile).
#
#   impl/deploy/container/build.sh [TAG]          (default localhost/bun13:dev)
#
# CONTAINER_ENGINE picks the tool (default podman; docker works too),
# CA_BUNDLE the certificates copied in (default the build host's), GOARCH
# the architecture.
set -eu
cd "$(dirname "$0")/../../.."
tag=${1:-localhost/bun13:dev}
engine=${CONTAINER_ENGINE:-podman}
ca=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT INT TERM

CGO_ENABLED=0 go build -trimpath -ldflags=-s -o "$ctx/bun13" ./impl/cmd/bun13
mkdir -p "$ctx/impl/deploy/container"
cp -R impl/deploy/container/rootfs "$ctx/impl/deploy/container/rootfs"
mkdir -p "$ctx/impl/deploy/container/rootfs/etc/ssl/certs"
cp "$ca" "$ctx/impl/deploy/container/rootfs/etc/ssl/certs/ca-certificates.crt"

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
format=
case $(basename "$engine") in podman*) format="--format docker" ;; esac
# shellcheck disable=SC2086 # $format is one flag or nothing
$engine build $format -f impl/deploy/container/Containerfile -t "$tag" \
  --build-arg VERSION="$version" --build-arg REVISION="$revision" "$ctx"
echo "built $tag ($version)"
