/* record_test.c - log record and payload encodings. */
#include "tests/fixture.h"

Test(record, round_trips_header_and_payload)
{
    fixture f;
    fx_init(&f, 3, 2);
    obs o = fx_obs(1, 1, 1, 100);
    payload_attest p = fx_attest(&f, &o, 2);
    uint8_t payload[RECORD_MAX_PAYLOAD], enc[RECORD_MAX_BYTES];
    size_t plen, len;
    cr_assert_eq(payload_attest_encode(&p, payload, &plen, NULL), RL_OK);
    cr_assert_eq(plen, OBS_BYTES + 1 + 2 * SIG_ENTRY_BYTES);
    record r = {.type = RECORD_ATTEST, .seq = 9, .time_ms = 1234, .payload = payload, .payload_len = (uint32_t)plen};
    memset(r.prev, 0x77, 32);
    cr_assert_eq(record_encode(&r, enc, &len, NULL), RL_OK);
    record back;
    cr_assert_eq(record_decode(&back, enc, len, NULL), RL_OK);
    cr_assert_eq(back.seq, 9);
    cr_assert_eq(back.time_ms, 1234);
    cr_assert_eq(back.prev[31], 0x77);
    payload_attest pb;
    cr_assert_eq(payload_attest_decode(&pb, &back, NULL), RL_OK);
    cr_assert_eq(pb.sigs.n, 2);
    cr_assert_eq(pb.sigs.e[1].member, 2);
    fx_fini(&f);
}

Test(record, rejects_every_truncation_and_trailing_bytes)
{
    fixture f;
    fx_init(&f, 3, 2);
    obs o = fx_obs(1, 1, 1, 100);
    payload_attest p = fx_attest(&f, &o, 2);
    uint8_t payload[RECORD_MAX_PAYLOAD], enc[RECORD_MAX_BYTES + 1];
    size_t plen, len;
    cr_assert_eq(payload_attest_encode(&p, payload, &plen, NULL), RL_OK);
    record r = {.type = RECORD_ATTEST, .seq = 1, .payload = payload, .payload_len = (uint32_t)plen}, back;
    cr_assert_eq(record_encode(&r, enc, &len, NULL), RL_OK);
    for (size_t cut = 0; cut < len; cut++)
        cr_assert_neq(record_decode(&back, enc, cut, NULL), RL_OK, "accepted a record cut at %zu", cut);
    enc[len] = 0;
    cr_assert_eq(record_decode(&back, enc, len + 1, NULL), RL_ERR_DECODE);
    fx_fini(&f);
}

Test(record, rejects_unordered_or_duplicate_signers)
{
    fixture f;
    fx_init(&f, 3, 2);
    obs o = fx_obs(1, 1, 1, 100);
    payload_attest p = fx_attest(&f, &o, 2);
    uint8_t payload[RECORD_MAX_PAYLOAD];
    size_t plen;
    p.sigs.e[1].member = 1;
    cr_assert_eq(payload_attest_encode(&p, payload, &plen, NULL), RL_ERR_ARG);
    /* and when such bytes arrive from outside */
    p.sigs.e[1].member = 2;
    cr_assert_eq(payload_attest_encode(&p, payload, &plen, NULL), RL_OK);
    payload[OBS_BYTES + 1 + SIG_ENTRY_BYTES + 1] = 1; /* second entry's member id low byte: 2 -> 1 */
    record r = {.type = RECORD_ATTEST, .seq = 1, .payload = payload, .payload_len = (uint32_t)plen};
    payload_attest back;
    rl_why why;
    cr_assert_eq(payload_attest_decode(&back, &r, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "ascending") != NULL, "%s", why.text);
    fx_fini(&f);
}

Test(record, conflict_payload_needs_two_different_variants)
{
    fixture f;
    fx_init(&f, 3, 2);
    obs o1 = fx_obs(1, 1, 1, 100), o2 = fx_obs(1, 1, 1, 101);
    payload_conflict c = {.reason = CONFLICT_CONTENT};
    c.a = fx_attest(&f, &o1, 1);
    c.b = fx_attest(&f, &o2, 1);
    uint8_t payload[RECORD_MAX_PAYLOAD];
    size_t plen;
    cr_assert_eq(payload_conflict_encode(&c, payload, &plen, NULL), RL_OK);
    record r = {.type = RECORD_CONFLICT, .seq = 1, .payload = payload, .payload_len = (uint32_t)plen};
    payload_conflict back;
    cr_assert_eq(payload_conflict_decode(&back, &r, NULL), RL_OK);
    cr_assert_eq(back.reason, CONFLICT_CONTENT);
    c.b = c.a;
    cr_assert_eq(payload_conflict_encode(&c, payload, &plen, NULL), RL_ERR_ARG);
    c.b = fx_attest(&f, &o2, 1);
    c.reason = 3;
    cr_assert_eq(payload_conflict_encode(&c, payload, &plen, NULL), RL_ERR_ARG);
    fx_fini(&f);
}

Test(record, genesis_set_payload_may_have_no_signatures)
{
    fixture f;
    fx_init(&f, 3, 2);
    payload_set p;
    memset(&p, 0, sizeof p);
    p.set = f.set;
    uint8_t payload[RECORD_MAX_PAYLOAD];
    size_t plen;
    cr_assert_eq(payload_set_encode(&p, payload, &plen, NULL), RL_OK);
    record r = {.type = RECORD_SET, .seq = 1, .payload = payload, .payload_len = (uint32_t)plen};
    payload_set back;
    cr_assert_eq(payload_set_decode(&back, &r, NULL), RL_OK);
    cr_assert_eq(back.sigs.n, 0);
    cr_assert_eq(back.set.n, 3);
    fx_fini(&f);
}

Test(record, hash_changes_with_any_byte)
{
    uint8_t enc[RECORD_HEADER_BYTES] = {1, RECORD_ATTEST}, h1[32], h2[32];
    record_hash(h1, enc, sizeof enc);
    for (size_t i = 0; i < sizeof enc; i++) {
        enc[i] ^= 0x80;
        record_hash(h2, enc, sizeof enc);
        cr_assert_neq(memcmp(h1, h2, 32), 0);
        enc[i] ^= 0x80;
    }
}
