/*
 * hubprice.c - latest observations per feed and member, and PRICE records when due (hubprice.h).
 */
#include "relayer/hubprice.h"

#include <stdlib.h>
#include <string.h>


struct latest {
    uint16_t member;
    uint8_t signer[ED25519_PK_BYTES]; /* the member's key when it signed */
    price_obs o;
    signed_price sp;
};

struct feed {
    char name[PRICE_FEED_BYTES + 1];
    struct latest m[RELSET_MAX_MEMBERS]; /* by member id, ascending */
    size_t n;
    bool news;
    __int128 logged_median;
    uint64_t logged_ms;
};

struct hubprice {
    hubprice_opts o;
    struct feed *feeds; /* the configured feeds, fixed at hubprice_new */
    size_t nfeeds;
};

static struct feed *feed_find(const hubprice *h, const char *name)
{
    for (size_t i = 0; i < h->nfeeds; i++)
        if (strcmp(h->feeds[i].name, name) == 0)
            return &h->feeds[i];
    return NULL;
}

rl_err hubprice_new(hubprice **out, const hubprice_opts *o)
{
    hubprice *h = calloc(1, sizeof *h);
    if (h == NULL || (o->nfeeds > 0 && (h->feeds = calloc(o->nfeeds, sizeof *h->feeds)) == NULL)) {
        free(h);
        return RL_ERR_NOMEM;
    }
    h->o = *o;
    h->o.feeds = NULL; /* borrowed: copied into the table below */
    for (size_t i = 0; i < o->nfeeds; i++)
        if (feed_find(h, o->feeds[i]) == NULL)
            memcpy(h->feeds[h->nfeeds++].name, o->feeds[i], sizeof h->feeds[0].name);
    *out = h;
    return RL_OK;
}

size_t hubprice_feeds(const hubprice *h) { return h->nfeeds; }

bool hubprice_takes(const hubprice *h, const signed_price *sp)
{
    price_obs o;
    return price_decode(&o, sp->bytes, PRICE_OBS_BYTES, NULL) == RL_OK && feed_find(h, o.feed) != NULL;
}

void hubprice_free(hubprice *h)
{
    if (h == NULL)
        return;
    free(h->feeds);
    free(h);
}

rl_err hubprice_offer(hubprice *h, const signed_price *sp, const uint8_t signer[ED25519_PK_BYTES], uint64_t now_ms,
                      rl_why *why)
{
    price_obs o;
    rl_err err = price_decode(&o, sp->bytes, PRICE_OBS_BYTES, why);
    if (err != RL_OK)
        return err;
    if (o.time_ms > now_ms + PRICE_MAX_SKEW_MS)
        return rl_fail(why, RL_ERR_STATE, "price of %s from member %u is dated %llu ms ahead", o.feed, sp->member,
                       (unsigned long long)(o.time_ms - now_ms));
    struct feed *f = feed_find(h, o.feed);
    if (f == NULL)
        return rl_fail(why, RL_ERR_ARG, "feed %s is not one the hub's config names", o.feed);
    size_t i = 0;
    while (i < f->n && f->m[i].member < sp->member)
        i++;
    if (i < f->n && f->m[i].member == sp->member) {
        if (o.time_ms <= f->m[i].o.time_ms)
            return RL_OK; /* not newer */
    } else {
        if (f->n == RELSET_MAX_MEMBERS)
            return rl_fail(why, RL_ERR_STATE, "price of %s: more than %d members", o.feed, RELSET_MAX_MEMBERS);
        memmove(&f->m[i + 1], &f->m[i], (f->n - i) * sizeof f->m[0]);
        f->n++;
    }
    f->m[i] = (struct latest){.member = sp->member, .o = o, .sp = *sp};
    memcpy(f->m[i].signer, signer, ED25519_PK_BYTES);
    f->news = true;
    return RL_OK;
}

static int cmp_i128(const void *a, const void *b)
{
    __int128 x = *(const __int128 *)a, y = *(const __int128 *)b;
    return x < y ? -1 : x > y;
}

/* An observation that counts now: fresh, and signed by a member of the set in force with the key
 * it holds there (a rotation out, or to another key, retires what was signed before). */
static bool usable(const hubprice *h, const struct latest *l, const relset *set, uint64_t now_ms)
{
    const relset_member *m = relset_find(set, l->member);
    return l->o.time_ms + h->o.max_age_ms >= now_ms && m != NULL &&
           memcmp(m->pub.ed25519, l->signer, ED25519_PK_BYTES) == 0;
}

/* The observations of f that would make a good record now, into out; false when none would. */
static bool pick(const hubprice *h, const struct feed *f, const relset *set, uint64_t now_ms, payload_price *out,
                 __int128 *median)
{
    uint16_t threshold = set->threshold;
    __int128 v[RELSET_MAX_MEMBERS];
    size_t nv = 0;
    for (size_t i = 0; i < f->n; i++)
        if (usable(h, &f->m[i], set, now_ms))
            v[nv++] = f->m[i].o.price_e18;
    if (nv == 0 || nv < threshold)
        return false;
    qsort(v, nv, sizeof v[0], cmp_i128);
    __int128 med = v[(nv - 1) / 2];
    price_obs kept[RELSET_MAX_MEMBERS];
    out->n = 0;
    memcpy(out->feed, f->name, sizeof out->feed);
    for (size_t i = 0; i < f->n; i++) {
        const struct latest *l = &f->m[i];
        if (!usable(h, l, set, now_ms) || !price_within(l->o.price_e18, med, h->o.max_dev_e18))
            continue;
        kept[out->n] = l->o;
        out->e[out->n++] = l->sp;
    }
    price_rule rule = {.threshold = threshold, .max_dev_e18 = h->o.max_dev_e18, .max_age_ms = h->o.max_age_ms};
    uint64_t oldest;
    return out->n > 0 && price_aggregate(kept, out->n, &rule, now_ms, median, &oldest, NULL) == RL_OK;
}

bool hubprice_due(hubprice *h, const relset *set, uint64_t now_ms, payload_price *out)
{
    for (size_t i = 0; i < h->nfeeds; i++) {
        struct feed *f = &h->feeds[i];
        bool beat = f->logged_ms + h->o.heartbeat_ms <= now_ms;
        if (!f->news)
            continue;
        __int128 median;
        bool ok = pick(h, f, set, now_ms, out, &median);
        f->news = false;
        if (!ok || (median == f->logged_median && !beat))
            continue;
        f->logged_median = median;
        f->logged_ms = now_ms;
        return true;
    }
    return false;
}
