/*
 * bench_liq.h - the liquidation bench's world (cmd_bench_liq.c times it; bench_liq.c builds it):
 * a hub's ledger and write path, its price rule, instruction builder and co-signature
 * collector, the margin calculator, and three nodes, each an audited replica with its own
 * judgement (cosigner.h), all in this process and called directly.
 */
#ifndef RL_BENCH_LIQ_H
#define RL_BENCH_LIQ_H

#include <pthread.h>

#include "collateral/calc.h"
#include "db/ingest.h"
#include "relayer/cosigner.h"
#include "relayer/hubcosig.h"
#include "relayer/hubinstr.h"
#include "relayer/hubprice.h"
#include "relayer/replica.h"

#define LIQ_NODES 3
#define LIQ_THRESHOLD 2
#define LIQ_E18 1000000000000000000ull
#define LIQ_USDC_UNIT 1000000ull
#define LIQ_CHAIN_L1 1
#define LIQ_CHAIN_L2 10
#define LIQ_PRICE_BEFORE 2000
#define LIQ_PRICE_TICK 1850
#define LIQ_RISKY_EVERY 100 /* 1 % of accounts */
#define LIQ_RETRY_MS 30000

/* Records the hub committed and the nodes have not taken yet (the calculator takes them too
 * where it matters: the set-up and the tick). */
typedef struct feed {
    uint8_t *buf;
    size_t used, cap;
    struct span {
        size_t off, len;
    } *at;
    size_t n, capn;
    uint64_t first; /* seq of record 0 */
} feed;

typedef struct node {
    uint16_t member;
    node_key *key;
    char *dir;
    replica *r;
    cosigner *judge;
    const feed *f;
    /* instructions to sign, then their signatures for the hub */
    uint64_t *seqs;
    uint8_t (*digests)[HASH_BYTES];
    size_t nto_sign, capseqs, capdigests;
    hubcosig_sig *out;
    size_t nout, capout;
    uint64_t refused, not_reproduced, signed_n;
    rl_err err;
    rl_why why;
} node;

typedef struct liq {
    pool *p;
    char *dir;
    store *st;
    ingest *g;
    relset set;
    mg_risk risk;
    node_key *venue, *calc_key;
    node nodes[LIQ_NODES];
    calc *c;
    decision *decs;
    size_t ndecs, capdecs;
    hubinstr *instr;
    hubcosig *cosig;
    hubprice *prices;
    feed f[2]; /* f[cur] fills with what the hub commits while the nodes take the other */
    unsigned cur;
    uint64_t fed; /* the last record copied into a feed */
    bool nomem;
    /* the timed run */
    uint64_t t0, *lat_ns;
    size_t nbundles, caplat;
    uint64_t instructions, decisions_logged, sigs_checked_taken, sigs_not_needed;
    /* where the time went (ns): the tick logged; the calculator deciding while the nodes take
     * the tick; the hub logging decisions and instructions; the hub's checks and bundles; the
     * hub waiting for the nodes' rounds (the rest of theirs overlaps the hub's work) */
    uint64_t ns_tick, ns_decide, ns_hub_log, ns_hub_bundle, ns_nodes_wait;
} liq;

/* The world with n accounts, everyone caught up (L->p and L->dir set by the caller). */
RL_MUST_USE rl_err liq_setup(liq *L, uint64_t naccounts, rl_why *why);
void liq_fini(liq *L);

/* The hub commits what it queued; the records go to the feed the nodes take next. */
RL_MUST_USE rl_err liq_commit(liq *L, rl_why *why);
/* Every node takes the filled feed (its replica checks and applies it; its judgement passes
 * instructions, which it signs) on a thread of its own, while the hub's commits fill the other;
 * join empties the feed the nodes took. */
RL_MUST_USE rl_err liq_nodes_start(liq *L, pthread_t th[LIQ_NODES]);
RL_MUST_USE rl_err liq_nodes_join(liq *L, pthread_t th[LIQ_NODES], rl_why *why);
RL_MUST_USE rl_err liq_nodes_round(liq *L, rl_why *why);
/* The margin calculator takes a feed; its decisions go to L->decs. */
RL_MUST_USE rl_err liq_calc_feed(liq *L, const feed *f, rl_why *why);
/* Every node's price observation of feed, through the hub's price rule, queued as a PRICE. */
RL_MUST_USE rl_err liq_log_price(liq *L, const char *feed_name, uint64_t whole_usd, rl_why *why);

#endif
