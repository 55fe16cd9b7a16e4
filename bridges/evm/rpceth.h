/*
 * rpceth.h - the Ethereum JSON-RPC methods the watcher, the executor and the oracle reader ask,
 * with typed arguments and strictly decoded results (rpcjson.h), over an rpc client (rpc.h).
 *
 * Each wrapper is one rpc_call_decode: the errors, retries and fail-over of rpc.h apply, and a
 * result that does not decode, or that is not what was asked (a block with another number, logs
 * outside the filter, a receipt of another transaction), counts as a malformed answer from that
 * endpoint: the call moves on to the next one. Lists and byte strings come back as a non-NULL
 * object on RL_OK, even when empty, and NULL on any failure; RL_ERR_NOTFOUND is the node saying
 * null (no such receipt or block), never a failure.
 */
#ifndef RL_RPCETH_H
#define RL_RPCETH_H

#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/u256.h"
#include "bridges/evm/rpc.h"
#include "bridges/evm/rpcjson.h"

RL_MUST_USE rl_err rpc_eth_chain_id(rpc *c, uint64_t *chain_id, rl_why *why);
RL_MUST_USE rl_err rpc_eth_block_number(rpc *c, uint64_t *number, rl_why *why);

/* eth_getBlockByNumber(at, false). RL_ERR_NOTFOUND when the node has no such block. */
RL_MUST_USE rl_err rpc_eth_get_block(rpc *c, rpc_blockid at, rpc_block *out, rl_why *why);

/* eth_getLogs. A filter matches logs of any of the addresses (none: any address) whose topic at
 * position p is any of topics[p] (an empty position matches anything), in blocks from..to, or in
 * the one block block_hash (EIP-234) when that is set. */
typedef struct rpc_topic_set {
    const uint8_t (*any)[RPC_HASH_BYTES];
    size_t n; /* 0: any topic */
} rpc_topic_set;

typedef struct rpc_filter {
    const uint8_t (*addresses)[RPC_ADDR_BYTES];
    size_t n_addresses;
    rpc_topic_set topics[RPC_MAX_TOPICS];
    size_t n_topics; /* positions given; later ones match anything */
    rpc_blockid from, to;
    const uint8_t *block_hash; /* RPC_HASH_BYTES, or NULL to use from/to */
} rpc_filter;

/* On RL_OK *logs is a list (maybe of 0), freed with rpc_logs_free; on failure NULL. */
RL_MUST_USE rl_err rpc_eth_get_logs(rpc *c, const rpc_filter *f, rpc_logs **logs, rl_why *why);
void rpc_logs_free(rpc_logs *l);

/* eth_getTransactionReceipt. RL_ERR_NOTFOUND (and *out NULL) when the node has no receipt: not
 * mined yet, dropped, or unknown. Free with rpc_receipt_free. */
RL_MUST_USE rl_err rpc_eth_get_receipt(rpc *c, const uint8_t tx_hash[RPC_HASH_BYTES], rpc_receipt **out,
                                       rl_why *why);
void rpc_receipt_free(rpc_receipt *r);

/* A message for eth_call and eth_estimateGas. */
typedef struct rpc_callmsg {
    const uint8_t *from; /* RPC_ADDR_BYTES or NULL */
    const uint8_t *to;   /* RPC_ADDR_BYTES, or NULL to create a contract */
    const uint8_t *data;
    size_t data_len;
    const u256 *value; /* wei, or NULL */
    uint64_t gas;      /* 0: let the node choose */
} rpc_callmsg;

/* eth_call at a block. On RL_OK *out is malloc'd (never NULL, even for empty return data) and
 * *out_len its length; the caller frees. A revert is RL_ERR_RPC; its data is in
 * rpc_last_error()->data. */
RL_MUST_USE rl_err rpc_eth_call(rpc *c, const rpc_callmsg *m, rpc_blockid at, uint8_t **out, size_t *out_len,
                                rl_why *why);
/* eth_estimateGas on the pending state. */
RL_MUST_USE rl_err rpc_eth_estimate_gas(rpc *c, const rpc_callmsg *m, uint64_t *gas, rl_why *why);

/* eth_sendRawTransaction; *tx_hash is the node's hash of it. A transport failure may hide a
 * transaction that was accepted, and a retry on another endpoint may then answer RL_ERR_RPC
 * "already known" or "nonce too low": the executor decides what that means by looking for the
 * transaction, not this client. */
RL_MUST_USE rl_err rpc_eth_send_raw_tx(rpc *c, const uint8_t *raw, size_t len, uint8_t tx_hash[RPC_HASH_BYTES],
                                       rl_why *why);

/* eth_getTransactionCount(address, at): the next nonce, counting pending transactions with
 * rpc_block_tag(RPC_PENDING), mined ones only with RPC_LATEST. */
RL_MUST_USE rl_err rpc_eth_get_tx_count(rpc *c, const uint8_t address[RPC_ADDR_BYTES], rpc_blockid at,
                                        uint64_t *nonce, rl_why *why);

/* eth_maxPriorityFeePerGas: the node's suggested tip, in wei per gas. */
RL_MUST_USE rl_err rpc_eth_max_priority_fee(rpc *c, u256 *wei, rl_why *why);

/* eth_feeHistory(blocks, newest, percentiles): percentiles are whole percent, ascending, each
 * 0..100 (n may be 0). Release *out with rpc_fee_history_fini. */
RL_MUST_USE rl_err rpc_eth_fee_history(rpc *c, uint64_t blocks, rpc_blockid newest, const uint8_t *percentiles,
                                       size_t n, rpc_fee_history *out, rl_why *why);

#endif
