/*
 * ingest.c - the hub's write path: prefilter, parallel verification, quorum, group commit.
 */
#include "db/ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/audit.h"
#include "attest/quorum.h"

#define DEFAULT_COMMIT_MAX 4096
#define DEFAULT_COMMIT_DELAY_MS 20
#define DEFAULT_VERIFY_BATCH 4096

enum item_kind {
    ITEM_ATTEST,   /* payload: attest payload */
    ITEM_CONFLICT, /* payload: conflict payload, complete */
    ITEM_LATE,     /* payload: attest-format variant B; A is looked up at commit */
};

struct item {
    uint8_t kind;
    size_t off, len; /* payload in the arena */
};

/* Events settled by pending items or the current batch, not yet visible in the ledger. */
struct settled {
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    bool credited; /* attested with `content`; false: in conflict, or a late conflict queued */
    UT_hash_handle hh;
};

/* Signatures of one event being verified in the current batch. */
struct inflight {
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    unsigned count;
    UT_hash_handle hh;
};

struct cand {
    signed_obs so;
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    bool late; /* the event is credited with other content: a verified one is a late conflict */
};

struct refusal {
    size_t item;
    rl_why why;
};

struct ingest {
    store *s;
    pool *pool;
    ingest_opts o;
    relset set;
    quorum *q;
    ledger_head head;
    ingest_stats st;

    struct item *items;
    size_t nitems, cap_items;
    uint8_t *arena;
    size_t arena_len, arena_cap;
    uint64_t first_pending_ms;
    /* Settled by the pending items, and by the previous commit. The previous commit's events are
     * in the ledger, but a batch prefiltered before that commit may still be aggregated after
     * it: keeping one generation back lets aggregate see them without a database read. */
    struct settled *settled, *settled_prev;

    signed_obs *held;
    size_t nheld, cap_held;

    /* Two batch buffers: one being verified while the other is aggregated. */
    struct batch {
        struct cand *cands;
        verify_job *jobs;
        size_t n;
    } buf[2];
    int cur;
    bool have_prev; /* buf[!cur] is verified and waits for aggregation */
    struct inflight *inflight;
    quorum_result *res;

    /* per commit attempt */
    uint64_t now_ms;
    struct refusal *refusals;
    size_t nrefusals;
    uint64_t attempt_records;
    uint8_t rec[RECORD_MAX_BYTES];
    uint8_t payload[RECORD_MAX_PAYLOAD];
};

static void alert(ingest *g, const char *what, const char *why)
{
    if (g->o.alert != NULL)
        g->o.alert(g->o.alert_ctx, what, why);
}

/* ---- pending items ---- */

static rl_err item_push(ingest *g, uint8_t kind, const uint8_t *payload, size_t len, uint64_t now_ms)
{
    if (g->nitems == g->cap_items) {
        size_t cap = g->cap_items ? 2 * g->cap_items : 1024;
        struct item *it = realloc(g->items, cap * sizeof *it);
        if (it == NULL)
            return RL_ERR_NOMEM;
        g->items = it;
        g->cap_items = cap;
    }
    if (g->arena_len + len > g->arena_cap) {
        size_t cap = g->arena_cap ? 2 * g->arena_cap : 1 << 20;
        while (cap < g->arena_len + len)
            cap *= 2;
        uint8_t *a = realloc(g->arena, cap);
        if (a == NULL)
            return RL_ERR_NOMEM;
        g->arena = a;
        g->arena_cap = cap;
    }
    memcpy(g->arena + g->arena_len, payload, len);
    g->items[g->nitems++] = (struct item){kind, g->arena_len, len};
    g->arena_len += len;
    if (g->nitems == 1)
        g->first_pending_ms = now_ms;
    return RL_OK;
}

static struct settled *settled_find(ingest *g, const uint8_t id[HASH_BYTES])
{
    struct settled *e = NULL;
    HASH_FIND(hh, g->settled, id, HASH_BYTES, e);
    if (e == NULL)
        HASH_FIND(hh, g->settled_prev, id, HASH_BYTES, e);
    return e;
}

static rl_err settled_mark(ingest *g, const uint8_t id[HASH_BYTES], const uint8_t content[HASH_BYTES], bool credited)
{
    struct settled *e = settled_find(g, id);
    if (e == NULL) {
        if ((e = calloc(1, sizeof *e)) == NULL)
            return RL_ERR_NOMEM;
        memcpy(e->id, id, HASH_BYTES);
        memcpy(e->content, content, HASH_BYTES);
        e->credited = credited;
        HASH_ADD(hh, g->settled, id, HASH_BYTES, e);
    } else if (!credited) {
        e->credited = false; /* a late conflict is queued: no second alert for this event */
    }
    return RL_OK;
}

static void settled_free(struct settled **set)
{
    struct settled *e, *t;
    HASH_ITER(hh, *set, e, t) {
        HASH_DEL(*set, e);
        free(e);
    }
}

/* After a commit: the committed generation becomes the previous one. */
static void settled_rotate(ingest *g)
{
    settled_free(&g->settled_prev);
    g->settled_prev = g->settled;
    g->settled = NULL;
}

/* ---- commit ---- */

static rl_err append(MDB_txn *txn, ingest *g, uint8_t type, const uint8_t *payload, size_t len, ledger_head *head,
                     size_t item, rl_why *why)
{
    record r = {.type = type, .seq = head->seq + 1, .time_ms = g->now_ms, .payload = payload,
                .payload_len = (uint32_t)len};
    memcpy(r.prev, head->hash, HASH_BYTES);
    size_t n;
    rl_err err = record_encode(&r, g->rec, &n, why);
    if (err == RL_OK)
        err = ledger_append(txn, g->s, g->rec, n, head, why);
    switch (err) {
    case RL_OK:
        g->attempt_records++;
        return RL_OK;
    case RL_ERR_DUPLICATE:
    case RL_ERR_STATE:
    case RL_ERR_OVERFLOW:
    case RL_ERR_DECODE:
    case RL_ERR_ARG: {
        /* The record was refused before anything was written: note it, go on with the rest. */
        struct refusal *f = &g->refusals[g->nrefusals++];
        f->item = item;
        f->why = why ? *why : (rl_why){{0}};
        return RL_OK;
    }
    default:
        return err;
    }
}

/* The credited attestation behind an event, read from its log record. */
static rl_err credited_variant(MDB_txn *txn, ingest *g, uint64_t log_seq, signed_variant *out, rl_why *why)
{
    MDB_val v;
    record r;
    rl_err err = ledger_record_get(txn, g->s, log_seq, &v, why);
    if (err == RL_OK)
        err = record_decode(&r, v.mv_data, v.mv_size, why);
    if (err == RL_OK && r.type != RECORD_ATTEST)
        err = rl_fail(why, RL_ERR_DB, "record %llu should be an attestation", (unsigned long long)log_seq);
    if (err == RL_OK)
        err = payload_attest_decode(out, &r, why);
    return err;
}

static rl_err commit_item(MDB_txn *txn, ingest *g, size_t i, ledger_head *head, payload_conflict *pc, rl_why *why)
{
    const struct item *it = &g->items[i];
    const uint8_t *payload = g->arena + it->off;
    if (it->kind == ITEM_CONFLICT)
        return append(txn, g, RECORD_CONFLICT, payload, it->len, head, i, why);

    record view = {.type = RECORD_ATTEST, .seq = 1, .payload = payload, .payload_len = (uint32_t)it->len};
    obs o;
    uint8_t id[HASH_BYTES], owner[HASH_BYTES];
    uint64_t owner_seq;
    rl_err err = payload_attest_decode(&pc->b, &view, why);
    if (err == RL_OK)
        err = obs_decode(&o, pc->b.obs, OBS_BYTES, why);
    if (err != RL_OK)
        return err;
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);

    if (it->kind == ITEM_ATTEST) {
        /* Another event already took this vault sequence number (a re-mined transaction, or a
         * lying quorum): never credit twice; log both as a conflict instead. */
        if (ledger_vault_seq_get(txn, g->s, o.chain_id, o.vault, o.vault_seq, owner, &owner_seq) != RL_OK ||
            memcmp(owner, id, HASH_BYTES) == 0)
            return append(txn, g, RECORD_ATTEST, payload, it->len, head, i, why);
        event_info ev;
        if (ledger_event_get(txn, g->s, owner, &ev) != RL_OK)
            return rl_fail(why, RL_ERR_DB, "vault sequence owner has no event entry");
        pc->reason = CONFLICT_VAULT_SEQ;
        err = credited_variant(txn, g, ev.log_seq, &pc->a, why);
    } else {
        event_info ev;
        bool logged;
        if (ledger_event_get(txn, g->s, id, &ev) != RL_OK || ev.status != EVENT_CREDITED)
            return RL_OK; /* conflicted meanwhile: already alerted */
        if ((err = ledger_conflict_logged(txn, g->s, id, &logged)) != RL_OK || logged)
            return err;
        pc->reason = CONFLICT_CONTENT;
        err = credited_variant(txn, g, ev.log_seq, &pc->a, why);
    }
    if (err != RL_OK)
        return err;
    pc->credited = 1;
    size_t len;
    err = payload_conflict_encode(pc, g->payload, &len, why);
    if (err != RL_OK)
        return err;
    return append(txn, g, RECORD_CONFLICT, g->payload, len, head, i, why);
}

static rl_err commit_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    ingest *g = ctx;
    ledger_head head;
    g->nrefusals = 0;
    g->attempt_records = 0;
    rl_err err = ledger_head_get(txn, g->s, &head, why);
    if (err != RL_OK)
        return err;
    payload_conflict *pc = malloc(sizeof *pc);
    if (pc == NULL)
        return RL_ERR_NOMEM;
    for (size_t i = 0; i < g->nitems && err == RL_OK; i++)
        err = commit_item(txn, g, i, &head, pc, why);
    free(pc);
    return err;
}

static rl_err commit(ingest *g, uint64_t now_ms, rl_why *why)
{
    if (g->nitems == 0)
        return RL_OK;
    struct refusal *rf = realloc(g->refusals, g->nitems * sizeof *rf);
    if (rf == NULL)
        return RL_ERR_NOMEM;
    g->refusals = rf;
    g->now_ms = now_ms;
    rl_err err = store_write(g->s, commit_fn, g, why);
    if (err != RL_OK)
        return err;
    MDB_txn *txn;
    err = store_read_begin(g->s, &txn, why);
    if (err != RL_OK)
        return err;
    err = ledger_head_get(txn, g->s, &g->head, why);
    store_read_end(txn);
    if (err != RL_OK)
        return err;
    for (size_t i = 0; i < g->nrefusals; i++) {
        g->st.refused++;
        alert(g, "record refused by the ledger", g->refusals[i].why.text);
    }
    g->st.records += g->attempt_records;
    g->st.commits++;
    size_t n = g->nitems;
    g->nitems = 0;
    g->arena_len = 0;
    settled_rotate(g);
    if (g->o.committed != NULL)
        g->o.committed(g->o.committed_ctx, &g->head, n);
    return RL_OK;
}

static bool commit_due(const ingest *g, uint64_t now_ms)
{
    return g->nitems > 0 &&
           (g->nitems >= g->o.commit_max_records || now_ms - g->first_pending_ms >= g->o.commit_max_delay_ms);
}

/* ---- batches ---- */

static rl_err hold(ingest *g, const signed_obs *so, signed_obs **next, size_t *nnext, size_t *cap)
{
    if (*nnext == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        signed_obs *h = realloc(*next, c * sizeof *h);
        if (h == NULL)
            return RL_ERR_NOMEM;
        *next = h;
        *cap = c;
    }
    (*next)[(*nnext)++] = *so;
    g->st.held++;
    return RL_OK;
}

static void inflight_clear(ingest *g)
{
    struct inflight *e, *t;
    HASH_ITER(hh, g->inflight, e, t) {
        HASH_DEL(g->inflight, e);
        free(e);
    }
}

/* Stage 1. Returns the number of candidates in g->cands / g->jobs. */
static rl_err prefilter(ingest *g, struct batch *b, const signed_obs *in, size_t n, signed_obs **next_held,
                        size_t *nnext, size_t *cap_next, rl_why *why)
{
    MDB_txn *txn;
    rl_err err = store_read_begin(g->s, &txn, why);
    if (err != RL_OK)
        return err;
    size_t k = 0;
    rl_why w;
    for (size_t i = 0; i < n && err == RL_OK; i++) {
        const signed_obs *so = &in[i];
        struct cand *c = &b->cands[k];
        obs o;
        if (obs_decode(&o, so->bytes, OBS_BYTES, &w) != RL_OK) {
            g->st.malformed++;
            alert(g, "malformed observation", w.text);
            continue;
        }
        obs_event_id(c->id, o.chain_id, o.tx_hash, o.log_index);
        obs_content_hash(c->content, so->bytes);
        c->late = false;

        struct settled *s = settled_find(g, c->id);
        event_info ev;
        bool logged = false;
        if (s != NULL) {
            if (!s->credited || memcmp(s->content, c->content, HASH_BYTES) == 0) {
                g->st.settled++;
                continue;
            }
            c->late = true;
        } else if (ledger_event_get(txn, g->s, c->id, &ev) == RL_OK) {
            if (ev.status != EVENT_CREDITED || memcmp(ev.content, c->content, HASH_BYTES) == 0 ||
                (err = ledger_conflict_logged(txn, g->s, c->id, &logged)) != RL_OK || logged) {
                g->st.settled++;
                continue;
            }
            c->late = true;
        }

        /* Settled events are skipped before the signer check: after a rotation, a resent
         * observation from a retired member of an event it helped settle is harmless. */
        const relset_member *m = relset_find(&g->set, so->member);
        if (m == NULL) {
            g->st.unknown_signer++;
            snprintf(w.text, sizeof w.text, "member %u is not in relayer set version %u", so->member, g->set.version);
            alert(g, "observation from unknown signer", w.text);
            continue;
        }
        if (!c->late) {
            /* Enough signatures of this content are pending or being verified: hold this one. */
            struct inflight *f = NULL;
            HASH_FIND(hh, g->inflight, c->id, HASH_BYTES, f);
            unsigned have = quorum_signers(g->q, c->id, c->content);
            bool same = f != NULL && memcmp(f->content, c->content, HASH_BYTES) == 0;
            if (same && have + f->count >= g->set.threshold) {
                err = hold(g, so, next_held, nnext, cap_next);
                continue;
            }
            if (f == NULL) {
                if ((f = calloc(1, sizeof *f)) == NULL) {
                    err = RL_ERR_NOMEM;
                    break;
                }
                memcpy(f->id, c->id, HASH_BYTES);
                memcpy(f->content, c->content, HASH_BYTES);
                HASH_ADD(hh, g->inflight, id, HASH_BYTES, f);
                same = true;
            }
            if (same)
                f->count++;
        }
        c->so = *so;
        verify_job *j = &b->jobs[k];
        memcpy(j->pk, m->pub.ed25519, ED25519_PK_BYTES);
        memcpy(j->msg, c->content, HASH_BYTES);
        memcpy(j->sig, so->sig, ED25519_SIG_BYTES);
        j->tag = i;
        k++;
    }
    store_read_end(txn);
    inflight_clear(g);
    b->n = k;
    return err;
}

/* Stage 3: verified candidates into the quorum and pending items. */
static rl_err aggregate(ingest *g, struct batch *bt, uint64_t now_ms, rl_why *why)
{
    quorum_result *res = g->res;
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    char hex[16];
    for (size_t i = 0; i < bt->n; i++) {
        struct cand *c = &bt->cands[i];
        /* The count bound holds within a batch too. */
        if (g->nitems >= g->o.commit_max_records) {
            rl_err cerr = commit(g, now_ms, why);
            if (cerr != RL_OK)
                return cerr;
        }
        g->st.verified++;
        if (!bt->jobs[i].ok) {
            g->st.bad_signature++;
            snprintf(hex, sizeof hex, "member %u", c->so.member);
            alert(g, "bad observation signature", hex);
            continue;
        }
        rl_err err;
        struct settled *s = settled_find(g, c->id);
        if (s != NULL && !c->late) {
            if (!s->credited || memcmp(s->content, c->content, HASH_BYTES) == 0) {
                g->st.settled++;
                continue;
            }
            c->late = true;
        }
        if (c->late) {
            if (s != NULL && !s->credited)
                continue; /* one alert per event */
            payload_attest b = {.sigs = {.n = 1}};
            memcpy(b.obs, c->so.bytes, OBS_BYTES);
            b.sigs.e[0].member = c->so.member;
            memcpy(b.sigs.e[0].sig, c->so.sig, ED25519_SIG_BYTES);
            if ((err = payload_attest_encode(&b, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_LATE, buf, len, now_ms)) != RL_OK ||
                (err = settled_mark(g, c->id, c->content, false)) != RL_OK)
                return err;
            g->st.conflicts++;
            continue;
        }
        err = quorum_add(g->q, &c->so, c->id, c->content, res);
        if (err != RL_OK)
            return err;
        switch (res->status) {
        case QUORUM_PENDING:
            break;
        case QUORUM_DUPLICATE:
            g->st.duplicate++;
            break;
        case QUORUM_ATTESTED:
            if ((err = payload_attest_encode(&res->attest, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_ATTEST, buf, len, now_ms)) != RL_OK ||
                (err = settled_mark(g, c->id, c->content, true)) != RL_OK)
                return err;
            g->st.attested++;
            break;
        case QUORUM_CONFLICT:
            if ((err = payload_conflict_encode(&res->conflict, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_CONFLICT, buf, len, now_ms)) != RL_OK ||
                (err = settled_mark(g, c->id, c->content, false)) != RL_OK)
                return err;
            g->st.conflicts++;
            break;
        }
    }
    return RL_OK;
}

/* One slice: prefilter it, and while its signatures are verified, aggregate the previous
 * slice and commit what is due. The prefilter runs before the previous slice is aggregated, so
 * it may verify a signature that turns out not to be needed; aggregate re-checks everything it
 * depends on, so that costs time, never correctness. */
static rl_err process(ingest *g, const signed_obs *in, size_t n, signed_obs **next_held, size_t *nnext,
                      size_t *cap_next, uint64_t now_ms, rl_why *why)
{
    struct batch *b = &g->buf[g->cur];
    rl_err err = prefilter(g, b, in, n, next_held, nnext, cap_next, why);
    if (err != RL_OK)
        return err;
    pool_start(g->pool, verify_jobs_fn, b->jobs, b->n, 64);
    if (g->have_prev)
        err = aggregate(g, &g->buf[!g->cur], now_ms, why);
    if (err == RL_OK && commit_due(g, now_ms))
        err = commit(g, now_ms, why);
    pool_wait(g->pool);
    g->have_prev = true;
    g->cur = !g->cur;
    return err;
}

/* Aggregates the last verified slice. */
static rl_err drain_prev(ingest *g, uint64_t now_ms, rl_why *why)
{
    if (!g->have_prev)
        return RL_OK;
    g->have_prev = false;
    return aggregate(g, &g->buf[!g->cur], now_ms, why);
}

/* Runs the held observations, then `in`, in verify-batch slices. */
static rl_err run(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why)
{
    signed_obs *held = g->held;
    size_t nheld = g->nheld;
    signed_obs *next = NULL;
    size_t nnext = 0, cap_next = 0;
    g->held = NULL;
    g->nheld = g->cap_held = 0;
    rl_err err = RL_OK;
    for (size_t off = 0; off < nheld && err == RL_OK; off += g->o.verify_batch) {
        size_t take = nheld - off < g->o.verify_batch ? nheld - off : g->o.verify_batch;
        err = process(g, held + off, take, &next, &nnext, &cap_next, now_ms, why);
    }
    for (size_t off = 0; off < n && err == RL_OK; off += g->o.verify_batch) {
        size_t take = n - off < g->o.verify_batch ? n - off : g->o.verify_batch;
        err = process(g, in + off, take, &next, &nnext, &cap_next, now_ms, why);
    }
    if (err == RL_OK)
        err = drain_prev(g, now_ms, why);
    free(held);
    g->held = next;
    g->nheld = nnext;
    g->cap_held = cap_next;
    return err;
}

rl_err ingest_submit(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why)
{
    g->st.received += n;
    rl_err err = run(g, in, n, now_ms, why);
    if (err == RL_OK && commit_due(g, now_ms))
        err = commit(g, now_ms, why);
    return err;
}

rl_err ingest_tick(ingest *g, uint64_t now_ms, rl_why *why)
{
    return commit_due(g, now_ms) ? commit(g, now_ms, why) : RL_OK;
}

rl_err ingest_flush(ingest *g, uint64_t now_ms, rl_why *why)
{
    /* Each round verifies or drops at least one held observation, so this ends. */
    while (g->nheld > 0) {
        size_t before = g->nheld;
        rl_err err = run(g, NULL, 0, now_ms, why);
        if (err != RL_OK)
            return err;
        if (g->nheld >= before)
            break;
    }
    return commit(g, now_ms, why);
}

/* ---- set-up ---- */

struct genesis_ctx {
    ingest *g;
    const relset *set;
};

static rl_err genesis_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct genesis_ctx *c = ctx;
    payload_set *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    p->set = *c->set;
    size_t len;
    ledger_head head = {0};
    rl_err err = payload_set_encode(p, c->g->payload, &len, why);
    free(p);
    if (err != RL_OK)
        return err;
    record r = {.type = RECORD_SET, .seq = 1, .time_ms = c->g->now_ms, .payload = c->g->payload,
                .payload_len = (uint32_t)len};
    err = record_encode(&r, c->g->rec, &len, why);
    if (err == RL_OK)
        err = ledger_append(txn, c->g->s, c->g->rec, len, &head, why);
    return err;
}

static rl_err load_state(ingest *g, const relset *genesis, rl_why *why)
{
    MDB_txn *txn;
    relset first;
    uint8_t want[HASH_BYTES], got[HASH_BYTES];
    rl_err err = store_read_begin(g->s, &txn, why);
    if (err != RL_OK)
        return err;
    err = ledger_head_get(txn, g->s, &g->head, why);
    if (err == RL_OK)
        err = ledger_set_get(txn, g->s, 1, &first, why);
    if (err == RL_OK)
        err = relset_digest(genesis, want);
    if (err == RL_OK)
        err = relset_digest(&first, got);
    if (err == RL_OK && memcmp(want, got, HASH_BYTES) != 0)
        err = rl_fail(why, RL_ERR_STATE, "%s: the relayer set given is not this ledger's genesis set", store_path(g->s));
    if (err == RL_OK)
        err = ledger_set_get(txn, g->s, g->head.set_version, &g->set, why);
    store_read_end(txn);
    return err;
}

rl_err ingest_open(ingest **out, store *s, pool *p, const relset *genesis, const ingest_opts *opts, uint64_t now_ms,
                   rl_why *why)
{
    rl_err err = relset_validate(genesis, why);
    if (err != RL_OK)
        return err;
    ingest *g = calloc(1, sizeof *g);
    if (g == NULL)
        return RL_ERR_NOMEM;
    g->s = s;
    g->pool = p;
    if (opts != NULL)
        g->o = *opts;
    if (g->o.commit_max_records == 0)
        g->o.commit_max_records = DEFAULT_COMMIT_MAX;
    if (g->o.commit_max_delay_ms == 0)
        g->o.commit_max_delay_ms = DEFAULT_COMMIT_DELAY_MS;
    if (g->o.verify_batch == 0)
        g->o.verify_batch = DEFAULT_VERIFY_BATCH;
    for (int i = 0; i < 2; i++) {
        g->buf[i].cands = calloc(g->o.verify_batch, sizeof *g->buf[i].cands);
        g->buf[i].jobs = calloc(g->o.verify_batch, sizeof *g->buf[i].jobs);
    }
    g->res = malloc(sizeof *g->res);
    if (!g->buf[0].cands || !g->buf[0].jobs || !g->buf[1].cands || !g->buf[1].jobs || !g->res) {
        err = RL_ERR_NOMEM;
        goto fail;
    }
    MDB_txn *txn;
    if ((err = store_read_begin(s, &txn, why)) != RL_OK)
        goto fail;
    err = ledger_head_get(txn, s, &g->head, why);
    store_read_end(txn);
    if (err != RL_OK)
        goto fail;
    if (g->head.seq == 0) {
        struct genesis_ctx gc = {g, genesis};
        g->now_ms = now_ms;
        if ((err = store_write(s, genesis_fn, &gc, why)) != RL_OK)
            goto fail;
    }
    if ((err = load_state(g, genesis, why)) != RL_OK)
        goto fail;
    if ((err = quorum_new(&g->q, &g->set)) != RL_OK)
        goto fail;
    *out = g;
    return RL_OK;
fail:
    ingest_close(g);
    return err;
}

void ingest_close(ingest *g)
{
    if (g == NULL)
        return;
    quorum_free(g->q);
    settled_free(&g->settled);
    settled_free(&g->settled_prev);
    inflight_clear(g);
    free(g->items);
    free(g->arena);
    free(g->held);
    for (int i = 0; i < 2; i++) {
        free(g->buf[i].cands);
        free(g->buf[i].jobs);
    }
    free(g->res);
    free(g->refusals);
    free(g);
}

struct rotate_ctx {
    ingest *g;
    const payload_set *p;
};

static rl_err rotate_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct rotate_ctx *c = ctx;
    ingest *g = c->g;
    ledger_head head;
    size_t len;
    rl_err err = ledger_head_get(txn, g->s, &head, why);
    if (err == RL_OK)
        err = payload_set_encode(c->p, g->payload, &len, why);
    if (err != RL_OK)
        return err;
    record r = {.type = RECORD_SET, .seq = head.seq + 1, .time_ms = g->now_ms, .payload = g->payload,
                .payload_len = (uint32_t)len};
    memcpy(r.prev, head.hash, HASH_BYTES);
    err = record_encode(&r, g->rec, &len, why);
    if (err == RL_OK)
        err = ledger_append(txn, g->s, g->rec, len, &head, why);
    return err;
}

rl_err ingest_rotate(ingest *g, const payload_set *p, uint64_t now_ms, rl_why *why)
{
    verify_job *jobs = calloc(RELSET_MAX_MEMBERS, sizeof *jobs);
    if (jobs == NULL)
        return RL_ERR_NOMEM;
    size_t n = 0;
    rl_err err = audit_rotation_jobs(&g->set, p, jobs, &n, why);
    if (err == RL_OK) {
        verify_jobs_fn(jobs, 0, n);
        for (size_t i = 0; i < n && err == RL_OK; i++)
            if (!jobs[i].ok)
                err = rl_fail(why, RL_ERR_SIG, "rotation signature of member %u does not verify",
                              p->sigs.e[i].member);
    }
    free(jobs);
    if (err == RL_OK)
        err = ingest_flush(g, now_ms, why);
    if (err == RL_OK) {
        struct rotate_ctx rc = {g, p};
        g->now_ms = now_ms;
        err = store_write(g->s, rotate_fn, &rc, why);
    }
    if (err != RL_OK)
        return err;
    /* Signatures pending under the old set no longer count: senders resend to the new one. */
    MDB_txn *txn;
    if ((err = store_read_begin(g->s, &txn, why)) != RL_OK)
        return err;
    err = ledger_head_get(txn, g->s, &g->head, why);
    if (err == RL_OK)
        err = ledger_set_get(txn, g->s, g->head.set_version, &g->set, why);
    store_read_end(txn);
    if (err == RL_OK)
        quorum_reset(g->q, &g->set);
    return err;
}

const ingest_stats *ingest_get_stats(const ingest *g) { return &g->st; }
const relset *ingest_set(const ingest *g) { return &g->set; }
const ledger_head *ingest_head(const ingest *g) { return &g->head; }
size_t ingest_pending_events(const ingest *g) { return quorum_pending(g->q); }
