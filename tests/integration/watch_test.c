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
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "tests/cluster_harness.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 31447
#define CHAIN 0 /* the one chain's index in the cluster */

static cluster c;
static anvil_node chain;
static char *vault;
static pid_t proxy;
static unsigned proxy_port;

static void setup(void)
{
    cluster_init(&c);
    anvil_start(&chain, CHAIN_ID, 0); /* a block per transaction; more with anvil_mine */
    vault = cast_deploy(&chain, &chain.dev[0], "CollateralVault", VAULT_CTOR_SIG,
                        "[0x70997970c51812dc3a010c7d01b50e0d17dc79c8]", "1", VAULT_NATIVE_ONLY_ASSETS,
                        VAULT_NATIVE_ONLY_MINIMUMS, NULL);
}

static void teardown(void)
{
    cluster_fini(&c);
    tu_stop(&proxy, SIGKILL);
    anvil_stop(&chain);
    free(vault);
    vault = NULL;
}

TestSuite(watch, .init = setup, .fini = teardown, .timeout = 90);

/* The cluster's one chain, read through rpc (a URL list) with `confirmations`. */
static void configure(const char *rpc, unsigned confirmations)
{
    cluster_chain ch = {.name = "c", .chain_id = CHAIN_ID, .confirmations = confirmations};
    snprintf(ch.rpc, sizeof ch.rpc, "%s", rpc);
    snprintf(ch.vault, sizeof ch.vault, "%s", vault);
    cluster_configure(&c, &ch, 1);
    cluster_start(&c);
}

/* depositNative(account) with value wei from dev[5]; returns the transaction hash (caller frees). */
static char *deposit(const char *account, const char *wei)
{
    json_t *r = cast_send_ok(&chain, &chain.dev[5], vault, wei, "depositNative(address)", account, NULL);
    char *tx = strdup(json_string_value(json_object_get(r, "transactionHash")));
    json_decref(r);
    return tx;
}

static void assert_balance(const char *account, const char *want)
{
    cluster_assert_balance(&c, account, CHAIN_ID, CLUSTER_NATIVE, want);
}

#define ACCOUNT_A "0x00000000000000000000000000000000000a11ce"
#define ACCOUNT_B "0x0000000000000000000000000000000000000b0b"

Test(watch, a_deposit_is_credited_exactly_once_by_three_nodes_with_threshold_two)
{
    configure(chain.rpc_url, 2);
    free(deposit(ACCOUNT_A, "1000000000000000001"));
    free(deposit(ACCOUNT_B, "42"));
    free(deposit(ACCOUNT_A, "5"));
    anvil_mine(&chain, 1); /* the last deposit has one block on top: not yet confirmed */
    cluster_await_logs(&c, CHAIN, "kind=Deposited seq=2", 1);
    tu_sleep_ms(3 * CLUSTER_POLL_MS);
    cr_assert_eq(cluster_hub_stats(&c).events_credited, 2, "a deposit was credited before its confirmations");
    anvil_mine(&chain, 1);
    cluster_await_hub(&c, 3, 0);
    anvil_mine(&chain, 5);
    cluster_assert_settled(&c, 3, 0);
    cr_assert_eq(cluster_hub_stats(&c).gaps, 0);
    assert_balance(ACCOUNT_A, "1000000000000000006");
    assert_balance(ACCOUNT_B, "42");
}

Test(watch, a_reorg_of_an_unconfirmed_deposit_never_credits)
{
    configure(chain.rpc_url, 3);
    free(deposit(ACCOUNT_A, "7"));
    anvil_mine(&chain, 1); /* two blocks of three */
    tu_sleep_ms(3 * CLUSTER_POLL_MS);
    free(cast_rpc(&chain, "anvil_reorg", "2", "[]", NULL)); /* the deposit's block and the one after it */
    anvil_mine(&chain, 4);
    /* the chain goes on: a deposit after the reorg takes vault sequence 1 again and is credited */
    free(deposit(ACCOUNT_B, "9"));
    anvil_mine(&chain, 3);
    cluster_await_hub(&c, 1, 0);
    cluster_assert_settled(&c, 1, 0);
    assert_balance(ACCOUNT_A, "0");
    assert_balance(ACCOUNT_B, "9");
}

Test(watch, a_reorg_below_an_observed_deposit_is_detected_and_never_credits_twice)
{
    configure(chain.rpc_url, 1);
    char *tx = deposit(ACCOUNT_A, "11");
    uint64_t block = anvil_head(&chain);
    anvil_mine(&chain, 2);
    cluster_await_hub(&c, 1, 0);
    /* The same signed transaction, re-included one block later on a new branch: same event id,
     * another block. */
    char *raw = cast_rpc(&chain, "eth_getRawTransactionByHash", tx, NULL);
    char pairs[1024], depth[16];
    snprintf(pairs, sizeof pairs, "[[%s, 1]]", raw);
    snprintf(depth, sizeof depth, "%llu", (unsigned long long)(anvil_head(&chain) - block + 1));
    free(cast_rpc(&chain, "anvil_reorg", depth, pairs, NULL));
    anvil_mine(&chain, 2);
    cluster_await_logs(&c, CHAIN, "reorg below observed events", 1);
    cluster_await_hub(&c, 1, 1); /* the second content of the event is a conflict at the hub */
    cluster_assert_settled(&c, 1, 1);
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
    proxy_port = ntohs(a.sin_port);
    proxy = fork();
    cr_assert(proxy >= 0);
    if (proxy > 0) {
        close(l);
        return;
    }
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int conn = accept(l, NULL, NULL);
        if (conn < 0)
            continue;
        if (fork() == 0) {
            /* a connection's relay dies with the proxy, as a killed node's connections do */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            int u = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)to_port),
                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
            if (connect(u, (struct sockaddr *)&to, sizeof to) == 0)
                relay(conn, u);
            _exit(0);
        }
        close(conn);
    }
}

Test(watch, the_first_of_two_rpc_endpoints_killed_mid_run_no_event_is_missed)
{
    start_proxy(chain.port);
    char rpc[160];
    /* Priority to the proxy; anvil itself is the fail-over. Both serve the one chain, as two
     * providers of one network do. */
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%u %s", proxy_port, chain.rpc_url);
    configure(rpc, 1);
    free(deposit(ACCOUNT_A, "1"));
    free(deposit(ACCOUNT_A, "2"));
    anvil_mine(&chain, 1);
    cluster_await_hub(&c, 2, 0);
    tu_stop(&proxy, SIGKILL); /* the primary endpoint goes away, connections and all */
    free(deposit(ACCOUNT_A, "4"));
    free(deposit(ACCOUNT_B, "8"));
    anvil_mine(&chain, 1);
    free(deposit(ACCOUNT_A, "16"));
    anvil_mine(&chain, 1);
    cluster_await_hub(&c, 5, 0);
    cluster_await_logs(&c, CHAIN, "rpc endpoint unhealthy", 1);
    assert_balance(ACCOUNT_A, "23");
    assert_balance(ACCOUNT_B, "8");
}

Test(watch, watchers_killed_and_restarted_back_fill_from_their_checkpoints_nothing_doubled)
{
    configure(chain.rpc_url, 1);
    free(deposit(ACCOUNT_A, "100"));
    anvil_mine(&chain, 1);
    cluster_await_hub(&c, 1, 0);
    /* Two of three watchers die: no quorum for what happens next. */
    cluster_stop_watcher(&c, 0, CHAIN, SIGKILL);
    cluster_stop_watcher(&c, 1, CHAIN, SIGKILL);
    for (int i = 0; i < 6; i++)
        free(deposit(i % 2 ? ACCOUNT_B : ACCOUNT_A, "3"));
    anvil_mine(&chain, CLUSTER_MAX_RANGE + 10); /* more than one range to read back */
    tu_sleep_ms(5 * CLUSTER_POLL_MS);
    cr_assert_eq(cluster_hub_stats(&c).events_credited, 1, "credited without a quorum");
    cluster_start_watcher(&c, 0, CHAIN);
    cluster_start_watcher(&c, 1, CHAIN);
    cluster_await_hub(&c, 7, 0);
    /* Once more, right after a deposit (read or not yet), with the third node killed too. */
    cluster_stop_watcher(&c, 2, CHAIN, SIGKILL);
    free(deposit(ACCOUNT_B, "1000"));
    anvil_mine(&chain, 1);
    cluster_stop_watcher(&c, 0, CHAIN, SIGKILL);
    cluster_start_watcher(&c, 0, CHAIN);
    cluster_start_watcher(&c, 2, CHAIN);
    cluster_await_hub(&c, 8, 0);
    cluster_assert_settled(&c, 8, 0);
    assert_balance(ACCOUNT_A, "109");
    assert_balance(ACCOUNT_B, "1009");
    cr_assert_geq(cluster_log_count(&c, 0, CHAIN, "resume=checkpoint"), 2,
                  "watcher 1 did not resume from its checkpoint twice");
}

/* ---- executions and rotations */

#define SIGNER (&chain.dev[1]) /* the vault's one signer (threshold 1), from setup */
#define RECIPIENT "0x000000000000000000000000000000000000dead"

/* execute() of a release of `wei` of ACCOUNT_A's native balance at `nonce`, its EIP-712 digest
 * from the vault and signed by cast, submitted by dev[0]. */
static void execute_release(const char *wei, uint64_t nonce)
{
    char *tuple = NULL;
    cr_assert(asprintf(&tuple, "(1,%s,%s,%s,%s,%llu,%llu)", ACCOUNT_A, CLUSTER_NATIVE, wei, RECIPIENT,
                       (unsigned long long)nonce, (unsigned long long)(anvil_timestamp(&chain) + 3600)) > 0);
    char *digest = cast_call(&chain, vault, "instructionDigest((uint8,address,address,uint256,address,uint256,uint256))(bytes32)",
                             tuple, NULL);
    char *sig = cast_sign_digest(SIGNER, digest), *sigs = NULL;
    cr_assert(asprintf(&sigs, "[%s]", sig) > 0);
    json_decref(cast_send_ok(&chain, &chain.dev[0], vault, NULL,
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
    char *digest = cast_call(&chain, vault, "rotateDigest(address[],uint256,uint256)(bytes32)", signers, "1", "2",
                             NULL);
    char *sig = cast_sign_digest(SIGNER, digest), *sigs = NULL;
    cr_assert(asprintf(&sigs, "[%s]", sig) > 0);
    json_decref(cast_send_ok(&chain, &chain.dev[0], vault, NULL, "rotate(address[],uint256,uint256,bytes[])",
                             signers, "1", "2", sigs, NULL));
    free(sigs);
    free(sig);
    free(digest);
}

Test(watch, an_execution_and_a_rotation_are_attested_and_leave_no_sequence_gap)
{
    configure(chain.rpc_url, 2);
    free(deposit(ACCOUNT_A, "1000"));  /* seq 1 */
    execute_release("400", 1);         /* seq 2: Executed */
    rotate_to_version_2();             /* seq 3: SignersRotated */
    anvil_mine(&chain, 2);
    cluster_await_logs(&c, CHAIN, "kind=Executed seq=2", 1);
    cluster_await_logs(&c, CHAIN, "kind=SignersRotated seq=3", 1);
    cluster_await_hub(&c, 3, 0);
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.gaps, 0, "every vault event was observed");
    cr_assert_eq(st.executions, 1);
    /* No instruction was logged for nonce 1 (no calculator here): an unmatched execution, which
     * takes the 400 from the 1000 the ledger holds. */
    cr_assert_eq(st.unmatched, 1);
    cr_assert_eq(st.shortfalls, 0);
    assert_balance(ACCOUNT_A, "600");
    vault_checkpoint cp[2];
    cr_assert_eq(cluster_hub_vaults(&c, cp, 2), 1);
    cr_assert(cp[0].st.next == 4 && cp[0].st.max == 3 && cp[0].gaps == 0,
              "the hub's cursor passed all three events: next %llu, max %llu, gaps %llu",
              (unsigned long long)cp[0].st.next, (unsigned long long)cp[0].st.max, (unsigned long long)cp[0].gaps);
    cluster_assert_settled(&c, 3, 0);
}
