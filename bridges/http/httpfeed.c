/*
 * httpfeed.c - HTTP JSON price sources over libcurl and jansson (httpfeed.h).
 */
#include "bridges/http/httpfeed.h"

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "attest/vec.h"

#define SEGMENT_MAX 128
#define MS_PER_S 1000

struct httpfeed {
    CURL *h;
    char *url;
    char name[HTTPFEED_NAME_MAX];
    char price_path[HTTPFEED_PATH_MAX], time_path[HTTPFEED_PATH_MAX];
    httpfeed_time_unit time_unit;
    uint32_t timeout_ms;
    size_t max_body;
    char *buf;
    size_t len, cap;
    bool too_large;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ok;

static void curl_start(void) { curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }

rl_err httpfeed_path_check(const char *path, rl_why *why)
{
    size_t n = strlen(path), seg = 0;
    if (n == 0 || n >= HTTPFEED_PATH_MAX)
        return rl_fail(why, RL_ERR_ARG, "JSON path \"%.64s\": 1 to %d characters", path, HTTPFEED_PATH_MAX - 1);
    for (size_t i = 0; i <= n; i++) {
        if (i == n || path[i] == '.') {
            if (seg == 0)
                return rl_fail(why, RL_ERR_ARG, "JSON path \"%s\": empty segment at %zu", path, i);
            if (seg >= SEGMENT_MAX)
                return rl_fail(why, RL_ERR_ARG, "JSON path \"%s\": a segment longer than %d", path, SEGMENT_MAX - 1);
            seg = 0;
        } else {
            seg++;
        }
    }
    return RL_OK;
}

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* The value at path in root (borrowed), or NULL with why naming the first segment not found. */
static json_t *walk(json_t *root, const char *path, rl_why *why)
{
    json_t *v = root;
    const char *p = path;
    while (v != NULL) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        char seg[SEGMENT_MAX];
        snprintf(seg, sizeof seg, "%.*s", (int)n, p);
        if (json_is_array(v) && all_digits(seg, n) && n < 10)
            v = json_array_get(v, strtoul(seg, NULL, 10));
        else if (json_is_object(v))
            v = json_object_get(v, seg);
        else
            v = NULL;
        if (v == NULL) {
            rl_fail(why, RL_ERR_DECODE, "%s: nothing at \"%.*s\"", path, (int)(p - path + n), path);
            return NULL;
        }
        if (dot == NULL)
            return v;
        p = dot + 1;
    }
    return NULL;
}

rl_err httpfeed_extract(const char *body, size_t len, const httpfeed_spec *spec, __int128 *price_e18,
                        uint64_t *time_ms, bool *exact, rl_why *why)
{
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return rl_fail(why, RL_ERR_DECODE, "not JSON: %s (byte %d)", jerr.text, jerr.position);
    rl_err err = RL_OK;
    json_t *p = walk(root, spec->price_path, why), *t = p ? walk(root, spec->time_path, why) : NULL;
    bool ex = true;
    if (p == NULL || t == NULL) {
        err = RL_ERR_DECODE;
    } else if (json_is_string(p)) {
        err = price_parse_decimal(price_e18, json_string_value(p), json_string_length(p), &ex, why);
        if (err != RL_OK)
            rl_why_prefix(why, "%s: ", spec->price_path);
    } else if (json_is_integer(p)) {
        json_int_t v = json_integer_value(p);
        err = v > 0 ? price_from_scaled(price_e18, (unsigned __int128)v, 0, &ex, why)
                    : rl_fail(why, RL_ERR_ARG, "%s: %lld is not above zero", spec->price_path, (long long)v);
    } else {
        err = rl_fail(why, RL_ERR_DECODE, "%s: %s, expected a decimal string or an integer%s", spec->price_path,
                      json_is_real(p) ? "a JSON number with a fraction" : "not a number",
                      json_is_real(p) ? " (serve fractions as strings: a JSON real is a binary double)" : "");
    }
    if (err == RL_OK) {
        json_int_t tv = json_is_integer(t) ? json_integer_value(t) : -1;
        uint64_t mul = spec->time_unit == HTTPFEED_SECONDS ? MS_PER_S : 1;
        if (tv < 0)
            err = rl_fail(why, RL_ERR_DECODE, "%s: expected a whole number of %s since the epoch", spec->time_path,
                          mul == 1 ? "milliseconds" : "seconds");
        else if ((uint64_t)tv > UINT64_MAX / mul)
            err = rl_fail(why, RL_ERR_DECODE, "%s: %lld is beyond any clock", spec->time_path, (long long)tv);
        else
            *time_ms = (uint64_t)tv * mul;
    }
    if (err == RL_OK && exact != NULL)
        *exact = ex;
    json_decref(root);
    return err;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
    httpfeed *f = ud;
    size_t n = size * nmemb;
    if (n > f->max_body - f->len) {
        f->too_large = true;
        return 0; /* aborts the transfer */
    }
    if (!vec_reserve((void **)&f->buf, &f->cap, f->len + n, 1, 4096))
        return 0;
    memcpy(f->buf + f->len, p, n);
    f->len += n;
    return n;
}

/* scheme://host[:port] and "/..." when the URL has a path, query or credentials. */
static rl_err public_name(httpfeed *f, const char *url, rl_why *why)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL, *user = NULL;
    rl_err err = RL_OK;
    if (u == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "URL");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &host, 0)) {
        err = rl_fail(why, RL_ERR_ARG, "url: not a URL");
    } else if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
        err = rl_fail(why, RL_ERR_ARG, "url: scheme %s, expected http or https", scheme);
    } else {
        (void)curl_url_get(u, CURLUPART_PORT, &port, 0);
        (void)curl_url_get(u, CURLUPART_PATH, &path, 0);
        (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
        (void)curl_url_get(u, CURLUPART_USER, &user, 0);
        bool more = (path && strcmp(path, "/") != 0) || query || user;
        snprintf(f->name, sizeof f->name, "%s://%s%s%s%s", scheme, host, port ? ":" : "", port ? port : "",
                 more ? "/..." : "");
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_free(user);
    curl_url_cleanup(u);
    return err;
}

rl_err httpfeed_open(httpfeed **out, const httpfeed_opts *o, rl_why *why)
{
    *out = NULL;
    pthread_once(&curl_once, curl_start);
    if (!curl_ok)
        return rl_fail(why, RL_ERR_IO, "libcurl failed to initialise");
    rl_err err = httpfeed_path_check(o->spec.price_path, why);
    if (err == RL_OK)
        err = httpfeed_path_check(o->spec.time_path, why);
    if (err != RL_OK)
        return err;
    httpfeed *f = calloc(1, sizeof *f);
    if (f == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "HTTP price source");
    snprintf(f->price_path, sizeof f->price_path, "%s", o->spec.price_path);
    snprintf(f->time_path, sizeof f->time_path, "%s", o->spec.time_path);
    f->time_unit = o->spec.time_unit;
    f->timeout_ms = o->timeout_ms;
    f->max_body = o->max_body_bytes ? o->max_body_bytes : HTTPFEED_DEFAULT_MAX_BODY;
    err = public_name(f, o->url, why);
    if (err == RL_OK && ((f->url = strdup(o->url)) == NULL || (f->h = curl_easy_init()) == NULL))
        err = rl_fail(why, RL_ERR_NOMEM, "HTTP price source %s", f->name);
    CURL *h = f->h;
    /* No redirects: a key in the URL must not follow a Location to another host. */
    if (err == RL_OK &&
        (curl_easy_setopt(h, CURLOPT_URL, f->url) || curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") ||
         curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) || curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) ||
         curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) ||
         curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) ||
         curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms) ||
         curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) || curl_easy_setopt(h, CURLOPT_WRITEDATA, f) ||
         curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "") || curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) ||
         curl_easy_setopt(h, CURLOPT_USERAGENT, "relayer-oracle/1")))
        err = rl_fail(why, RL_ERR_ARG, "HTTP price source %s: libcurl refused an option", f->name);
    if (err != RL_OK) {
        httpfeed_close(f);
        return err;
    }
    *out = f;
    return RL_OK;
}

void httpfeed_close(httpfeed *f)
{
    if (f == NULL)
        return;
    if (f->h != NULL)
        curl_easy_cleanup(f->h);
    free(f->url);
    free(f->buf);
    free(f);
}

const char *httpfeed_name(const httpfeed *f) { return f->name; }

rl_err httpfeed_read(httpfeed *f, const char *feed, const price_bounds *b, uint64_t now_ms, httpfeed_reading *out,
                     rl_why *why)
{
    f->len = 0;
    f->too_large = false;
    CURLcode rc = curl_easy_perform(f->h);
    long status = 0;
    rl_err err = RL_OK;
    /* libcurl's own messages may quote the URL: only its code's text is used. */
    if (f->too_large)
        err = rl_fail(why, RL_ERR_DECODE, "body larger than %zu bytes", f->max_body);
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        err = rl_fail(why, RL_ERR_TRANSPORT, "timed out after %u ms", (unsigned)f->timeout_ms);
    else if (rc != CURLE_OK)
        err = rl_fail(why, RL_ERR_TRANSPORT, "%s", curl_easy_strerror(rc));
    else if (curl_easy_getinfo(f->h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
        err = rl_fail(why, RL_ERR_TRANSPORT, "HTTP %ld", status);
    httpfeed_spec spec = {f->price_path, f->time_path, f->time_unit};
    if (err == RL_OK)
        err = httpfeed_extract(f->buf ? f->buf : "", f->len, &spec, &out->price_e18, &out->time_ms, &out->exact, why);
    if (err == RL_OK)
        err = price_check(feed, out->price_e18, out->time_ms, now_ms, b, why);
    else
        rl_why_prefix(why, "price of %s from %s: ", feed, f->name);
    return err;
}
