/*
 * args.h - command-line values shared by the `relayer` subcommands: an EVM address and a whole
 * number, each refused with a message naming the option and the text it was given.
 */
#ifndef RL_ARGS_H
#define RL_ARGS_H

#include <stdint.h>

#include "attest/error.h"
#include "attest/keys.h"

/* A 0x-prefixed 20-byte address (either case); RL_ERR_ARG naming opt otherwise. */
RL_MUST_USE rl_err arg_addr(uint8_t out[EVM_ADDR_BYTES], const char *s, const char *opt, rl_why *why);

/* A decimal whole number that fits 64 bits (no sign, no blanks); RL_ERR_ARG naming opt otherwise. */
RL_MUST_USE rl_err arg_u64(uint64_t *out, const char *s, const char *opt, rl_why *why);

#endif
