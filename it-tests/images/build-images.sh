#!/usr/bin/env bash
# Builds the local test images from Debian packages (this machine kind reaches no image registry).
# Idempotent: an image whose tag already exists is left alone; FORCE=1 rebuilds.
#   local/postgres:15  PostgreSQL 15 server and client tools plus curl, for test servers and tool sidecars.
#                      No entrypoint: tests run initdb/postgres themselves, as user postgres.
set -euo pipefail

IMAGE="${PGWARDEN_PG_IMAGE:-local/postgres:15}"
SUITE="${DEBIAN_SUITE:-bookworm}"

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "image $IMAGE exists, not rebuilding (FORCE=1 to rebuild)"
  exit 0
fi

# Use the machine's own Debian mirror: the default one may not be reachable from a closed network.
# Only enabled *.sources / sources.list entries, and only a Debian main archive (not -security, not third-party repos).
mirror=$(grep -hoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed -E 's/^URIs: *//' || true)
[[ -n "$mirror" ]] || mirror=$(grep -hoE '^deb +http[^ ]*/debian/? ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian

root=$(mktemp -d /tmp/pgwarden-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT

echo "debootstrap $SUITE from $mirror into $root"
debootstrap --variant=minbase --include=postgresql-15,curl,ca-certificates,zstd "$SUITE" "$root" "$mirror" >/tmp/pgwarden-debootstrap.log 2>&1 \
  || { tail -n 30 /tmp/pgwarden-debootstrap.log; echo "debootstrap failed" >&2; exit 1; }
# Shrink the image: apt caches and docs are not needed in a test image.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*

tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'LABEL io.pgwarden.test-image=postgres-15' \
  - "$IMAGE"

docker run --rm "$IMAGE" postgres --version
echo "built $IMAGE"
