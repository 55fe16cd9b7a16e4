/*
 * vault_test.c - CollateralVault (bridges/evm/contracts) on a real anvil node, driven only by
 * cast: deposits and their numbered events, execute with a quorum of EIP-712 signatures, every
 * refusal the contract promises, and signer rotation. Each test gets a fresh chain with a fresh
 * vault whose signers are three anvil dev accounts, threshold 2.
 *
 * Signatures come from cast over EIP-712 typed data it hashes itself, so every accepted execute
 * also shows that the contract's digest is the standard one; one test compares the digests
 * outright.
 */
#include <ctype.h>
#include <jansson.h>
#include <strings.h>

#include "attest/hex.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 424242 /* not anvil's default, so the domain's chainId is really the node's */
#define NATIVE "0x0000000000000000000000000000000000000000"
#define ZERO_ADDRESS NATIVE
/* Fresh addresses (no code, no balance) to pay out to, so balances compare exactly. */
#define RECIPIENT "0x000000000000000000000000000000000000bee1"
#define INSURANCE "0x000000000000000000000000000000000000bee2"
#define KIND_RELEASE 1
#define KIND_SEIZE 2
#define DEADLINE_AHEAD_S 3600
#define TOKEN_DECIMALS "6"
#define SIG_BYTES 65

#define INSTRUCTION_TUPLE "(uint8,address,address,uint256,address,uint256,uint256)"
#define EXECUTE_SIG "execute(" INSTRUCTION_TUPLE ",bytes[])"
#define ROTATE_SIG "rotate(address[],uint256,uint256,bytes[])"

/* secp256k1's group order n, big-endian: a signature (r, s) has the twin (r, n - s). */
static const uint8_t SECP256K1_N[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41};

typedef struct instruction {
    unsigned kind;
    const char *account;
    const char *asset;
    const char *amount; /* decimal */
    const char *recipient;
    uint64_t nonce;
    uint64_t deadline;
} instruction;

static struct {
    anvil_node chain;
    const anvil_account *deployer, *trader, *outsider;
    const anvil_account *signers[3]; /* ascending by address */
    char *vault, *token;
} t;

static int by_address(const void *a, const void *b)
{
    return strcmp((*(const anvil_account *const *)a)->address, (*(const anvil_account *const *)b)->address);
}

static void sort_accounts(const anvil_account **v, size_t n)
{
    qsort(v, n, sizeof *v, by_address);
}

/* cast's array literals, "[a,b,c]": list_add grows "[a,b" (NULL at first), list_close ends it. */
static void list_add(char **list, const char *item)
{
    char *next = NULL;
    cr_assert(asprintf(&next, "%s%s%s", *list ? *list : "[", *list ? "," : "", item) > 0);
    free(*list);
    *list = next;
}

static char *list_close(char *list)
{
    char *done = NULL;
    cr_assert(asprintf(&done, "%s]", list ? list : "[") > 0);
    free(list);
    return done;
}

static char *address_list(const anvil_account *const *v, size_t n)
{
    char *list = NULL;
    for (size_t i = 0; i < n; i++)
        list_add(&list, v[i]->address);
    return list_close(list);
}

static char *deploy_vault(const anvil_account *const *set, size_t n, unsigned threshold)
{
    char *list = address_list(set, n);
    char th[12];
    snprintf(th, sizeof th, "%u", threshold);
    char *assets = NULL; /* the native coin and the test token, from 1 base unit */
    cr_assert(asprintf(&assets, "[%s,%s]", NATIVE, t.token) > 0);
    char *vault = cast_deploy(&t.chain, t.deployer, "CollateralVault", VAULT_CTOR_SIG, list, th, assets, "[1,1]", NULL);
    free(assets);
    free(list);
    return vault;
}

static void setup(void)
{
    memset(&t, 0, sizeof t);
    anvil_start(&t.chain, CHAIN_ID, 0);
    t.deployer = &t.chain.dev[0];
    for (int i = 0; i < 3; i++)
        t.signers[i] = &t.chain.dev[1 + i];
    sort_accounts(t.signers, 3);
    t.trader = &t.chain.dev[4];
    t.outsider = &t.chain.dev[5];
    t.token = cast_deploy(&t.chain, t.deployer, "TestToken", "constructor(string,string,uint8)", "Test USD", "TUSD",
                          TOKEN_DECIMALS, NULL);
    t.vault = deploy_vault(t.signers, 3, 2);
}

static void teardown(void)
{
    free(t.vault);
    free(t.token);
    anvil_stop(&t.chain);
}

TestSuite(vault, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers over cast */

static uint64_t vault_u64(const char *sig)
{
    return cast_call_u64(&t.chain, t.vault, sig, NULL);
}

static uint64_t balance_in_vault(const char *account, const char *asset)
{
    return cast_call_u64(&t.chain, t.vault, "balanceOf(address,address)(uint256)", account, asset, NULL);
}

static uint64_t native_balance(const char *who)
{
    return anvil_balance_wei(&t.chain, who);
}

static uint64_t token_balance(const char *who)
{
    return cast_call_u64(&t.chain, t.token, "balanceOf(address)(uint256)", who, NULL);
}

static void deposit_native(const anvil_account *from, const char *account, const char *amount)
{
    json_decref(cast_send_ok(&t.chain, from, t.vault, amount, "depositNative(address)", account, NULL));
}

/* from mints amount tokens to itself, approves the vault and deposits them for account. */
static json_t *deposit_token(const anvil_account *from, const char *account, const char *amount)
{
    json_decref(cast_send_ok(&t.chain, from, t.token, NULL, "mint(address,uint256)", from->address, amount, NULL));
    json_decref(cast_send_ok(&t.chain, from, t.token, NULL, "approve(address,uint256)", t.vault, amount, NULL));
    return cast_send_ok(&t.chain, from, t.vault, NULL, "deposit(address,address,uint256)", t.token, account, amount,
                        NULL);
}

static char *ins_tuple(const instruction *in)
{
    char *s = NULL;
    cr_assert(asprintf(&s, "(%u,%s,%s,%s,%s,%llu,%llu)", in->kind, in->account, in->asset, in->amount, in->recipient,
                       (unsigned long long)in->nonce, (unsigned long long)in->deadline) > 0);
    return s;
}

/* EIP-712 typed data for in, as a wallet would be asked to sign it. */
static char *ins_typed_json(const instruction *in)
{
    return cast_typed_instruction(CHAIN_ID, t.vault, in->kind, in->account, in->asset, in->amount, in->recipient,
                                  in->nonce, in->deadline);
}

static char *sign_ins(const anvil_account *who, const instruction *in)
{
    char *typed = ins_typed_json(in);
    char *sig = cast_sign_typed(who, typed);
    free(typed);
    return sig;
}

/* "[sig,sig,...]": each account in the order given signs in. */
static char *sign_ins_list(const anvil_account *const *who, size_t n, const instruction *in)
{
    char *list = NULL;
    for (size_t i = 0; i < n; i++) {
        char *sig = sign_ins(who[i], in);
        list_add(&list, sig);
        free(sig);
    }
    return list_close(list);
}

static json_t *execute_ok(const instruction *in, const char *sigs)
{
    char *tuple = ins_tuple(in);
    json_t *r = cast_send_ok(&t.chain, t.deployer, t.vault, NULL, EXECUTE_SIG, tuple, sigs, NULL);
    free(tuple);
    return r;
}

static void execute_reverts(const instruction *in, const char *sigs, const char *error_sig)
{
    char *tuple = ins_tuple(in);
    cast_send_reverts(&t.chain, t.deployer, t.vault, NULL, error_sig, EXECUTE_SIG, tuple, sigs, NULL);
    free(tuple);
}

/* Signed by the first two signers (a quorum), submitted by the deployer (anyone may submit). */
static json_t *execute_with_quorum(const instruction *in)
{
    char *sigs = sign_ins_list(t.signers, 2, in);
    json_t *r = execute_ok(in, sigs);
    free(sigs);
    return r;
}

static void quorum_execute_reverts(const instruction *in, const char *error_sig)
{
    char *sigs = sign_ins_list(t.signers, 2, in);
    execute_reverts(in, sigs, error_sig);
    free(sigs);
}

static instruction release_native(const char *amount, uint64_t nonce)
{
    return (instruction){.kind = KIND_RELEASE, .account = t.trader->address, .asset = NATIVE, .amount = amount,
                         .recipient = RECIPIENT, .nonce = nonce,
                         .deadline = anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S};
}

/* ---- event checks */

static char *topic_of_address(const char *addr)
{
    char *s = NULL;
    cr_assert(asprintf(&s, "0x000000000000000000000000%s", addr + 2) > 0);
    return s;
}

static char *topic_of_u64(uint64_t v)
{
    char *s = NULL;
    cr_assert(asprintf(&s, "0x%064llx", (unsigned long long)v) > 0);
    return s;
}

/* The receipt's one log from the vault; checks its event signature and its indexed seq. */
static json_t *vault_log(json_t *receipt, const char *event_sig, uint64_t seq)
{
    json_t *logs = json_object_get(receipt, "logs"), *found = NULL, *l;
    size_t i;
    json_array_foreach(logs, i, l)
    {
        if (strcasecmp(json_string_value(json_object_get(l, "address")), t.vault) == 0) {
            cr_assert_null(found, "more than one vault event in one transaction");
            found = l;
        }
    }
    cr_assert_not_null(found, "no vault event in the receipt");
    json_t *topics = json_object_get(found, "topics");
    char *sig_hash = cast_ok("keccak", event_sig, NULL);
    char *seq_topic = topic_of_u64(seq);
    cr_assert_str_eq(json_string_value(json_array_get(topics, 0)), sig_hash, "%s", event_sig);
    cr_assert_str_eq(json_string_value(json_array_get(topics, 1)), seq_topic, "%s seq", event_sig);
    free(seq_topic);
    free(sig_hash);
    return found;
}

static void check_topic_address(json_t *log, size_t i, const char *addr)
{
    char *want = topic_of_address(addr);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(log, "topics"), i)), want);
    free(want);
}

/* The log's data (its non-indexed fields) equals want, which this frees: cast's ABI encoding of
 * the values, `cast abi-encode "f(TYPES)" VALUES...`. */
static void check_data(json_t *log, char *want)
{
    cr_assert_str_eq(json_string_value(json_object_get(log, "data")), want);
    free(want);
}

static void check_deposited(json_t *receipt, uint64_t seq, const char *account, const char *asset, const char *amount)
{
    json_t *l = vault_log(receipt, "Deposited(uint64,address,address,uint256)", seq);
    check_topic_address(l, 2, account);
    check_topic_address(l, 3, asset);
    check_data(l, cast_ok("abi-encode", "f(uint256)", amount, NULL));
}

/* ---- deployment */

Test(vault, starts_with_the_sorted_signer_set_threshold_two_version_one_and_no_event)
{
    char *want = address_list(t.signers, 3);
    char *got = cast_call(&t.chain, t.vault, "signers()(address[])", NULL);
    /* cast prints EIP-55 checksummed addresses, separated by ", " */
    char *p = got, *q = want;
    for (; *p && *q; p++) {
        if (*p == ' ')
            continue;
        cr_assert_eq(tolower((unsigned char)*p), *q, "signers() = %s, want %s", got, want);
        q++;
    }
    cr_assert(*p == '\0' && *q == '\0', "signers() = %s, want %s", got, want);
    free(got);
    free(want);
    cr_assert_eq(vault_u64("threshold()(uint256)"), 2);
    cr_assert_eq(vault_u64("setVersion()(uint256)"), 1);
    cr_assert_eq(vault_u64("eventSeq()(uint64)"), 0);
}

Test(vault, constructor_refuses_unsorted_duplicate_or_zero_signers_and_a_bad_threshold)
{
    const anvil_account *desc[2] = {t.signers[1], t.signers[0]};
    const anvil_account *dup[2] = {t.signers[0], t.signers[0]};
    char *l_desc = address_list(desc, 2), *l_dup = address_list(dup, 2), *l_ok = address_list(t.signers, 3);
    char *l_zero = NULL;
    cr_assert(asprintf(&l_zero, "[%s,%s]", ZERO_ADDRESS, t.signers[0]->address) > 0);
    const char *ctor = VAULT_CTOR_SIG, *a = VAULT_NATIVE_ONLY_ASSETS, *m = VAULT_NATIVE_ONLY_MINIMUMS;
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "SignersNotAscending()", ctor, l_desc, "1", a, m,
                        NULL);
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "SignersNotAscending()", ctor, l_dup, "1", a, m,
                        NULL);
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "ZeroSigner()", ctor, l_zero, "1", a, m, NULL);
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "EmptySignerSet()", ctor, "[]", "1", a, m, NULL);
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "BadThreshold(uint256,uint256)", ctor, l_ok, "0", a,
                        m, NULL);
    cast_deploy_reverts(&t.chain, t.deployer, "CollateralVault", "BadThreshold(uint256,uint256)", ctor, l_ok, "4", a,
                        m, NULL);
    free(l_desc);
    free(l_dup);
    free(l_ok);
    free(l_zero);
}

Test(vault, chainlinks_mock_aggregator_from_npm_deploys_and_answers)
{
    char *feed = cast_deploy(&t.chain, t.deployer, "MockV3Aggregator", "constructor(uint8,int256)", "8",
                             "200000000000", NULL);
    cr_assert_eq(cast_call_u64(&t.chain, feed, "decimals()(uint8)", NULL), 8);
    cr_assert_eq(cast_call_u64(&t.chain, feed, "latestAnswer()(int256)", NULL), 200000000000ULL);
    json_decref(cast_send_ok(&t.chain, t.deployer, feed, NULL, "updateAnswer(int256)", "190000000000", NULL));
    char *round = cast_call(&t.chain, feed, "latestRoundData()(uint80,int256,uint256,uint256,uint80)", NULL);
    cr_assert(strncmp(round, "2\n190000000000", 14) == 0, "latestRoundData: %s", round);
    free(round);
    free(feed);
}

/* ---- deposits */

Test(vault, native_and_token_deposits_emit_deposited_numbered_1_2_3_and_credit_the_account)
{
    json_t *r = cast_send_ok(&t.chain, t.trader, t.vault, "1000", "depositNative(address)", t.trader->address, NULL);
    check_deposited(r, 1, t.trader->address, NATIVE, "1000");
    json_decref(r);

    r = deposit_token(t.trader, t.trader->address, "2500000");
    check_deposited(r, 2, t.trader->address, t.token, "2500000");
    json_decref(r);

    /* Anyone may deposit for any account. */
    r = cast_send_ok(&t.chain, t.deployer, t.vault, "7", "depositNative(address)", t.outsider->address, NULL);
    check_deposited(r, 3, t.outsider->address, NATIVE, "7");
    json_decref(r);

    cr_assert_eq(vault_u64("eventSeq()(uint64)"), 3);
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 1000);
    cr_assert_eq(balance_in_vault(t.trader->address, t.token), 2500000);
    cr_assert_eq(balance_in_vault(t.outsider->address, NATIVE), 7);
    cr_assert_eq(balance_in_vault(t.outsider->address, t.token), 0);
    cr_assert_eq(native_balance(t.vault), 1007);
    cr_assert_eq(token_balance(t.vault), 2500000);
}

Test(vault, deposits_refuse_zero_amounts_the_zero_account_and_native_as_a_token)
{
    cast_send_reverts(&t.chain, t.trader, t.vault, "0", "ZeroAmount()", "depositNative(address)", t.trader->address,
                      NULL);
    cast_send_reverts(&t.chain, t.trader, t.vault, "5", "ZeroAccount()", "depositNative(address)", ZERO_ADDRESS,
                      NULL);
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "mint(address,uint256)", t.trader->address, "10",
                             NULL));
    json_decref(cast_send_ok(&t.chain, t.trader, t.token, NULL, "approve(address,uint256)", t.vault, "10", NULL));
    const char *dep = "deposit(address,address,uint256)";
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "ZeroAmount()", dep, t.token, t.trader->address, "0", NULL);
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "ZeroAccount()", dep, t.token, ZERO_ADDRESS, "10", NULL);
    cast_send_reverts(&t.chain, t.trader, t.vault, NULL, "NativeAssetNotAToken()", dep, NATIVE, t.trader->address,
                      "10", NULL);
    /* Plain ether sent without depositNative is refused too: nothing arrives uncredited. */
    char *err = NULL;
    cr_assert_neq(cast_send(&t.chain, t.trader, t.vault, "5", NULL, &err, NULL, NULL), 0);
    free(err);
    cr_assert_eq(vault_u64("eventSeq()(uint64)"), 0);
    cr_assert_eq(native_balance(t.vault), 0);
}

/* ---- the digest */

static char *keccak_of(const char *s)
{
    return cast_ok("keccak", s, NULL);
}

Test(vault, instruction_digest_equals_an_eip712_digest_computed_independently)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("400", 77);
    char *tuple = ins_tuple(&in);
    char *digest = cast_call(&t.chain, t.vault, "instructionDigest(" INSTRUCTION_TUPLE ")(bytes32)", tuple, NULL);
    char *domain = cast_call(&t.chain, t.vault, "domainSeparator()(bytes32)", NULL);

    /* 1. By hand from the EIP-712 definitions, with cast's keccak and ABI encoder. */
    char *domain_typehash =
        keccak_of("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    char *name_hash = keccak_of("CollateralVault"), *version_hash = keccak_of("1");
    char chain[24];
    snprintf(chain, sizeof chain, "%d", CHAIN_ID);
    char *domain_enc = cast_ok("abi-encode", "f(bytes32,bytes32,bytes32,uint256,address)", domain_typehash,
                               name_hash, version_hash, chain, t.vault, NULL);
    char *domain_mine = keccak_of(domain_enc);
    cr_assert_str_eq(domain, domain_mine, "domainSeparator");

    char *typehash = keccak_of("Instruction(uint8 kind,address account,address asset,uint256 amount,"
                               "address recipient,uint256 nonce,uint256 deadline)");
    char nonce[24], deadline[24], kind[8];
    snprintf(kind, sizeof kind, "%u", in.kind);
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)in.nonce);
    snprintf(deadline, sizeof deadline, "%llu", (unsigned long long)in.deadline);
    char *struct_enc =
        cast_ok("abi-encode", "f(bytes32,uint8,address,address,uint256,address,uint256,uint256)", typehash, kind,
                in.account, in.asset, in.amount, in.recipient, nonce, deadline, NULL);
    char *struct_hash = keccak_of(struct_enc);
    char *pre = NULL;
    cr_assert(asprintf(&pre, "0x1901%s%s", domain_mine + 2, struct_hash + 2) > 0);
    char *digest_mine = keccak_of(pre);
    cr_assert_str_eq(digest, digest_mine, "instructionDigest");

    /* 2. cast's own EIP-712 (typed data JSON) signs the same digest: signatures are deterministic
     * (RFC 6979), so equal signatures mean equal digests. */
    char *typed = ins_typed_json(&in);
    char *sig_typed = cast_sign_typed(t.signers[0], typed);
    char *sig_digest = cast_sign_digest(t.signers[0], digest);
    cr_assert_str_eq(sig_typed, sig_digest);

    free(sig_digest);
    free(sig_typed);
    free(typed);
    free(digest_mine);
    free(pre);
    free(struct_hash);
    free(struct_enc);
    free(typehash);
    free(domain_mine);
    free(domain_enc);
    free(name_hash);
    free(version_hash);
    free(domain_typehash);
    free(domain);
    free(digest);
    free(tuple);
}

/* ---- execute */

Test(vault, a_release_with_two_signatures_pays_the_recipient_debits_and_emits_executed)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("400", 1);
    json_t *r = execute_with_quorum(&in);

    json_t *l = vault_log(r, "Executed(uint64,uint8,address,address,uint256,address,uint256)", 2);
    check_topic_address(l, 2, t.trader->address);
    check_topic_address(l, 3, NATIVE);
    check_data(l, cast_ok("abi-encode", "f(uint8,uint256,address,uint256)", "1", "400", RECIPIENT, "1", NULL));
    json_decref(r);

    cr_assert_eq(native_balance(RECIPIENT), 400);
    cr_assert_eq(native_balance(t.vault), 600);
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 600);
    cr_assert_eq(vault_u64("eventSeq()(uint64)"), 2);
    char *used = cast_call(&t.chain, t.vault, "nonceUsed(uint256)(bool)", "1", NULL);
    cr_assert_str_eq(used, "true");
    free(used);
}

Test(vault, a_seize_of_tokens_with_all_three_signatures_pays_the_insurance_address)
{
    json_decref(deposit_token(t.trader, t.trader->address, "5000000"));
    instruction in = {.kind = KIND_SEIZE, .account = t.trader->address, .asset = t.token, .amount = "5000000",
                      .recipient = INSURANCE, .nonce = 9, .deadline = anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S};
    char *sigs = sign_ins_list(t.signers, 3, &in); /* more than the threshold is fine */
    json_t *r = execute_ok(&in, sigs);
    json_t *l = vault_log(r, "Executed(uint64,uint8,address,address,uint256,address,uint256)", 2);
    check_topic_address(l, 3, t.token);
    check_data(l, cast_ok("abi-encode", "f(uint8,uint256,address,uint256)", "2", "5000000", INSURANCE, "9", NULL));
    json_decref(r);
    free(sigs);
    cr_assert_eq(token_balance(INSURANCE), 5000000);
    cr_assert_eq(token_balance(t.vault), 0);
    cr_assert_eq(balance_in_vault(t.trader->address, t.token), 0);
}

Test(vault, refuses_an_instruction_after_its_deadline_but_not_at_it)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    in.deadline = anvil_timestamp(&t.chain) + 60;
    char *sigs = sign_ins_list(t.signers, 2, &in);
    free(cast_rpc(&t.chain, "evm_increaseTime", "61", NULL));
    free(cast_rpc(&t.chain, "evm_mine", NULL));
    cr_assert_gt(anvil_timestamp(&t.chain), in.deadline);
    execute_reverts(&in, sigs, "DeadlinePassed(uint256,uint256)");
    free(sigs);

    /* and one whose deadline was already behind the chain when signed */
    in.nonce = 2;
    in.deadline = anvil_timestamp(&t.chain) - 1;
    quorum_execute_reverts(&in, "DeadlinePassed(uint256,uint256)");
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 1000);

    /* in a block stamped exactly at the deadline it still executes */
    in.nonce = 3;
    in.deadline = anvil_timestamp(&t.chain) + 100;
    char at[24];
    snprintf(at, sizeof at, "%llu", (unsigned long long)in.deadline);
    free(cast_rpc(&t.chain, "evm_setNextBlockTimestamp", at, NULL));
    json_decref(execute_with_quorum(&in));
    cr_assert_eq(anvil_timestamp(&t.chain), in.deadline);
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 999);
}

Test(vault, refuses_a_nonce_already_used_whatever_the_kind_or_amount)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("100", 5);
    json_decref(execute_with_quorum(&in));
    /* the very same bundle again */
    quorum_execute_reverts(&in, "NonceUsed(uint256)");
    /* a different instruction under the same nonce */
    in.amount = "1";
    in.kind = KIND_SEIZE;
    in.recipient = INSURANCE;
    quorum_execute_reverts(&in, "NonceUsed(uint256)");
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 900);
}

Test(vault, refuses_an_amount_above_the_accounts_balance)
{
    deposit_native(t.trader, t.trader->address, "1000");
    deposit_native(t.outsider, t.outsider->address, "5000"); /* another account's funds are not his */
    instruction in = release_native("1001", 1);
    quorum_execute_reverts(&in, "InsufficientBalance(uint256,uint256)");
    in.asset = t.token; /* an asset the account never deposited */
    in.amount = "1";
    quorum_execute_reverts(&in, "InsufficientBalance(uint256,uint256)");
    char *used = cast_call(&t.chain, t.vault, "nonceUsed(uint256)(bool)", "1", NULL);
    cr_assert_str_eq(used, "false");
    free(used);
    in = release_native("1000", 1); /* all of it is fine */
    json_decref(execute_with_quorum(&in));
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 0);
}

Test(vault, refuses_fewer_signatures_than_the_threshold)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    char *one = sign_ins_list(t.signers, 1, &in);
    execute_reverts(&in, one, "NotEnoughSigners(uint256,uint256)");
    execute_reverts(&in, "[]", "NotEnoughSigners(uint256,uint256)");
    free(one);
}

Test(vault, refuses_signatures_out_of_order_or_twice_from_one_signer)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    const anvil_account *desc[2] = {t.signers[1], t.signers[0]};
    const anvil_account *twice[2] = {t.signers[2], t.signers[2]};
    char *s_desc = sign_ins_list(desc, 2, &in), *s_twice = sign_ins_list(twice, 2, &in);
    execute_reverts(&in, s_desc, "SignersNotAscending()");
    execute_reverts(&in, s_twice, "SignersNotAscending()");
    free(s_desc);
    free(s_twice);
}

Test(vault, refuses_a_signature_from_outside_the_signer_set)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    const anvil_account *pair[2] = {t.signers[0], t.outsider};
    sort_accounts(pair, 2);
    char *sigs = sign_ins_list(pair, 2, &in);
    execute_reverts(&in, sigs, "UnknownSigner(address)");
    free(sigs);
}

/* "[good,bad]" where bad is sig as bytes, after edit(bytes) */
static char *with_second(const char *good, const uint8_t *bad, size_t bad_len)
{
    char hex[2 * SIG_BYTES + 8];
    cr_assert(bad_len <= SIG_BYTES);
    hex_encode_0x(hex, bad, bad_len);
    char *s = NULL;
    cr_assert(asprintf(&s, "[%s,%s]", good, hex) > 0);
    return s;
}

/* A funded account and a release of 1 wei for it; *good is the first signer's signature, sig
 * the second signer's as bytes, for the test to tamper with. */
static instruction signed_pair(char **good, uint8_t sig[SIG_BYTES])
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    *good = sign_ins(t.signers[0], &in);
    char *second = sign_ins(t.signers[1], &in);
    cr_assert_eq(hex_decode(sig, SIG_BYTES, second, "signature", NULL), RL_OK);
    free(second);
    return in;
}

Test(vault, refuses_malformed_and_corrupted_signatures)
{
    char *good = NULL;
    uint8_t sig[SIG_BYTES], bad[SIG_BYTES];
    instruction in = signed_pair(&good, sig);

    char *list = with_second(good, sig, SIG_BYTES - 1); /* 64 bytes */
    execute_reverts(&in, list, "BadSignatureLength(uint256,uint256)");
    free(list);

    memcpy(bad, sig, SIG_BYTES);
    bad[64] = (uint8_t)(sig[64] - 27); /* v as 0/1 instead of 27/28 */
    list = with_second(good, bad, SIG_BYTES);
    execute_reverts(&in, list, "BadSignatureV(uint256,uint8)");
    free(list);

    memcpy(bad, sig, SIG_BYTES);
    memset(bad, 0, 32); /* r = 0: ecrecover finds no key */
    list = with_second(good, bad, SIG_BYTES);
    execute_reverts(&in, list, "BadSignature(uint256)");
    free(list);

    memcpy(bad, sig, SIG_BYTES);
    bad[40] ^= 0x01; /* a flipped bit in s recovers some other key: never a member */
    list = with_second(good, bad, SIG_BYTES);
    char *err = NULL, *tuple = ins_tuple(&in);
    cr_assert_neq(cast_send(&t.chain, t.deployer, t.vault, NULL, NULL, &err, EXECUTE_SIG, tuple, list, NULL), 0);
    cr_assert_not_null(strstr(err, "revert"), "%s", err);
    free(err);
    free(tuple);
    free(list);

    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 1000);
    free(good);
}

Test(vault, refuses_the_high_s_twin_of_a_valid_signature)
{
    char *good = NULL;
    uint8_t sig[SIG_BYTES];
    instruction in = signed_pair(&good, sig);
    /* (r, n - s, v ^ 1) recovers the same key under plain ecrecover; EIP-2 forbids it. */
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)SECP256K1_N[i] - (int)sig[32 + i] - (int)borrow;
        borrow = d < 0;
        sig[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    cr_assert_eq(borrow, 0);
    sig[64] = sig[64] == 27 ? 28 : 27;
    char *list = with_second(good, sig, SIG_BYTES);
    execute_reverts(&in, list, "SignatureHighS(uint256)");
    free(list);
    free(good);
}

Test(vault, refuses_the_zero_recipient_and_unknown_kinds)
{
    deposit_native(t.trader, t.trader->address, "1000");
    instruction in = release_native("1", 1);
    in.recipient = ZERO_ADDRESS;
    quorum_execute_reverts(&in, "ZeroRecipient()");
    in = release_native("1", 1);
    in.kind = 0;
    quorum_execute_reverts(&in, "UnknownKind(uint8)");
    in.kind = 3;
    quorum_execute_reverts(&in, "UnknownKind(uint8)");
    cr_assert_eq(balance_in_vault(t.trader->address, NATIVE), 1000);
}

/* ---- rotation */

static char *rotate_typed_json(const char *signers_json_array, unsigned threshold, unsigned version)
{
    json_error_t je;
    json_t *arr = json_loads(signers_json_array, 0, &je);
    cr_assert_not_null(arr, "%s", je.text);
    char th[12], ver[12];
    snprintf(th, sizeof th, "%u", threshold);
    snprintf(ver, sizeof ver, "%u", version);
    json_t *fields = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name", "signers", "type", "address[]", "name",
                               "threshold", "type", "uint256", "name", "version", "type", "uint256");
    json_t *message = json_pack("{s:o, s:s, s:s}", "signers", arr, "threshold", th, "version", ver);
    return cast_typed_vault(CHAIN_ID, t.vault, "Rotate", fields, message);
}

/* "[sig,...]" by `who` over Rotate(set, threshold, version). */
static char *sign_rotate(const anvil_account *const *who, size_t nwho, const anvil_account *const *set, size_t nset,
                         unsigned threshold, unsigned version)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < nset; i++)
        json_array_append_new(arr, json_string(set[i]->address));
    char *arr_s = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    char *typed = rotate_typed_json(arr_s, threshold, version);
    free(arr_s);
    char *list = NULL;
    for (size_t i = 0; i < nwho; i++) {
        char *sig = cast_sign_typed(who[i], typed);
        list_add(&list, sig);
        free(sig);
    }
    free(typed);
    return list_close(list);
}

static json_t *rotate(const anvil_account *const *who, size_t nwho, const anvil_account *const *set, size_t nset,
                      unsigned threshold, unsigned version, const char *error_sig)
{
    char *sigs = sign_rotate(who, nwho, set, nset, threshold, version);
    char *list = address_list(set, nset);
    char th[12], ver[12];
    snprintf(th, sizeof th, "%u", threshold);
    snprintf(ver, sizeof ver, "%u", version);
    json_t *r = NULL;
    if (error_sig == NULL)
        r = cast_send_ok(&t.chain, t.deployer, t.vault, NULL, ROTATE_SIG, list, th, ver, sigs, NULL);
    else
        cast_send_reverts(&t.chain, t.deployer, t.vault, NULL, error_sig, ROTATE_SIG, list, th, ver, sigs, NULL);
    free(list);
    free(sigs);
    return r;
}

Test(vault, a_rotation_approved_by_a_quorum_installs_the_new_set_and_retires_the_old_one)
{
    deposit_native(t.trader, t.trader->address, "1000"); /* seq 1 */
    const anvil_account *next[3] = {&t.chain.dev[6], &t.chain.dev[7], &t.chain.dev[8]};
    sort_accounts(next, 3);
    json_t *r = rotate(t.signers, 2, next, 3, 3, 2, NULL);
    json_t *l = vault_log(r, "SignersRotated(uint64,uint256,address[],uint256)", 2);
    char *list = address_list(next, 3);
    check_data(l, cast_ok("abi-encode", "f(uint256,address[],uint256)", "2", list, "3", NULL));
    free(list);
    json_decref(r);
    cr_assert_eq(vault_u64("setVersion()(uint256)"), 2);
    cr_assert_eq(vault_u64("threshold()(uint256)"), 3);

    /* the old set can no longer move funds, nor rotate again */
    instruction in = release_native("10", 1);
    char *old = sign_ins_list(t.signers, 3, &in);
    execute_reverts(&in, old, "UnknownSigner(address)");
    free(old);
    rotate(t.signers, 3, t.signers, 3, 2, 3, "UnknownSigner(address)");

    /* the new set can, with its own threshold of 3 */
    char *two = sign_ins_list(next, 2, &in);
    execute_reverts(&in, two, "NotEnoughSigners(uint256,uint256)");
    free(two);
    char *three = sign_ins_list(next, 3, &in);
    r = execute_ok(&in, three);
    vault_log(r, "Executed(uint64,uint8,address,address,uint256,address,uint256)", 3);
    json_decref(r);
    free(three);
    cr_assert_eq(native_balance(RECIPIENT), 10);
}

Test(vault, a_rotation_with_a_wrong_version_too_few_signatures_or_a_bad_new_set_is_refused)
{
    const anvil_account *next[2] = {&t.chain.dev[6], &t.chain.dev[7]};
    sort_accounts(next, 2);
    rotate(t.signers, 2, next, 2, 2, 1, "BadVersion(uint256,uint256)"); /* the current version */
    rotate(t.signers, 2, next, 2, 2, 3, "BadVersion(uint256,uint256)"); /* skips one */
    rotate(t.signers, 1, next, 2, 2, 2, "NotEnoughSigners(uint256,uint256)");
    const anvil_account *desc[2] = {next[1], next[0]};
    rotate(t.signers, 2, desc, 2, 2, 2, "SignersNotAscending()");
    rotate(t.signers, 2, next, 2, 3, 2, "BadThreshold(uint256,uint256)");
    rotate(t.signers, 2, next, 2, 0, 2, "BadThreshold(uint256,uint256)");
    /* signatures over one set do not install another */
    char *sigs = sign_rotate(t.signers, 2, next, 2, 2, 2);
    const anvil_account *other[2] = {t.signers[0], next[0]};
    sort_accounts(other, 2);
    char *list = address_list(other, 2);
    /* (they recover to unrelated addresses: out of order or unknown, refused either way) */
    char *err = NULL;
    cr_assert_neq(cast_send(&t.chain, t.deployer, t.vault, NULL, NULL, &err, ROTATE_SIG, list, "2", "2", sigs, NULL),
                  0);
    cr_assert_not_null(strstr(err, "revert"), "%s", err);
    free(err);
    free(list);
    free(sigs);
    cr_assert_eq(vault_u64("setVersion()(uint256)"), 1);
    cr_assert_eq(vault_u64("eventSeq()(uint64)"), 0);
}
