/*
 * bench_test.c - relayer/cmd_bench_hostile.c (and the cluster of cmd_bench_bus.c it runs): a
 * small `relayer bench hostile` goes through both phases and every attack and ends with its JSON
 * line. A benchmark's figures are never asserted here: only that it ran and what it reports.
 */
#include <jansson.h>

#include "tests/testutil.h"

#define SMALL_EVENTS 300
#define SMALL_CONNECTIONS 100

static json_t *last_json_line(const char *out)
{
    const char *line = out, *nl;
    while ((nl = strchr(line, '\n')) != NULL && nl[1] != '\0')
        line = nl + 1;
    return json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
}

static json_int_t attack_count(json_t *j, const char *key)
{
    return json_integer_value(json_object_get(json_object_get(j, "attack"), key));
}

Test(bench_hostile, a_small_run_credits_both_phases_under_every_attack_and_ends_with_its_json_line, .timeout = 120)
{
    char *out = NULL;
    int rc = tu_run(&out, "%s bench hostile --events %d --connections %d 2>/dev/null", RELAYER_BIN, SMALL_EVENTS,
                    SMALL_CONNECTIONS);
    cr_assert_eq(rc, 0, "bench hostile failed:\n%s", out);
    json_t *j = last_json_line(out);
    cr_assert_not_null(j, "the last line is not JSON:\n%s", out);
    cr_assert_str_eq(json_string_value(json_object_get(j, "bench")), "hostile");
    cr_assert_eq(json_integer_value(json_object_get(j, "events")), SMALL_EVENTS);
    cr_assert_eq(json_integer_value(json_object_get(j, "hub_exits")), 0);
    cr_assert(json_is_true(json_object_get(j, "attacked_phase_complete")));
    cr_assert(json_real_value(json_object_get(j, "clean_events_per_s")) > 0);
    cr_assert(json_real_value(json_object_get(j, "attacked_events_per_s")) > 0);
    cr_assert(json_is_real(json_object_get(j, "ratio")));
    /* Every attack ran: connections opened, each kind of frame sent, catch-up requested. */
    cr_assert_geq(attack_count(j, "connections_opened"), SMALL_CONNECTIONS);
    cr_assert_gt(attack_count(j, "obs_frames"), 0);
    cr_assert_gt(attack_count(j, "unknown_feed_price_frames"), 0);
    cr_assert_gt(attack_count(j, "malformed_frames"), 0);
    cr_assert_gt(attack_count(j, "catchup_requests"), 0);
    json_decref(j);
    free(out);
}
