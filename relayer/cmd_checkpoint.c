/*
 * cmd_checkpoint.c - `relayer checkpoint --config NODE.conf [--own] [--out FILE]`: a node's newest
 * quorum checkpoint (attest/checkpoint.h), or with --own the latest head it signed itself, for an
 * auditor, without the hub.
 *
 * Reads the data directory of the node's replica ([follow] data or [cosign] data of the config,
 * the rest of the file is the daemon's to check) read-only, beside the running daemon: the
 * newest CHECKPOINT record its replica verified and applied (db/ledger_ckpt.h). The quorum is
 * checked again against the relayer set of its version as that log installed it, then printed
 * as JSON (members named) or written to FILE; `relayer audit verify --checkpoint FILE` takes it.
 * --own: the head the node's replica signed last (meta "ckpt_own", db/ledger_ckpt.h), whether or
 * not the hub ever logged a quorum of it, its one signature checked against the member's key in
 * the set of its version; the same JSON with one signature. `audit verify` combines threshold
 * members' own heads of one (seq, head, version) into a quorum checkpoint.
 * Exit 0; 1 when the replica holds no checkpoint (signed no head) yet; 2 for usage, config or
 * I/O errors.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/ledger_ckpt.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/files.h"

static const char USAGE[] = "usage: relayer checkpoint --config NODE.conf [--own] [--out FILE]\n"
                            "\n"
                            "Prints the newest quorum checkpoint (seq, head, set_version, the members'\n"
                            "signatures) that the node's replica verified: the [follow] or [cosign] data\n"
                            "directory of NODE.conf. Hand it to `relayer audit verify --checkpoint`.\n"
                            "--own: the latest head this node signed itself (one signature), logged by\n"
                            "the hub or not; threshold members' own heads of one head make a quorum.\n";

typedef struct data_dirs {
    char follow[CFG_STR_MAX], cosign[CFG_STR_MAX];
} data_dirs;

#define F(field) offsetof(data_dirs, field)
static const cfg_key schema[] = {
    {"follow", "data", CFG_PATH, 0, 0, 0, F(follow)},
    {"cosign", "data", CFG_PATH, 0, 0, 0, F(cosign)},
};
#undef F

/* The node's own latest signed head: one signature by a member of the set of its version. */
static rl_err own_check(const checkpoint_signed *cs, const relset *set, rl_why *why)
{
    const relset_member *m = relset_find(set, cs->sigs.e[0].member);
    if (m == NULL)
        return rl_fail(why, RL_ERR_SIGNER, "own head of seq %llu: member %u is not in relayer set version %u",
                       (unsigned long long)cs->c.seq, cs->sigs.e[0].member, set->version);
    if (!checkpoint_verify_one(&cs->c, m->pub.ed25519, cs->sigs.e[0].sig))
        return rl_fail(why, RL_ERR_SIG, "own head of seq %llu: the signature of member %u does not verify",
                       (unsigned long long)cs->c.seq, m->id);
    return RL_OK;
}

static rl_err latest(const char *data, bool own, checkpoint_signed *cs, relset *set, rl_why *why)
{
    store *st = NULL;
    MDB_txn *txn = NULL;
    store_opts so = {.read_only = true};
    rl_err err = store_open(&st, data, &so, why);
    if (err == RL_OK)
        err = store_read_begin(st, &txn, why);
    if (err == RL_OK)
        err = own ? ledger_ckpt_own_get(txn, st, cs, why) : ledger_ckpt_latest(txn, st, cs, NULL, why);
    if (err == RL_OK)
        err = ledger_set_get(txn, st, cs->c.set_version, set, why);
    if (err == RL_OK && (err = own ? own_check(cs, set, why) : checkpoint_quorum_verify(cs, set, why)) != RL_OK)
        rl_why_prefix(why, "%s: ", data);
    if (txn != NULL)
        store_read_end(txn);
    store_close(st);
    return err;
}

int cmd_checkpoint(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"own", no_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *out = NULL;
    bool own = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'w': own = true; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (config == NULL || optind < argc) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    data_dirs d;
    memset(&d, 0, sizeof d);
    rl_why why = {{0}};
    checkpoint_signed cs;
    relset *set = malloc(sizeof *set);
    rl_err err = set == NULL ? RL_ERR_NOMEM : cfg_load_some(config, schema, sizeof schema / sizeof schema[0], &d, &why);
    if (err == RL_OK && d.follow[0] == '\0' && d.cosign[0] == '\0')
        err = rl_fail(&why, RL_ERR_ARG, "%s: neither [follow] data nor [cosign] data: not a replica's config", config);
    if (err == RL_OK)
        err = latest(d.follow[0] ? d.follow : d.cosign, own, &cs, set, &why);
    if (err == RL_OK)
        err = checkpoint_save(out, &cs, set, &why);
    free(set);
    if (err != RL_OK) {
        fprintf(stderr, "relayer checkpoint: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return err == RL_ERR_NOTFOUND ? EXIT_CHECK_FAILED : EXIT_USAGE;
    }
    if (out != NULL)
        printf("%s of seq %llu (%u signature%s) written to %s\n", own ? "own head" : "checkpoint",
               (unsigned long long)cs.c.seq, cs.sigs.n, cs.sigs.n == 1 ? "" : "s", out);
    return 0;
}
