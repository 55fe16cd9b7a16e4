#!/usr/bin/env bash
# Runs every libFuzzer target for SECONDS each, from seed corpora made from a real log.
#   run.sh SEEDS_BIN FUZZ_BIN_DIR SECONDS
# A finding leaves its input in FUZZ_BIN_DIR/findings/ and fails the run.
set -euo pipefail
seeds_bin=$1; bins=$2; seconds=$3
work=$(mktemp -d "${TMPDIR:-/tmp}/rlfuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$seeds_bin" "$work/seeds"
mkdir -p "$work/seeds/margin" && cp "$(dirname "$0")"/../margin/*.json "$work/seeds/margin/"
mkdir -p "$bins/findings"
failed=0
for t in obs record relset export wire margin rpc oracle vaultlog rlp evmtx; do
  corpus="$bins/corpus/$t"
  mkdir -p "$corpus"
  echo "fuzz_$t: ${seconds}s"
  if ! "$bins/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="$bins/findings/$t-" -print_final_stats=1 \
        "$corpus" "$work/seeds/$t" > "$work/$t.log" 2>&1; then
    failed=1
    tail -n 40 "$work/$t.log"
  fi
  grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$t.log" | tr '\n' ' '; echo
done
[ $failed -eq 0 ] && echo "fuzz: no findings" || { echo "fuzz: findings in $bins/findings"; exit 1; }
