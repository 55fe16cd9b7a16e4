/* vaultlog_test.c - vault events as the observations nodes sign (vault_event_obs). */
#include <criterion/criterion.h>
#include <string.h>

#include "bridges/evm/vaultlog.h"

static const uint8_t VAULT[RPC_ADDR_BYTES] = {0xaa, 0xbb, [19] = 0x01};

static vault_event event(vault_event_kind kind, uint64_t seq)
{
    vault_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.seq = seq;
    e.block_number = 77;
    memset(e.block_hash, 0x42, sizeof e.block_hash);
    memset(e.tx_hash, 0x43, sizeof e.tx_hash);
    e.log_index = 5;
    return e;
}

Test(vaultlog, executed_becomes_an_executed_observation_with_nonce_and_kind)
{
    vault_event e = event(VAULT_EXECUTED, 12);
    memset(e.account, 0x11, RPC_ADDR_BYTES);
    memset(e.asset, 0x22, RPC_ADDR_BYTES);
    memset(e.recipient, 0x33, RPC_ADDR_BYTES);
    e.amount = u256_from_u64(123456);
    e.exec_kind = VAULT_EXEC_SEIZE;
    e.nonce = u256_from_u64(9);
    obs o, back;
    uint8_t enc[OBS_BYTES];
    cr_assert_eq(vault_event_obs(&e, 31337, VAULT, &o, NULL), RL_OK);
    cr_assert_eq(o.kind, OBS_KIND_EXECUTED);
    cr_assert_eq(o.chain_id, 31337);
    cr_assert_eq(o.vault_seq, 12);
    cr_assert_eq(o.log_index, 5);
    cr_assert_eq(o.nonce, 9);
    cr_assert_eq(o.ins_kind, 2);
    cr_assert_eq(memcmp(o.account, e.account, RPC_ADDR_BYTES), 0);
    cr_assert_eq(memcmp(o.asset, e.asset, RPC_ADDR_BYTES), 0);
    cr_assert_eq(u256_cmp(&o.amount, &e.amount), 0);
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
    cr_assert_eq(obs_decode(&back, enc, OBS_BYTES, NULL), RL_OK);
    cr_assert_eq(back.nonce, 9);
}

Test(vaultlog, executed_nonce_outside_64_bits_or_zero_has_no_observation)
{
    vault_event e = event(VAULT_EXECUTED, 3);
    e.exec_kind = VAULT_EXEC_RELEASE;
    e.nonce = u256_from_u64(1);
    e.nonce.w[1] = 1; /* 2^64 + 1 */
    obs o;
    rl_why why = {{0}};
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "18446744073709551617") != NULL, "%s", why.text);
    e.nonce = u256_zero();
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "nonce 0") != NULL, "%s", why.text);
    e.nonce = u256_from_u64(UINT64_MAX);
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, NULL), RL_OK);
    cr_assert_eq(o.nonce, UINT64_MAX);
}

Test(vaultlog, rotation_becomes_a_rotated_observation_of_the_new_version)
{
    vault_event e = event(VAULT_SIGNERS_ROTATED, 4);
    e.version = u256_from_u64(2);
    e.threshold = u256_from_u64(2);
    e.n_signers = 3;
    obs o;
    uint8_t enc[OBS_BYTES], zero[RPC_ADDR_BYTES] = {0};
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, NULL), RL_OK);
    cr_assert_eq(o.kind, OBS_KIND_ROTATED);
    cr_assert_eq(u256_cmp(&o.amount, &e.version), 0);
    cr_assert_eq(memcmp(o.account, zero, RPC_ADDR_BYTES), 0);
    cr_assert_eq(memcmp(o.asset, zero, RPC_ADDR_BYTES), 0);
    cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
}

Test(vaultlog, deposit_observation_is_unchanged)
{
    vault_event e = event(VAULT_DEPOSITED, 1);
    memset(e.account, 0x11, RPC_ADDR_BYTES);
    e.amount = u256_from_u64(5);
    obs o;
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, NULL), RL_OK);
    cr_assert_eq(o.kind, OBS_KIND_DEPOSIT);
    cr_assert_eq(o.nonce, 0);
    cr_assert_eq(o.ins_kind, 0);
    e.log_index = (uint64_t)UINT32_MAX + 1;
    cr_assert_eq(vault_event_obs(&e, 1, VAULT, &o, NULL), RL_ERR_ARG);
}
