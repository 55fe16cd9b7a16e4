/*
 * oracle.c - Chainlink-style aggregators over eth_call (oracle.h).
 */
#include "bridges/evm/oracle.h"

#include <stdlib.h>
#include <string.h>

#include "attest/hash.h"
#include "bridges/evm/rpceth.h"

#define UINT80_BYTES 10
#define UINT64_BYTES 8
#define INT128_BYTES 16

struct oracle_agg {
    rpc *c;
    uint8_t address[RPC_ADDR_BYTES];
    uint8_t decimals;
    uint8_t sel_round[ORACLE_SELECTOR_BYTES];
};

void oracle_selector(uint8_t out[ORACLE_SELECTOR_BYTES], const char *signature)
{
    uint8_t h[HASH_BYTES];
    keccak256(h, signature, strlen(signature));
    memcpy(out, h, ORACLE_SELECTOR_BYTES);
}

/* Whether the first n bytes of w are all `fill`. */
static bool all(const uint8_t *w, size_t n, uint8_t fill)
{
    for (size_t i = 0; i < n; i++)
        if (w[i] != fill)
            return false;
    return true;
}

/* The low `bytes` bytes of a word, big-endian, when every higher byte is zero. */
static rl_err word_uint(unsigned __int128 *out, const uint8_t w[ORACLE_WORD_BYTES], size_t bytes, const char *field,
                        rl_why *why)
{
    if (!all(w, ORACLE_WORD_BYTES - bytes, 0))
        return rl_fail(why, RL_ERR_DECODE, "latestRoundData: %s does not fit %zu bits", field, bytes * 8);
    unsigned __int128 v = 0;
    for (size_t i = ORACLE_WORD_BYTES - bytes; i < ORACLE_WORD_BYTES; i++)
        v = v << 8 | w[i];
    *out = v;
    return RL_OK;
}

rl_err oracle_decode_round(oracle_round *r, const uint8_t *data, size_t len, rl_why *why)
{
    if (len != ORACLE_ROUND_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "latestRoundData: %zu bytes, expected %d", len, ORACLE_ROUND_BYTES);
    const uint8_t *w_round = data, *w_answer = data + 32, *w_started = data + 64, *w_updated = data + 96,
                  *w_answered = data + 128;
    unsigned __int128 started = 0, updated = 0, mag;
    rl_err err = word_uint(&r->round_id, w_round, UINT80_BYTES, "roundId (uint80)", why);
    if (err == RL_OK)
        err = word_uint(&started, w_started, UINT64_BYTES, "startedAt", why);
    if (err == RL_OK)
        err = word_uint(&updated, w_updated, UINT64_BYTES, "updatedAt", why);
    if (err == RL_OK)
        err = word_uint(&r->answered_in_round, w_answered, UINT80_BYTES, "answeredInRound (uint80)", why);
    if (err != RL_OK)
        return err;
    /* int256 -> int128: the 16 high bytes must be the sign extension of bit 127. */
    bool neg = (w_answer[ORACLE_WORD_BYTES - INT128_BYTES] & 0x80) != 0;
    if (!all(w_answer, ORACLE_WORD_BYTES - INT128_BYTES, neg ? 0xff : 0x00))
        return rl_fail(why, RL_ERR_OVERFLOW, "latestRoundData: answer (int256) does not fit 128 bits");
    mag = 0;
    for (size_t i = ORACLE_WORD_BYTES - INT128_BYTES; i < ORACLE_WORD_BYTES; i++)
        mag = mag << 8 | w_answer[i];
    r->answer = (__int128)mag; /* two's complement: the bits are the value */
    r->started_at = (uint64_t)started;
    r->updated_at = (uint64_t)updated;
    return RL_OK;
}

/* v as the low 16 bytes of a word whose 16 high bytes are `fill`. */
static void word_put(uint8_t w[ORACLE_WORD_BYTES], unsigned __int128 v, uint8_t fill)
{
    memset(w, fill, ORACLE_WORD_BYTES - INT128_BYTES);
    for (size_t i = 0; i < INT128_BYTES; i++)
        w[ORACLE_WORD_BYTES - 1 - i] = (uint8_t)(v >> (8 * i));
}

void oracle_encode_round(uint8_t out[ORACLE_ROUND_BYTES], const oracle_round *r)
{
    word_put(out, r->round_id, 0);
    word_put(out + 32, (unsigned __int128)r->answer, r->answer < 0 ? 0xff : 0x00);
    word_put(out + 64, r->started_at, 0);
    word_put(out + 96, r->updated_at, 0);
    word_put(out + 128, r->answered_in_round, 0);
}

rl_err oracle_decode_decimals(uint8_t *decimals, const uint8_t *data, size_t len, rl_why *why)
{
    if (len != ORACLE_WORD_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "decimals: %zu bytes, expected %d", len, ORACLE_WORD_BYTES);
    if (!all(data, ORACLE_WORD_BYTES - 1, 0))
        return rl_fail(why, RL_ERR_DECODE, "decimals: not a uint8");
    *decimals = data[ORACLE_WORD_BYTES - 1];
    return RL_OK;
}

/* A uint80 in decimal, for messages (round ids carry the phase in their high bits). */
static const char *u128_dec(unsigned __int128 v, char buf[48])
{
    char tmp[48];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}

rl_err oracle_round_price(const oracle_round *r, uint8_t decimals, uint64_t chain_now_s, const price_bounds *b,
                          const char *feed, __int128 *price_e18, bool *exact, rl_why *why)
{
    if (r->answer <= 0)
        return rl_fail(why, RL_ERR_STATE, "price of %s: the aggregator's answer is %s", feed,
                       r->answer == 0 ? "zero" : "negative");
    char a[48], b2[48];
    if (r->answered_in_round < r->round_id)
        return rl_fail(why, RL_ERR_STATE, "price of %s: answered in round %s, before round %s (carried over)", feed,
                       u128_dec(r->answered_in_round, a), u128_dec(r->round_id, b2));
    if (r->updated_at == 0)
        return rl_fail(why, RL_ERR_STATE, "price of %s: the round is not complete (updatedAt 0)", feed);
    if (r->updated_at > UINT64_MAX / 1000 || chain_now_s > UINT64_MAX / 1000)
        return rl_fail(why, RL_ERR_STATE, "price of %s: a time beyond any clock", feed);
    rl_err err = price_from_scaled(price_e18, (unsigned __int128)r->answer, decimals, exact, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "price of %s: ", feed);
        return err;
    }
    return price_check(feed, *price_e18, r->updated_at * 1000, chain_now_s * 1000, b, why);
}

rl_err oracle_agg_open(oracle_agg **out, rpc *c, const uint8_t address[RPC_ADDR_BYTES], rl_why *why)
{
    *out = NULL;
    oracle_agg *a = calloc(1, sizeof *a);
    if (a == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "oracle reader");
    a->c = c;
    memcpy(a->address, address, RPC_ADDR_BYTES);
    oracle_selector(a->sel_round, "latestRoundData()");
    uint8_t sel[ORACLE_SELECTOR_BYTES], *ret = NULL;
    size_t len = 0;
    oracle_selector(sel, "decimals()");
    rpc_callmsg m = {.to = a->address, .data = sel, .data_len = sizeof sel};
    rl_err err = rpc_eth_call(c, &m, rpc_block_tag(RPC_LATEST), &ret, &len, why);
    if (err == RL_OK)
        err = oracle_decode_decimals(&a->decimals, ret, len, why);
    free(ret);
    if (err != RL_OK) {
        free(a);
        return err;
    }
    *out = a;
    return RL_OK;
}

void oracle_agg_close(oracle_agg *a) { free(a); }

uint8_t oracle_agg_decimals(const oracle_agg *a) { return a->decimals; }

rl_err oracle_agg_read(oracle_agg *a, const char *feed, const price_bounds *b, oracle_reading *out, rl_why *why)
{
    rpc_block head;
    rl_err err = rpc_eth_get_block(a->c, rpc_block_tag(RPC_LATEST), &head, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "price of %s: latest block: ", feed);
        return err;
    }
    /* The round at the very block whose time judges it, so a newer round cannot be judged by an
     * older clock. */
    uint8_t *ret = NULL;
    size_t len = 0;
    rpc_callmsg m = {.to = a->address, .data = a->sel_round, .data_len = sizeof a->sel_round};
    err = rpc_eth_call(a->c, &m, rpc_block_at(head.number), &ret, &len, why);
    oracle_round r;
    if (err == RL_OK)
        err = oracle_decode_round(&r, ret, len, why);
    free(ret);
    if (err != RL_OK) {
        rl_why_prefix(why, "price of %s: ", feed);
        return err;
    }
    err = oracle_round_price(&r, a->decimals, head.timestamp, b, feed, &out->price_e18, &out->exact, why);
    if (err != RL_OK)
        return err;
    out->time_ms = r.updated_at * 1000;
    out->round_id = r.round_id;
    out->block = head.number;
    out->block_time_s = head.timestamp;
    return RL_OK;
}
