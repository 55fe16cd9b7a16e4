/*
 * margind_test.c - the live calculator end to end, every piece its own process: the hub, the
 * margin daemon, nodes sending deposits (from this test) and prices (`relayer price send`), a
 * venue (`relayer venue`). The story: deposits on two chains, quorum prices, a position, a
 * withdrawal approved and one refused, a price fall and the liquidation with its seize plan.
 * Then the margin daemon is killed with SIGKILL and restarted: no decision is logged twice, and
 * `relayer audit replay --risk` over the exported log reproduces every logged decision.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <zmq.h>

#include "attest/bundle.h"
#include "attest/decision.h"
#include "attest/hex.h"
#include "db/ledger.h"
#include "relayer/bus.h"
#include "relayer/keyfile.h"
#include "relayer/wire.h"
#include "tests/fixture.h"

#define E18 1000000000000000000ull

static const char RISK[] =
    "{\"chains\": {\"l1\": {\"chain_id\": 1, \"vault\": \"0x00000000000000000000000000000000000000a1\",\n"
    "                      \"insurance\": \"0x00000000000000000000000000000000000000e1\"},\n"
    "            \"l2\": {\"chain_id\": 10, \"vault\": \"0x00000000000000000000000000000000000000a2\",\n"
    "                      \"insurance\": \"0x00000000000000000000000000000000000000e2\"}},\n"
    " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 2,\n"
    "                       \"tokens\": {\"l1\": \"0x0000000000000000000000000000000000000000\"}},\n"
    "             \"USDC\": {\"decimals\": 6, \"haircut\": \"0.02\", \"seize_priority\": 1,\n"
    "                       \"tokens\": {\"l2\": \"0x00000000000000000000000000000000000000c0\"}}},\n"
    " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": \"0.05\", \"mmf\": \"0.03\"}]}},\n"
    " \"params\": {\"liquidation_fee\": \"0.01\"},\n"
    " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 600000}}\n";

/* The trader: the fixture's spare key (keys/node4.key, secp256k1 secret 0x44..44) signs its
 * withdrawals (attest/admit.h). */
#define ACCOUNT "0x7564105e977516c53be337314c7e53838967bdac"

struct world {
    fixture f;
    char *dir;
    node_key *hub, *calc, *venue, *rogue; /* rogue: allow-listed at the hub, not pinned in the set */
    bus *b;
    pid_t hub_pid, margin_pid;
    uint64_t positions_nonce; /* the venue's last position request logged for ACCOUNT (admit.h A6) */
};

static void write_file(struct world *w, const char *name, const char *text) { tu_write(w->dir, name, text); }

static pid_t spawn(struct world *w, const char *what) { return tu_spawn(w->dir, what, what); }

static void stop(pid_t pid, int sig)
{
    int status;
    kill(pid, sig);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
}

static void setup(struct world *w)
{
    memset(w, 0, sizeof *w);
    fx_init(&w->f, 3, 2);
    w->dir = tu_tmpdir();
    rl_why why = {{0}};
    char keys[600], text[4096];
    snprintf(keys, sizeof keys, "%s/keys", w->dir);
    cr_assert_eq(mkdir(keys, 0700), 0);
    for (unsigned i = 0; i < 4; i++)
        cr_assert_eq(keyfile_write(keys, w->f.keys[i], &why), RL_OK, "%s", why.text);
    cr_assert_eq(node_key_generate(&w->hub, "hub", &why), RL_OK);
    cr_assert_eq(node_key_generate(&w->calc, "calc", &why), RL_OK);
    cr_assert_eq(node_key_generate(&w->venue, "venue", &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, w->hub, &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, w->calc, &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, w->venue, &why), RL_OK);
    cr_assert_eq(node_key_generate(&w->rogue, "rogue", &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, w->rogue, &why), RL_OK);
    w->f.set.nvenues = 0; /* the venue's key, not the fixture's, is the one pinned */
    cr_assert_eq(relset_add_venue(&w->f.set, "venue", node_key_pub(w->venue)->ed25519, &why), RL_OK);
    json_t *j = relset_to_json(&w->f.set);
    char *rel = json_dumps(j, 0);
    write_file(w, "relayers.json", rel);
    free(rel);
    json_decref(j);
    write_file(w, "risk.json", RISK);
    const char *d = w->dir;
    snprintf(text, sizeof text,
             "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 5\nrisk = risk.json\n"
             "[listen]\nnodes = ipc://%s/n.sock\nrecords = ipc://%s/r.sock\ncatchup = ipc://%s/c.sock\n"
             "venue = ipc://%s/v.sock\ncalculator = ipc://%s/k.sock\n"
             "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n"
             "subscriber = keys/calc.pub\nsubscriber = keys/node1.pub\nsubscriber = keys/node2.pub\n"
             "subscriber = keys/node3.pub\nvenue = keys/venue.pub\nvenue = keys/rogue.pub\ncalculator = keys/calc.pub\n"
             "[prices]\nheartbeat_ms = 1000\n",
             d, d, d, d, d);
    write_file(w, "hub.conf", text);
    snprintf(text, sizeof text,
             "[margin]\ndata = margin\nkey = keys/calc.key\nrelayers = relayers.json\nrisk = risk.json\n"
             "[hub]\nrecords = ipc://%s/r.sock\ncatchup = ipc://%s/c.sock\ncalculator = ipc://%s/k.sock\n"
             "key = keys/hub.pub\n",
             d, d, d);
    write_file(w, "margin.conf", text);
    snprintf(text, sizeof text, "[venue]\nkey = keys/venue.key\n[hub]\nvenue = ipc://%s/v.sock\nkey = keys/hub.pub\n", d);
    write_file(w, "venue.conf", text);
    snprintf(text, sizeof text, "[venue]\nkey = keys/rogue.key\n[hub]\nvenue = ipc://%s/v.sock\n"
                                "key = keys/hub.pub\n", d);
    write_file(w, "rogue.conf", text);
    for (unsigned i = 1; i <= 3; i++) {
        char name[32];
        snprintf(text, sizeof text,
                 "[node]\nkey = keys/node%u.key\nrelayers = relayers.json\n[hub]\nnodes = ipc://%s/n.sock\n"
                 "key = keys/hub.pub\n",
                 i, d);
        snprintf(name, sizeof name, "node%u.conf", i);
        write_file(w, name, text);
        snprintf(text, sizeof text,
                 "[cosign]\nkey = keys/node%u.key\nrelayers = relayers.json\nrisk = %s\ndata = cosign%u\n"
                 "[hub]\nrecords = ipc://%s/r.sock\ncatchup = ipc://%s/c.sock\nnodes = ipc://%s/n.sock\n"
                 "key = keys/hub.pub\n",
                 i, i == 3 ? "other.json" : "risk.json", i, d, d, d);
        snprintf(name, sizeof name, "cosign%u.conf", i);
        write_file(w, name, text);
    }
    /* Node 3's copy of the risk parameters differs (a higher ETH haircut): its calculator reaches
     * other decisions. */
    char *other = strdup(RISK);
    char *h = strstr(other, "\"0.10\"");
    cr_assert_not_null(h);
    h[3] = '2';
    write_file(w, "other.json", other);
    free(other);
    cr_assert_eq(bus_new(&w->b, NULL, NULL, &why), RL_OK);
    w->hub_pid = spawn(w, "hub");
}

static void teardown(struct world *w)
{
    if (w->margin_pid > 0)
        stop(w->margin_pid, SIGKILL);
    stop(w->hub_pid, SIGTERM);
    bus_free(w->b);
    node_key_free(w->hub);
    node_key_free(w->calc);
    node_key_free(w->venue);
    node_key_free(w->rogue);
    tu_rmdir(w->dir);
    fx_fini(&w->f);
}

/* Nodes 1 and 2 observe a deposit to ACCOUNT and send it until the hub acknowledges. */
static void deposit(struct world *w, uint64_t chain, uint8_t asset_last, uint64_t amount, uint64_t n)
{
    obs o = fx_obs(chain, n, n, amount);
    uint8_t acct[EVM_ADDR_BYTES];
    cr_assert_eq(hex_decode(acct, EVM_ADDR_BYTES, ACCOUNT + 2, "account", NULL), RL_OK);
    memcpy(o.account, acct, EVM_ADDR_BYTES);
    memset(o.asset, 0, EVM_ADDR_BYTES);
    o.asset[19] = asset_last;
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s/n.sock", w->dir);
    void *socks[2];
    uint8_t frames[2][512], ack[64];
    size_t lens[2];
    for (uint16_t m = 1; m <= 2; m++) {
        rl_why why = {{0}};
        socks[m - 1] = bus_client(w->b, ZMQ_DEALER, w->f.keys[m - 1], node_key_pub(w->hub)->x25519, ep, NULL, &why);
        cr_assert_not_null(socks[m - 1], "%s", why.text);
        signed_obs so = fx_sign(&w->f, &o, m);
        lens[m - 1] = wire_encode_obs(frames[m - 1], sizeof frames[0], n, &so, 1);
    }
    /* The hub acknowledges once the quorum settled the event: wait for node 2's. */
    bool acked = false;
    for (int tries = 0; tries < 50 && !acked; tries++) {
        for (int m = 0; m < 2; m++)
            zmq_send(socks[m], frames[m], lens[m], ZMQ_DONTWAIT);
        zmq_pollitem_t it = {socks[1], 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 500) > 0 && zmq_recv(socks[1], ack, sizeof ack, 0) > 0)
            acked = true;
    }
    bus_close(socks[0]);
    bus_close(socks[1]);
    cr_assert(acked, "deposit %llu acknowledged", (unsigned long long)n);
}

static void take_decision(const record *r, void *ctx)
{
    cr_assert_eq(decision_decode(ctx, r->payload, r->payload_len, NULL), RL_OK);
}

/* Records of `type` in the hub's log, read beside the running hub. */
static size_t count(struct world *w, uint8_t type, decision *last)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/hub", w->dir);
    return fx_each_record(dir, type, last ? take_decision : NULL, last);
}

static void wait_count(struct world *w, uint8_t type, size_t want, decision *last)
{
    size_t have = 0;
    for (int i = 0; i < 200 && (have = count(w, type, last)) < want; i++)
        usleep(50000);
    cr_assert_eq(have, want, "%s records: %zu, waited for %zu", record_type_name(type), have, want);
}

static void prices(struct world *w, const char *feed, const char *value, size_t logged_after)
{
    for (unsigned i = 1; i <= 2; i++) {
        char *out;
        int rc = tu_run(&out, "%s price send --config %s/node%u.conf --feed %s --price %s", RELAYER_BIN, w->dir, i,
                        feed, value);
        cr_assert_eq(rc, 0, "%s", out);
        free(out);
    }
    wait_count(w, RECORD_PRICE, logged_after, NULL);
}

/* `relayer venue ARGS` for ACCOUNT: a withdrawal signed with the owner's key and bound to the last
 * position request logged (positions_nonce), which a logged position request becomes. */
static void venue(struct world *w, const char *args, int want_rc)
{
    char *out, bind[48] = "";
    bool withdraw = strncmp(args, "withdraw", 8) == 0;
    if (withdraw)
        snprintf(bind, sizeof bind, " --positions-nonce %llu --relayers ", (unsigned long long)w->positions_nonce);
    int rc = tu_run(&out, "%s venue %s --config %s/venue.conf --account " ACCOUNT "%s%s%s%s%s%s", RELAYER_BIN, args,
                    w->dir, withdraw ? " --owner-key " : "", withdraw ? w->dir : "", withdraw ? "/keys/node4.key" : "",
                    bind, withdraw ? w->dir : "", withdraw ? "/relayers.json" : "");
    cr_assert_eq(rc, want_rc, "venue %s: exit %d: %s", args, rc, out);
    unsigned long long nonce;
    const char *at = strstr(out, "logged (nonce ");
    if (rc == 0 && !withdraw && at != NULL && sscanf(at, "logged (nonce %llu)", &nonce) == 1)
        w->positions_nonce = nonce;
    free(out);
}

/* 10 ETH on l1 and 5000 USDC on l2, prices, a long of 20 ETH-PERP at 3000, a withdrawal of 1 ETH. */
static void open_and_withdraw(struct world *w)
{
    deposit(w, 1, 0x00, 10 * E18, 1);
    deposit(w, 10, 0xc0, 5000000000ull, 2);
    prices(w, "ETH", "3000", 1);
    prices(w, "USDC", "1", 2);
    venue(w, "position --market ETH-PERP --size 20 --entry 3000", 0);
    venue(w, "withdraw --chain-id 1 --asset 0x0000000000000000000000000000000000000000 --amount 1000000000000000000 "
              "--recipient 0x2222222222222222222222222222222222222222",
          0);
}

Test(margind, story_decides_and_survives_kill_9_and_replays_bit_for_bit)
{
    struct world w;
    setup(&w);
    w.margin_pid = spawn(&w, "margin");
    open_and_withdraw(&w);
    decision d;
    wait_count(&w, RECORD_DECISION, 1, &d);
    cr_assert_eq(d.kind, DECISION_WITHDRAW_OK);
    venue(&w, "withdraw --chain-id 1 --asset 0x0000000000000000000000000000000000000000 --amount 15000000000000000000 "
              "--recipient 0x2222222222222222222222222222222222222222",
          0);
    wait_count(&w, RECORD_DECISION, 2, &d);
    cr_assert_eq(d.kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(d.reason, REASON_FUNDS);
    /* A venue reusing a nonce for a different request is refused. */
    venue(&w, "position --market ETH-PERP --size 1 --entry 1 --nonce 7", 0);
    venue(&w, "position --market ETH-PERP --size 2 --entry 1 --nonce 7", 1);
    venue(&w, "position --market ETH-PERP --size 20 --entry 3000", 0);
    prices(&w, "ETH", "1700", 3);
    wait_count(&w, RECORD_DECISION, 3, &d);
    cr_assert_eq(d.kind, DECISION_LIQUIDATE);
    cr_assert_eq(d.nseize, 2);
    cr_assert(d.equity_u == -(__int128)7330 * 1000000);
    /* The hub instructs the approved withdrawal and both seizes, and the ledger reserves them. */
    wait_count(&w, RECORD_INSTRUCTION, 3, NULL);

    /* kill -9 and restart: the same decisions are found again and none is logged twice. */
    stop(w.margin_pid, SIGKILL);
    w.margin_pid = spawn(&w, "margin");
    sleep(2);
    cr_assert_eq(count(&w, RECORD_DECISION, NULL), 3);
    char *out;
    int rc = tu_run(&out, "%s margin query --config %s/margin.conf --account " ACCOUNT, RELAYER_BIN, w.dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "\"status\": \"liquidatable\"") != NULL, "%s", out);
    free(out);

    rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog && %s audit replay log.rlog --relayers "
                      "relayers.json --out replayed --risk risk.json --json",
                w.dir, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "\"logged\":3") != NULL && strstr(out, "\"reproduced\":3") != NULL &&
                  strstr(out, "\"not_reproduced\":0") != NULL,
              "%s", out);
    free(out);
    /* Decisions made under other risk parameters cannot be checked against these: a failure. */
    rc = tu_run(&out, "cd %s && sed 's/0.10/0.20/' risk.json > other.json && %s audit replay log.rlog --relayers "
                      "relayers.json --out replayed2 --risk other.json --json",
                w.dir, RELAYER_BIN);
    cr_assert_eq(rc, 1, "%s", out);
    cr_assert(strstr(out, "\"other_risk\":3") != NULL && strstr(out, "made under risk parameters") != NULL, "%s", out);
    free(out);
    teardown(&w);
}

/* Sends one SUBMIT of d, signed by `signer`, from the calculator's peer key; returns the hub's
 * acknowledgement status, or -1 when none came within a few seconds. */
static int submit_decision(struct world *w, const decision *d, const node_key *signer, uint64_t msg_id)
{
    char ep[600];
    snprintf(ep, sizeof ep, "ipc://%s/k.sock", w->dir);
    rl_why why = {{0}};
    void *s = bus_client(w->b, ZMQ_DEALER, w->calc, node_key_pub(w->hub)->x25519, ep, NULL, &why);
    cr_assert_not_null(s, "%s", why.text);
    decision mine = *d;
    memcpy(mine.calculator, node_key_pub(signer)->ed25519, ED25519_PK_BYTES);
    uint8_t body[DECISION_MAX_BYTES], frame[DECISION_MAX_BYTES + 64], in[256];
    size_t len;
    cr_assert_eq(decision_sign(body, &len, &mine, signer, &why), RL_OK, "%s", why.text);
    size_t flen = wire_encode_submit(frame, sizeof frame, msg_id, RECORD_DECISION, body, len);
    int status = -1;
    for (int tries = 0; tries < 10 && status < 0; tries++) {
        zmq_send(s, frame, flen, ZMQ_DONTWAIT);
        zmq_pollitem_t it = {s, 0, ZMQ_POLLIN, 0};
        int got;
        wire_msg m;
        if (zmq_poll(&it, 1, 500) > 0 && (got = zmq_recv(s, in, sizeof in, 0)) > 0 &&
            wire_decode(&m, in, (size_t)got, NULL) == RL_OK && m.type == WIRE_ACK && wire_ack_at(&m, 0).msg_id == msg_id)
            status = wire_ack_at(&m, 0).status;
    }
    bus_close(s);
    return status;
}

Test(margind, hub_takes_one_answer_per_request_under_its_own_risk_from_the_calculator_key)
{
    struct world w;
    setup(&w);
    w.margin_pid = spawn(&w, "margin");
    deposit(&w, 1, 0x00, 10 * E18, 1);
    prices(&w, "ETH", "3000", 1);
    venue(&w, "withdraw --chain-id 1 --asset 0x0000000000000000000000000000000000000000 --amount 1000000000000000000 "
              "--recipient 0x2222222222222222222222222222222222222222",
          0);
    decision d;
    wait_count(&w, RECORD_DECISION, 1, &d);
    cr_assert_eq(d.kind, DECISION_WITHDRAW_OK);
    stop(w.margin_pid, SIGKILL); /* from here on only this test speaks for the calculator */
    w.margin_pid = 0;

    /* The logged decision again: settled, not logged twice. */
    cr_assert_eq(submit_decision(&w, &d, w.calc, 101), WIRE_ACK_SETTLED);
    /* Another answer to the same request: its key holds other bytes. */
    decision other = d;
    other.kind = DECISION_WITHDRAW_REFUSED;
    other.reason = REASON_FUNDS;
    cr_assert_eq(submit_decision(&w, &other, w.calc, 102), WIRE_ACK_REFUSED);
    /* Made under other risk parameters than the hub's. */
    decision risky = d;
    risky.risk[0] ^= 1;
    risky.basis = d.basis + 1;
    cr_assert_eq(submit_decision(&w, &risky, w.calc, 103), WIRE_ACK_REFUSED);
    /* Signed by a key other than the sending peer's. */
    cr_assert_eq(submit_decision(&w, &d, w.venue, 104), WIRE_ACK_REFUSED);
    cr_assert_eq(count(&w, RECORD_DECISION, NULL), 1);
    teardown(&w);
}

/* A compromised hub drops the venue's position request (8 ETH-PERP, venue nonce 424242) and logs the
 * owner's withdrawal of everything: the hub logs it (it keeps no per-account state), the calculator
 * refuses it (admit.h A6), nothing is instructed, and the log still verifies: a refusal, not a bad
 * record. */
Test(margind, a_withdrawal_bound_to_a_position_the_hub_never_logged_is_refused_and_the_log_verifies)
{
    struct world w;
    setup(&w);
    w.margin_pid = spawn(&w, "margin");
    deposit(&w, 1, 0x00, 10 * E18, 1);
    prices(&w, "ETH", "3000", 1);
    w.positions_nonce = 424242; /* what the venue sent; the hub held it back */
    venue(&w, "withdraw --chain-id 1 --asset 0x0000000000000000000000000000000000000000 --amount 10000000000000000000 "
              "--recipient 0x2222222222222222222222222222222222222222",
          0);
    decision d;
    wait_count(&w, RECORD_DECISION, 1, &d);
    cr_assert_eq(d.kind, DECISION_WITHDRAW_REFUSED, "the withdrawal past the hidden position was approved");
    cr_assert_eq(d.reason, REASON_POSITIONS_STALE, "refused for %s", decision_reason_name(d.reason));
    char *out;
    int rc = tu_run(&out, "%s margin query --config %s/margin.conf --account " ACCOUNT, RELAYER_BIN, w.dir);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "\"positions_nonce\": \"0\"") != NULL, "the venue reconciles against: %s", out);
    free(out);
    sleep(1);
    cr_assert_eq(count(&w, RECORD_INSTRUCTION, NULL), 0, "a release was instructed");
    rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog && %s audit verify log.rlog --relayers "
                      "relayers.json && %s audit replay log.rlog --relayers relayers.json --out replayed --risk "
                      "risk.json --json",
                w.dir, RELAYER_BIN, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert(strstr(out, "\"reproduced\":1") != NULL && strstr(out, "\"not_reproduced\":0") != NULL, "%s", out);
    free(out);
    teardown(&w);
}

/* Defence in depth (attest/admit.h): the hub itself refuses what the calculator would refuse. */
Test(margind, hub_refuses_an_allow_listed_venue_key_the_set_does_not_pin_and_withdrawals_without_owner_consent)
{
    struct world w;
    setup(&w);
    char *out;
    int rc = tu_run(&out, "%s venue position --config %s/rogue.conf --account " ACCOUNT " --market ETH-PERP --size 0 "
                          "--entry 3000", RELAYER_BIN, w.dir);
    cr_assert_eq(rc, 1, "a position by the rogue key: exit %d: %s", rc, out);
    free(out);
    const char *withdraw = "withdraw --chain-id 1 --asset 0x0000000000000000000000000000000000000000 --amount "
                           "1000000000000000000 --recipient 0x2222222222222222222222222222222222222222 "
                           "--positions-nonce 0";
    char zero[2 + 2 * EVM_SIG_BYTES + 1] = "0x";
    memset(zero + 2, '0', 2 * EVM_SIG_BYTES);
    zero[sizeof zero - 1] = '\0';
    rc = tu_run(&out, "%s venue %s --config %s/venue.conf --account " ACCOUNT " --owner-signature %s", RELAYER_BIN,
                withdraw, w.dir, zero);
    cr_assert_eq(rc, 1, "a withdrawal with a malformed owner signature: exit %d: %s", rc, out);
    free(out);
    rc = tu_run(&out, "%s venue %s --config %s/venue.conf --account " ACCOUNT " --owner-key %s/keys/node4.key "
                      "--expiry-s 1 --relayers %s/relayers.json", RELAYER_BIN, withdraw, w.dir, w.dir, w.dir);
    cr_assert_eq(rc, 1, "an expired owner signature: exit %d: %s", rc, out);
    free(out);
    rc = tu_run(&out, "%s venue %s --config %s/venue.conf --account " ACCOUNT " --owner-key %s/keys/node1.key "
                "--relayers %s/relayers.json", RELAYER_BIN, withdraw, w.dir, w.dir, w.dir);
    cr_assert_eq(rc, 2, "another key than the account's is refused before sending: exit %d: %s", rc, out);
    free(out);
    cr_assert_eq(count(&w, RECORD_REQUEST, NULL), 0);
    venue(&w, withdraw, 0); /* signed by the owner: logged */
    cr_assert_eq(count(&w, RECORD_REQUEST, NULL), 1);
    teardown(&w);
}

struct instructions {
    uint64_t seq[8];
    instruction in[8];
    size_t n;
};

static void keep_instruction(const record *r, void *ctx)
{
    struct instructions *is = ctx;
    cr_assert_lt(is->n, 8);
    cr_assert_eq(instruction_decode(&is->in[is->n], r->payload, r->payload_len, NULL), RL_OK);
    is->seq[is->n++] = r->seq;
}

struct bundle_check {
    const struct instructions *is;
    const relset *set;
    size_t checked;
};

static void check_bundle(const record *r, void *ctx)
{
    struct bundle_check *c = ctx;
    bundle b;
    rl_why why = {{0}};
    cr_assert_eq(bundle_decode(&b, r->payload, r->payload_len, &why), RL_OK, "%s", why.text);
    for (size_t i = 0; i < c->is->n; i++) {
        if (c->is->seq[i] != b.instruction)
            continue;
        uint8_t digest[HASH_BYTES];
        instruction_digest(digest, &c->is->in[i]);
        cr_assert_eq(bundle_verify(&b, c->set, digest, &why), RL_OK, "%s", why.text);
        cr_assert_eq(b.n, 2);
        for (unsigned k = 0; k < b.n; k++)
            cr_assert_neq(b.e[k].member, 3, "node 3 signed what its calculator did not reach");
        c->checked++;
    }
}

Test(margind, cosigners_bundle_the_instructions_they_reach_and_a_disagreeing_node_refuses)
{
    struct world w;
    setup(&w);
    w.margin_pid = spawn(&w, "margin");
    pid_t cosigners[3];
    for (unsigned i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "cosign%u", i + 1);
        cosigners[i] = tu_spawn(w.dir, "cosign", name);
    }
    open_and_withdraw(&w);
    prices(&w, "ETH", "1700", 3);
    /* A release and two seizes, each bundled by nodes 1 and 2. */
    wait_count(&w, RECORD_INSTRUCTION, 3, NULL);
    wait_count(&w, RECORD_BUNDLE, 3, NULL);
    char db[600];
    snprintf(db, sizeof db, "%s/hub", w.dir);
    struct instructions is = {0};
    cr_assert_eq(fx_each_record(db, RECORD_INSTRUCTION, keep_instruction, &is), 3);
    struct bundle_check bc = {.is = &is, .set = &w.f.set};
    cr_assert_eq(fx_each_record(db, RECORD_BUNDLE, check_bundle, &bc), 3);
    cr_assert_eq(bc.checked, 3);
    for (unsigned i = 0; i < 3; i++)
        stop(cosigners[i], SIGTERM);
    char *out;
    int rc = tu_run(&out, "grep -c 'refused to co-sign' %s/cosign3.log", w.dir);
    cr_assert(rc == 0 && strtoul(out, NULL, 10) == 3, "node 3 refused the 3 instructions: %s", out);
    free(out);
    /* The auditor checks every bundle's signatures against the instructions. */
    rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog && %s audit verify log.rlog --relayers "
                      "relayers.json",
                w.dir, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "%s", out);
    free(out);
    teardown(&w);
}
