/*
 * record.h - the hash-chained log record.
 *
 * Every input and decision the hub accepts becomes one record. Each record carries the hash of
 * the record before it, so the log is a chain: changing, dropping or reordering any record breaks
 * every link after it. The signatures inside a record are the relayers' own (over observation
 * content hashes or relayer-set digests), so an auditor needs nothing from the hub to check them.
 *
 * Record, version 1 (integers big-endian):
 *
 *   offset  size  field
 *        0     1  version          = 1
 *        1     1  type             record_type below
 *        2     8  seq              1 for the genesis record, then +1 each
 *       10     8  time_ms          hub wall clock at apply, Unix ms; never below the previous
 *                                   record's (ledger.h T1); no chain reads it (instruction.h I1)
 *       18    32  prev             hash of record seq-1; all zero for seq 1
 *       50     4  payload_len      <= RECORD_MAX_PAYLOAD
 *       54     n  payload          layout by type, below
 *
 * record hash = BLAKE2b-256(personal "rly.record.v1", all bytes above)
 *
 * A signature list (sigs) is: count (1 byte, 1..64), then count entries of
 * member id (2) + ed25519 signature (64), member ids strictly ascending.
 *
 * Payloads:
 *   SET       set_len (2) | relayer set encoding (relset.h) | sigs
 *             Genesis (seq 1, set version 1) has an empty signature list (count 0): it is the
 *             trust anchor the auditor supplies. Later sets are signed over the set digest by a
 *             quorum of the set in force.
 *   ATTEST    observation (198) | sigs            a quorum-attested deposit; credits the ledger
 *   CONFLICT  reason (1) | credited (1) | variant A | variant B
 *             variant = observation (198) | sigs
 *             reason 1: same event id, different content; reason 2: same vault sequence number,
 *             different event. credited = 1 when A had already been credited before B arrived
 *             (the credit stands; the record is the alert). B never credits.
 *   PRICE     feed (16) | n (1) | n x (price observation (48) | member (2) | sig (64))
 *             members strictly ascending, n >= the threshold of the set in force (price.h)
 *   REQUEST   a venue's signed request (request.h), as the venue sent it
 *   DECISION  a calculator's signed decision (decision.h), as the calculator sent it
 *   INSTRUCTION  what a vault is asked to execute for a decision (instruction.h); unsigned:
 *            the ledger accepts it only as its decision's plan, and cosigners check it
 *   BUNDLE   an instruction's secp256k1 signatures by a quorum of the set (bundle.h), once
 *   EQUIVOCATION  evidence that one member signed two different observations of one event id:
 *
 *            offset  size  field
 *                 0     2  member         its member id in the set in force
 *                 2   198  observation A  the one the hub saw it sign first
 *               200    64  signature A    ed25519 over A's content hash
 *               264   198  observation B  the later one, which replaced A in the quorum
 *               462    64  signature B
 *                          (526 bytes)
 *
 *            Both observations decode and have one event id; their bytes differ. No ledger change:
 *            logged once per (event id, member), under payload_equivocation_key (ledger.h, E3).
 *   CHECKPOINT  a quorum checkpoint (checkpoint.h): seq (8), head (32), set version (4) after a
 *            version byte, then sigs; a log head that `threshold` members' replicas verified
 */
#ifndef RL_RECORD_H
#define RL_RECORD_H

#include <stdint.h>

#include "attest/bytes.h"
#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/obs.h"
#include "attest/price.h"
#include "attest/relset.h"

#define RECORD_VERSION 1
#define RECORD_HEADER_BYTES 54
#define RECORD_MAX_PAYLOAD 16384
#define RECORD_MAX_BYTES (RECORD_HEADER_BYTES + RECORD_MAX_PAYLOAD)
#define SIG_ENTRY_BYTES (2 + ED25519_SIG_BYTES)

enum record_type {
    RECORD_SET = 1,
    RECORD_ATTEST = 2,
    RECORD_CONFLICT = 3,
    RECORD_PRICE = 4,
    RECORD_REQUEST = 5,
    RECORD_DECISION = 6,
    RECORD_INSTRUCTION = 7,
    RECORD_BUNDLE = 8,
    RECORD_EQUIVOCATION = 9,
    RECORD_CHECKPOINT = 10,
};

enum conflict_reason {
    CONFLICT_CONTENT = 1,   /* one event id, two contents */
    CONFLICT_VAULT_SEQ = 2, /* one vault sequence number, two events */
};

typedef struct sig_entry {
    uint16_t member;
    uint8_t sig[ED25519_SIG_BYTES];
} sig_entry;

typedef struct sig_list {
    uint8_t n;
    sig_entry e[RELSET_MAX_MEMBERS];
} sig_list;

/* A decoded record header; payload points into the buffer it was decoded from. */
typedef struct record {
    uint8_t type;
    uint64_t seq;
    uint64_t time_ms;
    uint8_t prev[HASH_BYTES];
    const uint8_t *payload;
    uint32_t payload_len;
} record;

typedef struct signed_variant {
    uint8_t obs[OBS_BYTES];
    sig_list sigs;
} signed_variant;

/* Typed payloads. */
typedef struct payload_set {
    relset set;
    sig_list sigs;
} payload_set;

typedef signed_variant payload_attest;

typedef struct payload_conflict {
    uint8_t reason;
    uint8_t credited;
    signed_variant a, b;
} payload_conflict;

/* a.member and b.member are the one member named (the encoding writes it once). */
typedef struct payload_equivocation {
    signed_obs a, b;
} payload_equivocation;
#define EQUIVOCATION_PAYLOAD_BYTES (2 + 2 * (OBS_BYTES + ED25519_SIG_BYTES))

typedef struct payload_price {
    char feed[PRICE_FEED_BYTES + 1];
    uint8_t n;
    signed_price e[RELSET_MAX_MEMBERS];
} payload_price;

/* Encodes header + payload into out (RECORD_MAX_BYTES); *len gets the length. */
RL_MUST_USE rl_err record_encode(const record *r, uint8_t *out, size_t *len, rl_why *why);
/* Decodes the header and checks the payload is well-formed for its type (but not signatures
 * or quorum, which need the relayer set in force: see audit.h). r->payload points into in. */
RL_MUST_USE rl_err record_decode(record *r, const uint8_t *in, size_t len, rl_why *why);
void record_hash(uint8_t out[HASH_BYTES], const uint8_t *enc, size_t len);

/* Payload builders: write into out (RECORD_MAX_PAYLOAD), return the length via *len. */
RL_MUST_USE rl_err payload_set_encode(const payload_set *p, uint8_t *out, size_t *len, rl_why *why);
RL_MUST_USE rl_err payload_attest_encode(const payload_attest *p, uint8_t *out, size_t *len, rl_why *why);
RL_MUST_USE rl_err payload_conflict_encode(const payload_conflict *p, uint8_t *out, size_t *len, rl_why *why);
RL_MUST_USE rl_err payload_price_encode(const payload_price *p, uint8_t *out, size_t *len, rl_why *why);
RL_MUST_USE rl_err payload_equivocation_encode(const payload_equivocation *p, uint8_t *out, size_t *len, rl_why *why);

/* Payload parsers; strict, exactly payload_len bytes. */
RL_MUST_USE rl_err payload_set_decode(payload_set *p, const record *r, rl_why *why);
RL_MUST_USE rl_err payload_attest_decode(payload_attest *p, const record *r, rl_why *why);
RL_MUST_USE rl_err payload_conflict_decode(payload_conflict *p, const record *r, rl_why *why);
/* Also checks each observation decodes and is of the record's feed. */
RL_MUST_USE rl_err payload_price_decode(payload_price *p, const record *r, rl_why *why);
/* Also checks both observations decode, share one event id (written to event_id, may be NULL)
 * and differ. */
RL_MUST_USE rl_err payload_equivocation_decode(payload_equivocation *p, const record *r, uint8_t *event_id,
                                               rl_why *why);
/* The key an equivocation is logged once under: one per (event id, member). */
void payload_equivocation_key(uint8_t out[HASH_BYTES], const uint8_t event_id[HASH_BYTES], uint16_t member);

const char *record_type_name(uint8_t type);

/* A signature list (above), for payloads encoded elsewhere (checkpoint.h). put returns the end;
 * the list must pass sig_list_check (non-empty, at most RELSET_MAX_MEMBERS, members ascending).
 * read is strict and takes a non-empty list; `what` names the payload in why. */
RL_MUST_USE rl_err sig_list_check(const sig_list *s, rl_why *why);
uint8_t *sig_list_put(uint8_t *p, const sig_list *s);
RL_MUST_USE rl_err sig_list_read(reader *r, sig_list *s, const char *what, rl_why *why);

#endif
