/*
 * cmd_ledger.c - `relayer ledger digest`: one hash of a whole ledger, to compare a replayed
 * ledger with the hub's, plus the counts an operator looks at first.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "db/ledger.h"
#include "relayer/cmd.h"
#include "relayer/fundview.h"

static const char USAGE[] = "usage: relayer ledger digest --db DIR [--json]\n"
                            "\n"
                            "Prints one BLAKE2b-256 digest over every ledger table (balances, reservations,\n"
                            "events, vault sequences, conflicts, relayer sets, insurance fund, bad debt) and\n"
                            "the head sequence number.\n"
                            "Two ledgers with equal digests hold exactly the same state.\n";

static int digest(const char *db, bool json)
{
    store *s = NULL;
    MDB_txn *txn = NULL;
    rl_why why = {{0}};
    uint8_t d[HASH_BYTES];
    ledger_stats st;
    store_opts so = {.read_only = true};
    rl_err err = store_open(&s, db, &so, &why);
    if (err == RL_OK)
        err = store_read_begin(s, &txn, &why);
    if (err == RL_OK) {
        err = ledger_digest(txn, s, d, &st, &why);
        store_read_end(txn);
    }
    store_close(s);
    if (err != RL_OK) {
        fprintf(stderr, "relayer ledger digest: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    char dh[2 * HASH_BYTES + 1], hh[2 * HASH_BYTES + 1];
    hex_encode(dh, d, HASH_BYTES);
    hex_encode(hh, st.head.hash, HASH_BYTES);
    if (json) {
        json_t *j = json_pack("{s:s, s:I, s:s, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "digest", dh, "head_seq",
                              (json_int_t)st.head.seq, "head_hash", hh, "set_version", (int)st.head.set_version, "accounts",
                              (json_int_t)st.accounts, "balances", (json_int_t)st.balances, "events_credited",
                              (json_int_t)st.events_credited, "events_conflicted", (json_int_t)st.events_conflicted,
                              "conflicts", (json_int_t)st.conflicts, "reservations", (json_int_t)st.reservations,
                              "vaults", (json_int_t)st.vaults, "vault_gaps", (json_int_t)st.gaps, "executions",
                              (json_int_t)st.executions, "executions_unmatched", (json_int_t)st.unmatched,
                              "executions_short", (json_int_t)st.shortfalls);
        json_object_set_new(j, "fund", fund_summary_json(&st.fund));
        char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        puts(text ? text : "{}");
        free(text);
        json_decref(j);
        return 0;
    }
    printf("digest %s\n", dh);
    printf("  head        seq %llu hash %s\n", (unsigned long long)st.head.seq, hh);
    printf("  relayer set version %u\n", st.head.set_version);
    printf("  accounts    %llu (%llu balances)\n", (unsigned long long)st.accounts, (unsigned long long)st.balances);
    printf("  events      %llu credited, %llu blocked by conflicts; %llu conflict alerts\n",
           (unsigned long long)st.events_credited, (unsigned long long)st.events_conflicted,
           (unsigned long long)st.conflicts);
    printf("  vaults      %llu, %llu sequence gaps awaiting re-observation\n", (unsigned long long)st.vaults,
           (unsigned long long)st.gaps);
    printf("  reservations %llu\n", (unsigned long long)st.reservations);
    printf("  executions  %llu attested, %llu unmatched (%llu debited short)\n", (unsigned long long)st.executions,
           (unsigned long long)st.unmatched, (unsigned long long)st.shortfalls);
    fund_summary_print(&st.fund, "  ");
    return 0;
}

int cmd_ledger(int argc, char **argv)
{
    static const struct option opts[] = {
        {"db", required_argument, NULL, 'd'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},     {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "digest") != 0) {
        fprintf(stderr, "relayer ledger: unknown subcommand '%s'\n%s", argv[1], USAGE);
        return EXIT_USAGE;
    }
    const char *db = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'j': json = true; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (db == NULL) {
        fprintf(stderr, "relayer ledger digest: --db is required\n%s", USAGE);
        return EXIT_USAGE;
    }
    return digest(db, json);
}
