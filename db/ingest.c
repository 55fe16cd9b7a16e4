/*
 * ingest.c - the hub's write path: prefilter, parallel verification, quorum, group commit.
 */
#include "db/ingest.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/audit.h"
#include "attest/bytes.h"
#include "attest/hashidx.h"
#include "attest/quorum.h"
#include "attest/vec.h"

#define DEFAULT_COMMIT_MAX 4096
#define DEFAULT_COMMIT_DELAY_MS 20
#define DEFAULT_VERIFY_BATCH 4096
#define DROP_REPORT_MS 1000 /* pending signatures dropped are reported at most this often */
/* Signatures a worker takes at a time: small, so the last chunks of a batch finish together. */
#define VERIFY_CHUNK 16

enum item_kind {
    ITEM_ATTEST,   /* payload: attest payload */
    ITEM_EQUIV,    /* payload: equivocation payload; id: its key (payload_equivocation_key) */
    ITEM_LATE,     /* payload: attest-format variant B, a quorum; A is looked up at commit */
    ITEM_RECORD,   /* payload: a record of `type` built elsewhere (price, request, decision) */
    ITEM_RECORD_VERIFIED, /* the same, its bundle signatures checked by the caller */
};

struct item {
    uint8_t kind, type;
    size_t off, len; /* payload in the arena */
    /* ITEM_ATTEST: the event id and content hash aggregate had, so the commit does not hash the
     * observation again (ledger_append_known); ITEM_EQUIV: its key in id */
    uint8_t id[HASH_BYTES], content[HASH_BYTES];
};

/* An event settled in memory: by a pending item, or by a recent commit that a batch prefiltered
 * earlier could not see in the ledger yet. Every one is in the index settled_idx (one lookup
 * whatever its generation) and in the list of its generation (to drop them together). */
struct settled {
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    bool credited; /* attested with `content`; false: in conflict, or a late conflict's quorum queued */
    struct settled *next; /* in its generation */
};

/* The events one commit settled, kept until no batch can still miss them (see settled_prune). */
struct generation {
    uint64_t commit_no;
    struct settled *set;
    struct generation *next; /* newer */
};

/* What the prefilter knows of one event in its batch: looked up once per event, not per
 * observation, and how many signatures of one content it is sending to be verified. The nodes'
 * observations of one event are usually byte-identical, so the event id and content hash are
 * computed once per event and reused when the bytes match. */
#define INFLIGHT_KEY_BYTES (8 + HASH_BYTES + 4)
struct inflight {
    uint8_t where[INFLIGHT_KEY_BYTES]; /* chain id | tx hash | log index: what the id hashes */
    uint8_t id[HASH_BYTES];
    bool memo;                         /* memo_content is the content hash of memo_obs */
    uint8_t memo_obs[OBS_BYTES];
    uint8_t memo_content[HASH_BYTES];
    uint8_t content[HASH_BYTES]; /* of the first observation sent to verification */
    unsigned count;              /* distinct members sending `content` to verification */
    uint64_t counted;            /* their positions in the set (RELSET_MAX_MEMBERS <= 64) */
    uint8_t state;               /* enum known below */
    uint8_t settled_content[HASH_BYTES];
    UT_hash_handle hh;
};

enum known {
    KNOWN_OPEN,     /* not settled: observations go to the quorum */
    KNOWN_CREDITED, /* credited with settled_content; a quorum of other content is a late conflict */
    KNOWN_CLOSED,   /* blocked by a conflict, or its one alert is logged or queued */
};

struct cand {
    signed_obs so;
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    bool late; /* the event is credited with other content: it counts towards a late conflict */
};

struct refusal {
    size_t item;
    rl_why why;
};

/* Records waiting for a commit: their payloads back to back in one arena. */
struct pending {
    struct item *items;
    size_t n, cap;
    uint8_t *arena;
    size_t len, arena_cap;
    uint64_t first_ms; /* when the oldest arrived */
    uint64_t last_ms;  /* when the newest arrived */
};

struct ingest {
    store *s;
    pool *pool;
    ingest_opts o;
    relset set;
    quorum *q;
    ledger_head head;
    ingest_stats st;

    /* Aggregate fills `fill`; a commit takes it over as `flight` and runs on the committer
     * thread, so its write transaction and fsync overlap with verification and the next
     * batches. One commit is in flight at most. */
    struct pending fill, flight;
    /* Settled by pending items (the list `settled`), and by commits some unaggregated batch
     * may not have seen (gens); settled_idx indexes both by event id. */
    struct settled *settled;
    struct generation *gens; /* oldest first */
    hashidx settled_idx;
    uint64_t commits_done;
    size_t last_commit_n; /* records handed to the last commit (the load rule, ingest_opts) */

    /* Observations held back, each with the batch that held it: it is looked at again only once
     * that batch is aggregated, when the quorum it was held against is known. The event id and
     * content hash the prefilter computed come along, so one whose event settled meanwhile (the
     * usual case) is dropped without being decoded and hashed again. */
    struct held {
        signed_obs so;
        uint64_t batch;
        uint8_t id[HASH_BYTES];
        uint8_t content[HASH_BYTES];
    } *held;
    size_t nheld, cap_held;
    uint64_t batches_prefiltered, batches_aggregated;

    /* Three batch buffers, one per pipeline stage: while the pool verifies one, the main thread
     * prefilters the next and aggregates the previous (see step). */
    struct batch {
        struct cand *cands;
        verify_job *jobs;
        size_t n;
        uint64_t seen_commits; /* commits the ledger held when this batch was prefiltered */
        uint64_t no;           /* batches are numbered in prefilter order, aggregated in order */
    } buf[3];
    struct batch *ready;     /* prefiltered, not yet verified */
    struct batch *verifying; /* in the pool */
    struct batch *verified;  /* verified, not yet aggregated */
    /* The prefiltered batch's events: a hash over entries taken from a slab of verify_batch
     * entries (one per observation at most), reused every batch. */
    struct inflight *inflight, *inflight_slab;
    size_t inflight_used;
    quorum_result *res;
    /* What quorum_member_at reported dropped, per set position, at the last report. */
    uint64_t reported_over[RELSET_MAX_MEMBERS], reported_expired[RELSET_MAX_MEMBERS];
    uint64_t reported_ms;

    /* The committer thread. Between commit_start and commit_finish it alone uses `flight` and
     * the fields below down to `payload`; the main thread reads them only after the hand-back. */
    pthread_t committer;
    bool committer_up, in_flight;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool busy, quit; /* under mu */
    rl_err flight_err;
    rl_why flight_why;
    ledger_head flight_head;
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

static rl_err item_push(ingest *g, uint8_t kind, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms)
{
    struct pending *p = &g->fill;
    if (!vec_reserve((void **)&p->items, &p->cap, p->n + 1, sizeof *p->items, 1024) ||
        !vec_reserve((void **)&p->arena, &p->arena_cap, p->len + len, 1, 1 << 20))
        return RL_ERR_NOMEM;
    memcpy(p->arena + p->len, payload, len);
    p->items[p->n++] = (struct item){.kind = kind, .type = type, .off = p->len, .len = len};
    p->len += len;
    if (p->n == 1)
        p->first_ms = now_ms;
    p->last_ms = now_ms;
    return RL_OK;
}

static struct settled *settled_find(ingest *g, const uint8_t id[HASH_BYTES])
{
    return hashidx_find(&g->settled_idx, id);
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
        if (hashidx_add(&g->settled_idx, e->id, e) != RL_OK) {
            free(e);
            return RL_ERR_NOMEM;
        }
        e->next = g->settled;
        g->settled = e;
    } else if (!credited) {
        e->credited = false; /* a late conflict is queued: no second alert for this event */
    }
    return RL_OK;
}

/* Drops a generation's list from the index and frees it. */
static void settled_free(ingest *g, struct settled **set)
{
    while (*set != NULL) {
        struct settled *e = *set;
        *set = e->next;
        hashidx_del(&g->settled_idx, e->id);
        free(e);
    }
}

/* When a commit starts: the pending set becomes that commit's generation, numbered as the
 * commit it will be once done. Batches prefiltered meanwhile read the ledger without it and
 * count fewer commits, so they keep the generation (settled_prune). */
static rl_err settled_commit(ingest *g)
{
    struct generation *gen = calloc(1, sizeof *gen), **tail = &g->gens;
    if (gen == NULL)
        return RL_ERR_NOMEM;
    gen->commit_no = g->commits_done + 1;
    gen->set = g->settled;
    g->settled = NULL;
    while (*tail != NULL)
        tail = &(*tail)->next;
    *tail = gen;
    return RL_OK;
}

/* A generation may go once every batch not yet aggregated was prefiltered after its commit:
 * those batches saw its events in the ledger. */
static void settled_prune(ingest *g)
{
    uint64_t oldest = g->commits_done;
    if (g->ready != NULL && g->ready->seen_commits < oldest)
        oldest = g->ready->seen_commits;
    if (g->verified != NULL && g->verified->seen_commits < oldest)
        oldest = g->verified->seen_commits;
    while (g->gens != NULL && g->gens->commit_no <= oldest) {
        struct generation *gen = g->gens;
        g->gens = gen->next;
        settled_free(g, &gen->set);
        free(gen);
    }
}

/* ---- commit ---- */

/* The time a record built now is stamped with: the commit's clock, or the head's time when the
 * clock stepped back (ledger.h T1: record time never goes backwards, and the hub keeps logging). */
static uint64_t stamp_ms(const ingest *g, const ledger_head *head)
{
    return g->now_ms > head->time_ms ? g->now_ms : head->time_ms;
}

/* Every record of a commit leaves the meta head to commit_fn, which writes it once; verified: a
 * BUNDLE whose signatures the hub checked (ledger_append_verified). */
static rl_err append(MDB_txn *txn, ingest *g, uint8_t type, const uint8_t *payload, size_t len,
                     const struct item *known_from, ledger_head *head, size_t item, bool verified, rl_why *why)
{
    ledger_known known = {.head_later = true, .bundle_verified = verified, .set = verified ? &g->set : NULL};
    if (known_from != NULL) {
        known.event_id = known_from->id;
        known.content = known_from->content;
    }
    record r = {.type = type, .seq = head->seq + 1, .time_ms = stamp_ms(g, head), .payload = payload,
                .payload_len = (uint32_t)len};
    memcpy(r.prev, head->hash, HASH_BYTES);
    size_t n;
    rl_err err = record_encode(&r, g->rec, &n, why);
    if (err == RL_OK)
        err = ledger_append_known(txn, g->s, g->rec, n, &known, head, why);
    switch (err) {
    case RL_OK:
        g->attempt_records++;
        return RL_OK;
    case RL_ERR_CONFLICT:
        if (type == RECORD_ATTEST)
            return err; /* the caller logs the conflict instead */
        /* fall through */
    case RL_ERR_DUPLICATE:
    case RL_ERR_STATE:
    case RL_ERR_OVERFLOW:
    case RL_ERR_DECODE:
    case RL_ERR_FUNDS:
    case RL_ERR_QUORUM:
    case RL_ERR_SIGNER:
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
    const struct item *it = &g->flight.items[i];
    const uint8_t *payload = g->flight.arena + it->off;
    if (it->kind == ITEM_EQUIV) {
        /* E3: once per (event id, member), across restarts too: a pair already logged (or logged
         * earlier in this commit) is dropped without an alert. */
        uint64_t at;
        if (ledger_key_get(txn, g->s, it->id, &at) == RL_OK)
            return RL_OK;
        return append(txn, g, RECORD_EQUIVOCATION, payload, it->len, NULL, head, i, false, why);
    }
    if (it->kind == ITEM_RECORD || it->kind == ITEM_RECORD_VERIFIED)
        return append(txn, g, it->type, payload, it->len, NULL, head, i, it->kind == ITEM_RECORD_VERIFIED, why);
    rl_err err = RL_OK;
    /* An attestation usually just applies. When another event already took its vault sequence
     * number (a re-mined transaction, or a lying quorum) it must never credit: both are logged
     * as a conflict instead. */
    if (it->kind == ITEM_ATTEST &&
        (err = append(txn, g, RECORD_ATTEST, payload, it->len, it, head, i, false, why)) != RL_ERR_CONFLICT)
        return err;

    record view = {.type = RECORD_ATTEST, .seq = 1, .payload = payload, .payload_len = (uint32_t)it->len};
    obs o;
    uint8_t id[HASH_BYTES], owner[HASH_BYTES];
    uint64_t owner_seq;
    event_info ev;
    if ((err = payload_attest_decode(&pc->b, &view, why)) != RL_OK || (err = obs_decode(&o, pc->b.obs, OBS_BYTES, why)) != RL_OK)
        return err;
    if (it->kind == ITEM_ATTEST) {
        if (ledger_vault_seq_get(txn, g->s, o.chain_id, o.vault, o.vault_seq, owner, &owner_seq) != RL_OK ||
            ledger_event_get(txn, g->s, owner, &ev) != RL_OK)
            return rl_fail(why, RL_ERR_DB, "vault sequence owner has no event entry");
        pc->reason = CONFLICT_VAULT_SEQ;
    } else {
        bool logged;
        obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
        if (ledger_event_get(txn, g->s, id, &ev) != RL_OK || ev.status != EVENT_CREDITED)
            return RL_OK; /* conflicted meanwhile: already alerted */
        if ((err = ledger_conflict_logged(txn, g->s, id, &logged)) != RL_OK || logged)
            return err;
        pc->reason = CONFLICT_CONTENT;
    }
    if ((err = credited_variant(txn, g, ev.log_seq, &pc->a, why)) != RL_OK)
        return err;
    pc->credited = 1;
    size_t len;
    err = payload_conflict_encode(pc, g->payload, &len, why);
    if (err != RL_OK)
        return err;
    return append(txn, g, RECORD_CONFLICT, g->payload, len, NULL, head, i, false, why);
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
    for (size_t i = 0; i < g->flight.n && err == RL_OK; i++)
        err = commit_item(txn, g, i, &head, pc, why);
    free(pc);
    if (err == RL_OK)
        err = ledger_head_put(txn, g->s, &head, why);
    g->flight_head = head;
    return err;
}

static void *committer_main(void *arg)
{
    ingest *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (!g->busy && !g->quit)
            pthread_cond_wait(&g->cv, &g->mu);
        if (!g->busy)
            break;
        pthread_mutex_unlock(&g->mu);
        g->flight_why.text[0] = '\0';
        g->flight_err = store_write(g->s, commit_fn, g, &g->flight_why);
        pthread_mutex_lock(&g->mu);
        g->busy = false;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* The generation of the commit in flight, dropped when that commit failed: its events are not
 * settled after all, and their observations must count when they are sent again. */
static void settled_forget_flight(ingest *g)
{
    for (struct generation **at = &g->gens; *at != NULL; at = &(*at)->next) {
        if ((*at)->commit_no == g->commits_done + 1) {
            struct generation *gen = *at;
            *at = gen->next;
            settled_free(g, &gen->set);
            free(gen);
            return;
        }
    }
}

/* Waits for the commit in flight (wait) or only checks whether it is done (!wait), and takes
 * its outcome: the new head, alerts for refused records, the committed callback. A failed
 * commit wrote nothing (LMDB aborts the whole transaction): its records are dropped from memory
 * and their senders resend; the error stops ingest. */
static rl_err commit_finish(ingest *g, bool wait, rl_why *why)
{
    if (!g->in_flight)
        return RL_OK;
    pthread_mutex_lock(&g->mu);
    while (wait && g->busy)
        pthread_cond_wait(&g->cv, &g->mu);
    bool done = !g->busy;
    pthread_mutex_unlock(&g->mu);
    if (!done)
        return RL_OK;
    g->in_flight = false;
    size_t n = g->flight.n;
    g->flight.n = 0;
    g->flight.len = 0;
    if (g->flight_err != RL_OK) {
        settled_forget_flight(g);
        if (why != NULL)
            *why = g->flight_why;
        return g->flight_err;
    }
    g->head = g->flight_head;
    g->commits_done++;
    for (size_t i = 0; i < g->nrefusals; i++) {
        g->st.refused++;
        alert(g, "record refused by the ledger", g->refusals[i].why.text);
    }
    g->st.records += g->attempt_records;
    g->st.commits++;
    if (g->o.committed != NULL)
        g->o.committed(g->o.committed_ctx, &g->head, n);
    return RL_OK;
}

/* Hands the pending records to the committer thread, after the previous commit is done. */
static rl_err commit(ingest *g, uint64_t now_ms, rl_why *why)
{
    rl_err err = commit_finish(g, true, why);
    if (err != RL_OK || g->fill.n == 0)
        return err;
    struct refusal *rf = realloc(g->refusals, g->fill.n * sizeof *rf);
    if (rf == NULL)
        return RL_ERR_NOMEM;
    g->refusals = rf;
    if ((err = settled_commit(g)) != RL_OK)
        return err;
    struct pending t = g->flight;
    g->flight = g->fill;
    g->fill = t;
    g->last_commit_n = g->flight.n;
    g->now_ms = now_ms;
    g->in_flight = true;
    pthread_mutex_lock(&g->mu);
    g->busy = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    return RL_OK;
}

/* A commit, durable on return. */
static rl_err commit_sync(ingest *g, uint64_t now_ms, rl_why *why)
{
    rl_err err = commit(g, now_ms, why);
    return err != RL_OK ? err : commit_finish(g, true, why);
}

static bool commit_due(const ingest *g, uint64_t now_ms)
{
    if (g->fill.n == 0)
        return false;
    if (g->fill.n >= g->o.commit_max_records)
        return true;
    uint64_t waited = now_ms - g->fill.first_ms;
    /* Under load the batch grows only while records keep coming: senders whose windows are full
     * wait for this commit's acknowledgements, and a pause of commit_max_delay_ms ends the wait. */
    if (g->o.commit_load_records > 0 && g->last_commit_n >= g->o.commit_load_records)
        return g->fill.n >= 2 * g->last_commit_n || waited >= g->o.commit_load_delay_ms ||
               now_ms - g->fill.last_ms >= g->o.commit_max_delay_ms;
    return waited >= g->o.commit_max_delay_ms;
}

/* ---- batches ---- */

static rl_err hold(ingest *g, const signed_obs *so, uint64_t batch, const struct cand *c)
{
    if (!vec_reserve((void **)&g->held, &g->cap_held, g->nheld + 1, sizeof *g->held, 256))
        return RL_ERR_NOMEM;
    struct held *h = &g->held[g->nheld++];
    h->so = *so;
    h->batch = batch;
    memcpy(h->id, c->id, HASH_BYTES);
    memcpy(h->content, c->content, HASH_BYTES);
    g->st.held++;
    return RL_OK;
}

static void inflight_clear(ingest *g)
{
    HASH_CLEAR(hh, g->inflight);
    g->inflight_used = 0;
}

/* The batch's entry for the event of o, created on first sight with what memory and the
 * ledger know. */
static rl_err inflight_get(ingest *g, MDB_txn *txn, const obs *o, struct inflight **out)
{
    uint8_t where[INFLIGHT_KEY_BYTES];
    be64_put(where, o->chain_id);
    memcpy(where + 8, o->tx_hash, HASH_BYTES);
    be32_put(where + 8 + HASH_BYTES, o->log_index);
    struct inflight *f = NULL;
    HASH_FIND(hh, g->inflight, where, sizeof where, f);
    if (f != NULL) {
        *out = f;
        return RL_OK;
    }
    f = &g->inflight_slab[g->inflight_used++]; /* at most one entry per observation */
    memset(f, 0, sizeof *f);
    memcpy(f->where, where, sizeof where);
    obs_event_id(f->id, o->chain_id, o->tx_hash, o->log_index);
    struct settled *s = settled_find(g, f->id);
    event_info ev;
    bool logged = false;
    rl_err err = RL_OK;
    if (s != NULL) {
        f->state = s->credited ? KNOWN_CREDITED : KNOWN_CLOSED;
        memcpy(f->settled_content, s->content, HASH_BYTES);
    } else if (ledger_event_get(txn, g->s, f->id, &ev) == RL_OK) {
        err = ledger_conflict_logged(txn, g->s, f->id, &logged);
        f->state = ev.status == EVENT_CREDITED && !logged ? KNOWN_CREDITED : KNOWN_CLOSED;
        memcpy(f->settled_content, ev.content, HASH_BYTES);
    }
    HASH_ADD(hh, g->inflight, where, sizeof where, f);
    *out = f;
    return err;
}

/* The content hash of an observation of f's event, computed once per distinct byte string. */
static void inflight_content(struct inflight *f, const uint8_t bytes[OBS_BYTES], uint8_t out[HASH_BYTES])
{
    if (f->memo && memcmp(f->memo_obs, bytes, OBS_BYTES) == 0) {
        memcpy(out, f->memo_content, HASH_BYTES);
        return;
    }
    obs_content_hash(out, bytes);
    if (!f->memo) {
        memcpy(f->memo_obs, bytes, OBS_BYTES);
        memcpy(f->memo_content, out, HASH_BYTES);
        f->memo = true;
    }
}

/* Stage 1: decode, look up, drop what needs no work, hold what is not needed yet, and queue
 * the rest's signatures for verification. */
static rl_err prefilter(ingest *g, struct batch *b, const signed_obs *in, size_t n, rl_why *why)
{
    MDB_txn *txn;
    rl_err err = store_read_begin(g->s, &txn, why);
    if (err != RL_OK)
        return err;
    b->seen_commits = g->commits_done;
    b->no = ++g->batches_prefiltered;
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
        struct inflight *f;
        if ((err = inflight_get(g, txn, &o, &f)) != RL_OK)
            break;
        memcpy(c->id, f->id, HASH_BYTES);
        inflight_content(f, so->bytes, c->content);
        /* Settled events are skipped before the signer check: after a rotation, a resent
         * observation from a retired member of an event it helped settle is harmless. */
        bool same_as_settled = memcmp(f->settled_content, c->content, HASH_BYTES) == 0;
        if (f->state == KNOWN_CLOSED || (f->state == KNOWN_CREDITED && same_as_settled)) {
            g->st.settled++;
            continue;
        }
        const relset_member *m = relset_find(&g->set, so->member);
        if (m == NULL) {
            g->st.unknown_signer++;
            snprintf(w.text, sizeof w.text, "member %u is not in relayer set version %u", so->member, g->set.version);
            alert(g, "observation from unknown signer", w.text);
            continue;
        }
        c->late = f->state == KNOWN_CREDITED;
        if (!c->late) {
            /* Enough signatures of this content are pending or being verified: hold this one. */
            if (f->count == 0)
                memcpy(f->content, c->content, HASH_BYTES);
            bool same = memcmp(f->content, c->content, HASH_BYTES) == 0;
            if (same && quorum_signers(g->q, c->id, c->content) + f->count >= g->set.threshold) {
                err = hold(g, so, b->no, c);
                continue;
            }
            /* A member counted already, or whose latest signature is of this content, adds
             * nothing (a resend, or an equivocator back on its first content): counting it twice
             * would hold back a signature the quorum needs until the next run. */
            uint64_t bit = UINT64_C(1) << (m - g->set.members);
            if (same && !(f->counted & bit) && !quorum_signed(g->q, c->id, c->content, so->member)) {
                f->counted |= bit;
                f->count++;
            }
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
        if (g->fill.n >= g->o.commit_max_records) {
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
        /* The prefilter may have run before this event settled: look again. */
        struct settled *s = settled_find(g, c->id);
        if (s != NULL) {
            if (!s->credited || memcmp(s->content, c->content, HASH_BYTES) == 0) {
                g->st.settled++;
                continue;
            }
            c->late = true;
        }
        /* E1, E2: a member's latest signature counts; the first content to reach a quorum is
         * credited, and a quorum of another content after it is the late conflict. */
        err = quorum_add(g->q, &c->so, c->id, c->content, c->late, now_ms, res);
        if (err != RL_OK)
            return err;
        g->st.pending_over_budget += res->over_budget;
        if (res->equivocation) {
            if ((err = payload_equivocation_encode(&res->equiv, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_EQUIV, RECORD_EQUIVOCATION, buf, len, now_ms)) != RL_OK)
                return err;
            payload_equivocation_key(g->fill.items[g->fill.n - 1].id, c->id, c->so.member);
            g->st.equivocations++;
        }
        switch (res->status) {
        case QUORUM_PENDING:
            break;
        case QUORUM_DUPLICATE:
            g->st.duplicate++;
            break;
        case QUORUM_ATTESTED:
            if ((err = payload_attest_encode(&res->attest, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_ATTEST, RECORD_ATTEST, buf, len, now_ms)) != RL_OK ||
                (err = settled_mark(g, c->id, c->content, true)) != RL_OK)
                return err;
            memcpy(g->fill.items[g->fill.n - 1].id, c->id, HASH_BYTES);
            memcpy(g->fill.items[g->fill.n - 1].content, c->content, HASH_BYTES);
            g->st.attested++;
            break;
        case QUORUM_CONFLICT:
            if ((err = payload_attest_encode(&res->attest, buf, &len, NULL)) != RL_OK ||
                (err = item_push(g, ITEM_LATE, RECORD_ATTEST, buf, len, now_ms)) != RL_OK ||
                (err = settled_mark(g, c->id, c->content, false)) != RL_OK)
                return err;
            g->st.conflicts++;
            break;
        }
    }
    return RL_OK;
}

static struct batch *free_batch(ingest *g)
{
    for (int i = 0; i < 3; i++)
        if (&g->buf[i] != g->ready && &g->buf[i] != g->verifying && &g->buf[i] != g->verified)
            return &g->buf[i];
    return NULL; /* unreachable: a step takes a free buffer only after moving `ready` on */
}

/* One turn of the pipeline. The pool verifies the ready batch while this thread prefilters
 * the next slice (if any), aggregates the batch verified last turn and commits what is due.
 * A batch is prefiltered two turns before it is aggregated, so it may verify a signature that
 * turns out not to be needed; aggregate looks again at everything it depends on, so that costs
 * time, never correctness. */
static rl_err step(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why)
{
    g->verifying = g->ready;
    g->ready = NULL;
    if (g->verifying != NULL)
        pool_start(g->pool, verify_jobs_fn, g->verifying->jobs, g->verifying->n, VERIFY_CHUNK);
    rl_err err = RL_OK;
    if (in != NULL) {
        struct batch *b = free_batch(g);
        err = prefilter(g, b, in, n, why);
        if (err == RL_OK)
            g->ready = b;
    }
    if (err == RL_OK && g->verified != NULL) {
        err = aggregate(g, g->verified, now_ms, why);
        g->batches_aggregated = g->verified->no;
        g->verified = NULL;
    }
    if (err == RL_OK && commit_due(g, now_ms))
        err = commit(g, now_ms, why);
    if (g->verifying != NULL) {
        pool_wait(g->pool);
        g->verified = g->verifying;
        g->verifying = NULL;
    }
    if (err == RL_OK)
        err = commit_finish(g, false, why);
    settled_prune(g);
    return err;
}

/* Feeds `in` through the pipeline in verify-batch slices. */
static rl_err run_slices(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why)
{
    rl_err err = RL_OK;
    for (size_t off = 0; off < n && err == RL_OK; off += g->o.verify_batch) {
        size_t take = n - off < g->o.verify_batch ? n - off : g->o.verify_batch;
        err = step(g, in + off, take, now_ms, why);
    }
    return err;
}

/* Whether a held observation needs no more work: its event is settled in memory, in conflict or
 * with the same content (what the prefilter would find, without decoding and hashing again). */
static bool held_settled(ingest *g, const struct held *h)
{
    const struct settled *s = settled_find(g, h->id);
    return s != NULL && (!s->credited || memcmp(s->content, h->content, HASH_BYTES) == 0);
}

/* Takes the held observations whose batch has been aggregated out of the held list; those whose
 * event settled meanwhile are counted and dropped. */
static rl_err take_eligible(ingest *g, signed_obs **out, size_t *n)
{
    size_t keep = 0, k = 0;
    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < g->nheld; i++)
        k += g->held[i].batch <= g->batches_aggregated;
    if (k == 0)
        return RL_OK;
    signed_obs *e = malloc(k * sizeof *e);
    if (e == NULL)
        return RL_ERR_NOMEM;
    k = 0;
    for (size_t i = 0; i < g->nheld; i++) {
        if (g->held[i].batch > g->batches_aggregated)
            g->held[keep++] = g->held[i];
        else if (held_settled(g, &g->held[i]))
            g->st.settled++;
        else
            e[k++] = g->held[i].so;
    }
    g->nheld = keep;
    *out = e;
    *n = k;
    return RL_OK;
}

/* Runs the eligible held observations, then `in`. The last slices stay in the pipeline
 * (prefiltered, or verified and not aggregated) so the next call keeps the pool busy; drain()
 * finishes them. */
static rl_err run(ingest *g, const signed_obs *in, size_t n, uint64_t now_ms, rl_why *why)
{
    signed_obs *eligible;
    size_t ne;
    rl_err err = take_eligible(g, &eligible, &ne);
    if (err == RL_OK)
        err = run_slices(g, eligible, ne, now_ms, why);
    free(eligible);
    if (err == RL_OK)
        err = run_slices(g, in, n, now_ms, why);
    if (err != RL_OK)
        g->ready = g->verified = NULL; /* dropped: their senders resend */
    return err;
}

/* Verifies and aggregates the batches still in the pipeline. */
static rl_err drain(ingest *g, uint64_t now_ms, rl_why *why)
{
    rl_err err = RL_OK;
    while (err == RL_OK && (g->ready != NULL || g->verified != NULL))
        err = step(g, NULL, 0, now_ms, why);
    if (err != RL_OK)
        g->ready = g->verified = NULL;
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

static rl_err append_record(ingest *g, uint8_t kind, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms,
                            rl_why *why)
{
    if (type != RECORD_PRICE && type != RECORD_REQUEST && type != RECORD_DECISION && type != RECORD_INSTRUCTION &&
        type != RECORD_BUNDLE && type != RECORD_CHECKPOINT)
        return rl_fail(why, RL_ERR_ARG, "ingest_append: records of type %s are built by ingest itself",
                       record_type_name(type));
    if (len > RECORD_MAX_PAYLOAD)
        return rl_fail(why, RL_ERR_ARG, "ingest_append: payload of %zu bytes", len);
    rl_err err = item_push(g, kind, type, payload, len, now_ms);
    if (err == RL_OK && commit_due(g, now_ms))
        err = commit(g, now_ms, why);
    return err;
}

rl_err ingest_append(ingest *g, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms, rl_why *why)
{
    return append_record(g, ITEM_RECORD, type, payload, len, now_ms, why);
}

rl_err ingest_append_verified(ingest *g, uint8_t type, const uint8_t *payload, size_t len, uint64_t now_ms,
                              rl_why *why)
{
    return append_record(g, ITEM_RECORD_VERIFIED, type, payload, len, now_ms, why);
}

/* One alert per member whose pending signatures were dropped since the last report. */
static void report_drops(ingest *g, uint64_t now_ms)
{
    if (now_ms - g->reported_ms < DROP_REPORT_MS)
        return;
    g->reported_ms = now_ms;
    quorum_member_stats m;
    char text[160];
    for (unsigned pos = 0; quorum_member_at(g->q, pos, &m); pos++) {
        uint64_t over = m.over_budget - g->reported_over[pos], exp = m.expired - g->reported_expired[pos];
        if (over == 0 && exp == 0)
            continue;
        snprintf(text, sizeof text, "member=%u over_budget=%llu expired=%llu pending=%zu budget=%zu", m.member,
                 (unsigned long long)over, (unsigned long long)exp, m.pending, g->o.pending_per_member);
        alert(g, "pending observations dropped", text);
        g->reported_over[pos] = m.over_budget;
        g->reported_expired[pos] = m.expired;
    }
}

rl_err ingest_tick(ingest *g, uint64_t now_ms, rl_why *why)
{
    g->st.pending_expired += quorum_expire(g->q, now_ms);
    report_drops(g, now_ms);
    /* Held observations whose batch is aggregated are looked at again, most to be dropped: one
     * held against a content that lost a signer to an equivocation (E2) is needed now, and
     * its sender may have nothing more to send. */
    rl_err err = g->nheld > 0 ? run(g, NULL, 0, now_ms, why) : RL_OK;
    if (err == RL_OK)
        err = drain(g, now_ms, why);
    if (err == RL_OK && commit_due(g, now_ms))
        err = commit(g, now_ms, why);
    return err != RL_OK ? err : commit_finish(g, true, why);
}

rl_err ingest_flush(ingest *g, uint64_t now_ms, rl_why *why)
{
    rl_err derr = drain(g, now_ms, why);
    if (derr != RL_OK)
        return derr;
    /* Each round verifies or drops at least one held observation, so this ends. */
    while (g->nheld > 0) {
        size_t before = g->nheld;
        rl_err err = run(g, NULL, 0, now_ms, why);
        if (err == RL_OK)
            err = drain(g, now_ms, why);
        if (err != RL_OK)
            return err;
        if (g->nheld >= before)
            break;
    }
    return commit_sync(g, now_ms, why);
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
    if (g->o.pending_per_member == 0)
        g->o.pending_per_member = QUORUM_DEFAULT_PER_MEMBER;
    if (g->o.pending_ttl_ms == 0)
        g->o.pending_ttl_ms = QUORUM_DEFAULT_TTL_MS;
    if (g->o.commit_load_records > 0 && g->o.commit_load_delay_ms == 0)
        g->o.commit_load_delay_ms = INGEST_HUB_LOAD_DELAY_MS;
    hashidx_init(&g->settled_idx);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->committer, NULL, committer_main, g) != 0) {
        err = rl_fail(why, RL_ERR_NOMEM, "cannot start the committer thread");
        goto fail;
    }
    g->committer_up = true;
    bool ok = (g->res = malloc(sizeof *g->res)) != NULL &&
              (g->inflight_slab = calloc(g->o.verify_batch, sizeof *g->inflight_slab)) != NULL;
    for (int i = 0; i < 3; i++) {
        g->buf[i].cands = calloc(g->o.verify_batch, sizeof *g->buf[i].cands);
        g->buf[i].jobs = calloc(g->o.verify_batch, sizeof *g->buf[i].jobs);
        ok = ok && g->buf[i].cands != NULL && g->buf[i].jobs != NULL;
    }
    if (!ok) {
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
    quorum_limit(g->q, g->o.pending_per_member, g->o.pending_ttl_ms);
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
    if (g->committer_up) {
        (void)commit_finish(g, true, NULL); /* a commit in flight completes; pending ones drop */
        pthread_mutex_lock(&g->mu);
        g->quit = true;
        pthread_cond_broadcast(&g->cv);
        pthread_mutex_unlock(&g->mu);
        pthread_join(g->committer, NULL);
    }
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    quorum_free(g->q);
    settled_free(g, &g->settled);
    while (g->gens != NULL) {
        struct generation *gen = g->gens;
        g->gens = gen->next;
        settled_free(g, &gen->set);
        free(gen);
    }
    hashidx_fini(&g->settled_idx);
    inflight_clear(g);
    free(g->fill.items);
    free(g->fill.arena);
    free(g->flight.items);
    free(g->flight.arena);
    free(g->held);
    for (int i = 0; i < 3; i++) {
        free(g->buf[i].cands);
        free(g->buf[i].jobs);
    }
    free(g->res);
    free(g->inflight_slab);
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
    record r = {.type = RECORD_SET, .seq = head.seq + 1, .time_ms = stamp_ms(g, &head), .payload = g->payload,
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
    if (err == RL_OK) {
        quorum_reset(g->q, &g->set);
        memset(g->reported_over, 0, sizeof g->reported_over);
        memset(g->reported_expired, 0, sizeof g->reported_expired);
    }
    return err;
}

const ingest_stats *ingest_get_stats(const ingest *g) { return &g->st; }
const relset *ingest_set(const ingest *g) { return &g->set; }
const ledger_head *ingest_head(const ingest *g) { return &g->head; }
size_t ingest_pending_events(const ingest *g) { return quorum_pending(g->q); }
