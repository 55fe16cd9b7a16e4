/* fuzz_oracle.c - the oracle reader's decoders: latestRoundData return data (oracle.h) and the
 * HTTP JSON price extraction with its decimal parser (httpfeed.h, price.h). The first byte picks
 * which. An accepted round re-encodes to exactly its bytes; an accepted document gives a price
 * above zero, and an exact price reads back from its own decimal form; anything else is refused
 * with a reason. */
#include <string.h>

#include "bridges/evm/oracle.h"
#include "bridges/http/httpfeed.h"
#include "collateral/fixed.h"
#include "tests/fuzz/fuzz.h"

static void refused(rl_err err, const rl_why *why)
{
    fuzz_require(err == RL_ERR_DECODE || err == RL_ERR_OVERFLOW || err == RL_ERR_ARG, "unexpected error code");
    fuzz_require(why->text[0] != '\0', "refused without a reason");
}

static void round_data(const uint8_t *data, size_t size)
{
    oracle_round r;
    rl_why why = {{0}};
    rl_err err = oracle_decode_round(&r, data, size, &why);
    if (err != RL_OK) {
        refused(err, &why);
        return;
    }
    uint8_t again[ORACLE_ROUND_BYTES];
    oracle_encode_round(again, &r);
    fuzz_require(size == ORACLE_ROUND_BYTES && memcmp(again, data, size) == 0, "accepted round is not canonical");
    price_bounds b = {.min_e18 = 1, .max_e18 = ((__int128)1 << 126), .max_age_ms = UINT64_MAX / 2};
    __int128 v;
    err = oracle_round_price(&r, data[ORACLE_ROUND_BYTES - 1], r.updated_at, &b, "FUZZ", &v, NULL, &why);
    fuzz_require(err != RL_OK || v > 0, "a price at or below zero passed");
}

static void document(const uint8_t *data, size_t size)
{
    httpfeed_spec s = {"data.price", "data.time", HTTPFEED_SECONDS};
    __int128 v;
    uint64_t t;
    bool exact;
    rl_why why = {{0}};
    rl_err err = httpfeed_extract((const char *)data, size, &s, &v, &t, &exact, &why);
    if (err != RL_OK) {
        refused(err, &why);
    } else {
        fuzz_require(v > 0, "a price at or below zero was extracted");
    }
    /* the same bytes as decimal text */
    err = price_parse_decimal(&v, (const char *)data, size, &exact, &why);
    if (err != RL_OK) {
        refused(err, &why);
        return;
    }
    char buf[FIXED_STR_MAX];
    __int128 back;
    fixed_format_i128(v, FIXED_E18_DIGITS, false, buf);
    fuzz_require(price_parse_decimal(&back, buf, strlen(buf), NULL, NULL) == RL_OK && back == v,
                 "a parsed price does not read back from its decimal form");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        document(data + 1, size - 1);
    else
        round_data(data + 1, size - 1);
    return 0;
}
