/* obs_test.c - canonical observation encoding. */
#include "tests/fixture.h"

Test(obs, round_trips_every_field)
{
    obs o = fx_obs(42161, 7, 3, 123456789), back;
    o.log_index = 0x01020304;
    o.block_number = UINT64_MAX;
    memset(o.asset, 0xcd, sizeof o.asset);
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(enc[0], OBS_VERSION);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_OK);
    cr_assert_eq(memcmp(&o.vault, &back.vault, sizeof o.vault), 0);
    cr_assert_eq(back.chain_id, 42161);
    cr_assert_eq(back.block_number, UINT64_MAX);
    cr_assert_eq(back.log_index, 0x01020304);
    cr_assert_eq(back.vault_seq, 3);
    cr_assert_eq(u256_cmp(&back.amount, &o.amount), 0);
    cr_assert_eq(memcmp(back.asset, o.asset, sizeof o.asset), 0);
}

Test(obs, places_fields_at_the_documented_offsets)
{
    obs o = fx_obs(1, 1, 0x0102030405060708ull, 5);
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(enc[1], OBS_KIND_DEPOSIT);
    cr_assert_eq(enc[9], 1);                  /* chain id, big-endian, at 2..9 */
    cr_assert_eq(enc[106], 0x01);             /* vault_seq at 106 */
    cr_assert_eq(enc[113], 0x08);
    cr_assert_eq(enc[185], 5);                /* amount at 154..185 */
    for (int i = 186; i < OBS_BYTES; i++)     /* reserved */
        cr_assert_eq(enc[i], 0);
}

Test(obs, rejects_wrong_length_and_trailing_bytes)
{
    obs o = fx_obs(1, 1, 1, 1), back;
    uint8_t enc[OBS_BYTES + 1] = {0};
    rl_why why;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES - 1, &why), RL_ERR_DECODE);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES + 1, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "trailing") != NULL, "%s", why.text);
    cr_assert_eq(obs_decode(&back, enc, 0, NULL), RL_ERR_DECODE);
}

Test(obs, rejects_unknown_version_kind_and_nonzero_reserved_bytes)
{
    obs o = fx_obs(1, 1, 1, 1), back;
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    enc[0] = 2;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_ERR_VERSION);
    enc[0] = OBS_VERSION;
    enc[1] = 9;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_ERR_DECODE);
    enc[1] = OBS_KIND_DEPOSIT;
    enc[190] = 1;
    rl_why why;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "reserved") != NULL);
}

Test(obs, rejects_vault_sequence_zero)
{
    obs o = fx_obs(1, 1, 0, 1);
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);
}

Test(obs, event_id_depends_on_chain_tx_and_log_index_only)
{
    uint8_t tx[32] = {1}, a[32], b[32], c[32], d[32];
    obs_event_id(a, 1, tx, 0);
    obs_event_id(b, 1, tx, 0);
    obs_event_id(c, 2, tx, 0);
    obs_event_id(d, 1, tx, 1);
    cr_assert_eq(memcmp(a, b, 32), 0);
    cr_assert_neq(memcmp(a, c, 32), 0);
    cr_assert_neq(memcmp(a, d, 32), 0);
}

Test(obs, signature_covers_the_domain_separated_content_hash)
{
    fixture f;
    fx_init(&f, 3, 2);
    obs o = fx_obs(1, 1, 1, 10);
    signed_obs so = fx_sign(&f, &o, 2);
    uint8_t h[32];
    obs_content_hash(h, so.bytes);
    cr_assert(ed25519_verify(so.sig, h, 32, f.set.members[1].pub.ed25519));
    cr_assert_not(ed25519_verify(so.sig, so.bytes, OBS_BYTES, f.set.members[1].pub.ed25519));
    so.bytes[180] ^= 1;
    obs_content_hash(h, so.bytes);
    cr_assert_not(ed25519_verify(so.sig, h, 32, f.set.members[1].pub.ed25519));
    fx_fini(&f);
}
