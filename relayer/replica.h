/*
 * replica.h - an audited replica of the hub's log and ledger, kept by following its stream.
 *
 * It subscribes to the hub's record stream and keeps its own LMDB ledger, applying each record
 * only after checking it exactly as `audit verify` does (hash chain, sequence, every signature,
 * quorum against the set in force), through the hub's own apply path. It numbers what it has: a
 * record that skips ahead means frames were lost, so it asks the catch-up socket for "records
 * from head + 1" and then follows live again; a record it already has is ignored. Killed and
 * restarted, it carries on from its own head: no record missed, none applied twice. A record
 * that fails the audit stops it (RL_ERR from replica_poll, replica_bad_seq names the record): a
 * replica never applies one.
 *
 * Each record, once durable in the replica, is handed to an optional callback, in order, from
 * seq 1: on open the records already stored are replayed to it, so a process that keeps state in
 * memory (the margin calculator, a co-signer) rebuilds it from its own disk before following.
 * Used by `relayer follow`, `margin`, `cosign` and `execute`.
 *
 * Witnessed heads (attest/checkpoint.h): given the hub's node endpoint and a key that is a member
 * of the set in force, the replica signs a checkpoint once its records are durable: after at
 * least `checkpoint_records` new records, of the last record whose seq is a multiple of
 * checkpoint_records (every replica passes through the same boundaries, whatever batches it
 * applied, so their signatures agree under a steady stream; signing each its own head, they
 * would agree only when the log goes idle); after `checkpoint_ms` with fewer new records, of its
 * head (what replicas agree on once the stream pauses). Only when a record other than a
 * CHECKPOINT came in since: an idle log is not signed again and again. It
 * sends it to the hub as a CHECKPOINT message, again every checkpoint_ms until a CHECKPOINT at or
 * past it is in the log. The newest CHECKPOINT record it applied is the node's latest quorum
 * checkpoint, on its own disk (db/ledger_ckpt.h), which `relayer checkpoint` prints, and the
 * latest head it signed itself (filed before it is sent; `relayer checkpoint --own`), and warns
 * (log line "signed head far ahead of the newest logged quorum checkpoint", naming the gap in
 * records and rounds) at each signing once more than REPLICA_CKPT_WARN_ROUNDS heads were signed,
 * or more than REPLICA_CKPT_WARN_ROUNDS * checkpoint_records records passed, since the newest
 * CHECKPOINT record (by the seq it witnesses).
 */
#ifndef RL_REPLICA_H
#define RL_REPLICA_H

#include "attest/keys.h"
#include "attest/relset.h"
#include "db/ledger.h"

typedef rl_err (*replica_record_fn)(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why);

typedef struct replica_opts {
    const char *data;           /* LMDB directory */
    const node_key *key;        /* our CURVE identity, allow-listed at the hub as a subscriber */
    const node_pub *hub;
    const relset *genesis;      /* the trust anchor */
    const char *records, *catchup; /* the hub's endpoints; NULL: no sockets, fed by replica_take */
    replica_record_fn on_record; /* may be NULL */
    void *ctx;
    const char *nodes;           /* the hub's node endpoint, where checkpoints go; NULL: sign none */
    uint64_t checkpoint_records; /* sign after this many new records (0: REPLICA_CHECKPOINT_RECORDS) */
    uint64_t checkpoint_ms;      /* or after this long (0: REPLICA_CHECKPOINT_MS) */
} replica_opts;

#define REPLICA_CHECKPOINT_RECORDS 1000
/* More rounds than this with no newer CHECKPOINT logged: the replica logs a warning. */
#define REPLICA_CKPT_WARN_ROUNDS 3
#define REPLICA_CHECKPOINT_MS 10000

typedef struct replica replica;

/* Opens the store, replays what it holds to on_record, and connects. */
RL_MUST_USE rl_err replica_open(replica **out, const replica_opts *o, rl_why *why);
void replica_close(replica *r);

/* One round: asks for what is missing, waits up to timeout_ms for frames, checks and applies. */
RL_MUST_USE rl_err replica_poll(replica *r, int timeout_ms, rl_why *why);

/* A replica in the hub's own process (the liquidation bench) is handed the hub's records
 * directly: replica_take checks the next record as the audit does and queues it (RL_ERR_SEQ
 * for any other seq); replica_flush verifies the queued records' signatures on every core,
 * applies them in one transaction and hands them to on_record. A full queue flushes itself. */
RL_MUST_USE rl_err replica_take(replica *r, uint64_t seq, const uint8_t *rec, size_t len, rl_why *why);
RL_MUST_USE rl_err replica_flush(replica *r, rl_why *why);

uint64_t replica_head(const replica *r);
/* The record that failed the audit (0: none). */
uint64_t replica_bad_seq(const replica *r);
/* How a process built on a replica ends (`who`: "follower", "calculator", ...): logs that it
 * stopped, that a record failed the audit (exit EXIT_CHECK_FAILED), or why it failed
 * (EXIT_USAGE); returns the exit code. r may be NULL (it failed before the replica opened). */
int replica_exit(const replica *r, const char *who, rl_err err, const rl_why *why);

/* Checkpoints this replica signed, and the thread CPU time signing and sending them took. */
uint64_t replica_checkpoints_signed(const replica *r);
uint64_t replica_checkpoint_cpu_ns(const replica *r);

/* The bus context, for the caller's own sockets to the hub. */
void *replica_bus(replica *r);

#endif
