/*
 * tx.c - EIP-1559 transactions over rlp.h (fields and hashes in tx.h).
 */
#include "bridges/evm/tx.h"

#include <stdlib.h>
#include <string.h>

#include "bridges/evm/rlp.h"

#define TX_UNSIGNED_FIELDS 9
#define TX_SIGNED_FIELDS 12
#define V_BASE 27 /* sig[64] = 27 + y parity */

/* The nine fields every form starts with. */
static void put_fields(rlp_buf *b, const evm_tx *tx)
{
    rlp_put_u64(b, tx->chain_id);
    rlp_put_u64(b, tx->nonce);
    rlp_put_u256(b, &tx->max_priority_fee_wei);
    rlp_put_u256(b, &tx->max_fee_wei);
    rlp_put_u64(b, tx->gas_limit);
    rlp_put_bytes(b, tx->to, tx->has_to ? EVM_ADDR_BYTES : 0);
    rlp_put_u256(b, &tx->value_wei);
    rlp_put_bytes(b, tx->data, tx->data_len);
    rlp_list_end(b, rlp_list_begin(b)); /* access list: [] */
}

/* 0x02 || rlp([fields..., signature...]), signature included when sig is not NULL. */
static rl_err envelope(const evm_tx *tx, const uint8_t *sig, uint8_t **out, size_t *len, rl_why *why)
{
    rlp_buf b;
    rlp_buf_init(&b);
    uint8_t type = TX_TYPE_EIP1559;
    rlp_put_raw(&b, &type, 1);
    size_t list = rlp_list_begin(&b);
    put_fields(&b, tx);
    if (sig != NULL) {
        u256 r = u256_from_be(sig), s = u256_from_be(sig + 32);
        rlp_put_u64(&b, (uint64_t)(sig[64] - V_BASE));
        rlp_put_u256(&b, &r);
        rlp_put_u256(&b, &s);
    }
    rlp_list_end(&b, list);
    return rlp_buf_take(&b, out, len, why);
}

rl_err tx_signing_hash(const evm_tx *tx, uint8_t out[HASH_BYTES], rl_why *why)
{
    uint8_t *pre;
    size_t len;
    rl_err err = envelope(tx, NULL, &pre, &len, why);
    if (err != RL_OK)
        return err;
    keccak256(out, pre, len);
    free(pre);
    return RL_OK;
}

rl_err tx_encode_signed(const evm_tx *tx, const uint8_t sig[EVM_SIG_BYTES], uint8_t **raw, size_t *len, rl_why *why)
{
    *raw = NULL;
    *len = 0;
    if (sig[64] != V_BASE && sig[64] != V_BASE + 1)
        return rl_fail(why, RL_ERR_ARG, "transaction: signature v is %u, not 27 or 28", sig[64]);
    return envelope(tx, sig, raw, len, why);
}

void tx_hash(uint8_t out[HASH_BYTES], const uint8_t *raw, size_t len)
{
    keccak256(out, raw, len);
}

rl_err tx_sign(const evm_tx *tx, const evm_key *key, uint8_t **raw, size_t *len, uint8_t hash[HASH_BYTES],
               rl_why *why)
{
    *raw = NULL;
    *len = 0;
    uint8_t digest[HASH_BYTES], sig[EVM_SIG_BYTES];
    rl_err err = tx_signing_hash(tx, digest, why);
    if (err != RL_OK)
        return err;
    if (evm_key_sign(key, sig, digest) != RL_OK)
        return rl_fail(why, RL_ERR_CRYPTO, "transaction: secp256k1 signing failed");
    err = tx_encode_signed(tx, sig, raw, len, why);
    if (err == RL_OK)
        tx_hash(hash, *raw, *len);
    return err;
}

static const char *const FIELD[TX_SIGNED_FIELDS] = {
    "chainId", "nonce", "maxPriorityFeePerGas", "maxFeePerGas", "gasLimit", "to",
    "value",   "data",  "accessList",           "yParity",      "r",        "s",
};

/* One 32-byte signature half from an integer item (big-endian, left-padded). */
static rl_err sig_half(const rlp_item *it, uint8_t out[32], const char *what, rl_why *why)
{
    u256 v;
    rl_err err = rlp_item_u256(it, &v, what, why);
    if (err == RL_OK)
        u256_to_be(out, &v);
    return err;
}

/* Field i of the list into tx / sig. */
static rl_err field(const rlp_item *it, size_t i, evm_tx *tx, uint8_t sig[EVM_SIG_BYTES], rl_why *why)
{
    const char *what = FIELD[i];
    uint64_t y;
    rl_err err;
    switch (i) {
    case 0: return rlp_item_u64(it, &tx->chain_id, what, why);
    case 1: return rlp_item_u64(it, &tx->nonce, what, why);
    case 2: return rlp_item_u256(it, &tx->max_priority_fee_wei, what, why);
    case 3: return rlp_item_u256(it, &tx->max_fee_wei, what, why);
    case 4: return rlp_item_u64(it, &tx->gas_limit, what, why);
    case 5:
        tx->has_to = !it->list && it->len != 0;
        return tx->has_to ? rlp_item_fixed(it, tx->to, EVM_ADDR_BYTES, what, why)
                          : (it->list ? rl_fail(why, RL_ERR_DECODE, "to: a list") : RL_OK);
    case 6: return rlp_item_u256(it, &tx->value_wei, what, why);
    case 7:
        if (it->list)
            return rl_fail(why, RL_ERR_DECODE, "data: a list");
        tx->data = it->p;
        tx->data_len = it->len;
        return RL_OK;
    case 8:
        if (!it->list)
            return rl_fail(why, RL_ERR_DECODE, "accessList: a string");
        if (it->len != 0)
            return rl_fail(why, RL_ERR_DECODE, "accessList: entries are not supported (the relayer sends none)");
        return RL_OK;
    case 9:
        err = rlp_item_u64(it, &y, what, why);
        if (err == RL_OK && y > 1)
            err = rl_fail(why, RL_ERR_DECODE, "yParity: %llu, not 0 or 1", (unsigned long long)y);
        if (err == RL_OK)
            sig[64] = (uint8_t)(V_BASE + y);
        return err;
    case 10: return sig_half(it, sig, what, why);
    default: return sig_half(it, sig + 32, what, why);
    }
}

rl_err tx_decode(const uint8_t *raw, size_t len, evm_tx *out, uint8_t sig[EVM_SIG_BYTES], rl_why *why)
{
    memset(out, 0, sizeof *out);
    memset(sig, 0, EVM_SIG_BYTES);
    if (len == 0)
        return rl_fail(why, RL_ERR_TRUNCATED, "transaction: empty");
    if (raw[0] != TX_TYPE_EIP1559)
        return rl_fail(why, RL_ERR_DECODE, "transaction: type 0x%02x, expected 0x02 (EIP-1559)", raw[0]);
    rlp_item list, it;
    rl_err err = rlp_decode(raw + 1, len - 1, &list, "transaction", why);
    if (err == RL_OK && !list.list)
        err = rl_fail(why, RL_ERR_DECODE, "transaction: a string, not a list");
    rlp_iter iter = rlp_iter_of(&list);
    for (size_t i = 0; err == RL_OK && i < TX_SIGNED_FIELDS; i++) {
        err = rlp_iter_next(&iter, &it, FIELD[i], why);
        if (err == RL_OK)
            err = field(&it, i, out, sig, why);
    }
    if (err == RL_OK && !rlp_iter_done(&iter))
        err = rl_fail(why, RL_ERR_DECODE, "transaction: more than %d fields", TX_SIGNED_FIELDS);
    if (err != RL_OK) {
        memset(out, 0, sizeof *out);
        memset(sig, 0, EVM_SIG_BYTES);
    }
    return err;
}

rl_err tx_sender(const uint8_t *raw, size_t len, uint8_t addr[EVM_ADDR_BYTES], rl_why *why)
{
    evm_tx tx;
    uint8_t sig[EVM_SIG_BYTES], digest[HASH_BYTES];
    rl_err err = tx_decode(raw, len, &tx, sig, why);
    if (err == RL_OK)
        err = tx_signing_hash(&tx, digest, why);
    if (err == RL_OK && evm_recover(addr, digest, sig) != RL_OK)
        err = rl_fail(why, RL_ERR_SIG, "transaction: the signature recovers no sender (or has a high s)");
    return err;
}
