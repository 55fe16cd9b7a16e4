/*
 * hubclient.h - a process's DEALER connection to the hub as a node or a venue: its key file, the
 * hub's public key, CURVE, and the frames it sends. Shared by `relayer venue`, `relayer price
 * send` and `relayer oracle`, so that a price observation is signed and framed in one place.
 */
#ifndef RL_HUBCLIENT_H
#define RL_HUBCLIENT_H

#include <stdint.h>

#include "attest/error.h"
#include "attest/keys.h"
#include "attest/obs.h"
#include "attest/price.h"
#include "relayer/bus.h"

typedef struct hubclient {
    node_key *key;   /* the process's own key (guarded memory) */
    uint16_t member; /* its id in the relayer set, once hubclient_member found it */
    bus *b;
    void *sock;      /* DEALER, CURVE client of the hub */
} hubclient;

/* Reads key_path and hub_key_path and connects to endpoint. On failure what was opened is
 * closed again. */
RL_MUST_USE rl_err hubclient_open(hubclient *c, const char *key_path, const char *hub_key_path, const char *endpoint,
                                  rl_why *why);
/* Finds the key's member id in the relayer set file; RL_ERR_ARG when it is not a member. */
RL_MUST_USE rl_err hubclient_member(hubclient *c, const char *relayers_path, rl_why *why);
/* Encodes o, signs it with the key as member, and sends it as a PRICE message numbered msg_id.
 * Prices are not acknowledged (wire.h): a lost one is superseded by the next. */
RL_MUST_USE rl_err hubclient_send_price(hubclient *c, const price_obs *o, uint64_t msg_id, rl_why *why);
/* Encodes o, signs it with the key as member, and sends it as an OBS message of one observation
 * numbered msg_id. The hub acknowledges it (wire.h); a caller that resends until it sees the
 * result in the log may drain and ignore the acknowledgements (hubclient_drain). */
RL_MUST_USE rl_err hubclient_send_obs(hubclient *c, const obs *o, uint64_t msg_id, rl_why *why);
/* Reads and discards whatever the hub sent (acknowledgements), without waiting. */
void hubclient_drain(hubclient *c);
/* Closes the socket, keeping unsent frames up to linger_ms (0: drop them), and frees the rest. */
void hubclient_close(hubclient *c, int linger_ms);

#endif
