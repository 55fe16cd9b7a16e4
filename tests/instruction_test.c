/*
 * instruction_test.c - instructions: their encoding, the plans a decision files, the ledger and
 * the audit accepting only an instruction that carries out a plan (and the ledger reserving its
 * amount), and the hub's builder making exactly the instructions the ledger accepts.
 *
 * Every record goes to a real LMDB ledger and through audit_next (signatures verified); where
 * the ledger refuses a record the audit must refuse it too, except for a shortage of funds, which
 * only the ledger (and so audit replay) can see. Attested executions finalise instructions:
 * matched ones settle their reservation, unmatched ones debit what is free (ledger.h).
 */
#include <criterion/criterion.h>

#include "attest/admit.h"
#include "attest/audit.h"
#include "attest/bundle.h"
#include "attest/decision.h"
#include "attest/instruction.h"
#include "attest/pool.h"
#include "attest/request.h"
#include "collateral/calc.h"
#include "db/ingest.h"
#include "db/ledger.h"
#include "db/ledger_fund.h"
#include "db/replay.h"
#include "relayer/hubinstr.h"
#include "tests/fixture.h"

#define E18 1000000000000000000ull
#define T0 1700000000000ull

static const char RISK[] =
    "{\"chains\": {\"l1\": {\"chain_id\": 1, \"vault\": \"0x00000000000000000000000000000000000000aa\","
    "                    \"insurance\": \"0x00000000000000000000000000000000000000ee\", \"deadline_s\": 600},"
    "            \"l2\": 10},"
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,"
    "                        \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}}},"
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}},"
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 60000}}";

typedef struct world {
    fixture f;
    node_key *calc;
    audit *a;
    mg_risk risk;
    calc *c; /* fed what the ledger accepts: its holdings must equal the ledger's balances */
    uint8_t account[EVM_ADDR_BYTES], recipient[EVM_ADDR_BYTES], vault[EVM_ADDR_BYTES];
    uint8_t owner_sk[SECP256K1_SK_BYTES]; /* the account's: signs its withdrawals */
    uint64_t nonce;
} world;

/* Appends a record to the ledger and, unless funds_only, to the audit: both must answer want.
 * Returns the record's sequence number. */
static uint64_t push(world *w, uint8_t type, const uint8_t *payload, size_t plen, uint64_t time_ms, rl_err want,
                     bool funds_only)
{
    uint8_t *enc;
    size_t len;
    uint64_t seq = fx_encode_next(w->f.s, type, payload, plen, time_ms, &enc, &len);
    rl_why why = {{0}}, awhy = {{0}};
    rl_err got = fx_append(w->f.s, enc, len, &why);
    cr_assert_eq(got, want, "%s record %llu: ledger says %s (%s)", record_type_name(type), (unsigned long long)seq,
                 rl_strerror(got), why.text);
    if (!funds_only) {
        verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
        size_t nj = 0;
        rl_err aerr = audit_next(w->a, enc, len, jobs, &nj, &awhy);
        cr_assert_eq(aerr == RL_OK, want == RL_OK, "%s record %llu: audit says %s (%s), ledger %s",
                     record_type_name(type), (unsigned long long)seq, rl_strerror(aerr), awhy.text,
                     rl_strerror(got));
        verify_jobs_fn(jobs, 0, nj);
        for (size_t i = 0; i < nj; i++)
            cr_assert(jobs[i].ok, "record %llu: signature %zu", (unsigned long long)seq, i);
        if (want != RL_OK && want != RL_ERR_DUPLICATE) /* the same check on both sides, in the same words */
            cr_assert_str_eq(awhy.text, why.text);
    }
    if (got == RL_OK)
        cr_assert_eq(calc_apply(w->c, enc, len, &why), RL_OK, "calculator: %s", why.text);
    free(enc);
    return seq;
}

static void ignore_decision(void *ctx, const decision *d)
{
    (void)ctx;
    (void)d;
}

static void setup(world *w)
{
    memset(w, 0, sizeof *w);
    fx_init(&w->f, 3, 2);
    fx_open_store(&w->f, NULL);
    rl_why why = {{0}};
    fx_risk(&w->risk, RISK);
    cr_assert_eq(calc_new(&w->c, &w->risk, ignore_decision, NULL, NULL, NULL), RL_OK);
    cr_assert_eq(node_key_generate(&w->calc, "calc", &why), RL_OK);
    cr_assert_eq(audit_new(&w->a, &w->f.set), RL_OK);
    fx_owner(w->owner_sk, w->account, 0);
    memset(w->recipient, 0x22, EVM_ADDR_BYTES);
    memset(w->vault, 0, EVM_ADDR_BYTES);
    w->vault[19] = 0xaa;
    payload_set ps = {.set = w->f.set};
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_set_encode(&ps, buf, &len, NULL), RL_OK);
    push(w, RECORD_SET, buf, len, T0, RL_OK, false);
    /* 10 ETH on chain 1 */
    obs o = fx_obs(1, 1, 1, 0);
    o.amount = u256_from_u64(10 * E18);
    memcpy(o.account, w->account, EVM_ADDR_BYTES);
    memset(o.asset, 0, EVM_ADDR_BYTES);
    payload_attest p = fx_attest(&w->f, &o, 2);
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    push(w, RECORD_ATTEST, buf, len, T0 + 1, RL_OK, false);
}

static void teardown(world *w)
{
    calc_free(w->c);
    mg_risk_fini(&w->risk);
    audit_free(w->a);
    node_key_free(w->calc);
    fx_fini(&w->f);
}

/* Who signs w's withdrawals and where they go: chain 1, the venue key f.keys[3]. */
static fx_withdrawal wd_of(world *w)
{
    fx_withdrawal wd = {.genesis = &w->f.set, .venue = w->f.keys[3], .calc = w->calc, .owner_sk = w->owner_sk,
                        .account = w->account, .recipient = w->recipient, .vault = w->vault, .chain_id = 1};
    return wd;
}

/* A venue withdrawal request of `whole` ETH on chain 1 whose owner signature expires at expiry_s;
 * returns its record's seq. */
static uint64_t withdraw_request_until(world *w, uint64_t whole, uint64_t expiry_s, uint8_t key[HASH_BYTES])
{
    fx_withdrawal wd = wd_of(w);
    uint8_t buf[REQUEST_MAX_BYTES];
    size_t len;
    fx_withdraw_request(&wd, u256_from_u64(whole * E18), ++w->nonce, expiry_s, buf, &len, key);
    return push(w, RECORD_REQUEST, buf, len, T0 + 2, RL_OK, false);
}

/* The same, valid for an hour. */
static uint64_t withdraw_request(world *w, uint64_t whole, uint8_t key[HASH_BYTES])
{
    return withdraw_request_until(w, whole, T0 / 1000 + 3600, key);
}

static uint64_t log_decision(world *w, decision *d, uint64_t time_ms)
{
    fx_withdrawal wd = wd_of(w);
    uint8_t buf[DECISION_MAX_BYTES];
    size_t len;
    fx_decision(&wd, d, buf, &len);
    return push(w, RECORD_DECISION, buf, len, time_ms, RL_OK, false);
}

/* A withdrawal of `whole` ETH requested and approved; returns the DECISION's seq. */
static uint64_t approve_withdrawal(world *w, uint64_t whole)
{
    uint8_t key[HASH_BYTES];
    uint64_t rq = withdraw_request(w, whole, key);
    decision d = {.kind = DECISION_WITHDRAW_OK, .basis = rq};
    memcpy(d.request, key, HASH_BYTES);
    return log_decision(w, &d, T0 + 3);
}

static instruction release_of(world *w, uint64_t decision_seq, uint64_t whole, uint64_t nonce)
{
    fx_withdrawal wd = wd_of(w);
    return fx_release(&wd, decision_seq, u256_from_u64(whole * E18), nonce, T0 / 1000 + 600);
}

static rl_err push_instruction(world *w, const instruction *in, rl_err want, bool funds_only)
{
    uint8_t enc[INSTRUCTION_BYTES];
    cr_assert_eq(instruction_encode(enc, in, NULL), RL_OK);
    push(w, RECORD_INSTRUCTION, enc, sizeof enc, T0 + 10, want, funds_only);
    return want;
}

static u256 reserved_eth(world *w)
{
    MDB_txn *txn;
    u256 b, r;
    static const uint8_t native[EVM_ADDR_BYTES];
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, w->f.s, w->account, 1, native, &b, &r, NULL), RL_OK);
    store_read_end(txn);
    return r;
}

static int count_plan(void *ctx, const instruction_plan *p, uint8_t attempt)
{
    (void)p;
    (void)attempt;
    (*(size_t *)ctx)++;
    return 0;
}

static size_t plans_due(world *w)
{
    MDB_txn *txn;
    size_t n = 0;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_plans(txn, w->f.s, count_plan, &n, NULL), RL_OK);
    store_read_end(txn);
    return n;
}

Test(instruction, encoding_round_trips_and_decoding_is_strict)
{
    world w;
    memset(&w, 0, sizeof w);
    memset(w.account, 0x11, EVM_ADDR_BYTES);
    memset(w.recipient, 0x22, EVM_ADDR_BYTES);
    memset(w.vault, 0xaa, EVM_ADDR_BYTES);
    instruction in = release_of(&w, 5, 3, 9), back;
    uint8_t enc[INSTRUCTION_BYTES];
    rl_why why = {{0}};
    cr_assert_eq(instruction_encode(enc, &in, &why), RL_OK, "%s", why.text);
    cr_assert_eq(instruction_decode(&back, enc, sizeof enc, &why), RL_OK, "%s", why.text);
    cr_assert_eq(memcmp(&back.amount, &in.amount, sizeof in.amount), 0);
    cr_assert(back.nonce == 9 && back.decision == 5 && back.deadline_s == in.deadline_s);
    cr_assert_eq(instruction_decode(&back, enc, sizeof enc - 1, &why), RL_ERR_DECODE);
    enc[0] = 2;
    cr_assert_eq(instruction_decode(&back, enc, sizeof enc, &why), RL_ERR_DECODE);
    enc[0] = 1;
    enc[1] = 3; /* kind */
    cr_assert_eq(instruction_decode(&back, enc, sizeof enc, &why), RL_ERR_DECODE);
    in.amount = u256_from_u64(0);
    cr_assert_eq(instruction_encode(enc, &in, &why), RL_ERR_ARG);
    in = release_of(&w, 5, 3, 9);
    memset(in.recipient, 0, EVM_ADDR_BYTES);
    cr_assert_eq(instruction_encode(enc, &in, &why), RL_ERR_ARG);
    in = release_of(&w, 5, 3, 9);
    in.index = 1; /* a release has one instruction */
    cr_assert_eq(instruction_encode(enc, &in, &why), RL_ERR_ARG);
}

Test(instruction, a_release_must_carry_out_its_approved_withdrawal_and_reserves_it_once)
{
    world w;
    setup(&w);
    uint8_t key[HASH_BYTES];
    uint64_t rq = withdraw_request(&w, 4, key);
    decision d = {.kind = DECISION_WITHDRAW_OK, .basis = rq};
    memcpy(d.request, key, HASH_BYTES);
    uint64_t ds = log_decision(&w, &d, T0 + 3);
    cr_assert_eq(plans_due(&w), 1);

    instruction in = release_of(&w, ds, 5, 1); /* not the amount approved */
    push_instruction(&w, &in, RL_ERR_STATE, false);
    in = release_of(&w, ds, 4, 1);
    in.recipient[0] ^= 1; /* not the recipient the venue asked for */
    push_instruction(&w, &in, RL_ERR_STATE, false);
    in = release_of(&w, ds, 4, 1);
    in.deadline_s = (T0 + 10) / 1000; /* already passed when logged */
    push_instruction(&w, &in, RL_ERR_STATE, false);
    in = release_of(&w, ds + 1, 4, 1); /* not a decision's plan */
    push_instruction(&w, &in, RL_ERR_STATE, false);
    u256 r0 = reserved_eth(&w);
    cr_assert(u256_is_zero(&r0), "nothing reserved by refused instructions");

    in = release_of(&w, ds, 4, 1);
    push_instruction(&w, &in, RL_OK, false);
    u256 r = reserved_eth(&w), four = u256_from_u64(4 * E18);
    cr_assert_eq(u256_cmp(&r, &four), 0);
    cr_assert_eq(plans_due(&w), 0);
    /* Once carried out, the plan is gone: the same release again is refused. */
    in.nonce = 2;
    push_instruction(&w, &in, RL_ERR_STATE, false);

    /* A refused withdrawal files no plan. */
    rq = withdraw_request(&w, 1, key);
    d = (decision){.kind = DECISION_WITHDRAW_REFUSED, .reason = REASON_UNSAFE, .basis = rq};
    memcpy(d.request, key, HASH_BYTES);
    log_decision(&w, &d, T0 + 11);
    cr_assert_eq(plans_due(&w), 0);
    teardown(&w);
}

Test(instruction, seizes_need_rising_nonces_and_free_funds)
{
    world w;
    setup(&w);
    static const uint8_t native[EVM_ADDR_BYTES];
    decision d = {.kind = DECISION_LIQUIDATE, .basis = 2, .nseize = 2};
    d.seize[0] = (decision_seize){.chain_id = 1, .amount = u256_from_u64(6 * E18)};
    d.seize[1] = (decision_seize){.chain_id = 1, .amount = u256_from_u64(5 * E18)}; /* 11 of 10 in all */
    uint64_t ds = log_decision(&w, &d, T0 + 3);
    cr_assert_eq(plans_due(&w), 2);
    instruction in = release_of(&w, ds, 6, 3);
    in.kind = INSTRUCTION_SEIZE;
    memset(in.recipient, 0xee, EVM_ADDR_BYTES); /* the insurance address: the hub's to choose */
    memcpy(in.asset, native, EVM_ADDR_BYTES);
    push_instruction(&w, &in, RL_OK, false);
    in.index = 1;
    in.amount = u256_from_u64(5 * E18);
    in.nonce = 3; /* not above the vault's last */
    push_instruction(&w, &in, RL_ERR_STATE, false);
    in.nonce = 7;
    /* Only 4 ETH are free: the ledger refuses, and writes nothing (audit replay sees this). */
    push_instruction(&w, &in, RL_ERR_FUNDS, true);
    u256 r = reserved_eth(&w), six = u256_from_u64(6 * E18);
    cr_assert_eq(u256_cmp(&r, &six), 0);
    cr_assert_eq(plans_due(&w), 1);
    teardown(&w);
}

struct built {
    instruction in[8];
    size_t n;
};

static rl_err keep(void *ctx, const instruction *in, rl_why *why)
{
    (void)why;
    struct built *b = ctx;
    cr_assert_lt(b->n, 8);
    b->in[b->n++] = *in;
    return RL_OK;
}

static void scan(world *w, hubinstr *h, uint64_t now_ms, struct built *b)
{
    MDB_txn *txn;
    rl_why why = {{0}};
    b->n = 0;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(hubinstr_scan(h, txn, w->f.s, now_ms, now_ms, keep, b, &why), RL_OK, "%s", why.text);
    store_read_end(txn);
}

Test(instruction, the_hub_builds_what_the_ledger_accepts_once_per_plan)
{
    world w;
    setup(&w);
    hubinstr *h; /* the hub's builder under the world's risk parameters */
    cr_assert_eq(hubinstr_new(&h, &w.risk, 30000), RL_OK);

    uint64_t ds = approve_withdrawal(&w, 2);
    decision liq = {.kind = DECISION_LIQUIDATE, .basis = ds, .nseize = 2};
    liq.seize[0] = (decision_seize){.chain_id = 1, .amount = u256_from_u64(3 * E18)};
    liq.seize[1] = (decision_seize){.chain_id = 10, .amount = u256_from_u64(1)}; /* l2 has no vault */
    uint64_t ls = log_decision(&w, &liq, T0 + 4);

    struct built b;
    scan(&w, h, T0 + 5, &b);
    cr_assert_eq(b.n, 2, "a release and the seize on l1; l2's waits");
    cr_assert(b.in[0].kind == INSTRUCTION_RELEASE && b.in[0].decision == ds && b.in[0].nonce == 1);
    cr_assert(b.in[1].kind == INSTRUCTION_SEIZE && b.in[1].decision == ls && b.in[1].nonce == 2);
    cr_assert_eq(b.in[1].recipient[19], 0xee);
    cr_assert_eq(memcmp(b.in[0].recipient, w.recipient, EVM_ADDR_BYTES), 0);
    cr_assert_eq(b.in[0].deadline_s, (T0 + 5) / 1000 + 600);
    /* In flight: not built again before the retry time. */
    struct built again;
    scan(&w, h, T0 + 6, &again);
    cr_assert_eq(again.n, 0);
    for (size_t i = 0; i < b.n; i++)
        push_instruction(&w, &b.in[i], RL_OK, false);
    cr_assert_eq(plans_due(&w), 1);
    scan(&w, h, T0 + 60000, &again);
    cr_assert_eq(again.n, 0, "only l2's plan is left, and it has no vault");
    u256 r = reserved_eth(&w), five = u256_from_u64(5 * E18);
    cr_assert_eq(u256_cmp(&r, &five), 0);
    hubinstr_free(h);
    teardown(&w);
}

/* instruction.h I1: the owner signed a withdrawal valid for two minutes; the chain's deadline_s is
 * ten. The hub's release ends at the owner's expiry, and the ledger and the audit refuse one that
 * would run past it (the vault would then execute an expired signature's withdrawal). */
Test(instruction, a_release_never_carries_a_deadline_past_its_owners_expiry)
{
    world w;
    setup(&w);
    hubinstr *h;
    cr_assert_eq(hubinstr_new(&h, &w.risk, 30000), RL_OK);
    uint64_t expiry_s = T0 / 1000 + 120;
    uint8_t key[HASH_BYTES];
    uint64_t rq = withdraw_request_until(&w, 2, expiry_s, key);
    decision d = {.kind = DECISION_WITHDRAW_OK, .basis = rq};
    memcpy(d.request, key, HASH_BYTES);
    uint64_t ds = log_decision(&w, &d, T0 + 3);

    struct built b;
    scan(&w, h, T0 + 5, &b);
    cr_assert_eq(b.n, 1);
    cr_assert_eq(b.in[0].deadline_s, expiry_s, "the owner's expiry, not the chain's %llu",
                 (unsigned long long)((T0 + 5) / 1000 + 600));

    instruction late = release_of(&w, ds, 2, 1);
    late.deadline_s = expiry_s + 1;
    push_instruction(&w, &late, RL_ERR_STATE, false);
    instruction_plan p;
    request q = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(2 * E18), .expiry_s = expiry_s};
    memcpy(q.account, w.account, EVM_ADDR_BYTES);
    memcpy(q.recipient, w.recipient, EVM_ADDR_BYTES);
    size_t n;
    decision dq = {.kind = DECISION_WITHDRAW_OK};
    memcpy(dq.account, w.account, EVM_ADDR_BYTES);
    request_key(dq.request, q.venue, q.nonce);
    cr_assert_eq(instruction_plans(&dq, ds, &q, &p, &n, NULL), RL_OK);
    cr_assert(n == 1 && p.expiry_s == expiry_s, "the plan carries the owner's expiry");
    rl_why why = {{0}};
    cr_assert_eq(instruction_check(&late, &p, 0, T0 + 10, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "past the owner's expiry") != NULL, "%s", why.text);
    u256 r0 = reserved_eth(&w);
    cr_assert(u256_is_zero(&r0), "nothing reserved by the refused release");

    push_instruction(&w, &b.in[0], RL_OK, false);
    u256 r = reserved_eth(&w), two = u256_from_u64(2 * E18);
    cr_assert_eq(u256_cmp(&r, &two), 0);
    hubinstr_free(h);
    teardown(&w);
}

/* Members 1..n (fixture keys) sign the instruction's digest; sorted as the vault wants. */
static bundle sign_bundle(world *w, uint64_t seq, const instruction *in, unsigned n)
{
    bundle b = {.instruction = seq, .n = (uint8_t)n};
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, in);
    for (unsigned i = 0; i < n; i++) {
        b.e[i].member = (uint16_t)(i + 1);
        cr_assert_eq(node_key_sign_evm(w->f.keys[i], b.e[i].sig, digest), RL_OK);
    }
    bundle_sort(&b, &w->f.set);
    return b;
}

static void push_bundle(world *w, const bundle *b, rl_err want)
{
    uint8_t enc[BUNDLE_MAX_BYTES];
    size_t len;
    cr_assert_eq(bundle_encode(enc, &len, b, NULL), RL_OK);
    push(w, RECORD_BUNDLE, enc, len, T0 + 20, want, false);
}

Test(instruction, a_bundle_is_a_quorum_of_valid_signatures_in_the_vaults_order_once)
{
    world w;
    setup(&w);
    uint64_t ds = approve_withdrawal(&w, 4);
    instruction in = release_of(&w, ds, 4, 1);
    push_instruction(&w, &in, RL_OK, false);
    uint64_t is = ds + 1;

    bundle one = sign_bundle(&w, is, &in, 1); /* below the threshold of 2 */
    push_bundle(&w, &one, RL_ERR_QUORUM);
    bundle b = sign_bundle(&w, is, &in, 2);
    bundle swapped = b;
    swapped.e[0] = b.e[1];
    swapped.e[1] = b.e[0];
    push_bundle(&w, &swapped, RL_ERR_STATE); /* not in ascending address order */
    bundle stranger = b;
    stranger.e[1].member = 9;
    push_bundle(&w, &stranger, RL_ERR_SIGNER);
    bundle of_other = b;
    of_other.instruction = ds; /* a decision, not an instruction */
    push_bundle(&w, &of_other, RL_ERR_STATE);
    bundle forged = b;
    forged.e[0].sig[10] ^= 1; /* recovers another address: the ledger refuses it as the audit does */
    push_bundle(&w, &forged, RL_ERR_SIG);
    teardown(&w);
}

Test(instruction, an_instruction_is_bundled_once)
{
    world w;
    setup(&w);
    uint64_t ds = approve_withdrawal(&w, 4);
    instruction in = release_of(&w, ds, 4, 1);
    push_instruction(&w, &in, RL_OK, false);
    bundle b = sign_bundle(&w, ds + 1, &in, 3);
    push_bundle(&w, &b, RL_OK);
    bundle again = sign_bundle(&w, ds + 1, &in, 2);
    push_bundle(&w, &again, RL_ERR_DUPLICATE);
    teardown(&w);
}

/* ---- attested executions ---- */

static u256 eth(uint64_t whole) { return u256_from_u64(whole * E18); }

static void balance_eth(world *w, u256 *balance, u256 *reserved)
{
    MDB_txn *txn;
    static const uint8_t native[EVM_ADDR_BYTES];
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, w->f.s, w->account, 1, native, balance, reserved, NULL), RL_OK);
    store_read_end(txn);
}

static void assert_eth(world *w, uint64_t balance_whole, uint64_t reserved_whole)
{
    u256 b, r, wb = eth(balance_whole), wr = eth(reserved_whole);
    balance_eth(w, &b, &r);
    char x[U256_DEC_MAX], y[U256_DEC_MAX];
    cr_assert_eq(u256_cmp(&b, &wb), 0, "balance %s, expected %llu ETH", u256_to_dec(&b, x),
                 (unsigned long long)balance_whole);
    cr_assert_eq(u256_cmp(&r, &wr), 0, "reserved %s, expected %llu ETH", u256_to_dec(&r, y),
                 (unsigned long long)reserved_whole);
    /* The calculator's view of the holding is the ledger's balance. */
    json_t *j = calc_account_json(w->c, w->account);
    cr_assert_not_null(j);
    snprintf(x, sizeof x, "%llu", (unsigned long long)balance_whole);
    const char *held = json_string_value(json_object_get(json_array_get(json_object_get(j, "collateral"), 0), "amount"));
    cr_assert_str_eq(held, x, "the calculator holds %s ETH, the ledger %s", held, x);
    json_decref(j);
}

/* An observation of vault event vseq (in transaction n) on chain 1's vault. */
static obs vault_obs(world *w, uint8_t kind, uint64_t n, uint64_t vseq)
{
    fx_withdrawal wd = wd_of(w);
    return fx_vault_obs(&wd, kind, n, vseq);
}

static obs executed(world *w, uint64_t n, uint64_t vseq, uint64_t nonce, u256 amount)
{
    fx_withdrawal wd = wd_of(w);
    return fx_executed(&wd, n, vseq, nonce, amount);
}

static void push_obs(world *w, const obs *o, rl_err want, bool ledger_only)
{
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    payload_attest p = fx_attest(&w->f, o, 2);
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    push(w, RECORD_ATTEST, buf, len, T0 + 20, want, ledger_only);
}

static ledger_execution execution_of(world *w, uint64_t nonce)
{
    MDB_txn *txn;
    uint8_t id[HASH_BYTES];
    ledger_execution x;
    rl_why why = {{0}};
    instruction_id(id, 1, w->vault, nonce);
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_execution_get(txn, w->f.s, id, &x, &why), RL_OK, "%s", why.text);
    store_read_end(txn);
    return x;
}

static ledger_stats stats_of(world *w)
{
    MDB_txn *txn;
    uint8_t d[HASH_BYTES];
    ledger_stats st;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w->f.s, d, &st, NULL), RL_OK);
    store_read_end(txn);
    return st;
}

static vault_state vault_of(world *w, size_t *gaps)
{
    MDB_txn *txn;
    vault_state st;
    uint64_t missing[16];
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_vault_gaps(txn, w->f.s, 1, w->vault, &st, missing, 16, gaps, NULL), RL_OK);
    store_read_end(txn);
    return st;
}

/* Deposit (setup: 10 ETH), request 4, approval, the release at nonce 1: 4 reserved. */
static void release_reserved(world *w)
{
    uint64_t ds = approve_withdrawal(w, 4);
    instruction in = release_of(w, ds, 4, 1);
    push_instruction(w, &in, RL_OK, false);
    assert_eth(w, 10, 4);
}

Test(instruction, an_attested_execution_settles_its_reservation_once)
{
    world w;
    setup(&w);
    release_reserved(&w);
    obs o = executed(&w, 50, 1, 1, eth(4));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 6, 0); /* the reservation became a debit */
    ledger_execution x = execution_of(&w, 1);
    u256 four = eth(4);
    cr_assert(x.matched);
    cr_assert_eq(u256_cmp(&x.debited, &four), 0);
    cr_assert(u256_is_zero(&x.shortfall));
    size_t gaps;
    vault_state vs = vault_of(&w, &gaps);
    cr_assert(vs.next == 2 && vs.max == 1 && gaps == 0, "the execution took vault sequence 1: no gap");

    /* The same event again: a no-op on both sides. */
    push_obs(&w, &o, RL_ERR_DUPLICATE, false);
    assert_eth(&w, 6, 0);
    /* Another event claiming the same nonce (a vault never emits it): refused in the same words. */
    obs again = executed(&w, 51, 2, 1, eth(4));
    push_obs(&w, &again, RL_ERR_STATE, false);
    assert_eth(&w, 6, 0);
    ledger_stats st = stats_of(&w);
    cr_assert(st.executions == 1 && st.unmatched == 0 && st.reservations == 0);
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert(sum.executions == 1 && sum.unmatched == 0);
    cr_assert_eq(sum.accounts, 1, "an execution adds no depositing account");
    teardown(&w);
}

Test(instruction, an_execution_that_differs_frees_its_reservation_and_debits_what_is_free)
{
    world w;
    setup(&w);
    release_reserved(&w);
    /* Nonce 1 executed for 5 ETH where 4 were reserved: the nonce is spent, so the 4 are freed,
     * and the 5 the chain paid out come from the (now) free 10. */
    obs o = executed(&w, 60, 1, 1, eth(5));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 5, 0);
    ledger_execution x = execution_of(&w, 1);
    u256 five = eth(5);
    cr_assert_not(x.matched);
    cr_assert_eq(u256_cmp(&x.debited, &five), 0);
    cr_assert(u256_is_zero(&x.shortfall));
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert(sum.executions == 1 && sum.unmatched == 1, "the audit classifies it as the ledger does");
    teardown(&w);
}

Test(instruction, an_execution_no_instruction_reserved_never_takes_reserved_funds_or_goes_negative)
{
    world w;
    setup(&w);
    release_reserved(&w); /* 10 held, 4 reserved for nonce 1 */
    /* Nonce 7 was never logged: 3 ETH leave the free 6. */
    obs o = executed(&w, 70, 1, 7, eth(3));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 7, 4);
    /* Nonce 8, 5 ETH, with 3 free: 3 debited, 2 short; the 4 reserved stay for nonce 1. */
    o = executed(&w, 71, 2, 8, eth(5));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 4, 4);
    ledger_execution x = execution_of(&w, 8);
    u256 three = eth(3), two = eth(2);
    cr_assert_not(x.matched);
    cr_assert_eq(u256_cmp(&x.debited, &three), 0);
    cr_assert_eq(u256_cmp(&x.shortfall, &two), 0);
    /* Nonce 1 still executes as reserved. */
    o = executed(&w, 72, 3, 1, eth(4));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 0, 0);
    /* Nothing left: an unmatched execution debits nothing and is all shortfall. */
    o = executed(&w, 73, 4, 9, eth(1));
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 0, 0);
    ledger_stats st = stats_of(&w);
    cr_assert_eq(st.executions, 4);
    cr_assert_eq(st.unmatched, 3);
    cr_assert_eq(st.shortfalls, 2);
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert(sum.executions == 4 && sum.unmatched == 3);
    size_t gaps;
    vault_state vs = vault_of(&w, &gaps);
    cr_assert(vs.next == 5 && gaps == 0);
    teardown(&w);
}

Test(instruction, a_rotation_only_advances_the_vault_sequence)
{
    world w;
    setup(&w);
    uint8_t d1[HASH_BYTES], d2[HASH_BYTES];
    MDB_txn *txn;
    obs o = vault_obs(&w, OBS_KIND_ROTATED, 80, 2); /* seq 1 not seen yet: a gap */
    memset(o.account, 0, EVM_ADDR_BYTES);
    o.amount = u256_from_u64(2);
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 10, 0);
    size_t gaps;
    vault_state vs = vault_of(&w, &gaps);
    cr_assert(vs.next == 1 && vs.max == 2 && gaps == 1);
    obs dep = vault_obs(&w, OBS_KIND_DEPOSIT, 81, 1);
    dep.amount = eth(1);
    push_obs(&w, &dep, RL_OK, false);
    vs = vault_of(&w, &gaps);
    cr_assert(vs.next == 3 && gaps == 0, "the gap is filled and the cursor passes the rotation");
    assert_eth(&w, 11, 0);
    cr_assert_eq(store_read_begin(w.f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w.f.s, d1, NULL, NULL), RL_OK);
    store_read_end(txn);
    push_obs(&w, &o, RL_ERR_DUPLICATE, false); /* replayed: nothing changes */
    cr_assert_eq(store_read_begin(w.f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w.f.s, d2, NULL, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(memcmp(d1, d2, HASH_BYTES), 0);
    teardown(&w);
}

Test(instruction, no_instruction_takes_a_nonce_the_chain_has_spent)
{
    world w;
    setup(&w);
    /* Nonce 5 executed on chain without a logged instruction (a restore, another hub, by hand). */
    obs o = executed(&w, 80, 1, 5, eth(1));
    push_obs(&w, &o, RL_OK, false);
    uint64_t ds = approve_withdrawal(&w, 2);
    instruction in = release_of(&w, ds, 2, 5);
    push_instruction(&w, &in, RL_ERR_STATE, false); /* its reservation could never settle */
    in.nonce = 6;
    push_instruction(&w, &in, RL_OK, false);
    teardown(&w);
}

Test(instruction, withdrawals_without_a_recipient_and_empty_seizes_never_reach_a_plan)
{
    world w;
    setup(&w);
    node_key *venue = w.f.keys[3];
    request q = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = eth(1), .nonce = 99};
    memcpy(q.venue, node_key_pub(venue)->ed25519, ED25519_PK_BYTES);
    memcpy(q.account, w.account, EVM_ADDR_BYTES);
    uint8_t buf[REQUEST_MAX_BYTES];
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(request_sign(buf, &len, &q, venue, &why), RL_ERR_ARG, "a release to the zero address");
    memcpy(q.recipient, w.recipient, EVM_ADDR_BYTES);
    cr_assert_eq(request_sign(buf, &len, &q, venue, &why), RL_OK, "%s", why.text);
    memset(buf + 122, 0, EVM_ADDR_BYTES); /* the recipient, zeroed in the bytes */
    request back;
    cr_assert_eq(request_decode(&back, buf, len, &why), RL_ERR_DECODE);
    decision d = {.kind = DECISION_LIQUIDATE, .basis = 2, .nseize = 1};
    d.seize[0] = (decision_seize){.chain_id = 1}; /* amount 0 */
    memcpy(d.calculator, node_key_pub(w.calc)->ed25519, ED25519_PK_BYTES);
    uint8_t dbuf[DECISION_MAX_BYTES];
    cr_assert_eq(decision_sign(dbuf, &len, &d, w.calc, &why), RL_ERR_ARG);
    teardown(&w);
}

/* ---- expiries ---- */

#define DEADLINE_S (T0 / 1000 + 600) /* release_of's */

/* Nonce `nonce`'s expiry seen at a block with timestamp time_s (block number 500 + n). */
static obs expired(world *w, uint64_t nonce, uint64_t time_s, uint64_t n)
{
    fx_withdrawal wd = wd_of(w);
    return fx_expired(&wd, nonce, time_s, n);
}

static const char *calc_reserved_eth(world *w, char out[64])
{
    json_t *j = calc_account_json(w->c, w->account);
    cr_assert_not_null(j);
    snprintf(out, 64, "%s",
             json_string_value(json_object_get(json_array_get(json_object_get(j, "collateral"), 0), "reserved")));
    json_decref(j);
    return out;
}

Test(instruction, an_expired_observation_encodes_strictly)
{
    world w;
    setup(&w);
    obs o = expired(&w, 1, DEADLINE_S + 1, 1), back;
    uint8_t enc[OBS_BYTES], id[HASH_BYTES];
    rl_why why = {{0}};
    cr_assert_eq(obs_encode(enc, &o, &why), RL_OK, "%s", why.text);
    cr_assert_eq(obs_decode(&back, enc, sizeof enc, &why), RL_OK, "%s", why.text);
    cr_assert(back.kind == OBS_KIND_EXPIRED && back.nonce == 1 && back.ins_kind == INSTRUCTION_RELEASE &&
              back.vault_seq == 0 && obs_expired_time_s(&back) == DEADLINE_S + 1);
    instruction_id(id, 1, w.vault, 1);
    cr_assert_eq(memcmp(back.tx_hash, id, HASH_BYTES), 0, "tx_hash is the instruction id");
    obs bad = o;
    bad.vault_seq = 1;
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "an expiry is no vault event");
    bad = o;
    bad.log_index = 0;
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "log index must be the marker");
    bad = o;
    bad.amount = u256_zero();
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "timestamp 0");
    bad.amount.w[1] = 1;
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "timestamp of 2^64");
    bad = o;
    bad.nonce = 0;
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "nonce 0");
    bad = o;
    bad.ins_kind = 3;
    cr_assert_eq(obs_encode(enc, &bad, &why), RL_ERR_ARG, "instruction kind 3");
    /* In the bytes: a vault sequence, a timestamp above 2^64, a reserved byte. */
    cr_assert_eq(obs_encode(enc, &o, &why), RL_OK);
    uint8_t b[OBS_BYTES];
    memcpy(b, enc, OBS_BYTES);
    b[113] = 1;
    cr_assert_eq(obs_decode(&back, b, OBS_BYTES, &why), RL_ERR_DECODE);
    memcpy(b, enc, OBS_BYTES);
    b[154 + 23] = 1;
    cr_assert_eq(obs_decode(&back, b, OBS_BYTES, &why), RL_ERR_DECODE);
    memcpy(b, enc, OBS_BYTES);
    b[197] = 1;
    cr_assert_eq(obs_decode(&back, b, OBS_BYTES, &why), RL_ERR_DECODE);
    teardown(&w);
}

Test(instruction, an_expired_release_frees_its_reservation_once)
{
    world w;
    setup(&w);
    release_reserved(&w); /* 10 held, 4 reserved for nonce 1, deadline DEADLINE_S */
    char r[64];
    cr_assert_str_eq(calc_reserved_eth(&w, r), "4");
    /* At the deadline the vault still executes: refused on both sides, in the same words. */
    obs early = expired(&w, 1, DEADLINE_S, 1);
    push_obs(&w, &early, RL_ERR_STATE, false);
    assert_eth(&w, 10, 4);

    obs o = expired(&w, 1, DEADLINE_S + 1, 2);
    push_obs(&w, &o, RL_OK, false);
    assert_eth(&w, 10, 0); /* freed, nothing debited */
    cr_assert_str_eq(calc_reserved_eth(&w, r), "0", "the calculator frees it too");
    /* Again, or seen at a later block (same event id): a no-op. */
    push_obs(&w, &o, RL_ERR_DUPLICATE, false);
    obs later = expired(&w, 1, DEADLINE_S + 100, 3);
    push_obs(&w, &later, RL_ERR_DUPLICATE, false);
    assert_eth(&w, 10, 0);
    ledger_stats st = stats_of(&w);
    cr_assert_eq(st.reservations, 0);
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert_eq(sum.expired, 1);
    cr_assert_eq(calc_get_stats(w.c)->expired, 1);
    size_t gaps;
    vault_state vs = vault_of(&w, &gaps);
    cr_assert(vs.next == 1 && vs.max == 0 && gaps == 0, "an expiry takes no vault sequence number");

    /* A conforming vault never executes it now; if the chain says it did, it is an incident:
     * unmatched, debiting what is free (4 of the 10). */
    obs x = executed(&w, 90, 1, 1, eth(4));
    push_obs(&w, &x, RL_OK, false);
    assert_eth(&w, 6, 0);
    ledger_execution ex = execution_of(&w, 1);
    cr_assert_not(ex.matched);
    st = stats_of(&w);
    cr_assert(st.executions == 1 && st.unmatched == 1);
    audit_get_summary(w.a, &sum);
    cr_assert(sum.executions == 1 && sum.unmatched == 1);
    cr_assert_eq(calc_get_stats(w.c)->unmatched, 1);
    teardown(&w);
}

/* ---- equivocation (ledger.h, E1-E3) ---- */

static uint64_t head_seq(world *w)
{
    MDB_txn *txn;
    ledger_head h;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_head_get(txn, w->f.s, &h, NULL), RL_OK);
    store_read_end(txn);
    return h.seq;
}

/* Through the hub's write path with real signatures: member 3 signs `wrong`, then `honest`, then
 * `wrong` again (a flipping member), before members 1 and 2 sign `honest`; then everyone resends.
 * What it logs goes through the audit (signatures verified) and the calculator, as push() does. */
static void ingest_equivocation(world *w, const obs *honest, const obs *wrong)
{
    pool *p;
    ingest *g;
    rl_why why = {{0}};
    uint64_t before = head_seq(w);
    cr_assert_eq(pool_new(&p, 2), RL_OK);
    cr_assert_eq(ingest_open(&g, w->f.s, p, &w->f.set, NULL, T0 + 30, &why), RL_OK, "%s", why.text);
    signed_obs lie = fx_sign(&w->f, wrong, 3), truth = fx_sign(&w->f, honest, 3);
    signed_obs in[5] = {lie, truth, lie, fx_sign(&w->f, honest, 1), fx_sign(&w->f, honest, 2)};
    for (int i = 0; i <= 5; i++) { /* one at a time, then all again */
        cr_assert_eq(ingest_submit(g, i < 5 ? &in[i] : in, i < 5 ? 1 : 5, T0 + 30, &why), RL_OK, "%s", why.text);
        cr_assert_eq(ingest_flush(g, T0 + 30, &why), RL_OK, "%s", why.text);
    }
    cr_assert_eq(ingest_get_stats(g)->refused, 0);
    ingest_close(g);
    pool_free(p);
    cr_assert_eq(head_seq(w), before + 2, "the evidence once and the attestation once");
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    for (uint64_t seq = before + 1; seq <= before + 2; seq++) {
        MDB_val v;
        verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
        size_t nj = 0;
        cr_assert_eq(ledger_record_get(txn, w->f.s, seq, &v, NULL), RL_OK);
        cr_assert_eq(audit_next(w->a, v.mv_data, v.mv_size, jobs, &nj, &why), RL_OK, "record %llu: %s",
                     (unsigned long long)seq, why.text);
        cr_assert_eq(nj, 2, "the evidence's two signatures, the attestation's two");
        verify_jobs_fn(jobs, 0, nj);
        cr_assert(jobs[0].ok && jobs[1].ok);
        cr_assert_eq(calc_apply(w->c, v.mv_data, v.mv_size, &why), RL_OK, "calculator: %s", why.text);
    }
    store_read_end(txn);
    audit_summary sum;
    audit_get_summary(w->a, &sum);
    cr_assert_eq(sum.equivocations, 1);
}

Test(instruction, a_member_equivocating_on_an_execution_neither_blocks_nor_doubles_its_settlement)
{
    world w;
    setup(&w);
    release_reserved(&w); /* 10 held, 4 reserved for nonce 1 */
    obs honest = executed(&w, 50, 1, 1, eth(4)), wrong = executed(&w, 50, 1, 1, eth(5));
    ingest_equivocation(&w, &honest, &wrong);
    assert_eth(&w, 6, 0); /* settled once: the reservation is not left open */
    cr_assert(execution_of(&w, 1).matched);
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert(sum.executions == 1 && sum.unmatched == 0);
    teardown(&w);
}

Test(instruction, a_member_equivocating_on_an_expiry_neither_blocks_nor_doubles_it)
{
    world w;
    setup(&w);
    release_reserved(&w);
    obs honest = expired(&w, 1, DEADLINE_S + 1, 2), wrong = expired(&w, 1, DEADLINE_S + 7, 2);
    ingest_equivocation(&w, &honest, &wrong);
    assert_eth(&w, 10, 0); /* freed once: the funds are not reserved for ever */
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert_eq(sum.expired, 1);
    cr_assert_eq(stats_of(&w).reservations, 0);
    teardown(&w);
}

Test(instruction, expiry_needs_an_open_instruction_of_that_nonce_kind_account_and_asset)
{
    world w;
    setup(&w);
    release_reserved(&w);
    obs none = expired(&w, 9, DEADLINE_S + 1, 1); /* nonce 9 was never logged */
    push_obs(&w, &none, RL_ERR_STATE, false);
    obs other = expired(&w, 1, DEADLINE_S + 1, 2);
    other.account[0] ^= 1;
    push_obs(&w, &other, RL_ERR_STATE, false);
    other = expired(&w, 1, DEADLINE_S + 1, 3);
    other.ins_kind = INSTRUCTION_SEIZE;
    push_obs(&w, &other, RL_ERR_STATE, false);
    assert_eth(&w, 10, 4);

    /* Executed, then an expiry: refused (it did execute), in the same words. */
    obs x = executed(&w, 91, 1, 1, eth(4));
    push_obs(&w, &x, RL_OK, false);
    assert_eth(&w, 6, 0);
    obs late = expired(&w, 1, DEADLINE_S + 1, 4);
    push_obs(&w, &late, RL_ERR_STATE, false);
    assert_eth(&w, 6, 0);
    ledger_stats st = stats_of(&w);
    cr_assert(st.executions == 1 && st.unmatched == 0);
    teardown(&w);
}

/* ---- insurance fund and bad debt (attest/fund.h) ---- */

/* The ledger's fund summary equals the audit's, digest and totals. */
static fund_summary fund_agrees(world *w)
{
    fund_summary l = stats_of(w).fund, a;
    cr_assert_eq(audit_fund_summary(w->a, &a), RL_OK);
    cr_assert_eq(memcmp(l.digest, a.digest, HASH_BYTES), 0, "the audit derives the ledger's fund and bad debt");
    cr_assert(l.insurance_holdings == a.insurance_holdings && l.seizes == a.seizes &&
              l.debt_accounts == a.debt_accounts && l.debt_u == a.debt_u);
    return l;
}

static fund_insurance insurance_eth(world *w)
{
    MDB_txn *txn;
    fund_insurance e;
    static const uint8_t native[EVM_ADDR_BYTES];
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_insurance_get(txn, w->f.s, 1, native, &e, NULL), RL_OK);
    store_read_end(txn);
    return e;
}

static fund_debt debt_of(world *w)
{
    MDB_txn *txn;
    fund_debt e;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_bad_debt_get(txn, w->f.s, w->account, &e, NULL), RL_OK);
    store_read_end(txn);
    return e;
}

static uint8_t *ledger_digest_of(world *w, uint8_t out[HASH_BYTES])
{
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w->f.s, out, NULL, NULL), RL_OK);
    store_read_end(txn);
    return out;
}

/* The ledger exported and replayed from the file alone (audit replay): the verify summary's fund
 * and the replayed ledger's digest are the hub's. */
static void replay_agrees(world *w)
{
    char path[512], *out = tu_tmpdir();
    snprintf(path, sizeof path, "%s/log.rlx", out);
    uint64_t count;
    rl_why why = {{0}};
    cr_assert_eq(export_write(w->f.s, path, &count, NULL, NULL, &why), RL_OK, "%s", why.text);
    store *replayed;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/replayed", out);
    cr_assert_eq(store_open(&replayed, dir, NULL, &why), RL_OK, "%s", why.text);
    pool *p;
    cr_assert_eq(pool_new(&p, 1), RL_OK);
    replay_opts ro = {.genesis = &w->f.set, .pool = p, .out = replayed};
    audit_summary sum;
    replay_failure fail;
    cr_assert_eq(replay_file(path, &ro, &sum, &fail), RL_OK, "record %llu: %s", (unsigned long long)fail.seq,
                 fail.why.text);
    ledger_stats hub = stats_of(w), mine;
    uint8_t dh[HASH_BYTES], dr[HASH_BYTES];
    ledger_digest_of(w, dh);
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(replayed, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, replayed, dr, &mine, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(memcmp(dh, dr, HASH_BYTES), 0, "the replayed ledger's digest is the hub's");
    cr_assert_eq(memcmp(sum.fund.digest, hub.fund.digest, HASH_BYTES), 0, "audit verify's fund is the hub's");
    cr_assert_eq(memcmp(mine.fund.digest, hub.fund.digest, HASH_BYTES), 0);
    cr_assert(sum.fund.seizes == hub.fund.seizes && sum.fund.debt_u == hub.fund.debt_u);
    pool_free(p);
    store_close(replayed);
    tu_rmdir(out);
}

Test(instruction, a_settled_seize_credits_the_insurance_fund_as_it_debits_the_trader)
{
    world w;
    setup(&w);
    release_reserved(&w); /* 10 ETH, 4 reserved for the release at nonce 1 */
    obs rel = executed(&w, 100, 1, 1, eth(4));
    push_obs(&w, &rel, RL_OK, false);
    assert_eth(&w, 6, 0);
    fund_insurance f = insurance_eth(&w);
    cr_assert(u256_is_zero(&f.amount) && f.seizes == 0, "a release went to the trader: no fund credit");

    static const uint8_t native[EVM_ADDR_BYTES];
    decision d = {.kind = DECISION_LIQUIDATE, .basis = 2, .nseize = 1, .bad_debt_u = 0};
    d.seize[0] = (decision_seize){.chain_id = 1, .amount = u256_from_u64(5 * E18 + 7)};
    uint64_t ds = log_decision(&w, &d, T0 + 30);
    instruction in = release_of(&w, ds, 0, 2);
    in.kind = INSTRUCTION_SEIZE;
    in.amount = d.seize[0].amount;
    memset(in.recipient, 0xee, EVM_ADDR_BYTES);
    memcpy(in.asset, native, EVM_ADDR_BYTES);
    push_instruction(&w, &in, RL_OK, false);
    uint8_t before[HASH_BYTES], after[HASH_BYTES];
    ledger_digest_of(&w, before);

    obs x = executed(&w, 101, 2, 2, in.amount);
    x.ins_kind = INSTRUCTION_SEIZE;
    push_obs(&w, &x, RL_OK, false);
    u256 bal, res, left = u256_from_u64(E18 - 7);
    balance_eth(&w, &bal, &res);
    cr_assert(u256_cmp(&bal, &left) == 0 && u256_is_zero(&res), "the trader keeps 6 ETH - (5 ETH + 7 wei)");
    f = insurance_eth(&w);
    cr_assert(u256_cmp(&f.amount, &in.amount) == 0 && f.seizes == 1, "the fund holds exactly what was seized");
    cr_assert_neq(memcmp(before, ledger_digest_of(&w, after), HASH_BYTES), 0, "the fund is in the ledger digest");
    fund_summary s = fund_agrees(&w);
    cr_assert(s.insurance_holdings == 1 && s.seizes == 1 && s.debt_accounts == 0 && s.debt_u == 0);

    /* An unmatched seize (nonce 9, never logged): debited from what is free, but no logged
     * instruction says where it went: the fund is not credited (an incident, counted). */
    obs stray = executed(&w, 102, 3, 9, u256_from_u64(1000));
    stray.ins_kind = INSTRUCTION_SEIZE;
    push_obs(&w, &stray, RL_OK, false);
    f = insurance_eth(&w);
    cr_assert(u256_cmp(&f.amount, &in.amount) == 0 && f.seizes == 1);
    cr_assert_eq(stats_of(&w).unmatched, 1);
    fund_agrees(&w);
    replay_agrees(&w);
    teardown(&w);
}

static void liquidate(world *w, uint64_t basis, uint8_t kind, __int128 bad_debt_u)
{
    decision d = {.kind = kind, .basis = basis, .bad_debt_u = bad_debt_u};
    log_decision(w, &d, T0 + 40);
}

Test(instruction, bad_debt_is_the_latest_liquidations_shortfall_summed_over_ended_episodes)
{
    world w;
    setup(&w); /* records 1, 2 */
    liquidate(&w, 2, DECISION_LIQUIDATE, 100000000); /* 100 USD uncovered: record 3 */
    fund_debt e = debt_of(&w);
    cr_assert(e.open_u == 100000000 && e.closed_u == 0 && e.open_seq == 3);
    /* Re-decided in the same episode (after an expired seize): replaced, not added. */
    liquidate(&w, 3, DECISION_LIQUIDATE, 40000001);
    e = debt_of(&w);
    cr_assert(e.open_u == 40000001 && e.closed_u == 0 && e.open_seq == 4);
    fund_summary s = fund_agrees(&w);
    cr_assert(s.debt_accounts == 1 && s.debt_u == 40000001);
    /* The episode ends: its shortfall is kept. */
    liquidate(&w, 4, DECISION_HEALTHY, 0);
    e = debt_of(&w);
    cr_assert(e.open_u == 0 && e.closed_u == 40000001 && e.open_seq == 0);
    /* A new episode adds its own. */
    liquidate(&w, 5, DECISION_LIQUIDATE, 7);
    liquidate(&w, 6, DECISION_MARGIN_CALL, 0);
    e = debt_of(&w);
    cr_assert(e.open_u == 0 && e.closed_u == 40000008);
    s = fund_agrees(&w);
    cr_assert(s.debt_accounts == 1 && s.debt_u == 40000008 && s.insurance_holdings == 0);

    /* A liquidation covering everything owes nothing; another account's debt is its own. */
    uint8_t mine[EVM_ADDR_BYTES];
    memcpy(mine, w.account, EVM_ADDR_BYTES);
    w.account[0] = 0x33;
    liquidate(&w, 7, DECISION_LIQUIDATE, 0);
    cr_assert_eq(fund_agrees(&w).debt_accounts, 1, "no entry without bad debt");
    liquidate(&w, 8, DECISION_LIQUIDATE, 5);
    s = fund_agrees(&w);
    cr_assert(s.debt_accounts == 2 && s.debt_u == 40000013);
    memcpy(w.account, mine, EVM_ADDR_BYTES);

    /* Negative bad debt, or bad debt on anything but a liquidation: refused by both. */
    decision bad = {.kind = DECISION_LIQUIDATE, .basis = 9, .bad_debt_u = -1};
    memcpy(bad.calculator, node_key_pub(w.calc)->ed25519, ED25519_PK_BYTES);
    memcpy(bad.account, w.account, EVM_ADDR_BYTES);
    uint8_t buf[DECISION_MAX_BYTES];
    size_t len;
    cr_assert_eq(decision_sign(buf, &len, &bad, w.calc, NULL), RL_OK);
    push(&w, RECORD_DECISION, buf, len, T0 + 50, RL_ERR_DECODE, false);
    bad.kind = DECISION_MARGIN_CALL;
    bad.bad_debt_u = 1;
    cr_assert_eq(decision_sign(buf, &len, &bad, w.calc, NULL), RL_OK);
    push(&w, RECORD_DECISION, buf, len, T0 + 50, RL_ERR_DECODE, false);
    cr_assert_eq(fund_agrees(&w).debt_u, 40000013);
    replay_agrees(&w);
    teardown(&w);
}
