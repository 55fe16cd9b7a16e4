/*
 * vaultlog.c - CollateralVault's logs decoded and encoded (layout table in vaultlog.h).
 */
#include "bridges/evm/vaultlog.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/hash.h"

#define WORD 32
#define ADDR_PAD (WORD - RPC_ADDR_BYTES) /* zero bytes before an address in a word */
#define SIGNERS_OFFSET 0x60              /* SignersRotated: the array follows three head words */

static const char *const SIGNATURES[VAULT_EVENT_KINDS] = {
    "Deposited(uint64,address,address,uint256)",
    "Executed(uint64,uint8,address,address,uint256,address,uint256)",
    "SignersRotated(uint64,uint256,address[],uint256)",
};
static const unsigned TOPICS[VAULT_EVENT_KINDS] = {4, 4, 2};

const char *vault_event_name(vault_event_kind kind)
{
    switch (kind) {
    case VAULT_DEPOSITED: return "Deposited";
    case VAULT_EXECUTED: return "Executed";
    case VAULT_SIGNERS_ROTATED: return "SignersRotated";
    }
    return "?";
}

void vault_event_topics(uint8_t topics[VAULT_EVENT_KINDS][RPC_HASH_BYTES])
{
    for (size_t k = 0; k < VAULT_EVENT_KINDS; k++)
        keccak256(topics[k], SIGNATURES[k], strlen(SIGNATURES[k]));
}

static bool zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* A word holding a value of `bytes` bytes, right-aligned. */
static rl_err word_small(const uint8_t w[WORD], size_t bytes, const char *what, rl_why *why)
{
    if (!zero(w, WORD - bytes))
        return rl_fail(why, RL_ERR_DECODE, "%s: high bytes of a %zu-byte value are not zero", what, bytes);
    return RL_OK;
}

static rl_err word_addr(const uint8_t w[WORD], uint8_t out[RPC_ADDR_BYTES], const char *what, rl_why *why)
{
    rl_err err = word_small(w, RPC_ADDR_BYTES, what, why);
    if (err == RL_OK)
        memcpy(out, w + ADDR_PAD, RPC_ADDR_BYTES);
    return err;
}

static rl_err word_u64(const uint8_t w[WORD], uint64_t *out, const char *what, rl_why *why)
{
    rl_err err = word_small(w, 8, what, why);
    if (err == RL_OK)
        *out = be64_get(w + WORD - 8);
    return err;
}

static rl_err decode_rotated(const rpc_log *l, vault_event *e, rl_why *why)
{
    const uint8_t *d = l->data;
    if (l->data_len < 4 * WORD)
        return rl_fail(why, RL_ERR_DECODE, "SignersRotated: data of %zu bytes, expected at least %d", l->data_len,
                       4 * WORD);
    uint64_t offset, n;
    rl_err err = word_u64(d + WORD, &offset, "SignersRotated: signers offset", why);
    if (err == RL_OK && offset != SIGNERS_OFFSET)
        err = rl_fail(why, RL_ERR_DECODE, "SignersRotated: signers at offset %" PRIu64 ", expected %d", offset,
                      SIGNERS_OFFSET);
    if (err == RL_OK)
        err = word_u64(d + 3 * WORD, &n, "SignersRotated: signer count", why);
    if (err != RL_OK)
        return err;
    if (n == 0 || n > VAULT_MAX_SIGNERS)
        return rl_fail(why, RL_ERR_DECODE, "SignersRotated: %" PRIu64 " signers, expected 1..%d", n, VAULT_MAX_SIGNERS);
    if (l->data_len != (4 + n) * WORD)
        return rl_fail(why, RL_ERR_DECODE, "SignersRotated: data of %zu bytes, %" PRIu64 " signers take %" PRIu64,
                       l->data_len, n, (4 + n) * WORD);
    e->version = u256_from_be(d);
    e->threshold = u256_from_be(d + 2 * WORD);
    e->n_signers = (size_t)n;
    for (size_t i = 0; i < e->n_signers; i++) {
        char what[48];
        snprintf(what, sizeof what, "SignersRotated: signers[%zu]", i);
        if ((err = word_addr(d + (4 + i) * WORD, e->signers[i], what, why)) != RL_OK)
            return err;
        /* The contract installs only nonzero sets in strictly ascending order. */
        static const uint8_t none[RPC_ADDR_BYTES];
        const uint8_t *prev = i == 0 ? none : e->signers[i - 1];
        if (memcmp(e->signers[i], prev, RPC_ADDR_BYTES) <= 0)
            return rl_fail(why, RL_ERR_DECODE, "%s: zero or not above the signer before it", what);
    }
    u256 one = u256_from_u64(1), count = u256_from_u64(n);
    if (u256_cmp(&e->threshold, &one) < 0 || u256_cmp(&e->threshold, &count) > 0)
        return rl_fail(why, RL_ERR_DECODE, "SignersRotated: threshold outside 1..%" PRIu64, n);
    return RL_OK;
}

rl_err vault_decode_log(const rpc_log *l, const uint8_t vault[RPC_ADDR_BYTES], vault_event *out, rl_why *why)
{
    uint8_t topics[VAULT_EVENT_KINDS][RPC_HASH_BYTES];
    vault_event_topics(topics);
    size_t k = 0;
    while (k < VAULT_EVENT_KINDS && (l->n_topics == 0 || memcmp(l->topics[0], topics[k], RPC_HASH_BYTES) != 0))
        k++;
    if (k == VAULT_EVENT_KINDS)
        return rl_fail(why, RL_ERR_NOTFOUND, "log %" PRIu64 " of block %" PRIu64 ": not a vault event", l->log_index,
                       l->block_number);
    vault_event_kind kind = (vault_event_kind)(k + 1);
    const char *name = vault_event_name(kind);
    if (memcmp(l->address, vault, RPC_ADDR_BYTES) != 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: the log comes from another contract", name);
    if (l->removed)
        return rl_fail(why, RL_ERR_DECODE, "%s: the log is marked removed (reorged out)", name);
    if (l->n_topics != TOPICS[k])
        return rl_fail(why, RL_ERR_DECODE, "%s: %u topics, expected %u", name, l->n_topics, TOPICS[k]);

    vault_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.block_number = l->block_number;
    memcpy(e.block_hash, l->block_hash, RPC_HASH_BYTES);
    memcpy(e.tx_hash, l->tx_hash, RPC_HASH_BYTES);
    e.log_index = l->log_index;
    char what[48];
    snprintf(what, sizeof what, "%s: topics[1] (seq)", name);
    rl_err err = word_u64(l->topics[1], &e.seq, what, why);
    if (err == RL_OK && e.seq == 0)
        err = rl_fail(why, RL_ERR_DECODE, "%s: sequence number 0 (the vault numbers from 1)", name);
    if (err == RL_OK && kind != VAULT_SIGNERS_ROTATED) {
        snprintf(what, sizeof what, "%s: topics[2] (account)", name);
        err = word_addr(l->topics[2], e.account, what, why);
        snprintf(what, sizeof what, "%s: topics[3] (asset)", name);
        if (err == RL_OK)
            err = word_addr(l->topics[3], e.asset, what, why);
    }
    if (err != RL_OK)
        return err;

    const uint8_t *d = l->data;
    switch (kind) {
    case VAULT_DEPOSITED:
        if (l->data_len != WORD)
            return rl_fail(why, RL_ERR_DECODE, "Deposited: data of %zu bytes, expected %d", l->data_len, WORD);
        e.amount = u256_from_be(d);
        /* depositNative and deposit refuse both */
        if (u256_is_zero(&e.amount))
            return rl_fail(why, RL_ERR_DECODE, "Deposited: amount 0 (the vault refuses zero deposits)");
        if (zero(e.account, RPC_ADDR_BYTES))
            return rl_fail(why, RL_ERR_DECODE, "Deposited: the zero account (the vault refuses it)");
        break;
    case VAULT_EXECUTED:
        if (l->data_len != 4 * WORD)
            return rl_fail(why, RL_ERR_DECODE, "Executed: data of %zu bytes, expected %d", l->data_len, 4 * WORD);
        if ((err = word_small(d, 1, "Executed: kind", why)) != RL_OK)
            return err;
        e.exec_kind = d[WORD - 1];
        if (e.exec_kind != VAULT_EXEC_RELEASE && e.exec_kind != VAULT_EXEC_SEIZE)
            return rl_fail(why, RL_ERR_DECODE, "Executed: unknown instruction kind %u", e.exec_kind);
        e.amount = u256_from_be(d + WORD);
        if ((err = word_addr(d + 2 * WORD, e.recipient, "Executed: recipient", why)) != RL_OK)
            return err;
        e.nonce = u256_from_be(d + 3 * WORD);
        break;
    case VAULT_SIGNERS_ROTATED:
        if ((err = decode_rotated(l, &e, why)) != RL_OK)
            return err;
        break;
    }
    *out = e;
    return RL_OK;
}

bool vault_event_equal(const vault_event *a, const vault_event *b)
{
    bool same = a->kind == b->kind && a->seq == b->seq && a->block_number == b->block_number &&
                a->log_index == b->log_index && a->exec_kind == b->exec_kind && a->n_signers == b->n_signers &&
                memcmp(a->block_hash, b->block_hash, RPC_HASH_BYTES) == 0 &&
                memcmp(a->tx_hash, b->tx_hash, RPC_HASH_BYTES) == 0 &&
                memcmp(a->account, b->account, RPC_ADDR_BYTES) == 0 &&
                memcmp(a->asset, b->asset, RPC_ADDR_BYTES) == 0 &&
                memcmp(a->recipient, b->recipient, RPC_ADDR_BYTES) == 0 && u256_cmp(&a->amount, &b->amount) == 0 &&
                u256_cmp(&a->nonce, &b->nonce) == 0 && u256_cmp(&a->version, &b->version) == 0 &&
                u256_cmp(&a->threshold, &b->threshold) == 0;
    for (size_t i = 0; same && i < a->n_signers && i < VAULT_MAX_SIGNERS; i++)
        same = memcmp(a->signers[i], b->signers[i], RPC_ADDR_BYTES) == 0;
    return same;
}

static void put_addr_word(uint8_t w[WORD], const uint8_t a[RPC_ADDR_BYTES])
{
    memset(w, 0, ADDR_PAD);
    memcpy(w + ADDR_PAD, a, RPC_ADDR_BYTES);
}

static void put_u64_word(uint8_t w[WORD], uint64_t v)
{
    memset(w, 0, WORD - 8);
    be64_put(w + WORD - 8, v);
}

rl_err vault_encode_log(const vault_event *e, const uint8_t vault[RPC_ADDR_BYTES], rpc_log *out, rl_why *why)
{
    if (e->kind < VAULT_DEPOSITED || e->kind > VAULT_SIGNERS_ROTATED || e->seq == 0)
        return rl_fail(why, RL_ERR_ARG, "vault event: unknown kind %d or sequence 0", (int)e->kind);
    if (e->kind == VAULT_SIGNERS_ROTATED && (e->n_signers == 0 || e->n_signers > VAULT_MAX_SIGNERS))
        return rl_fail(why, RL_ERR_ARG, "SignersRotated: %zu signers", e->n_signers);
    size_t k = (size_t)e->kind - 1;
    uint8_t topics[VAULT_EVENT_KINDS][RPC_HASH_BYTES];
    vault_event_topics(topics);
    memset(out, 0, sizeof *out);
    memcpy(out->address, vault, RPC_ADDR_BYTES);
    out->n_topics = TOPICS[k];
    memcpy(out->topics[0], topics[k], RPC_HASH_BYTES);
    put_u64_word(out->topics[1], e->seq);
    if (e->kind != VAULT_SIGNERS_ROTATED) {
        put_addr_word(out->topics[2], e->account);
        put_addr_word(out->topics[3], e->asset);
    }
    size_t words = e->kind == VAULT_DEPOSITED ? 1 : e->kind == VAULT_EXECUTED ? 4 : 4 + e->n_signers;
    out->data_len = words * WORD;
    if ((out->data = calloc(words, WORD)) == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "vault event: %zu bytes of data", out->data_len);
    uint8_t *d = out->data;
    switch (e->kind) {
    case VAULT_DEPOSITED: u256_to_be(d, &e->amount); break;
    case VAULT_EXECUTED:
        d[WORD - 1] = e->exec_kind;
        u256_to_be(d + WORD, &e->amount);
        put_addr_word(d + 2 * WORD, e->recipient);
        u256_to_be(d + 3 * WORD, &e->nonce);
        break;
    case VAULT_SIGNERS_ROTATED:
        u256_to_be(d, &e->version);
        put_u64_word(d + WORD, SIGNERS_OFFSET);
        u256_to_be(d + 2 * WORD, &e->threshold);
        put_u64_word(d + 3 * WORD, e->n_signers);
        for (size_t i = 0; i < e->n_signers; i++)
            put_addr_word(d + (4 + i) * WORD, e->signers[i]);
        break;
    }
    out->block_number = e->block_number;
    memcpy(out->block_hash, e->block_hash, RPC_HASH_BYTES);
    memcpy(out->tx_hash, e->tx_hash, RPC_HASH_BYTES);
    out->log_index = e->log_index;
    return RL_OK;
}

rl_err vault_event_obs(const vault_event *e, uint64_t chain_id, const uint8_t vault[RPC_ADDR_BYTES], obs *out,
                       rl_why *why)
{
    if (e->log_index > UINT32_MAX)
        return rl_fail(why, RL_ERR_ARG, "vault event %" PRIu64 ": log index %" PRIu64 " does not fit 32 bits", e->seq,
                       e->log_index);
    memset(out, 0, sizeof *out);
    out->chain_id = chain_id;
    memcpy(out->vault, vault, RPC_ADDR_BYTES);
    out->block_number = e->block_number;
    memcpy(out->block_hash, e->block_hash, HASH_BYTES);
    memcpy(out->tx_hash, e->tx_hash, HASH_BYTES);
    out->log_index = (uint32_t)e->log_index;
    out->vault_seq = e->seq;
    switch (e->kind) {
    case VAULT_DEPOSITED:
    case VAULT_EXECUTED:
        out->kind = e->kind == VAULT_DEPOSITED ? OBS_KIND_DEPOSIT : OBS_KIND_EXECUTED;
        memcpy(out->account, e->account, RPC_ADDR_BYTES);
        memcpy(out->asset, e->asset, RPC_ADDR_BYTES);
        out->amount = e->amount;
        break;
    case VAULT_SIGNERS_ROTATED:
        out->kind = OBS_KIND_ROTATED;
        out->amount = e->version;
        break;
    default:
        return rl_fail(why, RL_ERR_ARG, "vault event %" PRIu64 ": unknown kind %d", e->seq, (int)e->kind);
    }
    if (e->kind == VAULT_EXECUTED) {
        /* The observation carries 64 bits of the vault's uint256 nonce; the hub never issues 0. */
        if (e->nonce.w[1] != 0 || e->nonce.w[2] != 0 || e->nonce.w[3] != 0 || e->nonce.w[0] == 0) {
            char dec[U256_DEC_MAX];
            return rl_fail(why, RL_ERR_ARG, "vault event %" PRIu64 ": Executed with nonce %s, outside 1..2^64-1",
                           e->seq, u256_to_dec(&e->nonce, dec));
        }
        out->nonce = e->nonce.w[0];
        out->ins_kind = e->exec_kind;
    }
    return RL_OK;
}
