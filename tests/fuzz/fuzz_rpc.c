/* fuzz_rpc.c - the JSON-RPC answer decoders (rpcjson): any answer, single or batch, is decoded
 * strictly or refused with a reason, and whatever is accepted reads back as it was written (hex
 * in canonical form, up to the case of a-f; a log's data byte for byte). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bridges/evm/rpcjson.h"
#include "tests/fuzz/fuzz.h"

/* The batch the fuzzer's answers are matched against: requests 1 .. BATCH. */
#define BATCH 4

static void refused(rl_err err, const rl_why *why)
{
    fuzz_require(err == RL_ERR_DECODE || err == RL_ERR_OVERFLOW || err == RL_ERR_NOTFOUND, "unexpected error code");
    fuzz_require(why->text[0] != '\0', "refused without a reason");
}

static void same_text(const json_t *v, json_t *again)
{
    fuzz_require(again != NULL && strcasecmp(json_string_value(v), json_string_value(again)) == 0,
                 "accepted hex does not read back as written");
    json_decref(again);
}

/* Every typed reading of one result. */
static void readings(const json_t *res)
{
    rl_why why = {{0}};
    rl_err err;
    uint64_t q;
    if ((err = rpcjson_u64(res, &q, "result", &why)) == RL_OK)
        same_text(res, rpcjson_from_u64(q));
    else
        refused(err, &why);
    u256 big;
    if ((err = rpcjson_u256(res, &big, "result", &why)) == RL_OK)
        same_text(res, rpcjson_from_u256(&big));
    else
        refused(err, &why);
    uint8_t *bytes;
    size_t n;
    if ((err = rpcjson_bytes(res, &bytes, &n, "result", &why)) == RL_OK) {
        same_text(res, rpcjson_from_bytes(bytes, n));
        free(bytes);
    } else {
        refused(err, &why);
    }
    rpc_block b;
    if ((err = rpcjson_block(res, &b, &why)) == RL_OK)
        same_text(json_object_get(res, "number"), rpcjson_from_u64(b.number));
    else
        refused(err, &why);
    rpc_logs logs;
    if ((err = rpcjson_logs(res, &logs, &why)) == RL_OK) {
        fuzz_require(logs.n == json_array_size(res), "log count differs");
        for (size_t i = 0; i < logs.n; i++)
            same_text(json_object_get(json_array_get(res, i), "data"),
                      rpcjson_from_bytes(logs.v[i].data, logs.v[i].data_len));
        rpc_logs_fini(&logs);
    } else {
        refused(err, &why);
        fuzz_require(logs.n == 0 && logs.v == NULL, "refused logs left a list behind");
    }
    rpc_receipt r;
    if ((err = rpcjson_receipt(res, &r, &why)) == RL_OK) {
        fuzz_require(r.status <= 1, "receipt status beyond 0x1");
        rpc_receipt_fini(&r);
    } else {
        refused(err, &why);
    }
    for (size_t k = 0; k < 3; k++) {
        rpc_fee_history fh;
        if ((err = rpcjson_fee_history(res, k, &fh, &why)) == RL_OK) {
            fuzz_require(fh.n_blocks == json_array_size(json_object_get(res, "gasUsedRatio")), "fee history length");
            rpc_fee_history_fini(&fh);
        } else {
            refused(err, &why);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    if (root == NULL)
        return 0;
    rl_why why = {{0}};
    rpc_error e = {0};
    json_t *res;
    rl_err err = rpcjson_response(root, 1, &res, &e, &why);
    if (err == RL_OK) {
        readings(res);
    } else {
        fuzz_require(err == RL_ERR_RPC || err == RL_ERR_DECODE, "answer refused with an unexpected code");
        fuzz_require(why.text[0] != '\0', "answer refused without a reason");
        for (const char *m = e.message; *m; m++)
            fuzz_require(*m >= 0x20 && *m < 0x7f, "an error message keeps a control character");
    }
    rpc_error_clear(&e);
    json_t *answers[BATCH];
    why.text[0] = '\0';
    err = rpcjson_batch(root, 1, BATCH, answers, &e, &why);
    if (err == RL_OK) {
        for (size_t i = 0; i < BATCH; i++)
            fuzz_require(answers[i] == NULL || json_integer_value(json_object_get(answers[i], "id")) == (json_int_t)i + 1,
                         "a batch answer matched to the wrong call");
    } else {
        fuzz_require(err == RL_ERR_RPC || err == RL_ERR_DECODE, "batch refused with an unexpected code");
        fuzz_require(why.text[0] != '\0', "batch refused without a reason");
    }
    rpc_error_clear(&e);
    json_decref(root);
    return 0;
}
