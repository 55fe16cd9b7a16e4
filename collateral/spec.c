/*
 * spec.c - the what-if query's JSON in and out (jansson), validated field by field.
 */
#include "collateral/spec.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "attest/price.h"

#define MAX_ITEMS 65535 /* assets, markets, chains, groups: indexed by uint16_t */
#define JPATH_MAX 192 /* a JSON path in an error: "account.positions[12].collateral[3]" */

/* Refuses fields not in `known` (NULL-terminated). */
static rl_err only_fields(const json_t *obj, const char *path, const char *const *known, rl_why *why)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, key) == 0;
        if (!ok)
            return rl_fail(why, RL_ERR_ARG, "%s: unknown field \"%s\"", path, key);
    }
    return RL_OK;
}

static rl_err need_object(const json_t *v, const char *path, rl_why *why)
{
    return json_is_object(v) ? RL_OK : rl_fail(why, RL_ERR_ARG, "%s: expected an object", path);
}

/* A required (or, with optional, possibly absent: *s = NULL) string field. */
static rl_err get_string(const json_t *obj, const char *path, const char *key, bool optional, const char **s,
                         rl_why *why)
{
    const json_t *v = json_object_get(obj, key);
    *s = NULL;
    if (v == NULL)
        return optional ? RL_OK : rl_fail(why, RL_ERR_ARG, "%s.%s: missing", path, key);
    if (!json_is_string(v))
        return rl_fail(why, RL_ERR_ARG, "%s.%s: expected a string%s", path, key,
                       json_is_number(v) ? " (write numbers as decimal strings: \"3000\")" : "");
    *s = json_string_value(v);
    return RL_OK;
}

/* A decimal field at 10^18. lo/hi bound it when not NULL ("0".."1" for fractions). */
static rl_err get_e18(const json_t *obj, const char *path, const char *key, bool optional, i128 dflt, bool allow_neg,
                      const i128 *lo, const i128 *hi, i128 *out, rl_why *why)
{
    const char *s;
    rl_err err = get_string(obj, path, key, optional, &s, why);
    if (err != RL_OK)
        return err;
    if (s == NULL) {
        *out = dflt;
        return RL_OK;
    }
    if ((err = fixed_parse_e18(out, s, allow_neg, why)) != RL_OK) {
        rl_why_prefix(why, "%s.%s: ", path, key);
        return err;
    }
    if ((lo && *out < *lo) || (hi && *out > *hi)) {
        char a[FIXED_STR_MAX], b[FIXED_STR_MAX];
        return rl_fail(why, RL_ERR_ARG, "%s.%s: \"%s\" is outside %s..%s", path, key, s,
                       lo ? fixed_format_i128(*lo, FIXED_E18_DIGITS, false, a) : "", hi ? fixed_format_i128(*hi, FIXED_E18_DIGITS, false, b) : "");
    }
    return RL_OK;
}

static rl_err get_int(const json_t *obj, const char *path, const char *key, json_int_t lo, json_int_t hi,
                      json_int_t *out, rl_why *why)
{
    const json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return rl_fail(why, RL_ERR_ARG, "%s.%s: missing", path, key);
    if (!json_is_integer(v))
        return rl_fail(why, RL_ERR_ARG, "%s.%s: expected an integer", path, key);
    *out = json_integer_value(v);
    if (*out < lo || *out > hi)
        return rl_fail(why, RL_ERR_ARG, "%s.%s: %lld is outside %lld..%lld", path, key, (long long)*out, (long long)lo,
                       (long long)hi);
    return RL_OK;
}

static rl_err name_copy(char dst[MG_NAME_MAX], const char *name, const char *path, rl_why *why)
{
    size_t n = strlen(name);
    if (n == 0 || n >= MG_NAME_MAX)
        return rl_fail(why, RL_ERR_ARG, "%s: a name of 1..%d characters, not \"%s\"", path, MG_NAME_MAX - 1, name);
    memcpy(dst, name, n + 1);
    return RL_OK;
}

/* Index of name in a name table, appending it when add is set; -1 when absent. */
static int name_index(char (**tab)[MG_NAME_MAX], size_t *n, const char *name, bool add)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*tab)[i], name) == 0)
            return (int)i;
    if (!add || *n >= MAX_ITEMS)
        return -1;
    char(*grown)[MG_NAME_MAX] = realloc(*tab, (*n + 1) * sizeof **tab);
    if (grown == NULL)
        return -1;
    *tab = grown;
    snprintf(grown[*n], MG_NAME_MAX, "%s", name);
    return (int)(*n)++;
}

static rl_err group_of(mg_book *b, const json_t *obj, const char *path, const char *own, uint16_t *out, rl_why *why)
{
    const char *g;
    rl_err err = get_string(obj, path, "group", true, &g, why);
    if (err != RL_OK)
        return err;
    if (g != NULL && (g[0] == '\0' || strlen(g) >= MG_NAME_MAX))
        return rl_fail(why, RL_ERR_ARG, "%s.group: a name of 1..%d characters", path, MG_NAME_MAX - 1);
    int i = name_index(&b->groups, &b->ngroups, g ? g : own, true);
    if (i < 0)
        return rl_fail(why, RL_ERR_NOMEM, "%s.group: too many groups", path);
    *out = (uint16_t)i;
    return RL_OK;
}

static const i128 ZERO = 0, ONE = FIXED_E18;

/* live: the risk parameters of the live calculator, where prices come from the log only (a price
 * or mark is refused) and feeds and token addresses are named. */
static rl_err parse_asset(mg_book *b, const char *name, const json_t *v, bool live, mg_asset *a, rl_why *why)
{
    char path[JPATH_MAX];
    snprintf(path, sizeof path, "assets.%s", name);
    static const char *const fields[] = {"price", "decimals", "haircut", "seize_priority", "group", "scan", NULL};
    static const char *const lfields[] = {"decimals", "haircut", "seize_priority", "group", "scan", "feed", "tokens",
                                          NULL};
    json_int_t dec = 0, prio = 0;
    rl_err err = need_object(v, path, why);
    if (err == RL_OK)
        err = name_copy(a->name, name, path, why);
    if (err == RL_OK)
        err = only_fields(v, path, live ? lfields : fields, why);
    if (err == RL_OK)
        err = get_e18(v, path, "price", live, 0, false, NULL, NULL, &a->price_e18, why);
    if (err == RL_OK)
        err = get_int(v, path, "decimals", 0, FIXED_MAX_DECIMALS, &dec, why);
    if (err == RL_OK)
        err = get_e18(v, path, "haircut", false, 0, false, &ZERO, &ONE, &a->haircut_e18, why);
    if (err == RL_OK)
        err = get_int(v, path, "seize_priority", INT32_MIN, INT32_MAX, &prio, why);
    if (err == RL_OK)
        err = get_e18(v, path, "scan", true, 0, false, &ZERO, &ONE, &a->scan_e18, why);
    if (err == RL_OK)
        err = group_of(b, v, path, name, &a->group, why);
    a->decimals = (unsigned)dec;
    a->seize_priority = (int32_t)prio;
    return err;
}

static rl_err parse_tiers(const json_t *tiers, const char *path, mg_market *m, rl_why *why)
{
    if (!json_is_array(tiers) || json_array_size(tiers) == 0 || json_array_size(tiers) > MG_MAX_TIERS)
        return rl_fail(why, RL_ERR_ARG, "%s.tiers: expected an array of 1..%d tiers", path, MG_MAX_TIERS);
    static const char *const fields[] = {"from", "imf", "mmf", NULL};
    size_t i;
    const json_t *t;
    json_array_foreach(tiers, i, t) {
        char tp[JPATH_MAX + 32];
        snprintf(tp, sizeof tp, "%s.tiers[%zu]", path, i);
        mg_tier *x = &m->tiers[i];
        rl_err err = need_object(t, tp, why);
        if (err == RL_OK)
            err = only_fields(t, tp, fields, why);
        if (err == RL_OK)
            err = get_e18(t, tp, "from", false, 0, false, NULL, NULL, &x->from_e18, why);
        if (err == RL_OK)
            err = get_e18(t, tp, "imf", false, 0, false, &ZERO, &ONE, &x->imf_e18, why);
        if (err == RL_OK)
            err = get_e18(t, tp, "mmf", false, 0, false, &ZERO, &ONE, &x->mmf_e18, why);
        if (err != RL_OK)
            return err;
        if (x->mmf_e18 > x->imf_e18)
            return rl_fail(why, RL_ERR_ARG, "%s: mmf is above imf", tp);
        if (i == 0 && x->from_e18 != 0)
            return rl_fail(why, RL_ERR_ARG, "%s.from: the first tier starts at \"0\"", tp);
        if (i > 0 && x->from_e18 <= m->tiers[i - 1].from_e18)
            return rl_fail(why, RL_ERR_ARG, "%s.from: tiers must start in ascending order", tp);
    }
    m->ntiers = (unsigned)json_array_size(tiers);
    return RL_OK;
}

static rl_err parse_market(mg_book *b, const char *name, const json_t *v, bool live, mg_market *m, rl_why *why)
{
    char path[JPATH_MAX];
    snprintf(path, sizeof path, "markets.%s", name);
    static const char *const fields[] = {"mark", "tiers", "group", "scan", "vol", NULL};
    static const char *const lfields[] = {"tiers", "group", "scan", "vol", "feed", NULL};
    rl_err err = need_object(v, path, why);
    if (err == RL_OK)
        err = name_copy(m->name, name, path, why);
    if (err == RL_OK)
        err = only_fields(v, path, live ? lfields : fields, why);
    if (err == RL_OK)
        err = get_e18(v, path, "mark", live, 0, false, NULL, NULL, &m->mark_e18, why);
    if (err == RL_OK)
        err = get_e18(v, path, "scan", true, 0, false, &ZERO, &ONE, &m->scan_e18, why);
    m->has_scan = json_object_get(v, "scan") != NULL;
    if (err == RL_OK)
        err = group_of(b, v, path, name, &m->group, why);
    if (err == RL_OK) {
        const json_t *tiers = json_object_get(v, "tiers");
        err = tiers ? parse_tiers(tiers, path, m, why) : rl_fail(why, RL_ERR_ARG, "%s.tiers: missing", path);
    }
    const json_t *vol = json_object_get(v, "vol");
    if (err == RL_OK && vol != NULL) {
        char vp[JPATH_MAX + 32];
        snprintf(vp, sizeof vp, "%s.vol", path);
        static const char *const vfields[] = {"sigma", "sigma_ref", "cap", NULL};
        const i128 tiny = 1;
        m->has_vol = true;
        err = need_object(vol, vp, why);
        if (err == RL_OK)
            err = only_fields(vol, vp, vfields, why);
        if (err == RL_OK)
            err = get_e18(vol, vp, "sigma_ref", false, 0, false, &tiny, NULL, &m->sigma_ref_e18, why);
        if (err == RL_OK) /* live: where the EWMA starts, sigma_ref unless given */
            err = get_e18(vol, vp, "sigma", live, m->sigma_ref_e18, false, NULL, NULL, &m->sigma_e18, why);
        if (err == RL_OK)
            err = get_e18(vol, vp, "cap", false, 0, false, &ONE, NULL, &m->cap_e18, why);
    }
    return err;
}

/* One collateral entry: {"chain", "asset", "amount"} with amount within the asset's decimals. */
static rl_err parse_holding(mg_book *b, const json_t *v, const char *path, bool positive, mg_holding *h, rl_why *why)
{
    static const char *const fields[] = {"chain", "asset", "amount", NULL};
    static const char *const wfields[] = {"chain", "asset", "amount", "market", NULL};
    const char *chain, *asset, *amount;
    rl_err err = need_object(v, path, why);
    if (err == RL_OK)
        err = only_fields(v, path, positive ? wfields : fields, why);
    if (err == RL_OK)
        err = get_string(v, path, "chain", false, &chain, why);
    if (err == RL_OK)
        err = get_string(v, path, "asset", false, &asset, why);
    if (err == RL_OK)
        err = get_string(v, path, "amount", false, &amount, why);
    if (err != RL_OK)
        return err;
    if (chain[0] == '\0' || strlen(chain) >= MG_NAME_MAX)
        return rl_fail(why, RL_ERR_ARG, "%s.chain: a name of 1..%d characters", path, MG_NAME_MAX - 1);
    int a = -1;
    for (size_t i = 0; i < b->nassets && a < 0; i++)
        if (strcmp(b->assets[i].name, asset) == 0)
            a = (int)i;
    if (a < 0)
        return rl_fail(why, RL_ERR_ARG, "%s.asset: no asset \"%s\" in assets", path, asset);
    int c = name_index(&b->chains, &b->nchains, chain, true);
    if (c < 0)
        return rl_fail(why, RL_ERR_NOMEM, "%s.chain: too many chains", path);
    h->asset = (uint16_t)a;
    h->chain = (uint16_t)c;
    if ((err = fixed_parse_base(&h->amount, amount, b->assets[a].decimals, why)) != RL_OK) {
        if (strstr(why->text, "decimals; at most") != NULL)
            rl_why_prefix(why, "%s has %u decimals: ", asset, b->assets[a].decimals);
        rl_why_prefix(why, "%s.amount: ", path);
        return err;
    }
    if (positive && u256_is_zero(&h->amount))
        return rl_fail(why, RL_ERR_ARG, "%s.amount: must be above zero", path);
    return RL_OK;
}

static rl_err parse_collateral(mg_book *b, const json_t *list, const char *path, mg_holding *out, size_t *n,
                               rl_why *why)
{
    if (!json_is_array(list))
        return rl_fail(why, RL_ERR_ARG, "%s: expected an array", path);
    size_t i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        char hp[JPATH_MAX + 64];
        snprintf(hp, sizeof hp, "%s[%zu]", path, i);
        rl_err err = parse_holding(b, v, hp, false, &out[i], why);
        if (err != RL_OK)
            return err;
        for (size_t j = 0; j < i; j++)
            if (out[j].chain == out[i].chain && out[j].asset == out[i].asset)
                return rl_fail(why, RL_ERR_ARG, "%s: %s on %s is listed twice (as [%zu])", hp,
                               b->assets[out[i].asset].name, b->chains[out[i].chain], j);
    }
    *n = json_array_size(list);
    return RL_OK;
}

static int market_index(const mg_book *b, const char *name)
{
    for (size_t i = 0; i < b->nmarkets; i++)
        if (strcmp(b->markets[i].name, name) == 0)
            return (int)i;
    return -1;
}

static rl_err parse_positions(mg_spec *s, const json_t *list, rl_why *why)
{
    mg_book *b = &s->book;
    if (!json_is_array(list))
        return rl_fail(why, RL_ERR_ARG, "account.positions: expected an array");
    size_t np = json_array_size(list), ncoll = 0, i;
    const json_t *v;
    json_array_foreach(list, i, v) {
        const json_t *c = json_object_get(v, "collateral");
        ncoll += json_is_array(c) ? json_array_size(c) : 0;
    }
    s->positions = calloc(np ? np : 1, sizeof *s->positions);
    s->pos_collateral = calloc(ncoll ? ncoll : 1, sizeof *s->pos_collateral);
    if (s->positions == NULL || s->pos_collateral == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "account.positions: out of memory");
    static const char *const fields[] = {"market", "size", "entry", "collateral", NULL};
    size_t used = 0;
    json_array_foreach(list, i, v) {
        char pp[JPATH_MAX];
        snprintf(pp, sizeof pp, "account.positions[%zu]", i);
        mg_position *p = &s->positions[i];
        const char *market;
        rl_err err = need_object(v, pp, why);
        if (err == RL_OK)
            err = only_fields(v, pp, fields, why);
        if (err == RL_OK)
            err = get_string(v, pp, "market", false, &market, why);
        if (err != RL_OK)
            return err;
        int m = market_index(b, market);
        if (m < 0)
            return rl_fail(why, RL_ERR_ARG, "%s.market: no market \"%s\" in markets", pp, market);
        for (size_t j = 0; j < i; j++)
            if (s->positions[j].market == m)
                return rl_fail(why, RL_ERR_ARG, "%s.market: a second position in %s (first at [%zu])", pp, market, j);
        p->market = (uint16_t)m;
        err = get_e18(v, pp, "size", false, 0, true, NULL, NULL, &p->size_e18, why);
        if (err == RL_OK)
            err = get_e18(v, pp, "entry", false, 0, false, NULL, NULL, &p->entry_e18, why);
        if (err != RL_OK)
            return err;
        if (s->account.mode == MG_PORTFOLIO && !b->markets[m].has_scan)
            return rl_fail(why, RL_ERR_ARG, "%s: market %s has no scan, which portfolio mode needs", pp, market);
        const json_t *c = json_object_get(v, "collateral");
        if (c != NULL && s->account.mode != MG_ISOLATED)
            return rl_fail(why, RL_ERR_ARG, "%s.collateral: a position has its own collateral only in isolated mode", pp);
        if (c != NULL) {
            char cp[JPATH_MAX + 32];
            snprintf(cp, sizeof cp, "%s.collateral", pp);
            size_t n;
            if ((err = parse_collateral(b, c, cp, s->pos_collateral + used, &n, why)) != RL_OK)
                return err;
            p->collateral = s->pos_collateral + used;
            p->ncollateral = (uint32_t)n;
            used += n;
        }
    }
    s->account.positions = s->positions;
    s->account.npositions = np;
    return RL_OK;
}

static rl_err parse_account(mg_spec *s, const json_t *acct, rl_why *why)
{
    static const char *const fields[] = {"mode", "collateral", "positions", "withdraw", NULL};
    const char *mode;
    rl_err err = need_object(acct, "account", why);
    if (err == RL_OK)
        err = only_fields(acct, "account", fields, why);
    if (err == RL_OK)
        err = get_string(acct, "account", "mode", false, &mode, why);
    if (err != RL_OK)
        return err;
    if (strcmp(mode, "cross") == 0)
        s->account.mode = MG_CROSS;
    else if (strcmp(mode, "isolated") == 0)
        s->account.mode = MG_ISOLATED;
    else if (strcmp(mode, "portfolio") == 0)
        s->account.mode = MG_PORTFOLIO;
    else
        return rl_fail(why, RL_ERR_ARG, "account.mode: \"%s\" is not cross, isolated or portfolio", mode);
    const json_t *coll = json_object_get(acct, "collateral");
    size_t n = coll && json_is_array(coll) ? json_array_size(coll) : 0;
    s->holdings = calloc(n ? n : 1, sizeof *s->holdings);
    if (s->holdings == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "account.collateral: out of memory");
    if (coll != NULL && (err = parse_collateral(&s->book, coll, "account.collateral", s->holdings, &n, why)) != RL_OK)
        return err;
    s->account.holdings = s->holdings;
    s->account.nholdings = n;
    const json_t *pos = json_object_get(acct, "positions");
    if (pos != NULL && (err = parse_positions(s, pos, why)) != RL_OK)
        return err;
    const json_t *w = json_object_get(acct, "withdraw");
    if (w == NULL)
        return RL_OK;
    mg_holding h;
    if ((err = parse_holding(&s->book, w, "account.withdraw", true, &h, why)) != RL_OK)
        return err;
    s->has_withdraw = true;
    s->withdraw = (mg_withdraw){.chain = h.chain, .asset = h.asset, .amount = h.amount, .market = -1};
    const char *market;
    if ((err = get_string(w, "account.withdraw", "market", true, &market, why)) != RL_OK || market == NULL)
        return err;
    if (s->account.mode != MG_ISOLATED)
        return rl_fail(why, RL_ERR_ARG, "account.withdraw.market: only in isolated mode");
    if ((s->withdraw.market = market_index(&s->book, market)) < 0)
        return rl_fail(why, RL_ERR_ARG, "account.withdraw.market: no market \"%s\" in markets", market);
    return RL_OK;
}

/* assets, markets and params into b; `fields` are the top-level fields allowed. In a query,
 * portfolio mode (portfolio) needs the portfolio parameters; live, they default to a floor of 0
 * and a maintenance ratio of 1. */
static rl_err parse_book(const json_t *root, const char *what, const char *const *fields, bool live, bool portfolio,
                         mg_book *b, rl_why *why)
{
    rl_err err = need_object(root, what, why);
    if (err == RL_OK)
        err = only_fields(root, what, fields, why);
    const json_t *assets = json_object_get(root, "assets"), *markets = json_object_get(root, "markets");
    if (err == RL_OK && (assets == NULL || need_object(assets, "assets", why) != RL_OK))
        err = rl_fail(why, RL_ERR_ARG, "assets: expected an object of assets by name");
    if (err == RL_OK && markets != NULL && need_object(markets, "markets", why) != RL_OK)
        err = RL_ERR_ARG;
    if (err != RL_OK)
        return err;
    b->nassets = json_object_size(assets);
    b->nmarkets = markets ? json_object_size(markets) : 0;
    if (b->nassets > MAX_ITEMS || b->nmarkets > MAX_ITEMS)
        return rl_fail(why, RL_ERR_ARG, "at most %d assets and %d markets", MAX_ITEMS, MAX_ITEMS);
    b->assets = calloc(b->nassets ? b->nassets : 1, sizeof *b->assets);
    b->markets = calloc(b->nmarkets ? b->nmarkets : 1, sizeof *b->markets);
    if (b->assets == NULL || b->markets == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "out of memory");
    const char *name;
    json_t *v;
    size_t i = 0;
    json_object_foreach((json_t *)assets, name, v) {
        if ((err = parse_asset(b, name, v, live, &b->assets[i++], why)) != RL_OK)
            return err;
    }
    i = 0;
    if (markets != NULL) {
        json_object_foreach((json_t *)markets, name, v) {
            if ((err = parse_market(b, name, v, live, &b->markets[i++], why)) != RL_OK)
                return err;
        }
    }
    const json_t *params = json_object_get(root, "params");
    static const char *const pfields[] = {"liquidation_fee", "portfolio_floor", "portfolio_mm_ratio", NULL};
    static const char *const lpfields[] = {"liquidation_fee", "portfolio_floor", "portfolio_mm_ratio", "ewma_lambda",
                                           "ewma_interval_ms", NULL};
    json_t *empty = json_object();
    const json_t *p = params ? params : empty;
    err = need_object(p, "params", why);
    if (err == RL_OK)
        err = only_fields(p, "params", live ? lpfields : pfields, why);
    if (err == RL_OK)
        err = get_e18(p, "params", "liquidation_fee", true, 0, false, &ZERO, &ONE, &b->params.liquidation_fee_e18, why);
    if (err == RL_OK)
        err = get_e18(p, "params", "portfolio_floor", !portfolio, 0, false, &ZERO, &ONE, &b->params.portfolio_floor_e18,
                      why);
    if (err == RL_OK)
        err = get_e18(p, "params", "portfolio_mm_ratio", !portfolio, FIXED_E18, false, &ZERO, &ONE,
                      &b->params.portfolio_mm_ratio_e18, why);
    json_decref(empty);
    return err;
}

rl_err mg_spec_parse(const json_t *root, mg_spec *s, rl_why *why)
{
    memset(s, 0, sizeof *s);
    static const char *const fields[] = {"assets", "markets", "params", "account", NULL};
    const json_t *acct = json_object_get(root, "account");
    const json_t *mode = json_object_get(acct, "mode");
    bool portfolio = json_is_string(mode) && strcmp(json_string_value(mode), "portfolio") == 0;
    rl_err err = parse_book(root, "the query", fields, false, portfolio, &s->book, why);
    if (err == RL_OK && acct == NULL)
        err = rl_fail(why, RL_ERR_ARG, "account: missing");
    if (err == RL_OK)
        err = parse_account(s, acct, why);
    if (err != RL_OK)
        mg_spec_fini(s);
    return err;
}

void mg_spec_fini(mg_spec *s)
{
    free(s->book.assets);
    free(s->book.markets);
    free(s->book.chains);
    free(s->book.groups);
    free(s->holdings);
    free(s->positions);
    free(s->pos_collateral);
    memset(s, 0, sizeof *s);
}

/* ---- live risk parameters ------------------------------------------------------------------ */

static rl_err parse_tokens(mg_risk *r, size_t asset, const json_t *tokens, rl_why *why)
{
    const mg_book *b = &r->book;
    char path[JPATH_MAX];
    snprintf(path, sizeof path, "assets.%s.tokens", b->assets[asset].name);
    if (tokens == NULL)
        return rl_fail(why, RL_ERR_ARG, "%s: missing (which token is this asset on which chain)", path);
    rl_err err = need_object(tokens, path, why);
    const char *chain;
    json_t *v;
    json_object_foreach((json_t *)tokens, chain, v) {
        if (err != RL_OK)
            break;
        int c = name_index(&r->book.chains, &r->book.nchains, chain, false);
        if (c < 0)
            return rl_fail(why, RL_ERR_ARG, "%s.%s: no chain \"%s\" in chains", path, chain, chain);
        if (!json_is_string(v))
            return rl_fail(why, RL_ERR_ARG, "%s.%s: expected a \"0x...\" address", path, chain);
        mg_token *t = &r->tokens[r->ntokens];
        const char *hex = json_string_value(v);
        if (strncmp(hex, "0x", 2) != 0 || hex_decode(t->address, EVM_ADDR_BYTES, hex + 2, "token address", why) != RL_OK)
            return rl_fail(why, RL_ERR_ARG, "%s.%s: \"%s\" is not a 20-byte 0x address", path, chain, hex);
        t->chain = (uint16_t)c;
        t->asset = (uint16_t)asset;
        t->chain_id = r->chain_ids[c];
        for (size_t j = 0; j < r->ntokens; j++)
            if (r->tokens[j].chain_id == t->chain_id && memcmp(r->tokens[j].address, t->address, EVM_ADDR_BYTES) == 0)
                return rl_fail(why, RL_ERR_ARG, "%s.%s: token %s is already asset %s on that chain", path, chain, hex,
                               b->assets[r->tokens[j].asset].name);
        r->ntokens++;
    }
    return err;
}

static rl_err addr_of(const json_t *v, const char *path, uint8_t out[EVM_ADDR_BYTES], rl_why *why)
{
    const char *hex = json_is_string(v) ? json_string_value(v) : "";
    static const uint8_t zero[EVM_ADDR_BYTES];
    if (strncmp(hex, "0x", 2) != 0 || hex_decode(out, EVM_ADDR_BYTES, hex + 2, path, NULL) != RL_OK ||
        memcmp(out, zero, EVM_ADDR_BYTES) == 0)
        return rl_fail(why, RL_ERR_ARG, "%s: expected a non-zero 20-byte \"0x...\" address", path);
    return RL_OK;
}

/* One entry of "chains": a chain id, or {"chain_id", "vault", "insurance", ["deadline_s"]}. */
static rl_err parse_chain(const json_t *v, const char *path, uint64_t *chain_id, mg_chain *out, rl_why *why)
{
    const json_t *id = json_is_object(v) ? json_object_get(v, "chain_id") : v;
    if (!json_is_integer(id) || json_integer_value(id) <= 0)
        return rl_fail(why, RL_ERR_ARG, "%s: expected a positive integer chain id, or {\"chain_id\", \"vault\", "
                                        "\"insurance\", [\"deadline_s\"]}",
                       path);
    *chain_id = (uint64_t)json_integer_value(id);
    if (!json_is_object(v))
        return RL_OK;
    static const char *const fields[] = {"chain_id", "vault", "insurance", "deadline_s", NULL};
    char sub[JPATH_MAX + 16];
    json_int_t deadline = 3600;
    rl_err err = only_fields(v, path, fields, why);
    snprintf(sub, sizeof sub, "%s.vault", path);
    if (err == RL_OK)
        err = addr_of(json_object_get(v, "vault"), sub, out->vault, why);
    snprintf(sub, sizeof sub, "%s.insurance", path);
    if (err == RL_OK)
        err = addr_of(json_object_get(v, "insurance"), sub, out->insurance, why);
    if (err == RL_OK && json_object_get(v, "deadline_s") != NULL)
        err = get_int(v, path, "deadline_s", MG_DEADLINE_MIN_S, 30 * 86400, &deadline, why);
    out->has_vault = err == RL_OK;
    out->deadline_s = (uint64_t)deadline;
    return err;
}

static rl_err feed_of(const json_t *obj, const char *path, const char *own, char out[MG_NAME_MAX], rl_why *why)
{
    const char *f;
    rl_err err = get_string(obj, path, "feed", true, &f, why);
    if (err != RL_OK)
        return err;
    f = f ? f : own;
    uint8_t enc[PRICE_FEED_BYTES];
    if ((err = name16_put(enc, f, "feed", why)) != RL_OK) {
        rl_why_prefix(why, "%s.feed: ", path);
        return err;
    }
    snprintf(out, MG_NAME_MAX, "%s", f);
    return RL_OK;
}

rl_err mg_risk_parse(const json_t *root, mg_risk *r, rl_why *why)
{
    memset(r, 0, sizeof *r);
    static const char *const fields[] = {"chains", "assets", "markets", "params", "prices", NULL};
    mg_book *b = &r->book;
    rl_err err = parse_book(root, "the risk parameters", fields, true, false, b, why);
    const json_t *chains = json_object_get(root, "chains");
    if (err == RL_OK && (chains == NULL || !json_is_object(chains) || json_object_size(chains) == 0))
        err = rl_fail(why, RL_ERR_ARG, "chains: expected an object of chain ids by name");
    if (err == RL_OK && ((r->chain_ids = calloc(json_object_size(chains), sizeof *r->chain_ids)) == NULL ||
                         (r->chain_ops = calloc(json_object_size(chains), sizeof *r->chain_ops)) == NULL ||
                         (r->asset_feed = calloc(b->nassets + 1, sizeof *r->asset_feed)) == NULL ||
                         (r->market_feed = calloc(b->nmarkets + 1, sizeof *r->market_feed)) == NULL))
        err = RL_ERR_NOMEM;
    const char *name;
    json_t *v;
    if (err == RL_OK) {
        json_object_foreach((json_t *)chains, name, v) {
            char path[JPATH_MAX];
            snprintf(path, sizeof path, "chains.%s", name);
            uint64_t id = 0;
            mg_chain ops = {0};
            if ((err = parse_chain(v, path, &id, &ops, why)) != RL_OK)
                break;
            if (strlen(name) == 0 || strlen(name) >= MG_NAME_MAX) {
                err = rl_fail(why, RL_ERR_ARG, "%s: a name of 1..%d characters", path, MG_NAME_MAX - 1);
                break;
            }
            for (size_t j = 0; j < b->nchains; j++)
                if (r->chain_ids[j] == id)
                    err = rl_fail(why, RL_ERR_ARG, "%s: chain id %llu is also %s", path, (unsigned long long)id,
                                  b->chains[j]);
            int c = err == RL_OK ? name_index(&b->chains, &b->nchains, name, true) : 0;
            if (err == RL_OK && c < 0)
                err = RL_ERR_NOMEM;
            if (err != RL_OK)
                break;
            r->chain_ids[c] = id;
            r->chain_ops[c] = ops;
        }
    }
    const json_t *assets = json_object_get(root, "assets"), *markets = json_object_get(root, "markets");
    size_t ntok = 0, i = 0;
    json_object_foreach((json_t *)assets, name, v) {
        const json_t *t = json_object_get(v, "tokens");
        ntok += json_is_object(t) ? json_object_size(t) : 0;
    }
    if (err == RL_OK && (r->tokens = calloc(ntok + 1, sizeof *r->tokens)) == NULL)
        err = RL_ERR_NOMEM;
    if (err == RL_OK) {
        json_object_foreach((json_t *)assets, name, v) {
            char path[JPATH_MAX];
            snprintf(path, sizeof path, "assets.%s", name);
            if ((err = parse_tokens(r, i, json_object_get(v, "tokens"), why)) != RL_OK ||
                (err = feed_of(v, path, name, r->asset_feed[i], why)) != RL_OK)
                break;
            i++;
        }
    }
    i = 0;
    if (err == RL_OK && markets != NULL) {
        json_object_foreach((json_t *)markets, name, v) {
            char path[JPATH_MAX];
            snprintf(path, sizeof path, "markets.%s", name);
            if ((err = feed_of(v, path, name, r->market_feed[i++], why)) != RL_OK)
                break;
        }
    }
    const json_t *params = json_object_get(root, "params");
    static const i128 lo = 0, hi = FIXED_E18 - 1;
    if (err == RL_OK)
        err = get_e18(params ? params : root, "params", "ewma_lambda", true, FIXED_E18 / 100 * 94, false, &lo, &hi,
                      &r->ewma_lambda_e18, why);
    json_int_t interval = 60000;
    if (err == RL_OK && params != NULL && json_object_get(params, "ewma_interval_ms") != NULL)
        err = get_int(params, "params", "ewma_interval_ms", 1000, 86400000, &interval, why);
    r->ewma_interval_ms = (uint64_t)interval;
    const json_t *prices = json_object_get(root, "prices");
    static const char *const pfields[] = {"max_deviation", "max_age_ms", NULL};
    json_int_t age = 0;
    if (err == RL_OK && prices == NULL)
        err = rl_fail(why, RL_ERR_ARG, "prices: missing ({\"max_deviation\": \"0.02\", \"max_age_ms\": 60000})");
    if (err == RL_OK)
        err = need_object(prices, "prices", why);
    if (err == RL_OK)
        err = only_fields(prices, "prices", pfields, why);
    if (err == RL_OK)
        err = get_e18(prices, "prices", "max_deviation", false, 0, false, &ZERO, &ONE, &r->max_dev_e18, why);
    if (err == RL_OK)
        err = get_int(prices, "prices", "max_age_ms", 1, 86400000, &age, why);
    r->max_age_ms = (uint64_t)age;
    char *canon = err == RL_OK ? json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    if (err == RL_OK && canon == NULL)
        err = RL_ERR_NOMEM;
    if (canon != NULL) {
        hash_domain(r->digest, HASH_DOMAIN_RISK, canon, strlen(canon));
        free(canon);
    }
    if (err != RL_OK)
        mg_risk_fini(r);
    return err;
}

void mg_risk_fini(mg_risk *r)
{
    free(r->book.assets);
    free(r->book.markets);
    free(r->book.chains);
    free(r->book.groups);
    free(r->chain_ids);
    free(r->chain_ops);
    free(r->tokens);
    free(r->asset_feed);
    free(r->market_feed);
    memset(r, 0, sizeof *r);
}

const mg_token *mg_risk_token(const mg_risk *r, uint64_t chain_id, const uint8_t address[EVM_ADDR_BYTES])
{
    for (size_t i = 0; i < r->ntokens; i++)
        if (r->tokens[i].chain_id == chain_id && memcmp(r->tokens[i].address, address, EVM_ADDR_BYTES) == 0)
            return &r->tokens[i];
    return NULL;
}

const mg_chain *mg_risk_chain(const mg_risk *r, uint64_t chain_id)
{
    for (size_t c = 0; c < r->book.nchains; c++)
        if (r->chain_ids[c] == chain_id)
            return r->chain_ops[c].has_vault ? &r->chain_ops[c] : NULL;
    return NULL;
}

const mg_token *mg_risk_token_at(const mg_risk *r, uint16_t chain, uint16_t asset)
{
    for (size_t i = 0; i < r->ntokens; i++)
        if (r->tokens[i].chain == chain && r->tokens[i].asset == asset)
            return &r->tokens[i];
    return NULL;
}

/* ---- output --------------------------------------------------------------------------------- */

static json_t *usd(i128 v)
{
    char buf[FIXED_STR_MAX];
    return json_string(fixed_format_i128(v, FIXED_U_DIGITS, true, buf));
}

static json_t *seize_json(const mg_book *b, const mg_seize *s, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        char amt[FIXED_STR_MAX];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:o}", "chain", b->chains[s[i].chain], "asset",
                                             b->assets[s[i].asset].name, "amount",
                                             fixed_format_base(&s[i].amount, b->assets[s[i].asset].decimals, amt), "value",
                                             usd(s[i].value_u)));
    }
    return arr;
}

static const char *move_name(int thirds)
{
    switch (thirds) {
    case -6: return "-2";
    case -3: return "-1";
    case -2: return "-2/3";
    case -1: return "-1/3";
    case 0: return "0";
    case 1: return "1/3";
    case 2: return "2/3";
    case 3: return "1";
    case 6: return "2";
    }
    return "?";
}

json_t *mg_result_to_json(const mg_spec *s, const mg_result *r)
{
    const mg_book *b = &s->book;
    const mg_account *a = &s->account;
    json_t *o = json_object();
    json_object_set_new(o, "mode", json_string(a->mode == MG_CROSS ? "cross" : a->mode == MG_ISOLATED ? "isolated" : "portfolio"));
    json_object_set_new(o, "equity", usd(r->fig.equity_u));
    json_object_set_new(o, "initial_margin", usd(r->fig.im_u));
    json_object_set_new(o, "maintenance_margin", usd(r->fig.mm_u));
    json_object_set_new(o, "free_collateral", usd(r->free_u));
    json_object_set_new(o, "status", json_string(mg_status_name(r->fig.status)));
    json_t *pos = json_array();
    for (size_t i = 0; i < a->npositions; i++) {
        const mg_position *p = &a->positions[i];
        const mg_pos_result *pr = &r->positions[i];
        char size[FIXED_STR_MAX], entry[FIXED_STR_MAX];
        json_t *line = json_pack("{s:s, s:s, s:s, s:o, s:o}", "market", b->markets[p->market].name, "size",
                                 fixed_format_i128(p->size_e18, FIXED_E18_DIGITS, false, size), "entry",
                                 fixed_format_i128(p->entry_e18, FIXED_E18_DIGITS, false, entry), "notional",
                                 usd(pr->notional_u), "pnl", usd(pr->pnl_u));
        if (a->mode != MG_PORTFOLIO) {
            json_object_set_new(line, "initial_margin", usd(pr->im_u));
            json_object_set_new(line, "maintenance_margin", usd(pr->mm_u));
        }
        if (a->mode == MG_ISOLATED) {
            json_object_set_new(line, "equity", usd(pr->fig.equity_u));
            json_object_set_new(line, "status", json_string(mg_status_name(pr->fig.status)));
            if (pr->fig.status == MG_LIQUIDATABLE) {
                json_object_set_new(line, "seize", seize_json(b, r->seize + pr->seize_at, pr->nseize));
                json_object_set_new(line, "bad_debt", usd(pr->bad_debt_u));
            }
        }
        json_array_append_new(pos, line);
    }
    json_object_set_new(o, "positions", pos);
    if (r->withdraw_asked) {
        json_object_set_new(o, "withdraw_allowed", json_boolean(r->withdraw_allowed));
        if (!r->withdraw_allowed)
            json_object_set_new(o, "withdraw_reason", json_string(r->withdraw_why));
    }
    if (r->fig.status == MG_LIQUIDATABLE) {
        json_object_set_new(o, "owed", usd(r->owed_u));
        json_object_set_new(o, "seize", seize_json(b, r->seize, r->nseize));
        json_object_set_new(o, "bad_debt", usd(r->bad_debt_u));
    }
    if (a->mode == MG_PORTFOLIO) {
        json_t *sc = json_array();
        for (size_t i = 0; i < r->nscenarios; i++)
            json_array_append_new(sc, json_pack("{s:s, s:s, s:s, s:o}", "group", b->groups[r->scenarios[i].group],
                                                "move", move_name(r->scenarios[i].move_thirds), "weight",
                                                r->scenarios[i].weighted ? "0.35" : "1", "loss",
                                                usd(r->scenarios[i].loss_u)));
        json_object_set_new(o, "scenarios", sc);
    }
    return o;
}
