/*
 * vaultload_test.c - CollateralVault (bridges/evm/contracts) under hostile load, on a real anvil
 * node, driven by cast: recipients that refuse or burn the gas of a payment (HostileRecipient,
 * a token that blocks its recipient) cannot fail an instruction or burn an executor's gas, and
 * their payment stays claimable, by the recipient itself or, with claimTo, at an address it
 * names (a token recipient the token blacklists is not stuck); dust and unlisted assets are
 * refused at deposit; the limits change only with a quorum's signatures over a message that
 * applies once; the watchers' scanner (bridges/evm/scan.h) reads past the vault's unnumbered
 * events without seeing a gap.
 *
 * Each test gets a fresh chain and a vault whose signers are three anvil dev accounts (threshold
 * 2), taking the native coin from NATIVE_MIN wei and the test token from TOKEN_MIN units.
 * Instructions are signed with cast over EIP-712 typed data it hashes itself; the limits' digest
 * is checked the same way once.
 */
#include <jansson.h>
#include <strings.h>

#include "attest/hex.h"
#include "bridges/evm/scan.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 424243
#define NATIVE "0x0000000000000000000000000000000000000000"
#define NATIVE_MIN "1000"
#define TOKEN_MIN "500"
#define KIND_RELEASE 1
#define KIND_SEIZE 2
#define DEADLINE_AHEAD_S 3600
#define HOSTILE_ACCEPT "0"
#define HOSTILE_REVERT "1"
#define HOSTILE_BURN "2"
#define HOSTILE_REENTER "3"
/* What a sender offers a release to a gas burner: the old vault let the recipient take 63/64 of it. */
#define GENEROUS_GAS_LIMIT "5000000"
/* A release's execute with two signatures and a bounded payment uses less, whatever the recipient. */
#define BOUNDED_GAS_USED 200000

#define EXECUTE_SIG "execute((uint8,address,address,uint256,address,uint256,uint256),bytes[])"
#define EXECUTED_EVENT "Executed(uint64,uint8,address,address,uint256,address,uint256)"
#define DEFERRED_EVENT "PaymentDeferred(uint256,address,address,uint256)"
#define CLAIMED_EVENT "Claimed(address,address,uint256,address)"
#define CLAIM_TO_SIG "claimTo(address,address)"

static struct {
    anvil_node chain;
    const anvil_account *deployer, *trader, *outsider, *insurance;
    const anvil_account *signers[3]; /* ascending by address */
    char *vault, *token;
} t;

static int by_address(const void *a, const void *b)
{
    return strcmp((*(const anvil_account *const *)a)->address, (*(const anvil_account *const *)b)->address);
}

static void setup(void)
{
    memset(&t, 0, sizeof t);
    anvil_start(&t.chain, CHAIN_ID, 0);
    t.deployer = &t.chain.dev[0];
    t.trader = &t.chain.dev[4];
    t.outsider = &t.chain.dev[5];
    t.insurance = &t.chain.dev[6];
    t.token = cast_deploy(&t.chain, t.deployer, "TestToken", "constructor(string,string,uint8)", "Test USD", "TUSD",
                          "6", NULL);
    t.vault = cast_deploy_vault(&t.chain, t.deployer, 1, 3, 2, t.signers);
    char *assets = NULL;
    cr_assert(asprintf(&assets, "[%s,%s]", NATIVE, t.token) > 0);
    cast_vault_set_limits(&t.chain, t.deployer, t.vault, t.signers, 2, assets, "[" NATIVE_MIN "," TOKEN_MIN "]");
    free(assets);
}

static void teardown(void)
{
    free(t.vault);
    free(t.token);
    anvil_stop(&t.chain);
}

TestSuite(vaultload, .init = setup, .fini = teardown, .timeout = 90);

/* ---- helpers over cast */

static uint64_t native_balance(const char *who)
{
    return anvil_balance_wei(&t.chain, who);
}

static uint64_t token_balance(const char *who)
{
    return cast_call_u64(&t.chain, t.token, "balanceOf(address)(uint256)", who, NULL);
}

static uint64_t claimable(const char *who, const char *asset)
{
    return cast_call_u64(&t.chain, t.vault, "claimable(address,address)(uint256)", who, asset, NULL);
}

static uint64_t in_vault(const char *account, const char *asset)
{
    return cast_call_u64(&t.chain, t.vault, "balanceOf(address,address)(uint256)", account, asset, NULL);
}

static void deposit_token(const char *amount)
{
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "mint(address,uint256)", t.trader->address, amount,
                             NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "approve(address,uint256)", t.vault, amount, NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, NULL, "deposit(address,address,uint256)", t.token,
                             t.trader->address, amount, NULL));
}

static char *hostile(const char *mode)
{
    return cast_deploy(&t.chain, t.deployer, "HostileRecipient", "constructor(uint8)", mode, NULL);
}

/* The instruction's tuple for execute, and the quorum's signatures "[sig,sig]" over it (cast's
 * EIP-712 of the typed data, as a wallet would sign it). */
static void signed_instruction(unsigned kind, const char *asset, const char *amount, const char *recipient,
                               uint64_t nonce, char **tuple, char **sigs)
{
    uint64_t deadline = anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S;
    cr_assert(asprintf(tuple, "(%u,%s,%s,%s,%s,%llu,%llu)", kind, t.trader->address, asset, amount, recipient,
                       (unsigned long long)nonce, (unsigned long long)deadline) > 0);
    char *typed =
        cast_typed_instruction(CHAIN_ID, t.vault, kind, t.trader->address, asset, amount, recipient, nonce, deadline);
    char *s0 = cast_sign_typed(t.signers[0], typed), *s1 = cast_sign_typed(t.signers[1], typed);
    cr_assert(asprintf(sigs, "[%s,%s]", s0, s1) > 0);
    free(s0);
    free(s1);
    free(typed);
}

/* execute() of a quorum-signed instruction, sent by the deployer with gas_limit (NULL: cast's
 * estimate); must succeed. Returns the receipt. */
static json_t *execute(unsigned kind, const char *asset, const char *amount, const char *recipient, uint64_t nonce,
                       const char *gas_limit)
{
    char *tuple = NULL, *sigs = NULL, *out = NULL, *err = NULL;
    signed_instruction(kind, asset, amount, recipient, nonce, &tuple, &sigs);
    int rc = gas_limit == NULL
                 ? cast_run(&out, &err, "send", "--rpc-url", t.chain.rpc_url, "--private-key", t.deployer->key,
                            "--json", t.vault, EXECUTE_SIG, tuple, sigs, NULL)
                 : cast_run(&out, &err, "send", "--rpc-url", t.chain.rpc_url, "--private-key", t.deployer->key,
                            "--json", "--gas-limit", gas_limit, t.vault, EXECUTE_SIG, tuple, sigs, NULL);
    cr_assert_eq(rc, 0, "execute to %s: %s", recipient, err);
    json_t *r = json_loads(out, 0, NULL);
    cr_assert_not_null(r, "execute: not a receipt: %s", out);
    cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "0x1", "execute to %s reverted", recipient);
    free(out);
    free(err);
    free(tuple);
    free(sigs);
    return r;
}

static uint64_t gas_used(json_t *receipt)
{
    return strtoull(json_string_value(json_object_get(receipt, "gasUsed")), NULL, 0);
}

/* How many of the receipt's logs from the vault have event_sig's topic. */
static size_t count_events(json_t *receipt, const char *event_sig)
{
    char *topic = cast_ok("keccak", event_sig, NULL);
    size_t n = 0, i;
    json_t *l;
    json_array_foreach(json_object_get(receipt, "logs"), i, l)
    {
        if (strcasecmp(json_string_value(json_object_get(l, "address")), t.vault) == 0 &&
            strcmp(json_string_value(json_array_get(json_object_get(l, "topics"), 0)), topic) == 0)
            n++;
    }
    free(topic);
    return n;
}

/* The instruction counts as executed exactly as a paid one: its nonce used, one Executed with the
 * next sequence number (PaymentDeferred has none: eventSeq counts the deposit and the execute). */
static void assert_executed_and_deferred(json_t *receipt, uint64_t nonce)
{
    cr_assert_eq(count_events(receipt, EXECUTED_EVENT), 1);
    cr_assert_eq(count_events(receipt, DEFERRED_EVENT), 1);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "eventSeq()(uint64)", NULL), 2);
    char n[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)nonce);
    char *used = cast_call(&t.chain, t.vault, "nonceUsed(uint256)(bool)", n, NULL);
    cr_assert_str_eq(used, "true");
    free(used);
}

/* ---- payments a recipient refuses */

Test(vaultload, a_release_to_a_recipient_that_reverts_executes_and_the_amount_stays_claimable)
{
    char *rcpt = hostile(HOSTILE_REVERT);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    json_t *r = execute(KIND_RELEASE, NATIVE, "4000", rcpt, 1, NULL);
    assert_executed_and_deferred(r, 1);
    json_decref(r);
    cr_assert_eq(native_balance(rcpt), 0);
    cr_assert_eq(claimable(rcpt, NATIVE), 4000);
    cr_assert_eq(in_vault(t.trader->address, NATIVE), 1000, "the trader's balance is debited all the same");
    cr_assert_eq(native_balance(t.vault), 5000, "the deferred amount stays in the vault");

    /* Still refusing: the claim fails and nothing is lost. */
    cast_send_reverts(&t.chain, t.outsider, rcpt, NULL, "NativeTransferFailed(address,uint256)",
                      "claimFrom(address,address)", t.vault, NATIVE, NULL);
    cr_assert_eq(claimable(rcpt, NATIVE), 4000);

    /* Once it accepts, its claim pays it, once. */
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "setMode(uint8)", HOSTILE_ACCEPT, NULL));
    r = cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "claimFrom(address,address)", t.vault, NATIVE, NULL);
    cr_assert_eq(count_events(r, CLAIMED_EVENT), 1);
    json_decref(r);
    cr_assert_eq(native_balance(rcpt), 4000);
    cr_assert_eq(claimable(rcpt, NATIVE), 0);
    cr_assert_eq(native_balance(t.vault), 1000);
    cast_send_reverts(&t.chain, t.outsider, rcpt, NULL, "NothingToClaim(address)", "claimFrom(address,address)",
                      t.vault, NATIVE, NULL);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "eventSeq()(uint64)", NULL), 2, "claims are not numbered");
    free(rcpt);
}

Test(vaultload, a_release_to_a_recipient_that_burns_all_gas_uses_bounded_gas_and_stays_claimable)
{
    char *rcpt = hostile(HOSTILE_BURN);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    /* the sender offers millions; the recipient may take NATIVE_GAS_STIPEND of it */
    json_t *r = execute(KIND_RELEASE, NATIVE, "3000", rcpt, 7, GENEROUS_GAS_LIMIT);
    uint64_t used = gas_used(r);
    cr_assert_lt(used, BOUNDED_GAS_USED, "execute used %llu gas", (unsigned long long)used);
    assert_executed_and_deferred(r, 7);
    json_decref(r);
    cr_assert_eq(claimable(rcpt, NATIVE), 3000);

    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "setMode(uint8)", HOSTILE_ACCEPT, NULL));
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "claimFrom(address,address)", t.vault, NATIVE, NULL));
    cr_assert_eq(native_balance(rcpt), 3000);
    free(rcpt);
}

Test(vaultload, a_release_to_a_willing_contract_recipient_is_paid_at_once)
{
    char *rcpt = hostile(HOSTILE_ACCEPT);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    json_t *r = execute(KIND_RELEASE, NATIVE, "2500", rcpt, 3, NULL);
    cr_assert_eq(count_events(r, DEFERRED_EVENT), 0, "the estimate left the recipient its whole stipend");
    json_decref(r);
    cr_assert_eq(native_balance(rcpt), 2500);
    cr_assert_eq(claimable(rcpt, NATIVE), 0);
    free(rcpt);
}

Test(vaultload, a_seize_of_tokens_to_a_blocked_insurance_address_executes_and_stays_claimable)
{
    deposit_token("9000");
    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.insurance->address,
                             "true", NULL));
    json_t *r = execute(KIND_SEIZE, t.token, "9000", t.insurance->address, 2, NULL);
    assert_executed_and_deferred(r, 2);
    json_decref(r);
    cr_assert_eq(token_balance(t.insurance->address), 0);
    cr_assert_eq(claimable(t.insurance->address, t.token), 9000);
    cr_assert_eq(in_vault(t.trader->address, t.token), 0);

    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.insurance->address,
                             "false", NULL));
    json_decref(cast_send_ok(&t.chain, t.insurance, t.vault, NULL, "claim(address)", t.token, NULL));
    cr_assert_eq(token_balance(t.insurance->address), 9000);
    cr_assert_eq(token_balance(t.vault), 0);
    cr_assert_eq(claimable(t.insurance->address, t.token), 0);
}

/* ---- moving a claim elsewhere: claimTo */

/* The attack on claim() alone: a token that blacklists its recipient (USDC style) makes the
 * seize execute (the account debited) and its claim revert too, for good; claimTo lets the
 * recipient have it paid to another address it names. */
Test(vaultload, a_blacklisted_token_recipient_moves_its_stuck_claim_to_another_address_with_claim_to)
{
    deposit_token("9000");
    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.insurance->address,
                             "true", NULL));
    json_decref(execute(KIND_SEIZE, t.token, "9000", t.insurance->address, 2, NULL));
    cr_assert_eq(in_vault(t.trader->address, t.token), 0, "the account is debited");
    cast_send_reverts(&t.chain, t.insurance, t.vault, NULL, "Blocked(address)", "claim(address)", t.token, NULL);
    cr_assert_eq(claimable(t.insurance->address, t.token), 9000, "still blacklisted: claim() cannot pay it");

    json_t *r = cast_send_ok(&t.chain, t.insurance, t.vault, NULL, CLAIM_TO_SIG, t.token, t.outsider->address, NULL);
    cr_assert_eq(count_events(r, CLAIMED_EVENT), 1);
    json_decref(r);
    cr_assert_eq(token_balance(t.outsider->address), 9000);
    cr_assert_eq(token_balance(t.vault), 0);
    cr_assert_eq(claimable(t.insurance->address, t.token), 0);
    cast_send_reverts(&t.chain, t.insurance, t.vault, NULL, "NothingToClaim(address)", CLAIM_TO_SIG, t.token,
                      t.outsider->address, NULL);
}

Test(vaultload, claim_to_with_nothing_claimable_reverts_with_nothing_to_claim)
{
    cast_send_reverts(&t.chain, t.outsider, t.vault, NULL, "NothingToClaim(address)", CLAIM_TO_SIG, NATIVE,
                      t.outsider->address, NULL);
    cast_send_reverts(&t.chain, t.outsider, t.vault, NULL, "NothingToClaim(address)", CLAIM_TO_SIG, t.token,
                      t.outsider->address, NULL);
}

Test(vaultload, claim_to_the_zero_address_or_the_vault_itself_reverts_and_keeps_the_claim)
{
    deposit_token("700");
    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.insurance->address,
                             "true", NULL));
    json_decref(execute(KIND_SEIZE, t.token, "700", t.insurance->address, 5, NULL));
    cast_send_reverts(&t.chain, t.insurance, t.vault, NULL, "ZeroRecipient()", CLAIM_TO_SIG, t.token, NATIVE, NULL);
    cast_send_reverts(&t.chain, t.insurance, t.vault, NULL, "ZeroRecipient()", CLAIM_TO_SIG, t.token, t.vault, NULL);
    cr_assert_eq(claimable(t.insurance->address, t.token), 700);
    cr_assert_eq(token_balance(t.vault), 700);
}

Test(vaultload, claim_to_an_address_that_refuses_reverts_and_keeps_the_claim)
{
    char *rcpt = hostile(HOSTILE_REVERT), *refuser = hostile(HOSTILE_REVERT);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    json_decref(execute(KIND_RELEASE, NATIVE, "4000", rcpt, 1, NULL));
    cast_send_reverts(&t.chain, t.outsider, rcpt, NULL, "NativeTransferFailed(address,uint256)",
                      "claimToFrom(address,address,address)", t.vault, NATIVE, refuser, NULL);
    cr_assert_eq(claimable(rcpt, NATIVE), 4000);
    cr_assert_eq(native_balance(refuser), 0);
    cr_assert_eq(native_balance(t.vault), 5000);

    /* a token `to` that the token refuses: the same */
    deposit_token("600");
    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.insurance->address,
                             "true", NULL));
    json_decref(cast_send_ok(&t.chain, t.deployer, t.token, NULL, "setBlocked(address,bool)", t.outsider->address,
                             "true", NULL));
    json_decref(execute(KIND_SEIZE, t.token, "600", t.insurance->address, 2, NULL));
    cast_send_reverts(&t.chain, t.insurance, t.vault, NULL, "Blocked(address)", CLAIM_TO_SIG, t.token,
                      t.outsider->address, NULL);
    cr_assert_eq(claimable(t.insurance->address, t.token), 600);
    cr_assert_eq(token_balance(t.vault), 600);
    free(rcpt);
    free(refuser);
}

/* The recipient has claimTo pay itself; its receive() re-enters claimTo for the same claim. The
 * vault's guard refuses the inner call (the recipient records the error and accepts the outer
 * payment): paid once, never twice. */
Test(vaultload, reentering_the_vault_from_a_claim_to_payment_is_refused_and_pays_once)
{
    char *rcpt = hostile(HOSTILE_REVERT);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    json_decref(execute(KIND_RELEASE, NATIVE, "4000", rcpt, 1, NULL));
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "setMode(uint8)", HOSTILE_REENTER, NULL));
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "claimToFrom(address,address,address)", t.vault,
                             NATIVE, rcpt, NULL));
    char *inner = cast_call(&t.chain, rcpt, "reentryError()(bytes4)", NULL);
    char *guard = cast_ok("sig", "ReentrancyGuardReentrantCall()", NULL);
    cr_assert_str_eq(inner, guard, "the re-entered claimTo failed with %s", inner);
    cr_assert_eq(native_balance(rcpt), 4000);
    cr_assert_eq(claimable(rcpt, NATIVE), 0);
    cr_assert_eq(native_balance(t.vault), 1000);
    free(inner);
    free(guard);
    free(rcpt);
}

/* ---- dust and unlisted assets */

Test(vaultload, deposits_below_the_minimum_or_of_an_unlisted_token_revert_with_named_errors)
{
    cast_send_reverts(&t.chain, t.trader, t.vault, "999", "DepositBelowMinimum(address,uint256,uint256)",
                      "depositNative(address)", t.trader->address, NULL);
    cast_send_reverts(&t.chain, t.trader, t.vault, "1", "DepositBelowMinimum(address,uint256,uint256)",
                      "depositNative(address)", t.outsider->address, NULL);
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "mint(address,uint256)", t.trader->address, "499",
                             NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "approve(address,uint256)", t.vault, "499", NULL));
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "DepositBelowMinimum(address,uint256,uint256)",
                      "deposit(address,address,uint256)", t.token, t.trader->address, "499", NULL);

    char *other = cast_deploy(&t.chain, t.deployer, "TestToken", "constructor(string,string,uint8)", "Dust", "DST",
                              "18", NULL);
    json_decref(cast_send_ok(&t.chain, t.trader, other, NULL, "mint(address,uint256)", t.trader->address, "1000000",
                             NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, other, NULL, "approve(address,uint256)", t.vault, "1000000", NULL));
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "AssetNotAllowed(address)",
                      "deposit(address,address,uint256)", other, t.trader->address, "1000000", NULL);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "eventSeq()(uint64)", NULL), 0, "nothing was deposited");

    /* at the minimum it is credited */
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, NATIVE_MIN, "depositNative(address)", t.trader->address,
                             NULL));
    deposit_token(TOKEN_MIN);
    cr_assert_eq(in_vault(t.trader->address, NATIVE), 1000);
    cr_assert_eq(in_vault(t.trader->address, t.token), 500);
    free(other);
}

Test(vaultload, a_vault_deployed_without_the_native_coin_refuses_native_deposits)
{
    const char *signers[1] = {t.signers[0]->address};
    char *assets = NULL;
    cr_assert(asprintf(&assets, "[%s]", t.token) > 0);
    char *vault = cast_deploy_vault_with(&t.chain, t.deployer, signers, 1, 1, assets, "[1]");
    cast_send_reverts(&t.chain, t.trader, vault, "1000000", "AssetNotAllowed(address)", "depositNative(address)",
                      t.trader->address, NULL);
    cr_assert_eq(cast_call_u64(&t.chain, vault, "minimumDeposit(address)(uint256)", NATIVE, NULL), 0);
    cr_assert_eq(cast_call_u64(&t.chain, vault, "minimumDeposit(address)(uint256)", t.token, NULL), 1);
    free(assets);
    free(vault);
}

/* ---- changing the limits */

static void set_limits_reverts(const anvil_account *const *who, size_t n, const char *assets, const char *minimums,
                               uint64_t version, const char *error_sig)
{
    char *sigs = cast_limits_signatures(&t.chain, t.vault, who, n, assets, minimums, version);
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)version);
    cast_send_reverts(&t.chain, t.outsider, t.vault, NULL, error_sig, VAULT_SET_LIMITS_SIG, assets, minimums, v, sigs,
                      NULL);
    free(sigs);
}

Test(vaultload, set_limits_needs_a_quorum_of_the_current_set_and_applies_a_signed_message_once)
{
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "limitsVersion()(uint256)", NULL), 2);
    const char *assets = "[" NATIVE "]", *mins = "[5000]";
    /* one signature of a threshold of two */
    set_limits_reverts(t.signers, 1, assets, mins, 3, "NotEnoughSigners(uint256,uint256)");
    /* two, one of them from outside the set */
    const anvil_account *mixed[2] = {t.signers[0], t.outsider};
    qsort(mixed, 2, sizeof mixed[0], by_address);
    set_limits_reverts(mixed, 2, assets, mins, 3, "UnknownSigner(address)");
    /* a version that is not the next one */
    set_limits_reverts(t.signers, 2, assets, mins, 4, "BadVersion(uint256,uint256)");
    set_limits_reverts(t.signers, 2, assets, mins, 2, "BadVersion(uint256,uint256)");
    /* malformed lists, even with a quorum */
    set_limits_reverts(t.signers, 2, assets, "[1,2]", 3, "LimitsLengthMismatch(uint256,uint256)");
    char *desc = NULL;
    cr_assert(asprintf(&desc, "[%s,%s]", t.token, NATIVE) > 0);
    set_limits_reverts(t.signers, 2, desc, "[1,1]", 3, "AssetsNotAscending()");
    free(desc);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "minimumDeposit(address)(uint256)", NATIVE, NULL), 1000);

    /* the quorum's message applies; sent again (by anyone) it is refused */
    char *sigs = cast_limits_signatures(&t.chain, t.vault, t.signers, 2, assets, mins, 3);
    json_decref(cast_send_ok(&t.chain, t.outsider, t.vault, NULL, VAULT_SET_LIMITS_SIG, assets, mins, "3", sigs, NULL));
    cast_send_reverts(&t.chain, t.outsider, t.vault, NULL, "BadVersion(uint256,uint256)", VAULT_SET_LIMITS_SIG,
                      assets, mins, "3", sigs, NULL);
    free(sigs);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "limitsVersion()(uint256)", NULL), 3);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "minimumDeposit(address)(uint256)", NATIVE, NULL), 5000);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "minimumDeposit(address)(uint256)", t.token, NULL), 500,
                 "an asset the message does not list keeps its minimum");
    cast_send_reverts(&t.chain, t.trader, t.vault, "4999", "DepositBelowMinimum(address,uint256,uint256)",
                      "depositNative(address)", t.trader->address, NULL);
    cr_assert_eq(cast_call_u64(&t.chain, t.vault, "eventSeq()(uint64)", NULL), 0, "setLimits is not numbered");
}

Test(vaultload, delisting_a_token_stops_its_deposits_but_not_its_releases)
{
    deposit_token("800");
    char *assets = NULL;
    cr_assert(asprintf(&assets, "[%s]", t.token) > 0);
    cast_vault_set_limits(&t.chain, t.deployer, t.vault, t.signers, 2, assets, "[0]");
    free(assets);
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "mint(address,uint256)", t.trader->address, "800",
                             NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "approve(address,uint256)", t.vault, "800", NULL));
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "AssetNotAllowed(address)",
                      "deposit(address,address,uint256)", t.token, t.trader->address, "800", NULL);
    json_decref(execute(KIND_RELEASE, t.token, "800", t.trader->address, 4, NULL));
    cr_assert_eq(in_vault(t.trader->address, t.token), 0);
    cr_assert_eq(token_balance(t.trader->address), 1600);
}

Test(vaultload, limits_digest_equals_the_eip712_digest_cast_computes_from_typed_data)
{
    char *assets = NULL;
    cr_assert(asprintf(&assets, "[%s,%s]", NATIVE, t.token) > 0);
    char *digest = cast_call(&t.chain, t.vault, "limitsDigest(address[],uint256[],uint256)(bytes32)", assets,
                             "[7,0]", "3", NULL);
    json_t *fields = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "assets", "type", "address[]", "name",
                               "minimums", "type", "uint256[]", "name", "version", "type", "uint256");
    json_t *message =
        json_pack("{s:[s,s], s:[s,s], s:s}", "assets", NATIVE, t.token, "minimums", "7", "0", "version", "3");
    char *typed = cast_typed_vault(CHAIN_ID, t.vault, "Limits", fields, message);
    /* deterministic signatures (RFC 6979): equal signatures, equal digests */
    char *sig_typed = cast_sign_typed(t.signers[0], typed);
    char *sig_digest = cast_sign_digest(t.signers[0], digest);
    cr_assert_str_eq(sig_typed, sig_digest);
    free(sig_typed);
    free(sig_digest);
    free(typed);
    free(digest);
    free(assets);
}

/* One node's `relayer limits sign` line: its signer and signature (each "0x..", malloc'd). */
static void relayer_limits_sign(const char *dir, const char *node, const char *vault, char **signer, char **sig)
{
    char *out = NULL;
    int rc = tu_run(&out, "%s limits sign --key %s/%s.key --chain-id %d --vault %s --version 2 %s=2000 %s=0",
                    RELAYER_BIN, dir, node, CHAIN_ID, vault, NATIVE, t.token);
    cr_assert_eq(rc, 0, "limits sign: %s", out);
    char s[43], g[133];
    cr_assert_eq(sscanf(out, "signer=%42s digest=%*s signature=%132s", s, g), 2, "limits sign: %s", out);
    *signer = strdup(s);
    *sig = strdup(g);
    free(out);
}

/* The EVM address in DIR/NODE.pub (malloc'd). */
static char *node_evm(const char *dir, const char *node)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s.pub", dir, node) > 0);
    json_t *pub = json_load_file(path, 0, NULL);
    cr_assert_not_null(pub, "%s", path);
    char *evm = strdup(json_string_value(json_object_get(pub, "evm")));
    json_decref(pub);
    free(path);
    return evm;
}

Test(vaultload, relayer_limits_sign_gives_node_signatures_the_vault_accepts)
{
    char *dir = tu_tmpdir(), *out = NULL;
    const char *nodes[2] = {"node1", "node2"};
    char *evm[2], *signer[2], *sig[2];
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(tu_run(&out, "%s keygen --out %s --name %s", RELAYER_BIN, dir, nodes[i]), 0, "%s", out);
        free(out);
        evm[i] = node_evm(dir, nodes[i]);
    }
    /* the nodes' vault, 2 of 2, taking the native coin and the token from 1 base unit */
    char *assets = NULL;
    cr_assert(asprintf(&assets, "[%s,%s]", NATIVE, t.token) > 0);
    char *vault = cast_deploy_vault_with(&t.chain, t.deployer, (const char *const *)evm, 2, 2, assets, "[1,1]");
    for (int i = 0; i < 2; i++) {
        relayer_limits_sign(dir, nodes[i], vault, &signer[i], &sig[i]);
        cr_assert_eq(strcasecmp(signer[i], evm[i]), 0, "signer %s, the node's key is %s", signer[i], evm[i]);
    }
    int lo = strcasecmp(signer[0], signer[1]) < 0 ? 0 : 1; /* the vault wants them ascending */
    char *sigs = NULL;
    cr_assert(asprintf(&sigs, "[%s,%s]", sig[lo], sig[1 - lo]) > 0);
    json_decref(cast_send_ok(&t.chain, t.outsider, vault, NULL, VAULT_SET_LIMITS_SIG, assets, "[2000,0]", "2", sigs,
                             NULL));
    cr_assert_eq(cast_call_u64(&t.chain, vault, "minimumDeposit(address)(uint256)", NATIVE, NULL), 2000);
    cr_assert_eq(cast_call_u64(&t.chain, vault, "minimumDeposit(address)(uint256)", t.token, NULL), 0);

    /* assets out of order are refused before anything is signed */
    cr_assert_eq(tu_run(&out, "%s limits sign --key %s/node1.key --chain-id %d --vault %s --version 3 %s=1 %s=1",
                        RELAYER_BIN, dir, CHAIN_ID, vault, t.token, NATIVE),
                 2);
    cr_assert_not_null(strstr(out, "strictly ascending"), "%s", out);
    free(out);
    for (int i = 0; i < 2; i++) {
        free(evm[i]);
        free(signer[i]);
        free(sig[i]);
    }
    free(sigs);
    free(vault);
    free(assets);
    tu_rmdir(dir);
}

/* ---- what the watchers see */

Test(vaultload, the_watchers_scanner_reads_past_deferred_payments_claims_and_limits_without_a_gap)
{
    char *rcpt = hostile(HOSTILE_REVERT);
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "5000", "depositNative(address)", t.trader->address, NULL));
    json_decref(execute(KIND_RELEASE, NATIVE, "4000", rcpt, 1, NULL)); /* Executed + PaymentDeferred */
    cast_vault_set_limits(&t.chain, t.deployer, t.vault, t.signers, 2, "[" NATIVE "]", "[2000]"); /* LimitsSet */
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "setMode(uint8)", HOSTILE_ACCEPT, NULL));
    json_decref(cast_send_ok(&t.chain, t.outsider, rcpt, NULL, "claimFrom(address,address)", t.vault, NATIVE, NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "2000", "depositNative(address)", t.trader->address, NULL));
    anvil_mine(&t.chain, 1);

    rpc *c = NULL;
    scan *s = NULL;
    rl_why why = {{0}};
    const char *urls[] = {t.chain.rpc_url};
    cr_assert_eq(rpc_open(&c, urls, 1, NULL, NULL, &why), RL_OK, "%s", why.text);
    scan_opts o = {.confirmations = 1, .max_range = 1000, .start_block = 0};
    cr_assert_eq(hex_decode(o.vault, RPC_ADDR_BYTES, t.vault, "vault", NULL), RL_OK);
    cr_assert_eq(scan_new(&s, c, &o, NULL, &why), RL_OK, "%s", why.text);
    vault_event_kind want[3] = {VAULT_DEPOSITED, VAULT_EXECUTED, VAULT_DEPOSITED};
    size_t seen = 0;
    bool more = true;
    while (more) {
        scan_batch b;
        cr_assert_eq(scan_step(s, 16, &b, &why), RL_OK, "%s", why.text);
        cr_assert(!b.gap, "a gap at seq %llu", (unsigned long long)b.gap_expected);
        for (size_t i = 0; i < b.n; i++, seen++) {
            cr_assert_lt(seen, 3, "more vault events than the three numbered ones");
            cr_assert_eq(b.ev[i].kind, want[seen], "event %zu is %s", seen, vault_event_name(b.ev[i].kind));
            cr_assert_eq(b.ev[i].seq, seen + 1);
        }
        more = b.more;
        scan_commit(s, &b);
        scan_batch_fini(&b);
    }
    cr_assert_eq(seen, 3);
    cr_assert_eq(scan_get_state(s)->next_seq, 4);
    scan_free(s);
    rpc_close(c);
    free(rcpt);
}
