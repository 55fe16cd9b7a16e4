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
 *     [hub]
 *     records = tcp://127.0.0.1:7402
 *     catchup = tcp://127.0.0.1:7403
 *     key = keys/hub.pub
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
                            "  [follow] data = DIR, key = NAME.key, relayers = relayers.json\n"
                            "  [hub]    records = ENDPOINT, catchup = ENDPOINT, key = hub.pub\n";

typedef struct follow_config {
    char data[CFG_STR_MAX], key[CFG_STR_MAX], relayers[CFG_STR_MAX];
    char records[CFG_STR_MAX], catchup[CFG_STR_MAX], hub_key[CFG_STR_MAX];
} follow_config;

#define F(field) offsetof(follow_config, field)
static const cfg_key schema[] = {
    {"follow", "data", CFG_PATH, 1, 0, 0, F(data)},       {"follow", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"follow", "relayers", CFG_PATH, 1, 0, 0, F(relayers)}, {"hub", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
    {"hub", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},  {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
};

int cmd_follow(int argc, char **argv)
{
    int rc;
    const char *config = daemon_config_arg(argc, argv, "follow", USAGE, &rc);
    if (config == NULL)
        return rc;
    log_init("follow", "", LOG_INFO);
    daemon_trap_signals();
    follow_config cfg;
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
                      .catchup = cfg.catchup};
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
