/*
 * margin.h - the margin calculator: collateral valuation, cross / isolated / portfolio margin,
 * status, withdrawal checks and seize plans.
 *
 * Pure and deterministic: the same book and account give the same figures bit for bit, on any
 * machine (integers only; scales in collateral/fixed.h). Every term is rounded once, to the
 * micro-dollar, against the account: values and PnL down, requirements up; totals are sums of
 * rounded terms.
 *
 *   holding value   amount x price x (1 - haircut)           (portfolio mode: no haircut)
 *   PnL             size x (mark - entry)
 *   margin          progressive tiers over notional N = |size| x mark: the part of N between one
 *                   tier's `from` and the next's is charged that tier's fraction (imf for initial,
 *                   mmf for maintenance), times min(cap, max(1, sigma / sigma_ref)) with `vol`
 *   cross           equity = values + PnL; IM, MM = sums over positions
 *   isolated        the rules per position over its own collateral; account collateral is free
 *   portfolio       per correlation group, scenarios move every price by f x its scan,
 *                   f in {-1, -2/3, -1/3, 0, 1/3, 2/3, 1} and +-2 at 35 %; a group's charge is its
 *                   worst loss (>= 0); IM = max(sum of charges, floor x gross notional),
 *                   MM = IM x portfolio_mm_ratio
 *   status          equity < MM: liquidatable; equity < IM: margin call; else healthy
 *   liquidation     owed = max(0, -sum PnL) + fee x gross notional, seized from holdings by
 *                   ascending seize_priority (ties: chain, then asset name), each valued at
 *                   price x (1 - haircut), the last one partly (amount rounded up to base units,
 *                   never above the holding); what is not covered is bad debt. Cross / portfolio:
 *                   the plan seizes owed - covered (what seizes already under way or done in this
 *                   liquidation will bring, the caller's figure), and holdings on chains marked
 *                   in defer_chain come after every other (then by the order above)
 */
#ifndef RL_MARGIN_H
#define RL_MARGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collateral/fixed.h"

#define MG_NAME_MAX 32
#define MG_MAX_TIERS 16
/* Scenario moves of the portfolio mode, in thirds of a scan: seven at full weight, two at 35 %. */
#define MG_SCENARIOS 9

typedef enum mg_mode { MG_CROSS, MG_ISOLATED, MG_PORTFOLIO } mg_mode;
typedef enum mg_status { MG_HEALTHY, MG_MARGIN_CALL, MG_LIQUIDATABLE } mg_status;

typedef struct mg_asset {
    char name[MG_NAME_MAX];
    unsigned decimals;      /* base units per whole unit = 10^decimals */
    i128 price_e18;         /* USD per whole unit, >= 0 */
    i128 haircut_e18;       /* 0 .. 1 */
    int32_t seize_priority; /* lower is seized first */
    uint16_t group;         /* correlation group (its own when none is named) */
    i128 scan_e18;          /* portfolio price move; 0 when absent: cash-like */
} mg_asset;

typedef struct mg_tier {
    i128 from_e18; /* USD notional where the tier starts; the first tier starts at 0 */
    i128 imf_e18, mmf_e18;
} mg_tier;

typedef struct mg_market {
    char name[MG_NAME_MAX];
    i128 mark_e18;
    uint16_t group;
    bool has_scan;
    i128 scan_e18;
    mg_tier tiers[MG_MAX_TIERS];
    unsigned ntiers;
    bool has_vol;
    i128 sigma_e18, sigma_ref_e18, cap_e18;
} mg_market;

typedef struct mg_params {
    i128 liquidation_fee_e18;
    i128 portfolio_floor_e18;
    i128 portfolio_mm_ratio_e18;
} mg_params;

/* What every account is valued against. Names index the arrays; chain names order seizes. */
typedef struct mg_book {
    mg_asset *assets;
    size_t nassets;
    mg_market *markets;
    size_t nmarkets;
    char (*chains)[MG_NAME_MAX];
    size_t nchains;
    char (*groups)[MG_NAME_MAX];
    size_t ngroups;
    mg_params params;
} mg_book;

typedef struct mg_holding {
    u256 amount; /* base units */
    uint16_t chain, asset;
} mg_holding;

typedef struct mg_position {
    i128 size_e18; /* signed: short < 0 */
    i128 entry_e18;
    uint16_t market;
    uint32_t ncollateral;          /* isolated mode: the position's own collateral */
    const mg_holding *collateral;
} mg_position;

typedef struct mg_account {
    mg_mode mode;
    const mg_holding *holdings; /* isolated mode: free collateral backing nothing */
    size_t nholdings;
    const mg_position *positions;
    size_t npositions;
    /* Liquidation, cross / portfolio (zero / NULL: none): value already on its way to the venue,
     * taken off what is owed before the plan; chains (book index) seized from last. */
    i128 covered_u;
    const bool *defer_chain;
} mg_account;

typedef struct mg_figures {
    i128 equity_u, im_u, mm_u;
    mg_status status;
} mg_figures;

typedef struct mg_seize {
    uint16_t chain, asset;
    u256 amount;  /* base units */
    i128 value_u; /* at price x (1 - haircut), down */
} mg_seize;

typedef struct mg_pos_result {
    i128 notional_u, pnl_u, im_u, mm_u;
    /* isolated mode: the position on its own */
    mg_figures fig;
    size_t seize_at, nseize; /* its slice of mg_result.seize */
    i128 bad_debt_u;
} mg_pos_result;

typedef struct mg_scenario {
    uint16_t group;
    int8_t move_thirds; /* f x 3 */
    bool weighted;      /* counts 35 % */
    i128 loss_u;
} mg_scenario;

typedef struct mg_withdraw {
    uint16_t chain, asset;
    u256 amount;
    int market; /* isolated mode: from this position's collateral; -1: free collateral */
} mg_withdraw;

typedef struct mg_result {
    mg_figures fig;
    i128 free_u;             /* cross/portfolio: max(0, equity - IM); isolated: free collateral */
    mg_pos_result *positions; /* one per account position */
    mg_seize *seize;          /* when liquidatable */
    size_t nseize;
    i128 owed_u, bad_debt_u;
    mg_scenario *scenarios; /* portfolio mode: every group x move */
    size_t nscenarios;
    bool withdraw_asked, withdraw_allowed;
    char withdraw_why[160];
} mg_result;

/* GMP temporaries reused across evaluations (one per thread). */
typedef struct mg_ctx {
    mpz_t a, b, c, d, e, gross;
    mpz_t *group_exposure; /* portfolio: per group, sum of scan x signed value (scale 10^90) */
    bool *group_touched;   /* portfolio: the account holds or trades something in the group */
    size_t ngroups;
} mg_ctx;

/* RL_ERR_NOMEM when the per-group arrays cannot be had (nothing to release then). */
RL_MUST_USE rl_err mg_ctx_init(mg_ctx *ctx, const mg_book *book);
void mg_ctx_fini(mg_ctx *ctx);

/* The terms, each rounded against the account. They fail only with RL_ERR_OVERFLOW, for inputs
 * whose results pass 1.7e32 USD. */
RL_MUST_USE rl_err mg_value_u(mg_ctx *ctx, const mg_asset *asset, const u256 *amount, bool haircut, i128 *out);
RL_MUST_USE rl_err mg_pnl_u(mg_ctx *ctx, const mg_market *m, i128 size_e18, i128 entry_e18, i128 *out);
RL_MUST_USE rl_err mg_margin_u(mg_ctx *ctx, const mg_market *m, i128 size_e18, bool maintenance, i128 *out);

/* Equity, IM, MM and status only: what the live calculator recomputes on every tick. No
 * allocation. */
RL_MUST_USE rl_err mg_figures_of(mg_ctx *ctx, const mg_book *book, const mg_account *acct, mg_figures *out,
                                 rl_why *why);

/* Everything `margin eval` reports: figures, per-position lines, the seize plan when
 * liquidatable, portfolio scenarios, and the withdrawal check when w is not NULL. The result owns
 * arrays; release them with mg_result_fini. */
RL_MUST_USE rl_err mg_evaluate(mg_ctx *ctx, const mg_book *book, const mg_account *acct, const mg_withdraw *w,
                               mg_result *out, rl_why *why);
void mg_result_fini(mg_result *r);

const char *mg_status_name(mg_status s);

#endif
