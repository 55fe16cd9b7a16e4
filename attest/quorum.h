/*
 * quorum.h - turning individual signed observations into attested events.
 *
 * Signatures arrive one at a time, already verified (see vpool.h); quorum_add groups them by
 * event id and content hash. An event is attested when `threshold` distinct members of the set
 * in force signed byte-identical content. A second content for the same event id is a conflict:
 * the event never credits from this aggregator, and the caller logs a CONFLICT record carrying
 * both signed versions.
 *
 * The aggregator forgets an event once it settles (attested or conflict); remembering settled
 * events is the ledger's job (its event index), and callers check it before calling quorum_add.
 * Pending state is memory only: senders resend what the hub has not acknowledged.
 */
#ifndef RL_QUORUM_H
#define RL_QUORUM_H

#include <stddef.h>

#include "attest/error.h"
#include "attest/obs.h"
#include "attest/record.h"
#include "attest/relset.h"

typedef enum quorum_status {
    QUORUM_PENDING,   /* counted; not enough signers yet */
    QUORUM_DUPLICATE, /* this member already signed this content: no-op */
    QUORUM_ATTESTED,  /* res->attest holds the observation and `threshold` signatures */
    QUORUM_CONFLICT,  /* res->conflict holds the first and the new content */
} quorum_status;

typedef struct quorum_result {
    quorum_status status;
    uint8_t event_id[HASH_BYTES];
    payload_attest attest;
    payload_conflict conflict;
} quorum_result;

typedef struct quorum quorum;

/* Aggregator for one relayer set; the set must outlive it (or be replaced by quorum_reset). */
RL_MUST_USE rl_err quorum_new(quorum **out, const relset *set);
void quorum_free(quorum *q);

/* Adds one verified signed observation. event_id and content are its event id and content
 * hash (the caller computed them to verify). RL_ERR_SIGNER when the member is not in the set. */
RL_MUST_USE rl_err quorum_add(quorum *q, const signed_obs *so, const uint8_t event_id[HASH_BYTES],
                              const uint8_t content[HASH_BYTES], quorum_result *res);

/* How many members have signed exactly this content of this event so far (0 when the event is
 * not pending or is pending with another content). */
unsigned quorum_signers(const quorum *q, const uint8_t event_id[HASH_BYTES], const uint8_t content[HASH_BYTES]);

/* Drops all pending state and adopts a new set (after a rotation). */
void quorum_reset(quorum *q, const relset *set);

/* Events with some signatures but no decision yet. */
size_t quorum_pending(const quorum *q);

#endif
