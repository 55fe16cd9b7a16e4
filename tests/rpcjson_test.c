/*
 * rpcjson_test.c - strict decoding of Ethereum JSON-RPC values: hex quantities and data, the
 * JSON-RPC envelope, batches, logs.
 */
#include "bridges/evm/rpcjson.h"
#include "tests/rpcstub.h"
#include "tests/testutil.h"

Test(rpcjson, quantities_are_parsed_strictly)
{
    uint64_t v;
    rl_why why = {{0}};
    static const char *const good[] = {"0x0", "0x1", "0x1f", "0xABcd", "0xffffffffffffffff"};
    static const uint64_t want[] = {0, 1, 0x1f, 0xabcd, UINT64_MAX};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        cr_assert_eq(rpcjson_parse_u64(good[i], strlen(good[i]), &v, "q", &why), RL_OK, "%s: %s", good[i], why.text);
        cr_assert_eq(v, want[i]);
    }
    static const char *const bad[] = {"", "0x", "0x00", "0x01", "1f", "0X1f", " 0x1", "0x1 ", "-0x1", "0xg", "x1", "0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        why.text[0] = '\0';
        cr_assert_eq(rpcjson_parse_u64(bad[i], strlen(bad[i]), &v, "blockNumber", &why), RL_ERR_DECODE, "%s", bad[i]);
        assert_has(why.text, "blockNumber");
    }
    cr_assert_eq(rpcjson_parse_u64("0x10000000000000000", 19, &v, "q", &why), RL_ERR_OVERFLOW);
    cr_assert_eq(rpcjson_parse_u64("0x1\0", 4, &v, "q", &why), RL_ERR_DECODE, "an embedded NUL is refused");
    assert_has(why.text, "non-hex");
    /* leading zeros are named as such */
    cr_assert_eq(rpcjson_parse_u64("0x01", 4, &v, "q", &why), RL_ERR_DECODE);
    assert_has(why.text, "leading zero");
}

Test(rpcjson, u256_quantities_fit_256_bits_and_round_trip)
{
    u256 v;
    rl_why why = {{0}};
    char max[67] = "0x";
    memset(max + 2, 'f', 64);
    max[66] = '\0';
    cr_assert_eq(rpcjson_parse_u256(max, 66, &v, "q", &why), RL_OK, "%s", why.text);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(v.w[i], UINT64_MAX);
    json_t *j = rpcjson_from_u256(&v);
    cr_assert_str_eq(json_string_value(j), max);
    json_decref(j);
    char over[68] = "0x1";
    memset(over + 3, '0', 64);
    over[67] = '\0';
    cr_assert_eq(rpcjson_parse_u256(over, 67, &v, "q", &why), RL_ERR_OVERFLOW);
    const char *mid = "0x1000" "000000000000000000000000000000" "2a"; /* 36 digits: w[2] = 0x1000 */
    cr_assert_eq(rpcjson_parse_u256(mid, strlen(mid), &v, "q", &why), RL_OK);
    cr_assert_eq(v.w[0], 0x2a);
    cr_assert_eq(v.w[2], 0x1000);
    j = rpcjson_from_u256(&v);
    cr_assert_str_eq(json_string_value(j), mid);
    json_decref(j);
    v = u256_zero();
    j = rpcjson_from_u256(&v);
    cr_assert_str_eq(json_string_value(j), "0x0");
    json_decref(j);
    cr_assert_eq(rpcjson_parse_u256("0x00", 4, &v, "q", &why), RL_ERR_DECODE);
}

Test(rpcjson, data_is_whole_bytes_and_fixed_sizes_are_exact)
{
    uint8_t *b;
    size_t n;
    rl_why why = {{0}};
    cr_assert_eq(rpcjson_parse_bytes("0x", 2, &b, &n, "d", &why), RL_OK);
    cr_assert_not_null(b, "empty data is a buffer, not NULL");
    cr_assert_eq(n, 0);
    free(b);
    cr_assert_eq(rpcjson_parse_bytes("0x00aBff", 8, &b, &n, "d", &why), RL_OK);
    cr_assert_eq(n, 3);
    cr_assert(b[0] == 0 && b[1] == 0xab && b[2] == 0xff);
    free(b);
    cr_assert_eq(rpcjson_parse_bytes("0x0", 3, &b, &n, "d", &why), RL_ERR_DECODE);
    assert_has(why.text, "odd");
    cr_assert_eq(rpcjson_parse_bytes("00", 2, &b, &n, "d", &why), RL_ERR_DECODE);
    uint8_t addr[20];
    cr_assert_eq(rpcjson_parse_fixed("0x1234", 6, addr, 20, "address", &why), RL_ERR_DECODE);
    assert_has(why.text, "expected 40");
    json_t *j = json_integer(5);
    cr_assert_eq(rpcjson_fixed(j, addr, 20, "address", &why), RL_ERR_DECODE, "a JSON number is not data");
    json_decref(j);
    cr_assert_eq(rpcjson_u64(NULL, &(uint64_t){0}, "gasUsed", &why), RL_ERR_DECODE);
    assert_has(why.text, "gasUsed: missing");
}

Test(rpcjson, envelope_checks_version_id_and_shape)
{
    rpc_error e = {0};
    json_t *res;
    rl_why why = {{0}};
    struct {
        const char *text;
        rl_err want;
        const char *says;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":\"0x1\"}", RL_OK, ""},
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":null}", RL_OK, ""},
        {"{\"jsonrpc\":\"1.0\",\"id\":7,\"result\":\"0x1\"}", RL_ERR_DECODE, "jsonrpc"},
        {"{\"id\":7,\"result\":\"0x1\"}", RL_ERR_DECODE, "jsonrpc"},
        {"{\"jsonrpc\":\"2.0\",\"id\":8,\"result\":\"0x1\"}", RL_ERR_DECODE, "id is 8, expected 7"},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"7\",\"result\":\"0x1\"}", RL_ERR_DECODE, "not an integer"},
        {"{\"jsonrpc\":\"2.0\",\"result\":\"0x1\"}", RL_ERR_DECODE, "missing"},
        {"{\"jsonrpc\":\"2.0\",\"id\":7}", RL_ERR_DECODE, "neither"},
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":1,\"error\":{\"code\":1,\"message\":\"x\"}}", RL_ERR_DECODE, "both"},
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":\"1\",\"message\":\"x\"}}", RL_ERR_DECODE, "integer code"},
        {"{\"jsonrpc\":\"2.0\",\"id\":7,\"error\":{\"code\":3,\"message\":\"execution reverted\",\"data\":\"0x12\"}}",
         RL_ERR_RPC, "JSON-RPC error 3: execution reverted"},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"parse\\nerror\"}}", RL_ERR_RPC,
         "-32700: parse?error"},
        {"[]", RL_ERR_DECODE, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *j = json_loads(cases[i].text, 0, NULL);
        cr_assert_not_null(j, "%s", cases[i].text);
        why.text[0] = '\0';
        cr_assert_eq(rpcjson_response(j, 7, &res, &e, &why), cases[i].want, "%s: %s", cases[i].text, why.text);
        assert_has(why.text, cases[i].says);
        if (cases[i].want == RL_ERR_RPC && e.code == 3) {
            uint8_t *d;
            size_t n;
            cr_assert_eq(rpcjson_bytes(e.data, &d, &n, "data", &why), RL_OK);
            cr_assert(n == 1 && d[0] == 0x12);
            free(d);
        }
        rpc_error_clear(&e);
        json_decref(j);
    }
}

Test(rpcjson, batch_answers_match_by_id_and_refuse_strangers)
{
    json_t *ans[3];
    rpc_error e = {0};
    rl_why why = {{0}};
    json_t *j = json_loads("[{\"jsonrpc\":\"2.0\",\"id\":12,\"result\":2},{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":0}]", 0,
                           NULL);
    cr_assert_eq(rpcjson_batch(j, 10, 3, ans, &e, &why), RL_OK);
    cr_assert(ans[0] != NULL && ans[1] == NULL && ans[2] != NULL);
    json_decref(j);
    j = json_loads("[{\"jsonrpc\":\"2.0\",\"id\":13,\"result\":2}]", 0, NULL);
    cr_assert_eq(rpcjson_batch(j, 10, 3, ans, &e, &why), RL_ERR_DECODE);
    assert_has(why.text, "not one asked for");
    json_decref(j);
    j = json_loads("[{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":2},{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":2}]", 0, NULL);
    cr_assert_eq(rpcjson_batch(j, 10, 3, ans, &e, &why), RL_ERR_DECODE);
    assert_has(why.text, "twice");
    json_decref(j);
    j = json_loads("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32600,\"message\":\"batch too large\"}}", 0, NULL);
    cr_assert_eq(rpcjson_batch(j, 10, 3, ans, &e, &why), RL_ERR_RPC);
    cr_assert_eq(e.code, -32600);
    rpc_error_clear(&e);
    json_decref(j);
}

Test(rpcjson, a_bad_field_in_any_log_refuses_the_list_and_names_the_field)
{
    rpc_logs l;
    rl_why why = {{0}};
    char text[2048];
    snprintf(text, sizeof text, "[%s,%s]", STUB_LOG0, STUB_LOG0);
    json_t *j = json_loads(text, 0, NULL);
    cr_assert_eq(rpcjson_logs(j, &l, &why), RL_OK, "%s", why.text);
    cr_assert_eq(l.n, 2);
    cr_assert_eq(l.v[1].log_index, 3);
    cr_assert_eq(l.v[1].n_topics, 2);
    cr_assert(l.v[0].data_len == 2 && l.v[0].data[1] == 2);
    rpc_logs_fini(&l);
    json_decref(j);
    struct {
        const char *from, *to, *field;
    } bad[] = {
        {"\"logIndex\":\"0x3\"", "\"logIndex\":\"0x03\"", "logs[1].logIndex"},
        {"\"logIndex\":\"0x3\"", "\"logIndex\":null", "logs[1].logIndex"},
        {"\"removed\":false", "\"removed\":\"no\"", "logs[1].removed"},
        {"\"data\":\"0x0102\"", "\"data\":\"0x012\"", "logs[1].data"},
        {"\"blockNumber\":\"0xc\"", "\"blockNumber\":null", "logs[1].blockNumber"},
        {"\"0x0000000000000000000000000000000000000000000000000000000000000001\"", "\"0x01\"", "logs[1].topics[1]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char one[1024], *at;
        snprintf(one, sizeof one, "%s", STUB_LOG0);
        cr_assert_not_null(at = strstr(one, bad[i].from));
        char tail[1024];
        snprintf(tail, sizeof tail, "%s", at + strlen(bad[i].from));
        snprintf(at, sizeof one - (size_t)(at - one), "%s%s", bad[i].to, tail);
        snprintf(text, sizeof text, "[%s,%s]", STUB_LOG0, one);
        j = json_loads(text, 0, NULL);
        cr_assert_not_null(j, "%s", text);
        cr_assert_eq(rpcjson_logs(j, &l, &why), RL_ERR_DECODE, "%s", bad[i].to);
        assert_has(why.text, bad[i].field);
        cr_assert(l.n == 0 && l.v == NULL);
        json_decref(j);
    }
    j = json_null();
    cr_assert_eq(rpcjson_logs(j, &l, &why), RL_ERR_DECODE, "null is not an empty list");
}

