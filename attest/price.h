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
