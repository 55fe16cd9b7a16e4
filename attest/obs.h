/*
 * obs.h - observations: what a relayer node saw on a chain, in one canonical encoding.
 *
 * A node signs the content hash of the encoded bytes; the hub groups signatures by event id and
 * content hash, so two nodes agree exactly when their encodings are byte-identical. The encoding
 * is therefore fixed-length and has one valid form per value: decoding rejects an unknown version
 * or kind, a wrong length, trailing bytes and any field outside its kind's domain.
 *
 * Kinds (one per vault event; every vault event is observed, so the vault's sequence has no gaps):
 *   1 deposit   Deposited: account credited with amount of asset
 *   2 executed  Executed: a signed instruction ran; account, asset and amount as executed, and in
 *               the reserved bytes the vault's instruction nonce (> 0; the vault's uint256 nonce
 *               must be below 2^64 to be observed) and the instruction kind (1 release, 2 seize)
 *   3 rotated   SignersRotated: the vault's signer set changed; account and asset zero, amount =
 *               the new set version (> 0)
 *   4 expired   not a vault event: an instruction's deadline passed without its execution. The
 *               block is the first block whose timestamp is after the instruction's deadline,
 *               read at the chain's confirmation depth, and nonceUsed(nonce) is false at it: the
 *               vault refuses execute() after the deadline, so the nonce can never be used. Every
 *               honest node picks that same block, so their encodings are byte-identical.
 *               tx_hash = the instruction id (instruction.h), log_index = OBS_EXPIRED_LOG_INDEX:
 *               one event id per instruction, never a real log's (a tx hash is not an instruction
 *               id). vault_seq = 0 (exempt from the vault's sequence rules). account and asset
 *               are the instruction's; amount = the block's timestamp (unix seconds, < 2^64, > 0);
 *               nonce and instruction kind in the reserved bytes as for executed.
 *
 * Wire format, version 1 (198 bytes, integers big-endian):
 *
 *   offset  size  field
 *        0     1  version            = 1
 *        1     1  kind               1 deposit, 2 executed, 3 rotated, 4 expired
 *        2     8  chain_id           EIP-155 chain id
 *       10    20  vault              vault contract address
 *       30     8  block_number
 *       38    32  block_hash
 *       70    32  tx_hash            expired: the instruction id
 *      102     4  log_index          index of the log in its block; expired: 0xffffffff
 *      106     8  vault_seq          the vault's own event sequence number (from 1); expired: 0
 *      114    20  account            the account credited / debited (zero: rotated)
 *      134    20  asset              token address; all zero for the chain's native coin (and rotated)
 *      154    32  amount             uint256, in the asset's smallest unit (rotated: the set version;
 *                                    expired: the block's timestamp, unix seconds, 1 .. 2^64-1)
 *      186    12  reserved           deposit, rotated: must be zero
 *                                    executed, expired:
 *                                              186  8  nonce       instruction nonce, > 0
 *                                              194  1  ins_kind    1 release, 2 seize
 *                                              195  3  zero
 *
 * content hash = BLAKE2b-256(personal "rly.obs.v1", bytes)       -- what nodes sign
 * event id     = BLAKE2b-256(personal "rly.event.v1",
 *                            chain_id(8) || tx_hash(32) || log_index(4))
 */
#ifndef RL_OBS_H
#define RL_OBS_H

#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/u256.h"

#define OBS_VERSION 1
#define OBS_BYTES 198

enum obs_kind {
    OBS_KIND_DEPOSIT = 1,
    OBS_KIND_EXECUTED = 2,
    OBS_KIND_ROTATED = 3,
    OBS_KIND_EXPIRED = 4,
};

/* An expired observation's log_index: no block holds 2^32 - 1 logs. */
#define OBS_EXPIRED_LOG_INDEX UINT32_MAX

typedef struct obs {
    uint8_t kind;
    uint64_t chain_id;
    uint8_t vault[EVM_ADDR_BYTES];
    uint64_t block_number;
    uint8_t block_hash[HASH_BYTES];
    uint8_t tx_hash[HASH_BYTES];
    uint32_t log_index;
    uint64_t vault_seq;
    uint8_t account[EVM_ADDR_BYTES];
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
    /* executed and expired only (zero otherwise) */
    uint64_t nonce;        /* the vault's instruction nonce, > 0 */
    uint8_t ins_kind;      /* instruction_kind: 1 release, 2 seize */
} obs;

/* Encodes o; RL_ERR_ARG when a field is out of its kind's domain (unknown kind, vault_seq 0 on a
 * vault event, an executed or expired observation's nonce 0 or instruction kind not 1 or 2, a
 * rotation with an account, an asset or version 0, a nonce or instruction kind on another kind;
 * an expiry with vault_seq not 0, log_index not OBS_EXPIRED_LOG_INDEX, or a timestamp 0 or of
 * 2^64 and above). */
RL_MUST_USE rl_err obs_encode(uint8_t out[OBS_BYTES], const obs *o, rl_why *why);
/* Decodes exactly len bytes; every deviation from the canonical form is an error (RL_ERR_DECODE,
 * RL_ERR_VERSION for another version), with why naming the field. */
RL_MUST_USE rl_err obs_decode(obs *o, const uint8_t *in, size_t len, rl_why *why);

void obs_content_hash(uint8_t out[HASH_BYTES], const uint8_t enc[OBS_BYTES]);
/* An expired observation's chain time (its amount), unix seconds; the decoder checked it fits. */
uint64_t obs_expired_time_s(const obs *o);
void obs_event_id(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t tx_hash[HASH_BYTES],
                  uint32_t log_index);
/* "deposit", "executed", "rotated", "expired" ("?" for anything else). */
const char *obs_kind_name(uint8_t kind);

/* A node's signed observation as it travels to the hub. */
typedef struct signed_obs {
    uint8_t bytes[OBS_BYTES];
    uint16_t member; /* signer's member id in the relayer set */
    uint8_t sig[ED25519_SIG_BYTES]; /* ed25519 over the content hash */
} signed_obs;

/* Signs enc with k, filling so. */
void obs_sign(signed_obs *so, const uint8_t enc[OBS_BYTES], uint16_t member, const node_key *k);

#endif
