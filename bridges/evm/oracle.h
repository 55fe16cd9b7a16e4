/*
 * oracle.h - a Chainlink-style price aggregator read through eth_call: decimals() once, then
 * latestRoundData() at the chain's latest block, decoded strictly and checked before a node
 * signs anything (price.h says what a node may sign). A read that fails or a round that fails a
 * check is an abstention: the caller signs nothing for that feed this time.
 *
 * latestRoundData() returns five ABI words (32 bytes each, big-endian), 160 bytes exactly:
 *
 *   offset  size  field            ABI type  accepted when
 *        0    32  roundId          uint80    the 22 high bytes are zero
 *       32    32  answer           int256    a two's complement value that fits in 128 bits
 *                                            (sign-extended), and above zero (oracle_round_price)
 *       64    32  startedAt        uint256   fits in 64 bits (seconds since the epoch)
 *       96    32  updatedAt        uint256   fits in 64 bits, not zero (oracle_round_price)
 *      128    32  answeredInRound  uint80    the 22 high bytes are zero, >= roundId
 *
 * decimals() returns one word holding a uint8 (the 31 high bytes zero). The answer is
 * answer / 10^decimals USD per unit; it becomes price_e18 by price_from_scaled (exact up to 18
 * decimals, truncated toward zero beyond).
 *
 * Staleness is judged against the chain's own clock, the timestamp of the block the call was
 * made at, not the node's: a chain whose blocks stopped makes the call "now" its last block, and
 * the hub's own age limit (on its wall clock) still applies to the signed time. The signed time
 * is updatedAt, in ms.
 */
#ifndef RL_ORACLE_H
#define RL_ORACLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/price.h"
#include "bridges/evm/rpc.h"

#define ORACLE_WORD_BYTES 32
#define ORACLE_ROUND_BYTES (5 * ORACLE_WORD_BYTES)
#define ORACLE_SELECTOR_BYTES 4

typedef struct oracle_round {
    unsigned __int128 round_id;          /* < 2^80 */
    __int128 answer;                     /* may be <= 0 here: refused by oracle_round_price */
    uint64_t started_at, updated_at;     /* seconds */
    unsigned __int128 answered_in_round; /* < 2^80 */
} oracle_round;

/* The first four bytes of keccak256(signature), e.g. "latestRoundData()" -> feaf968c. */
void oracle_selector(uint8_t out[ORACLE_SELECTOR_BYTES], const char *signature);

/* Strict decoders of the return data (layouts above). RL_ERR_DECODE naming the field, or
 * RL_ERR_OVERFLOW for an answer that is valid ABI but does not fit 128 bits. */
RL_MUST_USE rl_err oracle_decode_round(oracle_round *r, const uint8_t *data, size_t len, rl_why *why);
/* The inverse of oracle_decode_round: the canonical 160 bytes of r (round ids below 2^80). */
void oracle_encode_round(uint8_t out[ORACLE_ROUND_BYTES], const oracle_round *r);
RL_MUST_USE rl_err oracle_decode_decimals(uint8_t *decimals, const uint8_t *data, size_t len, rl_why *why);

/* The round's price if the node may sign it: answer > 0, answeredInRound >= roundId,
 * updatedAt != 0, the converted value passes price_check(feed, value, updatedAt x 1000,
 * chain_now_s x 1000, b). *exact is false when conversion truncated (may be NULL). Pure. */
RL_MUST_USE rl_err oracle_round_price(const oracle_round *r, uint8_t decimals, uint64_t chain_now_s,
                                      const price_bounds *b, const char *feed, __int128 *price_e18, bool *exact,
                                      rl_why *why);

/* One aggregator on one chain. */
typedef struct oracle_agg oracle_agg;

/* Reads decimals() of the contract at address through c (borrowed: it must outlive the reader).
 * A contract without code, or one that does not answer decimals() as a uint8, fails the open. */
RL_MUST_USE rl_err oracle_agg_open(oracle_agg **out, rpc *c, const uint8_t address[RPC_ADDR_BYTES], rl_why *why);
void oracle_agg_close(oracle_agg *a);
uint8_t oracle_agg_decimals(const oracle_agg *a);

typedef struct oracle_reading {
    __int128 price_e18;
    uint64_t time_ms;     /* updatedAt x 1000 */
    bool exact;           /* false: truncated to 18 decimals */
    unsigned __int128 round_id;
    uint64_t block;       /* the block it was read at */
    uint64_t block_time_s;
} oracle_reading;

/* Asks the latest block, then latestRoundData() at that block, and checks the round
 * (oracle_round_price). Every failure is an abstention; why names the feed and the check or the
 * RPC failure (endpoints without credentials, rpc.h). */
RL_MUST_USE rl_err oracle_agg_read(oracle_agg *a, const char *feed, const price_bounds *b, oracle_reading *out,
                                   rl_why *why);

#endif
