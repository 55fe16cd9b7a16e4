#!/usr/bin/env bash
# The demo: the relayer's story told in plain lines, every claim checked, under two minutes.
#   scripts/demo.sh build/relayer [OUTDIR]          (make demo: OUTDIR = demo-out)
#
# Part 1, the foundation: a simulated three-node cluster feeds a hub ledger; its log is exported,
# verified, tampered with (and caught) and replayed into a ledger equal to the hub's.
# Part 2, the job on two real chains: two anvil nodes ("L1" 31701 with ETH, "L2" 31702 with a
# 6-decimal USDC), a CollateralVault on each whose signers are the three nodes' own EVM keys
# (threshold two), Chainlink MockV3Aggregators for ETH/USD and USDC/USD, and the whole cluster
# under one `relayer up`: hub, 6 watchers, a replica, the margin calculator, 3 co-signers,
# 6 executors, 3 oracles. A trader deposits with cast (the independent client), the venue opens
# a leveraged long and asks a withdrawal (released on L2), the oracle price falls, seizes execute
# on both chains (one executor killed with SIGKILL, another finishes), the ledger reconciles with
# the vaults and the exported log passes `audit verify` and `audit replay --risk`.
#
# Any claim that does not hold stops the demo with "demo: FAILED: ..." and exit 1; anvil and the
# cluster are stopped on every exit. Tools: the native anvil and cast of node_modules (installed
# by scripts/npm-deps.sh), contracts from `make contracts`; ANVIL, CAST and CONTRACTS override.
set -euo pipefail
t0=$(date +%s%N)
root=$(cd "$(dirname "$0")/.." && pwd)
relayer=$(realpath "$1")
out=${2:-demo-out}
events=${DEMO_EVENTS:-2000}
wait_s=${DEMO_WAIT_S:-30} # the longest any one step of the story may take
one() { [ $# -eq 1 ] && [ -x "$1" ] && echo "$1"; }
ANVIL=${ANVIL:-$(one "$root"/node_modules/@foundry-rs/anvil-*/bin/anvil || true)}
CAST=${CAST:-$(one "$root"/node_modules/@foundry-rs/cast-*/bin/cast || true)}
CONTRACTS=${CONTRACTS:-$root/build/contracts}

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }
fail() {
    printf '\ndemo: FAILED: %s\n' "$*" >&2
    exit 1
}
for tool in "$ANVIL" "$CAST"; do [ -x "$tool" ] || fail "anvil or cast missing: run scripts/npm-deps.sh"; done
for name in CollateralVault TestToken MockV3Aggregator; do
    [ -f "$CONTRACTS/$name.json" ] || fail "$CONTRACTS/$name.json missing: run make contracts"
done
command -v jq > /dev/null || fail "jq is missing: run scripts/deps.sh"

rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
digest_of() { "$relayer" ledger digest --db "$1" | sed -n 's/^digest //p'; }

# ---- Part 1: the foundation ----------------------------------------------------------------------
s=$out/sim
say "Part 1. A simulated cluster of 3 relayer nodes (threshold 2) observes $events deposits on two chains;"
note "node1 equivocates (a wrong amount first, then the right one) on about one event in four: each is"
note "credited once and logged once as evidence; on 6 events a quorum re-signs after the credit (6"
note "conflict alerts); halfway through, the relayer set rotates (node3 out, node4 in)."
"$relayer" dev simulate --out "$s" --events "$events" --nodes 3 --threshold 2 --equivocators 1 --conflicts 6 \
    --rotate-at $((events / 2)) | sed 's/^/   /'
sim_hub=$(digest_of "$s/hub")
"$relayer" audit export --db "$s/hub" --out "$s/hub.rlog" | sed 's/^/   /'
note "an auditor holding only the genesis relayer set verifies every record and signature:"
"$relayer" audit verify "$s/hub.rlog" --relayers "$s/relayers.json" | sed 's/^/   /'
counts=$("$relayer" audit verify "$s/hub.rlog" --relayers "$s/relayers.json" --json)
[ "$(jq .attested <<< "$counts")" -eq "$events" ] || fail "not every deposit was credited exactly once: $counts"
[ "$(jq .conflicts <<< "$counts")" -eq 6 ] || fail "expected 6 conflict alerts: $counts"
[ "$(jq .equivocations <<< "$counts")" -gt 0 ] || fail "node1's equivocations were not logged: $counts"
note "every deposit credited once; $(jq .equivocations <<< "$counts") equivocations logged as evidence, 6 conflicts"
cp "$s/hub.rlog" "$s/tampered.rlog"
size=$(stat -c %s "$s/tampered.rlog")
at=$((size / 2))
old=$(od -An -tu1 -j "$at" -N1 "$s/tampered.rlog" | tr -d ' ')
printf "$(printf '\\%03o' $(((old ^ 0x01) & 0xff)))" |
    dd of="$s/tampered.rlog" bs=1 seek="$at" count=1 conv=notrunc status=none
note "someone flips one bit of byte $at of $size ($old -> $(((old ^ 1) & 0xff))); verify says:"
set +e
"$relayer" audit verify "$s/tampered.rlog" --relayers "$s/relayers.json" | sed 's/^/   /'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 1 ] || fail "the tampered log was not refused (exit $rc)"
"$relayer" audit replay "$s/hub.rlog" --relayers "$s/relayers.json" --out "$s/replayed" > /dev/null
sim_replayed=$(digest_of "$s/replayed")
[ "$sim_hub" = "$sim_replayed" ] || fail "the replayed ledger $sim_replayed differs from the hub's $sim_hub"
note "the auditor's replay of the log rebuilds the hub's ledger exactly: digest $sim_hub"
"$relayer" dev drop-tail "$s/hub.rlog" --drop 5 --out "$s/cut.rlog" > /dev/null
"$relayer" audit verify "$s/cut.rlog" --relayers "$s/relayers.json" > /dev/null ||
    fail "the cut log no longer passes alone: the attack below shows nothing"
note "a dishonest exporter drops the last 5 records and rewrites header and footer: alone, it verifies;"
note "with the nodes' checkpoint of the head ($s/checkpoint.json, what a node hands an auditor) it fails:"
set +e
"$relayer" audit verify "$s/cut.rlog" --relayers "$s/relayers.json" --checkpoint "$s/checkpoint.json" |
    sed -n '1s/^/   /p'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 1 ] || fail "the cut log passed against the checkpoint (exit $rc)"

# ---- Part 2: the story on two chains -------------------------------------------------------------
c=$out/cluster
mkdir -p "$c/keys"
anvil_pids=()
up=
cleanup() {
    local rc=$?
    trap - EXIT
    if [ -n "$up" ] && kill -0 "$up" 2> /dev/null; then
        kill -TERM "$up"
        wait "$up" 2> /dev/null || true
    fi
    for p in "${anvil_pids[@]}"; do kill -KILL "$p" 2> /dev/null || true; done
    for p in "${anvil_pids[@]}"; do wait "$p" 2> /dev/null || true; done
    [ "$rc" -eq 0 ] || echo "demo: logs in $c (cluster.log: every daemon's lines)" >&2
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Polls CMD... every 200 ms until it succeeds; fails the demo naming WHAT after wait_s seconds.
await() {
    local what=$1 deadline=$(($(date +%s) + wait_s))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || fail "$what: not within ${wait_s} s"
        sleep 0.2
    done
}

# anvil on a port the kernel picks (printed in its log): a block per transaction, mined at once,
# and one every second besides, so confirmations come without anyone sending anything.
start_anvil() { # NAME CHAIN_ID -> sets rpc_NAME
    local name=$1 id=$2 log=$c/anvil-$1.log
    "$ANVIL" --host 127.0.0.1 --port 0 --chain-id "$id" --block-time 1 --mixed-mining \
        --config-out "$c/anvil-$name.json" > "$log" 2>&1 &
    anvil_pids+=($!)
    local port=
    for _ in $(seq 1 150); do
        port=$(sed -n 's/.*Listening on 127.0.0.1:\([0-9]*\).*/\1/p' "$log" | head -1)
        [ -n "$port" ] && "$CAST" chain-id --rpc-url "http://127.0.0.1:$port" > /dev/null 2>&1 && break
        port=
        sleep 0.1
    done
    [ -n "$port" ] || fail "anvil ($name, chain $id) did not start: $(tail -3 "$log")"
    printf -v "rpc_$name" 'http://127.0.0.1:%s' "$port"
}
say "Part 2. Two chains: anvil \"L1\" (chain id 31701, ETH) and \"L2\" (chain id 31702, USDC)."
start_anvil l1 31701
start_anvil l2 31702
note "L1 at $rpc_l1, L2 at $rpc_l2"
# anvil's dev accounts (the same keys on both chains): #0 deploys, #5 is the trader.
deployer=$(jq -r '.private_keys[0]' "$c/anvil-l1.json")
trader=$(jq -r '.available_accounts[5]' "$c/anvil-l1.json")
trader_key=$(jq -r '.private_keys[5]' "$c/anvil-l1.json")
send() { # RPC KEY TO [--value V] SIG ARGS...: a transaction that must succeed
    local rpc=$1 key=$2
    shift 2
    local r
    r=$("$CAST" send --rpc-url "$rpc" --private-key "$key" --json "$@") || fail "cast send $*"
    [ "$(jq -r .status <<< "$r")" = "0x1" ] || fail "cast send $*: reverted"
    echo "$r"
}
deploy() { # RPC NAME [CTOR_SIG ARGS...] -> address
    local rpc=$1 name=$2
    shift 2
    send "$rpc" "$deployer" --create "$(jq -r .bytecode "$CONTRACTS/$name.json")" "$@" | jq -r .contractAddress
}
call() { "$CAST" call --rpc-url "$@" | cut -d' ' -f1; } # a uint without cast's " [1e18]"

for n in node1 node2 node3 hub calc venue auditor; do "$relayer" keygen --out "$c/keys" --name $n > /dev/null; done
# The venue's key is pinned in the set: a request signed by any other key is never applied.
"$relayer" relayers init --threshold 2 --venue "$c/keys/venue.pub" --out "$c/relayers.json" "$c"/keys/node{1,2,3}.pub \
    > /dev/null
evm_of() { jq -r .evm "$c/keys/$1.pub"; }
# The vault wants its signers in ascending order (same-length hex: case-blind order is numeric).
signers=$(for n in node1 node2 node3; do evm_of $n; done | sort -f | paste -sd, -)
usdc=$(deploy "$rpc_l2" TestToken "constructor(string,string,uint8)" "USD Coin" USDC 6)
native=0x0000000000000000000000000000000000000000
# Each vault takes only its listed assets, from a minimum (dust costs the cluster a quorum's work):
# ETH on L1 from 0.001 ETH, USDC on L2 from 1 USDC. Later changes: setLimits, signed by a quorum.
ctor="constructor(address[],uint256,address[],uint256[])"
vault_l1=$(deploy "$rpc_l1" CollateralVault "$ctor" "[$signers]" 2 "[$native]" "[1000000000000000]")
vault_l2=$(deploy "$rpc_l2" CollateralVault "$ctor" "[$signers]" 2 "[$usdc]" "[1000000]")
feed_eth=$(deploy "$rpc_l1" MockV3Aggregator "constructor(uint8,int256)" 8 300000000000)
feed_usdc=$(deploy "$rpc_l1" MockV3Aggregator "constructor(uint8,int256)" 8 100000000)
insurance_l1=0x1111111111111111111111111111111111110e01
insurance_l2=0x1111111111111111111111111111111111110e02
note "vaults (signers: the 3 nodes' own EVM keys, threshold 2): L1 $vault_l1, L2 $vault_l2"
note "USDC (6 decimals) on L2: $usdc; Chainlink aggregators on L1: ETH/USD $feed_eth, USDC/USD $feed_usdc"
for n in node1 node2 node3; do # gas for the nodes' executors
    send "$rpc_l1" "$deployer" "$(evm_of $n)" --value 100ether > /dev/null
    send "$rpc_l2" "$deployer" "$(evm_of $n)" --value 100ether > /dev/null
done

# ---- the cluster's files (README.md, Configuration)
ipc=ipc://$c
cat > "$c/risk.json" << JSON
{"chains": {"l1": {"chain_id": 31701, "vault": "$vault_l1", "insurance": "$insurance_l1", "deadline_s": 600},
            "l2": {"chain_id": 31702, "vault": "$vault_l2", "insurance": "$insurance_l2", "deadline_s": 600}},
 "assets": {"ETH": {"decimals": 18, "haircut": "0.10", "seize_priority": 2, "tokens": {"l1": "$native"}},
            "USDC": {"decimals": 6, "haircut": "0.02", "seize_priority": 1, "tokens": {"l2": "$usdc"}}},
 "markets": {"ETH-PERP": {"feed": "ETH", "tiers": [{"from": "0", "imf": "0.05", "mmf": "0.03"}]}},
 "params": {"liquidation_fee": "0.01"},
 "prices": {"max_deviation": "0.02", "max_age_ms": 600000}}
JSON
cat > "$c/hub.conf" << CONF
# the hub: ledger, CURVE endpoints (ipc here; tcp:// across machines), who may connect
[hub]
data = hub
key = keys/hub.key
relayers = relayers.json
risk = risk.json
commit_delay_ms = 2
[listen]
nodes = $ipc/nodes.sock
records = $ipc/records.sock
catchup = $ipc/catchup.sock
venue = $ipc/venue.sock
calculator = $ipc/calc.sock
[allow]
node = keys/node1.pub
node = keys/node2.pub
node = keys/node3.pub
subscriber = keys/node1.pub
subscriber = keys/node2.pub
subscriber = keys/node3.pub
subscriber = keys/auditor.pub
subscriber = keys/calc.pub
calculator = keys/calc.pub
venue = keys/venue.pub
CONF
for i in 1 2 3; do
    cat > "$c/node$i.conf" << CONF
# relayer node $i: its watchers ([chain.*]) and its oracle ([feed.*])
[node]
key = keys/node$i.key
relayers = relayers.json
data = node$i
[hub]
nodes = $ipc/nodes.sock
key = keys/hub.pub
[chain.l1]
source = evm
rpc = $rpc_l1
chain_id = 31701
vault = $vault_l1
confirmations = 1
poll_ms = 200
[chain.l2]
source = evm
rpc = $rpc_l2
chain_id = 31702
vault = $vault_l2
confirmations = 1
poll_ms = 200
[feed.ETH]
source = chainlink
rpc = $rpc_l1
chain_id = 31701
aggregator = $feed_eth
interval_ms = 300
max_age_s = 3600
min = 100
max = 100000
[feed.USDC]
source = chainlink
rpc = $rpc_l1
chain_id = 31701
aggregator = $feed_usdc
interval_ms = 300
max_age_s = 3600
min = 0.5
max = 2
CONF
    cat > "$c/cosign$i.conf" << CONF
# node $i's co-signer: its own replica and calculator; signs (secp256k1, EIP-712) only what it re-derives
[cosign]
key = keys/node$i.key
relayers = relayers.json
risk = risk.json
data = node$i-cosign
checkpoint_ms = 2000
[hub]
records = $ipc/records.sock
catchup = $ipc/catchup.sock
nodes = $ipc/nodes.sock
key = keys/hub.pub
CONF
    cat > "$c/execute$i.conf" << CONF
# node $i's executors (one process per chain): submit bundles to the vault, gas paid by the node key
[execute]
key = keys/node$i.key
relayers = relayers.json
data = node$i-execute
takeover_ms = 1000
retry_ms = 500
[hub]
records = $ipc/records.sock
catchup = $ipc/catchup.sock
nodes = $ipc/nodes.sock
key = keys/hub.pub
[chain.l1]
rpc = $rpc_l1
chain_id = 31701
vault = $vault_l1
confirmations = 1
[chain.l2]
rpc = $rpc_l2
chain_id = 31702
vault = $vault_l2
confirmations = 1
CONF
done
cat > "$c/follow.conf" << CONF
# the auditor's replica: checks every record before applying it
[follow]
data = replica
key = keys/auditor.key
relayers = relayers.json
[hub]
records = $ipc/records.sock
catchup = $ipc/catchup.sock
key = keys/hub.pub
CONF
cat > "$c/margin.conf" << CONF
# the live margin calculator: an audited replica, every account in memory, signed decisions
[margin]
data = margin
key = keys/calc.key
relayers = relayers.json
risk = risk.json
[hub]
records = $ipc/records.sock
catchup = $ipc/catchup.sock
calculator = $ipc/calc.sock
key = keys/hub.pub
CONF
cat > "$c/venue.conf" << CONF
# the venue: signs positions and withdrawal requests
[venue]
key = keys/venue.key
[hub]
venue = $ipc/venue.sock
key = keys/hub.pub
CONF
# A killed child comes back after restart_min_ms: longer than an executor's takeover (1 s after
# the bundle), so the story shows another node finishing what the killed one would have done.
cat > "$c/cluster.conf" << CONF
[cluster]
hub = hub.conf
node = node1.conf
node = node2.conf
node = node3.conf
chains = l1 l2
follow = follow.conf
margin = margin.conf
cosign = cosign1.conf
cosign = cosign2.conf
cosign = cosign3.conf
execute = execute1.conf
execute = execute2.conf
execute = execute3.conf
oracle = node1.conf
oracle = node2.conf
oracle = node3.conf
restart_min_ms = 10000
CONF

say "relayer up: hub, 6 watchers, replica, margin calculator, 3 co-signers, 6 executors, 3 oracles"
"$relayer" up --config "$c/cluster.conf" 2> "$c/cluster.log" &
up=$!
note "(every daemon's log lines: $c/cluster.log)"

# ---- reading the ledger and the chains
ledger() { # CHAIN_ID ASSET -> "balance reserved" of the trader in the hub's ledger
    "$relayer" ledger balance --db "$c/hub" --account "$trader" --chain-id "$1" --asset "$2" 2> /dev/null |
        sed -n 's/^balance \([0-9]*\) reserved \([0-9]*\)$/\1 \2/p'
}
credited() { [ "$(ledger "$1" "$2")" = "$3 0" ]; }
stat_of() { "$relayer" ledger digest --db "$c/hub" --json 2> /dev/null | jq -r ".$1"; }
in_vault() { call "$1" "$2" "balanceOf(address,address)(uint256)" "$trader" "$3"; }
wallet_usdc() { call "$rpc_l2" "$usdc" "balanceOf(address)(uint256)" "$1"; }
nonce_used() { [ "$("$CAST" call --rpc-url "$1" "$2" "nonceUsed(uint256)(bool)" "$3")" = true ]; }
query() { "$relayer" margin query --config "$c/margin.conf" --account "$trader" 2> /dev/null; }
# The trader's long (20 ETH-PERP) has an initial margin of 5 % of 20 x the mark: the mark itself.
marked_at() { query | jq -e --arg im "$1.000000" '.initial_margin == $im' > /dev/null; }
margin_line() {
    query | jq -r '"equity \(.equity) USD, initial margin \(.initial_margin), maintenance \(.maintenance_margin): \(.status)"'
}
wei_eth() { "$CAST" from-wei "$1"; }
usdc_dec() { "$CAST" format-units "$1" 6; }

say "The trader ($trader) deposits with cast, not through the relayer: 10 ETH on L1, 5000 USDC on L2."
send "$rpc_l1" "$trader_key" "$vault_l1" --value 10ether "depositNative(address)" "$trader" > /dev/null
send "$rpc_l2" "$trader_key" "$usdc" "mint(address,uint256)" "$trader" 5000000000 > /dev/null
send "$rpc_l2" "$trader_key" "$usdc" "approve(address,uint256)" "$vault_l2" 5000000000 > /dev/null
send "$rpc_l2" "$trader_key" "$vault_l2" "deposit(address,address,uint256)" "$usdc" "$trader" 5000000000 > /dev/null
if dust=$("$CAST" send --rpc-url "$rpc_l1" --private-key "$trader_key" --value 1 "$vault_l1" \
    "depositNative(address)" "$trader" 2>&1); then fail "a deposit of 1 wei was accepted"; fi
grep -q "$("$CAST" sig "DepositBelowMinimum(address,uint256,uint256)")" <<< "$dust" || fail "dust refused how? $dust"
note "a dust deposit of 1 wei is refused by the vault itself (DepositBelowMinimum): it never reaches the nodes"
await "the ETH deposit credited" credited 31701 $native 10000000000000000000
await "the USDC deposit credited" credited 31702 "$usdc" 5000000000
note "the nodes' watchers saw both deposits one block deep and signed them; the hub credited each once,"
note "at a quorum of 2: ledger ETH on L1 $(ledger 31701 $native | cut -d' ' -f1) wei, USDC on L2 $(ledger 31702 "$usdc" | cut -d' ' -f1) units"

say "The nodes' oracles read the aggregators (ETH 3000, USDC 1) and sign; the hub logs quorum prices."
fresh() { query | jq -e '.prices_fresh == true' > /dev/null; }
await "quorum prices reaching the calculator" fresh
note "$(margin_line)"
sleep 1.1 # the hub's status file is rewritten every second
"$relayer" status --config "$c/hub.conf" | sed 's/^/   /'

say "The venue opens a 20 ETH-PERP long at 3000 for the trader (60 000 USD notional):"
position_out=$("$relayer" venue position --config "$c/venue.conf" --account "$trader" --market ETH-PERP --size 20 \
    --entry 3000)
echo "   venue: $position_out"
# The venue keeps the nonce of its last position request for the account: a withdrawal names it.
positions_nonce=$(sed -n 's/.*logged (nonce \([0-9]*\)).*/\1/p' <<< "$position_out")
await "the position reaching the calculator" marked_at 3000
note "$(margin_line)"
[ "$(query | jq -r .positions_nonce)" = "$positions_nonce" ] ||
    fail "margin query shows positions_nonce $(query | jq -r .positions_nonce), the venue sent $positions_nonce"
note "margin query: positions_nonce $positions_nonce, the venue's last position request, which the calculator applied"

say "The trader withdraws 100 USDC on L2: signs the EIP-712 Withdrawal with its wallet (cast), the venue submits it:"
wallet_before=$(wallet_usdc "$trader")
owner_nonce=$(date +%s%3N)
expiry=$(($(date +%s) + 3600))
withdrawal="--account $trader --chain-id 31702 --asset $usdc --amount 100000000 --recipient $trader"
# shellcheck disable=SC2086 # $withdrawal is a list of arguments
# The typed data's domain salt is the cluster id (the digest of the genesis relayer set, --relayers):
# the signature is good in this cluster only.
typed=$("$relayer" venue withdraw --print-typed-data $withdrawal --owner-nonce "$owner_nonce" --expiry-s "$expiry" \
    --relayers "$c/relayers.json")
owner_sig=$("$CAST" wallet sign --data --private-key "$trader_key" "$typed")
note "owner signature ${owner_sig:0:18}.. (nonce $owner_nonce, valid for an hour)"
# shellcheck disable=SC2086
"$relayer" venue withdraw --config "$c/venue.conf" $withdrawal --owner-nonce "$owner_nonce" --expiry-s "$expiry" \
    --owner-signature "$owner_sig" --positions-nonce "$positions_nonce" | sed 's/^/   venue: /'
await "the release executed on L2 (vault nonce 1)" nonce_used "$rpc_l2" "$vault_l2" 1
wallet_after=$(wallet_usdc "$trader")
[ $((wallet_after - wallet_before)) -eq 100000000 ] ||
    fail "the trader's USDC wallet moved by $((wallet_after - wallet_before)) units, not 100000000"
note "approved by the calculator, reserved in the ledger, co-signed by 2 of 3 nodes, executed on L2:"
note "the trader's wallet went from $(usdc_dec "$wallet_before") to $(usdc_dec "$wallet_after") USDC"

# Who sent each vault's Executed transactions: the tx's `from`, read from the chain, named by node.
node_of() {
    local a
    for n in node1 node2 node3; do
        a=$(evm_of $n)
        [ "${a,,}" = "${1,,}" ] && echo $n && return
    done
    echo "$1"
}
executed() { # RPC VAULT -> "nonce kind amount node tx" per Executed event
    local sig="Executed(uint64 indexed,uint8,address indexed,address indexed,uint256,address,uint256)"
    "$CAST" logs --rpc-url "$1" --from-block 0 --address "$2" "$sig" --json | jq -r '.[] | "\(.data) \(.transactionHash)"' |
        while read -r data tx; do
            local from
            from=$("$CAST" tx --rpc-url "$1" "$tx" from)
            printf '%d %d %s %s %s\n' "$((16#${data:194:64}))" "$((16#${data:2:64}))" "$("$CAST" to-dec "0x${data:66:64}")" \
                "$(node_of "$from")" "$tx"
        done
}
release_by=$(executed "$rpc_l2" "$vault_l2" | awk '$1 == 1 { print $4 }')
note "the release's transaction was sent by $release_by's executor"

# The seize on L1 will take L1's vault nonce 1; its primary executor is the member at index
# nonce mod 3 of the relayer set (cmd_execute.c); the next member takes over after takeover_ms.
victim=$(jq -r '.members[1 % 3].name' "$c/relayers.json")
say "ETH falls: the ETH/USD aggregator is updated to 2400, then to 1930."
# A new round of the ETH aggregator. Its updatedAt is the block's time, in seconds, and that time
# is what the nodes sign: a round in the same second as the one before would carry the same time
# and the hub keeps only a newer observation per node. So wait for L1's clock to move on first.
moved_on() { [ "$("$CAST" block latest --field timestamp --rpc-url "$rpc_l1")" -gt "$(call "$rpc_l1" "$feed_eth" "latestTimestamp()(uint256)")" ]; }
set_eth() {
    await "L1's clock passing the last ETH round" moved_on
    send "$rpc_l1" "$deployer" "$feed_eth" "updateAnswer(int256)" "$1" > /dev/null
}
set_eth 240000000000
await "the ETH price 2400 reaching the calculator" marked_at 2400
note "at 2400: $(margin_line)"
victim_pid=$(sed -n "s/.*child=execute:execute${victim#node}.conf:l1 pid=\([0-9]*\).*/\1/p" "$c/cluster.log" | tail -1)
[ -n "$victim_pid" ] || fail "no pid for $victim's L1 executor in the cluster log"
# Killed before the next round, not after it: from a round to its bundle takes the cluster a few
# hundred milliseconds, less than a script needs to notice it.
kill -KILL "$victim_pid"
note "$victim's L1 executor (pid $victim_pid) is killed with SIGKILL: $victim is the primary for L1's"
note "next instruction (vault nonce 1, the member at index 1 mod 3 of the relayer set)."
set_eth 193000000000
note "at 1930 the oracles sign the new round; the hub logs it at quorum; the calculator decides."
liquidated() { query | jq -e '.decided_status == "liquidatable"' > /dev/null; }
await "the liquidation decision" liquidated
note "the calculator's decisions, signed and logged (equity at the decision, in USD):"
grep 'msg="decision"' "$c/cluster.log" | sed 's/.*msg="decision" /   decision: /'
await "L2's seize executed (vault nonce 2)" nonce_used "$rpc_l2" "$vault_l2" 2
await "L1's seize executed (vault nonce 1)" nonce_used "$rpc_l1" "$vault_l1" 1
grep 'msg="instruction"' "$c/cluster.log" | sed -e 's/.*msg="instruction" /   instruction: /' \
    -e 's/ account=0x[0-9a-fA-F]*//' -e 's/ vault=0x[0-9a-fA-F]*//'
grep 'msg="bundle"' "$c/cluster.log" | sed -e 's/.*msg="bundle" /   bundle: /'
seize_l1=$(executed "$rpc_l1" "$vault_l1" | awk '$1 == 1')
seize_l2=$(executed "$rpc_l2" "$vault_l2" | awk '$1 == 2')
read -r _ kind1 amount1 by1 tx1 <<< "$seize_l1"
read -r _ kind2 amount2 by2 tx2 <<< "$seize_l2"
[ "$kind1" = 2 ] && [ "$kind2" = 2 ] || fail "the executed nonces are not seizes (kinds $kind1, $kind2)"
note "L1: seized $(wei_eth "$amount1") ETH, transaction $tx1 sent by $by1"
note "L2: seized $(usdc_dec "$amount2") USDC, transaction $tx2 sent by $by2"
[ "$by1" != "$victim" ] || fail "L1's seize was sent by $victim, whose executor was killed"
note "the account now: $(margin_line)"
note "(the seized collateral is gone from it; closing the position at the new price is the venue's part)"
note "$victim's executor was dead: $by1 took over after takeover_ms, as the next member in turn."
await "the supervisor restarting $victim's executor" grep -q "child died; restarting.*child=execute:execute${victim#node}.conf:l1" "$c/cluster.log"
note "relayer up saw it die and restarts it: $(grep "child died; restarting.*child=execute:execute${victim#node}.conf:l1" "$c/cluster.log" |
    head -1 | sed 's/.*msg="child died; restarting" //')"

say "The watchers attest the three Executed events; the ledger settles each reservation."
settled() { [ "$(stat_of executions)" = 3 ] && [ "$(stat_of reservations)" = 0 ]; }
await "three executions settled in the ledger" settled
[ "$(stat_of executions_unmatched)" = 0 ] || fail "$(stat_of executions_unmatched) executions matched no reservation"
[ "$(stat_of vault_gaps)" = 0 ] || fail "the hub's ledger has vault sequence gaps"
sleep 1.1
"$relayer" status --config "$c/hub.conf" | sed 's/^/   /'

say "SIGTERM to relayer up (what Ctrl-C does): every child finishes its transaction and stops."
kill -TERM "$up"
wait "$up" || fail "relayer up exited $?"
up=
live_hub=$(digest_of "$c/hub")
live_replica=$(digest_of "$c/replica")
[ "$live_hub" = "$live_replica" ] || fail "the auditor's live replica $live_replica differs from the hub's $live_hub"
note "the auditor's live replica equals the hub's ledger: digest $live_hub"
"$relayer" audit export --db "$c/hub" --out "$c/hub.rlog" > /dev/null
# The auditor asks node1 for its checkpoint (its co-signer's replica, no hub involved).
"$relayer" checkpoint --config "$c/cosign1.conf" --out "$c/checkpoint.json" > /dev/null ||
    fail "node1's replica holds no quorum checkpoint"
ckpt_seq=$(jq -r .seq "$c/checkpoint.json")
verify=$("$relayer" audit verify "$c/hub.rlog" --relayers "$c/relayers.json" --checkpoint "$c/checkpoint.json" \
    --json) || fail "audit verify: $verify"
cut=$(($(jq -r .records <<< "$verify") - ckpt_seq + 1))
"$relayer" dev drop-tail "$c/hub.rlog" --drop "$cut" --out "$c/cut.rlog" > /dev/null
if "$relayer" audit verify "$c/cut.rlog" --relayers "$c/relayers.json" --checkpoint "$c/checkpoint.json" \
    > "$c/cut.verify"; then fail "a log cut before node1's checkpoint passed audit verify"; fi
replay=$("$relayer" audit replay "$c/hub.rlog" --relayers "$c/relayers.json" --out "$c/replayed" \
    --risk "$c/risk.json" --json) || fail "audit replay --risk: $replay"
logged_d=$(jq -r .decisions.logged <<< "$replay")
reproduced=$(jq -r .decisions.reproduced <<< "$replay")
[ "$logged_d" -ge 2 ] && [ "$reproduced" = "$logged_d" ] && [ "$(jq -r .decisions.not_reproduced <<< "$replay")" = 0 ] ||
    fail "replay --risk did not reproduce every decision: $replay"
[ "$(jq -r .ledger_digest <<< "$replay")" = "$live_hub" ] || fail "the replayed ledger differs from the hub's"

# ---- the summary
say "Summary"
verdict=ok
row() { # CHAIN RPC VAULT ASSET NAME INSURANCE INSURANCE_BALANCE
    local id=$1 rpc=$2 vault=$3 asset=$4 name=$5 ins_bal=$6
    local v l r check=ok
    v=$(in_vault "$rpc" "$vault" "$asset")
    read -r l r <<< "$(ledger "$id" "$asset")"
    [ "$v" = "$l" ] && [ "$r" = 0 ] || check=MISMATCH
    [ $check = ok ] || verdict=MISMATCH
    printf '   %-8s %-5s %24s %24s %9s %24s   %s\n' "$id" "$name" "$v" "$l" "$r" "$ins_bal" "$check"
}
ins1=$("$CAST" balance --rpc-url "$rpc_l1" $insurance_l1)
ins2=$(wallet_usdc $insurance_l2)
[ "$ins1" = "$amount1" ] && [ "$ins2" = "$amount2" ] ||
    fail "the insurance addresses hold $ins1 wei and $ins2 USDC units, not the seized $amount1 and $amount2"
note "the trader's collateral in base units (wei, USDC micro-units):"
printf '   %-8s %-5s %24s %24s %9s %24s   %s\n' chain asset "vault (on chain)" "ledger (hub)" reserved \
    "insurance received" reconciled
row 31701 "$rpc_l1" "$vault_l1" $native ETH "$ins1"
row 31702 "$rpc_l2" "$vault_l2" "$usdc" USDC "$ins2"
[ $verdict = ok ] || fail "the ledger does not reconcile with the vaults"
note ""
note "log              $(jq -r .records <<< "$verify") records, head $(jq -r .head_hash <<< "$verify")"
note "audit verify     ok: every hash link, signature and quorum; $(jq -r .executions <<< "$verify") executions attested"
note "witnessed        node1's checkpoint of seq $ckpt_seq agrees; the log cut by $cut records fails against it"
note "audit replay     $reproduced of $logged_d decisions reproduced bit for bit (--risk), ledger digest equal"
note "replica = hub    $live_hub"
note "seizes           L1 by $by1 ($victim killed), L2 by $by2; the release by $release_by"
note "simulated part   $events deposits, tampering caught, replay digest $sim_hub"
elapsed_ms=$((($(date +%s%N) - t0) / 1000000))
note "total time       $((elapsed_ms / 1000)).$(printf '%03d' $((elapsed_ms % 1000))) s (everything is in $out/)"
