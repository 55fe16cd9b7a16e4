/* bus_test.c - CURVE + ZAP over real TCP sockets: allow-listed peers talk, everyone else gets
 * nothing and sends nothing; oversized frames are dropped. */
#include <pthread.h>
#include <sodium.h>
#include <zmq.h>

#include "relayer/bus.h"
#include "tests/testutil.h"

struct peers {
    bus *b;
    node_key *hub, *node, *intruder, *auditor;
    pthread_mutex_t mu;
    int denied;
};

static void on_deny(void *ctx, const char *role, const char *address, const char *key_hex, const char *why)
{
    (void)role;
    (void)address;
    (void)key_hex;
    (void)why;
    struct peers *p = ctx;
    pthread_mutex_lock(&p->mu);
    p->denied++;
    pthread_mutex_unlock(&p->mu);
}

static void setup(struct peers *p)
{
    rl_why why = {{0}};
    cr_assert(sodium_init() >= 0);
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    cr_assert_eq(node_key_generate(&p->hub, "hub", &why), RL_OK);
    cr_assert_eq(node_key_generate(&p->node, "node1", &why), RL_OK);
    cr_assert_eq(node_key_generate(&p->intruder, "intruder", &why), RL_OK);
    cr_assert_eq(node_key_generate(&p->auditor, "auditor", &why), RL_OK);
    cr_assert_eq(bus_new(&p->b, on_deny, p, &why), RL_OK, "%s", why.text);
    cr_assert_eq(bus_allow(p->b, BUS_ROLE_NODE, node_key_pub(p->node), &why), RL_OK);
    cr_assert_eq(bus_allow(p->b, BUS_ROLE_SUBSCRIBER, node_key_pub(p->auditor), &why), RL_OK);
}

static void teardown(struct peers *p)
{
    bus_free(p->b);
    node_key_free(p->hub);
    node_key_free(p->node);
    node_key_free(p->intruder);
    node_key_free(p->auditor);
}

static void *server(struct peers *p, int type, bus_role role, const bus_limits *lim, char *endpoint, size_t cap)
{
    rl_why why = {{0}};
    void *s = bus_server(p->b, type, role, p->hub, "tcp://127.0.0.1:*", lim, &why);
    cr_assert_not_null(s, "%s", why.text);
    cr_assert_eq(zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, endpoint, &cap), 0);
    return s;
}

static void *client(struct peers *p, int type, node_key *k, const char *endpoint)
{
    rl_why why = {{0}};
    void *s = bus_client(p->b, type, k, node_key_pub(p->hub)->x25519, endpoint, NULL, &why);
    cr_assert_not_null(s, "%s", why.text);
    return s;
}

/* Receives one message (its last frame) within ms; returns its size, or -1 when none came. The
 * sender's ZAP user id goes to user (when not NULL). */
static int recv_within(void *s, int ms, char *buf, size_t cap, char *user, size_t user_cap)
{
    zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, ms) <= 0)
        return -1;
    int size = -1, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        cr_assert_geq(zmq_msg_recv(&m, s, 0), 0);
        more = zmq_msg_more(&m);
        if (!more) {
            size = (int)zmq_msg_size(&m);
            memcpy(buf, zmq_msg_data(&m), (size_t)size < cap ? (size_t)size : cap);
            const char *uid = zmq_msg_gets(&m, "User-Id");
            if (user != NULL)
                snprintf(user, user_cap, "%s", uid ? uid : "");
        }
        zmq_msg_close(&m);
    }
    return size;
}

Test(bus, an_allowed_node_talks_and_is_named_by_its_key)
{
    struct peers p;
    setup(&p);
    char ep[256], buf[64], user[64];
    void *srv = server(&p, ZMQ_ROUTER, BUS_ROLE_NODE, NULL, ep, sizeof ep);
    void *c = client(&p, ZMQ_DEALER, p.node, ep);
    cr_assert_eq(zmq_send(c, "obs-1", 5, 0), 5);
    cr_assert_eq(recv_within(srv, 5000, buf, sizeof buf, user, sizeof user), 5, "the allowed node was not heard");
    cr_assert_eq(memcmp(buf, "obs-1", 5), 0);
    cr_assert_str_eq(user, "node1", "the ZAP user id names the member");
    bus_close(c);
    bus_close(srv);
    teardown(&p);
}

Test(bus, a_random_key_or_a_key_of_another_role_gets_nothing_and_sends_nothing)
{
    struct peers p;
    setup(&p);
    char ep[256], buf[64];
    void *srv = server(&p, ZMQ_ROUTER, BUS_ROLE_NODE, NULL, ep, sizeof ep);
    void *pub = server(&p, ZMQ_PUB, BUS_ROLE_SUBSCRIBER, NULL, ep + 128, sizeof ep - 128);
    void *evil = client(&p, ZMQ_DEALER, p.intruder, ep);
    void *wrong_role = client(&p, ZMQ_DEALER, p.auditor, ep);
    void *evil_sub = client(&p, ZMQ_SUB, p.intruder, ep + 128);
    void *good_sub = client(&p, ZMQ_SUB, p.auditor, ep + 128);
    zmq_setsockopt(evil_sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(good_sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_send(evil, "evil", 4, ZMQ_DONTWAIT);
    zmq_send(wrong_role, "wrong", 5, ZMQ_DONTWAIT);
    cr_assert_eq(recv_within(srv, 1500, buf, sizeof buf, NULL, 0), -1, "a peer that is not allowed was heard");
    /* The allowed subscriber hears the stream; the intruder hears nothing of it. */
    int got = -1;
    for (int i = 0; i < 50 && got < 0; i++) {
        zmq_send(pub, "record", 6, 0);
        got = recv_within(good_sub, 100, buf, sizeof buf, NULL, 0);
    }
    cr_assert_eq(got, 6, "the allowed subscriber heard nothing");
    cr_assert_eq(recv_within(evil_sub, 500, buf, sizeof buf, NULL, 0), -1, "an intruder received a record");
    pthread_mutex_lock(&p.mu);
    int denied = p.denied;
    pthread_mutex_unlock(&p.mu);
    cr_assert_geq(denied, 3, "every refused handshake is reported (%d)", denied);
    bus_close(evil);
    bus_close(wrong_role);
    bus_close(evil_sub);
    bus_close(good_sub);
    bus_close(pub);
    bus_close(srv);
    teardown(&p);
}

Test(bus, an_oversized_frame_is_dropped_and_the_socket_serves_on)
{
    struct peers p;
    setup(&p);
    char ep[256], buf[64];
    bus_limits lim = {.max_msg_bytes = 1024};
    void *srv = server(&p, ZMQ_ROUTER, BUS_ROLE_NODE, &lim, ep, sizeof ep);
    void *big = client(&p, ZMQ_DEALER, p.node, ep);
    char *blob = calloc(1, 4096);
    zmq_send(big, blob, 4096, 0);
    free(blob);
    cr_assert_eq(recv_within(srv, 1500, buf, sizeof buf, NULL, 0), -1, "an oversized frame was delivered");
    void *small = client(&p, ZMQ_DEALER, p.node, ep);
    zmq_send(small, "ok", 2, 0);
    cr_assert_eq(recv_within(srv, 5000, buf, sizeof buf, NULL, 0), 2, "the server stopped serving");
    bus_close(big);
    bus_close(small);
    bus_close(srv);
    teardown(&p);
}

#define HANDSHAKES 3

Test(bus, one_key_past_its_handshakes_per_minute_gets_no_more_connections)
{
    struct peers p;
    setup(&p);
    bus_limit_handshakes(p.b, HANDSHAKES, 3600000); /* the window outlasts the test */
    char ep[256], buf[64];
    void *srv = server(&p, ZMQ_ROUTER, BUS_ROLE_NODE, NULL, ep, sizeof ep);
    void *c[HANDSHAKES + 1];
    for (int i = 0; i < HANDSHAKES; i++) { /* each heard before the next connects: the order is known */
        c[i] = client(&p, ZMQ_DEALER, p.node, ep);
        cr_assert_eq(zmq_send(c[i], "hi", 2, 0), 2);
        cr_assert_eq(recv_within(srv, 5000, buf, sizeof buf, NULL, 0), 2, "connection %d was not heard", i + 1);
    }
    c[HANDSHAKES] = client(&p, ZMQ_DEALER, p.node, ep);
    zmq_send(c[HANDSHAKES], "more", 4, ZMQ_DONTWAIT);
    int got = recv_within(srv, 1500, buf, sizeof buf, NULL, 0);
    cr_assert_eq(got, -1, "a connection past the key's handshakes was heard");
    pthread_mutex_lock(&p.mu);
    int denied = p.denied;
    pthread_mutex_unlock(&p.mu);
    cr_assert_geq(denied, 1, "the refusal is reported");
    for (int i = 0; i <= HANDSHAKES; i++)
        bus_close(c[i]);
    bus_close(srv);
    teardown(&p);
}
