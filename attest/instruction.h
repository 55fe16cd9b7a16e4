/*
 * instruction.h - what a vault's execute() is asked to do, as the hub logs it.
 *
 * A logged decision that moves funds is carried out by instructions, one per chain and asset:
 * an approved withdrawal by one release (to the recipient the venue's request named), a
 * liquidation by one seize per entry of its seize plan (to the venue's insurance address on that
 * chain). When the ledger applies such a DECISION it files a plan for each (what the decision
 * fixes: kind, account, chain, asset, amount and, for a release, the recipient); the hub then
 * adds what only it knows (the vault, the seize recipient, a nonce, a deadline) and logs an
 * INSTRUCTION record, which the ledger accepts only if it matches its plan, and with which it
 * reserves the amount, in the same transaction. Cosigners sign the instruction's EIP-712 digest
 * (CollateralVault's Instruction type); the vault checks the deadline, the nonce and the balance.
 *
 * Instruction, version 1 (integers big-endian):
 *
 *   offset  size  field
 *        0     1  version      = 1
 *        1     1  kind         1 release, 2 seize (the vault's KIND_RELEASE, KIND_SEIZE)
 *        2     8  decision     sequence number of the DECISION record it carries out
 *       10     1  index        which of the decision's seizes (0 for a release)
 *       11     1  attempt      0; a re-issue after an expiry counts up (not issued yet)
 *       12     8  chain_id
 *       20    20  vault        the CollateralVault on that chain
 *       40    20  account
 *       60    20  asset        token address; zero for the native coin
 *       80    32  amount       uint256, base units, > 0
 *      112    20  recipient    never zero
 *      132     8  nonce        the vault's instruction nonce (uint256 on chain), > 0, rising per vault
 *      140     8  deadline     unix seconds in chain time; the vault refuses execution after it
 *      148                     = INSTRUCTION_BYTES
 *
 * instruction id = BLAKE2b-256(personal "rly.insid.v1", chain_id | vault | nonce): one per
 * vault nonce; the ledger's reservation is filed under it, and the ledger's keys map it to the
 * INSTRUCTION record's sequence number.
 * expiry key = BLAKE2b-256(personal "rly.expkey.v1", instruction id): the ledger's mark that the
 * instruction expired (an attested expired observation, obs.h), logged once.
 *
 * Plan (what the ledger files when it applies the decision, and the instruction must repeat):
 *
 *        0     1  kind
 *        1     8  chain_id
 *        9    20  account
 *       29    20  asset
 *       49    32  amount
 *       81    20  recipient    a release's; zero for a seize (the hub's to fill)
 *      101     8  expiry       a release's: its withdrawal's owner expiry_s (unix s, request.h); 0 for a
 *                              seize (rule I1)
 *      109                     = INSTRUCTION_PLAN_BYTES
 *
 * plan key = decision (8) | index (1) | attempt (1)
 *
 * The owner's expiry binds the vault. The record time that admission rule A4 (admit.h) compares
 * an owner's expiry with is the hub's stamp; the deadline is the vault's, checked on chain time.
 * So, cited by relayer/hubinstr.c, collateral/calc.c, db/ledger.c, attest/audit.c, the co-signer
 * (relayer/cosigner.h, through its replica's ledger) and the tests:
 *   I1. A release carries out an owner-signed withdrawal no later than the owner allowed: its
 *       deadline_s <= its plan's expiry_s (the withdrawal's expiry_s). The hub issues
 *       min(its clock + the chain's deadline_s, expiry_s); instruction_check refuses a release
 *       whose deadline passes the expiry. The vault refuses execute() after the deadline, so an
 *       expired owner signature never moves funds, whatever time the hub stamps on records.
 *   I2. The calculator approves a withdrawal only if its expiry leaves the vault at least
 *       MG_DEADLINE_MIN_S (collateral/spec.h) after the record's time: expiry_s x 1000 >=
 *       time_ms + MG_DEADLINE_MIN_S x 1000. Otherwise it refuses it, REASON_OWNER_EXPIRY
 *       (decision.h): an approval whose release could not be issued, or not executed in time,
 *       would hold its funds reserved for nothing. The owner nonce is used all the same (A5).
 */
#ifndef RL_INSTRUCTION_H
#define RL_INSTRUCTION_H

#include <stdint.h>

#include "attest/decision.h"
#include "attest/eip712.h"
#include "attest/obs.h"
#include "attest/error.h"
#include "attest/request.h"
#include "attest/u256.h"

#define INSTRUCTION_VERSION 1
#define INSTRUCTION_BYTES 148
#define INSTRUCTION_PLAN_BYTES 109
#define INSTRUCTION_PLAN_KEY_BYTES 10

enum instruction_kind {
    INSTRUCTION_RELEASE = 1,
    INSTRUCTION_SEIZE = 2,
};

typedef struct instruction {
    uint8_t kind;
    uint64_t decision;
    uint8_t index, attempt;
    uint64_t chain_id;
    uint8_t vault[EVM_ADDR_BYTES];
    uint8_t account[EVM_ADDR_BYTES];
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
    uint8_t recipient[EVM_ADDR_BYTES];
    uint64_t nonce;
    uint64_t deadline_s;
} instruction;

/* What a decision fixes of one instruction. */
typedef struct instruction_plan {
    uint8_t kind;
    uint64_t decision;
    uint8_t index;
    uint64_t chain_id;
    uint8_t account[EVM_ADDR_BYTES];
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
    uint8_t recipient[EVM_ADDR_BYTES]; /* zero for a seize */
    uint64_t expiry_s;                 /* a release's owner expiry (I1); 0 for a seize */
} instruction_plan;

/* RL_ERR_ARG when a field is out of its domain (kind, zero amount, recipient, vault or nonce). */
RL_MUST_USE rl_err instruction_encode(uint8_t out[INSTRUCTION_BYTES], const instruction *in, rl_why *why);
/* Strict: exactly INSTRUCTION_BYTES, version 1, every field in its domain. */
RL_MUST_USE rl_err instruction_decode(instruction *in, const uint8_t *enc, size_t len, rl_why *why);
void instruction_id(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES], uint64_t nonce);
void instruction_expiry_key(uint8_t out[HASH_BYTES], const uint8_t id[HASH_BYTES]);
/* "nonce N of vault 0x.. on chain C", as the ledger's and the audit's refusals name it. */
#define INSTRUCTION_NAME_MAX 96
char *instruction_nonce_name(char buf[INSTRUCTION_NAME_MAX], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                             uint64_t nonce);
/* The vault's view of it, and the EIP-712 digest cosigners sign: CollateralVault's Instruction
 * (kind, account, asset, amount, recipient, nonce, deadline) under the domain of `vault` on
 * `chain_id` (eip712.h). */
void instruction_to_vault(vault_instruction *out, const instruction *in);
void instruction_digest(uint8_t out[HASH_BYTES], const instruction *in);
const char *instruction_kind_name(uint8_t kind);

/* The plans of the DECISION logged at decision_seq: none for a decision that moves nothing, one
 * release for an approved withdrawal (q: its request, which must be that withdrawal's), one seize
 * per seize of a liquidation. out holds DECISION_MAX_SEIZE; *n gets the count. */
RL_MUST_USE rl_err instruction_plans(const decision *d, uint64_t decision_seq, const request *q, instruction_plan *out,
                                     size_t *n, rl_why *why);
void instruction_plan_key(uint8_t out[INSTRUCTION_PLAN_KEY_BYTES], uint64_t decision_seq, uint8_t index, uint8_t attempt);
void instruction_plan_encode(uint8_t out[INSTRUCTION_PLAN_BYTES], const instruction_plan *p);
/* key and value as filed; RL_ERR_DECODE when they are not a plan's. */
RL_MUST_USE rl_err instruction_plan_decode(instruction_plan *p, const uint8_t *key, size_t klen, const uint8_t *val,
                                           size_t vlen, rl_why *why);

/* Whether `in`, logged at time_ms with `last_nonce` the vault's highest nonce so far, carries out
 * plan p: same decision, index, kind, chain, account, asset, amount and (a release) recipient; a
 * nonce above last_nonce; a deadline after the record's time and, a release, not past its owner's
 * expiry (I1). why names the first difference. */
RL_MUST_USE rl_err instruction_check(const instruction *in, const instruction_plan *p, uint64_t last_nonce,
                                     uint64_t time_ms, rl_why *why);

/* The expired observation (obs.h) of `in` at a block (number, hash, timestamp in unix seconds):
 * what every node that checked that block signs. */
void instruction_expired_obs(obs *o, const instruction *in, uint64_t block_number,
                             const uint8_t block_hash[HASH_BYTES], uint64_t time_s);
/* Whether the expired observation o (obs.h) may expire `in`, logged at record in_seq: same chain,
 * vault and nonce, same kind, account and asset, and a chain time after the deadline
 * (RL_ERR_STATE naming the difference). Whether it executed or expired before is the caller's
 * (the ledger's and the audit's) to check; both refuse with the same words. */
RL_MUST_USE rl_err instruction_expiry_check(const instruction *in, uint64_t in_seq, const obs *o, rl_why *why);

#endif
