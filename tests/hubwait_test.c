/* hubwait_test.c - the hub's messages awaiting acknowledgement (relayer/hubwait): answered once
 * their ids settle, looked at only when a record names their ids, bounded per peer. */
#include <criterion/criterion.h>
#include <string.h>

#include "relayer/hubwait.h"

#define IDS_MAX 4096

/* The ledger, as far as hubwait sees it: which ids are settled; and what hubwait did. */
struct world {
    hubwait *w;
    uint8_t settled[IDS_MAX];
    unsigned lookups, answered, forgotten;
    uint64_t last_answer;
};

static void id_of(uint8_t out[HASH_BYTES], unsigned n)
{
    memset(out, 0, HASH_BYTES);
    memcpy(out, &n, sizeof n);
}

static bool on_settled(void *ctx, struct waiting *m, const uint8_t id[HASH_BYTES])
{
    (void)m;
    struct world *x = ctx;
    unsigned n;
    memcpy(&n, id, sizeof n);
    x->lookups++;
    return x->settled[n];
}

static void on_answer(void *ctx, const struct waiting *m)
{
    struct world *x = ctx;
    x->answered++;
    x->last_answer = m->msg_id;
}

static void on_forgot(void *ctx, const struct waiting *m)
{
    (void)m;
    ((struct world *)ctx)->forgotten++;
}

static void open_world(struct world *x, size_t per_peer)
{
    memset(x, 0, sizeof *x);
    hubwait_ops ops = {on_settled, on_answer, on_forgot, x};
    cr_assert_eq(hubwait_new(&x->w, per_peer, &ops), RL_OK);
}

/* An OBS message msg_id from peer (its route "r<peer>") of the events first .. first + n - 1. */
static struct waiting *add_obs(struct world *x, const char *peer, uint64_t msg_id, unsigned first, unsigned n)
{
    char route[16];
    snprintf(route, sizeof route, "r%s", peer);
    struct waiting *m = hubwait_add(x->w, NULL, peer, (const uint8_t *)route, strlen(route), msg_id, 0);
    if (m != NULL) {
        for (unsigned i = 0; i < n; i++)
            id_of(m->ids[i], first + i);
        m->n = n;
    }
    return m;
}

static void settle(struct world *x, unsigned id)
{
    uint8_t b[HASH_BYTES];
    x->settled[id] = 1;
    id_of(b, id);
    hubwait_nominate(x->w, b);
}

Test(hubwait, a_message_is_answered_once_when_its_last_event_settles)
{
    struct world x;
    open_world(&x, 100);
    cr_assert_not_null(add_obs(&x, "node1", 7, 10, 3));
    hubwait_check_new(x.w, 0);
    settle(&x, 10);
    settle(&x, 11);
    cr_assert_eq(x.answered, 0);
    settle(&x, 12);
    cr_assert_eq(x.answered, 1);
    cr_assert_eq(x.last_answer, 7);
    settle(&x, 12);
    cr_assert_eq(x.answered, 1, "answered once");
    cr_assert_eq(hubwait_get_stats(x.w).waiting, 0);
    hubwait_free(x.w);
}

Test(hubwait, a_message_whose_events_are_settled_already_is_answered_on_the_first_look)
{
    struct world x;
    open_world(&x, 100);
    x.settled[5] = x.settled[6] = 1;
    cr_assert_not_null(add_obs(&x, "node1", 1, 5, 2));
    hubwait_check_new(x.w, 0);
    cr_assert_eq(x.answered, 1);
    hubwait_free(x.w);
}

Test(hubwait, a_resend_of_a_waiting_message_is_not_a_second_entry)
{
    struct world x;
    open_world(&x, 100);
    cr_assert_not_null(add_obs(&x, "node1", 1, 5, 2));
    cr_assert_null(add_obs(&x, "node1", 1, 5, 2));
    cr_assert_not_null(add_obs(&x, "node2", 1, 5, 2), "another route, another message");
    cr_assert_eq(hubwait_get_stats(x.w).waiting, 2);
    hubwait_free(x.w);
}

Test(hubwait, one_event_twice_in_a_message_is_answered_when_it_settles)
{
    struct world x;
    open_world(&x, 100);
    struct waiting *m = add_obs(&x, "node1", 1, 5, 3);
    id_of(m->ids[2], 5);
    hubwait_check_new(x.w, 0);
    settle(&x, 6);
    settle(&x, 5);
    cr_assert_eq(x.answered, 1);
    cr_assert_eq(hubwait_get_stats(x.w).waiting, 0);
    hubwait_free(x.w);
}

Test(hubwait, a_settled_event_looks_only_at_the_messages_that_hold_it)
{
    struct world x;
    open_world(&x, 10000);
    for (unsigned i = 0; i < 2000; i++)
        cr_assert_not_null(add_obs(&x, "node1", i, 2 * i, 2));
    hubwait_check_new(x.w, 0);
    cr_assert_eq(x.lookups, 4000);
    x.lookups = 0;
    settle(&x, 1000);
    settle(&x, 1001);
    cr_assert_eq(x.lookups, 2, "one lookup per message holding the event, not one per waiting message");
    cr_assert_eq(x.answered, 1);
    cr_assert_eq(x.last_answer, 500);
    hubwait_free(x.w);
}

Test(hubwait, a_peer_past_its_bound_loses_its_oldest_and_not_another_peers)
{
    struct world x;
    open_world(&x, 3);
    cr_assert_not_null(add_obs(&x, "node2", 100, 100, 1));
    for (unsigned i = 0; i < 50; i++)
        cr_assert_not_null(add_obs(&x, "node1", i, i, 1));
    hubwait_check_new(x.w, 0);
    hubwait_stats st = hubwait_get_stats(x.w);
    cr_assert_eq(st.waiting, 3 + 1);
    cr_assert_eq(st.over_budget, 47);
    /* node2's message is still answered; node1's forgotten one is answered when it is resent. */
    settle(&x, 100);
    cr_assert_eq(x.last_answer, 100);
    settle(&x, 0);
    cr_assert_eq(x.answered, 1, "message 0 was forgotten");
    cr_assert_not_null(add_obs(&x, "node1", 0, 0, 1), "its resend is a new entry");
    hubwait_check_new(x.w, 0);
    cr_assert_eq(x.answered, 2);
    cr_assert_eq(x.last_answer, 0);
    hubwait_free(x.w);
}

Test(hubwait, a_submission_not_logged_is_forgotten_after_the_timeout_without_an_answer)
{
    struct world x;
    open_world(&x, 100);
    struct waiting *m = hubwait_add(x.w, NULL, "venue", (const uint8_t *)"v", 1, 9, 1000);
    m->submit = true;
    m->n = 1;
    id_of(m->ids[0], 42);
    hubwait_check_new(x.w, 1000);
    hubwait_check_new(x.w, 1000 + HUBWAIT_SUBMIT_TIMEOUT_MS);
    cr_assert_eq(x.forgotten, 0);
    hubwait_check_new(x.w, 1001 + HUBWAIT_SUBMIT_TIMEOUT_MS);
    cr_assert_eq(x.forgotten, 1);
    cr_assert_eq(x.answered, 0);
    cr_assert_eq(hubwait_get_stats(x.w).waiting, 0);
    settle(&x, 42);
    cr_assert_eq(x.answered, 0);
    hubwait_free(x.w);
}
