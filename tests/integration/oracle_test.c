/*
 * oracle_test.c - the oracle reader against real sources: Chainlink's MockV3Aggregator on anvil
 * (answers set by cast, time moved with evm_increaseTime), an HTTP JSON source served by a
 * loopback server inside this test, and three `relayer oracle` processes (threshold two)
 * feeding a real hub, whose log then holds a PRICE record with the aggregator's exact value.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "attest/hex.h"
#include "bridges/evm/oracle.h"
#include "bridges/evm/rpceth.h"
#include "bridges/http/httpfeed.h"
#include "relayer/keyfile.h"
#include "tests/evm_harness.h"
#include "tests/fixture.h"

#define CHAIN_ID 31338
#define E18 ((__int128)1000000000000000000)
#define ANSWER_E8 "300012345678" /* 3000.12345678 USD at 8 decimals */
#define ANSWER_PRICE_E18 ((__int128)300012345678 * 10000000000)
#define MAX_AGE_S 3600

static struct {
    anvil_node chain;
    char *agg;
    rpc *rpc;
    oracle_agg *reader;
} t;

static void chain_up(void)
{
    anvil_start(&t.chain, CHAIN_ID, 0);
    t.agg = cast_deploy(&t.chain, &t.chain.dev[0], "MockV3Aggregator", "constructor(uint8,int256)", "8", ANSWER_E8,
                        NULL);
    const char *urls[] = {t.chain.rpc_url};
    rpc_opts o = rpc_opts_default();
    o.chain_id = CHAIN_ID;
    rl_why why = {{0}};
    cr_assert_eq(rpc_open(&t.rpc, urls, 1, &o, NULL, &why), RL_OK, "%s", why.text);
    uint8_t addr[RPC_ADDR_BYTES];
    cr_assert_eq(hex_decode(addr, RPC_ADDR_BYTES, t.agg + 2, "aggregator", NULL), RL_OK);
    cr_assert_eq(oracle_agg_open(&t.reader, t.rpc, addr, &why), RL_OK, "%s", why.text);
}

static void chain_down(void)
{
    oracle_agg_close(t.reader);
    rpc_close(t.rpc);
    free(t.agg);
    anvil_stop(&t.chain);
}

static price_bounds bounds(void)
{
    return (price_bounds){.min_e18 = 100 * E18, .max_e18 = 100000 * E18, .max_age_ms = MAX_AGE_S * 1000};
}

static rl_err read_agg(oracle_reading *r, rl_why *why)
{
    price_bounds b = bounds();
    return oracle_agg_read(t.reader, "ETH", &b, r, why);
}

static void set_answer(const char *answer)
{
    json_decref(cast_send_ok(&t.chain, &t.chain.dev[0], t.agg, NULL, "updateAnswer(int256)", answer, NULL));
}

static void refused(const char *needle)
{
    oracle_reading r;
    rl_why why = {{0}};
    cr_assert_eq(read_agg(&r, &why), RL_ERR_STATE, "read: %s", why.text);
    cr_assert(strstr(why.text, needle) != NULL, "expected \"%s\" in: %s", needle, why.text);
}

TestSuite(aggregator, .init = chain_up, .fini = chain_down, .timeout = 60);

Test(aggregator, accepts_a_fresh_answer_converted_exactly)
{
    cr_assert_eq(oracle_agg_decimals(t.reader), 8);
    oracle_reading r;
    rl_why why = {{0}};
    cr_assert_eq(read_agg(&r, &why), RL_OK, "%s", why.text);
    cr_assert(r.price_e18 == ANSWER_PRICE_E18 && r.exact);
    uint64_t updated = cast_call_u64(&t.chain, t.agg, "latestTimestamp()(uint256)", NULL);
    cr_assert_eq(r.time_ms, updated * 1000);
    cr_assert(r.round_id == 1);
    set_answer("250000000000");
    cr_assert_eq(read_agg(&r, &why), RL_OK, "%s", why.text);
    cr_assert(r.price_e18 == 2500 * E18 && r.round_id == 2);
}

Test(aggregator, refuses_a_stale_answer_until_it_is_updated)
{
    char *res = cast_rpc(&t.chain, "evm_increaseTime", "3601", NULL);
    free(res);
    free(cast_rpc(&t.chain, "evm_mine", NULL));
    refused("stale");
    set_answer(ANSWER_E8);
    oracle_reading r;
    cr_assert_eq(read_agg(&r, NULL), RL_OK);
    cr_assert(r.price_e18 == ANSWER_PRICE_E18);
}

Test(aggregator, refuses_negative_and_zero_answers)
{
    set_answer("-300012345678");
    refused("negative");
    set_answer("0");
    refused("zero");
}

Test(aggregator, refuses_answers_out_of_range)
{
    set_answer("9999999999"); /* 99.99999999 < min 100 */
    refused("out of range");
    set_answer("10000000000001"); /* 100000.00000001 > max 100000 */
    refused("out of range");
}

Test(aggregator, refuses_an_incomplete_round)
{
    json_decref(cast_send_ok(&t.chain, &t.chain.dev[0], t.agg, NULL, "updateRoundData(uint80,int256,uint256,uint256)",
                             "9", ANSWER_E8, "0", "0", NULL));
    refused("not complete");
}

Test(aggregator, refuses_an_address_without_an_aggregator)
{
    uint8_t addr[RPC_ADDR_BYTES] = {0};
    addr[19] = 0x42;
    oracle_agg *a = NULL;
    rl_why why = {{0}};
    cr_assert_eq(oracle_agg_open(&a, t.rpc, addr, &why), RL_ERR_DECODE, "%s", why.text);
    cr_assert_null(a);
}

/* ---- an HTTP source: one loopback server thread, answering each request with the canned
 * status and body in `http`. ---- */

static struct {
    int fd;
    unsigned port;
    pthread_t th;
    pthread_mutex_t mu;
    int status;
    char body[512];
    volatile int stop;
} http;

static void *serve(void *arg)
{
    (void)arg;
    while (!http.stop) {
        int c = accept(http.fd, NULL, NULL);
        if (c < 0)
            continue;
        char req[2048];
        ssize_t got = 0, n;
        while (got < (ssize_t)sizeof req - 1 && (n = recv(c, req + got, sizeof req - 1 - (size_t)got, 0)) > 0) {
            got += n;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n") != NULL)
                break;
        }
        char out[1024];
        pthread_mutex_lock(&http.mu);
        int len = snprintf(out, sizeof out, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                           "Connection: close\r\n\r\n%s", http.status, strlen(http.body), http.body);
        pthread_mutex_unlock(&http.mu);
        cr_assert(send(c, out, (size_t)len, MSG_NOSIGNAL) == len);
        close(c);
    }
    return NULL;
}

static void http_up(void)
{
    pthread_mutex_init(&http.mu, NULL);
    http.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(http.fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(http.fd, 8), 0);
    cr_assert_eq(getsockname(http.fd, (struct sockaddr *)&a, &alen), 0);
    http.port = ntohs(a.sin_port);
    struct timeval tv = {0, 200000}; /* accept wakes up to see `stop` */
    setsockopt(http.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cr_assert_eq(pthread_create(&http.th, NULL, serve, NULL), 0);
}

static void http_down(void)
{
    http.stop = 1;
    pthread_join(http.th, NULL);
    close(http.fd);
}

static void answer(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void answer(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&http.mu);
    http.status = status;
    vsnprintf(http.body, sizeof http.body, fmt, ap);
    pthread_mutex_unlock(&http.mu);
    va_end(ap);
}

static rl_err read_http(httpfeed_reading *r, rl_why *why)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/v1/price?key=SECRET", http.port);
    httpfeed_opts o = {.url = url, .spec = {"data.price", "data.time", HTTPFEED_SECONDS}, .timeout_ms = 2000,
                       .connect_timeout_ms = 1000};
    httpfeed *f;
    cr_assert_eq(httpfeed_open(&f, &o, why), RL_OK, "%s", why->text);
    price_bounds b = {.min_e18 = 100 * E18, .max_e18 = 100000 * E18, .max_age_ms = 60000};
    rl_err err = httpfeed_read(f, "BTC", &b, (uint64_t)time(NULL) * 1000, r, why);
    httpfeed_close(f);
    cr_assert(strstr(why->text, "SECRET") == NULL, "a secret in a message: %s", why->text);
    return err;
}

TestSuite(http, .init = http_up, .fini = http_down, .timeout = 30);

Test(http, accepts_a_fresh_decimal_string_exactly)
{
    answer(200, "{\"data\":{\"price\":\"64000.123456789012345678\",\"time\":%lld}}", (long long)time(NULL));
    httpfeed_reading r;
    rl_why why = {{0}};
    cr_assert_eq(read_http(&r, &why), RL_OK, "%s", why.text);
    cr_assert(r.price_e18 == 64000 * E18 + (__int128)123456789012345678 && r.exact);
}

Test(http, refuses_a_stale_value)
{
    answer(200, "{\"data\":{\"price\":\"64000\",\"time\":%lld}}", (long long)time(NULL) - 61);
    httpfeed_reading r;
    rl_why why = {{0}};
    cr_assert_eq(read_http(&r, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "stale") != NULL, "%s", why.text);
}

Test(http, refuses_malformed_answers_and_errors)
{
    httpfeed_reading r;
    rl_why why = {{0}};
    answer(200, "{\"data\":{\"price\":64000.5,\"time\":%lld}}", (long long)time(NULL));
    cr_assert_eq(read_http(&r, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "binary double") != NULL, "%s", why.text);
    answer(200, "{\"data\":{\"price\":\"64000\"");
    cr_assert_eq(read_http(&r, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "not JSON") != NULL, "%s", why.text);
    answer(500, "{}");
    cr_assert_eq(read_http(&r, &why), RL_ERR_TRANSPORT);
    cr_assert(strstr(why.text, "HTTP 500") != NULL, "%s", why.text);
    cr_assert(strstr(why.text, "http://127.0.0.1:") != NULL, "names the source: %s", why.text);
}

/* ---- end to end: a hub and three `relayer oracle` processes, threshold two ---- */

struct world {
    fixture f;
    char *dir;
    node_key *hub;
    pid_t hub_pid, oracle_pid[3];
};

static void take_price(const record *r, void *ctx) { cr_assert_eq(payload_price_decode(ctx, r, NULL), RL_OK); }

/* The PRICE records in the hub's log, read beside the running hub; the last one into *last. */
static size_t prices_logged(const struct world *w, payload_price *last)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/hub", w->dir);
    return fx_each_record(dir, RECORD_PRICE, take_price, last);
}

Test(oracle, three_nodes_feed_the_hub_a_quorum_price, .init = chain_up, .fini = chain_down, .timeout = 90)
{
    struct world w = {0};
    fx_init(&w.f, 3, 2);
    w.dir = tu_tmpdir();
    rl_why why = {{0}};
    char keys[600], text[4096];
    snprintf(keys, sizeof keys, "%s/keys", w.dir);
    cr_assert_eq(mkdir(keys, 0700), 0);
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(keyfile_write(keys, w.f.keys[i], &why), RL_OK, "%s", why.text);
    cr_assert_eq(node_key_generate(&w.hub, "hub", &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, w.hub, &why), RL_OK);
    json_t *j = relset_to_json(&w.f.set);
    char *rel = json_dumps(j, 0);
    tu_write(w.dir, "relayers.json", rel);
    free(rel);
    json_decref(j);
    const char *d = w.dir;
    snprintf(text, sizeof text,
             "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 5\n"
             "[listen]\nnodes = ipc://%s/n.sock\nrecords = ipc://%s/r.sock\ncatchup = ipc://%s/c.sock\n"
             "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n"
             "[prices]\nmax_deviation_bps = 200\nmax_age_ms = 600000\nheartbeat_ms = 1000\nfeeds = ETH\n",
             d, d, d);
    tu_write(w.dir, "hub.conf", text);
    for (unsigned i = 1; i <= 3; i++) {
        char name[32];
        /* node 3's range excludes the price: it abstains, and two nodes still make the quorum */
        snprintf(text, sizeof text,
                 "[node]\nkey = keys/node%u.key\nrelayers = relayers.json\n[hub]\nnodes = ipc://%s/n.sock\n"
                 "key = keys/hub.pub\n[chain.l1]\nsource = sim\n"
                 "[feed.ETH]\nsource = chainlink\nrpc = %s\nchain_id = %d\naggregator = %s\ninterval_ms = 200\n"
                 "max_age_s = %d\nmin = %s\nmax = 100000\n",
                 i, d, t.chain.rpc_url, CHAIN_ID, t.agg, MAX_AGE_S, i == 3 ? "5000" : "100");
        snprintf(name, sizeof name, "node%u.conf", i);
        tu_write(w.dir, name, text);
    }
    w.hub_pid = tu_spawn(w.dir, "hub", "hub");
    for (unsigned i = 0; i < 3; i++) {
        char conf[32];
        snprintf(conf, sizeof conf, "node%u", i + 1);
        w.oracle_pid[i] = tu_spawn(w.dir, "oracle", conf);
    }
    payload_price p;
    size_t n = 0;
    for (int i = 0; i < 200 && (n = prices_logged(&w, &p)) == 0; i++)
        usleep(50000);
    for (unsigned i = 0; i < 3; i++) {
        kill(w.oracle_pid[i], SIGTERM);
        cr_assert_eq(waitpid(w.oracle_pid[i], NULL, 0), w.oracle_pid[i]);
    }
    kill(w.hub_pid, SIGTERM);
    cr_assert_eq(waitpid(w.hub_pid, NULL, 0), w.hub_pid);
    char *log3 = NULL;
    cr_assert_eq(tu_run(&log3, "cat %s/node3.log", w.dir), 0);
    cr_assert_geq(n, 1, "no PRICE record logged");
    cr_assert_str_eq(p.feed, "ETH");
    cr_assert_eq(p.n, 2, "members 1 and 2 only: node 3 abstained");
    uint64_t updated = cast_call_u64(&t.chain, t.agg, "latestTimestamp()(uint256)", NULL);
    for (size_t i = 0; i < p.n; i++) {
        price_obs o;
        cr_assert_eq(price_decode(&o, p.e[i].bytes, PRICE_OBS_BYTES, NULL), RL_OK);
        cr_assert(o.price_e18 == ANSWER_PRICE_E18, "the aggregator's answer, exactly");
        cr_assert_eq(o.time_ms, updated * 1000);
        cr_assert_eq(p.e[i].member, i + 1);
    }
    cr_assert(strstr(log3, "out of range") != NULL, "node 3 says why it abstained: %s", log3);
    cr_assert(strstr(log3, "price signed") == NULL, "node 3 signed nothing");
    free(log3);
    node_key_free(w.hub);
    tu_rmdir(w.dir);
    fx_fini(&w.f);
}
