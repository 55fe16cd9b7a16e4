/*
 * fixed_test.c - collateral/fixed.h's conversions between the compact forms (i128, u256) and GMP,
 * and its division by powers of ten in steps, each against GMP's own functions over edges and
 * random values of every width.
 */
#include <gmp.h>
#include <string.h>

#include "collateral/fixed.h"
#include "tests/testutil.h"

/* fixed.h's limb-level conversions against GMP's own import and export, over edges and random
 * values of every width. */
static void check_i128(i128 v)
{
    mpz_t got, want;
    mpz_inits(got, want, NULL);
    unsigned __int128 mag = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    uint64_t w[2] = {(uint64_t)mag, (uint64_t)(mag >> 64)};
    mpz_import(want, 2, -1, sizeof w[0], 0, 0, w);
    if (v < 0)
        mpz_neg(want, want);
    fixed_set_i128(got, v);
    cr_assert_eq(mpz_cmp(got, want), 0);
    i128 back;
    rl_err err = fixed_get_i128(&back, got);
    if (mpz_sizeinbase(want, 2) > 126) {
        cr_assert_eq(err, RL_ERR_OVERFLOW, "|v| >= 2^126 does not fit");
    } else {
        cr_assert_eq(err, RL_OK);
        cr_assert(back == v);
    }
    mpz_clears(got, want, NULL);
}

Test(fixed, limb_conversions_equal_gmp_import_and_export)
{
    const i128 top = (i128)1 << 126;
    i128 edges[] = {0, 1, -1, (i128)UINT64_MAX, -(i128)UINT64_MAX, (i128)UINT64_MAX + 1, top - 1, -(top - 1), top,
                    -top, (i128)(((unsigned __int128)1 << 127) - 1)};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_i128(edges[i]);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t y = x * 0x2545f4914f6cdd1dull;
        unsigned __int128 m = ((unsigned __int128)y << 64 | x) >> (i % 128); /* every width */
        check_i128(i & 1 ? -(i128)(m >> 1) : (i128)(m >> 1));
        u256 u = {{x, i % 3 ? y : 0, i % 5 ? x ^ y : 0, i % 7 ? y >> (i % 64) : 0}};
        mpz_t got, want;
        mpz_inits(got, want, NULL);
        mpz_import(want, 4, -1, sizeof u.w[0], 0, 0, u.w);
        fixed_set_u256(got, &u);
        cr_assert_eq(mpz_cmp(got, want), 0);
        u256 back;
        cr_assert_eq(fixed_get_u256(&back, got), RL_OK);
        cr_assert_eq(memcmp(&back, &u, sizeof u), 0);
        mpz_mul_2exp(got, got, 256 - mpz_sizeinbase(got, 2) + 1); /* one bit too many */
        cr_assert_eq(fixed_get_u256(&back, got), RL_ERR_OVERFLOW);
        mpz_neg(want, want);
        if (mpz_sgn(want) != 0)
            cr_assert_eq(fixed_get_u256(&back, want), RL_ERR_OVERFLOW, "negative");
        mpz_clears(got, want, NULL);
    }
}

Test(fixed, division_by_powers_of_ten_in_steps_equals_one_division)
{
    gmp_randstate_t rs;
    gmp_randinit_default(rs);
    gmp_randseed_ui(rs, 20261130);
    mpz_t x, got, want;
    mpz_inits(x, got, want, NULL);
    for (int i = 0; i < 20000; i++) {
        mpz_urandomb(x, rs, (mp_bitcnt_t)(i % 300));
        if (i & 1)
            mpz_neg(x, x);
        unsigned n = (unsigned)(i % 61);
        mpz_fdiv_q(want, x, *fixed_pow10(n));
        fixed_fdiv_pow10(got, x, n);
        cr_assert_eq(mpz_cmp(got, want), 0, "floor, 10^%u", n);
        mpz_cdiv_q(want, x, *fixed_pow10(n));
        mpz_set(got, x);
        fixed_cdiv_pow10(got, got, n); /* in place */
        cr_assert_eq(mpz_cmp(got, want), 0, "ceiling, 10^%u", n);
    }
    mpz_clears(x, got, want, NULL);
    gmp_randclear(rs);
}
