/*
 * bus.c - CURVE sockets and the ZAP handler (RFC 27) that admits allow-listed keys per role.
 */
#include "relayer/bus.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "attest/hex.h"
#include "attest/vec.h"
#include "relayer/progress.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define ZAP_CONTROL "inproc://relayer.zap.control"

static const char *const role_names[BUS_ROLE_COUNT_] = {
    [BUS_ROLE_NODE] = "nodes",
    [BUS_ROLE_VENUE] = "venues",
    [BUS_ROLE_SUBSCRIBER] = "subscribers",
    [BUS_ROLE_CALCULATOR] = "calculators",
};

struct allowed {
    uint8_t key[X25519_PK_BYTES];
    char name[NODE_NAME_MAX + 1];
    uint64_t window_ms;    /* mono_ms when the window of the handshakes counted began */
    unsigned handshakes;   /* admitted in that window */
};

struct bus {
    void *ctx;
    void *zap, *control; /* zap: the handler's REP (its thread); control: our end of the stop pair */
    pthread_t thread;
    bool running;
    pthread_mutex_t mu;
    struct allowed *allow[BUS_ROLE_COUNT_];
    size_t nallow[BUS_ROLE_COUNT_], cap[BUS_ROLE_COUNT_];
    bus_deny_fn on_deny;
    void *deny_ctx;
    unsigned max_handshakes; /* per allowed key and role in a window; 0: no bound */
    uint64_t handshake_window_ms;
};

const char *bus_role_name(bus_role r) { return r < BUS_ROLE_COUNT_ ? role_names[r] : "?"; }

static bus_role role_of_domain(const char *domain)
{
    for (int r = 0; r < BUS_ROLE_COUNT_; r++)
        if (strcmp(domain, role_names[r]) == 0)
            return (bus_role)r;
    return BUS_ROLE_COUNT_;
}

static rl_err zmq_fail(rl_why *why, const char *what, const char *where)
{
    return rl_fail(why, RL_ERR_IO, "%s %s: %s", what, where, zmq_strerror(zmq_errno()));
}

/* Whether key is allowed in role and within its handshakes in the window (counting this one);
 * its name into name. *over: allowed, but past the bound. A window begins at the first handshake
 * after the last one ended. */
static bool lookup(bus *b, bus_role role, const uint8_t key[X25519_PK_BYTES], char name[NODE_NAME_MAX + 1],
                   bool *over)
{
    bool found = false;
    uint64_t now = mono_ms();
    *over = false;
    pthread_mutex_lock(&b->mu);
    for (size_t i = 0; role < BUS_ROLE_COUNT_ && i < b->nallow[role] && !found; i++) {
        struct allowed *a = &b->allow[role][i];
        if (memcmp(a->key, key, X25519_PK_BYTES) == 0) {
            memcpy(name, a->name, NODE_NAME_MAX + 1);
            found = true;
            if (a->handshakes == 0 || now - a->window_ms >= b->handshake_window_ms)
                a->window_ms = now, a->handshakes = 0;
            *over = b->max_handshakes != 0 && a->handshakes >= b->max_handshakes;
            a->handshakes += !*over;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return found && !*over;
}

/* Reads one multipart ZAP request into frames (at most max; the rest is drained). */
static int recv_request(void *sock, zmq_msg_t *frames, int max)
{
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, sock, 0) < 0) {
            zmq_msg_close(&m);
            for (int i = 0; i < n; i++)
                zmq_msg_close(&frames[i]);
            return -1;
        }
        more = zmq_msg_more(&m);
        if (n < max)
            frames[n++] = m;
        else
            zmq_msg_close(&m);
    }
    return n;
}

static void frame_str(zmq_msg_t *m, char *out, size_t cap)
{
    size_t n = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;
    memcpy(out, zmq_msg_data(m), n);
    out[n] = '\0';
}

/* Answers one ZAP request: version, request id, domain, address, identity, mechanism, key. */
static void zap_answer(bus *b)
{
    zmq_msg_t f[8];
    int n = recv_request(b->zap, f, 8);
    if (n < 0)
        return;
    char version[8] = "", domain[64] = "", address[64] = "", mechanism[16] = "", key_hex[2 * X25519_PK_BYTES + 1] = "";
    char name[NODE_NAME_MAX + 1] = "";
    const char *status = "400", *text = "not allowed";
    bool over = false;
    if (n >= 7) {
        frame_str(&f[0], version, sizeof version);
        frame_str(&f[2], domain, sizeof domain);
        frame_str(&f[3], address, sizeof address);
        frame_str(&f[5], mechanism, sizeof mechanism);
    }
    if (n >= 7 && strcmp(version, "1.0") == 0 && strcmp(mechanism, "CURVE") == 0 &&
        zmq_msg_size(&f[6]) == X25519_PK_BYTES) {
        const uint8_t *key = zmq_msg_data(&f[6]);
        hex_encode(key_hex, key, X25519_PK_BYTES);
        if (lookup(b, role_of_domain(domain), key, name, &over)) {
            status = "200";
            text = "OK";
        } else if (over) {
            text = "too many handshakes for this key";
        }
    } else {
        text = "CURVE required";
    }
    /* Reply: version, request id, status code, status text, user id, metadata. */
    zmq_send(b->zap, "1.0", 3, ZMQ_SNDMORE);
    if (n >= 2)
        zmq_send(b->zap, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
    else
        zmq_send(b->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(b->zap, status, 3, ZMQ_SNDMORE);
    zmq_send(b->zap, text, strlen(text), ZMQ_SNDMORE);
    zmq_send(b->zap, name, strlen(name), ZMQ_SNDMORE);
    zmq_send(b->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    if (status[0] != '2' && b->on_deny != NULL)
        b->on_deny(b->deny_ctx, domain, address, key_hex[0] ? key_hex : "-", text);
}

static void *zap_thread(void *arg)
{
    bus *b = arg;
    void *stop = zmq_socket(b->ctx, ZMQ_PAIR);
    if (stop == NULL || zmq_connect(stop, ZAP_CONTROL) != 0)
        return NULL;
    for (;;) {
        zmq_pollitem_t items[2] = {{b->zap, 0, ZMQ_POLLIN, 0}, {stop, 0, ZMQ_POLLIN, 0}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (zmq_errno() == EINTR)
                continue;
            break;
        }
        if (items[1].revents & ZMQ_POLLIN)
            break;
        if (items[0].revents & ZMQ_POLLIN)
            zap_answer(b);
    }
    zmq_close(stop);
    return NULL;
}

rl_err bus_new(bus **out, bus_deny_fn on_deny, void *deny_ctx, rl_why *why)
{
    bus *b = calloc(1, sizeof *b);
    if (b == NULL)
        return RL_ERR_NOMEM;
    pthread_mutex_init(&b->mu, NULL);
    b->on_deny = on_deny;
    b->deny_ctx = deny_ctx;
    rl_err err = RL_OK;
    int linger = 0;
    if ((b->ctx = zmq_ctx_new()) == NULL) {
        err = zmq_fail(why, "zmq_ctx_new", "");
        goto fail;
    }
    /* The handler must be bound before any CURVE server socket is. */
    if ((b->zap = zmq_socket(b->ctx, ZMQ_REP)) == NULL || zmq_bind(b->zap, ZAP_ENDPOINT) != 0) {
        err = zmq_fail(why, "bind", ZAP_ENDPOINT);
        goto fail;
    }
    zmq_setsockopt(b->zap, ZMQ_LINGER, &linger, sizeof linger);
    if ((b->control = zmq_socket(b->ctx, ZMQ_PAIR)) == NULL || zmq_bind(b->control, ZAP_CONTROL) != 0) {
        err = zmq_fail(why, "bind", ZAP_CONTROL);
        goto fail;
    }
    zmq_setsockopt(b->control, ZMQ_LINGER, &linger, sizeof linger);
    if (pthread_create(&b->thread, NULL, zap_thread, b) != 0) {
        err = rl_fail(why, RL_ERR_NOMEM, "cannot start the ZAP handler thread");
        goto fail;
    }
    b->running = true;
    *out = b;
    return RL_OK;
fail:
    bus_free(b);
    return err;
}

void bus_free(bus *b)
{
    if (b == NULL)
        return;
    if (b->running) {
        zmq_send(b->control, "", 0, 0);
        pthread_join(b->thread, NULL);
    }
    if (b->control != NULL)
        zmq_close(b->control);
    if (b->zap != NULL)
        zmq_close(b->zap);
    if (b->ctx != NULL)
        zmq_ctx_term(b->ctx);
    for (int r = 0; r < BUS_ROLE_COUNT_; r++)
        free(b->allow[r]);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

void *bus_context(const bus *b) { return b->ctx; }

rl_err bus_allow(bus *b, bus_role role, const node_pub *peer, rl_why *why)
{
    if (role >= BUS_ROLE_COUNT_)
        return rl_fail(why, RL_ERR_ARG, "bus: unknown role %d", (int)role);
    rl_err err = RL_OK;
    pthread_mutex_lock(&b->mu);
    if (!vec_reserve((void **)&b->allow[role], &b->cap[role], b->nallow[role] + 1, sizeof *b->allow[role], 8)) {
        err = RL_ERR_NOMEM;
    } else {
        struct allowed *a = &b->allow[role][b->nallow[role]++];
        memcpy(a->key, peer->x25519, X25519_PK_BYTES);
        snprintf(a->name, sizeof a->name, "%s", peer->name);
    }
    pthread_mutex_unlock(&b->mu);
    return err;
}

void bus_limit_handshakes(bus *b, unsigned max, uint64_t window_ms)
{
    pthread_mutex_lock(&b->mu);
    b->max_handshakes = max;
    b->handshake_window_ms = window_ms;
    pthread_mutex_unlock(&b->mu);
}

size_t bus_allowed(bus *b, bus_role role)
{
    pthread_mutex_lock(&b->mu);
    size_t n = role < BUS_ROLE_COUNT_ ? b->nallow[role] : 0;
    pthread_mutex_unlock(&b->mu);
    return n;
}

/* A socket of `type` with the limits set, or NULL. */
static void *limited_socket(bus *b, int type, const bus_limits *limits, const char *endpoint, rl_why *why)
{
    bus_limits l = limits ? *limits : (bus_limits){0};
    int64_t max = l.max_msg_bytes ? l.max_msg_bytes : BUS_DEFAULT_MAX_MSG;
    int snd = l.sndhwm ? l.sndhwm : BUS_DEFAULT_HWM, rcv = l.rcvhwm ? l.rcvhwm : BUS_DEFAULT_HWM, linger = 0;
    int handshake = l.handshake_ms ? l.handshake_ms : BUS_DEFAULT_HANDSHAKE_MS;
    void *s = zmq_socket(b->ctx, type);
    if (s == NULL || zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &max, sizeof max) != 0 ||
        zmq_setsockopt(s, ZMQ_HANDSHAKE_IVL, &handshake, sizeof handshake) != 0 ||
        zmq_setsockopt(s, ZMQ_SNDHWM, &snd, sizeof snd) != 0 || zmq_setsockopt(s, ZMQ_RCVHWM, &rcv, sizeof rcv) != 0 ||
        zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        zmq_fail(why, "socket for", endpoint);
        if (s != NULL)
            zmq_close(s);
        return NULL;
    }
    return s;
}

/* Binds or connects a socket whose CURVE options were set (options_ok), or closes it. */
static void *attach(void *s, bool options_ok, bool bind, const char *endpoint, rl_why *why)
{
    if (s == NULL)
        return NULL;
    if (!options_ok)
        zmq_fail(why, "CURVE options for", endpoint);
    else if ((bind ? zmq_bind(s, endpoint) : zmq_connect(s, endpoint)) != 0)
        zmq_fail(why, bind ? "bind" : "connect", endpoint);
    else
        return s;
    zmq_close(s);
    return NULL;
}

void *bus_server(bus *b, int type, bus_role role, const node_key *self, const char *endpoint,
                 const bus_limits *limits, rl_why *why)
{
    if (role >= BUS_ROLE_COUNT_) {
        rl_fail(why, RL_ERR_ARG, "bus: unknown role %d", (int)role);
        return NULL;
    }
    void *s = limited_socket(b, type, limits, endpoint, why);
    int one = 1;
    const char *domain = role_names[role];
    return attach(s,
                  s != NULL && zmq_setsockopt(s, ZMQ_CURVE_SERVER, &one, sizeof one) == 0 &&
                      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, node_key_x25519_secret(self), X25519_PK_BYTES) == 0 &&
                      zmq_setsockopt(s, ZMQ_ZAP_DOMAIN, domain, strlen(domain)) == 0,
                  true, endpoint, why);
}

void *bus_client(bus *b, int type, const node_key *self, const uint8_t server_x25519[X25519_PK_BYTES],
                 const char *endpoint, const bus_limits *limits, rl_why *why)
{
    void *s = limited_socket(b, type, limits, endpoint, why);
    return attach(s,
                  s != NULL && zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_x25519, X25519_PK_BYTES) == 0 &&
                      zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, node_key_pub(self)->x25519, X25519_PK_BYTES) == 0 &&
                      zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, node_key_x25519_secret(self), X25519_PK_BYTES) == 0,
                  false, endpoint, why);
}

void bus_close(void *sock)
{
    if (sock == NULL)
        return;
    int linger = 0;
    zmq_setsockopt(sock, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(sock);
}
