/*
 * cmd_bench_liq.c - `relayer bench liquidation`: from a price tick to bundles ready to execute.
 *
 * Set up (not timed): a hub ledger with N accounts (default 100,000), each holding 1 ETH on
 * "l1" and USDC on "l2" by quorum-attested deposits through ingest, a cross ETH-PERP long by a
 * signed venue request, and logged ETH and USDC prices; three nodes (threshold 2), each with
 * its own audited replica of the log (replica.h) and its own calculator (cosigner.h), and the
 * margin calculator (calc.h), all caught up. Every hundredth account is leveraged so that the
 * tick - ETH from 2000 to 1850 USD - makes it liquidatable; the others stay healthy. The count
 * is asserted.
 *
 * Timed, per instruction, from the moment the hub takes the tick's price observations:
 *   tick PRICE logged -> the calculator decides LIQUIDATE (seize plan per holding), signs ->
 *   the hub checks each decision's signature (worker threads) and logs it -> the ledger files
 *   plans; the hub's builder (hubinstr.h) logs an INSTRUCTION per plan -> each node's replica
 *   checks and applies those records, its calculator reproduces each decision, and the node
 *   signs each instruction's EIP-712 digest (cosigner.h; three node threads) -> the hub checks
 *   the signatures a bundle needs on worker threads (hubcosig_offer_many) and logs each BUNDLE:
 *   bundle-ready, when its group commit is durable.
 * Decisions go through the pipeline in chunks (--chunk, default 250 accounts), so early ones
 * are bundled while later ones wait. All of it runs in this process with direct calls where
 * production has ZeroMQ between the hub, the calculator and the nodes; the code each step runs
 * is the daemons' (ingest, ledger, calc, hubinstr, replica, cosigner, hubcosig); only the
 * chains are left out (bundles are counted at the point an executor would take them).
 *
 * The bound: libsecp256k1 signing on every core, measured here before and after the timed
 * run (signatures per second with all threads busy, not one core times the cores), divided by
 * the threshold: bundles per second if making the threshold's signatures were the only cost.
 * ratio = bundles per second achieved / that bound. The JSON also gives the verify and recover
 * rates on all cores, so a reader can see the ceiling: every node signs (3 signatures per
 * instruction, as in production) and the hub checks 2, by recovery against the member's address.
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "attest/request.h"
#include "attest/vec.h"
#include "collateral/calc.h"
#include "db/ingest.h"
#include "relayer/bench.h"
#include "relayer/cmd.h"
#include "relayer/cosigner.h"
#include "relayer/progress.h"
#include "relayer/hubcosig.h"
#include "relayer/hubinstr.h"
#include "relayer/hubprice.h"
#include "relayer/replica.h"

#define NODES 3
#define THRESHOLD 2
#define E18 1000000000000000000ull
#define USDC_UNIT 1000000ull
#define CHAIN_L1 1
#define CHAIN_L2 10
#define PRICE_BEFORE 2000
#define PRICE_TICK 1850
#define RISKY_EVERY 100 /* 1 % of accounts */
#define RATE_MEASURE_NS 2000000000ull
#define RATE_JOBS 2048
#define RETRY_MS 30000

static const char USAGE[] = "usage: relayer bench liquidation [--accounts N] [--chunk ACCOUNTS]\n";

/* Vaults, insurance addresses and the USDC token of the two chains (20-byte addresses). */
#define VAULT_L1 "0x00000000000000000000000000000000000a0001"
#define VAULT_L2 "0x00000000000000000000000000000000000a000a"
#define INSURANCE_L1 "0x00000000000000000000000000000000000e0001"
#define INSURANCE_L2 "0x00000000000000000000000000000000000e000a"
#define USDC_L2 "0x00000000000000000000000000000000000c000a"

/* The risk parameters every node and the hub hold; a long max_age so the set-up's prices stay
 * fresh however long loading takes on a busy machine. */
static const char RISK[] =
    "{\"chains\": {\"l1\": {\"chain_id\": 1, \"vault\": \"" VAULT_L1 "\", \"insurance\": \"" INSURANCE_L1 "\","
    "                     \"deadline_s\": 600},"
    "            \"l2\": {\"chain_id\": 10, \"vault\": \"" VAULT_L2 "\", \"insurance\": \"" INSURANCE_L2 "\","
    "                     \"deadline_s\": 600}},"
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2,"
    "                      \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}},"
    "            \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1,"
    "                      \"tokens\": {\"l2\": \"" USDC_L2 "\"}}},"
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}},"
    " \"params\": {\"liquidation_fee\": \"0.01\"},"
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 86400000}}";

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
    size_t ntodo, capseqs, capdigests;
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
    node nodes[NODES];
    calc *c;
    decision *decs;
    size_t ndecs, capdecs;
    hubinstr *instr;
    hubcosig *cosig;
    hubprice *prices;
    feed f;
    uint64_t fed; /* the last record copied into a feed */
    bool nomem;
    /* the timed run */
    uint64_t t0, *lat_ns;
    size_t nbundles, caplat;
    uint64_t instructions, decisions_logged, sigs_checked_taken, sigs_not_needed;
} liq;

static uint64_t now_ms(void) { return wall_ms(); }

static void account_of(uint64_t k, uint8_t out[EVM_ADDR_BYTES])
{
    memset(out, 0, EVM_ADDR_BYTES);
    out[0] = 0x5a;
    for (int i = 0; i < 8; i++)
        out[19 - i] = (uint8_t)(k >> (8 * i));
}

static rl_err addr_of(const char *hex, uint8_t out[EVM_ADDR_BYTES], rl_why *why)
{
    return hex_decode(out, EVM_ADDR_BYTES, hex, "address", why);
}

/* ---- keys, set, risk ---- */

static rl_err make_key(node_key **out, const char *name, int seed, rl_why *why)
{
    uint8_t ed[32], sk[32];
    memset(ed, seed, sizeof ed);
    memset(sk, seed + 0x40, sizeof sk);
    return node_key_from_secrets(out, name, ed, sk, why);
}

static rl_err setup_keys(liq *L, rl_why *why)
{
    rl_err err = RL_OK;
    L->set = (relset){.version = 1, .threshold = THRESHOLD, .n = NODES};
    for (unsigned i = 0; i < NODES && err == RL_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "node%u", i + 1);
        if ((err = make_key(&L->nodes[i].key, name, (int)i + 1, why)) == RL_OK) {
            L->nodes[i].member = (uint16_t)(i + 1);
            L->set.members[i].id = (uint16_t)(i + 1);
            L->set.members[i].pub = *node_key_pub(L->nodes[i].key);
        }
    }
    if (err == RL_OK)
        err = relset_validate(&L->set, why);
    if (err == RL_OK)
        err = make_key(&L->venue, "venue", 0x21, why);
    if (err == RL_OK)
        err = make_key(&L->calc_key, "calc", 0x22, why);
    json_error_t je;
    json_t *root = err == RL_OK ? json_loads(RISK, 0, &je) : NULL;
    if (err == RL_OK && root == NULL)
        err = rl_fail(why, RL_ERR_DECODE, "bench risk: %s", je.text);
    if (err == RL_OK)
        err = mg_risk_parse(root, &L->risk, why);
    json_decref(root);
    return err;
}

/* ---- the hub: commit, and hand what it committed to the others ---- */

static rl_err feed_committed(liq *L, rl_why *why)
{
    feed *f = &L->f;
    if (f->n == 0)
        f->first = L->fed + 1;
    MDB_txn *txn;
    rl_err err = store_read_begin(L->st, &txn, why);
    if (err != RL_OK)
        return err;
    uint64_t head = ingest_head(L->g)->seq;
    for (uint64_t seq = L->fed + 1; seq <= head && err == RL_OK; seq++) {
        MDB_val v;
        if ((err = ledger_record_get(txn, L->st, seq, &v, why)) != RL_OK)
            break;
        if (!vec_reserve((void **)&f->buf, &f->cap, f->used + v.mv_size, 1, 1 << 20) ||
            !vec_reserve((void **)&f->at, &f->capn, f->n + 1, sizeof *f->at, 1024)) {
            err = RL_ERR_NOMEM;
            break;
        }
        memcpy(f->buf + f->used, v.mv_data, v.mv_size);
        f->at[f->n++] = (struct span){f->used, v.mv_size};
        f->used += v.mv_size;
    }
    store_read_end(txn);
    if (err == RL_OK)
        L->fed = head;
    return err;
}

static rl_err commit(liq *L, rl_why *why)
{
    rl_err err = ingest_flush(L->g, now_ms(), why);
    if (err == RL_OK && ingest_get_stats(L->g)->refused != 0)
        err = rl_fail(why, RL_ERR_STATE, "the ledger refused %llu records",
                      (unsigned long long)ingest_get_stats(L->g)->refused);
    return err == RL_OK ? feed_committed(L, why) : err;
}

/* ---- nodes ---- */

static rl_err node_on_record(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    node *n = ctx;
    cosigner_step st;
    rl_err err = cosigner_next(n->judge, rec, len, seq, now_ms(), &st, why);
    if (err != RL_OK)
        return err;
    if (st.verdict == COSIGNER_REFUSE)
        n->refused++;
    else if (st.verdict == COSIGNER_NOT_REPRODUCED)
        n->not_reproduced++;
    else if (st.verdict == COSIGNER_SIGN) {
        if (!vec_reserve((void **)&n->seqs, &n->capseqs, n->ntodo + 1, sizeof *n->seqs, 256) ||
            !vec_reserve((void **)&n->digests, &n->capdigests, n->ntodo + 1, sizeof *n->digests, 256))
            return RL_ERR_NOMEM;
        n->seqs[n->ntodo] = seq;
        memcpy(n->digests[n->ntodo++], st.digest, HASH_BYTES);
    }
    return RL_OK;
}

/* A node's share of a round: its replica checks and applies the feed, its judgement passes
 * instructions, and it signs them. */
static void *node_run(void *arg)
{
    node *n = arg;
    const feed *f = n->f;
    n->ntodo = n->nout = 0;
    for (size_t i = 0; i < f->n && n->err == RL_OK; i++)
        n->err = replica_take(n->r, f->first + i, f->buf + f->at[i].off, f->at[i].len, &n->why);
    if (n->err == RL_OK)
        n->err = replica_flush(n->r, &n->why);
    if (n->err == RL_OK && !vec_reserve((void **)&n->out, &n->capout, n->ntodo, sizeof *n->out, 256))
        n->err = RL_ERR_NOMEM;
    for (size_t i = 0; i < n->ntodo && n->err == RL_OK; i++) {
        hubcosig_sig *s = &n->out[n->nout++];
        s->seq = n->seqs[i];
        s->member = n->member;
        n->err = node_key_sign_evm(n->key, s->sig, n->digests[i]);
        n->signed_n++;
    }
    return NULL;
}

static rl_err nodes_start(liq *L, pthread_t th[NODES])
{
    for (unsigned i = 0; i < NODES; i++) {
        L->nodes[i].f = &L->f;
        if (pthread_create(&th[i], NULL, node_run, &L->nodes[i]) != 0) {
            for (unsigned k = 0; k < i; k++)
                pthread_join(th[k], NULL);
            return RL_ERR_NOMEM;
        }
    }
    return RL_OK;
}

static rl_err nodes_join(liq *L, pthread_t th[NODES], rl_why *why)
{
    rl_err err = RL_OK;
    for (unsigned i = 0; i < NODES; i++) {
        pthread_join(th[i], NULL);
        if (err == RL_OK && L->nodes[i].err != RL_OK) {
            err = L->nodes[i].err;
            rl_fail(why, err, "node %u: %s", i + 1, L->nodes[i].why.text[0] ? L->nodes[i].why.text : rl_strerror(err));
        }
    }
    L->f.n = L->f.used = 0; /* taken */
    return err;
}

static rl_err nodes_round(liq *L, rl_why *why)
{
    pthread_t th[NODES];
    rl_err err = nodes_start(L, th);
    return err == RL_OK ? nodes_join(L, th, why) : err;
}

/* ---- the calculator ---- */

static void on_decision(void *ctx, const decision *d)
{
    liq *L = ctx;
    if (!vec_reserve((void **)&L->decs, &L->capdecs, L->ndecs + 1, sizeof *L->decs, 1024)) {
        L->nomem = true;
        return;
    }
    L->decs[L->ndecs] = *d;
    memcpy(L->decs[L->ndecs++].calculator, node_key_pub(L->calc_key)->ed25519, ED25519_PK_BYTES);
}

static rl_err calc_feed(liq *L, rl_why *why)
{
    rl_err err = RL_OK;
    for (size_t i = 0; i < L->f.n && err == RL_OK; i++)
        err = calc_apply(L->c, L->f.buf + L->f.at[i].off, L->f.at[i].len, why);
    return err == RL_OK && L->nomem ? RL_ERR_NOMEM : err;
}

/* ---- set-up ---- */

struct deposit_job {
    const liq *L;
    uint64_t first; /* account of job 0 */
    signed_obs *out; /* 2 events x THRESHOLD signatures per account */
    rl_err err;
};

static void deposit_fn(void *ctx, size_t begin, size_t end)
{
    struct deposit_job *j = ctx;
    uint8_t usdc[EVM_ADDR_BYTES], v1[EVM_ADDR_BYTES], v2[EVM_ADDR_BYTES];
    if (addr_of(USDC_L2, usdc, NULL) != RL_OK || addr_of(VAULT_L1, v1, NULL) != RL_OK ||
        addr_of(VAULT_L2, v2, NULL) != RL_OK) {
        j->err = RL_ERR_DECODE;
        return;
    }
    for (size_t i = begin; i < end; i++) {
        uint64_t k = j->first + i;
        for (int c = 0; c < 2; c++) {
            obs o;
            memset(&o, 0, sizeof o);
            o.kind = OBS_KIND_DEPOSIT;
            o.chain_id = c == 0 ? CHAIN_L1 : CHAIN_L2;
            memcpy(o.vault, c == 0 ? v1 : v2, EVM_ADDR_BYTES);
            o.block_number = 1000 + k / 100;
            o.block_hash[0] = (uint8_t)c;
            memcpy(o.block_hash + 8, &o.block_number, sizeof o.block_number);
            o.tx_hash[0] = 0x7a;
            o.tx_hash[1] = (uint8_t)c;
            for (int b = 0; b < 8; b++)
                o.tx_hash[31 - b] = (uint8_t)(k >> (8 * b));
            o.vault_seq = k + 1;
            account_of(k, o.account);
            if (c == 1)
                memcpy(o.asset, usdc, EVM_ADDR_BYTES);
            /* the risky accounts hold 100 USDC, the others 1000; everyone 1 ETH */
            o.amount = c == 0 ? u256_from_u64(E18) : u256_from_u64((k % RISKY_EVERY == 0 ? 100 : 1000) * USDC_UNIT);
            uint8_t enc[OBS_BYTES];
            if (obs_encode(enc, &o, NULL) != RL_OK) {
                j->err = RL_ERR_DECODE;
                return;
            }
            for (unsigned m = 0; m < THRESHOLD; m++)
                obs_sign(&j->out[(i * 2 + (size_t)c) * THRESHOLD + m], enc, (uint16_t)(m + 1), j->L->nodes[m].key);
        }
    }
}

struct request_job {
    const liq *L;
    uint8_t (*out)[REQUEST_MAX_BYTES];
    size_t *len;
    rl_err err;
};

static void request_fn(void *ctx, size_t begin, size_t end)
{
    struct request_job *j = ctx;
    for (size_t k = begin; k < end; k++) {
        /* 1 % lean on their collateral (10 ETH long on 1 ETH + 100 USDC), the rest hold 1 ETH long */
        request r = {.kind = REQUEST_POSITION, .nonce = k + 1, .mode = REQUEST_MODE_CROSS,
                     .size_e18 = (__int128)(k % RISKY_EVERY == 0 ? 10 : 1) * E18,
                     .entry_e18 = (__int128)PRICE_BEFORE * E18};
        memcpy(r.venue, node_key_pub(j->L->venue)->ed25519, ED25519_PK_BYTES);
        account_of(k, r.account);
        snprintf(r.market, sizeof r.market, "ETH-PERP");
        if (request_sign(j->out[k], &j->len[k], &r, j->L->venue, NULL) != RL_OK)
            j->err = RL_ERR_ARG;
    }
}

/* Price observations of feed from every node, through the hub's price rule, logged. */
static rl_err log_price(liq *L, const char *feed_name, uint64_t whole_usd, rl_why *why)
{
    uint64_t t = now_ms();
    price_obs po = {.price_e18 = (__int128)whole_usd * E18, .time_ms = t};
    snprintf(po.feed, sizeof po.feed, "%s", feed_name);
    uint8_t enc[PRICE_OBS_BYTES];
    rl_err err = price_encode(enc, &po, why);
    for (unsigned i = 0; i < NODES && err == RL_OK; i++) {
        signed_price sp;
        uint8_t digest[HASH_BYTES];
        price_sign(&sp, enc, L->nodes[i].member, L->nodes[i].key);
        price_content_hash(digest, sp.bytes);
        const uint8_t *pk = node_key_pub(L->nodes[i].key)->ed25519;
        if (!ed25519_verify(sp.sig, digest, HASH_BYTES, pk)) /* as the hub checks each one */
            return rl_fail(why, RL_ERR_SIG, "price observation of node %u does not verify", i + 1);
        err = hubprice_offer(L->prices, &sp, pk, t, why);
    }
    payload_price *pp = malloc(sizeof *pp);
    uint8_t *payload = malloc(RECORD_MAX_PAYLOAD);
    if (err == RL_OK && (pp == NULL || payload == NULL))
        err = RL_ERR_NOMEM;
    bool any = false;
    while (err == RL_OK && hubprice_due(L->prices, &L->set, t, pp)) {
        size_t len;
        if ((err = payload_price_encode(pp, payload, &len, why)) == RL_OK)
            err = ingest_append(L->g, RECORD_PRICE, payload, len, t, why);
        any = true;
    }
    free(pp);
    free(payload);
    if (err == RL_OK && !any)
        err = rl_fail(why, RL_ERR_STATE, "the hub's price rule logged no %s price", feed_name);
    return err;
}

static rl_err setup(liq *L, uint64_t naccounts, rl_why *why)
{
    rl_err err = setup_keys(L, why);
    char path[4200];
    snprintf(path, sizeof path, "%s/hub", L->dir);
    if (err == RL_OK)
        err = store_open(&L->st, path, NULL, why);
    if (err == RL_OK)
        err = ingest_open(&L->g, L->st, L->p, &L->set, NULL, now_ms(), why);
    hubprice_opts hp = {.max_dev_e18 = L->risk.max_dev_e18, .max_age_ms = L->risk.max_age_ms,
                        .heartbeat_ms = 86400000};
    if (err == RL_OK)
        err = hubprice_new(&L->prices, &hp);
    if (err == RL_OK)
        err = hubinstr_new(&L->instr, &L->risk, RETRY_MS);
    if (err == RL_OK)
        err = hubcosig_new(&L->cosig, RETRY_MS);
    if (err != RL_OK)
        return err;

    /* deposits: 2 per account, signed by a quorum, through verify + quorum + group commit */
    fprintf(stderr, "bench liquidation: %llu accounts: deposits on l1 (ETH) and l2 (USDC)...\n",
            (unsigned long long)naccounts);
    const uint64_t block = 16384;
    signed_obs *so = malloc(block * 2 * THRESHOLD * sizeof *so);
    if (so == NULL)
        return RL_ERR_NOMEM;
    for (uint64_t first = 0; first < naccounts && err == RL_OK; first += block) {
        uint64_t n = naccounts - first < block ? naccounts - first : block;
        struct deposit_job j = {.L = L, .first = first, .out = so};
        pool_run(L->p, deposit_fn, &j, n, 256);
        err = j.err;
        for (size_t off = 0; off < n * 2 * THRESHOLD && err == RL_OK; off += 8192) {
            size_t m = n * 2 * THRESHOLD - off < 8192 ? n * 2 * THRESHOLD - off : 8192;
            err = ingest_submit(L->g, so + off, m, now_ms(), why);
        }
    }
    free(so);
    if (err == RL_OK)
        err = ingest_flush(L->g, now_ms(), why);
    if (err == RL_OK && ingest_get_stats(L->g)->attested != 2 * naccounts)
        err = rl_fail(why, RL_ERR_STATE, "%llu deposits attested, expected %llu",
                      (unsigned long long)ingest_get_stats(L->g)->attested, (unsigned long long)(2 * naccounts));

    /* positions, by signed venue requests */
    fprintf(stderr, "bench liquidation: positions and prices...\n");
    struct request_job rj = {.L = L, .out = malloc(naccounts * sizeof *rj.out), .len = malloc(naccounts * sizeof(size_t))};
    if (err == RL_OK && (rj.out == NULL || rj.len == NULL))
        err = RL_ERR_NOMEM;
    if (err == RL_OK) {
        pool_run(L->p, request_fn, &rj, naccounts, 256);
        err = rj.err;
    }
    for (uint64_t k = 0; k < naccounts && err == RL_OK; k++)
        err = ingest_append(L->g, RECORD_REQUEST, rj.out[k], rj.len[k], now_ms(), why);
    free(rj.out);
    free(rj.len);
    if (err == RL_OK)
        err = log_price(L, "USDC", 1, why);
    if (err == RL_OK)
        err = log_price(L, "ETH", PRICE_BEFORE, why);
    if (err == RL_OK)
        err = commit(L, why);

    /* the calculator and the nodes catch up */
    fprintf(stderr, "bench liquidation: the calculator and 3 node replicas catch up on %llu records...\n",
            (unsigned long long)L->fed);
    if (err == RL_OK)
        err = calc_new(&L->c, &L->risk, on_decision, L, NULL, NULL);
    if (err == RL_OK)
        err = calc_feed(L, why);
    if (err == RL_OK && L->ndecs != 0)
        err = rl_fail(why, RL_ERR_STATE, "%zu decisions before the tick: the set-up is not all healthy", L->ndecs);
    for (unsigned i = 0; i < NODES && err == RL_OK; i++) {
        node *n = &L->nodes[i];
        snprintf(path, sizeof path, "%s/node%u", L->dir, i + 1);
        if ((n->dir = strdup(path)) == NULL)
            return RL_ERR_NOMEM;
        replica_opts o = {.data = n->dir, .genesis = &L->set, .on_record = node_on_record, .ctx = n};
        if ((err = cosigner_new(&n->judge, &L->risk)) == RL_OK)
            err = replica_open(&n->r, &o, why);
    }
    if (err == RL_OK)
        err = nodes_round(L, why);
    return err;
}

/* ---- the timed run ---- */

struct decision_job {
    liq *L;
    uint8_t (*enc)[DECISION_MAX_BYTES];
    size_t *len;
    bool *ok;
    rl_err err;
};

/* The calculator signs its decisions (its process), then the hub checks each signature. */
static void decision_sign_fn(void *ctx, size_t begin, size_t end)
{
    struct decision_job *j = ctx;
    for (size_t i = begin; i < end; i++)
        if (decision_sign(j->enc[i], &j->len[i], &j->L->decs[i], j->L->calc_key, NULL) != RL_OK)
            j->err = RL_ERR_CRYPTO;
}

static void decision_verify_fn(void *ctx, size_t begin, size_t end)
{
    struct decision_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        uint8_t msg[HASH_BYTES];
        const uint8_t *sig;
        decision_sig_parts(j->enc[i], j->len[i], msg, &sig);
        j->ok[i] = ed25519_verify(sig, msg, HASH_BYTES, node_key_pub(j->L->calc_key)->ed25519);
    }
}

static rl_err append_instruction(void *ctx, const instruction *in, rl_why *why)
{
    liq *L = ctx;
    uint8_t enc[INSTRUCTION_BYTES];
    rl_err err = instruction_encode(enc, in, why);
    if (err == RL_OK)
        err = ingest_append(L->g, RECORD_INSTRUCTION, enc, sizeof enc, now_ms(), why);
    L->instructions += err == RL_OK;
    return err;
}

/* Decisions [from, to) from the hub's log to bundles. */
static rl_err chunk(liq *L, struct decision_job *dj, size_t from, size_t to, rl_why *why)
{
    rl_err err = RL_OK;
    for (size_t i = from; i < to && err == RL_OK; i++) {
        if (!dj->ok[i])
            return rl_fail(why, RL_ERR_SIG, "decision %zu: the calculator's signature does not verify", i);
        if (memcmp(L->decs[i].risk, L->risk.digest, HASH_BYTES) != 0) /* the hub pins its risk */
            return rl_fail(why, RL_ERR_STATE, "decision %zu: made under other risk parameters", i);
        err = ingest_append(L->g, RECORD_DECISION, dj->enc[i], dj->len[i], now_ms(), why);
        L->decisions_logged++;
    }
    if (err == RL_OK)
        err = ingest_flush(L->g, now_ms(), why); /* the ledger files the plans */
    MDB_txn *txn;
    if (err == RL_OK && (err = store_read_begin(L->st, &txn, why)) == RL_OK) {
        err = hubinstr_scan(L->instr, txn, L->st, now_ms(), bench_now_ns() / 1000000, append_instruction, L, why);
        store_read_end(txn);
    }
    if (err == RL_OK)
        err = commit(L, why); /* the decisions and their instructions go to the nodes */
    if (err == RL_OK)
        err = nodes_round(L, why);
    /* the hub takes the nodes' signatures as they would arrive, node by node */
    size_t nsig = 0;
    for (unsigned i = 0; i < NODES; i++)
        nsig += L->nodes[i].nout;
    hubcosig_sig *sigs = malloc((nsig ? nsig : 1) * sizeof *sigs);
    bundle *b = malloc(sizeof *b);
    uint8_t *enc = malloc(BUNDLE_MAX_BYTES);
    if (err == RL_OK && (sigs == NULL || b == NULL || enc == NULL))
        err = RL_ERR_NOMEM;
    size_t at = 0;
    for (unsigned i = 0; i < NODES && err == RL_OK; i++) {
        memcpy(sigs + at, L->nodes[i].out, L->nodes[i].nout * sizeof *sigs);
        at += L->nodes[i].nout;
    }
    size_t nb = 0;
    if (err == RL_OK && (err = store_read_begin(L->st, &txn, why)) == RL_OK) {
        err = hubcosig_offer_many(L->cosig, txn, L->st, &L->set, L->p, sigs, nsig);
        for (size_t i = 0; i < nsig && err == RL_OK; i++) {
            if (sigs[i].result == RL_OK)
                L->sigs_checked_taken++;
            else if (sigs[i].result == RL_ERR_DUPLICATE)
                L->sigs_not_needed++;
            else
                err = rl_fail(why, sigs[i].result, "signature of instruction %llu by member %u: %s",
                              (unsigned long long)sigs[i].seq, sigs[i].member, rl_strerror(sigs[i].result));
        }
        while (err == RL_OK && hubcosig_due(L->cosig, txn, L->st, &L->set, bench_now_ns() / 1000000, b)) {
            size_t len;
            if ((err = bundle_encode(enc, &len, b, why)) == RL_OK)
                err = ingest_append_verified(L->g, RECORD_BUNDLE, enc, len, now_ms(), why); /* checked */
            nb++;
        }
        store_read_end(txn);
    }
    if (err == RL_OK)
        err = commit(L, why); /* bundle-ready: durable in the hub's log */
    uint64_t t = bench_now_ns();
    if (err == RL_OK && !vec_reserve((void **)&L->lat_ns, &L->caplat, L->nbundles + nb, sizeof *L->lat_ns, 1024))
        err = RL_ERR_NOMEM;
    for (size_t i = 0; i < nb && err == RL_OK; i++)
        L->lat_ns[L->nbundles++] = t - L->t0;
    free(sigs);
    free(b);
    free(enc);
    return err;
}

static rl_err run(liq *L, size_t chunk_accounts, size_t want, rl_why *why)
{
    L->ndecs = 0;
    L->t0 = bench_now_ns();
    rl_err err = log_price(L, "ETH", PRICE_TICK, why);
    if (err == RL_OK)
        err = commit(L, why);
    /* the nodes take the tick while the calculator decides */
    pthread_t th[NODES];
    if (err == RL_OK)
        err = nodes_start(L, th);
    if (err != RL_OK)
        return err;
    err = calc_feed(L, why);
    rl_err jerr = nodes_join(L, th, why);
    if (err == RL_OK)
        err = jerr;
    size_t liquidations = 0;
    for (size_t i = 0; i < L->ndecs; i++)
        liquidations += L->decs[i].kind == DECISION_LIQUIDATE;
    if (err == RL_OK && (liquidations != want || L->ndecs != want))
        return rl_fail(why, RL_ERR_STATE, "the tick made %zu decisions, %zu liquidations; expected %zu liquidations",
                       L->ndecs, liquidations, want);
    struct decision_job dj = {.L = L, .enc = malloc(L->ndecs * sizeof *dj.enc), .len = malloc(L->ndecs * sizeof(size_t)),
                              .ok = calloc(L->ndecs, sizeof(bool))};
    if (err == RL_OK && (dj.enc == NULL || dj.len == NULL || dj.ok == NULL))
        err = RL_ERR_NOMEM;
    if (err == RL_OK) {
        pool_run(L->p, decision_sign_fn, &dj, L->ndecs, 16);
        pool_run(L->p, decision_verify_fn, &dj, L->ndecs, 16);
        err = dj.err;
    }
    for (size_t from = 0; from < L->ndecs && err == RL_OK; from += chunk_accounts)
        err = chunk(L, &dj, from, from + chunk_accounts < L->ndecs ? from + chunk_accounts : L->ndecs, why);
    free(dj.enc);
    free(dj.len);
    free(dj.ok);
    for (unsigned i = 0; i < NODES && err == RL_OK; i++)
        if (L->nodes[i].refused != 0 || L->nodes[i].not_reproduced != 0)
            err = rl_fail(why, RL_ERR_STATE, "node %u refused %llu instructions, did not reproduce %llu decisions",
                          i + 1, (unsigned long long)L->nodes[i].refused,
                          (unsigned long long)L->nodes[i].not_reproduced);
    if (err == RL_OK && (L->nbundles != L->instructions || L->nbundles == 0))
        err = rl_fail(why, RL_ERR_STATE, "%zu bundles for %llu instructions", L->nbundles,
                      (unsigned long long)L->instructions);
    return err;
}

/* ---- the bound: libsecp256k1 on every core ---- */

enum rate_op { RATE_SIGN, RATE_VERIFY, RATE_RECOVER };

struct rate_job {
    enum rate_op op;
    const secp256k1_context *ctx;
    const uint8_t *sk;
    const secp256k1_pubkey *pk;
    uint8_t (*digest)[32];
    uint8_t (*sig)[EVM_SIG_BYTES];
    bool bad;
};

static void rate_fn(void *ctx, size_t begin, size_t end)
{
    struct rate_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        if (j->op == RATE_SIGN) {
            j->bad |= evm_sign_digest(j->sig[i], j->digest[i], j->sk) != RL_OK;
        } else if (j->op == RATE_VERIFY) {
            secp256k1_ecdsa_signature s;
            j->bad |= !secp256k1_ecdsa_signature_parse_compact(j->ctx, &s, j->sig[i]) ||
                      !secp256k1_ecdsa_verify(j->ctx, &s, j->digest[i], j->pk);
        } else {
            uint8_t addr[EVM_ADDR_BYTES];
            j->bad |= evm_recover(addr, j->digest[i], j->sig[i]) != RL_OK;
        }
    }
}

/* Operations per second with all of the pool's threads busy. */
static rl_err secp_rate(pool *p, enum rate_op op, double *rate)
{
    uint8_t sk[32];
    struct rate_job j = {.op = op, .sk = sk, .digest = malloc(RATE_JOBS * 32), .sig = malloc(RATE_JOBS * EVM_SIG_BYTES)};
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_pubkey pk;
    rl_err err = j.digest && j.sig && ctx ? RL_OK : RL_ERR_NOMEM;
    do
        randombytes_buf(sk, sizeof sk);
    while (err == RL_OK && !secp256k1_ec_pubkey_create(ctx, &pk, sk));
    j.ctx = ctx;
    j.pk = &pk;
    if (err == RL_OK) {
        randombytes_buf(j.digest, RATE_JOBS * 32);
        enum rate_op want = j.op;
        j.op = RATE_SIGN;
        pool_run(p, rate_fn, &j, RATE_JOBS, 16); /* signatures to check, and a warm-up */
        j.op = want;
        uint64_t t0 = bench_now_ns(), done = 0;
        while (bench_now_ns() - t0 < RATE_MEASURE_NS) {
            pool_run(p, rate_fn, &j, RATE_JOBS, 16);
            done += RATE_JOBS;
        }
        *rate = (double)done * 1e9 / (double)(bench_now_ns() - t0);
        if (j.bad)
            err = RL_ERR_CRYPTO;
    }
    sodium_memzero(sk, sizeof sk);
    secp256k1_context_destroy(ctx);
    free(j.digest);
    free(j.sig);
    return err;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void liq_fini(liq *L)
{
    for (unsigned i = 0; i < NODES; i++) {
        node *n = &L->nodes[i];
        replica_close(n->r);
        cosigner_free(n->judge);
        node_key_free(n->key);
        free(n->dir);
        free(n->seqs);
        free(n->digests);
        free(n->out);
    }
    calc_free(L->c);
    hubinstr_free(L->instr);
    hubcosig_free(L->cosig);
    hubprice_free(L->prices);
    ingest_close(L->g);
    store_close(L->st);
    mg_risk_fini(&L->risk); /* a zeroed one frees nothing */
    node_key_free(L->venue);
    node_key_free(L->calc_key);
    free(L->decs);
    free(L->f.buf);
    free(L->f.at);
    free(L->lat_ns);
    pool_free(L->p);
}

int bench_liquidation(int argc, char **argv)
{
    static const struct option opts[] = {{"accounts", required_argument, NULL, 'a'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    unsigned long long naccounts = 100000, chunk_accounts = 250;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        unsigned long long v = optarg ? strtoull(optarg, &end, 10) : 0;
        if ((c != 'a' && c != 'c') || end == NULL || *end != '\0' || v == 0) {
            fputs(USAGE, stderr);
            return EXIT_USAGE;
        }
        *(c == 'a' ? &naccounts : &chunk_accounts) = v;
    }
    if (optind != argc || naccounts < RISKY_EVERY || naccounts > 10000000) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    liq *L = calloc(1, sizeof *L);
    rl_why why = {{0}};
    double sign_before = 0, sign_after = 0, verify_rate = 0, recover_rate = 0;
    rl_err err = L == NULL ? RL_ERR_NOMEM : pool_new(&L->p, 0);
    if (err == RL_OK && (L->dir = bench_tmpdir("liquidation")) == NULL)
        err = rl_fail(&why, RL_ERR_IO, "cannot make a temporary directory");
    if (err == RL_OK)
        err = setup(L, naccounts, &why);
    if (err == RL_OK) {
        fprintf(stderr, "bench liquidation: measuring libsecp256k1 on %u threads...\n", pool_threads(L->p));
        err = secp_rate(L->p, RATE_SIGN, &sign_before);
    }
    size_t want = (naccounts + RISKY_EVERY - 1) / RISKY_EVERY;
    if (err == RL_OK) {
        fprintf(stderr, "bench liquidation: the tick (ETH %d -> %d USD)...\n", PRICE_BEFORE, PRICE_TICK);
        err = run(L, chunk_accounts, want, &why);
    }
    uint64_t total_ns = 0;
    if (err == RL_OK) {
        qsort(L->lat_ns, L->nbundles, sizeof *L->lat_ns, cmp_u64);
        total_ns = L->lat_ns[L->nbundles - 1];
        err = secp_rate(L->p, RATE_SIGN, &sign_after);
    }
    if (err == RL_OK)
        err = secp_rate(L->p, RATE_VERIFY, &verify_rate);
    if (err == RL_OK)
        err = secp_rate(L->p, RATE_RECOVER, &recover_rate);
    if (err == RL_OK) {
        double sign_rate = (sign_before + sign_after) / 2;
        double bound = sign_rate / THRESHOLD;
        double per_s = (double)L->nbundles * 1e9 / (double)total_ns;
        double p50 = (double)L->lat_ns[(L->nbundles - 1) / 2] / 1e6;
        double p99 = (double)L->lat_ns[(L->nbundles * 99 + 99) / 100 - 1] / 1e6;
        uint64_t signed_n = 0;
        for (unsigned i = 0; i < NODES; i++)
            signed_n += L->nodes[i].signed_n;
        printf("liquidation: %zu accounts liquidatable of %llu: %llu instructions bundled in %.1f ms = %.0f bundles/s "
               "(p50 %.1f ms, p99 %.1f ms from the tick)\n",
               want, naccounts, (unsigned long long)L->instructions, (double)total_ns / 1e6, per_s, p50, p99);
        printf("secp256k1 on %u threads: sign %.0f/s, verify %.0f/s, recover %.0f/s; bound %.0f bundles/s "
               "(sign rate / threshold %d); signatures made %llu, checked by the hub %llu, not needed %llu\n",
               pool_threads(L->p), sign_rate, verify_rate, recover_rate, bound, THRESHOLD,
               (unsigned long long)signed_n, (unsigned long long)L->sigs_checked_taken,
               (unsigned long long)L->sigs_not_needed);
        json_t *j = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f}",
            "bench", "liquidation", "accounts", (json_int_t)naccounts, "liquidated_accounts", (json_int_t)want,
            "chunk_accounts", (json_int_t)chunk_accounts, "bundles", (json_int_t)L->nbundles, "p50_ms", p50, "p99_ms",
            p99, "total_ms", (double)total_ns / 1e6, "latency_per", "instruction", "signatures_made",
            (json_int_t)signed_n, "signatures_checked_by_hub", (json_int_t)L->sigs_checked_taken,
            "signatures_not_needed", (json_int_t)L->sigs_not_needed, "secp_sign_per_s_all_cores", sign_rate,
            "secp_sign_per_s_before", sign_before, "secp_sign_per_s_after", sign_after,
            "secp_verify_per_s_all_cores", verify_rate, "secp_recover_per_s_all_cores", recover_rate,
            "bound_bundles_per_s", bound, "cores", (int)pool_threads(L->p), "threshold", THRESHOLD, "peak_rss_mb",
            bench_peak_rss_mb(), "per_s", per_s);
        json_object_set_new(j, "ratio", json_real(per_s / bound));
        char *line = json_dumps(j, JSON_COMPACT);
        puts(line ? line : "{}");
        free(line);
        json_decref(j);
    }
    if (L != NULL) {
        liq_fini(L);
        if (L->dir != NULL)
            bench_rm_rf(L->dir);
        free(L->dir);
        free(L);
    }
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench liquidation: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}
