/*
 * quorum.c - per-event signature grouping (uthash tables keyed by event id).
 */
#include "attest/quorum.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

/* One content seen for an event, with the members who signed it in arrival order. */
struct variant {
    uint8_t content[HASH_BYTES];
    uint8_t obs[OBS_BYTES];
    uint64_t signed_mask; /* bit i: member at position i of the set signed (RELSET_MAX_MEMBERS <= 64) */
    uint8_t n;
    sig_entry *sigs;      /* grows to at most threshold entries */
};

struct group {
    uint8_t event_id[HASH_BYTES];
    struct variant first; /* only one variant is ever kept: a second one is a conflict */
    UT_hash_handle hh;
};

struct quorum {
    const relset *set;
    struct group *groups;
    size_t count;
};

_Static_assert(RELSET_MAX_MEMBERS <= 64, "signed_mask holds one bit per member");

rl_err quorum_new(quorum **out, const relset *set)
{
    quorum *q = calloc(1, sizeof *q);
    if (q == NULL)
        return RL_ERR_NOMEM;
    q->set = set;
    *out = q;
    return RL_OK;
}

static void group_free(struct group *g)
{
    free(g->first.sigs);
    free(g);
}

static void clear(quorum *q)
{
    struct group *g, *tmp;
    HASH_ITER(hh, q->groups, g, tmp) {
        HASH_DEL(q->groups, g);
        group_free(g);
    }
    q->count = 0;
}

void quorum_free(quorum *q)
{
    if (q == NULL)
        return;
    clear(q);
    free(q);
}

void quorum_reset(quorum *q, const relset *set)
{
    clear(q);
    q->set = set;
}

size_t quorum_pending(const quorum *q)
{
    return q->count;
}

unsigned quorum_signers(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES])
{
    struct group *g = NULL;
    HASH_FIND(hh, q->groups, event_id, HASH_BYTES, g);
    if (g == NULL || memcmp(g->first.content, content, HASH_BYTES) != 0)
        return 0;
    return g->first.n;
}

static int by_member(const void *a, const void *b)
{
    const sig_entry *x = a, *y = b;
    return (int)x->member - (int)y->member;
}

/* Signature list in canonical (ascending member) order. */
static void variant_export(signed_variant *out, const struct variant *v)
{
    memcpy(out->obs, v->obs, OBS_BYTES);
    out->sigs.n = v->n;
    memcpy(out->sigs.e, v->sigs, v->n * sizeof(sig_entry));
    qsort(out->sigs.e, out->sigs.n, sizeof(sig_entry), by_member);
}

static void settle(quorum *q, struct group *g)
{
    HASH_DEL(q->groups, g);
    group_free(g);
    q->count--;
}

rl_err quorum_add(quorum *q, const signed_obs *so, const uint8_t event_id[HASH_BYTES],
                  const uint8_t content[HASH_BYTES], quorum_result *res)
{
    const relset_member *m = relset_find(q->set, so->member);
    if (m == NULL)
        return RL_ERR_SIGNER;
    uint64_t bit = UINT64_C(1) << (m - q->set->members);
    memcpy(res->event_id, event_id, HASH_BYTES);

    struct group *g = NULL;
    HASH_FIND(hh, q->groups, event_id, HASH_BYTES, g);
    if (g == NULL) {
        g = calloc(1, sizeof *g);
        if (g == NULL)
            return RL_ERR_NOMEM;
        g->first.sigs = malloc(q->set->threshold * sizeof(sig_entry));
        if (g->first.sigs == NULL) {
            free(g);
            return RL_ERR_NOMEM;
        }
        memcpy(g->event_id, event_id, HASH_BYTES);
        memcpy(g->first.content, content, HASH_BYTES);
        memcpy(g->first.obs, so->bytes, OBS_BYTES);
        HASH_ADD(hh, q->groups, event_id, HASH_BYTES, g);
        q->count++;
    } else if (memcmp(g->first.content, content, HASH_BYTES) != 0) {
        res->status = QUORUM_CONFLICT;
        res->conflict.reason = CONFLICT_CONTENT;
        res->conflict.credited = 0;
        variant_export(&res->conflict.a, &g->first);
        memcpy(res->conflict.b.obs, so->bytes, OBS_BYTES);
        res->conflict.b.sigs.n = 1;
        res->conflict.b.sigs.e[0].member = so->member;
        memcpy(res->conflict.b.sigs.e[0].sig, so->sig, ED25519_SIG_BYTES);
        settle(q, g);
        return RL_OK;
    } else if (g->first.signed_mask & bit) {
        res->status = QUORUM_DUPLICATE;
        return RL_OK;
    }

    struct variant *v = &g->first;
    v->signed_mask |= bit;
    v->sigs[v->n].member = so->member;
    memcpy(v->sigs[v->n].sig, so->sig, ED25519_SIG_BYTES);
    v->n++;
    if (v->n < q->set->threshold) {
        res->status = QUORUM_PENDING;
        return RL_OK;
    }
    res->status = QUORUM_ATTESTED;
    variant_export(&res->attest, v);
    settle(q, g);
    return RL_OK;
}
