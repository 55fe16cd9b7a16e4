/*
 * price.h - signed price observations and their aggregation into one logged price.
 *
 * Each relayer node reads its price sources (oracle.h of the node: an on-chain aggregator, an
 * HTTP feed) and signs what it read, per feed. The hub keeps each member's latest observation
 * per feed and, once `threshold` members agree within a maximum deviation and none is stale,
 * logs them together as one PRICE record; the calculator re-checks the same rule over the
 * record (price_aggregate), so a price moves money only when a quorum signed it and the log
 * proves it. The price of a record is the lower median of its observations: with an honest
 * majority it lies between two honest values, whatever the others say.
 *
 * Price observation, version 1 (48 bytes, integers big-endian):
 *
 *   offset  size  field
 *        0     1  version      = 1
 *        1    16  feed         name, [A-Za-z0-9._-], NUL-padded (e.g. "ETH")
 *       17    16  price_e18    USD per whole unit x 10^18, > 0
 *       33     8  time_ms      when the source says the value is from, Unix ms
 *       41     7  reserved     zero
 *
 * content hash = BLAKE2b-256(personal "rly.price.v1", bytes)     -- what a node signs
 *
 * PRICE record payload (record.h): feed (16) | n (1) | n x (observation (48) | member (2) |
 * sig (64)), members strictly ascending, every observation of that feed.
 *
 * What a node may sign (the oracle reader, bridges/evm/oracle.h and bridges/http/httpfeed.h,
 * applies these before it signs anything):
 *   - price_e18 is the source's value converted exactly when the source has at most 18 decimals.
 *     A source with more decimals is truncated toward zero to 18 (price_from_scaled): neither
 *     direction is safe for every account (a low price flatters shorts, a high one longs), the
 *     error is below one unit of the format (10^-18 USD), far inside any deviation limit, and
 *     every honest node truncating the same source value signs the same bytes. A value that
 *     truncates to zero, or that does not fit, is refused, never signed.
 *   - the value is within the feed's configured [min, max], and its time is neither older than
 *     the feed's maximum age nor more than PRICE_MAX_SKEW_MS ahead of the reference clock
 *     (price_check).
 */
#ifndef RL_PRICE_H
#define RL_PRICE_H

#include <stdbool.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"

#define PRICE_VERSION 1
#define PRICE_OBS_BYTES 48
#define PRICE_FEED_BYTES 16
#define PRICE_SIGNED_BYTES (PRICE_OBS_BYTES + 2 + ED25519_SIG_BYTES)
/* Observations dated this far in the future of the hub's clock are refused. */
#define PRICE_MAX_SKEW_MS 5000

typedef struct price_obs {
    char feed[PRICE_FEED_BYTES + 1];
    __int128 price_e18;
    uint64_t time_ms;
} price_obs;

typedef struct signed_price {
    uint8_t bytes[PRICE_OBS_BYTES];
    uint16_t member;
    uint8_t sig[ED25519_SIG_BYTES];
} signed_price;

/* A feed, market or asset name as it travels: 1..16 of [A-Za-z0-9._-], NUL-padded. */
RL_MUST_USE rl_err name16_put(uint8_t out[PRICE_FEED_BYTES], const char *name, const char *what, rl_why *why);
RL_MUST_USE rl_err name16_get(char out[PRICE_FEED_BYTES + 1], const uint8_t in[PRICE_FEED_BYTES], const char *what,
                              rl_why *why);

RL_MUST_USE rl_err price_encode(uint8_t out[PRICE_OBS_BYTES], const price_obs *p, rl_why *why);
/* Strict: version, name, price > 0, zero reserved bytes, exact length. */
RL_MUST_USE rl_err price_decode(price_obs *p, const uint8_t *in, size_t len, rl_why *why);
void price_content_hash(uint8_t out[HASH_BYTES], const uint8_t enc[PRICE_OBS_BYTES]);
void price_sign(signed_price *sp, const uint8_t enc[PRICE_OBS_BYTES], uint16_t member, const node_key *k);

/* Value = mantissa / 10^decimals as price_e18, exact when decimals <= 18, truncated toward zero
 * otherwise (*exact says which; may be NULL). RL_ERR_OVERFLOW when it does not fit below 2^127,
 * RL_ERR_ARG when it is zero. */
RL_MUST_USE rl_err price_from_scaled(__int128 *price_e18, unsigned __int128 mantissa, unsigned decimals, bool *exact,
                                     rl_why *why);

/* Decimal text as a source serves it, len bytes (need not be NUL-terminated): "3000", "3000.25",
 * "0.000123". Strict: digits with at most one point that has digits on both sides, no sign, no
 * exponent, no white space, no leading zeros ("0.5" but not "00.5" or ".5"), at most
 * PRICE_DEC_MAX characters. Converted as price_from_scaled does (beyond 18 decimals: truncated
 * toward zero, *exact false). RL_ERR_DECODE for text that is not such a decimal, RL_ERR_ARG for
 * zero, RL_ERR_OVERFLOW for a value that does not fit. */
#define PRICE_DEC_MAX 80
RL_MUST_USE rl_err price_parse_decimal(__int128 *price_e18, const char *s, size_t len, bool *exact, rl_why *why);

/* The checks a node makes on a value read from a source before it signs it. */
typedef struct price_bounds {
    __int128 min_e18, max_e18; /* accepted range, inclusive */
    uint64_t max_age_ms;       /* the value's time may be at most this far behind now */
} price_bounds;

/* RL_OK when price_e18 is in [min, max] and time_ms is not zero, not older than max_age_ms at
 * now_ms and not more than PRICE_MAX_SKEW_MS ahead of it; RL_ERR_STATE otherwise, why naming
 * the feed, the check and the numbers ("stale", "in the future", "out of range"). now_ms is
 * the reference clock of the source: the chain's latest block for an on-chain feed, the node's
 * wall clock for an HTTP one. */
RL_MUST_USE rl_err price_check(const char *feed, __int128 price_e18, uint64_t time_ms, uint64_t now_ms,
                               const price_bounds *b, rl_why *why);

/* The rule a logged price must meet, checked by the hub before it logs and by the calculator
 * when it applies. */
typedef struct price_rule {
    uint16_t threshold;     /* observations needed (distinct members) */
    __int128 max_dev_e18;   /* every value within this fraction of the median */
    uint64_t max_age_ms;    /* no observation older than this at now_ms */
} price_rule;

/* Whether |value - median| <= max_dev x median, exactly. */
bool price_within(__int128 value_e18, __int128 median_e18, __int128 max_dev_e18);

/* The lower median of n observations (n >= 1, each of one feed) if they meet the rule at now_ms;
 * *oldest_ms gets the oldest observation time (a price is as fresh as its oldest part).
 * RL_ERR_QUORUM when n < threshold, RL_ERR_STATE (why says which and by how much) when one is
 * stale, from the future or too far from the median. */
RL_MUST_USE rl_err price_aggregate(const price_obs *obs, size_t n, const price_rule *rule, uint64_t now_ms,
                                   __int128 *median_e18, uint64_t *oldest_ms, rl_why *why);

#endif
