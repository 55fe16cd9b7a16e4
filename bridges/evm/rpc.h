/*
 * rpc.h - an Ethereum JSON-RPC client over HTTP(S) for one chain: several endpoints, fail-over,
 * retries with backoff, batching, health tracking. libcurl carries the requests (one kept-alive
 * connection per endpoint); jansson builds and reads the JSON; rpcjson.h decodes answers
 * strictly; rpceth.h has the typed eth_* calls the watcher and the executor make.
 *
 * Errors are abstentions. Every function returns an rl_err and results only ever come back
 * through out parameters on RL_OK; the API is RL_MUST_USE, so ignoring a failure does not compile.
 * Functions that return a list or bytes set the out pointer to NULL on any failure and to a real
 * object on success, even an empty one: "eth_getLogs failed" (NULL, an error) can never read as
 * "there were no logs" (a list of 0). "Not found" answers (a receipt or a block the node does not
 * have: rpceth.h) are RL_ERR_NOTFOUND, distinct from every failure and from any zeroed struct.
 *
 * What a call can return:
 *   RL_OK               the answer, decoded
 *   RL_ERR_RPC          the node answered with a JSON-RPC error object (execution reverted,
 *                       nonce too low, method not found, ...). Deterministic: never retried,
 *                       never held against the endpoint. rpc_last_error() has the code, message
 *                       and data (revert data).
 *   RL_ERR_NOTFOUND     (rpceth.h) the node answered null: no such receipt / block
 *   RL_ERR_TRANSPORT    no answer: connect failure, timeout, connection closed, HTTP 5xx or any
 *                       other non-200 status (but 429, and a 4xx whose body is a JSON-RPC
 *                       answer, which is read as one); retried on the next endpoint
 *   RL_ERR_RATELIMIT    HTTP 429; that endpoint rests for its Retry-After (capped) or the
 *                       backoff, and the call moves on to the next endpoint
 *   RL_ERR_DECODE       an answer that is not valid JSON-RPC, or whose result does not decode
 *                       strictly (rpcjson.h); counted against the endpoint and retried elsewhere
 *   RL_ERR_WRONG_CHAIN  (rpc_open) an endpoint serves another chain id
 *   RL_ERR_UNAVAILABLE  no endpoint may take the call: all disabled, or demoted / rate limited
 *                       for longer than max_wait_ms, or still behind on their heads
 *   RL_ERR_ARG          a bad argument, or an answer larger than max_response_bytes or with
 *                       more than max_response_values JSON values, both counted on the body
 *                       as decoded (after gzip or deflate), as it arrives, before any parsing
 *                       (ask for less: a narrower block range); not retried
 * The retryable codes come back only when every attempt failed; the why then reads
 * "eth_getLogs: 5 attempts failed; last at http://node-b:8545: timed out after 10000 ms".
 * Every message names the method and the endpoint.
 *
 * Retries. An attempt that fails with a retryable error moves straight on to the next endpoint
 * that may take calls, in configured order, without waiting. When every such endpoint was tried
 * in this round, the call sleeps min(backoff_max_ms, backoff_base_ms * 2^round) with "equal
 * jitter" (half fixed, half random from the jitter hook), or until the earliest rate-limited or
 * demoted endpoint is back if that is later and within max_wait_ms, then starts a new round.
 * At most 1 + max_retries attempts and 1 + max_retries rounds per call (max_retries 0: no
 * fail-over either). One call keeps one request id through its retries; ids are unique within a
 * client. Attempts that fail before the answer (connect, chain id check) count like any other.
 *
 * Endpoints and their health. The endpoint list is in priority order: a call goes to the first
 * endpoint that may take it. States (rpc_health):
 *   healthy       takes calls
 *   rate-limited  answered 429; takes calls again when its rest is over
 *   demoted       max_failures consecutive failures (transport or malformed), or its head
 *                 stalled or lagged (below); takes no calls for cooldown_ms
 *   probing       demoted and the cooldown is over (half-open): an endpoint demoted for
 *                 failures takes calls again in its place in the order, and one failure demotes
 *                 it again while one success makes it healthy; an endpoint demoted for its head
 *                 is asked its head first (by rpc_head, or before a call would use it) and
 *                 becomes healthy only when that head is within bounds again
 *   disabled      answered eth_chainId with another chain id: never used again by this client
 * An endpoint's chain id is checked before its first call, again after every demotion for
 * failures (a node that went away may come back as another chain), and again before a call
 * chain_check_ms after the last check (a node switched to another chain while it answered).
 *
 * Heads. Each endpoint keeps the last head block number seen from it (every eth_blockNumber
 * answer: rpc_call("eth_blockNumber"), rpc_eth_block_number, rpc_head). When a head is seen the
 * endpoint is checked against the others:
 *   lag    its head is more than max_lag_blocks behind the highest head any endpoint (not
 *          disabled) has reported: heads only grow, so an old report is still a lower bound
 *   stall  its head has not advanced for stall_ms while another endpoint's head advanced past it
 * Either demotes it. When no endpoint advances (a chain that produced no block), nothing stalls.
 * The highest head is trusted: an endpoint that reports a head far in the future makes the others
 * look behind (all endpoints are the operator's own choice).
 *
 * Secrets. URLs may carry credentials (user:password@, ?key=..., or an API key in the path as
 * Infura and Alchemy do). They are used for requests only. Everywhere else an endpoint is named
 * by scheme://host[:port], with "/..." when the URL had a path: in every why, in rpc_health and
 * in the health hook. A second endpoint with the same name gets " #2" appended, and so on.
 *
 * Threads. A client is not thread-safe: use one client per thread (clients share nothing).
 * rpc_open initialises libcurl once per process, safely from any thread.
 *
 * Time. now_ms and sleep_ms are hooks (defaults: CLOCK_MONOTONIC, nanosleep), so tests run rests,
 * cooldowns and backoff on a fake clock. Per-request timeouts are libcurl's, in real time.
 */
#ifndef RL_RPC_H
#define RL_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "bridges/evm/rpcjson.h"

#define RPC_MAX_ENDPOINTS 16
#define RPC_NAME_MAX 96

typedef struct rpc rpc;

typedef struct rpc_opts {
    uint64_t chain_id;           /* expected chain id; 0: the first endpoint that answers sets it */
    uint32_t timeout_ms;         /* one HTTP exchange, connect included */
    uint32_t connect_timeout_ms; /* TCP (and TLS) connect */
    uint32_t max_retries;        /* attempts after the first, across all endpoints */
    uint32_t backoff_base_ms;    /* first backoff between rounds; doubles each round */
    uint32_t backoff_max_ms;     /* backoff cap */
    uint32_t max_wait_ms;        /* longest a call waits for a resting endpoint to come back */
    uint32_t ratelimit_max_ms;   /* cap on a 429's Retry-After */
    uint32_t max_failures;       /* consecutive failures that demote an endpoint */
    uint32_t cooldown_ms;        /* how long a demoted endpoint rests before a probe */
    uint32_t stall_ms;           /* head stall that demotes (0: no stall check) */
    uint64_t max_lag_blocks;     /* head lag that demotes (0: no lag check) */
    uint32_t max_batch;          /* calls per HTTP request in rpc_batch; larger batches are split */
    size_t max_response_bytes;   /* larger answers, decoded, are refused (RL_ERR_ARG) */
    size_t max_response_values;  /* answers with more JSON values are refused: jansson spends ~50
                                  * bytes per value, so 2 bytes of "0," would cost 25 times more */
    uint64_t chain_check_ms;     /* an endpoint's chain id is asked again before a call this long
                                  * after the last check (0: only at open and after demotions) */
} rpc_opts;

/* The defaults: chain_id 0, timeout 10 s, connect 3 s, 4 retries, backoff 100 ms .. 5 s,
 * max_wait 5 s, Retry-After capped at 60 s, demoted after 3 failures for 10 s, stall 30 s,
 * lag 16 blocks, batches of 100, answers up to 16 MiB and 1 Mi JSON values, the chain id asked
 * again every 60 s. Chain-specific values (stall, lag) belong in the chain's config. */
rpc_opts rpc_opts_default(void);

typedef enum rpc_state {
    RPC_HEALTHY,
    RPC_RATE_LIMITED,
    RPC_DEMOTED,
    RPC_PROBING,
    RPC_DISABLED,
} rpc_state;

/* "healthy", "rate-limited", "demoted", "probing", "disabled". */
const char *rpc_state_name(rpc_state s);

/* One endpoint's health, for status pages and metrics. */
typedef struct rpc_health {
    char name[RPC_NAME_MAX];  /* without credentials */
    rpc_state state;
    uint32_t failures;        /* consecutive failed attempts */
    uint64_t requests;        /* HTTP exchanges attempted, in total */
    uint64_t errors;          /* of which failed (transport, malformed, rate limited) */
    bool has_head;
    uint64_t head;            /* last head block number seen from it */
    uint64_t head_age_ms;     /* since that head last advanced */
    uint32_t latency_ms;      /* smoothed duration of its successful exchanges (real time) */
    uint64_t rest_ms;         /* until it takes calls again (rate-limited, demoted) */
    char reason[160];         /* why it is not healthy, or its last failure; "" when none */
} rpc_health;

/* Hooks; every member may be NULL (the default is then used). */
typedef struct rpc_hooks {
    uint64_t (*now_ms)(void *ctx);            /* monotonic milliseconds */
    void (*sleep_ms)(void *ctx, uint64_t ms); /* backoff and waits */
    uint32_t (*jitter)(void *ctx);            /* uniformly random 32 bits (default: libsodium) */
    /* Called when an endpoint changes state (demoted, disabled, healthy again, ...), so the
     * process can log it; h is valid only during the call. Library code never logs itself. */
    void (*on_health)(void *ctx, size_t endpoint, const rpc_health *h);
    void *ctx;
} rpc_hooks;

/* Opens a client for one chain over n endpoints (1..RPC_MAX_ENDPOINTS URLs, http or https, in
 * priority order; copied). opts and hooks may be NULL for the defaults. Asks every endpoint for
 * eth_chainId, one attempt each:
 *   - an endpoint that answers another chain id fails the open: RL_ERR_WRONG_CHAIN, why naming
 *     the endpoint and both ids (a misconfigured endpoint list is an operator error, said loudly);
 *   - at least one endpoint must answer the expected id, or the open fails with the last error;
 *   - endpoints that did not answer are checked when they first take a call; one that then
 *     answers another chain id is disabled for good and the call moves on.
 * A URL that does not parse is RL_ERR_ARG naming its position, not its text. */
RL_MUST_USE rl_err rpc_open(rpc **out, const char *const urls[], size_t n, const rpc_opts *opts,
                            const rpc_hooks *hooks, rl_why *why);
/* The same over a config value: URLs separated by spaces, tabs or commas, in priority order.
 * RL_ERR_ARG when there are none or more than RPC_MAX_ENDPOINTS. */
RL_MUST_USE rl_err rpc_open_list(rpc **out, const char *list, const rpc_opts *opts, const rpc_hooks *hooks,
                                 rl_why *why);
void rpc_close(rpc *c);

/* The chain id this client serves (the configured one, or the one learnt at open). */
uint64_t rpc_chain_id(const rpc *c);

/* One JSON-RPC call. params is borrowed (an array, or NULL for []). On RL_OK *result is a new
 * reference the caller json_decref()s; it may be JSON null, which is an answer. On failure
 * *result is NULL. */
RL_MUST_USE rl_err rpc_call(rpc *c, const char *method, json_t *params, json_t **result, rl_why *why);

/* A decoder for rpc_call_decode: turns a result into *out, or refuses it with RL_ERR_DECODE (or
 * RL_ERR_NOTFOUND for a null that means "no such thing"), leaving nothing to free in *out. */
typedef rl_err (*rpc_decode_fn)(json_t *result, void *out, rl_why *why);

/* rpc_call with the result decoded inside the attempt, so that a result that does not decode
 * counts as a malformed answer from that endpoint and the call moves on to the next one (the
 * typed wrappers in rpceth.h are built on it). Returns what decode returned, or a call failure. */
RL_MUST_USE rl_err rpc_call_decode(rpc *c, const char *method, json_t *params, rpc_decode_fn decode, void *out,
                                   rl_why *why);

/* The node's error object from the last call that returned RL_ERR_RPC (code 0 and an empty
 * message otherwise); valid until the next call on this client. */
const rpc_error *rpc_last_error(const rpc *c);

/* A batch: n calls in one HTTP request (split into requests of max_batch), answers matched by
 * id whatever their order. Each results[i] says how its call went: err (RL_OK or any code
 * above), result (a new reference on RL_OK, else NULL), error (for RL_ERR_RPC), why. A batch
 * answer without an answer for some call is RL_ERR_DECODE for that call only. Transport failures
 * retry the whole request on the next endpoint as for rpc_call. Returns RL_OK only when every
 * call succeeded; otherwise the first failed call's code, its why naming the call. The caller
 * releases results with rpc_batch_fini, whatever was returned. */
typedef struct rpc_req {
    const char *method;
    json_t *params; /* borrowed; NULL for [] */
} rpc_req;

typedef struct rpc_res {
    rl_err err;
    json_t *result;
    rpc_error error;
    rl_why why;
} rpc_res;

RL_MUST_USE rl_err rpc_batch(rpc *c, size_t n, const rpc_req calls[], rpc_res results[], rl_why *why);
void rpc_batch_fini(rpc_res results[], size_t n);

/* Asks every endpoint that may take a call, or whose cooldown is over, for eth_blockNumber (one
 * attempt each, no retries), records the heads, demotes endpoints that lag or stall, promotes
 * head-demoted ones that caught up, and sets *head to the lowest head among the healthy
 * endpoints that answered: a block every endpoint a call may go to has. Fails only when no
 * healthy endpoint answered. */
RL_MUST_USE rl_err rpc_head(rpc *c, uint64_t *head, rl_why *why);

size_t rpc_endpoint_count(const rpc *c);
/* Endpoint i's health now (i < rpc_endpoint_count). */
void rpc_health_get(const rpc *c, size_t i, rpc_health *out);

#endif
