/*
 * cmd_follow.c - `relayer follow --config FILE`: a read-only replica of the hub's ledger.
 *
 * A replica (replica.h): every record checked as `audit verify` does before it is applied;
 * gaps caught up; killed and restarted, it carries on from its own head. A record that fails
 * the audit stops it (exit 1), naming the record: a replica never applies one.
 *
 *     # follow.conf
 *     [follow]
 *     data = replica                 ; its own LMDB directory
 *     key = keys/auditor.key         ; allow-listed at the hub as a subscriber
 *     relayers = relayers.json       ; the genesis set: the trust anchor
 *     checkpoint_records = 1000      ; sign the verified head after this many records (optional)
 *     checkpoint_ms = 10000          ; or after this long (optional)
 *     [hub]
 *     records = tcp://127.0.0.1:7402
 *     catchup = tcp://127.0.0.1:7403
 *     nodes = tcp://127.0.0.1:7401   ; optional: where checkpoints go (the key must be a member)
 *     key = keys/hub.pub
 *
 * With [hub] nodes and a member's key, the replica witnesses the heads it verified (replica.h);
 * `relayer checkpoint --config follow.conf` prints the newest quorum checkpoint it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/replica.h"

static const char USAGE[] = "usage: relayer follow --config FILE\n"
                            "\n"
                            "Keeps an audited replica of the hub's ledger, following its record stream\n"
                            "and catching up after gaps and restarts. Config:\n"
                            "  [follow] data = DIR, key = NAME.key, relayers = relayers.json,\n"
                            "           checkpoint_records = N (1000), checkpoint_ms = MS (10000)\n"
                            "  [hub]    records = ENDPOINT, catchup = ENDPOINT, key = hub.pub,\n"
                            "           nodes = ENDPOINT (optional: sign checkpoints, as a member)\n";

typedef struct follow_config {
    char data[CFG_STR_MAX], key[CFG_STR_MAX], relayers[CFG_STR_MAX];
    char records[CFG_STR_MAX], catchup[CFG_STR_MAX], hub_key[CFG_STR_MAX], nodes[CFG_STR_MAX];
    uint64_t checkpoint_records, checkpoint_ms;
} follow_config;

#define F(field) offsetof(follow_config, field)
static const cfg_key schema[] = {
    {"follow", "data", CFG_PATH, 1, 0, 0, F(data)},       {"follow", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"follow", "relayers", CFG_PATH, 1, 0, 0, F(relayers)}, {"hub", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
    {"hub", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},  {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
    {"hub", "nodes", CFG_ENDPOINT, 0, 0, 0, F(nodes)},
    {"follow", "checkpoint_records", CFG_U64, 0, 1, 1000000000, F(checkpoint_records)},
    {"follow", "checkpoint_ms", CFG_U64, 0, 100, 86400000, F(checkpoint_ms)},
};

int cmd_follow(int argc, char **argv)
{
    int rc;
    const char *config = daemon_config_arg(argc, argv, "follow", USAGE, &rc);
    if (config == NULL)
        return rc;
    log_init("follow", "", LOG_INFO);
    daemon_trap_signals();
    follow_config cfg = {.checkpoint_records = REPLICA_CHECKPOINT_RECORDS, .checkpoint_ms = REPLICA_CHECKPOINT_MS};
    node_key *key = NULL;
    node_pub hub;
    relset genesis;
    replica *r = NULL;
    rl_why why = {{0}};
    rl_err err = cfg_load(config, schema, sizeof schema / sizeof schema[0], &cfg, &why);
    if (err == RL_OK)
        err = keyfile_read(cfg.key, &key, &why);
    if (err == RL_OK)
        err = pubfile_read(cfg.hub_key, &hub, &why);
    if (err == RL_OK)
        err = relset_load(cfg.relayers, &genesis, &why);
    replica_opts o = {.data = cfg.data, .key = key, .hub = &hub, .genesis = &genesis, .records = cfg.records,
                      .catchup = cfg.catchup, .nodes = cfg.nodes[0] ? cfg.nodes : NULL,
                      .checkpoint_records = cfg.checkpoint_records, .checkpoint_ms = cfg.checkpoint_ms};
    if (err == RL_OK)
        err = replica_open(&r, &o, &why);
    if (err == RL_OK) {
        log_info("follower started", "head=%llu records=%s catchup=%s", (unsigned long long)replica_head(r),
                 cfg.records, cfg.catchup);
        while (!daemon_stopping && err == RL_OK)
            err = replica_poll(r, 50, &why);
    }
    rc = replica_exit(r, "follower", err, &why);
    replica_close(r);
    node_key_free(key);
    return rc;
}
