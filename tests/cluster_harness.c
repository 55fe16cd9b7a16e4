/*
 * cluster_harness.c - the hub and three node watchers as processes, their configs, and what the
 * hub's ledger says (see cluster_harness.h). Configs are written the way README.md documents
 * them; the ledger is read through db/ledger.h, the hub's own read path.
 */
#include "tests/cluster_harness.h"

#include <signal.h>

#include "attest/hex.h"
#include "db/store.h"
#include "tests/testutil.h"

#ifndef RELAYER_BIN
#error "RELAYER_BIN (the relayer binary the daemons run) is set by the Makefile"
#endif

#define PATH_CHARS 700
#define AWAIT_POLL_MS 50
#define SETTLE_POLLS 5  /* watcher polls after which nothing more may have happened */
#define PER_MESSAGE 10  /* observations per OBS message: small, so a back-fill sends several */
#define COMMIT_DELAY_MS 2

static void path_in(const cluster *c, char out[PATH_CHARS], const char *name)
{
    int n = snprintf(out, PATH_CHARS, "%s/%s", c->dir, name);
    cr_assert(n > 0 && n < PATH_CHARS, "path too long: %s/%s", c->dir, name);
}

static void write_in(const cluster *c, const char *name, const char *text)
{
    tu_write(c->dir, name, text);
}

void cluster_init(cluster *c)
{
    memset(c, 0, sizeof *c);
    c->dir = tu_tmpdir();
    char *out = NULL;
    int rc = tu_run(&out,
                    "cd '%s' && mkdir keys && for n in hub node1 node2 node3; do %s keygen --out keys --name $n "
                    "|| exit 1; done && %s relayers init --threshold %d --out relayers.json keys/node1.pub "
                    "keys/node2.pub keys/node3.pub",
                    c->dir, RELAYER_BIN, RELAYER_BIN, CLUSTER_THRESHOLD);
    cr_assert_eq(rc, 0, "cluster keys and relayer set: exit %d: %s", rc, out);
    free(out);
}

void cluster_fini(cluster *c)
{
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_stop_node(c, i, SIGTERM);
    tu_stop(&c->hub, SIGTERM);
    tu_rmdir(c->dir);
    c->dir = NULL;
}

/* Appends printf text to *buf (malloc'd, grown). */
static void append(char **buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void append(char **buf, const char *fmt, ...)
{
    char *more = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&more, fmt, ap) >= 0);
    va_end(ap);
    char *joined = NULL;
    cr_assert(asprintf(&joined, "%s%s", *buf ? *buf : "", more) >= 0);
    free(more);
    free(*buf);
    *buf = joined;
}

void cluster_configure(cluster *c, const cluster_chain *chains, size_t n)
{
    cr_assert(n >= 1 && n <= CLUSTER_MAX_CHAINS, "a cluster watches 1 to %d chains, not %zu", CLUSTER_MAX_CHAINS, n);
    memcpy(c->chain, chains, n * sizeof *chains);
    c->nchains = n;

    char *hub = NULL;
    append(&hub, "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = %d\n"
                 "[listen]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\n"
                 "catchup = ipc://%s/catchup.sock\n[allow]\n",
           COMMIT_DELAY_MS, c->dir, c->dir, c->dir);
    for (unsigned i = 1; i <= CLUSTER_NODES; i++)
        append(&hub, "node = keys/node%u.pub\n", i);
    write_in(c, "hub.conf", hub);
    free(hub);

    for (unsigned i = 1; i <= CLUSTER_NODES; i++) {
        char *node = NULL, name[32];
        append(&node, "[node]\nkey = keys/node%u.key\nrelayers = relayers.json\ndata = node%u\n"
                      "[hub]\nnodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n",
               i, i, c->dir);
        for (size_t k = 0; k < n; k++)
            append(&node, "[chain.%s]\nsource = evm\nrpc = %s\nchain_id = %llu\nvault = %s\nconfirmations = %u\n"
                          "poll_ms = %d\nmax_range = %d\nper_message = %d\n",
                   chains[k].name, chains[k].rpc, (unsigned long long)chains[k].chain_id, chains[k].vault,
                   chains[k].confirmations, CLUSTER_POLL_MS, CLUSTER_MAX_RANGE, PER_MESSAGE);
        snprintf(name, sizeof name, "node%u.conf", i);
        write_in(c, name, node);
        free(node);
    }
}

void cluster_start(cluster *c)
{
    cr_assert(c->nchains > 0, "cluster_start before cluster_configure");
    char log[PATH_CHARS], conf[PATH_CHARS];
    path_in(c, log, "hub.log");
    path_in(c, conf, "hub.conf");
    const char *argv[] = {RELAYER_BIN, "hub", "--config", conf, NULL};
    c->hub = tu_spawn_argv(log, argv);
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_start_node(c, i);
}

static void log_path(const cluster *c, unsigned node, size_t chain, char out[PATH_CHARS])
{
    char name[64];
    snprintf(name, sizeof name, "node%u.%s.log", node + 1, c->chain[chain].name);
    path_in(c, out, name);
}

static void check_watcher(const cluster *c, unsigned node, size_t chain)
{
    cr_assert(node < CLUSTER_NODES && chain < c->nchains, "no watcher for node %u, chain %zu", node, chain);
}

void cluster_start_watcher(cluster *c, unsigned node, size_t chain)
{
    check_watcher(c, node, chain);
    cr_assert_eq(c->watcher[node][chain], 0, "node%u's watcher of %s is running already", node + 1,
                 c->chain[chain].name);
    char log[PATH_CHARS], conf[PATH_CHARS], name[32];
    log_path(c, node, chain, log);
    snprintf(name, sizeof name, "node%u.conf", node + 1);
    path_in(c, conf, name);
    const char *argv[] = {RELAYER_BIN, "watch", "--config", conf, "--chain", c->chain[chain].name, NULL};
    c->watcher[node][chain] = tu_spawn_argv(log, argv);
}

void cluster_stop_watcher(cluster *c, unsigned node, size_t chain, int sig)
{
    check_watcher(c, node, chain);
    tu_stop(&c->watcher[node][chain], sig);
}

void cluster_start_node(cluster *c, unsigned node)
{
    for (size_t k = 0; k < c->nchains; k++)
        cluster_start_watcher(c, node, k);
}

void cluster_stop_node(cluster *c, unsigned node, int sig)
{
    for (size_t k = 0; k < c->nchains; k++)
        cluster_stop_watcher(c, node, k, sig);
}

unsigned cluster_log_count(const cluster *c, unsigned node, size_t chain, const char *what)
{
    check_watcher(c, node, chain);
    char path[PATH_CHARS];
    log_path(c, node, chain, path);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    unsigned count = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0)
        count += strstr(line, what) != NULL;
    free(line);
    fclose(f);
    return count;
}

void cluster_await_logs(const cluster *c, size_t chain, const char *what, unsigned times)
{
    uint64_t t0 = tu_now_ms();
    for (;;) {
        unsigned ok = 0;
        for (unsigned i = 0; i < CLUSTER_NODES; i++)
            ok += cluster_log_count(c, i, chain, what) >= times;
        if (ok == CLUSTER_NODES)
            return;
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "%u of %d watchers of %s logged '%s' %u times in %d ms", ok,
                  CLUSTER_NODES, c->chain[chain].name, what, times, CLUSTER_WAIT_MS);
        tu_sleep_ms(AWAIT_POLL_MS);
    }
}

/* The hub's ledger, read-only; false (nothing opened) before the hub has created it. */
static bool hub_open(const cluster *c, store **s, MDB_txn **txn)
{
    char db[PATH_CHARS];
    path_in(c, db, "hub");
    store_opts so = {.read_only = true};
    if (store_open(s, db, &so, NULL) != RL_OK)
        return false;
    cr_assert_eq(store_read_begin(*s, txn, NULL), RL_OK, "read transaction on %s", db);
    return true;
}

static void hub_close(store *s, MDB_txn *txn)
{
    store_read_end(txn);
    store_close(s);
}

ledger_stats cluster_hub_stats(const cluster *c)
{
    ledger_stats st;
    memset(&st, 0, sizeof st);
    store *s;
    MDB_txn *txn;
    if (!hub_open(c, &s, &txn))
        return st;
    uint8_t digest[HASH_BYTES];
    rl_why why = {{0}};
    cr_assert_eq(ledger_digest(txn, s, digest, &st, &why), RL_OK, "hub ledger digest: %s", why.text);
    hub_close(s, txn);
    return st;
}

void cluster_hub_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                         char out[U256_DEC_MAX])
{
    uint8_t acct[EVM_ADDR_BYTES], token[EVM_ADDR_BYTES];
    cr_assert_eq(hex_decode(acct, sizeof acct, account, "account", NULL), RL_OK, "account %s", account);
    cr_assert_eq(hex_decode(token, sizeof token, asset, "asset", NULL), RL_OK, "asset %s", asset);
    store *s;
    MDB_txn *txn;
    cr_assert(hub_open(c, &s, &txn), "the hub has no ledger in %s/hub", c->dir);
    u256 bal, reserved;
    rl_why why = {{0}};
    cr_assert_eq(ledger_balance(txn, s, acct, chain_id, token, &bal, &reserved, &why), RL_OK, "hub balance: %s",
                 why.text);
    hub_close(s, txn);
    u256_to_dec(&bal, out);
}

void cluster_assert_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                            const char *want)
{
    char got[U256_DEC_MAX];
    cluster_hub_balance(c, account, chain_id, asset, got);
    cr_assert_str_eq(got, want, "hub balance of %s on chain %llu in asset %s: %s, expected %s", account,
                     (unsigned long long)chain_id, asset, got, want);
}

size_t cluster_hub_vaults(const cluster *c, vault_checkpoint *out, size_t cap)
{
    store *s;
    MDB_txn *txn;
    if (!hub_open(c, &s, &txn))
        return 0;
    size_t n = 0;
    rl_why why = {{0}};
    cr_assert_eq(ledger_vaults(txn, s, out, cap, &n, &why), RL_OK, "hub vault checkpoints: %s", why.text);
    hub_close(s, txn);
    return n;
}

json_t *cluster_hub_status(const cluster *c)
{
    char path[PATH_CHARS];
    path_in(c, path, "hub/status.json");
    /* The hub replaces the file atomically: a reader sees a whole document or the old one. */
    return json_load_file(path, 0, NULL);
}

void cluster_await_hub(const cluster *c, uint64_t credited, uint64_t conflicts)
{
    uint64_t t0 = tu_now_ms();
    ledger_stats st;
    do {
        st = cluster_hub_stats(c);
        if (st.events_credited == credited && st.conflicts == conflicts)
            return;
        cr_assert_leq(st.events_credited, credited, "the hub credited %llu events, expected %llu",
                      (unsigned long long)st.events_credited, (unsigned long long)credited);
        tu_sleep_ms(AWAIT_POLL_MS);
    } while (tu_now_ms() - t0 < CLUSTER_WAIT_MS);
    cr_assert_fail("after %d ms the hub has %llu credited and %llu conflicts, expected %llu and %llu",
                   CLUSTER_WAIT_MS, (unsigned long long)st.events_credited, (unsigned long long)st.conflicts,
                   (unsigned long long)credited, (unsigned long long)conflicts);
}

void cluster_assert_settled(const cluster *c, uint64_t credited, uint64_t conflicts)
{
    tu_sleep_ms(SETTLE_POLLS * CLUSTER_POLL_MS);
    ledger_stats st = cluster_hub_stats(c);
    cr_assert_eq(st.events_credited, credited, "the hub settled at %llu credited events, expected %llu",
                 (unsigned long long)st.events_credited, (unsigned long long)credited);
    cr_assert_eq(st.conflicts, conflicts, "the hub settled at %llu conflicts, expected %llu",
                 (unsigned long long)st.conflicts, (unsigned long long)conflicts);
}
