/*
 * faults_test.c - the cluster under faults, end to end on a real chain (anvil, 31801) with every
 * piece as a process of build/relayer (cluster_harness.h): the hub with its risk file, three
 * nodes (watcher, co-signer, executor each), the margin calculator; a CollateralVault whose
 * signers are the nodes' own EVM keys, threshold two.
 *
 * Cases:
 *   - two of three nodes down: a deposit is not credited and a withdrawal's instruction is not
 *     bundled (one signature is not a quorum); when the two return everything completes, once;
 *   - the hub killed with SIGKILL just after a withdrawal's decision is logged: after a restart
 *     the instruction, the bundle and the execution follow, once, and the hub's ledger ends equal
 *     to the vault with nothing reserved; the exported log verifies;
 *   - every executor's first RPC endpoint is dead from the start: the withdrawal still executes
 *     through the second.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/cluster_harness.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 31801
#define CONFIRMATIONS 1
#define ETH_10 "10000000000000000000"
#define ETH_1 "1000000000000000000"
#define NODE_GAS_WEI "100000000000000000000"
#define INSURANCE "0x1111111111111111111111111111111111110e01"
#define RECIPIENT "0x2222222222222222222222222222222222222222"
#define QUIET_MS 3000 /* long enough for many watcher polls and co-signer resends */

static cluster c;
static anvil_node l1;
static char *vault;
static const anvil_account *trader;

static void setup(void)
{
    cluster_init(&c);
    anvil_start(&l1, CHAIN_ID, 0);
    char evm[CLUSTER_NODES][EVM_ADDRESS_CHARS + 1];
    const char *signers[CLUSTER_NODES];
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        cluster_node_evm(&c, i, evm[i]);
        signers[i] = evm[i];
    }
    vault = cast_deploy_vault_for(&l1, &l1.dev[0], signers, CLUSTER_NODES, CLUSTER_THRESHOLD);
    trader = &l1.dev[5];
    cluster_fund_nodes(&c, &l1, NODE_GAS_WEI);
}

static void teardown(void)
{
    cluster_fini(&c);
    anvil_stop(&l1);
    free(vault);
    vault = NULL;
}

TestSuite(faults, .init = setup, .fini = teardown, .timeout = 120);

/* The cluster on the one chain; executors read `exec_rpc` (NULL: the chain's own URL). */
static void start(const char *exec_rpc)
{
    cluster_chain ch = cluster_chain_of("l1", &l1, vault, CONFIRMATIONS);
    char *risk = NULL;
    cr_assert(asprintf(&risk,
                       "{\"chains\": {\"l1\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\"}},\n"
                       " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,\n"
                       "                       \"tokens\": {\"l1\": \"%s\"}}},\n"
                       " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": "
                       "\"0.05\", \"mmf\": \"0.03\"}]}},\n"
                       " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 600000}}\n",
                       CHAIN_ID, vault, INSURANCE, CLUSTER_NATIVE) > 0);
    cluster_pipeline p = {.risk = risk, .takeover_ms = 1500, .retry_ms = 500, .confirmations = 1};
    if (exec_rpc != NULL)
        snprintf(p.exec_rpc, sizeof p.exec_rpc, "%s", exec_rpc);
    cluster_configure_pipeline(&c, &ch, 1, &p);
    free(risk);
    cluster_start(&c);
}

/* A node's every process: watcher, co-signer, executor. */
static void node_down(unsigned node)
{
    cluster_stop_node(&c, node, SIGKILL);
    cluster_stop_cosigner(&c, node, SIGKILL);
    cluster_stop_executor(&c, node, 0, SIGKILL);
}

static void node_up(unsigned node)
{
    cluster_start_node(&c, node);
    cluster_start_cosigner(&c, node);
    cluster_start_executor(&c, node, 0);
}

static void deposit(void) { cast_deposit_native(&l1, trader, vault, ETH_10, CONFIRMATIONS); }

static void withdraw(void)
{
    char args[512];
    snprintf(args, sizeof args, "withdraw --account %s --chain-id %d --asset %s --amount %s --recipient %s",
             trader->address, CHAIN_ID, CLUSTER_NATIVE, ETH_1, RECIPIENT);
    cluster_venue(&c, args);
}

static bool nonce_used(uint64_t nonce)
{
    char dec[24];
    snprintf(dec, sizeof dec, "%llu", (unsigned long long)nonce);
    char *out = cast_call(&l1, vault, "nonceUsed(uint256)(bool)", dec, NULL);
    bool used = strcmp(out, "true") == 0;
    free(out);
    return used;
}

/* The release executed once: the recipient holds exactly 1 ETH, the vault 9 for the trader, the
 * hub's ledger the same with nothing reserved. */
static void assert_released_once(void)
{
    uint64_t t0 = tu_now_ms();
    while (!nonce_used(1)) {
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "the release's nonce is unused after %d ms", CLUSTER_WAIT_MS);
        tu_sleep_ms(100);
    }
    char *got = cast_ok("balance", RECIPIENT, "--rpc-url", l1.rpc_url, NULL);
    cr_assert_str_eq(got, ETH_1, "the recipient received %s wei", got);
    free(got);
    anvil_mine(&l1, CONFIRMATIONS + 1); /* the watchers' confirmation depth over the execution */
    cluster_await_executions(&c, 1);
    cluster_assert_balance(&c, trader->address, CHAIN_ID, CLUSTER_NATIVE, "9000000000000000000");
    char reserved[U256_DEC_MAX];
    cluster_hub_reserved(&c, trader->address, CHAIN_ID, CLUSTER_NATIVE, reserved);
    cr_assert_str_eq(reserved, "0");
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.unmatched, 0, "an execution did not match its instruction");
}

Test(faults, two_of_three_nodes_down_nothing_moves_and_everything_completes_when_they_return)
{
    start(NULL);
    node_down(1);
    node_down(2);
    deposit();
    tu_sleep_ms(QUIET_MS);
    cr_assert_eq(cluster_hub_stats(&c).events_credited, 0, "a deposit was credited with one node of three");
    node_up(1);
    node_up(2);
    cluster_await_hub(&c, 1, 0);
    cluster_price(&c, "ETH", "3000");
    cluster_await_records(&c, RECORD_PRICE, 1);

    /* Two down again: the withdrawal is decided and instructed (hub and calculator are up), but
     * one co-signature is not a bundle and nothing executes. */
    node_down(1);
    node_down(2);
    withdraw();
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    tu_sleep_ms(QUIET_MS);
    cr_assert_eq(cluster_hub_records(&c, RECORD_BUNDLE, NULL, NULL), 0, "a bundle with one node of three");
    cr_assert(!nonce_used(1), "executed without a quorum");
    node_up(1);
    node_up(2);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
}

Test(faults, the_hub_killed_mid_story_completes_after_a_restart_with_the_same_balances)
{
    start(NULL);
    deposit();
    cluster_await_hub(&c, 1, 0);
    cluster_price(&c, "ETH", "3000");
    cluster_await_records(&c, RECORD_PRICE, 1);
    withdraw();
    cluster_await_records(&c, RECORD_DECISION, 1);
    cluster_stop_hub(&c, SIGKILL);
    tu_sleep_ms(500);
    cluster_start_hub(&c);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
    cr_assert_eq(cluster_hub_records(&c, RECORD_INSTRUCTION, NULL, NULL), 1, "an instruction logged twice");
    char *out = NULL;
    int rc = tu_run(&out, "cd %s && %s audit export --db hub --out hub.rlog && %s audit verify hub.rlog --relayers "
                          "relayers.json",
                    c.dir, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
}

/* A loopback port nothing listens on (bound by the kernel's choice, then closed). */
static unsigned dead_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(s >= 0 && bind(s, (struct sockaddr *)&a, sizeof a) == 0 &&
              getsockname(s, (struct sockaddr *)&a, &len) == 0);
    close(s);
    return ntohs(a.sin_port);
}

Test(faults, a_dead_first_rpc_endpoint_does_not_stop_the_executors)
{
    char rpc[256];
    unsigned dead = dead_port();
    snprintf(rpc, sizeof rpc, "http://127.0.0.1:%u %s", dead, l1.rpc_url);
    start(rpc);
    deposit();
    cluster_await_hub(&c, 1, 0);
    cluster_price(&c, "ETH", "3000");
    cluster_await_records(&c, RECORD_PRICE, 1);
    withdraw();
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
}
