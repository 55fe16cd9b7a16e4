/*
 * u256.h - unsigned 256-bit integers for on-chain amounts.
 *
 * EVM amounts are uint256; the ledger keeps them exactly, with every addition and
 * subtraction checked. Four 64-bit limbs, least significant first. The wire and storage form is
 * 32 bytes big-endian (as in ABI encoding), so byte order compares like numeric order.
 */
#ifndef RL_U256_H
#define RL_U256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"

#define U256_BYTES 32
/* Longest decimal form: 78 digits + NUL. */
#define U256_DEC_MAX 79

typedef struct u256 {
    uint64_t w[4]; /* w[0] is the least significant limb */
} u256;

static inline u256 u256_zero(void) { return (u256){{0, 0, 0, 0}}; }
static inline u256 u256_from_u64(uint64_t v) { return (u256){{v, 0, 0, 0}}; }
bool u256_is_zero(const u256 *a);

/* -1, 0, 1 as a <, ==, > b. */
int u256_cmp(const u256 *a, const u256 *b);

/* *out = a + b; RL_ERR_OVERFLOW (and *out untouched) when the sum exceeds 2^256-1. */
RL_MUST_USE rl_err u256_add(u256 *out, const u256 *a, const u256 *b);
/* *out = a - b; RL_ERR_FUNDS (and *out untouched) when b > a. */
RL_MUST_USE rl_err u256_sub(u256 *out, const u256 *a, const u256 *b);
/* *out = a * m for a 64-bit multiplier; RL_ERR_OVERFLOW when it does not fit. */
RL_MUST_USE rl_err u256_mul_u64(u256 *out, const u256 *a, uint64_t m);

/* 32 bytes big-endian <-> u256. */
void u256_to_be(uint8_t out[U256_BYTES], const u256 *a);
u256 u256_from_be(const uint8_t in[U256_BYTES]);

/* Decimal string with no sign, no leading zeros (except "0"), digits only. Errors name the
 * offending character or the overflow in why. */
RL_MUST_USE rl_err u256_from_dec(u256 *out, const char *s, rl_why *why);
/* Writes the decimal form into buf (at least U256_DEC_MAX bytes). Returns buf. */
char *u256_to_dec(const u256 *a, char buf[U256_DEC_MAX]);

#endif
