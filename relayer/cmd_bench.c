/*
 * cmd_bench.c - `relayer bench ingest | replay`: throughput against a bound measured in the
 * same run on the same machine, so the ratio means something on a shared, noisy host.
 *
 * The bound for both is the raw libsodium ed25519 verification rate on every core, divided by
 * the signatures verified per event (ingest) or per record (replay): the work per event is
 * dominated by verification, so ratio = achieved / bound says how much everything else costs.
 * The rate is measured just before and just after the timed run and the two are averaged, so a
 * neighbour's load that comes or goes meanwhile biases neither side. The last line printed is
 * one JSON object.
 */
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db/ingest.h"
#include "db/replay.h"
#include "relayer/bench.h"
#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/hubckpt.h"
#include "relayer/progress.h"
#include "relayer/replica.h"
#include "relayer/sim.h"

extern char **environ;

static const char USAGE[] = "usage: relayer bench ingest [--events N]\n"
                            "       relayer bench replay [--records N]\n"
                            "       relayer bench bus [--events N]\n"
                            "       relayer bench margin [--accounts N]\n"
                            "       relayer bench liquidation [--accounts N] [--chunk ACCOUNTS]\n"
                            "       relayer bench watch [--deposits N] [--rate PER_S] [--confirmations C]\n"
                            "                           [--block-time S] [--poll-ms MS]\n"
                            "       relayer bench hostile [--events N] [--connections C]\n"
                            "\n"
                            "ingest  quorum-signed deposits through verify + quorum + LMDB group commit\n"
                            "        (default 100000 events, 3 nodes, threshold 2)\n"
                            "replay  `audit verify` over an exported log (default 200000 records)\n"
                            "bus     3 node processes -> CURVE/TCP -> hub process -> 2 subscribers, against\n"
                            "        the same stream ingested in process (default 60000 events)\n"
                            "margin  the live calculator in memory: a full sweep, then price ticks that\n"
                            "        recompute only exposed accounts (default 1000000 accounts)\n"
                            "liquidation  a price tick makes 1 % of the accounts liquidatable: tick to bundles\n"
                            "        ready (decision, instructions, 3 nodes' replicas, checks and signatures, the\n"
                            "        hub's bundles), in process, against libsecp256k1's signing rate on all cores\n"
                            "        (default 100000 accounts; decisions all at once, or pipelined in --chunk's)\n"
                            "watch   anvil with interval mining, a hub and 3 EVM watchers as processes, deposits\n"
                            "        at a steady rate: event-to-credit latency against confirmations x block\n"
                            "        time + poll interval (default 40 deposits, 4/s, 2 confirmations, 1 s, 100 ms)\n"
                            "hostile a hub and 3 node processes credit N events clean, then N more while C plain TCP\n"
                            "        connections are held, node3's key floods never-completing events, unknown price\n"
                            "        feeds and malformed frames, and a subscriber key floods catch-up: events/s in\n"
                            "        both phases, the hub's RSS growth and exits\n"
                            "        (default 20000 events, 5000 connections)\n";

#define VERIFY_JOBS 4096
#define VERIFY_MEASURE_NS 2000000000ull

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t bench_cpu_ns(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000ull +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000ull;
}

double bench_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

/* Raw ed25519 verifications per second on all of the pool's threads, and the CPU time (every
 * thread, user + system) one of them took: on a shared host the second moves far less. */
static rl_err verify_rate(pool *p, double *rate, double *cpu_us)
{
    verify_job *jobs = calloc(VERIFY_JOBS, sizeof *jobs);
    if (jobs == NULL)
        return RL_ERR_NOMEM;
    unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
    crypto_sign_keypair(pk, sk);
    for (size_t i = 0; i < VERIFY_JOBS; i++) {
        randombytes_buf(jobs[i].msg, HASH_BYTES);
        memcpy(jobs[i].pk, pk, sizeof pk);
        crypto_sign_detached(jobs[i].sig, NULL, jobs[i].msg, HASH_BYTES, sk);
    }
    sodium_memzero(sk, sizeof sk);
    pool_run(p, verify_jobs_fn, jobs, VERIFY_JOBS, 64); /* warm-up */
    double cpu_ns;
    *rate = bench_pool_rate(p, verify_jobs_fn, jobs, VERIFY_JOBS, 64, VERIFY_MEASURE_NS, &cpu_ns);
    *cpu_us = cpu_ns / 1e3;
    bool all_ok = true;
    for (size_t i = 0; i < VERIFY_JOBS; i++)
        all_ok = all_ok && jobs[i].ok;
    free(jobs);
    return all_ok ? RL_OK : RL_ERR_CRYPTO;
}

double bench_pool_rate(pool *p, pool_fn fn, void *ctx, size_t njobs, size_t chunk, uint64_t measure_ns,
                       double *cpu_ns_per_job)
{
    uint64_t t0 = bench_now_ns(), c0 = bench_cpu_ns(), done = 0;
    while (bench_now_ns() - t0 < measure_ns) {
        pool_run(p, fn, ctx, njobs, chunk);
        done += njobs;
    }
    uint64_t ns = bench_now_ns() - t0;
    if (cpu_ns_per_job != NULL)
        *cpu_ns_per_job = (double)(bench_cpu_ns() - c0) / (double)done;
    return (double)done * 1e9 / (double)ns;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bench_rm_rf(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

char *bench_tmpdir(const char *name)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    if (asprintf(&path, "%s/relayer-bench-%s.XXXXXX", base ? base : "/tmp", name) < 0)
        return NULL;
    if (mkdtemp(path) == NULL) {
        free(path);
        return NULL;
    }
    return path;
}

static void print_json(json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(j);
}

static bool parse_count(int argc, char **argv, const char *name, uint64_t *value)
{
    const struct option opts[] = {{name, required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end;
        if (c != 'n')
            return false;
        *value = strtoull(optarg, &end, 10);
        if (*end != '\0' || *value == 0)
            return false;
    }
    return optind == argc;
}

/* The checkpoint rounds of a hub and its three nodes' replicas, in process (replica.h,
 * hubckpt.h): each time the committed head passes another REPLICA_CHECKPOINT_RECORDS records,
 * every member signs it, the hub checks each signature against its own log (record hash, ed25519)
 * and logs the quorum as a CHECKPOINT record. All of it runs on the calling thread, whose CPU time
 * it adds to ckpt->cpu_ns. */
struct ckpt_lookup {
    store *st;
};

static bool ckpt_hash_at(void *ctx, uint64_t seq, uint8_t out[HASH_BYTES])
{
    struct ckpt_lookup *l = ctx;
    MDB_txn *txn;
    MDB_val v;
    bool ok = store_read_begin(l->st, &txn, NULL) == RL_OK;
    if (ok) {
        ok = ledger_record_get(txn, l->st, seq, &v, NULL) == RL_OK;
        if (ok)
            record_hash(out, v.mv_data, v.mv_size);
        store_read_end(txn);
    }
    return ok;
}

static rl_err checkpoint_round(hubckpt *k, const sim *s, ingest *g, store *st, uint64_t now_ms, uint64_t *signed_seq,
                               bench_checkpoints *ck, rl_why *why)
{
    const ledger_head *head = ingest_head(g);
    if (head->seq < *signed_seq + REPLICA_CHECKPOINT_RECORDS)
        return RL_OK;
    uint64_t cpu0 = thread_cpu_ns();
    const relset *set = ingest_set(g);
    checkpoint c = {.seq = head->seq, .set_version = head->set_version};
    memcpy(c.head, head->hash, HASH_BYTES);
    *signed_seq = head->seq;
    struct ckpt_lookup l = {st};
    rl_err err = RL_OK;
    bool ready = false;
    checkpoint_signed cs;
    for (unsigned i = 0; i < set->n && !ready && err == RL_OK; i++) {
        uint8_t sig[ED25519_SIG_BYTES];
        checkpoint_sign(&c, s->keys[set->members[i].id - 1], sig); /* node i's replica */
        err = hubckpt_offer(k, set, head->seq, ckpt_hash_at, &l, set->members[i].id, &c, sig, mono_ms(), &cs, &ready);
    }
    uint8_t enc[CHECKPOINT_MAX_BYTES];
    size_t len;
    if (err == RL_OK && ready && (err = checkpoint_signed_encode(enc, &len, &cs, why)) == RL_OK &&
        (err = ingest_append(g, RECORD_CHECKPOINT, enc, len, now_ms, why)) == RL_OK) { /* ingest's clock */
        hubckpt_logged(k, c.seq);
        ck->logged++;
    }
    ck->cpu_ns += thread_cpu_ns() - cpu0;
    return err;
}

rl_err bench_ingest_once(pool *p, const sim *s, const signed_obs *stream, size_t nobs, const char *dir,
                         ingest_stats *stats, double *secs, bench_checkpoints *ck, rl_why *why)
{
    store *st = NULL;
    ingest *g = NULL;
    hubckpt *k = NULL;
    uint64_t signed_seq = 0;
    memset(ck, 0, sizeof *ck);
    /* The group-commit bounds the hub runs with by default (hub.conf). */
    ingest_opts io = {.commit_max_records = INGEST_HUB_COMMIT_MAX,
                      .commit_load_records = INGEST_HUB_LOAD_RECORDS,
                      .commit_load_delay_ms = INGEST_HUB_LOAD_DELAY_MS};
    rl_err err = store_open(&st, dir, NULL, why);
    if (err == RL_OK)
        err = ingest_open(&g, st, p, &s->genesis, &io, 0, why);
    if (err == RL_OK)
        err = hubckpt_new(&k, 0);
    /* Observations arrive as a hub would read them off its sockets: a few thousand at a time. */
    const size_t arrival = 8192;
    uint64_t t0 = bench_now_ns();
    for (size_t off = 0; off < nobs && err == RL_OK; off += arrival) {
        size_t n = nobs - off < arrival ? nobs - off : arrival;
        err = ingest_submit(g, stream + off, n, (bench_now_ns() - t0) / 1000000, why);
        if (err == RL_OK)
            err = checkpoint_round(k, s, g, st, (bench_now_ns() - t0) / 1000000, &signed_seq, ck, why);
    }
    if (err == RL_OK)
        err = ingest_flush(g, (bench_now_ns() - t0) / 1000000, why);
    *secs = (double)(bench_now_ns() - t0) / 1e9;
    if (err == RL_OK)
        *stats = *ingest_get_stats(g);
    hubckpt_free(k);
    ingest_close(g);
    store_close(st);
    return err;
}

static int bench_ingest(int argc, char **argv)
{
    uint64_t events = 100000;
    if (!parse_count(argc, argv, "events", &events)) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    pool *p = NULL;
    signed_obs *stream = NULL;
    size_t nobs = 0;
    sim s;
    rl_why why = {{0}};
    double rate = 0, cpu_before = 0, cpu_after = 0;
    char *dir = bench_tmpdir("ledger");
    if (dir == NULL)
        return EXIT_USAGE;
    sim_opts so = {.events = events, .nodes = 3, .threshold = 2, .seed = 7};
    rl_err err = pool_new(&p, 0);
    if (err == RL_OK)
        err = sim_init(&s, &so, &why);
    if (err != RL_OK)
        goto done;
    fprintf(stderr, "bench ingest: measuring raw ed25519 verification on %u threads...\n", pool_threads(p));
    if ((err = verify_rate(p, &rate, &cpu_before)) != RL_OK)
        goto done_sim;
    fprintf(stderr, "bench ingest: signing %llu events x 3 nodes (not timed)...\n", (unsigned long long)events);
    if ((err = sim_stream(&s, p, 0, events, &stream, &nobs, &why)) != RL_OK)
        goto done_sim;
    fprintf(stderr, "bench ingest: ingesting %zu observations...\n", nobs);
    ingest_stats stats;
    double secs;
    bench_checkpoints ck;
    uint64_t cpu0 = bench_cpu_ns();
    if ((err = bench_ingest_once(p, &s, stream, nobs, dir, &stats, &secs, &ck, &why)) != RL_OK)
        goto done_sim;
    uint64_t cpu_ingest = bench_cpu_ns() - cpu0;
    fprintf(stderr, "bench ingest: measuring raw ed25519 verification again...\n");
    double rate_before = rate, rate_after;
    if ((err = verify_rate(p, &rate_after, &cpu_after)) != RL_OK)
        goto done_sim;
    rate = (rate_before + rate_after) / 2;

    const ingest_stats *x = &stats;
    double eps = (double)x->attested / secs;
    double sigs_per_event = (double)x->verified / (double)x->attested;
    double bound = rate / sigs_per_event;
    /* CPU time, every thread: what ingest costs per event beyond verifying its signatures, much
     * less sensitive than wall time to what else runs on the machine. Reported, not the ratio. */
    double cpu_us_per_event = (double)cpu_ingest / 1e3 / (double)x->attested;
    double verify_cpu_us = (cpu_before + cpu_after) / 2;
    printf("ingest: %llu events in %.2f s = %.0f events/s (%llu commits, %.1f records each)\n",
           (unsigned long long)x->attested, secs, eps, (unsigned long long)x->commits,
           (double)x->records / (double)(x->commits ? x->commits : 1));
    printf("verify: %.0f signatures/s on %u threads; %.2f verified per event -> bound %.0f events/s\n", rate,
           pool_threads(p), sigs_per_event, bound);
    printf("cpu: %.1f us per event (every thread), %.1f us per raw verification -> %.1f%% of it verifying\n",
           cpu_us_per_event, verify_cpu_us, 100 * verify_cpu_us * sigs_per_event / cpu_us_per_event);
    double ckpt_share = (double)ck.cpu_ns / (double)cpu_ingest;
    printf("checkpoints: %llu logged (every %d records, 3 nodes signing, the hub checking), %.3f%% of the CPU time\n",
           (unsigned long long)ck.logged, REPLICA_CHECKPOINT_RECORDS, 100 * ckpt_share);
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:f, s:f, s:f, s:f, s:f}", "bench",
                         "ingest", "events", (json_int_t)x->attested, "events_per_s", eps, "verify_per_s_all_cores",
                         rate, "verify_per_s_before", rate_before, "verify_per_s_after", rate_after,
                         "sigs_verified_per_event", sigs_per_event, "bound_events_per_s", bound, "cores",
                         (int)pool_threads(p), "commits", (json_int_t)x->commits, "peak_rss_mb", bench_peak_rss_mb(),
                         "cpu_us_per_event", cpu_us_per_event, "verify_cpu_us_per_sig", verify_cpu_us,
                         "cpu_verify_share", verify_cpu_us * sigs_per_event / cpu_us_per_event, "ratio", eps / bound);
    json_object_set_new(j, "checkpoints", json_integer((json_int_t)ck.logged));
    json_object_set_new(j, "checkpoint_cpu_share", json_real(ckpt_share));
    print_json(j);
done_sim:
    free(stream);
    sim_fini(&s);
done:
    pool_free(p);
    bench_rm_rf(dir);
    free(dir);
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench ingest: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}

/* Runs this binary with args, its stdout sent to stderr so ours ends with the JSON line. */
static rl_err run_self(char *const args[], rl_why *why)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, STDERR_FILENO, STDOUT_FILENO);
    pid_t pid;
    int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return rl_fail(why, RL_ERR_IO, "cannot run relayer %s: %s", args[1], strerror(rc));
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return rl_fail(why, RL_ERR_IO, "relayer %s %s failed", args[1], args[2]);
    return RL_OK;
}

static int bench_replay(int argc, char **argv)
{
    uint64_t records = 200000;
    if (!parse_count(argc, argv, "records", &records) || records < 2) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    char *dir = bench_tmpdir("ledger");
    if (dir == NULL)
        return EXIT_USAGE;
    char sim_dir[4096], hub[4200], file[4200], rel[4200], events[32];
    snprintf(sim_dir, sizeof sim_dir, "%s/sim", dir);
    snprintf(hub, sizeof hub, "%s/hub", sim_dir);
    snprintf(file, sizeof file, "%s/log.rlog", dir);
    snprintf(rel, sizeof rel, "%s/relayers.json", sim_dir);
    snprintf(events, sizeof events, "%llu", (unsigned long long)(records - 1)); /* + the genesis record */
    char *sim_args[] = {"relayer", "dev", "simulate", "--out", sim_dir, "--events", events, "--nodes", "3",
                        "--threshold", "2", "--seed", "11", NULL};
    char *export_args[] = {"relayer", "audit", "export", "--db", hub, "--out", file, NULL};
    rl_why why = {{0}};
    pool *p = NULL;
    relset genesis;
    double rate = 0, cpu_us = 0;
    audit_summary sum;
    replay_failure fail = {0};
    uint64_t ns = 0;

    /* The log is made by child processes so this process's peak memory is the verifier's. */
    fprintf(stderr, "bench replay: building a %llu-record log (not timed)...\n", (unsigned long long)records);
    rl_err err = run_self(sim_args, &why);
    if (err == RL_OK)
        err = run_self(export_args, &why);
    if (err == RL_OK)
        err = relset_load(rel, &genesis, &why);
    if (err == RL_OK)
        err = pool_new(&p, 0);
    if (err == RL_OK) {
        fprintf(stderr, "bench replay: measuring raw ed25519 verification on %u threads...\n", pool_threads(p));
        err = verify_rate(p, &rate, &cpu_us);
    }
    if (err == RL_OK) {
        fprintf(stderr, "bench replay: audit verify...\n");
        replay_opts ro = {.genesis = &genesis, .pool = p};
        uint64_t t0 = bench_now_ns();
        err = replay_file(file, &ro, &sum, &fail);
        ns = bench_now_ns() - t0;
        if (err != RL_OK)
            why = fail.why;
    }
    double rate_before = rate, rate_after = 0;
    if (err == RL_OK && (err = verify_rate(p, &rate_after, &cpu_us)) == RL_OK)
        rate = (rate_before + rate_after) / 2;
    if (err == RL_OK) {
        double secs = (double)ns / 1e9;
        double rps = (double)sum.records / secs;
        double sigs_per_record = (double)sum.signatures / (double)sum.records;
        double bound = rate / sigs_per_record;
        printf("replay: audit verify of %llu records in %.2f s = %.0f records/s\n", (unsigned long long)sum.records,
               secs, rps);
        printf("verify: %.0f signatures/s on %u threads; %.2f per record -> bound %.0f records/s\n", rate,
               pool_threads(p), sigs_per_record, bound);
        print_json(json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f}", "bench", "replay", "records",
                             (json_int_t)sum.records, "records_per_s", rps, "verify_per_s_all_cores", rate,
                             "verify_per_s_before", rate_before, "verify_per_s_after", rate_after,
                             "sigs_per_record", sigs_per_record, "bound_records_per_s", bound, "cores",
                             (int)pool_threads(p), "peak_rss_mb", bench_peak_rss_mb(), "ratio", rps / bound));
    }
    pool_free(p);
    bench_rm_rf(dir);
    free(dir);
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench replay: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "ingest") == 0)
        return bench_ingest(argc - 1, argv + 1);
    if (strcmp(argv[1], "replay") == 0)
        return bench_replay(argc - 1, argv + 1);
    if (strcmp(argv[1], "bus") == 0)
        return bench_bus(argc - 1, argv + 1);
    if (strcmp(argv[1], "margin") == 0)
        return bench_margin(argc - 1, argv + 1);
    if (strcmp(argv[1], "liquidation") == 0)
        return bench_liquidation(argc - 1, argv + 1);
    if (strcmp(argv[1], "watch") == 0)
        return bench_watch(argc - 1, argv + 1);
    if (strcmp(argv[1], "hostile") == 0)
        return bench_hostile(argc - 1, argv + 1);
    if (strcmp(argv[1], "bus-node") == 0)
        return bench_bus_node(argc - 1, argv + 1);
    fprintf(stderr, "relayer bench: unknown benchmark '%s'\n%s", argv[1], USAGE);
    return EXIT_USAGE;
}
