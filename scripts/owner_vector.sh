#!/bin/sh
# owner_vector.sh - regenerates the owner-signature vector in tests/admit_test.c (OWNER_VECTOR_SIG):
# the EIP-712 Withdrawal below signed by cast (an independent EIP-712 implementation) with the
# test owner key 0x61..61, for the cluster whose genesis set is tests/owner_vector_relayers.json
# (the test fixture's fx_init(1, 1) set; its digest, the domain's salt, is OWNER_VECTOR_CLUSTER).
# RFC 6979 makes the signature deterministic, so the C code must give the very same bytes for the
# same digest.
#   usage: scripts/owner_vector.sh [path/to/relayer]
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
relayer=${1:-$here/build/relayer}
cast=$here/node_modules/.bin/cast
key=0x6161616161616161616161616161616161616161616161616161616161616161
account=$("$cast" wallet address --private-key "$key")
data=$("$relayer" venue withdraw --print-typed-data --account "$account" --chain-id 31337 \
    --asset 0x0000000000000000000000000000000000000000 --amount 1000000000000000000 \
    --recipient 0x2222222222222222222222222222222222222222 --owner-nonce 7 --expiry-s 1700003600 \
    --relayers "$here/tests/owner_vector_relayers.json")
echo "account $account"
echo "typed data $data"
echo "signature $("$cast" wallet sign --data --private-key "$key" "$data")"
