/*
 * hub_test.c - the hub daemon as a separate process, driven by three node clients and a
 * subscriber over CURVE (ipc endpoints in a temporary directory): acknowledgements, signer
 * checks, publication with catch-up, SIGTERM, and kill -9 in the middle of a stream.
 */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <time.h>
#include <zmq.h>

#include "db/ledger_ckpt.h"
#include "relayer/bus.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/sim.h"
#include "relayer/wire.h"
#include "tests/fixture.h"
#include "tests/testutil.h"

#define PER_MSG 100
#define RESEND_MS 400

struct node {
    void *sock;
    signed_obs *obs; /* this node's observations, in stream order */
    size_t n, nmsgs;
    uint64_t *sent_ms; /* per message: last send, 0 never */
    uint8_t *acked;    /* per message: 0 no, 1 settled, 2 refused */
};

struct cluster {
    char *dir;
    char conf[600];
    sim s;
    pool *p;
    node_key *hub_key, *auditor;
    bus *b;
    struct node nodes[3];
    pid_t hub, follower;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void write_conf(struct cluster *c)
{
    snprintf(c->conf, sizeof c->conf, "%s/hub.conf", c->dir);
    FILE *f = fopen(c->conf, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "# test hub\n[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 5\n"
            "[listen]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
            "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n"
            "subscriber = keys/auditor.pub\n"
            "subscriber = keys/node1.pub\nsubscriber = keys/node2.pub\nsubscriber = keys/node3.pub\n",
            c->dir, c->dir, c->dir);
    fclose(f);
}

static void start_hub(struct cluster *c)
{
    char log[700];
    snprintf(log, sizeof log, "%s/hub.log", c->dir);
    c->hub = fork();
    cr_assert(c->hub >= 0);
    if (c->hub == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        execl(RELAYER_BIN, "relayer", "hub", "--config", c->conf, (char *)NULL);
        _exit(127);
    }
}

/* Runs `relayer WHAT --config DIR/CONF.conf [--chain CHAIN]`, its output appended to DIR/CONF.log. */
static pid_t spawn_with(struct cluster *c, const char *what, const char *conf_name, const char *chain)
{
    char log[700], conf[700];
    snprintf(log, sizeof log, "%s/%s.log", c->dir, conf_name);
    snprintf(conf, sizeof conf, "%s/%s.conf", c->dir, conf_name);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no daemon behind */
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(fd, STDERR_FILENO);
        dup2(fd, STDOUT_FILENO);
        if (chain != NULL)
            execl(RELAYER_BIN, "relayer", what, "--config", conf, "--chain", chain, (char *)NULL);
        else
            execl(RELAYER_BIN, "relayer", what, "--config", conf, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static pid_t spawn(struct cluster *c, const char *what, const char *log_name)
{
    (void)log_name;
    return spawn_with(c, what, what, NULL);
}

static int stop_pid(pid_t pid, int sig)
{
    int status;
    kill(pid, sig);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static int stop_hub(struct cluster *c, int sig)
{
    int status;
    kill(c->hub, sig);
    cr_assert_eq(waitpid(c->hub, &status, 0), c->hub);
    return status;
}

/* DIR/relayers.json: the simulation's genesis set, as the hub and the auditor read it. */
static void write_relayers(struct cluster *c)
{
    char rel[700];
    snprintf(rel, sizeof rel, "%s/relayers.json", c->dir);
    json_t *j = relset_to_json(&c->s.genesis);
    cr_assert_eq(json_dump_file(j, rel, 0), 0);
    json_decref(j);
}

static void setup(struct cluster *c, uint64_t events)
{
    rl_why why = {{0}};
    cr_assert(sodium_init() >= 0);
    memset(c, 0, sizeof *c);
    c->dir = tu_tmpdir();
    sim_opts o = {.events = events, .nodes = 3, .threshold = 2, .seed = 21};
    cr_assert_eq(sim_init(&c->s, &o, &why), RL_OK);
    cr_assert_eq(pool_new(&c->p, 0), RL_OK);
    char keys[700];
    snprintf(keys, sizeof keys, "%s/keys", c->dir);
    cr_assert_eq(mkdir(keys, 0700), 0);
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(keyfile_write(keys, c->s.keys[i], &why), RL_OK, "%s", why.text);
    cr_assert_eq(node_key_generate(&c->hub_key, "hub", &why), RL_OK);
    cr_assert_eq(node_key_generate(&c->auditor, "auditor", &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, c->hub_key, &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, c->auditor, &why), RL_OK);
    write_relayers(c);
    write_conf(c);
    cr_assert_eq(bus_new(&c->b, NULL, NULL, &why), RL_OK);

    signed_obs *all;
    size_t n;
    cr_assert_eq(sim_stream(&c->s, c->p, 0, events, &all, &n, &why), RL_OK);
    char ep[700];
    snprintf(ep, sizeof ep, "ipc://%s/nodes.sock", c->dir);
    for (unsigned i = 0; i < 3; i++) {
        struct node *nd = &c->nodes[i];
        nd->obs = calloc(events, sizeof *nd->obs);
        for (size_t k = 0; k < n; k++)
            if (all[k].member == i + 1)
                nd->obs[nd->n++] = all[k];
        nd->nmsgs = (nd->n + PER_MSG - 1) / PER_MSG;
        nd->sent_ms = calloc(nd->nmsgs, sizeof *nd->sent_ms);
        nd->acked = calloc(nd->nmsgs, 1);
        nd->sock = bus_client(c->b, ZMQ_DEALER, c->s.keys[i], node_key_pub(c->hub_key)->x25519, ep, NULL, &why);
        cr_assert_not_null(nd->sock, "%s", why.text);
    }
    free(all);
}

static void teardown(struct cluster *c)
{
    for (unsigned i = 0; i < 3; i++) {
        bus_close(c->nodes[i].sock);
        free(c->nodes[i].obs);
        free(c->nodes[i].sent_ms);
        free(c->nodes[i].acked);
    }
    bus_free(c->b);
    node_key_free(c->hub_key);
    node_key_free(c->auditor);
    pool_free(c->p);
    sim_fini(&c->s);
    tu_rmdir(c->dir);
}

/* One round of every node: (re)send what is unacknowledged and due, read acknowledgements. */
static size_t node_round(struct node *nd)
{
    uint8_t frame[WIRE_OBS_MAX * WIRE_SIGNED_OBS_BYTES + 64];
    uint64_t now = now_ms();
    size_t outstanding = 0;
    for (size_t m = 0; m < nd->nmsgs; m++) {
        if (nd->acked[m])
            continue;
        outstanding++;
        if (outstanding > 32 || (nd->sent_ms[m] != 0 && now - nd->sent_ms[m] < RESEND_MS))
            continue;
        size_t from = m * PER_MSG, cnt = nd->n - from < PER_MSG ? nd->n - from : PER_MSG;
        size_t len = wire_encode_obs(frame, sizeof frame, m + 1, nd->obs + from, cnt);
        if (zmq_send(nd->sock, frame, len, ZMQ_DONTWAIT) >= 0)
            nd->sent_ms[m] = now;
    }
    zmq_pollitem_t it = {nd->sock, 0, ZMQ_POLLIN, 0};
    while (zmq_poll(&it, 1, 0) > 0) {
        int got = zmq_recv(nd->sock, frame, sizeof frame, 0);
        wire_msg msg;
        if (got > 0 && wire_decode(&msg, frame, (size_t)got, NULL) == RL_OK && msg.type == WIRE_ACK)
            for (size_t k = 0; k < msg.n; k++) {
                wire_ack a = wire_ack_at(&msg, k);
                if (a.msg_id >= 1 && a.msg_id <= nd->nmsgs)
                    nd->acked[a.msg_id - 1] = (uint8_t)(1 + a.status);
            }
    }
    return outstanding;
}

/* Streams until every message of every node is acknowledged or the deadline passes; a hook
 * runs once, when `at` of all the messages are left unacknowledged. */
static bool stream_all(struct cluster *c, uint64_t deadline_ms, size_t at, void (*hook)(struct cluster *))
{
    uint64_t t0 = now_ms();
    bool hooked = hook == NULL;
    for (;;) {
        size_t left = 0;
        for (unsigned i = 0; i < 3; i++)
            left += node_round(&c->nodes[i]);
        if (left == 0)
            return true;
        if (now_ms() - t0 > deadline_ms)
            return false;
        if (!hooked && left <= at) {
            hook(c);
            hooked = true;
        }
        zmq_pollitem_t its[3] = {{c->nodes[0].sock, 0, ZMQ_POLLIN, 0}, {c->nodes[1].sock, 0, ZMQ_POLLIN, 0},
                                 {c->nodes[2].sock, 0, ZMQ_POLLIN, 0}};
        zmq_poll(its, 3, 5);
    }
}

static void digest_json(struct cluster *c, char **out)
{
    cr_assert_eq(tu_run(out, "%s ledger digest --db %s/hub --json", RELAYER_BIN, c->dir), 0, "%s", *out);
}

static void export_and_verify(struct cluster *c)
{
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s audit export --db %s/hub --out %s/log.rlog", RELAYER_BIN, c->dir, c->dir), 0, "%s",
                 out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json", RELAYER_BIN, c->dir, c->dir), 0,
                 "%s", out);
    free(out);
}

Test(hub, three_nodes_stream_every_message_is_acknowledged_and_credited_once)
{
    struct cluster c;
    setup(&c, 3000);
    start_hub(&c);
    cr_assert(stream_all(&c, 60000, 0, NULL), "not every message was acknowledged");
    for (unsigned i = 0; i < 3; i++)
        for (size_t m = 0; m < c.nodes[i].nmsgs; m++)
            cr_assert_eq(c.nodes[i].acked[m], 1, "node %u message %zu: refused", i + 1, m + 1);
    int status = stop_hub(&c, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hub did not stop cleanly on SIGTERM (%d)", status);
    char *out;
    digest_json(&c, &out);
    cr_assert(strstr(out, "\"events_credited\":3000") != NULL, "%s", out);
    free(out);
    export_and_verify(&c);
    teardown(&c);
}

static void kill_and_restart(struct cluster *c)
{
    int status = stop_hub(c, SIGKILL);
    cr_assert(WIFSIGNALED(status), "the hub had already exited (%d)", status);
    start_hub(c);
}

Test(hub, killed_with_sigkill_mid_stream_it_comes_back_and_applies_everything_once)
{
    struct cluster c;
    setup(&c, 6000);
    start_hub(&c);
    size_t msgs = c.nodes[0].nmsgs + c.nodes[1].nmsgs + c.nodes[2].nmsgs;
    cr_assert(stream_all(&c, 90000, msgs / 2, kill_and_restart), "not every message was acknowledged after a restart");
    char *log = NULL;
    tu_run(&log, "grep -c 'hub started' %s/hub.log", c.dir);
    cr_assert(strncmp(log, "2", 1) == 0, "the hub was not restarted: %s", log);
    free(log);
    stop_hub(&c, SIGTERM);
    char *out;
    digest_json(&c, &out);
    cr_assert(strstr(out, "\"events_credited\":6000") != NULL, "%s", out);
    free(out);
    export_and_verify(&c);
    teardown(&c);
}

static void write_follow_conf(struct cluster *c)
{
    char path[700];
    snprintf(path, sizeof path, "%s/follow.conf", c->dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "[follow]\ndata = replica\nkey = keys/auditor.key\nrelayers = relayers.json\n"
            "[hub]\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\nkey = keys/hub.pub\n",
            c->dir, c->dir);
    fclose(f);
}

static void kill_and_restart_follower(struct cluster *c)
{
    int status = stop_pid(c->follower, SIGKILL);
    cr_assert(WIFSIGNALED(status), "the follower had already exited (%d)", status);
    c->follower = spawn(c, "follow", "follow.log");
}

static uint64_t head_of(const char *dir, const char *db, char digest[65])
{
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s ledger digest --db %s/%s --json", RELAYER_BIN, dir, db), 0, "%s", out);
    const char *p = strstr(out, "\"head_seq\":");
    cr_assert_not_null(p, "%s", out);
    uint64_t seq = strtoull(p + 11, NULL, 10);
    if (digest != NULL) {
        const char *d = strstr(out, "\"digest\":\"");
        cr_assert_not_null(d);
        memcpy(digest, d + 10, 64);
        digest[64] = '\0';
    }
    free(out);
    return seq;
}

Test(hub, a_follower_killed_and_restarted_catches_up_with_no_gap_and_no_duplicate)
{
    struct cluster c;
    setup(&c, 6000);
    write_follow_conf(&c);
    start_hub(&c);
    c.follower = spawn(&c, "follow", "follow.log");
    size_t msgs = c.nodes[0].nmsgs + c.nodes[1].nmsgs + c.nodes[2].nmsgs;
    cr_assert(stream_all(&c, 90000, msgs / 2, kill_and_restart_follower), "not every message was acknowledged");
    uint64_t hub_head = 0, rep_head = 0;
    for (int i = 0; i < 300; i++) { /* up to 30 s for the replica to reach the hub's head */
        hub_head = head_of(c.dir, "hub", NULL);
        rep_head = head_of(c.dir, "replica", NULL);
        if (rep_head == hub_head)
            break;
        usleep(100000);
    }
    cr_assert_eq(rep_head, hub_head, "the replica stopped at %llu of %llu", (unsigned long long)rep_head,
                 (unsigned long long)hub_head);
    int status = stop_pid(c.follower, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "follower did not stop cleanly (%d)", status);
    stop_hub(&c, SIGTERM);
    char hub_digest[65], rep_digest[65];
    head_of(c.dir, "hub", hub_digest);
    head_of(c.dir, "replica", rep_digest);
    cr_assert_str_eq(rep_digest, hub_digest, "the replica's ledger differs from the hub's");
    char *log = NULL;
    tu_run(&log, "grep -c 'follower started' %s/follow.log", c.dir);
    cr_assert(strncmp(log, "2", 1) == 0, "the follower was not restarted: %s", log);
    free(log);
    teardown(&c);
}

static uint64_t credited(struct cluster *c)
{
    char *out = NULL;
    if (tu_run(&out, "%s ledger digest --db %s/hub --json", RELAYER_BIN, c->dir) != 0) {
        free(out);
        return 0;
    }
    const char *p = strstr(out, "\"events_credited\":");
    uint64_t n = p ? strtoull(p + 18, NULL, 10) : 0;
    free(out);
    return n;
}

static void write_node_confs(struct cluster *c, int events)
{
    for (unsigned i = 0; i < 3; i++) {
        char path[700];
        snprintf(path, sizeof path, "%s/node%u.conf", c->dir, i + 1);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f);
        fprintf(f,
                "[node]\nkey = keys/node%u.key\nrelayers = relayers.json\ndata = node%u\n"
                "[hub]\nnodes = ipc://%s/nodes.sock\nkey = keys/hub.pub\n"
                "[chain.l1]\nsource = sim\nseed = 5\nevents = %d\nper_message = 50\n"
                "[chain.l2]\nsource = sim\nseed = 5\nevents = %d\n",
                i + 1, i + 1, c->dir, events, events);
        fclose(f);
    }
}

Test(hub, watcher_processes_and_the_hub_killed_with_sigkill_still_credit_every_event_once)
{
    struct cluster c;
    setup(&c, 10);
    enum { EVENTS = 20000, ON_L1 = EVENTS / 2 };
    pid_t w[3];
    write_node_confs(&c, EVENTS);
    start_hub(&c);
    for (unsigned i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "node%u", i + 1);
        w[i] = spawn_with(&c, "watch", name, "l1");
    }
    bool watcher_killed = false, hub_killed = false;
    uint64_t n = 0;
    for (int t = 0; t < 900 && n < ON_L1; t++) { /* up to 90 s */
        usleep(100000);
        n = credited(&c);
        if (!watcher_killed && n >= ON_L1 / 4 && n < ON_L1) {
            cr_assert(WIFSIGNALED(stop_pid(w[1], SIGKILL)), "watcher 2 had exited");
            w[1] = spawn_with(&c, "watch", "node2", "l1");
            watcher_killed = true;
        }
        if (!hub_killed && n >= ON_L1 / 2 && n < ON_L1) {
            kill_and_restart(&c);
            hub_killed = true;
        }
    }
    cr_assert(watcher_killed && hub_killed, "the kills did not happen (%llu credited)", (unsigned long long)n);
    cr_assert_eq(n, ON_L1, "%llu of %d events credited", (unsigned long long)n, ON_L1);
    for (unsigned i = 0; i < 3; i++) {
        int status = stop_pid(w[i], SIGTERM);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "watcher %u did not stop cleanly (%d)", i + 1, status);
    }
    stop_hub(&c, SIGTERM);
    cr_assert_eq(credited(&c), ON_L1);
    export_and_verify(&c);
    char *log = NULL;
    tu_run(&log, "grep -c 'watcher started' %s/node2.log; grep -c 'hub started' %s/hub.log", c.dir, c.dir);
    cr_assert(strcmp(log, "2\n2\n") == 0, "watcher 2 and the hub were not both restarted: %s", log);
    free(log);
    teardown(&c);
}

/* Writes printf text to DIR/name (append: adds to it). */
static void write_in(struct cluster *c, const char *name, bool append, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void write_in(struct cluster *c, const char *name, bool append, const char *fmt, ...)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    FILE *f = fopen(path, append ? "a" : "w");
    cr_assert_not_null(f, "%s", path);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    cr_assert_eq(fclose(f), 0, "%s", path);
}

Test(hub, up_runs_a_supervised_cluster_restarts_a_dead_child_and_stops_on_ctrl_c)
{
    struct cluster c;
    setup(&c, 10);
    enum { EVENTS = 4000 };
    write_node_confs(&c, EVENTS);
    write_follow_conf(&c);
    write_in(&c, "cluster.conf", false,
             "[cluster]\nhub = hub.conf\nnode = node1.conf\nnode = node2.conf\nnode = node3.conf\n"
             "chains = l1 l2\nfollow = follow.conf\nrestart_min_ms = 100\n");
    pid_t up = spawn_with(&c, "up", "cluster", NULL);
    uint64_t n = 0;
    for (int t = 0; t < 600 && n < EVENTS; t++) {
        usleep(100000);
        n = credited(&c);
    }
    cr_assert_eq(n, EVENTS, "%llu of %d events credited through the cluster", (unsigned long long)n, EVENTS);

    char *out = NULL;
    usleep(1200000); /* a fresh status file */
    cr_assert_eq(tu_run(&out, "%s status --config %s --json", RELAYER_BIN, c.conf), 0, "%s", out);
    cr_assert(strstr(out, "\"running\":true") != NULL, "%s", out);
    cr_assert(strstr(out, "\"name\":\"node1\"") && strstr(out, "\"name\":\"node3\""), "%s", out);
    cr_assert(strstr(out, "\"chain_id\":1,") && strstr(out, "\"chain_id\":10,"), "%s", out);
    cr_assert(strstr(out, "\"next_seq\":2001") != NULL, "both vaults at their last event: %s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s status --config %s", RELAYER_BIN, c.conf), 0, "%s", out);
    cr_assert(strstr(out, "hub       running") != NULL, "%s", out);
    free(out);

    /* A watcher killed outright is restarted by the supervisor. */
    cr_assert_eq(tu_run(&out, "sed -n 's/.*child=watch:node2.conf:l1 pid=\\([0-9]*\\).*/\\1/p' %s/cluster.log | tail -1",
                        c.dir), 0);
    pid_t victim = (pid_t)atoi(out);
    free(out);
    cr_assert_gt(victim, 0, "no pid for the node2 l1 watcher in the cluster log");
    cr_assert_eq(kill(victim, SIGKILL), 0);
    bool restarted = false;
    for (int t = 0; t < 50 && !restarted; t++) {
        usleep(100000);
        restarted = tu_run(NULL, "grep -q 'child died; restarting.*child=watch:node2.conf:l1' %s/cluster.log && "
                                 "[ $(grep -c 'child=watch:node2.conf:l1 pid=' %s/cluster.log) -ge 2 ]",
                           c.dir, c.dir) == 0;
    }
    cr_assert(restarted, "the killed watcher was not restarted");

    int status = stop_pid(up, SIGINT);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "up did not stop cleanly (%d)", status);
    cr_assert_eq(tu_run(NULL, "grep -q 'cluster stopped' %s/cluster.log", c.dir), 0);
    cr_assert_neq(tu_run(NULL, "pgrep -f 'relayer (hub|watch|follow) --config %s/'", c.dir), 0, "children left running");
    char hub_digest[65], rep_digest[65];
    head_of(c.dir, "hub", hub_digest);
    head_of(c.dir, "replica", rep_digest);
    cr_assert_str_eq(rep_digest, hub_digest, "the follower's replica differs from the hub");
    teardown(&c);
}

Test(hub, refuses_an_observation_signed_by_another_member_and_ignores_strangers)
{
    struct cluster c;
    setup(&c, 10);
    start_hub(&c);
    rl_why why = {{0}};
    uint8_t frame[4096];
    char ep[700];
    snprintf(ep, sizeof ep, "ipc://%s/nodes.sock", c.dir);
    /* node1 forwards node2's signed observation as its own message. */
    size_t len = wire_encode_obs(frame, sizeof frame, 77, &c.nodes[1].obs[0], 1);
    zmq_send(c.nodes[0].sock, frame, len, 0);
    zmq_pollitem_t it = {c.nodes[0].sock, 0, ZMQ_POLLIN, 0};
    cr_assert_eq(zmq_poll(&it, 1, 10000), 1, "no answer to a forwarded observation");
    int got = zmq_recv(c.nodes[0].sock, frame, sizeof frame, 0);
    wire_msg m;
    cr_assert_eq(wire_decode(&m, frame, (size_t)got, NULL), RL_OK);
    cr_assert_eq(m.type, WIRE_ACK);
    cr_assert_eq(wire_ack_at(&m, 0).status, WIRE_ACK_REFUSED);
    /* A stranger with a random key, and garbage from an allowed node: nothing is acknowledged. */
    node_key *stranger;
    cr_assert_eq(node_key_generate(&stranger, "stranger", &why), RL_OK);
    void *s = bus_client(c.b, ZMQ_DEALER, stranger, node_key_pub(c.hub_key)->x25519, ep, NULL, &why);
    len = wire_encode_obs(frame, sizeof frame, 1, &c.nodes[0].obs[0], 1);
    zmq_send(s, frame, len, ZMQ_DONTWAIT);
    zmq_send(c.nodes[0].sock, "\x01\x01garbage", 9, 0);
    zmq_pollitem_t its[2] = {{s, 0, ZMQ_POLLIN, 0}, {c.nodes[0].sock, 0, ZMQ_POLLIN, 0}};
    cr_assert_eq(zmq_poll(its, 2, 1500), 0, "a stranger or a garbage frame got an answer");
    bus_close(s);
    node_key_free(stranger);
    stop_hub(&c, SIGTERM);
    char *out;
    digest_json(&c, &out);
    cr_assert(strstr(out, "\"events_credited\":0") != NULL, "%s", out);
    free(out);
    char *log = NULL;
    tu_run(&log, "cat %s/hub.log", c.dir);
    cr_assert(strstr(log, "signer is not the sending peer") != NULL, "%s", log);
    cr_assert(strstr(log, "connection refused: key not allowed") != NULL, "%s", log);
    cr_assert(strstr(log, "frame dropped") != NULL, "%s", log);
    free(log);
    teardown(&c);
}

/* An executor per chain for each `execute` config and an oracle per `oracle` config, each
 * started with its own arguments and restarted when it dies: here their sources are a closed
 * port, so each executor stops at start-up naming its own chain's section, and the oracle
 * starts and abstains. */
Test(hub, up_starts_an_executor_per_chain_and_an_oracle_per_config_and_restarts_them)
{
    struct cluster c;
    setup(&c, 10);
    write_node_confs(&c, 10);
    write_in(&c, "node1.conf", true,
             "[feed.ETH]\nsource = chainlink\nrpc = http://127.0.0.1:1\nchain_id = 1\n"
             "aggregator = 0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419\ninterval_ms = 200\nmin = 100\nmax = 100000\n");
    write_in(&c, "execute1.conf", false,
             "[execute]\nkey = keys/node1.key\nrelayers = relayers.json\ndata = node1-execute\n"
             "[hub]\nnodes = ipc://%s/nodes.sock\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\n"
             "key = keys/hub.pub\n"
             "[chain.l1]\nrpc = http://127.0.0.1:1\nchain_id = 1\nvault = 0x5FbDB2315678afecb367f032d93F642f64180aa3\n"
             "[chain.l2]\nrpc = http://127.0.0.1:1\nchain_id = 10\nvault = 0x5FbDB2315678afecb367f032d93F642f64180aa3\n",
             c.dir, c.dir, c.dir);
    write_in(&c, "cluster.conf", false,
             "[cluster]\nhub = hub.conf\nnode = node1.conf\nnode = node2.conf\nnode = node3.conf\n"
             "chains = l1 l2\nexecute = execute1.conf\noracle = node1.conf\nrestart_min_ms = 100\n");
    char path[700];
    pid_t up = spawn_with(&c, "up", "cluster", NULL);
    static const char *const want[] = {
        "msg=\"started\" child=execute:execute1.conf:l1 pid=",
        "msg=\"started\" child=execute:execute1.conf:l2 pid=",
        "msg=\"started\" child=oracle:node1.conf pid=",
        "comp=execute node=node1 chain=l1 msg=\"executor failed\" why=\"[chain.l1] rpc: ",
        "comp=execute node=node1 chain=l2 msg=\"executor failed\" why=\"[chain.l2] rpc: ",
        "comp=oracle node=node1 msg=\"oracle started\"",
        "msg=\"child died; restarting\" child=execute:execute1.conf:l1 how=\"exit 2\"",
        "msg=\"child died; restarting\" child=execute:execute1.conf:l2 how=\"exit 2\"",
    };
    snprintf(path, sizeof path, "%s/cluster.log", c.dir);
    size_t seen = 0;
    for (int t = 0; t < 100 && seen < sizeof want / sizeof want[0]; t++) {
        usleep(100000);
        seen = 0;
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
            seen += tu_run(NULL, "grep -qF '%s' %s", want[i], path) == 0;
    }
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_assert_eq(tu_run(NULL, "grep -qF '%s' %s", want[i], path), 0, "not in the cluster log: %s", want[i]);
    int status = stop_pid(up, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "up did not stop cleanly (%d)", status);
    cr_assert_neq(tu_run(NULL, "pgrep -f 'relayer (execute|oracle) --config %s/'", c.dir), 0, "children left running");
    teardown(&c);
}

/* ---- witnessed heads (attest/checkpoint.h) ---- */

/* follow-nodeN.conf: node N's own replica, signing checkpoints every 50 records or 300 ms and
 * sending them to the hub's node endpoint (nodes_sock: another socket, where no hub listens). */
static void write_node_follow_conf_to(struct cluster *c, unsigned n, const char *nodes_sock)
{
    char name[64], text[1400];
    snprintf(name, sizeof name, "follow-node%u.conf", n);
    snprintf(text, sizeof text,
             "[follow]\ndata = replica%u\nkey = keys/node%u.key\nrelayers = relayers.json\n"
             "checkpoint_records = 50\ncheckpoint_ms = 300\n"
             "[hub]\nrecords = ipc://%s/records.sock\ncatchup = ipc://%s/catchup.sock\nnodes = ipc://%s/%s\n"
             "key = keys/hub.pub\n",
             n, n, c->dir, c->dir, c->dir, nodes_sock);
    tu_write(c->dir, name, text);
}

static void write_node_follow_conf(struct cluster *c, unsigned n) { write_node_follow_conf_to(c, n, "nodes.sock"); }

/* The newest quorum checkpoint in a ledger directory (seq 0: none). */
static uint64_t checkpoint_in(const char *dir, const char *db)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, db);
    store *st;
    MDB_txn *txn;
    checkpoint_signed cs = {0};
    store_opts so = {.read_only = true};
    if (store_open(&st, path, &so, NULL) != RL_OK)
        return 0;
    if (store_read_begin(st, &txn, NULL) == RL_OK) {
        if (ledger_ckpt_latest(txn, st, &cs, NULL, NULL) != RL_OK)
            cs.c.seq = 0;
        store_read_end(txn);
    }
    store_close(st);
    return cs.c.seq;
}

Test(hub, node_replicas_witness_the_log_through_a_sigkill_and_an_auditor_catches_a_cut_export_with_a_nodes_copy)
{
    struct cluster c;
    setup(&c, 3000);
    pid_t followers[3];
    start_hub(&c);
    for (unsigned i = 0; i < 3; i++) {
        char name[32];
        write_node_follow_conf(&c, i + 1);
        snprintf(name, sizeof name, "follow-node%u", i + 1);
        followers[i] = spawn_with(&c, "follow", name, NULL);
    }
    size_t msgs = c.nodes[0].nmsgs + c.nodes[1].nmsgs + c.nodes[2].nmsgs;
    cr_assert(stream_all(&c, 90000, msgs / 2, kill_and_restart), "not every message was acknowledged");
    /* Idle now: the replicas sign the last head, the hub logs it, the replicas apply that. */
    uint64_t t0 = tu_now_ms(), head = 0, witnessed = 0;
    char cp[700], *out = NULL;
    snprintf(cp, sizeof cp, "%s/cp.json", c.dir);
    while (tu_now_ms() - t0 < 60000) {
        head = head_of(c.dir, "hub", NULL);
        witnessed = checkpoint_in(c.dir, "replica1");
        if (witnessed != 0 && witnessed + 1 == head && checkpoint_in(c.dir, "hub") == witnessed)
            break;
        tu_sleep_ms(200);
    }
    cr_assert(witnessed != 0 && witnessed + 1 == head,
              "node1's replica holds a checkpoint of %llu, the hub's head is %llu", (unsigned long long)witnessed,
              (unsigned long long)head);
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s/follow-node1.conf --out %s", RELAYER_BIN, c.dir, cp), 0, "%s",
                 out);
    free(out);
    for (unsigned i = 0; i < 3; i++) {
        int status = stop_pid(followers[i], SIGTERM);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "follower %u did not stop cleanly (%d)", i + 1,
                  status);
    }
    stop_hub(&c, SIGTERM);
    char *log = NULL;
    tu_run(&log, "grep -c 'msg=\"checkpoint\"' %s/hub.log", c.dir);
    /* Mid-stream rounds need two replicas past the same boundary before the hub is killed again,
     * which the kill schedule does not guarantee; the one of the idle head above it does. */
    cr_assert(strtoul(log, NULL, 10) >= 1, "checkpoints logged: %s", log);
    free(log);
    /* Every record once, every checkpoint once and rising (audit verify checks both), and the
     * log agrees with node1's copy and with the export header's. */
    export_and_verify(&c);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --checkpoint %s", RELAYER_BIN,
                        c.dir, c.dir, cp), 0, "%s", out);
    cr_assert(strstr(out, "agrees with 2 quorum checkpoints") != NULL, "%s", out);
    free(out);
    /* The last record is the CHECKPOINT of the one before it: cut it and the last deposit. */
    cr_assert_eq(tu_run(&out, "%s dev drop-tail %s/log.rlog --drop 2 --out %s/cut.rlog", RELAYER_BIN, c.dir, c.dir), 0,
                 "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/cut.rlog --relayers %s/relayers.json --checkpoint %s", RELAYER_BIN,
                        c.dir, c.dir, cp), 1, "%s", out);
    cr_assert(strstr(out, "records were cut") != NULL, "%s", out);
    free(out);
    char *digest;
    digest_json(&c, &digest);
    cr_assert(strstr(digest, "\"events_credited\":3000") != NULL, "%s", digest);
    free(digest);
    teardown(&c);
}

/* The latest head a node's replica signed itself (seq 0: none). */
static uint64_t own_head_in(const char *dir, const char *db)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, db);
    store *st;
    MDB_txn *txn;
    checkpoint_signed cs = {0};
    store_opts so = {.read_only = true};
    if (store_open(&st, path, &so, NULL) != RL_OK)
        return 0;
    if (store_read_begin(st, &txn, NULL) == RL_OK) {
        if (ledger_ckpt_own_get(txn, st, &cs, NULL) != RL_OK)
            cs.c.seq = 0;
        store_read_end(txn);
    }
    store_close(st);
    return cs.c.seq;
}

/* Issue 14 review, attack 2: a hub that never logs a checkpoint (here: the nodes' signatures
 * never reach it) leaves no quorum checkpoint anywhere. Each replica still files the head it
 * signed, warns that none is logged, and two nodes' own heads combine into a quorum that
 * catches a cut export. */
Test(hub, replicas_keep_their_own_heads_when_the_hub_logs_no_checkpoint_and_two_of_them_catch_a_cut_export)
{
    struct cluster c;
    setup(&c, 600);
    pid_t followers[2];
    start_hub(&c);
    for (unsigned i = 0; i < 2; i++) {
        char name[32];
        write_node_follow_conf_to(&c, i + 1, "nowhere.sock");
        snprintf(name, sizeof name, "follow-node%u", i + 1);
        followers[i] = spawn_with(&c, "follow", name, NULL);
    }
    cr_assert(stream_all(&c, 90000, 0, NULL), "not every message was acknowledged");
    uint64_t t0 = tu_now_ms(), head = 0, own1 = 0, own2 = 0;
    while (tu_now_ms() - t0 < 60000) {
        head = head_of(c.dir, "hub", NULL);
        own1 = own_head_in(c.dir, "replica1");
        own2 = own_head_in(c.dir, "replica2");
        if (own1 == head && own2 == head)
            break;
        tu_sleep_ms(200);
    }
    cr_assert(own1 == head && own2 == head, "own heads %llu and %llu, the hub's head %llu", (unsigned long long)own1,
              (unsigned long long)own2, (unsigned long long)head);
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s/follow-node1.conf", RELAYER_BIN, c.dir), 1,
                 "no quorum checkpoint was logged: %s", out);
    free(out);
    for (unsigned i = 0; i < 2; i++) {
        cr_assert_eq(tu_run(&out, "%s checkpoint --config %s/follow-node%u.conf --own --out %s/own%u.json",
                            RELAYER_BIN, c.dir, i + 1, c.dir, i + 1), 0, "%s", out);
        free(out);
        int status = stop_pid(followers[i], SIGTERM);
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "follower %u did not stop cleanly (%d)", i + 1,
                  status);
    }
    /* its final head, some 600 records past no checkpoint at all, is more than 3 rounds of 50 */
    tu_run(&out, "grep -c 'signed head far ahead of the newest logged quorum checkpoint' %s/follow-node1.log", c.dir);
    cr_assert(strtoul(out, NULL, 10) >= 1, "the replica warns that no checkpoint is logged: %s", out);
    free(out);
    stop_hub(&c, SIGTERM);
    export_and_verify(&c);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --checkpoint %s/own1.json "
                        "--checkpoint %s/own2.json", RELAYER_BIN, c.dir, c.dir, c.dir, c.dir), 0, "%s", out);
    cr_assert(strstr(out, "agrees with 1 quorum checkpoint") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s dev drop-tail %s/log.rlog --drop 3 --out %s/cut.rlog", RELAYER_BIN, c.dir, c.dir), 0,
                 "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/cut.rlog --relayers %s/relayers.json --checkpoint %s/own1.json "
                        "--checkpoint %s/own2.json", RELAYER_BIN, c.dir, c.dir, c.dir, c.dir), 1, "%s", out);
    cr_assert(strstr(out, "records were cut") != NULL, "%s", out);
    free(out);
    teardown(&c);
}

/* Signs the hub's record seq (or a made-up head) as member `as` with node `by`'s key, and sends
 * it from node `from`'s connection. */
static void send_checkpoint(struct cluster *c, unsigned from, unsigned by, uint16_t as, uint64_t seq,
                            const uint8_t *head)
{
    checkpoint k = {.seq = seq, .set_version = 1};
    memcpy(k.head, head, HASH_BYTES);
    uint8_t sig[ED25519_SIG_BYTES], frame[128];
    checkpoint_sign(&k, c->s.keys[by], sig);
    size_t len = wire_encode_checkpoint(frame, sizeof frame, &k, as, sig);
    cr_assert_gt(len, 0);
    cr_assert_geq(zmq_send(c->nodes[from].sock, frame, len, 0), 0);
}

static void hub_record_hash(struct cluster *c, uint64_t seq, uint8_t out[HASH_BYTES])
{
    char path[700];
    snprintf(path, sizeof path, "%s/hub", c->dir);
    store *st;
    MDB_txn *txn;
    MDB_val v;
    store_opts so = {.read_only = true};
    cr_assert_eq(store_open(&st, path, &so, NULL), RL_OK);
    cr_assert_eq(store_read_begin(st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_record_get(txn, st, seq, &v, NULL), RL_OK);
    record_hash(out, v.mv_data, v.mv_size);
    store_read_end(txn);
    store_close(st);
}

Test(hub, a_member_below_threshold_a_head_not_the_hubs_or_a_borrowed_identity_gets_no_checkpoint_logged)
{
    struct cluster c;
    setup(&c, 30);
    start_hub(&c);
    cr_assert(stream_all(&c, 30000, 0, NULL), "not every message was acknowledged");
    uint64_t head = head_of(c.dir, "hub", NULL);
    uint8_t real[HASH_BYTES], bogus[HASH_BYTES];
    hub_record_hash(&c, head, real);
    memset(bogus, 0x5e, sizeof bogus);
    /* node1 alone, again and again, for every seq (threshold 2) */
    for (uint64_t seq = 1; seq <= head; seq++) {
        uint8_t h[HASH_BYTES];
        hub_record_hash(&c, seq, h);
        send_checkpoint(&c, 0, 0, 1, seq, h);
    }
    /* node1 and node2 agree on a head that is not the hub's; node1 speaks for member 3 */
    send_checkpoint(&c, 0, 0, 1, head, bogus);
    send_checkpoint(&c, 1, 1, 2, head, bogus);
    send_checkpoint(&c, 0, 2, 3, head, real);
    tu_sleep_ms(1500);
    cr_assert_eq(checkpoint_in(c.dir, "hub"), 0, "a checkpoint was logged");
    /* node2's own signature of the real head makes the quorum */
    send_checkpoint(&c, 1, 1, 2, head, real);
    uint64_t t0 = tu_now_ms();
    while (checkpoint_in(c.dir, "hub") == 0 && tu_now_ms() - t0 < 10000)
        tu_sleep_ms(100);
    cr_assert_eq(checkpoint_in(c.dir, "hub"), head);
    stop_hub(&c, SIGTERM);
    char *log = NULL;
    tu_run(&log, "cat %s/hub.log", c.dir);
    cr_assert(strstr(log, "not the hash of the hub's record") != NULL, "%s", log);
    cr_assert(strstr(log, "checkpoint refused: signer is not the sending peer") != NULL, "%s", log);
    free(log);
    export_and_verify(&c);
    teardown(&c);
}

/* Five checkpoint rounds, the hub killed with SIGKILL a moment after each quorum-forming
 * signature (before, during or after the commit of the CHECKPOINT record): the nodes send their
 * signatures again, as replicas do every checkpoint_ms, until the ledger holds the checkpoint.
 * Each round's checkpoint ends up logged exactly once: audit verify counts five, in rising order. */
Test(hub, killed_with_sigkill_in_checkpoint_rounds_it_loses_and_doubles_nothing)
{
    struct cluster c;
    setup(&c, 30);
    start_hub(&c);
    cr_assert(stream_all(&c, 30000, 0, NULL), "not every message was acknowledged");
    srand(7);
    for (unsigned round = 0; round < 5; round++) {
        uint64_t head = head_of(c.dir, "hub", NULL);
        uint8_t h[HASH_BYTES];
        hub_record_hash(&c, head, h);
        send_checkpoint(&c, 0, 0, 1, head, h);
        send_checkpoint(&c, 1, 1, 2, head, h);
        tu_sleep_ms((unsigned)(rand() % 40));
        int status = stop_hub(&c, SIGKILL);
        cr_assert(WIFSIGNALED(status), "the hub had already exited (%d)", status);
        start_hub(&c);
        uint64_t t0 = tu_now_ms();
        while (checkpoint_in(c.dir, "hub") != head && tu_now_ms() - t0 < 20000) {
            send_checkpoint(&c, 0, 0, 1, head, h);
            send_checkpoint(&c, 1, 1, 2, head, h);
            tu_sleep_ms(300);
        }
        cr_assert_eq(checkpoint_in(c.dir, "hub"), head, "round %u: the checkpoint of %llu was lost", round,
                     (unsigned long long)head);
    }
    stop_hub(&c, SIGTERM);
    export_and_verify(&c);
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --json", RELAYER_BIN, c.dir,
                        c.dir), 0, "%s", out);
    cr_assert(strstr(out, "\"checkpoints\":5") != NULL, "%s", out);
    free(out);
    teardown(&c);
}

/* ---- equivocation (ledger.h, E1-E3) ---- */

#define EQUIV_EVENTS 20
#define EQUIV_LIES 5

static uint64_t head_now(struct cluster *c)
{
    char *out = NULL;
    uint64_t seq = 0;
    if (tu_run(&out, "%s ledger digest --db %s/hub --json", RELAYER_BIN, c->dir) == 0) {
        const char *p = strstr(out, "\"head_seq\":");
        seq = p ? strtoull(p + 11, NULL, 10) : 0;
    }
    free(out);
    return seq;
}

/* node3's key, over its own connection, signs lie[i] of every event i, then honest[i], then lie[i]
 * again (a flipping member): three messages of n observations each, in order. */
static void node3_flips(struct cluster *c, uint64_t first_msg_id, const obs *honest, const obs *lie, size_t n)
{
    signed_obs l[EQUIV_LIES], h[EQUIV_LIES];
    uint8_t frame[4096], enc[OBS_BYTES];
    cr_assert_leq(n, EQUIV_LIES);
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(obs_encode(enc, &lie[i], NULL), RL_OK);
        obs_sign(&l[i], enc, 3, c->s.keys[2]);
        cr_assert_eq(obs_encode(enc, &honest[i], NULL), RL_OK);
        obs_sign(&h[i], enc, 3, c->s.keys[2]);
    }
    const signed_obs *msgs[3] = {l, h, l};
    for (unsigned m = 0; m < 3; m++) {
        size_t len = wire_encode_obs(frame, sizeof frame, first_msg_id + m, msgs[m], n);
        cr_assert(zmq_send(c->nodes[2].sock, frame, len, 0) >= 0);
    }
}

/* node3 flips on a wrong amount of each of the first EQUIV_LIES events, before the honest nodes
 * report anything. Not acknowledged until the events settle. */
static void node3_equivocates(struct cluster *c, uint64_t first_msg_id)
{
    obs lie[EQUIV_LIES], honest[EQUIV_LIES];
    for (unsigned i = 0; i < EQUIV_LIES; i++) {
        sim_event(&c->s.o, i, &honest[i]);
        lie[i] = honest[i];
        u256 one = u256_from_u64(1);
        cr_assert_eq(u256_add(&lie[i].amount, &lie[i].amount, &one), RL_OK);
    }
    node3_flips(c, first_msg_id, honest, lie, EQUIV_LIES);
}

/* Waits (bounded) until the hub's head is at least seq. */
static void await_head(struct cluster *c, uint64_t seq, const char *what)
{
    uint64_t t0 = now_ms();
    while (head_now(c) < seq && now_ms() - t0 < 30000)
        usleep(50 * 1000);
    cr_assert_geq(head_now(c), seq, "%s", what);
}

/* Streams nodes 1 and 2 (all their honest observations) to acknowledgement. */
static void honest_two_report(struct cluster *c)
{
    c->nodes[2].nmsgs = 0; /* node3 sends nothing more */
    cr_assert(stream_all(c, 60000, 0, NULL), "not every honest message was acknowledged");
}

static void assert_credited_once_with_evidence(struct cluster *c)
{
    char *out = NULL;
    digest_json(c, &out);
    cr_assert(strstr(out, "\"events_credited\":20,") != NULL, "%s", out);
    cr_assert(strstr(out, "\"conflicts\":0,") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit export --db %s/hub --out %s/log.rlog", RELAYER_BIN, c->dir, c->dir), 0, "%s",
                 out);
    free(out);
    /* verify checks both signatures of every EQUIVOCATION record as it does an attestation's */
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --json", RELAYER_BIN, c->dir,
                        c->dir),
                 0, "%s", out);
    cr_assert(strstr(out, "\"equivocations\":5") != NULL, "one evidence record per event lied about: %s", out);
    cr_assert(strstr(out, "\"attested\":20,") != NULL, "%s", out);
    free(out);
}

Test(hub, a_member_equivocating_on_pending_deposits_blocks_none_and_is_logged_once_per_event)
{
    struct cluster c;
    setup(&c, EQUIV_EVENTS);
    start_hub(&c);
    node3_equivocates(&c, 1000);
    /* The evidence is committed (genesis + 5 records) before the honest two report. */
    await_head(&c, 1 + EQUIV_LIES, "node3's equivocation was never logged");
    honest_two_report(&c);
    int status = stop_hub(&c, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hub did not stop cleanly (%d)", status);
    assert_credited_once_with_evidence(&c);
    teardown(&c);
}

Test(hub, killed_with_sigkill_mid_equivocation_it_loses_no_evidence_and_logs_none_twice)
{
    struct cluster c;
    setup(&c, EQUIV_EVENTS);
    start_hub(&c);
    node3_equivocates(&c, 1000);
    await_head(&c, 1 + EQUIV_LIES, "node3's equivocation was never logged");
    kill_and_restart(&c);
    /* node3 resends what was not acknowledged: the hub's quorum is new, its ledger is not. */
    node3_equivocates(&c, 1000);
    honest_two_report(&c);
    stop_hub(&c, SIGTERM);
    assert_credited_once_with_evidence(&c);
    cr_assert_eq(head_now(&c), 1 + EQUIV_LIES + EQUIV_EVENTS, "genesis, the evidence once, one credit per event");
    teardown(&c);
}

/* ---- equivocation on an execution and an expiry (issue 14) ---- */

#define WEI_PER_ETH 1000000000000000000ull

static u256 eth(uint64_t whole) { return u256_from_u64(whole * WEI_PER_ETH); }

/* An account of chain 1 with two releases open in the hub's ledger: nonce 1 (4 ETH, to be
 * executed) and nonce 2 (3 ETH, to expire), 10 ETH deposited. */
struct open_releases {
    node_key *venue, *calc;
    uint8_t owner_sk[SECP256K1_SK_BYTES], account[EVM_ADDR_BYTES], recipient[EVM_ADDR_BYTES], vault[EVM_ADDR_BYTES];
    fx_withdrawal wd;
    uint64_t deadline_s, head; /* the releases' deadline; the hub's head after them */
    fixture members;           /* the cluster's three member keys (borrowed), for fx_attest and fx_sign */
};

static uint64_t wall_ms(void) { return (uint64_t)time(NULL) * 1000; }

static uint64_t append_record(store *st, uint8_t type, const uint8_t *payload, size_t plen)
{
    uint8_t *enc;
    size_t len;
    rl_why why = {{0}};
    uint64_t seq = fx_encode_next(st, type, payload, plen, wall_ms(), &enc, &len);
    cr_assert_eq(fx_append(st, enc, len, &why), RL_OK, "%s record %llu refused: %s", record_type_name(type),
                 (unsigned long long)seq, why.text);
    free(enc);
    return seq;
}

/* A withdrawal of `whole` ETH requested, approved and instructed as release `nonce`. */
static void append_release(store *st, struct open_releases *r, uint64_t whole, uint64_t nonce)
{
    uint8_t buf[RECORD_MAX_PAYLOAD], key[HASH_BYTES];
    size_t len;
    fx_withdraw_request(&r->wd, eth(whole), nonce, r->deadline_s, buf, &len, key);
    decision d = {.kind = DECISION_WITHDRAW_OK, .basis = append_record(st, RECORD_REQUEST, buf, len)};
    memcpy(d.request, key, HASH_BYTES);
    fx_decision(&r->wd, &d, buf, &len);
    instruction in = fx_release(&r->wd, append_record(st, RECORD_DECISION, buf, len), eth(whole), nonce,
                                r->deadline_s);
    cr_assert_eq(instruction_encode(buf, &in, NULL), RL_OK);
    append_record(st, RECORD_INSTRUCTION, buf, INSTRUCTION_BYTES);
}

/* The hub started once (its genesis logged), stopped, and the deposit and the two releases
 * appended to its store through the ledger's own append path, as the hub would have logged them
 * (venue and calculator keys of the test's, the venue pinned in relayers.json for the auditor). */
static void open_two_releases(struct cluster *c, struct open_releases *r)
{
    rl_why why = {{0}};
    memset(r, 0, sizeof *r);
    cr_assert_eq(node_key_generate(&r->venue, "venue", &why), RL_OK);
    cr_assert_eq(node_key_generate(&r->calc, "calc", &why), RL_OK);
    fx_owner(r->owner_sk, r->account, 0);
    memset(r->recipient, 0x22, EVM_ADDR_BYTES);
    memset(r->vault, 0xaa, EVM_ADDR_BYTES);
    r->wd = (fx_withdrawal){.genesis = &c->s.genesis, .venue = r->venue, .calc = r->calc, .owner_sk = r->owner_sk,
                            .account = r->account, .recipient = r->recipient, .vault = r->vault, .chain_id = 1};
    r->deadline_s = wall_ms() / 1000 + 3600;
    for (unsigned i = 0; i < 3; i++)
        r->members.keys[i] = c->s.keys[i];
    r->members.nkeys = 3;
    cr_assert_eq(relset_add_venue(&c->s.genesis, "test-venue", node_key_pub(r->venue)->ed25519, &why), RL_OK, "%s",
                 why.text);
    write_relayers(c);

    start_hub(c);
    await_head(c, 1, "the hub never logged its genesis");
    int status = stop_hub(c, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hub did not stop cleanly (%d)", status);
    char path[700];
    snprintf(path, sizeof path, "%s/hub", c->dir);
    store *st;
    cr_assert_eq(store_open(&st, path, NULL, &why), RL_OK, "%s", why.text);
    obs dep = fx_vault_obs(&r->wd, OBS_KIND_DEPOSIT, 1, 1);
    dep.amount = eth(10);
    payload_attest pa = fx_attest(&r->members, &dep, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_attest_encode(&pa, buf, &len, NULL), RL_OK);
    append_record(st, RECORD_ATTEST, buf, len);
    append_release(st, r, 4, 1);
    append_release(st, r, 3, 2);
    store_close(st);
    r->head = head_now(c);
    cr_assert_eq(r->head, 8, "genesis, the deposit, two (request, decision, instruction)");
}

/* The hub's ledger, read beside it: stats, the account's ETH and release 1's execution. */
static void hub_ledger(struct cluster *c, const struct open_releases *r, ledger_stats *stats, u256 *balance,
                       u256 *reserved, ledger_execution *x)
{
    char path[700];
    snprintf(path, sizeof path, "%s/hub", c->dir);
    store *st;
    MDB_txn *txn;
    store_opts so = {.read_only = true};
    uint8_t d[HASH_BYTES], id[HASH_BYTES];
    static const uint8_t native[EVM_ADDR_BYTES];
    cr_assert_eq(store_open(&st, path, &so, NULL), RL_OK);
    cr_assert_eq(store_read_begin(st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, st, d, stats, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, st, r->account, 1, native, balance, reserved, NULL), RL_OK);
    instruction_id(id, 1, r->vault, 1);
    cr_assert_eq(ledger_execution_get(txn, st, id, x, NULL), RL_OK, "release 1 was never executed");
    store_read_end(txn);
    store_close(st);
}

static void each_equivocation(const record *rec, void *ctx)
{
    payload_equivocation p;
    uint8_t event[HASH_BYTES];
    cr_assert_eq(payload_equivocation_decode(&p, rec, event, NULL), RL_OK);
    cr_assert_eq(p.a.member, 3, "evidence against member %u, who signed one content", p.a.member);
    uint8_t (*events)[HASH_BYTES] = ctx;
    size_t k = memcmp(events[0], event, HASH_BYTES) == 0 ? 0 : 1;
    cr_assert_eq(memcmp(events[k], event, HASH_BYTES), 0, "evidence of an event no one equivocated on");
    cr_assert_eq(events[2 + k][0], 0, "a second EQUIVOCATION record of one (event, member)");
    events[2 + k][0] = 1;
}

/* With the releases open (nonce 1 for 4 ETH, nonce 2 for 3 ETH, deadline D), node3 signs, over
 * its own connection with its own key, a wrong Executed of nonce 1 (5 ETH) and a wrong expiry of
 * nonce 2 (seen at D + 7), then the right ones (4 ETH; D + 1), then the wrong ones again, before
 * nodes 1 and 2 sign the right ones. Each event is applied once, with the honest content: release
 * 1 settled (matched, 6 ETH left), release 2 expired (its 3 ETH freed), one EQUIVOCATION record
 * per event against member 3, and the exported log verifies.
 *
 * On the old behaviour (a second content for a pending event id closed the event as a CONFLICT;
 * checked by running this test against the hub built from 0f07e18^), node3's second message
 * closes both events: the hub logs two CONFLICT records (so the head does reach r.head + 2), the
 * honest two's messages are acknowledged as settled, but neither event is applied. The assertion
 * that fails is hub_ledger's "release 1 was never executed" (no execution under nonce 1); after it
 * stats.conflicts, stats.reservations (both releases still reserved) and the EQUIVOCATION count
 * would fail too. */
Test(hub, a_member_equivocating_on_an_execution_and_an_expiry_blocks_neither_and_is_logged_once_per_event)
{
    struct cluster c;
    struct open_releases r;
    setup(&c, 2);
    open_two_releases(&c, &r);
    start_hub(&c);
    obs honest[2] = {fx_executed(&r.wd, 50, 2, 1, eth(4)), fx_expired(&r.wd, 2, r.deadline_s + 1, 1)};
    obs lie[2] = {fx_executed(&r.wd, 50, 2, 1, eth(5)), fx_expired(&r.wd, 2, r.deadline_s + 7, 1)};
    node3_flips(&c, 1000, honest, lie, 2);
    await_head(&c, r.head + 2, "node3's equivocation was never logged");

    for (unsigned i = 0; i < 2; i++) { /* nodes 1 and 2: one message with both honest observations */
        struct node *nd = &c.nodes[i];
        nd->obs[0] = fx_sign(&r.members, &honest[0], (uint16_t)(i + 1));
        nd->obs[1] = fx_sign(&r.members, &honest[1], (uint16_t)(i + 1));
        nd->n = 2;
        cr_assert_eq(nd->nmsgs, 1);
    }
    honest_two_report(&c);
    for (unsigned i = 0; i < 2; i++)
        cr_assert_eq(c.nodes[i].acked[0], 1, "node %u: an honest message was not settled", i + 1);
    int status = stop_hub(&c, SIGTERM);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "hub did not stop cleanly (%d)", status);

    ledger_stats stats;
    u256 balance, reserved, six = eth(6);
    ledger_execution x;
    hub_ledger(&c, &r, &stats, &balance, &reserved, &x);
    cr_assert(x.matched, "release 1 was settled with another amount than its own");
    cr_assert_eq(stats.executions, 1);
    cr_assert_eq(stats.unmatched, 0);
    cr_assert_eq(stats.conflicts, 0);
    cr_assert_eq(stats.reservations, 0, "a reservation was left open");
    cr_assert_eq(u256_cmp(&balance, &six), 0, "release 1 was not debited exactly once");
    cr_assert(u256_is_zero(&reserved), "release 2's 3 ETH were not freed");
    cr_assert_eq(head_now(&c), r.head + 4, "the two pieces of evidence and the two attestations, once each");
    char path[700];
    snprintf(path, sizeof path, "%s/hub", c.dir);
    uint8_t events[4][HASH_BYTES] = {{0}};
    for (unsigned k = 0; k < 2; k++)
        obs_event_id(events[k], honest[k].chain_id, honest[k].tx_hash, honest[k].log_index);
    cr_assert_eq(fx_each_record(path, RECORD_EQUIVOCATION, each_equivocation, events), 2);
    cr_assert_eq(fx_each_record(path, RECORD_ATTEST, NULL, NULL), 3, "the deposit, the execution, the expiry");

    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s audit export --db %s/hub --out %s/log.rlog", RELAYER_BIN, c.dir, c.dir), 0, "%s",
                 out);
    free(out);
    /* verify checks both signatures of each EQUIVOCATION record as it does an attestation's */
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --json", RELAYER_BIN, c.dir,
                        c.dir),
                 0, "%s", out);
    cr_assert(strstr(out, "\"equivocations\":2") != NULL, "one evidence record per event lied about: %s", out);
    cr_assert(strstr(out, "\"executions\":1,") != NULL, "%s", out);
    cr_assert(strstr(out, "\"executions_unmatched\":0,") != NULL, "%s", out);
    cr_assert(strstr(out, "\"expired\":1") != NULL, "%s", out);
    free(out);
    node_key_free(r.venue);
    node_key_free(r.calc);
    teardown(&c);
}
