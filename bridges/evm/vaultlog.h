/*
 * vaultlog.h - CollateralVault's event logs, decoded strictly: pure functions, no I/O.
 *
 * The watcher (scan.h) reads the vault's logs with eth_getLogs and turns each into a vault_event
 * here. Every event the vault emits carries the vault's own sequence number (from 1, one
 * sequence across all kinds), so a watcher that decodes every kind can tell a missed log from a
 * quiet vault. The wire contract is the header of bridges/evm/contracts/CollateralVault.sol:
 *
 *   event            topics (32 bytes each)                   data (ABI words of 32 bytes)
 *   Deposited        sig | seq | account | asset              amount
 *   Executed         sig | seq | account | asset              kind | amount | recipient | nonce
 *   SignersRotated   sig | seq                                version | 0x60 | threshold | n |
 *                                                             n x signer
 *
 *   sig = keccak256 of the event's canonical signature ("Deposited(uint64,address,address,
 *   uint256)", ...). An indexed uint64 or address, and an address or uint8 word in data, is
 *   right-aligned with zero bytes before it.
 *
 * Strict means: the log comes from the vault, was not removed by a reorg, has exactly the topics
 * and data length of its kind, every padding byte is zero, seq is not 0, the Executed kind is 1
 * (release) or 2 (seize), the signer array sits at offset 0x60 with 1..VAULT_MAX_SIGNERS
 * nonzero, strictly ascending signers and 1 <= threshold <= n. The contract cannot emit anything
 * else, so anything else is not an event of this vault and is refused with RL_ERR_DECODE and a
 * why naming the field. Logs with another first topic are not vault events (RL_ERR_NOTFOUND).
 *
 * The vault also emits events without a sequence number (LimitsSet, PaymentDeferred, Claimed):
 * they are not decoded here, and the scanner never asks for them (its eth_getLogs filter names the
 * three topics above), so they can be neither a gap nor a decoding failure. A deferred payment's
 * Executed is the same event as a paid one's: the instruction executed, the recipient claims later.
 */
#ifndef RL_VAULTLOG_H
#define RL_VAULTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/obs.h"
#include "attest/u256.h"
#include "bridges/evm/rpcjson.h"

#define VAULT_MAX_SIGNERS 64
#define VAULT_EVENT_KINDS 3

typedef enum vault_event_kind {
    VAULT_DEPOSITED = 1,
    VAULT_EXECUTED = 2,
    VAULT_SIGNERS_ROTATED = 3,
} vault_event_kind;

/* Executed's instruction kinds (the contract's KIND_RELEASE and KIND_SEIZE). */
enum vault_exec_kind {
    VAULT_EXEC_RELEASE = 1,
    VAULT_EXEC_SEIZE = 2,
};

typedef struct vault_event {
    vault_event_kind kind;
    uint64_t seq; /* the vault's event sequence number, from 1 */
    /* where the log is */
    uint64_t block_number;
    uint8_t block_hash[RPC_HASH_BYTES];
    uint8_t tx_hash[RPC_HASH_BYTES];
    uint64_t log_index;
    /* Deposited and Executed */
    uint8_t account[RPC_ADDR_BYTES];
    uint8_t asset[RPC_ADDR_BYTES]; /* all zero: the native coin */
    u256 amount;                   /* in the asset's base units */
    /* Executed */
    uint8_t exec_kind;
    uint8_t recipient[RPC_ADDR_BYTES];
    u256 nonce;
    /* SignersRotated */
    u256 version, threshold;
    size_t n_signers;
    uint8_t signers[VAULT_MAX_SIGNERS][RPC_ADDR_BYTES];
} vault_event;

/* "Deposited", "Executed", "SignersRotated" ("?" for anything else). */
const char *vault_event_name(vault_event_kind kind);

/* The first topic (event signature hash) of each kind; topics[k - 1] for kind k. */
void vault_event_topics(uint8_t topics[VAULT_EVENT_KINDS][RPC_HASH_BYTES]);

/* Decodes one log of the vault at address `vault` into *out (fully written on RL_OK).
 *   RL_OK           a vault event
 *   RL_ERR_NOTFOUND the log's first topic is none of the vault's events (or it has no topics)
 *   RL_ERR_DECODE   anything above that is not exactly what the vault emits; why names it */
RL_MUST_USE rl_err vault_decode_log(const rpc_log *l, const uint8_t vault[RPC_ADDR_BYTES], vault_event *out,
                                    rl_why *why);

/* Every field equal (the signers up to n_signers). */
bool vault_event_equal(const vault_event *a, const vault_event *b);

/* The log the vault would emit for e (the inverse of vault_decode_log): address, topics, data,
 * block, transaction and log index. *out's data is malloc'd (release with rpc_logs_fini on a list
 * holding it, or free(out->data)). RL_ERR_ARG for an event the vault cannot emit. */
RL_MUST_USE rl_err vault_encode_log(const vault_event *e, const uint8_t vault[RPC_ADDR_BYTES], rpc_log *out,
                                    rl_why *why);

/* The observation nodes sign for event e on chain chain_id: Deposited -> deposit, Executed ->
 * executed (account, asset, amount, nonce, instruction kind), SignersRotated -> rotated (amount =
 * the new version). RL_ERR_ARG, why naming the event, for what the observation cannot carry: an
 * Executed nonce of 0 or above 2^64-1, a log index above 2^32-1. */
RL_MUST_USE rl_err vault_event_obs(const vault_event *e, uint64_t chain_id, const uint8_t vault[RPC_ADDR_BYTES],
                                   obs *out, rl_why *why);

#endif
