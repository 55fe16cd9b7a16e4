/*
 * cosigner_test.c - the co-signing pieces the daemons and the liquidation bench share: a
 * co-signer's judgement (cosigner.h), the hub taking signatures in a batch (hubcosig.h), and a
 * replica fed records directly (replica.h).
 *
 * One story in a real LMDB ledger: a deposit of 10 ETH, a 100 ETH-PERP long, ETH at 2000 and
 * then 1800 (the account is liquidatable); the margin calculator's LIQUIDATE decision, signed
 * and logged; the hub's builder's seize INSTRUCTION; its BUNDLE.
 */
#include <criterion/criterion.h>

#include "attest/bundle.h"
#include "attest/decision.h"
#include "attest/request.h"
#include "collateral/calc.h"
#include "relayer/cosigner.h"
#include "relayer/hubcosig.h"
#include "relayer/hubinstr.h"
#include "relayer/replica.h"
#include "tests/fixture.h"

#define E18 1000000000000000000ull
#define T0 1700000000000ull

#define RISK_WITH_VAULT(vault)                                                                                         \
    "{\"chains\": {\"l1\": {\"chain_id\": 1, \"vault\": \"" vault "\","                                               \
    "                    \"insurance\": \"0x00000000000000000000000000000000000000ee\", \"deadline_s\": 600}},"       \
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,"                         \
    "                        \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}}},"                 \
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": "      \
    "\"0.03\"}]}},"                                                                                                    \
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 60000}}"

static const char RISK[] = RISK_WITH_VAULT("0x00000000000000000000000000000000000000aa");
static const char OTHER_VAULT[] = RISK_WITH_VAULT("0x00000000000000000000000000000000000000ab");

typedef struct story {
    fixture f;
    node_key *calc_key;
    mg_risk risk;
    calc *c; /* the margin calculator, fed every record */
    decision made[4];
    size_t nmade;
    uint8_t account[EVM_ADDR_BYTES];
    uint64_t decision_seq, instruction_seq;
    instruction in;
} story;

static void on_decision(void *ctx, const decision *d)
{
    story *s = ctx;
    cr_assert_lt(s->nmade, 4);
    s->made[s->nmade++] = *d;
}

static uint64_t push(story *s, uint8_t type, const uint8_t *payload, size_t plen, uint64_t time_ms)
{
    uint8_t *enc;
    size_t len;
    uint64_t seq = fx_encode_next(s->f.s, type, payload, plen, time_ms, &enc, &len);
    rl_why why = {{0}};
    cr_assert_eq(fx_append(s->f.s, enc, len, &why), RL_OK, "%s: %s", record_type_name(type), why.text);
    cr_assert_eq(calc_apply(s->c, enc, len, &why), RL_OK, "calculator: %s", why.text);
    free(enc);
    return seq;
}

static void push_price(story *s, uint64_t whole, uint64_t time_ms)
{
    payload_price pp = {.n = 2};
    snprintf(pp.feed, sizeof pp.feed, "ETH");
    price_obs po = {.price_e18 = (__int128)whole * E18, .time_ms = time_ms};
    snprintf(po.feed, sizeof po.feed, "ETH");
    uint8_t enc[PRICE_OBS_BYTES];
    cr_assert_eq(price_encode(enc, &po, NULL), RL_OK);
    for (unsigned i = 0; i < 2; i++)
        price_sign(&pp.e[i], enc, (uint16_t)(i + 1), s->f.keys[i]);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_price_encode(&pp, buf, &len, NULL), RL_OK);
    push(s, RECORD_PRICE, buf, len, time_ms);
}

static rl_err keep_instruction(void *ctx, const instruction *in, rl_why *why)
{
    (void)why;
    story *s = ctx;
    cr_assert_eq(s->in.nonce, 0, "one instruction");
    s->in = *in; /* logged once the scan's read transaction is over */
    return RL_OK;
}

/* The story up to the seize INSTRUCTION. */
static void setup(story *s)
{
    memset(s, 0, sizeof *s);
    fx_init(&s->f, 3, 2);
    fx_open_store(&s->f, NULL);
    fx_risk(&s->risk, RISK);
    rl_why why = {{0}};
    cr_assert_eq(calc_new(&s->c, &s->risk, on_decision, s, NULL, NULL), RL_OK);
    cr_assert_eq(node_key_generate(&s->calc_key, "calc", &why), RL_OK);
    memset(s->account, 0x11, EVM_ADDR_BYTES);
    payload_set ps = {.set = s->f.set};
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_set_encode(&ps, buf, &len, NULL), RL_OK);
    push(s, RECORD_SET, buf, len, T0);
    obs o = fx_obs(1, 1, 1, 0);
    o.amount = u256_from_u64(10 * E18);
    memcpy(o.account, s->account, EVM_ADDR_BYTES);
    memset(o.vault, 0, EVM_ADDR_BYTES);
    o.vault[19] = 0xaa;
    payload_attest pa = fx_attest(&s->f, &o, 2);
    cr_assert_eq(payload_attest_encode(&pa, buf, &len, NULL), RL_OK);
    push(s, RECORD_ATTEST, buf, len, T0 + 1);
    node_key *venue = s->f.keys[3];
    request q = {.kind = REQUEST_POSITION, .nonce = 1, .mode = REQUEST_MODE_CROSS, .size_e18 = (__int128)100 * E18,
                 .entry_e18 = (__int128)2000 * E18};
    memcpy(q.venue, node_key_pub(venue)->ed25519, ED25519_PK_BYTES);
    memcpy(q.account, s->account, EVM_ADDR_BYTES);
    snprintf(q.market, sizeof q.market, "ETH-PERP");
    cr_assert_eq(request_sign(buf, &len, &q, venue, NULL), RL_OK);
    push(s, RECORD_REQUEST, buf, len, T0 + 2);
    push_price(s, 2000, T0 + 3);
    cr_assert_eq(s->nmade, 0, "healthy at 2000: equity 18000 >= IM 10000");
    push_price(s, 1800, T0 + 4); /* equity 0.9 x 10 x 1800 - 100 x 200 < 0 */
    cr_assert_eq(s->nmade, 1);
    decision d = s->made[0];
    cr_assert_eq(d.kind, DECISION_LIQUIDATE);
    memcpy(d.calculator, node_key_pub(s->calc_key)->ed25519, ED25519_PK_BYTES);
    uint8_t dec[DECISION_MAX_BYTES];
    cr_assert_eq(decision_sign(dec, &len, &d, s->calc_key, NULL), RL_OK);
    s->decision_seq = push(s, RECORD_DECISION, dec, len, T0 + 5);
    hubinstr *h;
    cr_assert_eq(hubinstr_new(&h, &s->risk, 30000), RL_OK);
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(s->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(hubinstr_scan(h, txn, s->f.s, T0 + 6, 1, keep_instruction, s, &why), RL_OK, "%s", why.text);
    store_read_end(txn);
    hubinstr_free(h);
    uint8_t ins[INSTRUCTION_BYTES];
    cr_assert_eq(instruction_encode(ins, &s->in, NULL), RL_OK);
    s->instruction_seq = push(s, RECORD_INSTRUCTION, ins, sizeof ins, T0 + 10);
    cr_assert_eq(s->instruction_seq, s->decision_seq + 1, "one seize of the ETH on l1");
}

static void teardown(story *s)
{
    calc_free(s->c);
    mg_risk_fini(&s->risk);
    node_key_free(s->calc_key);
    fx_fini(&s->f);
}

/* Feeds records [from, to] of the story's log to a judgement; returns the last step. */
static cosigner_step judge(story *s, cosigner *c, uint64_t from, uint64_t to, uint64_t now_ms, size_t *signs)
{
    MDB_txn *txn;
    cosigner_step st = {0};
    cr_assert_eq(store_read_begin(s->f.s, &txn, NULL), RL_OK);
    for (uint64_t seq = from; seq <= to; seq++) {
        MDB_val v;
        rl_why why = {{0}};
        cr_assert_eq(ledger_record_get(txn, s->f.s, seq, &v, NULL), RL_OK);
        cr_assert_eq(cosigner_next(c, v.mv_data, v.mv_size, seq, now_ms, &st, &why), RL_OK, "%s", why.text);
        if (signs != NULL && st.verdict == COSIGNER_SIGN)
            (*signs)++;
    }
    store_read_end(txn);
    return st;
}

Test(cosigner, signs_an_instruction_of_a_decision_it_reproduced_and_nothing_else)
{
    story s;
    setup(&s);
    cosigner *mine;
    cr_assert_eq(cosigner_new(&mine, &s.risk), RL_OK);
    size_t signs = 0;
    cosigner_step st = judge(&s, mine, 1, s.instruction_seq, T0 + 20, &signs);
    cr_assert_eq(st.verdict, COSIGNER_SIGN);
    cr_assert_eq(signs, 1, "only the instruction asks for a signature");
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &s.in);
    cr_assert_eq(memcmp(st.digest, digest, HASH_BYTES), 0);
    cr_assert_eq(st.in.nonce, s.in.nonce);
    cosigner_free(mine);
    teardown(&s);
}

Test(cosigner, refuses_under_other_risk_parameters_and_a_deadline_far_past_its_clock)
{
    story s;
    setup(&s);
    /* Another vault on l1 is another risk file: its calculator cannot check the decision. */
    mg_risk other_risk;
    fx_risk(&other_risk, OTHER_VAULT);
    cosigner *other, *slow;
    cr_assert_eq(cosigner_new(&other, &other_risk), RL_OK);
    cosigner_step st = judge(&s, other, 1, s.decision_seq, T0 + 20, NULL);
    cr_assert_eq(st.verdict, COSIGNER_NOT_REPRODUCED);
    st = judge(&s, other, s.instruction_seq, s.instruction_seq, T0 + 20, NULL);
    cr_assert_eq(st.verdict, COSIGNER_REFUSE);
    cr_assert(strstr(st.why, "not one this node's calculator reached") != NULL, "%s", st.why);
    /* A node whose clock is an hour behind the hub's: the deadline is too far off for it. */
    cr_assert_eq(cosigner_new(&slow, &s.risk), RL_OK);
    st = judge(&s, slow, 1, s.instruction_seq, T0 - 3600000, NULL);
    cr_assert_eq(st.verdict, COSIGNER_REFUSE);
    cr_assert(strstr(st.why, "after this node's clock") != NULL, "%s", st.why);
    cosigner_free(other);
    cosigner_free(slow);
    mg_risk_fini(&other_risk);
    teardown(&s);
}

/* Members 1..n's signatures of the story's instruction, as their nodes send them. */
static void member_sigs(const story *s, hubcosig_sig *out, size_t n)
{
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &s->in);
    for (size_t i = 0; i < n; i++) {
        out[i] = (hubcosig_sig){.seq = s->instruction_seq, .member = (uint16_t)(i + 1)};
        cr_assert_eq(node_key_sign_evm(s->f.keys[i], out[i].sig, digest), RL_OK);
    }
}

/* The hub's collector and a read transaction on the story's ledger. */
static void hub_begin(story *s, hubcosig **h, MDB_txn **txn)
{
    cr_assert_eq(hubcosig_new(h, 30000), RL_OK);
    cr_assert_eq(store_read_begin(s->f.s, txn, NULL), RL_OK);
}

Test(cosigner, the_hub_checks_only_the_signatures_a_bundle_needs_and_the_ledger_takes_the_bundle)
{
    story s;
    setup(&s);
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &s.in);
    hubcosig_sig sigs[4];
    /* member 1's signature forged, then members 2, 3 and a resend of 2 */
    uint16_t who[4] = {1, 2, 3, 2};
    for (int i = 0; i < 4; i++) {
        sigs[i] = (hubcosig_sig){.seq = s.instruction_seq, .member = who[i]};
        cr_assert_eq(node_key_sign_evm(s.f.keys[who[i] - 1], sigs[i].sig, digest), RL_OK);
    }
    sigs[0].sig[7] ^= 1;
    cr_assert_not(hubcosig_check(digest, sigs[0].sig, s.f.set.members[0].pub.evm));
    cr_assert(hubcosig_check(digest, sigs[1].sig, s.f.set.members[1].pub.evm));
    cr_assert_not(hubcosig_check(digest, sigs[1].sig, s.f.set.members[0].pub.evm), "another member's address");

    hubcosig *h;
    pool *p;
    MDB_txn *txn;
    cr_assert_eq(pool_new(&p, 2), RL_OK);
    hub_begin(&s, &h, &txn);
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &s.f.set, p, sigs, 4), RL_OK);
    cr_assert_eq(sigs[0].result, RL_ERR_SIG);
    cr_assert_eq(sigs[1].result, RL_OK);
    cr_assert_eq(sigs[2].result, RL_OK, "checked in a second round, after member 1's failed");
    cr_assert_eq(sigs[3].result, RL_OK, "a resend of one taken");
    /* a signature for a record that is not an instruction */
    hubcosig_sig wrong = {.seq = s.decision_seq, .member = 1};
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &s.f.set, NULL, &wrong, 1), RL_OK);
    cr_assert_eq(wrong.result, RL_ERR_STATE);
    bundle b;
    cr_assert(hubcosig_due(h, txn, s.f.s, &s.f.set, 1000, &b));
    cr_assert_not(hubcosig_due(h, txn, s.f.s, &s.f.set, 1001, &b), "handed out once before the retry");
    cr_assert_eq(hubcosig_waiting(h), 1, "kept until its bundle is seen in the ledger");
    cr_assert_eq(hubcosig_unsigned(h), 0, "but no longer waiting for co-signatures");
    store_read_end(txn);
    cr_assert_eq(b.n, 2);
    uint8_t enc[BUNDLE_MAX_BYTES];
    size_t len;
    cr_assert_eq(bundle_encode(enc, &len, &b, NULL), RL_OK);
    uint64_t bseq = push(&s, RECORD_BUNDLE, enc, len, T0 + 11); /* the ledger verifies the signatures */

    /* Once the bundle is logged, a hub (restarted: nothing in memory) takes no more for it. */
    hubcosig *h2;
    cr_assert_eq(hubcosig_new(&h2, 30000), RL_OK);
    hubcosig_sig three[3];
    member_sigs(&s, three, 3);
    cr_assert_eq(store_read_begin(s.f.s, &txn, NULL), RL_OK);
    cr_assert_eq(hubcosig_offer_many(h2, txn, s.f.s, &s.f.set, p, three, 3), RL_OK);
    cr_assert_eq(three[0].result, RL_ERR_STATE, "bundled already");
    store_read_end(txn);

    cosigner *c;
    cr_assert_eq(cosigner_new(&c, &s.risk), RL_OK);
    cosigner_step st = judge(&s, c, 1, bseq, T0 + 20, NULL);
    cr_assert_eq(st.verdict, COSIGNER_BUNDLED);
    cr_assert_eq(st.bundled, s.instruction_seq);
    cosigner_free(c);
    hubcosig_free(h);
    hubcosig_free(h2);
    pool_free(p);
    teardown(&s);
}

Test(cosigner, the_hub_leaves_a_third_valid_signature_unchecked)
{
    story s;
    setup(&s);
    hubcosig_sig three[3];
    member_sigs(&s, three, 3);
    three[2].sig[5] ^= 1; /* it would fail, but no one looks at it */
    hubcosig *h;
    MDB_txn *txn;
    hub_begin(&s, &h, &txn);
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &s.f.set, NULL, three, 3), RL_OK);
    cr_assert_eq(three[0].result, RL_OK);
    cr_assert_eq(three[1].result, RL_OK);
    cr_assert_eq(three[2].result, RL_ERR_DUPLICATE);
    store_read_end(txn);
    hubcosig_free(h);
    teardown(&s);
}

Test(cosigner, after_a_rotation_a_signature_by_a_members_old_key_counts_for_nothing)
{
    story s;
    setup(&s);
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &s.in);
    hubcosig_sig two[2];
    member_sigs(&s, two, 2);
    hubcosig *h;
    MDB_txn *txn;
    hub_begin(&s, &h, &txn);
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &s.f.set, NULL, two, 2), RL_OK);
    cr_assert_eq(two[0].result, RL_OK);
    cr_assert_eq(two[1].result, RL_OK);

    /* member 1 rotates to a new key before the bundle is handed out */
    node_key *fresh;
    uint8_t ed[32], sk[32];
    memset(ed, 0x71, sizeof ed);
    memset(sk, 0x72, sizeof sk);
    cr_assert_eq(node_key_from_secrets(&fresh, "node1-new", ed, sk, NULL), RL_OK);
    relset v2 = s.f.set;
    v2.version++;
    v2.members[0].pub = *node_key_pub(fresh);
    bundle b;
    cr_assert_not(hubcosig_due(h, txn, s.f.s, &v2, 1000, &b), "one signer with its key in force, threshold 2");

    /* a resend by the old key is no resend: it is checked against the new key and fails */
    hubcosig_sig old = two[0];
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &v2, NULL, &old, 1), RL_OK);
    cr_assert_eq(old.result, RL_ERR_SIG);
    hubcosig_sig renewed = {.seq = s.instruction_seq, .member = 1};
    cr_assert_eq(node_key_sign_evm(fresh, renewed.sig, digest), RL_OK);
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &v2, NULL, &renewed, 1), RL_OK);
    cr_assert_eq(renewed.result, RL_OK, "taken in place of the old key's: %s", rl_strerror(renewed.result));
    cr_assert(hubcosig_due(h, txn, s.f.s, &v2, 1000, &b));
    store_read_end(txn);
    cr_assert_eq(b.n, 2);
    bool has_new = false;
    for (unsigned i = 0; i < b.n; i++)
        has_new |= b.e[i].member == 1 && memcmp(b.e[i].sig, renewed.sig, EVM_SIG_BYTES) == 0;
    cr_assert(has_new, "the bundle carries member 1's signature by its new key");
    node_key_free(fresh);
    hubcosig_free(h);
    teardown(&s);
}

static int collect_open(void *ctx, uint64_t seq)
{
    uint64_t *got = ctx;
    cr_assert_eq(got[0], 0, "one open instruction");
    got[0] = seq;
    return 0;
}

static void count_alert(void *ctx, const hubcosig_short *sh)
{
    hubcosig_short *last = ctx;
    *last = *sh;
}

Test(cosigner, an_instruction_short_of_co_signatures_is_alerted_with_backoff_and_forgotten_after_its_deadline)
{
    story s;
    setup(&s);
    hubcosig_sig two[2];
    member_sigs(&s, two, 2);
    hubcosig *h;
    MDB_txn *txn;
    hub_begin(&s, &h, &txn);
    uint64_t open[1] = {0}; /* what a restarted hub watches */
    cr_assert_eq(ledger_open_instructions(txn, s.f.s, collect_open, open, NULL), RL_OK);
    cr_assert_eq(open[0], s.instruction_seq);
    cr_assert_eq(hubcosig_watch(h, txn, s.f.s, s.instruction_seq, 10000, NULL), RL_OK);
    cr_assert_eq(hubcosig_watch(h, txn, s.f.s, s.decision_seq, 10000, NULL), RL_ERR_STATE, "not an instruction");
    uint64_t now_s = s.in.deadline_s - 100, alert = 1000;
    hubcosig_short last = {0};
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 10999, now_s, alert, count_alert, &last), 0, "not yet");
    cr_assert_eq(last.alert, 0);
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 11000, now_s, alert, count_alert, &last), 1);
    cr_assert_eq(last.alert, 1);
    cr_assert_eq(last.have, 0, "no signature at all");
    cr_assert_eq(last.need, 2);
    cr_assert_eq(last.waited_ms, 1000);
    /* one signature in: still short; the next alert waits twice as long */
    cr_assert_eq(hubcosig_offer_many(h, txn, s.f.s, &s.f.set, NULL, two, 1), RL_OK);
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 12999, now_s, alert, count_alert, &last), 1, "short, not alerted");
    cr_assert_eq(last.alert, 1);
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 13000, now_s, alert, count_alert, &last), 1);
    cr_assert_eq(last.alert, 2);
    cr_assert_eq(last.have, 1);
    cr_assert_eq(last.signed_by[0], 1);
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 16999, now_s, alert, count_alert, &last), 1);
    cr_assert_eq(last.alert, 2, "then 4 x alert_ms");
    /* past the deadline: no more alerts; an hour past it, forgotten */
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 20000, s.in.deadline_s + 1, alert, count_alert, &last), 0);
    cr_assert_eq(last.alert, 2);
    cr_assert_eq(hubcosig_waiting(h), 1);
    cr_assert_eq(hubcosig_short_scan(h, &s.f.set, 20000, s.in.deadline_s + HUBCOSIG_DROP_AFTER_S + 1, alert,
                                     count_alert, &last), 0);
    cr_assert_eq(hubcosig_waiting(h), 0);

    /* signed enough: never alerted */
    hubcosig *h2;
    cr_assert_eq(hubcosig_new(&h2, 30000), RL_OK);
    cr_assert_eq(hubcosig_watch(h2, txn, s.f.s, s.instruction_seq, 10000, NULL), RL_OK);
    cr_assert_eq(hubcosig_offer_many(h2, txn, s.f.s, &s.f.set, NULL, two, 2), RL_OK);
    memset(&last, 0, sizeof last);
    cr_assert_eq(hubcosig_short_scan(h2, &s.f.set, 99000, now_s, alert, count_alert, &last), 0);
    cr_assert_eq(last.alert, 0);
    store_read_end(txn);
    hubcosig_free(h);
    hubcosig_free(h2);
    teardown(&s);
}

Test(cosigner, a_replica_fed_directly_applies_the_log_in_order_and_refuses_a_gap)
{
    story s;
    setup(&s);
    char *dir = tu_tmpdir();
    replica *r;
    rl_why why = {{0}};
    replica_opts o = {.data = dir, .genesis = &s.f.set};
    cr_assert_eq(replica_open(&r, &o, &why), RL_OK, "%s", why.text);
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(s.f.s, &txn, NULL), RL_OK);
    MDB_val v;
    cr_assert_eq(ledger_record_get(txn, s.f.s, 2, &v, NULL), RL_OK);
    cr_assert_eq(replica_take(r, 2, v.mv_data, v.mv_size, &why), RL_ERR_SEQ, "record 1 comes first");
    for (uint64_t seq = 1; seq <= s.instruction_seq; seq++) {
        cr_assert_eq(ledger_record_get(txn, s.f.s, seq, &v, NULL), RL_OK);
        cr_assert_eq(replica_take(r, seq, v.mv_data, v.mv_size, &why), RL_OK, "%llu: %s", (unsigned long long)seq,
                     why.text);
    }
    cr_assert_eq(replica_head(r), 0, "queued, not applied before the flush");
    cr_assert_eq(replica_flush(r, &why), RL_OK, "%s", why.text);
    cr_assert_eq(replica_head(r), s.instruction_seq);
    cr_assert_eq(replica_poll(r, 0, &why), RL_ERR_STATE, "no sockets to poll");
    store_read_end(txn);
    replica_close(r);
    tu_rmdir(dir);
    teardown(&s);
}

/* Appends a BUNDLE after the head in a transaction of its own, checked or trusted. */
struct bundle_append {
    store *s;
    const bundle *b;
    bool verified;
    const relset *set; /* the caller's copy of the set in force, or NULL */
};

static rl_err bundle_append_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct bundle_append *a = ctx;
    ledger_head head;
    uint8_t payload[BUNDLE_MAX_BYTES], *enc = malloc(RECORD_MAX_BYTES);
    size_t plen, len;
    rl_err err = enc == NULL ? RL_ERR_NOMEM : ledger_head_get(txn, a->s, &head, why);
    if (err == RL_OK)
        err = bundle_encode(payload, &plen, a->b, why);
    record r = {.type = RECORD_BUNDLE, .seq = head.seq + 1, .time_ms = T0 + 30, .payload = payload,
                .payload_len = (uint32_t)plen};
    memcpy(r.prev, head.hash, HASH_BYTES);
    if (err == RL_OK)
        err = record_encode(&r, enc, &len, why);
    if (err == RL_OK)
        err = a->verified ? ledger_append_verified(txn, a->s, enc, len, &head, a->set, why)
                          : ledger_append(txn, a->s, enc, len, &head, why);
    free(enc);
    return err;
}

Test(cosigner, a_bundle_checked_by_the_hub_is_not_checked_again_but_its_signers_are)
{
    story s;
    setup(&s);
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &s.in);
    bundle b = {.instruction = s.instruction_seq, .n = 2};
    for (unsigned i = 0; i < 2; i++) {
        b.e[i].member = (uint16_t)(i + 1);
        cr_assert_eq(node_key_sign_evm(s.f.keys[i], b.e[i].sig, digest), RL_OK);
    }
    bundle_sort(&b, &s.f.set);
    bundle one = b;
    one.n = 1;
    bundle forged = b;
    forged.e[0].sig[9] ^= 1;
    struct bundle_append a = {s.f.s, &one, true, NULL};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, NULL), RL_ERR_QUORUM, "the threshold still counts");
    a = (struct bundle_append){s.f.s, &one, true, &s.f.set};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, NULL), RL_ERR_QUORUM, "with the caller's set too");
    relset other = s.f.set;
    other.version = 7; /* not the set in force: the ledger's own is used */
    other.threshold = 1;
    a = (struct bundle_append){s.f.s, &one, true, &other};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, NULL), RL_ERR_QUORUM, "another version is not taken");
    a = (struct bundle_append){s.f.s, &forged, false, NULL};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, NULL), RL_ERR_SIG, "read from elsewhere: checked");
    a = (struct bundle_append){s.f.s, &b, true, &s.f.set};
    rl_why why = {{0}};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, &why), RL_OK, "%s", why.text);
    a = (struct bundle_append){s.f.s, &b, true, NULL};
    cr_assert_eq(store_write(s.f.s, bundle_append_fn, &a, NULL), RL_ERR_DUPLICATE, "bundled once");
    teardown(&s);
}
