/*
 * scan.h - the chain side of a watcher: reads one vault's events from an EVM chain, in order,
 * behind the chain's confirmation depth, through an rpc client (rpc.h). No sockets but the
 * client's, no files, no clock: the caller persists the state and decides when to step.
 *
 * One step (scan_step) reads the next bounded range of blocks:
 *
 *   1. target: the head (rpc_head: the lowest head every usable endpoint has) minus
 *      `confirmations`, or the node's `finalized` block when `finalized` is set. A block B is
 *      read once head >= B + confirmations.
 *   2. from = last scanned + 1, to = min(target, from + max_range - 1). Nothing to read: the last
 *      scanned block's hash is checked instead, so a reorg is noticed while the chain is idle.
 *   3. Every header from..to (one batch); each must link to its parent, and `from` to the last
 *      scanned block's hash. A broken link at `from` is a reorg (below). A broken link inside
 *      the range means the chain moved between answers: abstain.
 *   4. eth_getLogs for the vault and its three event topics, from..to. Every log must sit in a
 *      block whose hash is the one read in 3 (else abstain) and decode strictly (vaultlog.h).
 *   5. Sequence: events must carry next_seq, next_seq + 1, ... in block and log order. A gap
 *      (seq above the expected one) re-reads the blocks from the last event's block to the gap,
 *      one block at a time by block hash (EIP-234, another path through the node); events found
 *      that way fill it. A gap that stays is reported: the blocks before the gap's block are
 *      taken, the rest is read again on the next step. Never skipped.
 *   6. Before anything is handed out, each event is re-checked at its confirmation height: its
 *      transaction's receipt must succeed and hold the same log in the same block, the head must
 *      still be >= to + confirmations (or the finalized block >= to), and block `to` must still
 *      have the hash read in 3, which by the parent links vouches for every block of the range.
 *
 * Reorgs. The state keeps the hashes of the last SCAN_WINDOW blocks read (parent links checked),
 * with the vault sequence numbers each held. On a broken link the step walks back through the
 * window asking the node for each block's hash until one matches: the common ancestor. What was
 * read above it is dropped, the sequence rewinds to the first event dropped, and the next steps
 * read the new chain from the ancestor. Events dropped that way were already handed out (their
 * observations signed): the step reports them (scan_batch.reorg_dropped), since a reorg deeper
 * than the confirmation depth is an incident; the re-read events go out again, and the hub turns
 * a second, different content for one event id into a conflict instead of a second credit. A
 * reorg deeper than the window cannot be resolved safely: every step fails until an operator
 * acts.
 *
 * Errors are abstentions: any RPC failure, inconsistent answer or undecodable log fails the step
 * (nothing handed out, nothing advanced); the caller retries later. The state only changes when
 * the caller commits a batch (scan_commit) after storing it, with the messages built from its
 * events, in one transaction: a crash between the two reads the same range again.
 *
 * Checkpoint encoding (scan_state_encode; integers big-endian), stored by the caller:
 *
 *   1  version = 1
 *   1  flags: bit 0 started (something was read; otherwise reading begins at start_block)
 *   8  scanned          last block read completely
 *  32  scanned_hash
 *   8  next_seq         next vault sequence number expected
 *   8  last_event_block block of event next_seq - 1 (0 when none)
 *   2  n                window entries, blocks scanned - n + 1 .. scanned
 *   n x (32 hash | 8 first_seq | 4 events)   first_seq 0 when the block held no event
 */
#ifndef RL_SCAN_H
#define RL_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "bridges/evm/rpc.h"
#include "bridges/evm/vaultlog.h"

#define SCAN_WINDOW 128
#define SCAN_STATE_VERSION 1
#define SCAN_STATE_MAX_BYTES (60 + SCAN_WINDOW * 44)

typedef struct scan_opts {
    uint8_t vault[RPC_ADDR_BYTES];
    uint64_t confirmations; /* blocks on top of an event's block before it is read */
    bool finalized;         /* read up to the `finalized` block instead */
    uint64_t max_range;     /* blocks per step, >= 1 */
    uint64_t start_block;   /* where reading begins when there is no checkpoint */
} scan_opts;

typedef struct scan_block {
    uint8_t hash[RPC_HASH_BYTES];
    uint64_t first_seq; /* the first vault sequence number read in this block, 0: none */
    uint32_t events;    /* vault events read in this block */
} scan_block;

typedef struct scan_state {
    bool started;
    uint64_t scanned;
    uint8_t scanned_hash[RPC_HASH_BYTES];
    uint64_t next_seq;
    uint64_t last_event_block;
    size_t n;                     /* window entries */
    scan_block win[SCAN_WINDOW];  /* win[n - 1] is block `scanned`, win[0] is scanned - n + 1 */
} scan_state;

/* What one step found: the events to hand out and the state once they are stored. */
typedef struct scan_batch {
    vault_event *ev; /* in sequence order; owned by the batch */
    size_t n, cap;
    scan_state next;
    uint64_t from, to; /* the range read (to < from: none) */
    uint64_t target;   /* the highest block that may be read now */
    bool more;         /* blocks up to target remain: step again without waiting */
    /* a reorg was found (and the state rewound to the ancestor) */
    bool reorg;
    uint64_t reorg_ancestor, reorg_depth; /* depth: blocks dropped */
    uint64_t reorg_dropped, reorg_first_seq; /* events already handed out that were dropped */
    /* a gap in the vault's sequence that re-reading did not fill */
    bool gap;
    uint64_t gap_expected, gap_seen, gap_block;
    uint64_t gap_filled; /* events found by re-reading blocks one by one */
} scan_batch;

typedef struct scan scan;

/* A scanner over client c (borrowed; it must outlive the scanner) with opts o, resuming from
 * saved (NULL: nothing read yet). */
RL_MUST_USE rl_err scan_new(scan **out, rpc *c, const scan_opts *o, const scan_state *saved, rl_why *why);
void scan_free(scan *s);

/* The committed state. */
const scan_state *scan_get_state(const scan *s);

/* One step, as described above, handing out at most max_events events (fewer blocks are read
 * when they hold more; one block holding more than max_events is read when max_events allows).
 * On RL_OK *b holds the events and the next state (the batch may hold no events and still carry
 * progress or a rewind: store it either way). On failure nothing changed. b is initialised here;
 * release it with scan_batch_fini whatever the result. */
RL_MUST_USE rl_err scan_step(scan *s, size_t max_events, scan_batch *b, rl_why *why);

/* Adopts b->next after the caller stored it. */
void scan_commit(scan *s, const scan_batch *b);
void scan_batch_fini(scan_batch *b);

/* The checkpoint bytes (layout above); returns the length (<= SCAN_STATE_MAX_BYTES). */
size_t scan_state_encode(const scan_state *st, uint8_t out[SCAN_STATE_MAX_BYTES]);
/* Strict: every deviation (version, length, a window larger than SCAN_WINDOW or than the blocks
 * scanned) is RL_ERR_DECODE. */
RL_MUST_USE rl_err scan_state_decode(scan_state *st, const uint8_t *in, size_t len, rl_why *why);

#endif
