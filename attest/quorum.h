/*
 * quorum.h - turning individual signed observations into attested events.
 *
 * Signatures arrive one at a time, already verified (see vpool.h); quorum_add groups them by
 * event id and content hash. Each member counts for one content of an event at a time: its latest
 * signature replaces its earlier one (ledger.h, E2). An event is attested when `threshold`
 * distinct members of the set in force currently sign byte-identical content; the first content
 * to get there is the one credited, and the event then leaves the aggregator.
 *
 * A member that signs a second content of one event has equivocated: the result carries both of
 * its signed observations (res->equivocation), once per member while the event is here, for the
 * caller to log as an EQUIVOCATION record (ledger.h, E3). It is evidence, not a veto: with at most
 * threshold - 1 faulty members, nothing they sign blocks the content the honest members attest.
 *
 * An event already credited (closed, known to the caller from the ledger) may be added to again
 * with other content: should that content reach a quorum, the result is QUORUM_CONFLICT with the
 * late quorum in res->attest (the caller logs a CONFLICT with credited = 1; the credit stands).
 *
 * Memory per pending event is bounded by the set: at most one variant per member (an emptied
 * variant is dropped) and one signature slot per member. Closed events are a state the ledger
 * alone would not need (a credited event used to close on the first other signature): at most
 * QUORUM_MAX_CLOSED are kept, the oldest dropped first, so a faulty member signing another content
 * of every credited event costs bounded memory. Dropping one loses at most a late conflict's
 * alert, never a credit (ledger.h, E1). Remembering settled events is the
 * ledger's job (its event index); callers check it before calling quorum_add. Pending state is
 * memory only: senders resend what the hub has not acknowledged.
 *
 * Budgets. Pending state is bounded per member, not only per event: each member's latest
 * signature of a pending (or closed) event is one slot of that member, and a member holds at most
 * per_member slots (quorum_limit). Past its budget a member's oldest slot is dropped (its
 * signature leaves the event; an event left without any signature is freed), and quorum_expire
 * drops every slot older than ttl_ms. So a faulty member signing fresh events that never complete
 * holds at most per_member of them, and it cannot consume another member's budget: slots are
 * counted and dropped per member. Time is an argument (now_ms), never read here.
 *
 * Why a drop never loses a credit (E1 stays "credited once", and an honest quorum is still
 * credited): the hub acknowledges an OBS message only once every event in it is settled in a
 * committed record (relayer/hubwait.h: the ledger's event index decides, looked up when the
 * message arrives and again when a published record names the event), never while it is pending
 * here; a message the hub forgot (its waiting bound) is unacknowledged too. A node keeps each
 * unacknowledged message in its outbox and resends it every second, after a restart too
 * (relayer/cmd_watch.c, RESEND_MS), so a dropped signature comes back as a fresh one and the
 * event's quorum forms once the honest members' signatures are here together; the ledger's event
 * index still credits it once. A drop costs time, never a credit: at worst an honest member with
 * more than per_member events in flight waits for its resends.
 */
#ifndef RL_QUORUM_H
#define RL_QUORUM_H

#include <stdbool.h>
#include <stddef.h>

#include "attest/error.h"
#include "attest/obs.h"
#include "attest/record.h"
#include "attest/relset.h"

typedef enum quorum_status {
    QUORUM_PENDING,   /* counted; not enough signers yet */
    QUORUM_DUPLICATE, /* this member's latest signature is already of this content: no-op */
    QUORUM_ATTESTED,  /* res->attest holds the observation and `threshold` signatures */
    QUORUM_CONFLICT,  /* a closed event: res->attest holds a quorum of another content */
} quorum_status;

typedef struct quorum_result {
    quorum_status status;
    uint8_t event_id[HASH_BYTES];
    payload_attest attest;
    /* With any status but DUPLICATE: the member's earlier signed observation (a) and this one (b),
     * reported the first time the member switches content on this event. */
    bool equivocation;
    payload_equivocation equiv;
    size_t over_budget; /* this member's oldest slots dropped for this one (its budget) */
} quorum_result;

/* One member's pending slots and what was dropped of them since the set was adopted. */
typedef struct quorum_member_stats {
    uint16_t member;      /* its id */
    size_t pending;       /* its slots now */
    uint64_t over_budget; /* dropped past per_member, oldest first */
    uint64_t expired;     /* dropped by quorum_expire */
} quorum_member_stats;

typedef struct quorum quorum;

#define QUORUM_MAX_CLOSED 4096 /* closed events awaiting a late quorum */
/* Slots (pending signatures) a member may hold. About 1.2 KB of hub memory each with ingest's
 * bookkeeping (bench hostile), so one faulty member costs at most about 20 MB; an honest member
 * holds about a send window of them, and one past the budget loses time (resends), not credits. */
#define QUORUM_DEFAULT_PER_MEMBER 16384
#define QUORUM_DEFAULT_TTL_MS 600000 /* a pending signature is dropped after 10 minutes */

/* Aggregator for one relayer set; the set must outlive it (or be replaced by quorum_reset).
 * Starts with the default budget and TTL. */
RL_MUST_USE rl_err quorum_new(quorum **out, const relset *set);
void quorum_free(quorum *q);
/* Sets the budget per member and the TTL (0: the default), applied from the next add/expire. */
void quorum_limit(quorum *q, size_t per_member, uint64_t ttl_ms);

/* Adds one verified signed observation. event_id and content are its event id and content
 * hash (the caller computed them to verify). closed: the event is credited already with another
 * content (a quorum of this one is a late conflict). now_ms: when it arrived (the TTL counts
 * from the member's latest signature; a duplicate does not renew it). RL_ERR_SIGNER when the
 * member is not in the set. */
RL_MUST_USE rl_err quorum_add(quorum *q, const signed_obs *so, const uint8_t event_id[HASH_BYTES],
                              const uint8_t content[HASH_BYTES], bool closed, uint64_t now_ms, quorum_result *res);

/* Drops every signature that arrived ttl_ms or more before now_ms; how many. */
size_t quorum_expire(quorum *q, uint64_t now_ms);

/* The member at set position pos (0 .. set->n - 1): false past the end. */
bool quorum_member_at(const quorum *q, unsigned pos, quorum_member_stats *out);

/* How many members' latest signatures of this event are of exactly this content (0 when the
 * event is not pending). */
unsigned quorum_signers(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES]);

/* Whether the latest signature of this event by member (its id) is of exactly this content. */
bool quorum_signed(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES],
                   uint16_t member);

/* Drops all pending state and adopts a new set (after a rotation). */
void quorum_reset(quorum *q, const relset *set);

/* Events with some signatures but no decision yet. */
size_t quorum_pending(const quorum *q);

#endif
