/*
 * request.c - venue requests (layout in request.h).
 */
#include "attest/request.h"

#include <string.h>

#include "attest/bytes.h"

#define OFF_KIND 1
#define OFF_VENUE 2
#define OFF_NONCE 34
#define OFF_ACCOUNT 42
#define OFF_BODY 62

static bool addr_is_zero(const uint8_t a[EVM_ADDR_BYTES])
{
    static const uint8_t zero[EVM_ADDR_BYTES];
    return memcmp(a, zero, EVM_ADDR_BYTES) == 0;
}

/* The length of a request of this version and kind; 0 for a combination that does not exist. */
static size_t kind_len(uint8_t version, uint8_t kind)
{
    if (kind == REQUEST_POSITION)
        return version == REQUEST_VERSION ? REQUEST_POSITION_BYTES : 0;
    if (kind == REQUEST_WITHDRAW)
        return version == REQUEST_VERSION_OWNER ? REQUEST_WITHDRAW_BYTES
               : version == REQUEST_VERSION     ? REQUEST_WITHDRAW_V1_BYTES
                                                : 0;
    return 0;
}

static uint8_t version_of(const request *r)
{
    return r->version != 0 ? r->version : r->kind == REQUEST_WITHDRAW ? REQUEST_VERSION_OWNER : REQUEST_VERSION;
}

static rl_err encode(uint8_t *out, const request *r, rl_why *why)
{
    uint8_t version = version_of(r);
    size_t len = kind_len(version, r->kind);
    if (len == 0)
        return rl_fail(why, RL_ERR_ARG, "request: no kind %u in version %u", r->kind, version);
    memset(out, 0, len);
    out[0] = version;
    out[OFF_KIND] = r->kind;
    memcpy(out + OFF_VENUE, r->venue, ED25519_PK_BYTES);
    be64_put(out + OFF_NONCE, r->nonce);
    memcpy(out + OFF_ACCOUNT, r->account, EVM_ADDR_BYTES);
    uint8_t *b = out + OFF_BODY;
    if (r->kind == REQUEST_POSITION) {
        if (r->mode != REQUEST_MODE_CROSS && r->mode != REQUEST_MODE_PORTFOLIO)
            return rl_fail(why, RL_ERR_ARG, "position request: mode must be cross or portfolio");
        if (r->entry_e18 < 0 || r->entry_e18 > REQUEST_MAX_E18 || r->size_e18 > REQUEST_MAX_E18 ||
            r->size_e18 < -REQUEST_MAX_E18)
            return rl_fail(why, RL_ERR_ARG, "position request: size and entry price must be within 1e18 units and "
                                            "the entry price not negative");
        b[0] = r->mode;
        rl_err err = name16_put(b + 1, r->market, "position request market", why);
        if (err != RL_OK)
            return err;
        be128_put(b + 17, (unsigned __int128)r->size_e18);
        be128_put(b + 33, (unsigned __int128)r->entry_e18);
    } else {
        if (u256_is_zero(&r->amount))
            return rl_fail(why, RL_ERR_ARG, "withdraw request: amount must be above zero");
        if (addr_is_zero(r->recipient) || addr_is_zero(r->account) || r->chain_id == 0)
            return rl_fail(why, RL_ERR_ARG, "withdraw request: account, recipient and chain id must not be zero");
        be64_put(b, r->chain_id);
        memcpy(b + 8, r->asset, EVM_ADDR_BYTES);
        u256_to_be(b + 28, &r->amount);
        memcpy(b + 60, r->recipient, EVM_ADDR_BYTES);
        if (version == REQUEST_VERSION_OWNER) {
            be64_put(b + 80, r->owner_nonce);
            be64_put(b + 88, r->expiry_s);
            memcpy(b + 96, r->owner_sig, EVM_SIG_BYTES);
            be64_put(b + 161, r->positions_nonce);
        }
    }
    return RL_OK;
}

rl_err request_sign(uint8_t out[REQUEST_MAX_BYTES], size_t *len, const request *r, const node_key *k, rl_why *why)
{
    if (memcmp(r->venue, node_key_pub(k)->ed25519, ED25519_PK_BYTES) != 0)
        return rl_fail(why, RL_ERR_ARG, "request: the venue field is not the signing key");
    rl_err err = encode(out, r, why);
    if (err != RL_OK)
        return err;
    *len = kind_len(version_of(r), r->kind);
    uint8_t h[HASH_BYTES];
    hash_domain(h, HASH_DOMAIN_REQUEST, out, *len - ED25519_SIG_BYTES);
    node_key_sign(k, out + *len - ED25519_SIG_BYTES, h, HASH_BYTES);
    return RL_OK;
}

rl_err request_decode(request *r, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < OFF_BODY)
        return rl_fail(why, RL_ERR_DECODE, "request: %zu bytes is too short", len);
    if (in[0] != REQUEST_VERSION && in[0] != REQUEST_VERSION_OWNER)
        return rl_fail(why, RL_ERR_VERSION, "request: unknown version %u", in[0]);
    size_t want = kind_len(in[0], in[OFF_KIND]);
    if (want == 0)
        return rl_fail(why, RL_ERR_DECODE, "request: no kind %u in version %u", in[OFF_KIND], in[0]);
    if (len != want)
        return rl_fail(why, RL_ERR_DECODE, "request: %zu bytes, a version %u %s request has %zu", len, in[0],
                       in[OFF_KIND] == REQUEST_POSITION ? "position" : "withdraw", want);
    memset(r, 0, sizeof *r);
    r->version = in[0];
    r->kind = in[OFF_KIND];
    memcpy(r->venue, in + OFF_VENUE, ED25519_PK_BYTES);
    r->nonce = be64_get(in + OFF_NONCE);
    memcpy(r->account, in + OFF_ACCOUNT, EVM_ADDR_BYTES);
    const uint8_t *b = in + OFF_BODY;
    if (r->kind == REQUEST_POSITION) {
        r->mode = b[0];
        if (r->mode != REQUEST_MODE_CROSS && r->mode != REQUEST_MODE_PORTFOLIO)
            return rl_fail(why, RL_ERR_DECODE, "position request: unknown mode %u", r->mode);
        rl_err err = name16_get(r->market, b + 1, "position request market", why);
        if (err != RL_OK)
            return err;
        r->size_e18 = (__int128)be128_get(b + 17);
        r->entry_e18 = (__int128)be128_get(b + 33);
        if (r->entry_e18 < 0 || r->entry_e18 > REQUEST_MAX_E18)
            return rl_fail(why, RL_ERR_DECODE, "position request: entry price out of range (0 ..= 1e18 units)");
        if (r->size_e18 > REQUEST_MAX_E18 || r->size_e18 < -REQUEST_MAX_E18)
            return rl_fail(why, RL_ERR_DECODE, "position request: size out of range (|size| <= 1e18 units)");
    } else {
        r->chain_id = be64_get(b);
        memcpy(r->asset, b + 8, EVM_ADDR_BYTES);
        r->amount = u256_from_be(b + 28);
        memcpy(r->recipient, b + 60, EVM_ADDR_BYTES);
        if (r->version == REQUEST_VERSION_OWNER) {
            r->owner_nonce = be64_get(b + 80);
            r->expiry_s = be64_get(b + 88);
            memcpy(r->owner_sig, b + 96, EVM_SIG_BYTES);
            r->positions_nonce = be64_get(b + 161);
        }
        if (u256_is_zero(&r->amount))
            return rl_fail(why, RL_ERR_DECODE, "withdraw request: amount must be above zero");
        if (addr_is_zero(r->recipient) || addr_is_zero(r->account) || r->chain_id == 0)
            return rl_fail(why, RL_ERR_DECODE, "withdraw request: account, recipient and chain id must not be zero");
    }
    return RL_OK;
}

void request_sig_parts(const uint8_t *in, size_t len, uint8_t msg[HASH_BYTES], const uint8_t **sig)
{
    hash_domain(msg, HASH_DOMAIN_REQUEST, in, len - ED25519_SIG_BYTES);
    *sig = in + len - ED25519_SIG_BYTES;
}

void request_key(uint8_t out[HASH_BYTES], const uint8_t venue[ED25519_PK_BYTES], uint64_t nonce)
{
    uint8_t b[ED25519_PK_BYTES + 8];
    memcpy(b, venue, ED25519_PK_BYTES);
    be64_put(b + ED25519_PK_BYTES, nonce);
    hash_domain(out, HASH_DOMAIN_REQKEY, b, sizeof b);
}
