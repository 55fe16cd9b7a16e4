/*
 * decision.c - the calculator's decisions (layout in decision.h).
 */
#include "attest/decision.h"

#include <string.h>

#include "attest/bytes.h"

static bool kind_known(uint8_t k) { return k >= DECISION_MARGIN_CALL && k <= DECISION_WITHDRAW_REFUSED; }

rl_err decision_encode_body(uint8_t out[DECISION_MAX_BYTES], size_t *len, const decision *d, rl_why *why)
{
    if (!kind_known(d->kind))
        return rl_fail(why, RL_ERR_ARG, "decision: unknown kind %u", d->kind);
    if (d->nseize > DECISION_MAX_SEIZE)
        return rl_fail(why, RL_ERR_ARG, "decision: %u seizes, at most %d", d->nseize, DECISION_MAX_SEIZE);
    for (unsigned i = 0; i < d->nseize; i++)
        if (d->seize[i].chain_id == 0 || u256_is_zero(&d->seize[i].amount))
            return rl_fail(why, RL_ERR_ARG, "decision: seize %u has a zero chain id or amount", i);
    if (d->reason > REASON_LAST || (d->reason != REASON_NONE) != (d->kind == DECISION_WITHDRAW_REFUSED))
        return rl_fail(why, RL_ERR_ARG, "decision: reason %u does not fit kind %u", d->reason, d->kind);
    out[0] = DECISION_VERSION;
    out[1] = d->kind;
    out[2] = d->reason;
    memcpy(out + 3, d->calculator, ED25519_PK_BYTES);
    be64_put(out + 35, d->basis);
    memcpy(out + 43, d->account, EVM_ADDR_BYTES);
    memcpy(out + 63, d->risk, HASH_BYTES);
    be128_put(out + 95, (unsigned __int128)d->equity_u);
    be128_put(out + 111, (unsigned __int128)d->im_u);
    be128_put(out + 127, (unsigned __int128)d->mm_u);
    memcpy(out + 143, d->request, HASH_BYTES);
    be128_put(out + 175, (unsigned __int128)d->bad_debt_u);
    out[191] = d->nseize;
    uint8_t *p = out + DECISION_FIXED_BYTES;
    for (unsigned i = 0; i < d->nseize; i++, p += DECISION_SEIZE_BYTES) {
        be64_put(p, d->seize[i].chain_id);
        memcpy(p + 8, d->seize[i].asset, EVM_ADDR_BYTES);
        u256_to_be(p + 28, &d->seize[i].amount);
    }
    *len = (size_t)(p - out);
    return RL_OK;
}

rl_err decision_sign(uint8_t out[DECISION_MAX_BYTES], size_t *len, const decision *d, const node_key *k, rl_why *why)
{
    if (memcmp(d->calculator, node_key_pub(k)->ed25519, ED25519_PK_BYTES) != 0)
        return rl_fail(why, RL_ERR_ARG, "decision: the calculator field is not the signing key");
    rl_err err = decision_encode_body(out, len, d, why);
    if (err != RL_OK)
        return err;
    uint8_t h[HASH_BYTES];
    hash_domain(h, HASH_DOMAIN_DECISION, out, *len);
    node_key_sign(k, out + *len, h, HASH_BYTES);
    *len += ED25519_SIG_BYTES;
    return RL_OK;
}

rl_err decision_decode(decision *d, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < DECISION_FIXED_BYTES + ED25519_SIG_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "decision: %zu bytes is too short", len);
    if (in[0] != DECISION_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "decision: unknown version %u", in[0]);
    memset(d, 0, sizeof *d);
    d->kind = in[1];
    d->reason = in[2];
    if (!kind_known(d->kind))
        return rl_fail(why, RL_ERR_DECODE, "decision: unknown kind %u", d->kind);
    if (d->reason > REASON_LAST || (d->reason != REASON_NONE) != (d->kind == DECISION_WITHDRAW_REFUSED))
        return rl_fail(why, RL_ERR_DECODE, "decision: reason %u does not fit kind %u", d->reason, d->kind);
    memcpy(d->calculator, in + 3, ED25519_PK_BYTES);
    d->basis = be64_get(in + 35);
    memcpy(d->account, in + 43, EVM_ADDR_BYTES);
    memcpy(d->risk, in + 63, HASH_BYTES);
    d->equity_u = (__int128)be128_get(in + 95);
    d->im_u = (__int128)be128_get(in + 111);
    d->mm_u = (__int128)be128_get(in + 127);
    memcpy(d->request, in + 143, HASH_BYTES);
    d->bad_debt_u = (__int128)be128_get(in + 175);
    if (d->bad_debt_u < 0 || (d->bad_debt_u != 0 && d->kind != DECISION_LIQUIDATE))
        return rl_fail(why, RL_ERR_DECODE, "decision: bad debt must be zero or above, and only a liquidation's");
    d->nseize = in[191];
    if (d->nseize > DECISION_MAX_SEIZE)
        return rl_fail(why, RL_ERR_DECODE, "decision: %u seizes, at most %d", d->nseize, DECISION_MAX_SEIZE);
    if (d->nseize != 0 && d->kind != DECISION_LIQUIDATE)
        return rl_fail(why, RL_ERR_DECODE, "decision: only a liquidation carries seizes");
    size_t want = DECISION_FIXED_BYTES + (size_t)d->nseize * DECISION_SEIZE_BYTES + ED25519_SIG_BYTES;
    if (len != want)
        return rl_fail(why, RL_ERR_DECODE, "decision: %zu bytes, expected %zu", len, want);
    const uint8_t *p = in + DECISION_FIXED_BYTES;
    for (unsigned i = 0; i < d->nseize; i++, p += DECISION_SEIZE_BYTES) {
        d->seize[i].chain_id = be64_get(p);
        memcpy(d->seize[i].asset, p + 8, EVM_ADDR_BYTES);
        d->seize[i].amount = u256_from_be(p + 28);
        if (d->seize[i].chain_id == 0 || u256_is_zero(&d->seize[i].amount))
            return rl_fail(why, RL_ERR_DECODE, "decision: seize %u has a zero chain id or amount", i);
    }
    return RL_OK;
}

void decision_sig_parts(const uint8_t *in, size_t len, uint8_t msg[HASH_BYTES], const uint8_t **sig)
{
    hash_domain(msg, HASH_DOMAIN_DECISION, in, len - ED25519_SIG_BYTES);
    *sig = in + len - ED25519_SIG_BYTES;
}

void decision_key(uint8_t out[HASH_BYTES], const decision *d)
{
    if (d->kind == DECISION_WITHDRAW_OK || d->kind == DECISION_WITHDRAW_REFUSED) {
        /* One answer per request, whatever it says. */
        hash_domain(out, HASH_DOMAIN_DECKEY, d->request, HASH_BYTES);
        return;
    }
    uint8_t b[8 + 1 + EVM_ADDR_BYTES + HASH_BYTES];
    be64_put(b, d->basis);
    b[8] = d->kind;
    memcpy(b + 9, d->account, EVM_ADDR_BYTES);
    memcpy(b + 9 + EVM_ADDR_BYTES, d->request, HASH_BYTES);
    hash_domain(out, HASH_DOMAIN_DECKEY, b, sizeof b);
}

const char *decision_kind_name(uint8_t kind)
{
    static const char *names[] = {"?", "margin_call", "liquidate", "healthy", "withdraw_approved", "withdraw_refused"};
    return kind_known(kind) ? names[kind] : "?";
}

const char *decision_reason_name(uint8_t reason)
{
    static const char *names[] = {"", "unsafe", "insufficient_funds", "stale_price", "unknown_asset", "liquidating",
                                  "venue_key", "owner_signature", "positions_stale", "owner_expiry"};
    return reason <= REASON_LAST ? names[reason] : "?";
}
