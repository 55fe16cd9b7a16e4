/*
 * liquidation_test.c - the product's main job end to end on two real chains, nothing simulated:
 * an "L1" anvil (31701, the native coin) and an "L2" anvil (31702, a 6-decimal USDC test token),
 * a CollateralVault on each whose signers are the three nodes' own EVM keys (threshold two), and
 * every piece of the cluster as a process of build/relayer (cluster_harness.h): the hub with the
 * risk file, six watchers, the margin calculator, three co-signers, six executors.
 *
 * The story: a trader deposits ETH on L1 and USDC on L2 with cast; both are credited; quorum
 * prices ETH 3000 and USDC 1; the venue opens a leveraged ETH-PERP long; the trader withdraws a
 * little USDC, which is approved, instructed, co-signed, bundled and executed on L2 (the token
 * moves to the trader exactly once). One executor is then killed with SIGKILL: the one that is
 * primary for the coming seize on L1. The ETH price falls, the account is liquidated, seizes are
 * instructed on both chains and bundled; L2's primary executes its seize, and on L1 the next
 * node's executor takes over after takeover_ms. The insurance addresses receive exactly the
 * seized amounts, every nonce is used on its vault, and the auditor's export, verify and
 * replay --risk over the hub's log pass.
 *
 * What executed is asserted on the chains and in the hub's ledger: the watchers attest each
 * Executed event and the ledger settles its reservation, so the hub's balances end equal to the
 * vaults' own with nothing reserved.
 *
 * The same story, every assertion of it, runs again while a thread kills the hub with SIGKILL at
 * random moments (every 0.4..2 s, seeded: the seed is printed and RL_SEED repeats it) and starts
 * it again: it completes with the same balances, one execution per instruction, and the exported
 * log verifies and replays. Deposits, venue requests, co-signatures and executions are resent by
 * their daemons until logged; a one-shot `price send` lost with a killed hub is sent again.
 *
 * A node whose calculator cannot reproduce the hub's decisions (its risk file has another ETH
 * haircut) refuses to co-sign: with one of the other two down nothing is bundled, and once it is
 * back the two that agree bundle and the release executes.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include "attest/bundle.h"
#include "attest/decision.h"
#include "attest/hex.h"
#include "attest/instruction.h"
#include "tests/cluster_harness.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define L1_ID 31701
#define L2_ID 31702
#define L1 0 /* chain indices in the cluster */
#define L2 1
#define CONFIRMATIONS 1
#define TAKEOVER_MS 1500
#define DEADLINE_S 600
#define NODE_GAS_WEI "100000000000000000000" /* 100 ether per node and chain */

#define ETH_10 "10000000000000000000"
#define USDC_5000 "5000000000"
#define USDC_100 "100000000"
#define INSURANCE_L1 "0x1111111111111111111111111111111111110e01"
#define INSURANCE_L2 "0x1111111111111111111111111111111111110e02"

static cluster c;
static anvil_node l1, l2;
static int deadline_s = DEADLINE_S; /* the risk file's, for both chains */
static bool hub_killed_at_random;   /* the story runs under kill_hub_at_random */
static char *vault1, *vault2, *usdc;
static const anvil_account *trader; /* the same dev key on both chains */

static char *node_vault(const anvil_node *n)
{
    char evm[CLUSTER_NODES][EVM_ADDRESS_CHARS + 1];
    const char *signers[CLUSTER_NODES];
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        cluster_node_evm(&c, i, evm[i]);
        signers[i] = evm[i];
    }
    if (n != &l2)
        return cast_deploy_vault_for(n, &n->dev[0], signers, CLUSTER_NODES, CLUSTER_THRESHOLD);
    char *assets = NULL; /* L2's vault takes USDC too (the native coin's address sorts first) */
    cr_assert(asprintf(&assets, "[%s,%s]", CLUSTER_NATIVE, usdc) > 0);
    char *vault = cast_deploy_vault_with(n, &n->dev[0], signers, CLUSTER_NODES, CLUSTER_THRESHOLD, assets, "[1,1]");
    free(assets);
    return vault;
}

/* The risk file: both vaults and insurance addresses, ETH on L1 and USDC on L2, one market. */
static char *risk_json(const char *eth_haircut)
{
    char *risk = NULL;
    cr_assert(asprintf(&risk,
                       "{\"chains\": {\"l1\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\", "
                       "\"deadline_s\": %d},\n"
                       "            \"l2\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\", "
                       "\"deadline_s\": %d}},\n"
                       " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"%s\", \"seize_priority\": 2,\n"
                       "                       \"tokens\": {\"l1\": \"%s\"}},\n"
                       "             \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1,\n"
                       "                       \"tokens\": {\"l2\": \"%s\"}}},\n"
                       " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": "
                       "\"0.05\", \"mmf\": \"0.03\"}]}},\n"
                       " \"params\": {\"liquidation_fee\": \"0.01\"},\n"
                       " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 600000}}\n",
                       L1_ID, vault1, INSURANCE_L1, deadline_s, L2_ID, vault2, INSURANCE_L2, deadline_s,
                       eth_haircut, CLUSTER_NATIVE, usdc) > 0);
    return risk;
}

static void setup(void)
{
    cluster_init(&c);
    anvil_start(&l1, L1_ID, 0); /* a block per transaction; watcher confirmations with anvil_mine */
    anvil_start(&l2, L2_ID, 0);
    usdc = cast_deploy(&l2, &l2.dev[0], "TestToken", "constructor(string,string,uint8)", "USD Coin", "USDC", "6",
                       NULL);
    vault1 = node_vault(&l1);
    vault2 = node_vault(&l2);
    trader = &l2.dev[5];
    cr_assert_str_eq(l1.dev[5].address, trader->address, "anvil's dev accounts differ between the chains");
    cluster_fund_nodes(&c, &l1, NODE_GAS_WEI);
    cluster_fund_nodes(&c, &l2, NODE_GAS_WEI);
}

/* The whole cluster; with node3_differs node3's co-signer has its own risk parameters (a higher
 * ETH haircut): its calculator cannot reproduce any decision of the hub's. */
static void start(bool node3_differs)
{
    cluster_chain chains[2] = {cluster_chain_of("l1", &l1, vault1, CONFIRMATIONS),
                               cluster_chain_of("l2", &l2, vault2, CONFIRMATIONS)};
    char *risk = risk_json("0.10"), *other = risk_json("0.20");
    cluster_pipeline p = {.risk = risk, .takeover_ms = TAKEOVER_MS, .retry_ms = 500, .confirmations = 1};
    if (node3_differs)
        p.node_risk[2] = other;
    cluster_configure_pipeline(&c, chains, 2, &p);
    free(risk);
    free(other);
    cluster_start(&c);
}

static void stop_killer(void);

static void teardown(void)
{
    stop_killer();
    hub_killed_at_random = false;
    deadline_s = DEADLINE_S;
    cluster_fini(&c);
    anvil_stop(&l1);
    anvil_stop(&l2);
    free(vault1);
    free(vault2);
    free(usdc);
    vault1 = vault2 = usdc = NULL;
}

TestSuite(liquidation, .init = setup, .fini = teardown, .timeout = 120);

/* ---- the trader's side and the chains, through cast */

static void deposit_eth(const char *wei) { cast_deposit_native(&l1, trader, vault1, wei, CONFIRMATIONS); }

static void deposit_usdc(const char *units) { cast_deposit_token(&l2, trader, vault2, usdc, units, CONFIRMATIONS); }

/* A uint256 cast prints as decimal, with " [1e18]" behind large ones: the decimal alone. */
static void first_word(char *s)
{
    s[strcspn(s, " ")] = '\0';
}

/* The vault's balance of (account, asset), in base units as decimal text. */
static char *vault_balance(const anvil_node *n, const char *vault, const char *account, const char *asset)
{
    char *out = cast_call(n, vault, "balanceOf(address,address)(uint256)", account, asset, NULL);
    first_word(out);
    return out;
}

/* A token balance (asset != native) or an address's native balance, decimal. */
static char *chain_balance(const anvil_node *n, const char *asset, const char *who)
{
    char *out;
    if (strcmp(asset, CLUSTER_NATIVE) == 0)
        out = cast_ok("balance", who, "--rpc-url", n->rpc_url, NULL);
    else
        out = cast_call(n, asset, "balanceOf(address)(uint256)", who, NULL);
    first_word(out);
    return out;
}

static bool nonce_used(const anvil_node *n, const char *vault, uint64_t nonce)
{
    char dec[24];
    snprintf(dec, sizeof dec, "%llu", (unsigned long long)nonce);
    char *out = cast_call(n, vault, "nonceUsed(uint256)(bool)", dec, NULL);
    bool used = strcmp(out, "true") == 0;
    cr_assert(used || strcmp(out, "false") == 0, "nonceUsed(%s): %s", dec, out);
    free(out);
    return used;
}

/* Waits until the vault's nonce is used: the instruction executed. */
static void await_executed(const anvil_node *n, const char *vault, uint64_t nonce)
{
    uint64_t t0 = tu_now_ms();
    while (!nonce_used(n, vault, nonce)) {
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "nonce %llu of the vault on chain %llu unused after %d ms",
                  (unsigned long long)nonce, (unsigned long long)n->chain_id, CLUSTER_WAIT_MS);
        tu_sleep_ms(100);
    }
}

/* after - before (up) or before - after == want; balances as decimal text. */
static void assert_moved(const char *what, const char *before, const char *after, const u256 *want, bool up)
{
    u256 b, a, d;
    cr_assert_eq(u256_from_dec(&b, before, NULL), RL_OK, "%s: %s", what, before);
    cr_assert_eq(u256_from_dec(&a, after, NULL), RL_OK, "%s: %s", what, after);
    cr_assert_eq(up ? u256_sub(&d, &a, &b) : u256_sub(&d, &b, &a), RL_OK, "%s went %s, from %s to %s", what,
                 up ? "down" : "up", before, after);
    char got[U256_DEC_MAX], exp[U256_DEC_MAX];
    cr_assert(u256_cmp(&d, want) == 0, "%s moved by %s (from %s to %s), expected exactly %s", what,
              u256_to_dec(&d, got), before, after, u256_to_dec(want, exp));
}

/* The hub's balance of the trader's asset equals what the vault holds for it, none reserved. */
static void assert_ledger_matches(const anvil_node *n, const char *vault, const char *asset)
{
    char *on_chain = vault_balance(n, vault, trader->address, asset);
    cluster_assert_balance(&c, trader->address, n->chain_id, asset, on_chain);
    char reserved[U256_DEC_MAX];
    cluster_hub_reserved(&c, trader->address, n->chain_id, asset, reserved);
    cr_assert_str_eq(reserved, "0", "the hub still reserves %s of %s on chain %llu after the executions", reserved,
                     asset, (unsigned long long)n->chain_id);
    free(on_chain);
}

/* ---- the hub's log */

struct logged {
    instruction in[8];
    uint64_t seq[8];
    size_t n;
    bundle b[8];
    size_t nb;
    decision d[4];
    size_t nd;
};

static void keep_bundle(const record *r, void *ctx)
{
    struct logged *l = ctx;
    cr_assert_lt(l->nb, 8);
    rl_why why = {{0}};
    cr_assert_eq(bundle_decode(&l->b[l->nb++], r->payload, r->payload_len, &why), RL_OK, "%s", why.text);
}

static void keep_decision(const record *r, void *ctx)
{
    struct logged *l = ctx;
    cr_assert_lt(l->nd, 4);
    rl_why why = {{0}};
    cr_assert_eq(decision_decode(&l->d[l->nd++], r->payload, r->payload_len, &why), RL_OK, "%s", why.text);
}

static void read_log(struct logged *l)
{
    memset(l, 0, sizeof *l);
    l->n = cluster_hub_instructions(&c, l->in, l->seq, sizeof l->in / sizeof l->in[0]);
    cluster_hub_records(&c, RECORD_BUNDLE, keep_bundle, l);
    cluster_hub_records(&c, RECORD_DECISION, keep_decision, l);
}

/* The logged instruction for this chain and kind (exactly one). */
static const instruction *find_instruction(const struct logged *l, uint64_t chain_id, uint8_t kind, uint64_t *seq)
{
    const instruction *found = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->in[i].chain_id == chain_id && l->in[i].kind == kind) {
            cr_assert_null(found, "two %s instructions for chain %llu", instruction_kind_name(kind),
                           (unsigned long long)chain_id);
            found = &l->in[i];
            *seq = l->seq[i];
        }
    cr_assert_not_null(found, "no %s instruction for chain %llu in the hub's log", instruction_kind_name(kind),
                       (unsigned long long)chain_id);
    return found;
}

static void addr_hex(char out[EVM_ADDRESS_CHARS + 1], const uint8_t a[EVM_ADDR_BYTES])
{
    hex_encode_0x(out, a, EVM_ADDR_BYTES);
}

/* How many times node's executor of chain logged mining the instruction of (seq, nonce). */
static unsigned mined_by(unsigned node, size_t chain, uint64_t seq, uint64_t nonce)
{
    char name[64], line[96];
    snprintf(name, sizeof name, "node%u.execute.%s.log", node + 1, c.chain[chain].name);
    snprintf(line, sizeof line, "instruction=%llu nonce=%llu how=\"mined by this node\"", (unsigned long long)seq,
             (unsigned long long)nonce);
    return cluster_file_count(&c, name, line);
}

/* Waits until node's executor of chain has logged that it mined the instruction of (seq, nonce):
 * it logs that once the receipt is confirmed, which may be after the vault's nonce reads used. */
static void await_mined_by(unsigned node, size_t chain, uint64_t seq, uint64_t nonce, const char *what)
{
    uint64_t t0 = tu_now_ms();
    while (mined_by(node, chain, seq, nonce) == 0) {
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "node%u's executor of %s did not log mining %s (instruction "
                  "%llu) in %d ms", node + 1, c.chain[chain].name, what, (unsigned long long)seq, CLUSTER_WAIT_MS);
        tu_sleep_ms(50);
    }
    cr_assert_eq(mined_by(node, chain, seq, nonce), 1, "node%u mined %s twice", node + 1, what);
}

/* The auditor's export, verify (verify_flags after it) and replay --risk --json over the hub's log,
 * which must all pass; their output (the caller frees). */
static char *audit_hub_log(const char *verify_flags)
{
    char *out = NULL;
    int rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog && %s audit verify log.rlog --relayers "
                          "relayers.json%s && %s audit replay log.rlog --relayers relayers.json --out replayed "
                          "--risk risk.json --json",
                    c.dir, RELAYER_BIN, RELAYER_BIN, verify_flags, RELAYER_BIN);
    cr_assert_eq(rc, 0, "audit export / verify / replay: exit %d: %s", rc, out);
    return out;
}

/* ---- the story */

/* A quorum's price for feed, until the hub has logged `want` PRICE records. `relayer price send`
 * sends once (a node's oracle sends again every interval): while the hub is being killed it is
 * sent again when not logged after PRICE_RESEND_MS. */
#define PRICE_RESEND_MS 3000
#define PRICE_SENDS 6

static void price(const char *feed, const char *value, size_t want)
{
    for (unsigned sends = 1;; sends++) {
        cluster_price(&c, feed, value);
        uint64_t t0 = tu_now_ms(), wait_ms = hub_killed_at_random ? PRICE_RESEND_MS : CLUSTER_WAIT_MS;
        while (cluster_hub_records(&c, RECORD_PRICE, NULL, NULL) < want && tu_now_ms() - t0 < wait_ms)
            tu_sleep_ms(100);
        if (cluster_hub_records(&c, RECORD_PRICE, NULL, NULL) >= want || !hub_killed_at_random ||
            sends == PRICE_SENDS)
            break;
    }
    cluster_await_records(&c, RECORD_PRICE, want);
}

/* The story on a running cluster, every assertion of it. */
static void story(void)
{
    /* Deposits, credited once each under their own chain and asset. */
    deposit_eth(ETH_10);
    deposit_usdc(USDC_5000);
    cluster_await_hub(&c, 2, 0);
    cluster_assert_balance(&c, trader->address, L1_ID, CLUSTER_NATIVE, ETH_10);
    cluster_assert_balance(&c, trader->address, L2_ID, usdc, USDC_5000);

    /* Quorum prices, a 20 ETH long at 3000 (60 000 notional on 27 000 + 4 900 of collateral). */
    price("ETH", "3000", 1);
    price("USDC", "1", 2);
    char args[512];
    snprintf(args, sizeof args, "position --account %s --market ETH-PERP --size 20 --entry 3000", trader->address);
    uint64_t position_nonce = cluster_venue(&c, args);

    /* A 100 USDC withdrawal on L2: approved, instructed, bundled, executed. */
    char *wallet_before = chain_balance(&l2, usdc, trader->address);
    snprintf(args, sizeof args, "--account %s --chain-id %d --asset %s --amount %s --recipient %s",
             trader->address, L2_ID, usdc, USDC_100, trader->address);
    cluster_withdraw(&c, trader, position_nonce, args);
    cluster_await_records(&c, RECORD_DECISION, 1);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    struct logged l;
    read_log(&l);
    cr_assert_eq(l.d[0].kind, DECISION_WITHDRAW_OK, "the withdrawal was decided %u", l.d[0].kind);
    uint64_t release_seq;
    const instruction *release = find_instruction(&l, L2_ID, INSTRUCTION_RELEASE, &release_seq);
    cr_assert_eq(release->nonce, 1, "the release has nonce %llu on a fresh vault", (unsigned long long)release->nonce);
    await_executed(&l2, vault2, release->nonce);
    char *wallet_after = chain_balance(&l2, usdc, trader->address);
    u256 want = u256_from_u64(100000000);
    assert_moved("the trader's USDC on L2", wallet_before, wallet_after, &want, true);
    char *in_vault = vault_balance(&l2, vault2, trader->address, usdc);
    cr_assert_str_eq(in_vault, "4900000000", "the vault holds %s USDC units for the trader after the release", in_vault);
    free(in_vault);
    free(wallet_before);
    free(wallet_after);
    /* Executed by its primary, once. */
    unsigned primary = cluster_primary(&c, release->nonce);
    await_mined_by(primary, L2, release_seq, release->nonce, "the release (as its primary)");

    /* The primary executor of the coming L1 seize (the vault's first nonce) dies before it acts. */
    unsigned dead = cluster_primary(&c, 1);
    cluster_stop_executor(&c, dead, L1, SIGKILL);
    char *ins1_before = chain_balance(&l1, CLUSTER_NATIVE, INSURANCE_L1);
    char *ins2_before = chain_balance(&l2, usdc, INSURANCE_L2);
    char *vault1_before = vault_balance(&l1, vault1, trader->address, CLUSTER_NATIVE);
    char *vault2_before = vault_balance(&l2, vault2, trader->address, usdc);

    /* ETH falls to 1700: the account is liquidated, seized on both chains. */
    price("ETH", "1700", 3);
    cluster_await_records(&c, RECORD_DECISION, 2);
    cluster_await_records(&c, RECORD_INSTRUCTION, 3);
    cluster_await_records(&c, RECORD_BUNDLE, 3);
    read_log(&l);
    cr_assert_eq(l.d[1].kind, DECISION_LIQUIDATE, "the price fall was decided %u", l.d[1].kind);
    uint64_t seize1_seq, seize2_seq;
    const instruction *seize1 = find_instruction(&l, L1_ID, INSTRUCTION_SEIZE, &seize1_seq);
    const instruction *seize2 = find_instruction(&l, L2_ID, INSTRUCTION_SEIZE, &seize2_seq);
    cr_assert_eq(seize1->nonce, 1, "L1's seize has nonce %llu", (unsigned long long)seize1->nonce);
    cr_assert_eq(cluster_primary(&c, seize1->nonce), dead, "the killed executor was not L1's seize's primary");
    cr_assert_eq(seize2->nonce, 2, "L2's seize has nonce %llu", (unsigned long long)seize2->nonce);
    char rcpt[EVM_ADDRESS_CHARS + 1];
    addr_hex(rcpt, seize1->recipient);
    cr_assert(strcasecmp(rcpt, INSURANCE_L1) == 0, "L1's seize pays %s", rcpt);
    addr_hex(rcpt, seize2->recipient);
    cr_assert(strcasecmp(rcpt, INSURANCE_L2) == 0, "L2's seize pays %s", rcpt);

    await_executed(&l2, vault2, seize2->nonce);
    await_executed(&l1, vault1, seize1->nonce);
    char *ins1_after = chain_balance(&l1, CLUSTER_NATIVE, INSURANCE_L1);
    char *ins2_after = chain_balance(&l2, usdc, INSURANCE_L2);
    char *vault1_after = vault_balance(&l1, vault1, trader->address, CLUSTER_NATIVE);
    char *vault2_after = vault_balance(&l2, vault2, trader->address, usdc);
    assert_moved("L1's insurance ETH", ins1_before, ins1_after, &seize1->amount, true);
    assert_moved("L2's insurance USDC", ins2_before, ins2_after, &seize2->amount, true);
    assert_moved("the trader's ETH in L1's vault", vault1_before, vault1_after, &seize1->amount, false);
    assert_moved("the trader's USDC in L2's vault", vault2_before, vault2_after, &seize2->amount, false);
    free(ins1_before);
    free(ins1_after);
    free(ins2_before);
    free(ins2_after);
    free(vault1_before);
    free(vault1_after);
    free(vault2_before);
    free(vault2_after);

    /* L1's seize was taken over by the next member in turn; L2's executed by its primary. */
    unsigned next = (dead + 1) % CLUSTER_NODES;
    await_mined_by(next, L1, seize1_seq, seize1->nonce, "L1's seize (taking over from the killed primary)");
    unsigned p2 = cluster_primary(&c, seize2->nonce);
    await_mined_by(p2, L2, seize2_seq, seize2->nonce, "L2's seize (as its primary)");
    for (unsigned i = 0; i < CLUSTER_NODES; i++) {
        if (i != next)
            cr_assert_eq(mined_by(i, L1, seize1_seq, seize1->nonce), 0, "node%u also mined L1's seize",
                         i + 1);
        if (i != p2)
            cr_assert_eq(mined_by(i, L2, seize2_seq, seize2->nonce), 0, "node%u also mined L2's seize",
                         i + 1);
    }

    /* The watchers attest the three executions; the hub's ledger settles each reservation once:
     * its balances equal the vaults' own, nothing stays reserved, no vault sequence gap. */
    anvil_mine(&l1, CONFIRMATIONS);
    anvil_mine(&l2, CONFIRMATIONS);
    cluster_await_executions(&c, 3);
    assert_ledger_matches(&l1, vault1, CLUSTER_NATIVE);
    assert_ledger_matches(&l2, vault2, usdc);
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.unmatched, 0, "%llu executions matched no reservation", (unsigned long long)st.unmatched);
    cr_assert_eq(st.gaps, 0, "the hub's ledger has %llu vault sequence gaps", (unsigned long long)st.gaps);
    /* The insurance fund holds exactly what each insurance address received, from two seizes; the
     * bad debt is the liquidation's. */
    char fund[U256_DEC_MAX], seized[U256_DEC_MAX];
    cluster_hub_insurance(&c, L1_ID, CLUSTER_NATIVE, fund);
    cr_assert_str_eq(fund, u256_to_dec(&seize1->amount, seized), "the fund's L1 ETH");
    cluster_hub_insurance(&c, L2_ID, usdc, fund);
    cr_assert_str_eq(fund, u256_to_dec(&seize2->amount, seized), "the fund's L2 USDC");
    cr_assert(st.fund.insurance_holdings == 2 && st.fund.seizes == 2);
    cr_assert(st.fund.debt_u == l.d[1].bad_debt_u && st.fund.debt_accounts == (l.d[1].bad_debt_u > 0),
              "the ledger's bad debt is the liquidation's");

    /* The auditor's export, verify and replay over the hub's log. */
    char *out = audit_hub_log("");
    cr_assert(strstr(out, "\"logged\":2") != NULL && strstr(out, "\"reproduced\":2") != NULL &&
                  strstr(out, "\"not_reproduced\":0") != NULL,
              "replay --risk did not reproduce both decisions: %s", out);
    free(out);
}

Test(liquidation, a_release_and_seizes_on_two_chains_execute_once_each_and_a_killed_primary_is_taken_over)
{
    start(false);
    story();
}

/* ---- the story with the hub killed at random moments */

/* A thread kills the hub with SIGKILL every KILL_MIN_MS..KILL_MAX_MS (seeded) and starts it again
 * after 0..RESTART_MAX_MS, until stopped. The main thread does not touch c.hub meanwhile. */
#define KILL_MIN_MS 400
#define KILL_MAX_MS 2000
#define RESTART_MAX_MS 300
#define KILLS_AT_LEAST 4

struct hub_killer {
    pthread_t thread;
    atomic_bool stop;
    unsigned seed;
    atomic_uint kills;
};
static struct hub_killer killer;
static bool killer_running;

static void pause_unless_stopped(uint64_t ms)
{
    uint64_t until = tu_now_ms() + ms;
    while (!atomic_load(&killer.stop) && tu_now_ms() < until)
        tu_sleep_ms(10);
}

static void *kill_hub_at_random(void *arg)
{
    (void)arg;
    unsigned r = killer.seed;
    for (;;) {
        pause_unless_stopped(KILL_MIN_MS + (uint64_t)rand_r(&r) % (KILL_MAX_MS - KILL_MIN_MS));
        if (atomic_load(&killer.stop))
            return NULL;
        cluster_stop_hub(&c, SIGKILL);
        atomic_fetch_add(&killer.kills, 1);
        tu_sleep_ms((uint64_t)rand_r(&r) % RESTART_MAX_MS);
        cluster_start_hub(&c);
    }
}

/* Stops the thread. The hub it started last dies with it (PR_SET_PDEATHSIG follows the thread
 * that forked): one more crash, reaped here and restarted by the main thread. */
static void stop_killer(void)
{
    if (!killer_running)
        return;
    atomic_store(&killer.stop, true);
    pthread_join(killer.thread, NULL);
    killer_running = false;
    cluster_stop_hub(&c, SIGKILL);
    cluster_start_hub(&c);
}

Test(liquidation, the_story_with_the_hub_killed_at_random_moments_ends_with_the_same_balances)
{
    const char *env = getenv("RL_SEED");
    killer.seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    fprintf(stderr, "hub kills: seed %u (RL_SEED=%u repeats the schedule)\n", killer.seed, killer.seed);
    start(false);
    hub_killed_at_random = true;
    cr_assert_eq(pthread_create(&killer.thread, NULL, kill_hub_at_random, NULL), 0);
    killer_running = true;
    story();
    /* A quick story may end before the schedule's KILLS_AT_LEAST kills: the killer goes on while
     * the cluster settles, and one cycle takes at most KILL_MAX_MS + RESTART_MAX_MS, so waiting
     * that long per missing kill (and a margin for a slow restart) is what the schedule guarantees. */
    uint64_t until = tu_now_ms() + KILLS_AT_LEAST * (KILL_MAX_MS + RESTART_MAX_MS) + 10000;
    while (atomic_load(&killer.kills) < KILLS_AT_LEAST && tu_now_ms() < until)
        tu_sleep_ms(50);
    stop_killer();
    unsigned kills = atomic_load(&killer.kills);
    fprintf(stderr, "hub kills: seed %u, %u kills (and a last one at the end)\n", killer.seed, kills);
    cr_assert_geq(kills, KILLS_AT_LEAST, "seed %u: the hub was killed %u times during the story", killer.seed,
                  kills);
    /* After the last restart: the same balances, nothing executed twice, nothing reserved. */
    cluster_await_executions(&c, 3);
    assert_ledger_matches(&l1, vault1, CLUSTER_NATIVE);
    assert_ledger_matches(&l2, vault2, usdc);
    cr_assert_eq(cluster_hub_stats(&c).unmatched, 0, "seed %u: an execution matched no reservation", killer.seed);
}

/* 5000 USDC deposited on L2 and credited; USDC priced at 1 by a quorum. */
static void usdc_credited_and_priced(void)
{
    deposit_usdc(USDC_5000);
    cluster_await_hub(&c, 1, 0);
    price("USDC", "1", 1);
}

/* The venue asks to withdraw 100 USDC on L2 to the trader (no position); args keeps the command for a
 * repeat. */
static void withdraw_usdc_100(char *args, size_t cap)
{
    snprintf(args, cap, "--account %s --chain-id %d --asset %s --amount %s --recipient %s", trader->address,
             L2_ID, usdc, USDC_100, trader->address);
    cluster_withdraw(&c, trader, 0, args);
}

Test(liquidation, a_node_under_other_risk_parameters_refuses_to_co_sign_and_the_other_two_bundle_and_execute)
{
    start(true);
    usdc_credited_and_priced();
    char *wallet_before = chain_balance(&l2, usdc, trader->address);
    /* With node2's co-signer down, node1 is the only node that reproduces the decision: node3's
     * refusal leaves it one signature short, and nothing is bundled until node2 is back. */
    cluster_stop_cosigner(&c, 1, SIGKILL);
    char args[512];
    withdraw_usdc_100(args, sizeof args);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    tu_sleep_ms(3000); /* many co-signer resends */
    cr_assert_eq(cluster_hub_records(&c, RECORD_BUNDLE, NULL, NULL), 0,
                 "bundled with one reproducing node and one that refused");
    cluster_start_cosigner(&c, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    struct logged l;
    read_log(&l);
    cr_assert_eq(l.nb, 1);
    /* relayers init numbers node1..node3 as members 1..3. */
    for (unsigned k = 0; k < l.b[0].n; k++)
        cr_assert_neq(l.b[0].e[k].member, 3, "node3 signed a decision its own calculator did not reach");
    uint64_t seq;
    const instruction *release = find_instruction(&l, L2_ID, INSTRUCTION_RELEASE, &seq);
    await_executed(&l2, vault2, release->nonce);
    char *wallet_after = chain_balance(&l2, usdc, trader->address);
    u256 want = u256_from_u64(100000000);
    assert_moved("the trader's USDC on L2", wallet_before, wallet_after, &want, true);
    free(wallet_before);
    free(wallet_after);
    char line[64];
    snprintf(line, sizeof line, "msg=\"refused to co-sign\" instruction=%llu ", (unsigned long long)seq);
    cr_assert_eq(cluster_file_count(&c, "node3.cosign.log", line), 1, "node3 did not refuse instruction %llu",
                 (unsigned long long)seq);
}

/* ---- expiry ---- */

/* Pushes chain n's time past every deadline logged so far and mines blocks over it. */
static void pass_deadlines(anvil_node *n)
{
    char secs[16];
    snprintf(secs, sizeof secs, "%d", DEADLINE_S + 60);
    free(cast_rpc(n, "evm_increaseTime", secs, NULL));
    anvil_mine(n, CONFIRMATIONS + 2);
}

Test(liquidation, a_release_whose_deadline_passes_unexecuted_expires_by_quorum_and_frees_its_reservation)
{
    start(false);
    usdc_credited_and_priced();
    /* L2's executors are down: the release is logged and bundled but nobody submits it. */
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_stop_executor(&c, i, L2, SIGTERM);
    char args[512];
    withdraw_usdc_100(args, sizeof args);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    char reserved[U256_DEC_MAX];
    cluster_hub_reserved(&c, trader->address, L2_ID, usdc, reserved);
    cr_assert_str_eq(reserved, USDC_100);

    /* L2's time passes the deadline; the executors come back: they find the first block past it,
     * see the nonce unused there and each signs the expiry; a quorum of them frees the funds. */
    pass_deadlines(&l2);
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_start_executor(&c, i, L2);
    cluster_await_expiries(&c, 1);
    cluster_hub_reserved(&c, trader->address, L2_ID, usdc, reserved);
    cr_assert_str_eq(reserved, "0", "the expired release still holds %s", reserved);
    cluster_assert_balance(&c, trader->address, L2_ID, usdc, USDC_5000);
    cr_assert_not(nonce_used(&l2, vault2, 1), "the expired release executed");
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.executions, 0);
    cr_assert_eq(st.gaps, 0, "an expiry left a vault sequence gap");

    /* The trader asks again: approved (the funds are free), a new release with a new nonce. L2's
     * clock now runs DEADLINE_S + 60 s ahead of the hub's, which sets deadlines by its own: the
     * new release is past its deadline on L2 at once, so it expires in turn, unexecuted. */
    cluster_withdraw(&c, trader, 0, args);
    cluster_await_records(&c, RECORD_INSTRUCTION, 2);
    struct logged l;
    read_log(&l);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.nd, 2);
    cr_assert_eq(l.d[1].kind, DECISION_WITHDRAW_OK, "the second withdrawal was decided %u", l.d[1].kind);
    cr_assert_eq(l.in[1].kind, INSTRUCTION_RELEASE);
    cr_assert_eq(l.in[1].nonce, 2, "the new release takes a new nonce");
    anvil_mine(&l2, CONFIRMATIONS);
    cluster_await_expiries(&c, 2);
    cluster_hub_reserved(&c, trader->address, L2_ID, usdc, reserved);
    cr_assert_str_eq(reserved, "0");
    cr_assert_not(nonce_used(&l2, vault2, 2), "the second release executed past its deadline");
    assert_ledger_matches(&l2, vault2, usdc);

    char *out = audit_hub_log(" --json");
    cr_assert(strstr(out, "\"expired\":2") != NULL, "verify does not count both expiries: %s", out);
    cr_assert(strstr(out, "\"not_reproduced\":0") != NULL, "replay --risk: %s", out);
    free(out);
}

/* With a short deadline and in real time (the chain's clock stays the hub's, which sets
 * deadlines): L1's executors are down when the account is liquidated, so the seize's deadline
 * passes unexecuted. Back up, they prove its expiry; the ledger frees the ETH, the calculator,
 * the account still liquidatable, decides a new liquidation at that record and the hub issues a
 * new seize with the next nonce, which executes. */
#define SHORT_DEADLINE_S 8

Test(liquidation, an_expired_seize_is_re_issued_with_a_new_nonce_and_executes)
{
    deadline_s = SHORT_DEADLINE_S;
    start(false);
    deposit_eth(ETH_10);
    cluster_await_hub(&c, 1, 0);
    price("ETH", "3000", 1);
    char args[512];
    snprintf(args, sizeof args, "position --account %s --market ETH-PERP --size 20 --entry 3000", trader->address);
    cluster_venue(&c, args);
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_stop_executor(&c, i, L1, SIGTERM);

    cluster_price(&c, "ETH", "1700");
    cluster_await_records(&c, RECORD_DECISION, 1);
    cluster_await_records(&c, RECORD_INSTRUCTION, 1);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    struct logged l;
    read_log(&l);
    cr_assert_eq(l.d[0].kind, DECISION_LIQUIDATE);
    uint64_t seq1;
    instruction first = *find_instruction(&l, L1_ID, INSTRUCTION_SEIZE, &seq1);
    cr_assert_eq(first.nonce, 1);

    /* Real time passes the deadline; a block after it is mined on L1. */
    while ((uint64_t)time(NULL) <= first.deadline_s + 1) /* deadlines are wall-clock (unix) seconds */
        tu_sleep_ms(200);
    anvil_mine(&l1, CONFIRMATIONS + 1);
    char *ins_before = chain_balance(&l1, CLUSTER_NATIVE, INSURANCE_L1);
    for (unsigned i = 0; i < CLUSTER_NODES; i++)
        cluster_start_executor(&c, i, L1);
    cluster_await_expiries(&c, 1);
    cluster_await_records(&c, RECORD_DECISION, 2);
    cluster_await_records(&c, RECORD_INSTRUCTION, 2);
    read_log(&l);
    cr_assert_eq(l.d[1].kind, DECISION_LIQUIDATE, "after the expiry: decision %u", l.d[1].kind);
    cr_assert_gt(l.d[1].basis, seq1, "the new liquidation follows the expiry");
    const instruction *second = NULL;
    for (size_t i = 0; i < l.n; i++)
        if (l.in[i].nonce == 2)
            second = &l.in[i];
    cr_assert_not_null(second, "no seize with nonce 2");
    cr_assert_eq(second->kind, INSTRUCTION_SEIZE);
    await_executed(&l1, vault1, 2);
    cr_assert_not(nonce_used(&l1, vault1, 1), "the expired seize executed");
    char *ins_after = chain_balance(&l1, CLUSTER_NATIVE, INSURANCE_L1);
    assert_moved("L1's insurance ETH", ins_before, ins_after, &second->amount, true);
    free(ins_before);
    free(ins_after);

    /* The watchers attest the execution: it settles the new seize's reservation; the ledger
     * matches the vault, nothing reserved, nothing unmatched. */
    anvil_mine(&l1, CONFIRMATIONS);
    cluster_await_executions(&c, 1);
    assert_ledger_matches(&l1, vault1, CLUSTER_NATIVE);
    ledger_stats st = cluster_hub_stats(&c);
    cr_assert_eq(st.unmatched, 0);
    char *out = audit_hub_log(" --json");
    cr_assert(strstr(out, "\"expired\":1") != NULL, "verify: %s", out);
    cr_assert(strstr(out, "\"logged\":2") != NULL && strstr(out, "\"reproduced\":2") != NULL,
              "replay --risk did not reproduce both liquidations: %s", out);
    free(out);
}
