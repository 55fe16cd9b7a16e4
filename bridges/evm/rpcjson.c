/*
 * rpcjson.c - strict decoders for Ethereum JSON-RPC answers (formats in rpcjson.h).
 *
 * Messages quote at most a short, sanitised prefix of a bad value: answers come from outside and
 * end up in logs.
 */
#include "bridges/evm/rpcjson.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How much of a bad value a message quotes. */
#define SHOW_MAX 24
/* gasUsedRatio's integer scale: parts per million. */
#define PPM 1000000.0

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A printable, bounded copy of s for a message: "0x01", "0xabc…". */
static const char *show(char buf[SHOW_MAX + 8], const char *s, size_t len)
{
    size_t n = len < SHOW_MAX ? len : SHOW_MAX, o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++)
        buf[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (n < len) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Checks the "0x" prefix and that every digit is hex; *digits / *nd are what follows "0x". */
static rl_err hex_body(const char *s, size_t len, const char **digits, size_t *nd, const char *what, rl_why *why)
{
    char b[SHOW_MAX + 8];
    if (len < 2 || s[0] != '0' || s[1] != 'x')
        return rl_fail(why, RL_ERR_DECODE, "%s: %s does not start with 0x", what, show(b, s, len));
    for (size_t i = 2; i < len; i++)
        if (hexval(s[i]) < 0)
            return rl_fail(why, RL_ERR_DECODE, "%s: %s has a non-hex character at %zu", what, show(b, s, len), i);
    *digits = s + 2;
    *nd = len - 2;
    return RL_OK;
}

/* A quantity's digits: at least one, no leading zero unless the value is "0x0". */
static rl_err quantity_body(const char *s, size_t len, const char **digits, size_t *nd, const char *what,
                            rl_why *why)
{
    rl_err err = hex_body(s, len, digits, nd, what, why);
    if (err != RL_OK)
        return err;
    char b[SHOW_MAX + 8];
    if (*nd == 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: \"0x\" is not a quantity (zero is \"0x0\")", what);
    if (*nd > 1 && (*digits)[0] == '0')
        return rl_fail(why, RL_ERR_DECODE, "%s: %s has a leading zero", what, show(b, s, len));
    return RL_OK;
}

/* A quantity of at most `bits` bits (64 or 256) into *out. */
static rl_err quantity(const char *s, size_t len, unsigned bits, u256 *out, const char *what, rl_why *why)
{
    const char *d;
    size_t nd;
    rl_err err = quantity_body(s, len, &d, &nd, what, why);
    if (err != RL_OK)
        return err;
    char b[SHOW_MAX + 8];
    if (nd > bits / 4) /* no leading zeros: more digits is more bits */
        return rl_fail(why, RL_ERR_OVERFLOW, "%s: %s does not fit %u bits", what, show(b, s, len), bits);
    u256 v = u256_zero();
    for (size_t i = 0; i < nd; i++) { /* i-th digit from the least significant end */
        uint64_t digit = (uint64_t)hexval(d[nd - 1 - i]);
        v.w[i / 16] |= digit << (4 * (i % 16));
    }
    *out = v;
    return RL_OK;
}

rl_err rpcjson_parse_u64(const char *s, size_t len, uint64_t *out, const char *what, rl_why *why)
{
    u256 v;
    rl_err err = quantity(s, len, 64, &v, what, why);
    if (err == RL_OK)
        *out = v.w[0];
    return err;
}

rl_err rpcjson_parse_u256(const char *s, size_t len, u256 *out, const char *what, rl_why *why)
{
    return quantity(s, len, 256, out, what, why);
}

rl_err rpcjson_parse_fixed(const char *s, size_t len, uint8_t *out, size_t n, const char *what, rl_why *why)
{
    const char *d;
    size_t nd;
    rl_err err = hex_body(s, len, &d, &nd, what, why);
    if (err != RL_OK)
        return err;
    if (nd != 2 * n)
        return rl_fail(why, RL_ERR_DECODE, "%s: %zu hex digits, expected %zu (%zu bytes)", what, nd, 2 * n, n);
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(hexval(d[2 * i]) << 4 | hexval(d[2 * i + 1]));
    return RL_OK;
}

rl_err rpcjson_parse_bytes(const char *s, size_t len, uint8_t **out, size_t *out_len, const char *what,
                           rl_why *why)
{
    const char *d;
    size_t nd;
    rl_err err = hex_body(s, len, &d, &nd, what, why);
    if (err != RL_OK)
        return err;
    if (nd % 2 != 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: odd number of hex digits (%zu)", what, nd);
    uint8_t *b = malloc(nd / 2 + 1); /* +1: empty data is still a valid, non-NULL buffer */
    if (b == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "%s: %zu bytes", what, nd / 2);
    for (size_t i = 0; i < nd / 2; i++)
        b[i] = (uint8_t)(hexval(d[2 * i]) << 4 | hexval(d[2 * i + 1]));
    *out = b;
    *out_len = nd / 2;
    return RL_OK;
}

static rl_err need_string(const json_t *v, const char *what, rl_why *why)
{
    if (v == NULL)
        return rl_fail(why, RL_ERR_DECODE, "%s: missing", what);
    if (!json_is_string(v))
        return rl_fail(why, RL_ERR_DECODE, "%s: not a string", what);
    return RL_OK;
}

rl_err rpcjson_u64(const json_t *v, uint64_t *out, const char *what, rl_why *why)
{
    rl_err err = need_string(v, what, why);
    return err != RL_OK ? err : rpcjson_parse_u64(json_string_value(v), json_string_length(v), out, what, why);
}

rl_err rpcjson_u256(const json_t *v, u256 *out, const char *what, rl_why *why)
{
    rl_err err = need_string(v, what, why);
    return err != RL_OK ? err : rpcjson_parse_u256(json_string_value(v), json_string_length(v), out, what, why);
}

rl_err rpcjson_fixed(const json_t *v, uint8_t *out, size_t n, const char *what, rl_why *why)
{
    rl_err err = need_string(v, what, why);
    return err != RL_OK ? err : rpcjson_parse_fixed(json_string_value(v), json_string_length(v), out, n, what, why);
}

rl_err rpcjson_bytes(const json_t *v, uint8_t **out, size_t *out_len, const char *what, rl_why *why)
{
    rl_err err = need_string(v, what, why);
    return err != RL_OK ? err
                        : rpcjson_parse_bytes(json_string_value(v), json_string_length(v), out, out_len, what, why);
}

json_t *rpcjson_from_u64(uint64_t v)
{
    char buf[2 + 16 + 1];
    snprintf(buf, sizeof buf, "0x%" PRIx64, v);
    return json_string(buf);
}

json_t *rpcjson_from_u256(const u256 *v)
{
    char buf[2 + 64 + 1];
    int top = 3;
    while (top > 0 && v->w[top] == 0)
        top--;
    int o = snprintf(buf, sizeof buf, "0x%" PRIx64, v->w[top]);
    for (int i = top - 1; i >= 0; i--)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%016" PRIx64, v->w[i]);
    return json_string(buf);
}

json_t *rpcjson_from_bytes(const uint8_t *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    char *s = malloc(2 * n + 3);
    if (s == NULL)
        return NULL;
    s[0] = '0';
    s[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        s[2 + 2 * i] = digits[b[i] >> 4];
        s[3 + 2 * i] = digits[b[i] & 15];
    }
    s[2 * n + 2] = '\0';
    json_t *j = json_string(s);
    free(s);
    return j;
}

json_t *rpcjson_from_blockid(rpc_blockid b)
{
    switch (b.tag) {
    case RPC_NUMBER: return rpcjson_from_u64(b.number);
    case RPC_LATEST: return json_string("latest");
    case RPC_SAFE: return json_string("safe");
    case RPC_FINALIZED: return json_string("finalized");
    case RPC_PENDING: return json_string("pending");
    case RPC_EARLIEST: return json_string("earliest");
    }
    return NULL;
}

/* ---- envelope ---- */

void rpc_error_clear(rpc_error *e)
{
    json_decref(e->data);
    memset(e, 0, sizeof *e);
}

/* The error member of an answer into *err; RL_ERR_RPC when it is well formed. */
static rl_err error_object(const json_t *er, rpc_error *err, rl_why *why)
{
    const json_t *code = json_object_get(er, "code"), *msg = json_object_get(er, "message");
    if (!json_is_object(er) || !json_is_integer(code) || !json_is_string(msg))
        return rl_fail(why, RL_ERR_DECODE, "\"error\" is not an object with an integer code and a string message");
    rpc_error_clear(err);
    err->code = json_integer_value(code);
    const char *m = json_string_value(msg);
    size_t n = json_string_length(msg);
    if (n >= sizeof err->message)
        n = sizeof err->message - 1;
    for (size_t i = 0; i < n; i++)
        err->message[i] = (m[i] >= 0x20 && m[i] < 0x7f) ? m[i] : '?';
    err->message[n] = '\0';
    json_t *data = json_object_get(er, "data");
    err->data = data != NULL ? json_incref(data) : NULL;
    return rl_fail(why, RL_ERR_RPC, "JSON-RPC error %" PRId64 ": %s", err->code, err->message);
}

static rl_err envelope(const json_t *resp, rl_why *why)
{
    if (!json_is_object(resp))
        return rl_fail(why, RL_ERR_DECODE, "answer is not a JSON object");
    const json_t *v = json_object_get(resp, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return rl_fail(why, RL_ERR_DECODE, "answer's \"jsonrpc\" is not \"2.0\"");
    return RL_OK;
}

rl_err rpcjson_response(json_t *resp, int64_t id, json_t **result, rpc_error *err, rl_why *why)
{
    rl_err e = envelope(resp, why);
    if (e != RL_OK)
        return e;
    json_t *jid = json_object_get(resp, "id"), *res = json_object_get(resp, "result");
    const json_t *er = json_object_get(resp, "error");
    if ((res == NULL) == (er == NULL))
        return rl_fail(why, RL_ERR_DECODE, "answer has %s \"result\" and \"error\"", res ? "both" : "neither");
    bool ours = json_is_integer(jid) && json_integer_value(jid) == id;
    if (er != NULL && (ours || json_is_null(jid)))
        return error_object(er, err, why);
    if (!ours) {
        if (json_is_integer(jid))
            return rl_fail(why, RL_ERR_DECODE, "answer's id is %" JSON_INTEGER_FORMAT ", expected %" PRId64,
                           json_integer_value(jid), id);
        return rl_fail(why, RL_ERR_DECODE, "answer's id is %s, expected %" PRId64,
                       jid == NULL ? "missing" : "not an integer", id);
    }
    *result = res;
    return RL_OK;
}

rl_err rpcjson_batch(json_t *resp, int64_t first_id, size_t n, json_t *answers[], rpc_error *err, rl_why *why)
{
    for (size_t i = 0; i < n; i++)
        answers[i] = NULL;
    if (json_is_object(resp)) { /* the node refused the batch as a whole */
        rl_err e = envelope(resp, why);
        if (e != RL_OK)
            return e;
        const json_t *er = json_object_get(resp, "error");
        if (er == NULL)
            return rl_fail(why, RL_ERR_DECODE, "batch answer is one object without an error, not an array");
        return error_object(er, err, why);
    }
    if (!json_is_array(resp))
        return rl_fail(why, RL_ERR_DECODE, "batch answer is not a JSON array");
    size_t i;
    json_t *el;
    json_array_foreach(resp, i, el)
    {
        const json_t *jid = json_object_get(el, "id");
        if (!json_is_object(el) || !json_is_integer(jid))
            return rl_fail(why, RL_ERR_DECODE, "batch answer [%zu] is not an object with an integer id", i);
        json_int_t id = json_integer_value(jid);
        if (id < first_id || (uint64_t)(id - first_id) >= n)
            return rl_fail(why, RL_ERR_DECODE, "batch answer [%zu] has id %" JSON_INTEGER_FORMAT ", not one asked for",
                           i, id);
        size_t k = (size_t)(id - first_id);
        if (answers[k] != NULL)
            return rl_fail(why, RL_ERR_DECODE, "batch answer has id %" JSON_INTEGER_FORMAT " twice", id);
        answers[k] = el;
    }
    return RL_OK;
}

/* ---- typed results ---- */

static rl_err need_object(const json_t *v, const char *what, rl_why *why)
{
    if (!json_is_object(v))
        return rl_fail(why, RL_ERR_DECODE, "%s: not an object", what);
    return RL_OK;
}

/* A field name for messages: "block.hash", "logs[2].topics[1]". */
#define WHAT(buf, ...) (snprintf(buf, sizeof buf, __VA_ARGS__), buf)

rl_err rpcjson_block(const json_t *v, rpc_block *out, rl_why *why)
{
    if (json_is_null(v))
        return rl_fail(why, RL_ERR_NOTFOUND, "block: not found");
    rl_err err = need_object(v, "block", why);
    if (err != RL_OK)
        return err;
    rpc_block b;
    memset(&b, 0, sizeof b);
    if ((err = rpcjson_u64(json_object_get(v, "number"), &b.number, "block.number", why)) != RL_OK ||
        (err = rpcjson_fixed(json_object_get(v, "hash"), b.hash, RPC_HASH_BYTES, "block.hash", why)) != RL_OK ||
        (err = rpcjson_fixed(json_object_get(v, "parentHash"), b.parent_hash, RPC_HASH_BYTES, "block.parentHash",
                             why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "timestamp"), &b.timestamp, "block.timestamp", why)) != RL_OK)
        return err;
    const json_t *fee = json_object_get(v, "baseFeePerGas");
    if (fee != NULL && !json_is_null(fee)) {
        if ((err = rpcjson_u256(fee, &b.base_fee_per_gas, "block.baseFeePerGas", why)) != RL_OK)
            return err;
        b.has_base_fee = true;
    }
    *out = b;
    return RL_OK;
}

static rl_err log_decode(const json_t *v, rpc_log *l, const char *at, rl_why *why)
{
    char w[96];
    rl_err err = need_object(v, at, why);
    if (err != RL_OK)
        return err;
    const json_t *topics = json_object_get(v, "topics"), *removed = json_object_get(v, "removed");
    if ((err = rpcjson_fixed(json_object_get(v, "address"), l->address, RPC_ADDR_BYTES, WHAT(w, "%s.address", at),
                             why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "blockNumber"), &l->block_number, WHAT(w, "%s.blockNumber", at),
                           why)) != RL_OK ||
        (err = rpcjson_fixed(json_object_get(v, "blockHash"), l->block_hash, RPC_HASH_BYTES,
                             WHAT(w, "%s.blockHash", at), why)) != RL_OK ||
        (err = rpcjson_fixed(json_object_get(v, "transactionHash"), l->tx_hash, RPC_HASH_BYTES,
                             WHAT(w, "%s.transactionHash", at), why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "transactionIndex"), &l->tx_index, WHAT(w, "%s.transactionIndex", at),
                           why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "logIndex"), &l->log_index, WHAT(w, "%s.logIndex", at), why)) != RL_OK)
        return err;
    if (!json_is_array(topics) || json_array_size(topics) > RPC_MAX_TOPICS)
        return rl_fail(why, RL_ERR_DECODE, "%s.topics: not an array of at most %d topics", at, RPC_MAX_TOPICS);
    l->n_topics = (unsigned)json_array_size(topics);
    for (unsigned t = 0; t < l->n_topics; t++)
        if ((err = rpcjson_fixed(json_array_get(topics, t), l->topics[t], RPC_HASH_BYTES,
                                 WHAT(w, "%s.topics[%u]", at, t), why)) != RL_OK)
            return err;
    /* Absent "removed" means not removed: some nodes leave it out of receipts. */
    if (removed != NULL && !json_is_boolean(removed))
        return rl_fail(why, RL_ERR_DECODE, "%s.removed: not a boolean", at);
    l->removed = json_is_true(removed);
    /* Last, so that an earlier failure leaves nothing to free. */
    return rpcjson_bytes(json_object_get(v, "data"), &l->data, &l->data_len, WHAT(w, "%s.data", at), why);
}

rl_err rpcjson_logs(const json_t *v, rpc_logs *out, rl_why *why)
{
    out->n = 0;
    out->v = NULL;
    if (!json_is_array(v))
        return rl_fail(why, RL_ERR_DECODE, "logs: not an array");
    size_t n = json_array_size(v);
    rpc_logs l = {0, calloc(n ? n : 1, sizeof(rpc_log))};
    if (l.v == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "logs: %zu entries", n);
    for (; l.n < n; l.n++) {
        char at[32];
        rl_err err = log_decode(json_array_get(v, l.n), &l.v[l.n], WHAT(at, "logs[%zu]", l.n), why);
        if (err != RL_OK) {
            rpc_logs_fini(&l);
            return err;
        }
    }
    *out = l;
    return RL_OK;
}

void rpc_logs_fini(rpc_logs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].data);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

rl_err rpcjson_receipt(const json_t *v, rpc_receipt *out, rl_why *why)
{
    memset(out, 0, sizeof *out);
    if (json_is_null(v))
        return rl_fail(why, RL_ERR_NOTFOUND, "receipt: not found");
    rl_err err = need_object(v, "receipt", why);
    if (err != RL_OK)
        return err;
    rpc_receipt r;
    memset(&r, 0, sizeof r);
    uint64_t status;
    if ((err = rpcjson_fixed(json_object_get(v, "transactionHash"), r.tx_hash, RPC_HASH_BYTES,
                             "receipt.transactionHash", why)) != RL_OK ||
        (err = rpcjson_fixed(json_object_get(v, "blockHash"), r.block_hash, RPC_HASH_BYTES, "receipt.blockHash",
                             why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "blockNumber"), &r.block_number, "receipt.blockNumber", why)) !=
            RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "transactionIndex"), &r.tx_index, "receipt.transactionIndex", why)) !=
            RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "status"), &status, "receipt.status", why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "gasUsed"), &r.gas_used, "receipt.gasUsed", why)) != RL_OK ||
        (err = rpcjson_u64(json_object_get(v, "cumulativeGasUsed"), &r.cumulative_gas_used,
                           "receipt.cumulativeGasUsed", why)) != RL_OK)
        return err;
    if (status > 1)
        return rl_fail(why, RL_ERR_DECODE, "receipt.status: %" PRIu64 ", expected 0x0 or 0x1", status);
    r.status = (uint8_t)status;
    const json_t *price = json_object_get(v, "effectiveGasPrice"), *created = json_object_get(v, "contractAddress");
    if (price != NULL && !json_is_null(price)) {
        if ((err = rpcjson_u256(price, &r.effective_gas_price, "receipt.effectiveGasPrice", why)) != RL_OK)
            return err;
        r.has_effective_gas_price = true;
    }
    if (created != NULL && !json_is_null(created)) {
        if ((err = rpcjson_fixed(created, r.contract_address, RPC_ADDR_BYTES, "receipt.contractAddress", why)) !=
            RL_OK)
            return err;
        r.has_contract_address = true;
    }
    if ((err = rpcjson_logs(json_object_get(v, "logs"), &r.logs, why)) != RL_OK) {
        rl_why_prefix(why, "receipt.");
        return err;
    }
    *out = r;
    return RL_OK;
}

void rpc_receipt_fini(rpc_receipt *r)
{
    rpc_logs_fini(&r->logs);
}

static rl_err ratio_ppm(const json_t *v, uint32_t *out, const char *what, rl_why *why)
{
    if (!json_is_number(v))
        return rl_fail(why, RL_ERR_DECODE, "%s: not a number", what);
    double x = json_number_value(v);
    if (!(x >= 0.0 && x <= 1.0))
        return rl_fail(why, RL_ERR_DECODE, "%s: %g is outside [0, 1]", what, x);
    *out = (uint32_t)(x * PPM + 0.5);
    return RL_OK;
}

rl_err rpcjson_fee_history(const json_t *v, size_t n_percentiles, rpc_fee_history *out, rl_why *why)
{
    memset(out, 0, sizeof *out);
    rl_err err = need_object(v, "feeHistory", why);
    if (err != RL_OK)
        return err;
    rpc_fee_history f;
    memset(&f, 0, sizeof f);
    const json_t *fees = json_object_get(v, "baseFeePerGas"), *ratios = json_object_get(v, "gasUsedRatio");
    const json_t *reward = json_object_get(v, "reward");
    if ((err = rpcjson_u64(json_object_get(v, "oldestBlock"), &f.oldest_block, "feeHistory.oldestBlock", why)) !=
        RL_OK)
        return err;
    if (!json_is_array(ratios) || !json_is_array(fees) || json_array_size(fees) != json_array_size(ratios) + 1)
        return rl_fail(why, RL_ERR_DECODE,
                       "feeHistory: baseFeePerGas must be an array one longer than the gasUsedRatio array");
    f.n_blocks = json_array_size(ratios);
    f.n_percentiles = n_percentiles;
    if (n_percentiles > 0 && (!json_is_array(reward) || json_array_size(reward) != f.n_blocks))
        return rl_fail(why, RL_ERR_DECODE, "feeHistory.reward: not an array of %zu blocks", f.n_blocks);
    f.base_fee = calloc(f.n_blocks + 1, sizeof(u256));
    f.gas_used_ppm = calloc(f.n_blocks + 1, sizeof(uint32_t));
    f.reward = n_percentiles ? calloc(f.n_blocks * n_percentiles + 1, sizeof(u256)) : NULL;
    if (f.base_fee == NULL || f.gas_used_ppm == NULL || (n_percentiles && f.reward == NULL)) {
        err = rl_fail(why, RL_ERR_NOMEM, "feeHistory: %zu blocks", f.n_blocks);
        goto fail;
    }
    char w[64];
    for (size_t i = 0; i <= f.n_blocks; i++)
        if ((err = rpcjson_u256(json_array_get(fees, i), &f.base_fee[i], WHAT(w, "feeHistory.baseFeePerGas[%zu]", i),
                                why)) != RL_OK)
            goto fail;
    for (size_t i = 0; i < f.n_blocks; i++) {
        if ((err = ratio_ppm(json_array_get(ratios, i), &f.gas_used_ppm[i], WHAT(w, "feeHistory.gasUsedRatio[%zu]", i),
                             why)) != RL_OK)
            goto fail;
        if (n_percentiles == 0)
            continue;
        const json_t *row = json_array_get(reward, i);
        if (!json_is_array(row) || json_array_size(row) != n_percentiles) {
            err = rl_fail(why, RL_ERR_DECODE, "feeHistory.reward[%zu]: not an array of %zu fees", i, n_percentiles);
            goto fail;
        }
        for (size_t k = 0; k < n_percentiles; k++)
            if ((err = rpcjson_u256(json_array_get(row, k), &f.reward[i * n_percentiles + k],
                                    WHAT(w, "feeHistory.reward[%zu][%zu]", i, k), why)) != RL_OK)
                goto fail;
    }
    *out = f;
    return RL_OK;
fail:
    rpc_fee_history_fini(&f);
    return err;
}

void rpc_fee_history_fini(rpc_fee_history *f)
{
    free(f->base_fee);
    free(f->gas_used_ppm);
    free(f->reward);
    memset(f, 0, sizeof *f);
}
