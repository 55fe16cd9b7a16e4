/*
 * spec.h - the what-if margin query as JSON: `relayer margin eval` input and output.
 *
 * Input (every number that is money is a decimal string; `decimals` and `seize_priority` are
 * integers; unknown fields are refused so a typo never silently changes a margin):
 *
 *   { "assets":  { NAME: {"price", "decimals", "haircut", "seize_priority", ["group"], ["scan"]} },
 *     "markets": { NAME: {"mark", "tiers": [{"from", "imf", "mmf"}...], ["group"], ["scan"],
 *                         ["vol": {"sigma", "sigma_ref", "cap"}]} },
 *     "params":  { ["liquidation_fee"], ["portfolio_floor"], ["portfolio_mm_ratio"] },
 *     "account": { "mode": "cross" | "isolated" | "portfolio",
 *                  "collateral": [{"chain", "asset", "amount"}...],
 *                  "positions":  [{"market", "size", "entry", ["collateral" (isolated only)]}...],
 *                  ["withdraw": {"chain", "asset", "amount", ["market" (isolated only)]}] } }
 *
 * Defaults: liquidation_fee 0; portfolio_floor and portfolio_mm_ratio are required in portfolio
 * mode, and every market needs a scan there (an asset without one is cash). An item without a
 * group is a group of its own. Errors name the path: `account.positions[1].market: no market
 * "BTC-PERP"`.
 *
 * Output: equity, initial_margin, maintenance_margin, free_collateral (USD, exactly 6 decimals),
 * status, positions, and when asked withdraw_allowed (+ withdraw_reason when refused); when
 * liquidatable owed, seize [{chain, asset, amount, value}] and bad_debt; in portfolio mode
 * scenarios [{group, move, weight, loss}]. Asset amounts are decimal strings in whole units.
 */
#ifndef RL_SPEC_H
#define RL_SPEC_H

#include <jansson.h>

#include "collateral/margin.h"

typedef struct mg_spec {
    mg_book book;
    mg_account account;
    mg_holding *holdings;   /* account collateral */
    mg_position *positions; /* account positions */
    mg_holding *pos_collateral; /* isolated positions' collateral, one arena */
    bool has_withdraw;
    mg_withdraw withdraw;
} mg_spec;

/* Parses and validates a query; on failure why names the JSON path and the problem. */
RL_MUST_USE rl_err mg_spec_parse(const json_t *root, mg_spec *out, rl_why *why);
void mg_spec_fini(mg_spec *s);

/* The result as the JSON object `margin eval` prints (new reference; NULL on allocation failure). */
json_t *mg_result_to_json(const mg_spec *s, const mg_result *r);

#endif
