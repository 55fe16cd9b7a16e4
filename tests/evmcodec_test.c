/*
 * evmcodec_test.c - the EVM byte formats against published vectors: RLP (the examples of the
 * Ethereum RLP specification), ABI selectors and words (the Solidity ABI specification), the
 * EIP-712 domain separator (the EIP's own example), secp256k1 signing (EIP-155's example
 * transaction, whose RFC 6979 signature is published) and EIP-1559 transactions (ethereumjs'
 * signed vectors). The same formats are checked against cast and a real vault in
 * tests/integration/evmcodec_test.c.
 */
#include <sodium.h>
#include <string.h>

#include "attest/hex.h"
#include "bridges/evm/abi.h"
#include "attest/eip712.h"
#include "bridges/evm/rlp.h"
#include "bridges/evm/tx.h"
#include "tests/testutil.h"

/* Hex text -> bytes (malloc'd; *n its length). */
static uint8_t *unhex(const char *s, size_t *n)
{
    if (s[0] == '0' && s[1] == 'x')
        s += 2;
    size_t len = strlen(s) / 2;
    uint8_t *b = malloc(len ? len : 1);
    cr_assert_not_null(b);
    if (len > 0)
        cr_assert_eq(hex_decode(b, len, s, "vector", NULL), RL_OK, "bad hex in a vector: %s", s);
    *n = len;
    return b;
}

static void assert_bytes(const uint8_t *got, size_t got_len, const char *want_hex, const char *what)
{
    size_t n;
    uint8_t *want = unhex(want_hex, &n);
    char *got_hex = malloc(2 * got_len + 1);
    cr_assert_not_null(got_hex);
    hex_encode(got_hex, got, got_len);
    cr_assert(got_len == n && memcmp(got, want, n) == 0, "%s: got %s, want %s", what, got_hex, want_hex);
    free(got_hex);
    free(want);
}

static void assert_rlp(rlp_buf *b, const char *want_hex, const char *what)
{
    uint8_t *out;
    size_t len;
    cr_assert_eq(rlp_buf_take(b, &out, &len, NULL), RL_OK);
    assert_bytes(out, len, want_hex, what);
    /* and the strict decoder takes it back as exactly one item */
    rlp_item it;
    rl_why why = {{0}};
    cr_assert_eq(rlp_decode(out, len, &it, what, &why), RL_OK, "%s: %s", what, why.text);
    free(out);
}

static void put_str(rlp_buf *b, const char *s)
{
    rlp_put_bytes(b, (const uint8_t *)s, strlen(s));
}

/* ---- RLP: the examples of the specification */

Test(rlp, encodes_the_specifications_strings_and_integers)
{
    rlp_buf b;
    rlp_buf_init(&b);
    put_str(&b, "dog");
    assert_rlp(&b, "83646f67", "\"dog\"");
    put_str(&b, "");
    assert_rlp(&b, "80", "empty string");
    rlp_put_u64(&b, 0);
    assert_rlp(&b, "80", "integer 0");
    uint8_t zero = 0;
    rlp_put_bytes(&b, &zero, 1);
    assert_rlp(&b, "00", "byte 0x00");
    rlp_put_u64(&b, 15);
    assert_rlp(&b, "0f", "integer 15");
    rlp_put_u64(&b, 1024);
    assert_rlp(&b, "820400", "integer 1024");
    u256 big = u256_from_u64(1024);
    rlp_put_u256(&b, &big);
    assert_rlp(&b, "820400", "u256 1024");
    uint8_t x80 = 0x80;
    rlp_put_bytes(&b, &x80, 1);
    assert_rlp(&b, "8180", "byte 0x80");
    /* 55 bytes is the last short string, 56 the first long one */
    put_str(&b, "Lorem ipsum dolor sit amet, consectetur adipisicing eli");
    assert_rlp(&b,
               "b74c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e"
               "6720656c69",
               "55-byte string");
    put_str(&b, "Lorem ipsum dolor sit amet, consectetur adipisicing elit");
    assert_rlp(&b,
               "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e"
               "6720656c6974",
               "56-byte string");
    rlp_buf_fini(&b);
}

Test(rlp, encodes_the_specifications_lists)
{
    rlp_buf b;
    rlp_buf_init(&b);
    size_t m = rlp_list_begin(&b);
    put_str(&b, "cat");
    put_str(&b, "dog");
    rlp_list_end(&b, m);
    assert_rlp(&b, "c88363617483646f67", "[\"cat\", \"dog\"]");
    m = rlp_list_begin(&b);
    rlp_list_end(&b, m);
    assert_rlp(&b, "c0", "empty list");
    /* the set-theoretic representation of three: [ [], [[]], [ [], [[]] ] ] */
    size_t outer = rlp_list_begin(&b);
    rlp_list_end(&b, rlp_list_begin(&b));
    size_t one = rlp_list_begin(&b);
    rlp_list_end(&b, rlp_list_begin(&b));
    rlp_list_end(&b, one);
    size_t two = rlp_list_begin(&b);
    rlp_list_end(&b, rlp_list_begin(&b));
    size_t inner = rlp_list_begin(&b);
    rlp_list_end(&b, rlp_list_begin(&b));
    rlp_list_end(&b, inner);
    rlp_list_end(&b, two);
    rlp_list_end(&b, outer);
    assert_rlp(&b, "c7c0c1c0c3c0c1c0", "set-theoretic three");
    /* a list whose payload is 56 bytes takes the long form */
    m = rlp_list_begin(&b);
    put_str(&b, "Lorem ipsum dolor sit amet, consectetur adipisicing eli"); /* 56 encoded */
    rlp_list_end(&b, m);
    uint8_t *out;
    size_t len;
    cr_assert_eq(rlp_buf_take(&b, &out, &len, NULL), RL_OK);
    cr_assert_eq(len, 58);
    cr_assert_eq(out[0], 0xf8);
    cr_assert_eq(out[1], 56);
    free(out);
    rlp_buf_fini(&b);
}

Test(rlp, decodes_nested_lists_and_reads_typed_fields)
{
    size_t n;
    uint8_t *in = unhex("c9" "83636174" "820400" "c180", &n); /* ["cat", 1024, [""]] */
    rlp_item list, it;
    rl_why why = {{0}};
    cr_assert_eq(rlp_decode(in, n, &list, "vector", &why), RL_OK, "%s", why.text);
    cr_assert(list.list);
    rlp_iter i = rlp_iter_of(&list);
    cr_assert_eq(rlp_iter_next(&i, &it, "0", &why), RL_OK);
    uint8_t cat[3];
    cr_assert_eq(rlp_item_fixed(&it, cat, 3, "0", &why), RL_OK);
    cr_assert_eq(memcmp(cat, "cat", 3), 0);
    cr_assert_eq(rlp_iter_next(&i, &it, "1", &why), RL_OK);
    uint64_t v;
    cr_assert_eq(rlp_item_u64(&it, &v, "1", &why), RL_OK);
    cr_assert_eq(v, 1024);
    cr_assert_eq(rlp_iter_next(&i, &it, "2", &why), RL_OK);
    cr_assert(it.list);
    cr_assert(rlp_iter_done(&i));
    cr_assert_eq(rlp_iter_next(&i, &it, "3", &why), RL_ERR_TRUNCATED);
    free(in);
}

/* Each input refused with the code, and a reason that says so. */
static void refused(const char *hex, rl_err want, const char *reason)
{
    size_t n;
    uint8_t *in = unhex(hex, &n);
    rlp_item it;
    rl_why why = {{0}};
    cr_assert_eq(rlp_decode(in, n, &it, "input", &why), want, "%s: got %s (%s)", hex,
                 rl_strerror(rlp_decode(in, n, &it, "input", NULL)), why.text);
    cr_assert_not_null(strstr(why.text, reason), "%s: reason '%s' not in '%s'", hex, reason, why.text);
    free(in);
}

Test(rlp, refuses_every_non_canonical_or_truncated_form)
{
    refused("", RL_ERR_TRUNCATED, "no item");
    refused("8100", RL_ERR_DECODE, "must encode itself");       /* 0x00 as a one-byte string */
    refused("817f", RL_ERR_DECODE, "must encode itself");
    refused("b80141", RL_ERR_DECODE, "long form");              /* 1 byte in long form */
    refused("b837", RL_ERR_DECODE, "long form");                /* 55 in long form */
    refused("b90038", RL_ERR_DECODE, "leading zero");
    refused("f800", RL_ERR_DECODE, "leading zero");
    refused("83646f", RL_ERR_TRUNCATED, "3 bytes, 2 left");
    refused("c883636174", RL_ERR_TRUNCATED, "list of 8 bytes");
    refused("b9", RL_ERR_TRUNCATED, "inside a 2-byte length");
    refused("bfffffffffffffffff", RL_ERR_TRUNCATED, "string of");
    refused("8080", RL_ERR_DECODE, "trailing");
    /* inside a list: every item is checked, and must end where its list ends */
    refused("c28100", RL_ERR_DECODE, "at byte 1: input: byte 0x00 below 0x80");
    refused("c3c28101", RL_ERR_DECODE, "must encode itself");
    refused("c3c18101", RL_ERR_TRUNCATED, "at byte 2: input: string of 1 bytes, 0 left");
    refused("c383646f", RL_ERR_TRUNCATED, "string of 3 bytes, 2 left");
    refused("c2c380", RL_ERR_TRUNCATED, "list of 3 bytes, 1 left");

    /* integers: no leading zero, and they must fit */
    rlp_item it;
    rl_why why = {{0}};
    uint8_t lead[] = {0x82, 0x00, 0x01};
    cr_assert_eq(rlp_decode(lead, sizeof lead, &it, "x", &why), RL_OK);
    uint64_t v;
    cr_assert_eq(rlp_item_u64(&it, &v, "nonce", &why), RL_ERR_DECODE);
    cr_assert_not_null(strstr(why.text, "nonce: integer with a leading zero"), "%s", why.text);
    uint8_t nine[] = {0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    cr_assert_eq(rlp_decode(nine, sizeof nine, &it, "x", &why), RL_OK);
    cr_assert_eq(rlp_item_u64(&it, &v, "gas", &why), RL_ERR_OVERFLOW);
    u256 w;
    cr_assert_eq(rlp_item_u256(&it, &w, "value", &why), RL_OK);
    uint8_t list[] = {0xc0};
    cr_assert_eq(rlp_decode(list, 1, &it, "x", &why), RL_OK);
    cr_assert_eq(rlp_item_u256(&it, &w, "value", &why), RL_ERR_DECODE);
    cr_assert_not_null(strstr(why.text, "a list where an integer belongs"), "%s", why.text);
}

/* ---- ABI: the Solidity specification's selectors, and words read strictly */

Test(abi, selectors_are_the_first_four_bytes_of_the_signatures_keccak)
{
    uint8_t sel[4];
    abi_selector(sel, "baz(uint32,bool)"); /* the specification's example */
    assert_bytes(sel, 4, "cdcd77c0", "baz(uint32,bool)");
    abi_selector(sel, "transfer(address,uint256)"); /* ERC-20 */
    assert_bytes(sel, 4, "a9059cbb", "transfer(address,uint256)");
    /* the vault's errors are found by their selector, and nothing else is */
    abi_selector(sel, "DeadlinePassed(uint256,uint256)");
    cr_assert_str_eq(abi_vault_error(sel), "DeadlinePassed(uint256,uint256)");
    abi_selector(sel, "NonceUsed(uint256)");
    cr_assert_str_eq(abi_vault_error(sel), "NonceUsed(uint256)");
    abi_selector(sel, "transfer(address,uint256)");
    cr_assert_null(abi_vault_error(sel));
    cr_assert_eq(abi_revert_selector(sel, 3, sel), RL_ERR_NOTFOUND);
}

Test(abi, return_words_are_read_strictly)
{
    uint8_t data[3 * 32] = {0};
    data[31] = 1;                    /* word 0: true, or 1 */
    memset(data + 32 + 12, 0xab, 20); /* word 1: an address */
    data[64] = 0x01;                 /* word 2: 2^248 */
    rl_why why = {{0}};
    bool b;
    uint64_t v;
    uint8_t addr[20];
    u256 big;
    cr_assert_eq(abi_read_bool(data, sizeof data, 0, &b, "used", &why), RL_OK);
    cr_assert(b);
    cr_assert_eq(abi_read_u64(data, sizeof data, 0, &v, "n", &why), RL_OK);
    cr_assert_eq(v, 1);
    cr_assert_eq(abi_read_address(data, sizeof data, 1, addr, "signer", &why), RL_OK);
    cr_assert_eq(addr[0], 0xab);
    cr_assert_eq(abi_read_u256(data, sizeof data, 2, &big, "amount", &why), RL_OK);
    cr_assert_eq(big.w[3], (uint64_t)1 << 56);

    cr_assert_eq(abi_read_bool(data, sizeof data, 1, &b, "used", &why), RL_ERR_DECODE);
    cr_assert_not_null(strstr(why.text, "used: not a canonical bool"), "%s", why.text);
    cr_assert_eq(abi_read_address(data, sizeof data, 2, addr, "signer", &why), RL_ERR_DECODE);
    cr_assert_eq(abi_read_u64(data, sizeof data, 2, &v, "n", &why), RL_ERR_OVERFLOW);
    cr_assert_eq(abi_read_u256(data, sizeof data - 1, 2, &big, "amount", &why), RL_ERR_TRUNCATED);
    cr_assert_not_null(strstr(why.text, "amount: return data of 95 bytes has no word 2"), "%s", why.text);
    data[31] = 2;
    cr_assert_eq(abi_read_bool(data, sizeof data, 0, &b, "used", &why), RL_ERR_DECODE);
}

Test(abi, execute_calldata_has_the_instruction_inline_and_the_signatures_behind_their_offsets)
{
    vault_instruction in = {.kind = VAULT_KIND_SEIZE, .amount = u256_from_u64(5), .nonce = u256_from_u64(7),
                            .deadline = u256_from_u64(100)};
    in.account[19] = 1;
    in.recipient[19] = 2;
    uint8_t sigs[2][EVM_SIG_BYTES];
    memset(sigs[0], 0x11, EVM_SIG_BYTES);
    memset(sigs[1], 0x22, EVM_SIG_BYTES);
    uint8_t *cd;
    size_t len;
    cr_assert_eq(abi_execute_calldata(&in, (const uint8_t(*)[EVM_SIG_BYTES])sigs, 2, &cd, &len, NULL), RL_OK);
    cr_assert_eq(len, 4 + 8 * 32 + 32 + 2 * 32 + 2 * 128);
    uint8_t sel[4];
    abi_selector(sel, VAULT_EXECUTE_SIG);
    cr_assert_eq(memcmp(cd, sel, 4), 0);
    const uint8_t *args = cd + 4;
    uint64_t v;
    cr_assert_eq(abi_read_u64(args, len - 4, 0, &v, "kind", NULL), RL_OK);
    cr_assert_eq(v, VAULT_KIND_SEIZE);
    cr_assert_eq(abi_read_u64(args, len - 4, 7, &v, "offset", NULL), RL_OK);
    cr_assert_eq(v, 0x100);
    cr_assert_eq(abi_read_u64(args, len - 4, 8, &v, "count", NULL), RL_OK);
    cr_assert_eq(v, 2);
    cr_assert_eq(abi_read_u64(args, len - 4, 10, &v, "second offset", NULL), RL_OK);
    cr_assert_eq(v, 2 * 32 + 128);
    /* the second signature: its length word, then its 65 bytes, then zero padding */
    const uint8_t *second = args + 9 * 32 + v;
    cr_assert_eq(abi_read_u64(second, 32, 0, &v, "length", NULL), RL_OK);
    cr_assert_eq(v, EVM_SIG_BYTES);
    cr_assert_eq(memcmp(second + 32, sigs[1], EVM_SIG_BYTES), 0);
    for (size_t i = 32 + EVM_SIG_BYTES; i < 128; i++)
        cr_assert_eq(second[i], 0);
    free(cd);
}

/* ---- EIP-712 */

Test(eip712, the_domain_separator_of_the_eips_own_example)
{
    /* EIP-712's example: Ether Mail, version 1, chain 1, contract 0xCcCC...cC */
    uint8_t contract[20], out[32];
    cr_assert_eq(hex_decode(contract, 20, "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC", "contract", NULL), RL_OK);
    eip712_domain_separator(out, "Ether Mail", "1", 1, contract);
    assert_bytes(out, 32, "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f", "domain separator");
}

Test(eip712, digests_change_with_every_field_and_with_the_domain)
{
    uint8_t vault[20] = {[19] = 0x42}, dom[32], dom2[32], base[32], d[32];
    eip712_vault_domain(dom, 31337, vault);
    eip712_vault_domain(dom2, 31338, vault);
    vault_instruction in = {.kind = 1, .amount = u256_from_u64(1), .nonce = u256_from_u64(1),
                            .deadline = u256_from_u64(1)};
    eip712_instruction_digest(base, dom, &in);
    eip712_instruction_digest(d, dom2, &in);
    cr_assert_neq(memcmp(base, d, 32), 0, "another chain id, the same digest");
    vault_instruction changed[7] = {in, in, in, in, in, in, in};
    changed[0].kind = 2;
    changed[1].account[0] = 1;
    changed[2].asset[0] = 1;
    changed[3].amount = u256_from_u64(2);
    changed[4].recipient[0] = 1;
    changed[5].nonce = u256_from_u64(2);
    changed[6].deadline = u256_from_u64(2);
    for (int i = 0; i < 7; i++) {
        eip712_instruction_digest(d, dom, &changed[i]);
        cr_assert_neq(memcmp(base, d, 32), 0, "field %d does not change the digest", i);
    }
    uint8_t set[2][20] = {{1}, {2}};
    u256 th = u256_from_u64(2), ver = u256_from_u64(2);
    cr_assert_eq(eip712_rotate_digest(base, dom, (const uint8_t(*)[20])set, 2, &th, &ver), RL_OK);
    cr_assert_eq(eip712_rotate_digest(d, dom, (const uint8_t(*)[20])set, 1, &th, &ver), RL_OK);
    cr_assert_neq(memcmp(base, d, 32), 0);

    /* limits: an asset, a minimum, the count and the version each change it */
    u256 mins[2] = {u256_from_u64(5), u256_from_u64(6)}, mins2[2] = {u256_from_u64(5), u256_from_u64(7)};
    uint8_t other[2][20] = {{1}, {3}};
    cr_assert_eq(eip712_limits_digest(base, dom, (const uint8_t(*)[20])set, mins, 2, &ver), RL_OK);
    uint8_t v[4][32];
    u256 ver3 = u256_from_u64(3);
    cr_assert_eq(eip712_limits_digest(v[0], dom, (const uint8_t(*)[20])other, mins, 2, &ver), RL_OK);
    cr_assert_eq(eip712_limits_digest(v[1], dom, (const uint8_t(*)[20])set, mins2, 2, &ver), RL_OK);
    cr_assert_eq(eip712_limits_digest(v[2], dom, (const uint8_t(*)[20])set, mins, 1, &ver), RL_OK);
    cr_assert_eq(eip712_limits_digest(v[3], dom, (const uint8_t(*)[20])set, mins, 2, &ver3), RL_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_neq(memcmp(base, v[i], 32), 0, "limits change %d does not change the digest", i);
}

/* ---- secp256k1 signing: EIP-155's example transaction */

/* Keys live in libsodium's guarded memory. */
static void sodium_up(void)
{
    cr_assert(sodium_init() >= 0);
}

TestSuite(evmsign, .init = sodium_up);
TestSuite(tx, .init = sodium_up);

/* secp256k1's group order n, big-endian */
static const char SECP256K1_N_HEX[] = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

Test(evmsign, signs_eip155s_example_with_the_published_rfc6979_signature)
{
    /* EIP-155: nonce 9, gas price 20 gwei, gas 21000, to 0x3535..35, 1 ether, chain 1, key 0x4646..46 */
    rlp_buf b;
    rlp_buf_init(&b);
    uint8_t to[20];
    memset(to, 0x35, sizeof to);
    u256 price = u256_from_u64(20000000000ULL), value = u256_from_u64(1000000000000000000ULL);
    size_t m = rlp_list_begin(&b);
    rlp_put_u64(&b, 9);
    rlp_put_u256(&b, &price);
    rlp_put_u64(&b, 21000);
    rlp_put_bytes(&b, to, 20);
    rlp_put_u256(&b, &value);
    rlp_put_bytes(&b, NULL, 0);
    rlp_put_u64(&b, 1); /* chain id, 0, 0 */
    rlp_put_u64(&b, 0);
    rlp_put_u64(&b, 0);
    rlp_list_end(&b, m);
    uint8_t *pre;
    size_t len;
    cr_assert_eq(rlp_buf_take(&b, &pre, &len, NULL), RL_OK);
    assert_bytes(pre, len,
                 "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080",
                 "signing data");
    uint8_t digest[32], sk[32], sig[65], addr[20], want_addr[20];
    keccak256(digest, pre, len);
    free(pre);
    assert_bytes(digest, 32, "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53", "signing hash");
    memset(sk, 0x46, sizeof sk);
    cr_assert_eq(evm_sign_digest(sig, digest, sk), RL_OK);
    /* r = 18515461264373351373200002665853028612451056578545711640558177340181847433846,
     * s = 46948507304638947509940763649030358759909902576025900602547168820602576006531, v = 37 */
    assert_bytes(sig, 65,
                 "28ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276"
                 "67cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83" "1b",
                 "signature");
    cr_assert_eq(evm_recover(addr, digest, sig), RL_OK);
    cr_assert_eq(evm_address_of_secret(want_addr, sk), RL_OK);
    cr_assert_eq(memcmp(addr, want_addr, 20), 0);
    /* an evm_key signs the same bytes */
    evm_key *k;
    uint8_t again[65];
    cr_assert_eq(evm_key_from_secret(&k, sk, NULL), RL_OK);
    cr_assert_eq(evm_key_sign(k, again, digest), RL_OK);
    cr_assert_eq(memcmp(again, sig, 65), 0);
    cr_assert_eq(memcmp(evm_key_address(k), want_addr, 20), 0);
    evm_key_free(k);
}

Test(evmsign, recovery_refuses_what_the_vault_refuses)
{
    uint8_t sk[32], digest[32], sig[65], bad[65], addr[20], n[32];
    memset(sk, 0x07, sizeof sk);
    memset(digest, 0x5a, sizeof digest);
    cr_assert_eq(evm_sign_digest(sig, digest, sk), RL_OK);
    cr_assert(sig[64] == 27 || sig[64] == 28);
    cr_assert_eq(hex_decode(n, 32, SECP256K1_N_HEX, "n", NULL), RL_OK);
    /* the high-s twin (r, n - s, v ^ 1) recovers the same key under plain ECDSA: refused */
    memcpy(bad, sig, 65);
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        int d = (int)n[i] - (int)sig[32 + i] - (int)borrow;
        borrow = d < 0;
        bad[32 + i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
    bad[64] = sig[64] == 27 ? 28 : 27;
    cr_assert_eq(evm_recover(addr, digest, bad), RL_ERR_SIG);
    memcpy(bad, sig, 65);
    bad[64] = 29;
    cr_assert_eq(evm_recover(addr, digest, bad), RL_ERR_SIG);
    bad[64] = 0;
    cr_assert_eq(evm_recover(addr, digest, bad), RL_ERR_SIG);
    memcpy(bad, sig, 65);
    memset(bad, 0, 32); /* r = 0 */
    cr_assert_eq(evm_recover(addr, digest, bad), RL_ERR_SIG);
    memcpy(bad, sig, 65);
    memcpy(bad, n, 32); /* r = n */
    cr_assert_eq(evm_recover(addr, digest, bad), RL_ERR_SIG);
    /* and a zero or out-of-range secret makes no key */
    evm_key *k = NULL;
    uint8_t zero[32] = {0};
    cr_assert_eq(evm_key_from_secret(&k, zero, NULL), RL_ERR_CRYPTO);
    cr_assert_eq(evm_key_from_secret(&k, n, NULL), RL_ERR_CRYPTO);
    cr_assert_null(k);
}

/* ---- EIP-1559 transactions: ethereumjs' signed vectors (packages/tx/test/json/eip1559.json),
 * chain 7822, key 0x8f2a..be63, to 0x..aaaa, no data; each vector's raw transaction is given
 * wrapped in an RLP string, as in a block body. */

typedef struct tx_vector {
    uint64_t nonce, value, gas_limit, tip, max_fee;
    const char *signed_rlp;
} tx_vector;

static const tx_vector TX_VECTORS[] = {
    {819, 43203529, 35552, 75853, 121212,
     "b87302f870821e8e8203338301284d8301d97c828ae094000000000000000000000000000000000000aaaa8402933bc980c080a0d067f216"
     "7008c59219652f91cbf8788dbca5f771f6e91e2b7657e85b78b472e0a01d305af9fe81fdba43f0dfcd400ed24dcace0a7e30d4e85701dc"
     "aaf484cd079e"},
    {353, 61901619, 32593, 38850, 136295,
     "b87202f86f821e8e8201618297c283021467827f5194000000000000000000000000000000000000aaaa8403b08b3380c001a004205678f1"
     "3fc1d7b10feea6513dfa76e24418b6e08097d95c6f93a3b64e536da01d45ad61bfece43862de2cce7d2575a8c1d08c26c87f3cb5f26d7b"
     "0be54a91b2"},
    {119, 65456115, 62341, 24721, 107729,
     "b87002f86d821e8e778260918301a4d182f38594000000000000000000000000000000000000aaaa8403e6c7f380c001a0e38e239770801e"
     "b995498c821e55ac9c19ae09184bb27b34be105e02fe3b7615a067c64ca6bd6d9107e85fd581ab2e70a14b637eb36505bb40861ef9d6e8"
     "00cab6"},
};

#define TX_VECTOR_CHAIN 7822
#define TX_VECTOR_KEY "8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63"

Test(tx, signs_ethereumjs_eip1559_vectors_byte_for_byte_and_decodes_them_back)
{
    uint8_t sk[32];
    cr_assert_eq(hex_decode(sk, 32, TX_VECTOR_KEY, "key", NULL), RL_OK);
    evm_key *k;
    cr_assert_eq(evm_key_from_secret(&k, sk, NULL), RL_OK);
    for (size_t i = 0; i < sizeof TX_VECTORS / sizeof TX_VECTORS[0]; i++) {
        const tx_vector *v = &TX_VECTORS[i];
        size_t n;
        uint8_t *wrapped = unhex(v->signed_rlp, &n);
        rlp_item want;
        cr_assert_eq(rlp_decode(wrapped, n, &want, "vector", NULL), RL_OK);
        cr_assert(!want.list);

        evm_tx tx = {.chain_id = TX_VECTOR_CHAIN, .nonce = v->nonce, .max_priority_fee_wei = u256_from_u64(v->tip),
                     .max_fee_wei = u256_from_u64(v->max_fee), .gas_limit = v->gas_limit, .has_to = true,
                     .value_wei = u256_from_u64(v->value)};
        tx.to[18] = tx.to[19] = 0xaa;
        uint8_t *raw, hash[32], h2[32];
        size_t len;
        rl_why why = {{0}};
        cr_assert_eq(tx_sign(&tx, k, &raw, &len, hash, &why), RL_OK, "%s", why.text);
        cr_assert(len == want.len && memcmp(raw, want.p, len) == 0, "vector %zu: signed bytes differ", i);
        tx_hash(h2, want.p, want.len);
        cr_assert_eq(memcmp(hash, h2, 32), 0);

        evm_tx back;
        uint8_t sig[65], sender[20];
        cr_assert_eq(tx_decode(raw, len, &back, sig, &why), RL_OK, "%s", why.text);
        cr_assert_eq(back.nonce, v->nonce);
        cr_assert_eq(back.gas_limit, v->gas_limit);
        cr_assert_eq(back.chain_id, TX_VECTOR_CHAIN);
        cr_assert_eq(u256_cmp(&back.max_fee_wei, &tx.max_fee_wei), 0);
        cr_assert(back.has_to && back.to[19] == 0xaa && back.data_len == 0);
        cr_assert_eq(tx_sender(raw, len, sender, &why), RL_OK, "%s", why.text);
        cr_assert_eq(memcmp(sender, evm_key_address(k), 20), 0);
        free(raw);
        free(wrapped);
    }
    evm_key_free(k);
}

Test(tx, the_decoder_refuses_other_types_extra_fields_and_bad_parity)
{
    uint8_t sk[32];
    memset(sk, 0x09, sizeof sk);
    evm_key *k;
    cr_assert_eq(evm_key_from_secret(&k, sk, NULL), RL_OK);
    uint8_t data[3] = {1, 2, 3};
    evm_tx tx = {.chain_id = 1, .nonce = 0, .gas_limit = 50000, .data = data, .data_len = 3};
    uint8_t *raw, hash[32], sig[65];
    size_t len;
    cr_assert_eq(tx_sign(&tx, k, &raw, &len, hash, NULL), RL_OK);
    evm_tx back;
    rl_why why = {{0}};
    cr_assert_eq(tx_decode(raw, len, &back, sig, &why), RL_OK, "%s", why.text);
    cr_assert(!back.has_to); /* a creation keeps its empty to */
    cr_assert_eq(back.data_len, 3);

    raw[0] = 0x01;
    cr_assert_eq(tx_decode(raw, len, &back, sig, &why), RL_ERR_DECODE);
    cr_assert_not_null(strstr(why.text, "type 0x01"), "%s", why.text);
    raw[0] = 0x02;
    cr_assert_eq(tx_decode(raw, len - 1, &back, sig, &why), RL_ERR_TRUNCATED);
    /* yParity 2: the byte before r's 0xa0 header */
    size_t at = len - 2 * 33 - 1;
    uint8_t saved = raw[at];
    cr_assert(saved == 0x80 || saved == 0x01);
    raw[at] = 0x02;
    cr_assert_eq(tx_decode(raw, len, &back, sig, &why), RL_ERR_DECODE);
    cr_assert_not_null(strstr(why.text, "yParity"), "%s", why.text);
    raw[at] = saved;
    uint8_t bad_v[65];
    memset(bad_v, 1, sizeof bad_v);
    uint8_t *out;
    size_t out_len;
    cr_assert_eq(tx_encode_signed(&tx, bad_v, &out, &out_len, &why), RL_ERR_ARG);
    free(raw);
    evm_key_free(k);
}
