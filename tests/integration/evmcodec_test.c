/*
 * evmcodec_test.c - the relayer's own EVM encoders and signer (abi.h, eip712.h, attest/keys.h,
 * tx.h) against cast, an independent implementation, and against a deployed CollateralVault on
 * anvil: calldata byte for byte with `cast calldata`, digests equal to the vault's own
 * instructionDigest / rotateDigest / limitsDigest / domainSeparator, signatures equal to cast's
 * over the digest and over EIP-712 typed data (RFC 6979 makes both deterministic), a raw
 * transaction equal to `cast mktx`, and that transaction accepted by the node and executing a
 * 2-of-3 bundle signed by our code.
 */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>

#include "attest/eip712.h"
#include "attest/hex.h"
#include "bridges/evm/abi.h"
#include "bridges/evm/rpceth.h"
#include "bridges/evm/tx.h"
#include "tests/evm_harness.h"
#include "tests/testutil.h"

#define CHAIN_ID 424242
#define NATIVE "0x0000000000000000000000000000000000000000"
#define RECIPIENT "0x000000000000000000000000000000000000bee1"
#define DEADLINE_AHEAD_S 3600
#define INSTRUCTION_TUPLE "(uint8,address,address,uint256,address,uint256,uint256)"

static struct {
    anvil_node chain;
    const anvil_account *signers[3]; /* ascending by address */
    const anvil_account *trader, *submitter;
    char *vault;
} t;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    memset(&t, 0, sizeof t);
    anvil_start(&t.chain, CHAIN_ID, 0);
    t.trader = &t.chain.dev[4];
    t.submitter = &t.chain.dev[5];
    t.vault = cast_deploy_vault(&t.chain, &t.chain.dev[0], 1, 3, 2, t.signers);
}

static void teardown(void)
{
    free(t.vault);
    anvil_stop(&t.chain);
}

TestSuite(evmcodec_cast, .init = setup, .fini = teardown, .timeout = 60);

static void addr_of(uint8_t out[20], const char *hex)
{
    cr_assert_eq(hex_decode(out, 20, hex, "address", NULL), RL_OK, "%s", hex);
}

static void secret_of(uint8_t out[32], const anvil_account *a)
{
    cr_assert_eq(hex_decode(out, 32, a->key, "key", NULL), RL_OK);
}

/* "0x" + lowercase hex of b (malloc'd). */
static char *hex0x(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 3);
    cr_assert_not_null(s);
    return hex_encode_0x(s, b, n);
}

static void assert_hex_eq(const uint8_t *ours, size_t n, const char *theirs, const char *what)
{
    char *mine = hex0x(ours, n);
    char *low = strdup(theirs);
    cr_assert_not_null(low);
    for (char *c = low; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    cr_assert_str_eq(mine, low, "%s differs from cast's", what);
    free(low);
    free(mine);
}

/* A release of `amount` wei of the native coin from the trader to RECIPIENT, and its tuple. */
static vault_instruction release(uint64_t amount, uint64_t nonce, char **tuple)
{
    vault_instruction in = {.kind = VAULT_KIND_RELEASE, .amount = u256_from_u64(amount),
                            .nonce = u256_from_u64(nonce),
                            .deadline = u256_from_u64(anvil_timestamp(&t.chain) + DEADLINE_AHEAD_S)};
    addr_of(in.account, t.trader->address);
    addr_of(in.recipient, RECIPIENT);
    cr_assert(asprintf(tuple, "(1,%s,%s,%llu,%s,%llu,%llu)", t.trader->address, NATIVE, (unsigned long long)amount,
                       RECIPIENT, (unsigned long long)nonce, (unsigned long long)in.deadline.w[0]) > 0);
    return in;
}

/* Our signatures of digest by the first n signers, and cast's list literal of them. */
static char *sign_by_signers(const uint8_t digest[32], size_t n, uint8_t (*sigs)[EVM_SIG_BYTES])
{
    char *list = strdup("[");
    cr_assert_not_null(list);
    for (size_t i = 0; i < n; i++) {
        uint8_t sk[32];
        secret_of(sk, t.signers[i]);
        cr_assert_eq(evm_sign_digest(sigs[i], digest, sk), RL_OK);
        char *h = hex0x(sigs[i], EVM_SIG_BYTES), *next = NULL;
        cr_assert(asprintf(&next, "%s%s%s", list, i ? "," : "", h) > 0);
        free(list);
        free(h);
        list = next;
    }
    char *done = NULL;
    cr_assert(asprintf(&done, "%s]", list) > 0);
    free(list);
    return done;
}

Test(evmcodec_cast, digests_equal_the_vaults_and_signatures_equal_casts)
{
    uint8_t vault[20], dom[32], digest[32];
    addr_of(vault, t.vault);
    eip712_vault_domain(dom, CHAIN_ID, vault);
    char *theirs = cast_call(&t.chain, t.vault, "domainSeparator()(bytes32)", NULL);
    assert_hex_eq(dom, 32, theirs, "domain separator");
    free(theirs);

    char *tuple;
    vault_instruction in = release(400, 1, &tuple);
    eip712_instruction_digest(digest, dom, &in);
    theirs = cast_call(&t.chain, t.vault, "instructionDigest(" INSTRUCTION_TUPLE ")(bytes32)", tuple, NULL);
    assert_hex_eq(digest, 32, theirs, "instruction digest");
    free(theirs);

    /* our RFC 6979 signature over the digest is cast's, byte for byte, and cast's signature over
     * the typed data (hashed by its own EIP-712 code) is the same again */
    char *digest_hex = hex0x(digest, 32);
    char *typed_text = cast_typed_instruction(CHAIN_ID, t.vault, 1, t.trader->address, NATIVE, "400", RECIPIENT,
                                              in.nonce.w[0], in.deadline.w[0]);
    for (int i = 0; i < 3; i++) {
        uint8_t sk[32], sig[EVM_SIG_BYTES], who[20], want[20];
        secret_of(sk, t.signers[i]);
        cr_assert_eq(evm_sign_digest(sig, digest, sk), RL_OK);
        char *by_digest = cast_sign_digest(t.signers[i], digest_hex);
        char *by_typed = cast_sign_typed(t.signers[i], typed_text);
        assert_hex_eq(sig, EVM_SIG_BYTES, by_digest, "signature over the digest");
        assert_hex_eq(sig, EVM_SIG_BYTES, by_typed, "signature over the typed data");
        cr_assert_eq(evm_recover(who, digest, sig), RL_OK);
        addr_of(want, t.signers[i]->address);
        cr_assert_eq(memcmp(who, want, 20), 0);
        free(by_digest);
        free(by_typed);
    }
    free(typed_text);
    free(digest_hex);

    /* rotation: the digest of a new set, threshold and version */
    uint8_t set[3][20];
    for (int i = 0; i < 3; i++)
        addr_of(set[i], t.chain.dev[6 + i].address);
    u256 th = u256_from_u64(2), ver = u256_from_u64(2);
    cr_assert_eq(eip712_rotate_digest(digest, dom, (const uint8_t(*)[20])set, 3, &th, &ver), RL_OK);
    char list[3 * 43 + 4];
    snprintf(list, sizeof list, "[%s,%s,%s]", t.chain.dev[6].address, t.chain.dev[7].address,
             t.chain.dev[8].address);
    theirs = cast_call(&t.chain, t.vault, "rotateDigest(address[],uint256,uint256)(bytes32)", list, "2", "2", NULL);
    assert_hex_eq(digest, 32, theirs, "rotate digest");
    free(theirs);

    /* deposit limits: the native coin and an asset, a large minimum and a zero (delisted) one */
    uint8_t assets[2][20] = {{0}};
    addr_of(assets[1], t.chain.dev[9].address);
    u256 mins[2] = {u256_from_u64(1000000000000000ULL), u256_zero()}, lver = u256_from_u64(7);
    cr_assert_eq(eip712_limits_digest(digest, dom, (const uint8_t(*)[20])assets, mins, 2, &lver), RL_OK);
    snprintf(list, sizeof list, "[0x0000000000000000000000000000000000000000,%s]", t.chain.dev[9].address);
    theirs = cast_call(&t.chain, t.vault, "limitsDigest(address[],uint256[],uint256)(bytes32)", list,
                       "[1000000000000000,0]", "7", NULL);
    assert_hex_eq(digest, 32, theirs, "limits digest");
    free(theirs);
    free(tuple);
}

Test(evmcodec_cast, calldata_equals_cast_calldata_byte_for_byte)
{
    char *tuple;
    vault_instruction in = release(123456789, 77, &tuple);
    in.amount.w[3] = 0x0102030405060708ULL; /* a uint256 that needs all its words */
    free(tuple);
    char big[U256_DEC_MAX];
    cr_assert(asprintf(&tuple, "(1,%s,%s,%s,%s,77,%llu)", t.trader->address, NATIVE, u256_to_dec(&in.amount, big),
                       RECIPIENT, (unsigned long long)in.deadline.w[0]) > 0);
    uint8_t digest[32] = {7}, sigs[3][EVM_SIG_BYTES];
    for (size_t n = 0; n <= 3; n++) {
        char *list = sign_by_signers(digest, n, sigs);
        uint8_t *cd;
        size_t len;
        cr_assert_eq(abi_execute_calldata(&in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, n, &cd, &len, NULL), RL_OK);
        char *theirs = cast_ok("calldata", VAULT_EXECUTE_SIG, tuple, list, NULL);
        assert_hex_eq(cd, len, theirs, "execute calldata");
        free(theirs);
        free(cd);

        uint8_t set[3][20];
        for (size_t i = 0; i < 3; i++)
            addr_of(set[i], t.signers[i]->address);
        char setlist[3 * 43 + 4];
        snprintf(setlist, sizeof setlist, "[%s,%s,%s]", t.signers[0]->address, t.signers[1]->address,
                 t.signers[2]->address);
        u256 th = u256_from_u64(2), ver = u256_from_u64(9);
        cr_assert_eq(abi_rotate_calldata((const uint8_t(*)[20])set, 3, &th, &ver,
                                         (const uint8_t(*)[EVM_SIG_BYTES])sigs, n, &cd, &len, NULL),
                     RL_OK);
        theirs = cast_ok("calldata", VAULT_ROTATE_SIG, setlist, "2", "9", list, NULL);
        assert_hex_eq(cd, len, theirs, "rotate calldata");
        free(theirs);
        free(cd);
        free(list);
    }
    free(tuple);
}

static rpc *open_rpc(void)
{
    const char *urls[] = {t.chain.rpc_url};
    rpc *c;
    rl_why why = {{0}};
    cr_assert_eq(rpc_open(&c, urls, 1, NULL, NULL, &why), RL_OK, "%s", why.text);
    return c;
}

Test(evmcodec_cast, our_raw_transaction_equals_cast_mktx_and_executes_a_bundle_we_signed)
{
    json_decref(cast_send_ok(&t.chain, t.trader, t.vault, "1000", "depositNative(address)", t.trader->address, NULL));
    char *tuple;
    vault_instruction in = release(400, 1, &tuple);
    free(tuple);
    uint8_t vault[20], dom[32], digest[32], sigs[2][EVM_SIG_BYTES];
    addr_of(vault, t.vault);
    eip712_vault_domain(dom, CHAIN_ID, vault);
    eip712_instruction_digest(digest, dom, &in);
    free(sign_by_signers(digest, 2, sigs)); /* 2 of 3, ascending */
    uint8_t *cd;
    size_t cd_len;
    cr_assert_eq(abi_execute_calldata(&in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &cd, &cd_len, NULL), RL_OK);

    rpc *c = open_rpc();
    rl_why why = {{0}};
    uint8_t sk[32], from[20];
    secret_of(sk, t.submitter);
    addr_of(from, t.submitter->address);
    evm_key *key;
    cr_assert_eq(evm_key_from_secret(&key, sk, &why), RL_OK);
    cr_assert_eq(memcmp(evm_key_address(key), from, 20), 0);
    uint64_t nonce, gas;
    cr_assert_eq(rpc_eth_get_tx_count(c, from, rpc_block_tag(RPC_PENDING), &nonce, &why), RL_OK, "%s", why.text);
    rpc_callmsg m = {.from = from, .to = vault, .data = cd, .data_len = cd_len};
    cr_assert_eq(rpc_eth_estimate_gas(c, &m, &gas, &why), RL_OK, "%s", why.text);
    evm_tx tx = {.chain_id = CHAIN_ID, .nonce = nonce, .max_priority_fee_wei = u256_from_u64(2000000000),
                 .max_fee_wei = u256_from_u64(30000000000ULL), .gas_limit = gas + gas / 5, .has_to = true,
                 .data = cd, .data_len = cd_len};
    memcpy(tx.to, vault, 20);
    uint8_t *raw, hash[32], node_hash[32];
    size_t raw_len;
    cr_assert_eq(tx_sign(&tx, key, &raw, &raw_len, hash, &why), RL_OK, "%s", why.text);

    char chain[24], n_s[24], gas_s[24];
    snprintf(chain, sizeof chain, "%d", CHAIN_ID);
    snprintf(n_s, sizeof n_s, "%llu", (unsigned long long)nonce);
    snprintf(gas_s, sizeof gas_s, "%llu", (unsigned long long)tx.gas_limit);
    char *cd_hex = hex0x(cd, cd_len);
    char *theirs = cast_ok("mktx", "--private-key", t.submitter->key, "--chain", chain, "--nonce", n_s, "--gas-limit",
                           gas_s, "--gas-price", "30000000000", "--priority-gas-price", "2000000000", t.vault, cd_hex,
                           NULL);
    assert_hex_eq(raw, raw_len, theirs, "raw transaction");
    free(theirs);
    free(cd_hex);

    cr_assert_eq(rpc_eth_send_raw_tx(c, raw, raw_len, node_hash, &why), RL_OK, "%s", why.text);
    cr_assert_eq(memcmp(hash, node_hash, 32), 0, "the node hashes our transaction differently");
    /* anvil mines it at once, but on a loaded machine the receipt can lag the answer a little */
    rpc_receipt *r = NULL;
    rl_err got = RL_ERR_NOTFOUND;
    for (int tries = 0; tries < 100 && got == RL_ERR_NOTFOUND; tries++) {
        if ((got = rpc_eth_get_receipt(c, hash, &r, &why)) == RL_ERR_NOTFOUND)
            usleep(50000);
    }
    cr_assert_eq(got, RL_OK, "receipt: %s", why.text);
    cr_assert_eq(r->status, 1);
    rpc_receipt_free(r);
    char *bal = cast_ok("balance", "--rpc-url", t.chain.rpc_url, RECIPIENT, NULL);
    cr_assert_str_eq(bal, "400");
    free(bal);
    char *used = cast_call(&t.chain, t.vault, "nonceUsed(uint256)(bool)", "1", NULL);
    cr_assert_str_eq(used, "true");
    free(used);

    free(raw);
    free(cd);
    evm_key_free(key);
    rpc_close(c);
}
