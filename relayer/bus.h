/*
 * bus.h - the ZeroMQ bus's security layer: CURVE on every socket, and a ZAP handler that admits
 * only allow-listed public keys, per socket role.
 *
 * A node's CURVE key pair is the X25519 form of its ed25519 identity key (keys.h), so one key
 * file identifies a node everywhere: the allow-list of a role is a set of node_pub entries.
 * Every server socket is bound with a ZAP domain naming its role; the handler answers a
 * handshake with 200 only for a key allow-listed for that role, and puts the member's name in
 * the ZAP user id, so a receiver can ask zmq_msg_gets(msg, "User-Id") who sent a frame. A peer
 * whose key is not allowed completes no handshake: it can neither send nor receive.
 *
 * Sockets are made with their limits set on purpose: a maximum message size (a larger frame
 * drops the peer's connection, nothing is delivered; it holds during the handshake too),
 * high-water marks, and a short handshake interval, so a connection that never authenticates
 * (a plain TCP connection, a stalled CURVE hello) is closed and its descriptor freed.
 */
#ifndef RL_BUS_H
#define RL_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/keys.h"

typedef enum bus_role {
    BUS_ROLE_NODE,       /* relayer nodes: observations, co-signatures */
    BUS_ROLE_VENUE,      /* venues: positions, withdrawal requests */
    BUS_ROLE_SUBSCRIBER, /* read-only: the log stream and catch-up */
    BUS_ROLE_CALCULATOR, /* the margin calculator: decisions */
    BUS_ROLE_COUNT_
} bus_role;

/* The role's name, also the ZAP domain of its sockets. */
const char *bus_role_name(bus_role r);

typedef struct bus_limits {
    int64_t max_msg_bytes; /* ZMQ_MAXMSGSIZE; 0: BUS_DEFAULT_MAX_MSG */
    int sndhwm, rcvhwm;    /* messages; 0: BUS_DEFAULT_HWM */
    int handshake_ms;      /* ZMQ_HANDSHAKE_IVL: an unfinished handshake is dropped; 0: BUS_DEFAULT_HANDSHAKE_MS */
} bus_limits;

#define BUS_DEFAULT_MAX_MSG (64 * 1024)
#define BUS_DEFAULT_HWM 10000
#define BUS_DEFAULT_HANDSHAKE_MS 5000 /* libzmq's own is 30 s */

typedef struct bus bus;

/* Called from the ZAP thread for every handshake refused (role, the peer's address, its key in
 * hex and why: "not allowed", "too many handshakes for this key", ...); never for secrets. May be
 * NULL. */
typedef void (*bus_deny_fn)(void *ctx, const char *role, const char *address, const char *key_hex, const char *why);

/* A ZeroMQ context with its ZAP handler running. */
RL_MUST_USE rl_err bus_new(bus **out, bus_deny_fn on_deny, void *deny_ctx, rl_why *why);
/* Stops the handler and terminates the context; every socket must be closed first. */
void bus_free(bus *b);
void *bus_context(const bus *b);

/* Allows a public key for a role (its name becomes the ZAP user id). Thread-safe. */
RL_MUST_USE rl_err bus_allow(bus *b, bus_role role, const node_pub *peer, rl_why *why);
/* At most max handshakes admitted per allowed key and role within window_ms of the first one
 * (0: no bound), so one key cannot pile up connections (each a descriptor, buffers and a
 * high-water mark's worth of queued frames) by reconnecting. Thread-safe. */
void bus_limit_handshakes(bus *b, unsigned max, uint64_t window_ms);
/* How many keys a role allows. */
size_t bus_allowed(bus *b, bus_role role);

/* A CURVE server socket of `type` (ZMQ_ROUTER, ZMQ_PUB, ...) for role, bound to endpoint, with
 * the limits set. NULL on failure (why says what and where). */
void *bus_server(bus *b, int type, bus_role role, const node_key *self, const char *endpoint,
                 const bus_limits *limits, rl_why *why);
/* A CURVE client socket of `type`, connected to a server whose public key is server_x25519. */
void *bus_client(bus *b, int type, const node_key *self, const uint8_t server_x25519[X25519_PK_BYTES],
                 const char *endpoint, const bus_limits *limits, rl_why *why);

/* zmq_close with linger 0: nothing pending is kept once the caller decided to close. */
void bus_close(void *sock);

#endif
