/*
 * margin.c - the margin rules of margin.h, in exact integers.
 *
 * Scales inside: notional N = |size_e18| x mark_e18 is at 10^36; a tier charge part x fraction at
 * 10^54; portfolio exposures at 10^90 so that holdings of any decimals (<= 36) and positions add
 * up without a division. Each term is divided once, at its end, with floor (values, PnL) or
 * ceiling (requirements) division.
 */
#include "collateral/margin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Scenario moves in thirds of a scan; the last two count 35 %. */
static const int8_t MOVES[MG_SCENARIOS] = {-3, -2, -1, 0, 1, 2, 3, -6, 6};
#define WEIGHTED_FROM 7
#define WEIGHT_PCT 35
/* Portfolio exposure scale: 10^90 (see above); to micro-dollars divide by 10^84. */
#define EXPOSURE_DIGITS 90

rl_err mg_ctx_init(mg_ctx *ctx, const mg_book *book)
{
    ctx->ngroups = book->ngroups;
    ctx->group_exposure = calloc(ctx->ngroups ? ctx->ngroups : 1, sizeof *ctx->group_exposure);
    ctx->group_touched = calloc(ctx->ngroups ? ctx->ngroups : 1, sizeof *ctx->group_touched);
    if (ctx->group_exposure == NULL || ctx->group_touched == NULL) {
        free(ctx->group_exposure);
        free(ctx->group_touched);
        return RL_ERR_NOMEM;
    }
    mpz_inits(ctx->a, ctx->b, ctx->c, ctx->d, ctx->e, ctx->gross, NULL);
    for (size_t g = 0; g < ctx->ngroups; g++)
        mpz_init(ctx->group_exposure[g]);
    return RL_OK;
}

void mg_ctx_fini(mg_ctx *ctx)
{
    mpz_clears(ctx->a, ctx->b, ctx->c, ctx->d, ctx->e, ctx->gross, NULL);
    for (size_t g = 0; g < ctx->ngroups; g++)
        mpz_clear(ctx->group_exposure[g]);
    free(ctx->group_exposure);
    free(ctx->group_touched);
}

const char *mg_status_name(mg_status s)
{
    return s == MG_LIQUIDATABLE ? "liquidatable" : s == MG_MARGIN_CALL ? "margin_call" : "healthy";
}

static mg_status status_of(i128 equity_u, i128 im_u, i128 mm_u)
{
    return equity_u < mm_u ? MG_LIQUIDATABLE : equity_u < im_u ? MG_MARGIN_CALL : MG_HEALTHY;
}

rl_err mg_value_u(mg_ctx *ctx, const mg_asset *asset, const u256 *amount, bool haircut, i128 *out)
{
    fixed_set_u256(ctx->a, amount);
    fixed_set_i128(ctx->b, asset->price_e18);
    mpz_mul(ctx->a, ctx->a, ctx->b);
    unsigned den = asset->decimals + FIXED_E18_DIGITS - FIXED_U_DIGITS;
    if (haircut) {
        fixed_set_i128(ctx->b, FIXED_E18 - asset->haircut_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        den += FIXED_E18_DIGITS;
    }
    fixed_fdiv_pow10(ctx->a, ctx->a, den);
    return fixed_get_i128(out, ctx->a);
}

rl_err mg_pnl_u(mg_ctx *ctx, const mg_market *m, i128 size_e18, i128 entry_e18, i128 *out)
{
    fixed_set_i128(ctx->a, m->mark_e18);
    fixed_set_i128(ctx->b, entry_e18);
    mpz_sub(ctx->a, ctx->a, ctx->b);
    fixed_set_i128(ctx->b, size_e18);
    mpz_mul(ctx->a, ctx->a, ctx->b);
    fixed_fdiv_pow10(ctx->a, ctx->a, 2 * FIXED_E18_DIGITS - FIXED_U_DIGITS);
    return fixed_get_i128(out, ctx->a);
}

/* ctx->a = |size| x mark at 10^36. */
static void notional_e36(mg_ctx *ctx, const mg_market *m, i128 size_e18)
{
    fixed_set_i128(ctx->a, size_e18 < 0 ? -size_e18 : size_e18);
    fixed_set_i128(ctx->b, m->mark_e18);
    mpz_mul(ctx->a, ctx->a, ctx->b);
}

rl_err mg_margin_u(mg_ctx *ctx, const mg_market *m, i128 size_e18, bool maintenance, i128 *out)
{
    notional_e36(ctx, m, size_e18); /* a = N */
    mpz_set_ui(ctx->c, 0);          /* c = sum of part x fraction, 10^54 */
    for (unsigned i = 0; i < m->ntiers; i++) {
        /* part = min(N, next from) - from, when positive; b = from, d = next from (10^36) */
        fixed_set_i128(ctx->b, m->tiers[i].from_e18);
        mpz_mul(ctx->b, ctx->b, *fixed_pow10(FIXED_E18_DIGITS));
        if (mpz_cmp(ctx->a, ctx->b) <= 0)
            break;
        if (i + 1 < m->ntiers) {
            fixed_set_i128(ctx->d, m->tiers[i + 1].from_e18);
            mpz_mul(ctx->d, ctx->d, *fixed_pow10(FIXED_E18_DIGITS));
            if (mpz_cmp(ctx->a, ctx->d) < 0)
                mpz_set(ctx->d, ctx->a);
        } else {
            mpz_set(ctx->d, ctx->a);
        }
        mpz_sub(ctx->d, ctx->d, ctx->b);
        fixed_set_i128(ctx->b, maintenance ? m->tiers[i].mmf_e18 : m->tiers[i].imf_e18);
        mpz_addmul(ctx->c, ctx->d, ctx->b);
    }
    /* to micro-dollars: / 10^48, times the volatility multiplier min(cap, max(1, sigma/ref)) */
    unsigned den = 3 * FIXED_E18_DIGITS - FIXED_U_DIGITS;
    if (m->has_vol && m->sigma_e18 > m->sigma_ref_e18) {
        /* sigma / ref >= cap  <=>  sigma x 10^18 >= cap x ref */
        fixed_set_i128(ctx->e, m->sigma_e18);
        mpz_mul(ctx->e, ctx->e, *fixed_pow10(FIXED_E18_DIGITS));
        fixed_set_i128(ctx->a, m->cap_e18);
        fixed_set_i128(ctx->b, m->sigma_ref_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        if (mpz_cmp(ctx->e, ctx->a) >= 0) {
            fixed_set_i128(ctx->b, m->cap_e18);
            mpz_mul(ctx->c, ctx->c, ctx->b);
            den += FIXED_E18_DIGITS;
        } else {
            fixed_set_i128(ctx->b, m->sigma_e18);
            mpz_mul(ctx->c, ctx->c, ctx->b);
            fixed_set_i128(ctx->b, m->sigma_ref_e18);
            mpz_mul(ctx->d, *fixed_pow10(den), ctx->b);
            mpz_cdiv_q(ctx->c, ctx->c, ctx->d);
            return fixed_get_i128(out, ctx->c);
        }
    }
    fixed_cdiv_pow10(ctx->c, ctx->c, den);
    return fixed_get_i128(out, ctx->c);
}

static rl_err notional_u(mg_ctx *ctx, const mg_market *m, i128 size_e18, i128 *out)
{
    notional_e36(ctx, m, size_e18);
    fixed_cdiv_pow10(ctx->a, ctx->a, 2 * FIXED_E18_DIGITS - FIXED_U_DIGITS);
    return fixed_get_i128(out, ctx->a);
}

/* fraction x ctx->gross (10^36), up, in micro-dollars. */
static rl_err of_gross_u(mg_ctx *ctx, i128 fraction_e18, i128 *out)
{
    fixed_set_i128(ctx->a, fraction_e18);
    mpz_mul(ctx->a, ctx->a, ctx->gross);
    fixed_cdiv_pow10(ctx->a, ctx->a, 3 * FIXED_E18_DIGITS - FIXED_U_DIGITS);
    return fixed_get_i128(out, ctx->a);
}

static void gross_add(mg_ctx *ctx, const mg_market *m, i128 size_e18)
{
    notional_e36(ctx, m, size_e18);
    mpz_add(ctx->gross, ctx->gross, ctx->a);
}

static rl_err add_u(i128 *acc, i128 v) { return __builtin_add_overflow(*acc, v, acc) ? RL_ERR_OVERFLOW : RL_OK; }

/* Sum of holding values (with or without haircut) and of position PnL. */
static rl_err sum_equity(mg_ctx *ctx, const mg_book *book, const mg_holding *h, size_t nh, const mg_position *p,
                         size_t np, bool haircut, i128 *equity, rl_why *why)
{
    i128 e = 0, v;
    for (size_t i = 0; i < nh; i++) {
        const mg_asset *a = &book->assets[h[i].asset];
        if (mg_value_u(ctx, a, &h[i].amount, haircut, &v) != RL_OK || add_u(&e, v) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "%s on %s: value out of range", a->name, book->chains[h[i].chain]);
    }
    for (size_t i = 0; i < np; i++) {
        const mg_market *m = &book->markets[p[i].market];
        if (mg_pnl_u(ctx, m, p[i].size_e18, p[i].entry_e18, &v) != RL_OK || add_u(&e, v) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "%s: PnL out of range", m->name);
    }
    *equity = e;
    return RL_OK;
}

static rl_err sum_margin(mg_ctx *ctx, const mg_book *book, const mg_position *p, size_t np, i128 *im, i128 *mm,
                         rl_why *why)
{
    i128 i_sum = 0, m_sum = 0, v;
    for (size_t i = 0; i < np; i++) {
        const mg_market *m = &book->markets[p[i].market];
        if (mg_margin_u(ctx, m, p[i].size_e18, false, &v) != RL_OK || add_u(&i_sum, v) != RL_OK ||
            mg_margin_u(ctx, m, p[i].size_e18, true, &v) != RL_OK || add_u(&m_sum, v) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "%s: margin out of range", m->name);
    }
    *im = i_sum;
    *mm = m_sum;
    return RL_OK;
}

/* One position on its own collateral (isolated mode), or a whole cross account. */
static rl_err cross_figures(mg_ctx *ctx, const mg_book *book, const mg_holding *h, size_t nh, const mg_position *p,
                            size_t np, mg_figures *fig, rl_why *why)
{
    rl_err err = sum_equity(ctx, book, h, nh, p, np, true, &fig->equity_u, why);
    if (err == RL_OK)
        err = sum_margin(ctx, book, p, np, &fig->im_u, &fig->mm_u, why);
    if (err == RL_OK)
        fig->status = status_of(fig->equity_u, fig->im_u, fig->mm_u);
    return err;
}

/* Portfolio mode. With sc, every touched group's nine scenario losses are written there. */
static rl_err portfolio_figures(mg_ctx *ctx, const mg_book *book, const mg_account *acct, mg_figures *fig,
                                mg_scenario *sc, size_t *nsc, rl_why *why)
{
    rl_err err = sum_equity(ctx, book, acct->holdings, acct->nholdings, acct->positions, acct->npositions, false,
                            &fig->equity_u, why);
    if (err != RL_OK)
        return err;
    for (size_t g = 0; g < ctx->ngroups; g++) {
        mpz_set_ui(ctx->group_exposure[g], 0);
        ctx->group_touched[g] = false;
    }
    mpz_set_ui(ctx->gross, 0);
    for (size_t i = 0; i < acct->nholdings; i++) { /* amount x price x scan at 10^90 */
        const mg_holding *h = &acct->holdings[i];
        const mg_asset *a = &book->assets[h->asset];
        fixed_set_u256(ctx->a, &h->amount);
        fixed_set_i128(ctx->b, a->price_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        fixed_set_i128(ctx->b, a->scan_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        mpz_mul(ctx->a, ctx->a, *fixed_pow10(EXPOSURE_DIGITS - a->decimals - 2 * FIXED_E18_DIGITS));
        mpz_add(ctx->group_exposure[a->group], ctx->group_exposure[a->group], ctx->a);
        ctx->group_touched[a->group] = true;
    }
    for (size_t i = 0; i < acct->npositions; i++) { /* size x mark x scan at 10^90 */
        const mg_position *p = &acct->positions[i];
        const mg_market *m = &book->markets[p->market];
        gross_add(ctx, m, p->size_e18);
        fixed_set_i128(ctx->a, p->size_e18);
        fixed_set_i128(ctx->b, m->mark_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        fixed_set_i128(ctx->b, m->scan_e18);
        mpz_mul(ctx->a, ctx->a, ctx->b);
        mpz_mul(ctx->a, ctx->a, *fixed_pow10(EXPOSURE_DIGITS - 3 * FIXED_E18_DIGITS));
        mpz_add(ctx->group_exposure[m->group], ctx->group_exposure[m->group], ctx->a);
        ctx->group_touched[m->group] = true;
    }
    /* loss of move k/3 = -(k/3) x exposure x weight, up; den = 3 x 100 x 10^84 */
    mpz_mul_ui(ctx->d, *fixed_pow10(EXPOSURE_DIGITS - FIXED_U_DIGITS), 300);
    i128 charges = 0;
    size_t n = 0;
    for (size_t g = 0; g < ctx->ngroups; g++) {
        if (!ctx->group_touched[g])
            continue;
        i128 worst = 0;
        for (int s = 0; s < MG_SCENARIOS; s++) {
            mpz_mul_si(ctx->a, ctx->group_exposure[g], -(long)MOVES[s] * (s >= WEIGHTED_FROM ? WEIGHT_PCT : 100));
            mpz_cdiv_q(ctx->a, ctx->a, ctx->d);
            i128 loss;
            if (fixed_get_i128(&loss, ctx->a) != RL_OK)
                return rl_fail(why, RL_ERR_OVERFLOW, "group %s: scenario loss out of range", book->groups[g]);
            if (sc != NULL)
                sc[n++] = (mg_scenario){.group = (uint16_t)g, .move_thirds = MOVES[s],
                                        .weighted = s >= WEIGHTED_FROM, .loss_u = loss};
            if (loss > worst)
                worst = loss;
        }
        if (add_u(&charges, worst) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "portfolio charges out of range");
    }
    if (nsc != NULL)
        *nsc = n;
    i128 floor_u;
    if (of_gross_u(ctx, book->params.portfolio_floor_e18, &floor_u) != RL_OK)
        return rl_fail(why, RL_ERR_OVERFLOW, "portfolio floor out of range");
    fig->im_u = charges > floor_u ? charges : floor_u;
    fixed_set_i128(ctx->a, fig->im_u);
    fixed_set_i128(ctx->b, book->params.portfolio_mm_ratio_e18);
    mpz_mul(ctx->a, ctx->a, ctx->b);
    fixed_cdiv_pow10(ctx->a, ctx->a, FIXED_E18_DIGITS);
    if (fixed_get_i128(&fig->mm_u, ctx->a) != RL_OK)
        return rl_fail(why, RL_ERR_OVERFLOW, "portfolio maintenance margin out of range");
    fig->status = status_of(fig->equity_u, fig->im_u, fig->mm_u);
    return RL_OK;
}

static rl_err isolated_figures(mg_ctx *ctx, const mg_book *book, const mg_account *acct, mg_figures *fig,
                               mg_pos_result *per_pos, i128 *free_u, rl_why *why)
{
    i128 free_value;
    rl_err err = sum_equity(ctx, book, acct->holdings, acct->nholdings, NULL, 0, true, &free_value, why);
    if (err != RL_OK)
        return err;
    *fig = (mg_figures){.equity_u = free_value, .status = MG_HEALTHY};
    for (size_t i = 0; i < acct->npositions; i++) {
        const mg_position *p = &acct->positions[i];
        mg_figures f;
        err = cross_figures(ctx, book, p->collateral, p->ncollateral, p, 1, &f, why);
        if (err == RL_OK && (add_u(&fig->equity_u, f.equity_u) != RL_OK || add_u(&fig->im_u, f.im_u) != RL_OK ||
                             add_u(&fig->mm_u, f.mm_u) != RL_OK))
            err = rl_fail(why, RL_ERR_OVERFLOW, "isolated totals out of range");
        if (err != RL_OK)
            return err;
        if (f.status > fig->status)
            fig->status = f.status;
        if (per_pos != NULL)
            per_pos[i].fig = f;
    }
    if (free_u != NULL)
        *free_u = free_value;
    return RL_OK;
}

rl_err mg_figures_of(mg_ctx *ctx, const mg_book *book, const mg_account *acct, mg_figures *out, rl_why *why)
{
    switch (acct->mode) {
    case MG_CROSS:
        return cross_figures(ctx, book, acct->holdings, acct->nholdings, acct->positions, acct->npositions, out, why);
    case MG_PORTFOLIO: return portfolio_figures(ctx, book, acct, out, NULL, NULL, why);
    case MG_ISOLATED: return isolated_figures(ctx, book, acct, out, NULL, NULL, why);
    }
    return rl_fail(why, RL_ERR_ARG, "unknown margin mode %d", (int)acct->mode);
}

/* ---- seize plans ---------------------------------------------------------------------------- */

struct seize_order {
    const mg_book *book;
    const mg_holding *h;
    const bool *defer; /* per book chain; NULL: none */
};

static int seize_cmp(const void *x, const void *y, void *arg)
{
    const struct seize_order *o = arg;
    const mg_holding *a = &o->h[*(const size_t *)x], *b = &o->h[*(const size_t *)y];
    const mg_asset *aa = &o->book->assets[a->asset], *ba = &o->book->assets[b->asset];
    if (o->defer != NULL && o->defer[a->chain] != o->defer[b->chain])
        return o->defer[a->chain] ? 1 : -1;
    if (aa->seize_priority != ba->seize_priority)
        return aa->seize_priority < ba->seize_priority ? -1 : 1;
    int c = strcmp(o->book->chains[a->chain], o->book->chains[b->chain]);
    return c != 0 ? c : strcmp(aa->name, ba->name);
}

/* Seizes `owed_u` from holdings h into out->seize (capacity reserved by the caller); the part
 * that cannot be covered is returned in *bad_debt_u. */
static rl_err seize_plan(mg_ctx *ctx, const mg_book *book, const mg_holding *h, size_t nh, const bool *defer,
                         i128 owed_u, mg_result *out, i128 *bad_debt_u, rl_why *why)
{
    size_t *order = malloc((nh ? nh : 1) * sizeof *order);
    if (order == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "seize plan: out of memory");
    for (size_t i = 0; i < nh; i++)
        order[i] = i;
    struct seize_order o = {book, h, defer};
    qsort_r(order, nh, sizeof *order, seize_cmp, &o);
    i128 remaining = owed_u;
    rl_err err = RL_OK;
    for (size_t k = 0; k < nh && remaining > 0 && err == RL_OK; k++) {
        const mg_holding *x = &h[order[k]];
        const mg_asset *a = &book->assets[x->asset];
        i128 v;
        if ((err = mg_value_u(ctx, a, &x->amount, true, &v)) != RL_OK)
            break;
        if (v <= 0)
            continue; /* worth nothing at its haircut: seizing it covers nothing */
        mg_seize *s = &out->seize[out->nseize++];
        *s = (mg_seize){.chain = x->chain, .asset = x->asset, .amount = x->amount, .value_u = v};
        if (v <= remaining) {
            remaining -= v;
            continue;
        }
        /* the last one, partly: amount = remaining x 10^(decimals + 30) / (price x (1 - haircut)), up */
        fixed_set_i128(ctx->a, remaining);
        mpz_mul(ctx->a, ctx->a, *fixed_pow10(a->decimals + 2 * FIXED_E18_DIGITS - FIXED_U_DIGITS));
        fixed_set_i128(ctx->b, a->price_e18);
        fixed_set_i128(ctx->c, FIXED_E18 - a->haircut_e18);
        mpz_mul(ctx->b, ctx->b, ctx->c);
        mpz_cdiv_q(ctx->a, ctx->a, ctx->b);
        u256 part;
        if ((err = fixed_get_u256(&part, ctx->a)) != RL_OK)
            break;
        if (u256_cmp(&part, &x->amount) < 0)
            s->amount = part;
        if ((err = mg_value_u(ctx, a, &s->amount, true, &s->value_u)) != RL_OK)
            break;
        remaining = 0;
    }
    free(order);
    if (err != RL_OK)
        return rl_fail(why, err, "seize plan: amounts out of range");
    *bad_debt_u = remaining;
    return RL_OK;
}

/* min(owed, max(0, covered)): what of owed is already covered. */
static i128 min_u(i128 owed_u, i128 covered_u)
{
    return covered_u <= 0 ? 0 : covered_u < owed_u ? covered_u : owed_u;
}

/* owed = max(0, -pnl) + fee x gross notional (ctx->gross), up. */
static rl_err owed_of(mg_ctx *ctx, const mg_book *book, i128 pnl_u, i128 *owed_u, rl_why *why)
{
    i128 fee_u;
    if (of_gross_u(ctx, book->params.liquidation_fee_e18, &fee_u) != RL_OK)
        return rl_fail(why, RL_ERR_OVERFLOW, "liquidation fee out of range");
    *owed_u = pnl_u < 0 ? -pnl_u : 0;
    return add_u(owed_u, fee_u) == RL_OK ? RL_OK : rl_fail(why, RL_ERR_OVERFLOW, "amount owed out of range");
}

/* ---- withdrawals ---------------------------------------------------------------------------- */

/* A copy of h with the withdrawal taken out; NULL (and why in r) when it is not there. */
static mg_holding *without(const mg_book *book, const mg_holding *h, size_t nh, const mg_withdraw *w, mg_result *r)
{
    for (size_t i = 0; i < nh; i++) {
        if (h[i].chain != w->chain || h[i].asset != w->asset)
            continue;
        if (u256_cmp(&w->amount, &h[i].amount) > 0) {
            snprintf(r->withdraw_why, sizeof r->withdraw_why, "the amount exceeds the %s held on %s",
                     book->assets[w->asset].name, book->chains[w->chain]);
            return NULL;
        }
        mg_holding *copy = malloc(nh * sizeof *copy);
        if (copy == NULL) {
            snprintf(r->withdraw_why, sizeof r->withdraw_why, "out of memory");
            return NULL;
        }
        memcpy(copy, h, nh * sizeof *copy);
        if (u256_sub(&copy[i].amount, &h[i].amount, &w->amount) != RL_OK)
            abort(); /* checked above */
        return copy;
    }
    snprintf(r->withdraw_why, sizeof r->withdraw_why, "no %s held on %s", book->assets[w->asset].name,
             book->chains[w->chain]);
    return NULL;
}

static rl_err check_withdraw(mg_ctx *ctx, const mg_book *book, const mg_account *acct, const mg_withdraw *w,
                             mg_result *r, rl_why *why)
{
    r->withdraw_asked = true;
    mg_figures after;
    rl_err err = RL_OK;
    if (acct->mode == MG_ISOLATED && w->market < 0) {
        mg_holding *rest = without(book, acct->holdings, acct->nholdings, w, r);
        r->withdraw_allowed = rest != NULL; /* free collateral backs nothing */
        free(rest);
        return RL_OK;
    }
    if (acct->mode == MG_ISOLATED) {
        const mg_position *p = NULL;
        for (size_t i = 0; i < acct->npositions && p == NULL; i++)
            if (acct->positions[i].market == w->market)
                p = &acct->positions[i];
        if (p == NULL) {
            snprintf(r->withdraw_why, sizeof r->withdraw_why, "no position in %s", book->markets[w->market].name);
            return RL_OK;
        }
        mg_holding *rest = without(book, p->collateral, p->ncollateral, w, r);
        if (rest == NULL)
            return RL_OK;
        mg_position q = *p;
        q.collateral = rest;
        err = cross_figures(ctx, book, rest, p->ncollateral, &q, 1, &after, why);
        free(rest);
    } else {
        mg_holding *rest = without(book, acct->holdings, acct->nholdings, w, r);
        if (rest == NULL)
            return RL_OK;
        mg_account a = *acct;
        a.holdings = rest;
        err = mg_figures_of(ctx, book, &a, &after, why);
        free(rest);
    }
    if (err != RL_OK)
        return err;
    r->withdraw_allowed = after.status == MG_HEALTHY && after.equity_u >= after.im_u;
    if (!r->withdraw_allowed) {
        char eq[FIXED_STR_MAX], im[FIXED_STR_MAX];
        snprintf(r->withdraw_why, sizeof r->withdraw_why, "after it, equity %s would be below initial margin %s",
                 fixed_format_i128(after.equity_u, FIXED_U_DIGITS, true, eq), fixed_format_i128(after.im_u, FIXED_U_DIGITS, true, im));
    }
    return RL_OK;
}

/* ---- the whole evaluation ------------------------------------------------------------------- */

rl_err mg_evaluate(mg_ctx *ctx, const mg_book *book, const mg_account *acct, const mg_withdraw *w, mg_result *out,
                   rl_why *why)
{
    memset(out, 0, sizeof *out);
    size_t seize_cap = acct->nholdings;
    for (size_t i = 0; i < acct->npositions; i++)
        seize_cap += acct->positions[i].ncollateral;
    out->positions = calloc(acct->npositions ? acct->npositions : 1, sizeof *out->positions);
    out->seize = calloc(seize_cap ? seize_cap : 1, sizeof *out->seize);
    if (acct->mode == MG_PORTFOLIO)
        out->scenarios = calloc(ctx->ngroups ? ctx->ngroups * MG_SCENARIOS : 1, sizeof *out->scenarios);
    if (out->positions == NULL || out->seize == NULL || (acct->mode == MG_PORTFOLIO && out->scenarios == NULL)) {
        mg_result_fini(out);
        return rl_fail(why, RL_ERR_NOMEM, "margin: out of memory");
    }
    rl_err err = RL_OK;
    i128 pnl_sum = 0;
    for (size_t i = 0; i < acct->npositions && err == RL_OK; i++) {
        const mg_position *p = &acct->positions[i];
        const mg_market *m = &book->markets[p->market];
        mg_pos_result *r = &out->positions[i];
        if (notional_u(ctx, m, p->size_e18, &r->notional_u) != RL_OK ||
            mg_pnl_u(ctx, m, p->size_e18, p->entry_e18, &r->pnl_u) != RL_OK || add_u(&pnl_sum, r->pnl_u) != RL_OK)
            err = rl_fail(why, RL_ERR_OVERFLOW, "%s: figures out of range", m->name);
        else if (acct->mode != MG_PORTFOLIO)
            err = sum_margin(ctx, book, p, 1, &r->im_u, &r->mm_u, why);
    }
    if (err == RL_OK) {
        switch (acct->mode) {
        case MG_CROSS: err = mg_figures_of(ctx, book, acct, &out->fig, why); break;
        case MG_PORTFOLIO: err = portfolio_figures(ctx, book, acct, &out->fig, out->scenarios, &out->nscenarios, why); break;
        case MG_ISOLATED: err = isolated_figures(ctx, book, acct, &out->fig, out->positions, &out->free_u, why); break;
        }
    }
    if (err == RL_OK && acct->mode != MG_ISOLATED)
        out->free_u = out->fig.equity_u > out->fig.im_u ? out->fig.equity_u - out->fig.im_u : 0;
    /* liquidation */
    if (err == RL_OK && acct->mode != MG_ISOLATED && out->fig.status == MG_LIQUIDATABLE) {
        mpz_set_ui(ctx->gross, 0);
        for (size_t i = 0; i < acct->npositions; i++)
            gross_add(ctx, &book->markets[acct->positions[i].market], acct->positions[i].size_e18);
        err = owed_of(ctx, book, pnl_sum, &out->owed_u, why);
        if (err == RL_OK)
            err = seize_plan(ctx, book, acct->holdings, acct->nholdings, acct->defer_chain,
                             out->owed_u - min_u(out->owed_u, acct->covered_u), out, &out->bad_debt_u, why);
    }
    for (size_t i = 0; err == RL_OK && acct->mode == MG_ISOLATED && i < acct->npositions; i++) {
        const mg_position *p = &acct->positions[i];
        mg_pos_result *r = &out->positions[i];
        if (r->fig.status != MG_LIQUIDATABLE)
            continue;
        mpz_set_ui(ctx->gross, 0);
        gross_add(ctx, &book->markets[p->market], p->size_e18);
        i128 owed;
        r->seize_at = out->nseize;
        err = owed_of(ctx, book, r->pnl_u, &owed, why);
        if (err == RL_OK)
            err = seize_plan(ctx, book, p->collateral, p->ncollateral, NULL, owed, out, &r->bad_debt_u, why);
        r->nseize = out->nseize - r->seize_at;
        if (err == RL_OK && (add_u(&out->owed_u, owed) != RL_OK || add_u(&out->bad_debt_u, r->bad_debt_u) != RL_OK))
            err = rl_fail(why, RL_ERR_OVERFLOW, "isolated liquidation totals out of range");
    }
    if (err == RL_OK && w != NULL)
        err = check_withdraw(ctx, book, acct, w, out, why);
    if (err != RL_OK)
        mg_result_fini(out);
    return err;
}

void mg_result_fini(mg_result *r)
{
    free(r->positions);
    free(r->seize);
    free(r->scenarios);
    r->positions = NULL;
    r->seize = NULL;
    r->scenarios = NULL;
}
