/*
 * cmd_status.c - `relayer status --config hub.conf [--json]`: what the hub is doing.
 *
 * The ledger side (head, relayer set version, every vault's sequence cursor and gaps) is read
 * from the hub's LMDB environment, which any process may read while the hub writes. The live
 * side (peers heard, messages awaiting acknowledgement, events short of a quorum, totals) comes
 * from DATA/status.json, which the running hub rewrites every second.
 */
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/ledger.h"
#include "db/ledger_fund.h"
#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/fundview.h"
#include "relayer/hub.h"
#include "relayer/progress.h"

static const char USAGE[] = "usage: relayer status --config hub.conf [--json]\n"
                            "\n"
                            "Prints the hub's head, relayer set, per-chain vault checkpoints, peers heard\n"
                            "from and pending work.\n";

#define STATUS_FRESH_MS 5000
#define PEER_CONNECTED_MS 10000
#define MAX_VAULTS 256
#define MAX_DEBT_LISTED 100 /* accounts with bad debt listed by name; all are counted */

/* The insurance fund's holdings and the accounts with bad debt, as JSON arrays. */
struct fund_lists {
    json_t *holdings, *debts;
};

static void fund_list(void *ctx, const fund_insurance *holding, const fund_debt *debt)
{
    struct fund_lists *l = ctx;
    if (holding != NULL)
        json_array_append_new(l->holdings, fund_insurance_json(holding));
    else if (json_array_size(l->debts) < MAX_DEBT_LISTED)
        json_array_append_new(l->debts, fund_debt_json(debt));
}

/* The hub's live status, or NULL when it never ran. */
static json_t *live_status(const hub_config *cfg)
{
    char path[CFG_STR_MAX + 16], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/status.json", cfg->data);
    if (file_read_all(path, 1 << 20, &text, &len, NULL) != RL_OK)
        return NULL;
    json_t *j = json_loadb(text, len, 0, NULL);
    free(text);
    return j;
}

static json_t *ledger_status(const hub_config *cfg, rl_why *why)
{
    store *st;
    store_opts so = {.read_only = true};
    rl_err err = store_open(&st, cfg->data, &so, why);
    if (err != RL_OK)
        return NULL;
    MDB_txn *txn;
    ledger_head head;
    vault_checkpoint *v = calloc(MAX_VAULTS, sizeof *v);
    size_t n = 0;
    uint64_t executions = 0, unmatched = 0, shortfalls = 0;
    struct fund_lists fl = {json_array(), json_array()};
    fund_summary fs;
    json_t *out = NULL;
    if (v != NULL && (err = store_read_begin(st, &txn, why)) == RL_OK) {
        err = ledger_head_get(txn, st, &head, why);
        if (err == RL_OK)
            err = ledger_vaults(txn, st, v, MAX_VAULTS, &n, why);
        if (err == RL_OK)
            err = ledger_execution_counts(txn, st, &executions, &unmatched, &shortfalls, why);
        if (err == RL_OK)
            err = ledger_fund_walk(txn, st, fund_list, &fl, &fs, why);
        store_read_end(txn);
    }
    if (v != NULL && err == RL_OK) {
        json_t *chains = json_array();
        for (size_t i = 0; i < n; i++) {
            char addr[43];
            json_array_append_new(chains, json_pack("{s:I, s:s, s:I, s:I, s:I}", "chain_id", (json_int_t)v[i].chain_id,
                                                    "vault", evm_addr_to_checksum(v[i].vault, addr), "next_seq",
                                                    (json_int_t)v[i].st.next, "max_seq", (json_int_t)v[i].st.max,
                                                    "gaps", (json_int_t)v[i].gaps));
        }
        out = json_pack("{s:I, s:i, s:o, s:{s:I, s:I, s:I}}", "head_seq", (json_int_t)head.seq, "set_version",
                        (int)head.set_version, "vaults", chains, "executions", "attested", (json_int_t)executions,
                        "unmatched", (json_int_t)unmatched, "shortfalls", (json_int_t)shortfalls);
        json_t *fund = fund_summary_json(&fs);
        json_object_set(fund, "insurance", fl.holdings);
        json_object_set(fund, "bad_debt", fl.debts);
        json_object_set_new(out, "fund", fund);
    }
    json_decref(fl.holdings);
    json_decref(fl.debts);
    free(v);
    store_close(st);
    return out;
}

static void print_human(const json_t *j)
{
    json_t *hub = json_object_get(j, "hub");
    printf("hub       %s", json_is_true(json_object_get(hub, "running")) ? "running" : "not running");
    if (json_object_get(hub, "pid"))
        printf(" (pid %lld, status %lld ms old)", (long long)json_integer_value(json_object_get(hub, "pid")),
               (long long)json_integer_value(json_object_get(hub, "status_age_ms")));
    printf("\nhead      seq %lld, relayer set version %lld\n", (long long)json_integer_value(json_object_get(j, "head_seq")),
           (long long)json_integer_value(json_object_get(j, "set_version")));
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "vaults"), i, e)
        printf("vault     chain %lld %s: next seq %lld, highest %lld, %lld gaps\n",
               (long long)json_integer_value(json_object_get(e, "chain_id")),
               json_string_value(json_object_get(e, "vault")),
               (long long)json_integer_value(json_object_get(e, "next_seq")),
               (long long)json_integer_value(json_object_get(e, "max_seq")),
               (long long)json_integer_value(json_object_get(e, "gaps")));
    json_t *x = json_object_get(j, "executions");
    if (x != NULL)
        printf("executed  %lld instructions attested executed, %lld unmatched (%lld debited short)%s\n",
               (long long)json_integer_value(json_object_get(x, "attested")),
               (long long)json_integer_value(json_object_get(x, "unmatched")),
               (long long)json_integer_value(json_object_get(x, "shortfalls")),
               json_integer_value(json_object_get(x, "unmatched")) > 0 ? ": funds moved that no instruction reserved" : "");
    json_t *f = json_object_get(j, "fund");
    json_array_foreach(json_object_get(f, "insurance"), i, e)
        printf("insurance chain %lld %s: %s base units from %lld seizes\n",
               (long long)json_integer_value(json_object_get(e, "chain_id")),
               json_string_value(json_object_get(e, "asset")), json_string_value(json_object_get(e, "amount")),
               (long long)json_integer_value(json_object_get(e, "seizes")));
    if (f != NULL)
        printf("bad debt  %s USD over %lld accounts (the insurance fund does not cover it in the ledger)\n",
               json_string_value(json_object_get(f, "bad_debt_usd")),
               (long long)json_integer_value(json_object_get(f, "bad_debt_accounts")));
    json_array_foreach(json_object_get(f, "bad_debt"), i, e)
        printf("bad debt  %s: %s USD (ended liquidations %s, open %s since record %lld)\n",
               json_string_value(json_object_get(e, "account")), json_string_value(json_object_get(e, "bad_debt_usd")),
               json_string_value(json_object_get(e, "closed_usd")), json_string_value(json_object_get(e, "open_usd")),
               (long long)json_integer_value(json_object_get(e, "open_seq")));
    json_array_foreach(json_object_get(j, "peers"), i, e)
        printf("peer      %-12s %s, last heard %lld ms ago, %lld messages\n",
               json_string_value(json_object_get(e, "name")),
               json_is_true(json_object_get(e, "connected")) ? "connected" : "quiet",
               (long long)json_integer_value(json_object_get(e, "last_seen_ms_ago")),
               (long long)json_integer_value(json_object_get(e, "messages")));
    json_t *p = json_object_get(j, "pending");
    if (p != NULL)
        printf("pending   %lld messages awaiting acknowledgement, %lld events short of a quorum, "
               "%lld instructions awaiting co-signatures (%lld short past the alert time)\n",
               (long long)json_integer_value(json_object_get(p, "awaiting_ack")),
               (long long)json_integer_value(json_object_get(p, "events_short_of_quorum")),
               (long long)json_integer_value(json_object_get(p, "instructions_awaiting_cosignatures")),
               (long long)json_integer_value(json_object_get(p, "instructions_short_of_cosignatures")));
    json_t *d = json_object_get(j, "dropped");
    if (d != NULL)
        printf("dropped   %lld pending signatures over their member's budget, %lld past the TTL, "
               "%lld messages over their peer's waiting bound (their senders resend)\n",
               (long long)json_integer_value(json_object_get(d, "pending_over_budget")),
               (long long)json_integer_value(json_object_get(d, "pending_expired")),
               (long long)json_integer_value(json_object_get(d, "waiting_over_budget")));
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL;
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'j': as_json = true; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (config == NULL || optind != argc) {
        fprintf(stderr, "relayer status: --config is required\n%s", USAGE);
        return EXIT_USAGE;
    }
    hub_config cfg;
    rl_why why = {{0}};
    if (hub_config_load(config, &cfg, &why) != RL_OK) {
        fprintf(stderr, "relayer status: %s\n", why.text);
        return EXIT_USAGE;
    }
    json_t *out = ledger_status(&cfg, &why);
    if (out == NULL) {
        fprintf(stderr, "relayer status: %s: no ledger to read (has the hub run?): %s\n", cfg.data, why.text);
        return EXIT_USAGE;
    }
    json_t *live = live_status(&cfg), *hub = json_object();
    uint64_t now = wall_ms();
    bool running = false;
    if (live != NULL) {
        json_int_t updated = json_integer_value(json_object_get(live, "updated_ms"));
        json_int_t pid = json_integer_value(json_object_get(live, "pid"));
        running = now - (uint64_t)updated < STATUS_FRESH_MS && pid > 0 && kill((pid_t)pid, 0) == 0;
        json_object_set_new(hub, "pid", json_integer(pid));
        json_object_set_new(hub, "status_age_ms", json_integer((json_int_t)(now - (uint64_t)updated)));
        json_t *peers = json_array(), *e;
        size_t i;
        json_array_foreach(json_object_get(live, "peers"), i, e) {
            uint64_t ago = now - (uint64_t)json_integer_value(json_object_get(e, "last_seen_ms"));
            json_array_append_new(peers, json_pack("{s:O, s:b, s:I, s:O}", "name", json_object_get(e, "name"),
                                                   "connected", running && ago < PEER_CONNECTED_MS, "last_seen_ms_ago",
                                                   (json_int_t)ago, "messages", json_object_get(e, "messages")));
        }
        json_object_set_new(out, "peers", peers);
        json_object_set_new(out, "pending",
                            json_pack("{s:O?, s:O?, s:O?, s:O?}", "awaiting_ack", json_object_get(live, "awaiting_ack"),
                                      "events_short_of_quorum", json_object_get(live, "events_short_of_quorum"),
                                      "instructions_awaiting_cosignatures",
                                      json_object_get(live, "instructions_awaiting_cosignatures"),
                                      "instructions_short_of_cosignatures",
                                      json_object_get(live, "instructions_short_of_cosignatures")));
        json_object_set(out, "totals", json_object_get(live, "totals"));
        json_object_set(out, "dropped", json_object_get(live, "dropped"));
        json_decref(live);
    }
    json_object_set_new(hub, "running", json_boolean(running));
    json_object_set_new(out, "hub", hub);
    if (as_json) {
        char *text = json_dumps(out, JSON_COMPACT | JSON_SORT_KEYS);
        puts(text ? text : "{}");
        free(text);
    } else {
        print_human(out);
    }
    json_decref(out);
    return 0;
}
