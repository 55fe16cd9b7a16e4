/*
 * fixed.c - decimal strings <-> scaled integers, and the compact forms <-> GMP.
 */
#include "collateral/fixed.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define POW10_MAX (2 * FIXED_MAX_DECIMALS + 60) /* see fixed.h */

static mpz_t pow10_table[POW10_MAX + 1];
static pthread_once_t pow10_once = PTHREAD_ONCE_INIT;

static void pow10_build(void)
{
    for (unsigned i = 0; i <= POW10_MAX; i++) {
        mpz_init(pow10_table[i]);
        mpz_ui_pow_ui(pow10_table[i], 10, i);
    }
}

const mpz_t *fixed_pow10(unsigned n)
{
    pthread_once(&pow10_once, pow10_build);
    return n <= POW10_MAX ? &pow10_table[n] : NULL;
}

static const unsigned long POW10_UL[20] = {1ul, 10ul, 100ul, 1000ul, 10000ul, 100000ul, 1000000ul, 10000000ul,
                                           100000000ul, 1000000000ul, 10000000000ul, 100000000000ul,
                                           1000000000000ul, 10000000000000ul, 100000000000000ul,
                                           1000000000000000ul, 10000000000000000ul, 100000000000000000ul,
                                           1000000000000000000ul, 10000000000000000000ul};
_Static_assert(sizeof(unsigned long) == 8, "10^19 fits an unsigned long");

/* q = x / 10^n, each step rounding as div does. */
static void div_pow10(mpz_ptr q, mpz_srcptr x, unsigned n, unsigned long (*div)(mpz_ptr, mpz_srcptr, unsigned long))
{
    if (n == 0)
        mpz_set(q, x);
    for (mpz_srcptr src = x; n > 0; src = q) {
        unsigned k = n < 19 ? n : 19;
        div(q, src, POW10_UL[k]);
        n -= k;
    }
}

void fixed_fdiv_pow10(mpz_t q, const mpz_t x, unsigned n) { div_pow10(q, x, n, mpz_fdiv_q_ui); }

void fixed_cdiv_pow10(mpz_t q, const mpz_t x, unsigned n) { div_pow10(q, x, n, mpz_cdiv_q_ui); }

/* Longest accepted input: enough for a uint256 with 36 fractional digits and a sign. */
#define PARSE_MAX 120

rl_err fixed_parse_mpz(mpz_t out, const char *s, unsigned digits, bool allow_neg, rl_why *why)
{
    size_t len = strlen(s);
    if (len == 0)
        return rl_fail(why, RL_ERR_ARG, "\"\" is not a decimal number");
    if (len > PARSE_MAX)
        return rl_fail(why, RL_ERR_ARG, "a decimal of %zu characters is too long (at most %d)", len, PARSE_MAX);
    const char *p = s;
    bool neg = *p == '-';
    if (neg) {
        if (!allow_neg)
            return rl_fail(why, RL_ERR_ARG, "\"%s\" is negative", s);
        p++;
    }
    char digits_buf[PARSE_MAX + 64];
    size_t n = 0, int_digits = 0, frac_digits = 0;
    bool point = false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9') {
            digits_buf[n++] = *p;
            if (point)
                frac_digits++;
            else
                int_digits++;
        } else if (*p == '.' && !point) {
            point = true;
        } else {
            return rl_fail(why, RL_ERR_ARG, "\"%s\" is not a decimal number (unexpected '%c')", s, *p);
        }
    }
    if (int_digits == 0 || (point && frac_digits == 0))
        return rl_fail(why, RL_ERR_ARG, "\"%s\" is not a decimal number (digits must surround the point)", s);
    if (frac_digits > digits)
        return rl_fail(why, RL_ERR_ARG, "\"%s\" has %zu decimals; at most %u allowed here", s, frac_digits, digits);
    for (size_t i = frac_digits; i < digits; i++)
        digits_buf[n++] = '0';
    digits_buf[n] = '\0';
    mpz_set_str(out, digits_buf, 10);
    if (neg)
        mpz_neg(out, out);
    return RL_OK;
}

rl_err fixed_parse_e18(i128 *out, const char *s, bool allow_neg, rl_why *why)
{
    mpz_t v;
    mpz_init(v);
    rl_err err = fixed_parse_mpz(v, s, FIXED_E18_DIGITS, allow_neg, why);
    if (err == RL_OK && fixed_get_i128(out, v) != RL_OK)
        err = rl_fail(why, RL_ERR_OVERFLOW, "\"%s\" is out of range (magnitude below 1.7e20)", s);
    mpz_clear(v);
    return err;
}

rl_err fixed_parse_base(u256 *out, const char *s, unsigned decimals, rl_why *why)
{
    mpz_t v;
    mpz_init(v);
    rl_err err = fixed_parse_mpz(v, s, decimals, false, why);
    if (err == RL_OK && fixed_get_u256(out, v) != RL_OK)
        err = rl_fail(why, RL_ERR_OVERFLOW, "\"%s\" does not fit a uint256 in base units", s);
    mpz_clear(v);
    return err;
}

char *fixed_format_mpz(const mpz_t v, unsigned digits, bool fixed, char buf[FIXED_STR_MAX])
{
    char raw[FIXED_STR_MAX + 8];
    mpz_t a;
    mpz_init(a);
    mpz_abs(a, v);
    if (mpz_sizeinbase(a, 10) > 80) { /* beyond anything money reaches; say so rather than cut */
        mpz_clear(a);
        snprintf(buf, FIXED_STR_MAX, "overflow");
        return buf;
    }
    mpz_get_str(raw, 10, a);
    mpz_clear(a);
    size_t n = strlen(raw);
    char *o = buf;
    if (mpz_sgn(v) < 0)
        *o++ = '-';
    if (n <= digits) { /* 0.000xyz */
        *o++ = '0';
        if (digits > 0)
            *o++ = '.';
        for (size_t i = n; i < digits; i++)
            *o++ = '0';
        memcpy(o, raw, n);
        o += n;
    } else {
        memcpy(o, raw, n - digits);
        o += n - digits;
        if (digits > 0) {
            *o++ = '.';
            memcpy(o, raw + n - digits, digits);
            o += digits;
        }
    }
    *o = '\0';
    if (!fixed && digits > 0) { /* trim trailing zeros, then a bare point */
        while (o[-1] == '0')
            *--o = '\0';
        if (o[-1] == '.')
            *--o = '\0';
    }
    return buf;
}

char *fixed_format_i128(i128 v, unsigned digits, bool fixed, char buf[FIXED_STR_MAX])
{
    mpz_t z;
    mpz_init(z);
    fixed_set_i128(z, v);
    fixed_format_mpz(z, digits, fixed, buf);
    mpz_clear(z);
    return buf;
}

char *fixed_format_base(const u256 *v, unsigned decimals, char buf[FIXED_STR_MAX])
{
    mpz_t z;
    mpz_init(z);
    fixed_set_u256(z, v);
    fixed_format_mpz(z, decimals, false, buf);
    mpz_clear(z);
    return buf;
}

/* The conversions below move 64-bit limbs directly (mpz_import and mpz_export were a quarter of
 * the margin sweep's time). */
#if GMP_LIMB_BITS != 64 || GMP_NAIL_BITS != 0
#error "fixed.c moves 64-bit limbs without nails"
#endif

/* out = sign x the n limbs l (high zero limbs dropped). */
static void set_limbs(mpz_t out, const uint64_t *l, mp_size_t n, bool neg)
{
    while (n > 0 && l[n - 1] == 0)
        n--;
    mp_limb_t *d = mpz_limbs_write(out, n > 0 ? n : 1);
    for (mp_size_t i = 0; i < n; i++)
        d[i] = l[i];
    mpz_limbs_finish(out, neg ? -n : n);
}

void fixed_set_i128(mpz_t out, i128 v)
{
    unsigned __int128 mag = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    uint64_t w[2] = {(uint64_t)mag, (uint64_t)(mag >> 64)};
    set_limbs(out, w, 2, v < 0);
}

void fixed_set_u256(mpz_t out, const u256 *v) { set_limbs(out, v->w, 4, false); }

rl_err fixed_get_i128(i128 *out, const mpz_t v)
{
    if (mpz_size(v) > 2 || mpz_getlimbn(v, 1) >> 62 != 0) /* |v| >= 2^126 */
        return RL_ERR_OVERFLOW;
    i128 mag = (i128)(((unsigned __int128)mpz_getlimbn(v, 1) << 64) | mpz_getlimbn(v, 0));
    *out = mpz_sgn(v) < 0 ? -mag : mag;
    return RL_OK;
}

rl_err fixed_get_u256(u256 *out, const mpz_t v)
{
    if (mpz_sgn(v) < 0 || mpz_size(v) > 4)
        return RL_ERR_OVERFLOW;
    for (int i = 0; i < 4; i++)
        out->w[i] = mpz_getlimbn(v, i);
    return RL_OK;
}
