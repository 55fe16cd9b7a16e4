/*
 * cmd_audit.c - `relayer audit export | verify | replay`: the auditor's commands.
 *
 *   relayer audit export --db DIR --out FILE
 *   relayer audit verify FILE --relayers SET.json [--checkpoint CP.json]... [--set SET.json]... [--json]
 *   relayer audit replay FILE --relayers SET.json --out DIR [--risk risk.json] [--json]
 *
 * verify and replay exit 0 with a summary when every record is good, 1 naming the first bad
 * record and why, 2 on usage or I/O errors. Checkpoints (attest/checkpoint.h), the ones given
 * and the one in the file's header, are checked once every record is: two with a quorum each and
 * different heads at one seq prove a fork (1); a log that ends before one's seq or holds another
 * hash there fails (1); a given checkpoint without a valid quorum of a set that speaks for it at
 * its seq (rule C4: not a retired set) is refused (2), the header's fails the file (1). --set
 * vouches for relayer sets of versions the log never installs (a fork that leaves out a rotation).
 * Given checkpoints of one (seq, head, set version), such as nodes' own heads (one signature
 * each), combine into one before they are judged.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/hex.h"
#include "db/export.h"
#include "db/ledger.h"
#include "collateral/calc.h"
#include "db/replay.h"
#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/fundview.h"
#include "relayer/progress.h"

static const char USAGE[] =
    "usage: relayer audit export --db DIR --out FILE\n"
    "       relayer audit verify FILE --relayers SET.json [--checkpoint CP.json]... [--set SET.json]...\n"
    "                            [--json]\n"
    "       relayer audit replay FILE --relayers SET.json --out DIR [--risk risk.json] [--json]\n"
    "\n"
    "export  writes the hub's log to a self-describing, sealed file\n"
    "verify  checks every record: hash chain, sequence, signatures, quorum against the relayer\n"
    "        set in force; SET.json is the genesis relayer set (the trust anchor). Each\n"
    "        --checkpoint (a node's `relayer checkpoint`) and the file header's checkpoint must\n"
    "        carry a quorum of their set and match the log: a log that ends before one or differs\n"
    "        from one fails, and two with different heads at one seq prove the log forked. A\n"
    "        checkpoint's set version must be the one in force at its seq (a retired set's is\n"
    "        refused); --set gives a later set the log never installs (a fork without the rotation)\n"
    "replay  verifies and rebuilds a ledger in DIR from the file alone; compare it with\n"
    "        `relayer ledger digest --db DIR`. With --risk, also runs the margin calculator over\n"
    "        the log and checks that every logged decision (margin call, liquidation and its\n"
    "        seize plan, withdrawal) is exactly what the records before it imply; exit 1 names\n"
    "        the first one that is not\n";

#define CHECKPOINTS_MAX 16

struct args {
    const char *db, *out, *relayers, *file, *risk;
    const char *checkpoints[CHECKPOINTS_MAX], *sets[CHECKPOINTS_MAX];
    size_t ncheckpoints, nsets;
    bool json;
};

static int parse(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'},   {"out", required_argument, NULL, 'o'},
        {"relayers", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},      {"risk", required_argument, NULL, 'k'},
        {"checkpoint", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int c;
    memset(a, 0, sizeof *a);
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->db = optarg; break;
        case 'o': a->out = optarg; break;
        case 'r': a->relayers = optarg; break;
        case 'j': a->json = true; break;
        case 'k': a->risk = optarg; break;
        case 'c':
            if (a->ncheckpoints == CHECKPOINTS_MAX) {
                fprintf(stderr, "relayer audit: at most %d --checkpoint\n", CHECKPOINTS_MAX);
                return EXIT_USAGE;
            }
            a->checkpoints[a->ncheckpoints++] = optarg;
            break;
        case 's':
            if (a->nsets == CHECKPOINTS_MAX) {
                fprintf(stderr, "relayer audit: at most %d --set\n", CHECKPOINTS_MAX);
                return EXIT_USAGE;
            }
            a->sets[a->nsets++] = optarg;
            break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (optind < argc)
        a->file = argv[optind++];
    if (optind < argc) {
        fprintf(stderr, "relayer audit: unexpected argument '%s'\n%s", argv[optind], USAGE);
        return EXIT_USAGE;
    }
    return -1;
}

static int do_export(const struct args *a)
{
    if (a->db == NULL || a->out == NULL) {
        fprintf(stderr, "relayer audit export: --db and --out are required\n%s", USAGE);
        return EXIT_USAGE;
    }
    store *s = NULL;
    rl_why why = {{0}};
    store_opts so = {.read_only = true};
    uint64_t count = 0;
    progress pr;
    progress_init(&pr, "export");
    rl_err err = store_open(&s, a->db, &so, &why);
    if (err == RL_OK)
        err = export_write(s, a->out, &count, progress_update, &pr, &why);
    progress_done(&pr);
    store_close(s);
    if (err != RL_OK) {
        fprintf(stderr, "relayer audit export: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    printf("exported %llu records from %s to %s\n", (unsigned long long)count, a->db, a->out);
    return 0;
}

static json_t *summary_json(const audit_summary *s)
{
    char hh[2 * HASH_BYTES + 1];
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:I, s:s, s:I, s:I, s:I}", "records", (json_int_t)s->records, "attested",
                     (json_int_t)s->attested, "conflicts", (json_int_t)s->conflicts, "rotations",
                     (json_int_t)s->rotations, "accounts", (json_int_t)s->accounts, "signatures",
                     (json_int_t)s->signatures, "set_version", (int)s->set_version, "head_seq",
                     (json_int_t)s->head_seq, "head_hash", hex_encode(hh, s->head_hash, HASH_BYTES), "executions",
                     (json_int_t)s->executions, "executions_unmatched", (json_int_t)s->unmatched,
                     "expired", (json_int_t)s->expired);
    json_object_set_new(j, "checkpoints", json_integer((json_int_t)s->checkpoints));
    json_object_set_new(j, "checkpoint_seq", json_integer((json_int_t)s->checkpoint_seq));
    json_object_set_new(j, "equivocations", json_integer((json_int_t)s->equivocations));
    json_object_set_new(j, "fund", fund_summary_json(&s->fund));
    json_object_set_new(j, "requests_refused", json_integer((json_int_t)s->requests_refused));
    return j;
}

static void print_summary(const audit_summary *s)
{
    char hh[2 * HASH_BYTES + 1];
    printf("  records     %llu\n", (unsigned long long)s->records);
    printf("  events      %llu attested (deposits, executions, rotations, expiries), %llu conflicts logged (never applied "
           "twice)\n", (unsigned long long)s->attested, (unsigned long long)s->conflicts);
    printf("  evidence    %llu equivocations (a member signing two contents of one event; no balance change)\n",
           (unsigned long long)s->equivocations);
    printf("  executions  %llu attested, %llu matching no open instruction\n", (unsigned long long)s->executions,
           (unsigned long long)s->unmatched);
    printf("  expiries    %llu attested (reservations freed)\n", (unsigned long long)s->expired);
    fund_summary_print(&s->fund, "  ");
    printf("  accounts    %llu\n", (unsigned long long)s->accounts);
    printf("  signatures  %llu verified\n", (unsigned long long)s->signatures);
    printf("  relayer set version %u (%llu rotations)\n", s->set_version, (unsigned long long)s->rotations);
    printf("  checkpoints %llu logged, the latest witnessing seq %llu\n", (unsigned long long)s->checkpoints,
           (unsigned long long)s->checkpoint_seq);
    printf("  head        seq %llu hash %s\n", (unsigned long long)s->head_seq, hex_encode(hh, s->head_hash, HASH_BYTES));
}

/* Failures of the machine (missing file, disk, memory) rather than of the log's content. */
static bool is_environment_error(rl_err err)
{
    return err == RL_ERR_IO || err == RL_ERR_NOMEM || err == RL_ERR_NOTFOUND || err == RL_ERR_DB ||
           err == RL_ERR_FULL || err == RL_ERR_NOSPC || err == RL_ERR_ARG;
}

/* Re-deriving decisions (--risk): every logged decision must come out of the calculator run over
 * the records before it. A mismatch is reported and the run goes on, to count them all. */
struct decisions {
    mg_risk risk;
    calc_replay *r;
    uint64_t bad, first_bad;
    rl_why first_why;
};

static rl_err check_decision(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    struct decisions *d = ctx;
    rl_why w = {{0}};
    rl_err err = calc_replay_next(d->r, rec, len, &w);
    if (err == RL_ERR_STATE) {
        if (d->bad++ == 0) {
            d->first_bad = seq;
            d->first_why = w;
        }
        return RL_OK;
    }
    if (err != RL_OK)
        *why = w;
    return err;
}

/* ---- checkpoints (attest/checkpoint.h) ---- */

struct ckpt_given {
    char name[512]; /* the file (files, "A + B", when members' own heads combined), or the header's */
    checkpoint_signed cs;
    bool header, refused;
    rl_err err;
    rl_why why;
};

struct ckpt_check {
    struct ckpt_given g[CHECKPOINTS_MAX + 1];
    size_t n, agreed;
    relset sets[CHECKPOINTS_MAX]; /* --set: versions the log may not install */
    size_t nsets;
};

/* Every checkpoint against the log (rule C3), then, in this order of weight: two valid ones
 * with different heads at one seq (a fork, whatever the file holds), a log that fails one, a
 * checkpoint refused. */
static rl_err check_checkpoints(void *ctx, const audit *a, const export_reader *rd, rl_why *why)
{
    struct ckpt_check *c = ctx;
    const checkpoint_signed *hdr = export_checkpoint(rd);
    if (hdr != NULL)
        c->g[c->n++] = (struct ckpt_given){.name = "the file header's checkpoint", .cs = *hdr, .header = true};
    for (size_t i = 0; i < c->n; i++)
        c->g[i].err = checkpoint_check_log(&c->g[i].cs, a, c->sets, c->nsets, &c->g[i].refused,
                                          &c->g[i].why);
    for (size_t i = 0; i < c->n; i++)
        for (size_t j = i + 1; j < c->n; j++) {
            const struct ckpt_given *x = &c->g[i], *y = &c->g[j];
            if (!x->refused && !y->refused && x->cs.c.seq == y->cs.c.seq &&
                memcmp(x->cs.c.head, y->cs.c.head, HASH_BYTES) != 0)
                return rl_fail(why, RL_ERR_CHAIN, "%s and %s both carry a quorum for seq %llu with different heads: "
                               "proof that the log forked", x->name, y->name, (unsigned long long)x->cs.c.seq);
        }
    for (size_t i = 0; i < c->n; i++)
        if (c->g[i].err != RL_OK && !c->g[i].refused) {
            *why = c->g[i].why;
            rl_why_prefix(why, "%s: ", c->g[i].name);
            return c->g[i].err;
        }
    for (size_t i = 0; i < c->n; i++)
        if (c->g[i].refused) {
            *why = c->g[i].why;
            rl_why_prefix(why, "%s refused: ", c->g[i].name);
            return c->g[i].header ? c->g[i].err : RL_ERR_ARG; /* the auditor's input, not the log */
        }
    c->agreed = c->n;
    return RL_OK;
}

/* Loads a --checkpoint file; one of the same (seq, head, set version) as an earlier one combines
 * with it (members' own heads, `relayer checkpoint --own`: checkpoint_merge), C1 then judges
 * the union. */
static rl_err given_add(struct ckpt_check *c, const char *file, rl_why *why)
{
    checkpoint_signed cs;
    rl_err err = checkpoint_load(file, &cs, why);
    if (err != RL_OK)
        return err;
    for (size_t i = 0; i < c->n; i++) {
        struct ckpt_given *g = &c->g[i];
        if (!checkpoint_same_body(&g->cs.c, &cs.c))
            continue;
        if ((err = checkpoint_merge(&g->cs, &cs, why)) != RL_OK) {
            rl_why_prefix(why, "%s and %s: ", g->name, file);
            return err;
        }
        size_t len = strlen(g->name);
        snprintf(g->name + len, sizeof g->name - len, " + %s", file);
        return RL_OK;
    }
    snprintf(c->g[c->n++].name, sizeof c->g[0].name, "%s", file);
    c->g[c->n - 1].cs = cs;
    return RL_OK;
}

static int do_check(const struct args *a, bool replay)
{
    const char *cmd = replay ? "replay" : "verify";
    if (a->file == NULL || a->relayers == NULL || (replay && a->out == NULL)) {
        fprintf(stderr, "relayer audit %s: FILE and --relayers%s are required\n%s", cmd, replay ? " and --out" : "",
                USAGE);
        return EXIT_USAGE;
    }
    relset genesis;
    rl_why why = {{0}};
    rl_err err = relset_load(a->relayers, &genesis, &why);
    if (err != RL_OK) {
        fprintf(stderr, "relayer audit %s: %s\n", cmd, why.text);
        return EXIT_USAGE;
    }
    store *out = NULL;
    if (replay) {
        struct stat st;
        char *data = NULL;
        if (asprintf(&data, "%s/data.mdb", a->out) < 0)
            return EXIT_USAGE;
        bool exists = stat(data, &st) == 0;
        free(data);
        if (exists) {
            fprintf(stderr, "relayer audit replay: %s already holds a ledger; replay into a new directory\n", a->out);
            return EXIT_USAGE;
        }
        err = store_open(&out, a->out, NULL, &why);
        if (err != RL_OK) {
            fprintf(stderr, "relayer audit replay: %s\n", why.text);
            return EXIT_USAGE;
        }
    }
    pool *p = NULL;
    if (pool_new(&p, 0) != RL_OK) {
        store_close(out);
        fprintf(stderr, "relayer audit %s: cannot start worker threads\n", cmd);
        return EXIT_USAGE;
    }
    progress pr;
    progress_init(&pr, cmd);
    struct ckpt_check *ck = calloc(1, sizeof *ck);
    for (size_t i = 0; ck != NULL && i < a->ncheckpoints && err == RL_OK; i++)
        err = given_add(ck, a->checkpoints[i], &why);
    for (size_t i = 0; ck != NULL && i < a->nsets && err == RL_OK; i++)
        err = relset_load(a->sets[i], &ck->sets[ck->nsets++], &why);
    if (ck == NULL || err != RL_OK) {
        fprintf(stderr, "relayer audit %s: %s\n", cmd, ck == NULL ? rl_strerror(RL_ERR_NOMEM) : why.text);
        free(ck);
        store_close(out);
        pool_free(p);
        return EXIT_USAGE;
    }
    replay_opts ro = {.genesis = &genesis, .pool = p, .out = out, .progress = progress_update, .progress_ctx = &pr,
                      .on_end = check_checkpoints, .end_ctx = ck};
    struct decisions dc = {0};
    if (a->risk != NULL) {
        if ((err = risk_load(a->risk, &dc.risk, &why)) == RL_OK && (err = calc_replay_new(&dc.r, &dc.risk)) == RL_OK) {
            ro.on_record = check_decision;
            ro.record_ctx = &dc;
        }
        if (err != RL_OK) {
            fprintf(stderr, "relayer audit %s: %s\n", cmd, why.text[0] ? why.text : rl_strerror(err));
            store_close(out);
            pool_free(p);
            mg_risk_fini(&dc.risk);
            free(ck);
            return EXIT_USAGE;
        }
    }
    audit_summary sum;
    replay_failure fail;
    err = replay_file(a->file, &ro, &sum, &fail);
    progress_done(&pr);
    pool_free(p);
    calc_replay_summary ds = {0};
    if (dc.r != NULL)
        calc_replay_get_summary(dc.r, &ds);
    calc_replay_free(dc.r);
    mg_risk_fini(&dc.risk);
    if (err == RL_OK && sum.requests_refused > 0) { /* a request the hub should never have logged (audit.h) */
        err = RL_ERR_STATE;
        fail.seq = sum.first_refused_seq;
        fail.why = sum.first_refused_why;
    } else if (err == RL_OK && dc.bad > 0) {
        err = RL_ERR_STATE;
        fail.seq = dc.first_bad;
        fail.why = dc.first_why;
    }

    uint8_t digest[HASH_BYTES];
    char dh[2 * HASH_BYTES + 1] = "";
    if (err == RL_OK && out != NULL) {
        MDB_txn *txn;
        err = store_read_begin(out, &txn, &fail.why);
        if (err == RL_OK) {
            err = ledger_digest(txn, out, digest, NULL, &fail.why);
            store_read_end(txn);
        }
        if (err == RL_OK)
            hex_encode(dh, digest, HASH_BYTES);
    }
    store_close(out);

    size_t agreed = ck->agreed;
    free(ck);
    int rc = err == RL_OK ? 0 : is_environment_error(err) ? EXIT_USAGE : EXIT_CHECK_FAILED;
    if (a->json) {
        json_t *j = summary_json(&sum);
        json_object_set_new(j, "ok", json_boolean(err == RL_OK));
        json_object_set_new(j, "file", json_string(a->file));
        if (err != RL_OK) {
            json_object_set_new(j, "bad_record", fail.seq ? json_integer((json_int_t)fail.seq) : json_null());
            json_object_set_new(j, "error", json_string(fail.why.text[0] ? fail.why.text : rl_strerror(err)));
        }
        if (dh[0])
            json_object_set_new(j, "ledger_digest", json_string(dh));
        json_object_set_new(j, "checkpoints_agreed", json_integer((json_int_t)agreed));
        if (a->risk != NULL)
            json_object_set_new(j, "decisions",
                                json_pack("{s:I, s:I, s:I, s:I, s:I}", "logged", (json_int_t)ds.logged, "reproduced",
                                          (json_int_t)ds.reproduced, "not_reproduced", (json_int_t)dc.bad,
                                          "other_risk", (json_int_t)ds.other_risk, "not_logged",
                                          (json_int_t)ds.not_logged));
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        puts(text ? text : "{}");
        free(text);
        json_decref(j);
        return rc;
    }
    if (err != RL_OK) {
        const char *why_text = fail.why.text[0] ? fail.why.text : rl_strerror(err);
        if (fail.seq != 0)
            printf("audit %s: FAILED at record %llu: %s\n", cmd, (unsigned long long)fail.seq, why_text);
        else
            printf("audit %s: FAILED: %s\n", cmd, why_text);
        if (sum.requests_refused > 0 && fail.seq == sum.first_refused_seq)
            printf("  %llu requests the hub should never have logged (venue key not pinned, or no valid owner "
                   "signature); the first is above\n", (unsigned long long)sum.requests_refused);
        else if (dc.bad > 0)
            printf("  %llu logged decisions could not be reproduced; the first is above\n", (unsigned long long)dc.bad);
        else
            printf("  %llu records before it are good\n", (unsigned long long)sum.records);
        return rc;
    }
    printf("audit %s: OK  %s\n", cmd, a->file);
    print_summary(&sum);
    if (agreed > 0)
        printf("  witnessed   the log agrees with %zu quorum checkpoint%s (given and in the header)\n", agreed,
               agreed == 1 ? "" : "s");
    if (dh[0])
        printf("  ledger      %s digest %s\n", a->out, dh);
    if (a->risk != NULL)
        printf("  decisions   %llu logged, %llu reproduced bit for bit, %llu under other risk parameters, "
               "%llu reached but not logged\n",
               (unsigned long long)ds.logged, (unsigned long long)ds.reproduced, (unsigned long long)ds.other_risk,
               (unsigned long long)ds.not_logged);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    struct args a;
    int rc = parse(argc - 1, argv + 1, &a);
    if (rc >= 0)
        return rc;
    if (strcmp(sub, "export") == 0)
        return do_export(&a);
    if (strcmp(sub, "verify") == 0)
        return do_check(&a, false);
    if (strcmp(sub, "replay") == 0)
        return do_check(&a, true);
    fprintf(stderr, "relayer audit: unknown subcommand '%s'\n%s", sub, USAGE);
    return EXIT_USAGE;
}
