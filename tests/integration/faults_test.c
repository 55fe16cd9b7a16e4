/*
 * faults_test.c - the cluster under faults, end to end on a real chain (anvil, 31801) with every
 * piece as a process of build/relayer (cluster_harness.h): the hub with its risk file, three
 * nodes (watcher, co-signer, executor each), the margin calculator; a CollateralVault whose
 * signers are the nodes' own EVM keys, threshold two.
 *
 * Cases:
 *   - one node of three down (the release's primary): the other two credit, bundle and execute;
 *   - the primary executor killed with SIGKILL after sending its transaction (the chain halted, the
 *     transaction pending): another member takes over and the release executes exactly once;
 *   - two of three nodes down: a deposit is not credited and a withdrawal's instruction is not
 *     bundled (one signature is not a quorum); when the two return everything completes, once;
 *   - the hub killed with SIGKILL just after a withdrawal's decision is logged: after a restart
 *     the instruction, the bundle and the execution follow, once, and the hub's ledger ends equal
 *     to the vault with nothing reserved; the exported log verifies;
 *   - every executor's first RPC endpoint is dead from the start: the withdrawal still executes
 *     through the second;
 *   - expiry by finalised time (executors with `finality = finalized`; anvil answers `finalized`
 *     two blocks behind its head here): a release's deadline passed at the head but not at the
 *     finalized block proves nothing; once the finalized block passes it, a quorum expires it;
 *   - the chain halted past a seize's deadline (no blocks while wall time passes it; the
 *     executors' transactions wait in the pool): when blocks come again they revert
 *     DeadlinePassed, the seize is proven expired by a quorum, re-issued with a new nonce and
 *     executed; nothing executes twice and the ledger ends equal to the vault (once with the
 *     executors at a confirmation depth, once at the finalized block).
 */
#include <arpa/inet.h>
#include <time.h>
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
#define SLOTS_IN_AN_EPOCH 1 /* anvil's `finalized` block: two epochs (blocks) behind the head */

static cluster c;
static anvil_node l1;
static char *vault;
static const anvil_account *trader;

static void setup(void)
{
    cluster_init(&c);
    anvil_start_epoch(&l1, CHAIN_ID, 0, SLOTS_IN_AN_EPOCH);
    vault = cluster_deploy_vault(&c, &l1);
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

/* The cluster on the one chain; executors read `exec_rpc` (NULL: the chain's own URL), with
 * `finality = finalized` when finalized; deadline_s 0: the risk file's default. */
static void start_as(const char *exec_rpc, bool finalized, int deadline_s)
{
    cluster_chain ch = cluster_chain_of("l1", &l1, vault, CONFIRMATIONS);
    char *risk = NULL, deadline[32] = "";
    if (deadline_s > 0)
        snprintf(deadline, sizeof deadline, ", \"deadline_s\": %d", deadline_s);
    cr_assert(asprintf(&risk,
                       "{\"chains\": {\"l1\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\"%s}},\n"
                       " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,\n"
                       "                       \"tokens\": {\"l1\": \"%s\"}}},\n"
                       " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": "
                       "\"0.05\", \"mmf\": \"0.03\"}]}},\n"
                       " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 600000}}\n",
                       CHAIN_ID, vault, INSURANCE, deadline, CLUSTER_NATIVE) > 0);
    cluster_pipeline p = {.risk = risk, .takeover_ms = 1500, .retry_ms = 500, .confirmations = 1,
                          .finalized = finalized};
    if (exec_rpc != NULL)
        snprintf(p.exec_rpc, sizeof p.exec_rpc, "%s", exec_rpc);
    cluster_configure_pipeline(&c, &ch, 1, &p);
    free(risk);
    cluster_start(&c);
}

static void start(const char *exec_rpc) { start_as(exec_rpc, false, 0); }

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

/* 10 ETH deposited and credited, ETH priced by a quorum. */
static void credited_and_priced(const char *price)
{
    deposit();
    cluster_await_hub(&c, 1, 0);
    cluster_price(&c, "ETH", price);
    cluster_await_records(&c, RECORD_PRICE, 1);
}

static void withdraw(void)
{
    char args[512];
    snprintf(args, sizeof args, "--account %s --chain-id %d --asset %s --amount %s --recipient %s",
             trader->address, CHAIN_ID, CLUSTER_NATIVE, ETH_1, RECIPIENT);
    cluster_withdraw(&c, trader, 0, args); /* no position */
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
    /* the hub says so after cosign_alert_ms (1 s here; QUIET_MS is 3 s) */
    cr_assert_geq(cluster_file_count(&c, "hub.log", "instruction short of co-signatures"), 1,
                  "the hub did not alert the instruction short of co-signatures");
    cr_assert_geq(cluster_file_count(&c, "hub.log", "signatures=1 threshold=2 signed_by=\"1\""), 1,
                  "the alert does not name the one signer");
    node_up(1);
    node_up(2);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
}

/* How many of the nodes' executor logs have a line with `what`. */
static unsigned executor_logs_with(const char *what)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        char name[48];
        snprintf(name, sizeof name, "node%u.execute.l1.log", i + 1);
        n += cluster_file_count(&c, name, what) > 0;
    }
    return n;
}

/* Exactly one node's executor logs `line` (its "mined by this node"), waiting for the first. */
static void assert_mined_by_one(const char *line)
{
    uint64_t t0 = tu_now_ms();
    while (executor_logs_with(line) == 0 && tu_now_ms() - t0 < CLUSTER_WAIT_MS)
        tu_sleep_ms(100);
    cr_assert_eq(executor_logs_with(line), 1, "%u executors logged %s", executor_logs_with(line), line);
}

/* One node of three down for the whole story, and it is the primary for the release's nonce: the
 * other two credit the deposit, co-sign and bundle (2 of 3), and the next member in turn executes
 * it after takeover_ms. */
Test(faults, one_node_of_three_down_the_other_two_credit_bundle_and_execute)
{
    start(NULL);
    unsigned down = cluster_primary(&c, 1);
    node_down(down);
    credited_and_priced("3000");
    withdraw();
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
    char log[48];
    snprintf(log, sizeof log, "node%u.execute.l1.log", down + 1);
    cr_assert_eq(cluster_file_count(&c, log, "transaction sent"), 0, "the stopped node's executor sent a transaction");
    assert_mined_by_one("how=\"mined by this node\"");
}

/* The primary executor is killed with SIGKILL after it has sent its transaction (the chain halted,
 * so the transaction waits in the pool, unmined). Another member takes over; when blocks come again
 * the release executes exactly once, whichever transaction lands first. */
Test(faults, an_executor_killed_after_submitting_is_taken_over_and_nothing_executes_twice)
{
    start(NULL);
    credited_and_priced("3000");
    unsigned primary = cluster_primary(&c, 1);
    char log[48];
    snprintf(log, sizeof log, "node%u.execute.l1.log", primary + 1);
    anvil_halt(&l1);
    withdraw();
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    uint64_t t0 = tu_now_ms();
    while (cluster_file_count(&c, log, "transaction sent") == 0) {
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "the primary sent nothing in %d ms", CLUSTER_WAIT_MS);
        tu_sleep_ms(50);
    }
    cluster_stop_executor(&c, primary, 0, SIGKILL);
    cr_assert(!nonce_used(1), "executed on a halted chain");
    tu_sleep_ms(3000); /* two takeover_ms: the next members try while the first transaction is pending */
    anvil_resume(&l1);
    anvil_mine(&l1, 1);
    assert_released_once();
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.executions, 1, "%llu executions attested", (unsigned long long)st.executions);
}

Test(faults, the_hub_killed_mid_story_completes_after_a_restart_with_the_same_balances)
{
    start(NULL);
    credited_and_priced("3000");
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
    credited_and_priced("3000");
    withdraw();
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    assert_released_once();
}

/* ---- expiry: finalised time, a halted chain */

/* Every node's executor of the chain, stopped (SIGTERM) or started. */
static void executors(bool up)
{
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        if (up)
            cluster_start_executor(&c, i, 0);
        else
            cluster_stop_executor(&c, i, 0, SIGTERM);
    }
}

/* The logged instruction with this vault nonce (exactly one). */
static instruction logged_instruction(uint64_t nonce, uint64_t *seq)
{
    instruction in[4];
    uint64_t seqs[4];
    size_t n = cluster_hub_instructions(&c, in, seqs, 4);
    for (size_t i = 0; i < n; i++)
        if (in[i].nonce == nonce) {
            *seq = seqs[i];
            return in[i];
        }
    cr_assert_fail("no instruction with nonce %llu among %zu logged", (unsigned long long)nonce, n);
    return in[0];
}

static void assert_reserved(const char *want)
{
    char reserved[U256_DEC_MAX];
    cluster_hub_reserved(&c, trader->address, CHAIN_ID, CLUSTER_NATIVE, reserved);
    cr_assert_str_eq(reserved, want, "the hub reserves %s wei, expected %s", reserved, want);
}

#define FINAL_DEADLINE_S 60

Test(faults, expiry_by_finalised_time_waits_until_the_finalized_block_passes_the_deadline)
{
    /* How anvil answers the tag: with one slot per epoch, two blocks behind its head. */
    anvil_mine(&l1, 3);
    cr_assert_eq(anvil_finalized(&l1), anvil_head(&l1) - 2, "anvil's finalized block is %llu at head %llu",
                 (unsigned long long)anvil_finalized(&l1), (unsigned long long)anvil_head(&l1));
    start_as(NULL, true, FINAL_DEADLINE_S);
    credited_and_priced("3000");
    executors(false); /* the release is bundled, nobody submits it */
    withdraw();
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    uint64_t seq;
    instruction in = logged_instruction(1, &seq);
    assert_reserved(ETH_1);

    /* The head passes the deadline, the finalized block does not: the executors (back up) see
     * DeadlinePassed at the head but prove nothing, and nothing is freed. */
    char secs[16];
    snprintf(secs, sizeof secs, "%d", FINAL_DEADLINE_S + 60);
    free(cast_rpc(&l1, "evm_increaseTime", secs, NULL));
    anvil_mine(&l1, 1);
    uint64_t past = anvil_head(&l1);
    cr_assert_gt(anvil_timestamp(&l1), in.deadline_s);
    cr_assert_lt(anvil_finalized(&l1), past);
    executors(true);
    tu_sleep_ms(QUIET_MS);
    cluster_await_expiries(&c, 0);
    cr_assert_eq(executor_logs_with("msg=\"instruction expired\""), 0, "an expiry signed before finality");
    assert_reserved(ETH_1);

    /* Two more blocks: the finalized block is the first one past the deadline, and a quorum of
     * executors proves the expiry at exactly that block. */
    anvil_mine(&l1, 2);
    cr_assert_eq(anvil_finalized(&l1), past);
    cluster_await_expiries(&c, 1);
    assert_reserved("0");
    cluster_assert_balance(&c, trader->address, CHAIN_ID, CLUSTER_NATIVE, ETH_10);
    cr_assert(!nonce_used(1), "the expired release executed");
    char line[96];
    snprintf(line, sizeof line, "instruction=%llu nonce=1 block=%llu ", (unsigned long long)seq,
             (unsigned long long)past);
    cr_assert_geq(executor_logs_with(line), CLUSTER_THRESHOLD, "fewer than a quorum expired it at block %llu",
                  (unsigned long long)past);
    cr_assert_eq(executor_logs_with("msg=\"instruction expired\""), executor_logs_with(line),
                 "an executor expired it at another block");
}

/* The trader's ETH in the vault, decimal (cast's " [1e19]" suffix removed). */
static char *vault_eth(void)
{
    char *out = cast_call(&l1, vault, "balanceOf(address,address)(uint256)", trader->address, CLUSTER_NATIVE, NULL);
    out[strcspn(out, " ")] = '\0';
    return out;
}

static void await_nonce_used(uint64_t nonce)
{
    uint64_t t0 = tu_now_ms();
    while (!nonce_used(nonce)) {
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "nonce %llu unused after %d ms", (unsigned long long)nonce,
                  CLUSTER_WAIT_MS);
        tu_sleep_ms(100);
    }
}

#define SHORT_DEADLINE_S 5 /* the least a risk file allows */

/* The halted-chain story with executors at a confirmation depth or at the finalized block. */
static void halted_past_a_seize_deadline(bool finalized)
{
    start_as(NULL, finalized, SHORT_DEADLINE_S);
    credited_and_priced("3000");
    char args[256];
    snprintf(args, sizeof args, "position --account %s --market ETH-PERP --size 20 --entry 3000", trader->address);
    cluster_venue(&c, args);

    /* The chain stops making blocks; the price falls; the seize is decided, instructed, bundled,
     * and what the executors send waits in the pool. */
    anvil_halt(&l1);
    uint64_t halted_at = anvil_head(&l1);
    cluster_price(&c, "ETH", "1700");
    cluster_await_records(&c, RECORD_DECISION, 1);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    uint64_t seq1;
    instruction first = logged_instruction(1, &seq1);
    cr_assert_eq(first.kind, INSTRUCTION_SEIZE);
    char amount[U256_DEC_MAX];
    assert_reserved(u256_to_dec(&first.amount, amount));

    /* Wall time passes the deadline while the chain is halted: nothing is proven, nothing freed. */
    while ((uint64_t)time(NULL) <= first.deadline_s + 1) /* deadlines are unix seconds */
        tu_sleep_ms(200);
    cr_assert_eq(anvil_head(&l1), halted_at, "the halted chain made a block");
    cluster_await_expiries(&c, 0);
    assert_reserved(amount);
    char *ins_before = cast_ok("balance", INSURANCE, "--rpc-url", l1.rpc_url, NULL);
    cr_assert_str_eq(ins_before, "0");
    free(ins_before);

    /* Blocks again, stamped after the deadline: what waited in the pool reverts DeadlinePassed
     * (the executors whose estimate saw it pending as NonceUsed must not have dropped the seize:
     * the bug this test found). A quorum proves the expiry, the ledger frees the ETH, the
     * calculator (the account still liquidatable) decides again and the new seize goes out with
     * the next nonce and executes. */
    anvil_resume(&l1);
    anvil_mine(&l1, 3);
    cluster_await_expiries(&c, 1);
    cluster_await_records(&c, RECORD_DECISION, 2);
    cluster_await_records(&c, RECORD_INSTRUCTION, 2);
    uint64_t seq2;
    instruction second = logged_instruction(2, &seq2);
    cr_assert_eq(second.kind, INSTRUCTION_SEIZE);
    cr_assert_gt(seq2, seq1);
    await_nonce_used(2);
    anvil_mine(&l1, 2); /* the watchers' depth (and the finalized block) over the execution */
    cluster_await_executions(&c, 1);

    /* Nothing executed twice: nonce 1 never, nonce 2 once (one Executed attested, by one node's
     * transaction), the insurance address received exactly the second seize, the hub's ledger
     * equals the vault with nothing reserved. */
    cr_assert(!nonce_used(1), "the expired seize executed");
    char *ins_after = cast_ok("balance", INSURANCE, "--rpc-url", l1.rpc_url, NULL);
    cr_assert_str_eq(ins_after, u256_to_dec(&second.amount, amount), "the insurance address received %s wei",
                     ins_after);
    free(ins_after);
    char mined[96];
    snprintf(mined, sizeof mined, "instruction=%llu nonce=2 how=\"mined by this node\"", (unsigned long long)seq2);
    assert_mined_by_one(mined);
    char *in_vault = vault_eth();
    cluster_assert_balance(&c, trader->address, CHAIN_ID, CLUSTER_NATIVE, in_vault);
    free(in_vault);
    assert_reserved("0");
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.unmatched, 0, "an execution matched no reservation");
    char *out = NULL;
    int rc = tu_run(&out, "cd %s && %s audit export --db hub --out hub.rlog && %s audit verify hub.rlog --relayers "
                          "relayers.json --json && %s audit replay hub.rlog --relayers relayers.json --out replayed "
                          "--risk risk.json --json",
                    c.dir, RELAYER_BIN, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "\"expired\":1") != NULL && strstr(out, "\"reproduced\":2") != NULL &&
                  strstr(out, "\"not_reproduced\":0") != NULL,
              "verify / replay --risk: %s", out);
    free(out);
}

Test(faults, a_chain_halted_past_a_seize_deadline_expires_it_and_the_re_issued_seize_executes_once)
{
    halted_past_a_seize_deadline(false);
}

Test(faults, the_same_with_executors_at_the_finalized_block)
{
    halted_past_a_seize_deadline(true);
}
