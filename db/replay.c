/*
 * replay.c - the batched verify/replay pipeline (replay.h).
 */
#include "db/replay.h"

#include <stdlib.h>
#include <string.h>

#include "db/ledger.h"

#define BATCH_RECORDS 2048

struct batch {
    const uint8_t **recs;
    size_t *lens;
    size_t n;
    verify_job *jobs;
    size_t njobs;
    uint64_t first_seq;
    /* A check failure at the record after the last one in this batch, if any. */
    rl_err err;
    uint64_t err_seq;
    rl_why why;
    bool end; /* the reader reached the (verified) footer */
};

static rl_err batch_init(struct batch *b)
{
    memset(b, 0, sizeof *b);
    b->recs = calloc(BATCH_RECORDS, sizeof *b->recs);
    b->lens = calloc(BATCH_RECORDS, sizeof *b->lens);
    b->jobs = calloc((size_t)BATCH_RECORDS * 4, sizeof *b->jobs); /* grown when records carry more */
    return b->recs && b->lens && b->jobs ? RL_OK : RL_ERR_NOMEM;
}

static void batch_fini(struct batch *b)
{
    free(b->recs);
    free(b->lens);
    free(b->jobs);
}

/* A record s that does not link to record s-1 was altered itself (its prev field: then its own
 * hash changed too, and record s+1 does not link to it either) or record s-1 was (then s+1 still
 * links to s). One record of lookahead, or the head hash the footer and header claim, tells
 * which; *seq is set to the culprit. */
static void blame_broken_link(const export_reader *rd, const uint8_t *rec, size_t len, uint64_t *seq, rl_why *why)
{
    uint8_t h[HASH_BYTES], head[HASH_BYTES];
    const uint8_t *next;
    size_t next_len;
    record_hash(h, rec, len);
    bool next_links;
    if (export_peek(rd, &next, &next_len) == RL_OK)
        next_links = next_len >= RECORD_HEADER_BYTES && memcmp(next + 18, h, HASH_BYTES) == 0;
    else
        next_links = export_claimed_head(rd, head) && memcmp(head, h, HASH_BYTES) == 0;
    if (next_links && *seq > 1) {
        (*seq)--;
        rl_fail(why, RL_ERR_CHAIN, "altered: its hash no longer matches the one record %llu recorded",
                (unsigned long long)(*seq + 1));
    }
}

/* Reads and checks up to BATCH_RECORDS records, stopping at the first failure or the end. */
static rl_err batch_fill(struct batch *b, export_reader *rd, audit *a, size_t *jobs_cap)
{
    b->n = b->njobs = 0;
    b->err = RL_OK;
    b->first_seq = export_next_seq(rd);
    while (b->n < BATCH_RECORDS && !b->end) {
        if (b->njobs + AUDIT_MAX_JOBS_PER_RECORD > *jobs_cap) {
            verify_job *j = realloc(b->jobs, 2 * *jobs_cap * sizeof *j);
            if (j == NULL)
                return RL_ERR_NOMEM;
            b->jobs = j;
            *jobs_cap *= 2;
        }
        const uint8_t *rec;
        size_t len;
        uint64_t seq = export_next_seq(rd);
        bool at_footer = export_at_footer(rd);
        rl_err err = export_next(rd, &rec, &len, &b->why);
        if (err == RL_ERR_NOTFOUND) {
            b->end = true;
            break;
        }
        if (err == RL_OK) {
            err = audit_next(a, rec, len, b->jobs, &b->njobs, &b->why);
            if (err == RL_ERR_CHAIN)
                blame_broken_link(rd, rec, len, &seq, &b->why);
        }
        if (err != RL_OK) {
            b->err = err;
            /* A footer problem belongs to no record, except when the footer and the header agree
             * on a head hash that the last record no longer has: then that record was altered. */
            b->err_seq = seq;
            if (at_footer) {
                b->err_seq = 0;
                if (seq > 1 && export_last_record_altered(rd)) {
                    b->err_seq = seq - 1;
                    rl_fail(&b->why, err, "altered: its hash no longer matches the head hash the footer and header record");
                }
            }
            break;
        }
        b->recs[b->n] = rec;
        b->lens[b->n] = len;
        b->n++;
    }
    return RL_OK;
}

struct apply_ctx {
    const struct batch *b;
    store *s;
    size_t failed_at; /* index of the record ledger_append refused */
};

static rl_err apply_batch(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct apply_ctx *c = ctx;
    ledger_head head;
    rl_err err = ledger_head_get(txn, c->s, &head, why);
    if (err != RL_OK)
        return err;
    for (size_t i = 0; i < c->b->n; i++) {
        err = ledger_append(txn, c->s, c->b->recs[i], c->b->lens[i], &head, why);
        if (err != RL_OK) {
            c->failed_at = i;
            return err;
        }
    }
    return RL_OK;
}

rl_err replay_file(const char *path, const replay_opts *opts, audit_summary *sum, replay_failure *fail)
{
    export_reader *rd = NULL;
    audit *a = NULL;
    struct batch bufs[2];
    size_t caps[2] = {(size_t)BATCH_RECORDS * 4, (size_t)BATCH_RECORDS * 4};
    uint64_t done = 0;
    memset(fail, 0, sizeof *fail);
    memset(sum, 0, sizeof *sum);
    rl_err err = batch_init(&bufs[0]);
    rl_err err2 = batch_init(&bufs[1]);
    if (err == RL_OK)
        err = err2;
    if (err == RL_OK)
        err = export_open(&rd, path, &fail->why);
    if (err == RL_OK)
        err = audit_new(&a, opts->genesis);
    if (err != RL_OK)
        goto done;

    int cur = 0;
    err = batch_fill(&bufs[cur], rd, a, &caps[cur]);
    while (err == RL_OK) {
        struct batch *b = &bufs[cur], *nb = &bufs[!cur];
        pool_start(opts->pool, verify_jobs_fn, b->jobs, b->njobs, 64);
        /* Read and check the next batch while this one's signatures are verified. */
        bool more = b->err == RL_OK && !b->end;
        if (more)
            err = batch_fill(nb, rd, a, &caps[!cur]);
        pool_wait(opts->pool);
        if (err != RL_OK)
            break;
        uint64_t bad = 0;
        for (size_t i = 0; i < b->njobs; i++)
            if (!b->jobs[i].ok && (bad == 0 || b->jobs[i].tag < bad))
                bad = b->jobs[i].tag;
        if (bad != 0) {
            err = RL_ERR_SIG;
            fail->seq = bad;
            rl_fail(&fail->why, err, "a signature does not verify");
            break;
        }
        if (opts->out != NULL && b->n > 0) {
            struct apply_ctx ac = {b, opts->out, 0};
            err = store_write(opts->out, apply_batch, &ac, &fail->why);
            if (err != RL_OK) {
                fail->seq = b->first_seq + ac.failed_at;
                break;
            }
        }
        for (size_t i = 0; i < b->n && err == RL_OK && opts->on_record != NULL; i++)
            if ((err = opts->on_record(opts->record_ctx, b->recs[i], b->lens[i], b->first_seq + i, &fail->why)) != RL_OK)
                fail->seq = b->first_seq + i;
        if (err != RL_OK)
            break;
        done += b->n;
        if (opts->progress != NULL)
            opts->progress(opts->progress_ctx, done, export_announced(rd));
        if (b->err != RL_OK) {
            err = b->err;
            fail->seq = b->err_seq;
            fail->why = b->why;
            break;
        }
        if (!more)
            break;
        cur = !cur;
    }
    if (err == RL_OK && opts->on_end != NULL)
        err = opts->on_end(opts->end_ctx, a, rd, &fail->why);
done:
    if (a != NULL) {
        audit_get_summary(a, sum);
        rl_err ferr = audit_fund_summary(a, &sum->fund);
        if (err == RL_OK)
            err = ferr;
        /* Records after a failure were read and checked but are not good: count only those before it. */
        if (err != RL_OK && fail->seq != 0 && sum->records >= fail->seq)
            sum->records = fail->seq - 1;
    }
    audit_free(a);
    export_close(rd);
    batch_fini(&bufs[0]);
    batch_fini(&bufs[1]);
    return err;
}
