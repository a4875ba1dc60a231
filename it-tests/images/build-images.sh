#!/usr/bin/env bash
# Builds the local test images from Debian packages (this machine kind reaches no image registry).
# Idempotent: an image whose tag already exists is left alone; FORCE=1 rebuilds.
#   local/postgres:15     PostgreSQL 15 server and client tools plus curl, for test servers and tool sidecars.
#                         No entrypoint: tests run initdb/postgres themselves, as user postgres.
#   local/postgres:13, :17  the same for PostgreSQL 13 (Debian 11 "bullseye") and 17 (Debian 13 "trixie"): the
#                         focused end-to-end runs on other majors (no reachable package source has 14 or 16).
#   local/pgwarden-jre    Debian minbase plus a Java runtime made with jlink from this machine's JDK (21 or newer):
#                         the BASE_IMAGE daemon/Dockerfile is built on in the container tests.
set -euo pipefail

JRE_IMAGE="${PGWARDEN_JRE_IMAGE:-local/pgwarden-jre}"
# PostgreSQL major -> the Debian suite that packages it.
declare -A SUITES=([13]=bullseye [15]=bookworm [17]=trixie)
MAJORS="${PGWARDEN_PG_MAJORS:-15 13 17}"

# Use the machine's own Debian mirror: the default one may not be reachable from a closed network.
# Only enabled *.sources / sources.list entries, and only a Debian main archive (not -security, not third-party repos).
mirror=$(grep -hoE '^URIs: *http[^ ]*/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | sed -E 's/^URIs: *//' || true)
[[ -n "$mirror" ]] || mirror=$(grep -hoE '^deb +http[^ ]*/debian/? ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}' || true)
[[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian

exists() { [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$1" >/dev/null 2>&1; }

# rootfs SUITE PACKAGES: a minbase Debian tree with the packages, without apt caches and docs; prints its directory.
rootfs() {
  local root log
  root=$(mktemp -d /tmp/pgwarden-rootfs.XXXXXX)
  log=/tmp/pgwarden-debootstrap-$1.log
  echo "debootstrap $1 ($2) from $mirror into $root" >&2
  debootstrap --variant=minbase --include="$2" "$1" "$root" "$mirror" >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; echo "debootstrap of $1 failed" >&2; rm -rf "$root"; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  echo "$root"
}

# A JDK with jlink, 21 or newer: JAVA_HOME, then /usr/lib/jvm (newest first).
find_jdk() {
  local d v
  for d in ${JAVA_HOME:-} $(ls -d /usr/lib/jvm/* 2>/dev/null | sort -rV); do
    [[ -x "$d/bin/jlink" && -x "$d/bin/java" ]] || continue
    v=$("$d/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    [[ -n "$v" && "$v" -ge 21 ]] && { echo "$d"; return 0; }
  done
  return 1
}

# postgres_image MAJOR: local/postgres:MAJOR from the suite that packages it.
postgres_image() {
  local major=$1 image="local/postgres:$1" suite=${SUITES[$1]:-} root
  [[ -n "$suite" ]] || { echo "no Debian suite packages PostgreSQL $major (known: ${!SUITES[*]})" >&2; exit 1; }
  if exists "$image"; then
    echo "image $image exists, not rebuilding (FORCE=1 to rebuild)"
    return
  fi
  root=$(rootfs "$suite" "postgresql-$major,curl,ca-certificates,zstd")
  tar -C "$root" -c . | docker import \
    --change "ENV PATH=/usr/lib/postgresql/$major/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change 'ENV PGDATA=/var/lib/postgresql/data' \
    --change "LABEL io.pgwarden.test-image=postgres-$major" \
    - "$image"
  rm -rf "$root"
  docker run --rm "$image" postgres --version
  echo "built $image"
}

for major in $MAJORS; do postgres_image "$major"; done

if exists "$JRE_IMAGE"; then
  echo "image $JRE_IMAGE exists, not rebuilding (FORCE=1 to rebuild)"
else
  jdk=$(find_jdk) || { echo "no JDK 21+ with jlink in JAVA_HOME or /usr/lib/jvm" >&2; exit 1; }
  root=$(rootfs bookworm ca-certificates,passwd)
  # java.se covers what the daemon's libraries use (JDBC, JNDI for logback, HTTP, XML); jdk.unsupported has
  # sun.misc.Signal; jdk.crypto.ec and jdk.zipfs for TLS and the JDK's zip file system.
  modules=java.se,jdk.unsupported,jdk.zipfs,jdk.net,jdk.management
  "$jdk/bin/java" --list-modules | grep -q '^jdk.crypto.ec@' && modules="$modules,jdk.crypto.ec"
  "$jdk/bin/jlink" --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --output "$root/opt/java"
  tar -C "$root" -c . | docker import \
    --change 'ENV JAVA_HOME=/opt/java' \
    --change 'ENV PATH=/opt/java/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'LABEL io.pgwarden.test-image=jre' \
    - "$JRE_IMAGE"
  rm -rf "$root"
  docker run --rm "$JRE_IMAGE" java -version
  echo "built $JRE_IMAGE (runtime from $jdk)"
fi
