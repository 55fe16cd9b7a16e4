/*
 * cmd_dev.c - `relayer dev simulate`: a whole simulated cluster's output, through the real
 * ingest path, for the demo, the benchmarks and the crash tests.
 *
 * Running it again on the same directory with the same arguments resumes: keys and the stream
 * are derived from the seed, and events already settled in the ledger are skipped, so a run
 * killed at any moment completes to the same ledger.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/ingest.h"
#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/sim.h"

static const char USAGE[] =
    "usage: relayer dev simulate --out DIR --events N --nodes K --threshold M [options]\n"
    "       relayer dev risk --seed S        a risk file (collateral/spec.h) for the simulated chains\n"
    "       relayer dev account --seed S --events N [--index K]   a simulated account's address\n"
    "       relayer dev drop-tail FILE --drop K --out OUT   what a dishonest exporter does: FILE's log\n"
    "                        without its last K records, header and footer rewritten, no checkpoint\n"
    "\n"
    "Makes K node keys (DIR/keys), DIR/relayers.json and a hub ledger DIR/hub holding N\n"
    "quorum-attested deposits across two chains (l1: chain id 1, l2: chain id 10) and many\n"
    "accounts, through the real verify + quorum + group-commit path. Keys derive from the seed:\n"
    "for development only. Re-running on the same DIR resumes.\n"
    "\n"
    "options:\n"
    "  --seed S            derivation seed (default 1)\n"
    "  --equivocators K    the first K members (at most threshold - 1) sign a second, wrong content of\n"
    "                      one event in 4 (picked by the seed) before the honest signatures: each is\n"
    "                      credited once, and each (event, member) logged once as EQUIVOCATION evidence\n"
    "  --conflicts C       events on which, after the credit, a quorum signs a second content (a reorg\n"
    "                      deeper than the nodes' confirmations): a CONFLICT alert each (default 0)\n"
    "  --rotate-at R       rotate the relayer set after R events (default: never)\n"
    "  --commit-every N    group commit bound, records (default 4096)\n"
    "  --commit-delay-ms T group commit bound, milliseconds (default 20)\n"
    "  --map-max-mb N      LMDB map limit (default 65536)\n"
    "  --report-commits    print 'committed head=N' after every commit\n"
    "  --json              print the summary as JSON\n";

struct dev_args {
    const char *out;
    sim_opts so;
    ingest_opts io;
    uint64_t map_max_mb;
    bool report, json;
};

static void on_alert(void *ctx, const char *what, const char *why)
{
    (void)ctx;
    log_warn(what, "why=\"%s\"", why);
}

static void on_commit(void *ctx, const ledger_head *head, size_t records)
{
    (void)ctx;
    (void)records;
    printf("committed head=%" PRIu64 "\n", head->seq);
    fflush(stdout);
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-')
        return false;
    *v = x;
    return true;
}

static int parse(int argc, char **argv, struct dev_args *a)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},         {"events", required_argument, NULL, 'e'},
        {"nodes", required_argument, NULL, 'n'},       {"threshold", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'},        {"conflicts", required_argument, NULL, 'c'},
        {"rotate-at", required_argument, NULL, 'r'},   {"commit-every", required_argument, NULL, 'C'},
        {"commit-delay-ms", required_argument, NULL, 'D'}, {"map-max-mb", required_argument, NULL, 'M'},
        {"report-commits", no_argument, NULL, 'R'},    {"json", no_argument, NULL, 'j'},
        {"equivocators", required_argument, NULL, 'E'},
        {"help", no_argument, NULL, 'h'},              {NULL, 0, NULL, 0},
    };
    uint64_t nodes = 0, threshold = 0, commit_every = 0, equivocators = 0;
    bool have_events = false;
    int c;
    memset(a, 0, sizeof *a);
    a->so.seed = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'o': a->out = optarg; break;
        case 'e': ok = parse_u64(optarg, &a->so.events); have_events = ok; break;
        case 'n': ok = parse_u64(optarg, &nodes); break;
        case 't': ok = parse_u64(optarg, &threshold); break;
        case 's': ok = parse_u64(optarg, &a->so.seed); break;
        case 'c': ok = parse_u64(optarg, &a->so.conflicts); break;
        case 'E': ok = parse_u64(optarg, &equivocators); break;
        case 'r': ok = parse_u64(optarg, &a->so.rotate_at); break;
        case 'C': ok = parse_u64(optarg, &commit_every) && commit_every > 0; break;
        case 'D': ok = parse_u64(optarg, &a->io.commit_max_delay_ms); break;
        case 'M': ok = parse_u64(optarg, &a->map_max_mb) && a->map_max_mb > 0; break;
        case 'R': a->report = true; break;
        case 'j': a->json = true; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
        if (!ok) {
            const char *name = "?";
            for (const struct option *o = opts; o->name; o++)
                if (o->val == c)
                    name = o->name;
            fprintf(stderr, "relayer dev simulate: --%s takes a whole number, not '%s'\n", name, optarg);
            return EXIT_USAGE;
        }
    }
    if (a->out == NULL || !have_events || nodes == 0 || threshold == 0) {
        fprintf(stderr, "relayer dev simulate: --out, --events, --nodes and --threshold are required\n%s", USAGE);
        return EXIT_USAGE;
    }
    if (nodes >= RELSET_MAX_MEMBERS || threshold > nodes) {
        fprintf(stderr, "relayer dev simulate: need 1 <= threshold <= nodes < %d\n", RELSET_MAX_MEMBERS);
        return EXIT_USAGE;
    }
    if (a->so.conflicts > a->so.events / 2) {
        fprintf(stderr, "relayer dev simulate: --conflicts may be at most half of --events\n");
        return EXIT_USAGE;
    }
    if (equivocators >= threshold) {
        fprintf(stderr, "relayer dev simulate: --equivocators may be at most threshold - 1, the fault budget "
                        "(with threshold faulty members a wrong content can reach a quorum first)\n");
        return EXIT_USAGE;
    }
    a->so.equivocators = (unsigned)equivocators;
    a->so.nodes = (unsigned)nodes;
    a->so.threshold = (unsigned)threshold;
    a->io.commit_max_records = commit_every;
    return -1;
}

/* An existing key file must be this seed's; a .pub lost to a crash is written again. */
static rl_err check_identity(const char *keys_dir, const node_key *k, rl_why *why)
{
    const node_pub *want = node_key_pub(k);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s.key", keys_dir, want->name);
    node_key *have;
    rl_err err = keyfile_read(path, &have, why);
    if (err != RL_OK)
        return err;
    bool same = memcmp(node_key_pub(have)->ed25519, want->ed25519, ED25519_PK_BYTES) == 0;
    node_key_free(have);
    if (!same)
        return rl_fail(why, RL_ERR_STATE, "%s belongs to another seed; use a new --out", path);
    err = pubfile_write(keys_dir, want, why);
    return err == RL_ERR_EXISTS ? RL_OK : err;
}

/* Writes key files and relayers.json, or checks existing ones match this seed. */
static rl_err write_identity(const char *dir, const sim *s, rl_why *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/keys", dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return rl_fail(why, RL_ERR_IO, "%s: %s", path, strerror(errno));
    for (unsigned i = 0; i < s->nkeys; i++) {
        rl_err err = keyfile_write(path, s->keys[i], why);
        if (err == RL_ERR_EXISTS)
            err = check_identity(path, s->keys[i], why);
        if (err != RL_OK)
            return err;
    }
    json_t *j = relset_to_json(&s->genesis);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    snprintf(path, sizeof path, "%s/relayers.json", dir);
    char *old = NULL;
    size_t len;
    rl_err err = file_read_all(path, 1 << 20, &old, &len, NULL);
    if (err == RL_OK) {
        if (strcmp(old, text) != 0 && strncmp(old, text, strlen(text)) != 0)
            err = rl_fail(why, RL_ERR_STATE, "%s was made with other arguments; use a new --out", path);
        free(old);
    } else {
        size_t n = strlen(text);
        char *with_nl = realloc(text, n + 2);
        if (with_nl == NULL) {
            free(text);
            return RL_ERR_NOMEM;
        }
        text = with_nl;
        memcpy(text + n, "\n", 2);
        err = file_write_atomic(path, text, why);
    }
    free(text);
    return err;
}

static int simulate(int argc, char **argv)
{
    struct dev_args a;
    int rc = parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    log_init("simulate", "", LOG_INFO);
    sim s;
    store *st = NULL;
    pool *p = NULL;
    ingest *g = NULL;
    rl_why why = {{0}};
    uint64_t t0 = mono_ms();
    char hub[4096];
    snprintf(hub, sizeof hub, "%s/hub", a.out);

    rl_err err = sim_init(&s, &a.so, &why);
    if (err != RL_OK) {
        fprintf(stderr, "relayer dev simulate: %s\n", why.text);
        return EXIT_USAGE;
    }
    if (mkdir(a.out, 0700) != 0 && errno != EEXIST)
        err = rl_fail(&why, RL_ERR_IO, "%s: %s", a.out, strerror(errno));
    if (err == RL_OK)
        err = write_identity(a.out, &s, &why);
    store_opts so = {.map_max_bytes = a.map_max_mb << 20};
    if (err == RL_OK)
        err = store_open(&st, hub, &so, &why);
    if (err == RL_OK)
        err = pool_new(&p, 0);
    a.io.alert = on_alert;
    if (a.report)
        a.io.committed = on_commit;
    if (err == RL_OK)
        err = ingest_open(&g, st, p, &s.genesis, &a.io, wall_ms(), &why);

    progress pr;
    progress_init(&pr, "simulate");
    if (err == RL_OK)
        err = sim_ingest(&s, p, g, progress_update, &pr, &why);
    progress_done(&pr);
    if (err == RL_OK) /* what a node would hand an auditor: DIR/checkpoint.json */
        err = sim_write_checkpoint(&s, ingest_head(g)->seq, ingest_head(g)->hash, ingest_head(g)->set_version, a.out,
                                   &why);

    if (err == RL_OK) {
        const ingest_stats *x = ingest_get_stats(g);
        const ledger_head *h = ingest_head(g);
        uint64_t ms = mono_ms() - t0;
        if (a.json) {
            json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "out", a.out,
                                  "events",
                                  (json_int_t)a.so.events, "observations", (json_int_t)x->received, "verified",
                                  (json_int_t)x->verified, "attested", (json_int_t)x->attested, "conflicts",
                                  (json_int_t)x->conflicts, "equivocations", (json_int_t)x->equivocations,
                                  "refused", (json_int_t)x->refused, "records",
                                  (json_int_t)x->records, "commits", (json_int_t)x->commits, "head_seq",
                                  (json_int_t)h->seq, "elapsed_ms", (json_int_t)ms);
            char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
            puts(text ? text : "{}");
            free(text);
            json_decref(j);
        } else {
            printf("simulated %llu deposits observed by %u nodes (threshold %u) into %s\n",
                   (unsigned long long)a.so.events, a.so.nodes, a.so.threshold, hub);
            printf("  observations %llu received, %llu signatures verified, %llu held back as not needed\n",
                   (unsigned long long)x->received, (unsigned long long)x->verified, (unsigned long long)x->held);
            printf("  new this run: %llu attested, %llu conflicts, %llu equivocations, %llu refused; %llu records in "
                   "%llu commits\n",
                   (unsigned long long)x->attested, (unsigned long long)x->conflicts,
                   (unsigned long long)x->equivocations, (unsigned long long)x->refused,
                   (unsigned long long)x->records, (unsigned long long)x->commits);
            printf("  log head %llu, relayer set version %u; genesis set in %s/relayers.json\n",
                   (unsigned long long)h->seq, h->set_version, a.out);
        }
    } else {
        fprintf(stderr, "relayer dev simulate: %s\n", why.text[0] ? why.text : rl_strerror(err));
    }
    ingest_close(g);
    pool_free(p);
    store_close(st);
    sim_fini(&s);
    return err == RL_OK ? 0 : EXIT_USAGE;
}

/* Reads --seed, --events and --index as they follow `risk` or `account`. */
static bool sim_args(int argc, char **argv, sim_opts *o, uint64_t *index)
{
    *o = (sim_opts){.seed = 1, .events = 10};
    *index = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end;
        uint64_t v = strtoull(argv[i + 1], &end, 10);
        if (*end != '\0')
            return false;
        if (strcmp(argv[i], "--seed") == 0)
            o->seed = v;
        else if (strcmp(argv[i], "--events") == 0)
            o->events = v;
        else if (strcmp(argv[i], "--index") == 0)
            *index = v;
        else
            return false;
    }
    return argc % 2 == 1;
}

/* The simulated chains as a risk file: ETH (native on both) and the USDC-like token. */
static int dev_risk(const sim_opts *o)
{
    uint8_t u1[EVM_ADDR_BYTES], u2[EVM_ADDR_BYTES], a[4][EVM_ADDR_BYTES];
    char h1[43], h2[43], ha[4][43];
    sim_usdc(o, SIM_CHAIN_L1, u1);
    sim_usdc(o, SIM_CHAIN_L2, u2);
    sim_vault(o, SIM_CHAIN_L1, a[0]);
    sim_insurance(o, SIM_CHAIN_L1, a[1]);
    sim_vault(o, SIM_CHAIN_L2, a[2]);
    sim_insurance(o, SIM_CHAIN_L2, a[3]);
    for (int i = 0; i < 4; i++)
        evm_addr_to_hex(a[i], ha[i]);
    printf("{\n"
           "  \"chains\": {\"l1\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\"},\n"
           "             \"l2\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\"}},\n"
           "  \"assets\": {\n"
           "    \"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2, \"group\": \"ETH\","
           " \"scan\": \"0.15\",\n"
           "             \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\","
           " \"l2\": \"0x0000000000000000000000000000000000000000\"}},\n"
           "    \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1,\n"
           "              \"tokens\": {\"l1\": \"%s\", \"l2\": \"%s\"}}},\n"
           "  \"markets\": {\n"
           "    \"ETH-PERP\": {\"feed\": \"ETH\", \"group\": \"ETH\", \"scan\": \"0.15\",\n"
           "                 \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"},\n"
           "                           {\"from\": \"1000000\", \"imf\": \"0.10\", \"mmf\": \"0.05\"}],\n"
           "                 \"vol\": {\"sigma_ref\": \"0.02\", \"cap\": \"3\"}}},\n"
           "  \"params\": {\"liquidation_fee\": \"0.01\", \"portfolio_floor\": \"0.01\","
           " \"portfolio_mm_ratio\": \"0.5\", \"ewma_lambda\": \"0.94\"},\n"
           "  \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 60000}\n"
           "}\n",
           SIM_CHAIN_L1, ha[0], ha[1], SIM_CHAIN_L2, ha[2], ha[3], evm_addr_to_hex(u1, h1), evm_addr_to_hex(u2, h2));
    return 0;
}

/* `dev drop-tail FILE --drop K --out OUT` (export_write_prefix). */
static int dev_drop_tail(int argc, char **argv)
{
    export_reader *r = NULL;
    rl_why why = {{0}};
    uint64_t drop;
    char *end = NULL;
    if (argc != 6 || strcmp(argv[2], "--drop") != 0 || strcmp(argv[4], "--out") != 0 ||
        (drop = strtoull(argv[3], &end, 10), *end != '\0')) {
        fprintf(stderr, "relayer dev drop-tail: expected FILE --drop K --out OUT\n%s", USAGE);
        return EXIT_USAGE;
    }
    rl_err err = export_open(&r, argv[1], &why);
    uint64_t n = r != NULL ? export_announced(r) : 0;
    export_close(r);
    if (err == RL_OK)
        err = drop < n ? export_write_prefix(argv[1], argv[5], n - drop, &why)
                       : rl_fail(&why, RL_ERR_ARG, "%s holds %llu records", argv[1], (unsigned long long)n);
    if (err != RL_OK) {
        fprintf(stderr, "relayer dev drop-tail: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    printf("wrote %s: the first %llu of %llu records, header and footer rewritten\n", argv[5],
           (unsigned long long)(n - drop), (unsigned long long)n);
    return 0;
}

int cmd_dev(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "simulate") == 0)
        return simulate(argc - 1, argv + 1);
    if (strcmp(argv[1], "drop-tail") == 0)
        return dev_drop_tail(argc - 1, argv + 1);
    sim_opts o;
    uint64_t k;
    if ((strcmp(argv[1], "risk") == 0 || strcmp(argv[1], "account") == 0) && !sim_args(argc - 1, argv + 1, &o, &k)) {
        fprintf(stderr, "relayer dev %s: expected --seed S [--events N] [--index K]\n%s", argv[1], USAGE);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "risk") == 0)
        return dev_risk(&o);
    if (strcmp(argv[1], "account") == 0) {
        uint8_t a[EVM_ADDR_BYTES];
        char hex[43];
        sim_account(&o, k, a);
        puts(evm_addr_to_hex(a, hex));
        return 0;
    }
    fprintf(stderr, "relayer dev: unknown subcommand '%s'\n%s", argv[1], USAGE);
    return EXIT_USAGE;
}
