/*
 * sim.h - a deterministic simulated relayer cluster, for the demo, benchmarks and tests.
 *
 * From a seed it derives node keys (DEV ONLY: anyone with the seed has the keys), a genesis
 * relayer set of `nodes` members with the given threshold, and a stream of deposits across two
 * chains ("l1", chain id 1, and "l2", chain id 10) and many accounts, each observed and signed by
 * every node. Signing runs on the worker pool. Optional faults: `equivocators` (the first K
 * members of the set sign a second, different content of one event in SIM_EQUIVOCATE_ONE_IN,
 * picked by the seed, before any honest signature of it, then the honest one: each is credited
 * once and logged as EQUIVOCATION evidence); `conflicts` (events on which, after the credit, the
 * first `threshold` members sign a second content, as after a reorg deeper than their
 * confirmations: a CONFLICT alert with credited = 1, the credit stands); and a relayer-set
 * rotation after `rotate_at` events (the last node retires, a new one joins).
 *
 * The stream is grouped as real node streams arrive: in blocks of events, each node's
 * observations of the block in turn.
 */
#ifndef RL_SIM_H
#define RL_SIM_H

#include "attest/keys.h"
#include "attest/obs.h"
#include "attest/pool.h"
#include "attest/record.h"
#include "attest/relset.h"
#include "db/export.h"
#include "db/ingest.h"

#define SIM_CHAIN_L1 1
#define SIM_CHAIN_L2 10

typedef struct sim_opts {
    uint64_t events;
    unsigned nodes, threshold;
    uint64_t seed;
    uint64_t conflicts; /* events a quorum signs a second content of, after the credit */
    unsigned equivocators; /* members that sign a second content first (at most threshold - 1) */
    uint64_t rotate_at; /* 0: never */
} sim_opts;

typedef struct sim {
    sim_opts o;
    unsigned nkeys; /* nodes + 1: the spare joins at the rotation */
    node_key *keys[RELSET_MAX_MEMBERS + 1];
    relset genesis, rotated;
    payload_set rotation; /* rotated, signed by a quorum of genesis */
} sim;

RL_MUST_USE rl_err sim_init(sim *s, const sim_opts *o, rl_why *why);
void sim_fini(sim *s);

/* Signed observations of events [from, to) (malloc'd, caller frees). */
RL_MUST_USE rl_err sim_stream(const sim *s, pool *p, uint64_t from, uint64_t to, signed_obs **out, size_t *n,
                              rl_why *why);

/* Feeds the whole stream through g in chunks, rotating the relayer set after rotate_at events,
 * then flushes. Resumable: events the ledger has settled are skipped by ingest, and the rotation
 * is skipped when the ledger already runs a later set. progress (may be NULL) gets events fed. */
RL_MUST_USE rl_err sim_ingest(const sim *s, pool *p, ingest *g, progress_fn on_progress, void *progress_ctx,
                              rl_why *why);

/* A quorum checkpoint (attest/checkpoint.h) of the head (seq, hash) under the set of set_version
 * (the genesis or the rotated set), signed by every member of it, written as JSON to
 * DIR/checkpoint.json: what an auditor fetches from a node after the simulated run. */
RL_MUST_USE rl_err sim_write_checkpoint(const sim *s, uint64_t seq, const uint8_t head[HASH_BYTES],
                                        uint32_t set_version, const char *dir, rl_why *why);

/* Deposit event i of the stream as an honest node sees it (even i on l1, odd i on l2); needs
 * only the options, not the keys, so a node's watcher can use it as a development chain. */
void sim_event(const sim_opts *o, uint64_t i, obs *out);

/* Whether event i gets a late second quorum (conflicts), or the equivocators' second content. */
bool sim_is_conflict(const sim *s, uint64_t i);
#define SIM_EQUIVOCATE_ONE_IN 4
bool sim_is_equivocation(const sim *s, uint64_t i);

/* The simulated USDC-like token's address on a chain, and the address of account k (0 <= k <
 * max(1, events / 10)): what a risk file and a venue need to refer to the simulated chains. */
void sim_usdc(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES]);
/* A chain's vault (the one its deposits come from) and the venue's insurance address there. */
void sim_vault(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES]);
void sim_insurance(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES]);
void sim_account(const sim_opts *o, uint64_t k, uint8_t out[EVM_ADDR_BYTES]);

#endif
