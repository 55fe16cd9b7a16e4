/*
 * seeds.c - writes the starting corpora for the fuzz targets, from a real log: the small
 * simulated cluster of FUZZ_SIM_OPTS is ingested into a fresh ledger and exported, and every
 * record, observation and relayer set in it becomes a seed.
 *
 * The JSON-RPC answers for fuzz_rpc are built with the encoders the client trusts, and the RLP
 * items and signed EIP-1559 transactions for fuzz_rlp and fuzz_evmtx with the relayer's own
 * encoders and signer.
 *
 * The oracle seeds (latestRoundData answers, price documents) are built with oracle.h's encoder.
 *
 *     fuzz-seeds OUTDIR     makes OUTDIR/{obs,record,relset,export,wire,rpc,oracle,vaultlog,rlp,evmtx}/
 */
#include <errno.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>

#include "attest/bundle.h"
#include "attest/instruction.h"
#include "bridges/evm/oracle.h"
#include "bridges/evm/rlp.h"
#include "bridges/evm/rpcjson.h"
#include "bridges/evm/tx.h"
#include "bridges/evm/vaultlog.h"
#include "db/ingest.h"
#include "relayer/wire.h"
#include "tests/fuzz/fuzz.h"

static void put(const char *dir, const char *kind, unsigned n, const void *data, size_t len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, kind);
    fuzz_require(mkdir(path, 0755) == 0 || errno == EEXIST, path);
    snprintf(path, sizeof path, "%s/%s/seed-%04u", dir, kind, n);
    FILE *f = fopen(path, "wb");
    fuzz_require(f != NULL && fwrite(data, 1, len, f) == len && fclose(f) == 0, path);
}

static void build_log(const char *out, const char *log_path, sim *s, pool *p)
{
    rl_why why = {{0}};
    char hub[4200];
    snprintf(hub, sizeof hub, "%s/hub", out);
    store *st;
    ingest *g;
    fuzz_require(store_open(&st, hub, NULL, &why) == RL_OK, why.text);
    fuzz_require(ingest_open(&g, st, p, &s->genesis, NULL, 1, &why) == RL_OK, why.text);
    fuzz_require(sim_ingest(s, p, g, NULL, NULL, &why) == RL_OK, why.text);
    ingest_close(g);
    uint64_t count;
    fuzz_require(export_write(st, log_path, &count, NULL, NULL, &why) == RL_OK, why.text);
    store_close(st);
}

static void split_log(const char *out, const char *log_path)
{
    rl_why why = {{0}};
    export_reader *r;
    fuzz_require(export_open(&r, log_path, &why) == RL_OK, why.text);
    const uint8_t *rec;
    size_t len;
    unsigned n = 0;
    rl_err err;
    while ((err = export_next(r, &rec, &len, &why)) == RL_OK) {
        put(out, "record", n, rec, len);
        record h;
        fuzz_require(record_decode(&h, rec, len, &why) == RL_OK, why.text);
        if (h.type == RECORD_ATTEST)
            put(out, "obs", n, h.payload, OBS_BYTES);
        static uint8_t frame[RECORD_MAX_BYTES + 64];
        if (n < 8)
            put(out, "wire", n, frame, wire_encode_record(frame, sizeof frame, h.seq, rec, len));
        if (h.type == RECORD_SET) {
            payload_set ps;
            uint8_t enc[RELSET_MAX_BYTES];
            size_t elen;
            fuzz_require(payload_set_decode(&ps, &h, &why) == RL_OK, why.text);
            fuzz_require(relset_encode(&ps.set, enc, &elen, &why) == RL_OK, why.text);
            put(out, "relset", n, enc, elen);
            json_t *j = relset_to_json(&ps.set);
            char *text = json_dumps(j, JSON_COMPACT);
            put(out, "relset", 1000 + n, text, strlen(text));
            free(text);
            json_decref(j);
        }
        n++;
    }
    fuzz_require(err == RL_ERR_NOTFOUND, why.text);
    export_close(r);
}

/* Bus frames of every type, from the same cluster's observations. */
static void write_wire_seeds(const char *out, const sim *s, pool *p)
{
    signed_obs *so;
    size_t n;
    static uint8_t frame[WIRE_OBS_MAX * WIRE_SIGNED_OBS_BYTES + 64];
    fuzz_require(sim_stream(s, p, 0, 4, &so, &n, NULL) == RL_OK, "sim_stream");
    put(out, "wire", 100, frame, wire_encode_obs(frame, sizeof frame, 1, so, n));
    put(out, "wire", 101, frame, wire_encode_obs(frame, sizeof frame, 2, so, 1));
    wire_ack acks[2] = {{1, WIRE_ACK_SETTLED}, {2, WIRE_ACK_REFUSED}};
    put(out, "wire", 102, frame, wire_encode_ack(frame, sizeof frame, acks, 2));
    put(out, "wire", 103, frame, wire_encode_catchup(frame, sizeof frame, 1, 4096));
    put(out, "wire", 104, frame, wire_encode_end(frame, sizeof frame, 48));
    free(so);
}

static void put_json(const char *out, unsigned n, json_t *j)
{
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    fuzz_require(text != NULL, "rpc seed");
    put(out, "rpc", n, text, strlen(text));
    free(text);
    json_decref(j);
}

/* JSON-RPC answers of every shape the client reads: a quantity, a block, logs, a receipt, a fee
 * history, null, an error, a batch out of order with an error in it, a refused batch. */
static void write_rpc_seeds(const char *out)
{
    uint8_t h[32], a[20], d[4] = {1, 2, 3, 4};
    memset(h, 0xab, sizeof h);
    memset(a, 0xaa, sizeof a);
    u256 fee = u256_from_u64(1000000007);
    json_t *log = json_pack("{s:o, s:[o,o], s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "address",
                            rpcjson_from_bytes(a, sizeof a), "topics", rpcjson_from_bytes(h, sizeof h),
                            rpcjson_from_bytes(h, sizeof h), "data", rpcjson_from_bytes(d, sizeof d), "blockNumber",
                            rpcjson_from_u64(12), "blockHash", rpcjson_from_bytes(h, sizeof h), "transactionHash",
                            rpcjson_from_bytes(h, sizeof h), "transactionIndex", rpcjson_from_u64(0), "logIndex",
                            rpcjson_from_u64(3), "removed", 0);
    json_t *results[] = {
        rpcjson_from_u64(0x1b4),
        rpcjson_from_u256(&fee),
        json_pack("{s:o, s:o, s:o, s:o, s:o}", "number", rpcjson_from_u64(16), "timestamp",
                  rpcjson_from_u64(1700000000), "hash", rpcjson_from_bytes(h, sizeof h), "parentHash",
                  rpcjson_from_bytes(h, sizeof h), "baseFeePerGas", rpcjson_from_u256(&fee)),
        json_pack("[O,O]", log, log),
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:n, s:[O]}", "transactionHash",
                  rpcjson_from_bytes(h, sizeof h), "blockHash", rpcjson_from_bytes(h, sizeof h), "blockNumber",
                  rpcjson_from_u64(12), "transactionIndex", rpcjson_from_u64(0), "status", rpcjson_from_u64(1),
                  "gasUsed", rpcjson_from_u64(21000), "cumulativeGasUsed", rpcjson_from_u64(21000),
                  "effectiveGasPrice", rpcjson_from_u256(&fee), "contractAddress", "logs", log),
        json_pack("{s:o, s:[o,o], s:[f], s:[[o,o]]}", "oldestBlock", rpcjson_from_u64(16), "baseFeePerGas",
                  rpcjson_from_u64(7), rpcjson_from_u64(8), "gasUsedRatio", 0.5, "reward", rpcjson_from_u64(1),
                  rpcjson_from_u64(2)),
        json_null(),
    };
    unsigned n = 0;
    for (size_t i = 0; i < sizeof results / sizeof *results; i++)
        put_json(out, n++, json_pack("{s:s, s:i, s:o}", "jsonrpc", "2.0", "id", 1, "result", results[i]));
    json_t *revert = json_pack("{s:i, s:s, s:s}", "code", 3, "message", "execution reverted", "data", "0x08c379a0");
    put_json(out, n++, json_pack("{s:s, s:i, s:O}", "jsonrpc", "2.0", "id", 1, "error", revert));
    put_json(out, n++, json_pack("[{s:s, s:i, s:o}, {s:s, s:i, s:O}, {s:s, s:i, s:o}]", "jsonrpc", "2.0", "id", 3,
                                 "result", rpcjson_from_u64(3), "jsonrpc", "2.0", "id", 2, "error", revert, "jsonrpc",
                                 "2.0", "id", 1, "result", rpcjson_from_u64(1)));
    put_json(out, n++, json_pack("{s:s, s:n, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", "error", "code", -32600,
                                 "message", "batch too large"));
    json_decref(revert);
    json_decref(log);
}

/* An INSTRUCTION record (the simulated hub logs none), seeded after the log's records. */
static void write_instruction_seed(const char *out)
{
    instruction in = {.kind = INSTRUCTION_SEIZE, .decision = 7, .index = 1, .chain_id = 10,
                      .amount = u256_from_u64(5000000), .nonce = 3, .deadline_s = 1700003600};
    memset(in.vault, 0xaa, EVM_ADDR_BYTES);
    memset(in.account, 0x11, EVM_ADDR_BYTES);
    memset(in.asset, 0xc0, EVM_ADDR_BYTES);
    memset(in.recipient, 0xee, EVM_ADDR_BYTES);
    uint8_t payload[INSTRUCTION_BYTES], rec[RECORD_HEADER_BYTES + INSTRUCTION_BYTES];
    rl_why why = {{0}};
    fuzz_require(instruction_encode(payload, &in, &why) == RL_OK, why.text);
    record r = {.type = RECORD_INSTRUCTION, .seq = 8, .time_ms = 1700000000000ull, .payload = payload,
                .payload_len = sizeof payload};
    size_t len;
    fuzz_require(record_encode(&r, rec, &len, &why) == RL_OK, why.text);
    put(out, "record", 9000, rec, len);
    /* its bundle, and one COSIG frame of it */
    bundle b = {.instruction = 8, .n = 2, .e = {{.member = 2}, {.member = 1}}};
    memset(b.e[0].sig, 0x5a, EVM_SIG_BYTES);
    memset(b.e[1].sig, 0xa5, EVM_SIG_BYTES);
    uint8_t bp[BUNDLE_MAX_BYTES], brec[RECORD_HEADER_BYTES + BUNDLE_MAX_BYTES], frame[128];
    size_t blen;
    fuzz_require(bundle_encode(bp, &blen, &b, &why) == RL_OK, why.text);
    record br = {.type = RECORD_BUNDLE, .seq = 9, .time_ms = 1700000000001ull, .payload = bp,
                 .payload_len = (uint32_t)blen};
    fuzz_require(record_encode(&br, brec, &len, &why) == RL_OK, why.text);
    put(out, "record", 9001, brec, len);
    put(out, "wire", 9000, frame, wire_encode_cosig(frame, sizeof frame, 8, 2, b.e[0].sig));
    /* a quorum checkpoint of record 8 as a CHECKPOINT record, and one member's CHECKPOINT frame */
    checkpoint_signed cs = {.c = {.seq = 8, .set_version = 1}, .sigs = {.n = 2, .e = {{.member = 1}, {.member = 2}}}};
    memset(cs.c.head, 0x8c, HASH_BYTES);
    memset(cs.sigs.e[0].sig, 0x11, ED25519_SIG_BYTES);
    memset(cs.sigs.e[1].sig, 0x22, ED25519_SIG_BYTES);
    uint8_t cp[CHECKPOINT_MAX_BYTES], crec[RECORD_HEADER_BYTES + CHECKPOINT_MAX_BYTES];
    fuzz_require(checkpoint_signed_encode(cp, &blen, &cs, &why) == RL_OK, why.text);
    record cr = {.type = RECORD_CHECKPOINT, .seq = 10, .time_ms = 1700000000002ull, .payload = cp,
                 .payload_len = (uint32_t)blen};
    fuzz_require(record_encode(&cr, crec, &len, &why) == RL_OK, why.text);
    put(out, "record", 9002, crec, len);
    put(out, "wire", 9001, frame, wire_encode_checkpoint(frame, sizeof frame, &cs.c, 1, cs.sigs.e[0].sig));
}

/* fuzz_oracle: first byte 0 then latestRoundData return data, 1 then a price document. */
static void write_oracle_seeds(const char *out)
{
    const oracle_round rounds[] = {
        {.round_id = 1, .answer = 300012345678, .started_at = 1700000000, .updated_at = 1700000000,
         .answered_in_round = 1},
        {.round_id = ((unsigned __int128)1 << 79) | 5, .answer = -1, .started_at = 1, .updated_at = 2,
         .answered_in_round = ((unsigned __int128)1 << 79) | 4},
        {.round_id = 9, .answer = 0, .answered_in_round = 9},
    };
    unsigned n = 0;
    for (size_t i = 0; i < sizeof rounds / sizeof rounds[0]; i++) {
        uint8_t b[1 + ORACLE_ROUND_BYTES] = {0};
        oracle_encode_round(b + 1, &rounds[i]);
        put(out, "oracle", n++, b, sizeof b);
    }
    const char *docs[] = {
        "\x01{\"data\":{\"price\":\"3000.25\",\"time\":1700000000}}",
        "\x01{\"data\":{\"price\":42,\"time\":1700000000}}",
        "\x01{\"data\":{\"price\":3000.25,\"time\":1700000000}}",
        "\x01{\"data\":{\"price\":\"0.0000000000000000012345\",\"time\":1}}",
        "\x01" "64000.123456789012345678",
        "\x01" "0.1000000000000000009",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        put(out, "oracle", n++, docs[i], strlen(docs[i]));
}

/* One log per vault event kind, in fuzz_vaultlog's input format, built with the encoder; and the
 * observation of each (deposit, executed, rotated) for fuzz_obs. */
static void write_vaultlog_seeds(const char *out)
{
    static const uint8_t vault[RPC_ADDR_BYTES] = FUZZ_VAULT;
    vault_event e[VAULT_EVENT_KINDS];
    memset(e, 0, sizeof e);
    for (unsigned k = 0; k < VAULT_EVENT_KINDS; k++) {
        e[k].kind = (vault_event_kind)(k + 1);
        e[k].seq = k + 1;
        memset(e[k].account, 0x11, RPC_ADDR_BYTES);
        e[k].asset[19] = (uint8_t)k;
        e[k].amount = u256_from_u64(1000000 + k);
    }
    e[1].exec_kind = VAULT_EXEC_SEIZE;
    memset(e[1].recipient, 0x22, RPC_ADDR_BYTES);
    e[1].nonce = u256_from_u64(9);
    e[2].version = u256_from_u64(2);
    e[2].threshold = u256_from_u64(2);
    e[2].n_signers = 3;
    for (unsigned i = 0; i < 3; i++)
        memset(e[2].signers[i], 0x30 + i, RPC_ADDR_BYTES);
    for (unsigned k = 0; k < VAULT_EVENT_KINDS; k++) {
        rpc_log l;
        fuzz_require(vault_encode_log(&e[k], vault, &l, NULL) == RL_OK, "vaultlog seed");
        size_t len = 1 + l.n_topics * RPC_HASH_BYTES + l.data_len;
        uint8_t *buf = malloc(len);
        fuzz_require(buf != NULL, "vaultlog seed");
        buf[0] = (uint8_t)l.n_topics;
        memcpy(buf + 1, l.topics, l.n_topics * RPC_HASH_BYTES);
        memcpy(buf + 1 + l.n_topics * RPC_HASH_BYTES, l.data, l.data_len);
        put(out, "vaultlog", k, buf, len);
        free(buf);
        free(l.data);
        /* and the observation each event becomes: seeds of every observation kind */
        obs o;
        uint8_t enc[OBS_BYTES];
        rl_why why = {{0}};
        fuzz_require(vault_event_obs(&e[k], 10, vault, &o, &why) == RL_OK && obs_encode(enc, &o, &why) == RL_OK,
                     why.text);
        put(out, "obs", 9000 + k, enc, sizeof enc);
    }
    /* and an expiry of a seize and of a release (not vault events: built from an instruction) */
    for (unsigned k = 0; k < 2; k++) {
        instruction in = {.kind = (uint8_t)(k + 1), .chain_id = 10, .nonce = 9 + k, .amount = u256_from_u64(5),
                          .deadline_s = 1700000000};
        memcpy(in.vault, vault, EVM_ADDR_BYTES);
        memset(in.account, 0x11, EVM_ADDR_BYTES);
        in.asset[19] = (uint8_t)k;
        uint8_t block_hash[HASH_BYTES], enc[OBS_BYTES];
        memset(block_hash, 0x5a + k, sizeof block_hash);
        obs o;
        rl_why why = {{0}};
        instruction_expired_obs(&o, &in, 1234 + k, block_hash, in.deadline_s + 1 + k);
        fuzz_require(obs_encode(enc, &o, &why) == RL_OK, why.text);
        put(out, "obs", 9100 + k, enc, sizeof enc);
    }
}

static void put_rlp(const char *out, const char *kind, unsigned n, rlp_buf *b)
{
    uint8_t *enc;
    size_t len;
    fuzz_require(rlp_buf_take(b, &enc, &len, NULL) == RL_OK, "rlp seed");
    put(out, kind, n, enc, len);
    free(enc);
}

/* RLP items of every form: strings short and long, integers, nested and long lists. */
static void write_rlp_seeds(const char *out)
{
    static const uint8_t text[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod";
    rlp_buf b;
    rlp_buf_init(&b);
    unsigned n = 0;
    rlp_put_bytes(&b, text, 3);
    put_rlp(out, "rlp", n++, &b);
    rlp_put_bytes(&b, text, sizeof text - 1); /* long string */
    put_rlp(out, "rlp", n++, &b);
    rlp_put_u64(&b, 0);
    put_rlp(out, "rlp", n++, &b);
    rlp_put_u64(&b, 1024);
    put_rlp(out, "rlp", n++, &b);
    u256 big = {{UINT64_MAX, 1, 2, 3}};
    rlp_put_u256(&b, &big);
    put_rlp(out, "rlp", n++, &b);
    size_t outer = rlp_list_begin(&b); /* [ [], [[]], [ [], [[]] ], "dog", long string ] */
    rlp_list_end(&b, rlp_list_begin(&b));
    size_t one = rlp_list_begin(&b);
    rlp_list_end(&b, rlp_list_begin(&b));
    rlp_list_end(&b, one);
    rlp_put_raw(&b, (const uint8_t *)"\xc3\xc0\xc1\xc0", 4);
    rlp_put_bytes(&b, (const uint8_t *)"dog", 3);
    rlp_put_bytes(&b, text, sizeof text - 1);
    rlp_list_end(&b, outer);
    put_rlp(out, "rlp", n++, &b);
    rlp_buf_fini(&b);
}

/* Signed EIP-1559 transactions: a call with data, a plain transfer, a creation. */
static void write_evmtx_seeds(const char *out)
{
    uint8_t sk[SECP256K1_SK_BYTES], data[68];
    memset(sk, 0x46, sizeof sk);
    memset(data, 0xab, sizeof data);
    evm_key *k;
    fuzz_require(evm_key_from_secret(&k, sk, NULL) == RL_OK, "evm key");
    evm_tx txs[3] = {
        {.chain_id = 31337, .nonce = 7, .max_priority_fee_wei = u256_from_u64(2000000000),
         .max_fee_wei = u256_from_u64(30000000000ULL), .gas_limit = 120000, .has_to = true, .data = data,
         .data_len = sizeof data},
        {.chain_id = 1, .nonce = 0, .max_fee_wei = u256_from_u64(1), .gas_limit = 21000, .has_to = true,
         .value_wei = u256_from_u64(1000000000000000000ULL)},
        {.chain_id = 424242, .nonce = 1ULL << 40, .gas_limit = 3000000, .data = data, .data_len = 4},
    };
    txs[0].to[19] = 0x42;
    memset(txs[1].to, 0x35, sizeof txs[1].to);
    for (unsigned i = 0; i < 3; i++) {
        uint8_t *raw, hash[HASH_BYTES];
        size_t len;
        fuzz_require(tx_sign(&txs[i], k, &raw, &len, hash, NULL) == RL_OK, "tx seed");
        put(out, "evmtx", i, raw, len);
        free(raw);
    }
    evm_key_free(k);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz-seeds OUTDIR\n");
        return 2;
    }
    fuzz_require(sodium_init() >= 0, "sodium_init");
    const char *out = argv[1];
    fuzz_require(mkdir(out, 0755) == 0 || errno == EEXIST, out);
    sim s;
    sim_opts o = FUZZ_SIM_OPTS;
    pool *p;
    fuzz_require(sim_init(&s, &o, NULL) == RL_OK, "sim_init");
    fuzz_require(pool_new(&p, 0) == RL_OK, "pool_new");
    char log_path[4200];
    snprintf(log_path, sizeof log_path, "%s/export", out);
    fuzz_require(mkdir(log_path, 0755) == 0 || errno == EEXIST, log_path);
    snprintf(log_path, sizeof log_path, "%s/export/seed-0000", out);
    build_log(out, log_path, &s, p);
    split_log(out, log_path);
    write_instruction_seed(out);
    write_wire_seeds(out, &s, p);
    write_rpc_seeds(out);
    write_oracle_seeds(out);
    write_vaultlog_seeds(out);
    write_rlp_seeds(out);
    write_evmtx_seeds(out);
    pool_free(p);
    sim_fini(&s);
    return 0;
}
