#!/usr/bin/env bash
# The foundation's demo: a simulated three-node cluster feeds a hub ledger; the log is exported,
# verified, tampered with (and caught), and replayed by an "auditor" into a ledger of its own
# whose digest must equal the hub's.
#   scripts/demo.sh build/relayer [OUTDIR]
set -euo pipefail
relayer=$1
out=${2:-demo-out}
events=${DEMO_EVENTS:-20000}
rm -rf "$out"
mkdir -p "$out"

say() { printf '\n== %s\n' "$*"; }
digest_of() { "$relayer" ledger digest --db "$1" | sed -n 's/^digest //p'; }

say "A cluster of 3 relayer nodes (threshold 2) observes $events deposits on two chains (l1, l2)."
say "Two nodes equivocate on 6 events; halfway through, the relayer set rotates (node3 out, node4 in)."
"$relayer" dev simulate --out "$out" --events "$events" --nodes 3 --threshold 2 --conflicts 6 \
    --rotate-at $((events / 2))

say "The hub's ledger:"
"$relayer" ledger digest --db "$out/hub"
hub_digest=$(digest_of "$out/hub")

say "The hub exports its hash-chained, signed log for auditors:"
"$relayer" audit export --db "$out/hub" --out "$out/hub.rlog"

say "An auditor holding only the genesis relayer set verifies every record and signature:"
"$relayer" audit verify "$out/hub.rlog" --relayers "$out/relayers.json"

say "Someone alters one byte in the middle of the file ..."
cp "$out/hub.rlog" "$out/tampered.rlog"
size=$(stat -c %s "$out/tampered.rlog")
at=$((size / 2))
old=$(od -An -tu1 -j "$at" -N1 "$out/tampered.rlog" | tr -d ' ')
printf "$(printf '\\%03o' $(( (old ^ 0x01) & 0xff )))" |
    dd of="$out/tampered.rlog" bs=1 seek="$at" count=1 conv=notrunc status=none
echo "   byte $at of $size: $old -> $(( (old ^ 1) & 0xff ))"
set +e
"$relayer" audit verify "$out/tampered.rlog" --relayers "$out/relayers.json"
rc=$?
set -e
if [ $rc -ne 1 ]; then
    echo "demo: the tampered log was not refused (exit $rc)" >&2
    exit 1
fi
echo "   ... and verify refuses it (exit 1), naming the record."

say "The auditor replays the log into a ledger of its own:"
"$relayer" audit replay "$out/hub.rlog" --relayers "$out/relayers.json" --out "$out/replayed"
replayed_digest=$(digest_of "$out/replayed")

if [ "$hub_digest" != "$replayed_digest" ]; then
    echo "demo: the replayed ledger differs from the hub's" >&2
    exit 1
fi

# ---- Part 2: the same, live, as separate processes on the bus ----------------------------------
c=$out/cluster
live=${DEMO_LIVE_EVENTS:-6000}
mkdir -p "$c/keys"
say "Part 2: a live cluster. Keys for 3 nodes, the hub and an auditor; the genesis set, threshold 2:"
for n in node1 node2 node3 hub auditor venue calc; do "$relayer" keygen --out "$c/keys" --name $n > /dev/null; done
"$relayer" relayers init --threshold 2 --out "$c/relayers.json" "$c"/keys/node{1,2,3}.pub
cat > "$c/hub.conf" <<CONF
# the hub: ledger, CURVE endpoints (ipc here; tcp:// across machines), who may connect
[hub]
data = hub
key = keys/hub.key
relayers = relayers.json
# the price rule, and the only risk parameters a decision may be made under
risk = risk.json
[listen]
nodes = ipc://$c/nodes.sock
records = ipc://$c/records.sock
catchup = ipc://$c/catchup.sock
venue = ipc://$c/venue.sock
calculator = ipc://$c/calc.sock
[allow]
node = keys/node1.pub
node = keys/node2.pub
node = keys/node3.pub
subscriber = keys/auditor.pub
subscriber = keys/calc.pub
subscriber = keys/node1.pub
subscriber = keys/node2.pub
subscriber = keys/node3.pub
venue = keys/venue.pub
calculator = keys/calc.pub
CONF
for i in 1 2 3; do
    cat > "$c/node$i.conf" <<CONF
# relayer node $i: one watcher per [chain.NAME]; source = sim is the development chain
[node]
key = keys/node$i.key
relayers = relayers.json
data = node$i
[hub]
nodes = ipc://$c/nodes.sock
key = keys/hub.pub
[chain.l1]
source = sim
seed = 3
events = $live
[chain.l2]
source = sim
seed = 3
events = $live
CONF
done
cat > "$c/follow.conf" <<CONF
# the auditor's replica: checks every record before applying it
[follow]
data = replica
key = keys/auditor.key
relayers = relayers.json
[hub]
records = ipc://$c/records.sock
catchup = ipc://$c/catchup.sock
key = keys/hub.pub
CONF
"$relayer" dev risk --seed 3 > "$c/risk.json"
cat > "$c/margin.conf" <<CONF
# the live margin calculator: an audited replica, every account in memory, signed decisions
[margin]
data = margin
key = keys/calc.key
relayers = relayers.json
risk = risk.json
[hub]
records = ipc://$c/records.sock
catchup = ipc://$c/catchup.sock
calculator = ipc://$c/calc.sock
key = keys/hub.pub
CONF
cat > "$c/venue.conf" <<CONF
# the venue: signs positions and withdrawal requests
[venue]
key = keys/venue.key
[hub]
venue = ipc://$c/venue.sock
key = keys/hub.pub
CONF
for i in 1 2 3; do
    cat > "$c/cosign$i.conf" <<CONF
# node $i's co-signer: its own replica and calculator; signs (secp256k1, EIP-712) only what it re-derives
[cosign]
key = keys/node$i.key
relayers = relayers.json
risk = risk.json
data = cosign$i
[hub]
records = ipc://$c/records.sock
catchup = ipc://$c/catchup.sock
nodes = ipc://$c/nodes.sock
key = keys/hub.pub
CONF
done
cat > "$c/cluster.conf" <<CONF
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
CONF
say "relayer up: the hub, 6 watchers (3 nodes x 2 chains), the replica, the margin calculator and 3 co-signers, supervised (log: $c/cluster.log)"
"$relayer" up --config "$c/cluster.conf" 2> "$c/cluster.log" &
up=$!
trap 'kill -TERM $up 2>/dev/null; wait $up 2>/dev/null' EXIT
credited() { "$relayer" ledger digest --db "$c/hub" --json 2>/dev/null | sed -n 's/.*"events_credited":\([0-9]*\).*/\1/p'; }
for _ in $(seq 1 600); do
    [ "$(credited)" = "$live" ] && break
    sleep 0.1
done
[ "$(credited)" = "$live" ] || { echo "demo: the cluster credited $(credited) of $live" >&2; exit 1; }
sleep 1.2
echo "   all $live deposits credited; relayer status:"
"$relayer" status --config "$c/hub.conf" | sed 's/^/   /'

say "Part 3: the margin calculator. Nodes 1 and 2 sign prices; the hub logs them once a quorum agrees."
price() { for i in 1 2; do "$relayer" price send --config "$c/node$i.conf" --feed "$1" --price "$2"; done; }
query() { "$relayer" margin query --config "$c/margin.conf" --account "$trader"; }
field() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" | head -1; }
price ETH 3000
price USDC 1
trader=$("$relayer" dev account --seed 3 --events "$live" --index 0)
for _ in $(seq 1 100); do
    query 2>/dev/null | grep -q '"prices_fresh": true' && break
    sleep 0.1
done
equity=$(query | field equity)
echo "   trader $trader holds collateral on both chains worth $equity USD (after haircuts)"
size=$(( ${equity%%.*} / 300 ))
echo "   the venue opens a long of $size ETH-PERP at 3000 for it (notional ~10x its equity):"
"$relayer" venue position --config "$c/venue.conf" --account "$trader" --market ETH-PERP --size "$size" \
    --entry 3000 | sed 's/^/   venue: /'
query | grep -E '"(equity|initial_margin|maintenance_margin|status)"' | sed 's/^ */   /'
say "ETH falls to 2850, then to 2600:"
price ETH 2850
sleep 0.5
price ETH 2600
for _ in $(seq 1 100); do
    query | grep -q '"decided_status": "liquidatable"' && break
    sleep 0.1
done
grep 'msg="decision"' "$c/cluster.log" | sed 's/.*msg="decision" /   decision: /'
for _ in $(seq 1 300); do grep -q 'msg="instruction"' "$c/cluster.log" && break; sleep 0.1; done
sleep 0.3
echo "   the hub turns the seize plan into one instruction per chain and asset (vault nonce, deadline),"
echo "   each reserving its amount in the ledger, for the cosigners and executors:"
grep 'msg="instruction"' "$c/cluster.log" | sed -e 's/.*msg="instruction" /   instruction: /' -e 's/ account=0x[0-9a-f]*//' -e 's/ vault=0x[0-9a-f]*//'
ninstr=$(grep -c 'msg="instruction"' "$c/cluster.log")
for _ in $(seq 1 300); do [ "$(grep -c 'msg="bundle"' "$c/cluster.log")" -ge "$ninstr" ] && break; sleep 0.1; done
echo "   each node's co-signer re-derives the decision with its own calculator and signs the vault's"
echo "   EIP-712 digest; the hub logs a bundle once 2 of 3 signatures recover their members:"
grep 'msg="bundle"' "$c/cluster.log" | sed -e 's/.*msg="bundle" /   bundle: /'
query | grep -E '"(equity|maintenance_margin|status)"' | sed 's/^ */   /'
kill -TERM $up
wait $up
trap - EXIT
echo "   SIGTERM (what Ctrl-C does on a terminal): cluster stopped cleanly."
live_hub=$(digest_of "$c/hub")
live_replica=$(digest_of "$c/replica")
"$relayer" audit export --db "$c/hub" --out "$c/hub.rlog" > /dev/null
"$relayer" audit verify "$c/hub.rlog" --relayers "$c/relayers.json" | head -1 | sed 's/^/   /'
echo "   the auditor re-derives every logged decision from the records before it:"
"$relayer" audit replay "$c/hub.rlog" --relayers "$c/relayers.json" --out "$c/replayed" --risk "$c/risk.json" |
    grep decisions | sed 's/^ */   /'

say "Summary"
printf '   %-34s %s\n' "simulated hub ledger digest" "$hub_digest" "replayed from its exported log" "$replayed_digest" \
    "live cluster hub ledger digest" "$live_hub" "the auditor's live replica" "$live_replica"
if [ "$live_hub" != "$live_replica" ]; then
    echo "demo: the live replica differs from the hub's ledger" >&2
    exit 1
fi
echo "   equal in pairs: a log reproduces its hub's ledger exactly, offline and live."
echo "   (everything is in $out/)"
