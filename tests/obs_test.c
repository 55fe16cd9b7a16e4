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

static obs executed_obs(uint64_t nonce, uint8_t ins_kind)
{
    obs o = fx_obs(10, 4, 9, 777);
    o.kind = OBS_KIND_EXECUTED;
    o.nonce = nonce;
    o.ins_kind = ins_kind;
    return o;
}

static obs rotated_obs(uint64_t version)
{
    obs o = fx_obs(10, 5, 10, version);
    o.kind = OBS_KIND_ROTATED;
    memset(o.account, 0, sizeof o.account);
    return o;
}

Test(obs, executed_puts_nonce_and_instruction_kind_in_the_reserved_bytes)
{
    obs o = executed_obs(0x0102030405060708ull, 2), back;
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(enc[1], OBS_KIND_EXECUTED);
    cr_assert_eq(enc[186], 0x01); /* nonce, big-endian, at 186..193 */
    cr_assert_eq(enc[193], 0x08);
    cr_assert_eq(enc[194], 2);    /* instruction kind */
    cr_assert_eq(enc[195] | enc[196] | enc[197], 0);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_OK);
    cr_assert_eq(back.kind, OBS_KIND_EXECUTED);
    cr_assert_eq(back.nonce, 0x0102030405060708ull);
    cr_assert_eq(back.ins_kind, 2);
    cr_assert_eq(u256_cmp(&back.amount, &o.amount), 0);
    cr_assert_eq(memcmp(back.account, o.account, sizeof o.account), 0);
}

Test(obs, executed_refuses_nonce_zero_unknown_instruction_kind_and_nonzero_tail)
{
    obs o = executed_obs(0, 1), back;
    uint8_t enc[OBS_BYTES];
    rl_why why = {{0}};
    cr_assert_eq(obs_encode(enc, &o, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "nonce 0") != NULL, "%s", why.text);
    o.nonce = 5;
    o.ins_kind = 3;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);
    o.ins_kind = 1;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);

    uint8_t bad[OBS_BYTES];
    memcpy(bad, enc, OBS_BYTES);
    memset(bad + 186, 0, 8); /* nonce 0 */
    cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "nonce 0") != NULL, "%s", why.text);
    memcpy(bad, enc, OBS_BYTES);
    bad[194] = 0;
    cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "instruction kind 0") != NULL, "%s", why.text);
    for (int i = 195; i < OBS_BYTES; i++) {
        memcpy(bad, enc, OBS_BYTES);
        bad[i] = 0x80;
        cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, &why), RL_ERR_DECODE, "byte %d", i);
        cr_assert(strstr(why.text, "reserved") != NULL, "%s", why.text);
    }
}

Test(obs, deposit_and_rotated_refuse_executed_fields)
{
    obs o = fx_obs(1, 1, 1, 1), back;
    uint8_t enc[OBS_BYTES];
    o.nonce = 1;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);
    o.nonce = 0;
    o.ins_kind = 1;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);

    /* An executed observation relabelled as a deposit or a rotation must not decode. */
    obs e = executed_obs(3, 1);
    cr_assert_eq(obs_encode(enc, &e, NULL), RL_OK);
    enc[1] = OBS_KIND_DEPOSIT;
    rl_why why = {{0}};
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "reserved byte 193") != NULL, "%s", why.text);
    enc[1] = OBS_KIND_ROTATED;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_ERR_DECODE);
}

Test(obs, rotated_carries_the_set_version_and_nothing_else)
{
    obs o = rotated_obs(2), back;
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(enc[1], OBS_KIND_ROTATED);
    cr_assert_eq(enc[185], 2);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_OK);
    cr_assert_eq(back.kind, OBS_KIND_ROTATED);
    cr_assert(u256_cmp(&back.amount, &o.amount) == 0);
    cr_assert_eq(back.nonce, 0);

    rl_why why = {{0}};
    uint8_t bad[OBS_BYTES];
    memcpy(bad, enc, OBS_BYTES);
    bad[114] = 1; /* an account */
    cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "account and asset") != NULL, "%s", why.text);
    memcpy(bad, enc, OBS_BYTES);
    bad[153] = 1; /* an asset */
    cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, NULL), RL_ERR_DECODE);
    memcpy(bad, enc, OBS_BYTES);
    bad[185] = 0; /* version 0 */
    cr_assert_eq(obs_decode(&back, bad, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "version 0") != NULL, "%s", why.text);
    o = rotated_obs(0);
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);
}

Test(obs, unknown_kinds_around_the_known_ones_are_refused)
{
    obs o = fx_obs(1, 1, 1, 1), back;
    uint8_t enc[OBS_BYTES];
    rl_why why = {{0}};
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    enc[1] = 0;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "unknown kind 0") != NULL, "%s", why.text);
    enc[1] = 5;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "unknown kind 5") != NULL, "%s", why.text);
    o.kind = 5;
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_ERR_ARG);
    /* kind 4 (expired) is known: a deposit's bytes relabelled break its rules, not the kind's */
    enc[1] = 4;
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "expired observation") != NULL, "%s", why.text);
}
