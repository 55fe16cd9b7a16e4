/*
 * ingest.h - from signed observations to committed log records, with group commit.
 *
 * The hub's write path (DESIGN "quorum check -> one LMDB write txn"). Observations are taken in
 * batches:
 *
 *   1. prefilter (serial, cheap): decode, compute event id and content hash, drop unknown
 *      signers, skip observations of events already settled with the same content, and hold
 *      back signatures beyond what a quorum still needs (verified later only if one fails);
 *   2. verify (worker pool, every core) while the previous batch's records commit;
 *   3. aggregate (serial): quorum_add; attested events, late conflicts (a second content's
 *      quorum after a credit) and equivocation evidence become pending records (ledger.h, E1-E3).
 *
 * Equivocation (quorum.h): a member's latest signature replaces its earlier one, so a content's
 * signer count can fall. A signature held back against a content that then loses a signer is
 * still needed: held observations are looked at again once their batch is aggregated, on the
 * next submit, tick or flush, and sent to verification unless their event settled meanwhile.
 * EQUIVOCATION records are logged once per (event id, member): the quorum reports a member once
 * while an event is pending, and the commit drops a pair whose key the ledger holds already.
 *
 * Pending records commit in one LMDB write transaction when there are commit_max_records of them
 * or the oldest has waited commit_max_delay_ms, so durable throughput is not one fsync per event.
 * Each record and every ledger change it causes go through ledger_append_known in that
 * transaction (an attestation with the event id and content hash the prefilter computed; the
 * meta head written once, after the last record).
 * Commits run on a committer thread of their own, one at a time, so the transaction and its
 * fsync overlap with verifying and aggregating the next batches; ingest_head and the committed
 * callback only ever report what is durable. A failed commit (map at its limit, disk full) wrote
 * nothing; the next call returns its error and ingest stops with everything before it intact.
 *
 * Time is an argument (now_ms), never read here.
 */
#ifndef RL_INGEST_H
#define RL_INGEST_H

#include "attest/obs.h"
#include "attest/pool.h"
#include "attest/record.h"
#include "attest/relset.h"
#include "db/ledger.h"
#include "db/store.h"

typedef struct ingest_opts {
    size_t commit_max_records;    /* 0: 4096 */
    uint64_t commit_max_delay_ms; /* 0: 20 ms */
    /* Batching under load (0: off). A commit of at least commit_load_records records means the
     * hub is busy: the next commit then waits until it holds twice as many (or
     * commit_max_records), or its oldest record has waited commit_load_delay_ms, or none has come
     * for commit_max_delay_ms (senders waiting on their acknowledgements). Fewer, larger
     * transactions rewrite far fewer B-tree pages (the event index is keyed by hash: every commit
     * rewrites most of its leaves), at the cost of latency only while the load lasts; a small
     * commit ends it. */
    size_t commit_load_records;
    uint64_t commit_load_delay_ms;
    size_t verify_batch;          /* observations per verification batch; 0: 4096 */
    /* Pending signatures (events short of a quorum) per member, and their TTL (quorum.h,
     * Budgets); 0: QUORUM_DEFAULT_PER_MEMBER, QUORUM_DEFAULT_TTL_MS. What is dropped is counted
     * (ingest_stats) and reported through alert, one line per member at most once a second. */
    size_t pending_per_member;
    uint64_t pending_ttl_ms;
    /* Called for each observation or record refused (malformed, unknown signer, bad signature,
     * a record the ledger refused). May be NULL. Library code never prints: the caller logs. */
    void (*alert)(void *ctx, const char *what, const char *why);
    void *alert_ctx;
    /* Called after every successful commit with the new head. May be NULL. */
    void (*committed)(void *ctx, const ledger_head *head, size_t records);
    void *committed_ctx;
} ingest_opts;

/* What the hub runs with (hub.conf defaults) and the ingest benchmark measures. */
#define INGEST_HUB_COMMIT_MAX 16384
#define INGEST_HUB_LOAD_RECORDS 1024
#define INGEST_HUB_LOAD_DELAY_MS 400

typedef struct ingest_stats {
    uint64_t received;       /* observations submitted */
    uint64_t malformed;      /* not a canonical observation */
    uint64_t unknown_signer; /* member id not in the set in force */
    uint64_t bad_signature;
    uint64_t settled;        /* for an event already settled with the same content: no-op */
    uint64_t duplicate;      /* same member, same content, still pending: no-op */
    uint64_t held;           /* beyond the quorum's need; verified only if needed */
    uint64_t verified;       /* signatures verified */
    uint64_t attested, conflicts, refused;
    uint64_t equivocations;  /* evidence records queued (a pair logged before is dropped at commit) */
    uint64_t records, commits;
    uint64_t pending_over_budget; /* pending signatures dropped past their member's budget */
    uint64_t pending_expired;     /* pending signatures dropped past the TTL (on ingest_tick) */
} ingest_stats;

typedef struct ingest ingest;

/* Opens the write path over s. An empty ledger gets the genesis record for `genesis`; a
 * non-empty one must have been started with the same genesis set. */
RL_MUST_USE rl_err ingest_open(ingest **out, store *s, pool *p, const relset *genesis, const ingest_opts *opts,
                               uint64_t now_ms, rl_why *why);
/* Frees memory; pending (uncommitted) records are dropped: call ingest_flush first. */
void ingest_close(ingest *g);

/* Takes n observations (copied; `in` may be reused on return). The last verify batch may stay
 * in the pipeline so the next call overlaps with it: ingest_tick or ingest_flush finishes it. */
RL_MUST_USE rl_err ingest_submit(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why);
/* Queues a record built and checked by the caller (a price, a venue request, a decision, an
 * instruction) for the next group commit. It is logged after every attestation whose quorum was
 * reached before this call; observations still being verified (the pipelined batch) may be
 * logged after it. The ledger still checks it when it commits (ledger.h); a refused one is
 * reported through opts.alert and writes nothing. */
RL_MUST_USE rl_err ingest_append(ingest *g, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms,
                                 rl_why *why);
/* ingest_append for a BUNDLE whose signatures the caller checked, each against its member's
 * address (hubcosig.h): the ledger checks its signers, not the signatures again
 * (ledger_append_verified). */
RL_MUST_USE rl_err ingest_append_verified(ingest *g, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms,
                                          rl_why *why);
/* Drops pending signatures past the TTL (quorum_expire), reports drops, finishes the batches in
 * the pipeline, commits if a group-commit bound was reached, and waits
 * until every commit started is durable. A daemon calls it from its timer, so nothing waits longer than the
 * tick plus the commit delay. */
RL_MUST_USE rl_err ingest_tick(ingest *g, uint64_t now_ms, rl_why *why);
/* Verifies held-back observations that may still matter and commits everything pending. */
RL_MUST_USE rl_err ingest_flush(ingest *g, uint64_t now_ms, rl_why *why);

/* Installs the next relayer set: checks the signatures are a quorum of the set in force,
 * flushes, and commits the SET record. */
RL_MUST_USE rl_err ingest_rotate(ingest *g, const payload_set *p, uint64_t now_ms, rl_why *why);

const ingest_stats *ingest_get_stats(const ingest *g);
const relset *ingest_set(const ingest *g);
const ledger_head *ingest_head(const ingest *g);
/* Events with signatures but no quorum yet (memory only). */
size_t ingest_pending_events(const ingest *g);

#endif
