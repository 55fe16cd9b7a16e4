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
 * Two sources feed it. `source = evm` reads a CollateralVault on an EVM chain over JSON-RPC
 * (bridges/evm/scan.h: bounded ranges behind the confirmation depth or the `finalized` block,
 * reorg and sequence-gap handling, every event re-checked by receipt and block hash before it is
 * signed). Its checkpoint (last block read and its hash, the recent block hashes, the next vault
 * sequence number) is written in the same transaction as the messages built from what it read,
 * so after a stop it back-fills from exactly there. An RPC failure is an abstention: nothing is
 * signed, nothing advances, the next poll tries again. Every vault event becomes an observation
 * (Deposited: deposit, Executed: executed, SignersRotated: rotated), signed and sent the same way,
 * so the hub sees the vault's whole sequence. An Executed event whose nonce an observation cannot
 * carry (0, or 2^64 and above: the hub never issues one) is logged as an error and not sent; the
 * hub shows its number as a gap. `source = sim` is the deterministic deposit stream of `relayer dev
 * simulate` (seed, events), for development and tests.
 *
 *     [chain.l1]
 *     source = evm
 *     rpc = http://127.0.0.1:8545 https://backup.example/KEY   ; fail-over, in priority order
 *     chain_id = 1                   ; every endpoint must serve it (checked at start-up)
 *     vault = 0x5FbDB2315678afecb367f032d93F642f64180aa3
 *     confirmations = 12             ; an event is read once 12 blocks sit on top of its block
 *     ; finality = finalized         ; instead: read up to the node's `finalized` block
 *     poll_ms = 1000                 ; how often the head is asked for when caught up
 *     max_range = 1000               ; blocks per eth_getLogs
 *     max_response_bytes = 16777216  ; an answer larger once decoded (gzip undone) is refused
 *     start_block = 0                ; where reading begins without a checkpoint (the vault's
 *                                    ; deployment block); the sequence starts at the vault's
 *                                    ; eventSeq() just before it
 *     per_message = 100
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
#include "attest/hex.h"
#include "bridges/evm/rpc.h"
#include "bridges/evm/scan.h"
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
                            "key; [chain.NAME] source = evm, rpc (URLs), chain_id, vault, confirmations or\n"
                            "finality = finalized, poll_ms, max_range, start_block, per_message; or\n"
                            "source = sim, seed, events, per_message.\n";

#define WINDOW 32        /* messages in flight */
#define RESEND_MS 1000
#define MAX_CHAIN_NAME 32
#define UNSET UINT64_MAX /* a number the config did not give */
#define DEFAULT_CONFIRMATIONS 12
#define DEFAULT_POLL_MS 1000
#define DEFAULT_MAX_RANGE 1000
#define MAX_RANGE_LIMIT 10000 /* blocks per step: the headers of a range are read in one batch */
#define ABSTAIN_LOG_MS 10000  /* the same abstention is logged again after this long */
#define CURSOR_SIM_BYTES 16

typedef struct watch_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], data[CFG_STR_MAX];
    char hub_nodes[CFG_STR_MAX], hub_key[CFG_STR_MAX];
    char source[CFG_STR_MAX];
    uint64_t seed, events, per_message;
    /* source = evm */
    char rpc[CFG_STR_MAX], vault[CFG_STR_MAX], finality[CFG_STR_MAX];
    uint64_t chain_id, confirmations, poll_ms, max_range, start_block, max_response_bytes;
} watch_config;

enum watch_source { SOURCE_SIM, SOURCE_EVM };

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
    enum watch_source source;
    sim_opts sim;
    uint64_t next_event, next_msg; /* the cursor: next stream index to read (sim), next message id */
    /* source = evm */
    rpc *rpc;
    scan *sc;
    scan_opts so;
    uint64_t next_poll_ms;
    char last_abstain[sizeof(rl_why)];
    uint64_t last_abstain_ms;
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
        {section, "rpc", CFG_STRING, 0, 0, 0, F(rpc)},
        {section, "chain_id", CFG_U64, 0, 1, UINT64_MAX - 1, F(chain_id)},
        {section, "vault", CFG_STRING, 0, 0, 0, F(vault)},
        {section, "confirmations", CFG_U64, 0, 0, SCAN_WINDOW - 1, F(confirmations)},
        {section, "finality", CFG_STRING, 0, 0, 0, F(finality)},
        {section, "poll_ms", CFG_U64, 0, 1, 3600000, F(poll_ms)},
        {section, "max_range", CFG_U64, 0, 1, MAX_RANGE_LIMIT, F(max_range)},
        {section, "start_block", CFG_U64, 0, 0, UINT64_MAX - 1, F(start_block)},
        {section, "max_response_bytes", CFG_U64, 0, 1024, (uint64_t)1 << 30, F(max_response_bytes)},
    };
#undef F
    w->cfg.seed = 1;
    w->cfg.per_message = 100;
    w->cfg.chain_id = w->cfg.confirmations = UNSET;
    w->cfg.poll_ms = DEFAULT_POLL_MS;
    w->cfg.max_range = DEFAULT_MAX_RANGE;
    w->cfg.max_response_bytes = rpc_opts_default().max_response_bytes;
    rl_err err = cfg_load_part(path, schema, sizeof schema / sizeof schema[0], &w->cfg, CFG_NODE_FOREIGN, why);
    if (err == RL_ERR_ARG && strstr(why->text, "is required") != NULL && strstr(why->text, section) != NULL)
        rl_why_prefix(why, "no [%s] section, or it is incomplete: ", section);
    if (err != RL_OK)
        return err;
    if (strcmp(w->cfg.source, "sim") == 0) {
        w->source = SOURCE_SIM;
        if (strcmp(w->chain, "l1") != 0 && strcmp(w->chain, "l2") != 0)
            return rl_fail(why, RL_ERR_ARG, "%s: [%s]: the sim source has chains l1 and l2", path, section);
        return RL_OK;
    }
    if (strcmp(w->cfg.source, "evm") != 0)
        return rl_fail(why, RL_ERR_ARG, "%s: [%s] source: '%s' is not a source this build has (evm, sim)", path,
                       section, w->cfg.source);
    w->source = SOURCE_EVM;
    const char *missing = w->cfg.rpc[0] == '\0' ? "rpc" : w->cfg.chain_id == UNSET ? "chain_id"
                                                   : w->cfg.vault[0] == '\0'       ? "vault"
                                                                                    : NULL;
    if (missing != NULL)
        return rl_fail(why, RL_ERR_ARG, "%s: [%s] %s: is required with source = evm", path, section, missing);
    if (hex_decode(w->so.vault, RPC_ADDR_BYTES, w->cfg.vault, "vault", why) != RL_OK) {
        rl_why_prefix(why, "%s: [%s] ", path, section);
        return RL_ERR_ARG;
    }
    if (cfg_finality(path, section, w->cfg.finality, w->cfg.confirmations != UNSET, &w->so.finalized, why) != RL_OK)
        return RL_ERR_ARG;
    w->so.confirmations = w->cfg.confirmations == UNSET ? DEFAULT_CONFIRMATIONS : w->cfg.confirmations;
    if (w->so.finalized)
        w->so.confirmations = 0;
    w->so.max_range = w->cfg.max_range;
    w->so.start_block = w->cfg.start_block;
    return RL_OK;
}

static void log_endpoint(void *ctx, size_t endpoint, const rpc_health *h)
{
    struct watcher *w = ctx;
    if (h->state == RPC_HEALTHY)
        log_info("rpc endpoint healthy", "chain=%s endpoint=%zu url=%s", w->chain, endpoint, h->name);
    else
        log_warn("rpc endpoint unhealthy", "chain=%s endpoint=%zu url=%s state=%s why=\"%s\"", w->chain, endpoint,
                 h->name, rpc_state_name(h->state), h->reason);
}

/* The rpc key: URLs separated by white space, in priority order. */
static rl_err open_rpc(struct watcher *w, rl_why *why)
{
    rpc_opts o = rpc_opts_default();
    o.chain_id = w->cfg.chain_id;
    o.max_response_bytes = (size_t)w->cfg.max_response_bytes;
    /* A watcher retries on its next poll: a call should not sit in backoff much longer than that. */
    o.max_wait_ms = (uint32_t)(w->cfg.poll_ms < o.max_wait_ms ? w->cfg.poll_ms : o.max_wait_ms);
    rpc_hooks hooks = {.on_health = log_endpoint, .ctx = w};
    rl_err err = rpc_open_list(&w->rpc, w->cfg.rpc, &o, &hooks, why);
    if (err != RL_OK)
        rl_why_prefix(why, "[chain.%s] rpc: ", w->chain);
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
    if (err == RL_OK && w->source == SOURCE_SIM && v.mv_size == CURSOR_SIM_BYTES) {
        w->next_event = be64_get(v.mv_data);
        w->next_msg = be64_get((uint8_t *)v.mv_data + 8);
    } else if (err == RL_OK && w->source == SOURCE_EVM && v.mv_size > 8) {
        /* next message id | the scanner's checkpoint (scan.h) */
        w->next_msg = be64_get(v.mv_data);
        scan_state saved;
        err = scan_state_decode(&saved, (uint8_t *)v.mv_data + 8, v.mv_size - 8, why);
        if (err == RL_OK)
            err = scan_new(&w->sc, w->rpc, &w->so, &saved, why);
        else
            rl_why_prefix(why, "%s: cursor of chain %s: ", store_path(w->st), w->chain);
    } else if (err == RL_ERR_NOTFOUND) {
        w->next_event = w->chain_id == SIM_CHAIN_L1 ? 0 : 1;
        w->next_msg = 1;
        err = w->source == SOURCE_EVM ? scan_new(&w->sc, w->rpc, &w->so, NULL, why) : RL_OK;
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

/* What one write stores: the messages win[first .. first + count) and the cursor after them. */
struct put_ctx {
    struct watcher *w;
    size_t first, count;
    const uint8_t *cursor;
    size_t cursor_len;
};

static void outbox_key(uint8_t k[16], uint64_t chain_id, uint64_t msg_id)
{
    be64_put(k, chain_id);
    be64_put(k + 8, msg_id);
}

/* The new messages and the advanced cursor, in one transaction. */
static rl_err put_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct put_ctx *p = ctx;
    rl_err err = RL_OK;
    for (size_t i = p->first; err == RL_OK && i < p->first + p->count; i++) {
        uint8_t k[16];
        const struct inflight_msg *m = &p->w->win[i];
        outbox_key(k, p->w->chain_id, m->msg_id);
        err = store_put(txn, store_dbi(p->w->st, TABLE_OUTBOX), k, sizeof k, m->frame, m->len, 0, why);
    }
    if (err == RL_OK)
        err = store_put(txn, store_dbi(p->w->st, TABLE_CURSORS), p->w->chain, strlen(p->w->chain), p->cursor,
                        p->cursor_len, 0, why);
    return err;
}

/* Reads the next events of the simulated stream, signs them, and writes the message. */
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
    uint8_t cur[CURSOR_SIM_BYTES];
    be64_put(cur, at);
    be64_put(cur + 8, m->msg_id + 1);
    struct put_ctx p = {w, w->nwin, 1, cur, sizeof cur};
    rl_err err = store_write(w->st, put_fn, &p, why);
    if (err != RL_OK)
        return err;
    w->nwin++;
    w->next_event = at;
    w->next_msg++;
    return RL_OK;
}

/* An abstention: logged when it says something new, or again after ABSTAIN_LOG_MS. */
static void log_abstain(struct watcher *w, rl_err err, const rl_why *why)
{
    const char *text = why->text[0] ? why->text : rl_strerror(err);
    uint64_t now = mono_ms();
    if (strcmp(text, w->last_abstain) == 0 && now - w->last_abstain_ms < ABSTAIN_LOG_MS)
        return;
    snprintf(w->last_abstain, sizeof w->last_abstain, "%s", text);
    w->last_abstain_ms = now;
    log_warn("chain read failed: abstaining, nothing signed", "chain=%s err=\"%s\" why=\"%s\"", w->chain,
             rl_strerror(err), text);
}

static void log_batch(struct watcher *w, const scan_batch *b)
{
    if (b->reorg && b->reorg_dropped > 0)
        log_error("reorg below observed events: their observations are void, re-reading", /* an incident */
                  "chain=%s ancestor=%llu depth=%llu dropped_events=%llu first_seq=%llu", w->chain,
                  (unsigned long long)b->reorg_ancestor, (unsigned long long)b->reorg_depth,
                  (unsigned long long)b->reorg_dropped, (unsigned long long)b->reorg_first_seq);
    else if (b->reorg)
        log_warn("reorg detected: re-reading from the common ancestor", "chain=%s ancestor=%llu depth=%llu", w->chain,
                 (unsigned long long)b->reorg_ancestor, (unsigned long long)b->reorg_depth);
    if (b->gap)
        log_warn("vault sequence gap: re-reading", "chain=%s expected=%llu seen=%llu block=%llu", w->chain,
                 (unsigned long long)b->gap_expected, (unsigned long long)b->gap_seen,
                 (unsigned long long)b->gap_block);
    else if (b->gap_filled > 0)
        log_warn("vault sequence gap filled by re-reading blocks one by one", "chain=%s events=%llu", w->chain,
                 (unsigned long long)b->gap_filled);
    for (size_t i = 0; i < b->n; i++) {
        char tx[2 * RPC_HASH_BYTES + 3];
        log_info("vault event", "chain=%s kind=%s seq=%llu block=%llu tx=%s log=%llu", w->chain,
                 vault_event_name(b->ev[i].kind), (unsigned long long)b->ev[i].seq,
                 (unsigned long long)b->ev[i].block_number, hex_encode_0x(tx, b->ev[i].tx_hash, RPC_HASH_BYTES),
                 (unsigned long long)b->ev[i].log_index);
    }
}

/* One step of the EVM source: what it read becomes signed messages, stored with the scanner's
 * new checkpoint in one transaction, then adopted. *more: step again without waiting. Chain
 * read failures are abstentions (logged, RL_OK); only a storage failure is returned. */
static rl_err evm_round(struct watcher *w, bool *more, rl_why *why)
{
    *more = false;
    size_t max_events = (WINDOW - w->nwin) * w->cfg.per_message;
    scan_batch b;
    rl_why rwhy = {{0}};
    rl_err err = scan_step(w->sc, max_events, &b, &rwhy);
    if (err != RL_OK) {
        log_abstain(w, err, &rwhy);
        return RL_OK;
    }
    log_batch(w, &b);
    signed_obs so[WIRE_OBS_MAX];
    size_t first = w->nwin, count = 0, n = 0;
    uint64_t msg_id = w->next_msg;
    for (size_t i = 0; i <= b.n && err == RL_OK; i++) {
        if (n > 0 && (i == b.n || n == w->cfg.per_message)) {
            struct inflight_msg *m = &w->win[first + count++];
            m->msg_id = msg_id++;
            m->sent_ms = 0;
            m->len = wire_encode_obs(m->frame, sizeof m->frame, m->msg_id, so, n);
            n = 0;
        }
        if (i == b.n)
            continue;
        obs o;
        uint8_t enc[OBS_BYTES];
        rl_why bad = {{0}};
        rl_err oerr = vault_event_obs(&b.ev[i], w->chain_id, w->so.vault, &o, &bad);
        if (oerr == RL_OK)
            oerr = obs_encode(enc, &o, &bad);
        if (oerr == RL_OK)
            obs_sign(&so[n++], enc, w->member, w->key);
        else if (oerr == RL_ERR_ARG) /* the vault emitted it, but no observation can carry it */
            log_error("vault event not observable: the hub will show its sequence number as a gap",
                      "chain=%s seq=%llu why=\"%s\"", w->chain, (unsigned long long)b.ev[i].seq, bad.text);
        else
            err = rl_fail(why, oerr, "%s", bad.text);
    }
    uint8_t cur[8 + SCAN_STATE_MAX_BYTES];
    be64_put(cur, msg_id);
    struct put_ctx p = {w, first, count, cur, 8 + scan_state_encode(&b.next, cur + 8)};
    if (err == RL_OK)
        err = store_write(w->st, put_fn, &p, why);
    if (err == RL_OK) {
        scan_commit(w->sc, &b);
        w->nwin += count;
        w->next_msg = msg_id;
        *more = b.more;
    }
    scan_batch_fini(&b);
    return err;
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
    const relset_member *m = NULL;
    if (err == RL_OK)
        err = relset_load_member(w->cfg.relayers, node_key_pub(w->key), &set, &m, why);
    if (err == RL_OK)
        w->member = m->id;
    if (err == RL_OK)
        err = pubfile_read(w->cfg.hub_key, &w->hub, why);
    if (w->source == SOURCE_EVM) {
        w->chain_id = w->cfg.chain_id;
        if (err == RL_OK)
            err = open_rpc(w, why);
    } else {
        w->chain_id = strcmp(w->chain, "l1") == 0 ? SIM_CHAIN_L1 : SIM_CHAIN_L2;
        w->sim = (sim_opts){.events = w->cfg.events, .seed = w->cfg.seed};
    }
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
    scan_free(w->sc);
    rpc_close(w->rpc);
    store_close(w->st);
    node_key_free(w->key);
}

static rl_err watcher_run(struct watcher *w, rl_why *why)
{
    rl_err err = RL_OK;
    uint64_t last_log = mono_ms();
    bool done_logged = false;
    while (!daemon_stopping && err == RL_OK) {
        long wait_ms = 20;
        if (w->source == SOURCE_SIM) {
            while (err == RL_OK && w->nwin < WINDOW && w->next_event < w->cfg.events)
                err = next_message(w, why);
        } else if (w->nwin < WINDOW && mono_ms() >= w->next_poll_ms) {
            bool more;
            err = evm_round(w, &more, why);
            w->next_poll_ms = mono_ms() + (more ? 0 : w->cfg.poll_ms);
        }
        if (err != RL_OK)
            break;
        if (w->source == SOURCE_EVM && w->nwin < WINDOW) {
            uint64_t now = mono_ms();
            long until = w->next_poll_ms > now ? (long)(w->next_poll_ms - now) : 0;
            wait_ms = until < wait_ms ? until : wait_ms;
        }
        send_due(w);
        zmq_pollitem_t it = {w->sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, wait_ms);
        err = take_acks(w, why);
        if (w->source == SOURCE_EVM && mono_ms() - last_log >= 5000) {
            const scan_state *st = scan_get_state(w->sc);
            log_info("progress", "chain=%s scanned=%llu next_seq=%llu acked_msgs=%llu outbox=%zu", w->chain,
                     (unsigned long long)st->scanned, (unsigned long long)st->next_seq, (unsigned long long)w->acked,
                     w->nwin);
            last_log = mono_ms();
        } else if (mono_ms() - last_log >= 5000) {
            log_info("progress", "chain=%s next_event=%llu acked_msgs=%llu outbox=%zu", w->chain,
                     (unsigned long long)w->next_event, (unsigned long long)w->acked, w->nwin);
            last_log = mono_ms();
        }
        if (w->source == SOURCE_SIM && !done_logged && w->nwin == 0 && w->next_event >= w->cfg.events) {
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
        if (w->source == SOURCE_EVM) {
            const scan_state *st = scan_get_state(w->sc);
            log_info("watcher started", "chain=%s chain_id=%llu member=%u source=evm resume=%s scanned=%llu "
                     "next_seq=%llu outbox=%zu hub=%s", w->chain, (unsigned long long)w->chain_id, w->member,
                     st->started ? "checkpoint" : "start_block",
                     (unsigned long long)(st->started ? st->scanned : w->so.start_block),
                     (unsigned long long)st->next_seq, w->nwin, w->cfg.hub_nodes);
        } else {
            log_info("watcher started", "chain=%s member=%u next_event=%llu outbox=%zu hub=%s", w->chain, w->member,
                     (unsigned long long)w->next_event, w->nwin, w->cfg.hub_nodes);
        }
        err = watcher_run(w, &why);
    }
    if (err == RL_OK && w->source == SOURCE_EVM)
        log_info("watcher stopped", "chain=%s scanned=%llu next_seq=%llu outbox=%zu", w->chain,
                 (unsigned long long)scan_get_state(w->sc)->scanned,
                 (unsigned long long)scan_get_state(w->sc)->next_seq, w->nwin);
    else if (err == RL_OK)
        log_info("watcher stopped", "chain=%s next_event=%llu outbox=%zu", w->chain, (unsigned long long)w->next_event,
                 w->nwin);
    else
        log_error("watcher failed", "chain=%s why=\"%s\"", w->chain, why.text[0] ? why.text : rl_strerror(err));
    watcher_close(w);
    free(w);
    return err == RL_OK ? 0 : EXIT_USAGE;
}
