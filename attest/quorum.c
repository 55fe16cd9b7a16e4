/*
 * quorum.c - per-event signature grouping (uthash tables keyed by event id).
 *
 * A group holds, per member of the set (by position), its latest signature and which variant
 * (content) it is of; a variant holds its observation bytes and the members whose latest
 * signature it is. Members move between variants, so a variant's count can fall; an emptied one
 * is dropped, which keeps at most one variant per member.
 *
 * Budgets (quorum.h): each member's latest signature of a pending event is a slot, linked in
 * that member's list oldest first (utlist, O(1) to add, move and drop). A member past its budget
 * loses its oldest slot; quorum_expire walks each list from its head while the slots are past
 * the TTL. A group left without any signature is freed.
 */
#include "attest/quorum.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#define NO_VARIANT 0xff

_Static_assert(RELSET_MAX_MEMBERS <= 64, "a variant's mask holds one bit per member");
_Static_assert(RELSET_MAX_MEMBERS < NO_VARIANT, "variant indexes fit a byte");

struct variant {
    uint8_t content[HASH_BYTES];
    uint8_t obs[OBS_BYTES];
    uint64_t mask; /* bit i: the latest signature of the member at position i is of this content */
    uint8_t n;     /* bits set in mask */
};

struct group;

/* A member's latest signature of a pending event, in the member's list (struct quorum.lru). */
struct slot {
    struct slot *prev, *next; /* in lru[position]; prev of the head is the tail (utlist) */
    struct group *g;          /* the group that holds this slot (borrowed) */
    uint64_t at_ms;           /* when the member signed this content, by the caller's clock */
};

struct group {
    uint8_t event_id[HASH_BYTES];
    bool closed;          /* credited already: a quorum here is a late conflict */
    uint64_t equivocated; /* members whose evidence was reported */
    uint8_t nvar, capvar;
    struct variant *vars; /* owned; nvar <= members */
    UT_hash_handle hh;
    struct group *prev, *next; /* closed groups only: in quorum.closed, oldest first */
    /* Per member position: struct slot slots[members]; then sig_entry sig[members]; then
     * uint8_t var[members] (NO_VARIANT: none). A slot is linked while var[pos] != NO_VARIANT. */
    struct slot slots[];
};

struct member_lru {
    struct slot *head; /* oldest first */
    size_t n;
};

struct quorum {
    const relset *set;
    struct group *groups;
    size_t count;
    struct group *closed; /* the closed groups, oldest first (utlist) */
    size_t nclosed;
    size_t per_member; /* slots a member may hold */
    uint64_t ttl_ms;
    struct member_lru lru[RELSET_MAX_MEMBERS]; /* by set position */
    quorum_member_stats stats[RELSET_MAX_MEMBERS];
};

static sig_entry *group_sigs(const quorum *q, struct group *g)
{
    return (sig_entry *)(g->slots + q->set->n);
}

static uint8_t *group_var(const quorum *q, struct group *g)
{
    return (uint8_t *)(group_sigs(q, g) + q->set->n);
}

rl_err quorum_new(quorum **out, const relset *set)
{
    quorum *q = calloc(1, sizeof *q);
    if (q == NULL)
        return RL_ERR_NOMEM;
    q->set = set;
    q->per_member = QUORUM_DEFAULT_PER_MEMBER;
    q->ttl_ms = QUORUM_DEFAULT_TTL_MS;
    *out = q;
    return RL_OK;
}

void quorum_limit(quorum *q, size_t per_member, uint64_t ttl_ms)
{
    q->per_member = per_member > 0 ? per_member : QUORUM_DEFAULT_PER_MEMBER;
    q->ttl_ms = ttl_ms > 0 ? ttl_ms : QUORUM_DEFAULT_TTL_MS;
}

static void group_free(struct group *g)
{
    free(g->vars);
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
    q->closed = NULL;
    q->nclosed = 0;
    memset(q->lru, 0, sizeof q->lru);
    memset(q->stats, 0, sizeof q->stats);
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

static int variant_find(const struct group *g, const uint8_t content[HASH_BYTES])
{
    for (int i = 0; i < g->nvar; i++)
        if (memcmp(g->vars[i].content, content, HASH_BYTES) == 0)
            return i;
    return -1;
}

unsigned quorum_signers(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES])
{
    struct group *g = NULL;
    HASH_FIND(hh, q->groups, event_id, HASH_BYTES, g);
    int v = g != NULL ? variant_find(g, content) : -1;
    return v < 0 ? 0 : g->vars[v].n;
}

bool quorum_signed(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES],
                   uint16_t member)
{
    struct group *g = NULL;
    const relset_member *m = relset_find(q->set, member);
    if (m != NULL)
        HASH_FIND(hh, q->groups, event_id, HASH_BYTES, g);
    int v = g != NULL ? variant_find(g, content) : -1;
    return v >= 0 && (g->vars[v].mask & (UINT64_C(1) << (m - q->set->members))) != 0;
}

/* Signature list in canonical order: set positions ascend with member ids (relset.h). */
static void variant_export(const quorum *q, signed_variant *out, struct group *g, const struct variant *v)
{
    memcpy(out->obs, v->obs, OBS_BYTES);
    out->sigs.n = 0;
    for (unsigned i = 0; i < q->set->n; i++)
        if (v->mask & (UINT64_C(1) << i))
            out->sigs.e[out->sigs.n++] = group_sigs(q, g)[i];
}

static void slot_unlink(quorum *q, struct group *g, unsigned pos)
{
    DL_DELETE(q->lru[pos].head, &g->slots[pos]);
    q->lru[pos].n--;
}

/* Frees g (its signatures leave their members' lists). */
static void settle(quorum *q, struct group *g)
{
    const uint8_t *var = group_var(q, g);
    for (unsigned i = 0; i < q->set->n; i++)
        if (var[i] != NO_VARIANT)
            slot_unlink(q, g, i);
    if (g->closed) {
        DL_DELETE(q->closed, g);
        q->nclosed--;
    }
    HASH_DEL(q->groups, g);
    group_free(g);
    q->count--;
}

/* Marks g closed, dropping the oldest closed group beyond QUORUM_MAX_CLOSED. */
static void close_group(quorum *q, struct group *g)
{
    g->closed = true;
    DL_APPEND(q->closed, g);
    if (++q->nclosed > QUORUM_MAX_CLOSED)
        settle(q, q->closed); /* g is the newest: never the one dropped */
}

static struct group *group_open(quorum *q, const uint8_t event_id[HASH_BYTES])
{
    size_t members = q->set->n;
    struct group *g = calloc(1, sizeof *g + members * (sizeof(struct slot) + sizeof(sig_entry) + 1));
    if (g == NULL)
        return NULL;
    memcpy(g->event_id, event_id, HASH_BYTES);
    memset(group_var(q, g), NO_VARIANT, members);
    HASH_ADD(hh, q->groups, event_id, HASH_BYTES, g);
    q->count++;
    return g;
}

/* Takes member position pos out of variant v; an emptied variant is dropped (the last one
 * moves into its place, and the members of that one follow it). */
static void variant_leave(const quorum *q, struct group *g, uint8_t v, unsigned pos)
{
    uint8_t *var = group_var(q, g);
    g->vars[v].mask &= ~(UINT64_C(1) << pos);
    g->vars[v].n--;
    var[pos] = NO_VARIANT;
    if (g->vars[v].n > 0)
        return;
    uint8_t last = (uint8_t)(g->nvar - 1);
    if (v != last) {
        g->vars[v] = g->vars[last];
        for (unsigned i = 0; i < q->set->n; i++)
            if (var[i] == last)
                var[i] = v;
    }
    g->nvar--;
}

static int variant_new(struct group *g, const uint8_t content[HASH_BYTES], const uint8_t bytes[OBS_BYTES])
{
    if (g->nvar == g->capvar) {
        uint8_t cap = g->capvar ? (uint8_t)(2 * g->capvar) : 1;
        struct variant *v = realloc(g->vars, cap * sizeof *v);
        if (v == NULL)
            return -1;
        g->vars = v;
        g->capvar = cap;
    }
    struct variant *v = &g->vars[g->nvar];
    memcpy(v->content, content, HASH_BYTES);
    memcpy(v->obs, bytes, OBS_BYTES);
    v->mask = 0;
    v->n = 0;
    return g->nvar++;
}

/* Takes the signature at pos out of g; a group left without any is freed. */
static void slot_drop(quorum *q, struct group *g, unsigned pos)
{
    slot_unlink(q, g, pos);
    variant_leave(q, g, group_var(q, g)[pos], pos);
    if (g->nvar == 0)
        settle(q, g);
}

size_t quorum_expire(quorum *q, uint64_t now_ms)
{
    size_t dropped = 0;
    for (unsigned pos = 0; pos < q->set->n; pos++) {
        struct slot *s;
        while ((s = q->lru[pos].head) != NULL && now_ms > s->at_ms && now_ms - s->at_ms >= q->ttl_ms) {
            slot_drop(q, s->g, pos);
            q->stats[pos].expired++;
            dropped++;
        }
    }
    return dropped;
}

bool quorum_member_at(const quorum *q, unsigned pos, quorum_member_stats *out)
{
    if (pos >= q->set->n)
        return false;
    *out = q->stats[pos];
    out->member = q->set->members[pos].id;
    out->pending = q->lru[pos].n;
    return true;
}

rl_err quorum_add(quorum *q, const signed_obs *so, const uint8_t event_id[HASH_BYTES],
                  const uint8_t content[HASH_BYTES], bool closed, uint64_t now_ms, quorum_result *res)
{
    const relset_member *m = relset_find(q->set, so->member);
    if (m == NULL)
        return RL_ERR_SIGNER;
    unsigned pos = (unsigned)(m - q->set->members);
    uint64_t bit = UINT64_C(1) << pos;
    memcpy(res->event_id, event_id, HASH_BYTES);
    res->equivocation = false;
    res->over_budget = 0;

    struct group *g = NULL;
    HASH_FIND(hh, q->groups, event_id, HASH_BYTES, g);
    if (g == NULL && (g = group_open(q, event_id)) == NULL)
        return RL_ERR_NOMEM;
    if (closed && !g->closed)
        close_group(q, g);
    uint8_t *var = group_var(q, g);
    int v = variant_find(g, content);
    if (v >= 0 && var[pos] == v) {
        res->status = QUORUM_DUPLICATE;
        return RL_OK;
    }
    /* The new variant first, so a failure leaves the member where it was: members + 1 variants
     * for a moment, at most members once it has left its old one. */
    if (v < 0 && (v = variant_new(g, content, so->bytes)) < 0)
        return RL_ERR_NOMEM;
    if (var[pos] != NO_VARIANT) {
        /* E2: its latest signature replaces the earlier one; E3: the pair is evidence, once. */
        if (!(g->equivocated & bit)) {
            g->equivocated |= bit;
            res->equivocation = true;
            memcpy(res->equiv.a.bytes, g->vars[var[pos]].obs, OBS_BYTES);
            res->equiv.a.member = so->member;
            memcpy(res->equiv.a.sig, group_sigs(q, g)[pos].sig, ED25519_SIG_BYTES);
            res->equiv.b = *so;
        }
        variant_leave(q, g, var[pos], pos);
        slot_unlink(q, g, pos);
        v = variant_find(g, content); /* it may have moved into the emptied variant's place */
    }
    struct variant *t = &g->vars[v];
    t->mask |= bit;
    t->n++;
    var[pos] = (uint8_t)v;
    group_sigs(q, g)[pos].member = so->member;
    memcpy(group_sigs(q, g)[pos].sig, so->sig, ED25519_SIG_BYTES);
    /* The newest slot of its member: past the budget, that member's oldest goes, never this one
     * (per_member >= 1) and never another member's. */
    g->slots[pos].g = g;
    g->slots[pos].at_ms = now_ms;
    DL_APPEND(q->lru[pos].head, &g->slots[pos]);
    for (q->lru[pos].n++; q->lru[pos].n > q->per_member; res->over_budget++, q->stats[pos].over_budget++)
        slot_drop(q, q->lru[pos].head->g, pos);
    if (t->n < q->set->threshold) {
        res->status = QUORUM_PENDING;
        return RL_OK;
    }
    res->status = g->closed ? QUORUM_CONFLICT : QUORUM_ATTESTED;
    variant_export(q, &res->attest, g, t);
    settle(q, g);
    return RL_OK;
}
