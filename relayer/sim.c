/*
 * sim.c - deterministic keys, sets and deposit streams for `relayer dev simulate` and benches.
 */
#include "relayer/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "attest/bytes.h"
#include "attest/hash.h"
#include "relayer/files.h"
#include "relayer/progress.h"

#define BLOCK_EVENTS 64 /* events per interleaving block */

/* Derives 32 bytes from (seed, label, a, b). */
static void derive(uint8_t out[32], uint64_t seed, const char *label, uint64_t a, uint64_t b)
{
    uint8_t buf[8 + 16 + 8 + 8] = {0};
    be64_put(buf, seed);
    strncpy((char *)buf + 8, label, 16);
    be64_put(buf + 24, a);
    be64_put(buf + 32, b);
    hash_domain(out, HASH_DOMAIN_DEVSEED, buf, sizeof buf);
}

static uint64_t derive64(uint64_t seed, const char *label, uint64_t a, uint64_t b)
{
    uint8_t h[32];
    derive(h, seed, label, a, b);
    return be64_get(h);
}

static rl_err make_key(sim *s, unsigned i, rl_why *why)
{
    char name[16];
    uint8_t ed[32], sk[32];
    snprintf(name, sizeof name, "node%u", i + 1);
    derive(ed, s->o.seed, "ed25519", i, 0);
    /* A derived scalar is invalid with negligible probability; try the next counter then. */
    for (uint64_t ctr = 0;; ctr++) {
        derive(sk, s->o.seed, "secp256k1", i, ctr);
        rl_err err = node_key_from_secrets(&s->keys[i], name, ed, sk, why);
        if (err == RL_OK || ctr == 8)
            return err;
    }
}

static void add_member(relset *set, const sim *s, unsigned key)
{
    relset_member *m = &set->members[set->n++];
    m->id = (uint16_t)(key + 1);
    m->pub = *node_key_pub(s->keys[key]);
}

rl_err sim_init(sim *s, const sim_opts *o, rl_why *why)
{
    memset(s, 0, sizeof *s);
    s->o = *o;
    if (o->nodes == 0 || o->nodes >= RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_ARG, "--nodes must be 1..%d", RELSET_MAX_MEMBERS - 1);
    s->nkeys = o->nodes + 1;
    for (unsigned i = 0; i < s->nkeys; i++) {
        rl_err err = make_key(s, i, why);
        if (err != RL_OK) {
            sim_fini(s);
            return err;
        }
    }
    s->genesis.version = 1;
    s->genesis.threshold = (uint16_t)o->threshold;
    for (unsigned i = 0; i < o->nodes; i++)
        add_member(&s->genesis, s, i);
    /* A venue key derived from the seed, pinned in both sets (attest/admit.h), as an operator's. */
    uint8_t venue_seed[32], venue_pk[crypto_sign_PUBLICKEYBYTES], venue_sk[crypto_sign_SECRETKEYBYTES];
    derive(venue_seed, s->o.seed, "venue", 0, 0);
    crypto_sign_seed_keypair(venue_pk, venue_sk, venue_seed);
    sodium_memzero(venue_sk, sizeof venue_sk);
    rl_err err = relset_add_venue(&s->genesis, "venue", venue_pk, why);
    if (err == RL_OK)
        err = relset_validate(&s->genesis, why);
    if (err != RL_OK) {
        sim_fini(s);
        return err;
    }
    /* Version 2: the last node retires, the spare joins. */
    s->rotated.version = 2;
    s->rotated.threshold = (uint16_t)o->threshold;
    for (unsigned i = 0; i + 1 < o->nodes; i++)
        add_member(&s->rotated, s, i);
    add_member(&s->rotated, s, o->nodes);
    s->rotated.nvenues = s->genesis.nvenues; /* a rotation keeps the venues unless it says otherwise */
    memcpy(s->rotated.venues, s->genesis.venues, sizeof s->rotated.venues);
    s->rotation.set = s->rotated;
    uint8_t digest[HASH_BYTES];
    if ((err = relset_digest(&s->rotated, digest)) != RL_OK) {
        sim_fini(s);
        return err;
    }
    s->rotation.sigs.n = (uint8_t)o->threshold;
    for (unsigned i = 0; i < o->threshold; i++) {
        s->rotation.sigs.e[i].member = s->genesis.members[i].id;
        node_key_sign(s->keys[i], s->rotation.sigs.e[i].sig, digest, sizeof digest);
    }
    return RL_OK;
}

void sim_fini(sim *s)
{
    for (unsigned i = 0; i < s->nkeys; i++)
        node_key_free(s->keys[i]);
    s->nkeys = 0;
}

bool sim_is_conflict(const sim *s, uint64_t i)
{
    if (s->o.conflicts == 0 || s->o.events == 0)
        return false;
    /* Evenly spaced: event floor(k * events / (conflicts + 1)) for k = 1..conflicts. */
    uint64_t c = s->o.conflicts + 1;
    for (uint64_t k = (i * c) / s->o.events; k <= (i * c) / s->o.events + 1; k++)
        if (k >= 1 && k <= s->o.conflicts && (k * s->o.events) / c == i)
            return true;
    return false;
}

void sim_event(const sim_opts *opts, uint64_t i, obs *o)
{
    uint64_t seed = opts->seed;
    bool l2 = i % 2 == 1;
    memset(o, 0, sizeof *o);
    o->kind = OBS_KIND_DEPOSIT;
    o->chain_id = l2 ? SIM_CHAIN_L2 : SIM_CHAIN_L1;
    sim_vault(opts, o->chain_id, o->vault);
    o->vault_seq = i / 2 + 1; /* each chain's vault numbers its own events */
    o->block_number = 1000 + o->vault_seq / 4;
    derive(o->block_hash, seed, "block", o->chain_id, o->block_number);
    derive(o->tx_hash, seed, "tx", o->chain_id, i);
    o->log_index = (uint32_t)(i % 4);
    uint64_t accounts = opts->events / 10 ? opts->events / 10 : 1;
    sim_account(opts, derive64(seed, "pick", i, 0) % accounts, o->account);
    uint64_t r = derive64(seed, "amount", i, 0);
    if (derive64(seed, "asset", i, 0) % 2 == 0) {
        /* native coin, wei: up to 10 ETH */
        o->amount = u256_from_u64(r % UINT64_C(10000000000000000000) + 1);
    } else {
        /* a USDC-like token, 6 decimals: up to 100,000 */
        sim_usdc(opts, o->chain_id, o->asset);
        o->amount = u256_from_u64(r % UINT64_C(100000000000) + 1);
    }
}

struct sign_job {
    const node_key *key;
    uint16_t member;
    uint8_t enc[OBS_BYTES];
    signed_obs *out;
};

static void sign_fn(void *ctx, size_t begin, size_t end)
{
    struct sign_job *jobs = ctx;
    for (size_t i = begin; i < end; i++)
        obs_sign(jobs[i].out, jobs[i].enc, jobs[i].member, jobs[i].key);
}

bool sim_is_equivocation(const sim *s, uint64_t i)
{
    return s->o.equivocators > 0 && derive64(s->o.seed, "equivocate", i, 0) % SIM_EQUIVOCATE_ONE_IN == 0;
}

/* Queues the signing of event i by the member at position node of its set; wrong: the second
 * content (amount + 1) a faulty or reorged node signs. */
static rl_err queue_sign(const sim *s, uint64_t i, unsigned node, bool wrong, struct sign_job *j, signed_obs *out,
                         rl_why *why)
{
    bool rotated = s->o.rotate_at != 0 && i >= s->o.rotate_at;
    const relset *set = rotated ? &s->rotated : &s->genesis;
    obs o;
    sim_event(&s->o, i, &o);
    if (wrong) {
        u256 one = u256_from_u64(1);
        if (u256_add(&o.amount, &o.amount, &one) != RL_OK)
            return rl_fail(why, RL_ERR_OVERFLOW, "simulated amount overflow");
    }
    j->key = s->keys[set->members[node].id - 1];
    j->member = set->members[node].id;
    j->out = out;
    return obs_encode(j->enc, &o, why);
}

rl_err sim_stream(const sim *s, pool *p, uint64_t from, uint64_t to, signed_obs **out, size_t *n, rl_why *why)
{
    size_t count = 0;
    for (uint64_t i = from; i < to; i++)
        count += s->o.nodes + (sim_is_equivocation(s, i) ? s->o.equivocators : 0) +
                 (sim_is_conflict(s, i) ? s->o.threshold : 0);
    signed_obs *so = calloc(count ? count : 1, sizeof *so);
    struct sign_job *jobs = calloc(count ? count : 1, sizeof *jobs);
    if (so == NULL || jobs == NULL) {
        free(so);
        free(jobs);
        return RL_ERR_NOMEM;
    }
    size_t k = 0;
    rl_err err = RL_OK;
    for (uint64_t b = from; b < to && err == RL_OK; b += BLOCK_EVENTS) {
        uint64_t end = b + BLOCK_EVENTS < to ? b + BLOCK_EVENTS : to;
        /* The equivocators' second content comes before any honest signature of the event. */
        for (uint64_t i = b; i < end && err == RL_OK; i++)
            for (unsigned node = 0; node < s->o.equivocators && sim_is_equivocation(s, i) && err == RL_OK; node++,
                          k++)
                err = queue_sign(s, i, node, true, &jobs[k], &so[k], why);
        /* Every node's honest observations of the block in turn (the equivocators' too). */
        for (unsigned node = 0; node < s->o.nodes; node++)
            for (uint64_t i = b; i < end && err == RL_OK; i++, k++)
                err = queue_sign(s, i, node, false, &jobs[k], &so[k], why);
        /* After the credit, a quorum signs a second content: a late conflict. */
        for (uint64_t i = b; i < end && err == RL_OK; i++)
            for (unsigned node = 0; node < s->o.threshold && sim_is_conflict(s, i) && err == RL_OK; node++, k++)
                err = queue_sign(s, i, node, true, &jobs[k], &so[k], why);
    }
    if (err != RL_OK) {
        free(so);
        free(jobs);
        return err;
    }
    pool_run(p, sign_fn, jobs, k, 64);
    free(jobs);
    *out = so;
    *n = k;
    return RL_OK;
}

#define SIM_CHUNK_EVENTS 8192

/* Feeds events [from, to) in chunks. */
static rl_err feed(const sim *s, pool *p, ingest *g, uint64_t from, uint64_t to, progress_fn on_progress, void *ctx,
                   rl_why *why)
{
    for (uint64_t at = from; at < to; at += SIM_CHUNK_EVENTS) {
        uint64_t end = at + SIM_CHUNK_EVENTS < to ? at + SIM_CHUNK_EVENTS : to;
        signed_obs *so;
        size_t n;
        rl_err err = sim_stream(s, p, at, end, &so, &n, why);
        if (err != RL_OK)
            return err;
        err = ingest_submit(g, so, n, wall_ms(), why);
        free(so);
        if (err != RL_OK)
            return err;
        if (on_progress != NULL)
            on_progress(ctx, end, s->o.events);
    }
    return RL_OK;
}

rl_err sim_ingest(const sim *s, pool *p, ingest *g, progress_fn on_progress, void *progress_ctx, rl_why *why)
{
    uint64_t split = s->o.rotate_at != 0 && s->o.rotate_at < s->o.events ? s->o.rotate_at : s->o.events;
    rl_err err = feed(s, p, g, 0, split, on_progress, progress_ctx, why);
    if (err == RL_OK && split < s->o.events) {
        err = ingest_flush(g, wall_ms(), why);
        if (err == RL_OK && ingest_head(g)->set_version == s->genesis.version)
            err = ingest_rotate(g, &s->rotation, wall_ms(), why);
        if (err == RL_OK)
            err = feed(s, p, g, split, s->o.events, on_progress, progress_ctx, why);
    }
    if (err == RL_OK)
        err = ingest_flush(g, wall_ms(), why);
    return err;
}

rl_err sim_write_checkpoint(const sim *s, uint64_t seq, const uint8_t head[HASH_BYTES], uint32_t set_version,
                            const char *dir, rl_why *why)
{
    const relset *set = set_version == s->rotated.version && s->o.rotate_at != 0 ? &s->rotated : &s->genesis;
    checkpoint_signed cs = {.c = {.seq = seq, .set_version = set_version}};
    memcpy(cs.c.head, head, HASH_BYTES);
    if (set->version != set_version)
        return rl_fail(why, RL_ERR_STATE, "simulate: no relayer set of version %u", set_version);
    for (unsigned i = 0; i < set->n; i++) { /* member id k is key k - 1 */
        cs.sigs.e[i].member = set->members[i].id;
        checkpoint_sign(&cs.c, s->keys[set->members[i].id - 1], cs.sigs.e[i].sig);
    }
    cs.sigs.n = (uint8_t)set->n;
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.json", dir);
    return checkpoint_save(path, &cs, set, why);
}

void sim_usdc(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES])
{
    uint8_t h[32];
    derive(h, o->seed, "usdc", chain_id, 0);
    memcpy(out, h, EVM_ADDR_BYTES);
}

void sim_vault(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES])
{
    uint8_t h[32];
    derive(h, o->seed, "vault", chain_id, 0);
    memcpy(out, h, EVM_ADDR_BYTES);
}

void sim_insurance(const sim_opts *o, uint64_t chain_id, uint8_t out[EVM_ADDR_BYTES])
{
    uint8_t h[32];
    derive(h, o->seed, "insurance", chain_id, 0);
    memcpy(out, h, EVM_ADDR_BYTES);
}

void sim_account(const sim_opts *o, uint64_t k, uint8_t out[EVM_ADDR_BYTES])
{
    uint8_t h[32];
    derive(h, o->seed, "account", k, 0);
    memcpy(out, h, EVM_ADDR_BYTES);
}
