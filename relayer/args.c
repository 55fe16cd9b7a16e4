/*
 * args.c - command-line values shared by the subcommands (see args.h).
 */
#include "relayer/args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"

rl_err arg_addr(uint8_t out[EVM_ADDR_BYTES], const char *s, const char *opt, rl_why *why)
{
    if (s == NULL || strncmp(s, "0x", 2) != 0 || hex_decode(out, EVM_ADDR_BYTES, s + 2, opt, NULL) != RL_OK)
        return rl_fail(why, RL_ERR_ARG, "%s \"%s\": expected a 0x-prefixed 20-byte address", opt, s ? s : "");
    return RL_OK;
}

rl_err arg_u64(uint64_t *out, const char *s, const char *opt, rl_why *why)
{
    if (s == NULL || *s < '0' || *s > '9')
        return rl_fail(why, RL_ERR_ARG, "%s \"%s\": expected a whole number", opt, s ? s : "");
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return rl_fail(why, RL_ERR_ARG, "%s \"%s\": expected a whole number below 2^64", opt, s);
    *out = (uint64_t)v;
    return RL_OK;
}
