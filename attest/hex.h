/*
 * hex.h - hexadecimal text for fixed-size binary fields (keys, hashes, addresses).
 */
#ifndef RL_HEX_H
#define RL_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"

/* Decodes exactly n bytes from s: 2n hex digits, optionally prefixed by "0x". Anything else
 * (odd length, wrong length, a non-hex character) is RL_ERR_DECODE with why naming `what`. */
RL_MUST_USE rl_err hex_decode(uint8_t *out, size_t n, const char *s, const char *what, rl_why *why);

/* Writes 2n lowercase hex digits and a NUL into buf (size >= 2n+1); returns buf. */
char *hex_encode(char *buf, const uint8_t *in, size_t n);
/* Same with a "0x" prefix (buf size >= 2n+3). */
char *hex_encode_0x(char *buf, const uint8_t *in, size_t n);

#endif
