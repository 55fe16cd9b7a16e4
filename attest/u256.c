/*
 * u256.c - checked 256-bit arithmetic and conversions (u256.h).
 */
#include "attest/u256.h"

#include <string.h>

bool u256_is_zero(const u256 *a)
{
    return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

int u256_cmp(const u256 *a, const u256 *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->w[i] != b->w[i])
            return a->w[i] < b->w[i] ? -1 : 1;
    return 0;
}

rl_err u256_add(u256 *out, const u256 *a, const u256 *b)
{
    u256 r;
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 s = (unsigned __int128)a->w[i] + b->w[i] + carry;
        r.w[i] = (uint64_t)s;
        carry = s >> 64;
    }
    if (carry)
        return RL_ERR_OVERFLOW;
    *out = r;
    return RL_OK;
}

rl_err u256_sub(u256 *out, const u256 *a, const u256 *b)
{
    if (u256_cmp(a, b) < 0)
        return RL_ERR_FUNDS;
    u256 r;
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t d = a->w[i] - b->w[i] - borrow;
        borrow = (a->w[i] < b->w[i]) || (a->w[i] - b->w[i] < borrow);
        r.w[i] = d;
    }
    *out = r;
    return RL_OK;
}

rl_err u256_mul_u64(u256 *out, const u256 *a, uint64_t m)
{
    u256 r;
    unsigned __int128 carry = 0;
    for (int i = 0; i < 4; i++) {
        unsigned __int128 p = (unsigned __int128)a->w[i] * m + carry;
        r.w[i] = (uint64_t)p;
        carry = p >> 64;
    }
    if (carry)
        return RL_ERR_OVERFLOW;
    *out = r;
    return RL_OK;
}

void u256_to_be(uint8_t out[U256_BYTES], const u256 *a)
{
    for (int i = 0; i < 4; i++) {
        uint64_t w = a->w[3 - i];
        for (int j = 7; j >= 0; j--, w >>= 8)
            out[i * 8 + j] = (uint8_t)w;
    }
}

u256 u256_from_be(const uint8_t in[U256_BYTES])
{
    u256 r;
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 0; j < 8; j++)
            w = (w << 8) | in[i * 8 + j];
        r.w[3 - i] = w;
    }
    return r;
}

rl_err u256_from_dec(u256 *out, const char *s, rl_why *why)
{
    if (s == NULL || *s == '\0')
        return rl_fail(why, RL_ERR_DECODE, "empty number");
    if (s[0] == '0' && s[1] != '\0')
        return rl_fail(why, RL_ERR_DECODE, "'%.80s': leading zero", s);
    u256 r = u256_zero();
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return rl_fail(why, RL_ERR_DECODE, "'%.80s': '%c' at position %zu is not a digit", s, *p,
                           (size_t)(p - s));
        u256 digit = u256_from_u64((uint64_t)(*p - '0'));
        if (u256_mul_u64(&r, &r, 10) != RL_OK || u256_add(&r, &r, &digit) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "'%.80s' exceeds 2^256-1", s);
    }
    *out = r;
    return RL_OK;
}

char *u256_to_dec(const u256 *a, char buf[U256_DEC_MAX])
{
    /* Repeated division by 10^19 (the largest power of ten in 64 bits), limb by limb. */
    static const uint64_t chunk = UINT64_C(10000000000000000000);
    u256 v = *a;
    char tmp[U256_DEC_MAX];
    size_t n = 0;
    do {
        unsigned __int128 rem = 0;
        for (int i = 3; i >= 0; i--) {
            unsigned __int128 cur = (rem << 64) | v.w[i];
            v.w[i] = (uint64_t)(cur / chunk);
            rem = cur % chunk;
        }
        uint64_t r = (uint64_t)rem;
        for (int d = 0; d < 19; d++) {
            tmp[n++] = (char)('0' + r % 10);
            r /= 10;
            if (u256_is_zero(&v) && r == 0)
                break;
        }
    } while (!u256_is_zero(&v));
    /* tmp holds digits least significant first, possibly with leading zeros at the end. */
    while (n > 1 && tmp[n - 1] == '0')
        n--;
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return buf;
}
