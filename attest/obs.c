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
#define OFF_NONCE 186    /* executed, expired */
#define OFF_INS_KIND 194 /* executed, expired */
#define OFF_ZERO 195     /* zero in every kind */
_Static_assert(OFF_RESERVED + 12 == OBS_BYTES, "observation layout must fill OBS_BYTES");
_Static_assert(OFF_ZERO + 3 == OBS_BYTES, "executed fields must leave 3 zero bytes");

/* Instruction kinds an Executed event carries (instruction.h, the vault's KIND_*). */
#define INS_RELEASE 1
#define INS_SEIZE 2

static bool zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

const char *obs_kind_name(uint8_t kind)
{
    switch (kind) {
    case OBS_KIND_DEPOSIT: return "deposit";
    case OBS_KIND_EXECUTED: return "executed";
    case OBS_KIND_ROTATED: return "rotated";
    case OBS_KIND_EXPIRED: return "expired";
    default: return "?";
    }
}

/* The domain of each field for o's kind; err is RL_ERR_ARG (encoding) or RL_ERR_DECODE. */
static bool has_nonce(uint8_t kind)
{
    return kind == OBS_KIND_EXECUTED || kind == OBS_KIND_EXPIRED;
}

static rl_err check(const obs *o, rl_err err, rl_why *why)
{
    if (strcmp(obs_kind_name(o->kind), "?") == 0)
        return rl_fail(why, err, "observation: unknown kind %u", o->kind);
    if (o->kind == OBS_KIND_EXPIRED) {
        /* not a vault event: no place in the vault's sequence, one event id per instruction */
        if (o->vault_seq != 0)
            return rl_fail(why, err, "expired observation: vault sequence %llu (must be 0: not a vault event)",
                           (unsigned long long)o->vault_seq);
        if (o->log_index != OBS_EXPIRED_LOG_INDEX)
            return rl_fail(why, err, "expired observation: log index %u (must be %u)", o->log_index,
                           OBS_EXPIRED_LOG_INDEX);
        u256 max = u256_from_u64(UINT64_MAX);
        if (u256_is_zero(&o->amount) || u256_cmp(&o->amount, &max) > 0)
            return rl_fail(why, err, "expired observation: block timestamp out of 1 .. 2^64-1");
    } else if (o->vault_seq == 0) {
        return rl_fail(why, err, "observation: vault sequence 0 (they start at 1)");
    }
    if (has_nonce(o->kind)) {
        if (o->nonce == 0)
            return rl_fail(why, err, "%s observation: instruction nonce 0 (nonces start at 1)", obs_kind_name(o->kind));
        if (o->ins_kind != INS_RELEASE && o->ins_kind != INS_SEIZE)
            return rl_fail(why, err, "%s observation: instruction kind %u (1 release, 2 seize)", obs_kind_name(o->kind),
                           o->ins_kind);
        return RL_OK;
    }
    if (o->nonce != 0 || o->ins_kind != 0)
        return rl_fail(why, err, "%s observation: a nonce or instruction kind (only executed and expired have them)",
                       obs_kind_name(o->kind));
    if (o->kind == OBS_KIND_ROTATED) {
        if (!zero(o->account, EVM_ADDR_BYTES) || !zero(o->asset, EVM_ADDR_BYTES))
            return rl_fail(why, err, "rotated observation: account and asset must be zero");
        if (u256_is_zero(&o->amount))
            return rl_fail(why, err, "rotated observation: signer set version 0");
    }
    return RL_OK;
}

rl_err obs_encode(uint8_t out[OBS_BYTES], const obs *o, rl_why *why)
{
    rl_err err = check(o, RL_ERR_ARG, why);
    if (err != RL_OK)
        return err;
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
    if (has_nonce(o->kind)) {
        be64_put(out + OFF_NONCE, o->nonce);
        out[OFF_INS_KIND] = o->ins_kind;
    }
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
    memset(o, 0, sizeof *o);
    o->kind = in[OFF_KIND];
    if (strcmp(obs_kind_name(o->kind), "?") == 0)
        return rl_fail(why, RL_ERR_DECODE, "observation: unknown kind %u", o->kind);
    size_t first_zero = has_nonce(o->kind) ? OFF_ZERO : OFF_RESERVED;
    for (size_t i = first_zero; i < OBS_BYTES; i++)
        if (in[i] != 0)
            return rl_fail(why, RL_ERR_DECODE, "%s observation: reserved byte %zu is not zero",
                           obs_kind_name(o->kind), i);
    o->chain_id = be64_get(in + OFF_CHAIN);
    memcpy(o->vault, in + OFF_VAULT, EVM_ADDR_BYTES);
    o->block_number = be64_get(in + OFF_BLOCK_NUMBER);
    memcpy(o->block_hash, in + OFF_BLOCK_HASH, HASH_BYTES);
    memcpy(o->tx_hash, in + OFF_TX_HASH, HASH_BYTES);
    o->log_index = be32_get(in + OFF_LOG_INDEX);
    o->vault_seq = be64_get(in + OFF_VAULT_SEQ);
    memcpy(o->account, in + OFF_ACCOUNT, EVM_ADDR_BYTES);
    memcpy(o->asset, in + OFF_ASSET, EVM_ADDR_BYTES);
    o->amount = u256_from_be(in + OFF_AMOUNT);
    if (has_nonce(o->kind)) {
        o->nonce = be64_get(in + OFF_NONCE);
        o->ins_kind = in[OFF_INS_KIND];
    }
    return check(o, RL_ERR_DECODE, why);
}

void obs_content_hash(uint8_t out[HASH_BYTES], const uint8_t enc[OBS_BYTES])
{
    hash_domain(out, HASH_DOMAIN_OBS, enc, OBS_BYTES);
}

uint64_t obs_expired_time_s(const obs *o)
{
    return o->amount.w[0]; /* check() keeps the upper limbs zero */
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
