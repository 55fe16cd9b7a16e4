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

void fixed_set_i128(mpz_t out, i128 v)
{
    unsigned __int128 mag = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    uint64_t w[2] = {(uint64_t)mag, (uint64_t)(mag >> 64)};
    mpz_import(out, 2, -1, sizeof w[0], 0, 0, w);
    if (v < 0)
        mpz_neg(out, out);
}

void fixed_set_u256(mpz_t out, const u256 *v) { mpz_import(out, 4, -1, sizeof v->w[0], 0, 0, v->w); }

rl_err fixed_get_i128(i128 *out, const mpz_t v)
{
    if (mpz_sizeinbase(v, 2) > 126)
        return RL_ERR_OVERFLOW;
    uint64_t w[2] = {0, 0};
    mpz_export(w, NULL, -1, sizeof w[0], 0, 0, v);
    i128 mag = (i128)(((unsigned __int128)w[1] << 64) | w[0]);
    *out = mpz_sgn(v) < 0 ? -mag : mag;
    return RL_OK;
}

rl_err fixed_get_u256(u256 *out, const mpz_t v)
{
    if (mpz_sgn(v) < 0 || mpz_sizeinbase(v, 2) > 256)
        return RL_ERR_OVERFLOW;
    *out = u256_zero();
    mpz_export(out->w, NULL, -1, sizeof out->w[0], 0, 0, v);
    return RL_OK;
}
