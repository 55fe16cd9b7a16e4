/*
 * cmd_watch.c - `relayer watch --config FILE --chain NAME`: one relayer node's watcher of one
 * chain.
 *
 * It reads the chain's vault events in order, signs each observation with the node's key, and
 * sends them to the hub in numbered OBS messages over CURVE. A message is written to the node's
 * own LMDB outbox, together with the chain cursor it advances, before it is first sent; it
 * leaves the outbox only when the hub acknowledges it, and anything unacknowledged is resent
 * after a timeout and after a restart. So a watcher killed at any moment neither loses nor
 * skips an event.
 *
 * The chain side here is `source = sim`: the deterministic deposit stream of `relayer dev
 * simulate` (seed, events), for development and tests. The EVM source (JSON-RPC log scanning
 * with reorg handling) plugs in at next_events().
 *
 *     # node1.conf
 *     [node]
 *     key = keys/node1.key
 *     relayers = relayers.json       ; to find this node's member id
 *     data = node1                   ; the node's own LMDB: outbox and chain cursors
 *     [hub]
 *     nodes = tcp://127.0.0.1:7401
 *     key = keys/hub.pub
 *     [chain.l1]
 *     source = sim
 *     seed = 1
 *     events = 10000                 ; of the whole simulated stream (l1 has the even ones)
 *     per_message = 100
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "attest/bytes.h"
#include "db/store.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/sim.h"
#include "relayer/wire.h"

static const char USAGE[] = "usage: relayer watch --config FILE --chain NAME\n"
                            "\n"
                            "Watches one chain for this node: signs what it sees, sends it to the hub,\n"
                            "resends until acknowledged. Config: [node] key, relayers, data; [hub] nodes,\n"
                            "key; [chain.NAME] source = sim, seed, events, per_message.\n";

#define WINDOW 32        /* messages in flight */
#define RESEND_MS 1000
#define MAX_CHAIN_NAME 32

typedef struct watch_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], data[CFG_STR_MAX];
    char hub_nodes[CFG_STR_MAX], hub_key[CFG_STR_MAX];
    char source[CFG_STR_MAX];
    uint64_t seed, events, per_message;
} watch_config;

struct inflight_msg {
    uint64_t msg_id;
    uint64_t sent_ms; /* 0: not sent by this process yet */
    size_t len;
    uint8_t frame[WIRE_OBS_MAX * WIRE_SIGNED_OBS_BYTES + 16];
};

struct watcher {
    watch_config cfg;
    char chain[MAX_CHAIN_NAME + 1];
    uint64_t chain_id;
    node_key *key;
    uint16_t member;
    node_pub hub;
    store *st;
    bus *b;
    void *sock;
    sim_opts sim;
    uint64_t next_event, next_msg; /* the cursor: next stream index to read, next message id */
    struct inflight_msg win[WINDOW];
    size_t nwin;
    uint64_t acked, sent;
};

static rl_err load_config(struct watcher *w, const char *path, rl_why *why)
{
    char section[MAX_CHAIN_NAME + 8];
    snprintf(section, sizeof section, "chain.%s", w->chain);
#define F(field) offsetof(watch_config, field)
    const cfg_key schema[] = {
        {"node", "key", CFG_PATH, 1, 0, 0, F(key)},
        {"node", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
        {"node", "data", CFG_PATH, 1, 0, 0, F(data)},
        {"hub", "nodes", CFG_ENDPOINT, 1, 0, 0, F(hub_nodes)},
        {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
        {section, "source", CFG_STRING, 1, 0, 0, F(source)},
        {section, "seed", CFG_U64, 0, 0, UINT64_MAX, F(seed)},
        {section, "events", CFG_U64, 0, 0, UINT64_MAX, F(events)},
        {section, "per_message", CFG_U64, 0, 1, WIRE_OBS_MAX, F(per_message)},
    };
#undef F
    w->cfg.seed = 1;
    w->cfg.per_message = 100;
    rl_err err = cfg_load_part(path, schema, sizeof schema / sizeof schema[0], &w->cfg, CFG_NODE_FOREIGN, why);
    if (err == RL_ERR_ARG && strstr(why->text, "is required") != NULL && strstr(why->text, section) != NULL)
        rl_why_prefix(why, "no [%s] section, or it is incomplete: ", section);
    if (err == RL_OK && strcmp(w->cfg.source, "sim") != 0)
        err = rl_fail(why, RL_ERR_ARG, "%s: [%s] source: '%s' is not a source this build has (sim)", path, section,
                      w->cfg.source);
    if (err == RL_OK && strcmp(w->chain, "l1") != 0 && strcmp(w->chain, "l2") != 0)
        err = rl_fail(why, RL_ERR_ARG, "%s: [%s]: the sim source has chains l1 and l2", path, section);
    return err;
}

/* The cursor of this chain: next stream index and next message id. */
static rl_err cursor_read(struct watcher *w, rl_why *why)
{
    MDB_txn *txn;
    rl_err err = store_read_begin(w->st, &txn, why);
    if (err != RL_OK)
        return err;
    MDB_val v;
    err = store_get(txn, store_dbi(w->st, TABLE_CURSORS), w->chain, strlen(w->chain), &v, why);
    if (err == RL_OK && v.mv_size == 16) {
        w->next_event = be64_get(v.mv_data);
        w->next_msg = be64_get((uint8_t *)v.mv_data + 8);
    } else if (err == RL_ERR_NOTFOUND) {
        w->next_event = w->chain_id == SIM_CHAIN_L1 ? 0 : 1;
        w->next_msg = 1;
        err = RL_OK;
    } else if (err == RL_OK) {
        err = rl_fail(why, RL_ERR_DB, "%s: cursor of chain %s has %zu bytes", store_path(w->st), w->chain, v.mv_size);
    }
    /* The outbox: what was written before a stop and not acknowledged goes out again. */
    MDB_cursor *c;
    MDB_val k;
    uint8_t prefix[8];
    be64_put(prefix, w->chain_id);
    if (err == RL_OK && mdb_cursor_open(txn, store_dbi(w->st, TABLE_OUTBOX), &c) == 0) {
        k = (MDB_val){sizeof prefix, prefix};
        int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        while (rc == 0 && k.mv_size == 16 && memcmp(k.mv_data, prefix, 8) == 0 && w->nwin < WINDOW) {
            struct inflight_msg *m = &w->win[w->nwin++];
            m->msg_id = be64_get((uint8_t *)k.mv_data + 8);
            m->sent_ms = 0;
            m->len = v.mv_size <= sizeof m->frame ? v.mv_size : 0;
            memcpy(m->frame, v.mv_data, m->len);
            rc = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
    }
    store_read_end(txn);
    return err;
}

struct put_ctx {
    struct watcher *w;
    const struct inflight_msg *m;
    uint64_t next_event;
};

static void outbox_key(uint8_t k[16], uint64_t chain_id, uint64_t msg_id)
{
    be64_put(k, chain_id);
    be64_put(k + 8, msg_id);
}

/* The new message and the advanced cursor, in one transaction. */
static rl_err put_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct put_ctx *p = ctx;
    uint8_t k[16], cur[16];
    outbox_key(k, p->w->chain_id, p->m->msg_id);
    be64_put(cur, p->next_event);
    be64_put(cur + 8, p->m->msg_id + 1);
    rl_err err = store_put(txn, store_dbi(p->w->st, TABLE_OUTBOX), k, sizeof k, p->m->frame, p->m->len, 0, why);
    if (err == RL_OK)
        err = store_put(txn, store_dbi(p->w->st, TABLE_CURSORS), p->w->chain, strlen(p->w->chain), cur, sizeof cur, 0,
                        why);
    return err;
}

/* Reads the next events of this chain from the source, signs them, and writes the message. */
static rl_err next_message(struct watcher *w, rl_why *why)
{
    signed_obs so[WIRE_OBS_MAX];
    size_t n = 0;
    uint64_t at = w->next_event;
    for (; n < w->cfg.per_message && at < w->cfg.events; at += 2, n++) {
        obs o;
        uint8_t enc[OBS_BYTES];
        sim_event(&w->sim, at, &o);
        rl_err err = obs_encode(enc, &o, why);
        if (err != RL_OK)
            return err;
        obs_sign(&so[n], enc, w->member, w->key);
    }
    if (n == 0)
        return RL_OK;
    struct inflight_msg *m = &w->win[w->nwin];
    m->msg_id = w->next_msg;
    m->sent_ms = 0;
    m->len = wire_encode_obs(m->frame, sizeof m->frame, m->msg_id, so, n);
    struct put_ctx p = {w, m, at};
    rl_err err = store_write(w->st, put_fn, &p, why);
    if (err != RL_OK)
        return err;
    w->nwin++;
    w->next_event = at;
    w->next_msg++;
    return RL_OK;
}

static rl_err del_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct watcher *w = ctx;
    for (size_t i = 0; i < w->nwin; i++) {
        if (w->win[i].sent_ms != UINT64_MAX)
            continue;
        uint8_t k[16];
        outbox_key(k, w->chain_id, w->win[i].msg_id);
        MDB_val key = {sizeof k, k};
        int rc = mdb_del(txn, store_dbi(w->st, TABLE_OUTBOX), &key, NULL);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return store_err(rc, "outbox delete", why);
    }
    return RL_OK;
}

/* Reads acknowledgements; acknowledged messages leave the outbox (marked, then deleted). */
static rl_err take_acks(struct watcher *w, rl_why *why)
{
    uint8_t frame[WIRE_ACK_MAX * 9 + 16];
    int got;
    size_t done = 0;
    while ((got = zmq_recv(w->sock, frame, sizeof frame, ZMQ_DONTWAIT)) >= 0) {
        wire_msg m;
        rl_why bad = {{0}};
        if ((size_t)got > sizeof frame || wire_decode(&m, frame, (size_t)got, &bad) != RL_OK || m.type != WIRE_ACK) {
            log_warn("frame from the hub dropped", "why=\"%s\"", bad.text[0] ? bad.text : "not an ACK");
            continue;
        }
        for (size_t i = 0; i < m.n; i++) {
            wire_ack a = wire_ack_at(&m, i);
            for (size_t k = 0; k < w->nwin; k++) {
                if (w->win[k].msg_id != a.msg_id || w->win[k].sent_ms == UINT64_MAX)
                    continue;
                if (a.status == WIRE_ACK_REFUSED)
                    log_warn("hub refused observations of a message", "msg=%llu", (unsigned long long)a.msg_id);
                w->win[k].sent_ms = UINT64_MAX;
                done++;
            }
        }
    }
    if (done == 0)
        return RL_OK;
    rl_err err = store_write(w->st, del_fn, w, why);
    if (err != RL_OK)
        return err;
    size_t keep = 0;
    for (size_t i = 0; i < w->nwin; i++)
        if (w->win[i].sent_ms != UINT64_MAX)
            w->win[keep++] = w->win[i];
    w->nwin = keep;
    w->acked += done;
    return RL_OK;
}

static void send_due(struct watcher *w)
{
    uint64_t now = mono_ms();
    for (size_t i = 0; i < w->nwin; i++) {
        struct inflight_msg *m = &w->win[i];
        if (m->sent_ms != 0 && now - m->sent_ms < RESEND_MS)
            continue;
        if (zmq_send(w->sock, m->frame, m->len, ZMQ_DONTWAIT) < 0)
            return; /* the hub is not reachable yet: try again next turn */
        m->sent_ms = now;
        w->sent++;
    }
}

static rl_err watcher_open(struct watcher *w, const char *path, rl_why *why)
{
    rl_err err = load_config(w, path, why);
    relset set;
    if (err == RL_OK)
        err = keyfile_read(w->cfg.key, &w->key, why);
    if (err == RL_OK)
        err = relset_load(w->cfg.relayers, &set, why);
    if (err == RL_OK) {
        const relset_member *m = relset_find_key(&set, node_key_pub(w->key)->ed25519);
        if (m == NULL)
            err = rl_fail(why, RL_ERR_ARG, "%s: the key in %s is not a member of the relayer set", w->cfg.relayers,
                          w->cfg.key);
        else
            w->member = m->id;
    }
    if (err == RL_OK)
        err = pubfile_read(w->cfg.hub_key, &w->hub, why);
    w->chain_id = strcmp(w->chain, "l1") == 0 ? SIM_CHAIN_L1 : SIM_CHAIN_L2;
    w->sim = (sim_opts){.events = w->cfg.events, .seed = w->cfg.seed};
    if (err == RL_OK)
        err = store_open(&w->st, w->cfg.data, NULL, why);
    if (err == RL_OK)
        err = cursor_read(w, why);
    if (err == RL_OK)
        err = bus_new(&w->b, NULL, NULL, why);
    if (err == RL_OK &&
        (w->sock = bus_client(w->b, ZMQ_DEALER, w->key, w->hub.x25519, w->cfg.hub_nodes, NULL, why)) == NULL)
        err = RL_ERR_IO;
    return err;
}

static void watcher_close(struct watcher *w)
{
    bus_close(w->sock);
    bus_free(w->b);
    store_close(w->st);
    node_key_free(w->key);
}

static rl_err watcher_run(struct watcher *w, rl_why *why)
{
    rl_err err = RL_OK;
    uint64_t last_log = mono_ms();
    bool done_logged = false;
    while (!daemon_stopping && err == RL_OK) {
        while (err == RL_OK && w->nwin < WINDOW && w->next_event < w->cfg.events)
            err = next_message(w, why);
        if (err != RL_OK)
            break;
        send_due(w);
        zmq_pollitem_t it = {w->sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 20);
        err = take_acks(w, why);
        if (mono_ms() - last_log >= 5000) {
            log_info("progress", "chain=%s next_event=%llu acked_msgs=%llu outbox=%zu", w->chain,
                     (unsigned long long)w->next_event, (unsigned long long)w->acked, w->nwin);
            last_log = mono_ms();
        }
        if (!done_logged && w->nwin == 0 && w->next_event >= w->cfg.events) {
            log_info("everything seen is acknowledged", "chain=%s next_event=%llu", w->chain,
                     (unsigned long long)w->next_event);
            done_logged = true;
        }
    }
    return err;
}

int cmd_watch(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"chain", required_argument, NULL, 'n'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *config = NULL, *chain = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'n': chain = optarg; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (config == NULL || chain == NULL || optind != argc || strlen(chain) > MAX_CHAIN_NAME) {
        fprintf(stderr, "relayer watch: --config and --chain are required\n%s", USAGE);
        return EXIT_USAGE;
    }
    struct watcher *w = calloc(1, sizeof *w);
    if (w == NULL)
        return EXIT_USAGE;
    snprintf(w->chain, sizeof w->chain, "%s", chain);
    daemon_trap_signals();
    rl_why why = {{0}};
    rl_err err = watcher_open(w, config, &why);
    log_init("watch", w->key ? node_key_pub(w->key)->name : "", LOG_INFO);
    if (err == RL_OK) {
        log_info("watcher started", "chain=%s member=%u next_event=%llu outbox=%zu hub=%s", w->chain, w->member,
                 (unsigned long long)w->next_event, w->nwin, w->cfg.hub_nodes);
        err = watcher_run(w, &why);
    }
    if (err == RL_OK)
        log_info("watcher stopped", "chain=%s next_event=%llu outbox=%zu", w->chain, (unsigned long long)w->next_event,
                 w->nwin);
    else
        log_error("watcher failed", "chain=%s why=\"%s\"", w->chain, why.text[0] ? why.text : rl_strerror(err));
    watcher_close(w);
    free(w);
    return err == RL_OK ? 0 : EXIT_USAGE;
}
