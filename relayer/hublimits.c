/*
 * hublimits.c - descriptor limit, allow-list uniqueness, the feed list and the catch-up budget
 * (hublimits.h).
 */
#include "relayer/hublimits.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

void hublimits_raise_nofile(uint64_t *soft, uint64_t *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        *soft = *hard = 0;
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl = want;
    }
    *soft = (uint64_t)rl.rlim_cur;
    *hard = (uint64_t)rl.rlim_max;
}

rl_err hublimits_allow_unique(const char *config, const char *role, const cfg_list *files, const node_pub *pubs,
                              size_t n, rl_why *why)
{
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < i; k++) {
            bool same_name = strcmp(pubs[i].name, pubs[k].name) == 0;
            if (same_name || memcmp(pubs[i].x25519, pubs[k].x25519, X25519_PK_BYTES) == 0)
                return rl_fail(why, RL_ERR_ARG, "%s: [allow] %s: %s and %s hold the same %s%s%s", config, role,
                               files->item[k], files->item[i], same_name ? "name '" : "key",
                               same_name ? pubs[i].name : "", same_name ? "'" : "");
        }
    }
    return RL_OK;
}

/* Adds name to out unless there; false when it does not fit. */
static bool add_feed(char (*out)[PRICE_FEED_BYTES + 1], size_t max, size_t *n, const char *name, size_t len)
{
    if (len > PRICE_FEED_BYTES)
        return false;
    for (size_t i = 0; i < *n; i++)
        if (strlen(out[i]) == len && memcmp(out[i], name, len) == 0)
            return true;
    if (*n == max)
        return false;
    memcpy(out[*n], name, len);
    out[(*n)++][len] = '\0';
    return true;
}

rl_err hublimits_feeds(const char *config, const char *list, const mg_risk *risk, char (*out)[PRICE_FEED_BYTES + 1],
                       size_t max, size_t *n, rl_why *why)
{
    *n = 0;
    for (const char *p = list + strspn(list, " ,"); *p != '\0'; p += strspn(p, " ,")) {
        size_t len = strcspn(p, " ,");
        if (!add_feed(out, max, n, p, len))
            return rl_fail(why, RL_ERR_ARG, "%s: [prices] feeds: '%.*s' is longer than %d bytes or past %zu feeds",
                           config, (int)(len > 64 ? 64 : len), p, PRICE_FEED_BYTES, max);
        p += len;
    }
    for (size_t i = 0; risk != NULL && i < risk->book.nassets + risk->book.nmarkets; i++) {
        const char *name = i < risk->book.nassets ? risk->asset_feed[i] : risk->market_feed[i - risk->book.nassets];
        if (!add_feed(out, max, n, name, strlen(name)))
            return rl_fail(why, RL_ERR_ARG, "%s: the risk file's feed '%s' makes more than %zu feeds", config, name,
                           max);
    }
    return RL_OK;
}

bool hublimits_rate_take(hublimits_rate *r, const char *name, uint64_t now_ms)
{
    uint64_t second = now_ms / 1000;
    size_t i;
    for (i = 0; i < r->n && strcmp(r->key[i].name, name) != 0; i++)
        ;
    if (i == r->n) {
        if (r->n == CFG_LIST_MAX) { /* more names than an allow-list holds: cannot come from ZAP */
            r->refused++;
            return false;
        }
        snprintf(r->key[r->n++].name, sizeof r->key[0].name, "%s", name);
        r->key[i].second = second;
        r->key[i].used = 0;
    }
    if (r->key[i].second != second) {
        r->key[i].second = second;
        r->key[i].used = 0;
    }
    if (r->key[i].used >= r->per_second) {
        r->refused++;
        return false;
    }
    r->key[i].used++;
    return true;
}
