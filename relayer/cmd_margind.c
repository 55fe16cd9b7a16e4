/*
 * cmd_margind.c - `relayer margin --config FILE`: the live margin calculator, and
 * `relayer margin query --config FILE --account 0x..`: one account's state.
 *
 * The daemon keeps an audited replica of the hub's log (replica.h) and feeds every record, in
 * order, to the calculator (calc.h): on start the records already on its disk, then whatever
 * the hub publishes or serves on catch-up. Each decision the calculator makes is signed with the
 * daemon's key and kept until its DECISION record comes back in the log; until then it is sent
 * to the hub's calculator socket, and resent every RESEND_MS. Killed and restarted, the daemon
 * rebuilds the same state from its replica and finds the same decisions; those already logged
 * are not sent again, the others are, and the hub logs each key once.
 *
 * `query` reads the daemon's replica (LMDB allows readers beside the writer), runs the same
 * calculator over it and prints the account: what the daemon holds, as of the replica's head.
 *
 *     # margin.conf
 *     [margin]
 *     data = margin                  ; the replica's LMDB directory
 *     key = keys/calc.key            ; allow-listed at the hub as subscriber and as calculator
 *     relayers = relayers.json       ; the genesis set
 *     risk = risk.json               ; assets, markets, parameters (collateral/spec.h)
 *     [hub]
 *     records = tcp://127.0.0.1:7402
 *     catchup = tcp://127.0.0.1:7403
 *     calculator = tcp://127.0.0.1:7405
 *     key = keys/hub.pub
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <zmq.h>

#include "attest/hex.h"
#include "collateral/calc.h"
#include "relayer/bus.h"
#include "relayer/args.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/replica.h"
#include "relayer/wire.h"

#define RESEND_MS 2000
#define SEND_MAX 256 /* decisions sent per round */

typedef struct margin_config {
    char data[CFG_STR_MAX], key[CFG_STR_MAX], relayers[CFG_STR_MAX], risk[CFG_STR_MAX];
    char records[CFG_STR_MAX], catchup[CFG_STR_MAX], calculator[CFG_STR_MAX], hub_key[CFG_STR_MAX];
} margin_config;

#define F(field) offsetof(margin_config, field)
static const cfg_key schema[] = {
    {"margin", "data", CFG_PATH, 1, 0, 0, F(data)},
    {"margin", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"margin", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
    {"margin", "risk", CFG_PATH, 1, 0, 0, F(risk)},
    {"hub", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
    {"hub", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},
    {"hub", "calculator", CFG_ENDPOINT, 1, 0, 0, F(calculator)},
    {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
};

/* A signed decision not yet seen in the log. */
struct pending {
    uint8_t key[HASH_BYTES];
    uint64_t msg_id, sent_ms;
    size_t len;
    uint8_t bytes[DECISION_MAX_BYTES];
    UT_hash_handle hh;
};

struct margind {
    margin_config cfg;
    node_key *key;
    node_pub hub;
    relset genesis;
    mg_risk risk;
    calc *c;
    replica *r;
    bus *b;
    void *sock;
    struct pending *pending;
    uint64_t next_msg, status_ms, logged, refused;
    bool live; /* past the replay of the replica's own records */
    rl_err err;
    rl_why err_why;
};

static void on_note(void *ctx, uint64_t seq, const char *what, const char *why)
{
    (void)ctx;
    log_warn(what, "seq=%llu why=\"%s\"", (unsigned long long)seq, why);
}

static void on_decision(void *ctx, const decision *d0)
{
    struct margind *m = ctx;
    decision *d = malloc(sizeof *d);
    struct pending *p = calloc(1, sizeof *p);
    rl_why why = {{0}};
    if (d == NULL || p == NULL) {
        m->err = RL_ERR_NOMEM;
        goto done;
    }
    *d = *d0;
    memcpy(d->calculator, node_key_pub(m->key)->ed25519, ED25519_PK_BYTES);
    decision_key(p->key, d);
    if ((m->err = decision_sign(p->bytes, &p->len, d, m->key, &why)) != RL_OK) {
        m->err_why = why;
        goto done;
    }
    char hex[43], eq[FIXED_STR_MAX];
    if (m->live)
        log_info("decision", "kind=%s account=%s basis=%llu equity=%s reason=%s seizes=%u", decision_kind_name(d->kind),
                 evm_addr_to_hex(d->account, hex), (unsigned long long)d->basis,
                 fixed_format_i128(d->equity_u, FIXED_U_DIGITS, true, eq), decision_reason_name(d->reason), d->nseize);
    struct pending *old = NULL;
    HASH_FIND(hh, m->pending, p->key, HASH_BYTES, old);
    if (old == NULL) {
        HASH_ADD(hh, m->pending, key, HASH_BYTES, p);
        p = NULL;
    }
done:
    free(p);
    free(d);
}

/* Every record, in order: to the calculator; a logged decision leaves the pending set. */
static rl_err on_record(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    struct margind *m = ctx;
    (void)seq;
    rl_err err = calc_apply(m->c, rec, len, why);
    if (err == RL_OK && m->err != RL_OK) {
        *why = m->err_why;
        err = m->err;
    }
    record r;
    decision d;
    if (err != RL_OK || record_decode(&r, rec, len, NULL) != RL_OK || r.type != RECORD_DECISION ||
        decision_decode(&d, r.payload, r.payload_len, NULL) != RL_OK)
        return err;
    uint8_t key[HASH_BYTES];
    decision_key(key, &d);
    struct pending *p = NULL;
    HASH_FIND(hh, m->pending, key, HASH_BYTES, p);
    if (p != NULL) {
        HASH_DEL(m->pending, p);
        free(p);
        m->logged++;
    }
    return RL_OK;
}

static void send_pending(struct margind *m)
{
    uint64_t now = mono_ms();
    uint8_t frame[DECISION_MAX_BYTES + 32];
    int sent = 0;
    struct pending *p, *t;
    HASH_ITER(hh, m->pending, p, t) {
        if (sent == SEND_MAX)
            break;
        if (p->sent_ms != 0 && now - p->sent_ms < RESEND_MS)
            continue;
        if (p->msg_id == 0)
            p->msg_id = ++m->next_msg;
        size_t len = wire_encode_submit(frame, sizeof frame, p->msg_id, RECORD_DECISION, p->bytes, p->len);
        if (zmq_send(m->sock, frame, len, ZMQ_DONTWAIT) < 0)
            break; /* the hub is away: try again next round */
        p->sent_ms = now;
        sent++;
    }
}

static void take_acks(struct margind *m)
{
    uint8_t frame[WIRE_ACK_MAX * 9 + 16];
    int got;
    while ((got = zmq_recv(m->sock, frame, sizeof frame, ZMQ_DONTWAIT)) >= 0) {
        wire_msg w;
        if ((size_t)got > sizeof frame || wire_decode(&w, frame, (size_t)got, NULL) != RL_OK || w.type != WIRE_ACK)
            continue;
        for (size_t i = 0; i < w.n; i++) {
            wire_ack a = wire_ack_at(&w, i);
            if (a.status != WIRE_ACK_REFUSED)
                continue; /* settled: its record is on the way */
            struct pending *p, *t;
            HASH_ITER(hh, m->pending, p, t) {
                if (p->msg_id != a.msg_id)
                    continue;
                log_warn("decision refused by the hub", "msg=%llu", (unsigned long long)a.msg_id);
                HASH_DEL(m->pending, p);
                free(p);
                m->refused++;
            }
        }
    }
}

static rl_err write_status(struct margind *m, rl_why *why)
{
    const calc_stats *s = calc_get_stats(m->c);
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "updated_ms",
                          (json_int_t)wall_ms(), "head_seq", (json_int_t)replica_head(m->r), "accounts",
                          (json_int_t)s->accounts, "decisions", (json_int_t)s->decisions, "decisions_pending",
                          (json_int_t)HASH_COUNT(m->pending), "decisions_logged", (json_int_t)m->logged,
                          "decisions_refused", (json_int_t)m->refused, "prices", (json_int_t)s->prices,
                          "prices_refused", (json_int_t)s->prices_refused, "evaluations", (json_int_t)s->evaluations,
                          "records", (json_int_t)s->records, "withdrawals_stale", (json_int_t)s->withdrawals_stale);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/margin-status.json", m->cfg.data);
    rl_err err = file_write_atomic(path, text, why);
    free(text);
    return err;
}

static rl_err open_common(const char *config, margin_config *cfg, node_key **key, relset *genesis, mg_risk *risk,
                          rl_why *why)
{
    rl_err err = cfg_load(config, schema, sizeof schema / sizeof schema[0], cfg, why);
    if (err == RL_OK && key != NULL)
        err = keyfile_read(cfg->key, key, why);
    if (err == RL_OK)
        err = relset_load(cfg->relayers, genesis, why);
    if (err == RL_OK)
        err = risk_load(cfg->risk, risk, why);
    return err;
}

static rl_err margind_run(struct margind *m, const char *config, rl_why *why)
{
    rl_err err = open_common(config, &m->cfg, &m->key, &m->genesis, &m->risk, why);
    if (err == RL_OK)
        err = pubfile_read(m->cfg.hub_key, &m->hub, why);
    if (err == RL_OK)
        err = calc_new(&m->c, &m->risk, on_decision, m, on_note, m);
    replica_opts o = {.data = m->cfg.data, .key = m->key, .hub = &m->hub, .genesis = &m->genesis,
                      .records = m->cfg.records, .catchup = m->cfg.catchup, .on_record = on_record, .ctx = m};
    if (err == RL_OK)
        err = replica_open(&m->r, &o, why);
    if (err == RL_OK)
        err = bus_new(&m->b, NULL, NULL, why);
    if (err == RL_OK &&
        (m->sock = bus_client(m->b, ZMQ_DEALER, m->key, m->hub.x25519, m->cfg.calculator, NULL, why)) == NULL)
        err = RL_ERR_IO;
    if (err != RL_OK)
        return err;
    m->live = true;
    char risk_hex[2 * HASH_BYTES + 1];
    log_info("calculator started", "head=%llu accounts=%llu unlogged_decisions=%u risk=%s",
             (unsigned long long)replica_head(m->r), (unsigned long long)calc_get_stats(m->c)->accounts,
             HASH_COUNT(m->pending), hex_encode(risk_hex, m->risk.digest, HASH_BYTES));
    while (!daemon_stopping && err == RL_OK) {
        err = replica_poll(m->r, 20, why);
        if (err != RL_OK)
            break;
        send_pending(m);
        take_acks(m);
        if (mono_ms() - m->status_ms >= 1000) {
            err = write_status(m, why);
            m->status_ms = mono_ms();
        }
    }
    return err;
}

static void margind_close(struct margind *m)
{
    bus_close(m->sock);
    bus_free(m->b);
    replica_close(m->r);
    calc_free(m->c);
    mg_risk_fini(&m->risk);
    node_key_free(m->key);
    struct pending *p, *t;
    HASH_ITER(hh, m->pending, p, t) {
        HASH_DEL(m->pending, p);
        free(p);
    }
}

int margin_daemon(const char *config)
{
    log_init("margin", "", LOG_INFO);
    daemon_trap_signals();
    struct margind *m = calloc(1, sizeof *m);
    if (m == NULL)
        return EXIT_USAGE;
    rl_why why = {{0}};
    rl_err err = margind_run(m, config, &why);
    int rc = replica_exit(m->r, "calculator", err, &why);
    margind_close(m);
    free(m);
    return rc;
}

static void ignore_decision(void *ctx, const decision *d)
{
    (void)ctx;
    (void)d;
}

int margin_query(const char *config, const char *account_hex)
{
    margin_config cfg;
    relset genesis;
    mg_risk risk = {0};
    calc *c = NULL;
    store *st = NULL;
    MDB_txn *txn = NULL;
    uint8_t account[EVM_ADDR_BYTES];
    rl_why why = {{0}};
    rl_err err = RL_OK;
    err = arg_addr(account, account_hex, "--account", &why);
    if (err == RL_OK)
        err = open_common(config, &cfg, NULL, &genesis, &risk, &why);
    store_opts so = {.read_only = true};
    if (err == RL_OK)
        err = store_open(&st, cfg.data, &so, &why);
    if (err == RL_OK)
        err = calc_new(&c, &risk, ignore_decision, NULL, NULL, NULL);
    if (err == RL_OK)
        err = store_read_begin(st, &txn, &why);
    ledger_head head = {0};
    if (err == RL_OK)
        err = ledger_head_get(txn, st, &head, &why);
    for (uint64_t seq = 1; seq <= head.seq && err == RL_OK; seq++) {
        MDB_val v;
        if ((err = ledger_record_get(txn, st, seq, &v, &why)) == RL_OK)
            err = calc_apply(c, v.mv_data, v.mv_size, &why);
    }
    int rc = 0;
    if (err != RL_OK) {
        fprintf(stderr, "relayer margin query: %s\n", why.text[0] ? why.text : rl_strerror(err));
        rc = EXIT_USAGE;
    } else {
        json_t *j = calc_account_json(c, account);
        if (j == NULL) {
            fprintf(stderr, "relayer margin query: no account %s in the log up to record %llu\n", account_hex,
                    (unsigned long long)head.seq);
            rc = EXIT_CHECK_FAILED;
        } else {
            char *text = json_dumps(j, JSON_INDENT(2));
            puts(text ? text : "{}");
            free(text);
            json_decref(j);
        }
    }
    if (txn != NULL)
        store_read_end(txn);
    calc_free(c);
    store_close(st);
    mg_risk_fini(&risk);
    return rc;
}
