/* crypto_test.c - u256 arithmetic, domain-separated hashing, Keccak-256 and EVM addresses
 * against published vectors. */
#include <sodium.h>

#include "attest/hash.h"
#include "attest/hex.h"
#include "attest/keys.h"
#include "attest/u256.h"
#include "tests/testutil.h"

static const char U256_MAX_DEC[] =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

static u256 dec(const char *s)
{
    u256 v;
    rl_why why = {{0}};
    cr_assert_eq(u256_from_dec(&v, s, &why), RL_OK, "%s: %s", s, why.text);
    return v;
}

static void assert_hex(const uint8_t *got, size_t n, const char *want)
{
    char buf[2 * 64 + 1];
    cr_assert_str_eq(hex_encode(buf, got, n), want);
}

Test(u256, decimal_round_trips_at_the_edges)
{
    const char *cases[] = {"0", "1", "18446744073709551615", "18446744073709551616",
                           "340282366920938463463374607431768211456", U256_MAX_DEC};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        u256 v = dec(cases[i]);
        char buf[U256_DEC_MAX];
        cr_assert_str_eq(u256_to_dec(&v, buf), cases[i]);
        uint8_t be[U256_BYTES];
        u256_to_be(be, &v);
        u256 back = u256_from_be(be);
        cr_assert_eq(u256_cmp(&back, &v), 0);
    }
}

Test(u256, rejects_non_canonical_decimals_naming_the_problem)
{
    const char *bad[] = {"", "01", "-1", "+1", "1a", " 1", "1 ", "0x10",
                         "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                         "1157920892373161954235709850086879078532699846656405640394575840079131296399350"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        u256 v;
        rl_why why = {{0}};
        cr_assert_neq(u256_from_dec(&v, bad[i], &why), RL_OK, "'%s' accepted", bad[i]);
        cr_assert(why.text[0] != '\0', "no reason given for '%s'", bad[i]);
    }
}

Test(u256, arithmetic_is_checked)
{
    u256 max = dec(U256_MAX_DEC), one = u256_from_u64(1), zero = u256_zero(), r = u256_from_u64(7);
    cr_assert_eq(u256_add(&r, &max, &one), RL_ERR_OVERFLOW);
    cr_assert_eq(r.w[0], 7, "a failed add must leave the result untouched");
    cr_assert_eq(u256_sub(&r, &zero, &one), RL_ERR_FUNDS);
    cr_assert_eq(u256_sub(&r, &max, &max), RL_OK);
    cr_assert(u256_is_zero(&r));
    /* Carries ripple across every limb. */
    u256 low = dec("18446744073709551615");
    cr_assert_eq(u256_add(&r, &low, &one), RL_OK);
    cr_assert_eq(u256_cmp(&r, &(u256){{0, 1, 0, 0}}), 0);
    u256 big = dec("57896044618658097711785492504343953926634992332820282019728792003956564819968"); /* 2^255 */
    cr_assert_eq(u256_mul_u64(&r, &big, 2), RL_ERR_OVERFLOW);
    cr_assert_eq(u256_mul_u64(&r, &low, 3), RL_OK);
    char buf[U256_DEC_MAX];
    cr_assert_str_eq(u256_to_dec(&r, buf), "55340232221128654845");
    cr_assert_lt(u256_cmp(&low, &big), 0);
    cr_assert_gt(u256_cmp(&max, &big), 0);
}

Test(hash, keccak256_matches_published_vectors)
{
    uint8_t h[HASH_BYTES];
    keccak256(h, "", 0);
    assert_hex(h, HASH_BYTES, "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    keccak256(h, "abc", 3);
    assert_hex(h, HASH_BYTES, "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    const char *ev = "Transfer(address,address,uint256)";
    keccak256(h, ev, strlen(ev));
    assert_hex(h, HASH_BYTES, "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
    const char *fn = "transfer(address,uint256)";
    keccak256(h, fn, strlen(fn));
    assert_hex(h, 4, "a9059cbb");
}

Test(hash, domains_separate_identical_bytes_and_streaming_matches_one_shot)
{
    cr_assert(sodium_init() >= 0);
    uint8_t data[300], a[HASH_BYTES], b[HASH_BYTES];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    hash_domain(a, HASH_DOMAIN_OBS, data, sizeof data);
    hash_domain(b, HASH_DOMAIN_RECORD, data, sizeof data);
    cr_assert_neq(memcmp(a, b, HASH_BYTES), 0);
    hash_ctx ctx;
    hash_init(&ctx, HASH_DOMAIN_OBS);
    hash_update(&ctx, data, 1);
    hash_update(&ctx, data + 1, 200);
    hash_update(&ctx, data + 201, sizeof data - 201);
    hash_final(&ctx, b);
    cr_assert_eq(memcmp(a, b, HASH_BYTES), 0);
    /* The personalization is BLAKE2b's own parameter, not a prefix of the data. */
    crypto_generichash_blake2b_salt_personal(b, HASH_BYTES, data, sizeof data, NULL, 0, NULL,
                                             (const unsigned char[16]){"rly.obs.v1"});
    cr_assert_eq(memcmp(a, b, HASH_BYTES), 0);
}

Test(keys, evm_address_of_a_published_secret)
{
    uint8_t sk[SECP256K1_SK_BYTES], addr[EVM_ADDR_BYTES];
    cr_assert_eq(hex_decode(sk, sizeof sk, "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318", "sk",
                            NULL),
                 RL_OK);
    cr_assert_eq(evm_address_of_secret(addr, sk), RL_OK);
    char buf[43];
    cr_assert_str_eq(evm_addr_to_checksum(addr, buf), "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23");
    cr_assert_str_eq(evm_addr_to_hex(addr, buf), "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23");
    uint8_t zero[SECP256K1_SK_BYTES] = {0};
    cr_assert_neq(evm_address_of_secret(addr, zero), RL_OK, "zero is not a valid secp256k1 secret");
}

Test(keys, eip55_checksums_match_the_eip)
{
    const char *vectors[] = {"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
                             "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
                             "0x52908400098527886E0F7030069857D2E4169EE7", "0xde709f2102306220921060314715629080e2fb77"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t addr[EVM_ADDR_BYTES];
        cr_assert_eq(hex_decode(addr, sizeof addr, vectors[i] + 2, "addr", NULL), RL_OK, "%s", vectors[i]);
        char buf[43];
        cr_assert_str_eq(evm_addr_to_checksum(addr, buf), vectors[i]);
    }
}

Test(keys, one_identity_signs_converts_to_curve_and_round_trips_as_json)
{
    cr_assert(sodium_init() >= 0);
    node_key *k;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&k, "node-1", &why), RL_OK, "%s", why.text);
    const node_pub *pub = node_key_pub(k);
    uint8_t x[X25519_PK_BYTES], sig[ED25519_SIG_BYTES];
    cr_assert_eq(crypto_sign_ed25519_pk_to_curve25519(x, pub->ed25519), 0);
    cr_assert_eq(memcmp(x, pub->x25519, sizeof x), 0);
    uint8_t xpk[X25519_PK_BYTES];
    crypto_scalarmult_base(xpk, node_key_x25519_secret(k));
    cr_assert_eq(memcmp(xpk, pub->x25519, sizeof xpk), 0, "X25519 secret and public halves disagree");
    const uint8_t msg[] = "observation";
    node_key_sign(k, sig, msg, sizeof msg);
    cr_assert(ed25519_verify(sig, msg, sizeof msg, pub->ed25519));
    sig[3] ^= 1;
    cr_assert_not(ed25519_verify(sig, msg, sizeof msg, pub->ed25519));
    uint8_t addr[EVM_ADDR_BYTES];
    cr_assert_eq(evm_address_of_secret(addr, node_key_secp256k1_secret(k)), RL_OK);
    cr_assert_eq(memcmp(addr, pub->evm, sizeof addr), 0);

    json_t *j = node_pub_to_json(pub);
    node_pub back;
    cr_assert_eq(node_pub_from_json(&back, j, &why), RL_OK, "%s", why.text);
    cr_assert_eq(memcmp(&back, pub, sizeof back), 0);
    /* An x25519 that is not derived from the ed25519 key is refused. */
    char other[65];
    memset(other, 'a', 64);
    other[64] = '\0';
    json_object_set_new(j, "x25519", json_string(other));
    cr_assert_neq(node_pub_from_json(&back, j, &why), RL_OK);
    cr_assert(strstr(why.text, "x25519") != NULL, "%s", why.text);
    json_decref(j);
    node_key_free(k);
}

Test(keys, names_are_restricted)
{
    cr_assert(sodium_init() >= 0);
    cr_assert(node_name_valid("node1"));
    cr_assert(node_name_valid("eu-west.node_2"));
    cr_assert_not(node_name_valid(""));
    cr_assert_not(node_name_valid("../etc"));
    cr_assert_not(node_name_valid("a/b"));
    cr_assert_not(node_name_valid("with space"));
    cr_assert_not(node_name_valid("123456789012345678901234567890123"));
    node_key *k = NULL;
    cr_assert_neq(node_key_generate(&k, "../x", NULL), RL_OK);
    cr_assert_null(k);
}
