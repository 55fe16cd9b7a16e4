/*
 * cmd_oracle.c - `relayer oracle --config FILE`: a relayer node's oracle process.
 *
 * It polls each configured feed on its own interval - a Chainlink-style aggregator through
 * eth_call (bridges/evm/oracle.h) or an HTTP JSON source (bridges/http/httpfeed.h) - and when
 * the value passes every check of price.h, signs a price observation with the node's key and
 * sends it to the hub, which logs a PRICE record once `threshold` nodes agree (hubprice.h).
 * A source that fails, answers something malformed, stale or out of range gets no observation:
 * the node abstains, logs why, and tries again at the next interval. It never signs a guess or
 * an old value again under a new time: the signed time is the source's own.
 *
 *     # node1.conf (the node's file: watchers read [chain.*], the oracle [feed.*])
 *     [node]
 *     key = keys/node1.key
 *     relayers = relayers.json
 *     [hub]
 *     nodes = tcp://127.0.0.1:7401
 *     key = keys/hub.pub
 *     [feed.ETH]                      ; the feed's name as the hub and the risk file know it
 *     source = chainlink
 *     rpc = http://127.0.0.1:8545 https://backup.example/KEY   ; fail-over order, space-separated
 *     chain_id = 1                    ; every endpoint must serve this chain (checked at start)
 *     aggregator = 0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419
 *     interval_ms = 10000
 *     max_age_s = 3600                ; updatedAt at most this old at the chain's latest block
 *     min = 100                       ; accepted range, decimal USD
 *     max = 100000
 *     [feed.BTC]
 *     source = http
 *     url = https://prices.example/v1/btc?key=SECRET
 *     path = data.price               ; a decimal string or an integer (httpfeed.h)
 *     time_path = data.time
 *     time_unit = s                   ; s or ms
 *     max_age_s = 60                  ; against the node's wall clock
 *     min = 1000
 *     max = 1000000
 *     timeout_ms = 5000               ; per request (both sources)
 *
 * Feeds are polled one after another by one thread; a slow source delays the others by at most
 * its timeout_ms (times its endpoints, for an aggregator with fail-over).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/hex.h"
#include "bridges/evm/oracle.h"
#include "bridges/http/httpfeed.h"
#include "collateral/fixed.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/hubclient.h"
#include "relayer/log.h"
#include "relayer/progress.h"

static const char USAGE[] =
    "usage: relayer oracle --config FILE\n"
    "\n"
    "The node's oracle: polls each [feed.NAME] (source = chainlink: rpc, chain_id, aggregator; or\n"
    "source = http: url, path, time_path, time_unit), checks the value (min, max, max_age_s), signs\n"
    "a price observation with the node's key and sends it to the hub. Config: [node] key,\n"
    "relayers; [hub] nodes, key; [feed.NAME] ... as in relayer/cmd_oracle.c.\n";

#define ORACLE_MAX_FEEDS 32
#define FEED_SECTION "feed."
#define IDLE_MS 100 /* longest sleep, so a stop signal is seen promptly */
#define DEFAULT_INTERVAL_MS 10000
#define DEFAULT_TIMEOUT_MS 5000
#define DEFAULT_MAX_AGE_S 3600
#define MAX_INTERVAL_MS 86400000ull
#define MAX_TIMEOUT_MS 60000
#define MAX_AGE_S_LIMIT 604800ull /* a week */

typedef struct feed_config {
    char source[CFG_STR_MAX], rpc[CFG_STR_MAX], aggregator[CFG_STR_MAX];
    char url[CFG_STR_MAX], path[CFG_STR_MAX], time_path[CFG_STR_MAX], time_unit[CFG_STR_MAX];
    char min[CFG_STR_MAX], max[CFG_STR_MAX];
    uint64_t chain_id, interval_ms, max_age_s, timeout_ms;
} feed_config;

typedef struct oracle_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], data[CFG_STR_MAX];
    char hub_nodes[CFG_STR_MAX], hub_key[CFG_STR_MAX];
    feed_config feed[ORACLE_MAX_FEEDS];
} oracle_config;

enum source { SOURCE_CHAINLINK, SOURCE_HTTP };

struct feed {
    char name[PRICE_FEED_BYTES + 1];
    char section[CFG_STR_MAX + sizeof FEED_SECTION];
    enum source source;
    char src_name[HTTPFEED_NAME_MAX + 64]; /* for logs: never a URL */
    rpc *rpc;
    oracle_agg *agg;
    httpfeed *http;
    uint8_t aggregator[RPC_ADDR_BYTES];
    price_bounds bounds;
    uint64_t next_ms;
    __int128 last_price;
    uint64_t last_time_ms;
    bool abstaining;
};

struct oracle {
    oracle_config cfg;
    char names[ORACLE_MAX_FEEDS][CFG_STR_MAX];
    struct feed feed[ORACLE_MAX_FEEDS];
    size_t nfeeds;
    hubclient hc;
    uint64_t next_msg;
    uint64_t sent, abstained;
};

/* The schema: [node], [hub], and the same keys for every feed section found in the file. */
static rl_err load_config(struct oracle *o, const char *path, rl_why *why)
{
    rl_err err = cfg_sections(path, FEED_SECTION, o->names, ORACLE_MAX_FEEDS, &o->nfeeds, why);
    if (err == RL_OK && o->nfeeds == 0)
        err = rl_fail(why, RL_ERR_ARG, "%s: no [%sNAME] section: nothing to observe", path, FEED_SECTION);
    if (err != RL_OK)
        return err;
#define F(field) offsetof(oracle_config, field)
#define P(i, field) (offsetof(oracle_config, feed) + (i) * sizeof(feed_config) + offsetof(feed_config, field))
    enum { NODE_KEYS = 5, FEED_KEYS = 13 };
    cfg_key *schema = calloc(NODE_KEYS + FEED_KEYS * o->nfeeds, sizeof *schema);
    if (schema == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "config schema");
    size_t n = 0;
    schema[n++] = (cfg_key){"node", "key", CFG_PATH, 1, 0, 0, F(key)};
    schema[n++] = (cfg_key){"node", "relayers", CFG_PATH, 1, 0, 0, F(relayers)};
    schema[n++] = (cfg_key){"node", "data", CFG_PATH, 0, 0, 0, F(data)};
    schema[n++] = (cfg_key){"hub", "nodes", CFG_ENDPOINT, 1, 0, 0, F(hub_nodes)};
    schema[n++] = (cfg_key){"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)};
    for (size_t i = 0; i < o->nfeeds; i++) {
        const char *s = o->feed[i].section;
        snprintf(o->feed[i].section, sizeof o->feed[i].section, FEED_SECTION "%s", o->names[i]);
        feed_config *fc = &o->cfg.feed[i];
        fc->interval_ms = DEFAULT_INTERVAL_MS;
        fc->timeout_ms = DEFAULT_TIMEOUT_MS;
        fc->max_age_s = DEFAULT_MAX_AGE_S;
        schema[n++] = (cfg_key){s, "source", CFG_STRING, 1, 0, 0, P(i, source)};
        schema[n++] = (cfg_key){s, "rpc", CFG_STRING, 0, 0, 0, P(i, rpc)};
        schema[n++] = (cfg_key){s, "chain_id", CFG_U64, 0, 1, UINT64_MAX, P(i, chain_id)};
        schema[n++] = (cfg_key){s, "aggregator", CFG_STRING, 0, 0, 0, P(i, aggregator)};
        schema[n++] = (cfg_key){s, "url", CFG_STRING, 0, 0, 0, P(i, url)};
        schema[n++] = (cfg_key){s, "path", CFG_STRING, 0, 0, 0, P(i, path)};
        schema[n++] = (cfg_key){s, "time_path", CFG_STRING, 0, 0, 0, P(i, time_path)};
        schema[n++] = (cfg_key){s, "time_unit", CFG_STRING, 0, 0, 0, P(i, time_unit)};
        schema[n++] = (cfg_key){s, "interval_ms", CFG_U64, 0, IDLE_MS, MAX_INTERVAL_MS, P(i, interval_ms)};
        schema[n++] = (cfg_key){s, "max_age_s", CFG_U64, 0, 1, MAX_AGE_S_LIMIT, P(i, max_age_s)};
        schema[n++] = (cfg_key){s, "timeout_ms", CFG_U64, 0, IDLE_MS, MAX_TIMEOUT_MS, P(i, timeout_ms)};
        schema[n++] = (cfg_key){s, "min", CFG_STRING, 1, 0, 0, P(i, min)};
        schema[n++] = (cfg_key){s, "max", CFG_STRING, 1, 0, 0, P(i, max)};
    }
#undef F
#undef P
    err = cfg_load_part(path, schema, n, &o->cfg, CFG_NODE_FOREIGN, why);
    free(schema);
    return err;
}

/* A decimal bound from the config, exactly. */
static rl_err bound(__int128 *out, const char *text, const char *path, const struct feed *f, const char *key,
                    rl_why *why)
{
    bool exact;
    rl_err err = price_parse_decimal(out, text, strlen(text), &exact, why);
    if (err == RL_OK && !exact)
        err = rl_fail(why, RL_ERR_ARG, "more than 18 decimals");
    if (err != RL_OK)
        rl_why_prefix(why, "%s: [%s] %s: ", path, f->section, key);
    return err;
}

/* Keys that belong to the other source must be absent: a misplaced key never silently does
 * nothing. */
static rl_err absent(const char *value, const char *path, const struct feed *f, const char *key, const char *src,
                     rl_why *why)
{
    if (value[0] == '\0')
        return RL_OK;
    return rl_fail(why, RL_ERR_ARG, "%s: [%s] %s: not a key of source = %s", path, f->section, key, src);
}

static rl_err present(const char *value, const char *path, const struct feed *f, const char *key, const char *src,
                      rl_why *why)
{
    if (value[0] != '\0')
        return RL_OK;
    return rl_fail(why, RL_ERR_ARG, "%s: [%s] %s is required with source = %s", path, f->section, key, src);
}

/* Checks one feed's section and fills the feed's fixed parts. */
static rl_err feed_check(struct feed *f, const feed_config *fc, const char *name, const char *path, rl_why *why)
{
    uint8_t tmp[PRICE_FEED_BYTES];
    rl_err err = name16_put(tmp, name, "feed name", why);
    if (err != RL_OK) {
        rl_why_prefix(why, "%s: [%s]: ", path, f->section);
        return err;
    }
    snprintf(f->name, sizeof f->name, "%s", name);
    if (strcmp(fc->source, "chainlink") == 0) {
        f->source = SOURCE_CHAINLINK;
        const char *src = "chainlink";
        if ((err = present(fc->rpc, path, f, "rpc", src, why)) || (err = present(fc->aggregator, path, f, "aggregator", src, why)) ||
            (err = absent(fc->url, path, f, "url", src, why)) || (err = absent(fc->path, path, f, "path", src, why)) ||
            (err = absent(fc->time_path, path, f, "time_path", src, why)) ||
            (err = absent(fc->time_unit, path, f, "time_unit", src, why)))
            return err;
        if (fc->chain_id == 0)
            return rl_fail(why, RL_ERR_ARG, "%s: [%s] chain_id is required with source = chainlink", path, f->section);
        if (strncmp(fc->aggregator, "0x", 2) != 0 ||
            hex_decode(f->aggregator, RPC_ADDR_BYTES, fc->aggregator + 2, "aggregator", NULL) != RL_OK)
            return rl_fail(why, RL_ERR_ARG, "%s: [%s] aggregator: expected a 0x-prefixed 20-byte address", path,
                           f->section);
    } else if (strcmp(fc->source, "http") == 0) {
        f->source = SOURCE_HTTP;
        const char *src = "http";
        if ((err = present(fc->url, path, f, "url", src, why)) || (err = present(fc->path, path, f, "path", src, why)) ||
            (err = present(fc->time_path, path, f, "time_path", src, why)) ||
            (err = absent(fc->rpc, path, f, "rpc", src, why)) ||
            (err = absent(fc->aggregator, path, f, "aggregator", src, why)))
            return err;
        if (fc->chain_id != 0)
            return rl_fail(why, RL_ERR_ARG, "%s: [%s] chain_id: not a key of source = http", path, f->section);
        if (fc->time_unit[0] != '\0' && strcmp(fc->time_unit, "s") != 0 && strcmp(fc->time_unit, "ms") != 0)
            return rl_fail(why, RL_ERR_ARG, "%s: [%s] time_unit: s or ms", path, f->section);
    } else {
        return rl_fail(why, RL_ERR_ARG, "%s: [%s] source: '%.100s' is not chainlink or http", path, f->section,
                       fc->source);
    }
    f->bounds.max_age_ms = fc->max_age_s * 1000;
    if ((err = bound(&f->bounds.min_e18, fc->min, path, f, "min", why)) != RL_OK ||
        (err = bound(&f->bounds.max_e18, fc->max, path, f, "max", why)) != RL_OK)
        return err;
    if (f->bounds.min_e18 > f->bounds.max_e18)
        return rl_fail(why, RL_ERR_ARG, "%s: [%s]: min is above max", path, f->section);
    return RL_OK;
}

/* Opens the feed's source. RL_ERR_ARG and RL_ERR_WRONG_CHAIN are the operator's to fix; anything
 * else (a node or server not answering yet) is retried at the next interval. */
static rl_err feed_open(struct feed *f, const feed_config *fc, rl_why *why)
{
    if (f->source == SOURCE_HTTP) {
        httpfeed_opts ho = {.url = fc->url,
                            .spec = {fc->path, fc->time_path,
                                     strcmp(fc->time_unit, "ms") == 0 ? HTTPFEED_MILLISECONDS : HTTPFEED_SECONDS},
                            .timeout_ms = (uint32_t)fc->timeout_ms,
                            .connect_timeout_ms = (uint32_t)fc->timeout_ms};
        rl_err err = httpfeed_open(&f->http, &ho, why);
        if (err == RL_OK)
            snprintf(f->src_name, sizeof f->src_name, "%s", httpfeed_name(f->http));
        return err;
    }
    if (f->rpc == NULL) {
        rpc_opts ro = rpc_opts_default();
        ro.chain_id = fc->chain_id;
        ro.timeout_ms = (uint32_t)fc->timeout_ms;
        ro.connect_timeout_ms = (uint32_t)fc->timeout_ms;
        uint32_t n = 0; /* endpoints: each is tried once, and one more round */
        for (const char *u = fc->rpc + strspn(fc->rpc, " \t,"); *u != '\0'; u += strspn(u, " \t,"), n++)
            u += strcspn(u, " \t,");
        ro.max_retries = n;
        ro.max_wait_ms = (uint32_t)fc->timeout_ms;
        rl_err err = rpc_open_list(&f->rpc, fc->rpc, &ro, NULL, why);
        if (err != RL_OK) {
            rl_why_prefix(why, "[%s] rpc: ", f->section);
            return err;
        }
    }
    rl_err err = oracle_agg_open(&f->agg, f->rpc, f->aggregator, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "[%s] aggregator: ", f->section);
        return err;
    }
    rpc_health h;
    rpc_health_get(f->rpc, 0, &h);
    char addr[2 * RPC_ADDR_BYTES + 3];
    snprintf(f->src_name, sizeof f->src_name, "chainlink:%s@%s", hex_encode_0x(addr, f->aggregator, RPC_ADDR_BYTES),
             h.name);
    return RL_OK;
}

static void feed_close(struct feed *f)
{
    oracle_agg_close(f->agg);
    rpc_close(f->rpc);
    httpfeed_close(f->http);
}

static bool fatal(rl_err err) { return err == RL_ERR_ARG || err == RL_ERR_WRONG_CHAIN; }

/* Reads one feed and, when the value passes, signs and sends it. */
static rl_err poll_feed(struct oracle *o, struct feed *f, const feed_config *fc)
{
    rl_why why = {{0}};
    rl_err err = RL_OK;
    bool opened = f->source == SOURCE_HTTP ? f->http != NULL : f->agg != NULL;
    if (!opened && (err = feed_open(f, fc, &why)) != RL_OK) {
        log_warn("source not reachable: abstaining", "feed=%s why=\"%s\"", f->name, why.text);
        o->abstained++;
        return fatal(err) ? err : RL_OK;
    }
    price_obs seen = {0};
    bool exact = true;
    char extra[96] = "";
    if (f->source == SOURCE_CHAINLINK) {
        oracle_reading r;
        err = oracle_agg_read(f->agg, f->name, &f->bounds, &r, &why);
        if (err == RL_OK) {
            seen.price_e18 = r.price_e18;
            seen.time_ms = r.time_ms;
            exact = r.exact;
            snprintf(extra, sizeof extra, " round=%llu block=%llu", (unsigned long long)r.round_id,
                     (unsigned long long)r.block);
        }
    } else {
        httpfeed_reading r;
        err = httpfeed_read(f->http, f->name, &f->bounds, wall_ms(), &r, &why);
        if (err == RL_OK) {
            seen.price_e18 = r.price_e18;
            seen.time_ms = r.time_ms;
            exact = r.exact;
        }
    }
    if (err != RL_OK) {
        log_warn("no price: abstaining", "feed=%s source=%s why=\"%s\"", f->name, f->src_name, why.text);
        f->abstaining = true;
        o->abstained++;
        return RL_OK;
    }
    snprintf(seen.feed, sizeof seen.feed, "%s", f->name);
    err = hubclient_send_price(&o->hc, &seen, o->next_msg++, &why);
    if (err != RL_OK) {
        log_warn("price not sent", "feed=%s why=\"%s\"", f->name, why.text);
        return RL_OK;
    }
    o->sent++;
    char v[FIXED_STR_MAX];
    bool news = seen.price_e18 != f->last_price || seen.time_ms != f->last_time_ms || f->abstaining;
    log_line(news ? LOG_INFO : LOG_DEBUG, "price signed and sent", "feed=%s price=%s time_ms=%llu exact=%s source=%s%s",
             f->name, fixed_format_i128(seen.price_e18, FIXED_E18_DIGITS, false, v), (unsigned long long)seen.time_ms,
             exact ? "yes" : "no(truncated)", f->src_name, extra);
    f->last_price = seen.price_e18;
    f->last_time_ms = seen.time_ms;
    f->abstaining = false;
    return RL_OK;
}

static rl_err oracle_open(struct oracle *o, const char *path, rl_why *why)
{
    rl_err err = load_config(o, path, why);
    for (size_t i = 0; i < o->nfeeds && err == RL_OK; i++)
        err = feed_check(&o->feed[i], &o->cfg.feed[i], o->names[i], path, why);
    if (err == RL_OK)
        err = hubclient_open(&o->hc, o->cfg.key, o->cfg.hub_key, o->cfg.hub_nodes, why);
    if (err == RL_OK)
        err = hubclient_member(&o->hc, o->cfg.relayers, why);
    o->next_msg = wall_ms() * 1000;
    return err;
}

static void oracle_close(struct oracle *o)
{
    for (size_t i = 0; i < o->nfeeds; i++)
        feed_close(&o->feed[i]);
    hubclient_close(&o->hc, 0);
}

static rl_err oracle_run(struct oracle *o, rl_why *why)
{
    uint64_t last_log = mono_ms();
    while (!daemon_stopping) {
        uint64_t now = mono_ms(), wake = now + IDLE_MS;
        for (size_t i = 0; i < o->nfeeds && !daemon_stopping; i++) {
            struct feed *f = &o->feed[i];
            if (now >= f->next_ms) {
                rl_err err = poll_feed(o, f, &o->cfg.feed[i]);
                if (err != RL_OK)
                    return rl_fail(why, err, "feed %s cannot start: see the line above", f->name);
                f->next_ms = now + o->cfg.feed[i].interval_ms;
            }
            if (f->next_ms < wake)
                wake = f->next_ms;
        }
        if (mono_ms() - last_log >= 60000) {
            log_info("progress", "feeds=%zu sent=%llu abstained=%llu", o->nfeeds, (unsigned long long)o->sent,
                     (unsigned long long)o->abstained);
            last_log = mono_ms();
        }
        now = mono_ms();
        if (wake > now) {
            struct timespec ts = {0, (long)(wake - now) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    return RL_OK;
}

int cmd_oracle(int argc, char **argv)
{
    int rc = 0;
    const char *config = daemon_config_arg(argc, argv, "oracle", USAGE, &rc);
    if (config == NULL)
        return rc;
    struct oracle *o = calloc(1, sizeof *o);
    if (o == NULL)
        return EXIT_USAGE;
    daemon_trap_signals();
    rl_why why = {{0}};
    rl_err err = oracle_open(o, config, &why);
    log_init("oracle", o->hc.key ? node_key_pub(o->hc.key)->name : "", LOG_INFO);
    if (err == RL_OK) {
        log_info("oracle started", "member=%u feeds=%zu hub=%s", o->hc.member, o->nfeeds, o->cfg.hub_nodes);
        err = oracle_run(o, &why);
    }
    if (err == RL_OK)
        log_info("oracle stopped", "sent=%llu abstained=%llu", (unsigned long long)o->sent,
                 (unsigned long long)o->abstained);
    else
        log_error("oracle failed", "why=\"%s\"", why.text[0] ? why.text : rl_strerror(err));
    oracle_close(o);
    free(o);
    return err == RL_OK ? 0 : EXIT_USAGE;
}
