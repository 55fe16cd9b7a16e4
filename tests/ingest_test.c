/* ingest_test.c - the hub's write path: verification, quorum, group commit, conflicts, equivocation
 * evidence (ledger.h, E1-E3). */
#include <sys/resource.h>
#include <signal.h>

#include "db/ingest.h"
#include "tests/fixture.h"

struct world {
    fixture f;
    pool *p;
    ingest *g;
    unsigned alerts;
    char last_alert[256];
};

static void on_alert(void *ctx, const char *what, const char *why)
{
    struct world *w = ctx;
    w->alerts++;
    snprintf(w->last_alert, sizeof w->last_alert, "%s: %s", what, why);
}

static void open_world(struct world *w, unsigned n, unsigned threshold, const ingest_opts *o, const store_opts *so)
{
    memset(w, 0, sizeof *w);
    fx_init(&w->f, n, threshold);
    fx_open_store(&w->f, so);
    cr_assert_eq(pool_new(&w->p, 2), RL_OK);
    ingest_opts opts = o ? *o : (ingest_opts){0};
    opts.alert = on_alert;
    opts.alert_ctx = w;
    rl_why why;
    cr_assert_eq(ingest_open(&w->g, w->f.s, w->p, &w->f.set, &opts, 0, &why), RL_OK, "%s", why.text);
}

static void close_world(struct world *w)
{
    ingest_close(w->g);
    pool_free(w->p);
    fx_fini(&w->f);
}

static void submit(struct world *w, const signed_obs *so, size_t n)
{
    rl_why why = {{0}};
    cr_assert_eq(ingest_submit(w->g, so, n, 0, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_flush(w->g, 0, &why), RL_OK, "%s", why.text);
}

static u256 balance(struct world *w, const obs *o)
{
    MDB_txn *txn;
    u256 b, r;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, w->f.s, o->account, o->chain_id, o->asset, &b, &r, NULL), RL_OK);
    store_read_end(txn);
    return b;
}

static bool balance_is(struct world *w, const obs *o, uint64_t v)
{
    u256 b = balance(w, o), want = u256_from_u64(v);
    return u256_cmp(&b, &want) == 0;
}

Test(ingest, writes_the_genesis_set_record_first)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    cr_assert_eq(ingest_head(w.g)->seq, 1);
    cr_assert_eq(ingest_head(w.g)->set_version, 1);
    close_world(&w);
}

Test(ingest, credits_a_deposit_exactly_once_with_three_nodes_and_threshold_two)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    signed_obs so[3] = {fx_sign(&w.f, &o, 1), fx_sign(&w.f, &o, 2), fx_sign(&w.f, &o, 3)};
    submit(&w, so, 3);
    cr_assert(balance_is(&w, &o, 500));
    cr_assert_eq(ingest_get_stats(w.g)->attested, 1);
    /* Member 3's signature was not needed: held back, then dropped as an observation of a settled
     * event, never verified. */
    cr_assert_eq(ingest_get_stats(w.g)->held, 1);
    cr_assert_eq(ingest_get_stats(w.g)->verified, 2);
    cr_assert_eq(ingest_get_stats(w.g)->settled, 1);
    /* Resent, as an unacknowledged sender would: no effect, and no signature work. */
    uint64_t verified = ingest_get_stats(w.g)->verified;
    submit(&w, so, 3);
    submit(&w, so, 1);
    cr_assert(balance_is(&w, &o, 500));
    cr_assert_eq(ingest_head(w.g)->seq, 2);
    cr_assert_eq(ingest_get_stats(w.g)->verified, verified);
    close_world(&w);
}

/* ledger.h T1: a hub whose wall clock steps back two hours keeps logging, stamping the last
 * record's time until its clock catches up, never earlier. */
Test(ingest, a_clock_that_steps_back_stamps_the_last_records_time_and_keeps_logging)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    uint64_t later = 2 * 3600 * 1000;
    rl_why why = {{0}};
    obs o1 = fx_obs(1, 1, 1, 500), o2 = fx_obs(1, 2, 2, 700);
    signed_obs s1[2] = {fx_sign(&w.f, &o1, 1), fx_sign(&w.f, &o1, 2)};
    signed_obs s2[2] = {fx_sign(&w.f, &o2, 1), fx_sign(&w.f, &o2, 2)};
    cr_assert_eq(ingest_submit(w.g, s1, 2, later, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_flush(w.g, later, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_head(w.g)->time_ms, later);
    cr_assert_eq(ingest_submit(w.g, s2, 2, 1000, &why), RL_OK, "%s", why.text); /* the clock stepped back */
    cr_assert_eq(ingest_flush(w.g, 1000, &why), RL_OK, "%s", why.text);
    cr_assert(balance_is(&w, &o2, 700), "the deposit is credited all the same");
    cr_assert_eq(ingest_head(w.g)->seq, 3);
    cr_assert_eq(ingest_head(w.g)->time_ms, later, "stamped the last record's time, not the clock's");
    close_world(&w);
}

Test(ingest, one_signature_is_not_a_quorum)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    signed_obs so = fx_sign(&w.f, &o, 2);
    submit(&w, &so, 1);
    submit(&w, &so, 1);
    cr_assert(balance_is(&w, &o, 0));
    cr_assert_eq(ingest_pending_events(w.g), 1);
    cr_assert_eq(ingest_get_stats(w.g)->duplicate, 1);
    close_world(&w);
}

Test(ingest, a_bad_signature_does_not_count_toward_quorum)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    signed_obs good = fx_sign(&w.f, &o, 1), forged = fx_sign(&w.f, &o, 2);
    forged.sig[10] ^= 1;
    signed_obs in[2] = {good, forged};
    submit(&w, in, 2);
    cr_assert(balance_is(&w, &o, 0));
    cr_assert_eq(ingest_get_stats(w.g)->bad_signature, 1);
    cr_assert(strstr(w.last_alert, "signature") != NULL, "%s", w.last_alert);
    /* A member signing with another member's id is the same thing: a bad signature. */
    signed_obs impostor = fx_sign(&w.f, &o, 3);
    impostor.member = 2;
    submit(&w, &impostor, 1);
    cr_assert(balance_is(&w, &o, 0));
    cr_assert_eq(ingest_get_stats(w.g)->bad_signature, 2);
    close_world(&w);
}

Test(ingest, a_held_back_signature_is_verified_when_an_earlier_one_fails)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    signed_obs in[3] = {fx_sign(&w.f, &o, 1), fx_sign(&w.f, &o, 2), fx_sign(&w.f, &o, 3)};
    in[1].sig[0] ^= 1; /* member 2's is bad; member 3's was held back as not needed */
    submit(&w, in, 3);
    cr_assert(balance_is(&w, &o, 500));
    cr_assert_eq(ingest_get_stats(w.g)->held, 1);
    close_world(&w);
}

Test(ingest, rejects_observations_from_unknown_signers_and_malformed_bytes)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    signed_obs stranger = fx_sign(&w.f, &o, 4); /* the fixture's spare key: not a member */
    signed_obs junk = fx_sign(&w.f, &o, 1);
    junk.bytes[0] = 99;
    signed_obs in[2] = {stranger, junk};
    submit(&w, in, 2);
    cr_assert_eq(ingest_get_stats(w.g)->unknown_signer, 1);
    cr_assert_eq(ingest_get_stats(w.g)->malformed, 1);
    cr_assert_eq(w.alerts, 2);
    cr_assert_eq(ingest_head(w.g)->seq, 1);
    close_world(&w);
}

static size_t count_records(struct world *w, uint8_t type)
{
    MDB_txn *txn;
    ledger_head h;
    size_t n = 0;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_head_get(txn, w->f.s, &h, NULL), RL_OK);
    for (uint64_t seq = 1; seq <= h.seq; seq++) {
        MDB_val v;
        record r;
        cr_assert_eq(ledger_record_get(txn, w->f.s, seq, &v, NULL), RL_OK);
        cr_assert_eq(record_decode(&r, v.mv_data, v.mv_size, NULL), RL_OK);
        n += r.type == type;
    }
    store_read_end(txn);
    return n;
}

/* The record at seq, decoded into r (its payload copied into buf). */
static void record_at(struct world *w, uint64_t seq, record *r, uint8_t buf[RECORD_MAX_BYTES])
{
    MDB_txn *txn;
    MDB_val v;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_record_get(txn, w->f.s, seq, &v, NULL), RL_OK);
    memcpy(buf, v.mv_data, v.mv_size);
    cr_assert_eq(record_decode(r, buf, v.mv_size, NULL), RL_OK);
    store_read_end(txn);
}

Test(ingest, a_faulty_members_wrong_content_first_does_not_block_the_honest_two)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 5000);
    signed_obs l = fx_sign(&w.f, &lie, 3);
    submit(&w, &l, 1);
    signed_obs in[2] = {fx_sign(&w.f, &honest, 1), fx_sign(&w.f, &honest, 2)};
    submit(&w, in, 2);
    cr_assert(balance_is(&w, &honest, 500), "E2: the lie is no veto");
    cr_assert_eq(ingest_get_stats(w.g)->conflicts, 0);
    cr_assert_eq(ingest_head(w.g)->seq, 2, "genesis and the credit");
    /* The liar's honest version after the credit: a no-op, and nothing to prove (the lie was
     * never part of a record). */
    signed_obs h = fx_sign(&w.f, &honest, 3);
    submit(&w, &h, 1);
    cr_assert_eq(ingest_head(w.g)->seq, 2);
    cr_assert_eq(ingest_pending_events(w.g), 0);
    close_world(&w);
}

Test(ingest, an_equivocating_member_is_logged_once_however_often_it_flips)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 5000);
    signed_obs l = fx_sign(&w.f, &lie, 3), h = fx_sign(&w.f, &honest, 3);
    for (int i = 0; i < 20; i++) { /* ends on the honest one */
        submit(&w, &l, 1);
        submit(&w, &h, 1);
    }
    cr_assert_eq(count_records(&w, RECORD_EQUIVOCATION), 1, "E3: once per (event, member)");
    cr_assert(balance_is(&w, &honest, 0), "one member is no quorum, however it signs");
    submit(&w, &l, 1); /* and back on the lie: the honest two must make the quorum */
    signed_obs in[2] = {fx_sign(&w.f, &honest, 1), fx_sign(&w.f, &honest, 2)};
    submit(&w, in, 2);
    cr_assert(balance_is(&w, &honest, 500));
    cr_assert_eq(ingest_head(w.g)->seq, 3, "genesis, the evidence, the credit");
    cr_assert_eq(w.alerts, 0, "nothing refused");
    record r;
    uint8_t buf[RECORD_MAX_BYTES];
    payload_equivocation e;
    uint8_t id[HASH_BYTES], want[HASH_BYTES];
    record_at(&w, 2, &r, buf);
    cr_assert_eq(r.type, RECORD_EQUIVOCATION);
    cr_assert_eq(payload_equivocation_decode(&e, &r, id, NULL), RL_OK);
    obs_event_id(want, honest.chain_id, honest.tx_hash, honest.log_index);
    cr_assert_eq(memcmp(id, want, HASH_BYTES), 0);
    cr_assert(e.a.member == 3 && memcmp(e.a.bytes, l.bytes, OBS_BYTES) == 0 &&
              memcmp(e.b.bytes, h.bytes, OBS_BYTES) == 0);
    record_at(&w, 3, &r, buf);
    payload_attest a;
    cr_assert_eq(payload_attest_decode(&a, &r, NULL), RL_OK);
    cr_assert(a.sigs.n == 2 && a.sigs.e[0].member == 1 && a.sigs.e[1].member == 2, "member 3's lie is not in it");
    close_world(&w);
}

Test(ingest, honest_members_re_signing_after_a_deep_reorg_converge_on_one_credit)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs before = fx_obs(1, 1, 1, 500), after = fx_obs(1, 1, 1, 500);
    after.block_number += 1; /* the same transaction, re-included one block later */
    after.block_hash[0] ^= 0xff;
    signed_obs old1 = fx_sign(&w.f, &before, 1);
    submit(&w, &old1, 1);
    signed_obs in[2] = {fx_sign(&w.f, &after, 1), fx_sign(&w.f, &after, 2)};
    submit(&w, in, 2);
    cr_assert(balance_is(&w, &after, 500), "E2: member 1's latest signature counts");
    /* A lagging member still on the old branch: one signature after the credit, nothing more. */
    signed_obs old3 = fx_sign(&w.f, &before, 3);
    submit(&w, &old3, 1);
    cr_assert(balance_is(&w, &after, 500), "E1: credited once");
    cr_assert_eq(count_records(&w, RECORD_ATTEST), 1);
    cr_assert_eq(count_records(&w, RECORD_CONFLICT), 0);
    cr_assert_eq(count_records(&w, RECORD_EQUIVOCATION), 1, "member 1 did sign both: evidence, not an accusation");
    close_world(&w);
}

Test(ingest, evidence_already_logged_is_not_logged_again_after_a_restart)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 5000);
    signed_obs in[2] = {fx_sign(&w.f, &lie, 3), fx_sign(&w.f, &honest, 3)};
    submit(&w, in, 2);
    cr_assert_eq(count_records(&w, RECORD_EQUIVOCATION), 1);
    /* A new hub process: its quorum is empty, the member sends the same pair again. */
    ingest_close(w.g);
    ingest_opts opts = {.alert = on_alert, .alert_ctx = &w};
    rl_why why = {{0}};
    cr_assert_eq(ingest_open(&w.g, w.f.s, w.p, &w.f.set, &opts, 0, &why), RL_OK, "%s", why.text);
    submit(&w, in, 2);
    submit(&w, in, 2);
    cr_assert_eq(count_records(&w, RECORD_EQUIVOCATION), 1, "E3: the ledger's key keeps it once");
    cr_assert_eq(w.alerts, 0, "dropped before the ledger could refuse it");
    signed_obs two = fx_sign(&w.f, &honest, 2);
    submit(&w, &two, 1);
    cr_assert(balance_is(&w, &honest, 500));
    cr_assert_eq(ingest_head(w.g)->seq, 3);
    close_world(&w);
}

Test(ingest, a_held_back_signature_is_verified_when_its_content_loses_a_signer_to_an_equivocation)
{
    struct world w;
    ingest_opts o = {.verify_batch = 2};
    open_world(&w, 5, 3, &o, NULL);
    obs x = fx_obs(1, 1, 1, 500), y = fx_obs(1, 1, 1, 5000);
    signed_obs first[2] = {fx_sign(&w.f, &x, 1), fx_sign(&w.f, &x, 4)};
    submit(&w, first, 2); /* x has members 1 and 4 */
    /* One call, two batches: the second is prefiltered while the first is verified, so it counts
     * members 1 and 4 for x and holds member 3 back as not needed; then the first batch moves
     * both faulty members to y. */
    signed_obs in[4] = {fx_sign(&w.f, &y, 1), fx_sign(&w.f, &y, 4), fx_sign(&w.f, &x, 2), fx_sign(&w.f, &x, 3)};
    submit(&w, in, 4);
    cr_assert_geq(ingest_get_stats(w.g)->held, 1, "member 3 was held back");
    cr_assert_eq(count_records(&w, RECORD_EQUIVOCATION), 2);
    signed_obs five = fx_sign(&w.f, &x, 5);
    submit(&w, &five, 1);
    cr_assert(balance_is(&w, &x, 500), "members 2, 3 and 5: member 3's held signature counted");
    record r;
    uint8_t buf[RECORD_MAX_BYTES];
    payload_attest a;
    record_at(&w, ingest_head(w.g)->seq, &r, buf);
    cr_assert_eq(payload_attest_decode(&a, &r, NULL), RL_OK);
    cr_assert(a.sigs.n == 3 && a.sigs.e[0].member == 2 && a.sigs.e[1].member == 3 && a.sigs.e[2].member == 5);
    close_world(&w);
}

Test(ingest, a_held_back_signature_that_became_needed_is_verified_on_a_tick_with_nothing_more_sent)
{
    struct world w;
    ingest_opts o = {.verify_batch = 2};
    open_world(&w, 5, 3, &o, NULL);
    obs x = fx_obs(1, 1, 1, 500), y = fx_obs(1, 1, 1, 5000);
    signed_obs first[2] = {fx_sign(&w.f, &x, 1), fx_sign(&w.f, &x, 4)};
    submit(&w, first, 2);
    /* Three batches in one call: member 3's is held back against members 1 and 4, who then move
     * to y in the first batch; members 2 and 5 leave x one short, and nobody sends more. */
    signed_obs in[5] = {fx_sign(&w.f, &y, 1), fx_sign(&w.f, &y, 4), fx_sign(&w.f, &x, 2), fx_sign(&w.f, &x, 3),
                        fx_sign(&w.f, &x, 5)};
    rl_why why = {{0}};
    cr_assert_eq(ingest_submit(w.g, in, 5, 0, &why), RL_OK, "%s", why.text);
    for (uint64_t t = 0; t <= 200; t += 50) /* what the hub's timer does */
        cr_assert_eq(ingest_tick(w.g, t, &why), RL_OK, "%s", why.text);
    cr_assert_geq(ingest_get_stats(w.g)->held, 1);
    cr_assert(balance_is(&w, &x, 500), "members 2, 3 and 5");
    close_world(&w);
}

Test(ingest, a_member_signing_one_content_twice_in_a_batch_counts_once_toward_holding_back)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs o = fx_obs(1, 1, 1, 500);
    /* member 1's signature and its resend: member 2's is still needed, not held back (the same
     * holds for an equivocator's lie and its second signature of it) */
    signed_obs in[3] = {fx_sign(&w.f, &o, 1), fx_sign(&w.f, &o, 1), fx_sign(&w.f, &o, 2)};
    submit(&w, in, 3);
    cr_assert(balance_is(&w, &o, 500));
    cr_assert_eq(ingest_get_stats(w.g)->held, 0);
    cr_assert_eq(ingest_get_stats(w.g)->duplicate, 1);
    close_world(&w);
}

Test(ingest, a_conflict_after_the_credit_needs_a_quorum_keeps_the_credit_and_raises_one_alert)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 1);
    signed_obs in[2] = {fx_sign(&w.f, &honest, 1), fx_sign(&w.f, &honest, 2)};
    submit(&w, in, 2);
    signed_obs late = fx_sign(&w.f, &lie, 3);
    submit(&w, &late, 1);
    submit(&w, &late, 1);
    cr_assert_eq(ingest_head(w.g)->seq, 2, "one member's other content after the credit is no alert");
    /* A second quorum (as after a reorg deeper than the nodes' confirmations): the alert. */
    signed_obs more[2] = {fx_sign(&w.f, &lie, 1), fx_sign(&w.f, &lie, 2)};
    submit(&w, more, 2);
    submit(&w, more, 2);
    cr_assert(balance_is(&w, &honest, 500), "E1: the first credit stands, no second");
    cr_assert(balance_is(&w, &lie, 500));
    cr_assert_eq(ingest_head(w.g)->seq, 3, "genesis, attest, one conflict");
    MDB_txn *txn;
    MDB_val v;
    record r;
    payload_conflict *c = malloc(sizeof *c);
    cr_assert_eq(store_read_begin(w.f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_record_get(txn, w.f.s, 3, &v, NULL), RL_OK);
    cr_assert_eq(record_decode(&r, v.mv_data, v.mv_size, NULL), RL_OK);
    cr_assert_eq(r.type, RECORD_CONFLICT);
    cr_assert_eq(payload_conflict_decode(c, &r, NULL), RL_OK);
    cr_assert_eq(c->credited, 1);
    cr_assert_eq(c->a.sigs.n, 2, "variant A is the credited attestation");
    cr_assert_eq(c->b.sigs.n, 2, "variant B is the late quorum");
    store_read_end(txn);
    free(c);
    close_world(&w);
}

Test(ingest, a_second_event_claiming_a_used_vault_sequence_is_a_conflict_not_a_credit)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    obs first = fx_obs(1, 1, 4, 500), remined = fx_obs(1, 2, 4, 500); /* other tx, same vault seq */
    signed_obs a[2] = {fx_sign(&w.f, &first, 1), fx_sign(&w.f, &first, 2)};
    signed_obs b[2] = {fx_sign(&w.f, &remined, 1), fx_sign(&w.f, &remined, 3)};
    submit(&w, a, 2);
    submit(&w, b, 2);
    cr_assert(balance_is(&w, &first, 500));
    cr_assert_eq(ingest_head(w.g)->seq, 3);
    close_world(&w);
}

Test(ingest, groups_many_records_into_few_commits)
{
    ingest_opts o = {.commit_max_records = 64, .commit_max_delay_ms = 1000000};
    struct world w;
    open_world(&w, 3, 2, &o, NULL);
    enum { N = 640 };
    signed_obs *in = calloc(2 * N, sizeof *in);
    for (uint64_t i = 0; i < N; i++) {
        obs x = fx_obs(10, i + 1, i + 1, 7);
        in[2 * i] = fx_sign(&w.f, &x, 1);
        in[2 * i + 1] = fx_sign(&w.f, &x, 3);
    }
    rl_why why;
    cr_assert_eq(ingest_submit(w.g, in, 2 * N, 0, &why), RL_OK);
    cr_assert_eq(ingest_tick(w.g, 0, &why), RL_OK); /* verifies what is still in the pipeline */
    const ingest_stats *st = ingest_get_stats(w.g);
    cr_assert_eq(st->attested, N);
    cr_assert_leq(st->commits, N / 64, "commits are grouped by count");
    cr_assert_geq(st->commits, N / 64 - 1);
    /* The time bound: pending records commit once the delay has passed. */
    obs x = fx_obs(10, N + 1, N + 1, 7);
    signed_obs last[2] = {fx_sign(&w.f, &x, 1), fx_sign(&w.f, &x, 2)};
    uint64_t head = ingest_head(w.g)->seq;
    cr_assert_eq(ingest_submit(w.g, last, 2, 5, &why), RL_OK);
    cr_assert_eq(ingest_tick(w.g, 10, &why), RL_OK);
    cr_assert_eq(ingest_tick(w.g, 2000000, &why), RL_OK);
    cr_assert_eq(ingest_head(w.g)->seq, head + (N % 64) + 1);
    free(in);
    close_world(&w);
}

/* Events first..first+n-1, signed by members 1 and 2, submitted and aggregated at now_ms (their
 * records pending since then); returns the head. */
static uint64_t pending_at(struct world *w, uint64_t first, size_t n, uint64_t now_ms)
{
    signed_obs in[64];
    cr_assert_leq(2 * n, sizeof in / sizeof in[0]);
    for (size_t i = 0; i < n; i++) {
        obs x = fx_obs(11, first + i, first + i, 7);
        in[2 * i] = fx_sign(&w->f, &x, 1);
        in[2 * i + 1] = fx_sign(&w->f, &x, 2);
    }
    rl_why why = {{0}};
    cr_assert_eq(ingest_submit(w->g, in, 2 * n, now_ms, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_tick(w->g, now_ms, &why), RL_OK, "%s", why.text);
    return ingest_head(w->g)->seq;
}

static uint64_t tick_at(struct world *w, uint64_t now_ms)
{
    rl_why why = {{0}};
    cr_assert_eq(ingest_tick(w->g, now_ms, &why), RL_OK, "%s", why.text);
    return ingest_head(w->g)->seq;
}

Test(ingest, under_load_commits_wait_for_twice_the_last_or_the_load_delay_or_a_pause)
{
    ingest_opts o = {.commit_max_records = 1000, .commit_max_delay_ms = 10, .commit_load_records = 8,
                     .commit_load_delay_ms = 500};
    struct world w;
    open_world(&w, 3, 2, &o, NULL);
    uint64_t head = ingest_head(w.g)->seq;
    cr_assert_eq(pending_at(&w, 1, 16, 0), head);
    cr_assert_eq(tick_at(&w, 20), head + 16, "no load yet: the 10 ms delay commits");
    /* 16 >= 8: load. Records that keep coming wait past the 10 ms delay ... */
    cr_assert_eq(pending_at(&w, 17, 5, 100), head + 16);
    cr_assert_eq(pending_at(&w, 22, 5, 105), head + 16);
    cr_assert_eq(tick_at(&w, 114), head + 16, "committed under load before twice the last, the load delay or a pause");
    /* ... until there are 32 (twice the last commit) ... */
    cr_assert_eq(pending_at(&w, 27, 22, 114), head + 48, "twice the last commit did not commit");
    /* ... or the oldest has waited the load delay (one record every 9 ms: never a pause) ... */
    uint64_t ev = 49, t = 200;
    for (; t < 700; t += 9, ev++)
        cr_assert_eq(pending_at(&w, ev, 1, t), head + 48, "committed at %llu ms", (unsigned long long)t);
    /* (a record is aggregated after the due check of the call that submits it: this call commits
     * the 56 before it, and its own waits) */
    cr_assert_eq(pending_at(&w, ev, 1, t), head + ev - 1, "the load delay did not commit");
    /* ... or nothing came for the 10 ms delay: senders are waiting for their acknowledgements. */
    cr_assert_eq(tick_at(&w, t + 9), head + ev - 1);
    cr_assert_eq(tick_at(&w, t + 10), head + ev, "a pause did not commit");
    /* That commit of one record ends the load: the 10 ms delay is back. */
    ev++;
    cr_assert_eq(pending_at(&w, ev, 1, 900), head + ev - 1);
    cr_assert_eq(tick_at(&w, 910), head + ev, "after a small commit the 10 ms delay is back");
    cr_assert_eq(ingest_get_stats(w.g)->attested, ev);
    close_world(&w);
}

Test(ingest, many_small_batches_in_flight_credit_every_event_once)
{
    /* verify_batch 16: dozens of batches pass through the three-stage pipeline, with the
     * observations of one event spread over neighbouring batches. */
    ingest_opts o = {.verify_batch = 16, .commit_max_records = 50};
    struct world w;
    open_world(&w, 3, 2, &o, NULL);
    enum { N = 300 };
    signed_obs *in = calloc(3 * N, sizeof *in);
    size_t k = 0;
    for (unsigned node = 1; node <= 3; node++)
        for (uint64_t i = 0; i < N; i++) {
            obs x = fx_obs(10, i + 1, i + 1, 7);
            in[k++] = fx_sign(&w.f, &x, (uint16_t)node);
        }
    rl_why why;
    for (size_t off = 0; off < k; off += 100)
        cr_assert_eq(ingest_submit(w.g, in + off, k - off < 100 ? k - off : 100, 0, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_flush(w.g, 0, &why), RL_OK, "%s", why.text);
    const ingest_stats *st = ingest_get_stats(w.g);
    cr_assert_eq(st->attested, N);
    cr_assert_eq(st->bad_signature, 0);
    cr_assert_eq(st->refused, 0);
    cr_assert_eq(ingest_pending_events(w.g), 0);
    cr_assert_eq(ingest_head(w.g)->seq, N + 1);
    free(in);
    close_world(&w);
}

Test(ingest, rotation_needs_a_quorum_of_the_set_in_force_and_changes_who_counts)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    payload_set *p = calloc(1, sizeof *p);
    p->set = w.f.set;
    p->set.version = 2;
    p->set.members[2].id = 4;
    p->set.members[2].pub = *node_key_pub(w.f.keys[3]); /* member 3 retires, key 4 joins */
    uint8_t digest[32];
    cr_assert_eq(relset_digest(&p->set, digest), RL_OK);
    p->sigs.n = 1;
    p->sigs.e[0].member = 1;
    node_key_sign(w.f.keys[0], p->sigs.e[0].sig, digest, 32);
    rl_why why;
    cr_assert_eq(ingest_rotate(w.g, p, 0, &why), RL_ERR_QUORUM, "one signature of two needed");
    p->sigs.n = 2;
    p->sigs.e[1].member = 2;
    node_key_sign(w.f.keys[1], p->sigs.e[1].sig, digest, 32);
    p->sigs.e[1].sig[3] ^= 1;
    cr_assert_eq(ingest_rotate(w.g, p, 0, &why), RL_ERR_SIG);
    node_key_sign(w.f.keys[1], p->sigs.e[1].sig, digest, 32);
    cr_assert_eq(ingest_rotate(w.g, p, 0, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_head(w.g)->set_version, 2);

    obs o = fx_obs(1, 1, 1, 9);
    signed_obs old[2] = {fx_sign(&w.f, &o, 1), fx_sign(&w.f, &o, 3)};
    submit(&w, old, 2);
    cr_assert(balance_is(&w, &o, 0), "the retired member no longer counts");
    cr_assert_eq(ingest_get_stats(w.g)->unknown_signer, 1);
    uint8_t enc[OBS_BYTES];
    signed_obs joined;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    obs_sign(&joined, enc, 4, w.f.keys[3]);
    submit(&w, &joined, 1);
    cr_assert(balance_is(&w, &o, 9));
    free(p);
    close_world(&w);
}

Test(ingest, refuses_a_ledger_started_with_another_genesis_set)
{
    struct world w;
    open_world(&w, 3, 2, NULL, NULL);
    relset other = w.f.set;
    other.threshold = 3;
    ingest *g2 = NULL;
    rl_why why;
    cr_assert_eq(ingest_open(&g2, w.f.s, w.p, &other, NULL, 0, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "genesis") != NULL, "%s", why.text);
    close_world(&w);
}

Test(ingest, a_full_disk_stops_ingest_and_loses_nothing_committed)
{
    /* RLIMIT_FSIZE makes the ledger file's writes fail with EFBIG, as a full disk would. */
    char *dir = tu_tmpdir();
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct world w;
        memset(&w, 0, sizeof w);
        fx_init(&w.f, 3, 2);
        if (store_open(&w.f.s, dir, NULL, NULL) != RL_OK || pool_new(&w.p, 1) != RL_OK)
            _exit(10);
        ingest_opts o = {.commit_max_records = 16};
        if (ingest_open(&w.g, w.f.s, w.p, &w.f.set, &o, 0, NULL) != RL_OK)
            _exit(11);
        struct rlimit lim = {256 << 10, 256 << 10};
        setrlimit(RLIMIT_FSIZE, &lim);
        rl_why why;
        rl_err err = RL_OK;
        for (uint64_t i = 1; i < 200000 && err == RL_OK; i++) {
            obs x = fx_obs(1, i, i, 1);
            x.tx_hash[5] = (uint8_t)(i >> 16);
            signed_obs in[2] = {fx_sign(&w.f, &x, 1), fx_sign(&w.f, &x, 2)};
            err = ingest_submit(w.g, in, 2, 0, &why);
        }
        _exit(err == RL_ERR_NOSPC ? 0 : 20 + (int)err);
    }
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child ended with %d", WEXITSTATUS(status));
    /* Reopen without the limit: everything committed is intact and ingest carries on. */
    struct world w;
    memset(&w, 0, sizeof w);
    fx_init(&w.f, 3, 2);
    w.f.dir = dir;
    cr_assert_eq(store_open(&w.f.s, dir, NULL, NULL), RL_OK);
    cr_assert_eq(pool_new(&w.p, 1), RL_OK);
    rl_why why;
    cr_assert_eq(ingest_open(&w.g, w.f.s, w.p, &w.f.set, NULL, 0, &why), RL_OK, "%s", why.text);
    uint64_t head = ingest_head(w.g)->seq;
    cr_assert_gt(head, 16);
    MDB_txn *txn;
    ledger_stats st;
    uint8_t d[32];
    cr_assert_eq(store_read_begin(w.f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w.f.s, d, &st, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(st.events_credited, head - 1, "every committed record's credit is there");
    obs x = fx_obs(2, 1, 1, 1);
    signed_obs in[2] = {fx_sign(&w.f, &x, 1), fx_sign(&w.f, &x, 2)};
    submit(&w, in, 2);
    cr_assert_eq(ingest_head(w.g)->seq, head + 1);
    close_world(&w);
}

static void submit_at(struct world *w, const signed_obs *so, size_t n, uint64_t now_ms)
{
    rl_why why = {{0}};
    cr_assert_eq(ingest_submit(w->g, so, n, now_ms, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_flush(w->g, now_ms, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_tick(w->g, now_ms, &why), RL_OK, "%s", why.text);
}

Test(ingest, a_member_flooding_fresh_never_completing_events_stays_within_its_budget_while_honest_events_credit)
{
    struct world w;
    ingest_opts o = {.pending_per_member = 50};
    open_world(&w, 3, 2, &o, NULL);
    signed_obs flood[100];
    for (uint64_t round = 0; round < 10; round++) {
        for (uint64_t i = 0; i < 100; i++) {
            obs junk = fx_obs(2, round * 100 + i + 1, round * 100 + i + 1, 1);
            flood[i] = fx_sign(&w.f, &junk, 3);
        }
        obs honest = fx_obs(1, round + 1, round + 1, 500);
        signed_obs pair[2] = {fx_sign(&w.f, &honest, 1), fx_sign(&w.f, &honest, 2)};
        submit_at(&w, flood, 100, 1000 * round);
        submit_at(&w, pair, 2, 1000 * round + 1);
        cr_assert_eq(ingest_get_stats(w.g)->attested, round + 1, "round %llu: the honest event is credited",
                     (unsigned long long)round);
        cr_assert_leq(ingest_pending_events(w.g), 50, "round %llu: %zu pending", (unsigned long long)round,
                      ingest_pending_events(w.g));
    }
    cr_assert_eq(ingest_get_stats(w.g)->pending_over_budget, 1000 - 50);
    cr_assert(strstr(w.last_alert, "pending observations dropped: member=3") != NULL, "%s", w.last_alert);
    close_world(&w);
}

Test(ingest, an_event_whose_pending_signature_expired_is_credited_once_when_the_quorum_arrives_later)
{
    struct world w;
    ingest_opts o = {.pending_ttl_ms = 60000};
    open_world(&w, 3, 2, &o, NULL);
    obs x = fx_obs(1, 1, 1, 500);
    signed_obs a = fx_sign(&w.f, &x, 1), b = fx_sign(&w.f, &x, 2), c = fx_sign(&w.f, &x, 3);
    submit_at(&w, &a, 1, 1000);
    cr_assert_eq(ingest_pending_events(w.g), 1);
    submit_at(&w, NULL, 0, 61000);
    cr_assert_eq(ingest_pending_events(w.g), 0, "expired on the tick");
    cr_assert_eq(ingest_get_stats(w.g)->pending_expired, 1);
    cr_assert(strstr(w.last_alert, "member=1 over_budget=0 expired=1") != NULL, "%s", w.last_alert);
    /* Member 2 arrives late; member 1 resends its unacknowledged observation; so does 3. */
    submit_at(&w, &b, 1, 62000);
    cr_assert(balance_is(&w, &x, 0));
    submit_at(&w, &a, 1, 63000);
    cr_assert(balance_is(&w, &x, 500));
    submit_at(&w, &c, 1, 64000);
    submit_at(&w, &a, 1, 65000);
    cr_assert(balance_is(&w, &x, 500), "credited once");
    cr_assert_eq(ingest_get_stats(w.g)->attested, 1);
    close_world(&w);
}
