/*
 * cmd_bench_bus.c - `relayer bench bus`: the hub as a process behind its bus.
 *
 * Three node processes send quorum-signed observations over TCP loopback with CURVE to a hub
 * process, which verifies, commits, acknowledges and publishes every record to two subscribers.
 * The nodes sign before the clock starts (as `bench ingest` does) and wait for a go file; the
 * run ends when both subscribers have every record. The bound is the same stream through the
 * same ingest in this process, measured in the same run: ratio = events/s over the bus / events
 * per second in process. Checkpointing is on in both (replica.h): subscriber 1 stands in for the
 * three nodes' replicas, signing the head it received every REPLICA_CHECKPOINT_RECORDS records
 * with each node's key and sending it from a connection of that node's own, and the hub checks
 * and logs them; the checkpoints' share of the hub's CPU time is its own count (status.json)
 * over its whole CPU time (/proc).
 *
 * `relayer bench bus-node` is the node side (internal): it streams one member's observations
 * from a file with a window of unacknowledged messages and resends after a timeout.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "relayer/bench.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "relayer/progress.h"
#include "relayer/replica.h"
#include "relayer/wire.h"

#define NODE_WINDOW 64
#define NODE_PER_MSG 200
#define NODE_RESEND_MS 3000
#define BUS_TIMEOUT_MS 600000
#define HUB_START_POLLS 500 /* x 10 ms */
#define NODE_READY_MS 120000 /* a node process loads its observations and connects within this */
#define CHILD_STOP_MS 30000 /* a child that has not stopped on SIGTERM by then is killed */

uint16_t bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

pid_t bench_spawn_self(char *const args[], const char *log_path, int *out_fd)
{
    int fds[2] = {-1, -1};
    if (out_fd != NULL && pipe(fds) != 0)
        return -1;
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(log, STDERR_FILENO);
        dup2(out_fd != NULL ? fds[1] : log, STDOUT_FILENO);
        execv("/proc/self/exe", args);
        _exit(127);
    }
    if (out_fd != NULL) {
        close(fds[1]);
        *out_fd = fds[0];
    }
    return pid;
}

bool bench_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    bool ok = f != NULL && fwrite(data, 1, len, f) == len;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    return ok;
}

/* Keys, relayers.json and hub.conf (the node and subscriber sections, then `extra`) in c->dir. */
rl_err bench_cluster_write(bench_cluster *c, const sim *s, const char *extra, rl_why *why)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/keys", c->dir);
    if (mkdir(path, 0700) != 0)
        return rl_fail(why, RL_ERR_IO, "%s: cannot create", path);
    node_key *hub;
    rl_err err = node_key_generate(&hub, "hub", why);
    if (err == RL_OK)
        err = keyfile_write(path, hub, why);
    if (err == RL_OK)
        memcpy(&c->hub_pub, node_key_pub(hub), sizeof c->hub_pub);
    node_key_free(hub);
    for (unsigned i = 0; i < 3 && err == RL_OK; i++)
        err = keyfile_write(path, s->keys[i], why);
    for (unsigned i = 0; i < 2 && err == RL_OK; i++) {
        char name[16];
        snprintf(name, sizeof name, "sub%u", i + 1);
        if ((err = node_key_generate(&c->subs[i], name, why)) == RL_OK)
            err = keyfile_write(path, c->subs[i], why);
    }
    if (err != RL_OK)
        return err;
    json_t *j = relset_to_json(&s->genesis);
    snprintf(path, sizeof path, "%s/relayers.json", c->dir);
    int rc = json_dump_file(j, path, 0);
    json_decref(j);
    if (rc != 0)
        return rl_fail(why, RL_ERR_IO, "%s: cannot write", path);
    for (int i = 0; i < 3; i++)
        c->ports[i] = bench_free_port();
    char conf[4096];
    snprintf(conf, sizeof conf,
             "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\n"
             "[listen]\nnodes = tcp://127.0.0.1:%u\nrecords = tcp://127.0.0.1:%u\ncatchup = tcp://127.0.0.1:%u\n"
             "[allow]\nnode = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n"
             "subscriber = keys/sub1.pub\nsubscriber = keys/sub2.pub\n%s",
             c->ports[0], c->ports[1], c->ports[2], extra);
    snprintf(path, sizeof path, "%s/hub.conf", c->dir);
    return file_write_atomic(path, conf, why);
}

rl_err bench_cluster_obs(bench_cluster *c, const char *tag, const signed_obs *stream, size_t nobs, rl_why *why)
{
    char path[4200];
    for (uint16_t m = 1; m <= 3; m++) {
        signed_obs *mine = malloc(nobs * sizeof *mine);
        size_t n = 0;
        if (mine == NULL)
            return RL_ERR_NOMEM;
        for (size_t k = 0; k < nobs; k++)
            if (stream[k].member == m)
                mine[n++] = stream[k];
        snprintf(path, sizeof path, "%s/node%u.%s.obs", c->dir, m, tag);
        bool ok = bench_write_file(path, mine, n * sizeof *mine);
        free(mine);
        if (!ok)
            return rl_fail(why, RL_ERR_IO, "%s: cannot write", path);
    }
    return RL_OK;
}

uint64_t bench_proc_cpu_ns(pid_t pid)
{
    char path[64], *text;
    size_t len;
    unsigned long long ut = 0, st = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    if (pid <= 0 || file_read_all(path, 1 << 16, &text, &len, NULL) != RL_OK)
        return 0;
    const char *p = strrchr(text, ')'); /* the command name may hold spaces; fields 14 and 15 after it */
    int ok = p != NULL && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2;
    free(text);
    return ok ? (ut + st) * (1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK)) : 0;
}

/* The hub's "checkpoints" counters from its status.json (written every second). */
static void hub_checkpoints(const char *dir, uint64_t *logged, uint64_t *cpu_ms)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/hub/status.json", dir);
    *logged = *cpu_ms = 0;
    if (file_read_all(path, 1 << 20, &text, &len, NULL) != RL_OK)
        return;
    json_t *j = json_loadb(text, len, 0, NULL), *c = json_object_get(j, "checkpoints");
    *logged = (uint64_t)json_integer_value(json_object_get(c, "logged"));
    *cpu_ms = (uint64_t)json_integer_value(json_object_get(c, "cpu_ms"));
    json_decref(j);
    free(text);
}

/* The three nodes' replicas, as subscriber 1 sees the log: every REPLICA_CHECKPOINT_RECORDS
 * records, each node signs the head and sends it from its own connection. */
struct witness {
    void *socks[3]; /* one connection per node key (owned by bench_bus) */
    const sim *s;
    uint64_t signed_seq;
};

static void witness(void *ctx, uint64_t seq, const uint8_t *rec, size_t len)
{
    struct witness *w = ctx;
    if (seq < w->signed_seq + REPLICA_CHECKPOINT_RECORDS)
        return;
    checkpoint c = {.seq = seq, .set_version = w->s->genesis.version};
    record_hash(c.head, rec, len);
    for (unsigned i = 0; i < 3; i++) {
        uint8_t sig[ED25519_SIG_BYTES], frame[128];
        checkpoint_sign(&c, w->s->keys[w->s->genesis.members[i].id - 1], sig);
        size_t n = wire_encode_checkpoint(frame, sizeof frame, &c, w->s->genesis.members[i].id, sig);
        zmq_send(w->socks[i], frame, n, ZMQ_DONTWAIT);
    }
    w->signed_seq = seq;
}

void bench_drain_records(void *sock, uint64_t *seen, uint64_t *got, uint64_t *attested, bench_record_fn each,
                         void *ctx)
{
    static uint8_t frame[RECORD_MAX_BYTES + 64];
    int n;
    while ((n = zmq_recv(sock, frame, sizeof frame, ZMQ_DONTWAIT)) >= 0) {
        wire_msg m;
        if ((size_t)n <= sizeof frame && wire_decode(&m, frame, (size_t)n, NULL) == RL_OK && m.type == WIRE_RECORD) {
            (*got)++;
            if (m.id > *seen)
                *seen = m.id;
            if (attested != NULL)
                *attested += m.body[1] == RECORD_ATTEST; /* deposits: checkpoints come in between */
            if (each != NULL)
                each(ctx, m.id, m.body, m.body_len);
        }
    }
}

static bool file_has(const char *path, const char *text)
{
    char *buf;
    size_t len;
    if (file_read_all(path, 1 << 24, &buf, &len, NULL) != RL_OK)
        return false;
    bool has = strstr(buf, text) != NULL;
    free(buf);
    return has;
}

rl_err bench_cluster_start_hub(bench_cluster *c, rl_why *why)
{
    char conf[4200], log[4200];
    snprintf(conf, sizeof conf, "%s/hub.conf", c->dir);
    snprintf(log, sizeof log, "%s/hub.log", c->dir);
    char *hub_args[] = {"relayer", "hub", "--config", conf, NULL};
    c->hub = bench_spawn_self(hub_args, log, NULL);
    for (int t = 0; t < HUB_START_POLLS && c->hub > 0 && !file_has(log, "hub started"); t++)
        usleep(10000);
    if (c->hub <= 0 || !file_has(log, "hub started"))
        return rl_fail(why, RL_ERR_IO, "the hub did not start; see %s", log);
    return RL_OK;
}

rl_err bench_cluster_start_nodes(bench_cluster *c, const char *tag, const char *go, rl_why *why)
{
    char endpoint[64], pub[4200], files[3][4200], keys[3][4200], log[4200];
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%u", c->ports[0]);
    snprintf(pub, sizeof pub, "%s/keys/hub.pub", c->dir);
    int ready_fd[3] = {-1, -1, -1};
    for (int i = 0; i < 3; i++) {
        snprintf(files[i], sizeof files[i], "%s/node%d.%s.obs", c->dir, i + 1, tag);
        snprintf(keys[i], sizeof keys[i], "%s/keys/node%d.key", c->dir, i + 1);
        snprintf(log, sizeof log, "%s/node%d.log", c->dir, i + 1);
        char *args[] = {"relayer", "bench", "bus-node", files[i], keys[i], pub, endpoint, (char *)go, NULL};
        c->nodes[i] = bench_spawn_self(args, log, &ready_fd[i]);
    }
    rl_err err = RL_OK;
    for (int i = 0; i < 3; i++) { /* each says "ready" once connected and loaded */
        char line[16] = "";
        struct pollfd pfd = {.fd = ready_fd[i], .events = POLLIN};
        if (err == RL_OK && (c->nodes[i] <= 0 || poll(&pfd, 1, NODE_READY_MS) != 1 ||
                             read(ready_fd[i], line, sizeof line - 1) <= 0 || strncmp(line, "ready", 5) != 0))
            err = rl_fail(why, RL_ERR_IO, "node %d did not get ready; see %s/node%d.log", i + 1, c->dir, i + 1);
        if (ready_fd[i] >= 0)
            close(ready_fd[i]);
    }
    return err;
}

void *bench_cluster_subscribe(bench_cluster *c, bus *b, int which, const bus_limits *lim, rl_why *why)
{
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", c->ports[1]);
    void *sock = bus_client(b, ZMQ_SUB, c->subs[which], c->hub_pub.x25519, ep, lim, why);
    if (sock != NULL)
        zmq_setsockopt(sock, ZMQ_SUBSCRIBE, "", 0);
    return sock;
}

int bench_stop_child(pid_t *pid)
{
    int status = -1;
    if (*pid <= 0)
        return status;
    kill(*pid, SIGTERM);
    uint64_t t0 = mono_ms();
    pid_t got;
    while ((got = waitpid(*pid, &status, WNOHANG)) == 0 && mono_ms() - t0 < CHILD_STOP_MS)
        usleep(10000);
    if (got == 0) { /* did not stop in time */
        kill(*pid, SIGKILL);
        waitpid(*pid, &status, 0);
    }
    *pid = -1;
    return status;
}

void bench_cluster_stop_nodes(bench_cluster *c)
{
    for (int i = 0; i < 3; i++)
        bench_stop_child(&c->nodes[i]);
}

void bench_cluster_fini(bench_cluster *c)
{
    bench_cluster_stop_nodes(c);
    bench_stop_child(&c->hub);
    for (int i = 0; i < 2; i++)
        node_key_free(c->subs[i]);
    if (c->dir != NULL)
        bench_rm_rf(c->dir);
    free(c->dir);
    memset(c, 0, sizeof *c);
}

int bench_bus(int argc, char **argv)
{
    uint64_t events = 60000;
    static const struct option opts[] = {{"events", required_argument, NULL, 'n'}, {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1)
        if (c != 'n' || (events = strtoull(optarg, NULL, 10)) == 0) {
            fputs("usage: relayer bench bus [--events N]\n", stderr);
            return EXIT_USAGE;
        }
    bench_cluster cl = {.hub = -1, .nodes = {-1, -1, -1}};
    if ((cl.dir = bench_tmpdir("bus")) == NULL)
        return EXIT_USAGE;
    rl_why why = {{0}};
    sim s;
    pool *p = NULL;
    signed_obs *stream = NULL;
    size_t nobs = 0;
    void *sub_sock[2] = {NULL, NULL};
    struct witness wit = {.socks = {NULL, NULL, NULL}, .s = &s};
    bus *b = NULL;
    sim_opts so = {.events = events, .nodes = 3, .threshold = 2, .seed = 9};
    rl_err err = pool_new(&p, 0);
    if (err == RL_OK)
        err = sim_init(&s, &so, &why);
    if (err != RL_OK)
        goto out;
    fprintf(stderr, "bench bus: signing %llu events x 3 nodes (not timed)...\n", (unsigned long long)events);
    if ((err = sim_stream(&s, p, 0, events, &stream, &nobs, &why)) != RL_OK)
        goto out_sim;

    /* The bound: the same stream, in process, now. */
    fprintf(stderr, "bench bus: in-process ingest of the same stream...\n");
    char path[4200];
    snprintf(path, sizeof path, "%s/inproc", cl.dir);
    ingest_stats st;
    bench_checkpoints inproc_ck;
    double inproc_secs;
    if ((err = bench_ingest_once(p, &s, stream, nobs, path, &st, &inproc_secs, &inproc_ck, &why)) != RL_OK)
        goto out_sim;
    double inproc_eps = (double)st.attested / inproc_secs;

    if ((err = bench_cluster_write(&cl, &s, "[limits]\nsend_hwm = 10000000\n", &why)) != RL_OK ||
        (err = bench_cluster_obs(&cl, "all", stream, nobs, &why)) != RL_OK)
        goto out_sim;
    free(stream);
    stream = NULL;
    if ((err = bench_cluster_start_hub(&cl, &why)) != RL_OK || (err = bus_new(&b, NULL, NULL, &why)) != RL_OK)
        goto out_sim;
    bus_limits lim = {.rcvhwm = 10000000};
    for (int i = 0; i < 2; i++)
        if ((sub_sock[i] = bench_cluster_subscribe(&cl, b, i, &lim, &why)) == NULL) {
            err = RL_ERR_IO;
            goto out_sim;
        }
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", cl.ports[0]);
    for (int i = 0; i < 3; i++)
        if ((wit.socks[i] = bus_client(b, ZMQ_DEALER, s.keys[i], cl.hub_pub.x25519, ep, NULL, &why)) == NULL) {
            err = RL_ERR_IO;
            goto out_sim;
        }
    char go[4200];
    snprintf(go, sizeof go, "%s/go", cl.dir);
    if ((err = bench_cluster_start_nodes(&cl, "all", go, &why)) != RL_OK)
        goto out_sim;
    usleep(300000); /* subscriptions settle before the first record */
    fprintf(stderr, "bench bus: 3 node processes -> hub process -> 2 subscribers, %llu events...\n",
            (unsigned long long)events);
    uint64_t want = events, seen[2] = {0, 0}, last[2] = {0, 0}, got[2] = {0, 0}, t0 = mono_ms();
    uint64_t hub_cpu0 = bench_proc_cpu_ns(cl.hub);
    if (!bench_write_file(go, "go", 2)) {
        err = rl_fail(&why, RL_ERR_IO, "%s: cannot write", go);
        goto out_sim;
    }
    while ((seen[0] < want || seen[1] < want) && mono_ms() - t0 < BUS_TIMEOUT_MS) {
        zmq_pollitem_t it[2] = {{sub_sock[0], 0, ZMQ_POLLIN, 0}, {sub_sock[1], 0, ZMQ_POLLIN, 0}};
        zmq_poll(it, 2, 100);
        for (int i = 0; i < 2; i++)
            bench_drain_records(sub_sock[i], &last[i], &got[i], &seen[i], i == 0 ? witness : NULL, &wit);
    }
    uint64_t ms = mono_ms() - t0;
    if (seen[0] < want || seen[1] < want) {
        err = rl_fail(&why, RL_ERR_IO, "subscribers saw %llu and %llu deposits of %llu within %d s",
                      (unsigned long long)seen[0], (unsigned long long)seen[1], (unsigned long long)want,
                      BUS_TIMEOUT_MS / 1000);
        goto out_sim;
    }
    uint64_t hub_cpu = bench_proc_cpu_ns(cl.hub) - hub_cpu0, ckpt_logged, ckpt_cpu_ms;
    usleep(1100000); /* the hub's next status.json */
    hub_checkpoints(cl.dir, &ckpt_logged, &ckpt_cpu_ms);
    double ckpt_share = hub_cpu ? (double)ckpt_cpu_ms * 1e6 / (double)hub_cpu : 0;
    double secs = (double)ms / 1000.0, eps = (double)events / secs;
    printf("bus: %llu events in %.2f s = %.0f events/s; subscribers received %llu and %llu records\n",
           (unsigned long long)events, secs, eps, (unsigned long long)got[0], (unsigned long long)got[1]);
    printf("in process: %.0f events/s\n", inproc_eps);
    printf("checkpoints: %llu logged by the hub, %.3f%% of its CPU time; %llu in process\n",
           (unsigned long long)ckpt_logged, 100 * ckpt_share, (unsigned long long)inproc_ck.logged);
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:I, s:I, s:i, s:f}", "bench", "bus", "events", (json_int_t)events,
                          "events_per_s", eps, "inproc_events_per_s", inproc_eps, "subscriber1_records",
                          (json_int_t)got[0], "subscriber2_records", (json_int_t)got[1], "cores",
                          (int)pool_threads(p), "ratio", eps / inproc_eps);
    json_object_set_new(j, "checkpoints", json_integer((json_int_t)ckpt_logged));
    json_object_set_new(j, "checkpoint_cpu_share", json_real(ckpt_share));
    char *text = json_dumps(j, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(j);
out_sim:
    free(stream);
    sim_fini(&s);
out:
    for (int i = 0; i < 3; i++)
        bus_close(wit.socks[i]);
    for (int i = 0; i < 2; i++)
        bus_close(sub_sock[i]);
    bench_cluster_fini(&cl);
    bus_free(b);
    pool_free(p);
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench bus: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}

/* bench bus-node OBS_FILE KEY HUB_PUB ENDPOINT GO_FILE */
int bench_bus_node(int argc, char **argv)
{
    if (argc != 6)
        return EXIT_USAGE;
    rl_why why = {{0}};
    char *data;
    size_t len;
    node_key *key = NULL;
    node_pub hub;
    bus *b = NULL;
    if (file_read_all(argv[1], (size_t)1 << 31, &data, &len, &why) != RL_OK ||
        keyfile_read(argv[2], &key, &why) != RL_OK ||
        pubfile_read(argv[3], &hub, &why) != RL_OK || bus_new(&b, NULL, NULL, &why) != RL_OK) {
        fprintf(stderr, "bench bus-node: %s\n", why.text);
        return EXIT_USAGE;
    }
    const signed_obs *mine = (const signed_obs *)data;
    size_t n = len / sizeof *mine, nmsgs = (n + NODE_PER_MSG - 1) / NODE_PER_MSG;
    void *sock = bus_client(b, ZMQ_DEALER, key, hub.x25519, argv[4], NULL, &why);
    uint64_t *sent = calloc(nmsgs ? nmsgs : 1, sizeof *sent);
    uint8_t *acked = calloc(nmsgs ? nmsgs : 1, 1);
    static uint8_t frame[WIRE_OBS_MAX * WIRE_SIGNED_OBS_BYTES + 64];
    if (sock == NULL || sent == NULL || acked == NULL)
        return EXIT_USAGE;
    printf("ready\n");
    fflush(stdout);
    while (access(argv[5], F_OK) != 0)
        usleep(1000);
    size_t done = 0, first_open = 0;
    while (done < nmsgs) {
        uint64_t now = mono_ms();
        size_t in_window = 0;
        for (size_t m = first_open; m < nmsgs && in_window < NODE_WINDOW; m++) {
            if (acked[m])
                continue;
            in_window++;
            if (sent[m] != 0 && now - sent[m] < NODE_RESEND_MS)
                continue;
            size_t from = m * NODE_PER_MSG, cnt = n - from < NODE_PER_MSG ? n - from : NODE_PER_MSG;
            size_t flen = wire_encode_obs(frame, sizeof frame, m + 1, mine + from, cnt);
            if (zmq_send(sock, frame, flen, ZMQ_DONTWAIT) >= 0)
                sent[m] = now;
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 10);
        int got;
        while ((got = zmq_recv(sock, frame, sizeof frame, ZMQ_DONTWAIT)) >= 0) {
            wire_msg msg;
            if ((size_t)got > sizeof frame || wire_decode(&msg, frame, (size_t)got, NULL) != RL_OK ||
                msg.type != WIRE_ACK)
                continue;
            for (size_t k = 0; k < msg.n; k++) {
                wire_ack a = wire_ack_at(&msg, k);
                if (a.msg_id >= 1 && a.msg_id <= nmsgs && !acked[a.msg_id - 1]) {
                    acked[a.msg_id - 1] = 1;
                    done++;
                }
            }
        }
        while (first_open < nmsgs && acked[first_open])
            first_open++;
    }
    bus_close(sock);
    bus_free(b);
    node_key_free(key);
    free(sent);
    free(acked);
    free(data);
    return 0;
}
