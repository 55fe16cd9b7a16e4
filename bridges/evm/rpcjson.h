/*
 * rpcjson.h - the Ethereum JSON-RPC value formats, decoded strictly: pure functions, no I/O.
 *
 * The client (rpc.h) sends and receives; this module says what a well-formed answer is. Every
 * decoder either fills its output completely or refuses with RL_ERR_DECODE and a why naming the
 * field ("logs[2].topics[1]: ..."), so a half-understood answer can never look like a real one.
 *
 * Hex formats (Ethereum execution-apis, "QUANTITY" and "DATA"):
 *
 *   quantity  "0x" then 1+ hex digits, no leading zero unless the value is 0: "0x0", "0x1f".
 *             Refused: "0x", "0x00", "0x01", "1f", "0X1f", " 0x1", "-0x1", a value that does not
 *             fit the target type (uint64 or uint256).
 *   data      "0x" then an even number of hex digits (whole bytes); "0x" is empty data.
 *             Fixed-size data (address: 20 bytes, hash: 32 bytes) must have exactly that length.
 *
 * Digits a-f may be upper or lower case (nodes write lower case; the case changes no value).
 * Anything else in a hex string, including a NUL, is refused.
 *
 * JSON-RPC 2.0 envelope: an answer is an object with "jsonrpc": "2.0", the request's integer
 * "id", and exactly one of "result" or "error"; an error is an object with an integer "code"
 * and a string "message" (and any "data"). Other members are ignored. A batch answer is an array
 * of such objects in any order.
 */
#ifndef RL_RPCJSON_H
#define RL_RPCJSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/u256.h"

#define RPC_ADDR_BYTES 20
#define RPC_HASH_BYTES 32
#define RPC_MAX_TOPICS 4

/* ---- hex quantities and data ---- */

/* Strict quantity -> uint64. s need not be NUL-terminated: len bytes are read. `what` names the
 * field in why. RL_ERR_DECODE for anything not a canonical quantity, RL_ERR_OVERFLOW when it does
 * not fit. */
RL_MUST_USE rl_err rpcjson_parse_u64(const char *s, size_t len, uint64_t *out, const char *what, rl_why *why);
RL_MUST_USE rl_err rpcjson_parse_u256(const char *s, size_t len, u256 *out, const char *what, rl_why *why);
/* Strict data of exactly n bytes into out. */
RL_MUST_USE rl_err rpcjson_parse_fixed(const char *s, size_t len, uint8_t *out, size_t n, const char *what,
                                       rl_why *why);
/* Strict data of any length: *out is malloc'd (never NULL on success, even for "0x"), caller
 * frees; *out_len its length. */
RL_MUST_USE rl_err rpcjson_parse_bytes(const char *s, size_t len, uint8_t **out, size_t *out_len,
                                       const char *what, rl_why *why);

/* The same on a JSON value, which must be a string (anything else, or NULL, is RL_ERR_DECODE). */
RL_MUST_USE rl_err rpcjson_u64(const json_t *v, uint64_t *out, const char *what, rl_why *why);
RL_MUST_USE rl_err rpcjson_u256(const json_t *v, u256 *out, const char *what, rl_why *why);
RL_MUST_USE rl_err rpcjson_fixed(const json_t *v, uint8_t *out, size_t n, const char *what, rl_why *why);
RL_MUST_USE rl_err rpcjson_bytes(const json_t *v, uint8_t **out, size_t *out_len, const char *what, rl_why *why);

/* Encoders to JSON strings in the canonical forms above (new references; NULL only when out of
 * memory). */
json_t *rpcjson_from_u64(uint64_t v);
json_t *rpcjson_from_u256(const u256 *v);
json_t *rpcjson_from_bytes(const uint8_t *b, size_t n);

/* ---- block identifiers ---- */

typedef enum rpc_tag {
    RPC_NUMBER,    /* the block numbered `number` */
    RPC_LATEST,    /* the node's head */
    RPC_SAFE,      /* the head the consensus layer considers safe from reorgs (post-merge) */
    RPC_FINALIZED, /* the latest finalised block (post-merge; some L2s map it to L1 finality) */
    RPC_PENDING,   /* the block being built (nonces, estimates) */
    RPC_EARLIEST,  /* genesis */
} rpc_tag;

typedef struct rpc_blockid {
    rpc_tag tag;
    uint64_t number; /* only for RPC_NUMBER */
} rpc_blockid;

static inline rpc_blockid rpc_block_at(uint64_t number) { return (rpc_blockid){RPC_NUMBER, number}; }
static inline rpc_blockid rpc_block_tag(rpc_tag tag) { return (rpc_blockid){tag, 0}; }

/* "0x1f" or "latest" / "safe" / ... (new reference; NULL for an unknown tag). */
json_t *rpcjson_from_blockid(rpc_blockid b);

/* ---- the JSON-RPC envelope ---- */

/* A node's JSON-RPC error object. */
typedef struct rpc_error {
    int64_t code;      /* e.g. -32601 method not found, -32000 server error, 3 execution reverted */
    char message[200]; /* the node's message, truncated, control characters replaced by '?' */
    json_t *data;      /* its "data" member (a new reference) or NULL; for a revert, the revert
                        * data as hex: decode with rpcjson_bytes */
} rpc_error;

/* Drops e->data and zeroes e. */
void rpc_error_clear(rpc_error *e);

/* Checks one answer against the request id.
 *   RL_OK          *result = its "result" (borrowed from resp; JSON null is a valid result)
 *   RL_ERR_RPC     an error object: *err filled (err->data is a new reference); an error answer
 *                  with "id": null (the node could not read the request) is accepted too
 *   RL_ERR_DECODE  not a JSON-RPC 2.0 answer to this id: why says what is wrong */
RL_MUST_USE rl_err rpcjson_response(json_t *resp, int64_t id, json_t **result, rpc_error *err, rl_why *why);

/* Matches a batch answer to requests numbered first_id .. first_id+n-1. resp must be an array
 * of objects whose ids are in that range, each id at most once; answers[i] is the object for
 * request first_id+i (borrowed from resp) or NULL when the batch has no answer for it. Check
 * each with rpcjson_response. A single error object instead of an array (a node that refuses
 * the whole batch) is RL_ERR_RPC with *err filled. An unknown or repeated id, or an element that
 * is not an object with an integer id, is RL_ERR_DECODE: nothing in the batch can be trusted. */
RL_MUST_USE rl_err rpcjson_batch(json_t *resp, int64_t first_id, size_t n, json_t *answers[], rpc_error *err,
                                 rl_why *why);

/* ---- typed results ---- */

/* eth_getBlockByNumber (without transaction bodies). */
typedef struct rpc_block {
    uint64_t number;
    uint64_t timestamp; /* seconds since the epoch */
    uint8_t hash[RPC_HASH_BYTES];
    uint8_t parent_hash[RPC_HASH_BYTES];
    bool has_base_fee; /* false before London (EIP-1559) */
    u256 base_fee_per_gas;
} rpc_block;

/* A JSON null block is RL_ERR_NOTFOUND (no such block yet); a block without a hash or number
 * (a pending block) is RL_ERR_DECODE. */
RL_MUST_USE rl_err rpcjson_block(const json_t *v, rpc_block *out, rl_why *why);

/* One event log, as eth_getLogs and receipts give it. */
typedef struct rpc_log {
    uint8_t address[RPC_ADDR_BYTES];
    uint8_t topics[RPC_MAX_TOPICS][RPC_HASH_BYTES];
    unsigned n_topics;
    uint8_t *data; /* malloc'd, never NULL; owned by the list */
    size_t data_len;
    uint64_t block_number;
    uint8_t block_hash[RPC_HASH_BYTES];
    uint8_t tx_hash[RPC_HASH_BYTES];
    uint64_t tx_index;
    uint64_t log_index; /* position in the block */
    bool removed;       /* true: the log was dropped by a reorg (filters report this) */
} rpc_log;

typedef struct rpc_logs {
    size_t n;
    rpc_log *v;
} rpc_logs;

/* A JSON array of logs into *out (which the caller later releases with rpc_logs_fini). Logs of
 * pending blocks (null blockNumber, blockHash or logIndex) are refused: a watcher never asks for
 * them, and an answer that has them is not the answer it asked for. On failure *out is empty. */
RL_MUST_USE rl_err rpcjson_logs(const json_t *v, rpc_logs *out, rl_why *why);
void rpc_logs_fini(rpc_logs *l);

/* eth_getTransactionReceipt (post-Byzantium receipts, with a status). */
typedef struct rpc_receipt {
    uint8_t tx_hash[RPC_HASH_BYTES];
    uint8_t block_hash[RPC_HASH_BYTES];
    uint64_t block_number;
    uint64_t tx_index;
    uint8_t status; /* 1: succeeded, 0: reverted */
    uint64_t gas_used, cumulative_gas_used;
    bool has_effective_gas_price; /* false on nodes older than London */
    u256 effective_gas_price;     /* wei per gas actually paid */
    bool has_contract_address;
    uint8_t contract_address[RPC_ADDR_BYTES]; /* for a contract creation */
    rpc_logs logs;
} rpc_receipt;

/* A JSON null receipt is RL_ERR_NOTFOUND (not mined, or unknown to this node). A receipt without
 * a status of 0x0 or 0x1 is RL_ERR_DECODE. Release with rpc_receipt_fini. */
RL_MUST_USE rl_err rpcjson_receipt(const json_t *v, rpc_receipt *out, rl_why *why);
void rpc_receipt_fini(rpc_receipt *r);

/* eth_feeHistory. */
typedef struct rpc_fee_history {
    uint64_t oldest_block;
    size_t n_blocks;         /* blocks described (may be fewer than asked near genesis) */
    u256 *base_fee;          /* n_blocks + 1 entries: the last is the block after the newest */
    uint32_t *gas_used_ppm;  /* n_blocks entries: gasUsedRatio in parts per million */
    size_t n_percentiles;    /* as asked */
    u256 *reward;            /* n_blocks x n_percentiles priority fees (row per block), or NULL */
} rpc_fee_history;

/* n_percentiles is how many reward percentiles were asked for: each block's reward array must
 * have exactly that many entries (and none may be present when 0 were asked). Release with
 * rpc_fee_history_fini. gasUsedRatio is a JSON real in [0, 1]; it is informational and becomes
 * an integer here. */
RL_MUST_USE rl_err rpcjson_fee_history(const json_t *v, size_t n_percentiles, rpc_fee_history *out, rl_why *why);
void rpc_fee_history_fini(rpc_fee_history *f);

#endif
