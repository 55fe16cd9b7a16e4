/*
 * calc_test.c - the live calculator over a log built in memory: deposits, quorum prices, venue
 * positions and withdrawals, and the decisions they imply; stale and deviating prices; the EWMA
 * volatility; determinism; and audit replay reproducing (or catching) logged decisions. Every
 * log built here also passes audit_next with all its signatures.
 */
#include "tests/calclog.h"

/* The story: 10 ETH on l1 and 5000 USDC on l2, long 20 ETH-PERP at 3000, withdraw 1 ETH (ok),
 * withdraw 15 ETH (refused), ETH falls to 1700: liquidation. */
static void story(logb *l)
{
    deposit(l, 1, 0x00, 10 * E18, 1, T0 + 1);
    deposit(l, 10, 0xc0, 5000000000ull, 1, T0 + 2);
    price(l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    price(l, "USDC", (uint64_t[]){1, 1}, 2, T0 + 3, T0 + 11);
    position(l, 20, 3000, T0 + 20);
    cr_assert_eq(l->nmade, 0, "a healthy account gets no decision");
    withdraw_eth(l, 1, T0 + 30);
    withdraw_eth(l, 15, T0 + 31); /* 9 are left unreserved */
    price(l, "ETH", (uint64_t[]){1700, 1700}, 2, T0 + 40, T0 + 41);
}

Test(calc, story_decides_withdrawals_and_liquidation_with_its_seize_plan)
{
    logb l;
    setup(&l);
    story(&l);
    cr_assert_eq(l.nmade, 3);
    decision *ok = &l.made[0], *no = &l.made[1], *liq = &l.made[2];
    cr_assert_eq(ok->kind, DECISION_WITHDRAW_OK);
    cr_assert_eq(ok->basis, 7);
    cr_assert(ok->equity_u == (__int128)31900 * 1000000); /* before: 27000 + 4900 */
    cr_assert_eq(no->kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(no->reason, REASON_FUNDS);
    cr_assert_eq(liq->kind, DECISION_LIQUIDATE);
    cr_assert_eq(liq->basis, 9);
    /* 9 ETH x 1700 x 0.9 + 5000 x 0.98 - 20 x 1300 = 13770 + 4900 - 26000 */
    cr_assert(liq->equity_u == -(__int128)7330 * 1000000);
    /* owed 26000 + 1% of 34000 = 26340; USDC first (priority 1), then the 9 unreserved ETH */
    cr_assert_eq(liq->nseize, 2);
    cr_assert_eq(liq->seize[0].chain_id, 10);
    cr_assert_eq(liq->seize[0].asset[19], 0xc0);
    cr_assert_eq(u256_cmp(&liq->seize[0].amount, &(u256){0}), 1);
    u256 usdc = u256_from_u64(5000000000ull), eth = u256_from_u64(9 * E18);
    cr_assert_eq(u256_cmp(&liq->seize[0].amount, &usdc), 0);
    cr_assert_eq(liq->seize[1].chain_id, 1);
    cr_assert_eq(u256_cmp(&liq->seize[1].amount, &eth), 0);
    cr_assert(liq->bad_debt_u == (__int128)(26340 - 18670) * 1000000);
    json_t *j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "status")), "liquidatable");
    /* 1 ETH for the approved withdrawal and the 9 the seize plan takes, as the ledger reserves them */
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "collateral"), 0), "reserved")),
                     "10");
    json_decref(j);
    teardown(&l);
}

Test(calc, stale_prices_decide_nothing_and_refuse_withdrawals)
{
    logb l;
    setup(&l);
    deposit(&l, 1, 0x00, 10 * E18, 1, T0 + 1);
    price(&l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    position(&l, 20, 3000, T0 + 20);
    withdraw_eth(&l, 1, T0 + 70000); /* the price is 70 s old, the limit 60 s */
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[0].reason, REASON_STALE_PRICE);
    /* A fresh, lower price liquidates; the same price arriving stale would not have. */
    price(&l, "ETH", (uint64_t[]){1000, 1000}, 2, T0 + 1000, T0 + 90000); /* observed 89 s before: refused */
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(calc_get_stats(l.c)->prices_refused, 1);
    price(&l, "ETH", (uint64_t[]){1000, 1000}, 2, T0 + 89000, T0 + 90000);
    cr_assert_eq(l.nmade, 2);
    cr_assert_eq(l.made[1].kind, DECISION_LIQUIDATE);
    teardown(&l);
}

Test(calc, prices_need_a_quorum_within_the_deviation)
{
    logb l;
    setup(&l);
    deposit(&l, 1, 0x00, 10 * E18, 1, T0 + 1);
    price(&l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    position(&l, 20, 3000, T0 + 20);
    price(&l, "ETH", (uint64_t[]){1000, 1100}, 2, T0 + 30, T0 + 31); /* 10 % apart, 2 % allowed */
    cr_assert_eq(l.nmade, 0, "a price outside the deviation moves nothing");
    cr_assert_eq(calc_get_stats(l.c)->prices_refused, 1);
    /* Three observations: the median (lower) of 1000, 1010, 1015 is 1010, all within 2 %. */
    price(&l, "ETH", (uint64_t[]){1000, 1010, 1015}, 3, T0 + 40, T0 + 41);
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(l.made[0].kind, DECISION_LIQUIDATE);
    /* equity = 10 x 1010 x 0.9 - 20 x 1990 */
    cr_assert(l.made[0].equity_u == ((__int128)9090 - 39800) * 1000000);
    teardown(&l);
}

Test(calc, ewma_volatility_raises_margin_after_a_big_move)
{
    logb l;
    setup(&l);
    deposit(&l, 1, 0x00, 10 * E18, 1, T0 + 1);
    price(&l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    position(&l, 20, 2700, T0 + 20);
    json_t *j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "initial_margin")), "3000.000000"); /* 60000 x 5 % x 1 */
    json_decref(j);
    /* Within the sampling interval (60 s) a move is a mark, not a volatility sample. */
    price(&l, "ETH", (uint64_t[]){2850, 2850}, 2, T0 + 30, T0 + 31);
    j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "initial_margin")), "2850.000000"); /* 57000 x 5 % x 1 */
    json_decref(j);
    price(&l, "ETH", (uint64_t[]){2700, 2700}, 2, T0 + 60010, T0 + 60011);
    /* r = -0.1 against the sample at 3000: var = 0.94 x 0.0004 + 0.06 x 0.01 = 0.000976,
     * sigma = 0.031241 (up), x 1.56205 */
    j = calc_account_json(l.c, ACCOUNT);
    i128 im;
    cr_assert_eq(fixed_parse_e18(&im, json_string_value(json_object_get(j, "initial_margin")), false, NULL), RL_OK);
    json_decref(j);
    cr_assert(im > (i128)4217 * FIXED_E18 && im < (i128)4218 * FIXED_E18, "54000 x 5 %% x 1.5620...");
    teardown(&l);
}

/* A replay of l's whole log; every record must be reproduced. */
Test(calc, replay_reproduces_every_decision_and_catches_a_forged_one)
{
    logb l;
    setup(&l);
    story(&l);
    log_decisions(&l, 0);
    calc_replay *r = replay_all(&l);
    rl_why why = {{0}};
    calc_replay_summary s;
    calc_replay_get_summary(r, &s);
    cr_assert_eq(s.logged, 3);
    cr_assert_eq(s.reproduced, 3);
    cr_assert_eq(s.not_logged, 0);
    calc_replay_free(r);

    /* The same log, but the liquidation's seize of USDC says one unit more. */
    logb m;
    setup(&m);
    story(&m);
    m.made[2].seize[0].amount = u256_from_u64(5000000001ull);
    log_decisions(&m, 0);
    cr_assert_eq(calc_replay_new(&r, &m.risk), RL_OK);
    rl_err bad = RL_OK;
    for (uint64_t i = 0; i < m.seq; i++) {
        rl_err err = calc_replay_next(r, m.recs[i], m.lens[i], &why);
        if (err != RL_OK) {
            bad = err;
            cr_assert_eq(i + 1, m.seq, "the last record is the forged one");
            cr_assert(strstr(why.text, "liquidate") != NULL, "%s", why.text);
        }
    }
    cr_assert_eq(bad, RL_ERR_STATE);
    calc_replay_free(r);
    teardown(&m);
    teardown(&l);
}

Test(calc, two_calculators_over_one_log_decide_the_same_bytes)
{
    logb l;
    setup(&l);
    story(&l);
    logb m;
    memset(&m, 0, sizeof m);
    m.risk = l.risk;
    cr_assert_eq(calc_new(&m.c, &l.risk, on_decision, &m, NULL, NULL), RL_OK);
    rl_why why = {{0}};
    for (uint64_t i = 0; i < l.seq; i++)
        cr_assert_eq(calc_apply(m.c, l.recs[i], l.lens[i], &why), RL_OK);
    cr_assert_eq(m.nmade, l.nmade);
    for (size_t i = 0; i < l.nmade; i++) {
        uint8_t a[DECISION_MAX_BYTES], b[DECISION_MAX_BYTES];
        size_t la, lb;
        cr_assert_eq(decision_encode_body(a, &la, &l.made[i], NULL), RL_OK);
        cr_assert_eq(decision_encode_body(b, &lb, &m.made[i], NULL), RL_OK);
        cr_assert_eq(la, lb);
        cr_assert_eq(memcmp(a, b, la), 0, "decision %zu", i);
    }
    calc_free(m.c);
    teardown(&l);
}

Test(calc, records_out_of_order_and_bad_risk_files_are_refused)
{
    logb l;
    setup(&l);
    calc *c;
    cr_assert_eq(calc_new(&c, &l.risk, on_decision, &l, NULL, NULL), RL_OK);
    rl_why why = {{0}};
    deposit(&l, 1, 0x00, 1, 1, T0 + 1);
    cr_assert_eq(calc_apply(c, l.recs[1], l.lens[1], &why), RL_ERR_SEQ);
    calc_free(c);
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"{\"chains\": {\"l1\": 1}, \"assets\": {\"ETH\": {\"price\": \"3000\", \"decimals\": 18, \"haircut\": \"0\","
         " \"seize_priority\": 1, \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}}},"
         " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 1000}}",
         "unknown field \"price\""},
        {"{\"chains\": {\"l1\": 1}, \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0\", \"seize_priority\": 1,"
         " \"tokens\": {\"l9\": \"0x0000000000000000000000000000000000000000\"}}},"
         " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 1000}}",
         "assets.ETH.tokens.l9: no chain \"l9\""},
        {"{\"chains\": {\"l1\": 1}, \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0\", \"seize_priority\": 1,"
         " \"tokens\": {\"l1\": \"0x00\"}}}, \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 1000}}",
         "is not a 20-byte 0x address"},
        {"{\"chains\": {\"l1\": 1}, \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0\", \"seize_priority\": 1,"
         " \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}}}}",
         "prices: missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *root = json_loads(bad[i].json, 0, NULL);
        cr_assert_not_null(root, "case %zu", i);
        mg_risk r;
        rl_why w = {{0}};
        cr_assert_neq(mg_risk_parse(root, &r, &w), RL_OK, "case %zu", i);
        cr_assert(strstr(w.text, bad[i].want) != NULL, "case %zu: %s", i, w.text);
        json_decref(root);
    }
    teardown(&l);
}

Test(calc, position_sizes_and_prices_beyond_1e18_units_are_refused_both_ways)
{
    fixture f;
    fx_init(&f, 1, 1);
    request q = {.kind = REQUEST_POSITION, .mode = REQUEST_MODE_CROSS, .size_e18 = -REQUEST_MAX_E18,
                 .entry_e18 = REQUEST_MAX_E18};
    memcpy(q.venue, node_key_pub(f.keys[0])->ed25519, ED25519_PK_BYTES);
    snprintf(q.market, sizeof q.market, "ETH-PERP");
    uint8_t buf[REQUEST_MAX_BYTES];
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(request_sign(buf, &len, &q, f.keys[0], &why), RL_OK, "%s", why.text);
    request back;
    cr_assert_eq(request_decode(&back, buf, len, &why), RL_OK, "%s", why.text);
    cr_assert(back.size_e18 == -REQUEST_MAX_E18 && back.entry_e18 == REQUEST_MAX_E18);
    uint8_t other[REQUEST_MAX_BYTES];
    size_t olen;
    q.size_e18 = -REQUEST_MAX_E18 - 1;
    cr_assert_eq(request_sign(other, &olen, &q, f.keys[0], &why), RL_ERR_ARG);
    /* The smallest 128-bit integer, which has no negation, written straight into the bytes. */
    memset(buf + 79, 0, 16);
    buf[79] = 0x80;
    cr_assert_eq(request_decode(&back, buf, len, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "size out of range") != NULL, "%s", why.text);
    fx_fini(&f);
}

/* ---- executions ---- */

#define T1 (T0 + 200000)

static void instruct(logb *l, uint8_t kind, uint64_t decision_seq, uint8_t index, uint64_t chain, uint8_t asset_last,
                     u256 amount, uint64_t nonce)
{
    uint64_t t = l->last_ms > T1 ? l->last_ms : T1; /* record time never goes backwards (ledger.h T1) */
    instruction in = {.kind = kind, .decision = decision_seq, .index = index, .chain_id = chain, .amount = amount,
                      .nonce = nonce, .deadline_s = t / 1000 + 600};
    memset(in.vault, 0xaa, EVM_ADDR_BYTES); /* fx_obs's vault */
    memcpy(in.account, ACCOUNT, EVM_ADDR_BYTES);
    in.asset[19] = asset_last;
    memset(in.recipient, kind == INSTRUCTION_RELEASE ? 0x22 : 0xee, EVM_ADDR_BYTES);
    uint8_t enc[INSTRUCTION_BYTES];
    cr_assert_eq(instruction_encode(enc, &in, NULL), RL_OK);
    push(l, RECORD_INSTRUCTION, enc, sizeof enc, t);
}

static void vault_event(logb *l, uint8_t kind, uint64_t chain, uint8_t asset_last, u256 amount, uint64_t vseq,
                        uint64_t nonce)
{
    obs o = fx_obs(chain, l->seq + 1000, vseq, 0);
    o.kind = kind;
    o.amount = amount;
    if (kind != OBS_KIND_ROTATED) {
        memcpy(o.account, ACCOUNT, EVM_ADDR_BYTES);
        o.asset[19] = asset_last;
    } else {
        memset(o.account, 0, EVM_ADDR_BYTES);
    }
    if (kind == OBS_KIND_EXECUTED) {
        o.nonce = nonce;
        o.ins_kind = INSTRUCTION_RELEASE;
    }
    payload_attest p = fx_attest(&l->f, &o, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    push(l, RECORD_ATTEST, buf, len, T1 + 1);
}

/* amount and reserved of holding i as `margin query` shows them. */
static void assert_holding(logb *l, size_t i, const char *amount, const char *reserved)
{
    json_t *j = calc_account_json(l->c, ACCOUNT);
    json_t *h = json_array_get(json_object_get(j, "collateral"), i);
    cr_assert_str_eq(json_string_value(json_object_get(h, "amount")), amount, "holding %zu", i);
    cr_assert_str_eq(json_string_value(json_object_get(h, "reserved")), reserved, "holding %zu", i);
    json_decref(j);
}

Test(calc, executions_lower_holdings_and_reservations_as_the_ledger_does)
{
    logb l;
    setup(&l);
    story(&l); /* 10 ETH, 5000 USDC; 1 ETH approved (decision at 10), liquidation seizing 9 ETH and the USDC (12) */
    log_decisions(&l, 0);
    assert_holding(&l, 0, "10", "10");
    instruct(&l, INSTRUCTION_RELEASE, 10, 0, 1, 0x00, u256_from_u64(E18), 1);
    instruct(&l, INSTRUCTION_SEIZE, 12, 1, 1, 0x00, u256_from_u64(9 * E18), 2);
    instruct(&l, INSTRUCTION_SEIZE, 12, 0, 10, 0xc0, u256_from_u64(5000000000ull), 1);
    assert_holding(&l, 0, "10", "10");

    vault_event(&l, OBS_KIND_EXECUTED, 1, 0x00, u256_from_u64(E18), 2, 1); /* the release */
    assert_holding(&l, 0, "9", "9");
    json_t *before = calc_account_json(l.c, ACCOUNT);
    vault_event(&l, OBS_KIND_ROTATED, 1, 0, u256_from_u64(2), 3, 0);
    json_t *after = calc_account_json(l.c, ACCOUNT);
    json_object_del(before, "as_of_seq");
    json_object_del(after, "as_of_seq");
    cr_assert(json_equal(before, after), "a rotation changes nothing");
    json_decref(before);
    json_decref(after);
    vault_event(&l, OBS_KIND_EXECUTED, 1, 0x00, u256_from_u64(9 * E18), 4, 2);    /* seize ETH */
    vault_event(&l, OBS_KIND_EXECUTED, 10, 0xc0, u256_from_u64(5000000000ull), 2, 1); /* seize USDC */
    assert_holding(&l, 0, "0", "0");
    assert_holding(&l, 1, "0", "0");
    cr_assert_eq(calc_get_stats(l.c)->executions, 3);
    cr_assert_eq(calc_get_stats(l.c)->unmatched, 0);

    /* 2 ETH arrive; nonce 7 (never logged) pays out 3: the ledger debits the 2 it has. */
    deposit(&l, 1, 0x00, 2 * E18, 5, T1 + 2);
    assert_holding(&l, 0, "2", "0");
    vault_event(&l, OBS_KIND_EXECUTED, 1, 0x00, u256_from_u64(3 * E18), 6, 7);
    assert_holding(&l, 0, "0", "0");
    cr_assert_eq(calc_get_stats(l.c)->unmatched, 1);

    /* Replayed, the log reproduces every decision the executions followed. */
    calc_replay *r = replay_all(&l);
    json_t *a = calc_account_json(l.c, ACCOUNT), *b = calc_account_json(calc_replay_calc(r), ACCOUNT);
    cr_assert(json_equal(a, b), "the replayed calculator holds what the live one holds");
    json_decref(a);
    json_decref(b);
    calc_replay_summary sum;
    calc_replay_get_summary(r, &sum);
    cr_assert_eq(sum.reproduced, 3);
    calc_replay_free(r);
    teardown(&l);
}

Test(calc, an_execution_unlike_its_instruction_frees_its_reservation_and_takes_what_is_free)
{
    logb l;
    setup(&l);
    story(&l);
    log_decisions(&l, 0);
    instruct(&l, INSTRUCTION_RELEASE, 10, 0, 1, 0x00, u256_from_u64(E18), 1);
    /* Nonce 1 executes 2 ETH, not the 1 instructed: its 1 leaves both reservations (the decided
     * seize of 9 stays reserved here, not instructed yet), and the 2 come from the 10. */
    vault_event(&l, OBS_KIND_EXECUTED, 1, 0x00, u256_from_u64(2 * E18), 2, 1);
    assert_holding(&l, 0, "8", "9");
    cr_assert_eq(calc_get_stats(l.c)->unmatched, 1);
    teardown(&l);
}

/* ---- expiries ---- */

/* An attested expiry of (chain, vault 0xaa.., nonce) seen at a block with timestamp time_s. */
static void expire(logb *l, uint8_t kind, uint64_t chain, uint8_t asset_last, uint64_t nonce, uint64_t time_s,
                   uint64_t t)
{
    instruction in = {.kind = kind, .chain_id = chain, .nonce = nonce, .amount = u256_from_u64(1)};
    memset(in.vault, 0xaa, EVM_ADDR_BYTES);
    memcpy(in.account, ACCOUNT, EVM_ADDR_BYTES);
    in.asset[19] = asset_last;
    uint8_t block_hash[HASH_BYTES] = {0x77};
    obs o;
    instruction_expired_obs(&o, &in, 900, block_hash, time_s);
    payload_attest p = fx_attest(&l->f, &o, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    push(l, RECORD_ATTEST, buf, len, t);
}

Test(calc, an_expired_seize_is_decided_again_while_the_account_is_liquidatable)
{
    logb l;
    setup(&l);
    story(&l); /* liquidation (decision record 12): 9 ETH on l1 and the USDC on l2 */
    log_decisions(&l, 0);
    instruct(&l, INSTRUCTION_RELEASE, 10, 0, 1, 0x00, u256_from_u64(E18), 1);
    instruct(&l, INSTRUCTION_SEIZE, 12, 1, 1, 0x00, u256_from_u64(9 * E18), 2);
    instruct(&l, INSTRUCTION_SEIZE, 12, 0, 10, 0xc0, u256_from_u64(5000000000ull), 1);
    vault_event(&l, OBS_KIND_EXECUTED, 10, 0xc0, u256_from_u64(5000000000ull), 2, 1); /* the USDC seize ran */
    price(&l, "ETH", (uint64_t[]){1700, 1700}, 2, T1 + 2, T1 + 2);
    size_t before = l.nmade;
    cr_assert_eq(before, 3, "a price that changes no status decides nothing");

    /* The ETH seize's deadline passed unexecuted: its 9 ETH are free again, the account is still
     * liquidatable, so a new liquidation, decided at the expiry's record, seizes them (the
     * release's 1 ETH stays reserved). */
    expire(&l, INSTRUCTION_SEIZE, 1, 0x00, 2, T1 / 1000 + 601, T1 + 3);
    cr_assert_eq(calc_get_stats(l.c)->expired, 1);
    cr_assert_eq(l.nmade, before + 1, "one new decision");
    decision *again = &l.made[before];
    cr_assert_eq(again->kind, DECISION_LIQUIDATE);
    cr_assert_eq(again->basis, l.seq, "decided at the expiry's record");
    cr_assert_eq(again->nseize, 1);
    u256 nine = u256_from_u64(9 * E18);
    cr_assert_eq(again->seize[0].chain_id, 1);
    cr_assert_eq(u256_cmp(&again->seize[0].amount, &nine), 0);
    assert_holding(&l, 0, "10", "10"); /* 1 for the release, 9 for the new seize */
    log_decisions(&l, before);
    uint64_t liq2 = l.seq;

    /* The release expires: its ETH is free (the trader may ask again); no seize expired, the
     * status did not change: no decision. */
    before = l.nmade;
    expire(&l, INSTRUCTION_RELEASE, 1, 0x00, 1, T1 / 1000 + 601, T1 + 4);
    assert_holding(&l, 0, "10", "9");
    cr_assert_eq(l.nmade, before);

    /* The new seize is issued (nonce 3) and expires when the price is stale: the decision waits
     * for the next fresh price, and is made there. */
    instruct(&l, INSTRUCTION_SEIZE, liq2, 0, 1, 0x00, nine, 3);
    expire(&l, INSTRUCTION_SEIZE, 1, 0x00, 3, T1 / 1000 + 601, T1 + 100000);
    cr_assert_eq(l.nmade, before, "a stale price decides nothing");
    assert_holding(&l, 0, "10", "0");
    price(&l, "ETH", (uint64_t[]){1700, 1700}, 2, T1 + 100001, T1 + 100001);
    cr_assert_eq(l.nmade, before + 1);
    cr_assert_eq(l.made[before].kind, DECISION_LIQUIDATE);
    cr_assert_eq(l.made[before].basis, l.seq, "decided at the fresh price");
    u256 ten = u256_from_u64(10 * E18);
    cr_assert_eq(u256_cmp(&l.made[before].seize[0].amount, &ten), 0, "all 10 ETH are free now");
    log_decisions(&l, before);

    /* Replay reproduces the re-decided liquidations from the log alone. */
    calc_replay *r = replay_all(&l);
    calc_replay_summary sum;
    calc_replay_get_summary(r, &sum);
    cr_assert_eq(sum.logged, 5);
    cr_assert_eq(sum.reproduced, 5);
    calc_replay_free(r);
    teardown(&l);
}

/* ---- overdue chains ---- */

/* ETH on l1 is seized first here, USDC on l2 after it. */
static const char RISK_ETH_FIRST[] =
    "{\"chains\": {\"l1\": 1, \"l2\": 10},"
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,"
    "                        \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}},"
    "              \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 2,"
    "                        \"tokens\": {\"l2\": \"0x00000000000000000000000000000000000000c0\"}}},"
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}},"
    " \"params\": {\"liquidation_fee\": \"0.01\"},"
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 60000}}";

#define DUE_MS ((T1 / 1000 + 600) * 1000) /* instruct()'s deadline, in record time */
#define USDC(micro) u256_from_u64(micro)

/* 1 ETH on l1 and 14700 USDC on l2, long 100 ETH-PERP at 3000 (equity 17106 >= IM 15000); ETH
 * falls to 2900: equity 7016 < MM 8700, owed 10000 loss + 2900 fee = 12900, seized as the ETH
 * (2610) and 10290 / 0.98 = 10500 USDC; 4200 USDC stay free. Both seizes logged (nonce 1 on
 * each vault) and the USDC one executed. */
static void solvent_liquidation(logb *l)
{
    deposit(l, 1, 0x00, E18, 1, T0 + 1);
    deposit(l, 10, 0xc0, 14700000000ull, 1, T0 + 2);
    price(l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    price(l, "USDC", (uint64_t[]){1, 1}, 2, T0 + 3, T0 + 11);
    position(l, 100, 3000, T0 + 20);
    cr_assert_eq(l->nmade, 0, "healthy at 3000");
    price(l, "ETH", (uint64_t[]){2900, 2900}, 2, T0 + 40, T0 + 41);
    cr_assert_eq(l->nmade, 1);
    decision *d = &l->made[0];
    u256 one = u256_from_u64(E18), usdc = USDC(10500000000ull);
    cr_assert(d->kind == DECISION_LIQUIDATE && d->nseize == 2 && d->bad_debt_u == 0);
    cr_assert(d->seize[0].chain_id == 1 && u256_cmp(&d->seize[0].amount, &one) == 0, "the ETH first");
    cr_assert(d->seize[1].chain_id == 10 && u256_cmp(&d->seize[1].amount, &usdc) == 0, "then 10500 USDC");
    log_decisions(l, 0);
    uint64_t ds = l->seq;
    instruct(l, INSTRUCTION_SEIZE, ds, 0, 1, 0x00, one, 1);
    instruct(l, INSTRUCTION_SEIZE, ds, 1, 10, 0xc0, usdc, 1);
    vault_event(l, OBS_KIND_EXECUTED, 10, 0xc0, usdc, 2, 1);
    assert_holding(l, 0, "1", "1");
    assert_holding(l, 1, "4200", "0");
    cr_assert_eq(l->nmade, 1, "executing a seize of a standing liquidation decides nothing");
}

Test(calc, an_overdue_seize_is_replaced_from_another_chain_and_stays_reserved)
{
    logb l;
    setup_risk(&l, RISK_ETH_FIRST);
    solvent_liquidation(&l);
    /* At its deadline the ETH seize may still execute: nothing changes. */
    price(&l, "USDC", (uint64_t[]){1, 1}, 2, DUE_MS - 1, DUE_MS - 1);
    price(&l, "ETH", (uint64_t[]){2900, 2900}, 2, DUE_MS, DUE_MS);
    cr_assert_eq(l.nmade, 1);
    /* A record past it: L1's seize is overdue. Its 1 ETH stays reserved (it may still execute);
     * the account is still liquidatable, so a replacement is decided at this record: the 2610 it
     * was to bring, from the free USDC on L2 (2610 / 0.98, up: 2663.265307), nothing from L1. */
    price(&l, "ETH", (uint64_t[]){2900, 2900}, 2, DUE_MS + 1, DUE_MS + 1);
    cr_assert_eq(l.nmade, 2, "one replacement");
    decision *d = &l.made[1];
    u256 repl = USDC(2663265307ull);
    cr_assert_eq(d->kind, DECISION_LIQUIDATE);
    cr_assert_eq(d->basis, l.seq);
    cr_assert_eq(d->nseize, 1);
    cr_assert(d->seize[0].chain_id == 10 && u256_cmp(&d->seize[0].amount, &repl) == 0,
              "the replacement comes from L2's USDC");
    cr_assert_eq(d->bad_debt_u, 0);
    assert_holding(&l, 0, "1", "1");               /* the overdue ETH: still reserved, never twice */
    assert_holding(&l, 1, "4200", "2663.265307"); /* the replacement */
    log_decisions(&l, 1);
    uint64_t liq2 = l.seq;

    /* Later records decide nothing more: the overdue seize was replaced once. */
    price(&l, "ETH", (uint64_t[]){2900, 2900}, 2, DUE_MS + 1000, DUE_MS + 1000);
    cr_assert_eq(l.nmade, 2);

    /* The overdue seize is proven expired: its ETH is free again. The new plan owes nothing: the
     * executed USDC seize (10290) and the replacement under way (2610) cover the 12900. */
    expire(&l, INSTRUCTION_SEIZE, 1, 0x00, 1, DUE_MS / 1000 + 1, DUE_MS + 2000);
    assert_holding(&l, 0, "1", "0");
    cr_assert_eq(l.nmade, 3);
    cr_assert(l.made[2].kind == DECISION_LIQUIDATE && l.made[2].nseize == 0 && l.made[2].bad_debt_u == 0,
              "nothing seized twice: %u seizes", l.made[2].nseize);
    log_decisions(&l, 2);
    instruct(&l, INSTRUCTION_SEIZE, liq2, 0, 10, 0xc0, repl, 2);
    vault_event(&l, OBS_KIND_EXECUTED, 10, 0xc0, repl, 3, 2);
    assert_holding(&l, 1, "1536.734693", "0");

    calc_replay *r = replay_all(&l);
    calc_replay_summary sum;
    calc_replay_get_summary(r, &sum);
    cr_assert_eq(sum.logged, 3);
    cr_assert_eq(sum.reproduced, 3, "audit replay --risk reproduces the replacement from the log alone");
    calc_replay_free(r);
    teardown(&l);
}

Test(calc, a_seize_overdue_with_nothing_free_elsewhere_waits_for_its_expiry)
{
    logb l;
    setup_risk(&l, RISK_ETH_FIRST);
    solvent_liquidation(&l);
    /* The free USDC leaves (an execution no instruction reserved: it takes what is free). */
    vault_event(&l, OBS_KIND_EXECUTED, 10, 0xc0, USDC(4200000000ull), 3, 9); /* unmatched: takes the free 4200 */
    assert_holding(&l, 1, "0", "0");
    size_t before = l.nmade;
    log_decisions(&l, 1);
    price(&l, "USDC", (uint64_t[]){1, 1}, 2, DUE_MS - 1, DUE_MS - 1);
    price(&l, "ETH", (uint64_t[]){2900, 2900}, 2, DUE_MS + 1, DUE_MS + 1);
    /* Overdue, but nothing is free on another chain (nor on L1): no empty decision. */
    cr_assert_eq(l.nmade, before);
    assert_holding(&l, 0, "1", "1");
    teardown(&l);
}

Test(calc, a_replacement_never_seizes_on_the_overdue_chain)
{
    logb l;
    setup_risk(&l, RISK_ETH_FIRST);
    solvent_liquidation(&l);
    vault_event(&l, OBS_KIND_EXECUTED, 10, 0xc0, USDC(4200000000ull), 3, 9); /* the free USDC leaves */
    deposit(&l, 1, 0x00, E18 / 10, 2, T0 + 50);                            /* 0.1 ETH free on L1 */
    assert_holding(&l, 0, "1.1", "1");
    size_t before = l.nmade;
    log_decisions(&l, 1);
    price(&l, "USDC", (uint64_t[]){1, 1}, 2, DUE_MS - 1, DUE_MS - 1);
    price(&l, "ETH", (uint64_t[]){2900, 2900}, 2, DUE_MS + 1, DUE_MS + 1);
    /* Overdue on L1, nothing free elsewhere: a seize of L1's free 0.1 ETH could execute only when
     * the overdue one can, so no replacement is decided; the expiry will re-decide. */
    cr_assert_eq(l.nmade, before, "a replacement on the overdue chain");
    assert_holding(&l, 0, "1.1", "1");
    teardown(&l);
}
