/*
 * bundle.h - an instruction with the cluster's signatures: what an executor submits to the
 * vault's execute(), as the hub logs it.
 *
 * Each relayer node's cosigner follows the log with its own replica and calculator; for an
 * INSTRUCTION whose decision its own calculator reached, it signs the instruction's EIP-712
 * digest (instruction_digest: CollateralVault's Instruction under the vault's domain) with its
 * secp256k1 key and sends the signature to the hub. Once `threshold` members of the set in force
 * signed, the hub logs a BUNDLE: the signatures in ascending order of their signers' EVM
 * addresses, the order the vault checks. One bundle per instruction.
 *
 * Bundle, version 1 (integers big-endian):
 *
 *   offset  size  field
 *        0     1  version      = 1
 *        1     8  instruction  sequence number of the INSTRUCTION record
 *        9     1  n            signatures, 1..RELSET_MAX_MEMBERS
 *       10        n x (member (2) | sig (65): r || s || v, v 27/28, low s)
 *                              members distinct, their EVM addresses strictly ascending
 *
 * bundle key = BLAKE2b-256(personal "rly.bunkey.v1", instruction (8)): logged once.
 */
#ifndef RL_BUNDLE_H
#define RL_BUNDLE_H

#include <stdint.h>

#include "attest/instruction.h"
#include "attest/relset.h"

#define BUNDLE_VERSION 1
#define BUNDLE_FIXED_BYTES 10
#define BUNDLE_SIG_BYTES (2 + EVM_SIG_BYTES)
#define BUNDLE_MAX_BYTES (BUNDLE_FIXED_BYTES + RELSET_MAX_MEMBERS * BUNDLE_SIG_BYTES)

typedef struct bundle_sig {
    uint16_t member;
    uint8_t sig[EVM_SIG_BYTES];
} bundle_sig;

typedef struct bundle {
    uint64_t instruction;
    uint8_t n;
    bundle_sig e[RELSET_MAX_MEMBERS];
} bundle;

/* *len gets the length. RL_ERR_ARG for n = 0 or above RELSET_MAX_MEMBERS. */
RL_MUST_USE rl_err bundle_encode(uint8_t out[BUNDLE_MAX_BYTES], size_t *len, const bundle *b, rl_why *why);
/* Strict: version, length, n. */
RL_MUST_USE rl_err bundle_decode(bundle *b, const uint8_t *in, size_t len, rl_why *why);
void bundle_key(uint8_t out[HASH_BYTES], uint64_t instruction_seq);

/* The members are distinct members of `set` in ascending order of their EVM addresses and there
 * are at least its threshold of them (signatures not checked). */
RL_MUST_USE rl_err bundle_check_signers(const bundle *b, const relset *set, rl_why *why);
/* bundle_check_signers, and every signature recovers its member's address from `digest`. */
RL_MUST_USE rl_err bundle_verify(const bundle *b, const relset *set, const uint8_t digest[HASH_BYTES], rl_why *why);

/* Sorts e[0..n) by the members' addresses in `set` (members not in it go last). */
void bundle_sort(bundle *b, const relset *set);

#endif
