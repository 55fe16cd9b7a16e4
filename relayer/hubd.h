/*
 * hubd.h - the hub daemon's state, shared by its files: cmd_hub.c (sockets, observations,
 * submissions, records, the loop), cmd_hub_cosign.c (instructions, co-signatures, bundles) and
 * cmd_hub_ckpt.c (nodes' checkpoint signatures, CHECKPOINT records).
 * Private to them.
 */
#ifndef RL_HUBD_H
#define RL_HUBD_H

#include "db/ingest.h"
#include "relayer/bus.h"
#include "relayer/hub.h"
#include "relayer/hubckpt.h"
#include "relayer/hubcosig.h"
#include "relayer/hubinstr.h"
#include "relayer/hublimits.h"
#include "relayer/hubprice.h"
#include "relayer/hubwait.h"
#include "relayer/keyfile.h"
#include "relayer/wire.h"

#define INSTRUCTION_RETRY_MS 30000 /* an instruction the ledger refused is built again after this */

/* A node heard from, for `relayer status`. */
struct peer_seen {
    char name[NODE_NAME_MAX + 1];
    uint64_t last_ms, messages;
};

struct hub {
    hub_config cfg;
    struct peer_seen peers[CFG_LIST_MAX];
    size_t npeers;
    uint64_t status_ms;
    node_key *key;
    node_pub allowed_nodes[CFG_LIST_MAX], allowed_venues[CFG_LIST_MAX], allowed_calcs[CFG_LIST_MAX];
    size_t nallowed, nvenues, ncalcs;
    hubprice *prices;
    payload_price *pp;
    uint8_t *payload;
    uint64_t prices_logged;
    uint8_t cluster[HASH_BYTES]; /* the cluster id: the genesis set's digest (the owners' EIP-712 salt) */
    bool pin_risk; /* [hub] risk given: decisions must carry its digest; instructions follow it */
    mg_risk risk;
    hubinstr *instr;
    hubcosig *cosig;
    uint64_t bundles_logged;
    uint64_t instr_head, instr_ms; /* when the plans were last looked at */
    uint64_t bundles_head, bundles_ms; /* when the co-signatures were last looked at */
    bool cosig_news;                   /* a co-signature came in since */
    size_t cosig_short;                /* short of the threshold past cosign_alert_ms, at the last scan */
    hubckpt *ckpt;
    checkpoint_signed ckpt_ready; /* the quorum checkpoint being logged */
    uint64_t checkpoints_logged, ckpt_cpu_ns; /* thread CPU spent on checkpoint messages and records */
    store *st;
    pool *pool;
    ingest *g;
    bus *b;
    void *nodes, *records, *catchup, *venue, *calc;
    signed_obs *batch;
    size_t nbatch;
    hubcosig_sig *cosigs; /* COSIG messages received, checked together */
    size_t ncosigs;
    hubwait *wait;   /* messages awaiting acknowledgement */
    MDB_txn *ack_txn; /* the read transaction hubwait's callbacks look up in, while they run */
    uint64_t published;
    uint8_t *frame;
    hublimits_rate catchup_rate; /* catch-up requests per subscriber key per second */
    uint64_t status_failures;    /* status.json writes that failed (retried the next second) */
};

/* The allow-listed node key of the peer named so by ZAP; NULL when none. */
const node_pub *hub_peer_pub(const struct hub *h, const char *name);

/* cmd_hub_cosign.c. Instructions for the plans the ledger holds (after new records, and every
 * second for retries); each record published live that is an instruction, and at start every
 * open one without a bundle, watched for co-signatures; COSIG messages queued as they arrive, then checked
 * as one batch; the bundles due logged; the alerts of instructions short of their threshold. */
RL_MUST_USE rl_err hub_instruct(struct hub *h, rl_why *why);
RL_MUST_USE rl_err hub_watch_open_instructions(struct hub *h, rl_why *why);
RL_MUST_USE rl_err hub_watch_record(struct hub *h, MDB_txn *txn, uint64_t seq, const uint8_t *rec, size_t len,
                                    rl_why *why);
void hub_queue_cosig(struct hub *h, const wire_msg *m, const char *peer);
void hub_take_cosigs(struct hub *h);
RL_MUST_USE rl_err hub_log_bundles(struct hub *h, uint64_t now, rl_why *why);
void hub_cosig_alerts(struct hub *h);

/* cmd_hub_ckpt.c. The collection, from the latest CHECKPOINT the ledger holds; one CHECKPOINT
 * message (from its member's connection) checked, counted, and a quorum logged. */
RL_MUST_USE rl_err hub_checkpoints_open(struct hub *h, rl_why *why);
void hub_take_checkpoint(struct hub *h, const wire_msg *m, const char *peer);
/* For status.json: {"logged", "latest_seq", "held", "cpu_ms"} (new reference). */
json_t *hub_checkpoints_json(const struct hub *h);

#endif
