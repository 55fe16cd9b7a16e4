/* quorum_test.c - grouping verified observations into attestations, late conflicts and equivocation
 * evidence (ledger.h, E1-E3). */
#include "attest/quorum.h"
#include "tests/fixture.h"

static quorum_status add_at(quorum *q, const signed_obs *so, bool closed, uint64_t now_ms, quorum_result *res)
{
    obs o;
    uint8_t id[32], content[32];
    cr_assert_eq(obs_decode(&o, so->bytes, OBS_BYTES, NULL), RL_OK);
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
    obs_content_hash(content, so->bytes);
    cr_assert_eq(quorum_add(q, so, id, content, closed, now_ms, res), RL_OK);
    return res->status;
}

static quorum_status add_to(quorum *q, const signed_obs *so, bool closed, quorum_result *res)
{
    return add_at(q, so, closed, 0, res);
}

static unsigned signers_of(const quorum *q, const obs *o, const signed_obs *so)
{
    uint8_t id[32], content[32];
    obs_event_id(id, o->chain_id, o->tx_hash, o->log_index);
    obs_content_hash(content, so->bytes);
    return quorum_signers(q, id, content);
}

static quorum_status add(quorum *q, const signed_obs *so, quorum_result *res)
{
    return add_to(q, so, false, res);
}

Test(quorum, attests_when_threshold_distinct_members_sign_identical_content)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs o = fx_obs(1, 1, 1, 5);
    signed_obs a = fx_sign(&f, &o, 3), b = fx_sign(&f, &o, 1);
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING);
    cr_assert_eq(quorum_pending(q), 1);
    cr_assert_eq(add(q, &b, res), QUORUM_ATTESTED);
    cr_assert_eq(res->attest.sigs.n, 2);
    cr_assert_eq(res->attest.sigs.e[0].member, 1, "signatures come out in ascending member order");
    cr_assert_eq(res->attest.sigs.e[1].member, 3);
    cr_assert_eq(quorum_pending(q), 0);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, ignores_duplicate_signature_from_same_member)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs o = fx_obs(1, 1, 1, 5);
    signed_obs a = fx_sign(&f, &o, 2);
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &a, res), QUORUM_DUPLICATE);
    cr_assert_eq(add(q, &a, res), QUORUM_DUPLICATE);
    cr_assert_eq(quorum_pending(q), 1);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, a_faulty_members_other_content_does_not_block_what_the_honest_two_attest)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs honest = fx_obs(1, 1, 1, 5), lie = fx_obs(1, 1, 1, 500);
    signed_obs l = fx_sign(&f, &lie, 3), a = fx_sign(&f, &honest, 1), b = fx_sign(&f, &honest, 2);
    cr_assert_eq(add(q, &l, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING, "E2: another content is no veto");
    cr_assert_not(res->equivocation, "two members, one content each: no equivocation");
    cr_assert_eq(add(q, &b, res), QUORUM_ATTESTED);
    cr_assert_eq(memcmp(res->attest.obs, a.bytes, OBS_BYTES), 0);
    cr_assert(res->attest.sigs.n == 2 && res->attest.sigs.e[0].member == 1 && res->attest.sigs.e[1].member == 2);
    cr_assert_eq(quorum_pending(q), 0, "the event left the aggregator, the lie with it");
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, a_member_that_switches_content_counts_once_and_is_reported_once)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs honest = fx_obs(1, 1, 1, 5), lie = fx_obs(1, 1, 1, 500);
    signed_obs l = fx_sign(&f, &lie, 3), h = fx_sign(&f, &honest, 3), a = fx_sign(&f, &honest, 1);
    uint8_t id[32], ch[32], cl[32];
    obs_event_id(id, honest.chain_id, honest.tx_hash, honest.log_index);
    obs_content_hash(ch, h.bytes);
    obs_content_hash(cl, l.bytes);
    cr_assert_eq(add(q, &l, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &h, res), QUORUM_PENDING);
    cr_assert(res->equivocation, "E3: the pair is evidence");
    cr_assert_eq(memcmp(res->equiv.a.bytes, l.bytes, OBS_BYTES), 0, "A is what it signed first");
    cr_assert_eq(memcmp(res->equiv.a.sig, l.sig, 64), 0);
    cr_assert_eq(memcmp(res->equiv.b.bytes, h.bytes, OBS_BYTES), 0);
    cr_assert(res->equiv.a.member == 3 && res->equiv.b.member == 3);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_equivocation_encode(&res->equiv, buf, &len, NULL), RL_OK);
    cr_assert_eq(len, EQUIVOCATION_PAYLOAD_BYTES);
    cr_assert_eq(quorum_signers(q, id, ch), 1, "E2: its latest signature counts");
    cr_assert_eq(quorum_signers(q, id, cl), 0, "and its earlier one no more");
    /* Flipping back and forth: one content at a time, never reported again. */
    for (int i = 0; i < 51; i++) { /* ends on the lie */
        cr_assert_eq(add(q, i % 2 ? &h : &l, res), QUORUM_PENDING);
        cr_assert_not(res->equivocation);
        cr_assert_eq(quorum_signers(q, id, ch) + quorum_signers(q, id, cl), 1);
    }
    cr_assert_eq(add(q, &l, res), QUORUM_DUPLICATE, "its latest is the lie already");
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING, "member 3 is on the lie: one honest signer");
    cr_assert_eq(add(q, &h, res), QUORUM_ATTESTED, "member 3 back on the honest content makes two");
    cr_assert_not(res->equivocation);
    cr_assert(res->attest.sigs.n == 2 && res->attest.sigs.e[0].member == 1 && res->attest.sigs.e[1].member == 3);
    cr_assert_eq(memcmp(res->attest.sigs.e[1].sig, h.sig, 64), 0, "with its latest signature");
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, a_member_signing_many_contents_holds_one_variant_and_cannot_reach_a_quorum_alone)
{
    fixture f;
    fx_init(&f, 5, 3);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    uint8_t id[32], c[32];
    unsigned reported = 0;
    for (uint64_t amount = 1; amount <= 200; amount++) {
        obs o = fx_obs(1, 1, 1, amount);
        signed_obs s1 = fx_sign(&f, &o, 1), s2 = fx_sign(&f, &o, 2);
        cr_assert_eq(add(q, &s1, res), QUORUM_PENDING);
        reported += res->equivocation;
        cr_assert_eq(add(q, &s2, res), QUORUM_PENDING, "two faulty members of threshold 3");
        reported += res->equivocation;
        obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
        obs_content_hash(c, s1.bytes);
        cr_assert_eq(quorum_signers(q, id, c), 2);
    }
    cr_assert_eq(reported, 2, "once per member");
    obs first = fx_obs(1, 1, 1, 1);
    obs_content_hash(c, fx_sign(&f, &first, 1).bytes);
    cr_assert_eq(quorum_signers(q, id, c), 0, "emptied variants are gone");
    cr_assert_eq(quorum_pending(q), 1);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, after_the_credit_only_a_quorum_of_another_content_is_a_conflict)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs reorged = fx_obs(1, 1, 1, 500);
    signed_obs a = fx_sign(&f, &reorged, 3), b = fx_sign(&f, &reorged, 1);
    cr_assert_eq(add_to(q, &a, true, res), QUORUM_PENDING, "one signature is no alert");
    cr_assert_eq(add_to(q, &a, true, res), QUORUM_DUPLICATE);
    cr_assert_eq(add_to(q, &b, true, res), QUORUM_CONFLICT);
    cr_assert_eq(memcmp(res->attest.obs, a.bytes, OBS_BYTES), 0);
    cr_assert(res->attest.sigs.n == 2 && res->attest.sigs.e[0].member == 1 && res->attest.sigs.e[1].member == 3);
    cr_assert_eq(quorum_pending(q), 0);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, rejects_a_signer_outside_the_set)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result res;
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs o = fx_obs(1, 1, 1, 5);
    signed_obs a = fx_sign(&f, &o, 4); /* key 4 is the fixture's spare, not a member */
    uint8_t id[32], content[32];
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
    obs_content_hash(content, a.bytes);
    cr_assert_eq(quorum_add(q, &a, id, content, false, 0, &res), RL_ERR_SIGNER);
    cr_assert_eq(quorum_pending(q), 0);
    quorum_free(q);
    fx_fini(&f);
}

Test(quorum, counts_signers_per_content)
{
    fixture f;
    fx_init(&f, 5, 3);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs o = fx_obs(1, 1, 1, 5), other = fx_obs(1, 1, 1, 6);
    signed_obs a = fx_sign(&f, &o, 1), b = fx_sign(&f, &o, 2), c = fx_sign(&f, &other, 3);
    uint8_t id[32], content[32], content2[32];
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
    obs_content_hash(content, a.bytes);
    obs_content_hash(content2, c.bytes);
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &b, res), QUORUM_PENDING);
    cr_assert_eq(quorum_signers(q, id, content), 2);
    cr_assert_eq(quorum_signers(q, id, content2), 0);
    quorum_reset(q, &f.set);
    cr_assert_eq(quorum_signers(q, id, content), 0);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, keeps_at_most_a_bounded_number_of_closed_events_dropping_the_oldest)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    /* A faulty member signs another content of many credited events. */
    for (uint64_t n = 1; n <= QUORUM_MAX_CLOSED + 10; n++) {
        obs o = fx_obs(1, n, n, 7);
        signed_obs a = fx_sign(&f, &o, 3);
        cr_assert_eq(add_to(q, &a, true, res), QUORUM_PENDING);
    }
    cr_assert_eq(quorum_pending(q), QUORUM_MAX_CLOSED);
    /* The oldest were dropped: a second signature starts over there; a recent one still alerts. */
    obs oldest = fx_obs(1, 1, 1, 7), recent = fx_obs(1, QUORUM_MAX_CLOSED + 10, QUORUM_MAX_CLOSED + 10, 7);
    signed_obs b1 = fx_sign(&f, &oldest, 1), b2 = fx_sign(&f, &recent, 1);
    cr_assert_eq(add_to(q, &b1, true, res), QUORUM_PENDING);
    cr_assert_eq(add_to(q, &b2, true, res), QUORUM_CONFLICT);
    cr_assert_eq(quorum_pending(q), QUORUM_MAX_CLOSED - 1);
    /* Pending (open) events are not what the bound drops. */
    obs open = fx_obs(2, 1, 1, 7);
    signed_obs c1 = fx_sign(&f, &open, 1), c2 = fx_sign(&f, &open, 2);
    cr_assert_eq(add(q, &c1, res), QUORUM_PENDING);
    for (uint64_t n = 1; n <= 100; n++) {
        obs o = fx_obs(3, n, n, 7);
        signed_obs a = fx_sign(&f, &o, 3);
        cr_assert_eq(add_to(q, &a, true, res), QUORUM_PENDING);
    }
    cr_assert_eq(add(q, &c2, res), QUORUM_ATTESTED);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, a_member_signing_fresh_events_that_never_complete_holds_at_most_its_budget)
{
    fixture f;
    fx_init(&f, 4, 3);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    quorum_limit(q, 10, 0);
    /* An honest event the faulty member 4 also signed, and one only honest member 1 signed. */
    obs shared = fx_obs(1, 1, 1, 5), own = fx_obs(1, 2, 2, 5);
    signed_obs s4 = fx_sign(&f, &shared, 4), s1 = fx_sign(&f, &shared, 1), o1 = fx_sign(&f, &own, 1);
    cr_assert_eq(add(q, &s4, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &s1, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &o1, res), QUORUM_PENDING);
    size_t over = 0;
    for (uint64_t n = 1; n <= 1000; n++) {
        obs o = fx_obs(2, n, n, 7);
        signed_obs a = fx_sign(&f, &o, 4);
        cr_assert_eq(add(q, &a, res), QUORUM_PENDING);
        over += res->over_budget;
    }
    cr_assert_leq(quorum_pending(q), 10 + 2, "the faulty member holds at most its budget");
    quorum_member_stats m4, m1;
    cr_assert(quorum_member_at(q, 3, &m4));
    cr_assert_eq(m4.member, 4);
    cr_assert_eq(m4.pending, 10);
    cr_assert_eq(m4.over_budget, 1000 + 1 - 10);
    cr_assert_eq(over, m4.over_budget);
    /* Its oldest slot (the shared event) went; member 1's signatures are not its to drop. */
    cr_assert(quorum_member_at(q, 0, &m1));
    cr_assert_eq(m1.pending, 2);
    cr_assert_eq(m1.over_budget, 0);
    cr_assert_eq(signers_of(q, &shared, &s1), 1);
    signed_obs s2 = fx_sign(&f, &shared, 2), s3 = fx_sign(&f, &shared, 3);
    cr_assert_eq(add(q, &s2, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &s3, res), QUORUM_ATTESTED, "the honest three still attest");
    cr_assert(!quorum_member_at(q, 4, &m1), "past the set's end");
    quorum_free(q);
    free(res);
    fx_fini(&f);
}

Test(quorum, signatures_past_the_ttl_are_dropped_and_a_resend_after_it_still_attests)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    quorum_limit(q, 0, 1000);
    obs o = fx_obs(1, 1, 1, 5), later = fx_obs(1, 2, 2, 5);
    signed_obs a = fx_sign(&f, &o, 1), b = fx_sign(&f, &o, 2), c = fx_sign(&f, &later, 3);
    cr_assert_eq(add_at(q, &a, false, 5000, res), QUORUM_PENDING);
    cr_assert_eq(add_at(q, &c, false, 5600, res), QUORUM_PENDING);
    cr_assert_eq(quorum_expire(q, 5999), 0);
    cr_assert_eq(quorum_expire(q, 4000), 0, "a clock that went back expires nothing");
    cr_assert_eq(quorum_expire(q, 6000), 1);
    cr_assert_eq(quorum_pending(q), 1, "the event left without a signature is freed");
    quorum_member_stats m;
    cr_assert(quorum_member_at(q, 0, &m));
    cr_assert_eq(m.expired, 1);
    cr_assert_eq(m.pending, 0);
    cr_assert_eq(add_at(q, &b, false, 7000, res), QUORUM_PENDING, "member 1's signature is gone");
    cr_assert_eq(add_at(q, &a, false, 7001, res), QUORUM_ATTESTED, "its resend completes the quorum");
    cr_assert_eq(quorum_expire(q, 6599), 0);
    cr_assert_eq(quorum_expire(q, 6600), 1);
    cr_assert_eq(quorum_pending(q), 0);
    quorum_free(q);
    free(res);
    fx_fini(&f);
}
