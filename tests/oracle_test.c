/*
 * oracle_test.c - the oracle reader's pure parts: the price conversion and decimal rule
 * (attest/price.h), the latestRoundData and decimals decoders and checks (bridges/evm/oracle.h),
 * and the HTTP JSON extraction (bridges/http/httpfeed.h).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "attest/price.h"
#include "bridges/evm/oracle.h"
#include "bridges/http/httpfeed.h"

#define E18 ((__int128)1000000000000000000)
#define NOW_S 1700000000ull

/* A 160-byte latestRoundData answer with each word's low 16 bytes set (two's complement answer). */
static void round_words(uint8_t out[ORACLE_ROUND_BYTES], uint64_t round, __int128 answer, uint64_t started,
                        uint64_t updated, uint64_t answered)
{
    memset(out, 0, ORACLE_ROUND_BYTES);
    uint64_t small[5] = {round, 0, started, updated, answered};
    for (int w = 0; w < 5; w++)
        for (int i = 0; i < 8; i++)
            out[w * 32 + 31 - i] = (uint8_t)(small[w] >> (8 * i));
    unsigned __int128 a = (unsigned __int128)answer;
    for (int i = 0; i < 32; i++)
        out[32 + 31 - i] = i < 16 ? (uint8_t)(a >> (8 * i)) : (answer < 0 ? 0xff : 0x00);
}

static price_bounds wide(void) { return (price_bounds){.min_e18 = 1, .max_e18 = 1000000 * E18, .max_age_ms = 3600000}; }

Test(price, scales_up_exactly_from_fewer_than_18_decimals)
{
    __int128 v;
    bool exact = false;
    cr_assert_eq(price_from_scaled(&v, 300012345678u, 8, &exact, NULL), RL_OK);
    cr_assert(v == (__int128)300012345678 * 10000000000 && exact);
    cr_assert_eq(price_from_scaled(&v, 7, 18, &exact, NULL), RL_OK);
    cr_assert(v == 7 && exact);
}

Test(price, truncates_toward_zero_beyond_18_decimals_and_says_so)
{
    __int128 v;
    bool exact = true;
    cr_assert_eq(price_from_scaled(&v, 123456789, 20, &exact, NULL), RL_OK);
    cr_assert(v == 1234567 && !exact);
    cr_assert_eq(price_from_scaled(&v, 1200, 20, &exact, NULL), RL_OK);
    cr_assert(v == 12 && exact);
}

Test(price, refuses_values_that_vanish_or_overflow)
{
    __int128 v;
    rl_why why = {{0}};
    cr_assert_eq(price_from_scaled(&v, 99, 20, NULL, &why), RL_ERR_ARG);
    cr_assert_eq(price_from_scaled(&v, 5, 200, NULL, &why), RL_ERR_ARG);
    cr_assert_eq(price_from_scaled(&v, (unsigned __int128)1 << 100, 0, NULL, &why), RL_ERR_OVERFLOW);
    cr_assert_eq(price_from_scaled(&v, (unsigned __int128)1 << 127, 18, NULL, &why), RL_ERR_OVERFLOW);
    /* the largest mantissa fits once divided */
    cr_assert_eq(price_from_scaled(&v, ~(unsigned __int128)0, 19, NULL, &why), RL_OK);
    cr_assert(v == (__int128)(~(unsigned __int128)0 / 10));
}

static __int128 dec(const char *s, bool *exact)
{
    __int128 v = 0;
    rl_why why = {{0}};
    cr_assert_eq(price_parse_decimal(&v, s, strlen(s), exact, &why), RL_OK, "%s: %s", s, why.text);
    return v;
}

Test(price, parses_decimal_text_exactly)
{
    bool exact;
    cr_assert(dec("3000", &exact) == 3000 * E18 && exact);
    cr_assert(dec("3000.25", &exact) == 3000 * E18 + E18 / 4 && exact);
    cr_assert(dec("0.000000000000000001", &exact) == 1 && exact);
    cr_assert(dec("0.1000000000000000000000", &exact) == E18 / 10 && exact);
    cr_assert(dec("1.0000000000000000019", &exact) == E18 + 1 && !exact);
    /* 0.1 + 0.2 as text stays exact: no binary fraction anywhere */
    cr_assert(dec("0.3", &exact) == dec("0.1", &exact) + dec("0.2", &exact));
}

Test(price, refuses_decimal_text_that_is_not_a_plain_positive_decimal)
{
    const char *bad[] = {"", "-1", "+1", " 1", "1 ", "1.", ".5", "00.5", "01", "1e3", "1,5", "0x10", "1.2.3", "NaN"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        __int128 v;
        rl_why why = {{0}};
        cr_assert_eq(price_parse_decimal(&v, bad[i], strlen(bad[i]), NULL, &why), RL_ERR_DECODE, "\"%s\"", bad[i]);
        cr_assert(why.text[0] != '\0');
    }
    __int128 v;
    cr_assert_eq(price_parse_decimal(&v, "0", 1, NULL, NULL), RL_ERR_ARG);
    cr_assert_eq(price_parse_decimal(&v, "0.0000000000000000009", 21, NULL, NULL), RL_ERR_ARG);
    cr_assert_eq(price_parse_decimal(&v, "200000000000000000000", 21, NULL, NULL), RL_ERR_OVERFLOW);
    /* "3000" at a length of 3 is "300": the length is the text */
    cr_assert_eq(price_parse_decimal(&v, "3000", 3, NULL, NULL), RL_OK);
    cr_assert(v == 300 * E18);
}

Test(price, check_refuses_stale_future_and_out_of_range_values)
{
    price_bounds b = {.min_e18 = 100 * E18, .max_e18 = 10000 * E18, .max_age_ms = 60000};
    uint64_t now = NOW_S * 1000;
    rl_why why = {{0}};
    cr_assert_eq(price_check("ETH", 3000 * E18, now - 60000, now, &b, &why), RL_OK);
    cr_assert_eq(price_check("ETH", 3000 * E18, now - 60001, now, &b, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "stale") != NULL, "%s", why.text);
    cr_assert_eq(price_check("ETH", 3000 * E18, now + PRICE_MAX_SKEW_MS + 1, now, &b, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "future") != NULL, "%s", why.text);
    cr_assert_eq(price_check("ETH", 99 * E18, now, now, &b, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "out of range: 99 not in [100, 10000]") != NULL, "%s", why.text);
    cr_assert_eq(price_check("ETH", 10000 * E18 + 1, now, now, &b, &why), RL_ERR_STATE);
    cr_assert_eq(price_check("ETH", 10000 * E18, now, now, &b, &why), RL_OK);
    cr_assert_eq(price_check("ETH", 3000 * E18, 0, now, &b, &why), RL_ERR_STATE);
}

Test(oracle, selectors_are_the_abi_ones)
{
    uint8_t s[4];
    oracle_selector(s, "latestRoundData()");
    cr_assert(s[0] == 0xfe && s[1] == 0xaf && s[2] == 0x96 && s[3] == 0x8c);
    oracle_selector(s, "decimals()");
    cr_assert(s[0] == 0x31 && s[1] == 0x3c && s[2] == 0xe5 && s[3] == 0x67);
}

Test(oracle, decodes_a_round_word_by_word)
{
    uint8_t w[ORACLE_ROUND_BYTES];
    round_words(w, 7, 300012345678, NOW_S - 10, NOW_S - 5, 7);
    w[22] = 0xff; /* the top byte a uint80 may use */
    oracle_round r;
    cr_assert_eq(oracle_decode_round(&r, w, sizeof w, NULL), RL_OK);
    cr_assert(r.round_id == (((unsigned __int128)0xff << 72) | 7));
    cr_assert(r.answer == 300012345678);
    cr_assert_eq(r.started_at, NOW_S - 10);
    cr_assert_eq(r.updated_at, NOW_S - 5);
    cr_assert(r.answered_in_round == 7);
    round_words(w, 1, -5, 1, 1, 1);
    cr_assert_eq(oracle_decode_round(&r, w, sizeof w, NULL), RL_OK);
    cr_assert(r.answer == -5);
}

Test(oracle, refuses_round_data_of_the_wrong_shape)
{
    uint8_t w[ORACLE_ROUND_BYTES + 1];
    oracle_round r;
    rl_why why = {{0}};
    round_words(w, 7, 1, 1, 1, 7);
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES - 1, &why), RL_ERR_DECODE);
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES + 1, &why), RL_ERR_DECODE);
    cr_assert_eq(oracle_decode_round(&r, w, 0, &why), RL_ERR_DECODE);
    w[21] = 1; /* roundId above 2^80 */
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "roundId") != NULL, "%s", why.text);
    round_words(w, 7, 1, 1, 1, 7);
    w[128 + 5] = 1; /* answeredInRound above 2^80 */
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES, &why), RL_ERR_DECODE);
    round_words(w, 7, 1, 1, 1, 7);
    w[96 + 20] = 1; /* updatedAt beyond 64 bits */
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES, &why), RL_ERR_DECODE);
    round_words(w, 7, 1, 1, 1, 7);
    w[32 + 3] = 1; /* a positive answer beyond 128 bits */
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES, &why), RL_ERR_OVERFLOW);
    round_words(w, 7, 1, 1, 1, 7);
    w[32 + 16] = 0x80; /* bit 127 set without the sign extension: 2^127 and more, not negative */
    cr_assert_eq(oracle_decode_round(&r, w, ORACLE_ROUND_BYTES, &why), RL_ERR_OVERFLOW);
}

Test(oracle, decodes_decimals_as_a_uint8_only)
{
    uint8_t w[32] = {0}, d;
    w[31] = 8;
    cr_assert_eq(oracle_decode_decimals(&d, w, 32, NULL), RL_OK);
    cr_assert_eq(d, 8);
    w[30] = 1;
    cr_assert_eq(oracle_decode_decimals(&d, w, 32, NULL), RL_ERR_DECODE);
    cr_assert_eq(oracle_decode_decimals(&d, w, 31, NULL), RL_ERR_DECODE);
}

Test(oracle, accepts_a_fresh_round_and_converts_it_exactly)
{
    oracle_round r = {.round_id = 3, .answer = 300012345678, .started_at = NOW_S - 5, .updated_at = NOW_S - 5,
                      .answered_in_round = 3};
    price_bounds b = wide();
    __int128 v;
    bool exact = false;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, &exact, NULL), RL_OK);
    cr_assert(v == (__int128)300012345678 * 10000000000 && exact);
}

Test(oracle, refuses_rounds_a_node_must_not_sign)
{
    price_bounds b = wide();
    __int128 v;
    rl_why why = {{0}};
    oracle_round ok = {.round_id = 3, .answer = 100000000, .started_at = NOW_S, .updated_at = NOW_S,
                       .answered_in_round = 3};
    oracle_round r = ok;
    r.answer = 0;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "zero") != NULL);
    r.answer = -100000000;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "negative") != NULL);
    r = ok;
    r.answered_in_round = 2;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "answered in round 2, before round 3") != NULL, "%s", why.text);
    r = ok;
    r.updated_at = 0;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    r = ok;
    r.updated_at = NOW_S - 3601;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "stale") != NULL);
    r = ok;
    b.min_e18 = 2 * E18;
    cr_assert_eq(oracle_round_price(&r, 8, NOW_S, &b, "ETH", &v, NULL, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "out of range") != NULL);
}

static rl_err extract(const char *body, const char *pp, const char *tp, httpfeed_time_unit u, __int128 *v,
                      uint64_t *t, rl_why *why)
{
    httpfeed_spec s = {pp, tp, u};
    return httpfeed_extract(body, strlen(body), &s, v, t, NULL, why);
}

Test(httpfeed, extracts_prices_by_dotted_path)
{
    __int128 v;
    uint64_t t;
    rl_why why = {{0}};
    cr_assert_eq(extract("{\"data\":{\"price\":\"3000.25\",\"ts\":1700000000}}", "data.price", "data.ts",
                         HTTPFEED_SECONDS, &v, &t, &why),
                 RL_OK, "%s", why.text);
    cr_assert(v == 3000 * E18 + E18 / 4);
    cr_assert_eq(t, 1700000000000ull);
    cr_assert_eq(extract("{\"result\":[{\"price\":42,\"t\":1700000000123}]}", "result.0.price", "result.0.t",
                         HTTPFEED_MILLISECONDS, &v, &t, &why),
                 RL_OK, "%s", why.text);
    cr_assert(v == 42 * E18);
    cr_assert_eq(t, 1700000000123ull);
    /* digits are a key where the value is an object */
    cr_assert_eq(extract("{\"7\":{\"p\":\"1\"},\"t\":1}", "7.p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_OK);
}

Test(httpfeed, refuses_documents_that_do_not_hold_an_exact_price)
{
    __int128 v;
    uint64_t t;
    rl_why why = {{0}};
    cr_assert_eq(extract("{\"p\":3000.25,\"t\":1}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "binary double") != NULL, "%s", why.text);
    cr_assert_eq(extract("{\"p\":\"3e3\",\"t\":1}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert_eq(extract("{\"p\":-3,\"t\":1}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_ARG);
    cr_assert_eq(extract("{\"p\":\"1\",\"t\":\"1\"}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert_eq(extract("{\"p\":\"1\"}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "nothing at \"t\"") != NULL, "%s", why.text);
    cr_assert_eq(extract("{\"a\":[1]}", "a.1", "a.0", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert_eq(extract("{\"p\":\"1\",\"p\":\"2\",\"t\":1}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why),
                 RL_ERR_DECODE);
    cr_assert_eq(extract("{\"p\":\"1\",", "p", "t", HTTPFEED_SECONDS, &v, &t, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "not JSON") != NULL, "%s", why.text);
    cr_assert_eq(extract("{\"p\":\"1\",\"t\":18446744073709552}", "p", "t", HTTPFEED_SECONDS, &v, &t, &why),
                 RL_ERR_DECODE);
}

Test(httpfeed, checks_path_syntax)
{
    cr_assert_eq(httpfeed_path_check("data.price", NULL), RL_OK);
    cr_assert_eq(httpfeed_path_check("result.0.price", NULL), RL_OK);
    const char *bad[] = {"", ".a", "a.", "a..b"};
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(httpfeed_path_check(bad[i], NULL), RL_ERR_ARG, "\"%s\"", bad[i]);
}
