/*
 * cmd_bench_watch.c - `relayer bench watch`: event-to-credit latency of the EVM watcher.
 *
 * A real anvil node mines a block every --block-time seconds; the vault is deployed and the
 * deposits are sent with eth_sendTransaction from anvil's unlocked development accounts (anvil
 * signs them, not the relayer), at a steady --rate. A hub and three watchers (threshold two)
 * run as processes of this binary with `confirmations = C` and `poll_ms = P`.
 *
 * Latency per deposit = the hub's time stamp on the ATTEST record that credited it (its wall
 * clock at apply, record.h) minus the moment this process first saw the deposit's block (it asks
 * for the head every HEAD_POLL_MS). The floor is what the design itself costs: C more blocks,
 * then up to one poll interval, floor = C x block time + P. Last line: one JSON object with
 * deposits, p50_ms, p99_ms, floor_ms and ratio = p99 / floor.
 */
#include <fcntl.h>
#include <glob.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attest/bytes.h"
#include "attest/hex.h"
#include "bridges/evm/rpc.h"
#include "bridges/evm/rpceth.h"
#include "db/ledger.h"
#include "relayer/bench.h"
#include "relayer/cmd.h"
#include "relayer/files.h"

#define BENCH_CHAIN_ID 31449
#define HEAD_POLL_MS 5
#define START_TIMEOUT_MS 15000
#define SETTLE_TIMEOUT_MS 30000
#define DEPOSIT_WEI 1000
#define NODES 3
#define MAX_BLOCKS 100000

struct deposit {
    uint8_t tx[RPC_HASH_BYTES];
    uint64_t block;
    uint32_t log_index;
    bool mined, credited;
    int64_t latency_ms;
};

struct bench {
    char dir[64], exe_dir[4096], url[64]; /* dir: short, the config paths below are sized by it */
    pid_t anvil, hub, nodes[NODES];
    rpc *c;
    char from[43];
    uint8_t vault[RPC_ADDR_BYTES];
    uint64_t *seen_ms; /* per block number: when this process first saw it (Unix ms), 0 not yet */
    uint64_t head;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(unsigned ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* node_modules/@foundry-rs/anvil-<platform>/bin/anvil beside this binary's build folder, or
 * $RL_ANVIL. */
static rl_err find_anvil(const struct bench *b, char *out, size_t cap, rl_why *why)
{
    const char *env = getenv("RL_ANVIL");
    if (env != NULL) {
        snprintf(out, cap, "%s", env);
        return RL_OK;
    }
    char pattern[4200];
    snprintf(pattern, sizeof pattern, "%s/../node_modules/@foundry-rs/anvil-*/bin/anvil", b->exe_dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0)
        return rl_fail(why, RL_ERR_NOTFOUND, "anvil: nothing matches %s (run make deps, or set RL_ANVIL)", pattern);
    snprintf(out, cap, "%s", g.gl_pathv[0]);
    globfree(&g);
    return RL_OK;
}

static rl_err start_anvil(struct bench *b, unsigned block_time_s, rl_why *why)
{
    char anvil[4200], port[8], chain[24], bt[16];
    rl_err err = find_anvil(b, anvil, sizeof anvil, why);
    if (err != RL_OK)
        return err;
    uint16_t p = bench_free_port();
    snprintf(port, sizeof port, "%u", p);
    snprintf(chain, sizeof chain, "%d", BENCH_CHAIN_ID);
    snprintf(bt, sizeof bt, "%u", block_time_s);
    snprintf(b->url, sizeof b->url, "http://127.0.0.1:%u", p);
    pid_t parent = getpid();
    b->anvil = fork();
    if (b->anvil < 0)
        return rl_fail(why, RL_ERR_IO, "anvil: fork failed");
    if (b->anvil == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        execl(anvil, "anvil", "--host", "127.0.0.1", "--port", port, "--chain-id", chain, "--block-time", bt,
              "--silent", (char *)NULL);
        _exit(127);
    }
    const char *urls[1] = {b->url};
    rpc_opts o = rpc_opts_default();
    o.chain_id = BENCH_CHAIN_ID;
    uint64_t t0 = wall_ms();
    while ((err = rpc_open(&b->c, urls, 1, &o, NULL, why)) != RL_OK && wall_ms() - t0 < START_TIMEOUT_MS)
        nap_ms(100);
    return err;
}

/* eth_sendTransaction from b->from (anvil signs); *tx gets the hash. */
static rl_err send_tx(struct bench *b, const uint8_t *to, const char *value_hex, const uint8_t *data, size_t len,
                      uint8_t tx[RPC_HASH_BYTES], rl_why *why)
{
    json_t *msg = json_pack("{s:s, s:o, s:s}", "from", b->from, "data", rpcjson_from_bytes(data, len), "gas",
                            "0x7a1200");
    if (msg != NULL && to != NULL)
        json_object_set_new(msg, "to", rpcjson_from_bytes(to, RPC_ADDR_BYTES));
    if (msg != NULL && value_hex != NULL)
        json_object_set_new(msg, "value", json_string(value_hex));
    json_t *params = msg != NULL ? json_pack("[o]", msg) : NULL, *res = NULL;
    if (params == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "eth_sendTransaction: params");
    rl_err err = rpc_call(b->c, "eth_sendTransaction", params, &res, why);
    json_decref(params);
    if (err == RL_OK)
        err = rpcjson_fixed(res, tx, RPC_HASH_BYTES, "eth_sendTransaction result", why);
    json_decref(res);
    return err;
}

static rl_err await_receipt(struct bench *b, const uint8_t tx[RPC_HASH_BYTES], rpc_receipt **r, rl_why *why)
{
    uint64_t t0 = wall_ms();
    rl_err err;
    while ((err = rpc_eth_get_receipt(b->c, tx, r, why)) == RL_ERR_NOTFOUND && wall_ms() - t0 < START_TIMEOUT_MS)
        nap_ms(50);
    return err;
}

/* CollateralVault(signers = [anvil's second account], threshold 1, the native coin allowed from 1
 * wei), from its build artifact. */
static rl_err deploy_vault(struct bench *b, const char *signer, rl_why *why)
{
    char path[4200], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/contracts/CollateralVault.json", b->exe_dir);
    rl_err err = file_read_all(path, 1 << 22, &text, &len, why);
    if (err != RL_OK)
        return err;
    json_t *j = json_loadb(text, len, 0, NULL);
    free(text);
    uint8_t *code = NULL;
    size_t code_len = 0;
    err = rpcjson_bytes(json_object_get(j, "bytecode"), &code, &code_len, "CollateralVault.json bytecode", why);
    json_decref(j);
    if (err != RL_OK)
        return err;
    /* constructor(address[] signers, uint256 threshold, address[] assets, uint256[] minimums):
     *   head    0x80 | threshold 1 | 0xc0 | 0x100   (offsets of the three arrays)
     *   0x80    1 | signer
     *   0xc0    1 | 0 (the native coin)
     *   0x100   1 | 1 (its minimum, 1 wei) */
    enum { ARGS = 10 * 32 };
    uint8_t *data = calloc(1, code_len + ARGS), tx[RPC_HASH_BYTES];
    if (data == NULL) {
        free(code);
        return rl_fail(why, RL_ERR_NOMEM, "deploy: %zu bytes", code_len);
    }
    memcpy(data, code, code_len);
    uint8_t *a = data + code_len;
    a[31] = 0x80;
    a[63] = 1;
    a[95] = 0xc0;
    a[126] = 0x01; /* 0x100 */
    a[4 * 32 + 31] = 1;
    a[6 * 32 + 31] = 1;
    a[8 * 32 + 31] = 1;
    a[9 * 32 + 31] = 1;
    err = hex_decode(a + 5 * 32 + 12, RPC_ADDR_BYTES, signer, "signer", why);
    rpc_receipt *r = NULL;
    if (err == RL_OK)
        err = send_tx(b, NULL, NULL, data, code_len + ARGS, tx, why);
    if (err == RL_OK)
        err = await_receipt(b, tx, &r, why);
    if (err == RL_OK && (!r->has_contract_address || r->status != 1))
        err = rl_fail(why, RL_ERR_STATE, "deploy: the vault was not created");
    if (err == RL_OK)
        memcpy(b->vault, r->contract_address, RPC_ADDR_BYTES);
    rpc_receipt_free(r);
    free(data);
    free(code);
    return err;
}

static rl_err run_self(struct bench *b, char *const args[], rl_why *why)
{
    char log[128];
    snprintf(log, sizeof log, "%s/setup.log", b->dir);
    pid_t pid = bench_spawn_self(args, log, NULL);
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return rl_fail(why, RL_ERR_IO, "relayer %s failed (see %s)", args[1], log);
    return RL_OK;
}

static rl_err write_text(const char *dir, const char *name, const char *text, rl_why *why)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return file_write_atomic(path, text, why);
}

/* Keys, the relayer set, hub.conf and node1..3.conf; then the processes. */
static rl_err start_cluster(struct bench *b, unsigned confirmations, unsigned poll_ms, rl_why *why)
{
    char keys[128], conf[2048];
    snprintf(keys, sizeof keys, "%s/keys", b->dir);
    rl_err err = RL_OK;
    const char *names[NODES + 1] = {"hub", "node1", "node2", "node3"};
    for (int i = 0; err == RL_OK && i <= NODES; i++) {
        char *args[] = {"relayer", "keygen", "--out", keys, "--name", (char *)names[i], NULL};
        err = run_self(b, args, why);
    }
    char set[160], p1[160], p2[160], p3[160];
    snprintf(set, sizeof set, "%s/relayers.json", b->dir);
    snprintf(p1, sizeof p1, "%s/node1.pub", keys);
    snprintf(p2, sizeof p2, "%s/node2.pub", keys);
    snprintf(p3, sizeof p3, "%s/node3.pub", keys);
    char *init[] = {"relayer", "relayers", "init", "--threshold", "2", "--out", set, p1, p2, p3, NULL};
    if (err == RL_OK)
        err = run_self(b, init, why);
    snprintf(conf, sizeof conf,
             "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 2\n"
             "[listen]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
             "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n",
             b->dir, b->dir, b->dir);
    if (err == RL_OK)
        err = write_text(b->dir, "hub.conf", conf, why);
    char vault[43];
    hex_encode_0x(vault, b->vault, RPC_ADDR_BYTES);
    for (int i = 1; err == RL_OK && i <= NODES; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%d.conf", i);
        snprintf(conf, sizeof conf,
                 "[node]\nkey = keys/node%d.key\nrelayers = relayers.json\ndata = node%d\n"
                 "[hub]\nnodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n"
                 "[chain.bench]\nsource = evm\nrpc = %s\nchain_id = %d\nvault = %s\nconfirmations = %u\n"
                 "poll_ms = %u\nper_message = 50\n",
                 i, i, b->dir, b->url, BENCH_CHAIN_ID, vault, confirmations, poll_ms);
        err = write_text(b->dir, name, conf, why);
    }
    if (err != RL_OK)
        return err;
    char hubconf[128], hublog[128];
    snprintf(hubconf, sizeof hubconf, "%s/hub.conf", b->dir);
    snprintf(hublog, sizeof hublog, "%s/hub.log", b->dir);
    char *hub[] = {"relayer", "hub", "--config", hubconf, NULL};
    b->hub = bench_spawn_self(hub, hublog, NULL);
    for (int i = 0; i < NODES; i++) {
        char nconf[128], nlog[128];
        snprintf(nconf, sizeof nconf, "%s/node%d.conf", b->dir, i + 1);
        snprintf(nlog, sizeof nlog, "%s/watch%d.log", b->dir, i + 1);
        char *w[] = {"relayer", "watch", "--config", nconf, "--chain", "bench", NULL};
        b->nodes[i] = bench_spawn_self(w, nlog, NULL);
    }
    return b->hub > 0 && b->nodes[0] > 0 && b->nodes[1] > 0 && b->nodes[2] > 0
               ? RL_OK
               : rl_fail(why, RL_ERR_IO, "bench watch: a process did not start");
}

/* Notes when each new block is first seen. */
static rl_err watch_head(struct bench *b, rl_why *why)
{
    uint64_t h;
    rl_err err = rpc_eth_block_number(b->c, &h, why);
    if (err != RL_OK)
        return err;
    if (h >= MAX_BLOCKS)
        return rl_fail(why, RL_ERR_ARG, "bench watch: more than %d blocks", MAX_BLOCKS);
    uint64_t now = wall_ms();
    for (uint64_t n = b->head + 1; n <= h; n++)
        b->seen_ms[n] = now;
    if (h > b->head)
        b->head = h;
    return RL_OK;
}

/* For each deposit mined and not yet known credited: is its event in the hub's ledger? */
static rl_err check_credits(struct bench *b, struct deposit *d, size_t n, size_t *credited, rl_why *why)
{
    char db[128];
    snprintf(db, sizeof db, "%s/hub", b->dir);
    store *s = NULL;
    store_opts so = {.read_only = true};
    if (store_open(&s, db, &so, NULL) != RL_OK)
        return RL_OK; /* not created yet */
    MDB_txn *txn;
    rl_err err = store_read_begin(s, &txn, why);
    for (size_t i = 0; err == RL_OK && i < n; i++) {
        if (!d[i].mined || d[i].credited)
            continue;
        uint8_t id[HASH_BYTES];
        obs_event_id(id, BENCH_CHAIN_ID, d[i].tx, d[i].log_index);
        event_info ev;
        if (ledger_event_get(txn, s, id, &ev) != RL_OK)
            continue;
        MDB_val v;
        record r;
        if ((err = ledger_record_get(txn, s, ev.log_seq, &v, why)) != RL_OK ||
            (err = record_decode(&r, v.mv_data, v.mv_size, why)) != RL_OK)
            break;
        d[i].credited = true;
        d[i].latency_ms = (int64_t)r.time_ms - (int64_t)b->seen_ms[d[i].block];
        (*credited)++;
    }
    if (err == RL_OK)
        store_read_end(txn);
    store_close(s);
    return err;
}

/* Receipts of sent deposits: their block and log index. */
static rl_err check_mined(struct bench *b, struct deposit *d, size_t n, rl_why *why)
{
    for (size_t i = 0; i < n; i++) {
        if (d[i].mined)
            continue;
        rpc_receipt *r = NULL;
        rl_err err = rpc_eth_get_receipt(b->c, d[i].tx, &r, why);
        if (err == RL_ERR_NOTFOUND)
            continue;
        if (err != RL_OK)
            return err;
        if (r->status != 1 || r->logs.n != 1 || r->block_number >= MAX_BLOCKS)
            err = rl_fail(why, RL_ERR_STATE, "deposit %zu: reverted or unexpected logs", i);
        d[i].block = r->block_number;
        d[i].log_index = (uint32_t)r->logs.v[0].log_index;
        d[i].mined = err == RL_OK;
        rpc_receipt_free(r);
        if (err != RL_OK)
            return err;
    }
    return RL_OK;
}

static int by_latency(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static rl_err run(struct bench *b, size_t n, unsigned rate, unsigned confirmations, unsigned block_s,
                  unsigned poll_ms, json_t **result, rl_why *why)
{
    struct deposit *d = calloc(n, sizeof *d);
    b->seen_ms = calloc(MAX_BLOCKS, sizeof *b->seen_ms);
    if (d == NULL || b->seen_ms == NULL) {
        free(d);
        return rl_fail(why, RL_ERR_NOMEM, "bench watch: %zu deposits", n);
    }
    json_t *accts = NULL;
    rl_err err = start_anvil(b, block_s, why);
    if (err == RL_OK)
        err = rpc_call(b->c, "eth_accounts", NULL, &accts, why);
    if (err == RL_OK && (json_array_size(accts) < 2 || !json_is_string(json_array_get(accts, 0))))
        err = rl_fail(why, RL_ERR_DECODE, "eth_accounts: fewer than two accounts");
    if (err == RL_OK) {
        snprintf(b->from, sizeof b->from, "%s", json_string_value(json_array_get(accts, 0)));
        err = deploy_vault(b, json_string_value(json_array_get(accts, 1)), why);
    }
    json_decref(accts);
    if (err == RL_OK)
        err = start_cluster(b, confirmations, poll_ms, why);
    if (err == RL_OK)
        err = watch_head(b, why);
    fprintf(stderr, "bench watch: %zu deposits at %u/s, %u confirmations, %u s blocks, poll %u ms...\n", n, rate,
            confirmations, block_s, poll_ms);
    /* depositNative(address) to a fresh account per deposit */
    uint8_t call[4 + 32];
    keccak256(call, "depositNative(address)", strlen("depositNative(address)"));
    uint64_t t0 = wall_ms(), interval_ms = 1000 / rate, last_check = 0;
    size_t sent = 0, credited = 0;
    while (err == RL_OK && credited < n) {
        uint64_t now = wall_ms();
        if (sent < n && now >= t0 + sent * interval_ms) {
            memset(call + 4, 0, 32);
            be64_put(call + 4 + 24, 0xbe0000 + sent);
            err = send_tx(b, b->vault, "0x3e8", call, sizeof call, d[sent].tx, why);
            sent++;
        }
        if (err == RL_OK)
            err = watch_head(b, why);
        if (err == RL_OK && now - last_check >= 50) {
            last_check = now;
            if ((err = check_mined(b, d, sent, why)) == RL_OK)
                err = check_credits(b, d, sent, &credited, why);
        }
        if (err == RL_OK && sent == n && now - t0 > n * interval_ms + SETTLE_TIMEOUT_MS)
            err = rl_fail(why, RL_ERR_STATE, "bench watch: %zu of %zu deposits credited in time (logs in %s)",
                          credited, n, b->dir);
        nap_ms(HEAD_POLL_MS);
    }
    if (err == RL_OK) {
        int64_t *lat = malloc(n * sizeof *lat);
        for (size_t i = 0; lat != NULL && i < n; i++)
            lat[i] = d[i].latency_ms;
        if (lat == NULL) {
            free(d);
            return rl_fail(why, RL_ERR_NOMEM, "latencies");
        }
        qsort(lat, n, sizeof *lat, by_latency);
        /* nearest rank */
        int64_t p50 = lat[(n * 50 + 99) / 100 - 1], p99 = lat[(n * 99 + 99) / 100 - 1];
        uint64_t floor_ms = (uint64_t)confirmations * block_s * 1000 + poll_ms;
        *result = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "bench", "watch", "deposits",
                            (json_int_t)n, "confirmations", (json_int_t)confirmations, "block_ms",
                            (json_int_t)block_s * 1000, "poll_ms", (json_int_t)poll_ms, "p50_ms", (json_int_t)p50,
                            "p99_ms", (json_int_t)p99, "max_ms", (json_int_t)lat[n - 1], "floor_ms",
                            (json_int_t)floor_ms, "ratio", (double)p99 / (double)floor_ms);
        free(lat);
    }
    free(d);
    return err;
}

static void stop_all(struct bench *b)
{
    pid_t *pids[] = {&b->nodes[0], &b->nodes[1], &b->nodes[2], &b->hub, &b->anvil};
    for (size_t i = 0; i < sizeof pids / sizeof pids[0]; i++)
        if (*pids[i] > 0) {
            kill(*pids[i], SIGTERM);
            waitpid(*pids[i], NULL, 0);
        }
}

int bench_watch(int argc, char **argv)
{
    unsigned deposits = 40, rate = 4, confirmations = 2, block_s = 1, poll_ms = 100;
    for (int i = 1; i < argc; i += 2) {
        unsigned *dest = strcmp(argv[i], "--deposits") == 0        ? &deposits
                         : strcmp(argv[i], "--rate") == 0          ? &rate
                         : strcmp(argv[i], "--confirmations") == 0 ? &confirmations
                         : strcmp(argv[i], "--block-time") == 0    ? &block_s
                         : strcmp(argv[i], "--poll-ms") == 0       ? &poll_ms
                                                                   : NULL;
        char *end = NULL;
        unsigned long v = i + 1 < argc ? strtoul(argv[i + 1], &end, 10) : 0;
        if (dest == NULL || end == NULL || *end != '\0' || v == 0 || v > 100000 ||
            (dest == &confirmations && v > 64) || (dest == &rate && v > 1000)) {
            fputs("usage: relayer bench watch [--deposits N] [--rate PER_S] [--confirmations C] [--block-time S] "
                  "[--poll-ms MS]\n",
                  stderr);
            return EXIT_USAGE;
        }
        *dest = (unsigned)v;
    }
    struct bench b;
    memset(&b, 0, sizeof b);
    rl_why why = {{0}};
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    char *dir = bench_tmpdir("watch");
    if (dir != NULL)
        snprintf(b.dir, sizeof b.dir, "%s", dir);
    if (len <= 0 || dir == NULL || strlen(dir) >= sizeof b.dir) {
        if (dir != NULL)
            bench_rm_rf(dir);
        free(dir);
        fprintf(stderr, "relayer bench watch: no temporary directory (or its path is over 63 bytes: TMPDIR) or "
                        "executable path\n");
        return EXIT_USAGE;
    }
    free(dir);
    exe[len] = '\0';
    snprintf(b.exe_dir, sizeof b.exe_dir, "%s", dirname(exe));
    json_t *result = NULL;
    rl_err err = run(&b, deposits, rate, confirmations, block_s, poll_ms, &result, &why);
    stop_all(&b);
    rpc_close(b.c);
    free(b.seen_ms);
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench watch: %s\n", why.text[0] ? why.text : rl_strerror(err));
        json_decref(result);
        return EXIT_USAGE;
    }
    bench_rm_rf(b.dir);
    char *text = json_dumps(result, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(result);
    return 0;
}
