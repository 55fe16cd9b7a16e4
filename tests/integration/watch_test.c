/*
 * watch_test.c - `relayer watch` with `source = evm` against a real anvil chain: the hub and three
 * node watchers (threshold two) run as processes of build/relayer, deposits are made by cast
 * (never by the relayer's code), blocks are mined on demand (anvil_mine) so confirmations are
 * exact, and what the hub credited is read from its ledger (`relayer ledger digest` and the
 * balances in its LMDB environment).
 *
 * Cases: a deposit credited exactly once; a reorg of an unconfirmed deposit never credits; a
 * reorg below an observed deposit is detected by the watchers and the re-included deposit becomes
 * a conflict at the hub, not a second credit; the first of two RPC endpoints (a TCP proxy in
 * front of anvil) killed mid-run with nothing missed; watchers killed with SIGKILL and restarted
 * back-fill from their checkpoints with nothing doubled; a vault execute() and a signer rotation
 * (signed by cast, submitted by cast) observed by all three and attested at the hub, the vault's
 * sequence without a gap.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "attest/hex.h"
#include "db/ledger.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 31447
#define NODES 3
#define NATIVE "0x0000000000000000000000000000000000000000"
#define WAIT_MS 20000
#define POLL_MS 100

typedef struct cluster {
    char *dir;
    anvil_node chain;
    char *vault;
    pid_t hub, watcher[NODES], proxy;
    unsigned proxy_port;
} cluster;

static cluster t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void setup(void)
{
    memset(&t, 0, sizeof t);
    t.dir = tu_tmpdir();
    anvil_start(&t.chain, CHAIN_ID, 0); /* a block per transaction; more with anvil_mine */
    t.vault = cast_deploy(&t.chain, &t.chain.dev[0], "CollateralVault", "constructor(address[],uint256)",
                          "[0x70997970c51812dc3a010c7d01b50e0d17dc79c8]", "1", NULL);
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "cd %s && mkdir keys && for n in hub node1 node2 node3; do %s keygen --out keys --name $n "
                              "|| exit 1; done && %s relayers init --threshold 2 --out relayers.json keys/node1.pub "
                              "keys/node2.pub keys/node3.pub",
                        t.dir, RELAYER_BIN, RELAYER_BIN),
                 0, "%s", out);
    free(out);
}

static void stop_pid(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill(*pid, sig);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

static void teardown(void)
{
    for (int i = 0; i < NODES; i++)
        stop_pid(&t.watcher[i], SIGTERM);
    stop_pid(&t.hub, SIGTERM);
    stop_pid(&t.proxy, SIGKILL);
    anvil_stop(&t.chain);
    free(t.vault);
    tu_rmdir(t.dir);
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 90);

/* ---- configs and processes */

static void write_file(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void write_file(const char *name, const char *fmt, ...)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", t.dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fclose(f);
}

/* hub.conf and node1..3.conf; chain `c` read through rpc (a URL list) with `confirmations`. */
static void write_configs(const char *rpc, unsigned confirmations)
{
    write_file("hub.conf",
               "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 2\n"
               "[listen]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\n"
               "catchup = ipc://%s/catchup.sock\n"
               "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n",
               t.dir, t.dir, t.dir);
    for (int i = 1; i <= NODES; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d.conf", i);
        write_file(name,
                   "[node]\nkey = keys/node%d.key\nrelayers = relayers.json\ndata = node%d\n"
                   "[hub]\nnodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n"
                   "[chain.c]\nsource = evm\nrpc = %s\nchain_id = %d\nvault = %s\nconfirmations = %u\n"
                   "poll_ms = %d\nmax_range = 50\nper_message = 10\n",
                   i, i, t.dir, rpc, CHAIN_ID, t.vault, confirmations, POLL_MS);
    }
}

/* `relayer WHAT --config DIR/CONF [--chain c]`, output appended to DIR/LOG. */
static pid_t spawn(const char *what, const char *conf, const char *log, bool chain)
{
    char logp[700], confp[700];
    snprintf(logp, sizeof logp, "%s/%s", t.dir, log);
    snprintf(confp, sizeof confp, "%s/%s", t.dir, conf);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(logp, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (chain)
            execl(RELAYER_BIN, "relayer", what, "--config", confp, "--chain", "c", (char *)NULL);
        else
            execl(RELAYER_BIN, "relayer", what, "--config", confp, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void start_watcher(int i)
{
    char conf[32], log[32];
    snprintf(conf, sizeof conf, "node%d.conf", i + 1);
    snprintf(log, sizeof log, "watch%d.log", i + 1);
    t.watcher[i] = spawn("watch", conf, log, true);
}

static void start_cluster(void)
{
    t.hub = spawn("hub", "hub.conf", "hub.log", false);
    for (int i = 0; i < NODES; i++)
        start_watcher(i);
}

/* ---- the chain */

static void mine(unsigned blocks)
{
    char n[16];
    snprintf(n, sizeof n, "%u", blocks);
    free(cast_rpc(&t.chain, "anvil_mine", n, NULL));
}

static uint64_t head(void)
{
    char *out = cast_rpc(&t.chain, "eth_blockNumber", NULL);
    uint64_t h = strtoull(out + (out[0] == '"' ? 1 : 0), NULL, 16);
    free(out);
    return h;
}

/* depositNative(account) with value wei from dev[5]; returns the transaction hash (caller frees). */
static char *deposit(const char *account, const char *wei)
{
    json_t *r = cast_send_ok(&t.chain, &t.chain.dev[5], t.vault, wei, "depositNative(address)", account, NULL);
    char *tx = strdup(json_string_value(json_object_get(r, "transactionHash")));
    json_decref(r);
    return tx;
}

/* ---- the hub's ledger */

static ledger_stats hub_stats(void)
{
    char db[700];
    snprintf(db, sizeof db, "%s/hub", t.dir);
    ledger_stats st;
    memset(&st, 0, sizeof st);
    store *s = NULL;
    store_opts so = {.read_only = true};
    if (store_open(&s, db, &so, NULL) != RL_OK)
        return st; /* the hub has not created it yet */
    MDB_txn *txn;
    uint8_t d[HASH_BYTES];
    cr_assert_eq(store_read_begin(s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, s, d, &st, NULL), RL_OK);
    store_read_end(txn);
    store_close(s);
    return st;
}

/* The hub's balance of the native coin for account (0x hex), as a decimal string. */
static void hub_balance(const char *account, char out[U256_DEC_MAX])
{
    char db[700];
    snprintf(db, sizeof db, "%s/hub", t.dir);
    uint8_t acct[EVM_ADDR_BYTES], native[EVM_ADDR_BYTES] = {0};
    cr_assert_eq(hex_decode(acct, sizeof acct, account, "account", NULL), RL_OK);
    store *s = NULL;
    store_opts so = {.read_only = true};
    cr_assert_eq(store_open(&s, db, &so, NULL), RL_OK);
    MDB_txn *txn;
    u256 bal, res;
    cr_assert_eq(store_read_begin(s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, s, acct, CHAIN_ID, native, &bal, &res, NULL), RL_OK);
    store_read_end(txn);
    store_close(s);
    u256_to_dec(&bal, out);
}

/* Waits until the hub credited `credited` events (and logged `conflicts` conflicts). */
static void await_hub(uint64_t credited, uint64_t conflicts)
{
    uint64_t t0 = now_ms();
    ledger_stats st;
    do {
        st = hub_stats();
        if (st.events_credited == credited && st.conflicts == conflicts)
            return;
        cr_assert_leq(st.events_credited, credited, "the hub credited %llu events, expected %llu",
                      (unsigned long long)st.events_credited, (unsigned long long)credited);
        sleep_ms(50);
    } while (now_ms() - t0 < WAIT_MS);
    cr_assert_fail("the hub has %llu credited and %llu conflicts, expected %llu and %llu",
                   (unsigned long long)st.events_credited, (unsigned long long)st.conflicts,
                   (unsigned long long)credited, (unsigned long long)conflicts);
}

/* Waits until every watcher's log has `what` at least `times` times. */
static void await_logs(const char *what, unsigned times)
{
    uint64_t t0 = now_ms();
    for (;;) {
        unsigned ok = 0;
        for (int i = 1; i <= NODES; i++) {
            char *out = NULL;
            tu_run(&out, "grep -c '%s' %s/watch%d.log", what, t.dir, i);
            ok += strtoul(out, NULL, 10) >= times;
            free(out);
        }
        if (ok == NODES)
            return;
        cr_assert(now_ms() - t0 < WAIT_MS, "not every watcher logged '%s' %u times", what, times);
        sleep_ms(50);
    }
}

static void assert_balance(const char *account, const char *want)
{
    char got[U256_DEC_MAX];
    hub_balance(account, got);
    cr_assert_str_eq(got, want, "balance of %s", account);
}

/* A few polls later, still exactly that: nothing more credited, no other conflict. */
static void assert_settled(uint64_t credited, uint64_t conflicts)
{
    sleep_ms(5 * POLL_MS);
    ledger_stats st = hub_stats();
    cr_assert_eq(st.events_credited, credited);
    cr_assert_eq(st.conflicts, conflicts);
}

#define ACCOUNT_A "0x00000000000000000000000000000000000a11ce"
#define ACCOUNT_B "0x0000000000000000000000000000000000000b0b"

Test(watch, a_deposit_is_credited_exactly_once_by_three_nodes_with_threshold_two)
{
    write_configs(t.chain.rpc_url, 2);
    start_cluster();
    free(deposit(ACCOUNT_A, "1000000000000000001"));
    free(deposit(ACCOUNT_B, "42"));
    free(deposit(ACCOUNT_A, "5"));
    mine(1); /* the last deposit has one block on top: not yet confirmed */
    await_logs("kind=Deposited seq=2", 1);
    sleep_ms(3 * POLL_MS);
    cr_assert_eq(hub_stats().events_credited, 2, "a deposit was credited before its confirmations");
    mine(1);
    await_hub(3, 0);
    mine(5);
    assert_settled(3, 0);
    cr_assert_eq(hub_stats().gaps, 0);
    assert_balance(ACCOUNT_A, "1000000000000000006");
    assert_balance(ACCOUNT_B, "42");
}

Test(watch, a_reorg_of_an_unconfirmed_deposit_never_credits)
{
    write_configs(t.chain.rpc_url, 3);
    start_cluster();
    free(deposit(ACCOUNT_A, "7"));
    mine(1); /* two blocks of three */
    sleep_ms(3 * POLL_MS);
    free(cast_rpc(&t.chain, "anvil_reorg", "2", "[]", NULL)); /* the deposit's block and the one after it */
    mine(4);
    /* the chain goes on: a deposit after the reorg takes vault sequence 1 again and is credited */
    free(deposit(ACCOUNT_B, "9"));
    mine(3);
    await_hub(1, 0);
    assert_settled(1, 0);
    assert_balance(ACCOUNT_A, "0");
    assert_balance(ACCOUNT_B, "9");
}

Test(watch, a_reorg_below_an_observed_deposit_is_detected_and_never_credits_twice)
{
    write_configs(t.chain.rpc_url, 1);
    start_cluster();
    char *tx = deposit(ACCOUNT_A, "11");
    uint64_t block = head();
    mine(2);
    await_hub(1, 0);
    /* The same signed transaction, re-included one block later on a new branch: same event id,
     * another block. */
    char *raw = cast_rpc(&t.chain, "eth_getRawTransactionByHash", tx, NULL);
    char pairs[1024], depth[16];
    snprintf(pairs, sizeof pairs, "[[%s, 1]]", raw);
    snprintf(depth, sizeof depth, "%llu", (unsigned long long)(head() - block + 1));
    free(cast_rpc(&t.chain, "anvil_reorg", depth, pairs, NULL));
    mine(2);
    await_logs("reorg below observed events", 1);
    await_hub(1, 1); /* the second content of the event is a conflict at the hub */
    assert_settled(1, 1);
    assert_balance(ACCOUNT_A, "11");
    free(raw);
    free(tx);
}

/* ---- a TCP proxy in front of anvil, as a process the test kills */

static void relay(int a, int b)
{
    struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    char buf[16384];
    while (poll(p, 2, -1) > 0) {
        for (int i = 0; i < 2; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
                return;
        }
    }
}

static void start_proxy(unsigned to_port)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(l, 16), 0);
    cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &len), 0);
    t.proxy_port = ntohs(a.sin_port);
    t.proxy = fork();
    cr_assert(t.proxy >= 0);
    if (t.proxy > 0) {
        close(l);
        return;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int c = accept(l, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            /* a connection's relay dies with the proxy, as a killed node's connections do */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int u = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)to_port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (connect(u, (struct sockaddr *)&to, sizeof to) == 0)
                relay(c, u);
            _exit(0);
        }
        close(c);
    }
}

Test(watch, the_first_of_two_rpc_endpoints_killed_mid_run_no_event_is_missed)
{
    start_proxy(t.chain.port);
    char rpc[160];
    /* Priority to the proxy; anvil itself is the fail-over. Both serve the one chain, as two
     * providers of one network do. */
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%u %s", t.proxy_port, t.chain.rpc_url);
    write_configs(rpc, 1);
    start_cluster();
    free(deposit(ACCOUNT_A, "1"));
    free(deposit(ACCOUNT_A, "2"));
    mine(1);
    await_hub(2, 0);
    stop_pid(&t.proxy, SIGKILL); /* the primary endpoint goes away, connections and all */
    free(deposit(ACCOUNT_A, "4"));
    free(deposit(ACCOUNT_B, "8"));
    mine(1);
    free(deposit(ACCOUNT_A, "16"));
    mine(1);
    await_hub(5, 0);
    await_logs("rpc endpoint unhealthy", 1);
    assert_balance(ACCOUNT_A, "23");
    assert_balance(ACCOUNT_B, "8");
}

Test(watch, watchers_killed_and_restarted_back_fill_from_their_checkpoints_nothing_doubled)
{
    write_configs(t.chain.rpc_url, 1);
    start_cluster();
    free(deposit(ACCOUNT_A, "100"));
    mine(1);
    await_hub(1, 0);
    /* Two of three watchers die: no quorum for what happens next. */
    stop_pid(&t.watcher[0], SIGKILL);
    stop_pid(&t.watcher[1], SIGKILL);
    for (int i = 0; i < 6; i++)
        free(deposit(i % 2 ? ACCOUNT_B : ACCOUNT_A, "3"));
    mine(60); /* more than one range (max_range 50) to read back */
    sleep_ms(5 * POLL_MS);
    cr_assert_eq(hub_stats().events_credited, 1, "credited without a quorum");
    start_watcher(0);
    start_watcher(1);
    await_hub(7, 0);
    /* Once more, right after a deposit (read or not yet), with the third node killed too. */
    stop_pid(&t.watcher[2], SIGKILL);
    free(deposit(ACCOUNT_B, "1000"));
    mine(1);
    stop_pid(&t.watcher[0], SIGKILL);
    start_watcher(0);
    start_watcher(2);
    await_hub(8, 0);
    assert_settled(8, 0);
    assert_balance(ACCOUNT_A, "109");
    assert_balance(ACCOUNT_B, "1009");
    char *out = NULL;
    tu_run(&out, "grep -h 'resume=checkpoint' %s/watch1.log | wc -l", t.dir);
    cr_assert_geq(strtoul(out, NULL, 10), 2, "watcher 1 did not resume from its checkpoint twice");
    free(out);
}

/* ---- executions and rotations */

#define SIGNER (&t.chain.dev[1]) /* the vault's one signer (threshold 1), from setup */
#define RECIPIENT "0x000000000000000000000000000000000000dead"

/* execute() of a release of `wei` of ACCOUNT_A's native balance at `nonce`, its EIP-712 digest
 * from the vault and signed by cast, submitted by dev[0]. */
static void execute_release(const char *wei, uint64_t nonce)
{
    char *tuple = NULL;
    cr_assert(asprintf(&tuple, "(1,%s,%s,%s,%s,%llu,%llu)", ACCOUNT_A, NATIVE, wei, RECIPIENT,
                       (unsigned long long)nonce, (unsigned long long)(anvil_timestamp(&t.chain) + 3600)) > 0);
    char *digest = cast_call(&t.chain, t.vault, "instructionDigest((uint8,address,address,uint256,address,uint256,uint256))(bytes32)",
                             tuple, NULL);
    char *sig = cast_sign_digest(SIGNER, digest), *sigs = NULL;
    cr_assert(asprintf(&sigs, "[%s]", sig) > 0);
    json_decref(cast_send_ok(&t.chain, &t.chain.dev[0], t.vault, NULL,
                             "execute((uint8,address,address,uint256,address,uint256,uint256),bytes[])", tuple, sigs,
                             NULL));
    free(sigs);
    free(sig);
    free(digest);
    free(tuple);
}

/* rotate() to the same signer at version 2, threshold 1. */
static void rotate_to_version_2(void)
{
    char signers[64];
    snprintf(signers, sizeof signers, "[%s]", SIGNER->address);
    char *digest = cast_call(&t.chain, t.vault, "rotateDigest(address[],uint256,uint256)(bytes32)", signers, "1", "2",
                             NULL);
    char *sig = cast_sign_digest(SIGNER, digest), *sigs = NULL;
    cr_assert(asprintf(&sigs, "[%s]", sig) > 0);
    json_decref(cast_send_ok(&t.chain, &t.chain.dev[0], t.vault, NULL, "rotate(address[],uint256,uint256,bytes[])",
                             signers, "1", "2", sigs, NULL));
    free(sigs);
    free(sig);
    free(digest);
}

Test(watch, an_execution_and_a_rotation_are_attested_and_leave_no_sequence_gap)
{
    write_configs(t.chain.rpc_url, 2);
    start_cluster();
    free(deposit(ACCOUNT_A, "1000"));  /* seq 1 */
    execute_release("400", 1);         /* seq 2: Executed */
    rotate_to_version_2();             /* seq 3: SignersRotated */
    mine(2);
    await_logs("kind=Executed seq=2", 1);
    await_logs("kind=SignersRotated seq=3", 1);
    await_hub(3, 0);
    ledger_stats st = hub_stats();
    cr_assert_eq(st.gaps, 0, "every vault event was observed");
    cr_assert_eq(st.executions, 1);
    /* No instruction was logged for nonce 1 (no calculator here): an unmatched execution, which
     * takes the 400 from the 1000 the ledger holds. */
    cr_assert_eq(st.unmatched, 1);
    cr_assert_eq(st.shortfalls, 0);
    assert_balance(ACCOUNT_A, "600");
    char db[700];
    snprintf(db, sizeof db, "%s/hub", t.dir);
    store *s = NULL;
    store_opts so = {.read_only = true};
    cr_assert_eq(store_open(&s, db, &so, NULL), RL_OK);
    MDB_txn *txn;
    uint8_t vault[EVM_ADDR_BYTES];
    vault_state vs;
    uint64_t missing[4];
    size_t n;
    cr_assert_eq(hex_decode(vault, sizeof vault, t.vault, "vault", NULL), RL_OK);
    cr_assert_eq(store_read_begin(s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_vault_gaps(txn, s, CHAIN_ID, vault, &vs, missing, 4, &n, NULL), RL_OK);
    store_read_end(txn);
    store_close(s);
    cr_assert(vs.next == 4 && vs.max == 3 && n == 0, "the hub's cursor passed all three events: next %llu",
              (unsigned long long)vs.next);
    assert_settled(3, 0);
}
