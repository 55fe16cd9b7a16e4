/*
 * hubckpt.h - the hub's collection of nodes' checkpoint signatures (attest/checkpoint.h).
 *
 * Each node's replica signs the heads it verified and sends them as CHECKPOINT messages
 * (wire.h). The hub counts a signature only after checking, in this order: the signer is a
 * member of the set in force and the set version is that set's; the seq is above the latest
 * checkpoint logged and not past the hub's head; the head is the hash of the hub's own record at
 * that seq (a head that is not the hub's is never counted); the ed25519 signature verifies. Once
 * `threshold` members signed the same (seq, head), the quorum checkpoint is ready to be logged as
 * a CHECKPOINT record (the ledger checks rule C2 again when it commits).
 *
 * Bounds (DESIGN.md invariant 8): a member holds at most HUBCKPT_PER_MEMBER heads (one per seq;
 * a new one evicts its lowest), each for at most HUBCKPT_EXPIRE_MS; a table of fixed size per
 * set member, so a hostile member below the threshold can neither grow the hub's memory nor get
 * a checkpoint logged. A rotation empties it (heads under the old set cannot reach a quorum of
 * the new one). Single-threaded, like the hub's loop.
 */
#ifndef RL_HUBCKPT_H
#define RL_HUBCKPT_H

#include <stdbool.h>
#include <stdint.h>

#include "attest/checkpoint.h"
#include "attest/relset.h"

#define HUBCKPT_PER_MEMBER 4
#define HUBCKPT_EXPIRE_MS 120000

typedef struct hubckpt hubckpt;

/* logged_seq: the seq the latest logged CHECKPOINT witnessed (0: none). */
RL_MUST_USE rl_err hubckpt_new(hubckpt **out, uint64_t logged_seq);
void hubckpt_free(hubckpt *k);

/* The hub's record hash at seq; false when it has no such record. */
typedef bool (*hubckpt_hash_fn)(void *ctx, uint64_t seq, uint8_t out[HASH_BYTES]);

/* One member's signature of c. RL_OK: counted, and *ready is true when a quorum signed c (then
 * *out is the quorum checkpoint, its signers ascending). Refusals, nothing counted:
 * RL_ERR_SIGNER (not a member), RL_ERR_STATE (another set version, or a seq past head_seq),
 * RL_ERR_CHAIN (not the hub's record hash), RL_ERR_SIG (the signature), RL_ERR_DUPLICATE (a seq
 * at or below the latest logged, or this member's signature of c counted already: neither is
 * verified again). */
RL_MUST_USE rl_err hubckpt_offer(hubckpt *k, const relset *set, uint64_t head_seq, hubckpt_hash_fn hash_at,
                                 void *ctx, uint16_t member, const checkpoint *c, const uint8_t sig[ED25519_SIG_BYTES],
                                 uint64_t now_ms, checkpoint_signed *out, bool *ready);
/* A checkpoint of seq was logged: heads at or below it are dropped. */
void hubckpt_logged(hubckpt *k, uint64_t seq);
uint64_t hubckpt_logged_seq(const hubckpt *k);
/* Heads held, all members together (at most RELSET_MAX_MEMBERS x HUBCKPT_PER_MEMBER). */
size_t hubckpt_held(const hubckpt *k);

#endif
