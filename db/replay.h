/*
 * replay.h - verifying an exported log, and rebuilding a ledger from it.
 *
 * `audit verify` and `audit replay` are one pipeline: records are read in batches, checked in
 * order by audit_next (serial, cheap), their signatures verified on every core while the next
 * batch is read, and, for a replay, applied to a fresh ledger through ledger_append, the same
 * path the hub uses, one write transaction per batch. The first bad record stops the run; it is
 * the record with the lowest sequence number that failed any check.
 */
#ifndef RL_REPLAY_H
#define RL_REPLAY_H

#include "attest/audit.h"
#include "attest/pool.h"
#include "db/export.h"
#include "db/store.h"

typedef struct replay_opts {
    const relset *genesis; /* the auditor's trust anchor */
    pool *pool;            /* verification workers */
    store *out;            /* NULL: verify only */
    progress_fn progress;  /* may be NULL */
    void *progress_ctx;
    /* Called for every good record, in order, once its batch verified (and applied); an error
     * stops the run with that record named. May be NULL. */
    rl_err (*on_record)(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why);
    void *record_ctx;
    /* Called once every record is good, with the audit that read them and the file (its header):
     * for checks of the whole log (checkpoints, attest/checkpoint.h rule C3). An error fails the
     * run naming no record. May be NULL. */
    rl_err (*on_end)(void *ctx, const audit *a, const export_reader *rd, rl_why *why);
    void *end_ctx;
} replay_opts;

typedef struct replay_failure {
    uint64_t seq;  /* 0: the problem is in the file's header or footer, or in setting up */
    rl_why why;
} replay_failure;

/* RL_OK when every record is good (and, with out, applied). Otherwise fail says which record
 * and why; sum always holds what was checked before the failure. */
RL_MUST_USE rl_err replay_file(const char *path, const replay_opts *opts, audit_summary *sum,
                               replay_failure *fail);

#endif
