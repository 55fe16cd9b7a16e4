/*
 * twochain_test.c - one hub, three relayer nodes (threshold two) and two EVM chains with
 * different chain ids: an "L1" (31501) where traders deposit the native coin and an "L2" (31502)
 * where they deposit a 6-decimal USDC test token. Each chain has its own CollateralVault; every
 * node runs one `relayer watch` per chain (six watcher processes). Deposits are made with cast
 * (mint, approve, deposit: the token path a trader's wallet takes), blocks are mined on demand,
 * and what the hub credited is read from its ledger per (account, chain id, asset).
 *
 * Cases: deposits on both chains are credited exactly once, each under its own chain id and
 * asset, and the hub's vault checkpoints show both vaults with no gaps; with one node's two
 * watchers killed, the other two nodes still make a quorum on both chains, and when the third
 * node comes back it back-fills from its checkpoints without a second credit or a conflict.
 */
#include <signal.h>

#include "attest/hex.h"
#include "tests/cluster_harness.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define L1_ID 31501
#define L2_ID 31502
#define L1 0 /* chain indices in the cluster */
#define L2 1
#define CONFIRMATIONS 1
#define DOWN_NODE 2 /* node3: the one that goes down in the second case */

/* 1.5 ether and 250 USDC (6 decimals), in base units. */
#define ETH_1_5 "1500000000000000000"
#define USDC_250 "250000000"

static cluster c;
static anvil_node l1, l2;
static char *vault1, *vault2, *usdc;
static const anvil_account *trader; /* the same dev key funds the trader on both chains */

static const anvil_account *set2[3]; /* L2's signers, ascending */

static char *deploy_vault(const anvil_node *n, const anvil_account **set)
{
    return cast_deploy_vault(n, &n->dev[0], 1, 3, 2, set);
}

static void setup(void)
{
    cluster_init(&c);
    anvil_start(&l1, L1_ID, 0); /* a block per transaction; confirmations with anvil_mine */
    anvil_start(&l2, L2_ID, 0);
    const anvil_account *set1[3];
    vault1 = deploy_vault(&l1, set1);
    vault2 = deploy_vault(&l2, set2);
    usdc = cast_deploy(&l2, &l2.dev[0], "TestToken", "constructor(string,string,uint8)", "USD Coin", "USDC", "6",
                       NULL);
    char *listed = NULL; /* the vault takes the token from a quorum's setLimits on */
    cr_assert(asprintf(&listed, "[%s]", usdc) > 0);
    cast_vault_set_limits(&l2, &l2.dev[0], vault2, set2, 2, listed, "[1]");
    free(listed);
    trader = &l2.dev[5];
    cr_assert_str_eq(l1.dev[5].address, trader->address, "anvil's dev accounts differ between the chains");

    cluster_chain chains[2] = {cluster_chain_of("l1", &l1, vault1, CONFIRMATIONS),
                               cluster_chain_of("l2", &l2, vault2, CONFIRMATIONS)};
    cluster_configure(&c, chains, 2);
    cluster_start(&c);
}

static void teardown(void)
{
    cluster_fini(&c);
    anvil_stop(&l1);
    anvil_stop(&l2);
    free(vault1);
    free(vault2);
    free(usdc);
    vault1 = vault2 = usdc = NULL;
}

TestSuite(twochain, .init = setup, .fini = teardown, .timeout = 90);

/* ---- the trader's side, all through cast */

/* depositNative(trader) on L1, then the block that confirms it. */
static void deposit_eth(const char *wei) { cast_deposit_native(&l1, trader, vault1, wei, CONFIRMATIONS); }

/* On L2: mint the trader `units` USDC, approve the vault for them, deposit them for the trader;
 * then the block that confirms the deposit. */
static void deposit_usdc(const char *units) { cast_deposit_token(&l2, trader, vault2, usdc, units, CONFIRMATIONS); }

/* ---- what the hub holds */

/* The hub's balance equals `want` and what the vault itself holds for the trader in that asset. */
static void assert_credited(const anvil_node *n, const char *vault, const char *asset, const char *want)
{
    cluster_assert_balance(&c, trader->address, n->chain_id, asset, want);
    char *on_chain = cast_call(n, vault, "balanceOf(address,address)(uint256)", trader->address, asset, NULL);
    cr_assert(strncmp(on_chain, want, strlen(want)) == 0 && (on_chain[strlen(want)] == '\0' ||
                                                             on_chain[strlen(want)] == ' '),
              "vault on chain %llu holds %s of %s for the trader, the hub %s", (unsigned long long)n->chain_id,
              on_chain, asset, want);
    free(on_chain);
}

/* Nothing of one chain's deposits is credited under the other chain's id. */
static void assert_nothing_crossed(void)
{
    cluster_assert_balance(&c, trader->address, L2_ID, CLUSTER_NATIVE, "0");
    cluster_assert_balance(&c, trader->address, L1_ID, usdc, "0");
}

/* The hub has exactly the two vaults, each with `deposits` sequence numbers seen (the vaults
 * emit nothing else here) and no gap. */
static void assert_checkpoints(uint64_t l1_deposits, uint64_t l2_deposits)
{
    vault_checkpoint v[CLUSTER_MAX_CHAINS + 1];
    size_t n = cluster_hub_vaults(&c, v, sizeof v / sizeof v[0]);
    cr_assert_eq(n, 2, "the hub has checkpoints for %zu vaults, expected 2", n);
    const struct {
        uint64_t chain_id;
        const char *vault;
        uint64_t deposits;
    } want[2] = {{L1_ID, vault1, l1_deposits}, {L2_ID, vault2, l2_deposits}};
    for (size_t w = 0; w < 2; w++) {
        uint8_t addr[EVM_ADDR_BYTES];
        cr_assert_eq(hex_decode(addr, sizeof addr, want[w].vault, "vault", NULL), RL_OK);
        size_t i = 0;
        while (i < n && !(v[i].chain_id == want[w].chain_id && memcmp(v[i].vault, addr, sizeof addr) == 0))
            i++;
        cr_assert_lt(i, n, "no hub checkpoint for vault %s on chain %llu", want[w].vault,
                     (unsigned long long)want[w].chain_id);
        cr_assert_eq(v[i].st.max, want[w].deposits, "chain %llu: highest vault sequence %llu, expected %llu",
                     (unsigned long long)want[w].chain_id, (unsigned long long)v[i].st.max,
                     (unsigned long long)want[w].deposits);
        cr_assert_eq(v[i].st.next, want[w].deposits + 1, "chain %llu: next vault sequence %llu, expected %llu",
                     (unsigned long long)want[w].chain_id, (unsigned long long)v[i].st.next,
                     (unsigned long long)(want[w].deposits + 1));
        cr_assert_eq(v[i].gaps, 0, "chain %llu: %llu gaps", (unsigned long long)want[w].chain_id,
                     (unsigned long long)v[i].gaps);
    }
}

Test(twochain, deposits_on_two_chains_are_credited_once_each_under_their_own_chain_and_asset)
{
    deposit_eth(ETH_1_5);
    deposit_usdc(USDC_250);
    cluster_await_hub(&c, 2, 0);
    anvil_mine(&l1, 3);
    anvil_mine(&l2, 3);
    cluster_assert_settled(&c, 2, 0);
    assert_credited(&l1, vault1, CLUSTER_NATIVE, ETH_1_5);
    assert_credited(&l2, vault2, usdc, USDC_250);
    assert_nothing_crossed();
    assert_checkpoints(1, 1);
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.gaps, 0, "the hub has %llu gaps", (unsigned long long)st.gaps);
    cr_assert_eq(st.events_conflicted, 0);
}

/* The hub's status.json (cluster_hub_status) figure KEY, or GROUP.KEY; -1 when absent. */
static long long hub_status_int(const char *group, const char *key)
{
    json_t *s = cluster_hub_status(&c);
    json_t *g = group ? json_object_get(s, group) : s;
    json_t *v = json_object_get(g, key);
    long long out = json_is_integer(v) ? (long long)json_integer_value(v) : -1;
    json_decref(s);
    return out;
}

/* How many messages the hub has heard from peer `name` (its key's name); 0 when never. */
static long long hub_peer_messages(const char *name)
{
    json_t *s = cluster_hub_status(&c);
    size_t i;
    json_t *p;
    long long out = 0;
    json_array_foreach(json_object_get(s, "peers"), i, p) {
        const char *peer = json_string_value(json_object_get(p, "name"));
        if (peer != NULL && strcmp(peer, name) == 0)
            out = (long long)json_integer_value(json_object_get(p, "messages"));
    }
    json_decref(s);
    return out;
}

/* Waits until the hub has received at least `observations` observations, more than `before`
 * messages from `peer`, and acknowledged every message: a node re-sending what it back-filled
 * has been heard out. status.json is rewritten every second. */
static void await_observations(long long observations, const char *peer, long long before)
{
    uint64_t t0 = tu_now_ms();
    long long got, waiting, heard;
    do {
        got = hub_status_int("totals", "observations");
        waiting = hub_status_int(NULL, "awaiting_ack");
        heard = hub_peer_messages(peer);
        if (got >= observations && waiting == 0 && heard > before)
            return;
        tu_sleep_ms(100);
    } while (tu_now_ms() - t0 < CLUSTER_WAIT_MS);
    cr_assert_fail("after %d ms the hub received %lld observations (expected at least %lld), %lld messages from "
                   "%s (%lld before its restart), %lld messages awaiting an ack",
                   CLUSTER_WAIT_MS, got, observations, heard, peer, before, waiting);
}

Test(twochain, with_one_node_down_two_still_credit_both_chains_and_its_back_fill_credits_nothing_twice)
{
    deposit_eth("1000");
    deposit_usdc("1000000");
    cluster_await_hub(&c, 2, 0);

    cluster_stop_node(&c, DOWN_NODE, SIGKILL); /* both of node3's watchers crash */
    deposit_eth("20");
    deposit_eth("300");
    deposit_usdc("2000000");
    cluster_await_hub(&c, 5, 0); /* node1 and node2 are a quorum on both chains */
    cluster_assert_settled(&c, 5, 0);

    long long node3_before = hub_peer_messages("node3");
    cluster_start_node(&c, DOWN_NODE);
    /* Every node has observed all five deposits once the hub holds 3 x 5 observations, node3
     * among the senders since its restart. */
    await_observations(3 * 5, "node3", node3_before);
    for (size_t k = L1; k <= L2; k++)
        cr_assert_eq(cluster_log_count(&c, DOWN_NODE, k, "resume=checkpoint"), 1,
                     "node3's watcher of %s did not resume from its checkpoint", c.chain[k].name);
    cluster_assert_settled(&c, 5, 0);
    assert_credited(&l1, vault1, CLUSTER_NATIVE, "1320");
    assert_credited(&l2, vault2, usdc, "3000000");
    assert_nothing_crossed();
    assert_checkpoints(3, 2);
    cr_assert_eq(cluster_hub_stats(&c).events_conflicted, 0, "the back-fill was taken as a second content");
}
