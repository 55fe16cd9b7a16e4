/*
 * httpfeed.h - a price read from an HTTP JSON source (an exchange's or aggregator's REST API)
 * with libcurl, extracted with jansson and parsed exactly (price.h): no floating point anywhere
 * between the bytes served and the signed price_e18.
 *
 * Path syntax: keys separated by '.', from the document's root; a segment of digits indexes an
 * array when the value there is an array, and is an object key otherwise.
 *     "data.price"         {"data": {"price": "3000.25", ...}}
 *     "result.0.price"     {"result": [{"price": "3000.25"}]}
 * Empty segments ("a..b", ".a", "a.") and keys that themselves contain '.' cannot be written.
 *
 * The price must be a JSON string holding a decimal ("3000.25": price_parse_decimal) or a JSON
 * integer (whole dollars). A JSON number with a fraction or an exponent is refused: jansson,
 * like most JSON parsers, reads it as a binary double, which cannot carry a price exactly; serve
 * it as a string. The time must be a JSON integer, in seconds or milliseconds since the epoch
 * as configured. Duplicate object keys make the whole document invalid.
 *
 * Errors are abstentions: a timeout, a status other than 200, a body larger than the limit, a
 * document that does not parse, a missing field, a stale or out-of-range value - each returns an
 * error naming the feed and what failed, and nothing is signed. URLs may carry API keys: a
 * source is named in messages by scheme://host[:port] (with "/..." when it has a path), never
 * by its URL.
 */
#ifndef RL_HTTPFEED_H
#define RL_HTTPFEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/price.h"

#define HTTPFEED_PATH_MAX 256
#define HTTPFEED_NAME_MAX 160
#define HTTPFEED_DEFAULT_MAX_BODY (64 * 1024)

typedef enum httpfeed_time_unit { HTTPFEED_SECONDS, HTTPFEED_MILLISECONDS } httpfeed_time_unit;

/* Where the price and its time are in a document. */
typedef struct httpfeed_spec {
    const char *price_path;
    const char *time_path;
    httpfeed_time_unit time_unit;
} httpfeed_spec;

/* Whether path is a path of the syntax above (for config checks). */
RL_MUST_USE rl_err httpfeed_path_check(const char *path, rl_why *why);

/* The price and time in body (len bytes) as spec says. *exact is false when the decimal had more
 * than 18 decimals and was truncated (price.h). Pure; RL_ERR_DECODE naming the path, or the
 * errors of price_parse_decimal. */
RL_MUST_USE rl_err httpfeed_extract(const char *body, size_t len, const httpfeed_spec *spec, __int128 *price_e18,
                                    uint64_t *time_ms, bool *exact, rl_why *why);

typedef struct httpfeed_opts {
    const char *url;             /* http or https; copied */
    httpfeed_spec spec;          /* paths copied */
    uint32_t timeout_ms;         /* the whole exchange */
    uint32_t connect_timeout_ms;
    size_t max_body_bytes;       /* 0: HTTPFEED_DEFAULT_MAX_BODY */
} httpfeed_opts;

typedef struct httpfeed httpfeed;

/* Checks the URL and the paths, prepares a kept-alive connection. Makes no request. */
RL_MUST_USE rl_err httpfeed_open(httpfeed **out, const httpfeed_opts *o, rl_why *why);
void httpfeed_close(httpfeed *f);
/* The source's name without credentials (see above). */
const char *httpfeed_name(const httpfeed *f);

typedef struct httpfeed_reading {
    __int128 price_e18;
    uint64_t time_ms;
    bool exact;
} httpfeed_reading;

/* One GET, extracted and checked with price_check(feed, price, time, now_ms, b) against the
 * node's wall clock now_ms. */
RL_MUST_USE rl_err httpfeed_read(httpfeed *f, const char *feed, const price_bounds *b, uint64_t now_ms,
                                 httpfeed_reading *out, rl_why *why);

#endif
