/*
 * cmd_ledger.c - `relayer ledger digest`: one hash of a whole ledger, to compare a replayed
 * ledger with the hub's, plus the counts an operator looks at first; `relayer ledger balance`:
 * one account's balance and reserved amount of one asset on one chain, to reconcile the ledger
 * with a vault's own balanceOf. Both only read (an LMDB reader never blocks a running hub).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "db/ledger.h"
#include "relayer/args.h"
#include "relayer/cmd.h"
#include "relayer/fundview.h"

static const char USAGE[] = "usage: relayer ledger digest --db DIR [--json]\n"
                            "       relayer ledger balance --db DIR --account 0x.. --chain-id ID --asset 0x.. [--json]\n"
                            "\n"
                            "digest prints one BLAKE2b-256 digest over every ledger table (balances, reservations,\n"
                            "events, vault sequences, conflicts, relayer sets, insurance fund, bad debt) and the\n"
                            "head sequence number. Two ledgers with equal digests hold exactly the same state.\n"
                            "balance prints the account's balance of the asset on that chain and how much of it\n"
                            "is reserved for instructions not yet executed, in the asset's base units (0x00..00\n"
                            "is the chain's native coin); 0 for what was never credited.\n";

/* What one read of the ledger asks for: a balance when q is given, the digest otherwise. */
typedef struct balance_query {
    uint8_t account[EVM_ADDR_BYTES], asset[EVM_ADDR_BYTES];
    uint64_t chain_id;
    u256 balance, reserved;
} balance_query;

/* Opens db read-only and runs the digest (into d, st) or the balance query q in one snapshot. */
static rl_err read_ledger(const char *db, uint8_t d[HASH_BYTES], ledger_stats *st, balance_query *q, rl_why *why)
{
    store *s = NULL;
    MDB_txn *txn = NULL;
    store_opts so = {.read_only = true};
    rl_err err = store_open(&s, db, &so, why);
    if (err == RL_OK)
        err = store_read_begin(s, &txn, why);
    if (err == RL_OK) {
        err = q != NULL ? ledger_balance(txn, s, q->account, q->chain_id, q->asset, &q->balance, &q->reserved, why)
                        : ledger_digest(txn, s, d, st, why);
        store_read_end(txn);
    }
    store_close(s);
    return err;
}

static int balance(const char *db, balance_query *q, bool json)
{
    rl_why why = {{0}};
    rl_err err = read_ledger(db, NULL, NULL, q, &why);
    if (err != RL_OK) {
        fprintf(stderr, "relayer ledger balance: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    char b[U256_DEC_MAX], r[U256_DEC_MAX];
    u256_to_dec(&q->balance, b);
    u256_to_dec(&q->reserved, r);
    if (json)
        printf("{\"balance\":\"%s\",\"reserved\":\"%s\"}\n", b, r);
    else
        printf("balance %s reserved %s\n", b, r);
    return 0;
}

static int digest(const char *db, bool json)
{
    rl_why why = {{0}};
    uint8_t d[HASH_BYTES];
    ledger_stats st;
    rl_err err = read_ledger(db, d, &st, NULL, &why);
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
        {"db", required_argument, NULL, 'd'},      {"json", no_argument, NULL, 'j'},
        {"account", required_argument, NULL, 'a'}, {"chain-id", required_argument, NULL, 'i'},
        {"asset", required_argument, NULL, 'x'},   {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    bool is_balance = strcmp(argv[1], "balance") == 0;
    if (!is_balance && strcmp(argv[1], "digest") != 0) {
        fprintf(stderr, "relayer ledger: unknown subcommand '%s'\n%s", argv[1], USAGE);
        return EXIT_USAGE;
    }
    const char *db = NULL, *account = NULL, *chain_id = NULL, *asset = NULL;
    bool json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'j': json = true; break;
        case 'a': account = optarg; break;
        case 'i': chain_id = optarg; break;
        case 'x': asset = optarg; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "relayer ledger %s: unexpected argument '%s'\n%s", argv[1], argv[optind + 1], USAGE);
        return EXIT_USAGE;
    }
    if (db == NULL) {
        fprintf(stderr, "relayer ledger %s: --db is required\n%s", argv[1], USAGE);
        return EXIT_USAGE;
    }
    if (!is_balance) {
        if (account != NULL || chain_id != NULL || asset != NULL) {
            fprintf(stderr, "relayer ledger digest: --account, --chain-id and --asset are for balance\n%s", USAGE);
            return EXIT_USAGE;
        }
        return digest(db, json);
    }
    balance_query q;
    memset(&q, 0, sizeof q);
    rl_why why = {{0}};
    if (arg_addr(q.account, account, "--account", &why) != RL_OK ||
        arg_u64(&q.chain_id, chain_id, "--chain-id", &why) != RL_OK ||
        arg_addr(q.asset, asset, "--asset", &why) != RL_OK) {
        fprintf(stderr, "relayer ledger balance: %s\n%s", why.text, USAGE);
        return EXIT_USAGE;
    }
    return balance(db, &q, json);
}
