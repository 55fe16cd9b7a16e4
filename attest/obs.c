/*
 * obs.c - canonical encoding of observations (layout table in obs.h).
 */
#include "attest/obs.h"

#include <string.h>

#include "attest/bytes.h"

#define OFF_VERSION 0
#define OFF_KIND 1
#define OFF_CHAIN 2
#define OFF_VAULT 10
#define OFF_BLOCK_NUMBER 30
#define OFF_BLOCK_HASH 38
#define OFF_TX_HASH 70
#define OFF_LOG_INDEX 102
#define OFF_VAULT_SEQ 106
#define OFF_ACCOUNT 114
#define OFF_ASSET 134
#define OFF_AMOUNT 154
#define OFF_RESERVED 186
_Static_assert(OFF_RESERVED + 12 == OBS_BYTES, "observation layout must fill OBS_BYTES");

static bool kind_known(uint8_t kind)
{
    return kind == OBS_KIND_DEPOSIT;
}

rl_err obs_encode(uint8_t out[OBS_BYTES], const obs *o, rl_why *why)
{
    if (!kind_known(o->kind))
        return rl_fail(why, RL_ERR_ARG, "observation: unknown kind %u", o->kind);
    if (o->vault_seq == 0)
        return rl_fail(why, RL_ERR_ARG, "observation: vault sequence numbers start at 1");
    memset(out, 0, OBS_BYTES);
    out[OFF_VERSION] = OBS_VERSION;
    out[OFF_KIND] = o->kind;
    be64_put(out + OFF_CHAIN, o->chain_id);
    memcpy(out + OFF_VAULT, o->vault, EVM_ADDR_BYTES);
    be64_put(out + OFF_BLOCK_NUMBER, o->block_number);
    memcpy(out + OFF_BLOCK_HASH, o->block_hash, HASH_BYTES);
    memcpy(out + OFF_TX_HASH, o->tx_hash, HASH_BYTES);
    be32_put(out + OFF_LOG_INDEX, o->log_index);
    be64_put(out + OFF_VAULT_SEQ, o->vault_seq);
    memcpy(out + OFF_ACCOUNT, o->account, EVM_ADDR_BYTES);
    memcpy(out + OFF_ASSET, o->asset, EVM_ADDR_BYTES);
    u256_to_be(out + OFF_AMOUNT, &o->amount);
    return RL_OK;
}

rl_err obs_decode(obs *o, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < OBS_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "observation: %zu bytes, expected %d", len, OBS_BYTES);
    if (len > OBS_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "observation: %zu trailing bytes", len - OBS_BYTES);
    if (in[OFF_VERSION] != OBS_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "observation: unknown version %u", in[OFF_VERSION]);
    if (!kind_known(in[OFF_KIND]))
        return rl_fail(why, RL_ERR_DECODE, "observation: unknown kind %u", in[OFF_KIND]);
    for (size_t i = OFF_RESERVED; i < OBS_BYTES; i++)
        if (in[i] != 0)
            return rl_fail(why, RL_ERR_DECODE, "observation: reserved byte %zu is not zero", i);
    o->kind = in[OFF_KIND];
    o->chain_id = be64_get(in + OFF_CHAIN);
    memcpy(o->vault, in + OFF_VAULT, EVM_ADDR_BYTES);
    o->block_number = be64_get(in + OFF_BLOCK_NUMBER);
    memcpy(o->block_hash, in + OFF_BLOCK_HASH, HASH_BYTES);
    memcpy(o->tx_hash, in + OFF_TX_HASH, HASH_BYTES);
    o->log_index = be32_get(in + OFF_LOG_INDEX);
    o->vault_seq = be64_get(in + OFF_VAULT_SEQ);
    if (o->vault_seq == 0)
        return rl_fail(why, RL_ERR_DECODE, "observation: vault sequence 0 (they start at 1)");
    memcpy(o->account, in + OFF_ACCOUNT, EVM_ADDR_BYTES);
    memcpy(o->asset, in + OFF_ASSET, EVM_ADDR_BYTES);
    o->amount = u256_from_be(in + OFF_AMOUNT);
    return RL_OK;
}

void obs_content_hash(uint8_t out[HASH_BYTES], const uint8_t enc[OBS_BYTES])
{
    hash_domain(out, HASH_DOMAIN_OBS, enc, OBS_BYTES);
}

void obs_event_id(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t tx_hash[HASH_BYTES],
                  uint32_t log_index)
{
    uint8_t buf[8 + HASH_BYTES + 4];
    be64_put(buf, chain_id);
    memcpy(buf + 8, tx_hash, HASH_BYTES);
    be32_put(buf + 8 + HASH_BYTES, log_index);
    hash_domain(out, HASH_DOMAIN_EVENT, buf, sizeof buf);
}

void obs_sign(signed_obs *so, const uint8_t enc[OBS_BYTES], uint16_t member, const node_key *k)
{
    uint8_t h[HASH_BYTES];
    memcpy(so->bytes, enc, OBS_BYTES);
    so->member = member;
    obs_content_hash(h, enc);
    node_key_sign(k, so->sig, h, sizeof h);
}
