/*
 * bench_liq.c - the liquidation bench's world: set-up, the hub's commits, the nodes' rounds
 * (bench_liq.h).
 */
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "attest/request.h"
#include "attest/vec.h"
#include "relayer/bench.h"
#include "relayer/bench_liq.h"
#include "relayer/progress.h"

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
    L->set = (relset){.version = 1, .threshold = LIQ_THRESHOLD, .n = LIQ_NODES};
    for (unsigned i = 0; i < LIQ_NODES && err == RL_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "node%u", i + 1);
        if ((err = make_key(&L->nodes[i].key, name, (int)i + 1, why)) == RL_OK) {
            L->nodes[i].member = (uint16_t)(i + 1);
            L->set.members[i].id = (uint16_t)(i + 1);
            L->set.members[i].pub = *node_key_pub(L->nodes[i].key);
        }
    }
    if (err == RL_OK)
        err = make_key(&L->venue, "venue", 0x21, why);
    if (err == RL_OK) /* its positions count only with its key pinned in the set (attest/admit.h) */
        err = relset_add_venue(&L->set, "venue", node_key_pub(L->venue)->ed25519, why);
    if (err == RL_OK)
        err = relset_validate(&L->set, why);
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
    feed *f = &L->f[L->cur];
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

rl_err liq_commit(liq *L, rl_why *why)
{
    rl_err err = ingest_flush(L->g, wall_ms(), why);
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
    rl_err err = cosigner_next(n->judge, rec, len, seq, wall_ms(), &st, why);
    if (err != RL_OK)
        return err;
    if (st.verdict == COSIGNER_REFUSE)
        n->refused++;
    else if (st.verdict == COSIGNER_NOT_REPRODUCED)
        n->not_reproduced++;
    else if (st.verdict == COSIGNER_SIGN) {
        if (!vec_reserve((void **)&n->seqs, &n->capseqs, n->nto_sign + 1, sizeof *n->seqs, 256) ||
            !vec_reserve((void **)&n->digests, &n->capdigests, n->nto_sign + 1, sizeof *n->digests, 256))
            return RL_ERR_NOMEM;
        n->seqs[n->nto_sign] = seq;
        memcpy(n->digests[n->nto_sign++], st.digest, HASH_BYTES);
    }
    return RL_OK;
}

/* A node's share of a round: its replica checks and applies the feed, its judgement passes
 * instructions, and it signs them. */
static void *node_run(void *arg)
{
    node *n = arg;
    const feed *f = n->f;
    n->nto_sign = n->nout = 0;
    for (size_t i = 0; i < f->n && n->err == RL_OK; i++)
        n->err = replica_take(n->r, f->first + i, f->buf + f->at[i].off, f->at[i].len, &n->why);
    if (n->err == RL_OK)
        n->err = replica_flush(n->r, &n->why);
    if (n->err == RL_OK && !vec_reserve((void **)&n->out, &n->capout, n->nto_sign, sizeof *n->out, 256))
        n->err = RL_ERR_NOMEM;
    for (size_t i = 0; i < n->nto_sign && n->err == RL_OK; i++) {
        hubcosig_sig *s = &n->out[n->nout++];
        s->seq = n->seqs[i];
        s->member = n->member;
        n->err = node_key_sign_evm(n->key, s->sig, n->digests[i]);
        n->signed_n++;
    }
    return NULL;
}

rl_err liq_nodes_start(liq *L, pthread_t th[LIQ_NODES])
{
    for (unsigned i = 0; i < LIQ_NODES; i++) {
        L->nodes[i].f = &L->f[L->cur];
        if (pthread_create(&th[i], NULL, node_run, &L->nodes[i]) != 0) {
            for (unsigned k = 0; k < i; k++)
                pthread_join(th[k], NULL);
            return RL_ERR_NOMEM;
        }
    }
    L->cur ^= 1;
    return RL_OK;
}

rl_err liq_nodes_join(liq *L, pthread_t th[LIQ_NODES], rl_why *why)
{
    rl_err err = RL_OK;
    for (unsigned i = 0; i < LIQ_NODES; i++) {
        pthread_join(th[i], NULL);
        if (err == RL_OK && L->nodes[i].err != RL_OK) {
            err = L->nodes[i].err;
            rl_fail(why, err, "node %u: %s", i + 1, L->nodes[i].why.text[0] ? L->nodes[i].why.text : rl_strerror(err));
        }
    }
    L->f[L->cur ^ 1].n = L->f[L->cur ^ 1].used = 0; /* taken */
    return err;
}

rl_err liq_nodes_round(liq *L, rl_why *why)
{
    pthread_t th[LIQ_NODES];
    rl_err err = liq_nodes_start(L, th);
    return err == RL_OK ? liq_nodes_join(L, th, why) : err;
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

rl_err liq_calc_feed(liq *L, const feed *f, rl_why *why)
{
    rl_err err = RL_OK;
    for (size_t i = 0; i < f->n && err == RL_OK; i++)
        err = calc_apply(L->c, f->buf + f->at[i].off, f->at[i].len, why);
    return err == RL_OK && L->nomem ? RL_ERR_NOMEM : err;
}

/* ---- set-up ---- */

struct deposit_job {
    const liq *L;
    uint64_t first; /* account of job 0 */
    signed_obs *out; /* 2 events x LIQ_THRESHOLD signatures per account */
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
            o.chain_id = c == 0 ? LIQ_CHAIN_L1 : LIQ_CHAIN_L2;
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
            o.amount = c == 0 ? u256_from_u64(LIQ_E18) : u256_from_u64((k % LIQ_RISKY_EVERY == 0 ? 100 : 1000) * LIQ_USDC_UNIT);
            uint8_t enc[OBS_BYTES];
            if (obs_encode(enc, &o, NULL) != RL_OK) {
                j->err = RL_ERR_DECODE;
                return;
            }
            for (unsigned m = 0; m < LIQ_THRESHOLD; m++)
                obs_sign(&j->out[(i * 2 + (size_t)c) * LIQ_THRESHOLD + m], enc, (uint16_t)(m + 1), j->L->nodes[m].key);
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
                     .size_e18 = (__int128)(k % LIQ_RISKY_EVERY == 0 ? 10 : 1) * LIQ_E18,
                     .entry_e18 = (__int128)LIQ_PRICE_BEFORE * LIQ_E18};
        memcpy(r.venue, node_key_pub(j->L->venue)->ed25519, ED25519_PK_BYTES);
        account_of(k, r.account);
        snprintf(r.market, sizeof r.market, "ETH-PERP");
        if (request_sign(j->out[k], &j->len[k], &r, j->L->venue, NULL) != RL_OK)
            j->err = RL_ERR_ARG;
    }
}

/* Price observations of feed from every node, through the hub's price rule, logged. */
rl_err liq_log_price(liq *L, const char *feed_name, uint64_t whole_usd, rl_why *why)
{
    uint64_t t = wall_ms();
    price_obs po = {.price_e18 = (__int128)whole_usd * LIQ_E18, .time_ms = t};
    snprintf(po.feed, sizeof po.feed, "%s", feed_name);
    uint8_t enc[PRICE_OBS_BYTES];
    rl_err err = price_encode(enc, &po, why);
    for (unsigned i = 0; i < LIQ_NODES && err == RL_OK; i++) {
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

rl_err liq_setup(liq *L, uint64_t naccounts, rl_why *why)
{
    rl_err err = setup_keys(L, why);
    char path[4200];
    snprintf(path, sizeof path, "%s/hub", L->dir);
    if (err == RL_OK)
        err = store_open(&L->st, path, NULL, why);
    if (err == RL_OK)
        err = ingest_open(&L->g, L->st, L->p, &L->set, NULL, wall_ms(), why);
    hubprice_opts hp = {.max_dev_e18 = L->risk.max_dev_e18, .max_age_ms = L->risk.max_age_ms,
                        .heartbeat_ms = 86400000};
    if (err == RL_OK)
        err = hubprice_new(&L->prices, &hp);
    if (err == RL_OK)
        err = hubinstr_new(&L->instr, &L->risk, LIQ_RETRY_MS);
    if (err == RL_OK)
        err = hubcosig_new(&L->cosig, LIQ_RETRY_MS);
    if (err != RL_OK)
        return err;

    /* deposits: 2 per account, signed by a quorum, through verify + quorum + group commit */
    fprintf(stderr, "bench liquidation: %llu accounts: deposits on l1 (ETH) and l2 (USDC)...\n",
            (unsigned long long)naccounts);
    const uint64_t block = 16384;
    signed_obs *so = malloc(block * 2 * LIQ_THRESHOLD * sizeof *so);
    if (so == NULL)
        return RL_ERR_NOMEM;
    for (uint64_t first = 0; first < naccounts && err == RL_OK; first += block) {
        uint64_t n = naccounts - first < block ? naccounts - first : block;
        struct deposit_job j = {.L = L, .first = first, .out = so};
        pool_run(L->p, deposit_fn, &j, n, 256);
        err = j.err;
        for (size_t off = 0; off < n * 2 * LIQ_THRESHOLD && err == RL_OK; off += 8192) {
            size_t m = n * 2 * LIQ_THRESHOLD - off < 8192 ? n * 2 * LIQ_THRESHOLD - off : 8192;
            err = ingest_submit(L->g, so + off, m, wall_ms(), why);
        }
    }
    free(so);
    if (err == RL_OK)
        err = ingest_flush(L->g, wall_ms(), why);
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
        err = ingest_append(L->g, RECORD_REQUEST, rj.out[k], rj.len[k], wall_ms(), why);
    free(rj.out);
    free(rj.len);
    if (err == RL_OK)
        err = liq_log_price(L, "USDC", 1, why);
    if (err == RL_OK)
        err = liq_log_price(L, "ETH", LIQ_PRICE_BEFORE, why);
    if (err == RL_OK)
        err = liq_commit(L, why);

    /* the calculator and the nodes catch up */
    fprintf(stderr, "bench liquidation: the calculator and 3 node replicas catch up on %llu records...\n",
            (unsigned long long)L->fed);
    if (err == RL_OK)
        err = calc_new(&L->c, &L->risk, on_decision, L, NULL, NULL);
    if (err == RL_OK)
        err = liq_calc_feed(L, &L->f[L->cur], why);
    if (err == RL_OK && L->ndecs != 0)
        err = rl_fail(why, RL_ERR_STATE, "%zu decisions before the tick: the set-up is not all healthy", L->ndecs);
    for (unsigned i = 0; i < LIQ_NODES && err == RL_OK; i++) {
        node *n = &L->nodes[i];
        snprintf(path, sizeof path, "%s/node%u", L->dir, i + 1);
        if ((n->dir = strdup(path)) == NULL)
            return RL_ERR_NOMEM;
        replica_opts o = {.data = n->dir, .genesis = &L->set, .on_record = node_on_record, .ctx = n};
        if ((err = cosigner_new(&n->judge, &L->risk)) == RL_OK)
            err = replica_open(&n->r, &o, why);
    }
    if (err == RL_OK)
        err = liq_nodes_round(L, why);
    return err;
}

void liq_fini(liq *L)
{
    for (unsigned i = 0; i < LIQ_NODES; i++) {
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
    for (int i = 0; i < 2; i++) {
        free(L->f[i].buf);
        free(L->f[i].at);
    }
    free(L->lat_ns);
    pool_free(L->p);
}

