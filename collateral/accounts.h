/*
 * accounts.h - every account in memory, with an exposure index, for the live calculator.
 *
 * Accounts live in flat arenas (holdings, positions, figures) addressed by a 32-bit id, so a
 * million accounts with a few holdings and positions each take a few hundred bytes apiece. After
 * loading, mg_accounts_index() builds, per asset and per market, the list of accounts exposed to
 * it; a price tick then recomputes only those (mg_accounts_reprice_*), while a sweep recomputes
 * all. Figures come from mg_figures_of(): the same code as `margin eval`.
 *
 * Cross and portfolio accounts only: an isolated account's per-position collateral does not live
 * in these arenas yet.
 */
#ifndef RL_ACCOUNTS_H
#define RL_ACCOUNTS_H

#include "collateral/margin.h"

typedef struct mg_accounts {
    const mg_book *book; /* prices are read from it at each recompute */
    size_t n, cap;
    uint8_t *mode;       /* mg_mode per account */
    uint32_t *h_off;     /* holdings of account i: h[h_off[i] .. h_off[i+1]) */
    uint32_t *p_off;
    mg_holding *h;
    size_t nh, cap_h;
    mg_position *p;
    size_t np, cap_p;
    mg_figures *fig;
    /* exposure index (after mg_accounts_index): accounts holding asset a are
     * asset_ids[asset_off[a] .. asset_off[a+1]), likewise for markets */
    uint32_t *asset_off, *asset_ids, *market_off, *market_ids;
} mg_accounts;

/* Reserves room for accounts, holdings and positions up front (no growth while loading). */
RL_MUST_USE rl_err mg_accounts_init(mg_accounts *s, const mg_book *book, size_t accounts, size_t holdings,
                                    size_t positions);
void mg_accounts_fini(mg_accounts *s);

/* Copies one account in; its id is the order of addition. */
RL_MUST_USE rl_err mg_accounts_add(mg_accounts *s, mg_mode mode, const mg_holding *h, size_t nh,
                                   const mg_position *p, size_t np, uint32_t *id, rl_why *why);

/* Builds the exposure index over what was added. */
RL_MUST_USE rl_err mg_accounts_index(mg_accounts *s, rl_why *why);

/* The account as mg_figures_of() takes it (pointers into the arenas). */
void mg_accounts_view(const mg_accounts *s, uint32_t id, mg_account *out);

/* Recomputes every account's figures. */
RL_MUST_USE rl_err mg_accounts_sweep(mg_accounts *s, mg_ctx *ctx, rl_why *why);

/* After a price change of one asset or one market mark: recomputes the exposed accounts only and
 * says how many. */
RL_MUST_USE rl_err mg_accounts_reprice_asset(mg_accounts *s, mg_ctx *ctx, uint16_t asset, size_t *recomputed,
                                             rl_why *why);
RL_MUST_USE rl_err mg_accounts_reprice_market(mg_accounts *s, mg_ctx *ctx, uint16_t market, size_t *recomputed,
                                              rl_why *why);

#endif
