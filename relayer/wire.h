/*
 * wire.h - the bus's message frames. Every message is one ZeroMQ frame (after the routing frame
 * a ROUTER adds), version 1, integers big-endian:
 *
 *   OBS       node -> hub    1 | ver | msg_id (8) | n (2) | n x signed observation (264)
 *                            signed observation = observation (198) | member (2) | sig (64)
 *   ACK       hub -> node    2 | ver | n (2) | n x (msg_id (8) | status (1))
 *   RECORD    hub -> all     3 | ver | seq (8) | record (record.h)
 *   CATCHUP   sub -> hub     4 | ver | from_seq (8) | max (4)
 *   END       hub -> sub     5 | ver | head_seq (8)      after the records a CATCHUP asked for
 *   PRICE     node -> hub    6 | ver | msg_id (8) | n (2) | n x signed price (114)
 *                            signed price = price observation (48) | member (2) | sig (64)
 *   SUBMIT    venue or calculator -> hub
 *                            7 | ver | msg_id (8) | record type (1) | payload
 *                            a signed request (venue) or decision (calculator), as logged
 *   COSIG     node -> hub    8 | ver | instruction seq (8) | member (2) | sig (65)
 *                            the member's secp256k1 signature of the instruction's EIP-712 digest
 *   CHECKPOINT node -> hub   9 | ver | checkpoint body (45, attest/checkpoint.h) | member (2) | sig (64)
 *                            the member's ed25519 signature of a head its replica verified
 *
 * A node numbers its OBS messages and resends what is not acknowledged; the hub acknowledges a
 * message once every observation in it is settled in a committed record or refused for good,
 * so delivery is at least once and apply is idempotent. A SUBMIT is acknowledged the same way
 * once its key is in the log (settled when the logged one is the same bytes, refused when the
 * key holds something else or the hub refused it). PRICE messages are not acknowledged: a newer
 * observation supersedes a lost one; COSIG messages neither: a cosigner sends its signature
 * again until the instruction's BUNDLE is in the log; CHECKPOINT messages neither: a
 * replica sends its latest signed head again until a CHECKPOINT at or past it is in the log.
 * Decoding refuses anything but the exact layout, with a reason.
 */
#ifndef RL_WIRE_H
#define RL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "attest/checkpoint.h"
#include "attest/error.h"
#include "attest/obs.h"
#include "attest/price.h"
#include "attest/record.h"

#define WIRE_VERSION 1
#define WIRE_SIGNED_OBS_BYTES (OBS_BYTES + 2 + ED25519_SIG_BYTES)
#define WIRE_OBS_MAX 240 /* observations per OBS message: it stays under 64 KiB */
#define WIRE_ACK_MAX 4096
#define WIRE_PRICE_MAX 64

enum wire_type {
    WIRE_OBS = 1,
    WIRE_ACK = 2,
    WIRE_RECORD = 3,
    WIRE_CATCHUP = 4,
    WIRE_END = 5,
    WIRE_PRICE = 6,
    WIRE_SUBMIT = 7,
    WIRE_COSIG = 8,
    WIRE_CHECKPOINT = 9,
};

enum wire_ack_status {
    WIRE_ACK_SETTLED = 0, /* every observation is in a committed record, or was a no-op */
    WIRE_ACK_REFUSED = 1, /* at least one observation was refused for good (logged at the hub) */
};

typedef struct wire_ack {
    uint64_t msg_id;
    uint8_t status;
} wire_ack;

/* What any frame decodes to. Pointers point into the frame. */
typedef struct wire_msg {
    uint8_t type;
    uint64_t id;              /* OBS, PRICE, SUBMIT: msg_id; RECORD: seq; CATCHUP: from_seq; END: head_seq;
                                 COSIG: the instruction's seq; CHECKPOINT: the checkpoint's seq */
    uint32_t max;             /* CATCHUP */
    uint8_t record_type;      /* SUBMIT */
    size_t n;                 /* OBS, ACK: entries */
    const uint8_t *body;      /* OBS: n signed observations; ACK: n entries; RECORD: the record */
    size_t body_len;
} wire_msg;

RL_MUST_USE rl_err wire_decode(wire_msg *m, const uint8_t *frame, size_t len, rl_why *why);

/* The i-th signed observation of a decoded OBS message. */
void wire_obs_at(const wire_msg *m, size_t i, signed_obs *out);
/* The i-th signed price of a decoded PRICE message. */
void wire_price_at(const wire_msg *m, size_t i, signed_price *out);
/* The member and signature of a decoded COSIG message. */
void wire_cosig_of(const wire_msg *m, uint16_t *member, uint8_t sig[EVM_SIG_BYTES]);
/* The checkpoint, member and signature of a decoded CHECKPOINT message. */
void wire_checkpoint_of(const wire_msg *m, checkpoint *c, uint16_t *member, uint8_t sig[ED25519_SIG_BYTES]);
/* The i-th entry of a decoded ACK message. */
wire_ack wire_ack_at(const wire_msg *m, size_t i);

/* Encoders write into out (cap bytes) and return the length, or 0 when it does not fit. */
size_t wire_encode_obs(uint8_t *out, size_t cap, uint64_t msg_id, const signed_obs *so, size_t n);
size_t wire_encode_price(uint8_t *out, size_t cap, uint64_t msg_id, const signed_price *sp, size_t n);
size_t wire_encode_submit(uint8_t *out, size_t cap, uint64_t msg_id, uint8_t record_type, const uint8_t *payload,
                          size_t len);
size_t wire_encode_cosig(uint8_t *out, size_t cap, uint64_t instruction_seq, uint16_t member,
                         const uint8_t sig[EVM_SIG_BYTES]);
size_t wire_encode_checkpoint(uint8_t *out, size_t cap, const checkpoint *c, uint16_t member,
                              const uint8_t sig[ED25519_SIG_BYTES]);
size_t wire_encode_ack(uint8_t *out, size_t cap, const wire_ack *acks, size_t n);
size_t wire_encode_record(uint8_t *out, size_t cap, uint64_t seq, const uint8_t *rec, size_t len);
size_t wire_encode_catchup(uint8_t *out, size_t cap, uint64_t from_seq, uint32_t max);
size_t wire_encode_end(uint8_t *out, size_t cap, uint64_t head_seq);

#endif
