/*
 * hub.h - the hub daemon's config (`relayer hub --config FILE`).
 *
 *     # hub.conf
 *     [hub]
 *     data = hub                     ; LMDB directory (created)
 *     key = keys/hub.key             ; the hub's identity: its CURVE key
 *     relayers = relayers.json       ; the genesis relayer set
 *     map_max_mb = 65536             ; LMDB map limit; the map grows on demand up to it
 *     commit_max_records = 16384     ; group commit bounds
 *     commit_delay_ms = 20
 *     commit_load_records = 1024     ; a commit this large means load: the next one waits for twice
 *     commit_load_delay_ms = 400     ; as many records or this long (db/ingest.h); 0 records: off
 *     risk = risk.json               ; optional: the risk parameters in force (collateral/spec.h).
 *                                    ; The price rule (max deviation, max age) then comes from it,
 *                                    ; overriding [prices], and a calculator's decision made under
 *                                    ; any other parameters (another risk digest) is refused
 *     cosign_alert_ms = 60000        ; an instruction short of its threshold of co-signatures this
 *                                    ; long is alerted (log, status), then after 2x, 4x ... (hubcosig.h)
 *
 *     [listen]
 *     nodes = tcp://127.0.0.1:7401    ; ROUTER: observations in, acknowledgements out
 *     records = tcp://127.0.0.1:7402  ; PUB: every committed record, numbered
 *     catchup = tcp://127.0.0.1:7403  ; ROUTER: "records from N" for subscribers
 *     venue = tcp://127.0.0.1:7404    ; ROUTER: venue requests (optional)
 *     calculator = tcp://127.0.0.1:7405 ; ROUTER: the margin calculator's decisions (optional)
 *
 *     [allow]                        ; public key files (.pub) admitted per role; repeat the key
 *     node = keys/node1.pub
 *     subscriber = keys/auditor.pub
 *     venue = keys/venue.pub
 *     calculator = keys/calc.pub
 *
 *     [prices]                       ; when a quorum of price observations is logged (price.h);
 *     max_deviation_bps = 200        ; without [hub] risk: keep these equal to the risk file's
 *     max_age_ms = 60000
 *     heartbeat_ms = 10000           ; an unmoved price is logged again at most this often
 *     feeds = ETH BTC                ; the feeds prices are taken for (spaces or commas), added to
 *                                    ; the risk file's assets' and markets' feeds; any other feed is
 *                                    ; refused. With neither, no price is taken
 *
 *     [limits]
 *     max_message_bytes = 65536      ; larger frames drop the sender's connection
 *     send_hwm = 100000              ; messages queued per peer before a slow one loses frames
 *     handshake_ms = 5000            ; a connection that has not completed its CURVE handshake by
 *                                    ; then is closed (ZMQ_HANDSHAKE_IVL): a stranger holding
 *                                    ; plain TCP connections ties up a descriptor this long
 *     frames_per_round = 256         ; frames (and the price signatures they make the loop check)
 *                                    ; read from the nodes socket per loop round, so a flood
 *                                    ; cannot starve commits, acknowledgements, status
 *     catchup_per_second = 50        ; catch-up requests answered per subscriber key per second
 *     catchup_hwm = 8192             ; catch-up frames queued per connection (more are dropped;
 *                                    ; the subscriber asks again)
 *     handshakes_per_minute = 60     ; connections admitted per allowed key and role per minute:
 *                                    ; one key cannot pile up connections by reconnecting
 *     pending_per_member = 16384     ; events short of a quorum each member may hold signatures of;
 *                                    ; past it the member's oldest is dropped (quorum.h, Budgets)
 *     pending_ttl_ms = 600000        ; a signature of an event short of a quorum is dropped after
 *                                    ; this; drops are logged (warn) and counted in status. The
 *                                    ; node resends what is unacknowledged, so no credit is lost
 *     waiting_per_peer = 4096        ; messages awaiting acknowledgement per peer key; past
 *                                    ; it the oldest is forgotten (counted) and answered on resend
 */
#ifndef RL_HUB_H
#define RL_HUB_H

#include "attest/record.h"
#include "relayer/config.h"

#define HUB_BATCH_OBS 8192
#define HUB_BATCH_COSIG 4096 /* co-signatures checked as one batch */
#define HUB_FRAME_MAX (RECORD_MAX_BYTES + 64)
#define HUB_WAITING_PER_PEER 4096 /* messages awaiting acknowledgement per peer (its key name) */

typedef struct hub_config {
    char data[CFG_STR_MAX], key[CFG_STR_MAX], relayers[CFG_STR_MAX], risk[CFG_STR_MAX];
    uint64_t map_max_mb, commit_max_records, commit_delay_ms, commit_load_records, commit_load_delay_ms;
    char nodes[CFG_STR_MAX], records[CFG_STR_MAX], catchup[CFG_STR_MAX], venue[CFG_STR_MAX], calculator[CFG_STR_MAX];
    cfg_list allow_node, allow_venue, allow_subscriber, allow_calculator;
    uint64_t price_max_dev_bps, price_max_age_ms, price_heartbeat_ms;
    uint64_t max_message_bytes, send_hwm, handshake_ms, frames_per_round, catchup_per_second, catchup_hwm;
    uint64_t handshakes_per_minute;
    uint64_t pending_per_member, pending_ttl_ms, waiting_per_peer;
    char price_feeds[CFG_STR_MAX];
    uint64_t cosign_alert_ms;
} hub_config;

/* Defaults, then the file; errors name the file, line and key. */
RL_MUST_USE rl_err hub_config_load(const char *path, hub_config *out, rl_why *why);

#endif
