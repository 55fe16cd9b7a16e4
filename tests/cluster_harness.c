/*
 * cluster_harness.c - the hub and three node watchers as processes, their configs, and what the
 * hub's ledger says (see cluster_harness.h). Configs are written the way README.md documents
 * them; the ledger is read through db/ledger.h, the hub's own read path.
 */
#include "tests/cluster_harness.h"

#include <signal.h>
#include <time.h>

#include "attest/hex.h"
#include "db/ledger_fund.h"
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
                    "cd '%s' && mkdir keys && for n in hub node1 node2 node3 calc venue; do %s keygen --out keys --name $n "
                    "|| exit 1; done && %s relayers init --threshold %d --venue keys/venue.pub --out relayers.json "
                    "keys/node1.pub keys/node2.pub keys/node3.pub",
                    c->dir, RELAYER_BIN, RELAYER_BIN, CLUSTER_THRESHOLD);
    cr_assert_eq(rc, 0, "cluster keys and relayer set: exit %d: %s", rc, out);
    free(out);
}

void cluster_fini(cluster *c)
{
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        for (size_t k = 0; k < CLUSTER_MAX_CHAINS; k++)
            tu_stop(&c->executor[i][k], SIGTERM);
        tu_stop(&c->cosigner[i], SIGTERM);
        cluster_stop_node(c, i, SIGTERM);
    }
    tu_stop(&c->margin, SIGTERM);
    tu_stop(&c->hub, SIGTERM);
    if (c->dir != NULL && getenv("RL_KEEP_CLUSTER") != NULL) { /* to read the daemons' logs after a run */
        fprintf(stderr, "cluster kept in %s\n", c->dir);
        free(c->dir);
    } else
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

cluster_chain cluster_chain_of(const char *name, const anvil_node *n, const char *vault, unsigned confirmations)
{
    cluster_chain ch = {.chain_id = n->chain_id, .confirmations = confirmations};
    cr_assert(strlen(name) < sizeof ch.name && strlen(vault) < sizeof ch.vault, "chain %s, vault %s", name, vault);
    snprintf(ch.name, sizeof ch.name, "%s", name);
    snprintf(ch.rpc, sizeof ch.rpc, "%s", n->rpc_url);
    snprintf(ch.vault, sizeof ch.vault, "%s", vault);
    return ch;
}

/* hub.conf; with a pipeline also the risk file, the venue and calculator sockets and roles. */
static void write_hub_conf(const cluster *c)
{
    char *hub = NULL;
    append(&hub, "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = %d\n%s"
                 "[listen]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\n"
                 "catchup = ipc://%s/catchup.sock\n",
           COMMIT_DELAY_MS, c->pipeline ? "risk = risk.json\ncosign_alert_ms = " CLUSTER_COSIGN_ALERT_MS "\n" : "",
           c->dir, c->dir, c->dir);
    if (c->pipeline)
        append(&hub, "venue = ipc://%s/venue.sock\ncalculator = ipc://%s/calc.sock\n", c->dir, c->dir);
    append(&hub, "[allow]\n");
    for (unsigned i = 1; i <= CLUSTER_NODES; i++)
        append(&hub, "node = keys/node%u.pub\n", i);
    if (c->pipeline) {
        /* Co-signers and executors follow the log under their node's key. */
        for (unsigned i = 1; i <= CLUSTER_NODES; i++)
            append(&hub, "subscriber = keys/node%u.pub\n", i);
        append(&hub, "subscriber = keys/calc.pub\ncalculator = keys/calc.pub\nvenue = keys/venue.pub\n");
    }
    write_in(c, "hub.conf", hub);
    free(hub);
}

void cluster_configure(cluster *c, const cluster_chain *chains, size_t n)
{
    cr_assert(n >= 1 && n <= CLUSTER_MAX_CHAINS, "a cluster watches 1 to %d chains, not %zu", CLUSTER_MAX_CHAINS, n);
    memcpy(c->chain, chains, n * sizeof *chains);
    c->nchains = n;
    write_hub_conf(c);

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

void cluster_configure_pipeline(cluster *c, const cluster_chain *chains, size_t n, const cluster_pipeline *p)
{
    cr_assert_not_null(p->risk, "a pipeline needs a risk file");
    c->pipeline = true;
    cluster_configure(c, chains, n);
    write_in(c, "risk.json", p->risk);
    const char *d = c->dir;
    char *text = NULL;
    append(&text, "[margin]\ndata = margin\nkey = keys/calc.key\nrelayers = relayers.json\nrisk = risk.json\n"
                  "[hub]\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
                  "calculator = ipc://%s/calc.sock\nkey = keys/hub.pub\n",
           d, d, d);
    write_in(c, "margin.conf", text);
    free(text);
    text = NULL;
    append(&text, "[venue]\nkey = keys/venue.key\n[hub]\nvenue = ipc://%s/venue.sock\nkey = keys/hub.pub\n", d);
    write_in(c, "venue.conf", text);
    free(text);
    unsigned takeover_ms = p->takeover_ms ? p->takeover_ms : 1500, retry_ms = p->retry_ms ? p->retry_ms : 500;
    char finality[32];
    if (p->finalized)
        snprintf(finality, sizeof finality, "finality = finalized\n");
    else
        snprintf(finality, sizeof finality, "confirmations = %u\n", p->confirmations ? p->confirmations : 1);
    for (unsigned i = 1; i <= CLUSTER_NODES; i++) {
        char name[32], risk[32] = "risk.json";
        if (p->node_risk[i - 1] != NULL) {
            snprintf(risk, sizeof risk, "risk.node%u.json", i);
            write_in(c, risk, p->node_risk[i - 1]);
        }
        text = NULL;
        append(&text, "[cosign]\nkey = keys/node%u.key\nrelayers = relayers.json\nrisk = %s\ndata = node%u-cosign\n"
                      "[hub]\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
                      "nodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n",
               i, risk, i, d, d, d);
        snprintf(name, sizeof name, "cosign%u.conf", i);
        write_in(c, name, text);
        free(text);
        text = NULL;
        append(&text, "[execute]\nkey = keys/node%u.key\nrelayers = relayers.json\ndata = node%u-execute\n"
                      "takeover_ms = %u\nretry_ms = %u\n"
                      "[hub]\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
                      "nodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n",
               i, i, takeover_ms, retry_ms, d, d, d);
        for (size_t k = 0; k < n; k++)
            append(&text, "[chain.%s]\nrpc = %s\nchain_id = %llu\nvault = %s\n%s", chains[k].name,
                   p->exec_rpc[0] ? p->exec_rpc : chains[k].rpc, (unsigned long long)chains[k].chain_id,
                   chains[k].vault, finality);
        snprintf(name, sizeof name, "execute%u.conf", i);
        write_in(c, name, text);
        free(text);
    }
}

static void check_watcher(const cluster *c, unsigned node, size_t chain)
{
    cr_assert(node < CLUSTER_NODES && chain < c->nchains, "no watcher for node %u, chain %zu", node, chain);
}

/* Starts `relayer ARGS...` (NULL-terminated) with its output appended to DIR/log_name. */
static pid_t spawn_in(const cluster *c, const char *log_name, const char *const *args)
{
    char log[PATH_CHARS];
    path_in(c, log, log_name);
    const char *argv[12] = {RELAYER_BIN};
    size_t n = 1;
    while (args[n - 1] != NULL) {
        cr_assert_lt(n, sizeof argv / sizeof argv[0] - 1);
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    return tu_spawn_argv(log, argv);
}

void cluster_start(cluster *c)
{
    cr_assert(c->nchains > 0, "cluster_start before cluster_configure");
    cluster_start_hub(c);
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_start_node(c, i);
    if (!c->pipeline)
        return;
    cluster_start_margin(c);
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        cluster_start_cosigner(c, i);
        for (size_t k = 0; k < c->nchains; k++)
            cluster_start_executor(c, i, k);
    }
}

void cluster_start_hub(cluster *c)
{
    cr_assert_eq(c->hub, 0, "the hub is running already");
    char conf[PATH_CHARS];
    path_in(c, conf, "hub.conf");
    c->hub = spawn_in(c, "hub.log", (const char *[]){"hub", "--config", conf, NULL});
}

void cluster_stop_hub(cluster *c, int sig)
{
    tu_stop(&c->hub, sig);
}

static void check_pipeline(const cluster *c)
{
    cr_assert(c->pipeline, "no pipeline: configure the cluster with cluster_configure_pipeline");
}

void cluster_start_margin(cluster *c)
{
    check_pipeline(c);
    cr_assert_eq(c->margin, 0, "the margin calculator is running already");
    char conf[PATH_CHARS];
    path_in(c, conf, "margin.conf");
    c->margin = spawn_in(c, "margin.log", (const char *[]){"margin", "--config", conf, NULL});
}

void cluster_stop_margin(cluster *c, int sig) { tu_stop(&c->margin, sig); }

void cluster_start_cosigner(cluster *c, unsigned node)
{
    check_pipeline(c);
    cr_assert(node < CLUSTER_NODES && c->cosigner[node] == 0, "node%u's co-signer: no such node or running", node + 1);
    char conf[PATH_CHARS], name[32], log[32];
    snprintf(name, sizeof name, "cosign%u.conf", node + 1);
    snprintf(log, sizeof log, "node%u.cosign.log", node + 1);
    path_in(c, conf, name);
    c->cosigner[node] = spawn_in(c, log, (const char *[]){"cosign", "--config", conf, NULL});
}

void cluster_stop_cosigner(cluster *c, unsigned node, int sig)
{
    cr_assert_lt(node, CLUSTER_NODES);
    tu_stop(&c->cosigner[node], sig);
}

void cluster_start_executor(cluster *c, unsigned node, size_t chain)
{
    check_pipeline(c);
    check_watcher(c, node, chain);
    cr_assert_eq(c->executor[node][chain], 0, "node%u's executor of %s is running already", node + 1,
                 c->chain[chain].name);
    char conf[PATH_CHARS], name[32], log[64];
    snprintf(name, sizeof name, "execute%u.conf", node + 1);
    snprintf(log, sizeof log, "node%u.execute.%s.log", node + 1, c->chain[chain].name);
    path_in(c, conf, name);
    c->executor[node][chain] =
        spawn_in(c, log, (const char *[]){"execute", "--config", conf, "--chain", c->chain[chain].name, NULL});
}

void cluster_stop_executor(cluster *c, unsigned node, size_t chain, int sig)
{
    check_watcher(c, node, chain);
    tu_stop(&c->executor[node][chain], sig);
}

/* keys/nodeN.pub, parsed; the caller json_decref's it. */
static json_t *node_pub_json(const cluster *c, unsigned node)
{
    char path[PATH_CHARS], name[32];
    snprintf(name, sizeof name, "keys/node%u.pub", node + 1);
    path_in(c, path, name);
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    cr_assert_not_null(j, "%s: %s", path, je.text);
    return j;
}

void cluster_node_evm(const cluster *c, unsigned node, char out[EVM_ADDRESS_CHARS + 1])
{
    cr_assert_lt(node, CLUSTER_NODES);
    json_t *j = node_pub_json(c, node);
    const char *evm = json_string_value(json_object_get(j, "evm"));
    cr_assert(evm != NULL && strlen(evm) == EVM_ADDRESS_CHARS, "keys/node%u.pub has no EVM address", node + 1);
    memcpy(out, evm, EVM_ADDRESS_CHARS + 1);
    json_decref(j);
}

void cluster_fund_nodes(const cluster *c, const anvil_node *n, const char *wei)
{
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        char evm[EVM_ADDRESS_CHARS + 1];
        cluster_node_evm(c, i, evm);
        json_decref(cast_send_ok(n, &n->dev[0], evm, wei, NULL, NULL));
    }
}

unsigned cluster_primary(const cluster *c, uint64_t nonce)
{
    char path[PATH_CHARS];
    path_in(c, path, "relayers.json");
    json_error_t je;
    json_t *set = json_load_file(path, 0, &je);
    cr_assert_not_null(set, "%s: %s", path, je.text);
    json_t *members = json_object_get(set, "members");
    size_t n = json_array_size(members);
    cr_assert_eq(n, CLUSTER_NODES, "%s has %zu members", path, n);
    /* The file lists members in id order, as the relayer set keeps them. */
    const char *name = json_string_value(json_object_get(json_array_get(members, nonce % n), "name"));
    unsigned node = 0;
    cr_assert(name != NULL && sscanf(name, "node%u", &node) == 1 && node >= 1 && node <= CLUSTER_NODES,
              "%s: member %llu is not one of node1..node%d", path, (unsigned long long)(nonce % n), CLUSTER_NODES);
    json_decref(set);
    return node - 1;
}

void cluster_price(const cluster *c, const char *feed, const char *price)
{
    for (unsigned i = 1; i <= CLUSTER_THRESHOLD; i++) {
        char *out = NULL;
        int rc = tu_run(&out, "%s price send --config %s/node%u.conf --feed %s --price %s", RELAYER_BIN, c->dir, i,
                        feed, price);
        cr_assert_eq(rc, 0, "node%u's price %s %s: exit %d: %s", i, feed, price, rc, out);
        free(out);
    }
}

uint64_t cluster_venue(const cluster *c, const char *args)
{
    check_pipeline(c);
    char *out = NULL;
    int rc = tu_run(&out, "%s venue %s --config %s/venue.conf", RELAYER_BIN, args, c->dir);
    cr_assert_eq(rc, 0, "venue %s: exit %d: %s", args, rc, out);
    unsigned long long nonce = 0;
    const char *at = strstr(out, "logged (nonce ");
    cr_assert(at != NULL && sscanf(at, "logged (nonce %llu)", &nonce) == 1, "venue %s: no nonce in: %s", args, out);
    free(out);
    return nonce;
}

char *cluster_deploy_vault(const cluster *c, const anvil_node *n)
{
    char evm[CLUSTER_NODES][EVM_ADDRESS_CHARS + 1];
    const char *signers[CLUSTER_NODES];
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        cluster_node_evm(c, i, evm[i]);
        signers[i] = evm[i];
    }
    return cast_deploy_vault_for(n, &n->dev[0], signers, CLUSTER_NODES, CLUSTER_THRESHOLD);
}

void cluster_withdraw(const cluster *c, const anvil_account *owner, uint64_t positions_nonce, const char *args)
{
    static uint64_t last_nonce;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t nonce = (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000;
    nonce = nonce > last_nonce ? nonce : last_nonce + 1;
    last_nonce = nonce;
    uint64_t expiry = (uint64_t)now.tv_sec + 3600;
    char *typed = NULL, *owner_part = NULL, *full = NULL;
    int rc = tu_run(&typed, "%s venue withdraw --print-typed-data %s --owner-nonce %llu --expiry-s %llu "
                    "--relayers %s/relayers.json",
                    RELAYER_BIN, args, (unsigned long long)nonce, (unsigned long long)expiry, c->dir);
    cr_assert_eq(rc, 0, "venue withdraw --print-typed-data %s: exit %d: %s", args, rc, typed);
    char *sig = cast_sign_typed(owner, typed);
    cr_assert(asprintf(&owner_part, "--owner-nonce %llu --expiry-s %llu --owner-signature %s --positions-nonce %llu",
                       (unsigned long long)nonce, (unsigned long long)expiry, sig,
                       (unsigned long long)positions_nonce) > 0);
    cr_assert(asprintf(&full, "withdraw %s %s", args, owner_part) > 0);
    cluster_venue(c, full);
    free(full);
    free(owner_part);
    free(sig);
    free(typed);
}

void cluster_start_watcher(cluster *c, unsigned node, size_t chain)
{
    check_watcher(c, node, chain);
    cr_assert_eq(c->watcher[node][chain], 0, "node%u's watcher of %s is running already", node + 1,
                 c->chain[chain].name);
    char conf[PATH_CHARS], name[32], log[64];
    snprintf(log, sizeof log, "node%u.%s.log", node + 1, c->chain[chain].name);
    snprintf(name, sizeof name, "node%u.conf", node + 1);
    path_in(c, conf, name);
    c->watcher[node][chain] =
        spawn_in(c, log, (const char *[]){"watch", "--config", conf, "--chain", c->chain[chain].name, NULL});
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

unsigned cluster_file_count(const cluster *c, const char *name, const char *what)
{
    char path[PATH_CHARS];
    path_in(c, path, name);
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

unsigned cluster_log_count(const cluster *c, unsigned node, size_t chain, const char *what)
{
    check_watcher(c, node, chain);
    char name[64];
    snprintf(name, sizeof name, "node%u.%s.log", node + 1, c->chain[chain].name);
    return cluster_file_count(c, name, what);
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

/* Balance and reserved amount of (account, chain_id, asset), read from the hub's ledger. */
static void hub_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset, u256 *bal,
                        u256 *reserved)
{
    uint8_t acct[EVM_ADDR_BYTES], token[EVM_ADDR_BYTES];
    cr_assert_eq(hex_decode(acct, sizeof acct, account, "account", NULL), RL_OK, "account %s", account);
    cr_assert_eq(hex_decode(token, sizeof token, asset, "asset", NULL), RL_OK, "asset %s", asset);
    store *s;
    MDB_txn *txn;
    cr_assert(hub_open(c, &s, &txn), "the hub has no ledger in %s/hub", c->dir);
    rl_why why = {{0}};
    cr_assert_eq(ledger_balance(txn, s, acct, chain_id, token, bal, reserved, &why), RL_OK, "hub balance: %s",
                 why.text);
    hub_close(s, txn);
}

void cluster_hub_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                         char out[U256_DEC_MAX])
{
    u256 bal, reserved;
    hub_balance(c, account, chain_id, asset, &bal, &reserved);
    u256_to_dec(&bal, out);
}

void cluster_hub_reserved(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                          char out[U256_DEC_MAX])
{
    u256 bal, reserved;
    hub_balance(c, account, chain_id, asset, &bal, &reserved);
    u256_to_dec(&reserved, out);
}

void cluster_hub_insurance(const cluster *c, uint64_t chain_id, const char *asset, char out[U256_DEC_MAX])
{
    uint8_t token[EVM_ADDR_BYTES];
    cr_assert_eq(hex_decode(token, sizeof token, asset, "asset", NULL), RL_OK, "asset %s", asset);
    store *s;
    MDB_txn *txn;
    cr_assert(hub_open(c, &s, &txn), "the hub has no ledger in %s/hub", c->dir);
    fund_insurance f;
    rl_why why = {{0}};
    cr_assert_eq(ledger_insurance_get(txn, s, chain_id, token, &f, &why), RL_OK, "hub insurance: %s", why.text);
    hub_close(s, txn);
    u256_to_dec(&f.amount, out);
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

size_t cluster_hub_records(const cluster *c, uint8_t type, void (*each)(const record *r, void *ctx), void *ctx)
{
    store *s;
    MDB_txn *txn;
    if (!hub_open(c, &s, &txn))
        return 0;
    ledger_head head;
    rl_why why = {{0}};
    cr_assert_eq(ledger_head_get(txn, s, &head, &why), RL_OK, "hub log head: %s", why.text);
    size_t n = 0;
    for (uint64_t seq = 1; seq <= head.seq; seq++) {
        MDB_val v;
        record r;
        cr_assert_eq(ledger_record_get(txn, s, seq, &v, &why), RL_OK, "hub record %llu: %s", (unsigned long long)seq,
                     why.text);
        cr_assert_eq(record_decode(&r, v.mv_data, v.mv_size, &why), RL_OK, "hub record %llu: %s",
                     (unsigned long long)seq, why.text);
        if (r.type != type)
            continue;
        n++;
        if (each != NULL)
            each(&r, ctx);
    }
    hub_close(s, txn);
    return n;
}

void cluster_await_records(const cluster *c, uint8_t type, size_t want)
{
    uint64_t t0 = tu_now_ms();
    size_t have;
    while ((have = cluster_hub_records(c, type, NULL, NULL)) < want && tu_now_ms() - t0 < CLUSTER_WAIT_MS)
        tu_sleep_ms(AWAIT_POLL_MS);
    cr_assert_eq(have, want, "the hub logged %zu %s records, waited %d ms for %zu", have, record_type_name(type),
                 CLUSTER_WAIT_MS, want);
}

struct instructions {
    instruction *in;
    uint64_t *seq;
    size_t n, cap;
};

static void keep_instruction(const record *r, void *ctx)
{
    struct instructions *is = ctx;
    cr_assert_lt(is->n, is->cap, "more than %zu instructions logged", is->cap);
    rl_why why = {{0}};
    cr_assert_eq(instruction_decode(&is->in[is->n], r->payload, r->payload_len, &why), RL_OK, "%s", why.text);
    is->seq[is->n++] = r->seq;
}

size_t cluster_hub_instructions(const cluster *c, instruction *in, uint64_t *seq, size_t cap)
{
    struct instructions is = {.in = in, .seq = seq, .cap = cap};
    cluster_hub_records(c, RECORD_INSTRUCTION, keep_instruction, &is);
    return is.n;
}

static void count_expiry(const record *r, void *ctx)
{
    payload_attest p;
    obs o;
    if (payload_attest_decode(&p, r, NULL) == RL_OK && obs_decode(&o, p.obs, OBS_BYTES, NULL) == RL_OK &&
        o.kind == OBS_KIND_EXPIRED)
        (*(size_t *)ctx)++;
}

void cluster_await_expiries(const cluster *c, size_t want)
{
    uint64_t t0 = tu_now_ms();
    for (;;) {
        size_t n = 0;
        cluster_hub_records(c, RECORD_ATTEST, count_expiry, &n);
        cr_assert_leq(n, want, "%zu expiries logged, expected %zu", n, want);
        if (n == want)
            return;
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "%zu expiries logged after %d ms, expected %zu", n,
                  CLUSTER_WAIT_MS, want);
        tu_sleep_ms(AWAIT_POLL_MS);
    }
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

void cluster_await_executions(const cluster *c, uint64_t executions)
{
    uint64_t t0 = tu_now_ms();
    ledger_stats st;
    do {
        st = cluster_hub_stats(c);
        cr_assert_leq(st.executions, executions, "the hub applied %llu executions, expected %llu",
                      (unsigned long long)st.executions, (unsigned long long)executions);
        if (st.executions == executions)
            return;
        tu_sleep_ms(AWAIT_POLL_MS);
    } while (tu_now_ms() - t0 < CLUSTER_WAIT_MS);
    cr_assert_fail("after %d ms the hub applied %llu executions, expected %llu", CLUSTER_WAIT_MS,
                   (unsigned long long)st.executions, (unsigned long long)executions);
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
