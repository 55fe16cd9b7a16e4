/*
 * cmd_bench_margin.c - `relayer bench margin`: the live calculator's cost, in memory.
 *
 * N cross accounts (default 1,000,000), 3 holdings and 4 positions each, over 10 assets and 8
 * markets. One asset ("RARE") is held by exactly 1 % of accounts. Measured: a full sweep
 * (every account's equity, IM, MM and status), then ticks of RARE's price, each recomputing only
 * the exposed accounts through the exposure index. The bound is the sweep itself, scaled to the
 * exposed fraction: ratio = tick time / (sweep time x exposed fraction), target <= 2.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collateral/accounts.h"
#include "relayer/bench.h"
#include "relayer/cmd.h"

#define NASSETS 10
#define NMARKETS 8
#define RARE (NASSETS - 1)
#define HOLDINGS 3
#define POSITIONS 4
#define TICKS 21 /* odd: the median is one tick */
#define SWEEPS 3

static uint64_t rnd(uint64_t *st, uint64_t n)
{
    *st ^= *st << 13;
    *st ^= *st >> 7;
    *st ^= *st << 17;
    return *st % n;
}

static void make_book(mg_book *b, mg_asset *assets, mg_market *markets, char (*chains)[MG_NAME_MAX],
                      char (*groups)[MG_NAME_MAX])
{
    for (int i = 0; i < NASSETS; i++) {
        assets[i] = (mg_asset){.decimals = i % 2 ? 6 : 18,
                               .price_e18 = (i128)(1 + 37 * i) * FIXED_E18,
                               .haircut_e18 = FIXED_E18 / 20 * (i % 4),
                               .seize_priority = i,
                               .group = (uint16_t)i};
        snprintf(assets[i].name, MG_NAME_MAX, i == RARE ? "RARE" : "A%d", i);
        memcpy(groups[i], assets[i].name, MG_NAME_MAX);
    }
    for (int i = 0; i < NMARKETS; i++) {
        markets[i] = (mg_market){.mark_e18 = (i128)(100 + 900 * i) * FIXED_E18, .group = (uint16_t)i, .ntiers = 2};
        snprintf(markets[i].name, MG_NAME_MAX, "M%d-PERP", i);
        markets[i].tiers[0] = (mg_tier){0, FIXED_E18 / 20, FIXED_E18 * 3 / 100};
        markets[i].tiers[1] = (mg_tier){(i128)1000000 * FIXED_E18, FIXED_E18 / 10, FIXED_E18 / 20};
        markets[i].has_vol = i % 2 == 0;
        markets[i].sigma_e18 = FIXED_E18 * 3 / 100;
        markets[i].sigma_ref_e18 = FIXED_E18 * 2 / 100;
        markets[i].cap_e18 = 3 * FIXED_E18;
    }
    snprintf(chains[0], MG_NAME_MAX, "l1");
    snprintf(chains[1], MG_NAME_MAX, "l2");
    *b = (mg_book){.assets = assets, .nassets = NASSETS, .markets = markets, .nmarkets = NMARKETS,
                   .chains = chains, .nchains = 2, .groups = groups, .ngroups = NASSETS,
                   .params = {.liquidation_fee_e18 = FIXED_E18 / 100}};
}

int bench_margin(int argc, char **argv)
{
    static const struct option opts[] = {{"accounts", required_argument, NULL, 'a'}, {NULL, 0, NULL, 0}};
    unsigned long long naccounts = 1000000;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'a' || (naccounts = strtoull(optarg, NULL, 10)) < 100 || naccounts > 50000000) {
            fprintf(stderr, "usage: relayer bench margin [--accounts N]   (100 .. 50000000)\n");
            return EXIT_USAGE;
        }
    }
    mg_asset assets[NASSETS];
    mg_market markets[NMARKETS];
    char chains[2][MG_NAME_MAX], groups[NASSETS][MG_NAME_MAX];
    mg_book book;
    make_book(&book, assets, markets, chains, groups);
    mg_accounts s;
    rl_why why = {{0}};
    if (mg_accounts_init(&s, &book, naccounts, naccounts * HOLDINGS, naccounts * POSITIONS) != RL_OK) {
        fprintf(stderr, "bench margin: out of memory for %llu accounts\n", naccounts);
        return EXIT_USAGE;
    }
    fprintf(stderr, "bench margin: loading %llu accounts (%d holdings, %d positions each)...\n", naccounts, HOLDINGS,
            POSITIONS);
    uint64_t st = 0x2545f4914f6cdd1dull;
    rl_err err = RL_OK;
    for (uint64_t i = 0; i < naccounts && err == RL_OK; i++) {
        mg_holding h[HOLDINGS];
        mg_position p[POSITIONS];
        /* three distinct assets; RARE only for every hundredth account */
        uint16_t first = (uint16_t)(i % 100 == 0 ? RARE : rnd(&st, RARE));
        for (int k = 0; k < HOLDINGS; k++) {
            uint16_t a = k == 0 ? first : (uint16_t)((first + k * 3) % RARE);
            h[k] = (mg_holding){.chain = (uint16_t)(k % 2), .asset = a,
                                .amount = u256_from_u64((1 + rnd(&st, 1000)) * (a % 2 ? 1000000ull : 1000000000000000000ull))};
        }
        uint16_t m0 = (uint16_t)rnd(&st, NMARKETS);
        for (int k = 0; k < POSITIONS; k++) {
            const mg_market *m = &markets[(m0 + 2 * k) % NMARKETS];
            i128 size = ((i128)rnd(&st, 2000) - 1000) * FIXED_E18 / 100;
            p[k] = (mg_position){.market = (uint16_t)((m0 + 2 * k) % NMARKETS), .size_e18 = size ? size : FIXED_E18,
                                 .entry_e18 = m->mark_e18 / 100 * (i128)(90 + rnd(&st, 20))};
        }
        uint32_t id;
        err = mg_accounts_add(&s, MG_CROSS, h, HOLDINGS, p, POSITIONS, &id, &why);
    }
    if (err == RL_OK)
        err = mg_accounts_index(&s, &why);
    mg_ctx ctx;
    if (err == RL_OK && (err = mg_ctx_init(&ctx, &book)) != RL_OK)
        rl_fail(&why, err, "out of memory for the calculator's context");
    if (err != RL_OK) {
        fprintf(stderr, "bench margin: %s\n", why.text[0] ? why.text : rl_strerror(err));
        mg_accounts_fini(&s);
        return EXIT_USAGE;
    }
    uint64_t sweeps[SWEEPS], ticks[TICKS];
    size_t exposed = 0;
    for (int r = 0; r < SWEEPS && err == RL_OK; r++) {
        uint64_t t0 = bench_now_ns();
        err = mg_accounts_sweep(&s, &ctx, &why);
        sweeps[r] = bench_now_ns() - t0;
        fprintf(stderr, "bench margin: sweep %d: %.1f ms\n", r + 1, (double)sweeps[r] / 1e6);
    }
    size_t status_count[3] = {0, 0, 0};
    for (size_t i = 0; i < s.n; i++)
        status_count[s.fig[i].status]++;
    for (int r = 0; r < TICKS && err == RL_OK; r++) {
        assets[RARE].price_e18 = (i128)(300 + (r % 2 ? 40 : -40) + r) * FIXED_E18;
        uint64_t t0 = bench_now_ns();
        err = mg_accounts_reprice_asset(&s, &ctx, RARE, &exposed, &why);
        ticks[r] = bench_now_ns() - t0;
    }
    mg_ctx_fini(&ctx);
    if (err != RL_OK) {
        fprintf(stderr, "bench margin: %s\n", why.text[0] ? why.text : rl_strerror(err));
        mg_accounts_fini(&s);
        return EXIT_USAGE;
    }
    qsort(sweeps, SWEEPS, sizeof sweeps[0], bench_cmp_u64);
    qsort(ticks, TICKS, sizeof ticks[0], bench_cmp_u64);
    double sweep_ms = (double)sweeps[SWEEPS / 2] / 1e6, tick_ms = (double)ticks[TICKS / 2] / 1e6;
    double fraction = (double)exposed / (double)s.n;
    double rss_mb = bench_peak_rss_mb();
    printf("margin: %zu accounts: sweep %.1f ms (median of %d), %.0f ns per position; %zu healthy, %zu margin "
           "call, %zu liquidatable\n",
           s.n, sweep_ms, SWEEPS, (double)sweeps[SWEEPS / 2] / (double)(s.n * POSITIONS), status_count[0],
           status_count[1], status_count[2]);
    printf("margin: tick on RARE recomputes %zu accounts (%.2f %%) in %.2f ms (median of %d); bound %.2f ms\n",
           exposed, 100 * fraction, tick_ms, TICKS, sweep_ms * fraction);
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:f, s:I, s:f, s:f}", "bench", "margin", "accounts", (json_int_t)s.n,
                          "sweep_ms", sweep_ms, "ns_per_position",
                          (double)sweeps[SWEEPS / 2] / (double)(s.n * POSITIONS), "tick_ms", tick_ms,
                          "tick_accounts", (json_int_t)exposed, "rss_mb", rss_mb, "ratio",
                          tick_ms / (sweep_ms * fraction));
    char *line = json_dumps(j, JSON_COMPACT);
    puts(line);
    free(line);
    json_decref(j);
    mg_accounts_fini(&s);
    return 0;
}
