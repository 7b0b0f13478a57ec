#!/usr/bin/env bash
# Installs the Debian packages the project runs for real: redis-server for ArgoCD on the
# embedded cluster (make up, make argocd), nginx for `nginx -t` on the order service's
# rendered nginx.conf (make test). Idempotent; a no-op when everything is there.
# Not root: through sudo (which may ask for the password).
set -euo pipefail
need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ ${#need[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: ${need[*]} missing and there is no apt-get: install them with the system's package manager" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "test-deps: ${need[*]} missing; installing needs root and there is no sudo: run as root: apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  sudo="sudo"
fi
echo "test-deps: installing Debian's ${need[*]} (${sudo:+sudo }apt-get update; apt-get install)" >&2
export DEBIAN_FRONTEND=noninteractive
# A fresh machine has no package lists: install alone fails with "Unable to locate package".
if ! $sudo apt-get update -qq >/dev/null; then
  echo "test-deps: apt-get update failed (see above); install by hand: ${sudo:+sudo }apt-get install ${need[*]}" >&2
  exit 1
fi
if ! $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; then
  echo "test-deps: apt-get install ${need[*]} failed (see above)" >&2
  exit 1
fi
echo "test-deps: installed ${need[*]}" >&2
