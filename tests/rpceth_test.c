/*
 * rpceth_test.c - the typed eth_* calls: what they send, what they decode, and that a failure or
 * a wrong answer never reads as an empty or negative one.
 */
#include "bridges/evm/rpceth.h"
#include "tests/rpcstub.h"
#include "tests/testutil.h"

static const uint8_t VAULT[1][20] = {{[19] = 0xaa}};
static const uint8_t TOPIC[1][32] = {{0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                      0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                      0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11}};

static rpc_filter vault_filter(void)
{
    rpc_filter f = {.addresses = VAULT, .n_addresses = 1, .n_topics = 1};
    f.topics[0] = (rpc_topic_set){TOPIC, 1};
    f.from = rpc_block_at(10);
    f.to = rpc_block_at(20);
    return f;
}

Test(rpceth, get_logs_decodes_logs_and_a_failure_is_never_an_empty_list)
{
    stub *s[] = {stub_start(1)};
    char text[2048];
    snprintf(text, sizeof text, "[%s]", STUB_LOG0);
    stub_result(s[0], "eth_getLogs", text);
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_retries = 0;
    o.max_failures = 100;
    rpc *c = tc_open(s, 1, &o, &f);
    rpc_filter flt = vault_filter();
    rpc_logs *logs = NULL;
    rl_why why = {{0}};
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_OK, "%s", why.text);
    char *params = stub_params(s[0], "eth_getLogs");
    cr_assert_str_eq(params, "[{\"address\":\"0x00000000000000000000000000000000000000aa\",\"topics\":[\"0x"
                             "1111111111111111111111111111111111111111111111111111111111111111\"],"
                             "\"fromBlock\":\"0xa\",\"toBlock\":\"0x14\"}]");
    free(params);
    cr_assert_eq(logs->n, 1);
    cr_assert_eq(logs->v[0].block_number, 12);
    cr_assert_eq(logs->v[0].log_index, 3);
    cr_assert_eq(logs->v[0].block_hash[31], 0xbb);
    cr_assert_eq(logs->v[0].tx_hash[0], 0xcc);
    cr_assert(!logs->v[0].removed);
    rpc_logs_free(logs);
    /* an empty answer is an empty list */
    stub_result(s[0], "eth_getLogs", "[]");
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_OK);
    cr_assert_not_null(logs);
    cr_assert_eq(logs->n, 0);
    rpc_logs_free(logs);
    /* failures are NULL, whatever the kind */
    stub_result(s[0], "eth_getLogs", "null");
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_ERR_DECODE);
    cr_assert_null(logs);
    assert_has(why.text, "eth_getLogs");
    assert_has(why.text, "logs: not an array");
    flt.to = rpc_block_at(11); /* the answer's log is in block 12 */
    stub_result(s[0], "eth_getLogs", text);
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_ERR_DECODE);
    cr_assert_null(logs);
    assert_has(why.text, "outside the range asked");
    flt = vault_filter();
    uint8_t other[1][32] = {{0x22}};
    flt.topics[0] = (rpc_topic_set){other, 1};
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_ERR_DECODE);
    assert_has(why.text, "does not match topic 0");
    flt = vault_filter();
    stub_mode_set(s[0], STUB_500, -1);
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_ERR_TRANSPORT);
    cr_assert_null(logs);
    stub_mode_set(s[0], STUB_OK, 0);
    /* block hash filters and tags */
    uint8_t bh[32];
    memset(bh, 0xbb, sizeof bh);
    flt.block_hash = bh;
    flt.n_addresses = 0;
    flt.n_topics = 0;
    cr_assert_eq(rpc_eth_get_logs(c, &flt, &logs, &why), RL_OK, "%s", why.text);
    rpc_logs_free(logs);
    params = stub_params(s[0], "eth_getLogs");
    cr_assert_str_eq(params, "[{\"blockHash\":\"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}]");
    free(params);
    rpc_close(c);
    stub_free(s[0]);
}

Test(rpceth, a_malformed_result_fails_over_like_a_malformed_answer)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    stub_result(s[0], "eth_getTransactionCount", "\"0x07\"");
    stub_result(s[1], "eth_getTransactionCount", "\"0x7\"");
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    uint64_t nonce = 0;
    rl_why why = {{0}};
    cr_assert_eq(rpc_eth_get_tx_count(c, VAULT[0], rpc_block_tag(RPC_PENDING), &nonce, &why), RL_OK, "%s", why.text);
    cr_assert_eq(nonce, 7);
    char *params = stub_params(s[1], "eth_getTransactionCount");
    cr_assert_str_eq(params, "[\"0x00000000000000000000000000000000000000aa\",\"pending\"]");
    free(params);
    cr_assert_eq(tc_health(c, 0).failures, 1);
    assert_has(tc_health(c, 0).reason, "leading zero");
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpceth, receipts_blocks_and_not_found_are_told_apart)
{
    stub *s[] = {stub_start(1)};
    char text[4096];
    snprintf(text, sizeof text,
             "{\"transactionHash\":\"0xcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
             "\"blockHash\":\"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
             "\"blockNumber\":\"0xc\",\"transactionIndex\":\"0x0\",\"status\":\"0x1\",\"gasUsed\":\"0x5208\","
             "\"cumulativeGasUsed\":\"0x5208\",\"effectiveGasPrice\":\"0x3b9aca00\",\"contractAddress\":null,"
             "\"logs\":[%s]}",
             STUB_LOG0);
    stub_result(s[0], "eth_getTransactionReceipt", text);
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_retries = 0;
    rpc *c = tc_open(s, 1, &o, &f);
    uint8_t tx[32];
    memset(tx, 0xcc, sizeof tx);
    rpc_receipt *r = NULL;
    rl_why why = {{0}};
    cr_assert_eq(rpc_eth_get_receipt(c, tx, &r, &why), RL_OK, "%s", why.text);
    cr_assert_eq(r->status, 1);
    cr_assert_eq(r->block_number, 12);
    cr_assert_eq(r->gas_used, 21000);
    cr_assert(r->has_effective_gas_price && r->effective_gas_price.w[0] == 1000000000);
    cr_assert(!r->has_contract_address);
    cr_assert_eq(r->logs.n, 1);
    rpc_receipt_free(r);
    tx[0] = 0xdd;
    cr_assert_eq(rpc_eth_get_receipt(c, tx, &r, &why), RL_ERR_DECODE, "a receipt of another transaction");
    cr_assert_null(r);
    stub_result(s[0], "eth_getTransactionReceipt", "null");
    cr_assert_eq(rpc_eth_get_receipt(c, tx, &r, &why), RL_ERR_NOTFOUND);
    cr_assert_null(r);
    assert_has(why.text, "eth_getTransactionReceipt at");

    stub_result(s[0], "eth_getBlockByNumber",
                "{\"number\":\"0x10\",\"timestamp\":\"0x6553f100\","
                "\"hash\":\"0x0101010101010101010101010101010101010101010101010101010101010101\","
                "\"parentHash\":\"0x0202020202020202020202020202020202020202020202020202020202020202\","
                "\"baseFeePerGas\":\"0x7\",\"transactions\":[]}");
    rpc_block b;
    cr_assert_eq(rpc_eth_get_block(c, rpc_block_tag(RPC_FINALIZED), &b, &why), RL_OK, "%s", why.text);
    char *params = stub_params(s[0], "eth_getBlockByNumber");
    cr_assert_str_eq(params, "[\"finalized\",false]");
    free(params);
    cr_assert(b.number == 16 && b.timestamp == 0x6553f100 && b.hash[0] == 1 && b.parent_hash[31] == 2);
    cr_assert(b.has_base_fee && b.base_fee_per_gas.w[0] == 7);
    cr_assert_eq(rpc_eth_get_block(c, rpc_block_at(17), &b, &why), RL_ERR_DECODE);
    assert_has(why.text, "asked for block 17, got block 16");
    stub_result(s[0], "eth_getBlockByNumber", "null");
    cr_assert_eq(rpc_eth_get_block(c, rpc_block_at(17), &b, &why), RL_ERR_NOTFOUND);
    rpc_close(c);
    stub_free(s[0]);
}

Test(rpceth, calls_estimates_sends_and_fees)
{
    stub *s[] = {stub_start(1)};
    stub_result(s[0], "eth_call", "\"0x\"");
    stub_result(s[0], "eth_estimateGas", "\"0x5208\"");
    stub_result(s[0], "eth_sendRawTransaction", "\"0x0303030303030303030303030303030303030303030303030303030303030303\"");
    stub_result(s[0], "eth_maxPriorityFeePerGas", "\"0x3b9aca00\"");
    stub_result(s[0], "eth_feeHistory", "{\"oldestBlock\":\"0x10\",\"baseFeePerGas\":[\"0x1\",\"0x2\",\"0x3\"],"
                                        "\"gasUsedRatio\":[0.5,0],\"reward\":[[\"0x1\",\"0x2\"],[\"0x3\",\"0x4\"]]}");
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_retries = 0;
    rpc *c = tc_open(s, 1, &o, &f);
    rl_why why = {{0}};
    uint8_t input[4] = {0x70, 0xa0, 0x82, 0x31};
    u256 value = u256_from_u64(1000);
    rpc_callmsg m = {.to = VAULT[0], .data = input, .data_len = 4, .value = &value, .gas = 100000};
    uint8_t *out = NULL;
    size_t len = 99;
    cr_assert_eq(rpc_eth_call(c, &m, rpc_block_tag(RPC_LATEST), &out, &len, &why), RL_OK, "%s", why.text);
    cr_assert_not_null(out, "empty return data is a buffer");
    cr_assert_eq(len, 0);
    free(out);
    char *params = stub_params(s[0], "eth_call");
    cr_assert_str_eq(params, "[{\"to\":\"0x00000000000000000000000000000000000000aa\",\"gas\":\"0x186a0\","
                             "\"value\":\"0x3e8\",\"data\":\"0x70a08231\"},\"latest\"]");
    free(params);
    stub_error(s[0], "eth_call", 3, "execution reverted", "\"0xdeadbeef\"");
    cr_assert_eq(rpc_eth_call(c, &m, rpc_block_tag(RPC_LATEST), &out, &len, &why), RL_ERR_RPC);
    cr_assert_null(out);
    uint8_t *data;
    size_t dlen;
    cr_assert_eq(rpcjson_bytes(rpc_last_error(c)->data, &data, &dlen, "revert", &why), RL_OK);
    cr_assert(dlen == 4 && data[0] == 0xde);
    free(data);
    uint64_t gas;
    cr_assert_eq(rpc_eth_estimate_gas(c, &m, &gas, &why), RL_OK);
    cr_assert_eq(gas, 21000);
    uint8_t h[32];
    cr_assert_eq(rpc_eth_send_raw_tx(c, input, 4, h, &why), RL_OK);
    cr_assert_eq(h[31], 3);
    params = stub_params(s[0], "eth_sendRawTransaction");
    cr_assert_str_eq(params, "[\"0x70a08231\"]");
    free(params);
    u256 tip;
    cr_assert_eq(rpc_eth_max_priority_fee(c, &tip, &why), RL_OK);
    cr_assert_eq(tip.w[0], 1000000000);
    uint8_t pct[2] = {25, 75};
    rpc_fee_history fh;
    cr_assert_eq(rpc_eth_fee_history(c, 2, rpc_block_tag(RPC_LATEST), pct, 2, &fh, &why), RL_OK, "%s", why.text);
    cr_assert(fh.oldest_block == 16 && fh.n_blocks == 2 && fh.base_fee[2].w[0] == 3);
    cr_assert(fh.gas_used_ppm[0] == 500000 && fh.gas_used_ppm[1] == 0);
    cr_assert_eq(fh.reward[1 * 2 + 1].w[0], 4);
    rpc_fee_history_fini(&fh);
    params = stub_params(s[0], "eth_feeHistory");
    cr_assert_str_eq(params, "[\"0x2\",\"latest\",[25,75]]");
    free(params);
    cr_assert_eq(rpc_eth_fee_history(c, 2, rpc_block_tag(RPC_LATEST), pct, 1, &fh, &why), RL_ERR_DECODE,
                 "two rewards per block where one was asked");
    uint8_t down[2] = {75, 25};
    cr_assert_eq(rpc_eth_fee_history(c, 2, rpc_block_tag(RPC_LATEST), down, 2, &fh, &why), RL_ERR_ARG);
    rpc_close(c);
    stub_free(s[0]);
}
