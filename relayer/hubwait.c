/*
 * hubwait.c - messages awaiting acknowledgement: a hash by (socket, msg_id, route), a list per
 * peer (oldest first, for its bound), and an index from event id or submission key to the
 * entries that wait for it (uthash, utlist).
 */
#include "relayer/hubwait.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

#include "attest/decision.h"
#include "attest/obs.h"
#include "attest/record.h"
#include "attest/request.h"
#include "attest/vec.h"
#include "attest/keys.h"

struct hubwait_peer {
    char name[NODE_NAME_MAX + 1];
    struct waiting *list; /* oldest first */
    size_t n;
    UT_hash_handle hh;
};

/* The entries waiting for one id. Few: one message per sender holds an event. */
struct idref {
    uint8_t id[HASH_BYTES];
    struct waiting **v; /* borrowed */
    size_t n, cap;
    UT_hash_handle hh;
};

struct hubwait {
    size_t per_peer;
    hubwait_ops ops;
    struct waiting *by_key;
    struct hubwait_peer *peers;
    struct idref *index;
    struct waiting *fresh;   /* added, not looked up yet (newest first: order does not matter) */
    struct waiting *submits; /* oldest first, for the timeout */
    hubwait_stats st;
};

rl_err hubwait_new(hubwait **out, size_t per_peer, const hubwait_ops *ops)
{
    hubwait *w = calloc(1, sizeof *w);
    if (w == NULL)
        return RL_ERR_NOMEM;
    w->per_peer = per_peer > 0 ? per_peer : 1;
    w->ops = *ops;
    *out = w;
    return RL_OK;
}

static void unindex(hubwait *w, struct waiting *m, size_t k)
{
    struct idref *r = NULL;
    m->pending[k / 64] &= ~(UINT64_C(1) << (k % 64));
    m->unsettled--;
    HASH_FIND(hh, w->index, m->ids[k], HASH_BYTES, r);
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i] == m) {
            r->v[i] = r->v[--r->n];
            break;
        }
    if (r->n == 0) {
        HASH_DEL(w->index, r);
        free(r->v);
        free(r);
    }
}

static bool pending_at(const struct waiting *m, size_t k)
{
    return (m->pending[k / 64] >> (k % 64)) & 1;
}

/* Takes m out of every table and frees it. */
static void drop(hubwait *w, struct waiting *m)
{
    for (size_t k = 0; k < m->n && m->unsettled > 0; k++)
        if (pending_at(m, k))
            unindex(w, m, k);
    if (m->fresh) {
        struct waiting **p = &w->fresh;
        while (*p != m)
            p = &(*p)->fresh_next;
        *p = m->fresh_next; /* fresh entries are this round's: a short list */
    }
    if (m->sub_prev != NULL) /* in the submissions' list (utlist: every member has a prev) */
        DL_DELETE2(w->submits, m, sub_prev, sub_next);
    DL_DELETE(m->peer->list, m);
    m->peer->n--;
    HASH_DEL(w->by_key, m);
    w->st.waiting--;
    free(m);
}

void hubwait_free(hubwait *w)
{
    if (w == NULL)
        return;
    struct waiting *m, *mt;
    HASH_ITER(hh, w->by_key, m, mt) {
        HASH_DEL(w->by_key, m);
        free(m);
    }
    struct hubwait_peer *p, *pt;
    HASH_ITER(hh, w->peers, p, pt) {
        HASH_DEL(w->peers, p);
        free(p);
    }
    struct idref *r, *rt;
    HASH_ITER(hh, w->index, r, rt) {
        HASH_DEL(w->index, r);
        free(r->v);
        free(r);
    }
    free(w);
}

struct waiting *hubwait_add(hubwait *w, void *sock, const char *peer, const uint8_t *route, size_t route_len,
                            uint64_t msg_id, uint64_t now_ms)
{
    uint8_t key[sizeof(void *) + 8 + 256];
    if (route_len > 256)
        return NULL; /* ZeroMQ routing ids are at most 255 bytes */
    memcpy(key, &sock, sizeof sock);
    memcpy(key + sizeof sock, &msg_id, 8);
    memcpy(key + sizeof sock + 8, route, route_len);
    size_t key_len = sizeof sock + 8 + route_len;
    struct waiting *m = NULL;
    HASH_FIND(hh, w->by_key, key, key_len, m);
    if (m != NULL)
        return NULL; /* a resend of a message still waiting */
    struct hubwait_peer *p = NULL;
    char name[NODE_NAME_MAX + 1];
    snprintf(name, sizeof name, "%s", peer);
    HASH_FIND_STR(w->peers, name, p);
    if (p == NULL) {
        if ((p = calloc(1, sizeof *p)) == NULL)
            return NULL;
        memcpy(p->name, name, sizeof name);
        HASH_ADD_STR(w->peers, name, p);
    }
    if ((m = calloc(1, sizeof *m)) == NULL)
        return NULL;
    m->sock = sock;
    memcpy(m->route, route, route_len);
    m->route_len = route_len;
    m->msg_id = msg_id;
    m->since_ms = now_ms;
    memcpy(m->key, key, key_len);
    m->key_len = key_len;
    m->peer = p;
    m->fresh = true;
    m->fresh_next = w->fresh;
    w->fresh = m;
    HASH_ADD_KEYPTR(hh, w->by_key, m->key, m->key_len, m);
    DL_APPEND(p->list, m);
    w->st.waiting++;
    if (++p->n > w->per_peer) { /* its oldest: never m, as per_peer >= 1 */
        drop(w, p->list);
        w->st.over_budget++;
    }
    return m;
}

/* Indexes m under id; *again when m is there already (one id twice in a message: a message's
 * ids are pushed one after another, so it would be the last entry). Each entry is under an id
 * once, with one pending bit for it. */
static rl_err idref_push(hubwait *w, const uint8_t id[HASH_BYTES], struct waiting *m, bool *again)
{
    struct idref *r = NULL;
    HASH_FIND(hh, w->index, id, HASH_BYTES, r);
    *again = r != NULL && r->n > 0 && r->v[r->n - 1] == m;
    if (*again)
        return RL_OK;
    if (r == NULL) {
        if ((r = calloc(1, sizeof *r)) == NULL)
            return RL_ERR_NOMEM;
        memcpy(r->id, id, HASH_BYTES);
        HASH_ADD(hh, w->index, id, HASH_BYTES, r);
    }
    if (!vec_reserve((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v, 4))
        return RL_ERR_NOMEM;
    r->v[r->n++] = m;
    return RL_OK;
}

static void answer(hubwait *w, struct waiting *m)
{
    w->ops.answer(w->ops.ctx, m);
    drop(w, m);
}

void hubwait_check_new(hubwait *w, uint64_t now_ms)
{
    struct waiting *m = w->fresh;
    w->fresh = NULL;
    while (m != NULL) {
        struct waiting *next = m->fresh_next;
        m->fresh = false;
        size_t n = m->submit ? 1 : m->n;
        bool nomem = false, again;
        for (size_t k = 0; k < n && !nomem; k++) {
            if (w->ops.settled(w->ops.ctx, m, m->ids[k]))
                continue;
            nomem = idref_push(w, m->ids[k], m, &again) != RL_OK;
            if (!nomem && !again) {
                m->pending[k / 64] |= UINT64_C(1) << (k % 64);
                m->unsettled++;
            }
        }
        if (nomem)
            drop(w, m); /* the sender resends */
        else if (m->unsettled == 0)
            answer(w, m);
        else if (m->submit)
            DL_APPEND2(w->submits, m, sub_prev, sub_next);
        m = next;
    }
    while (w->submits != NULL && now_ms - w->submits->since_ms > HUBWAIT_SUBMIT_TIMEOUT_MS) {
        w->ops.forgot(w->ops.ctx, w->submits);
        w->st.submits_forgot++;
        drop(w, w->submits);
    }
}

void hubwait_nominate(hubwait *w, const uint8_t id[HASH_BYTES])
{
    struct idref *r = NULL;
    HASH_FIND(hh, w->index, id, HASH_BYTES, r);
    /* Each entry is under r once, and looked at once: one that settles leaves r (swapped with
     * the last, which was looked at already), and r goes with its last entry. */
    for (size_t i = r != NULL ? r->n : 0; i-- > 0;) {
        struct waiting *m = r->v[i];
        size_t k = 0;
        while (!(pending_at(m, k) && memcmp(m->ids[k], id, HASH_BYTES) == 0))
            k++;
        if (!w->ops.settled(w->ops.ctx, m, id))
            continue;
        bool last = r->n == 1;
        unindex(w, m, k);
        if (m->unsettled == 0)
            answer(w, m);
        if (last)
            break; /* r is freed */
    }
}

size_t hubwait_record_ids(const uint8_t *rec, size_t len, uint8_t out[2][HASH_BYTES])
{
    record r;
    obs o;
    if (record_decode(&r, rec, len, NULL) != RL_OK)
        return 0;
    switch (r.type) {
    case RECORD_ATTEST: {
        payload_attest p;
        if (payload_attest_decode(&p, &r, NULL) != RL_OK || obs_decode(&o, p.obs, OBS_BYTES, NULL) != RL_OK)
            return 0;
        obs_event_id(out[0], o.chain_id, o.tx_hash, o.log_index);
        return 1;
    }
    case RECORD_CONFLICT: {
        payload_conflict *p = malloc(sizeof *p);
        size_t n = 0;
        if (p != NULL && payload_conflict_decode(p, &r, NULL) == RL_OK) {
            if (obs_decode(&o, p->a.obs, OBS_BYTES, NULL) == RL_OK)
                obs_event_id(out[n++], o.chain_id, o.tx_hash, o.log_index);
            if (obs_decode(&o, p->b.obs, OBS_BYTES, NULL) == RL_OK)
                obs_event_id(out[n++], o.chain_id, o.tx_hash, o.log_index);
        }
        free(p);
        return n;
    }
    case RECORD_REQUEST: {
        request q;
        if (request_decode(&q, r.payload, r.payload_len, NULL) != RL_OK)
            return 0;
        request_key(out[0], q.venue, q.nonce);
        return 1;
    }
    case RECORD_DECISION: {
        decision *d = malloc(sizeof *d);
        size_t n = d != NULL && decision_decode(d, r.payload, r.payload_len, NULL) == RL_OK;
        if (n == 1)
            decision_key(out[0], d);
        free(d);
        return n;
    }
    default:
        return 0;
    }
}

hubwait_stats hubwait_get_stats(const hubwait *w)
{
    return w->st;
}
