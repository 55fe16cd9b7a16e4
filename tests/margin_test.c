/*
 * margin_test.c - the margin calculator (collateral/margin.h) through its JSON contract
 * (collateral/spec.h): worked examples recast from public venue documentation, rounding edges,
 * every mode, liquidation, withdrawals, bad input, and properties over random accounts.
 */
#include <jansson.h>

#include "collateral/margin.h"
#include "collateral/spec.h"
#include "tests/testutil.h"

#define ASSETS                                                                                                         \
    "\"assets\": {\"ETH\": {\"price\": \"3000\", \"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2,"      \
    " \"group\": \"ETH\", \"scan\": \"0.15\"},"                                                                        \
    " \"USDC\": {\"price\": \"1\", \"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1}}"
#define ETH_PERP(vol)                                                                                                  \
    "\"ETH-PERP\": {\"mark\": \"3000\", \"group\": \"ETH\", \"scan\": \"0.15\","                                     \
    " \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"},"                                            \
    " {\"from\": \"1000000\", \"imf\": \"0.10\", \"mmf\": \"0.05\"}]" vol "}"
#define PARAMS "\"params\": {\"liquidation_fee\": \"0.01\", \"portfolio_floor\": \"0.01\", \"portfolio_mm_ratio\": \"0.5\"}"

/* Evaluates a query that must be valid; the caller json_decref()s the answer. */
static json_t *eval_ok(const char *query)
{
    json_error_t jerr;
    json_t *root = json_loads(query, JSON_REJECT_DUPLICATES, &jerr);
    cr_assert_not_null(root, "test query is not JSON: %s (col %d)", jerr.text, jerr.column);
    mg_spec s;
    rl_why why = {{0}};
    cr_assert_eq(mg_spec_parse(root, &s, &why), RL_OK, "%s", why.text);
    json_decref(root);
    mg_ctx ctx;
    cr_assert_eq(mg_ctx_init(&ctx, &s.book), RL_OK);
    mg_result r;
    cr_assert_eq(mg_evaluate(&ctx, &s.book, &s.account, s.has_withdraw ? &s.withdraw : NULL, &r, &why), RL_OK, "%s",
                 why.text);
    json_t *out = mg_result_to_json(&s, &r);
    mg_result_fini(&r);
    mg_ctx_fini(&ctx);
    mg_spec_fini(&s);
    return out;
}

/* The error a query must be refused with. */
static void eval_refused(const char *query, const char *expect)
{
    json_t *root = json_loads(query, 0, NULL);
    cr_assert_not_null(root);
    mg_spec s;
    rl_why why = {{0}};
    cr_assert_neq(mg_spec_parse(root, &s, &why), RL_OK, "accepted: %s", query);
    json_decref(root);
    cr_assert(strstr(why.text, expect) != NULL, "error \"%s\" does not say \"%s\"", why.text, expect);
}

static const char *field(const json_t *o, const char *path)
{
    /* "a.b[2].c" */
    const json_t *v = o;
    char key[64];
    const char *p = path;
    while (*p && v) {
        size_t n = strcspn(p, ".[");
        if (n > 0) {
            snprintf(key, sizeof key, "%.*s", (int)n, p);
            v = json_object_get(v, key);
            p += n;
        }
        if (*p == '[') {
            v = json_array_get(v, strtoul(p + 1, (char **)&p, 10));
            p++;
        }
        if (*p == '.')
            p++;
    }
    cr_assert_not_null(v, "no %s in the answer", path);
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    cr_assert(json_is_string(v), "%s is not a string", path);
    return json_string_value(v);
}

#define expect_field(o, path, want) cr_expect_str_eq(field(o, path), want, "%s", path)

Test(margin, cross_values_the_example_of_the_issue)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {" ETH_PERP(
        ", \"vol\": {\"sigma\": \"0.03\", \"sigma_ref\": \"0.02\", \"cap\": \"3\"}") "}, " PARAMS
                        ", \"account\": {\"mode\": \"cross\", \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\","
                        " \"amount\": \"10\"}], \"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"-5\", \"entry\":"
                        " \"2900\"}], \"withdraw\": {\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1\"}}}");
    /* 10 x 3000 x 0.9 - 5 x 100; N = 15000; vol 0.03 / 0.02 = 1.5 x (5 %, 3 %) */
    expect_field(o, "equity", "26500.000000");
    expect_field(o, "initial_margin", "1125.000000");
    expect_field(o, "maintenance_margin", "675.000000");
    expect_field(o, "free_collateral", "25375.000000");
    expect_field(o, "status", "healthy");
    expect_field(o, "positions[0].notional", "15000.000000");
    expect_field(o, "positions[0].pnl", "-500.000000");
    expect_field(o, "withdraw_allowed", "true");
    json_decref(o);
}

/* Hyperliquid docs, "Margin tiers" (hyperliquid.gitbook.io/hyperliquid-docs/trading/margin-tiers):
 * BTC mainnet 0-150M at 40x, above at 20x; maintenance rate = half the initial rate at max
 * leverage; maintenance = notional x rate - deduction, deduction(1) = 150M x (2.5 % - 1.25 %).
 * For 200M notional: 200M x 2.5 % - 1.875M = 3.125M, which progressive brackets must equal. */
#define BTC_HL                                                                                                         \
    "\"markets\": {\"BTC-PERP\": {\"mark\": \"100000\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.025\", \"mmf\":"  \
    " \"0.0125\"}, {\"from\": \"150000000\", \"imf\": \"0.05\", \"mmf\": \"0.025\"}]}}"

Test(margin, progressive_tiers_equal_hyperliquid_maintenance_deduction)
{
    json_t *o = eval_ok("{" ASSETS ", " BTC_HL ", \"account\": {\"mode\": \"cross\", \"collateral\": [{\"chain\":"
                        " \"l2\", \"asset\": \"USDC\", \"amount\": \"10000000\"}], \"positions\": [{\"market\":"
                        " \"BTC-PERP\", \"size\": \"2000\", \"entry\": \"100000\"}]}}");
    expect_field(o, "positions[0].notional", "200000000.000000");
    expect_field(o, "maintenance_margin", "3125000.000000");
    expect_field(o, "initial_margin", "6250000.000000"); /* 150M x 2.5 % + 50M x 5 % */
    expect_field(o, "equity", "9800000.000000");
    expect_field(o, "status", "healthy");
    json_decref(o);
}

/* The same page's companion example (Hyperliquid wiki, "Margin management"): a $10,000 position
 * on a 20x-max-leverage asset needs $250 maintenance margin; at 20x, $500 initial. */
Test(margin, hyperliquid_ten_thousand_dollar_position_at_twenty_x)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {\"X-PERP\": {\"mark\": \"100\", \"tiers\": [{\"from\": \"0\","
                        " \"imf\": \"0.05\", \"mmf\": \"0.025\"}]}}, \"account\": {\"mode\": \"cross\", \"collateral\":"
                        " [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"1000\"}], \"positions\": [{\"market\":"
                        " \"X-PERP\", \"size\": \"100\", \"entry\": \"100\"}]}}");
    expect_field(o, "maintenance_margin", "250.000000");
    expect_field(o, "initial_margin", "500.000000");
    json_decref(o);
}

/* dYdX v4 docs, "Margin" (docs.dydx.exchange/concepts-trading/margin): IMR = |S x P x I|,
 * MMR = |S x P x M|, summed over markets; Large-Cap liquidity tier: IMF 5 %, MMF 60 % of it = 3 %. */
Test(margin, dydx_v4_large_cap_requirements_sum_over_markets)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {\"BTC-USD\": {\"mark\": \"50000\", \"tiers\": [{\"from\": \"0\","
                        " \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}, \"ETH-USD\": {\"mark\": \"3000\", \"tiers\":"
                        " [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}}, \"account\": {\"mode\": \"cross\","
                        " \"collateral\": [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"10000\"}],"
                        " \"positions\": [{\"market\": \"BTC-USD\", \"size\": \"1\", \"entry\": \"50000\"},"
                        " {\"market\": \"ETH-USD\", \"size\": \"-10\", \"entry\": \"3000\"}]}}");
    expect_field(o, "initial_margin", "4000.000000");     /* 2500 + 1500 */
    expect_field(o, "maintenance_margin", "2400.000000"); /* 1500 + 900 */
    expect_field(o, "positions[1].initial_margin", "1500.000000");
    json_decref(o);
}

Test(margin, volatility_multiplier_is_capped_and_never_below_one)
{
    const char *fmt = "{" ASSETS ", \"markets\": {" ETH_PERP(", \"vol\": {\"sigma\": \"%s\", \"sigma_ref\": \"0.02\","
                                                             " \"cap\": \"3\"}") "}, \"account\": {\"mode\": \"cross\","
                      " \"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"-5\", \"entry\": \"3000\"}]}}";
    const char *sigma[] = {"0.10", "0.01", "0.05"};
    const char *im[] = {"2250.000000", "750.000000", "1875.000000"}; /* x3 (capped), x1, x2.5 */
    for (int i = 0; i < 3; i++) {
        char q[2048];
        snprintf(q, sizeof q, fmt, sigma[i]);
        json_t *o = eval_ok(q);
        expect_field(o, "initial_margin", im[i]);
        json_decref(o);
    }
}

Test(margin, rounds_every_term_against_the_account)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {\"M\": {\"mark\": \"3000\", \"tiers\": [{\"from\": \"0\", \"imf\":"
                        " \"0.033\", \"mmf\": \"0.02\"}]}}, \"account\": {\"mode\": \"cross\", \"collateral\":"
                        " [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"0.000000000000000001\"}],"
                        " \"positions\": [{\"market\": \"M\", \"size\": \"-0.0000003\", \"entry\": \"2999\"}]}}");
    /* 1 wei = 2.7e-15 USD: value down to 0; PnL -0.0000003 down to -0.000001;
     * N = 0.0009: IM 0.0000297 up to 0.000030, MM 0.000018 exact; notional up. */
    expect_field(o, "equity", "-0.000001");
    expect_field(o, "positions[0].pnl", "-0.000001");
    expect_field(o, "initial_margin", "0.000030");
    expect_field(o, "maintenance_margin", "0.000018");
    expect_field(o, "status", "liquidatable");
    json_decref(o);
}

#define LIQ_ACCOUNT(eth, entry)                                                                                        \
    "{\"assets\": {\"ETH\": {\"price\": \"2800\", \"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2},"   \
    " \"USDC\": {\"price\": \"1\", \"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1}}, \"markets\":"    \
    " {\"ETH-PERP\": {\"mark\": \"2800\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}}, "  \
    PARAMS ", \"account\": {\"mode\": \"cross\", \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\":" \
    " \"" eth "\"}, {\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"1000\"}], \"positions\": [{\"market\":"    \
    " \"ETH-PERP\", \"size\": \"10\", \"entry\": \"" entry "\"}]}}"

Test(liquidation, seizes_by_priority_and_charges_what_is_left_as_bad_debt)
{
    /* values: ETH 2520, USDC 980; PnL -4000; owed 4000 + 1 % x 28000 = 4280 */
    json_t *o = eval_ok(LIQ_ACCOUNT("1", "3200"));
    expect_field(o, "status", "liquidatable");
    expect_field(o, "owed", "4280.000000");
    expect_field(o, "seize[0].asset", "USDC");
    expect_field(o, "seize[0].amount", "1000");
    expect_field(o, "seize[1].asset", "ETH");
    expect_field(o, "seize[1].amount", "1");
    expect_field(o, "bad_debt", "780.000000");
    json_decref(o);
}

Test(liquidation, takes_the_last_holding_partly_rounded_up_to_base_units)
{
    /* ETH 2 = 5040, USDC 980, PnL -5500: equity 520 < MM 840; owed 5780: all USDC, then
     * 4800 / 2520 = 1.9047619047619047619... ETH, rounded up to the wei */
    json_t *o = eval_ok(LIQ_ACCOUNT("2", "3350"));
    expect_field(o, "status", "liquidatable");
    expect_field(o, "seize[1].amount", "1.904761904761904762");
    expect_field(o, "seize[1].value", "4800.000000");
    expect_field(o, "bad_debt", "0.000000");
    json_decref(o);
}

Test(liquidation, breaks_priority_ties_by_chain_then_asset)
{
    json_t *o = eval_ok("{\"assets\": {\"USDC\": {\"price\": \"1\", \"decimals\": 6, \"haircut\": \"0\","
                        " \"seize_priority\": 1}, \"DAI\": {\"price\": \"1\", \"decimals\": 18, \"haircut\": \"0\","
                        " \"seize_priority\": 1}}, \"markets\": {\"M\": {\"mark\": \"1\", \"tiers\": [{\"from\": \"0\","
                        " \"imf\": \"0.1\", \"mmf\": \"0.05\"}]}}, \"account\": {\"mode\": \"cross\", \"collateral\":"
                        " [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"10\"}, {\"chain\": \"l1\", \"asset\":"
                        " \"USDC\", \"amount\": \"10\"}, {\"chain\": \"l1\", \"asset\": \"DAI\", \"amount\": \"10\"}],"
                        " \"positions\": [{\"market\": \"M\", \"size\": \"100\", \"entry\": \"1.5\"}]}}");
    /* PnL -50, equity -20: owed 50 = DAI on l1, USDC on l1, then 30 of... nothing: 10 left on l2 */
    expect_field(o, "seize[0].chain", "l1");
    expect_field(o, "seize[0].asset", "DAI");
    expect_field(o, "seize[1].chain", "l1");
    expect_field(o, "seize[1].asset", "USDC");
    expect_field(o, "seize[2].chain", "l2");
    expect_field(o, "bad_debt", "20.000000");
    json_decref(o);
}

Test(isolated, a_losing_position_never_touches_other_collateral)
{
    json_t *o = eval_ok(
        "{" ASSETS ", \"markets\": {" ETH_PERP("") ", \"BTC-PERP\": {\"mark\": \"50000\", \"tiers\": [{\"from\": \"0\","
        " \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}}, " PARAMS ", \"account\": {\"mode\": \"isolated\", \"collateral\":"
        " [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"5000\"}], \"positions\": [{\"market\": \"ETH-PERP\","
        " \"size\": \"10\", \"entry\": \"3200\", \"collateral\": [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\":"
        " \"1000\"}]}, {\"market\": \"BTC-PERP\", \"size\": \"1\", \"entry\": \"50000\", \"collateral\": [{\"chain\":"
        " \"l1\", \"asset\": \"ETH\", \"amount\": \"2\"}]}]}}");
    /* ETH-PERP: 980 - 2000 = -1020 < MM 900: owed 2000 + 300, only its 1000 USDC can go */
    expect_field(o, "positions[0].status", "liquidatable");
    expect_field(o, "positions[0].seize[0].amount", "1000");
    expect_field(o, "positions[0].bad_debt", "1320.000000");
    expect_field(o, "positions[1].status", "healthy");
    expect_field(o, "positions[1].equity", "5400.000000");
    expect_field(o, "status", "liquidatable");
    expect_field(o, "free_collateral", "4900.000000");
    cr_expect_eq(json_array_size(json_object_get(o, "seize")), 1, "only the losing position's collateral");
    json_decref(o);
}

Test(isolated, withdraws_from_a_position_only_while_it_stays_above_initial_margin)
{
    const char *fmt = "{" ASSETS ", \"markets\": {" ETH_PERP("") "}, \"account\": {\"mode\": \"isolated\","
                      " \"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"-5\", \"entry\": \"3000\","
                      " \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1\"}]}],"
                      " \"withdraw\": {\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"%s\", \"market\":"
                      " \"ETH-PERP\"}}}";
    char q[2048];
    snprintf(q, sizeof q, fmt, "0.5"); /* 1350 left >= IM 750 */
    json_t *o = eval_ok(q);
    expect_field(o, "withdraw_allowed", "true");
    json_decref(o);
    snprintf(q, sizeof q, fmt, "0.8"); /* 540 left < 750 */
    o = eval_ok(q);
    expect_field(o, "withdraw_allowed", "false");
    cr_expect(strstr(field(o, "withdraw_reason"), "below initial margin") != NULL);
    json_decref(o);
}

Test(portfolio, a_fully_hedged_holding_needs_only_the_floor)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {" ETH_PERP("") "}, " PARAMS ", \"account\": {\"mode\":"
                        " \"portfolio\", \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"10\"}],"
                        " \"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"-10\", \"entry\": \"3000\"}]}}");
    expect_field(o, "equity", "30000.000000"); /* no haircut in portfolio mode */
    expect_field(o, "initial_margin", "300.000000"); /* 1 % of 30000 gross notional */
    expect_field(o, "maintenance_margin", "150.000000");
    cr_expect_eq(json_array_size(json_object_get(o, "scenarios")), MG_SCENARIOS);
    expect_field(o, "scenarios[0].loss", "0.000000");
    json_decref(o);
    /* the same account in cross mode: 5 % of 30000 */
    o = eval_ok("{" ASSETS ", \"markets\": {" ETH_PERP("") "}, \"account\": {\"mode\": \"cross\", \"collateral\":"
                " [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"10\"}], \"positions\": [{\"market\":"
                " \"ETH-PERP\", \"size\": \"-10\", \"entry\": \"3000\"}]}}");
    expect_field(o, "initial_margin", "1500.000000");
    json_decref(o);
}

/* SPAN-style scenario array (CME SPAN methodology: price scan range moved in thirds, with
 * extreme moves of twice the range counting a fraction): an unhedged long loses most at -1. */
Test(portfolio, scenario_losses_follow_the_scan_and_extremes_count_35_percent)
{
    json_t *o = eval_ok("{" ASSETS ", \"markets\": {" ETH_PERP("") "}, " PARAMS ", \"account\": {\"mode\":"
                        " \"portfolio\", \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\":"
                        " \"10\"}]}}");
    /* exposure 10 x 3000 x 0.15 = 4500 */
    expect_field(o, "scenarios[0].move", "-1");
    expect_field(o, "scenarios[0].loss", "4500.000000");
    expect_field(o, "scenarios[1].loss", "3000.000000");
    expect_field(o, "scenarios[6].loss", "-4500.000000");
    expect_field(o, "scenarios[7].move", "-2");
    expect_field(o, "scenarios[7].loss", "3150.000000");
    expect_field(o, "initial_margin", "4500.000000");
    expect_field(o, "maintenance_margin", "2250.000000");
    json_decref(o);
}

Test(withdraw, refuses_what_would_leave_equity_below_initial_margin_or_is_not_held)
{
    const char *fmt = "{" ASSETS ", \"markets\": {" ETH_PERP("") "}, \"account\": {\"mode\": \"cross\","
                      " \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1\"}], \"positions\":"
                      " [{\"market\": \"ETH-PERP\", \"size\": \"-5\", \"entry\": \"3000\"}], \"withdraw\": {\"chain\":"
                      " \"%s\", \"asset\": \"ETH\", \"amount\": \"%s\"}}}";
    const char *cases[][3] = {{"l1", "0.5", "true"},
                              {"l1", "0.8", "false"},
                              {"l1", "2", "false"},
                              {"l2", "0.1", "false"}};
    for (int i = 0; i < 4; i++) {
        char q[2048];
        snprintf(q, sizeof q, fmt, cases[i][0], cases[i][1]);
        json_t *o = eval_ok(q);
        cr_expect_str_eq(field(o, "withdraw_allowed"), cases[i][2], "withdraw %s on %s", cases[i][1], cases[i][0]);
        json_decref(o);
    }
}

Test(spec, refuses_bad_input_naming_the_field)
{
    const char *head = "{" ASSETS ", \"markets\": {" ETH_PERP("") "}, \"account\": {\"mode\": \"cross\", ";
    struct {
        const char *account, *expect;
    } cases[] = {
        {"\"positions\": [{\"market\": \"BTC-PERP\", \"size\": \"1\", \"entry\": \"1\"}]}}",
         "account.positions[0].market: no market \"BTC-PERP\""},
        {"\"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"-1\"}]}}",
         "account.collateral[0].amount: \"-1\" is negative"},
        {"\"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1,5\"}]}}",
         "account.collateral[0].amount: \"1,5\" is not a decimal number"},
        {"\"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1.\"}]}}", "is not a decimal number"},
        {"\"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"1e3\"}]}}", "unexpected 'e'"},
        {"\"collateral\": [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"1.0000001\"}]}}",
         "USDC has 6 decimals"},
        {"\"collateral\": [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": 5}]}}",
         "account.collateral[0].amount: expected a string"},
        {"\"collateral\": [{\"chain\": \"l2\", \"asset\": \"DOGE\", \"amount\": \"5\"}]}}", "no asset \"DOGE\""},
        {"\"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"1\", \"entry\": \"1\", \"colateral\": []}]}}",
         "unknown field \"colateral\""},
        {"\"collateral\": [{\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"5\"},"
         " {\"chain\": \"l2\", \"asset\": \"USDC\", \"amount\": \"6\"}]}}",
         "listed twice"},
        {"\"positions\": [{\"market\": \"ETH-PERP\", \"size\": \"1\", \"entry\": \"1\", \"collateral\": []}]}}",
         "only in isolated mode"},
        {"\"withdraw\": {\"chain\": \"l1\", \"asset\": \"ETH\", \"amount\": \"0\"}}}", "must be above zero"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char q[4096];
        snprintf(q, sizeof q, "%s%s", head, cases[i].account);
        eval_refused(q, cases[i].expect);
    }
    eval_refused("{\"assets\": {\"ETH\": {\"price\": 3000, \"decimals\": 18, \"haircut\": \"0\", \"seize_priority\":"
                 " 1}}, \"account\": {\"mode\": \"cross\"}}",
                 "assets.ETH.price: expected a string (write numbers as decimal strings");
    eval_refused("{\"assets\": {\"ETH\": {\"price\": \"1\", \"decimals\": 18, \"haircut\": \"1.5\", \"seize_priority\":"
                 " 1}}, \"account\": {\"mode\": \"cross\"}}",
                 "assets.ETH.haircut: \"1.5\" is outside 0..1");
    eval_refused("{" ASSETS ", \"account\": {\"mode\": \"spot\"}}", "account.mode: \"spot\"");
    eval_refused("{" ASSETS ", \"markets\": {\"M\": {\"mark\": \"1\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.01\","
                 " \"mmf\": \"0.02\"}]}}, \"account\": {\"mode\": \"cross\"}}",
                 "markets.M.tiers[0]: mmf is above imf");
    eval_refused("{" ASSETS ", \"markets\": {\"M\": {\"mark\": \"1\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.1\","
                 " \"mmf\": \"0.05\"}]}}, " PARAMS ", \"account\": {\"mode\": \"portfolio\", \"positions\": [{\"market\":"
                 " \"M\", \"size\": \"1\", \"entry\": \"1\"}]}}",
                 "market M has no scan");
    eval_refused("{" ASSETS ", \"account\": {\"mode\": \"portfolio\"}}", "params.portfolio_floor: missing");
}

/* ---- properties over random accounts ----------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state % n;
}

struct world {
    mg_spec spec;
    mg_ctx ctx;
};

static void world_init(struct world *w, const char *mode)
{
    char q[4096];
    snprintf(q, sizeof q,
             "{" ASSETS ", \"markets\": {" ETH_PERP(", \"vol\": {\"sigma\": \"0.03\", \"sigma_ref\": \"0.02\", \"cap\":"
                                                    " \"3\"}") ", \"BTC-PERP\": {\"mark\": \"60000\", \"scan\": \"0.2\","
             " \"tiers\": [{\"from\": \"0\", \"imf\": \"0.02\", \"mmf\": \"0.01\"}, {\"from\": \"500000\", \"imf\":"
             " \"0.04\", \"mmf\": \"0.02\"}]}}, " PARAMS ", \"account\": {\"mode\": \"%s\"}}",
             mode);
    json_t *root = json_loads(q, 0, NULL);
    cr_assert_not_null(root);
    rl_why why;
    cr_assert_eq(mg_spec_parse(root, &w->spec, &why), RL_OK, "%s", why.text);
    json_decref(root);
    /* two chains for random holdings */
    w->spec.book.chains = realloc(w->spec.book.chains, 2 * sizeof *w->spec.book.chains);
    snprintf(w->spec.book.chains[0], MG_NAME_MAX, "l1");
    snprintf(w->spec.book.chains[1], MG_NAME_MAX, "l2");
    w->spec.book.nchains = 2;
    cr_assert_eq(mg_ctx_init(&w->ctx, &w->spec.book), RL_OK);
}

static void world_fini(struct world *w)
{
    mg_ctx_fini(&w->ctx);
    mg_spec_fini(&w->spec);
}

static void random_account(mg_holding h[2], mg_position p[2], mg_account *a, mg_mode mode)
{
    h[0] = (mg_holding){.chain = 0, .asset = 0, .amount = u256_from_u64(rnd(50) * 100000000000000000ull)};
    h[1] = (mg_holding){.chain = 1, .asset = 1, .amount = u256_from_u64(rnd(100000) * 1000000ull)};
    for (int i = 0; i < 2; i++)
        p[i] = (mg_position){.market = (uint16_t)i,
                             .size_e18 = ((i128)rnd(4000) - 2000) * FIXED_E18 / (i ? 100 : 1),
                             .entry_e18 = (i128)(i ? 55000 + rnd(10000) : 2500 + rnd(1000)) * FIXED_E18};
    *a = (mg_account){.mode = mode, .holdings = h, .nholdings = 2, .positions = p, .npositions = 2};
}

static mg_figures figures(struct world *w, const mg_account *a)
{
    mg_figures f;
    rl_why why;
    cr_assert_eq(mg_figures_of(&w->ctx, &w->spec.book, a, &f, &why), RL_OK, "%s", why.text);
    return f;
}

Test(properties, a_deposit_never_lowers_equity)
{
    const char *modes[] = {"cross", "portfolio"};
    for (int m = 0; m < 2; m++) {
        struct world w;
        world_init(&w, modes[m]);
        for (int i = 0; i < 300; i++) {
            mg_holding h[2];
            mg_position p[2];
            mg_account a;
            random_account(h, p, &a, m ? MG_PORTFOLIO : MG_CROSS);
            mg_figures before = figures(&w, &a);
            u256 more = u256_from_u64(1 + rnd(1000000000000ull));
            int k = (int)rnd(2);
            cr_assert_eq(u256_add(&h[k].amount, &h[k].amount, &more), RL_OK);
            mg_figures after = figures(&w, &a);
            cr_assert(after.equity_u >= before.equity_u, "deposit lowered equity (%s, case %d)", modes[m], i);
        }
        world_fini(&w);
    }
}

Test(properties, more_size_never_lowers_margin)
{
    struct world w;
    world_init(&w, "cross");
    for (int i = 0; i < 300; i++) {
        mg_holding h[2];
        mg_position p[2];
        mg_account a;
        random_account(h, p, &a, MG_CROSS);
        mg_figures before = figures(&w, &a);
        int k = (int)rnd(2);
        i128 more = (i128)(1 + rnd(1000000)) * FIXED_E18 / 1000;
        p[k].size_e18 += p[k].size_e18 < 0 ? -more : more;
        mg_figures after = figures(&w, &a);
        cr_assert(after.im_u >= before.im_u && after.mm_u >= before.mm_u, "more size lowered margin (case %d)", i);
    }
    world_fini(&w);
}

Test(properties, a_hedged_holding_needs_no_more_than_the_portfolio_floor)
{
    struct world w;
    world_init(&w, "portfolio");
    for (int i = 0; i < 300; i++) {
        uint64_t units = 1 + rnd(1000);
        mg_holding h = {.chain = 0, .asset = 0, .amount = u256_from_u64(units * 1000000000000000ull)};
        mg_position p = {.market = 0, .size_e18 = -(i128)units * 1000000000000000, .entry_e18 = 3000 * FIXED_E18};
        mg_account a = {.mode = MG_PORTFOLIO, .holdings = &h, .nholdings = 1, .positions = &p, .npositions = 1};
        mg_figures f = figures(&w, &a);
        /* floor = 1 % of |size| x 3000, up, in micro-dollars */
        i128 floor_u = (i128)units * 3000 * 10000 / 1000;
        cr_assert(f.im_u <= floor_u, "hedged account needs more than the floor (case %d)", i);
    }
    world_fini(&w);
}

Test(properties, the_same_account_gives_the_same_answer)
{
    struct world w;
    world_init(&w, "cross");
    for (int i = 0; i < 100; i++) {
        mg_holding h[2];
        mg_position p[2];
        mg_account a;
        random_account(h, p, &a, MG_CROSS);
        mg_figures x = figures(&w, &a), y = figures(&w, &a);
        cr_assert(memcmp(&x, &y, sizeof x) == 0);
    }
    world_fini(&w);
}

/* ---- the command ------------------------------------------------------------------------------- */

Test(margin_cli, evaluates_a_file_and_standard_input_and_names_json_errors)
{
    char *dir = tu_tmpdir(), *out = NULL, path[512];
    snprintf(path, sizeof path, "%s/q.json", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs("{" ASSETS ", \"account\": {\"mode\": \"cross\", \"collateral\": [{\"chain\": \"l1\", \"asset\": \"ETH\","
          " \"amount\": \"2\"}]}}",
          f);
    fclose(f);
    cr_assert_eq(tu_run(&out, "%s margin eval %s", RELAYER_BIN, path), 0, "%s", out);
    cr_assert(strstr(out, "\"equity\": \"5400.000000\"") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s margin eval - < %s", RELAYER_BIN, path), 0, "%s", out);
    cr_assert(strstr(out, "\"status\": \"healthy\"") != NULL, "%s", out);
    free(out);
    f = fopen(path, "w");
    fputs("{\"assets\": {}, \"assets\": {}}", f);
    fclose(f);
    cr_assert_eq(tu_run(&out, "%s margin eval %s", RELAYER_BIN, path), 2, "%s", out);
    cr_assert(strstr(out, "q.json:1:") != NULL && strstr(out, "duplicate") != NULL, "%s", out);
    free(out);
    tu_rmdir(dir);
}

/* ---- the live store ---------------------------------------------------------------------------- */

#include "collateral/accounts.h"

Test(accounts, a_tick_recomputes_exactly_the_exposed_accounts_as_a_sweep_would)
{
    struct world w;
    world_init(&w, "cross");
    mg_accounts s;
    rl_why why;
    cr_assert_eq(mg_accounts_init(&s, &w.spec.book, 500, 1000, 1000), RL_OK);
    for (int i = 0; i < 500; i++) {
        mg_holding h[2];
        mg_position p[2];
        mg_account a;
        random_account(h, p, &a, MG_CROSS);
        uint32_t id;
        /* every third account holds no ETH: not exposed to its price */
        cr_assert_eq(mg_accounts_add(&s, MG_CROSS, i % 3 ? h : h + 1, i % 3 ? 2 : 1, p, 2, &id, &why), RL_OK, "%s",
                     why.text);
        cr_assert_eq(id, (uint32_t)i);
    }
    cr_assert_eq(mg_accounts_index(&s, &why), RL_OK);
    cr_assert_eq(mg_accounts_sweep(&s, &w.ctx, &why), RL_OK);
    w.spec.book.assets[0].price_e18 = 1700 * FIXED_E18; /* ETH falls */
    size_t n;
    cr_assert_eq(mg_accounts_reprice_asset(&s, &w.ctx, 0, &n, &why), RL_OK);
    cr_assert_eq(n, 500 - 167, "accounts holding ETH");
    mg_figures *ticked = malloc(500 * sizeof *ticked);
    memcpy(ticked, s.fig, 500 * sizeof *ticked);
    cr_assert_eq(mg_accounts_sweep(&s, &w.ctx, &why), RL_OK);
    cr_assert_eq(memcmp(ticked, s.fig, 500 * sizeof *ticked), 0, "a tick and a sweep disagree");
    free(ticked);
    mg_holding iso = {.chain = 0, .asset = 0, .amount = u256_from_u64(1)};
    uint32_t id;
    cr_assert_eq(mg_accounts_add(&s, MG_ISOLATED, &iso, 1, NULL, 0, &id, &why), RL_ERR_ARG);
    mg_accounts_fini(&s);
    world_fini(&w);
}
