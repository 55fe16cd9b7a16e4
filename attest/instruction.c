/*
 * instruction.c - instructions and their plans (layouts in instruction.h).
 */
#include "attest/instruction.h"

#include <stdio.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/hash.h"

static const uint8_t ZERO_ADDR[EVM_ADDR_BYTES];

const char *instruction_kind_name(uint8_t kind)
{
    return kind == INSTRUCTION_RELEASE ? "release" : kind == INSTRUCTION_SEIZE ? "seize" : "unknown";
}

static rl_err check_fields(const instruction *in, rl_err bad, rl_why *why)
{
    if (in->kind != INSTRUCTION_RELEASE && in->kind != INSTRUCTION_SEIZE)
        return rl_fail(why, bad, "instruction: unknown kind %u", in->kind);
    if (in->kind == INSTRUCTION_RELEASE && in->index != 0)
        return rl_fail(why, bad, "instruction: a release carries index 0, not %u", in->index);
    if (in->decision == 0 || in->chain_id == 0 || in->nonce == 0)
        return rl_fail(why, bad, "instruction: decision, chain id and nonce must be above zero");
    if (u256_is_zero(&in->amount))
        return rl_fail(why, bad, "instruction: amount must be above zero");
    if (memcmp(in->vault, ZERO_ADDR, EVM_ADDR_BYTES) == 0 || memcmp(in->recipient, ZERO_ADDR, EVM_ADDR_BYTES) == 0 ||
        memcmp(in->account, ZERO_ADDR, EVM_ADDR_BYTES) == 0)
        return rl_fail(why, bad, "instruction: vault, account and recipient must not be the zero address");
    return RL_OK;
}

rl_err instruction_encode(uint8_t out[INSTRUCTION_BYTES], const instruction *in, rl_why *why)
{
    rl_err err = check_fields(in, RL_ERR_ARG, why);
    if (err != RL_OK)
        return err;
    out[0] = INSTRUCTION_VERSION;
    out[1] = in->kind;
    be64_put(out + 2, in->decision);
    out[10] = in->index;
    out[11] = in->attempt;
    be64_put(out + 12, in->chain_id);
    memcpy(out + 20, in->vault, EVM_ADDR_BYTES);
    memcpy(out + 40, in->account, EVM_ADDR_BYTES);
    memcpy(out + 60, in->asset, EVM_ADDR_BYTES);
    u256_to_be(out + 80, &in->amount);
    memcpy(out + 112, in->recipient, EVM_ADDR_BYTES);
    be64_put(out + 132, in->nonce);
    be64_put(out + 140, in->deadline_s);
    return RL_OK;
}

rl_err instruction_decode(instruction *in, const uint8_t *enc, size_t len, rl_why *why)
{
    if (len != INSTRUCTION_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "instruction: %zu bytes, expected %d", len, INSTRUCTION_BYTES);
    if (enc[0] != INSTRUCTION_VERSION)
        return rl_fail(why, RL_ERR_DECODE, "instruction: unknown version %u", enc[0]);
    in->kind = enc[1];
    in->decision = be64_get(enc + 2);
    in->index = enc[10];
    in->attempt = enc[11];
    in->chain_id = be64_get(enc + 12);
    memcpy(in->vault, enc + 20, EVM_ADDR_BYTES);
    memcpy(in->account, enc + 40, EVM_ADDR_BYTES);
    memcpy(in->asset, enc + 60, EVM_ADDR_BYTES);
    in->amount = u256_from_be(enc + 80);
    memcpy(in->recipient, enc + 112, EVM_ADDR_BYTES);
    in->nonce = be64_get(enc + 132);
    in->deadline_s = be64_get(enc + 140);
    return check_fields(in, RL_ERR_DECODE, why);
}

void instruction_id(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES], uint64_t nonce)
{
    uint8_t b[8 + EVM_ADDR_BYTES + 8];
    be64_put(b, chain_id);
    memcpy(b + 8, vault, EVM_ADDR_BYTES);
    be64_put(b + 8 + EVM_ADDR_BYTES, nonce);
    hash_domain(out, HASH_DOMAIN_INSID, b, sizeof b);
}

void instruction_expiry_key(uint8_t out[HASH_BYTES], const uint8_t id[HASH_BYTES])
{
    hash_domain(out, HASH_DOMAIN_EXPKEY, id, HASH_BYTES);
}

rl_err instruction_expiry_check(const instruction *in, uint64_t in_seq, const obs *o, rl_why *why)
{
    char name[INSTRUCTION_NAME_MAX];
    instruction_nonce_name(name, o->chain_id, o->vault, o->nonce);
    if (o->kind != OBS_KIND_EXPIRED)
        return rl_fail(why, RL_ERR_ARG, "expiry of %s: a %s observation", name, obs_kind_name(o->kind));
    if (in->chain_id != o->chain_id || memcmp(in->vault, o->vault, EVM_ADDR_BYTES) != 0 || in->nonce != o->nonce)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: instruction record %llu has another nonce", name,
                       (unsigned long long)in_seq);
    if (in->kind != o->ins_kind || memcmp(in->account, o->account, EVM_ADDR_BYTES) != 0 ||
        memcmp(in->asset, o->asset, EVM_ADDR_BYTES) != 0)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: kind, account or asset differ from instruction record %llu",
                       name, (unsigned long long)in_seq);
    uint64_t t = obs_expired_time_s(o);
    if (t <= in->deadline_s)
        return rl_fail(why, RL_ERR_STATE,
                       "expiry of %s: chain time %llu is not after the deadline %llu of instruction record %llu", name,
                       (unsigned long long)t, (unsigned long long)in->deadline_s, (unsigned long long)in_seq);
    return RL_OK;
}

void instruction_expired_obs(obs *o, const instruction *in, uint64_t block_number,
                             const uint8_t block_hash[HASH_BYTES], uint64_t time_s)
{
    memset(o, 0, sizeof *o);
    o->kind = OBS_KIND_EXPIRED;
    o->chain_id = in->chain_id;
    memcpy(o->vault, in->vault, EVM_ADDR_BYTES);
    o->block_number = block_number;
    memcpy(o->block_hash, block_hash, HASH_BYTES);
    instruction_id(o->tx_hash, in->chain_id, in->vault, in->nonce);
    o->log_index = OBS_EXPIRED_LOG_INDEX;
    memcpy(o->account, in->account, EVM_ADDR_BYTES);
    memcpy(o->asset, in->asset, EVM_ADDR_BYTES);
    o->amount = u256_from_u64(time_s);
    o->nonce = in->nonce;
    o->ins_kind = in->kind;
}

char *instruction_nonce_name(char buf[INSTRUCTION_NAME_MAX], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                             uint64_t nonce)
{
    char hex[43];
    snprintf(buf, INSTRUCTION_NAME_MAX, "nonce %llu of vault %s on chain %llu", (unsigned long long)nonce,
             evm_addr_to_hex(vault, hex), (unsigned long long)chain_id);
    return buf;
}

void instruction_to_vault(vault_instruction *out, const instruction *in)
{
    memset(out, 0, sizeof *out);
    out->kind = in->kind; /* INSTRUCTION_RELEASE / _SEIZE are the vault's KIND_RELEASE / _SEIZE */
    memcpy(out->account, in->account, EVM_ADDR_BYTES);
    memcpy(out->asset, in->asset, EVM_ADDR_BYTES);
    out->amount = in->amount;
    memcpy(out->recipient, in->recipient, EVM_ADDR_BYTES);
    out->nonce = u256_from_u64(in->nonce);
    out->deadline = u256_from_u64(in->deadline_s);
}

void instruction_digest(uint8_t out[HASH_BYTES], const instruction *in)
{
    vault_instruction v;
    uint8_t domain[HASH_BYTES];
    instruction_to_vault(&v, in);
    eip712_vault_domain(domain, in->chain_id, in->vault);
    eip712_instruction_digest(out, domain, &v);
}

rl_err instruction_plans(const decision *d, uint64_t decision_seq, const request *q, instruction_plan *out, size_t *n,
                         rl_why *why)
{
    *n = 0;
    if (d->kind == DECISION_WITHDRAW_OK) {
        uint8_t key[HASH_BYTES];
        if (q != NULL)
            request_key(key, q->venue, q->nonce);
        if (q == NULL || q->kind != REQUEST_WITHDRAW || memcmp(key, d->request, HASH_BYTES) != 0 ||
            memcmp(q->account, d->account, EVM_ADDR_BYTES) != 0)
            return rl_fail(why, RL_ERR_STATE, "approved withdrawal at record %llu without its request",
                           (unsigned long long)decision_seq);
        out[0] = (instruction_plan){.kind = INSTRUCTION_RELEASE, .decision = decision_seq, .chain_id = q->chain_id,
                                    .amount = q->amount, .expiry_s = q->expiry_s};
        memcpy(out[0].account, d->account, EVM_ADDR_BYTES);
        memcpy(out[0].asset, q->asset, EVM_ADDR_BYTES);
        memcpy(out[0].recipient, q->recipient, EVM_ADDR_BYTES);
        *n = 1;
    } else if (d->kind == DECISION_LIQUIDATE) {
        for (uint8_t i = 0; i < d->nseize; i++) {
            out[i] = (instruction_plan){.kind = INSTRUCTION_SEIZE, .decision = decision_seq, .index = i,
                                        .chain_id = d->seize[i].chain_id, .amount = d->seize[i].amount};
            memcpy(out[i].account, d->account, EVM_ADDR_BYTES);
            memcpy(out[i].asset, d->seize[i].asset, EVM_ADDR_BYTES);
        }
        *n = d->nseize;
    }
    return RL_OK;
}

void instruction_plan_key(uint8_t out[INSTRUCTION_PLAN_KEY_BYTES], uint64_t decision_seq, uint8_t index, uint8_t attempt)
{
    be64_put(out, decision_seq);
    out[8] = index;
    out[9] = attempt;
}

void instruction_plan_encode(uint8_t out[INSTRUCTION_PLAN_BYTES], const instruction_plan *p)
{
    out[0] = p->kind;
    be64_put(out + 1, p->chain_id);
    memcpy(out + 9, p->account, EVM_ADDR_BYTES);
    memcpy(out + 29, p->asset, EVM_ADDR_BYTES);
    u256_to_be(out + 49, &p->amount);
    memcpy(out + 81, p->recipient, EVM_ADDR_BYTES);
    be64_put(out + 101, p->expiry_s);
}

rl_err instruction_plan_decode(instruction_plan *p, const uint8_t *key, size_t klen, const uint8_t *val, size_t vlen,
                               rl_why *why)
{
    if (klen != INSTRUCTION_PLAN_KEY_BYTES || vlen != INSTRUCTION_PLAN_BYTES ||
        (val[0] != INSTRUCTION_RELEASE && val[0] != INSTRUCTION_SEIZE))
        return rl_fail(why, RL_ERR_DECODE, "instruction plan: %zu | %zu bytes, not a plan", klen, vlen);
    p->decision = be64_get(key);
    p->index = key[8];
    p->kind = val[0];
    p->chain_id = be64_get(val + 1);
    memcpy(p->account, val + 9, EVM_ADDR_BYTES);
    memcpy(p->asset, val + 29, EVM_ADDR_BYTES);
    p->amount = u256_from_be(val + 49);
    memcpy(p->recipient, val + 81, EVM_ADDR_BYTES);
    p->expiry_s = be64_get(val + 101);
    return RL_OK;
}

rl_err instruction_check(const instruction *in, const instruction_plan *p, uint64_t last_nonce, uint64_t time_ms,
                         rl_why *why)
{
    const char *field = in->decision != p->decision || in->index != p->index ? "decision or index"
                        : in->kind != p->kind                                 ? "kind"
                        : in->chain_id != p->chain_id                         ? "chain"
                        : memcmp(in->account, p->account, EVM_ADDR_BYTES)    ? "account"
                        : memcmp(in->asset, p->asset, EVM_ADDR_BYTES)        ? "asset"
                        : u256_cmp(&in->amount, &p->amount) != 0              ? "amount"
                        : p->kind == INSTRUCTION_RELEASE && memcmp(in->recipient, p->recipient, EVM_ADDR_BYTES)
                            ? "recipient"
                            : NULL;
    if (field != NULL)
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u: the %s differs from the decision's",
                       instruction_kind_name(in->kind), (unsigned long long)in->decision, in->index, field);
    if (in->nonce <= last_nonce)
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u: nonce %llu is not above the vault's last, %llu",
                       instruction_kind_name(in->kind), (unsigned long long)in->decision, in->index,
                       (unsigned long long)in->nonce, (unsigned long long)last_nonce);
    if (in->deadline_s <= time_ms / 1000)
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u: deadline %llu is not after the record's time %llu",
                       instruction_kind_name(in->kind), (unsigned long long)in->decision, in->index,
                       (unsigned long long)in->deadline_s, (unsigned long long)(time_ms / 1000));
    if (p->kind == INSTRUCTION_RELEASE && in->deadline_s > p->expiry_s) /* I1 */
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u: deadline %llu is past the owner's expiry %llu",
                       instruction_kind_name(in->kind), (unsigned long long)in->decision, in->index,
                       (unsigned long long)in->deadline_s, (unsigned long long)p->expiry_s);
    return RL_OK;
}
