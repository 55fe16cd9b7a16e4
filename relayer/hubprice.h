/*
 * hubprice.h - the hub's side of prices: each member's latest signed observation per feed, and
 * when to log a PRICE record.
 *
 * Nodes send price observations whenever they read their sources; the hub keeps the newest one
 * per (feed, member), verified. When a feed has news, the hub takes the observations that are
 * fresh at its clock, keeps those within max deviation of their median, and if `threshold`
 * members remain and the rule holds over them (price_aggregate, the very check the calculator
 * makes), logs them as one PRICE record - when the median moved, or, unmoved, at most every
 * heartbeat_ms so the logged price stays fresh while nodes keep observing. Logging the same
 * observations again would refresh nothing: a price is as old as its oldest observation.
 * The feeds are the config's, fixed at hubprice_new: an observation of any other feed is refused
 * before anything is allocated for it, so a member's key cannot grow the table (each feed holds
 * a slot per possible member, about 15 KB).
 * Pure: the caller passes time and verifies signatures.
 */
#ifndef RL_HUBPRICE_H
#define RL_HUBPRICE_H

#include "attest/record.h"
#include "attest/relset.h"

typedef struct hubprice hubprice;

typedef struct hubprice_opts {
    __int128 max_dev_e18;
    uint64_t max_age_ms;
    uint64_t heartbeat_ms;
    const char (*feeds)[PRICE_FEED_BYTES + 1]; /* the feeds taken (borrowed); duplicates count once */
    size_t nfeeds;
} hubprice_opts;

RL_MUST_USE rl_err hubprice_new(hubprice **out, const hubprice_opts *o);
/* Whether sp's feed is one the hub takes (false too for bytes that do not decode): checked
 * before its signature is, so unknown feeds cost no verification. */
bool hubprice_takes(const hubprice *h, const signed_price *sp);
/* How many feeds the table holds: always the configured ones. */
size_t hubprice_feeds(const hubprice *h);
void hubprice_free(hubprice *h);

/* Takes an observation verified against signer, the key its member held (an older one than the
 * member's latest is ignored). RL_ERR_ARG for a feed not configured. */
RL_MUST_USE rl_err hubprice_offer(hubprice *h, const signed_price *sp, const uint8_t signer[ED25519_PK_BYTES],
                                  uint64_t now_ms, rl_why *why);

/* The next PRICE payload due at now_ms under the relayer set in force, if any: returns true and
 * fills out. Only observations signed by a member of `set` with its key in `set` count. Call
 * until it returns false. */
bool hubprice_due(hubprice *h, const relset *set, uint64_t now_ms, payload_price *out);

#endif
