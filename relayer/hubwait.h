/*
 * hubwait.h - the hub's messages awaiting acknowledgement: an OBS message until every event in
 * it is settled in a committed record, a SUBMIT until its key is logged (relayer/cmd_hub.c).
 *
 * Each step is O(1) or O(ids in the message), never a pass over every waiting message:
 *   - a resend of a message still waiting is found by a hash of (socket, route, msg_id);
 *   - a new message is looked up in the ledger once (hubwait_check_new): what is settled already
 *     (a resend after a lost acknowledgement) is answered at once, the rest is indexed by event
 *     id or submission key;
 *   - each record published names the ids it may settle (hubwait_record_ids); only the messages
 *     indexed under them are looked at again (hubwait_nominate), and the ledger decides.
 * A record not in the ledger when a new message is looked up has a sequence number past what
 * was published then, so it is published (and nominates its ids) later: nothing is missed.
 *
 * Bounds: at most per_peer messages per peer (the name its key has in the allow-list); past it
 * the peer's oldest is forgotten and counted. Forgetting one loses nothing: the sender resends
 * what is not acknowledged (the node every second, cmd_watch.c), the resend is a new entry, and
 * observations are taken whether or not their message is waiting. Submissions not logged after
 * HUBWAIT_SUBMIT_TIMEOUT_MS are forgotten without an answer (the ledger refused them or they
 * are still queued; the sender's resend is checked afresh).
 */
#ifndef RL_HUBWAIT_H
#define RL_HUBWAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uthash.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "relayer/wire.h"

#define HUBWAIT_SUBMIT_TIMEOUT_MS 30000

/* One message awaiting acknowledgement. The caller fills the fields from `submit` to `ids`
 * between hubwait_add and the next hubwait_check_new; the rest is hubwait's. */
struct waiting {
    void *sock; /* where to acknowledge (borrowed) */
    uint8_t route[256];
    size_t route_len;
    uint64_t msg_id;
    uint64_t since_ms;
    bool submit; /* ids[0] is the request or decision key; digest hashes the payload sent */
    uint8_t digest[HASH_BYTES];
    bool refused;
    size_t n;
    uint8_t ids[WIRE_OBS_MAX][HASH_BYTES];
    /* hubwait's own */
    struct hubwait_peer *peer;
    struct waiting *prev, *next;         /* in its peer's list, oldest first */
    struct waiting *fresh_next;          /* in the list of entries not looked up yet */
    struct waiting *sub_prev, *sub_next; /* submissions only: all of them, oldest first */
    bool fresh;
    size_t unsettled;                    /* ids indexed and not settled yet */
    uint64_t pending[(WIRE_OBS_MAX + 63) / 64]; /* bit k: ids[k] is indexed, not settled */
    uint8_t key[sizeof(void *) + 8 + 256]; /* sock | msg_id | route: what a resend repeats */
    size_t key_len;
    UT_hash_handle hh;
};

typedef struct hubwait hubwait;

typedef struct hubwait_stats {
    size_t waiting;          /* messages waiting now */
    uint64_t over_budget;    /* forgotten past their peer's bound */
    uint64_t submits_forgot; /* submissions forgotten after the timeout */
} hubwait_stats;

/* Callbacks of the hub: whether ids[k] of m (or m's key, for a submission) is settled in the
 * ledger (a submission's check also sets m->refused when the key holds other bytes); answering
 * m (an ACK on m->sock); a submission forgotten after the timeout. */
typedef struct hubwait_ops {
    bool (*settled)(void *ctx, struct waiting *m, const uint8_t id[HASH_BYTES]);
    void (*answer)(void *ctx, const struct waiting *m);
    void (*forgot)(void *ctx, const struct waiting *m);
    void *ctx;
} hubwait_ops;

RL_MUST_USE rl_err hubwait_new(hubwait **out, size_t per_peer, const hubwait_ops *ops);
void hubwait_free(hubwait *w);

/* A new entry for (sock, route, msg_id) from peer, or NULL: one is waiting already (a resend)
 * or out of memory. Past per_peer entries of peer, its oldest is forgotten. Valid until the next
 * hubwait call but hubwait_add. */
struct waiting *hubwait_add(hubwait *w, void *sock, const char *peer, const uint8_t *route, size_t route_len,
                            uint64_t msg_id, uint64_t now_ms);

/* Looks the entries added since the last call up (ops.settled), answers those settled, indexes
 * the rest; forgets submissions past the timeout. */
void hubwait_check_new(hubwait *w, uint64_t now_ms);

/* A committed record may have settled id: the entries indexed under it look again. */
void hubwait_nominate(hubwait *w, const uint8_t id[HASH_BYTES]);

/* The ids a record may settle, into out (at most 2): an ATTEST's event, a CONFLICT's two events,
 * a REQUEST's or DECISION's key. 0 for any other record or one that does not decode. */
size_t hubwait_record_ids(const uint8_t *rec, size_t len, uint8_t out[2][HASH_BYTES]);

hubwait_stats hubwait_get_stats(const hubwait *w);

#endif
