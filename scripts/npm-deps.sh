#!/usr/bin/env bash
# Installs the pinned npm toolchain (package-lock.json) into the project's own node_modules:
# solc (solcjs) for the contracts, anvil (local EVM nodes for tests) and cast (the independent
# client the tests sign and send with), OpenZeppelin and Chainlink contract sources.
# Called by `make deps`; a no-op when node_modules was installed from this exact lock file
# (node_modules/.rl-lock.sha256 holds the lock file's hash) and the native binaries still run.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.rl-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)

# anvil and cast ship as one optional package per platform (npm installs only the one whose
# os/cpu match); the wrappers in node_modules/.bin are node scripts that spawn them. Tests run the
# native binary directly (tests/evm_harness.c finds it with the same pattern).
tools_run() {
  local t
  for t in anvil cast; do
    set -- node_modules/@foundry-rs/$t-*/bin/$t
    [ $# -eq 1 ] && "$1" --version >/dev/null 2>&1 || return 1
  done
}

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && tools_run; then
  exit 0
fi
command -v npm >/dev/null || { echo "npm-deps: npm is missing: run scripts/deps.sh as root" >&2; exit 1; }
echo "npm-deps: npm ci (package-lock.json changed or node_modules incomplete)" >&2
# --ignore-scripts: nothing runs at install time; the foundry packages' postinstall would only
# fetch the platform binary that the optional dependency already brought (checked below).
npm ci --ignore-scripts --no-audit --no-fund >&2
if ! tools_run; then
  echo "npm-deps: node_modules/@foundry-rs/{anvil,cast}-*/bin: the platform binaries did not install or do not run" >&2
  exit 1
fi
echo "$want" > "$stamp"
