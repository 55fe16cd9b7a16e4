/*
 * evmcodec_test.c - the EVM byte formats against published vectors: RLP (the examples of the
 * Ethereum RLP specification), ABI selectors and words (the Solidity ABI specification), the
 * EIP-712 domain separator (the EIP's own example), secp256k1 signing (EIP-155's example
 * transaction, whose RFC 6979 signature is published) and EIP-1559 transactions (ethereumjs'
 * signed vectors). The same formats are checked against cast and a real vault in
 * tests/integration/evmcodec_test.c.
 */
#include <string.h>

#include "attest/hex.h"
#include "bridges/evm/rlp.h"
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
