/*
 * cmd_cosign.c - `relayer cosign --config FILE`: a relayer node's co-signer.
 *
 * It keeps an audited replica of the hub's log (replica.h) and runs the margin calculator over
 * it with the node's own risk file, as an auditor's `audit replay --risk` does (calc_replay): a
 * logged DECISION counts as agreed only if this node's calculator reached the same bytes at the
 * same record. For each INSTRUCTION (which the replica's own ledger has matched to its
 * decision's plan and reserved), the co-signer signs the instruction's EIP-712 digest with the
 * node's secp256k1 key only if
 *
 *   - its decision is one this node agreed to,
 *   - the vault is the one this node's risk file names for that chain, and a seize pays that
 *     chain's insurance address,
 *   - the deadline is after the record's time and at most the chain's deadline_s (+ a minute of
 *     clock slack) after it, and after this node's own clock (the hub stamps record times),
 *
 * and otherwise refuses and logs why. A signature goes to the hub as a COSIG message, again every
 * RESEND_MS until the instruction's BUNDLE is in the log or its deadline has passed. Killed and
 * restarted, it rebuilds the same state from its replica and signs the same bytes (RFC 6979).
 *
 *     # cosign1.conf
 *     [cosign]
 *     key = keys/node1.key       ; the node's key: its member id, CURVE identity and secp256k1 key
 *     relayers = relayers.json   ; the genesis set
 *     risk = risk.json           ; the node's own copy of the risk parameters (chains: vaults)
 *     data = node1-cosign        ; the replica's LMDB directory
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

#include "attest/bundle.h"
#include "attest/hex.h"
#include "collateral/calc.h"
#include "relayer/bus.h"
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
#define SEND_MAX 256       /* signatures sent per round */
#define DEADLINE_SLACK_S 60 /* the hub's clock may run ahead of the record's time this much */

static const char USAGE[] = "usage: relayer cosign --config FILE\n"
                            "\n"
                            "Runs a node's co-signer: follows the hub's log with its own replica and\n"
                            "calculator, and signs each instruction whose decision it reached itself.\n";

typedef struct cosign_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], risk[CFG_STR_MAX], data[CFG_STR_MAX];
    char records[CFG_STR_MAX], catchup[CFG_STR_MAX], nodes[CFG_STR_MAX], hub_key[CFG_STR_MAX];
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
};
#undef F

/* A decision this node's calculator reached, by the seq of its DECISION record. */
struct agreed {
    uint64_t seq;
    UT_hash_handle hh;
};

/* A signature not yet in a logged bundle. */
struct pending {
    uint64_t seq; /* of the INSTRUCTION */
    uint64_t deadline_s, sent_ms;
    uint8_t sig[EVM_SIG_BYTES];
    UT_hash_handle hh;
};

struct cosigner {
    cosign_config cfg;
    node_key *key;
    node_pub hub;
    relset genesis;
    uint16_t member;
    mg_risk risk;
    calc_replay *cr;
    replica *r;
    bus *b;
    void *sock;
    struct agreed *agreed;
    struct pending *pending;
    uint64_t signed_n, refused_n, bundled_n, status_ms;
    bool live; /* past the replay of the replica's own records: log what it decides */
};

static void refuse(struct cosigner *c, uint64_t seq, const char *why)
{
    c->refused_n++;
    if (c->live)
        log_warn("refused to co-sign", "instruction=%llu why=\"%s\"", (unsigned long long)seq, why);
}

/* The checks of the file comment; why gets the first that fails. */
static bool acceptable(struct cosigner *c, const instruction *in, uint64_t time_ms, char *why, size_t cap)
{
    struct agreed *a = NULL;
    HASH_FIND(hh, c->agreed, &in->decision, sizeof in->decision, a);
    const mg_chain *ch = mg_risk_chain(&c->risk, in->chain_id);
    uint64_t t = time_ms / 1000;
    if (a == NULL)
        snprintf(why, cap, "decision %llu is not one this node's calculator reached",
                 (unsigned long long)in->decision);
    else if (ch == NULL)
        snprintf(why, cap, "chain %llu has no vault in this node's risk file", (unsigned long long)in->chain_id);
    else if (memcmp(ch->vault, in->vault, EVM_ADDR_BYTES) != 0)
        snprintf(why, cap, "vault is not the one this node's risk file names for chain %llu",
                 (unsigned long long)in->chain_id);
    else if (in->kind == INSTRUCTION_SEIZE && memcmp(ch->insurance, in->recipient, EVM_ADDR_BYTES) != 0)
        snprintf(why, cap, "a seize must pay chain %llu's insurance address", (unsigned long long)in->chain_id);
    else if (in->deadline_s <= t || in->deadline_s > t + ch->deadline_s + DEADLINE_SLACK_S)
        snprintf(why, cap, "deadline %llu is not within %llu s after the record's time %llu",
                 (unsigned long long)in->deadline_s, (unsigned long long)(ch->deadline_s + DEADLINE_SLACK_S),
                 (unsigned long long)t);
    else if (in->deadline_s > wall_ms() / 1000 + ch->deadline_s + DEADLINE_SLACK_S) /* the hub sets record times */
        snprintf(why, cap, "deadline %llu is more than %llu s after this node's clock",
                 (unsigned long long)in->deadline_s, (unsigned long long)(ch->deadline_s + DEADLINE_SLACK_S));
    else
        return true;
    return false;
}

static rl_err on_instruction(struct cosigner *c, const record *r)
{
    instruction in;
    char why[256];
    if (instruction_decode(&in, r->payload, r->payload_len, NULL) != RL_OK)
        return RL_OK; /* the replica's ledger accepted it: unreachable */
    if (!acceptable(c, &in, r->time_ms, why, sizeof why)) {
        refuse(c, r->seq, why);
        return RL_OK;
    }
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    uint8_t digest[HASH_BYTES];
    instruction_digest(digest, &in);
    rl_err err = node_key_sign_evm(c->key, p->sig, digest);
    if (err != RL_OK) {
        free(p);
        return err;
    }
    p->seq = r->seq;
    p->deadline_s = in.deadline_s;
    HASH_ADD(hh, c->pending, seq, sizeof p->seq, p);
    c->signed_n++;
    char acct[43];
    if (c->live)
        log_info("co-signed", "instruction=%llu kind=%s decision=%llu chain_id=%llu account=%s nonce=%llu",
                 (unsigned long long)r->seq, instruction_kind_name(in.kind), (unsigned long long)in.decision,
                 (unsigned long long)in.chain_id, evm_addr_to_hex(in.account, acct), (unsigned long long)in.nonce);
    return RL_OK;
}

/* Every record, in order: to the calculator; decisions it reproduced are agreed; instructions
 * are signed or refused; a bundle ends the resending. */
static rl_err on_record(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    struct cosigner *c = ctx;
    calc_replay_summary before, after;
    calc_replay_get_summary(c->cr, &before);
    rl_why w = {{0}};
    rl_err err = calc_replay_next(c->cr, rec, len, &w);
    record r;
    if (err == RL_ERR_STATE) { /* a decision this node does not reach */
        if (c->live)
            log_warn("decision not reproduced: its instructions will not be co-signed", "seq=%llu why=\"%s\"",
                     (unsigned long long)seq, w.text);
        return RL_OK;
    }
    if (err != RL_OK) {
        *why = w;
        return err;
    }
    if (record_decode(&r, rec, len, NULL) != RL_OK)
        return RL_OK;
    calc_replay_get_summary(c->cr, &after);
    if (r.type == RECORD_DECISION && after.reproduced > before.reproduced) {
        struct agreed *a = calloc(1, sizeof *a);
        if (a == NULL)
            return RL_ERR_NOMEM;
        a->seq = seq;
        HASH_ADD(hh, c->agreed, seq, sizeof a->seq, a);
    } else if (r.type == RECORD_INSTRUCTION) {
        return on_instruction(c, &r);
    } else if (r.type == RECORD_BUNDLE) {
        bundle b;
        struct pending *p = NULL;
        if (bundle_decode(&b, r.payload, r.payload_len, NULL) == RL_OK)
            HASH_FIND(hh, c->pending, &b.instruction, sizeof b.instruction, p);
        if (p != NULL) {
            HASH_DEL(c->pending, p);
            free(p);
            c->bundled_n++;
        }
    }
    return RL_OK;
}

static void send_pending(struct cosigner *c)
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
        if (sent == SEND_MAX || (p->sent_ms != 0 && now - p->sent_ms < RESEND_MS))
            continue;
        size_t len = wire_encode_cosig(frame, sizeof frame, p->seq, c->member, p->sig);
        if (zmq_send(c->sock, frame, len, ZMQ_DONTWAIT) < 0)
            break; /* the hub is away: next round */
        p->sent_ms = now;
        sent++;
    }
}

static rl_err write_status(struct cosigner *c, rl_why *why)
{
    json_t *j = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "updated_ms", (json_int_t)wall_ms(), "head_seq",
                          (json_int_t)replica_head(c->r), "signed", (json_int_t)c->signed_n, "refused",
                          (json_int_t)c->refused_n, "bundled", (json_int_t)c->bundled_n, "waiting_for_bundle",
                          (json_int_t)HASH_COUNT(c->pending));
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

static rl_err cosign_run(struct cosigner *c, const char *config, rl_why *why)
{
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
        err = calc_replay_new(&c->cr, &c->risk);
    replica_opts o = {.data = c->cfg.data, .key = c->key, .hub = &c->hub, .genesis = &c->genesis,
                      .records = c->cfg.records, .catchup = c->cfg.catchup, .on_record = on_record, .ctx = c};
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

static void cosign_close(struct cosigner *c)
{
    bus_close(c->sock);
    bus_free(c->b);
    replica_close(c->r);
    calc_replay_free(c->cr);
    mg_risk_fini(&c->risk);
    node_key_free(c->key);
    struct agreed *a, *at;
    HASH_ITER(hh, c->agreed, a, at) {
        HASH_DEL(c->agreed, a);
        free(a);
    }
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
    struct cosigner *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EXIT_USAGE;
    rl_why why = {{0}};
    rl_err err = cosign_run(c, config, &why);
    rc = replica_exit(c->r, "cosigner", err, &why);
    cosign_close(c);
    free(c);
    return rc;
}
