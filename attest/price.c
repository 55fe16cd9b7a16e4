/*
 * price.c - price observations and the aggregation rule (price.h).
 */
#include "attest/price.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"

#define OFF_VERSION 0
#define OFF_FEED 1
#define OFF_PRICE 17
#define OFF_TIME 33
#define OFF_RESERVED 41
_Static_assert(OFF_RESERVED + 7 == PRICE_OBS_BYTES, "price layout must fill PRICE_OBS_BYTES");

static bool name_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

rl_err name16_put(uint8_t out[PRICE_FEED_BYTES], const char *name, const char *what, rl_why *why)
{
    size_t n = strlen(name);
    if (n == 0 || n > PRICE_FEED_BYTES)
        return rl_fail(why, RL_ERR_ARG, "%s \"%s\": 1 to %d characters", what, name, PRICE_FEED_BYTES);
    for (size_t i = 0; i < n; i++)
        if (!name_char(name[i]))
            return rl_fail(why, RL_ERR_ARG, "%s \"%s\": only letters, digits, '.', '_' and '-'", what, name);
    memset(out, 0, PRICE_FEED_BYTES);
    memcpy(out, name, n);
    return RL_OK;
}

rl_err name16_get(char out[PRICE_FEED_BYTES + 1], const uint8_t in[PRICE_FEED_BYTES], const char *what, rl_why *why)
{
    size_t n = 0;
    while (n < PRICE_FEED_BYTES && in[n] != 0) {
        if (!name_char((char)in[n]))
            return rl_fail(why, RL_ERR_DECODE, "%s: byte 0x%02x at %zu is not a name character", what, in[n], n);
        n++;
    }
    if (n == 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: empty name", what);
    for (size_t i = n; i < PRICE_FEED_BYTES; i++)
        if (in[i] != 0)
            return rl_fail(why, RL_ERR_DECODE, "%s: bytes after the name's end must be zero", what);
    memcpy(out, in, n);
    out[n] = '\0';
    return RL_OK;
}

rl_err price_encode(uint8_t out[PRICE_OBS_BYTES], const price_obs *p, rl_why *why)
{
    if (p->price_e18 <= 0)
        return rl_fail(why, RL_ERR_ARG, "price of %s must be above zero", p->feed);
    memset(out, 0, PRICE_OBS_BYTES);
    out[OFF_VERSION] = PRICE_VERSION;
    rl_err err = name16_put(out + OFF_FEED, p->feed, "price feed", why);
    if (err != RL_OK)
        return err;
    be128_put(out + OFF_PRICE, (unsigned __int128)p->price_e18);
    be64_put(out + OFF_TIME, p->time_ms);
    return RL_OK;
}

rl_err price_decode(price_obs *p, const uint8_t *in, size_t len, rl_why *why)
{
    if (len != PRICE_OBS_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "price observation: %zu bytes, expected %d", len, PRICE_OBS_BYTES);
    if (in[OFF_VERSION] != PRICE_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "price observation: unknown version %u", in[OFF_VERSION]);
    rl_err err = name16_get(p->feed, in + OFF_FEED, "price observation feed", why);
    if (err != RL_OK)
        return err;
    unsigned __int128 v = be128_get(in + OFF_PRICE);
    if (v == 0 || v >> 127)
        return rl_fail(why, RL_ERR_DECODE, "price observation of %s: price must be above zero and below 2^127",
                       p->feed);
    p->price_e18 = (__int128)v;
    p->time_ms = be64_get(in + OFF_TIME);
    for (size_t i = OFF_RESERVED; i < PRICE_OBS_BYTES; i++)
        if (in[i] != 0)
            return rl_fail(why, RL_ERR_DECODE, "price observation: reserved bytes must be zero");
    return RL_OK;
}

void price_content_hash(uint8_t out[HASH_BYTES], const uint8_t enc[PRICE_OBS_BYTES])
{
    hash_domain(out, HASH_DOMAIN_PRICE, enc, PRICE_OBS_BYTES);
}

void price_sign(signed_price *sp, const uint8_t enc[PRICE_OBS_BYTES], uint16_t member, const node_key *k)
{
    uint8_t h[HASH_BYTES];
    price_content_hash(h, enc);
    memcpy(sp->bytes, enc, PRICE_OBS_BYTES);
    sp->member = member;
    node_key_sign(k, sp->sig, h, HASH_BYTES);
}

/* a x b as 256 bits: hi, lo. */
static void mul_128(unsigned __int128 a, unsigned __int128 b, unsigned __int128 *hi, unsigned __int128 *lo)
{
    const unsigned __int128 m = ((unsigned __int128)1 << 64) - 1;
    unsigned __int128 a0 = a & m, a1 = a >> 64, b0 = b & m, b1 = b >> 64;
    unsigned __int128 p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    unsigned __int128 mid = (p00 >> 64) + (p01 & m) + (p10 & m);
    *lo = (p00 & m) | (mid << 64);
    *hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
}

/* Compares a x b with c x d, exactly. */
static int mul_cmp(unsigned __int128 a, unsigned __int128 b, unsigned __int128 c, unsigned __int128 d)
{
    unsigned __int128 h1, l1, h2, l2;
    mul_128(a, b, &h1, &l1);
    mul_128(c, d, &h2, &l2);
    if (h1 != h2)
        return h1 < h2 ? -1 : 1;
    return l1 < l2 ? -1 : l1 > l2;
}

bool price_within(__int128 value_e18, __int128 median_e18, __int128 max_dev_e18)
{
    if (value_e18 < 0 || median_e18 < 0 || max_dev_e18 < 0)
        return false;
    unsigned __int128 d = (unsigned __int128)(value_e18 > median_e18 ? value_e18 - median_e18 : median_e18 - value_e18);
    return mul_cmp(d, 1000000000000000000u, (unsigned __int128)max_dev_e18, (unsigned __int128)median_e18) <= 0;
}

static int cmp_price(const void *a, const void *b)
{
    __int128 x = *(const __int128 *)a, y = *(const __int128 *)b;
    return x < y ? -1 : x > y;
}

/* An e18 value as a decimal, for messages only. */
static const char *e18_str(__int128 v, char buf[64])
{
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    char tmp[64];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u != 0 || n <= 18);
    int o = 0;
    if (v < 0)
        buf[o++] = '-';
    for (int i = n - 1; i >= 0; i--) {
        buf[o++] = tmp[i];
        if (i == 18)
            buf[o++] = '.';
    }
    while (buf[o - 1] == '0')
        o--;
    if (buf[o - 1] == '.')
        o--;
    buf[o] = '\0';
    return buf;
}

rl_err price_aggregate(const price_obs *obs, size_t n, const price_rule *rule, uint64_t now_ms, __int128 *median_e18,
                       uint64_t *oldest_ms, rl_why *why)
{
    if (n == 0 || n < rule->threshold)
        return rl_fail(why, RL_ERR_QUORUM, "price of %s: %zu observations, threshold is %u", n ? obs[0].feed : "?", n,
                       rule->threshold);
    __int128 *v = malloc(n * sizeof *v);
    if (v == NULL)
        return RL_ERR_NOMEM;
    uint64_t oldest = UINT64_MAX;
    rl_err err = RL_OK;
    for (size_t i = 0; i < n && err == RL_OK; i++) {
        v[i] = obs[i].price_e18;
        if (obs[i].time_ms > now_ms + PRICE_MAX_SKEW_MS)
            err = rl_fail(why, RL_ERR_STATE, "price of %s: observation %zu is dated %llu ms in the future", obs[i].feed,
                          i, (unsigned long long)(obs[i].time_ms - now_ms));
        else if (obs[i].time_ms + rule->max_age_ms < now_ms)
            err = rl_fail(why, RL_ERR_STATE, "price of %s: observation %zu is %llu ms old, the limit is %llu ms",
                          obs[i].feed, i, (unsigned long long)(now_ms - obs[i].time_ms),
                          (unsigned long long)rule->max_age_ms);
        if (obs[i].time_ms < oldest)
            oldest = obs[i].time_ms;
    }
    if (err == RL_OK) {
        qsort(v, n, sizeof *v, cmp_price);
        __int128 med = v[(n - 1) / 2];
        /* |x - med| <= dev x med, in integers: |x - med| x 10^18 <= dev_e18 x med, both sides
         * 256-bit products. */
        for (size_t i = 0; i < n && err == RL_OK; i++) {
            char a[64], b[64];
            if (!price_within(v[i], med, rule->max_dev_e18))
                err = rl_fail(why, RL_ERR_STATE, "price of %s: %s is too far from the median %s", obs[0].feed,
                              e18_str(v[i], a), e18_str(med, b));
        }
        *median_e18 = med;
        *oldest_ms = oldest;
    }
    free(v);
    return err;
}

/* 10^n for n <= 38 (10^38 < 2^128). */
static unsigned __int128 pow10_u128(unsigned n)
{
    unsigned __int128 p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

#define PRICE_DIGITS 18
#define U128_POW10_MAX 38
#define I128_MAX (((unsigned __int128)1 << 127) - 1)

rl_err price_from_scaled(__int128 *price_e18, unsigned __int128 mantissa, unsigned decimals, bool *exact,
                         rl_why *why)
{
    unsigned __int128 v;
    bool ex = true;
    if (decimals <= PRICE_DIGITS) {
        unsigned __int128 mul = pow10_u128(PRICE_DIGITS - decimals);
        if (mantissa > I128_MAX / mul)
            return rl_fail(why, RL_ERR_OVERFLOW, "price with %u decimals does not fit 127 bits at 18 decimals",
                           decimals);
        v = mantissa * mul;
    } else {
        unsigned drop = decimals - PRICE_DIGITS;
        /* 10^39 and more exceed any 128-bit mantissa: the value truncates to zero. */
        v = drop > U128_POW10_MAX ? 0 : mantissa / pow10_u128(drop);
        ex = drop > U128_POW10_MAX ? mantissa == 0 : v * pow10_u128(drop) == mantissa;
        /* v <= (2^128 - 1) / 10 < 2^127: it fits. */
    }
    if (v == 0)
        return rl_fail(why, RL_ERR_ARG, "price is zero at 18 decimals (%u decimals from the source)", decimals);
    *price_e18 = (__int128)v;
    if (exact != NULL)
        *exact = ex;
    return RL_OK;
}

rl_err price_parse_decimal(__int128 *price_e18, const char *s, size_t len, bool *exact, rl_why *why)
{
    if (len == 0 || len > PRICE_DEC_MAX)
        return rl_fail(why, RL_ERR_DECODE, "decimal of %zu characters, expected 1 to %d", len, PRICE_DEC_MAX);
    size_t i = 0, int_digits = 0, frac_digits = 0;
    unsigned __int128 m = 0;
    bool dropped_nonzero = false;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++, int_digits++) {
        if (m > (I128_MAX - 9) / 10)
            return rl_fail(why, RL_ERR_OVERFLOW, "decimal \"%.*s\" does not fit", (int)len, s);
        m = m * 10 + (unsigned)(s[i] - '0');
    }
    if (int_digits == 0)
        return rl_fail(why, RL_ERR_DECODE, "\"%.*s\": expected a digit at %zu", (int)len, s, i);
    if (int_digits > 1 && s[0] == '0')
        return rl_fail(why, RL_ERR_DECODE, "\"%.*s\": leading zero", (int)len, s);
    if (i < len && s[i] == '.') {
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++, frac_digits++) {
            if (frac_digits >= PRICE_DIGITS) {
                dropped_nonzero = dropped_nonzero || s[i] != '0';
                continue; /* beyond the format: truncated, as price_from_scaled does */
            }
            if (m > (I128_MAX - 9) / 10)
                return rl_fail(why, RL_ERR_OVERFLOW, "decimal \"%.*s\" does not fit", (int)len, s);
            m = m * 10 + (unsigned)(s[i] - '0');
        }
        if (frac_digits == 0)
            return rl_fail(why, RL_ERR_DECODE, "\"%.*s\": no digits after the point", (int)len, s);
    }
    if (i != len)
        return rl_fail(why, RL_ERR_DECODE, "\"%.*s\": unexpected character at %zu", (int)len, s, i);
    unsigned kept = frac_digits < PRICE_DIGITS ? (unsigned)frac_digits : PRICE_DIGITS;
    bool ex;
    rl_err err = price_from_scaled(price_e18, m, kept, &ex, why);
    if (err == RL_ERR_ARG)
        return rl_fail(why, RL_ERR_ARG, "\"%.*s\" is zero at 18 decimals", (int)len, s);
    if (err != RL_OK)
        return rl_fail(why, err, "decimal \"%.*s\" does not fit 127 bits at 18 decimals", (int)len, s);
    if (exact != NULL)
        *exact = ex && !dropped_nonzero;
    return RL_OK;
}

rl_err price_check(const char *feed, __int128 price_e18, uint64_t time_ms, uint64_t now_ms, const price_bounds *b,
                   rl_why *why)
{
    char v[64], lo[64], hi[64];
    if (time_ms == 0)
        return rl_fail(why, RL_ERR_STATE, "price of %s has no time", feed);
    if (time_ms > now_ms + PRICE_MAX_SKEW_MS)
        return rl_fail(why, RL_ERR_STATE, "price of %s is dated %llu ms in the future of the reference clock", feed,
                       (unsigned long long)(time_ms - now_ms));
    if (time_ms + b->max_age_ms < now_ms)
        return rl_fail(why, RL_ERR_STATE, "price of %s is stale: %llu ms old, the limit is %llu ms", feed,
                       (unsigned long long)(now_ms - time_ms), (unsigned long long)b->max_age_ms);
    if (price_e18 <= 0 || price_e18 < b->min_e18 || price_e18 > b->max_e18)
        return rl_fail(why, RL_ERR_STATE, "price of %s is out of range: %s not in [%s, %s]", feed,
                       e18_str(price_e18, v), e18_str(b->min_e18, lo), e18_str(b->max_e18, hi));
    return RL_OK;
}
