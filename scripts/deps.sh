#!/usr/bin/env bash
# Installs the Debian packages the build needs, or says the one line to run.
# Called by `make` before building; fast when everything is present (dpkg lookups only).
# The npm toolchain (solc, anvil, cast) is scripts/npm-deps.sh's job; this script only brings node
# and npm themselves.
set -euo pipefail
pkgs=(build-essential pkg-config clang libclang-rt-14-dev
      libzmq3-dev libsodium-dev liblmdb-dev libcurl4-openssl-dev libcriterion-dev
      libsecp256k1-dev nettle-dev libjansson-dev libinih-dev uthash-dev libgmp-dev
      jq)  # jq: scripts/demo.sh reads JSON (anvil's accounts, receipts, audit summaries)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node and npm from Debian (`nodejs`, `npm`). A machine that already has both on PATH keeps them:
# some node builds bundle npm and conflict with Debian's separate npm package.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  echo "deps: missing Debian packages; run as root:" >&2
  echo "  apt-get install -y ${missing[*]}" >&2
  exit 1
fi
