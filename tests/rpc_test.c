/*
 * rpc_test.c - the JSON-RPC client against scripted nodes (tests/rpcstub.h) on loopback. Rests,
 * cooldowns and backoff run on a fake clock; only timeouts take real time (a few hundred ms).
 */
#include <dirent.h>
#include <sys/resource.h>

#include "bridges/evm/rpc.h"
#include "relayer/files.h"
#include "tests/rpcstub.h"
#include "tests/testutil.h"

Test(rpc, open_fails_on_a_wrong_chain_id_naming_the_endpoint_and_both_ids)
{
    stub *good = stub_start(1), *bad = stub_start(5);
    rpc_opts o = tc_opts();
    rpc *c = NULL;
    rl_why why = {{0}};
    const char *urls[] = {good->url, bad->url};
    cr_assert_eq(rpc_open(&c, urls + 1, 1, &o, NULL, &why), RL_ERR_WRONG_CHAIN);
    cr_assert_null(c);
    assert_has(why.text, bad->url);
    assert_has(why.text, "chain id 5, expected 1");
    /* one right endpoint does not excuse a wrong one: the list is misconfigured */
    cr_assert_eq(rpc_open(&c, urls, 2, &o, NULL, &why), RL_ERR_WRONG_CHAIN);
    assert_has(why.text, bad->url);
    /* with no chain id configured the first answer sets it, and the others must agree */
    o.chain_id = 0;
    cr_assert_eq(rpc_open(&c, urls, 2, &o, NULL, &why), RL_ERR_WRONG_CHAIN);
    assert_has(why.text, "chain id 5, expected 1");
    cr_assert_eq(rpc_open(&c, urls + 1, 1, &o, NULL, &why), RL_OK, "%s", why.text);
    cr_assert_eq(rpc_chain_id(c), 5);
    rpc_close(c);
    stub_free(good);
    stub_free(bad);
}

Test(rpc, open_fails_when_no_endpoint_answers)
{
    stub *a = stub_start(1);
    stub_kill(a);
    rpc_opts o = tc_opts();
    rpc *c = NULL;
    rl_why why = {{0}};
    const char *urls[] = {a->url};
    cr_assert_eq(rpc_open(&c, urls, 1, &o, NULL, &why), RL_ERR_TRANSPORT);
    assert_has(why.text, "no endpoint answered eth_chainId");
    assert_has(why.text, a->url);
    stub_free(a);
}

Test(rpc, an_endpoint_that_later_serves_another_chain_is_disabled_for_good)
{
    stub *s[] = {stub_start(1), stub_start(5)};
    stub_mode_set(s[1], STUB_CLOSE, -1); /* unreachable at open: checked on first use */
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    stub_mode_set(s[1], STUB_OK, 0);
    stub_kill(s[0]);
    rl_why why = {{0}};
    cr_assert_neq(tc_echo(c, 1, &why), RL_OK);
    rpc_health h = tc_health(c, 1);
    cr_assert_eq(h.state, RPC_DISABLED);
    assert_has(h.reason, "serves chain id 5, expected 1");
    cr_assert(fk_saw(&f, "1 disabled"));
    cr_assert_eq(stub_calls(s[1], "test_echo"), 0, "a wrong-chain endpoint never serves a call");
    unsigned asked = stub_http(s[1]);
    f.now += 1000000;
    cr_assert_neq(tc_echo(c, 2, &why), RL_OK);
    cr_assert_eq(stub_http(s[1]), asked, "disabled for good, even after any cooldown");
    cr_assert_eq(tc_health(c, 1).state, RPC_DISABLED);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, fails_over_when_an_endpoint_dies_mid_run_and_loses_no_call)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    for (json_int_t i = 0; i < 40; i++) {
        if (i == 10)
            stub_mode_set(s[0], STUB_DIE, -1); /* the 11th call's request kills it */
        cr_assert_eq(tc_echo(c, i, &why), RL_OK, "call %lld: %s", (long long)i, why.text);
    }
    cr_assert_eq(stub_calls(s[0], "test_echo"), 10);
    cr_assert_eq(stub_calls(s[1], "test_echo"), 30);
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_DEMOTED, "%s", rpc_state_name(h.state));
    cr_assert_eq(h.failures, o.max_failures);
    assert_has(h.reason, "consecutive failures");
    cr_assert(fk_saw(&f, "0 demoted"));
    cr_assert_eq(tc_health(c, 1).state, RPC_HEALTHY);
    cr_assert_eq(f.nslept, 0, "fail-over does not wait");
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, a_json_rpc_error_is_returned_at_once_and_never_retried)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    stub_error(s[0], "eth_call", 3, "execution reverted", "\"0x08c379a0\"");
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    json_t *params = json_pack("[{s:s}, s]", "to", "0x00000000000000000000000000000000000000aa", "latest"), *res;
    rl_why why = {{0}};
    cr_assert_eq(rpc_call(c, "eth_call", params, &res, &why), RL_ERR_RPC);
    json_decref(params);
    cr_assert_null(res);
    assert_has(why.text, "eth_call at ");
    assert_has(why.text, s[0]->url);
    assert_has(why.text, "JSON-RPC error 3: execution reverted");
    const rpc_error *e = rpc_last_error(c);
    cr_assert_eq(e->code, 3);
    cr_assert_str_eq(e->message, "execution reverted");
    cr_assert_str_eq(json_string_value(e->data), "0x08c379a0");
    cr_assert_eq(stub_calls(s[0], "eth_call"), 1);
    cr_assert_eq(stub_calls(s[1], "eth_call"), 0, "a deterministic answer is not a transport failure");
    rpc_health h = tc_health(c, 0);
    cr_assert(h.state == RPC_HEALTHY && h.failures == 0 && h.errors == 0);
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK);
    cr_assert_eq(rpc_last_error(c)->code, 0, "the error is the last call's only");
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, http_500_garbage_and_closed_connections_fail_over_to_the_next_endpoint)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_failures = 100;
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    stub_mode mode[] = {STUB_500, STUB_GARBAGE, STUB_CLOSE};
    for (int i = 0; i < 3; i++) {
        stub_mode_set(s[0], mode[i], -1);
        cr_assert_eq(tc_echo(c, i, &why), RL_OK, "%s", why.text);
        cr_assert_eq(stub_calls(s[1], "test_echo"), (unsigned)i + 1);
    }
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.failures, 3);
    cr_assert_eq(h.errors, 3);
    /* alone, each is a distinct error naming method and endpoint */
    stub *one[] = {stub_start(1)};
    o.max_retries = 0;
    rpc *c1 = tc_open(one, 1, &o, &f);
    struct {
        stub_mode mode;
        rl_err err;
        const char *says;
    } alone[] = {{STUB_500, RL_ERR_TRANSPORT, "HTTP 500"},
                 {STUB_GARBAGE, RL_ERR_DECODE, "not JSON"},
                 {STUB_CLOSE, RL_ERR_TRANSPORT, "test_echo: 1 attempt failed; last at"}};
    for (int i = 0; i < 3; i++) {
        stub_mode_set(one[0], alone[i].mode, -1);
        cr_assert_eq(tc_echo(c1, 7, &why), alone[i].err, "%s", why.text);
        assert_has(why.text, alone[i].says);
        assert_has(why.text, "test_echo");
        assert_has(why.text, one[0]->url);
    }
    rpc_close(c1);
    rpc_close(c);
    stub_free(one[0]);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, a_4xx_is_read_as_an_answer_only_when_it_carries_one)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    stub_mode_set(s[0], STUB_400_RPC, 1);
    cr_assert_eq(tc_echo(c, 1, &why), RL_ERR_RPC);
    assert_has(why.text, "JSON-RPC error -32602: invalid params");
    cr_assert_eq(stub_http(s[1]), 1, "not retried (only the open's chain id check reached it)");
    stub_mode_set(s[0], STUB_401, 1);
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK, "%s", why.text);
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.failures, 1);
    assert_has(h.reason, "HTTP 401");
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, a_hung_endpoint_times_out_and_the_call_moves_on)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.timeout_ms = 300;
    rpc *c = tc_open(s, 2, &o, &f);
    o.max_retries = 0;
    rpc *alone = tc_open(s, 1, &o, &f);
    stub_mode_set(s[0], STUB_HANG, -1);
    rl_why why = {{0}};
    uint64_t t0 = tc_real_ms();
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK, "%s", why.text);
    uint64_t took = tc_real_ms() - t0;
    cr_assert(took >= 250 && took < 2000, "took %llu ms", (unsigned long long)took);
    cr_assert_eq(stub_calls(s[1], "test_echo"), 1);
    cr_assert_eq(tc_echo(alone, 2, &why), RL_ERR_TRANSPORT);
    assert_has(why.text, "timed out after 300 ms");
    assert_has(why.text, "test_echo");
    rpc_close(alone);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, http_429_rests_that_endpoint_for_its_retry_after)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 2, &o, &f);
    stub_retry_after(s[0], "2");
    stub_mode_set(s[0], STUB_429, -1);
    rl_why why = {{0}};
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK, "%s", why.text);
    cr_assert_eq(f.nslept, 0, "another endpoint was free: no wait");
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_RATE_LIMITED);
    cr_assert_eq(h.rest_ms, 2000);
    cr_assert_eq(h.failures, 0, "a busy node is not a failing one");
    cr_assert(fk_saw(&f, "0 rate-limited"));
    unsigned asked = stub_http(s[0]);
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK);
    cr_assert_eq(stub_http(s[0]), asked, "resting: not asked");
    stub_mode_set(s[0], STUB_OK, 0);
    f.now += 2000;
    cr_assert_eq(tc_echo(c, 3, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 1, "back in its place after the rest");
    rpc_close(c);

    /* alone: the call waits out the rest (on the fake clock) and succeeds */
    c = tc_open(s, 1, &o, &f);
    f.nslept = 0;
    stub_retry_after(s[0], "3");
    stub_mode_set(s[0], STUB_429, 1);
    cr_assert_eq(tc_echo(c, 4, &why), RL_OK, "%s", why.text);
    cr_assert_eq(f.nslept, 1);
    cr_assert_eq(f.slept[0], 3000);
    /* without Retry-After, the backoff: 100 ms base, equal jitter with jitter 0 -> 50 ms */
    f.nslept = 0;
    stub_retry_after(s[0], "");
    stub_mode_set(s[0], STUB_429, 1);
    cr_assert_eq(tc_echo(c, 5, &why), RL_OK, "%s", why.text);
    cr_assert_eq(f.nslept, 1);
    cr_assert_eq(f.slept[0], 50);
    /* Retry-After as an HTTP date: one in the past rests for nothing (the backoff still applies),
     * one in the future for the time until then */
    f.nslept = 0;
    stub_retry_after(s[0], "Wed, 21 Oct 2015 07:28:00 GMT");
    stub_mode_set(s[0], STUB_429, 1);
    cr_assert_eq(tc_echo(c, 7, &why), RL_OK, "%s", why.text);
    cr_assert(f.nslept == 1 && f.slept[0] == 50);
    char date[64];
    time_t later = time(NULL) + 30;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime(&later));
    stub_retry_after(s[0], date);
    stub_mode_set(s[0], STUB_429, 1);
    cr_assert_eq(tc_echo(c, 8, &why), RL_ERR_RATELIMIT);
    rpc_health h1 = tc_health(c, 0);
    cr_assert(h1.rest_ms >= 28000 && h1.rest_ms <= 30000, "rest %llu ms", (unsigned long long)h1.rest_ms);
    f.now += 30000;
    /* a rest longer than max_wait_ms is not waited for */
    f.nslept = 0;
    stub_retry_after(s[0], "3600");
    stub_mode_set(s[0], STUB_429, 1);
    cr_assert_eq(tc_echo(c, 6, &why), RL_ERR_RATELIMIT);
    assert_has(why.text, "test_echo: 1 attempt failed");
    assert_has(why.text, "HTTP 429");
    assert_has(why.text, "resting 60000 ms"); /* capped at ratelimit_max_ms */
    cr_assert_eq(f.nslept, 0);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, retries_back_off_exponentially_with_the_injected_jitter)
{
    stub *s[] = {stub_start(1)};
    fake f = {.jitter = 7};
    rpc_opts o = tc_opts();
    o.max_retries = 3;
    o.backoff_base_ms = 100;
    o.backoff_max_ms = 300;
    o.max_failures = 100;
    rpc *c = tc_open(s, 1, &o, &f);
    stub_mode_set(s[0], STUB_500, 3);
    rl_why why = {{0}};
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK, "%s", why.text);
    cr_assert_eq(f.nslept, 3);
    /* step d = min(300, 100 * 2^k); sleep d/2 + jitter % (d/2 + 1) */
    cr_assert_eq(f.slept[0], 50 + 7);
    cr_assert_eq(f.slept[1], 100 + 7);
    cr_assert_eq(f.slept[2], 150 + 7);
    f.nslept = 0;
    stub_mode_set(s[0], STUB_500, -1);
    cr_assert_eq(tc_echo(c, 2, &why), RL_ERR_TRANSPORT);
    assert_has(why.text, "test_echo: 4 attempts failed; last at");
    assert_has(why.text, "HTTP 500");
    cr_assert_eq(f.nslept, 3);
    rpc_close(c);
    stub_free(s[0]);
}

Test(rpc, a_failing_endpoint_is_demoted_then_probed_after_its_cooldown)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_failures = 2;
    o.cooldown_ms = 5000;
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    stub_mode_set(s[0], STUB_500, -1);
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK);
    cr_assert_eq(tc_health(c, 0).state, RPC_HEALTHY, "one failure is not a pattern");
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK);
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_DEMOTED);
    cr_assert_eq(h.rest_ms, 5000);
    assert_has(h.reason, "2 consecutive failures; last: HTTP 500");
    unsigned asked = stub_http(s[0]);
    cr_assert_eq(tc_echo(c, 3, &why), RL_OK);
    cr_assert_eq(stub_http(s[0]), asked, "demoted: not asked");
    f.now += 5000;
    cr_assert_eq(tc_health(c, 0).state, RPC_PROBING);
    cr_assert_eq(tc_echo(c, 4, &why), RL_OK); /* the probe fails: demoted again at once */
    cr_assert_gt(stub_http(s[0]), asked);
    cr_assert_eq(tc_health(c, 0).state, RPC_DEMOTED);
    stub_mode_set(s[0], STUB_OK, 0);
    f.now += 5000;
    unsigned ids = stub_calls(s[0], "eth_chainId");
    cr_assert_eq(tc_echo(c, 5, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 1, "healthy again: first in line");
    cr_assert_eq(stub_calls(s[0], "eth_chainId"), ids + 1, "its chain id is checked again after a demotion");
    h = tc_health(c, 0);
    cr_assert(h.state == RPC_HEALTHY && h.failures == 0);
    cr_assert(fk_saw(&f, "0 healthy"));
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, no_endpoint_available_is_its_own_error)
{
    stub *s[] = {stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_failures = 1;
    o.max_retries = 0;
    rpc *c = tc_open(s, 1, &o, &f);
    stub_mode_set(s[0], STUB_500, -1);
    rl_why why = {{0}};
    cr_assert_eq(tc_echo(c, 1, &why), RL_ERR_TRANSPORT);
    cr_assert_eq(tc_echo(c, 2, &why), RL_ERR_UNAVAILABLE);
    assert_has(why.text, "test_echo: no endpoint available:");
    assert_has(why.text, "demoted");
    rpc_close(c);
    stub_free(s[0]);
}

Test(rpc, a_stalled_head_is_demoted_and_recovers_after_the_cooldown)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    stub_head(s[0], 100, 0); /* stuck */
    stub_head(s[1], 200, 1); /* advancing */
    fake f = {0};
    rpc_opts o = tc_opts();
    o.stall_ms = 1000;
    o.cooldown_ms = 2000;
    o.max_lag_blocks = 0;
    rpc *c = tc_open(s, 2, &o, &f);
    uint64_t head;
    rl_why why = {{0}};
    for (int i = 0; i < 3; i++, f.now += 400) {
        cr_assert_eq(rpc_head(c, &head, &why), RL_OK, "%s", why.text);
        cr_assert_eq(head, 100, "the lowest healthy head");
        cr_assert_eq(tc_health(c, 0).state, RPC_HEALTHY, "at %llu ms", (unsigned long long)f.now);
    }
    cr_assert_eq(rpc_head(c, &head, &why), RL_OK); /* 1200 ms without progress */
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_DEMOTED);
    assert_has(h.reason, "head 100 stalled for 1200 ms while");
    cr_assert_eq(h.head_age_ms, 1200);
    cr_assert_geq(head, 203, "the stalled endpoint no longer holds the head down");
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 0, "a stalled endpoint takes no calls");
    /* caught up, but still resting: not asked */
    stub_head(s[0], 1000, 1);
    unsigned asked = stub_calls(s[0], "eth_blockNumber");
    cr_assert_eq(rpc_head(c, &head, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "eth_blockNumber"), asked);
    f.now += 2000;
    cr_assert_eq(rpc_head(c, &head, &why), RL_OK);
    cr_assert_eq(tc_health(c, 0).state, RPC_HEALTHY);
    cr_assert(fk_saw(&f, "0 healthy"));
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 1);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, a_chain_with_no_new_blocks_stalls_no_endpoint)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    stub_head(s[0], 100, 0);
    stub_head(s[1], 100, 0);
    fake f = {0};
    rpc_opts o = tc_opts();
    o.stall_ms = 1000;
    rpc *c = tc_open(s, 2, &o, &f);
    uint64_t head;
    rl_why why = {{0}};
    for (int i = 0; i < 5; i++, f.now += 1000)
        cr_assert_eq(rpc_head(c, &head, &why), RL_OK);
    cr_assert(tc_health(c, 0).state == RPC_HEALTHY && tc_health(c, 1).state == RPC_HEALTHY);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, a_lagging_endpoint_is_demoted_and_looked_at_again_before_it_serves)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    stub_head(s[0], 100, 0);
    stub_head(s[1], 150, 0);
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_lag_blocks = 10;
    o.cooldown_ms = 1000;
    rpc *c = tc_open(s, 2, &o, &f);
    uint64_t head;
    rl_why why = {{0}};
    cr_assert_eq(rpc_head(c, &head, &why), RL_OK);
    cr_assert_eq(head, 150);
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_DEMOTED);
    assert_has(h.reason, "head 100 lags");
    assert_has(h.reason, "(150) by 50 blocks");
    /* after the cooldown a call looks at its head first: still behind, so the call goes on */
    f.now += 1000;
    unsigned asked = stub_calls(s[0], "eth_blockNumber");
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "eth_blockNumber"), asked + 1);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 0);
    cr_assert_eq(tc_health(c, 0).state, RPC_DEMOTED);
    /* caught up: the next look promotes it and it serves */
    stub_head(s[0], 150, 0);
    f.now += 1000;
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 1);
    cr_assert_eq(tc_health(c, 0).state, RPC_HEALTHY);
    /* heads are also read from the caller's own eth_blockNumber */
    stub_head(s[0], 300, 0);
    json_t *res;
    cr_assert_eq(rpc_call(c, "eth_blockNumber", NULL, &res, &why), RL_OK);
    cr_assert_str_eq(json_string_value(res), "0x12c");
    json_decref(res);
    cr_assert_eq(tc_health(c, 0).head, 300);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

Test(rpc, credentials_in_urls_never_reach_messages_or_health)
{
    stub *s = stub_start(5);
    char url[256], name[64];
    snprintf(url, sizeof url, "http://alice:s3cretpw@127.0.0.1:%u/v3/APIKEY0123456789?apikey=QUERYSECRET#frag", s->port);
    snprintf(name, sizeof name, "http://127.0.0.1:%u/...", s->port);
    const char *urls[] = {url, url};
    fake f = {0};
    rpc_hooks hk = fk_hooks(&f);
    rpc_opts o = tc_opts();
    o.max_retries = 0;
    rpc *c = NULL;
    rl_why why = {{0}};
    const char *secrets[] = {"alice", "s3cret", "APIKEY", "QUERYSECRET", "frag", "v3"};
    /* wrong chain at open */
    cr_assert_eq(rpc_open(&c, urls, 1, &o, &hk, &why), RL_ERR_WRONG_CHAIN);
    assert_has(why.text, name);
    for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++)
        assert_hasnt(why.text, secrets[k]);
    /* HTTP errors, connection refused, health and hook events */
    stub_chain(s, 1);
    cr_assert_eq(rpc_open(&c, urls, 2, &o, &hk, &why), RL_OK, "%s", why.text);
    rpc_health h = tc_health(c, 0);
    cr_assert_str_eq(h.name, name);
    h = tc_health(c, 1);
    assert_has(h.name, " #2");
    stub_mode_set(s, STUB_500, -1);
    cr_assert_eq(tc_echo(c, 1, &why), RL_ERR_TRANSPORT);
    assert_has(why.text, name);
    for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++)
        assert_hasnt(why.text, secrets[k]);
    stub_kill(s);
    cr_assert_eq(tc_echo(c, 2, &why), RL_ERR_TRANSPORT);
    for (size_t k = 0; k < sizeof secrets / sizeof *secrets; k++) {
        assert_hasnt(why.text, secrets[k]);
        assert_hasnt(tc_health(c, 0).reason, secrets[k]);
        for (size_t e = 0; e < f.nevents; e++)
            assert_hasnt(f.events[e], secrets[k]);
    }
    rpc_close(c);
    /* a URL that does not parse is named by its position */
    const char *broken[] = {"http://bob:pw0rd@[::1"};
    cr_assert_eq(rpc_open(&c, broken, 1, &o, NULL, &why), RL_ERR_ARG);
    cr_assert_str_eq(why.text, "endpoint 1: not a URL");
    const char *ftp[] = {"ftp://127.0.0.1/"};
    cr_assert_eq(rpc_open(&c, ftp, 1, &o, NULL, &why), RL_ERR_ARG);
    assert_has(why.text, "expected http or https");
    stub_free(s);
}

Test(rpc, batch_answers_are_matched_by_id_whatever_their_order)
{
    stub *s[] = {stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    rpc *c = tc_open(s, 1, &o, &f);
    json_t *p[4];
    rpc_req calls[4];
    rpc_res res[4];
    for (int i = 0; i < 4; i++) {
        p[i] = json_pack("[i]", 100 + i);
        calls[i] = (rpc_req){"test_echo", p[i]};
    }
    unsigned http = stub_http(s[0]);
    rl_why why = {{0}};
    cr_assert_eq(rpc_batch(c, 4, calls, res, &why), RL_OK, "%s", why.text);
    cr_assert_eq(stub_http(s[0]), http + 1, "one HTTP request");
    for (int i = 0; i < 4; i++)
        cr_assert_eq(json_integer_value(res[i].result), 100 + i, "answered in reverse, matched by id");
    rpc_batch_fini(res, 4);
    /* a call the node does not know fails alone */
    calls[2].method = "no_such_method";
    cr_assert_eq(rpc_batch(c, 4, calls, res, &why), RL_ERR_RPC);
    assert_has(why.text, "call 2: no_such_method at");
    cr_assert_eq(res[2].err, RL_ERR_RPC);
    cr_assert_eq(res[2].error.code, -32601);
    cr_assert_null(res[2].result);
    cr_assert(res[0].err == RL_OK && res[1].err == RL_OK && res[3].err == RL_OK);
    cr_assert_eq(json_integer_value(res[3].result), 103);
    rpc_batch_fini(res, 4);
    calls[2].method = "test_echo";
    /* an answer missing from the batch fails that call only */
    stub_mode_set(s[0], STUB_PARTIAL, 1);
    cr_assert_eq(rpc_batch(c, 4, calls, res, &why), RL_ERR_DECODE);
    cr_assert_eq(res[1].err, RL_ERR_DECODE);
    assert_has(res[1].why.text, "test_echo at");
    assert_has(res[1].why.text, "nothing for id");
    cr_assert_null(res[1].result);
    for (int i = 0; i < 4; i++)
        if (i != 1)
            cr_assert_eq(json_integer_value(res[i].result), 100 + i);
    rpc_batch_fini(res, 4);
    for (int i = 0; i < 4; i++)
        json_decref(p[i]);
    rpc_close(c);
    stub_free(s[0]);
}

Test(rpc, batches_are_split_at_max_batch_and_fail_over_whole)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_batch = 2;
    rpc *c = tc_open(s, 2, &o, &f);
    json_t *p[5];
    rpc_req calls[5];
    rpc_res res[5];
    for (int i = 0; i < 5; i++) {
        p[i] = json_pack("[i]", i);
        calls[i] = (rpc_req){"test_echo", p[i]};
    }
    stub_mode_set(s[0], STUB_500, 1); /* the first part fails over to the second endpoint */
    unsigned http = stub_http(s[0]);
    rl_why why = {{0}};
    cr_assert_eq(rpc_batch(c, 5, calls, res, &why), RL_OK, "%s", why.text);
    for (int i = 0; i < 5; i++)
        cr_assert_eq(json_integer_value(res[i].result), i);
    cr_assert_eq(stub_http(s[0]) - http, 3, "parts of 2, 2, 1 (the first one failed here)");
    cr_assert_eq(stub_calls(s[1], "test_echo"), 2);
    rpc_batch_fini(res, 5);
    /* every attempt fails: every call says so (later parts find the endpoints demoted one by one) */
    stub_mode_set(s[0], STUB_500, -1);
    stub_mode_set(s[1], STUB_500, -1);
    cr_assert_eq(rpc_batch(c, 5, calls, res, &why), RL_ERR_TRANSPORT);
    assert_has(why.text, "call 0: batch of 2: 5 attempts failed");
    for (int i = 0; i < 5; i++) {
        cr_assert(res[i].err == RL_ERR_TRANSPORT || (i == 4 && res[i].err == RL_ERR_UNAVAILABLE), "call %d: %s", i,
                  res[i].why.text);
        cr_assert_null(res[i].result);
        assert_has(res[i].why.text, "batch of");
    }
    rpc_batch_fini(res, 5);
    for (int i = 0; i < 5; i++)
        json_decref(p[i]);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}

/* gzip of prefix, then `fill` repeated to fill_bytes, then suffix: a small body that decodes to a
 * large one. Returns the compressed bytes (malloc'd) and their length. */
static char *gzip_bomb(const char *prefix, const char *fill, size_t fill_bytes, const char *suffix, size_t *len)
{
    char *dir = tu_tmpdir(), cmd[700], path[600];
    snprintf(path, sizeof path, "%s/bomb.gz", dir);
    snprintf(cmd, sizeof cmd, "gzip -c > %s", path);
    FILE *p = popen(cmd, "w");
    cr_assert_not_null(p);
    char chunk[65536];
    size_t flen = strlen(fill);
    for (size_t i = 0; i + flen <= sizeof chunk; i += flen)
        memcpy(chunk + i, fill, flen);
    size_t per = sizeof chunk / flen * flen;
    fputs(prefix, p);
    for (size_t done = 0; done < fill_bytes; done += per)
        fwrite(chunk, 1, fill_bytes - done < per ? fill_bytes - done : per, p);
    fputs(suffix, p);
    cr_assert_eq(pclose(p), 0);
    char *out = NULL;
    cr_assert_eq(file_read_all(path, 16 << 20, &out, len, NULL), RL_OK);
    tu_rmdir(dir);
    return out;
}

/* The most this process has held resident so far, in KiB. */
static long peak_rss_kb(void)
{
    struct rusage ru;
    cr_assert_eq(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

#define BOMB_GROWTH_MAX_KB (40 << 10) /* the default 16 MiB cap, its buffer, and slack */

/* Calls eth_getLogs once on an endpoint whose answer is the gzip bomb; it must be refused naming
 * the endpoint and the method, with the process's memory never near the decoded size. */
static void refuse_bomb(const char *prefix, const char *fill, size_t fill_bytes, const char *suffix,
                        const char *why_has)
{
    size_t len;
    char *gz = gzip_bomb(prefix, fill, fill_bytes, suffix, &len);
    cr_assert_lt(len, 1 << 20, "a bomb of %zu bytes is no bomb", len);
    stub *s[] = {stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts(); /* the default caps */
    rpc *c = tc_open(s, 1, &o, &f);
    json_t *res = NULL;
    rl_why why = {{0}};
    cr_assert_eq(rpc_call(c, "eth_chainId", NULL, &res, &why), RL_OK, "%s", why.text); /* the chain is checked */
    json_decref(res);
    long before = peak_rss_kb();
    stub_raw(s[0], "gzip", gz, len, 1);
    cr_assert_eq(rpc_call(c, "eth_getLogs", NULL, &res, &why), RL_ERR_ARG, "%s", why.text);
    cr_assert_null(res);
    long grown = peak_rss_kb() - before;
    assert_has(why.text, "eth_getLogs");
    assert_has(why.text, "http://127.0.0.1:");
    assert_has(why.text, why_has);
    cr_assert_lt(grown, BOMB_GROWTH_MAX_KB, "the client grew by %ld KiB for a %zu-byte answer", grown, len);
    rpc_close(c);
    stub_free(s[0]);
    free(gz);
}

Test(rpc, a_gzip_bomb_of_one_long_string_is_refused_at_the_decoded_byte_cap)
{
    /* 48 MiB once decoded: under the old 64 MiB cap, over the default 16 MiB. */
    refuse_bomb("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"", "a", (size_t)48 << 20, "\"}",
                "larger than 16777216 bytes");
}

Test(rpc, a_gzip_bomb_of_tiny_values_is_refused_before_jansson_builds_its_tree)
{
    /* 12 MiB once decoded, under the byte cap, but 6 Mi values: over a GB... of jansson nodes */
    refuse_bomb("{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":[", "0,", (size_t)12 << 20, "0]}",
                "1048576 JSON values");
}

Test(rpc, an_answer_over_max_response_bytes_is_refused_without_retry)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    char big[512];
    memset(big, 'a', sizeof big);
    big[0] = '"';
    big[sizeof big - 2] = '"';
    big[sizeof big - 1] = '\0';
    stub_result(s[0], "eth_getLogs", big);
    fake f = {0};
    rpc_opts o = tc_opts();
    o.max_response_bytes = 256;
    rpc *c = tc_open(s, 2, &o, &f);
    json_t *res;
    rl_why why = {{0}};
    cr_assert_eq(rpc_call(c, "eth_getLogs", NULL, &res, &why), RL_ERR_ARG);
    assert_has(why.text, "larger than 256 bytes");
    cr_assert_eq(stub_calls(s[1], "eth_getLogs"), 0);
    cr_assert_eq(tc_health(c, 0).failures, 0);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}


static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s", dir);
    size_t n = 0;
    while (readdir(d) != NULL)
        n++;
    closedir(d);
    return n;
}

Test(rpc, closed_clients_and_freed_stubs_leave_no_thread_or_socket_behind)
{
    fake f = {0};
    rpc_opts o = tc_opts();
    o.timeout_ms = 200;
    stub *s[] = {stub_start(1), stub_start(1)};
    rpc_close(tc_open(s, 2, &o, &f)); /* libcurl's process-wide set-up happens once, here */
    stub_free(s[0]);
    stub_free(s[1]);
    size_t fds = entries("/proc/self/fd"), threads = entries("/proc/self/task");
    s[0] = stub_start(1), s[1] = stub_start(1);
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    stub_mode mode[] = {STUB_HANG, STUB_CLOSE, STUB_500, STUB_OK};
    for (int i = 0; i < 4; i++) {
        stub_mode_set(s[0], mode[i], 1);
        cr_assert_eq(tc_echo(c, i, &why), RL_OK, "%s", why.text);
    }
    stub_mode_set(s[1], STUB_DIE, -1);
    stub_mode_set(s[0], STUB_HANG, -1);
    cr_assert_neq(tc_echo(c, 9, &why), RL_OK);
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
    cr_assert_eq(entries("/proc/self/fd"), fds, "file descriptors left open");
    cr_assert_eq(entries("/proc/self/task"), threads, "threads left running");
}

Test(rpc, an_endpoint_that_switches_chains_mid_run_is_disabled_at_its_next_chain_check)
{
    stub *s[] = {stub_start(1), stub_start(1)};
    fake f = {0};
    rpc_opts o = tc_opts();
    o.chain_check_ms = 5000;
    rpc *c = tc_open(s, 2, &o, &f);
    rl_why why = {{0}};
    cr_assert_eq(tc_echo(c, 1, &why), RL_OK, "%s", why.text);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 1);
    stub_chain(s[0], 5);
    f.now += 4999; /* before the check is due, the endpoint is trusted as it was */
    cr_assert_eq(tc_echo(c, 2, &why), RL_OK, "%s", why.text);
    cr_assert_eq(stub_calls(s[0], "test_echo"), 2);
    f.now += 1;
    cr_assert_eq(tc_echo(c, 3, &why), RL_OK, "%s", why.text); /* answered by the other endpoint */
    cr_assert_eq(stub_calls(s[0], "test_echo"), 2, "the switched endpoint answered a call");
    cr_assert_eq(stub_calls(s[1], "test_echo"), 1);
    rpc_health h = tc_health(c, 0);
    cr_assert_eq(h.state, RPC_DISABLED);
    assert_has(h.reason, "serves chain id 5, expected 1");
    bool told = false;
    for (size_t i = 0; i < f.nevents; i++)
        told = told || strstr(f.events[i], "disabled") != NULL;
    cr_assert(told, "the health hook was not told");
    rpc_close(c);
    stub_free(s[0]);
    stub_free(s[1]);
}
