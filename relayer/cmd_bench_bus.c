/*
 * cmd_bench_bus.c - `relayer bench bus`: the hub as a process behind its bus.
 *
 * Three node processes send quorum-signed observations over TCP loopback with CURVE to a hub
 * process, which verifies, commits, acknowledges and publishes every record to two subscribers.
 * The nodes sign before the clock starts (as `bench ingest` does) and wait for a go file; the
 * run ends when both subscribers have every record. The bound is the same stream through the
 * same ingest in this process, measured in the same run: ratio = events/s over the bus / events
 * per second in process.
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

void bench_drain_records(void *sock, uint64_t *seen, uint64_t *got)
{
    static uint8_t frame[RECORD_MAX_BYTES + 64];
    int n;
    while ((n = zmq_recv(sock, frame, sizeof frame, ZMQ_DONTWAIT)) >= 0) {
        wire_msg m;
        if ((size_t)n <= sizeof frame && wire_decode(&m, frame, (size_t)n, NULL) == RL_OK && m.type == WIRE_RECORD) {
            (*got)++;
            if (m.id > *seen)
                *seen = m.id;
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
    double inproc_secs;
    if ((err = bench_ingest_once(p, &s, stream, nobs, path, &st, &inproc_secs, &why)) != RL_OK)
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
    char go[4200];
    snprintf(go, sizeof go, "%s/go", cl.dir);
    if ((err = bench_cluster_start_nodes(&cl, "all", go, &why)) != RL_OK)
        goto out_sim;
    usleep(300000); /* subscriptions settle before the first record */
    fprintf(stderr, "bench bus: 3 node processes -> hub process -> 2 subscribers, %llu events...\n",
            (unsigned long long)events);
    uint64_t want = events + 1, seen[2] = {0, 0}, got[2] = {0, 0}, t0 = mono_ms();
    if (!bench_write_file(go, "go", 2)) {
        err = rl_fail(&why, RL_ERR_IO, "%s: cannot write", go);
        goto out_sim;
    }
    while ((seen[0] < want || seen[1] < want) && mono_ms() - t0 < BUS_TIMEOUT_MS) {
        zmq_pollitem_t it[2] = {{sub_sock[0], 0, ZMQ_POLLIN, 0}, {sub_sock[1], 0, ZMQ_POLLIN, 0}};
        zmq_poll(it, 2, 100);
        for (int i = 0; i < 2; i++)
            bench_drain_records(sub_sock[i], &seen[i], &got[i]);
    }
    uint64_t ms = mono_ms() - t0;
    if (seen[0] < want || seen[1] < want) {
        err = rl_fail(&why, RL_ERR_IO, "subscribers saw records up to %llu and %llu of %llu within %d s",
                      (unsigned long long)seen[0], (unsigned long long)seen[1], (unsigned long long)want,
                      BUS_TIMEOUT_MS / 1000);
        goto out_sim;
    }
    double secs = (double)ms / 1000.0, eps = (double)events / secs;
    printf("bus: %llu events in %.2f s = %.0f events/s; subscribers received %llu and %llu records\n",
           (unsigned long long)events, secs, eps, (unsigned long long)got[0], (unsigned long long)got[1]);
    printf("in process: %.0f events/s\n", inproc_eps);
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:I, s:I, s:i, s:f}", "bench", "bus", "events", (json_int_t)events,
                          "events_per_s", eps, "inproc_events_per_s", inproc_eps, "subscriber1_records",
                          (json_int_t)got[0], "subscriber2_records", (json_int_t)got[1], "cores",
                          (int)pool_threads(p), "ratio", eps / inproc_eps);
    char *text = json_dumps(j, JSON_COMPACT);
    puts(text ? text : "{}");
    free(text);
    json_decref(j);
out_sim:
    free(stream);
    sim_fini(&s);
out:
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
