/*
 * checkpoint.h - witnessed log heads (DESIGN.md invariant 7).
 *
 * A node's replica verifies every record before applying it; now and then it signs what it has
 * verified: the sequence number and hash of its head, and the relayer set version in force
 * there. The hub collects those signatures and, once `threshold` members of that set signed the
 * same head, logs them as a CHECKPOINT record (record.h). Every node keeps the newest CHECKPOINT
 * its replica applied and hands it to auditors (`relayer checkpoint`); an export that ends
 * before a quorum checkpoint's seq, or holds another hash there, fails `audit verify`. A hub
 * that drops the tail of its log, or shows two auditors two different logs, is caught by anyone
 * holding one node's checkpoint: two quorum checkpoints with different heads at one seq are
 * proof that the log forked. Since only the hub decides whether a CHECKPOINT record exists, each
 * node also keeps the latest head it signed itself (db/ledger_ckpt.h, `relayer checkpoint
 * --own`); threshold members' own heads of one body combine (checkpoint_merge) into a quorum
 * checkpoint, judged by the same rules.
 *
 * Checkpoint body, version 1 (what each member signs; integers big-endian):
 *
 *   offset  size  field
 *        0     1  version       = 1
 *        1     8  seq           a log sequence number, >= 1
 *        9    32  head          hash of record seq (record_hash)
 *       41     4  set_version   the relayer set version in force at seq, >= 1
 *
 * message = BLAKE2b-256(personal "rly.ckpt.v1", body); each signature is ed25519 over message.
 *
 * Quorum checkpoint (the CHECKPOINT record's payload):
 *
 *        0    45  body
 *       45     n  signature list (record.h: count 1..64, member (2) | sig (64), members strictly
 *                 ascending)
 *
 * JSON form (`relayer checkpoint`, `audit verify --checkpoint`, the export header):
 *   {"format": "relayer-checkpoint", "version": 1, "seq": N, "head": "<64 hex>",
 *    "set_version": V, "signatures": [{"member": 1, "name": "node1", "sig": "<128 hex>"}, ..]}
 * "name" is informational (written when known, ignored on reading); members strictly ascending.
 *
 * Rules (the ledger, the audit and the hub cite them by number):
 *   C1. A quorum checkpoint carries signatures of at least `threshold` distinct members of the
 *       relayer set of its set_version, every one over its message.
 *   C2. A CHECKPOINT record names a seq before its own, whose record hash is its head, with the
 *       set version in force when it is logged; its seq is above every earlier CHECKPOINT's.
 *   C3. A log agrees with a quorum checkpoint when the checkpoint's set_version is the version
 *       the log has in force at seq (installed by its latest set record at or before seq), the
 *       log holds record seq and that record's hash is head. A log that ends before seq was cut;
 *       one with another hash there forked.
 *   C4. Which set speaks for a checkpoint of (seq, version V) against a log that has version F
 *       in force at seq (for a seq past the log's end: the version in force at its end):
 *         V == F   the log's set of V; C1, then C3.
 *         V <  F   none: the log rotated V out at or before seq, and keys of a retired set prove
 *                  nothing about later records (they may have leaked since). Refused.
 *         V >  F   the nodes had V in force at seq, this log did not. If the log installs V later
 *                  and V is still in force at the log's end, the log's set of V; if the log
 *                  never installs V, a set of version V the auditor vouches for (audit verify
 *                  --set, as it vouches for the genesis set: it should vouch only for a set
 *                  still in force, as retired keys prove nothing); a V the log installs and retires
 *                  again is refused (retired keys). A valid quorum of it proves the log forked
 *                  (or, when the log ends before seq, was cut or forked before that rotation).
 *       Honest members sign only the version their replica has in force at seq (replica.h), so
 *       a valid quorum of a set still trusted never names another version than the honest log's.
 *
 * Pure: no files, no clock.
 */
#ifndef RL_CHECKPOINT_H
#define RL_CHECKPOINT_H

#include <jansson.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/pool.h"
#include "attest/record.h"
#include "attest/relset.h"

#define CHECKPOINT_VERSION 1
#define CHECKPOINT_BODY_BYTES 45
#define CHECKPOINT_MAX_BYTES (CHECKPOINT_BODY_BYTES + 1 + RELSET_MAX_MEMBERS * SIG_ENTRY_BYTES)
#define CHECKPOINT_JSON_FORMAT "relayer-checkpoint"

typedef struct checkpoint {
    uint64_t seq;
    uint8_t head[HASH_BYTES];
    uint32_t set_version;
} checkpoint;

typedef struct checkpoint_signed {
    checkpoint c;
    sig_list sigs;
} checkpoint_signed;

RL_MUST_USE rl_err checkpoint_body_encode(uint8_t out[CHECKPOINT_BODY_BYTES], const checkpoint *c, rl_why *why);
/* Strict: exactly the body, version 1, seq and set_version >= 1. */
RL_MUST_USE rl_err checkpoint_body_decode(checkpoint *c, const uint8_t *in, size_t len, rl_why *why);
/* The message members sign (body must be valid: checkpoint_body_encode's rules). */
void checkpoint_message(uint8_t out[HASH_BYTES], const checkpoint *c);
void checkpoint_sign(const checkpoint *c, const node_key *k, uint8_t sig[ED25519_SIG_BYTES]);
/* One member's signature of c by pk. */
bool checkpoint_verify_one(const checkpoint *c, const uint8_t pk[ED25519_PK_BYTES],
                           const uint8_t sig[ED25519_SIG_BYTES]);

/* The CHECKPOINT payload; *len gets the length. */
RL_MUST_USE rl_err checkpoint_signed_encode(uint8_t out[CHECKPOINT_MAX_BYTES], size_t *len,
                                            const checkpoint_signed *cs, rl_why *why);
/* Strict: body, then a non-empty signature list, nothing after. */
RL_MUST_USE rl_err checkpoint_signed_decode(checkpoint_signed *cs, const uint8_t *in, size_t len, rl_why *why);

/* Rule C1 without the signature arithmetic: set is the set of cs's version, at least its
 * threshold of signers, each a member. The signatures come back as verify_jobs (tag given) at
 * jobs[*njobs] (room for RELSET_MAX_MEMBERS). RL_ERR_STATE: set is of another version;
 * RL_ERR_QUORUM: too few; RL_ERR_SIGNER: a signer is not a member. */
RL_MUST_USE rl_err checkpoint_quorum_jobs(const checkpoint_signed *cs, const relset *set, uint64_t tag,
                                          verify_job *jobs, size_t *njobs, rl_why *why);
/* Rule C1 whole: checkpoint_quorum_jobs, then every signature (RL_ERR_SIG naming the member). */
RL_MUST_USE rl_err checkpoint_quorum_verify(const checkpoint_signed *cs, const relset *set, rl_why *why);

/* A member's own head (`relayer checkpoint --own`) is a checkpoint with one signature. Heads of
 * one body (seq, head, set_version) combine: merge adds from's signatures to into's (members
 * ascending, each once); RL_ERR_SIG when one member carries two different signatures,
 * RL_ERR_ARG for different bodies. C1 then decides whether the union is a quorum. */
bool checkpoint_same_body(const checkpoint *x, const checkpoint *y);
RL_MUST_USE rl_err checkpoint_merge(checkpoint_signed *into, const checkpoint_signed *from, rl_why *why);

/* Rules C4, C1 and C3 against the records an audit has read (audit.h). given: sets of versions the
 * log does not install, vouched for by the auditor (ngiven of them; NULL/0: none). RL_OK: the log
 * holds record seq under cs's version and its hash is head. Otherwise *refused says whose fault:
 *   false, RL_ERR_TRUNCATED  the log ends before seq;
 *   false, RL_ERR_CHAIN      the log holds another record at seq, or another version in force: it forked;
 *   true,  other codes       cs is not evidence (no valid quorum of a set that speaks for it at seq,
 *                            C4): nothing is said about the log. */
typedef struct audit audit;
RL_MUST_USE rl_err checkpoint_check_log(const checkpoint_signed *cs, const audit *a, const relset *given, size_t ngiven,
                                        bool *refused, rl_why *why);

/* JSON (above). to_json names members from set when given (NULL: no names); new reference.
 * from_json is strict: the keys above and no others, types, lengths, members ascending. */
json_t *checkpoint_to_json(const checkpoint_signed *cs, const relset *set);
RL_MUST_USE rl_err checkpoint_from_json(checkpoint_signed *cs, const json_t *j, rl_why *why);

#endif
