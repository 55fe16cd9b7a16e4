/*
 * hubclient.c - a node's or venue's connection to the hub (hubclient.h).
 */
#include "relayer/hubclient.h"

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/wire.h"

rl_err hubclient_open(hubclient *c, const char *key_path, const char *hub_key_path, const char *endpoint,
                      rl_why *why)
{
    memset(c, 0, sizeof *c);
    node_pub hub;
    rl_err err = keyfile_read(key_path, &c->key, why);
    if (err == RL_OK)
        err = pubfile_read(hub_key_path, &hub, why);
    if (err == RL_OK)
        err = bus_new(&c->b, NULL, NULL, why);
    if (err == RL_OK && (c->sock = bus_client(c->b, ZMQ_DEALER, c->key, hub.x25519, endpoint, NULL, why)) == NULL)
        err = RL_ERR_IO;
    if (err != RL_OK)
        hubclient_close(c, 0);
    return err;
}

rl_err hubclient_member(hubclient *c, const char *relayers_path, rl_why *why)
{
    relset set;
    const relset_member *me;
    rl_err err = relset_load_member(relayers_path, node_key_pub(c->key), &set, &me, why);
    if (err == RL_OK)
        c->member = me->id;
    return err;
}

/* One frame to the hub, not waiting: `what` names it in an error. */
static rl_err send_frame(hubclient *c, const uint8_t *frame, size_t len, const char *what, rl_why *why)
{
    if (len == 0)
        return rl_fail(why, RL_ERR_ARG, "%s: frame does not fit", what);
    if (zmq_send(c->sock, frame, len, ZMQ_DONTWAIT) < 0)
        return rl_fail(why, RL_ERR_IO, "%s: send to the hub: %s", what, zmq_strerror(zmq_errno()));
    return RL_OK;
}

rl_err hubclient_send_price(hubclient *c, const price_obs *o, uint64_t msg_id, rl_why *why)
{
    uint8_t enc[PRICE_OBS_BYTES], frame[PRICE_SIGNED_BYTES + 32];
    rl_err err = price_encode(enc, o, why);
    if (err != RL_OK)
        return err;
    signed_price sp;
    price_sign(&sp, enc, c->member, c->key);
    char what[PRICE_FEED_BYTES + 16];
    snprintf(what, sizeof what, "price of %s", o->feed);
    return send_frame(c, frame, wire_encode_price(frame, sizeof frame, msg_id, &sp, 1), what, why);
}

rl_err hubclient_send_obs(hubclient *c, const obs *o, uint64_t msg_id, rl_why *why)
{
    uint8_t enc[OBS_BYTES], frame[WIRE_SIGNED_OBS_BYTES + 32];
    rl_err err = obs_encode(enc, o, why);
    if (err != RL_OK)
        return err;
    signed_obs so;
    obs_sign(&so, enc, c->member, c->key);
    char what[48];
    snprintf(what, sizeof what, "%s observation", obs_kind_name(o->kind));
    return send_frame(c, frame, wire_encode_obs(frame, sizeof frame, msg_id, &so, 1), what, why);
}

void hubclient_drain(hubclient *c)
{
    uint8_t buf[256];
    while (zmq_recv(c->sock, buf, sizeof buf, ZMQ_DONTWAIT) >= 0)
        ;
}

void hubclient_close(hubclient *c, int linger_ms)
{
    if (c->sock != NULL) {
        zmq_setsockopt(c->sock, ZMQ_LINGER, &linger_ms, sizeof linger_ms);
        zmq_close(c->sock);
    }
    bus_free(c->b);
    node_key_free(c->key);
    memset(c, 0, sizeof *c);
}
