/*
 * hubckpt.c - collecting checkpoint signatures with a bound and an expiry (hubckpt.h).
 */
#include "relayer/hubckpt.h"

#include <stdlib.h>
#include <string.h>

struct slot {
    bool used;
    checkpoint c;
    uint8_t sig[ED25519_SIG_BYTES];
    uint64_t at_ms;
};

struct hubckpt {
    uint32_t set_version; /* of the heads held; 0: none yet */
    uint64_t logged;      /* the seq of the latest logged checkpoint */
    /* slots[i]: heads signed by the set's i-th member (fixed size: nothing a peer sends grows it) */
    struct slot slots[RELSET_MAX_MEMBERS][HUBCKPT_PER_MEMBER];
};

rl_err hubckpt_new(hubckpt **out, uint64_t logged_seq)
{
    hubckpt *k = calloc(1, sizeof *k);
    if (k == NULL)
        return RL_ERR_NOMEM;
    k->logged = logged_seq;
    *out = k;
    return RL_OK;
}

void hubckpt_free(hubckpt *k) { free(k); }
uint64_t hubckpt_logged_seq(const hubckpt *k) { return k->logged; }

size_t hubckpt_held(const hubckpt *k)
{
    size_t n = 0;
    for (size_t i = 0; i < RELSET_MAX_MEMBERS; i++)
        for (size_t j = 0; j < HUBCKPT_PER_MEMBER; j++)
            n += k->slots[i][j].used;
    return n;
}

void hubckpt_logged(hubckpt *k, uint64_t seq)
{
    if (seq > k->logged)
        k->logged = seq;
    for (size_t i = 0; i < RELSET_MAX_MEMBERS; i++)
        for (size_t j = 0; j < HUBCKPT_PER_MEMBER; j++)
            if (k->slots[i][j].used && k->slots[i][j].c.seq <= k->logged)
                k->slots[i][j].used = false;
}

static void expire(hubckpt *k, uint64_t now_ms)
{
    for (size_t i = 0; i < RELSET_MAX_MEMBERS; i++)
        for (size_t j = 0; j < HUBCKPT_PER_MEMBER; j++)
            if (k->slots[i][j].used && now_ms - k->slots[i][j].at_ms > HUBCKPT_EXPIRE_MS)
                k->slots[i][j].used = false;
}

/* The member's slot for c's seq, or a free one, or its lowest seq's (evicted). */
static struct slot *slot_for(struct slot *mine, const checkpoint *c)
{
    struct slot *free_slot = NULL, *lowest = &mine[0];
    for (size_t j = 0; j < HUBCKPT_PER_MEMBER; j++) {
        if (mine[j].used && mine[j].c.seq == c->seq)
            return &mine[j];
        if (!mine[j].used && free_slot == NULL)
            free_slot = &mine[j];
        if (mine[j].used && lowest->used && mine[j].c.seq < lowest->c.seq)
            lowest = &mine[j];
    }
    return free_slot != NULL ? free_slot : lowest;
}

static bool same(const checkpoint *a, const checkpoint *b)
{
    return a->seq == b->seq && a->set_version == b->set_version && memcmp(a->head, b->head, HASH_BYTES) == 0;
}

/* Who signed c, in the set's order (ids ascending): the quorum checkpoint. */
static void gather(const hubckpt *k, const relset *set, const checkpoint *c, checkpoint_signed *out)
{
    out->c = *c;
    out->sigs.n = 0;
    for (size_t i = 0; i < set->n; i++)
        for (size_t j = 0; j < HUBCKPT_PER_MEMBER; j++) {
            const struct slot *s = &k->slots[i][j];
            if (s->used && same(&s->c, c)) {
                sig_entry *e = &out->sigs.e[out->sigs.n++];
                e->member = set->members[i].id;
                memcpy(e->sig, s->sig, ED25519_SIG_BYTES);
            }
        }
}

rl_err hubckpt_offer(hubckpt *k, const relset *set, uint64_t head_seq, hubckpt_hash_fn hash_at, void *ctx,
                     uint16_t member, const checkpoint *c, const uint8_t sig[ED25519_SIG_BYTES], uint64_t now_ms,
                     checkpoint_signed *out, bool *ready)
{
    *ready = false;
    if (k->set_version != set->version) { /* a rotation: heads under another set count for nothing */
        memset(k->slots, 0, sizeof k->slots);
        k->set_version = set->version;
    }
    expire(k, now_ms);
    size_t idx = 0;
    while (idx < set->n && set->members[idx].id != member)
        idx++;
    if (idx == set->n)
        return RL_ERR_SIGNER;
    if (c->seq <= k->logged) /* a late signature of a head checkpointed already (or an older one) */
        return RL_ERR_DUPLICATE;
    if (c->set_version != set->version || c->seq > head_seq)
        return RL_ERR_STATE;
    struct slot *s = slot_for(k->slots[idx], c);
    if (s->used && same(&s->c, c) && memcmp(s->sig, sig, ED25519_SIG_BYTES) == 0)
        return RL_ERR_DUPLICATE;
    uint8_t h[HASH_BYTES];
    if (!hash_at(ctx, c->seq, h) || memcmp(h, c->head, HASH_BYTES) != 0)
        return RL_ERR_CHAIN;
    if (!checkpoint_verify_one(c, set->members[idx].pub.ed25519, sig))
        return RL_ERR_SIG;
    *s = (struct slot){.used = true, .c = *c, .at_ms = now_ms};
    memcpy(s->sig, sig, ED25519_SIG_BYTES);
    gather(k, set, c, out);
    *ready = out->sigs.n >= set->threshold;
    return RL_OK;
}
