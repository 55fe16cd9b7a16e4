/*
 * replica.c - following the hub's record stream into an audited local ledger (replica.h).
 */
#include "relayer/replica.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "attest/audit.h"
#include "attest/checkpoint.h"
#include "db/ledger_ckpt.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/daemon.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/wire.h"

#define FOLLOW_BATCH 4096
#define FOLLOW_JOBS (FOLLOW_BATCH * 4)
#define CATCHUP_RETRY_MS 2000
#define PROBE_MS 1000

struct replica {
    replica_opts o;
    store *st;
    pool *pool;
    audit *a;
    bus *b;
    void *sub, *req;
    ledger_head head;
    bool catching_up;
    uint64_t asked_ms, heard_ms;
    /* Records checked and waiting to be applied in one transaction. */
    uint8_t *recs;
    size_t rec_len[FOLLOW_BATCH], rec_off[FOLLOW_BATCH], nrecs, used;
    verify_job *jobs;
    size_t njobs;
    uint64_t bad_seq;
    /* Witnessed heads (replica.h). */
    void *nodes;                /* DEALER to the hub's node endpoint; NULL: no signing */
    uint64_t plain_seq;         /* the latest record that is not a CHECKPOINT */
    uint64_t logged_seq;        /* the seq the latest CHECKPOINT record witnessed */
    checkpoint signed_c;        /* the latest head signed (seq 0: none) */
    uint8_t signed_sig[ED25519_SIG_BYTES];
    uint16_t signed_member;
    uint64_t signed_ms, sent_ms, ckpt_signed, ckpt_cpu_ns;
    uint64_t unlogged_rounds;   /* heads signed since the latest CHECKPOINT record advanced */
    uint8_t frame[RECORD_MAX_BYTES + 64]; /* one received frame */
};

/* Keeps what the checkpoint schedule needs of each record applied (or replayed on open). */
static void note_record(struct replica *f, const uint8_t *rec, size_t len, uint64_t seq)
{
    record r;
    checkpoint_signed cs;
    if (record_decode(&r, rec, len, NULL) != RL_OK)
        return;
    if (r.type != RECORD_CHECKPOINT)
        f->plain_seq = seq;
    else if (checkpoint_signed_decode(&cs, r.payload, r.payload_len, NULL) == RL_OK && cs.c.seq > f->logged_seq) {
        f->logged_seq = cs.c.seq;
        f->unlogged_rounds = 0;
    }
}

static rl_err own_put_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct replica *f = ctx;
    return ledger_ckpt_own_put(txn, f->st, &f->signed_c, f->signed_member, f->signed_sig, why);
}

/* Files the head just signed (ledger_ckpt.h, meta "ckpt_own") before it leaves the node, and
 * warns when the hub has logged no newer quorum checkpoint for more than REPLICA_CKPT_WARN_ROUNDS
 * rounds (heads signed, or that many rounds' worth of records): a hub that never logs one would
 * otherwise leave auditors without a witness. */
static void own_head_keep(struct replica *f, uint64_t every)
{
    rl_why why = {{0}};
    if (store_write(f->st, own_put_fn, f, &why) != RL_OK)
        log_error("own signed head not filed", "seq=%llu why=\"%s\"", (unsigned long long)f->signed_c.seq,
                  why.text);
    uint64_t gap = f->signed_c.seq - f->logged_seq;
    if (++f->unlogged_rounds > REPLICA_CKPT_WARN_ROUNDS || gap > REPLICA_CKPT_WARN_ROUNDS * every)
        log_warn("signed head far ahead of the newest logged quorum checkpoint: is the hub logging them? "
                 "`relayer checkpoint --own` gives this node's witness",
                 "signed=%llu logged=%llu gap=%llu rounds=%llu", (unsigned long long)f->signed_c.seq,
                 (unsigned long long)f->logged_seq, (unsigned long long)gap, (unsigned long long)f->unlogged_rounds);
}

/* The hash of durable record seq, from the local log. */
static bool record_hash_at(struct replica *f, uint64_t seq, uint8_t out[HASH_BYTES])
{
    MDB_txn *txn;
    MDB_val v;
    if (store_read_begin(f->st, &txn, NULL) != RL_OK)
        return false;
    bool ok = ledger_record_get(txn, f->st, seq, &v, NULL) == RL_OK;
    if (ok)
        record_hash(out, v.mv_data, v.mv_size);
    store_read_end(txn);
    return ok;
}

/* Signs a checkpoint when due (of the last multiple of `every` after that many records, of the
 * head after `ms`: replica.h), and sends the latest signed one until a CHECKPOINT at or past it
 * is logged. */
static void checkpoint_tick(struct replica *f)
{
    if (f->nodes == NULL || f->head.seq == 0)
        return;
    uint64_t now = mono_ms(), cpu0 = thread_cpu_ns();
    uint64_t every = f->o.checkpoint_records ? f->o.checkpoint_records : REPLICA_CHECKPOINT_RECORDS;
    uint64_t ms = f->o.checkpoint_ms ? f->o.checkpoint_ms : REPLICA_CHECKPOINT_MS;
    bool fresh = f->plain_seq > f->signed_c.seq;
    bool by_records = f->head.seq - f->signed_c.seq >= every;
    bool due = fresh && (by_records || now - f->signed_ms >= ms);
    bool resend = !due && f->signed_c.seq > f->logged_seq && now - f->sent_ms >= ms;
    if (!due && !resend)
        return;
    if (due) {
        const relset *set = audit_set(f->a);
        const relset_member *me = relset_find_key(set, node_key_pub(f->o.key)->ed25519);
        if (me == NULL) /* not a member of the set in force: nothing to witness */
            return;
        /* by_records: the boundary is past the last signed seq, as head - signed >= every */
        uint64_t seq = by_records ? f->head.seq - f->head.seq % every : f->head.seq;
        checkpoint c = {.seq = seq, .set_version = set->version};
        if (seq == f->head.seq)
            memcpy(c.head, f->head.hash, HASH_BYTES);
        else if (!record_hash_at(f, seq, c.head))
            return; /* the local log cannot be read now: the next tick tries again */
        f->signed_c = c;
        f->signed_member = me->id;
        checkpoint_sign(&f->signed_c, f->o.key, f->signed_sig);
        f->signed_ms = now;
        f->ckpt_signed++;
        own_head_keep(f, every);
    }
    uint8_t frame[128];
    size_t len = wire_encode_checkpoint(frame, sizeof frame, &f->signed_c, f->signed_member, f->signed_sig);
    if (len > 0 && zmq_send(f->nodes, frame, len, ZMQ_DONTWAIT) >= 0)
        f->sent_ms = now;
    f->ckpt_cpu_ns += thread_cpu_ns() - cpu0;
}

/* Re-reads the local log through the audit, so its state (credited events, the set in force)
 * is that of the head. The signatures were verified before the records were stored. */
static rl_err rebuild_audit(struct replica *f, rl_why *why)
{
    MDB_txn *txn;
    rl_err err = store_read_begin(f->st, &txn, why);
    if (err != RL_OK)
        return err;
    err = ledger_head_get(txn, f->st, &f->head, why);
    for (uint64_t seq = 1; seq <= f->head.seq && err == RL_OK; seq++) {
        MDB_val v;
        size_t n = 0;
        if ((err = ledger_record_get(txn, f->st, seq, &v, why)) == RL_OK)
            err = audit_next(f->a, v.mv_data, v.mv_size, f->jobs, &n, why);
        if (err == RL_OK)
            note_record(f, v.mv_data, v.mv_size, seq);
        if (err == RL_OK && f->o.on_record != NULL)
            err = f->o.on_record(f->o.ctx, v.mv_data, v.mv_size, seq, why);
    }
    store_read_end(txn);
    return err;
}

static rl_err apply_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct replica *f = ctx;
    ledger_head head = f->head;
    rl_err err = RL_OK;
    for (size_t i = 0; i < f->nrecs && err == RL_OK; i++)
        err = ledger_append_verified(txn, f->st, f->recs + f->rec_off[i], f->rec_len[i], &head, NULL, why); /* audited */
    if (err == RL_OK)
        f->head = head;
    return err;
}

/* Verifies the signatures of the checked records on every core, then applies them at once. */
static rl_err flush(struct replica *f, rl_why *why)
{
    if (f->nrecs == 0)
        return RL_OK;
    pool_run(f->pool, verify_jobs_fn, f->jobs, f->njobs, 16);
    for (size_t i = 0; i < f->njobs; i++)
        if (!f->jobs[i].ok) {
            f->bad_seq = f->jobs[i].tag;
            return rl_fail(why, RL_ERR_SIG, "record %llu: a signature does not verify",
                           (unsigned long long)f->jobs[i].tag);
        }
    uint64_t first = f->head.seq + 1;
    rl_err err = store_write(f->st, apply_fn, f, why);
    for (size_t i = 0; i < f->nrecs && err == RL_OK; i++)
        note_record(f, f->recs + f->rec_off[i], f->rec_len[i], first + i);
    for (size_t i = 0; i < f->nrecs && err == RL_OK && f->o.on_record != NULL; i++)
        err = f->o.on_record(f->o.ctx, f->recs + f->rec_off[i], f->rec_len[i], first + i, why);
    f->nrecs = f->used = f->njobs = 0;
    return err;
}

/* Checks the next record (audit_next) and queues it for the next flush. */
static rl_err queue(struct replica *f, uint64_t seq, const uint8_t *rec, size_t len, rl_why *why)
{
    if (f->nrecs == FOLLOW_BATCH || f->used + len > (size_t)FOLLOW_BATCH * 512 ||
        f->njobs + AUDIT_MAX_JOBS_PER_RECORD > FOLLOW_JOBS) {
        rl_err err = flush(f, why);
        if (err != RL_OK)
            return err;
    }
    size_t n = 0;
    rl_err err = audit_next(f->a, rec, len, f->jobs + f->njobs, &n, why);
    if (err != RL_OK) {
        f->bad_seq = seq;
        return err;
    }
    for (size_t i = 0; i < n; i++)
        f->jobs[f->njobs + i].tag = seq;
    f->njobs += n;
    memcpy(f->recs + f->used, rec, len);
    f->rec_off[f->nrecs] = f->used;
    f->rec_len[f->nrecs++] = len;
    f->used += len;
    return RL_OK;
}

/* Takes a RECORD frame: the next one is checked and queued; a later one means a gap. */
static rl_err take_record(struct replica *f, const wire_msg *m, bool from_catchup, rl_why *why)
{
    uint64_t next = f->head.seq + f->nrecs + 1;
    if (m->id < next)
        return RL_OK; /* already have it */
    if (m->id > next) {
        if (!f->catching_up && !from_catchup) {
            log_info("gap in the live stream, catching up", "have=%llu got=%llu", (unsigned long long)(next - 1),
                     (unsigned long long)m->id);
            f->catching_up = true;
            f->asked_ms = 0; /* ask now */
        }
        return RL_OK;
    }
    return queue(f, m->id, m->body, m->body_len, why);
}

static rl_err drain_socket(struct replica *f, void *sock, bool from_catchup, rl_why *why)
{
    uint8_t *frame = f->frame;
    rl_err err = RL_OK;
    int got;
    while (err == RL_OK && (got = zmq_recv(sock, frame, sizeof f->frame, ZMQ_DONTWAIT)) >= 0) {
        wire_msg m;
        rl_why w = {{0}};
        if ((size_t)got > sizeof f->frame || wire_decode(&m, frame, (size_t)got, &w) != RL_OK) {
            log_warn("frame dropped", "why=\"%s\"", w.text[0] ? w.text : "oversized");
            continue;
        }
        f->heard_ms = mono_ms();
        if (m.type == WIRE_RECORD) {
            err = take_record(f, &m, from_catchup, why);
        } else if (m.type == WIRE_END && from_catchup) {
            err = flush(f, why);
            f->catching_up = err == RL_OK && f->head.seq < m.id; /* more to fetch */
            f->asked_ms = 0;
            if (!f->catching_up && err == RL_OK)
                log_debug("caught up", "head=%llu", (unsigned long long)f->head.seq);
        }
    }
    return err;
}

rl_err replica_open(replica **out, const replica_opts *o, rl_why *why)
{
    struct replica *f = calloc(1, sizeof *f);
    if (f == NULL)
        return RL_ERR_NOMEM;
    f->o = *o;
    rl_err err = store_open(&f->st, o->data, NULL, why);
    if (err == RL_OK)
        err = pool_new(&f->pool, 0);
    if (err == RL_OK)
        err = audit_new(&f->a, o->genesis);
    if (err == RL_OK && ((f->jobs = calloc(FOLLOW_JOBS, sizeof *f->jobs)) == NULL ||
                         (f->recs = malloc((size_t)FOLLOW_BATCH * 512 + RECORD_MAX_BYTES)) == NULL))
        err = RL_ERR_NOMEM;
    if (err == RL_OK)
        err = rebuild_audit(f, why);
    if (err == RL_OK && o->records == NULL) { /* fed by replica_take */
        *out = f;
        return RL_OK;
    }
    if (err == RL_OK)
        err = bus_new(&f->b, NULL, NULL, why);
    if (err == RL_OK && (f->sub = bus_client(f->b, ZMQ_SUB, o->key, o->hub->x25519, o->records, NULL, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK && zmq_setsockopt(f->sub, ZMQ_SUBSCRIBE, "", 0) != 0)
        err = rl_fail(why, RL_ERR_IO, "subscribe: %s", zmq_strerror(zmq_errno()));
    if (err == RL_OK && (f->req = bus_client(f->b, ZMQ_DEALER, o->key, o->hub->x25519, o->catchup, NULL, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK && o->nodes != NULL &&
        (f->nodes = bus_client(f->b, ZMQ_DEALER, o->key, o->hub->x25519, o->nodes, NULL, why)) == NULL)
        err = RL_ERR_IO;
    f->catching_up = true;
    if (err != RL_OK) {
        replica_close(f);
        return err;
    }
    *out = f;
    return RL_OK;
}

void replica_close(replica *f)
{
    if (f == NULL)
        return;
    bus_close(f->sub);
    bus_close(f->req);
    bus_close(f->nodes);
    bus_free(f->b);
    audit_free(f->a);
    pool_free(f->pool);
    store_close(f->st);
    free(f->jobs);
    free(f->recs);
    free(f);
}

rl_err replica_poll(replica *f, int timeout_ms, rl_why *why)
{
    if (f->sub == NULL)
        return rl_fail(why, RL_ERR_STATE, "replica: opened without the hub's endpoints, fed by replica_take");
    uint8_t frame_sink[16];
    uint64_t now = mono_ms();
    /* Ask for what is missing; when idle, probe now and then: a lost frame at the end of a
     * burst shows no gap until the hub's head is known. */
    bool ask = f->catching_up ? now - f->asked_ms >= CATCHUP_RETRY_MS
                              : now - f->heard_ms >= PROBE_MS && now - f->asked_ms >= PROBE_MS;
    if (ask) {
        uint8_t frame[32];
        size_t len = wire_encode_catchup(frame, sizeof frame, f->head.seq + f->nrecs + 1, 4096);
        zmq_send(f->req, frame, len, ZMQ_DONTWAIT);
        f->asked_ms = now;
    }
    zmq_pollitem_t items[2] = {{f->sub, 0, ZMQ_POLLIN, 0}, {f->req, 0, ZMQ_POLLIN, 0}};
    zmq_poll(items, 2, timeout_ms);
    rl_err err = drain_socket(f, f->req, true, why);
    if (err == RL_OK && !f->catching_up)
        err = drain_socket(f, f->sub, false, why);
    else if (err == RL_OK)
        while (zmq_recv(f->sub, frame_sink, sizeof frame_sink, ZMQ_DONTWAIT) >= 0) /* catch-up fetches these */
            ;
    if (err == RL_OK)
        err = flush(f, why);
    if (err == RL_OK)
        checkpoint_tick(f);
    return err;
}

rl_err replica_take(replica *f, uint64_t seq, const uint8_t *rec, size_t len, rl_why *why)
{
    uint64_t next = f->head.seq + f->nrecs + 1;
    if (seq != next)
        return rl_fail(why, RL_ERR_SEQ, "replica: record %llu handed over, the next is %llu", (unsigned long long)seq,
                       (unsigned long long)next);
    return queue(f, seq, rec, len, why);
}

rl_err replica_flush(replica *f, rl_why *why) { return flush(f, why); }

uint64_t replica_head(const replica *r) { return r->head.seq; }
uint64_t replica_bad_seq(const replica *r) { return r->bad_seq; }
uint64_t replica_checkpoints_signed(const replica *r) { return r->ckpt_signed; }
uint64_t replica_checkpoint_cpu_ns(const replica *r) { return r->ckpt_cpu_ns; }

int replica_exit(const replica *r, const char *who, rl_err err, const rl_why *why)
{
    char what[64];
    if (err == RL_OK) {
        snprintf(what, sizeof what, "%s stopped", who);
        log_info(what, "head=%llu", (unsigned long long)(r ? r->head.seq : 0));
        return 0;
    }
    if ((r != NULL && r->bad_seq != 0) || err == RL_ERR_SIG) {
        log_error("record fails the audit: not applied", "seq=%llu why=\"%s\"",
                  (unsigned long long)(r ? r->bad_seq : 0), why->text);
        return EXIT_CHECK_FAILED;
    }
    snprintf(what, sizeof what, "%s failed", who);
    log_error(what, "why=\"%s\"", why->text[0] ? why->text : rl_strerror(err));
    return EXIT_USAGE;
}
void *replica_bus(replica *r) { return bus_context(r->b); }
