/*
 * rpc.c - the JSON-RPC client: endpoints, attempts, retries, health (contract in rpc.h).
 *
 * One call flows: rpc_call_decode() builds the request once -> drive() picks endpoints and backs off ->
 * attempt() checks the endpoint (chain id, head) and exchanges -> a take_* function checks the
 * answer and decodes the result -> settle() books the outcome on the endpoint's health.
 * Reasons are built bare ("HTTP 500") and composed once, in drive(), with the method and the
 * endpoint's safe name: the raw URL appears in no message.
 */
#include "bridges/evm/rpc.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define NEVER UINT64_MAX
/* Latency is smoothed over about this many exchanges (exponential moving average). */
#define LATENCY_SMOOTHING 8
/* A Retry-After longer than this many digits is taken as "the cap". */
#define RETRY_AFTER_MAX_DIGITS 9

typedef enum demotion {
    UP,           /* not demoted */
    DOWN_FAILING, /* max_failures consecutive failures, or a failed probe */
    DOWN_LAGGING, /* head too far behind the best */
    DOWN_STALLED, /* head not advancing while another advances */
} demotion;

/* Parts of a URL that may hold credentials; none may appear in a message. */
enum { SECRET_USER, SECRET_PASSWORD, SECRET_PATH, SECRET_QUERY, SECRET_FRAGMENT, SECRET_COUNT_ };

typedef struct endpoint {
    char *url; /* as configured, credentials included: requests only */
    char *secret[SECRET_COUNT_];
    char name[RPC_NAME_MAX];
    CURL *h; /* one per endpoint: its connection is kept alive between calls */
    char curl_err[CURL_ERROR_SIZE];
    bool verified; /* its chain id was checked since open or its last demotion */
    uint64_t verified_ms; /* ms (hook clock): when; checked again chain_check_ms later */
    bool disabled; /* wrong chain: for good */
    demotion down;
    uint64_t down_until; /* ms (hook clock): demoted until */
    uint64_t rest_until; /* ms (hook clock): rate limited until */
    uint32_t limit_streak, failures;
    uint64_t requests, errors;
    bool has_head;
    uint64_t head, head_changed_ms;
    uint64_t latency_us;
    char reason[sizeof ((rpc_health *)0)->reason];
} endpoint;

struct rpc {
    rpc_opts o;
    rpc_hooks hk;
    endpoint ep[RPC_MAX_ENDPOINTS];
    size_t n;
    struct curl_slist *headers;
    uint64_t chain_id;
    int64_t next_id;
    /* The exchange in flight. */
    char *buf;
    size_t len, cap;
    bool too_large;
    /* JSON values in the answer so far, counted as the text arrives (decoded) so a small body
     * that makes a huge tree (`[0,0,0,...]`) is refused before jansson builds it. */
    size_t values;
    bool in_string, escaped;
    char retry_after[64];
    rpc_error last;
};

/* Checks an answer (envelope and result); e is the endpoint that gave it. */
typedef rl_err (*take_fn)(rpc *c, endpoint *e, json_t *resp, void *ctx, rl_why *w);

/* ---- defaults and hooks ---- */

rpc_opts rpc_opts_default(void)
{
    return (rpc_opts){
        .chain_id = 0,
        .timeout_ms = 10000,
        .connect_timeout_ms = 3000,
        .max_retries = 4,
        .backoff_base_ms = 100,
        .backoff_max_ms = 5000,
        .max_wait_ms = 5000,
        .ratelimit_max_ms = 60000,
        .max_failures = 3,
        .cooldown_ms = 10000,
        .stall_ms = 30000,
        .max_lag_blocks = 16,
        .max_batch = 100,
        .max_response_bytes = (size_t)16 << 20,
        .max_response_values = (size_t)1 << 20,
        .chain_check_ms = 60000,
    };
}

const char *rpc_state_name(rpc_state s)
{
    switch (s) {
    case RPC_HEALTHY: return "healthy";
    case RPC_RATE_LIMITED: return "rate-limited";
    case RPC_DEMOTED: return "demoted";
    case RPC_PROBING: return "probing";
    case RPC_DISABLED: return "disabled";
    }
    return "unknown";
}

static uint64_t mono_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_ms(void *ctx, uint64_t ms)
{
    (void)ctx;
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

static uint32_t sodium_jitter(void *ctx)
{
    (void)ctx;
    return randombytes_random();
}

static uint64_t now_ms(const rpc *c) { return c->hk.now_ms(c->hk.ctx); }

/* Messages are cut to their buffer on purpose: a long node message must not push out the rest. */
static void say(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(char *dst, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, size, fmt, ap);
    va_end(ap);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static bool global_ok;

static void global_init(void)
{
    global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK && sodium_init() >= 0;
}

/* ---- health ---- */

static rpc_state state_of(const endpoint *e, uint64_t now)
{
    if (e->disabled)
        return RPC_DISABLED;
    if (e->down != UP)
        return now < e->down_until ? RPC_DEMOTED : RPC_PROBING;
    return e->rest_until > now ? RPC_RATE_LIMITED : RPC_HEALTHY;
}

size_t rpc_endpoint_count(const rpc *c) { return c->n; }

uint64_t rpc_chain_id(const rpc *c) { return c->chain_id; }

const rpc_error *rpc_last_error(const rpc *c) { return &c->last; }

void rpc_health_get(const rpc *c, size_t i, rpc_health *h)
{
    const endpoint *e = &c->ep[i];
    uint64_t now = now_ms(c);
    memset(h, 0, sizeof *h);
    memcpy(h->name, e->name, sizeof h->name);
    h->state = state_of(e, now);
    h->failures = e->failures;
    h->requests = e->requests;
    h->errors = e->errors;
    h->has_head = e->has_head;
    h->head = e->head;
    h->head_age_ms = e->has_head && now > e->head_changed_ms ? now - e->head_changed_ms : 0;
    h->latency_ms = (uint32_t)(e->latency_us / 1000);
    h->rest_ms = h->state == RPC_DEMOTED        ? e->down_until - now
                 : h->state == RPC_RATE_LIMITED ? e->rest_until - now
                                                : 0;
    memcpy(h->reason, e->reason, sizeof h->reason);
}

static void notify(rpc *c, const endpoint *e)
{
    if (c->hk.on_health == NULL)
        return;
    rpc_health h;
    size_t i = (size_t)(e - c->ep);
    rpc_health_get(c, i, &h);
    c->hk.on_health(c->hk.ctx, i, &h);
}

static void demote(rpc *c, endpoint *e, demotion kind, uint64_t now, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void demote(rpc *c, endpoint *e, demotion kind, uint64_t now, const char *fmt, ...)
{
    e->down = kind;
    e->down_until = now + c->o.cooldown_ms;
    if (kind == DOWN_FAILING)
        e->verified = false; /* it may come back as another node */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof e->reason, fmt, ap);
    va_end(ap);
    notify(c, e);
}

static void promote(rpc *c, endpoint *e)
{
    e->down = UP;
    e->failures = 0;
    e->reason[0] = '\0';
    notify(c, e);
}

/* A head seen from e at now. */
static void observe(endpoint *e, uint64_t head, uint64_t now)
{
    if (!e->has_head || head > e->head)
        e->head_changed_ms = now;
    e->head = head;
    e->has_head = true;
}

/* Weighs e's head against the other endpoints' (rpc.h, "Heads"): demotes it when it lags or
 * stalls, promotes it when it was demoted for its head and no longer does. */
static void judge(rpc *c, endpoint *e, uint64_t now)
{
    if (e->disabled || !e->has_head)
        return;
    const endpoint *best = NULL, *ahead = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const endpoint *o = &c->ep[i];
        if (o == e || o->disabled || !o->has_head)
            continue;
        if (best == NULL || o->head > best->head)
            best = o;
        if (o->head > e->head && o->head_changed_ms > e->head_changed_ms && (ahead == NULL || o->head > ahead->head))
            ahead = o;
    }
    if (c->o.max_lag_blocks && best != NULL && best->head > e->head && best->head - e->head > c->o.max_lag_blocks)
        demote(c, e, DOWN_LAGGING, now, "head %" PRIu64 " lags %s (%" PRIu64 ") by %" PRIu64 " blocks", e->head,
               best->name, best->head, best->head - e->head);
    else if (c->o.stall_ms && ahead != NULL && now - e->head_changed_ms >= c->o.stall_ms)
        demote(c, e, DOWN_STALLED, now, "head %" PRIu64 " stalled for %" PRIu64 " ms while %s advanced to %" PRIu64,
               e->head, now - e->head_changed_ms, ahead->name, ahead->head);
    else if (e->down == DOWN_LAGGING || e->down == DOWN_STALLED)
        promote(c, e);
}

/* Exponential backoff with equal jitter: half of the step fixed, half random. */
static uint64_t backoff(rpc *c, uint32_t step)
{
    uint64_t d = (uint64_t)c->o.backoff_base_ms << (step < 32 ? step : 32);
    if (d > c->o.backoff_max_ms)
        d = c->o.backoff_max_ms;
    return d / 2 + c->hk.jitter(c->hk.ctx) % (d / 2 + 1);
}

/* How long a 429 rests the endpoint: Retry-After (seconds or an HTTP date) or the backoff. */
static uint64_t rest_ms(rpc *c, endpoint *e)
{
    const char *v = c->retry_after;
    uint64_t ms;
    size_t digits = strspn(v, "0123456789");
    if (digits > 0 && v[digits] == '\0')
        ms = digits > RETRY_AFTER_MAX_DIGITS ? NEVER : strtoull(v, NULL, 10) * 1000;
    else if (v[0] != '\0' && curl_getdate(v, NULL) != -1) {
        time_t at = curl_getdate(v, NULL), now = time(NULL);
        ms = at > now ? (uint64_t)(at - now) * 1000 : 0;
    } else
        ms = backoff(c, e->limit_streak);
    return ms < c->o.ratelimit_max_ms ? ms : c->o.ratelimit_max_ms;
}

/* Books an attempt's outcome on e. */
static void settle(rpc *c, endpoint *e, rl_err err, const rl_why *w)
{
    uint64_t now = now_ms(c);
    switch (err) {
    case RL_OK:
    case RL_ERR_RPC:
    case RL_ERR_NOTFOUND: /* it answered: a healthy endpoint */
        e->limit_streak = 0;
        if (e->down == DOWN_FAILING)
            promote(c, e);
        else
            e->failures = 0;
        return;
    case RL_ERR_ARG:   /* the caller asked too much */
    case RL_ERR_NOMEM: /* our side */
    case RL_ERR_STATE: /* head still behind: judge() booked it */
        return;
    case RL_ERR_RATELIMIT:
        e->errors++;
        e->limit_streak++;
        say(e->reason, sizeof e->reason, "%s", w->text);
        notify(c, e);
        return;
    case RL_ERR_WRONG_CHAIN: /* verify() disabled it */
        e->errors++;
        notify(c, e);
        return;
    default: /* transport or malformed */
        e->errors++;
        e->failures++;
        if (e->down != UP || e->failures >= c->o.max_failures)
            demote(c, e, DOWN_FAILING, now, "%" PRIu32 " consecutive failure%s; last: %s", e->failures,
                   e->failures == 1 ? "" : "s", w->text);
        else
            say(e->reason, sizeof e->reason, "%s", w->text);
        return;
    }
}

/* ---- HTTP ---- */

/* Counts the values that start in p (each after '[', '{', ',' or ':' outside a string: an
 * upper bound on the nodes jansson would make), carrying the string state across chunks. */
static void count_values(rpc *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (c->in_string) {
            if (c->escaped)
                c->escaped = false;
            else if (ch == '\\')
                c->escaped = true;
            else if (ch == '"')
                c->in_string = false;
        } else if (ch == '"') {
            c->in_string = true;
        } else if (ch == '[' || ch == '{' || ch == ',' || ch == ':') {
            c->values++;
        }
    }
}

/* libcurl hands over the body decoded (Content-Encoding undone), so both caps hold for what the
 * answer becomes, not for what crossed the wire: a gzip bomb stops at the cap. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    rpc *c = ud;
    size_t n = size * nmemb;
    count_values(c, p, n);
    if (n > c->o.max_response_bytes - c->len || c->values > c->o.max_response_values) {
        c->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap ? c->cap : 16384;
        while (cap < c->len + n)
            cap *= 2;
        char *b = realloc(c->buf, cap);
        if (b == NULL)
            return 0;
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += n;
    return n;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
    rpc *c = ud;
    size_t n = size * nmemb;
    static const char key[] = "retry-after:";
    if (n > sizeof key - 1 && strncasecmp(p, key, sizeof key - 1) == 0) {
        const char *v = p + sizeof key - 1, *end = p + n;
        while (v < end && (*v == ' ' || *v == '\t'))
            v++;
        while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
            end--;
        size_t len = (size_t)(end - v) < sizeof c->retry_after - 1 ? (size_t)(end - v) : sizeof c->retry_after - 1;
        memcpy(c->retry_after, v, len);
        c->retry_after[len] = '\0';
    }
    return n;
}

/* libcurl's detailed message, unless it quotes any part of the URL that may be secret. */
static const char *curl_text(const endpoint *e, CURLcode rc)
{
    if (e->curl_err[0] == '\0')
        return curl_easy_strerror(rc);
    for (int i = 0; i < SECRET_COUNT_; i++)
        if (e->secret[i] != NULL && strstr(e->curl_err, e->secret[i]) != NULL)
            return curl_easy_strerror(rc);
    return e->curl_err;
}

/* One POST of body to e; on RL_OK the answer is parsed JSON in *resp (the caller decrefs). */
static rl_err exchange(rpc *c, endpoint *e, const char *body, size_t len, json_t **resp, rl_why *w)
{
    *resp = NULL;
    c->len = 0;
    c->too_large = false;
    c->values = 0;
    c->in_string = c->escaped = false;
    c->retry_after[0] = '\0';
    e->curl_err[0] = '\0';
    curl_easy_setopt(e->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    e->requests++;
    CURLcode rc = curl_easy_perform(e->h);
    if (c->too_large)
        return rl_fail(w, RL_ERR_ARG, "answer larger than %zu bytes or %zu JSON values once decoded: ask for less",
                       c->o.max_response_bytes, c->o.max_response_values);
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return rl_fail(w, RL_ERR_TRANSPORT, "timed out after %" PRIu32 " ms", c->o.timeout_ms);
    if (rc != CURLE_OK)
        return rl_fail(w, RL_ERR_TRANSPORT, "%s", curl_text(e, rc));
    long status = 0;
    curl_off_t us = 0;
    curl_easy_getinfo(e->h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(e->h, CURLINFO_TOTAL_TIME_T, &us);
    if (status == 429) {
        uint64_t ms = rest_ms(c, e);
        e->rest_until = now_ms(c) + ms;
        return rl_fail(w, RL_ERR_RATELIMIT, "HTTP 429 (too many requests), resting %" PRIu64 " ms", ms);
    }
    json_error_t jerr;
    json_t *j = NULL;
    /* JSON_ALLOW_NUL: nodes put revert data decoded as text in error messages (anvil's
     * "custom error ...: \u0000..."); every string is read with its length and messages are
     * sanitised (rpcjson.h), so a NUL in a string is harmless, and refusing it would turn a
     * revert into a malformed answer retried on every endpoint. */
    if (status == 200 || (status >= 400 && status < 500))
        j = json_loadb(c->buf ? c->buf : "", c->len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (status != 200) {
        /* Some nodes answer a JSON-RPC error with a 4xx; anything else is no answer at all. */
        bool rpc_answer = json_is_array(j) || json_object_get(j, "jsonrpc") != NULL;
        if (!rpc_answer) {
            json_decref(j);
            return rl_fail(w, RL_ERR_TRANSPORT, "HTTP %ld", status);
        }
    }
    if (j == NULL)
        return rl_fail(w, RL_ERR_DECODE, "answer is not JSON: %s (byte %d)", jerr.text, jerr.position);
    int64_t sample = (int64_t)us, avg = (int64_t)e->latency_us;
    e->latency_us = (uint64_t)(avg == 0 ? sample : avg + (sample - avg) / LATENCY_SMOOTHING);
    *resp = j;
    return RL_OK;
}

/* Sends a parameterless method to e and returns its quantity result (chain id, head). */
static rl_err ask_u64(rpc *c, endpoint *e, const char *method, uint64_t *out, rl_why *w)
{
    int64_t id = c->next_id++;
    char body[128];
    int len = snprintf(body, sizeof body, "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64 ",\"method\":\"%s\",\"params\":[]}",
                       id, method);
    json_t *resp, *res;
    rl_err err = exchange(c, e, body, (size_t)len, &resp, w);
    if (err != RL_OK)
        return err;
    rpc_error er = {0};
    err = rpcjson_response(resp, id, &res, &er, w);
    if (err == RL_OK)
        err = rpcjson_u64(res, out, method, w);
    else if (err == RL_ERR_RPC) /* an endpoint that cannot say this is not usable */
        err = rl_fail(w, RL_ERR_DECODE, "%s: JSON-RPC error %" PRId64 ": %s", method, er.code, er.message);
    rpc_error_clear(&er);
    json_decref(resp);
    return err;
}

/* The chain id check before an endpoint's first call (rpc.h). */
static rl_err verify(rpc *c, endpoint *e, rl_why *w)
{
    uint64_t id;
    rl_err err = ask_u64(c, e, "eth_chainId", &id, w);
    if (err != RL_OK)
        return err;
    if (c->chain_id == 0)
        c->chain_id = id;
    if (id != c->chain_id) {
        e->disabled = true;
        snprintf(e->reason, sizeof e->reason, "serves chain id %" PRIu64 ", expected %" PRIu64, id, c->chain_id);
        return rl_fail(w, RL_ERR_WRONG_CHAIN, "%s", e->reason);
    }
    e->verified = true;
    e->verified_ms = now_ms(c);
    return RL_OK;
}

/* A head-demoted endpoint whose cooldown is over is looked at before it takes a call. */
static rl_err recheck_head(rpc *c, endpoint *e, rl_why *w)
{
    uint64_t head;
    rl_err err = ask_u64(c, e, "eth_blockNumber", &head, w);
    if (err != RL_OK)
        return err;
    uint64_t now = now_ms(c);
    observe(e, head, now);
    judge(c, e, now);
    if (e->down != UP)
        return rl_fail(w, RL_ERR_STATE, "still demoted: %s", e->reason);
    return RL_OK;
}

/* ---- attempts and retries ---- */

static bool may_take(const endpoint *e, uint64_t now)
{
    return !e->disabled && e->rest_until <= now && (e->down == UP || now >= e->down_until);
}

/* When e may take calls again (NEVER when disabled). */
static uint64_t back_at(const endpoint *e)
{
    if (e->disabled)
        return NEVER;
    return e->down != UP && e->down_until > e->rest_until ? e->down_until : e->rest_until;
}

static bool is_final(rl_err err)
{
    return err == RL_OK || err == RL_ERR_RPC || err == RL_ERR_NOTFOUND || err == RL_ERR_ARG || err == RL_ERR_NOMEM;
}

/* One try of body on e. head_probe: the request itself reads the head, so a head-demoted
 * endpoint needs no separate look first. */
static rl_err attempt(rpc *c, endpoint *e, const char *body, size_t len, take_fn take, void *ctx, bool head_probe,
                      rl_why *w)
{
    /* An endpoint may switch chains under a running client: its chain id is asked again now and
     * then, and a switch disables it (verify) before it answers anything else. */
    bool recheck = c->o.chain_check_ms != 0 && now_ms(c) - e->verified_ms >= c->o.chain_check_ms;
    rl_err err = e->verified && !recheck ? RL_OK : verify(c, e, w);
    if (err == RL_OK && !head_probe && (e->down == DOWN_LAGGING || e->down == DOWN_STALLED))
        err = recheck_head(c, e, w);
    if (err == RL_OK) {
        json_t *resp;
        err = exchange(c, e, body, len, &resp, w);
        if (err == RL_OK) {
            err = take(c, e, resp, ctx, w);
            json_decref(resp);
        }
    }
    settle(c, e, err, w);
    return err;
}

static void compose(rl_why *why, const char *what, const endpoint *e, const rl_why *w)
{
    if (why != NULL)
        say(why->text, sizeof why->text, "%s at %s: %s", what, e->name, w->text);
}

/* Why nothing could be tried: every endpoint's state. */
static rl_err none_available(rpc *c, const char *what, rl_why *why)
{
    if (why == NULL)
        return RL_ERR_UNAVAILABLE;
    uint64_t now = now_ms(c);
    int o = snprintf(why->text, sizeof why->text, "%s: no endpoint available:", what);
    for (size_t i = 0; i < c->n && o >= 0 && (size_t)o < sizeof why->text; i++) {
        rpc_health h;
        rpc_health_get(c, i, &h);
        bool resting = now < back_at(&c->ep[i]) && h.reason[0] != '\0';
        o += snprintf(why->text + o, sizeof why->text - (size_t)o, "%s %s %s%s%s%s", i ? ";" : "", h.name,
                      rpc_state_name(h.state), resting ? " (" : "", resting ? h.reason : "", resting ? ")" : "");
    }
    return RL_ERR_UNAVAILABLE;
}

/* Tries body on endpoints in order, rounds apart with backoff, until an attempt ends the call
 * (rpc.h, "Retries"). */
static rl_err drive(rpc *c, const char *what, const char *body, size_t len, take_fn take, void *ctx, rl_why *why)
{
    uint32_t attempts = 0;
    rl_err last = RL_ERR_UNAVAILABLE;
    rl_why lastw = {{0}};
    const endpoint *laste = NULL;
    for (uint32_t round = 0;; round++) {
        uint32_t tried = 0;
        for (;;) {
            uint64_t now = now_ms(c);
            endpoint *e = NULL;
            for (size_t i = 0; i < c->n && e == NULL; i++)
                if (!(tried & 1u << i) && may_take(&c->ep[i], now))
                    e = &c->ep[i];
            if (e == NULL)
                break;
            tried |= 1u << (e - c->ep);
            attempts++;
            rl_why w = {{0}};
            rl_err err = attempt(c, e, body, len, take, ctx, false, &w);
            if (is_final(err)) {
                if (err != RL_OK)
                    compose(why, what, e, &w);
                return err;
            }
            last = err, lastw = w, laste = e;
            if (attempts > c->o.max_retries)
                goto out;
        }
        if (round >= c->o.max_retries)
            goto out;
        uint64_t now = now_ms(c), back = NEVER;
        for (size_t i = 0; i < c->n; i++) {
            uint64_t b = back_at(&c->ep[i]);
            back = b < back ? b : back;
        }
        if (back == NEVER || (back > now && back - now > c->o.max_wait_ms))
            goto out;
        uint64_t wait = back > now ? back - now : 0, step = tried ? backoff(c, round) : 0;
        c->hk.sleep_ms(c->hk.ctx, wait > step ? wait : step);
    }
out:
    if (laste == NULL)
        return none_available(c, what, why);
    if (last == RL_ERR_STATE) /* every endpoint looked at was still behind */
        last = RL_ERR_UNAVAILABLE;
    if (why != NULL)
        say(why->text, sizeof why->text, "%s: %" PRIu32 " attempt%s failed; last at %s: %s", what, attempts,
            attempts == 1 ? "" : "s", laste->name, lastw.text);
    return last;
}

/* ---- single calls ---- */

typedef struct single {
    int64_t id;
    bool head; /* eth_blockNumber: the answer is a head */
    rpc_decode_fn decode;
    void *out;
} single;

static rl_err take_single(rpc *c, endpoint *e, json_t *resp, void *ctx, rl_why *w)
{
    single *s = ctx;
    json_t *res;
    rl_err err = rpcjson_response(resp, s->id, &res, &c->last, w);
    if (err != RL_OK)
        return err;
    if (s->head) {
        uint64_t head, now = now_ms(c);
        if ((err = rpcjson_u64(res, &head, "result", w)) != RL_OK)
            return err;
        observe(e, head, now);
        judge(c, e, now);
    }
    return s->decode(res, s->out, w);
}

rl_err rpc_call_decode(rpc *c, const char *method, json_t *params, rpc_decode_fn decode, void *out, rl_why *why)
{
    rpc_error_clear(&c->last);
    if (params != NULL && !json_is_array(params))
        return rl_fail(why, RL_ERR_ARG, "%s: params must be an array", method);
    single s = {c->next_id++, strcmp(method, "eth_blockNumber") == 0, decode, out};
    json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)s.id, "method", method,
                            "params", params != NULL ? json_incref(params) : json_array());
    char *body = req != NULL ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (body == NULL)
        return rl_fail(why, RL_ERR_ARG, "%s: cannot encode the request", method);
    rl_err err = drive(c, method, body, strlen(body), take_single, &s, why);
    free(body);
    return err;
}

static rl_err keep_json(json_t *result, void *out, rl_why *w)
{
    (void)w;
    *(json_t **)out = json_incref(result);
    return RL_OK;
}

rl_err rpc_call(rpc *c, const char *method, json_t *params, json_t **result, rl_why *why)
{
    *result = NULL;
    return rpc_call_decode(c, method, params, keep_json, result, why);
}

/* ---- batches ---- */

typedef struct batch {
    int64_t first;
    size_t n;
    const rpc_req *calls;
    rpc_res *res;
    json_t **answers;
} batch;

static rl_err take_batch(rpc *c, endpoint *e, json_t *resp, void *ctx, rl_why *w)
{
    batch *b = ctx;
    rpc_error whole = {0};
    rl_err err = rpcjson_batch(resp, b->first, b->n, b->answers, &whole, w);
    if (err == RL_ERR_RPC) { /* refused as a whole: the same answer for every call */
        for (size_t i = 0; i < b->n; i++) {
            rpc_res *r = &b->res[i];
            r->err = RL_ERR_RPC;
            r->error = whole;
            r->error.data = whole.data ? json_incref(whole.data) : NULL;
            compose(&r->why, b->calls[i].method, e, w);
        }
        rpc_error_clear(&whole);
        return err;
    }
    if (err != RL_OK)
        return err;
    (void)c;
    for (size_t i = 0; i < b->n; i++) {
        rpc_res *r = &b->res[i];
        rl_why rw = {{0}};
        json_t *res;
        if (b->answers[i] == NULL)
            r->err = rl_fail(&rw, RL_ERR_DECODE, "the batch answer has nothing for id %" PRId64,
                             b->first + (int64_t)i);
        else if ((r->err = rpcjson_response(b->answers[i], b->first + (int64_t)i, &res, &r->error, &rw)) == RL_OK)
            r->result = json_incref(res);
        if (r->err != RL_OK)
            compose(&r->why, b->calls[i].method, e, &rw);
    }
    return RL_OK;
}

static rl_err batch_part(rpc *c, const rpc_req *calls, rpc_res *res, size_t n)
{
    batch b = {c->next_id, n, calls, res, calloc(n, sizeof(json_t *))};
    c->next_id += (int64_t)n;
    json_t *arr = json_array();
    rl_err err = b.answers != NULL && arr != NULL ? RL_OK : RL_ERR_NOMEM;
    for (size_t i = 0; i < n && err == RL_OK; i++) {
        json_t *p = calls[i].params;
        if (p != NULL && !json_is_array(p))
            err = RL_ERR_ARG;
        else if (json_array_append_new(arr, json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id",
                                                      (json_int_t)(b.first + (json_int_t)i), "method",
                                                      calls[i].method, "params",
                                                      p != NULL ? json_incref(p) : json_array())) != 0)
            err = RL_ERR_ARG;
    }
    char *body = err == RL_OK ? json_dumps(arr, JSON_COMPACT) : NULL;
    rl_why w = {{0}};
    char what[48];
    snprintf(what, sizeof what, "batch of %zu", n);
    if (err != RL_OK || body == NULL)
        err = rl_fail(&w, err == RL_ERR_NOMEM ? RL_ERR_NOMEM : RL_ERR_ARG,
                      "%s: cannot encode the requests (method and array params per call)", what);
    else
        err = drive(c, what, body, strlen(body), take_batch, &b, &w);
    if (err != RL_OK && err != RL_ERR_RPC)
        for (size_t i = 0; i < n; i++) { /* the exchange failed: so did every call in it */
            res[i].err = err;
            res[i].why = w;
        }
    free(body);
    json_decref(arr);
    free(b.answers);
    return err;
}

rl_err rpc_batch(rpc *c, size_t n, const rpc_req calls[], rpc_res results[], rl_why *why)
{
    memset(results, 0, n * sizeof *results);
    rpc_error_clear(&c->last);
    for (size_t at = 0; at < n; at += c->o.max_batch) {
        size_t m = n - at < c->o.max_batch ? n - at : c->o.max_batch;
        rl_err err = batch_part(c, calls + at, results + at, m);
        if (err == RL_ERR_NOMEM) {
            for (size_t i = at + m; i < n; i++)
                results[i].err = RL_ERR_NOMEM;
            break;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (results[i].err != RL_OK) {
            if (why != NULL)
                say(why->text, sizeof why->text, "call %zu: %s", i, results[i].why.text);
            return results[i].err;
        }
    return RL_OK;
}

void rpc_batch_fini(rpc_res results[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_decref(results[i].result);
        results[i].result = NULL;
        rpc_error_clear(&results[i].error);
    }
}

/* ---- heads ---- */

static rl_err take_head(rpc *c, endpoint *e, json_t *resp, void *ctx, rl_why *w)
{
    int64_t id = *(int64_t *)ctx;
    json_t *res;
    rpc_error er = {0};
    rl_err err = rpcjson_response(resp, id, &res, &er, w);
    uint64_t head;
    if (err == RL_OK && (err = rpcjson_u64(res, &head, "result", w)) == RL_OK)
        observe(e, head, now_ms(c));
    if (err == RL_ERR_RPC) /* a node that cannot say its head is not one to use */
        err = rl_fail(w, RL_ERR_DECODE, "JSON-RPC error %" PRId64 ": %s", er.code, er.message);
    rpc_error_clear(&er);
    return err;
}

rl_err rpc_head(rpc *c, uint64_t *head, rl_why *why)
{
    uint64_t now = now_ms(c);
    bool asked[RPC_MAX_ENDPOINTS] = {false};
    rl_why lastw = {{0}};
    const endpoint *laste = NULL;
    rl_err last = RL_ERR_UNAVAILABLE;
    for (size_t i = 0; i < c->n; i++) {
        endpoint *e = &c->ep[i];
        if (!may_take(e, now))
            continue;
        int64_t id = c->next_id++;
        char body[96];
        int len = snprintf(body, sizeof body,
                           "{\"jsonrpc\":\"2.0\",\"id\":%" PRId64 ",\"method\":\"eth_blockNumber\",\"params\":[]}", id);
        rl_why w = {{0}};
        rl_err err = attempt(c, e, body, (size_t)len, take_head, &id, true, &w);
        if (err == RL_OK)
            asked[i] = true;
        else
            last = err, lastw = w, laste = e;
    }
    /* Judged together, once every fresh head is in. */
    now = now_ms(c);
    bool any = false;
    uint64_t low = 0;
    for (size_t i = 0; i < c->n; i++) {
        endpoint *e = &c->ep[i];
        if (!asked[i])
            continue;
        judge(c, e, now);
        if (e->down == UP && (!any || e->head < low))
            low = e->head, any = true;
    }
    if (any) {
        *head = low;
        return RL_OK;
    }
    if (laste == NULL)
        return none_available(c, "eth_blockNumber", why);
    if (why != NULL)
        say(why->text, sizeof why->text, "eth_blockNumber: no healthy endpoint answered; last at %s: %s",
                 laste->name, lastw.text);
    return last;
}

/* ---- open and close ---- */

/* Splits the URL into what may be shown and what may not (rpc.h, "Secrets"). */
static rl_err endpoint_init(rpc *c, endpoint *e, size_t i, const char *url, rl_why *why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL;
    rl_err err = RL_OK;
    static const CURLUPart parts[SECRET_COUNT_] = {CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_PATH,
                                                   CURLUPART_QUERY, CURLUPART_FRAGMENT};
    if (u == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "endpoint %zu: URL", i + 1);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0)) {
        err = rl_fail(why, RL_ERR_ARG, "endpoint %zu: not a URL", i + 1);
        goto done;
    }
    if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        err = rl_fail(why, RL_ERR_ARG, "endpoint %zu: scheme %s, expected http or https", i + 1, scheme);
        goto done;
    }
    for (int k = 0; k < SECRET_COUNT_; k++) {
        char *part = NULL;
        if (curl_url_get(u, parts[k], &part, 0) == CURLUE_OK && part != NULL && part[0] != '\0' &&
            !(k == SECRET_PATH && strcmp(part, "/") == 0))
            e->secret[k] = strdup(part);
        curl_free(part);
    }
    (void)curl_url_get(u, CURLUPART_PORT, &port, 0); /* absent when the URL has none */
    snprintf(e->name, sizeof e->name, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
             e->secret[SECRET_PATH] ? "/..." : "");
    e->url = strdup(url);
    e->h = curl_easy_init();
    if (e->url == NULL || e->h == NULL) {
        err = rl_fail(why, RL_ERR_NOMEM, "endpoint %zu", i + 1);
        goto done;
    }
    CURL *h = e->h;
    if (curl_easy_setopt(h, CURLOPT_URL, e->url) || curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(h, CURLOPT_POST, 1L) ||
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers) ||
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)c->o.timeout_ms) ||
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms) ||
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) || curl_easy_setopt(h, CURLOPT_WRITEDATA, c) ||
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header) || curl_easy_setopt(h, CURLOPT_HEADERDATA, c) ||
        curl_easy_setopt(h, CURLOPT_ERRORBUFFER, e->curl_err) ||
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") || curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "relayer-rpc/1"))
        err = rl_fail(why, RL_ERR_ARG, "endpoint %zu: libcurl refused an option", i + 1);
done:
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return err;
}

static rl_err check_opts(const rpc_opts *o, rl_why *why)
{
    if (o->timeout_ms == 0 || o->connect_timeout_ms == 0)
        return rl_fail(why, RL_ERR_ARG, "rpc: timeouts must be positive");
    if (o->backoff_base_ms > o->backoff_max_ms)
        return rl_fail(why, RL_ERR_ARG, "rpc: backoff_base_ms %" PRIu32 " exceeds backoff_max_ms %" PRIu32,
                       o->backoff_base_ms, o->backoff_max_ms);
    if (o->max_failures == 0 || o->max_batch == 0 || o->max_response_bytes == 0 || o->max_response_values == 0)
        return rl_fail(why, RL_ERR_ARG,
                       "rpc: max_failures, max_batch, max_response_bytes and max_response_values must be positive");
    return RL_OK;
}

rl_err rpc_open(rpc **out, const char *const urls[], size_t n, const rpc_opts *opts, const rpc_hooks *hooks,
                rl_why *why)
{
    *out = NULL;
    if (n == 0 || n > RPC_MAX_ENDPOINTS)
        return rl_fail(why, RL_ERR_ARG, "rpc: %zu endpoints, expected 1..%d", n, RPC_MAX_ENDPOINTS);
    rpc_opts o = opts != NULL ? *opts : rpc_opts_default();
    rl_err err = check_opts(&o, why);
    if (err != RL_OK)
        return err;
    if (pthread_once(&global_once, global_init) != 0 || !global_ok)
        return rl_fail(why, RL_ERR_IO, "rpc: libcurl or libsodium failed to initialise");
    rpc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "rpc: client");
    c->o = o;
    if (hooks != NULL)
        c->hk = *hooks;
    c->hk.now_ms = c->hk.now_ms ? c->hk.now_ms : mono_ms;
    c->hk.sleep_ms = c->hk.sleep_ms ? c->hk.sleep_ms : nap_ms;
    c->hk.jitter = c->hk.jitter ? c->hk.jitter : sodium_jitter;
    c->chain_id = o.chain_id;
    c->next_id = 1;
    struct curl_slist *h1 = curl_slist_append(NULL, "Content-Type: application/json");
    struct curl_slist *h2 = h1 ? curl_slist_append(h1, "Accept: application/json") : NULL;
    c->headers = h2 ? curl_slist_append(h2, "Expect:") : NULL; /* no 100-continue round trip */
    if (c->headers == NULL) {
        curl_slist_free_all(h2 ? h2 : h1);
        rpc_close(c);
        return rl_fail(why, RL_ERR_NOMEM, "rpc: headers");
    }
    for (c->n = 0; c->n < n; c->n++)
        if ((err = endpoint_init(c, &c->ep[c->n], c->n, urls[c->n], why)) != RL_OK) {
            c->n++; /* so that close frees what it holds */
            goto fail;
        }
    unsigned same[RPC_MAX_ENDPOINTS] = {0}; /* names are unique, for logs and metrics: "... #2" */
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            same[i] += strcmp(c->ep[i].name, c->ep[j].name) == 0;
    for (size_t i = 0; i < n; i++)
        if (same[i] > 0) {
            size_t l = strlen(c->ep[i].name);
            snprintf(c->ep[i].name + l, sizeof c->ep[i].name - l, " #%u", same[i] + 1);
        }
    size_t good = 0;
    rl_why lastw = {{0}};
    const endpoint *laste = NULL;
    for (size_t i = 0; i < n; i++) {
        endpoint *e = &c->ep[i];
        rl_why w = {{0}};
        rl_err e_err = verify(c, e, &w);
        settle(c, e, e_err, &w);
        if (e_err == RL_ERR_WRONG_CHAIN) {
            err = rl_fail(why, e_err, "rpc: endpoint %s %s", e->name, w.text);
            goto fail;
        }
        if (e_err == RL_OK)
            good++;
        else
            err = e_err, lastw = w, laste = e;
    }
    if (good == 0) {
        if (why != NULL)
            say(why->text, sizeof why->text, "rpc: no endpoint answered eth_chainId; last at %s: %s",
                     laste->name, lastw.text);
        goto fail;
    }
    *out = c;
    return RL_OK;
fail:
    rpc_close(c);
    return err;
}

rl_err rpc_open_list(rpc **out, const char *list, const rpc_opts *opts, const rpc_hooks *hooks, rl_why *why)
{
    char *copy = strdup(list), *save = NULL;
    const char *urls[RPC_MAX_ENDPOINTS];
    size_t n = 0;
    if (copy == NULL)
        return RL_ERR_NOMEM;
    rl_err err = RL_OK;
    for (char *u = strtok_r(copy, " \t,", &save); u != NULL && err == RL_OK; u = strtok_r(NULL, " \t,", &save)) {
        if (n == RPC_MAX_ENDPOINTS)
            err = rl_fail(why, RL_ERR_ARG, "more than %d endpoints", RPC_MAX_ENDPOINTS);
        else
            urls[n++] = u;
    }
    if (err == RL_OK && n == 0)
        err = rl_fail(why, RL_ERR_ARG, "no endpoint");
    if (err == RL_OK)
        err = rpc_open(out, urls, n, opts, hooks, why);
    free(copy);
    return err;
}

void rpc_close(rpc *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        endpoint *e = &c->ep[i];
        if (e->h != NULL)
            curl_easy_cleanup(e->h);
        if (e->url != NULL) {
            sodium_memzero(e->url, strlen(e->url));
            free(e->url);
        }
        for (int k = 0; k < SECRET_COUNT_; k++)
            if (e->secret[k] != NULL) {
                sodium_memzero(e->secret[k], strlen(e->secret[k]));
                free(e->secret[k]);
            }
    }
    curl_slist_free_all(c->headers);
    free(c->buf);
    rpc_error_clear(&c->last);
    free(c);
}
