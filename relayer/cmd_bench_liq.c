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
 * By default the tick's decisions go through together, as the hub's group commit takes a
 * burst from the calculator (up to commit_max_records, 4096): one commit of decisions, one of
 * instructions, one round of the nodes, one commit of bundles. --chunk N sends them through in
 * chunks of N accounts instead, pipelined as separate processes would overlap (while the nodes
 * take chunk k, the hub logs chunk k + 1 and bundles chunk k - 1): earlier first bundles, more
 * commits and node rounds in all. Latency is per instruction, from the tick to its bundle's commit; per_s is
 * bundles (one per instruction) over the whole run. The nodes' replicas follow the whole log,
 * so a chunk's BUNDLE records, logged before the next chunk's decisions, are checked by every
 * replica inside the window (audit_next recovers their signatures), as on a cluster; here the
 * three nodes share this machine's cores with the hub.
 *
 * All of it runs in this process with direct calls where production has ZeroMQ between the
 * hub, the calculator and the nodes; the code each step runs is the daemons' (ingest, ledger,
 * calc, hubinstr, replica, cosigner, hubcosig); only the chains are left out (bundles are
 * counted at the point an executor would take them).
 *
 * The bound: libsecp256k1 signing on every core, measured here before and after the timed
 * run (signatures per second with all threads busy, not one core times the cores), divided by
 * the threshold: bundles per second if making the threshold's signatures were the only cost.
 * ratio = bundles per second achieved / that bound. The JSON also gives the verify and recover
 * rates on all cores, and the ceiling they set, measured in the same run: every node signs (3
 * signatures per instruction, as in production) and the hub checks 2 (the third is not needed
 * and not checked), by recovery against the member's address: checking against a cached public
 * key would not see a wrong v (recovery id), which the vault's ecrecover would turn into another
 * signer. All of it shares this machine's cores, so no run can beat
 *
 *   ratio_ceiling = 1 / (signs per bundle / sign rate + checks per bundle / recover rate) / bound
 *
 * (the secp256k1 work alone, everything else free), nor any design in which the hub checks the
 * threshold's signatures it bundles on the cores that made them:
 *
 *   ratio_ceiling_least = 1 / (threshold / sign rate + threshold / verify rate) / bound
 *
 * (only the threshold's nodes sign, the hub verifies against cached keys). Both are below 1 by
 * the checks' cost; with a check slower than a signature, below 0.5. share_of_ceiling is what
 * the run achieved of ratio_ceiling: the rest went to everything else (phase_ms).
 */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/vec.h"
#include "relayer/bench.h"
#include "relayer/bench_liq.h"
#include "relayer/cmd.h"
#include "relayer/progress.h"

static const char USAGE[] = "usage: relayer bench liquidation [--accounts N] [--chunk ACCOUNTS]\n";

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
        err = ingest_append(L->g, RECORD_INSTRUCTION, enc, sizeof enc, wall_ms(), why);
    L->instructions += err == RL_OK;
    return err;
}

/* Decisions [from, to): logged; the ledger files their plans; the builder's instructions
 * logged; all committed, into the feed the nodes take next. */
static rl_err hub_log(liq *L, struct decision_job *dj, size_t from, size_t to, rl_why *why)
{
    uint64_t t0 = bench_now_ns();
    rl_err err = RL_OK;
    for (size_t i = from; i < to && err == RL_OK; i++) {
        if (!dj->ok[i])
            return rl_fail(why, RL_ERR_SIG, "decision %zu: the calculator's signature does not verify", i);
        if (memcmp(L->decs[i].risk, L->risk.digest, HASH_BYTES) != 0) /* the hub pins its risk */
            return rl_fail(why, RL_ERR_STATE, "decision %zu: made under other risk parameters", i);
        err = ingest_append(L->g, RECORD_DECISION, dj->enc[i], dj->len[i], wall_ms(), why);
        L->decisions_logged++;
    }
    if (err == RL_OK)
        err = ingest_flush(L->g, wall_ms(), why); /* the ledger files the plans */
    MDB_txn *txn;
    if (err == RL_OK && (err = store_read_begin(L->st, &txn, why)) == RL_OK) {
        err = hubinstr_scan(L->instr, txn, L->st, wall_ms(), bench_now_ns() / 1000000, append_instruction, L, why);
        store_read_end(txn);
    }
    if (err == RL_OK)
        err = liq_commit(L, why);
    L->ns_hub_log += bench_now_ns() - t0;
    return err;
}

/* The nodes' signatures of the round just joined, as they would arrive, node by node (copied
 * before the nodes start their next round). */
static rl_err take_sigs(liq *L, hubcosig_sig **sigs, size_t *nsig)
{
    size_t n = 0;
    for (unsigned i = 0; i < LIQ_NODES; i++)
        n += L->nodes[i].nout;
    hubcosig_sig *s = malloc((n ? n : 1) * sizeof *s);
    if (s == NULL)
        return RL_ERR_NOMEM;
    size_t at = 0;
    for (unsigned i = 0; i < LIQ_NODES; i++) {
        memcpy(s + at, L->nodes[i].out, L->nodes[i].nout * sizeof *s);
        at += L->nodes[i].nout;
    }
    *sigs = s;
    *nsig = n;
    return RL_OK;
}

/* Those signatures checked (only what each bundle needs, on worker threads), the bundles logged
 * and committed: bundle-ready. Frees sigs. */
static rl_err hub_bundle(liq *L, hubcosig_sig *sigs, size_t nsig, rl_why *why)
{
    uint64_t t0 = bench_now_ns();
    bundle *b = malloc(sizeof *b);
    uint8_t *enc = malloc(BUNDLE_MAX_BYTES);
    rl_err err = b == NULL || enc == NULL ? RL_ERR_NOMEM : RL_OK;
    size_t nb = 0;
    MDB_txn *txn;
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
                err = ingest_append_verified(L->g, RECORD_BUNDLE, enc, len, wall_ms(), why); /* checked */
            nb++;
        }
        store_read_end(txn);
    }
    if (err == RL_OK)
        err = liq_commit(L, why);
    uint64_t t = bench_now_ns();
    L->ns_hub_bundle += t - t0;
    if (err == RL_OK && !vec_reserve((void **)&L->lat_ns, &L->caplat, L->nbundles + nb, sizeof *L->lat_ns, 1024))
        err = RL_ERR_NOMEM;
    for (size_t i = 0; i < nb && err == RL_OK; i++)
        L->lat_ns[L->nbundles++] = t - L->t0;
    free(sigs);
    free(b);
    free(enc);
    return err;
}

/* Chunks through a pipeline, as separate processes would overlap: while the nodes check and
 * sign chunk k, the hub logs chunk k + 1 and bundles chunk k - 1's signatures. */
static rl_err pipeline(liq *L, struct decision_job *dj, size_t chunk_accounts, rl_why *why)
{
    pthread_t th[LIQ_NODES];
    bool running = false, fresh = false;
    hubcosig_sig *sigs = NULL;
    size_t nsig = 0;
    rl_err err = RL_OK;
    for (size_t from = 0; err == RL_OK;) {
        if (from < L->ndecs) {
            size_t to = from + chunk_accounts < L->ndecs ? from + chunk_accounts : L->ndecs;
            err = hub_log(L, dj, from, to, why);
            from = to;
            fresh = true;
        }
        if (running) {
            uint64_t t0 = bench_now_ns();
            rl_err jerr = liq_nodes_join(L, th, why);
            L->ns_nodes_wait += bench_now_ns() - t0;
            err = err == RL_OK ? jerr : err;
            running = false;
            if (err == RL_OK)
                err = take_sigs(L, &sigs, &nsig);
        }
        if (err == RL_OK && fresh) {
            err = liq_nodes_start(L, th);
            running = err == RL_OK;
            fresh = false;
        }
        if (err == RL_OK && sigs != NULL) {
            err = hub_bundle(L, sigs, nsig, why);
            sigs = NULL;
        }
        if (!running && from >= L->ndecs)
            break;
    }
    free(sigs);
    if (running) { /* stopped by an error: the nodes' threads end all the same */
        rl_why later = {{0}};
        if (liq_nodes_join(L, th, &later) != RL_OK && err == RL_OK)
            *why = later;
    }
    return err;
}

static rl_err run(liq *L, size_t chunk_accounts, size_t want, rl_why *why)
{
    L->ndecs = 0;
    L->t0 = bench_now_ns();
    rl_err err = liq_log_price(L, "ETH", LIQ_PRICE_TICK, why);
    if (err == RL_OK)
        err = liq_commit(L, why);
    L->ns_tick = bench_now_ns() - L->t0;
    /* the nodes take the tick while the calculator decides */
    pthread_t th[LIQ_NODES];
    if (err == RL_OK)
        err = liq_nodes_start(L, th);
    if (err != RL_OK)
        return err;
    err = liq_calc_feed(L, L->nodes[0].f, why);
    rl_err jerr = liq_nodes_join(L, th, why);
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
    L->ns_decide = bench_now_ns() - L->t0 - L->ns_tick;
    if (err == RL_OK)
        err = pipeline(L, &dj, chunk_accounts, why);
    free(dj.enc);
    free(dj.len);
    free(dj.ok);
    for (unsigned i = 0; i < LIQ_NODES && err == RL_OK; i++)
        if (L->nodes[i].refused != 0 || L->nodes[i].not_reproduced != 0)
            err = rl_fail(why, RL_ERR_STATE, "node %u refused %llu instructions, did not reproduce %llu decisions",
                          i + 1, (unsigned long long)L->nodes[i].refused,
                          (unsigned long long)L->nodes[i].not_reproduced);
    if (err == RL_OK && (L->nbundles != L->instructions || L->nbundles == 0))
        err = rl_fail(why, RL_ERR_STATE, "%zu bundles for %llu instructions", L->nbundles,
                      (unsigned long long)L->instructions);
    return err;
}

int bench_liquidation(int argc, char **argv)
{
    static const struct option opts[] = {{"accounts", required_argument, NULL, 'a'},
                                         {"chunk", required_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    unsigned long long naccounts = 100000, chunk_accounts = 0; /* 0: all at once */
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
    if (optind != argc || naccounts < LIQ_RISKY_EVERY || naccounts > 10000000) {
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
        err = liq_setup(L, naccounts, &why);
    if (err == RL_OK) {
        fprintf(stderr, "bench liquidation: measuring libsecp256k1 on %u threads...\n", pool_threads(L->p));
        err = bench_secp_rate(L->p, BENCH_SECP_SIGN, &sign_before);
    }
    size_t want = (naccounts + LIQ_RISKY_EVERY - 1) / LIQ_RISKY_EVERY;
    if (err == RL_OK) {
        fprintf(stderr, "bench liquidation: the tick (ETH %d -> %d USD)...\n", LIQ_PRICE_BEFORE, LIQ_PRICE_TICK);
        err = run(L, chunk_accounts ? chunk_accounts : want, want, &why);
    }
    uint64_t total_ns = 0;
    if (err == RL_OK) {
        qsort(L->lat_ns, L->nbundles, sizeof *L->lat_ns, bench_cmp_u64);
        total_ns = L->lat_ns[L->nbundles - 1];
        err = bench_secp_rate(L->p, BENCH_SECP_SIGN, &sign_after);
    }
    if (err == RL_OK)
        err = bench_secp_rate(L->p, BENCH_SECP_VERIFY, &verify_rate);
    if (err == RL_OK)
        err = bench_secp_rate(L->p, BENCH_SECP_RECOVER, &recover_rate);
    if (err == RL_OK) {
        double sign_rate = (sign_before + sign_after) / 2;
        double bound = sign_rate / LIQ_THRESHOLD;
        double per_s = (double)L->nbundles * 1e9 / (double)total_ns;
        double p50 = (double)L->lat_ns[(L->nbundles - 1) / 2] / 1e6;
        double p99 = (double)L->lat_ns[(L->nbundles * 99 + 99) / 100 - 1] / 1e6;
        uint64_t signed_n = 0;
        for (unsigned i = 0; i < LIQ_NODES; i++)
            signed_n += L->nodes[i].signed_n;
        printf("liquidation: %zu accounts liquidatable of %llu: %llu instructions bundled in %.1f ms = %.0f bundles/s "
               "(p50 %.1f ms, p99 %.1f ms from the tick)\n",
               want, naccounts, (unsigned long long)L->instructions, (double)total_ns / 1e6, per_s, p50, p99);
        printf("secp256k1 on %u threads: sign %.0f/s, verify %.0f/s, recover %.0f/s; bound %.0f bundles/s "
               "(sign rate / threshold %d); signatures made %llu, checked by the hub %llu, not needed %llu\n",
               pool_threads(L->p), sign_rate, verify_rate, recover_rate, bound, LIQ_THRESHOLD,
               (unsigned long long)signed_n, (unsigned long long)L->sigs_checked_taken,
               (unsigned long long)L->sigs_not_needed);
        json_t *j = json_pack(
            "{s:s, s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f}",
            "bench", "liquidation", "accounts", (json_int_t)naccounts, "liquidated_accounts", (json_int_t)want,
            "chunk_accounts", (json_int_t)(chunk_accounts ? chunk_accounts : want), "bundles", (json_int_t)L->nbundles, "p50_ms", p50, "p99_ms",
            p99, "total_ms", (double)total_ns / 1e6, "latency_per", "instruction", "signatures_made",
            (json_int_t)signed_n, "signatures_checked_by_hub", (json_int_t)L->sigs_checked_taken,
            "signatures_not_needed", (json_int_t)L->sigs_not_needed, "secp_sign_per_s_all_cores", sign_rate,
            "secp_sign_per_s_before", sign_before, "secp_sign_per_s_after", sign_after,
            "secp_verify_per_s_all_cores", verify_rate, "secp_recover_per_s_all_cores", recover_rate,
            "bound_bundles_per_s", bound, "cores", (int)pool_threads(L->p), "threshold", LIQ_THRESHOLD, "peak_rss_mb",
            bench_peak_rss_mb(), "per_s", per_s);
        json_object_set_new(j, "phase_ms",
                            json_pack("{s:f, s:f, s:f, s:f, s:f}", "tick_logged", (double)L->ns_tick / 1e6,
                                      "decided_nodes_took_tick", (double)L->ns_decide / 1e6,
                                      "hub_logged_decisions_instructions", (double)L->ns_hub_log / 1e6,
                                      "hub_checked_bundled", (double)L->ns_hub_bundle / 1e6,
                                      "hub_waited_for_nodes", (double)L->ns_nodes_wait / 1e6));
        /* the secp256k1 work per bundle, as counted in this run, at the rates measured in it */
        double signs_per = (double)signed_n / (double)L->nbundles;
        double checks_per = (double)L->sigs_checked_taken / (double)L->nbundles;
        double ceiling = 1.0 / (signs_per / sign_rate + checks_per / recover_rate);
        double least = 1.0 / (LIQ_THRESHOLD / sign_rate + LIQ_THRESHOLD / verify_rate);
        json_object_set_new(j, "ceiling", json_pack("{s:f, s:f, s:f, s:f, s:f}", "signs_per_bundle", signs_per,
                                                    "checks_per_bundle", checks_per, "ratio_ceiling", ceiling / bound,
                                                    "ratio_ceiling_least", least / bound,
                                                    "share_of_ceiling", per_s / ceiling));
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
