/*
 * accounts.c - the in-memory account store and its exposure index.
 */
#include "collateral/accounts.h"

#include <stdlib.h>
#include <string.h>

rl_err mg_accounts_init(mg_accounts *s, const mg_book *book, size_t accounts, size_t holdings, size_t positions)
{
    memset(s, 0, sizeof *s);
    s->book = book;
    if (accounts >= UINT32_MAX || holdings >= UINT32_MAX || positions >= UINT32_MAX)
        return RL_ERR_ARG;
    s->cap = accounts;
    s->cap_h = holdings;
    s->cap_p = positions;
    s->mode = malloc(accounts ? accounts : 1);
    s->h_off = malloc((accounts + 1) * sizeof *s->h_off);
    s->p_off = malloc((accounts + 1) * sizeof *s->p_off);
    s->h = malloc((holdings ? holdings : 1) * sizeof *s->h);
    s->p = malloc((positions ? positions : 1) * sizeof *s->p);
    s->fig = calloc(accounts ? accounts : 1, sizeof *s->fig);
    if (!s->mode || !s->h_off || !s->p_off || !s->h || !s->p || !s->fig) {
        mg_accounts_fini(s);
        return RL_ERR_NOMEM;
    }
    s->h_off[0] = s->p_off[0] = 0;
    return RL_OK;
}

void mg_accounts_fini(mg_accounts *s)
{
    free(s->mode);
    free(s->h_off);
    free(s->p_off);
    free(s->h);
    free(s->p);
    free(s->fig);
    free(s->asset_off);
    free(s->asset_ids);
    free(s->market_off);
    free(s->market_ids);
    memset(s, 0, sizeof *s);
}

rl_err mg_accounts_add(mg_accounts *s, mg_mode mode, const mg_holding *h, size_t nh, const mg_position *p,
                       size_t np, uint32_t *id, rl_why *why)
{
    if (mode == MG_ISOLATED)
        return rl_fail(why, RL_ERR_ARG, "accounts: isolated accounts are not held in the live store");
    if (s->n == s->cap || s->nh + nh > s->cap_h || s->np + np > s->cap_p)
        return rl_fail(why, RL_ERR_FULL, "accounts: reserved room for %zu accounts is used up", s->cap);
    for (size_t i = 0; i < nh; i++)
        if (h[i].asset >= s->book->nassets || h[i].chain >= s->book->nchains)
            return rl_fail(why, RL_ERR_ARG, "accounts: holding %zu names no known asset or chain", i);
    for (size_t i = 0; i < np; i++)
        if (p[i].market >= s->book->nmarkets)
            return rl_fail(why, RL_ERR_ARG, "accounts: position %zu names no known market", i);
    memcpy(s->h + s->nh, h, nh * sizeof *h);
    memcpy(s->p + s->np, p, np * sizeof *p);
    for (size_t i = 0; i < np; i++) { /* no per-position collateral here */
        s->p[s->np + i].collateral = NULL;
        s->p[s->np + i].ncollateral = 0;
    }
    s->nh += nh;
    s->np += np;
    s->mode[s->n] = (uint8_t)mode;
    s->h_off[s->n + 1] = (uint32_t)s->nh;
    s->p_off[s->n + 1] = (uint32_t)s->np;
    *id = (uint32_t)s->n++;
    return RL_OK;
}

void mg_accounts_view(const mg_accounts *s, uint32_t id, mg_account *out)
{
    *out = (mg_account){.mode = (mg_mode)s->mode[id],
                        .holdings = s->h + s->h_off[id],
                        .nholdings = s->h_off[id + 1] - s->h_off[id],
                        .positions = s->p + s->p_off[id],
                        .npositions = s->p_off[id + 1] - s->p_off[id]};
}

/* The k-th key of account i's items: its holdings' assets or its positions' markets. */
static void item_range(const mg_accounts *s, bool markets, uint32_t i, uint32_t *from, uint32_t *to)
{
    *from = markets ? s->p_off[i] : s->h_off[i];
    *to = markets ? s->p_off[i + 1] : s->h_off[i + 1];
}

static uint16_t item_key(const mg_accounts *s, bool markets, uint32_t k)
{
    return markets ? s->p[k].market : s->h[k].asset;
}

/* CSR lists of accounts per key (asset or market): a counting pass, prefix sums, a filling pass.
 * An account appears once per key even with two items of that key (`seen` remembers the last
 * account counted per key). */
static rl_err build_index(const mg_accounts *s, size_t nkeys, bool markets, uint32_t **off_out, uint32_t **ids_out)
{
    size_t nk = nkeys ? nkeys : 1;
    uint32_t *off = calloc(nkeys + 1, sizeof *off), *seen = malloc(nk * sizeof *seen),
             *fill = malloc(nk * sizeof *fill), *ids = NULL;
    rl_err err = RL_ERR_NOMEM;
    if (off == NULL || seen == NULL || fill == NULL)
        goto done;
    uint32_t from, to;
    for (int pass = 0; pass < 2; pass++) { /* 0: count per key; 1: fill the lists */
        if (pass == 1) {
            for (size_t k = 0; k < nkeys; k++)
                off[k + 1] += off[k];
            if ((ids = malloc((off[nkeys] ? off[nkeys] : 1) * sizeof *ids)) == NULL)
                goto done;
            memcpy(fill, off, nkeys * sizeof *fill);
        }
        memset(seen, 0xff, nk * sizeof *seen);
        for (uint32_t i = 0; i < s->n; i++) {
            item_range(s, markets, i, &from, &to);
            for (uint32_t k = from; k < to; k++) {
                uint16_t key = item_key(s, markets, k);
                if (seen[key] == i)
                    continue;
                seen[key] = i;
                if (pass == 0)
                    off[key + 1]++;
                else
                    ids[fill[key]++] = i;
            }
        }
    }
    *off_out = off;
    *ids_out = ids;
    off = NULL;
    err = RL_OK;
done:
    free(off);
    free(seen);
    free(fill);
    return err;
}

rl_err mg_accounts_index(mg_accounts *s, rl_why *why)
{
    free(s->asset_off);
    free(s->asset_ids);
    free(s->market_off);
    free(s->market_ids);
    s->asset_off = s->asset_ids = s->market_off = s->market_ids = NULL;
    if (build_index(s, s->book->nassets, false, &s->asset_off, &s->asset_ids) != RL_OK ||
        build_index(s, s->book->nmarkets, true, &s->market_off, &s->market_ids) != RL_OK)
        return rl_fail(why, RL_ERR_NOMEM, "accounts: out of memory for the exposure index");
    return RL_OK;
}

static rl_err recompute(mg_accounts *s, mg_ctx *ctx, uint32_t id, rl_why *why)
{
    mg_account a;
    mg_accounts_view(s, id, &a);
    rl_err err = mg_figures_of(ctx, s->book, &a, &s->fig[id], why);
    if (err != RL_OK)
        rl_why_prefix(why, "account %u: ", id);
    return err;
}

rl_err mg_accounts_sweep(mg_accounts *s, mg_ctx *ctx, rl_why *why)
{
    for (uint32_t i = 0; i < s->n; i++) {
        rl_err err = recompute(s, ctx, i, why);
        if (err != RL_OK)
            return err;
    }
    return RL_OK;
}

static rl_err reprice(mg_accounts *s, mg_ctx *ctx, const uint32_t *off, const uint32_t *ids, size_t nkeys,
                      uint16_t key, size_t *recomputed, rl_why *why)
{
    if (off == NULL || key >= nkeys)
        return rl_fail(why, RL_ERR_STATE, "accounts: no exposure index for key %u", key);
    for (uint32_t k = off[key]; k < off[key + 1]; k++) {
        rl_err err = recompute(s, ctx, ids[k], why);
        if (err != RL_OK)
            return err;
    }
    *recomputed = off[key + 1] - off[key];
    return RL_OK;
}

rl_err mg_accounts_reprice_asset(mg_accounts *s, mg_ctx *ctx, uint16_t asset, size_t *recomputed, rl_why *why)
{
    return reprice(s, ctx, s->asset_off, s->asset_ids, s->book->nassets, asset, recomputed, why);
}

rl_err mg_accounts_reprice_market(mg_accounts *s, mg_ctx *ctx, uint16_t market, size_t *recomputed, rl_why *why)
{
    return reprice(s, ctx, s->market_off, s->market_ids, s->book->nmarkets, market, recomputed, why);
}
