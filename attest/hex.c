/*
 * hex.c - hex text via libsodium's constant-time codecs (safe for secret material).
 */
#include "attest/hex.h"

#include <sodium.h>
#include <string.h>

rl_err hex_decode(uint8_t *out, size_t n, const char *s, const char *what, rl_why *why)
{
    if (s == NULL)
        return rl_fail(why, RL_ERR_DECODE, "%s: missing", what);
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    size_t len = strlen(s);
    if (len != 2 * n)
        return rl_fail(why, RL_ERR_DECODE, "%s: expected %zu hex digits, got %zu", what, 2 * n, len);
    size_t got = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, n, s, len, NULL, &got, &end) != 0 || got != n || *end != '\0')
        return rl_fail(why, RL_ERR_DECODE, "%s: not a hex string", what);
    return RL_OK;
}

char *hex_encode(char *buf, const uint8_t *in, size_t n)
{
    return sodium_bin2hex(buf, 2 * n + 1, in, n);
}

char *hex_encode_0x(char *buf, const uint8_t *in, size_t n)
{
    buf[0] = '0';
    buf[1] = 'x';
    sodium_bin2hex(buf + 2, 2 * n + 1, in, n);
    return buf;
}
