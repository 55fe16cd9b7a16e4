/* quorum_test.c - grouping verified observations into attestations and conflicts. */
#include "attest/quorum.h"
#include "tests/fixture.h"

static quorum_status add(quorum *q, const signed_obs *so, quorum_result *res)
{
    obs o;
    uint8_t id[32], content[32];
    cr_assert_eq(obs_decode(&o, so->bytes, OBS_BYTES, NULL), RL_OK);
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
    obs_content_hash(content, so->bytes);
    cr_assert_eq(quorum_add(q, so, id, content, res), RL_OK);
    return res->status;
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

Test(quorum, conflicting_content_never_attests_and_reports_both_versions)
{
    fixture f;
    fx_init(&f, 3, 2);
    quorum *q;
    quorum_result *res = malloc(sizeof *res);
    cr_assert_eq(quorum_new(&q, &f.set), RL_OK);
    obs honest = fx_obs(1, 1, 1, 5), lie = fx_obs(1, 1, 1, 500);
    signed_obs a = fx_sign(&f, &lie, 1), b = fx_sign(&f, &honest, 2);
    cr_assert_eq(add(q, &a, res), QUORUM_PENDING);
    cr_assert_eq(add(q, &b, res), QUORUM_CONFLICT);
    cr_assert_eq(res->conflict.reason, CONFLICT_CONTENT);
    cr_assert_eq(memcmp(res->conflict.a.obs, a.bytes, OBS_BYTES), 0);
    cr_assert_eq(memcmp(res->conflict.b.obs, b.bytes, OBS_BYTES), 0);
    cr_assert_eq(res->conflict.b.sigs.e[0].member, 2);
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
    cr_assert_eq(quorum_add(q, &a, id, content, &res), RL_ERR_SIGNER);
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
