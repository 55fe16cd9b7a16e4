/*
 * hublimits.h - what keeps a hostile peer from stopping or exhausting the hub: the descriptor
 * limit raised at start, allow-lists without two entries for one name or one key, the price
 * feeds the config names, and a per-key budget of catch-up requests.
 *
 * The hub's loop (cmd_hub.c) calls these; the bus (bus.h) sets the socket options (handshake
 * interval, message size, high-water marks). Each bound has its [limits] key in hub.h.
 */
#ifndef RL_HUBLIMITS_H
#define RL_HUBLIMITS_H

#include <stdint.h>

#include "attest/keys.h"
#include "attest/price.h"
#include "collateral/spec.h"
#include "relayer/config.h"

#define HUBLIMITS_FEEDS_MAX 256 /* feeds the hub takes prices for: [prices] feeds and the risk file's */

/* Raises RLIMIT_NOFILE's soft limit to its hard limit; the limits in force after it. */
void hublimits_raise_nofile(uint64_t *soft, uint64_t *hard);

/* RL_ERR_ARG when two of one role's allow-listed .pub files (files->item[i] read into pubs[i],
 * n of them) carry one name or one key: peers are told apart by the name ZAP reports, so two
 * entries for a name would let one key pass for the other. why names the config and both files. */
RL_MUST_USE rl_err hublimits_allow_unique(const char *config, const char *role, const cfg_list *files,
                                          const node_pub *pubs, size_t n, rl_why *why);

/* The feeds the hub takes prices for: the names in `list` (separated by spaces or commas; may be
 * "") and, with a risk file, each asset's and market's feed. RL_ERR_ARG for a name longer than
 * PRICE_FEED_BYTES or more than max feeds, naming the config key. */
RL_MUST_USE rl_err hublimits_feeds(const char *config, const char *list, const mg_risk *risk,
                                   char (*out)[PRICE_FEED_BYTES + 1], size_t max, size_t *n, rl_why *why);

/* Catch-up requests per subscriber key per second: a key past its budget is not answered this
 * second (its client asks again). Names are the ZAP user ids, so the table is bounded by the
 * allow-list. */
typedef struct hublimits_rate {
    uint64_t per_second;
    struct {
        char name[NODE_NAME_MAX + 1];
        uint64_t second, used;
    } key[CFG_LIST_MAX];
    size_t n;
    uint64_t refused; /* requests over budget, for status */
} hublimits_rate;

/* Whether name may make one more request at now_ms (and counts it). */
bool hublimits_rate_take(hublimits_rate *r, const char *name, uint64_t now_ms);

#endif
