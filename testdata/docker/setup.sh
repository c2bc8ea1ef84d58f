#!/usr/bin/env bash
# Makes docker usable for the container tests on a Debian machine without a
# registry: installs docker.io and busybox-static if needed, starts dockerd
# (vfs storage, no iptables, no bridge) if it is not running, and builds the
# image ctrace-busybox:test from /bin/busybox with `docker import`.
# Idempotent. Prints the image name on success.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
IMAGE=${CTRACE_TEST_IMAGE:-ctrace-busybox:test}

missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  log=/var/log/ctrace-test-dockerd.log
  nohup dockerd --storage-driver=vfs --iptables=false --bridge=none >"$log" 2>&1 &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || { echo "dockerd did not start; see $log" >&2; tail -20 "$log" >&2; exit 1; }
fi

if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/proc" "$root/sys" "$root/dev"
  cp /bin/busybox "$root/bin/busybox"
  for applet in $("$root/bin/busybox" --list); do
    [ -e "$root/bin/$applet" ] || ln -s busybox "$root/bin/$applet"
  done
  echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
  tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
fi
echo "$IMAGE"
