/*
 * cmd_cosign.c - `relayer cosign --config FILE`: a relayer node's co-signer.
 *
 * It keeps an audited replica of the hub's log (replica.h) and hands every record it applied to
 * the node's judgement (cosigner.h): its own calculator and risk file decide which instructions
 * it signs with the node's secp256k1 key; the others it refuses and logs why. A signature goes
 * to the hub as a COSIG message, again after RESEND_MS, then twice as long each time up to
 * RESEND_MAX_MS, until the instruction's BUNDLE is in the log or its deadline has passed (the
 * hub alerts an instruction still short of its threshold: hubcosig.h). Killed and restarted, it
 * rebuilds the same state from its replica and signs the same bytes (RFC 6979).
 * Its replica also witnesses the heads it verified (replica.h): checkpoints to the hub's node
 * endpoint; `relayer checkpoint --config cosign.conf` prints the newest quorum checkpoint it holds.
 *
 *     # cosign1.conf
 *     [cosign]
 *     key = keys/node1.key       ; the node's key: its member id, CURVE identity and secp256k1 key
 *     relayers = relayers.json   ; the genesis set
 *     risk = risk.json           ; the node's own copy of the risk parameters (chains: vaults)
 *     data = node1-cosign        ; the replica's LMDB directory
 *     checkpoint_records = 1000  ; sign the verified head after this many records (optional)
 *     checkpoint_ms = 10000      ; or after this long (optional)
 *     [hub]
 *     records = tcp://127.0.0.1:7402
 *     catchup = tcp://127.0.0.1:7403
 *     nodes = tcp://127.0.0.1:7401
 *     key = keys/hub.pub
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>
#include <zmq.h>

#include "attest/hex.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/cosigner.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/replica.h"
#include "relayer/wire.h"

#define RESEND_MS 2000
#define RESEND_MAX_MS 8000 /* a restarted hub has every signature again within this */
#define SEND_MAX 256       /* signatures sent per round */

static const char USAGE[] = "usage: relayer cosign --config FILE\n"
                            "\n"
                            "Runs a node's co-signer: follows the hub's log with its own replica and\n"
                            "calculator, and signs each instruction whose decision it reached itself.\n";

typedef struct cosign_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], risk[CFG_STR_MAX], data[CFG_STR_MAX];
    char records[CFG_STR_MAX], catchup[CFG_STR_MAX], nodes[CFG_STR_MAX], hub_key[CFG_STR_MAX];
    uint64_t checkpoint_records, checkpoint_ms;
} cosign_config;

#define F(field) offsetof(cosign_config, field)
static const cfg_key schema[] = {
    {"cosign", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"cosign", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
    {"cosign", "risk", CFG_PATH, 1, 0, 0, F(risk)},
    {"cosign", "data", CFG_PATH, 1, 0, 0, F(data)},
    {"hub", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
    {"hub", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},
    {"hub", "nodes", CFG_ENDPOINT, 1, 0, 0, F(nodes)},
    {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
    {"cosign", "checkpoint_records", CFG_U64, 0, 1, 1000000000, F(checkpoint_records)},
    {"cosign", "checkpoint_ms", CFG_U64, 0, 100, 86400000, F(checkpoint_ms)},
};
#undef F

/* A signature not yet in a logged bundle. */
struct pending {
    uint64_t seq; /* of the INSTRUCTION */
    uint64_t deadline_s, sent_ms;
    unsigned sends;
    uint8_t sig[EVM_SIG_BYTES];
    UT_hash_handle hh;
};

struct cosign_node {
    cosign_config cfg;
    node_key *key;
    node_pub hub;
    relset genesis;
    uint16_t member;
    mg_risk risk;
    cosigner *judge;
    replica *r;
    bus *b;
    void *sock;
    struct pending *pending;
    uint64_t signed_n, refused_n, bundled_n, status_ms;
    bool live; /* past the replay of the replica's own records: log what it decides */
};

static void refuse(struct cosign_node *c, uint64_t seq, const char *why)
{
    c->refused_n++;
    if (c->live)
        log_warn("refused to co-sign", "instruction=%llu why=\"%s\"", (unsigned long long)seq, why);
}

/* An instruction the judgement passed: signed now, sent until its bundle is logged. */
static rl_err sign_instruction(struct cosign_node *c, uint64_t seq, const cosigner_step *st)
{
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    rl_err err = node_key_sign_evm(c->key, p->sig, st->digest);
    if (err != RL_OK) {
        free(p);
        return err;
    }
    const instruction *in = &st->in;
    p->seq = seq;
    p->deadline_s = in->deadline_s;
    HASH_ADD(hh, c->pending, seq, sizeof p->seq, p);
    c->signed_n++;
    char acct[43];
    if (c->live)
        log_info("co-signed", "instruction=%llu kind=%s decision=%llu chain_id=%llu account=%s nonce=%llu",
                 (unsigned long long)seq, instruction_kind_name(in->kind), (unsigned long long)in->decision,
                 (unsigned long long)in->chain_id, evm_addr_to_hex(in->account, acct), (unsigned long long)in->nonce);
    return RL_OK;
}

/* Every record, in order, to the judgement; what it asks is done here. */
static rl_err on_record(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    struct cosign_node *c = ctx;
    cosigner_step st;
    rl_err err = cosigner_next(c->judge, rec, len, seq, wall_ms(), &st, why);
    if (err != RL_OK)
        return err;
    struct pending *p = NULL;
    switch (st.verdict) {
    case COSIGNER_SIGN: return sign_instruction(c, seq, &st);
    case COSIGNER_REFUSE: refuse(c, seq, st.why); break;
    case COSIGNER_NOT_REPRODUCED:
        if (c->live)
            log_warn("decision not reproduced: its instructions will not be co-signed", "seq=%llu why=\"%s\"",
                     (unsigned long long)seq, st.why);
        break;
    case COSIGNER_BUNDLED:
        HASH_FIND(hh, c->pending, &st.bundled, sizeof st.bundled, p);
        if (p != NULL) {
            HASH_DEL(c->pending, p);
            free(p);
            c->bundled_n++;
        }
        break;
    case COSIGNER_NOTHING: break;
    }
    return RL_OK;
}

static void send_pending(struct cosign_node *c)
{
    uint64_t now = mono_ms(), now_s = wall_ms() / 1000;
    uint8_t frame[EVM_SIG_BYTES + 32];
    int sent = 0;
    struct pending *p, *t;
    HASH_ITER(hh, c->pending, p, t) {
        if (p->deadline_s < now_s) { /* past its deadline: the vault would refuse it */
            HASH_DEL(c->pending, p);
            free(p);
            continue;
        }
        uint64_t wait = p->sends == 0 ? 0 : (uint64_t)RESEND_MS << (p->sends < 8 ? p->sends - 1 : 7);
        if (sent == SEND_MAX || now - p->sent_ms < (wait < RESEND_MAX_MS ? wait : RESEND_MAX_MS))
            continue;
        size_t len = wire_encode_cosig(frame, sizeof frame, p->seq, c->member, p->sig);
        if (zmq_send(c->sock, frame, len, ZMQ_DONTWAIT) < 0)
            break; /* the hub is away: next round */
        p->sent_ms = now;
        p->sends++;
        sent++;
    }
}

static rl_err write_status(struct cosign_node *c, rl_why *why)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "updated_ms", (json_int_t)wall_ms(), "head_seq",
                          (json_int_t)replica_head(c->r), "signed", (json_int_t)c->signed_n, "refused",
                          (json_int_t)c->refused_n, "bundled", (json_int_t)c->bundled_n, "waiting_for_bundle",
                          (json_int_t)HASH_COUNT(c->pending), "checkpoints_signed",
                          (json_int_t)replica_checkpoints_signed(c->r));
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    char path[CFG_STR_MAX + 32];
    snprintf(path, sizeof path, "%s/cosign-status.json", c->cfg.data);
    rl_err err = file_write_atomic(path, text, why);
    free(text);
    return err;
}

static rl_err cosign_run(struct cosign_node *c, const char *config, rl_why *why)
{
    c->cfg.checkpoint_records = REPLICA_CHECKPOINT_RECORDS;
    c->cfg.checkpoint_ms = REPLICA_CHECKPOINT_MS;
    rl_err err = cfg_load(config, schema, sizeof schema / sizeof schema[0], &c->cfg, why);
    if (err == RL_OK)
        err = keyfile_read(c->cfg.key, &c->key, why);
    const relset_member *me = NULL;
    if (err == RL_OK)
        err = relset_load_member(c->cfg.relayers, node_key_pub(c->key), &c->genesis, &me, why);
    if (err == RL_OK)
        err = risk_load(c->cfg.risk, &c->risk, why);
    if (err == RL_OK)
        err = pubfile_read(c->cfg.hub_key, &c->hub, why);
    if (err == RL_OK)
        c->member = me->id;
    if (err == RL_OK)
        err = cosigner_new(&c->judge, &c->risk);
    replica_opts o = {.data = c->cfg.data, .key = c->key, .hub = &c->hub, .genesis = &c->genesis,
                      .records = c->cfg.records, .catchup = c->cfg.catchup, .on_record = on_record, .ctx = c,
                      .nodes = c->cfg.nodes, .checkpoint_records = c->cfg.checkpoint_records,
                      .checkpoint_ms = c->cfg.checkpoint_ms};
    if (err == RL_OK)
        err = replica_open(&c->r, &o, why);
    if (err == RL_OK)
        err = bus_new(&c->b, NULL, NULL, why);
    if (err == RL_OK &&
        (c->sock = bus_client(c->b, ZMQ_DEALER, c->key, c->hub.x25519, c->cfg.nodes, NULL, why)) == NULL)
        err = RL_ERR_IO;
    if (err != RL_OK)
        return err;
    c->live = true;
    char risk_hex[2 * HASH_BYTES + 1], evm[43];
    log_info("cosigner started", "member=%u signer=%s head=%llu waiting_for_bundle=%u risk=%s", c->member,
             evm_addr_to_hex(node_key_pub(c->key)->evm, evm), (unsigned long long)replica_head(c->r),
             HASH_COUNT(c->pending), hex_encode(risk_hex, c->risk.digest, HASH_BYTES));
    while (!daemon_stopping && err == RL_OK) {
        if ((err = replica_poll(c->r, 20, why)) != RL_OK)
            break;
        send_pending(c);
        if (mono_ms() - c->status_ms >= 1000) {
            err = write_status(c, why);
            c->status_ms = mono_ms();
        }
    }
    return err;
}

static void cosign_close(struct cosign_node *c)
{
    bus_close(c->sock);
    bus_free(c->b);
    replica_close(c->r);
    cosigner_free(c->judge);
    mg_risk_fini(&c->risk);
    node_key_free(c->key);
    struct pending *p, *pt;
    HASH_ITER(hh, c->pending, p, pt) {
        HASH_DEL(c->pending, p);
        free(p);
    }
}

int cmd_cosign(int argc, char **argv)
{
    int rc;
    const char *config = daemon_config_arg(argc, argv, "cosign", USAGE, &rc);
    if (config == NULL)
        return rc;
    log_init("cosign", "", LOG_INFO);
    daemon_trap_signals();
    struct cosign_node *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EXIT_USAGE;
    rl_why why = {{0}};
    rl_err err = cosign_run(c, config, &why);
    rc = replica_exit(c->r, "cosigner", err, &why);
    cosign_close(c);
    free(c);
    return rc;
}
