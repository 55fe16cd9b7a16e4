/*
 * fixed.h - exact decimal fixed point for money decisions.
 *
 * Every number that decides money is an integer with a documented scale; nothing is floating
 * point. Three scales are used across collateral/:
 *
 *   _e18   prices (USD per whole unit), fractions (haircut, imf, scan, fees), position sizes and
 *          USD thresholds: value x 10^18 in a signed 128-bit integer (|value| < 1.7e20).
 *   base   asset amounts in the asset's own base units (value x 10^decimals), uint256 as on chain.
 *   _u     USD results: micro-dollars (value x 10^6) in a signed 128-bit integer.
 *
 * Products such as amount x price x (1 - haircut) exceed 256 bits in the worst case, so they are
 * formed exactly in GMP integers and divided once, rounding in the direction that goes against
 * the account (values down, requirements up).
 */
#ifndef RL_FIXED_H
#define RL_FIXED_H

#include <gmp.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/u256.h"

typedef __int128 i128;

#define FIXED_E18_DIGITS 18
#define FIXED_U_DIGITS 6
#define FIXED_E18 ((i128)1000000000000000000)
/* Largest asset decimals accepted: 10^36 base units per unit still leaves room in a uint256. */
#define FIXED_MAX_DECIMALS 36
/* Longest formatted number: sign, 78 digits, point, NUL, with room to spare. */
#define FIXED_STR_MAX 96

/* Parses a decimal string ("-12.5", "3000", "0.000001") into value x 10^digits. Rejects an
 * empty string, a leading '+', a point without digits on both sides, exponents, any other
 * character, more than `digits` fractional digits (naming how many), a '-' unless allow_neg, and
 * values outside the target type. The why text names the offending string; callers prefix where. */
RL_MUST_USE rl_err fixed_parse_mpz(mpz_t out, const char *s, unsigned digits, bool allow_neg, rl_why *why);
RL_MUST_USE rl_err fixed_parse_e18(i128 *out, const char *s, bool allow_neg, rl_why *why);
RL_MUST_USE rl_err fixed_parse_base(u256 *out, const char *s, unsigned decimals, rl_why *why);

/* v / 10^digits as a decimal string into buf (FIXED_STR_MAX bytes). With fixed, exactly `digits`
 * fractional digits ("12.500000"); without, the shortest exact form ("12.5", "3"). Returns buf. */
char *fixed_format_mpz(const mpz_t v, unsigned digits, bool fixed, char buf[FIXED_STR_MAX]);
char *fixed_format_i128(i128 v, unsigned digits, bool fixed, char buf[FIXED_STR_MAX]);
char *fixed_format_base(const u256 *v, unsigned decimals, char buf[FIXED_STR_MAX]);

/* Conversions between the compact forms and GMP. fixed_get_i128 fails with RL_ERR_OVERFLOW when v
 * does not fit in 127 bits. */
void fixed_set_i128(mpz_t out, i128 v);
void fixed_set_u256(mpz_t out, const u256 *v);
RL_MUST_USE rl_err fixed_get_i128(i128 *out, const mpz_t v);
RL_MUST_USE rl_err fixed_get_u256(u256 *out, const mpz_t v);

/* 10^n as an mpz, from a table built once per process; NULL past 10^132 (twice the largest asset
 * decimals plus 60: more than any term in margin.c divides by). */
const mpz_t *fixed_pow10(unsigned n);

/* q = x / 10^n rounded down (fixed_fdiv_pow10) or up (fixed_cdiv_pow10): by single-limb
 * divisions of at most 10^19 each (floor(floor(x / a) / b) = floor(x / ab) for positive a, b,
 * and the same for ceilings), several times faster than one multi-limb division. q may be x. */
void fixed_fdiv_pow10(mpz_t q, const mpz_t x, unsigned n);
void fixed_cdiv_pow10(mpz_t q, const mpz_t x, unsigned n);

#endif
