/*
 * cmd_hub.c - `relayer hub --config FILE`: the hub daemon.
 *
 * It owns the LMDB environment. Relayer nodes send OBS messages on a CURVE ROUTER socket (role
 * "nodes"); each observation must be signed by the very member whose key sent it. Observations go
 * through ingest (verify on every core, quorum, group commit); a message is acknowledged once
 * every observation in it is settled in a committed record, so a node resends what was not
 * acknowledged and apply stays idempotent. Every committed record is published, numbered, on a
 * PUB socket, and a ROUTER socket (role "subscribers") serves catch-up: "records from N".
 * Nodes also send signed price observations; a quorum of them within the deviation limit becomes
 * a PRICE record (hubprice.h). Venues submit signed requests and the calculator its signed
 * decisions on sockets of their own roles; each is checked (its signer must be the sending peer),
 * logged once by its key, and acknowledged once committed. With a risk file it also builds the
 * instructions, takes the nodes' co-signatures and logs bundles (cmd_hub_cosign.c; the state both
 * files share is in hubd.h). On SIGTERM or SIGINT the hub finishes what it holds (ingest_flush)
 * and exits 0.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "attest/admit.h"
#include "attest/decision.h"
#include "attest/hex.h"
#include "attest/request.h"
#include "attest/vec.h"
#include "db/ingest.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/hub.h"
#include "relayer/hubd.h"
#include "relayer/hubcosig.h"
#include "relayer/hubinstr.h"
#include "relayer/hubprice.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/wire.h"

static const char USAGE[] = "usage: relayer hub --config FILE\n"
                            "\n"
                            "Runs the hub: receives observations from allow-listed relayer nodes over\n"
                            "CURVE, commits quorum-attested records to its ledger, acknowledges, publishes\n"
                            "every record and serves catch-up. See docs in relayer/hub.h for the config.\n";

#define TICK_MS 5
#define CATCHUP_MAX 4096 /* records per CATCHUP answer, and answered per loop round */
#define BPS_E18 100000000000000 /* one basis point in 1e18 fixed point */

static void on_deny(void *ctx, const char *role, const char *address, const char *key_hex, const char *why)
{
    (void)ctx;
    if (strcmp(why, "not allowed") == 0)
        log_warn("connection refused: key not allowed", "role=%s peer=%s key=%s", role, address, key_hex);
    else
        log_warn("connection refused", "role=%s peer=%s key=%s why=\"%s\"", role, address, key_hex, why);
}

static void on_alert(void *ctx, const char *what, const char *why)
{
    (void)ctx;
    log_warn(what, "why=\"%s\"", why);
}

static const node_pub *find_pub(const node_pub *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

const node_pub *hub_peer_pub(const struct hub *h, const char *name)
{
    return find_pub(h->allowed_nodes, h->nallowed, name);
}

static void peer_heard(struct hub *h, const char *name)
{
    size_t i;
    for (i = 0; i < h->npeers && strcmp(h->peers[i].name, name) != 0; i++)
        ;
    if (i == h->npeers) {
        if (h->npeers == CFG_LIST_MAX)
            return;
        snprintf(h->peers[h->npeers++].name, sizeof h->peers[0].name, "%s", name);
    }
    h->peers[i].last_ms = wall_ms();
    h->peers[i].messages++;
}

/* DATA/status.json, rewritten every second for `relayer status`. */
static rl_err write_status(struct hub *h, rl_why *why)
{
    const ingest_stats *x = ingest_get_stats(h->g);
    json_t *peers = json_array();
    for (size_t i = 0; i < h->npeers; i++)
        json_array_append_new(peers, json_pack("{s:s, s:I, s:I}", "name", h->peers[i].name, "last_seen_ms",
                                               (json_int_t)h->peers[i].last_ms, "messages",
                                               (json_int_t)h->peers[i].messages));
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}",
                          "updated_ms", (json_int_t)wall_ms(), "pid", (json_int_t)getpid(), "head_seq",
                          (json_int_t)ingest_head(h->g)->seq, "awaiting_ack",
                          (json_int_t)hubwait_get_stats(h->wait).waiting,
                          "events_short_of_quorum", (json_int_t)ingest_pending_events(h->g),
                          "instructions_awaiting_cosignatures", (json_int_t)hubcosig_unsigned(h->cosig),
                          "instructions_short_of_cosignatures", (json_int_t)h->cosig_short, "peers", peers, "totals",
                          "observations", (json_int_t)x->received, "verified", (json_int_t)x->verified, "attested",
                          (json_int_t)x->attested, "conflicts", (json_int_t)x->conflicts, "equivocations",
                          (json_int_t)x->equivocations, "refused",
                          (json_int_t)(x->refused + x->bad_signature + x->unknown_signer + x->malformed), "held",
                          (json_int_t)x->held, "records", (json_int_t)x->records, "commits", (json_int_t)x->commits);
    json_object_set_new(j, "checkpoints", hub_checkpoints_json(h));
    json_object_set_new(j, "dropped", json_pack("{s:I, s:I, s:I}", "pending_over_budget",
                                                 (json_int_t)x->pending_over_budget, "pending_expired",
                                                 (json_int_t)x->pending_expired, "waiting_over_budget",
                                                 (json_int_t)hubwait_get_stats(h->wait).over_budget));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    char path[CFG_STR_MAX + 16];
    snprintf(path, sizeof path, "%s/status.json", h->cfg.data);
    rl_err err = file_write_atomic(path, text, why);
    free(text);
    return err;
}

static void send_routed(void *sock, const uint8_t *route, size_t route_len, const uint8_t *frame, size_t len)
{
    if (zmq_send(sock, route, route_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send(sock, frame, len, ZMQ_DONTWAIT);
}

/* Takes one OBS message: each observation must come from the member that signed it. */
static void take_obs(struct hub *h, const uint8_t *route, size_t route_len, const wire_msg *m, const char *peer)
{
    const node_pub *from = hub_peer_pub(h, peer);
    struct waiting *w = hubwait_add(h->wait, h->nodes, peer, route, route_len, m->id, mono_ms());
    for (size_t i = 0; i < m->n; i++) {
        signed_obs so;
        wire_obs_at(m, i, &so);
        const relset_member *mem = relset_find(ingest_set(h->g), so.member);
        obs o;
        rl_why why = {{0}};
        if (from == NULL || mem == NULL || memcmp(mem->pub.ed25519, from->ed25519, ED25519_PK_BYTES) != 0) {
            log_warn("observation refused: signer is not the sending peer", "peer=%s member=%u msg=%llu", peer,
                     so.member, (unsigned long long)m->id);
            if (w != NULL)
                w->refused = true;
            continue;
        }
        if (obs_decode(&o, so.bytes, OBS_BYTES, &why) != RL_OK) {
            log_warn("observation refused: malformed", "peer=%s msg=%llu why=\"%s\"", peer, (unsigned long long)m->id,
                     why.text);
            if (w != NULL)
                w->refused = true;
            continue;
        }
        if (w != NULL)
            obs_event_id(w->ids[w->n++], o.chain_id, o.tx_hash, o.log_index);
        h->batch[h->nbatch++] = so;
    }
}

static bool price_signed_by(const signed_price *sp, const uint8_t pub[ED25519_PK_BYTES])
{
    uint8_t digest[HASH_BYTES];
    price_content_hash(digest, sp->bytes);
    return ed25519_verify(sp->sig, digest, HASH_BYTES, pub);
}

/* Takes one PRICE message: each observation must come from the member that signed it, and be of
 * a configured feed (checked first: an unknown feed costs no signature check). What is refused
 * is logged once per message, with how many and the first reason. */
static void take_prices(struct hub *h, const wire_msg *m, const char *peer)
{
    const node_pub *from = hub_peer_pub(h, peer);
    size_t refused = 0;
    uint16_t member = 0;
    rl_why first = {{0}};
    for (size_t i = 0; i < m->n; i++) {
        signed_price sp;
        rl_why why = {{0}};
        wire_price_at(m, i, &sp);
        const relset_member *mem = relset_find(ingest_set(h->g), sp.member);
        if (from == NULL || mem == NULL || memcmp(mem->pub.ed25519, from->ed25519, ED25519_PK_BYTES) != 0)
            snprintf(why.text, sizeof why.text, "signer is not the sending peer");
        else if (!hubprice_takes(h->prices, &sp))
            snprintf(why.text, sizeof why.text, "not a feed the hub's config names, or malformed");
        else if (!price_signed_by(&sp, mem->pub.ed25519))
            snprintf(why.text, sizeof why.text, "bad signature");
        else if (hubprice_offer(h->prices, &sp, mem->pub.ed25519, wall_ms(), &why) == RL_OK)
            continue;
        if (refused++ == 0)
            first = why, member = sp.member;
    }
    if (refused > 0)
        log_warn("price refused", "peer=%s member=%u refused=%zu of=%zu why=\"%s\"", peer, member, refused,
                 (size_t)m->n, first.text);
}

/* Logs the prices that are due. */
static rl_err log_prices(struct hub *h, uint64_t now, rl_why *why)
{
    rl_err err = RL_OK;
    while (err == RL_OK && hubprice_due(h->prices, ingest_set(h->g), now, h->pp)) {
        size_t len;
        if ((err = payload_price_encode(h->pp, h->payload, &len, why)) == RL_OK)
            err = ingest_append(h->g, RECORD_PRICE, h->payload, len, now, why);
        h->prices_logged++;
    }
    return err;
}

/* One SUBMIT from a venue or the calculator: its signer must be the sending peer. */
static rl_err take_submit(struct hub *h, void *sock, bus_role role, const uint8_t *route, size_t route_len,
                          const wire_msg *m, const char *peer, rl_why *why)
{
    const node_pub *from = role == BUS_ROLE_VENUE ? find_pub(h->allowed_venues, h->nvenues, peer)
                                                  : find_pub(h->allowed_calcs, h->ncalcs, peer);
    uint8_t want = role == BUS_ROLE_VENUE ? RECORD_REQUEST : RECORD_DECISION;
    uint8_t key[HASH_BYTES], msg[HASH_BYTES];
    const uint8_t *sig = NULL, *signer = NULL;
    rl_why w = {{0}};
    request q;
    decision *d = malloc(sizeof *d);
    if (d == NULL)
        return RL_ERR_NOMEM;
    bool ok = m->record_type == want && from != NULL;
    if (ok && want == RECORD_REQUEST && (ok = request_decode(&q, m->body, m->body_len, &w) == RL_OK)) {
        request_key(key, q.venue, q.nonce);
        request_sig_parts(m->body, m->body_len, msg, &sig);
        signer = q.venue;
    } else if (ok && want == RECORD_DECISION && (ok = decision_decode(d, m->body, m->body_len, &w) == RL_OK)) {
        decision_key(key, d);
        decision_sig_parts(m->body, m->body_len, msg, &sig);
        signer = d->calculator;
    }
    if (ok && memcmp(signer, from->ed25519, ED25519_PK_BYTES) != 0)
        snprintf(w.text, sizeof w.text, "signed with a key other than the sending peer's"), ok = false;
    if (ok && !ed25519_verify(sig, msg, HASH_BYTES, signer))
        snprintf(w.text, sizeof w.text, "bad signature"), ok = false;
    /* Defence in depth (attest/admit.h): the venue key pinned in the set in force, a withdrawal's
     * owner signature valid and unexpired now. Owner-nonce reuse (A5) and a withdrawal's binding to
     * the account's last applied position (A6) are the calculator's checks: they need per-account
     * state the hub does not keep, and an A6 refusal is logged like any other. */
    if (ok && want == RECORD_REQUEST && admit_request(ingest_set(h->g), h->cluster, &q, wall_ms(), 0, &w) != ADMIT_OK)
        ok = false;
    if (ok && want == RECORD_DECISION && h->pin_risk && memcmp(d->risk, h->risk.digest, HASH_BYTES) != 0) {
        char got[2 * HASH_BYTES + 1], pinned[2 * HASH_BYTES + 1];
        snprintf(w.text, sizeof w.text, "made under risk parameters %s, the hub's are %s",
                 hex_encode(got, d->risk, HASH_BYTES), hex_encode(pinned, h->risk.digest, HASH_BYTES));
        ok = false;
    }
    free(d);
    if (!ok) {
        log_warn("submission refused", "peer=%s role=%s msg=%llu why=\"%s\"", peer, bus_role_name(role),
                 (unsigned long long)m->id, w.text[0] ? w.text : "wrong record type for the role");
        wire_ack a = {m->id, WIRE_ACK_REFUSED};
        size_t len = wire_encode_ack(h->frame, HUB_FRAME_MAX, &a, 1);
        send_routed(sock, route, route_len, h->frame, len);
        return RL_OK;
    }
    struct waiting *wt = hubwait_add(h->wait, sock, peer, route, route_len, m->id, mono_ms());
    if (wt == NULL)
        return RL_OK; /* a resend of one still waiting */
    wt->submit = true;
    wt->n = 1;
    memcpy(wt->ids[0], key, HASH_BYTES);
    hash_domain(wt->digest, HASH_DOMAIN_RECORD, m->body, m->body_len);
    /* Logged already (a resend after the answer was lost): the next acknowledge() answers it. A
     * new entry the bound had no room for is NULL: the sender resends. */
    MDB_txn *txn;
    uint64_t seq;
    rl_err err = store_read_begin(h->st, &txn, why);
    if (err != RL_OK)
        return err;
    bool logged = ledger_key_get(txn, h->st, key, &seq) == RL_OK;
    store_read_end(txn);
    return logged ? RL_OK : ingest_append(h->g, m->record_type, m->body, m->body_len, wall_ms(), why);
}

static rl_err receive_submits(struct hub *h, void *sock, bus_role role, rl_why *why)
{
    rl_err err = RL_OK;
    zmq_msg_t route, body;
    zmq_msg_init(&route);
    zmq_msg_init(&body);
    for (int n = 0; n < 256 && sock != NULL && err == RL_OK; n++) {
        if (zmq_msg_recv(&route, sock, ZMQ_DONTWAIT) < 0)
            break;
        if (!zmq_msg_more(&route) || zmq_msg_recv(&body, sock, 0) < 0)
            continue;
        while (zmq_msg_more(&body))
            zmq_msg_recv(&body, sock, 0);
        wire_msg m;
        rl_why w = {{0}};
        const char *peer = zmq_msg_gets(&body, "User-Id");
        if (wire_decode(&m, zmq_msg_data(&body), zmq_msg_size(&body), &w) != RL_OK || m.type != WIRE_SUBMIT) {
            log_warn("frame dropped", "peer=%s why=\"%s\"", peer ? peer : "?", w.text[0] ? w.text : "not a SUBMIT message");
            continue;
        }
        peer_heard(h, peer ? peer : "");
        err = take_submit(h, sock, role, zmq_msg_data(&route), zmq_msg_size(&route), &m, peer ? peer : "", why);
    }
    zmq_msg_close(&route);
    zmq_msg_close(&body);
    return err;
}

/* Reads what the sockets hold, up to a batch and up to frames_per_round units of work (a frame,
 * and each price signature it makes this thread check): a flood of prices, garbage or frames of
 * the wrong member waits for the next round while commits, acknowledgements and status go on. */
static void receive(struct hub *h)
{
    zmq_msg_t route, body;
    zmq_msg_init(&route);
    zmq_msg_init(&body);
    for (uint64_t work = 0; work < h->cfg.frames_per_round && h->nbatch + WIRE_OBS_MAX <= HUB_BATCH_OBS &&
                            h->ncosigs < HUB_BATCH_COSIG;
         work++) {
        if (zmq_msg_recv(&route, h->nodes, ZMQ_DONTWAIT) < 0)
            break;
        if (!zmq_msg_more(&route) || zmq_msg_recv(&body, h->nodes, 0) < 0)
            continue;
        while (zmq_msg_more(&body)) /* a frame beyond the one expected: drop the rest */
            zmq_msg_recv(&body, h->nodes, 0);
        wire_msg m;
        rl_why why = {{0}};
        const char *peer = zmq_msg_gets(&body, "User-Id");
        if (wire_decode(&m, zmq_msg_data(&body), zmq_msg_size(&body), &why) != RL_OK ||
            (m.type != WIRE_OBS && m.type != WIRE_PRICE && m.type != WIRE_COSIG && m.type != WIRE_CHECKPOINT)) {
            log_warn("frame dropped", "peer=%s why=\"%s\"", peer ? peer : "?",
                     why.text[0] ? why.text : "not an OBS, PRICE, COSIG or CHECKPOINT message");
            continue;
        }
        peer_heard(h, peer ? peer : "");
        if (m.type == WIRE_PRICE) {
            work += m.n;
            take_prices(h, &m, peer ? peer : "");
            continue;
        }
        if (m.type == WIRE_COSIG) {
            hub_queue_cosig(h, &m, peer ? peer : "");
            continue;
        }
        if (m.type == WIRE_CHECKPOINT) {
            hub_take_checkpoint(h, &m, peer ? peer : "");
            continue;
        }
        take_obs(h, zmq_msg_data(&route), zmq_msg_size(&route), &m, peer ? peer : "");
    }
    zmq_msg_close(&route);
    zmq_msg_close(&body);
    hub_take_cosigs(h);
}

/* hubwait's callbacks (hubwait.h): the ledger decides what is settled, in the read transaction
 * h->ack_txn of the caller. */
static bool wait_settled(void *ctx, struct waiting *w, const uint8_t id[HASH_BYTES])
{
    struct hub *h = ctx;
    event_info ev;
    if (!w->submit)
        return ledger_event_get(h->ack_txn, h->st, id, &ev) == RL_OK;
    uint64_t seq;
    MDB_val v;
    record r;
    uint8_t digest[HASH_BYTES];
    if (ledger_key_get(h->ack_txn, h->st, id, &seq) != RL_OK)
        return false;
    if (ledger_record_get(h->ack_txn, h->st, seq, &v, NULL) == RL_OK &&
        record_decode(&r, v.mv_data, v.mv_size, NULL) == RL_OK) {
        hash_domain(digest, HASH_DOMAIN_RECORD, r.payload, r.payload_len);
        w->refused = memcmp(digest, w->digest, HASH_BYTES) != 0; /* the key holds other bytes */
    }
    return true;
}

static void wait_answer(void *ctx, const struct waiting *w)
{
    struct hub *h = ctx;
    wire_ack a = {w->msg_id, w->refused ? WIRE_ACK_REFUSED : WIRE_ACK_SETTLED};
    size_t len = wire_encode_ack(h->frame, HUB_FRAME_MAX, &a, 1);
    send_routed(w->sock, w->route, w->route_len, h->frame, len);
}

static void wait_forgot(void *ctx, const struct waiting *w)
{
    (void)ctx;
    /* Refused by the ledger (the hub logged why) or still queued: no answer is honest, so none
     * is sent; the sender's resend is checked afresh. */
    log_info("submission not logged, forgotten", "msg=%llu", (unsigned long long)w->msg_id);
}

/* Looks up the messages received since the last round (hubwait.h); what the records published
 * since settled was answered as they were published (send_records). */
static rl_err acknowledge(struct hub *h, rl_why *why)
{
    rl_err err = store_read_begin(h->st, &h->ack_txn, why);
    if (err != RL_OK)
        return err;
    hubwait_check_new(h->wait, mono_ms());
    store_read_end(h->ack_txn);
    h->ack_txn = NULL;
    return RL_OK;
}

/* Sends records [from, to] to one subscriber (route) or to all (route NULL: the PUB socket). */
static rl_err send_records(struct hub *h, void *sock, const uint8_t *route, size_t route_len, uint64_t from, uint64_t to,
                           rl_why *why)
{
    if (from > to)
        return RL_OK;
    MDB_txn *txn;
    rl_err err = store_read_begin(h->st, &txn, why);
    if (err != RL_OK)
        return err;
    for (uint64_t seq = from; seq <= to && err == RL_OK; seq++) {
        MDB_val v;
        if ((err = ledger_record_get(txn, h->st, seq, &v, why)) != RL_OK)
            break;
        size_t len = wire_encode_record(h->frame, HUB_FRAME_MAX, seq, v.mv_data, v.mv_size);
        if (route != NULL) {
            send_routed(sock, route, route_len, h->frame, len);
        } else { /* published live, once per record: an instruction is waited for from here */
            zmq_send(sock, h->frame, len, ZMQ_DONTWAIT); /* a slow subscriber loses frames, never stalls us */
            err = hub_watch_record(h, txn, seq, v.mv_data, v.mv_size, why);
            uint8_t ids[2][HASH_BYTES];
            h->ack_txn = txn;
            for (size_t k = hubwait_record_ids(v.mv_data, v.mv_size, ids); k-- > 0;)
                hubwait_nominate(h->wait, ids[k]);
            h->ack_txn = NULL;
        }
    }
    store_read_end(txn);
    return err;
}

static rl_err serve_catchup(struct hub *h, rl_why *why)
{
    rl_err err = RL_OK;
    zmq_msg_t route, body;
    zmq_msg_init(&route);
    zmq_msg_init(&body);
    uint64_t sent = 0; /* records answered this round: one full answer's worth at most */
    for (int n = 0; n < 64 && err == RL_OK && sent < CATCHUP_MAX; n++) {
        if (zmq_msg_recv(&route, h->catchup, ZMQ_DONTWAIT) < 0)
            break;
        if (!zmq_msg_more(&route) || zmq_msg_recv(&body, h->catchup, 0) < 0)
            continue;
        wire_msg m;
        rl_why w = {{0}};
        const char *peer = zmq_msg_gets(&body, "User-Id");
        if (wire_decode(&m, zmq_msg_data(&body), zmq_msg_size(&body), &w) != RL_OK || m.type != WIRE_CATCHUP) {
            log_warn("catch-up frame dropped", "why=\"%s\"", w.text[0] ? w.text : "not a CATCHUP message");
            continue;
        }
        if (!hublimits_rate_take(&h->catchup_rate, peer ? peer : "", mono_ms()))
            continue; /* past its budget this second: unanswered, the subscriber asks again */
        uint64_t head = ingest_head(h->g)->seq, max = m.max < CATCHUP_MAX ? m.max : CATCHUP_MAX;
        uint64_t to = m.id + max - 1 < head ? m.id + max - 1 : head;
        sent += to >= m.id ? to - m.id + 1 : 1;
        err = send_records(h, h->catchup, zmq_msg_data(&route), zmq_msg_size(&route), m.id, to, why);
        size_t len = wire_encode_end(h->frame, HUB_FRAME_MAX, head);
        send_routed(h->catchup, zmq_msg_data(&route), zmq_msg_size(&route), h->frame, len);
    }
    zmq_msg_close(&route);
    zmq_msg_close(&body);
    return err;
}

static rl_err hub_open(struct hub *h, const char *config_path, rl_why *why)
{
    hubwait_ops wait_ops = {wait_settled, wait_answer, wait_forgot, h};
    rl_err err = hub_config_load(config_path, &h->cfg, why);
    if (err != RL_OK)
        return err;
    uint64_t soft, hard;
    hublimits_raise_nofile(&soft, &hard);
    log_info("descriptor limit", "open_files=%llu hard=%llu", (unsigned long long)soft, (unsigned long long)hard);
    h->catchup_rate.per_second = h->cfg.catchup_per_second;
    if ((err = keyfile_read(h->cfg.key, &h->key, why)) != RL_OK)
        return err;
    for (size_t i = 0; i < h->cfg.allow_node.n && err == RL_OK; i++)
        err = pubfile_read(h->cfg.allow_node.item[i], &h->allowed_nodes[h->nallowed++], why);
    for (size_t i = 0; i < h->cfg.allow_venue.n && err == RL_OK; i++)
        err = pubfile_read(h->cfg.allow_venue.item[i], &h->allowed_venues[h->nvenues++], why);
    for (size_t i = 0; i < h->cfg.allow_calculator.n && err == RL_OK; i++)
        err = pubfile_read(h->cfg.allow_calculator.item[i], &h->allowed_calcs[h->ncalcs++], why);
    hubprice_opts hp = {.max_dev_e18 = (__int128)h->cfg.price_max_dev_bps * BPS_E18,
                        .max_age_ms = h->cfg.price_max_age_ms,
                        .heartbeat_ms = h->cfg.price_heartbeat_ms};
    if (err == RL_OK && h->cfg.risk[0] != '\0') {
        if ((err = risk_load(h->cfg.risk, &h->risk, why)) == RL_OK) {
            h->pin_risk = true;
            hp.max_dev_e18 = h->risk.max_dev_e18;
            hp.max_age_ms = h->risk.max_age_ms;
        }
    }
    if (err == RL_OK)
        err = hubinstr_new(&h->instr, h->pin_risk ? &h->risk : NULL, INSTRUCTION_RETRY_MS);
    if (err == RL_OK)
        err = hubcosig_new(&h->cosig, INSTRUCTION_RETRY_MS);
    char feeds[HUBLIMITS_FEEDS_MAX][PRICE_FEED_BYTES + 1];
    if (err == RL_OK)
        err = hublimits_feeds(config_path, h->cfg.price_feeds, h->pin_risk ? &h->risk : NULL, feeds,
                              HUBLIMITS_FEEDS_MAX, &hp.nfeeds, why);
    hp.feeds = feeds;
    if (err == RL_OK)
        err = hubprice_new(&h->prices, &hp);
    relset genesis;
    if (err == RL_OK)
        err = relset_load(h->cfg.relayers, &genesis, why);
    if (err == RL_OK)
        err = admit_cluster_id(h->cluster, &genesis);
    store_opts so = {.map_max_bytes = h->cfg.map_max_mb << 20};
    if (err == RL_OK)
        err = store_open(&h->st, h->cfg.data, &so, why);
    if (err == RL_OK)
        err = pool_new(&h->pool, 0);
    ingest_opts io = {.commit_max_records = h->cfg.commit_max_records,
                      .commit_max_delay_ms = h->cfg.commit_delay_ms,
                      .commit_load_records = h->cfg.commit_load_records,
                      .commit_load_delay_ms = h->cfg.commit_load_delay_ms,
                      .pending_per_member = h->cfg.pending_per_member,
                      .pending_ttl_ms = h->cfg.pending_ttl_ms,
                      .alert = on_alert};
    if (err == RL_OK)
        err = ingest_open(&h->g, h->st, h->pool, &genesis, &io, wall_ms(), why);
    if (err == RL_OK && (err = bus_new(&h->b, on_deny, NULL, why)) == RL_OK)
        bus_limit_handshakes(h->b, (unsigned)h->cfg.handshakes_per_minute, 60000);
    bus_role roles[] = {BUS_ROLE_NODE, BUS_ROLE_VENUE, BUS_ROLE_SUBSCRIBER, BUS_ROLE_CALCULATOR};
    const cfg_list *lists[] = {&h->cfg.allow_node, &h->cfg.allow_venue, &h->cfg.allow_subscriber,
                               &h->cfg.allow_calculator};
    const char *keys[] = {"node", "venue", "subscriber", "calculator"};
    node_pub *pubs = calloc(CFG_LIST_MAX, sizeof *pubs);
    if (pubs == NULL && err == RL_OK)
        err = RL_ERR_NOMEM;
    for (int r = 0; r < 4 && err == RL_OK; r++) {
        for (size_t i = 0; i < lists[r]->n && err == RL_OK; i++)
            err = pubfile_read(lists[r]->item[i], &pubs[i], why);
        if (err == RL_OK) /* before any is allowed: ZAP names a peer, so one name is one key */
            err = hublimits_allow_unique(config_path, keys[r], lists[r], pubs, lists[r]->n, why);
        for (size_t i = 0; i < lists[r]->n && err == RL_OK; i++)
            err = bus_allow(h->b, roles[r], &pubs[i], why);
    }
    free(pubs);
    bus_limits lim = {.max_msg_bytes = (int64_t)h->cfg.max_message_bytes, .sndhwm = (int)h->cfg.send_hwm,
                      .rcvhwm = (int)h->cfg.send_hwm, .handshake_ms = (int)h->cfg.handshake_ms};
    bus_limits catchup_lim = lim;
    catchup_lim.sndhwm = (int)h->cfg.catchup_hwm;
    if (err == RL_OK && (h->nodes = bus_server(h->b, ZMQ_ROUTER, BUS_ROLE_NODE, h->key, h->cfg.nodes, &lim, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK &&
        (h->records = bus_server(h->b, ZMQ_PUB, BUS_ROLE_SUBSCRIBER, h->key, h->cfg.records, &lim, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK &&
        (h->catchup = bus_server(h->b, ZMQ_ROUTER, BUS_ROLE_SUBSCRIBER, h->key, h->cfg.catchup, &catchup_lim,
                                 why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK && h->cfg.venue[0] != '\0' &&
        (h->venue = bus_server(h->b, ZMQ_ROUTER, BUS_ROLE_VENUE, h->key, h->cfg.venue, &lim, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK && h->cfg.calculator[0] != '\0' &&
        (h->calc = bus_server(h->b, ZMQ_ROUTER, BUS_ROLE_CALCULATOR, h->key, h->cfg.calculator, &lim, why)) == NULL)
        err = RL_ERR_IO;
    if (err == RL_OK && ((h->batch = malloc(HUB_BATCH_OBS * sizeof *h->batch)) == NULL ||
                         (h->cosigs = malloc(HUB_BATCH_COSIG * sizeof *h->cosigs)) == NULL ||
                         (h->frame = malloc(HUB_FRAME_MAX)) == NULL || (h->pp = malloc(sizeof *h->pp)) == NULL ||
                         (h->payload = malloc(RECORD_MAX_PAYLOAD)) == NULL ||
                         hubwait_new(&h->wait, h->cfg.waiting_per_peer, &wait_ops) != RL_OK))
        err = RL_ERR_NOMEM;
    if (err == RL_OK)
        err = hub_checkpoints_open(h, why);
    if (err == RL_OK)
        h->published = ingest_head(h->g)->seq; /* subscribers catch up on what came before */
    if (err == RL_OK && h->pin_risk)
        err = hub_watch_open_instructions(h, why);
    return err;
}

static void hub_close(struct hub *h)
{
    bus_close(h->nodes);
    bus_close(h->records);
    bus_close(h->catchup);
    bus_close(h->venue);
    bus_close(h->calc);
    bus_free(h->b);
    hubprice_free(h->prices);
    hubinstr_free(h->instr);
    hubcosig_free(h->cosig);
    hubckpt_free(h->ckpt);
    if (h->pin_risk)
        mg_risk_fini(&h->risk);
    free(h->pp);
    free(h->payload);
    ingest_close(h->g);
    pool_free(h->pool);
    store_close(h->st);
    node_key_free(h->key);
    free(h->batch);
    free(h->cosigs);
    free(h->frame);
    hubwait_free(h->wait);
}

static rl_err hub_run(struct hub *h, rl_why *why)
{
    rl_err err = RL_OK;
    while (!daemon_stopping && err == RL_OK) {
        zmq_pollitem_t items[4] = {{h->nodes, 0, ZMQ_POLLIN, 0}, {h->catchup, 0, ZMQ_POLLIN, 0},
                                   {h->venue, 0, ZMQ_POLLIN, 0}, {h->calc, 0, ZMQ_POLLIN, 0}};
        int nitems = h->calc ? 4 : h->venue ? 3 : 2;
        if (h->calc && !h->venue)
            items[2] = items[3], nitems = 3;
        if (zmq_poll(items, nitems, TICK_MS) < 0 && zmq_errno() != EINTR)
            return rl_fail(why, RL_ERR_IO, "zmq_poll: %s", zmq_strerror(zmq_errno()));
        receive(h);
        uint64_t now = wall_ms();
        err = receive_submits(h, h->venue, BUS_ROLE_VENUE, why);
        if (err == RL_OK)
            err = receive_submits(h, h->calc, BUS_ROLE_CALCULATOR, why);
        if (err == RL_OK)
            err = log_prices(h, now, why);
        if (err == RL_OK)
            err = hub_log_bundles(h, now, why);
        if (err == RL_OK && h->nbatch > 0) {
            err = ingest_submit(h->g, h->batch, h->nbatch, now, why);
            h->nbatch = 0;
        }
        if (err == RL_OK)
            err = ingest_tick(h->g, now, why);
        uint64_t head = ingest_head(h->g)->seq;
        if (err == RL_OK && head > h->published) {
            err = send_records(h, h->records, NULL, 0, h->published + 1, head, why);
            h->published = head;
        }
        if (err == RL_OK)
            err = acknowledge(h, why);
        if (err == RL_OK)
            err = hub_instruct(h, why);
        if (err == RL_OK)
            err = serve_catchup(h, why);
        if (err == RL_OK && mono_ms() - h->status_ms >= 1000) {
            hub_cosig_alerts(h);
            rl_why sw = {{0}};
            if (write_status(h, &sw) != RL_OK) /* out of descriptors or disk: serving goes on */
                log_warn("status not written", "why=\"%s\" failures=%llu", sw.text[0] ? sw.text : "out of memory",
                         (unsigned long long)++h->status_failures);
            h->status_ms = mono_ms();
        }
    }
    if (err == RL_OK)
        err = ingest_flush(h->g, wall_ms(), why);
    return err;
}

int cmd_hub(int argc, char **argv)
{
    int rc;
    const char *config = daemon_config_arg(argc, argv, "hub", USAGE, &rc);
    if (config == NULL)
        return rc;
    log_init("hub", "hub", LOG_INFO);
    daemon_trap_signals();
    struct hub *h = calloc(1, sizeof *h);
    if (h == NULL)
        return EXIT_USAGE;
    rl_why why = {{0}};
    rl_err err = hub_open(h, config, &why);
    if (err == RL_OK) {
        log_info("hub started", "head=%llu nodes=%s records=%s catchup=%s allowed_nodes=%zu",
                 (unsigned long long)ingest_head(h->g)->seq, h->cfg.nodes, h->cfg.records, h->cfg.catchup, h->nallowed);
        err = hub_run(h, &why);
    }
    if (err == RL_OK)
        log_info("hub stopped", "head=%llu", (unsigned long long)ingest_head(h->g)->seq);
    else
        log_error("hub failed", "why=\"%s\"", why.text[0] ? why.text : rl_strerror(err));
    hub_close(h);
    free(h);
    return err == RL_OK ? 0 : EXIT_USAGE;
}
