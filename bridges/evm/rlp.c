/*
 * rlp.c - RLP encoder and strict decoder (format and rules in rlp.h).
 */
#include "bridges/evm/rlp.h"

#include <stdlib.h>
#include <string.h>

#include "attest/vec.h"

#define RLP_STRING 0x80      /* short string: 0x80 + length */
#define RLP_STRING_LONG 0xb7 /* long string: 0xb7 + length of the length */
#define RLP_LIST 0xc0
#define RLP_LIST_LONG 0xf7
#define RLP_LEN_MAX_BYTES 8 /* a length of a length, at most */

void rlp_buf_init(rlp_buf *b)
{
    memset(b, 0, sizeof *b);
}

void rlp_buf_fini(rlp_buf *b)
{
    free(b->p);
    rlp_buf_init(b);
}

static bool reserve(rlp_buf *b, size_t more)
{
    if (b->oom || b->len + more < b->len || !vec_reserve((void **)&b->p, &b->cap, b->len + more, 1, 64)) {
        b->oom = true;
        return false;
    }
    return true;
}

/* n's big-endian bytes without leading zeros, right-aligned in out[8]; returns their count. */
static size_t be_minimal(uint8_t out[8], uint64_t n)
{
    size_t k = 0;
    for (uint64_t v = n; v != 0; v >>= 8)
        k++;
    for (size_t i = 0; i < k; i++)
        out[8 - 1 - i] = (uint8_t)(n >> (8 * i));
    return k;
}

/* The header of an item with a payload of len bytes: short or long form. Returns its size. */
static size_t header(uint8_t out[1 + RLP_LEN_MAX_BYTES], uint8_t short_base, uint8_t long_base, size_t len)
{
    if (len <= RLP_SHORT_MAX) {
        out[0] = (uint8_t)(short_base + len);
        return 1;
    }
    uint8_t be[8];
    size_t k = be_minimal(be, (uint64_t)len);
    out[0] = (uint8_t)(long_base + k);
    memcpy(out + 1, be + 8 - k, k);
    return 1 + k;
}

void rlp_put_bytes(rlp_buf *b, const uint8_t *s, size_t n)
{
    if (n == 1 && s[0] < RLP_STRING) {
        rlp_put_raw(b, s, 1);
        return;
    }
    uint8_t h[1 + RLP_LEN_MAX_BYTES];
    size_t hl = header(h, RLP_STRING, RLP_STRING_LONG, n);
    if (!reserve(b, hl + n))
        return;
    memcpy(b->p + b->len, h, hl);
    if (n > 0)
        memcpy(b->p + b->len + hl, s, n);
    b->len += hl + n;
}

void rlp_put_u64(rlp_buf *b, uint64_t v)
{
    uint8_t be[8];
    size_t k = be_minimal(be, v);
    rlp_put_bytes(b, be + 8 - k, k);
}

void rlp_put_u256(rlp_buf *b, const u256 *v)
{
    uint8_t be[U256_BYTES];
    u256_to_be(be, v);
    size_t skip = 0;
    while (skip < U256_BYTES && be[skip] == 0)
        skip++;
    rlp_put_bytes(b, be + skip, U256_BYTES - skip);
}

void rlp_put_raw(rlp_buf *b, const uint8_t *enc, size_t n)
{
    if (n == 0 || !reserve(b, n))
        return;
    memcpy(b->p + b->len, enc, n);
    b->len += n;
}

size_t rlp_list_begin(const rlp_buf *b)
{
    return b->len;
}

void rlp_list_end(rlp_buf *b, size_t mark)
{
    if (b->oom || mark > b->len) {
        b->oom = b->oom || mark > b->len; /* a mark from another buffer: refuse to guess */
        return;
    }
    uint8_t h[1 + RLP_LEN_MAX_BYTES];
    size_t payload = b->len - mark, hl = header(h, RLP_LIST, RLP_LIST_LONG, payload);
    if (!reserve(b, hl))
        return;
    memmove(b->p + mark + hl, b->p + mark, payload);
    memcpy(b->p + mark, h, hl);
    b->len += hl;
}

rl_err rlp_buf_take(rlp_buf *b, uint8_t **out, size_t *len, rl_why *why)
{
    *out = NULL;
    *len = 0;
    if (b->oom || (b->p == NULL && !reserve(b, 1))) {
        rlp_buf_fini(b);
        return rl_fail(why, RL_ERR_NOMEM, "rlp: out of memory while encoding");
    }
    *out = b->p;
    *len = b->len;
    rlp_buf_init(b);
    return RL_OK;
}

/* ---- decoder */

rl_err rlp_decode_item(const uint8_t *in, size_t len, rlp_item *out, const char *what, rl_why *why)
{
    memset(out, 0, sizeof *out);
    if (len == 0)
        return rl_fail(why, RL_ERR_TRUNCATED, "%s: no item (input ended)", what);
    uint8_t b0 = in[0];
    if (b0 < RLP_STRING) {
        *out = (rlp_item){.list = false, .p = in, .len = 1, .enc_len = 1};
        return RL_OK;
    }
    bool list = b0 >= RLP_LIST;
    uint8_t base = list ? RLP_LIST : RLP_STRING, long_base = list ? RLP_LIST_LONG : RLP_STRING_LONG;
    size_t hl, payload;
    if (b0 <= long_base) {
        hl = 1;
        payload = (size_t)(b0 - base);
    } else {
        size_t k = (size_t)(b0 - long_base);
        if (len < 1 + k)
            return rl_fail(why, RL_ERR_TRUNCATED, "%s: input ends inside a %zu-byte length", what, k);
        if (in[1] == 0)
            return rl_fail(why, RL_ERR_DECODE, "%s: long length with a leading zero byte", what);
        uint64_t l = 0;
        for (size_t i = 0; i < k; i++)
            l = (l << 8) | in[1 + i];
        if (l <= RLP_SHORT_MAX)
            return rl_fail(why, RL_ERR_DECODE, "%s: length %llu in long form (short form required up to %d)", what,
                           (unsigned long long)l, RLP_SHORT_MAX);
        if (l > len - 1 - k)
            return rl_fail(why, RL_ERR_TRUNCATED, "%s: %s of %llu bytes, %zu left", what, list ? "list" : "string",
                           (unsigned long long)l, len - 1 - k);
        hl = 1 + k;
        payload = (size_t)l;
    }
    if (payload > len - hl)
        return rl_fail(why, RL_ERR_TRUNCATED, "%s: %s of %zu bytes, %zu left", what, list ? "list" : "string",
                       payload, len - hl);
    if (!list && payload == 1 && in[hl] < RLP_STRING)
        return rl_fail(why, RL_ERR_DECODE, "%s: byte 0x%02x below 0x80 must encode itself", what, in[hl]);
    *out = (rlp_item){.list = list, .p = in + hl, .len = payload, .enc_len = hl + payload};
    return RL_OK;
}

/* Every item inside in[0..len), walked without recursion: a stack holds the end offset of each
 * open list, and each item is decoded within what its enclosing list has left. */
static rl_err check_tree(const uint8_t *in, size_t len, const char *what, rl_why *why)
{
    size_t ends[RLP_MAX_DEPTH];
    size_t depth = 0, pos = 0;
    while (pos < len) {
        while (depth > 0 && ends[depth - 1] == pos)
            depth--;
        size_t limit = depth > 0 ? ends[depth - 1] : len;
        if (pos == limit)
            continue;
        rlp_item it;
        rl_err err = rlp_decode_item(in + pos, limit - pos, &it, what, why);
        if (err != RL_OK) {
            rl_why_prefix(why, "at byte %zu: ", pos);
            return err;
        }
        if (!it.list) {
            pos += it.enc_len;
            continue;
        }
        if (depth == RLP_MAX_DEPTH)
            return rl_fail(why, RL_ERR_DECODE, "%s: lists nested deeper than %d", what, RLP_MAX_DEPTH);
        ends[depth++] = pos + it.enc_len;
        pos += it.enc_len - it.len; /* into the list's payload */
    }
    return RL_OK;
}

rl_err rlp_decode(const uint8_t *in, size_t len, rlp_item *out, const char *what, rl_why *why)
{
    rl_err err = rlp_decode_item(in, len, out, what, why);
    if (err == RL_OK && out->enc_len != len) {
        size_t extra = len - out->enc_len;
        memset(out, 0, sizeof *out);
        return rl_fail(why, RL_ERR_DECODE, "%s: %zu trailing bytes after the item", what, extra);
    }
    if (err == RL_OK && out->list)
        err = check_tree(in, len, what, why);
    if (err != RL_OK)
        memset(out, 0, sizeof *out);
    return err;
}

rlp_iter rlp_iter_of(const rlp_item *list)
{
    return (rlp_iter){.p = list->p, .left = list->len, .index = 0};
}

rl_err rlp_iter_next(rlp_iter *it, rlp_item *out, const char *what, rl_why *why)
{
    rl_err err = rlp_decode_item(it->p, it->left, out, what, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "item %zu: ", it->index);
        return err;
    }
    it->p += out->enc_len;
    it->left -= out->enc_len;
    it->index++;
    return RL_OK;
}

/* A string item holding an integer of at most max bytes, canonical. */
static rl_err int_bytes(const rlp_item *it, size_t max, const char *what, rl_why *why)
{
    if (it->list)
        return rl_fail(why, RL_ERR_DECODE, "%s: a list where an integer belongs", what);
    if (it->len > 0 && it->p[0] == 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: integer with a leading zero byte", what);
    if (it->len > max)
        return rl_fail(why, RL_ERR_OVERFLOW, "%s: %zu-byte integer, at most %zu", what, it->len, max);
    return RL_OK;
}

rl_err rlp_item_u64(const rlp_item *it, uint64_t *out, const char *what, rl_why *why)
{
    rl_err err = int_bytes(it, sizeof(uint64_t), what, why);
    if (err != RL_OK)
        return err;
    uint64_t v = 0;
    for (size_t i = 0; i < it->len; i++)
        v = (v << 8) | it->p[i];
    *out = v;
    return RL_OK;
}

rl_err rlp_item_u256(const rlp_item *it, u256 *out, const char *what, rl_why *why)
{
    rl_err err = int_bytes(it, U256_BYTES, what, why);
    if (err != RL_OK)
        return err;
    uint8_t be[U256_BYTES] = {0};
    memcpy(be + U256_BYTES - it->len, it->p, it->len);
    *out = u256_from_be(be);
    return RL_OK;
}

rl_err rlp_item_fixed(const rlp_item *it, uint8_t *out, size_t n, const char *what, rl_why *why)
{
    if (it->list || it->len != n)
        return rl_fail(why, RL_ERR_DECODE, "%s: expected a string of %zu bytes, got %s of %zu", what, n,
                       it->list ? "a list" : "a string", it->len);
    memcpy(out, it->p, n);
    return RL_OK;
}
