/*
 * hub.c - the hub config schema (hub.h).
 */
#include "relayer/hub.h"

#include "attest/quorum.h"
#include "db/ingest.h"

#include <stddef.h>
#include <string.h>

#define F(field) offsetof(hub_config, field)

static const cfg_key schema[] = {
    {"hub", "data", CFG_PATH, 1, 0, 0, F(data)},
    {"hub", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"hub", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
    {"hub", "map_max_mb", CFG_U64, 0, 16, 1ull << 24, F(map_max_mb)},
    {"hub", "commit_max_records", CFG_U64, 0, 1, 1000000, F(commit_max_records)},
    {"hub", "commit_delay_ms", CFG_U64, 0, 1, 60000, F(commit_delay_ms)},
    {"hub", "commit_load_records", CFG_U64, 0, 0, 1000000, F(commit_load_records)},
    {"hub", "commit_load_delay_ms", CFG_U64, 0, 1, 60000, F(commit_load_delay_ms)},
    {"hub", "risk", CFG_PATH, 0, 0, 0, F(risk)},
    {"hub", "cosign_alert_ms", CFG_U64, 0, 1000, 86400000, F(cosign_alert_ms)},
    {"listen", "nodes", CFG_ENDPOINT, 1, 0, 0, F(nodes)},
    {"listen", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
    {"listen", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},
    {"listen", "venue", CFG_ENDPOINT, 0, 0, 0, F(venue)},
    {"listen", "calculator", CFG_ENDPOINT, 0, 0, 0, F(calculator)},
    {"allow", "node", CFG_PATHS, 1, 0, 0, F(allow_node)},
    {"allow", "venue", CFG_PATHS, 0, 0, 0, F(allow_venue)},
    {"allow", "subscriber", CFG_PATHS, 0, 0, 0, F(allow_subscriber)},
    {"allow", "calculator", CFG_PATHS, 0, 0, 0, F(allow_calculator)},
    {"prices", "max_deviation_bps", CFG_U64, 0, 0, 10000, F(price_max_dev_bps)},
    {"prices", "max_age_ms", CFG_U64, 0, 1, 86400000, F(price_max_age_ms)},
    {"prices", "heartbeat_ms", CFG_U64, 0, 1, 86400000, F(price_heartbeat_ms)},
    {"prices", "feeds", CFG_STRING, 0, 0, 0, F(price_feeds)},
    {"limits", "max_message_bytes", CFG_U64, 0, 1024, 16u << 20, F(max_message_bytes)},
    {"limits", "send_hwm", CFG_U64, 0, 100, 10000000, F(send_hwm)},
    {"limits", "handshake_ms", CFG_U64, 0, 100, 60000, F(handshake_ms)},
    {"limits", "frames_per_round", CFG_U64, 0, 1, 100000, F(frames_per_round)},
    {"limits", "catchup_per_second", CFG_U64, 0, 1, 100000, F(catchup_per_second)},
    {"limits", "catchup_hwm", CFG_U64, 0, 100, 10000000, F(catchup_hwm)},
    {"limits", "handshakes_per_minute", CFG_U64, 0, 1, 1000000, F(handshakes_per_minute)},
    {"limits", "pending_per_member", CFG_U64, 0, 1, 100000000, F(pending_per_member)},
    {"limits", "pending_ttl_ms", CFG_U64, 0, 1000, 604800000, F(pending_ttl_ms)},
    {"limits", "waiting_per_peer", CFG_U64, 0, 1, 10000000, F(waiting_per_peer)},
};

rl_err hub_config_load(const char *path, hub_config *out, rl_why *why)
{
    memset(out, 0, sizeof *out);
    out->map_max_mb = 65536;
    out->commit_max_records = INGEST_HUB_COMMIT_MAX;
    out->commit_delay_ms = 20;
    out->commit_load_records = INGEST_HUB_LOAD_RECORDS;
    out->commit_load_delay_ms = INGEST_HUB_LOAD_DELAY_MS;
    out->max_message_bytes = 65536;
    out->send_hwm = 100000;
    out->handshake_ms = 5000;
    out->frames_per_round = 256;
    out->catchup_per_second = 50;
    out->catchup_hwm = 8192;
    out->handshakes_per_minute = 60;
    out->pending_per_member = QUORUM_DEFAULT_PER_MEMBER;
    out->pending_ttl_ms = QUORUM_DEFAULT_TTL_MS;
    out->waiting_per_peer = HUB_WAITING_PER_PEER;
    out->price_max_dev_bps = 200;
    out->price_max_age_ms = 60000;
    out->price_heartbeat_ms = 10000;
    out->cosign_alert_ms = 60000;
    return cfg_load(path, schema, sizeof schema / sizeof schema[0], out, why);
}
