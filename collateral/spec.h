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

/* The shortest deadline_s a risk file may give: long enough for a bundle to be co-signed and
 * mined on a local chain (the expiry tests run at this scale); a production chain wants its
 * finality time plus the executors' takeovers. */
#define MG_DEADLINE_MIN_S 5

#include "attest/hash.h"
#include "attest/keys.h"
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

/*
 * The live calculator's risk parameters (`relayer margin --config`, its `risk` file): the same
 * assets, markets and params as a query, without an account, plus where things come from:
 *
 *   { "chains":  { NAME: chain_id, or NAME: { "chain_id", "vault": "0x<CollateralVault>",
 *                                            "insurance": "0x<where seized collateral goes>",
 *                                            ["deadline_s"] (default 3600: how long an
 *                                            instruction may execute; MG_DEADLINE_MIN_S ..
 *                                            30 days) }, ... },
 *     "assets":  { NAME: {... but no "price" (prices come from the log), ["feed"] (default: NAME),
 *                          "tokens": { CHAIN: "0x<token address; 0x00..00 for the native coin>" }} },
 *     "markets": { NAME: {... but no "mark", ["feed"] (default: NAME),
 *                          ["vol": {"sigma_ref", "cap", ["sigma"] (where the EWMA starts)}]} },
 *     "params":  { ..., ["ewma_lambda"] (default "0.94"), ["ewma_interval_ms"] (default 60000) },
 *     "prices":  { "max_deviation": "0.02", "max_age_ms": 60000 } }
 *
 * digest = BLAKE2b-256(personal "rly.risk.v1", the JSON re-serialised compact with sorted keys):
 * every decision names the parameters it was made under.
 */
typedef struct mg_token {
    uint16_t chain, asset;
    uint64_t chain_id;
    uint8_t address[EVM_ADDR_BYTES];
} mg_token;

/* Where instructions go on one chain (a chain given by its id alone has none). */
typedef struct mg_chain {
    bool has_vault;
    uint8_t vault[EVM_ADDR_BYTES];
    uint8_t insurance[EVM_ADDR_BYTES];
    uint64_t deadline_s;
} mg_chain;

typedef struct mg_risk {
    mg_book book;        /* prices and marks are 0: the calculator sets them from the log */
    uint64_t *chain_ids; /* per book chain */
    mg_chain *chain_ops; /* per book chain */
    mg_token *tokens;
    size_t ntokens;
    char (*asset_feed)[MG_NAME_MAX];
    char (*market_feed)[MG_NAME_MAX];
    i128 ewma_lambda_e18;
    uint64_t ewma_interval_ms; /* the EWMA samples the mark at most this often (record time) */
    i128 max_dev_e18;
    uint64_t max_age_ms;
    uint8_t digest[HASH_BYTES];
} mg_risk;

RL_MUST_USE rl_err mg_risk_parse(const json_t *root, mg_risk *out, rl_why *why);
void mg_risk_fini(mg_risk *r);
/* The token of (chain id, address), or NULL when it is not collateral. */
const mg_token *mg_risk_token(const mg_risk *r, uint64_t chain_id, const uint8_t address[EVM_ADDR_BYTES]);
/* The token of (chain, asset) indices, or NULL. */
const mg_token *mg_risk_token_at(const mg_risk *r, uint16_t chain, uint16_t asset);
/* Where instructions go on the chain with this id: NULL when the risk file names no vault there. */
const mg_chain *mg_risk_chain(const mg_risk *r, uint64_t chain_id);

/* Parses and validates a query; on failure why names the JSON path and the problem. */
RL_MUST_USE rl_err mg_spec_parse(const json_t *root, mg_spec *out, rl_why *why);
void mg_spec_fini(mg_spec *s);

/* The result as the JSON object `margin eval` prints (new reference; NULL on allocation failure). */
json_t *mg_result_to_json(const mg_spec *s, const mg_result *r);

#endif
