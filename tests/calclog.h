/*
 * calclog.h - a log built in memory for the calculator's suites (calc_test.c, admit_test.c):
 * every record is checked by audit_next with all its signatures, then fed to a calculator whose
 * decisions are kept; the trader ACCOUNT is OWNER_SK's address, the venue the fixture's pinned
 * spare key.
 */
#ifndef RL_TESTS_CALCLOG_H
#define RL_TESTS_CALCLOG_H

#include <criterion/criterion.h>

#include "attest/admit.h"
#include "attest/audit.h"
#include "attest/decision.h"
#include "attest/instruction.h"
#include "attest/request.h"
#include "collateral/calc.h"
#include "tests/fixture.h"

static const char RISK[] =
    "{\"chains\": {\"l1\": 1, \"l2\": 10},"
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2,"
    "                        \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}},"
    "              \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1,"
    "                        \"tokens\": {\"l2\": \"0x00000000000000000000000000000000000000c0\"}}},"
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", "
    "\"mmf\": \"0.03\"}],"
    "                            \"vol\": {\"sigma_ref\": \"0.02\", \"cap\": \"3\", \"sigma\": \"0.02\"}}},"
    " \"params\": {\"liquidation_fee\": \"0.01\", \"ewma_lambda\": \"0.94\"},"
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 60000}}";

#define T0 1700000000000ull
#define E18 1000000000000000000ull

typedef struct logb {
    fixture f;
    node_key *calc_key;
    mg_risk risk;
    calc *c;
    uint64_t seq, nonce;
    uint64_t last_ms; /* the last record's time (ledger.h T1) */
    uint64_t pos_nonce; /* the venue's view: its last position request signed for ACCOUNT (admit.h A6) */
    uint8_t prev[HASH_BYTES];
    uint8_t *recs[256];
    size_t lens[256];
    decision made[64];
    size_t nmade;
    audit *a;
} logb;

/* Signs q's Withdrawal with sk for the cluster whose genesis set is `genesis` (its id the EIP-712
 * salt, attest/eip712.h). */
static inline void sign_owner_for(request *q, const relset *genesis, const uint8_t sk[SECP256K1_SK_BYTES])
{
    uint8_t cluster[HASH_BYTES];
    cr_assert_eq(admit_cluster_id(cluster, genesis), RL_OK);
    cr_assert_eq(admit_owner_sign(q, cluster, sk), RL_OK);
}

/* The trader: the address of OWNER_SK, which signs its withdrawals (setup fills both). */
static uint8_t ACCOUNT[EVM_ADDR_BYTES], OWNER_SK[SECP256K1_SK_BYTES];

static inline void on_decision(void *ctx, const decision *d)
{
    logb *l = ctx;
    cr_assert_lt(l->nmade, 64);
    l->made[l->nmade++] = *d;
}

/* Appends a record, checks it with the audit (signatures too) and feeds the calculator. Stamped as
 * the hub stamps (ledger.h T1): time_ms, or the last record's time when that is later. */
static inline void push(logb *l, uint8_t type, const uint8_t *payload, size_t plen, uint64_t time_ms)
{
    if (time_ms < l->last_ms)
        time_ms = l->last_ms;
    l->last_ms = time_ms;
    record r = {.type = type, .seq = ++l->seq, .time_ms = time_ms, .payload = payload, .payload_len = (uint32_t)plen};
    memcpy(r.prev, l->prev, HASH_BYTES);
    uint8_t *enc = malloc(RECORD_MAX_BYTES);
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(record_encode(&r, enc, &len, &why), RL_OK, "%s", why.text);
    record_hash(l->prev, enc, len);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    size_t nj = 0;
    cr_assert_eq(audit_next(l->a, enc, len, jobs, &nj, &why), RL_OK, "record %llu: %s", (unsigned long long)r.seq,
                 why.text);
    verify_jobs_fn(jobs, 0, nj);
    for (size_t i = 0; i < nj; i++)
        cr_assert(jobs[i].ok, "record %llu: signature %zu", (unsigned long long)r.seq, i);
    if (l->c != NULL)
        cr_assert_eq(calc_apply(l->c, enc, len, &why), RL_OK, "%s", why.text);
    l->recs[l->seq - 1] = enc;
    l->lens[l->seq - 1] = len;
}


static inline void setup_risk(logb *l, const char *risk)
{
    memset(l, 0, sizeof *l);
    fx_init(&l->f, 3, 2);
    fx_owner(OWNER_SK, ACCOUNT, 0);
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&l->calc_key, "calc", &why), RL_OK);
    fx_risk(&l->risk, risk);
    cr_assert_eq(calc_new(&l->c, &l->risk, on_decision, l, NULL, NULL), RL_OK);
    cr_assert_eq(audit_new(&l->a, &l->f.set), RL_OK);
    payload_set ps = {.set = l->f.set};
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_set_encode(&ps, buf, &len, &why), RL_OK);
    push(l, RECORD_SET, buf, len, T0);
}

static inline void teardown(logb *l)
{
    for (uint64_t i = 0; i < l->seq; i++)
        free(l->recs[i]);
    calc_free(l->c);
    audit_free(l->a);
    mg_risk_fini(&l->risk);
    node_key_free(l->calc_key);
    fx_fini(&l->f);
}

static inline void deposit(logb *l, uint64_t chain, uint8_t asset_last, uint64_t amount, uint64_t vseq, uint64_t t)
{
    obs o = fx_obs(chain, l->seq + 1000, vseq, amount);
    memcpy(o.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(o.asset, 0, EVM_ADDR_BYTES);
    o.asset[19] = asset_last;
    payload_attest p = fx_attest(&l->f, &o, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    push(l, RECORD_ATTEST, buf, len, t);
}

/* A PRICE record of feed signed by members 1..n at prices[i], observed at obs_ms. */
static inline void price(logb *l, const char *feed, const uint64_t *whole, unsigned n, uint64_t obs_ms, uint64_t t)
{
    payload_price p = {.n = (uint8_t)n};
    snprintf(p.feed, sizeof p.feed, "%s", feed);
    for (unsigned i = 0; i < n; i++) {
        price_obs o = {.price_e18 = (__int128)whole[i] * E18, .time_ms = obs_ms};
        snprintf(o.feed, sizeof o.feed, "%s", feed);
        uint8_t enc[PRICE_OBS_BYTES];
        cr_assert_eq(price_encode(enc, &o, NULL), RL_OK);
        price_sign(&p.e[i], enc, (uint16_t)(i + 1), l->f.keys[i]);
    }
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_price_encode(&p, buf, &len, NULL), RL_OK);
    push(l, RECORD_PRICE, buf, len, t);
}

/* Logs q as signed by venue (its owner part as the caller left it). */
static inline void req_by(logb *l, request *q, node_key *venue, uint64_t t)
{
    memcpy(q->venue, node_key_pub(venue)->ed25519, ED25519_PK_BYTES);
    q->nonce = ++l->nonce;
    uint8_t buf[REQUEST_MAX_BYTES];
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(request_sign(buf, &len, q, venue, &why), RL_OK, "%s", why.text);
    push(l, RECORD_REQUEST, buf, len, t);
}

/* Logs q for the trader, by the pinned venue (the fixture's spare key: not a relayer); a withdrawal
 * signed by its owner with the next owner nonce, valid for an hour, and bound to the venue's last
 * position request for the trader (pos_nonce). */
static inline void req(logb *l, request *q, uint64_t t)
{
    memcpy(q->account, ACCOUNT, EVM_ADDR_BYTES);
    if (q->kind == REQUEST_WITHDRAW) {
        q->owner_nonce = l->nonce + 1;
        q->expiry_s = t / 1000 + 3600;
        q->positions_nonce = l->pos_nonce;
        sign_owner_for(q, &l->f.set, OWNER_SK);
    }
    req_by(l, q, l->f.keys[3], t);
    if (q->kind == REQUEST_POSITION)
        l->pos_nonce = q->nonce;
}

static inline void position(logb *l, __int128 size, uint64_t entry, uint64_t t)
{
    request q = {.kind = REQUEST_POSITION, .mode = REQUEST_MODE_CROSS, .size_e18 = size * E18,
                 .entry_e18 = (__int128)entry * E18};
    snprintf(q.market, sizeof q.market, "ETH-PERP");
    req(l, &q, t);
}

static inline void withdraw_eth(logb *l, uint64_t whole, uint64_t t)
{
    request q = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(whole * E18)};
    memset(q.recipient, 0x22, EVM_ADDR_BYTES);
    req(l, &q, t);
}

/* Signs and logs every decision made so far (as the hub would, right after its basis). */
static inline void log_decisions(logb *l, size_t from)
{
    for (size_t i = from; i < l->nmade; i++) {
        decision d = l->made[i];
        memcpy(d.calculator, node_key_pub(l->calc_key)->ed25519, ED25519_PK_BYTES);
        uint8_t buf[DECISION_MAX_BYTES];
        size_t len;
        cr_assert_eq(decision_sign(buf, &len, &d, l->calc_key, NULL), RL_OK);
        push(l, RECORD_DECISION, buf, len, T0 + 100000);
    }
}

static inline void setup(logb *l) { setup_risk(l, RISK); }

/* A calculator replay fed the whole log, every record accepted. */
static inline calc_replay *replay_all(logb *l)
{
    calc_replay *r;
    rl_why why = {{0}};
    cr_assert_eq(calc_replay_new(&r, &l->risk), RL_OK);
    for (uint64_t i = 0; i < l->seq; i++)
        cr_assert_eq(calc_replay_next(r, l->recs[i], l->lens[i], &why), RL_OK, "record %llu: %s",
                     (unsigned long long)i + 1, why.text);
    return r;
}

#endif
