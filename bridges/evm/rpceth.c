/*
 * rpceth.c - typed eth_* calls over rpc_call_decode (contract in rpceth.h).
 */
#include "bridges/evm/rpceth.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static rl_err dec_u64(json_t *r, void *out, rl_why *w) { return rpcjson_u64(r, out, "result", w); }
static rl_err dec_u256(json_t *r, void *out, rl_why *w) { return rpcjson_u256(r, out, "result", w); }
static rl_err dec_hash(json_t *r, void *out, rl_why *w) { return rpcjson_fixed(r, out, RPC_HASH_BYTES, "result", w); }

/* Builds params (a new array from json_pack: NULL means out of memory), calls, drops them. */
static rl_err call_with(rpc *c, const char *method, json_t *params, rpc_decode_fn decode, void *out, rl_why *why)
{
    if (params == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "%s: params", method);
    rl_err err = rpc_call_decode(c, method, params, decode, out, why);
    json_decref(params);
    return err;
}

rl_err rpc_eth_chain_id(rpc *c, uint64_t *chain_id, rl_why *why)
{
    return rpc_call_decode(c, "eth_chainId", NULL, dec_u64, chain_id, why);
}

rl_err rpc_eth_block_number(rpc *c, uint64_t *number, rl_why *why)
{
    return rpc_call_decode(c, "eth_blockNumber", NULL, dec_u64, number, why);
}

typedef struct want_block {
    rpc_blockid at;
    rpc_block *out;
} want_block;

static rl_err dec_block(json_t *r, void *out, rl_why *w)
{
    want_block *wb = out;
    rpc_block b;
    rl_err err = rpcjson_block(r, &b, w);
    if (err != RL_OK)
        return err;
    if (wb->at.tag == RPC_NUMBER && b.number != wb->at.number)
        return rl_fail(w, RL_ERR_DECODE, "asked for block %" PRIu64 ", got block %" PRIu64, wb->at.number, b.number);
    *wb->out = b;
    return RL_OK;
}

rl_err rpc_eth_get_block(rpc *c, rpc_blockid at, rpc_block *out, rl_why *why)
{
    want_block wb = {at, out};
    return call_with(c, "eth_getBlockByNumber", json_pack("[o,b]", rpcjson_from_blockid(at), 0), dec_block, &wb,
                     why);
}

typedef struct want_logs {
    const rpc_filter *f;
    rpc_logs **out;
} want_logs;

static bool topic_in(const uint8_t t[RPC_HASH_BYTES], const rpc_topic_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (memcmp(t, s->any[i], RPC_HASH_BYTES) == 0)
            return true;
    return false;
}

/* Whether a log is one the filter asked for: a node that answers others is not trusted. */
static rl_err log_matches(const rpc_filter *f, const rpc_log *l, size_t i, rl_why *w)
{
    if (f->block_hash != NULL && memcmp(l->block_hash, f->block_hash, RPC_HASH_BYTES) != 0)
        return rl_fail(w, RL_ERR_DECODE, "logs[%zu] is from another block than the one asked", i);
    if (f->block_hash == NULL && ((f->from.tag == RPC_NUMBER && l->block_number < f->from.number) ||
                                  (f->to.tag == RPC_NUMBER && l->block_number > f->to.number)))
        return rl_fail(w, RL_ERR_DECODE, "logs[%zu] is in block %" PRIu64 ", outside the range asked", i,
                       l->block_number);
    bool addr_ok = f->n_addresses == 0;
    for (size_t k = 0; k < f->n_addresses && !addr_ok; k++)
        addr_ok = memcmp(l->address, f->addresses[k], RPC_ADDR_BYTES) == 0;
    if (!addr_ok)
        return rl_fail(w, RL_ERR_DECODE, "logs[%zu] is from an address not asked for", i);
    for (size_t p = 0; p < f->n_topics; p++)
        if (f->topics[p].n > 0 && (p >= l->n_topics || !topic_in(l->topics[p], &f->topics[p])))
            return rl_fail(w, RL_ERR_DECODE, "logs[%zu] does not match topic %zu of the filter", i, p);
    return RL_OK;
}

static rl_err dec_logs(json_t *r, void *out, rl_why *w)
{
    want_logs *wl = out;
    rpc_logs *l = malloc(sizeof *l);
    if (l == NULL)
        return rl_fail(w, RL_ERR_NOMEM, "logs");
    rl_err err = rpcjson_logs(r, l, w);
    for (size_t i = 0; err == RL_OK && i < l->n; i++)
        err = log_matches(wl->f, &l->v[i], i, w);
    if (err != RL_OK) {
        rpc_logs_free(l);
        return err;
    }
    *wl->out = l;
    return RL_OK;
}

static json_t *filter_json(const rpc_filter *f)
{
    json_t *o = json_object(), *addrs = json_array(), *topics = json_array();
    bool ok = o && addrs && topics;
    for (size_t i = 0; ok && i < f->n_addresses; i++)
        ok = json_array_append_new(addrs, rpcjson_from_bytes(f->addresses[i], RPC_ADDR_BYTES)) == 0;
    for (size_t p = 0; ok && p < f->n_topics; p++) {
        /* null matches anything; one topic is itself; several are an array of alternatives */
        if (f->topics[p].n <= 1) {
            json_t *one = f->topics[p].n ? rpcjson_from_bytes(f->topics[p].any[0], RPC_HASH_BYTES) : json_null();
            ok = json_array_append_new(topics, one) == 0;
            continue;
        }
        json_t *slot = json_array();
        for (size_t k = 0; slot != NULL && k < f->topics[p].n; k++)
            if (json_array_append_new(slot, rpcjson_from_bytes(f->topics[p].any[k], RPC_HASH_BYTES)) != 0)
                ok = false;
        ok = ok && json_array_append_new(topics, slot) == 0;
    }
    if (ok && f->n_addresses > 0)
        ok = json_object_set(o, "address", f->n_addresses == 1 ? json_array_get(addrs, 0) : addrs) == 0;
    if (ok && f->n_topics > 0)
        ok = json_object_set(o, "topics", topics) == 0;
    if (ok && f->block_hash != NULL)
        ok = json_object_set_new(o, "blockHash", rpcjson_from_bytes(f->block_hash, RPC_HASH_BYTES)) == 0;
    else if (ok)
        ok = json_object_set_new(o, "fromBlock", rpcjson_from_blockid(f->from)) == 0 &&
             json_object_set_new(o, "toBlock", rpcjson_from_blockid(f->to)) == 0;
    json_decref(addrs);
    json_decref(topics);
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

rl_err rpc_eth_get_logs(rpc *c, const rpc_filter *f, rpc_logs **logs, rl_why *why)
{
    *logs = NULL;
    if (f->n_topics > RPC_MAX_TOPICS)
        return rl_fail(why, RL_ERR_ARG, "eth_getLogs: %zu topic positions, at most %d", f->n_topics, RPC_MAX_TOPICS);
    json_t *filter = filter_json(f);
    want_logs wl = {f, logs};
    return call_with(c, "eth_getLogs", filter ? json_pack("[o]", filter) : NULL, dec_logs, &wl, why);
}

void rpc_logs_free(rpc_logs *l)
{
    if (l == NULL)
        return;
    rpc_logs_fini(l);
    free(l);
}

typedef struct want_receipt {
    const uint8_t *tx_hash;
    rpc_receipt **out;
} want_receipt;

static rl_err dec_receipt(json_t *r, void *out, rl_why *w)
{
    want_receipt *wr = out;
    rpc_receipt *rc = malloc(sizeof *rc);
    if (rc == NULL)
        return rl_fail(w, RL_ERR_NOMEM, "receipt");
    rl_err err = rpcjson_receipt(r, rc, w);
    if (err == RL_OK && memcmp(rc->tx_hash, wr->tx_hash, RPC_HASH_BYTES) != 0)
        err = rl_fail(w, RL_ERR_DECODE, "receipt is for another transaction than the one asked");
    if (err != RL_OK) {
        rpc_receipt_free(rc);
        return err;
    }
    *wr->out = rc;
    return RL_OK;
}

rl_err rpc_eth_get_receipt(rpc *c, const uint8_t tx_hash[RPC_HASH_BYTES], rpc_receipt **out, rl_why *why)
{
    *out = NULL;
    want_receipt wr = {tx_hash, out};
    return call_with(c, "eth_getTransactionReceipt", json_pack("[o]", rpcjson_from_bytes(tx_hash, RPC_HASH_BYTES)),
                     dec_receipt, &wr, why);
}

void rpc_receipt_free(rpc_receipt *r)
{
    if (r == NULL)
        return;
    rpc_receipt_fini(r);
    free(r);
}

static json_t *callmsg_json(const rpc_callmsg *m)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = true;
    if (m->from != NULL)
        ok = ok && json_object_set_new(o, "from", rpcjson_from_bytes(m->from, RPC_ADDR_BYTES)) == 0;
    if (m->to != NULL)
        ok = ok && json_object_set_new(o, "to", rpcjson_from_bytes(m->to, RPC_ADDR_BYTES)) == 0;
    if (m->gas != 0)
        ok = ok && json_object_set_new(o, "gas", rpcjson_from_u64(m->gas)) == 0;
    if (m->value != NULL)
        ok = ok && json_object_set_new(o, "value", rpcjson_from_u256(m->value)) == 0;
    /* "data" rather than the newer "input": every node reads it. */
    ok = ok && json_object_set_new(o, "data", rpcjson_from_bytes(m->data, m->data_len)) == 0;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

typedef struct want_bytes {
    uint8_t **out;
    size_t *len;
} want_bytes;

static rl_err dec_bytes(json_t *r, void *out, rl_why *w)
{
    want_bytes *wb = out;
    return rpcjson_bytes(r, wb->out, wb->len, "result", w);
}

rl_err rpc_eth_call(rpc *c, const rpc_callmsg *m, rpc_blockid at, uint8_t **out, size_t *out_len, rl_why *why)
{
    *out = NULL;
    *out_len = 0;
    json_t *msg = callmsg_json(m);
    want_bytes wb = {out, out_len};
    return call_with(c, "eth_call", msg ? json_pack("[o,o]", msg, rpcjson_from_blockid(at)) : NULL, dec_bytes, &wb,
                     why);
}

rl_err rpc_eth_estimate_gas(rpc *c, const rpc_callmsg *m, uint64_t *gas, rl_why *why)
{
    json_t *msg = callmsg_json(m);
    return call_with(c, "eth_estimateGas", msg ? json_pack("[o]", msg) : NULL, dec_u64, gas, why);
}

rl_err rpc_eth_send_raw_tx(rpc *c, const uint8_t *raw, size_t len, uint8_t tx_hash[RPC_HASH_BYTES], rl_why *why)
{
    return call_with(c, "eth_sendRawTransaction", json_pack("[o]", rpcjson_from_bytes(raw, len)), dec_hash, tx_hash,
                     why);
}

rl_err rpc_eth_get_tx_count(rpc *c, const uint8_t address[RPC_ADDR_BYTES], rpc_blockid at, uint64_t *nonce,
                            rl_why *why)
{
    return call_with(c, "eth_getTransactionCount",
                     json_pack("[o,o]", rpcjson_from_bytes(address, RPC_ADDR_BYTES), rpcjson_from_blockid(at)), dec_u64,
                     nonce, why);
}

rl_err rpc_eth_max_priority_fee(rpc *c, u256 *wei, rl_why *why)
{
    return rpc_call_decode(c, "eth_maxPriorityFeePerGas", NULL, dec_u256, wei, why);
}

typedef struct want_fees {
    size_t n_percentiles;
    rpc_fee_history *out;
} want_fees;

static rl_err dec_fees(json_t *r, void *out, rl_why *w)
{
    want_fees *wf = out;
    return rpcjson_fee_history(r, wf->n_percentiles, wf->out, w);
}

rl_err rpc_eth_fee_history(rpc *c, uint64_t blocks, rpc_blockid newest, const uint8_t *percentiles, size_t n,
                           rpc_fee_history *out, rl_why *why)
{
    memset(out, 0, sizeof *out);
    if (blocks == 0)
        return rl_fail(why, RL_ERR_ARG, "eth_feeHistory: at least one block");
    json_t *ps = json_array();
    for (size_t i = 0; ps != NULL && i < n; i++) {
        if (percentiles[i] > 100 || (i > 0 && percentiles[i] < percentiles[i - 1])) {
            json_decref(ps);
            return rl_fail(why, RL_ERR_ARG, "eth_feeHistory: percentiles must ascend within 0..100");
        }
        if (json_array_append_new(ps, json_integer(percentiles[i])) != 0) {
            json_decref(ps);
            ps = NULL;
        }
    }
    want_fees wf = {n, out};
    return call_with(c, "eth_feeHistory",
                     ps ? json_pack("[o,o,o]", rpcjson_from_u64(blocks), rpcjson_from_blockid(newest), ps) : NULL,
                     dec_fees, &wf, why);
}
