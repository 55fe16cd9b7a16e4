/*
 * executor_test.c - the executor (bridges/evm/executor.h) submitting bundles to a real
 * CollateralVault on anvil: a stuck transaction replaced by a bumped one with the execute done
 * exactly once, a bundle past its deadline and a reused nonce reported as the vault's errors
 * without sending anything, and a transaction that never gets mined given up within the bumps
 * allowed; the gas limit it offers capped by max_gas, and a recipient that burns gas unable to
 * burn the executor's. Bundles are signed by our own code (checked against cast in evmcodec_test.c);
 * balances and flags are read with cast.
 */
#include <errno.h>
#include <sodium.h>
#include <time.h>

#include "attest/hex.h"
#include "attest/eip712.h"
#include "bridges/evm/executor.h"
#include "bridges/evm/rpceth.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 31338
#define NATIVE "0x0000000000000000000000000000000000000000"
#define RECIPIENT "0x000000000000000000000000000000000000bee1"
#define DEADLINE_AHEAD_S 3600
#define MAX_SUBMITS 8

static struct {
    anvil_node chain;
    const anvil_account *signers[3]; /* ascending */
    const anvil_account *trader, *runner;
    char *vault;
    uint8_t vault_addr[20];
    rpc *c;
    evm_key *key;
    /* what the hooks saw */
    executor_submit submits[MAX_SUBMITS];
    size_t n_submits;
    bool mine_after_replacement; /* the sleep hook mines a block once a replacement went out */
} t;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    memset(&t, 0, sizeof t);
    anvil_start(&t.chain, CHAIN_ID, 0);
    t.trader = &t.chain.dev[4];
    t.runner = &t.chain.dev[5];
    t.vault = cast_deploy_vault(&t.chain, &t.chain.dev[0], 1, 3, 2, t.signers);
    cr_assert_eq(hex_decode(t.vault_addr, 20, t.vault, "vault", NULL), RL_OK);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "1000", "depositNative(address)", t.trader->address, NULL));
    const char *urls[] = {t.chain.rpc_url};
    rl_why why = {{0}};
    cr_assert_eq(rpc_open(&t.c, urls, 1, NULL, NULL, &why), RL_OK, "%s", why.text);
    uint8_t sk[32];
    cr_assert_eq(hex_decode(sk, 32, t.runner->key, "key", NULL), RL_OK);
    cr_assert_eq(evm_key_from_secret(&t.key, sk, &why), RL_OK, "%s", why.text);
    sodium_memzero(sk, sizeof sk);
}

static void teardown(void)
{
    evm_key_free(t.key);
    rpc_close(t.c);
    free(t.vault);
    anvil_stop(&t.chain);
}

TestSuite(executor, .init = setup, .fini = teardown, .timeout = 60);

static void sleep_and_maybe_mine(void *ctx, uint64_t ms)
{
    (void)ctx;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    if (t.mine_after_replacement && t.n_submits >= 2)
        free(cast_rpc(&t.chain, "evm_mine", NULL));
}

static void record_submit(void *ctx, const executor_submit *s)
{
    (void)ctx;
    cr_assert_lt(t.n_submits, MAX_SUBMITS);
    t.submits[t.n_submits++] = *s;
}

static executor_opts test_opts(uint32_t stuck_ms, uint32_t max_bumps)
{
    executor_opts o = executor_opts_default();
    o.confirmations = 2;
    o.stuck_ms = stuck_ms;
    o.poll_ms = 50;
    o.max_bumps = max_bumps;
    o.timeout_ms = 30000;
    return o;
}

static executor *new_executor_opts(const executor_opts *o)
{
    executor_hooks h = {.sleep_ms = sleep_and_maybe_mine, .on_submit = record_submit};
    executor *x;
    rl_why why = {{0}};
    cr_assert_eq(executor_new(&x, t.c, t.key, t.vault_addr, o, &h, &why), RL_OK, "%s", why.text);
    return x;
}

static executor *new_executor(uint32_t stuck_ms, uint32_t max_bumps)
{
    executor_opts o = test_opts(stuck_ms, max_bumps);
    return new_executor_opts(&o);
}

/* A release of amount wei to recipient, signed by the first two signers (our code). */
static vault_instruction bundle_to(const char *recipient, uint64_t amount, uint64_t nonce, uint64_t deadline,
                                   uint8_t sigs[2][EVM_SIG_BYTES])
{
    vault_instruction in = {.kind = VAULT_KIND_RELEASE, .amount = u256_from_u64(amount),
                            .nonce = u256_from_u64(nonce), .deadline = u256_from_u64(deadline)};
    cr_assert_eq(hex_decode(in.account, 20, t.trader->address, "account", NULL), RL_OK);
    cr_assert_eq(hex_decode(in.recipient, 20, recipient, "recipient", NULL), RL_OK);
    uint8_t dom[32], digest[32];
    eip712_vault_domain(dom, CHAIN_ID, t.vault_addr);
    eip712_instruction_digest(digest, dom, &in);
    for (int i = 0; i < 2; i++) {
        uint8_t sk[32];
        cr_assert_eq(hex_decode(sk, 32, t.signers[i]->key, "key", NULL), RL_OK);
        cr_assert_eq(evm_sign_digest(sigs[i], digest, sk), RL_OK);
    }
    return in;
}

static vault_instruction bundle(uint64_t amount, uint64_t nonce, uint64_t deadline, uint8_t sigs[2][EVM_SIG_BYTES])
{
    return bundle_to(RECIPIENT, amount, nonce, deadline, sigs);
}

static uint64_t runner_nonce(rpc_tag tag)
{
    uint64_t n;
    rl_why why = {{0}};
    cr_assert_eq(rpc_eth_get_tx_count(t.c, evm_key_address(t.key), rpc_block_tag(tag), &n, &why), RL_OK, "%s",
                 why.text);
    return n;
}

static uint64_t vault_balance(void)
{
    return cast_call_u64(&t.chain, t.vault, "balanceOf(address,address)(uint256)", t.trader->address, NATIVE, NULL);
}

static void assert_nonce_used(uint64_t nonce, const char *want)
{
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)nonce);
    char *used = cast_call(&t.chain, t.vault, "nonceUsed(uint256)(bool)", n, NULL);
    cr_assert_str_eq(used, want, "nonceUsed(%s)", n);
    free(used);
}

Test(executor, executor_stuck_transaction_replaced)
{
    free(cast_rpc(&t.chain, "evm_setAutomine", "false", NULL));
    t.mine_after_replacement = true; /* nothing is mined until the replacement is out */
    uint64_t before = runner_nonce(RPC_LATEST);
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(400, 1, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    executor *x = new_executor(300, 3);
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_MINED, "%s: %s", executor_outcome_name(rep.outcome), rep.detail);
    cr_assert(rep.sent);

    /* one replacement: same nonce, both fees up by at least 12.5 % */
    cr_assert_eq(t.n_submits, 2);
    cr_assert_eq(rep.submissions, 2);
    cr_assert_eq(t.submits[0].nonce, before);
    cr_assert_eq(t.submits[1].nonce, before);
    cr_assert_eq(t.submits[1].bump, 1);
    for (int f = 0; f < 2; f++) {
        const u256 *old = f ? &t.submits[0].max_fee_wei : &t.submits[0].max_priority_fee_wei;
        const u256 *new = f ? &t.submits[1].max_fee_wei : &t.submits[1].max_priority_fee_wei;
        u256 old8, new8; /* new >= old * 1.125  <=>  8 new >= 9 old */
        cr_assert_eq(u256_mul_u64(&old8, old, 9), RL_OK);
        cr_assert_eq(u256_mul_u64(&new8, new, 8), RL_OK);
        cr_assert_geq(u256_cmp(&new8, &old8), 0, "fee %d bumped by less than 12.5 %%", f);
    }

    /* the replacement was mined, the original never; the execute happened exactly once */
    cr_assert_eq(memcmp(rep.tx_hash, t.submits[1].tx_hash, 32), 0);
    rpc_receipt *r = NULL;
    cr_assert_eq(rpc_eth_get_receipt(t.c, t.submits[0].tx_hash, &r, &why), RL_ERR_NOTFOUND);
    cr_assert_eq(rpc_eth_get_receipt(t.c, t.submits[1].tx_hash, &r, &why), RL_OK, "%s", why.text);
    cr_assert_eq(r->status, 1);
    cr_assert_eq(r->block_number, rep.block_number);
    rpc_receipt_free(r);
    assert_nonce_used(1, "true");
    cr_assert_eq(vault_balance(), 600);
    char *bal = cast_ok("balance", "--rpc-url", t.chain.rpc_url, RECIPIENT, NULL);
    cr_assert_str_eq(bal, "400");
    free(bal);
    cr_assert_eq(runner_nonce(RPC_LATEST), before + 1);
    uint64_t next;
    cr_assert(executor_next_nonce(x, &next));
    cr_assert_eq(next, before + 1);
    executor_free(x);
}

Test(executor, a_bundle_past_its_deadline_is_reported_as_deadline_passed_and_nothing_is_sent)
{
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(400, 1, anvil_timestamp(&t.chain) - 1, sigs);
    uint64_t before = runner_nonce(RPC_PENDING);
    executor *x = new_executor(1000, 1);
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_REVERTED, "%s", executor_outcome_name(rep.outcome));
    cr_assert(!rep.sent);
    cr_assert(rep.has_error);
    cr_assert_str_eq(rep.error_name, "DeadlinePassed(uint256,uint256)");
    cr_assert_not_null(strstr(rep.detail, "DeadlinePassed"), "%s", rep.detail);
    cr_assert_eq(t.n_submits, 0);
    cr_assert_eq(runner_nonce(RPC_PENDING), before);
    assert_nonce_used(1, "false");
    cr_assert_eq(vault_balance(), 1000);
    executor_free(x);
}

Test(executor, a_reused_nonce_is_reported_as_nonce_used_after_the_first_execute)
{
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(250, 5, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    /* automine: every transaction is mined at once; a second block confirms it */
    executor *x = new_executor(5000, 1);
    t.mine_after_replacement = false;
    executor_report rep;
    rl_why why = {{0}};
    uint64_t before = runner_nonce(RPC_PENDING);
    free(cast_rpc(&t.chain, "anvil_setIntervalMining", "1", NULL)); /* a block a second: the depth grows */
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_MINED, "%s: %s", executor_outcome_name(rep.outcome), rep.detail);
    cr_assert_eq(rep.nonce, before);
    cr_assert_eq(vault_balance(), 750);

    /* the very same bundle again: the vault refuses it, the executor says why and sends nothing */
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_REVERTED);
    cr_assert(!rep.sent);
    cr_assert_str_eq(rep.error_name, "NonceUsed(uint256)");
    cr_assert_eq(t.n_submits, 1);
    cr_assert_eq(vault_balance(), 750);
    uint64_t next;
    cr_assert(executor_next_nonce(x, &next));
    cr_assert_eq(next, before + 1); /* kept across calls, not asked again */
    executor_free(x);
}

Test(executor, a_transaction_never_mined_is_given_up_after_the_bumps_allowed)
{
    free(cast_rpc(&t.chain, "evm_setAutomine", "false", NULL));
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(1, 2, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    executor *x = new_executor(200, 2);
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_GAVE_UP, "%s", executor_outcome_name(rep.outcome));
    cr_assert(rep.sent);
    cr_assert_eq(rep.submissions, 3); /* the first and two replacements */
    cr_assert_eq(t.n_submits, 3);
    cr_assert_eq(memcmp(rep.tx_hash, t.submits[2].tx_hash, 32), 0);
    cr_assert_not_null(strstr(rep.detail, "every replacement allowed"), "%s", rep.detail);
    uint64_t next;
    cr_assert(!executor_next_nonce(x, &next), "a given-up nonce must be asked for again");
    assert_nonce_used(2, "false");
    executor_free(x);
}

/* ---- gas */

Test(executor, an_estimate_above_max_gas_is_an_error_naming_the_chain_and_the_instruction_and_nothing_is_sent)
{
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(100, 6, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    executor_opts o = test_opts(5000, 1);
    o.max_gas = 60000; /* an execute with two signatures takes more */
    executor *x = new_executor_opts(&o);
    uint64_t before = runner_nonce(RPC_PENDING);
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_ERR_STATE);
    cr_assert_not_null(strstr(why.text, "chain 31338"), "%s", why.text);
    cr_assert_not_null(strstr(why.text, "instruction nonce 6"), "%s", why.text);
    cr_assert_not_null(strstr(why.text, "above max_gas 60000"), "%s", why.text);
    cr_assert(!rep.sent);
    cr_assert_eq(t.n_submits, 0);
    cr_assert_eq(runner_nonce(RPC_PENDING), before);
    assert_nonce_used(6, "false");
    executor_free(x);
}

Test(executor, the_gas_limit_offered_never_exceeds_max_gas_whatever_the_margin)
{
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle(100, 8, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    executor_opts o = test_opts(5000, 1);
    o.gas_margin_pct = 1000; /* estimate x 11: far above the cap */
    o.max_gas = 450000;
    executor *x = new_executor_opts(&o);
    free(cast_rpc(&t.chain, "anvil_setIntervalMining", "1", NULL)); /* a block a second: the depth grows */
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_MINED, "%s: %s", executor_outcome_name(rep.outcome), rep.detail);
    cr_assert_eq(t.n_submits, 1);
    cr_assert_eq(t.submits[0].gas_limit, 450000);
    cr_assert_lt(rep.gas_used, 450000);
    assert_nonce_used(8, "true");
    executor_free(x);
}

Test(executor, a_bundle_paying_a_gas_burning_recipient_is_mined_with_bounded_gas_and_the_amount_claimable)
{
    char *burner = cast_deploy(&t.chain, &t.chain.dev[0], "HostileRecipient", "constructor(uint8)", "2", NULL);
    uint8_t sigs[2][EVM_SIG_BYTES];
    vault_instruction in = bundle_to(burner, 300, 9, anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S, sigs);
    executor *x = new_executor(5000, 1); /* the default max_gas */
    free(cast_rpc(&t.chain, "anvil_setIntervalMining", "1", NULL));
    executor_report rep;
    rl_why why = {{0}};
    cr_assert_eq(executor_execute(x, &in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &rep, &why), RL_OK, "%s",
                 why.text);
    cr_assert_eq(rep.outcome, EXECUTOR_MINED, "%s: %s", executor_outcome_name(rep.outcome), rep.detail);
    cr_assert_leq(t.submits[0].gas_limit, EXECUTOR_DEFAULT_MAX_GAS);
    cr_assert_lt(rep.gas_used, 200000, "gas used %llu", (unsigned long long)rep.gas_used);
    assert_nonce_used(9, "true");
    cr_assert_eq(vault_balance(), 700);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "claimable(address,address)(uint256)", burner, NATIVE, NULL), 300);
    executor_free(x);
    free(burner);
}
