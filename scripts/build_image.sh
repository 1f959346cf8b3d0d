#!/usr/bin/env bash
# Builds the vitals container image offline with buildah, from a static binary built here.
#
#   scripts/build_image.sh [TAG]      default TAG: localhost/vitals:<version>
#
# 1. cargo builds a static binary: RUSTFLAGS='-C target-feature=+crt-static' on the gnu target
#    (--target keeps it in target/x86_64-unknown-linux-gnu/, apart from the normal release
#    build, and keeps the flag off build scripts and proc macros);
# 2. the binary is checked to be static (file, ldd) and stripped into an empty context dir;
# 3. buildah builds the Dockerfile's final stage from it (BINARY_FROM=prebuilt), FROM scratch,
#    so nothing is pulled. --isolation chroot needs no runc and no container engine.
# Prints the image name, then its size. Needs: cargo, buildah, file, binutils (strip).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
tag=${1:-localhost/vitals:$version}
target=x86_64-unknown-linux-gnu
bin=target/$target/release/vitals

RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --quiet --target "$target"

# file says "statically linked" (or "static-pie linked"); ldd says "not a dynamic executable"
# or "statically linked". Anything with an interpreter or NEEDED libraries fails here.
file "$bin" | grep -Eq 'static(-pie)? linked' || { file "$bin"; echo "not a static binary" >&2; exit 1; }
if ldd "$bin" 2>&1 | grep -q '=>'; then ldd "$bin"; echo "binary needs shared libraries" >&2; exit 1; fi

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
strip -o "$ctx/vitals" "$bin"

# buildah 1.28 leaves the "prebuilt" stage behind (an untagged image and a working container
# on it); remove what this build added, and nothing that was there before.
containers_before=$(buildah containers -q)
dangling_before=$(buildah images -q --filter dangling=true)
buildah bud --quiet --isolation chroot --layers=false \
    --build-arg BINARY_FROM=prebuilt \
    --build-arg VERSION="$version" \
    --build-arg REVISION="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)" \
    -f "$PWD/Dockerfile" -t "$tag" "$ctx" >/dev/null
for c in $(buildah containers -q); do
    grep -qx "$c" <<<"$containers_before" || buildah rm "$c" >/dev/null
done
for i in $(buildah images -q --filter dangling=true); do
    grep -qx "$i" <<<"$dangling_before" || buildah rmi "$i" >/dev/null
done
echo "$tag"
buildah images --format '{{.Size}}' "$tag"
