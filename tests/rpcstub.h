/*
 * rpcstub.h - a scripted Ethereum JSON-RPC node for tests: HTTP/1.1 with keep-alive on
 * 127.0.0.1 (an ephemeral port), served by one thread that polls its sockets.
 *
 * It answers eth_chainId and eth_blockNumber from its state (the head advances by `step` per
 * eth_blockNumber), `test_echo` with its first parameter, any method given a canned result or a
 * JSON-RPC error, and "method not found" otherwise. Batches are answered in reverse order, so
 * every batch test also tests matching by id. A mode makes it misbehave for the next n HTTP
 * requests (or for ever): HTTP 429 with a Retry-After, HTTP 500, HTTP 400 with a JSON-RPC error,
 * HTTP 401, garbage, hang without answering, close the connection, drop one answer from a batch,
 * die mid-request (close every socket, the listener included, and stop), or send canned bytes
 * with a Content-Encoding (a gzip bomb: stub_raw).
 *
 * Every HTTP request and every JSON-RPC call (per method, with its last params) is counted.
 * stub_free joins the thread and closes every socket: nothing outlives a test.
 *
 * Below the server: a fake clock, jitter and health-event recorder to hand a client as its hooks
 * (rests, cooldowns and backoff then take no real time), and small helpers for client tests.
 */
#ifndef RL_RPCSTUB_H
#define RL_RPCSTUB_H

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bridges/evm/rpc.h"

#define STUB_MAX_CONNS 16
#define STUB_MAX_METHODS 32

typedef enum stub_mode {
    STUB_OK,
    STUB_429,     /* HTTP 429, with "Retry-After: <retry_after>" when that is set */
    STUB_500,     /* HTTP 500 */
    STUB_GARBAGE, /* HTTP 200 with a body that is not JSON */
    STUB_HANG,    /* read the request, never answer */
    STUB_CLOSE,   /* close the connection instead of answering */
    STUB_PARTIAL, /* answer a batch without its second call */
    STUB_DIE,     /* close everything, listener included, and stop: a node killed mid-request */
    STUB_400_RPC, /* HTTP 400 whose body is a JSON-RPC error answer (-32602) to the request */
    STUB_401,     /* HTTP 401 with a body that is not JSON-RPC (a proxy refusing a key) */
    STUB_RAW,     /* HTTP 200 with the bytes and Content-Encoding given to stub_raw */
} stub_mode;

typedef struct stub_method {
    char name[48];
    unsigned calls;
    char *last_params; /* compact JSON */
    char *result;      /* canned result (JSON text) or NULL */
    json_int_t err_code;
    char *err_msg, *err_data; /* canned JSON-RPC error when err_msg != NULL */
} stub_method;

typedef struct stub_conn {
    int fd;
    bool hung;
    char *buf;
    size_t len, cap;
} stub_conn;

typedef struct stub {
    pthread_t thread;
    bool running;
    int lfd, wake[2];
    uint16_t port;
    char url[64];
    pthread_mutex_t mu; /* guards everything below */
    uint64_t chain_id, head, step;
    stub_mode mode;
    int mode_left; /* requests left in mode; -1: for ever */
    char retry_after[64];
    char *raw, raw_encoding[16]; /* STUB_RAW's body (owned) and its Content-Encoding */
    size_t raw_len;
    unsigned http_requests;
    stub_method m[STUB_MAX_METHODS];
    size_t nm;
    stub_conn c[STUB_MAX_CONNS];
} stub;

/* Under s->mu. */
static inline stub_method *stub_method_of(stub *s, const char *name)
{
    for (size_t i = 0; i < s->nm; i++)
        if (strcmp(s->m[i].name, name) == 0)
            return &s->m[i];
    cr_assert_lt(s->nm, STUB_MAX_METHODS);
    stub_method *m = &s->m[s->nm++];
    memset(m, 0, sizeof *m);
    snprintf(m->name, sizeof m->name, "%s", name);
    return m;
}

/* One JSON-RPC call's answer (a new object), under s->mu. */
static inline json_t *stub_answer_one(stub *s, json_t *req)
{
    json_t *id = json_object_get(req, "id"), *params = json_object_get(req, "params");
    const char *name = json_string_value(json_object_get(req, "method"));
    json_t *ans = json_pack("{s:s, s:O}", "jsonrpc", "2.0", "id", id ? id : json_null());
    if (name == NULL) {
        json_object_set_new(ans, "error", json_pack("{s:i, s:s}", "code", -32600, "message", "invalid request"));
        return ans;
    }
    stub_method *m = stub_method_of(s, name);
    m->calls++;
    free(m->last_params);
    m->last_params = params ? json_dumps(params, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char hex[24];
    if (m->err_msg != NULL) {
        json_t *e = json_pack("{s:I, s:s}", "code", m->err_code, "message", m->err_msg);
        if (m->err_data != NULL)
            json_object_set_new(e, "data", json_loads(m->err_data, JSON_DECODE_ANY, NULL));
        json_object_set_new(ans, "error", e);
    } else if (m->result != NULL) {
        json_object_set_new(ans, "result", json_loads(m->result, JSON_DECODE_ANY, NULL));
    } else if (strcmp(name, "eth_chainId") == 0) {
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)s->chain_id);
        json_object_set_new(ans, "result", json_string(hex));
    } else if (strcmp(name, "eth_blockNumber") == 0) {
        snprintf(hex, sizeof hex, "0x%llx", (unsigned long long)s->head);
        s->head += s->step;
        json_object_set_new(ans, "result", json_string(hex));
    } else if (strcmp(name, "test_echo") == 0) {
        json_object_set(ans, "result", json_array_get(params, 0) ? json_array_get(params, 0) : json_null());
    } else {
        json_object_set_new(ans, "error", json_pack("{s:i, s:s}", "code", -32601, "message", "method not found"));
    }
    return ans;
}

/* One send for head and body: two small segments would meet Nagle and a delayed ACK (40 ms). */
static inline void stub_send(int fd, int status, const char *extra, const char *body)
{
    char *msg = NULL;
    int n = asprintf(&msg, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n%s",
                     status, strlen(body), extra, body);
    cr_assert_gt(n, 0);
    (void)!send(fd, msg, (size_t)n, MSG_NOSIGNAL);
    free(msg);
}

static inline void stub_close_conn(stub_conn *c)
{
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static inline void stub_close_all(stub *s)
{
    for (int i = 0; i < STUB_MAX_CONNS; i++)
        if (s->c[i].fd >= 0)
            stub_close_conn(&s->c[i]);
    if (s->lfd >= 0)
        close(s->lfd);
    s->lfd = -1;
}

/* Handles one complete request on conn c. Returns false when the server must stop (died). */
static inline bool stub_handle(stub *s, stub_conn *c, const char *body, size_t len)
{
    pthread_mutex_lock(&s->mu);
    s->http_requests++;
    stub_mode mode = s->mode;
    if (s->mode_left > 0 && --s->mode_left == 0)
        s->mode = STUB_OK;
    char extra[96] = "";
    char *out = NULL;
    int status = 200;
    switch (mode) {
    case STUB_429:
        status = 429;
        if (s->retry_after[0])
            snprintf(extra, sizeof extra, "Retry-After: %s\r\n", s->retry_after);
        out = strdup("slow down");
        break;
    case STUB_500: status = 500, out = strdup("internal error"); break;
    case STUB_401: status = 401, out = strdup("{\"error\":\"invalid key\"}"); break;
    case STUB_400_RPC: {
        json_t *req = json_loadb(body, len, 0, NULL);
        json_t *ans = json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id", json_object_get(req, "id"),
                                "error", "code", -32602, "message", "invalid params");
        status = 400, out = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        json_decref(req);
        break;
    }
    case STUB_GARBAGE: out = strdup("{\"jsonrpc\":\"2.0\",\"id\":"); break;
    case STUB_RAW: {
        char *head = NULL;
        int n = asprintf(&head, "HTTP/1.1 200 X\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\n"
                                "Content-Length: %zu\r\n\r\n",
                         s->raw_encoding, s->raw_len);
        cr_assert_gt(n, 0);
        (void)!send(c->fd, head, (size_t)n, MSG_NOSIGNAL);
        (void)!send(c->fd, s->raw, s->raw_len, MSG_NOSIGNAL); /* the client may stop reading: EPIPE */
        free(head);
        break;
    }
    case STUB_HANG: c->hung = true; break;
    case STUB_CLOSE: break;
    case STUB_DIE: break;
    case STUB_OK:
    case STUB_PARTIAL: {
        json_t *req = json_loadb(body, len, 0, NULL), *ans;
        if (json_is_array(req)) {
            ans = json_array();
            for (size_t i = json_array_size(req); i-- > 0;)
                if (!(mode == STUB_PARTIAL && i == 1))
                    json_array_append_new(ans, stub_answer_one(s, json_array_get(req, i)));
        } else {
            ans = stub_answer_one(s, req);
        }
        out = json_dumps(ans, JSON_COMPACT);
        json_decref(ans);
        json_decref(req);
        break;
    }
    }
    pthread_mutex_unlock(&s->mu);
    if (mode == STUB_DIE) {
        stub_close_all(s);
        return false;
    }
    if (mode == STUB_CLOSE)
        stub_close_conn(c);
    else if (out != NULL)
        stub_send(c->fd, status, extra, out);
    free(out);
    return true;
}

/* Handles every complete request buffered on c. */
static inline bool stub_drain(stub *s, stub_conn *c)
{
    while (c->fd >= 0 && !c->hung) {
        char *end = c->len ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
        if (end == NULL)
            return true;
        size_t hlen = (size_t)(end - c->buf) + 4, blen = 0;
        for (char *p = c->buf; p != NULL && p < end;) { /* header lines; the buffer has no NUL */
            if (strncasecmp(p, "content-length:", 15) == 0)
                blen = strtoul(p + 15, NULL, 10);
            char *nl = memmem(p, (size_t)(end + 2 - p), "\r\n", 2);
            p = nl ? nl + 2 : NULL;
        }
        if (c->len < hlen + blen)
            return true;
        char *body = malloc(blen + 1);
        memcpy(body, c->buf + hlen, blen);
        memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
        c->len -= hlen + blen;
        bool go = stub_handle(s, c, body, blen);
        free(body);
        if (!go)
            return false;
    }
    return true;
}

static inline void *stub_main(void *arg)
{
    stub *s = arg;
    for (;;) {
        struct pollfd p[STUB_MAX_CONNS + 2];
        int idx[STUB_MAX_CONNS + 2];
        nfds_t n = 0;
        p[n] = (struct pollfd){s->wake[0], POLLIN, 0}, idx[n++] = -2;
        p[n] = (struct pollfd){s->lfd, POLLIN, 0}, idx[n++] = -1;
        for (int i = 0; i < STUB_MAX_CONNS; i++)
            if (s->c[i].fd >= 0)
                p[n] = (struct pollfd){s->c[i].fd, POLLIN, 0}, idx[n++] = i;
        if (poll(p, n, -1) < 0)
            continue;
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN) {
            int fd = accept(s->lfd, NULL, NULL);
            int i = 0;
            while (i < STUB_MAX_CONNS && s->c[i].fd >= 0)
                i++;
            if (fd >= 0 && i < STUB_MAX_CONNS)
                s->c[i].fd = fd;
            else if (fd >= 0)
                close(fd);
        }
        for (nfds_t k = 2; k < n; k++) {
            stub_conn *c = &s->c[idx[k]];
            if (!p[k].revents || c->fd != p[k].fd)
                continue;
            if (c->cap - c->len < 4096) {
                c->cap = c->cap ? 2 * c->cap : 16384;
                c->buf = realloc(c->buf, c->cap);
            }
            ssize_t r = read(c->fd, c->buf + c->len, c->cap - c->len);
            if (r <= 0) {
                stub_close_conn(c);
                continue;
            }
            c->len += (size_t)r;
            if (!stub_drain(s, c))
                return NULL; /* died */
        }
    }
    stub_close_all(s);
    return NULL;
}

static inline stub *stub_start(uint64_t chain_id)
{
    stub *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    pthread_mutex_init(&s->mu, NULL);
    s->chain_id = chain_id;
    s->head = 100;
    for (int i = 0; i < STUB_MAX_CONNS; i++)
        s->c[i].fd = -1;
    cr_assert_eq(pipe(s->wake), 0);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->lfd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->lfd, 16), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    snprintf(s->url, sizeof s->url, "http://127.0.0.1:%u", s->port);
    cr_assert_eq(pthread_create(&s->thread, NULL, stub_main, s), 0);
    s->running = true;
    return s;
}

/* Stops the server (its port refuses connections from now on); counters stay readable. */
static inline void stub_kill(stub *s)
{
    if (!s->running)
        return;
    (void)!write(s->wake[1], "x", 1);
    pthread_join(s->thread, NULL);
    s->running = false;
}

static inline void stub_free(stub *s)
{
    stub_kill(s);
    close(s->wake[0]);
    close(s->wake[1]);
    for (size_t i = 0; i < s->nm; i++) {
        free(s->m[i].last_params);
        free(s->m[i].result);
        free(s->m[i].err_msg);
        free(s->m[i].err_data);
    }
    free(s->raw);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static inline void stub_mode_set(stub *s, stub_mode mode, int requests)
{
    pthread_mutex_lock(&s->mu);
    s->mode = mode;
    s->mode_left = requests;
    pthread_mutex_unlock(&s->mu);
}

/* The next `requests` answers are these bytes (copied), sent with Content-Encoding: encoding. */
static inline void stub_raw(stub *s, const char *encoding, const void *bytes, size_t len, int requests)
{
    pthread_mutex_lock(&s->mu);
    free(s->raw);
    s->raw = malloc(len);
    cr_assert_not_null(s->raw);
    memcpy(s->raw, bytes, len);
    s->raw_len = len;
    snprintf(s->raw_encoding, sizeof s->raw_encoding, "%s", encoding);
    s->mode = STUB_RAW;
    s->mode_left = requests;
    pthread_mutex_unlock(&s->mu);
}

static inline void stub_retry_after(stub *s, const char *value)
{
    pthread_mutex_lock(&s->mu);
    snprintf(s->retry_after, sizeof s->retry_after, "%s", value);
    pthread_mutex_unlock(&s->mu);
}

static inline void stub_head(stub *s, uint64_t head, uint64_t step)
{
    pthread_mutex_lock(&s->mu);
    s->head = head;
    s->step = step;
    pthread_mutex_unlock(&s->mu);
}

static inline void stub_chain(stub *s, uint64_t chain_id)
{
    pthread_mutex_lock(&s->mu);
    s->chain_id = chain_id;
    pthread_mutex_unlock(&s->mu);
}

/* method answers result (JSON text) from now on. */
static inline void stub_result(stub *s, const char *method, const char *result)
{
    pthread_mutex_lock(&s->mu);
    stub_method *m = stub_method_of(s, method);
    free(m->result);
    m->result = result ? strdup(result) : NULL;
    pthread_mutex_unlock(&s->mu);
}

/* method answers a JSON-RPC error from now on (data: JSON text or NULL). */
static inline void stub_error(stub *s, const char *method, json_int_t code, const char *msg, const char *data)
{
    pthread_mutex_lock(&s->mu);
    stub_method *m = stub_method_of(s, method);
    free(m->err_msg);
    free(m->err_data);
    m->err_code = code;
    m->err_msg = strdup(msg);
    m->err_data = data ? strdup(data) : NULL;
    pthread_mutex_unlock(&s->mu);
}

static inline unsigned stub_calls(stub *s, const char *method)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = stub_method_of(s, method)->calls;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static inline unsigned stub_http(stub *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->http_requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The last params of method as compact JSON (malloc'd, caller frees), or NULL. */
static inline char *stub_params(stub *s, const char *method)
{
    pthread_mutex_lock(&s->mu);
    const char *p = stub_method_of(s, method)->last_params;
    char *copy = p ? strdup(p) : NULL;
    pthread_mutex_unlock(&s->mu);
    return copy;
}

/* ---- a fake clock, jitter and health events for the client under test ---- */

typedef struct fake {
    uint64_t now;
    uint64_t slept[64];
    size_t nslept;
    uint32_t jitter;
    char events[64][RPC_NAME_MAX + 32];
    size_t nevents;
} fake;

static inline uint64_t fk_now(void *x) { return ((fake *)x)->now; }

static inline void fk_sleep(void *x, uint64_t ms)
{
    fake *f = x;
    f->now += ms;
    if (f->nslept < 64)
        f->slept[f->nslept++] = ms;
}

static inline uint32_t fk_jitter(void *x) { return ((fake *)x)->jitter; }

static inline void fk_health(void *x, size_t i, const rpc_health *h)
{
    fake *f = x;
    if (f->nevents < 64)
        snprintf(f->events[f->nevents++], sizeof f->events[0], "%zu %s %s", i, rpc_state_name(h->state), h->name);
}

static inline bool fk_saw(const fake *f, const char *prefix)
{
    for (size_t i = 0; i < f->nevents; i++)
        if (strncmp(f->events[i], prefix, strlen(prefix)) == 0)
            return true;
    return false;
}

static inline rpc_hooks fk_hooks(fake *f) { return (rpc_hooks){fk_now, fk_sleep, fk_jitter, fk_health, f}; }

static inline rpc_opts tc_opts(void)
{
    rpc_opts o = rpc_opts_default();
    o.chain_id = 1;
    o.timeout_ms = 3000;
    o.connect_timeout_ms = 1000;
    return o;
}

static inline rpc *tc_open(stub **s, size_t n, const rpc_opts *o, fake *f)
{
    const char *urls[RPC_MAX_ENDPOINTS];
    for (size_t i = 0; i < n; i++)
        urls[i] = s[i]->url;
    rpc_hooks h = fk_hooks(f);
    rpc *c = NULL;
    rl_why why = {{0}};
    cr_assert_eq(rpc_open(&c, urls, n, o, &h, &why), RL_OK, "open: %s", why.text);
    return c;
}

static inline rpc_health tc_health(const rpc *c, size_t i)
{
    rpc_health h;
    rpc_health_get(c, i, &h);
    return h;
}

/* test_echo(v) must answer v. */
static inline rl_err tc_echo(rpc *c, json_int_t v, rl_why *why)
{
    json_t *params = json_pack("[I]", v), *res = NULL;
    rl_err err = rpc_call(c, "test_echo", params, &res, why);
    json_decref(params);
    if (err == RL_OK) {
        cr_assert(json_is_integer(res) && json_integer_value(res) == v, "echo %lld", (long long)v);
        json_decref(res);
    } else {
        cr_assert_null(res, "a failed call hands back no result");
    }
    return err;
}

static inline uint64_t tc_real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

#define assert_has(text, needle) cr_assert_not_null(strstr(text, needle), "'%s' not in: %s", needle, text)
#define assert_hasnt(text, needle) cr_assert_null(strstr(text, needle), "'%s' leaked in: %s", needle, text)

/* A well-formed log as nodes write it (vault 0x..aa, block 12, log index 3). */
static const char STUB_LOG0[] =
    "{\"address\":\"0x00000000000000000000000000000000000000aa\","
    "\"topics\":[\"0x1111111111111111111111111111111111111111111111111111111111111111\","
    "\"0x0000000000000000000000000000000000000000000000000000000000000001\"],"
    "\"data\":\"0x0102\",\"blockNumber\":\"0xc\","
    "\"blockHash\":\"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\","
    "\"transactionHash\":\"0xcccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\","
    "\"transactionIndex\":\"0x0\",\"logIndex\":\"0x3\",\"removed\":false}";

#endif
