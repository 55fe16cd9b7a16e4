#!/usr/bin/env bash
# Runs each Criterion suite given, then prints one closing line: "N passed, N failed".
# Criterion runs a suite's tests in parallel, each in its own process.
set -u
passed=0; failed=0; bad_suites=()
for t in "$@"; do
  [ -x "$t" ] || { echo "run.sh: missing test binary $t" >&2; bad_suites+=("$t"); continue; }
  out=$("$t" --jobs "${RL_TEST_JOBS:-2}" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    printf '%s\n' "$out" | grep -vE '^\[----\]' || true
  else
    printf '%s\n' "$out" # a failing suite shows its assertion messages in full
  fi
  line=$(printf '%s\n' "$out" | grep -E 'Synthesis: Tested:' | tail -n 1)
  p=$(printf '%s' "$line" | sed -nE 's/.*Passing: ([0-9]+).*/\1/p'); p=${p:-0}
  f=$(printf '%s' "$line" | sed -nE 's/.*Failing: ([0-9]+).*/\1/p'); f=${f:-0}
  c=$(printf '%s' "$line" | sed -nE 's/.*Crashing: ([0-9]+).*/\1/p'); c=${c:-0}
  passed=$((passed + p)); failed=$((failed + f + c))
  if [ $rc -ne 0 ] || [ -z "$line" ]; then
    bad_suites+=("$(basename "$t")")
    [ -z "$line" ] && failed=$((failed + 1))
  fi
done
# Under `make asan`: reports any process wrote (daemons the tests stopped included) fail the run.
reports=$([ -n "${RL_SANITIZER_LOGS:-}" ] && grep -lE 'ERROR: |runtime error|SUMMARY: ' "$RL_SANITIZER_LOGS"/* 2>/dev/null)
if [ -n "$reports" ]; then
  echo "sanitizer reports by processes the tests started ($RL_SANITIZER_LOGS):"
  for f in $reports; do echo "== $f"; head -n 40 "$f"; done
  failed=$((failed + 1)); bad_suites+=("sanitizer-reports")
fi
[ ${#bad_suites[@]} -gt 0 ] && echo "failing suites: ${bad_suites[*]}"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ ${#bad_suites[@]} -eq 0 ]
