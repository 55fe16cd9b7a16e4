/*
 * executor.h - submits signed bundles to CollateralVault.execute on one chain, as EIP-1559
 * transactions the relayer builds and signs itself (abi.h, tx.h, attest/keys.h), over the
 * JSON-RPC client (rpceth.h), and follows each to an outcome.
 *
 * One call, executor_execute, takes one bundle (an Instruction and its signatures, signers
 * ascending) through these steps:
 *
 *   1. estimate  eth_estimateGas of the call from the executor's account. A revert here is the
 *                vault refusing the bundle (past its deadline, nonce used, bad quorum, ...):
 *                the outcome is EXECUTOR_REVERTED with the custom error's selector and nothing
 *                is sent. gas limit = estimate + gas_margin_pct %, at most max_gas: no
 *                transaction is signed with more. An estimate above max_gas is an error
 *                (RL_ERR_STATE naming the chain and the instruction's nonce) and nothing is
 *                sent: whatever makes an execute that costly (a recipient's code, a vault that
 *                is not the one expected) is not paid for blindly. The vault bounds what a
 *                recipient can take (NATIVE_GAS_STIPEND, TOKEN_TRANSFER_GAS), so an honest
 *                execute stays far below the default.
 *   2. fees      tip = max(eth_maxPriorityFeePerGas, min_priority_fee_wei); max fee = 2 x the
 *                next block's base fee (eth_feeHistory) + tip; both capped by max_fee_cap_wei.
 *   3. nonce     eth_getTransactionCount(account, "pending") the first time, then kept by the
 *                executor: +1 after each transaction that was mined (success or revert). After
 *                a give-up the executor forgets it and asks the node again next time (the
 *                given-up transaction may still hold or release its nonce).
 *   4. send      eth_sendRawTransaction. The node's answer decides, never a guess:
 *                  "already known"       the node has this very transaction: follow it
 *                  "nonce too low"       look for the receipts of this nonce's transactions; if
 *                                        one is there, follow it; if none, another transaction
 *                                        of this account took the nonce: ask the node for the
 *                                        pending nonce and start again (at most
 *                                        EXECUTOR_MAX_RENONCE times)
 *                  "underpriced"         a replacement the node wants bumped more: counts as a
 *                                        bump, and the next round bumps again
 *                  no answer (transport) the transaction may have arrived: follow its hash and
 *                                        broadcast the same bytes again next round
 *                  any other error       the call fails with it (e.g. insufficient funds)
 *   5. follow    every poll_ms ask for the receipt of each transaction sent for this nonce
 *                (the original and every replacement: any of them may be the one mined). A
 *                receipt counts once the head is confirmations - 1 blocks past its block and the
 *                receipt, asked again, is still in the same block (a reorg sends it back to
 *                waiting). Status 1: EXECUTOR_MINED. Status 0: EXECUTOR_REVERTED, with the
 *                selector found by replaying the call at the block before.
 *   6. replace   a transaction without a receipt after stuck_ms is replaced: same nonce, both
 *                fees raised by bump_permille (at least 125, the 12.5 % nodes require for a
 *                replacement; rounded up), or to what the chain now asks if that is more, at
 *                most max_bumps times and never above max_fee_cap_wei.
 *   7. give up   when timeout_ms has passed, or when no replacement is allowed any more (bumps
 *                used up, or the cap reached) and the last transaction is stuck_ms old:
 *                EXECUTOR_GAVE_UP, naming the nonce and the last hash in detail.
 *
 * Ownership. The executor borrows the rpc client and the key (which must outlive it). It is not
 * thread-safe: one executor per account, one call at a time (a second executor on the same
 * account would race it for nonces; "nonce too low" handling recovers, at the cost of a round).
 *
 * Library code never logs: on_submit reports every broadcast (nonce, hash, fees) so the process
 * can. The key's secret never appears in a why or a report.
 */
#ifndef RL_EXECUTOR_H
#define RL_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/u256.h"
#include "bridges/evm/abi.h"
#include "bridges/evm/rpc.h"

#define EXECUTOR_MIN_BUMP_PERMILLE 125 /* 12.5 % */
#define EXECUTOR_MAX_BUMPS 32
#define EXECUTOR_MAX_RENONCE 3
#define EXECUTOR_MIN_GAS 21000            /* a transaction's intrinsic gas: below it nothing is valid */
#define EXECUTOR_DEFAULT_MAX_GAS 500000   /* a quorum of 2-5 signatures and a bounded payment take 150-300 k */

typedef struct executor executor;

typedef struct executor_opts {
    uint64_t confirmations;     /* >= 1: 1 is the block that includes it */
    uint32_t gas_margin_pct;    /* added to the estimate */
    uint64_t max_gas;           /* >= EXECUTOR_MIN_GAS: no transaction is signed with a higher gas limit */
    u256 max_fee_cap_wei;       /* per gas; no transaction is signed with a higher max fee */
    u256 min_priority_fee_wei;  /* per gas; floor under the node's suggested tip */
    uint32_t bump_permille;     /* fee increase per replacement, >= EXECUTOR_MIN_BUMP_PERMILLE */
    uint32_t max_bumps;         /* replacements per bundle, <= EXECUTOR_MAX_BUMPS */
    uint32_t stuck_ms;          /* without a receipt this long, a transaction is replaced */
    uint32_t poll_ms;           /* between receipt checks */
    uint32_t timeout_ms;        /* one executor_execute call, from its start */
} executor_opts;

/* Defaults: 2 confirmations, 20 % gas margin, at most EXECUTOR_DEFAULT_MAX_GAS gas, cap 500 gwei,
 * tip floor 1 gwei, bump 12.5 %, 5 bumps, stuck after 30 s, poll every 1 s, time out after 10 min. */
executor_opts executor_opts_default(void);

/* One broadcast, for the process's log and for tests. */
typedef struct executor_submit {
    uint64_t nonce;
    uint8_t tx_hash[HASH_BYTES];
    u256 max_fee_wei, max_priority_fee_wei; /* per gas */
    uint64_t gas_limit;
    unsigned bump; /* 0: the first transaction of this bundle; n: the n-th replacement */
} executor_submit;

/* Every member may be NULL (defaults: CLOCK_MONOTONIC, nanosleep, no report). */
typedef struct executor_hooks {
    uint64_t (*now_ms)(void *ctx);
    void (*sleep_ms)(void *ctx, uint64_t ms);
    void (*on_submit)(void *ctx, const executor_submit *s);
    void *ctx;
} executor_hooks;

typedef enum executor_outcome {
    EXECUTOR_MINED,    /* executed: status 1 at the confirmation depth */
    EXECUTOR_REVERTED, /* refused by the vault: at the estimate (nothing sent) or mined with status 0 */
    EXECUTOR_GAVE_UP,  /* not mined within the replacements, the fee cap and the time allowed */
} executor_outcome;

/* "mined", "reverted", "gave up". */
const char *executor_outcome_name(executor_outcome o);

typedef struct executor_report {
    executor_outcome outcome;
    bool sent;                       /* a transaction was broadcast (false: refused at estimate) */
    uint64_t nonce;                  /* when sent */
    uint8_t tx_hash[HASH_BYTES];     /* the mined transaction; else the last one sent */
    uint64_t block_number;           /* mined: its block */
    uint8_t block_hash[HASH_BYTES];
    uint64_t gas_used;
    u256 effective_gas_price_wei;
    unsigned submissions;            /* transactions signed for this bundle: 1 + replacements */
    bool has_error;                  /* a revert carried a custom error (or Error(string)) */
    uint8_t error_selector[ABI_SELECTOR_BYTES];
    const char *error_name;          /* the vault's error signature, or NULL when unknown */
    char detail[320];                /* one line: why it reverted or gave up */
} executor_report;

/* Checks the options (RL_ERR_ARG naming the bad one). c and key are borrowed; vault is copied. */
RL_MUST_USE rl_err executor_new(executor **out, rpc *c, const evm_key *key, const uint8_t vault[EVM_ADDR_BYTES],
                                const executor_opts *opts, const executor_hooks *hooks, rl_why *why);
void executor_free(executor *x);

/* Submits execute(ins, sigs) and follows it to an outcome in *rep. RL_OK means an outcome was
 * reached (mined, reverted or gave up: read rep->outcome). An error means no outcome: the node
 * could not be asked for what the transaction needs (estimate, fees, nonce), or refused the
 * transaction for a reason other than those in the header; rep->sent says whether something
 * was broadcast before that. */
RL_MUST_USE rl_err executor_execute(executor *x, const vault_instruction *ins, const uint8_t (*sigs)[EVM_SIG_BYTES],
                                    size_t n, executor_report *rep, rl_why *why);

/* The nonce the next transaction will use, when the executor holds one (false: it will ask). */
bool executor_next_nonce(const executor *x, uint64_t *nonce);

#endif
