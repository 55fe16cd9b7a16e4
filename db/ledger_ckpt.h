/*
 * ledger_ckpt.h - the ledger's side of witnessed log heads (attest/checkpoint.h).
 *
 * ledger_append applies a CHECKPOINT record through ledger_ckpt_apply, which checks rule C2
 * (checkpoint.h): the seq it names is before the record and above the latest checkpoint's, the
 * hash of the record the ledger holds at that seq is its head, its set version is the one in
 * force, and its signers are at least `threshold` distinct members of that set (signatures are
 * the hub's and the auditor's to verify, as for every record: ledger.h). Applied, it files
 * meta "ckpt" -> log seq of the CHECKPOINT record (8) | the seq it witnessed (8), so a node's
 * replica serves its newest quorum checkpoint from its own disk (`relayer checkpoint`) and an
 * export carries it in its header. Meta is not part of `ledger digest`.
 *
 * A node's replica also files the latest head it signed itself (meta "ckpt_own", written before
 * the signature leaves the node), so that the node can hand an auditor its own witness even when
 * the hub never logs a checkpoint (`relayer checkpoint --own`): threshold members' own heads of
 * one (seq, head, version) make a quorum checkpoint for `audit verify`.
 */
#ifndef RL_LEDGER_CKPT_H
#define RL_LEDGER_CKPT_H

#include "attest/checkpoint.h"
#include "db/ledger.h"

RL_MUST_USE rl_err ledger_ckpt_apply(MDB_txn *txn, const store *s, const record *r, const ledger_head *head,
                                     rl_why *why);

/* The newest CHECKPOINT the log holds: its quorum checkpoint, and the log seq of the record
 * (NULL allowed). RL_ERR_NOTFOUND when the log holds none. */
RL_MUST_USE rl_err ledger_ckpt_latest(MDB_txn *txn, const store *s, checkpoint_signed *out, uint64_t *record_seq,
                                      rl_why *why);

/* The node's own latest signed head: the body, its member id and its signature. own_get gives it
 * as a checkpoint with one signature (RL_ERR_NOTFOUND when none). */
RL_MUST_USE rl_err ledger_ckpt_own_put(MDB_txn *txn, const store *s, const checkpoint *c, uint16_t member,
                                       const uint8_t sig[ED25519_SIG_BYTES], rl_why *why);
RL_MUST_USE rl_err ledger_ckpt_own_get(MDB_txn *txn, const store *s, checkpoint_signed *out, rl_why *why);

#endif
