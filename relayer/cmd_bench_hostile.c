/*
 * cmd_bench_hostile.c - `relayer bench hostile`: the hub's throughput and memory under attack.
 *
 * One hub process and three `bench bus-node` processes (cmd_bench_bus.c's cluster) credit N
 * events twice in one run: a clean phase of N events, then an attacked phase of N more events
 * while this process attacks the hub from three threads, each within what the threat model
 * (DESIGN.md) gives its adversary:
 *
 *   - a stranger: `--connections` plain TCP connections to the nodes socket, opened and held
 *     (reopened as soon as the hub closes one, so that many are always in its handshake);
 *   - a faulty member (threshold - 1 = 1 of 3): node3's real key on an extra connection of its
 *     own, sending as fast as the hub takes them, in turn, OBS frames of never-completing events
 *     (fresh event ids signed by node3 alone, fresh message ids), PRICE frames of feeds the hub's
 *     config does not name, and malformed frames. node3's honest process keeps attesting;
 *   - an allow-listed subscriber (sub2): CATCHUP requests from sequence 1 for the most records
 *     an answer holds, as fast as the hub takes them, never reading an answer.
 *
 * Events per second in each phase are counted from the hub's committed records on its record
 * stream (an honest subscriber, sub1; status.json's head as a fallback). The hub's memory is read
 * from /proc/PID/status (VmRSS, RssAnon, VmHWM) before the attack, every SAMPLE_MS during it and
 * for AFTER_MS after it; hub_exits counts the hub's exits before it was asked to stop. The
 * attackers' own signing is done before the clock starts, as the nodes' is, so the run charges
 * the shared machine with what the hub does, not with what a remote attacker's CPU would:
 * NEVER_PER_EVENT never-completing observations per event of a phase (at most NEVER_MAX); should
 * the hub take them all, they are sent again from the first (counted in the JSON: the hub then
 * sees duplicates). The attack counters count frames handed to the attackers' sockets; what the
 * hub took shows in its status (events_short_of_quorum, awaiting_ack).
 * Progress goes to stderr; the last line on stdout is one JSON object, ratio = attacked / clean.
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "relayer/bench.h"
#include "relayer/bus.h"
#include "relayer/cmd.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/progress.h"
#include "relayer/wire.h"

static const char USAGE[] = "usage: relayer bench hostile [--events N] [--connections C] [--attacks LIST]\n"
                            "                             [--send-hwm H]\n"
                            "LIST: any of connections,node,catchup (default all); H: the hub's [limits] send_hwm\n";

#define DEFAULT_EVENTS 20000
#define DEFAULT_CONNECTIONS 5000
#define PHASE_TIMEOUT_MS 300000  /* a phase not done by then ends; the rate counts what was credited */
#define SAMPLE_MS 100            /* the hub's memory and exit are checked this often */
#define AFTER_MS 1000            /* memory still sampled this long after the attack stops */
#define HOLD_WAIT_MS 15000       /* for the connections to be held before the attacked phase starts */
#define SETTLE_MS 300            /* node connections and subscriptions settle */
#define OPEN_PER_ROUND 500       /* connections (re)opened per round of the holder's loop */
#define SEND_TIMEOUT_MS 100      /* a flooder's blocked send gives up this often to look at stop */
#define NEVER_PER_EVENT 16       /* never-completing observations signed ahead, per event of the phase */
#define NEVER_MAX 400000         /* ... and at most this many (105 MB) */
#define NEVER_FIRST (1ull << 40) /* their stream indexes: far past the honest ones, so fresh ids */
#define PRICES 4096              /* unknown-feed price observations signed ahead, sent in turn */
#define ATTACKER 2               /* node3 (index into the sim's keys) */
#define LOG_TAIL_BYTES 2000      /* of the hub's log, printed when the run fails */
#define RSS_GUARD_MB 2048        /* the attack stops when the hub's RSS passes this: the machine is shared */
#define MALFORMED_MAX 65536      /* the largest malformed frame: the hub's default max_message_bytes */
#define NOFILE_SPARE 256         /* descriptors beyond the held connections: ZeroMQ, files, pipes */

/* What the attack threads share with the main thread: set up before they start, counters atomic. */
struct attack {
    atomic_bool stop;
    /* the stranger */
    uint16_t nodes_port;
    unsigned connections;
    atomic_uint_fast64_t opened, held, closed_by_hub, connect_failed;
    /* the faulty member */
    void *node_sock;        /* DEALER with node3's key (used by its thread only) */
    const sim_opts *events; /* the honest stream's options: never-completing events are further on */
    const node_key *key;
    uint16_t member;
    signed_obs *never; /* signed ahead (owned) */
    size_t nnever;
    signed_price *prices; /* signed ahead (owned) */
    atomic_uint_fast64_t obs_frames, never_obs, never_rounds, price_frames, malformed_frames;
    /* the subscriber */
    void *catchup_sock; /* DEALER with sub2's key (used by its thread only) */
    atomic_uint_fast64_t catchup_requests;
};

struct mem {
    double rss_mb, anon_mb, hwm_mb;
};

/* What a run measured, for its JSON line. */
struct result {
    uint64_t events, credited;           /* per phase; credited: in the attacked phase */
    double clean_eps, attacked_eps;
    double clean_cpu_ms, attacked_cpu_ms; /* the hub's CPU time (every thread) in each phase */
    double attack_secs;                   /* from the attack's start to its stop */
    bool complete;                        /* the attacked phase credited all its events */
    struct mem before, peak;              /* the hub's, before the attack and its peak since */
    struct mem clean_growth;              /* the hub's growth over the clean phase (no attack) */
    int exits;
};

/* ---------------------------------------------------------------- the hub, seen from outside */

static bool hub_mem(pid_t pid, struct mem *m)
{
    char path[64], *text;
    size_t len;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    if (file_read_all(path, 1 << 16, &text, &len, NULL) != RL_OK)
        return false;
    const char *keys[] = {"VmRSS:", "RssAnon:", "VmHWM:"};
    double *out[] = {&m->rss_mb, &m->anon_mb, &m->hwm_mb};
    bool ok = true;
    for (int i = 0; i < 3; i++) {
        const char *at = strstr(text, keys[i]);
        ok = ok && at != NULL;
        if (at != NULL)
            *out[i] = strtod(at + strlen(keys[i]), NULL) / 1024.0; /* kB */
    }
    free(text);
    return ok;
}

/* A number from the hub's status.json (0 when it cannot be read). */
static uint64_t hub_status(const bench_cluster *c, const char *key)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/hub/status.json", c->dir);
    json_t *j = json_load_file(path, 0, NULL);
    json_t *v = json_object_get(j, key);
    uint64_t n = json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
    json_decref(j);
    return n;
}

/* Whether the hub has exited on its own (then counted, and c->hub becomes -1). */
static bool hub_exited(bench_cluster *c, int *exits, int *status)
{
    if (c->hub <= 0)
        return true;
    if (waitpid(c->hub, status, WNOHANG) != c->hub)
        return false;
    (*exits)++;
    c->hub = -1;
    return true;
}

/* The end of the hub's log, to stderr: the scratch directory goes away with the run. */
static void print_log_tail(const bench_cluster *c)
{
    char path[4200], *text;
    size_t len;
    snprintf(path, sizeof path, "%s/hub.log", c->dir);
    if (file_read_all(path, (size_t)1 << 30, &text, &len, NULL) != RL_OK)
        return;
    size_t from = len > LOG_TAIL_BYTES ? len - LOG_TAIL_BYTES : 0;
    fprintf(stderr, "bench hostile: the end of the hub's log:\n%.*s\n", (int)(len - from), text + from);
    free(text);
}

/* The hub's CPU time so far, ms (bench_proc_cpu_ns). */
static double hub_cpu_ms(pid_t pid)
{
    return (double)bench_proc_cpu_ns(pid) / 1e6;
}

static double loadavg1(void)
{
    double l = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f != NULL && fscanf(f, "%lf", &l) != 1)
        l = 0;
    if (f != NULL)
        fclose(f);
    return l;
}

/* ---------------------------------------------------------------- the stranger */

static int open_one(const struct sockaddr_in *to, int ep, unsigned slot)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.u32 = slot};
    if ((connect(fd, (const struct sockaddr *)to, sizeof *to) != 0 && errno != EINPROGRESS) ||
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Holds a->connections connections to the nodes socket: reads and drops what the hub sends (its
 * greeting), never answers, and reopens each one the hub closes. */
static void *hold_connections(void *arg)
{
    struct attack *a = arg;
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(a->nodes_port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int *fd = malloc(a->connections * sizeof *fd);
    bool *up = calloc(a->connections, sizeof *up);
    if (ep < 0 || fd == NULL || up == NULL)
        goto out;
    for (unsigned i = 0; i < a->connections; i++)
        fd[i] = -1;
    uint64_t held = 0;
    while (!atomic_load(&a->stop)) {
        unsigned opened = 0;
        for (unsigned i = 0; i < a->connections && opened < OPEN_PER_ROUND; i++) {
            if (fd[i] >= 0)
                continue;
            if ((fd[i] = open_one(&to, ep, i)) < 0) {
                atomic_fetch_add(&a->connect_failed, 1);
                break; /* out of descriptors or ports: again next round */
            }
            up[i] = false;
            opened++;
            atomic_fetch_add(&a->opened, 1);
        }
        struct epoll_event ev[256];
        int n = epoll_wait(ep, ev, 256, 20);
        for (int k = 0; k < n; k++) {
            unsigned i = ev[k].data.u32;
            char buf[512];
            ssize_t got = 1;
            if (ev[k].events & EPOLLIN)
                while ((got = read(fd[i], buf, sizeof buf)) > 0)
                    ;
            bool closed = got == 0 || (got < 0 && errno != EAGAIN) || (ev[k].events & (EPOLLHUP | EPOLLERR));
            if (closed) {
                close(fd[i]); /* also leaves the epoll set */
                fd[i] = -1;
                held -= up[i];
                atomic_fetch_add(up[i] ? &a->closed_by_hub : &a->connect_failed, 1);
                continue;
            }
            if (!up[i] && (ev[k].events & EPOLLOUT)) { /* connected: from now on only reads matter */
                struct epoll_event in = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = i};
                epoll_ctl(ep, EPOLL_CTL_MOD, fd[i], &in);
                up[i] = true;
                held++;
            }
        }
        atomic_store(&a->held, held);
    }
out:
    for (unsigned i = 0; fd != NULL && i < a->connections; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    if (ep >= 0)
        close(ep);
    free(fd);
    free(up);
    atomic_store(&a->held, 0);
    return NULL;
}

/* ---------------------------------------------------------------- the faulty member */

/* Never-completing observation i: a deposit far past the honest stream (a fresh event id), as the
 * attacking member alone signs it. */
static void never_obs(const struct attack *a, uint64_t i, signed_obs *out)
{
    obs o;
    uint8_t enc[OBS_BYTES];
    sim_event(a->events, NEVER_FIRST + i, &o);
    if (obs_encode(enc, &o, NULL) != RL_OK) /* a simulated deposit always encodes */
        abort();
    obs_sign(out, enc, a->member, a->key);
}

static void never_fn(void *ctx, size_t begin, size_t end)
{
    struct attack *a = ctx;
    for (size_t i = begin; i < end; i++)
        never_obs(a, i, &a->never[i]);
}

/* Unknown feed i ("Z" and a number: valid as a name, absent from the hub's config). */
static rl_err unknown_price(const struct attack *a, size_t i, signed_price *out, rl_why *why)
{
    price_obs p = {.price_e18 = (__int128)1000000000000000000 * (__int128)(i + 1), .time_ms = wall_ms()};
    uint8_t enc[PRICE_OBS_BYTES];
    snprintf(p.feed, sizeof p.feed, "Z%zu", i);
    rl_err err = price_encode(enc, &p, why);
    if (err == RL_OK)
        price_sign(out, enc, a->member, a->key);
    return err;
}

/* Malformed frame number k into out: in turn random bytes, an OBS header promising more than it
 * holds, another wire version, a frame type only the hub sends, an empty frame, and as many
 * bytes as the hub's default max_message_bytes lets through. */
static size_t malformed(uint8_t *out, size_t cap, uint64_t k)
{
    assert(cap >= 1024);
    size_t len = 0;
    switch (k % 6) {
    case 0:
        len = 1 + k % 1000;
        randombytes_buf(out, len);
        break;
    case 1: /* type, version, msg_id (8), n (2) = 240, then half of one observation */
        len = 12 + WIRE_SIGNED_OBS_BYTES / 2;
        memset(out, 0xa5, len);
        out[0] = WIRE_OBS;
        out[1] = WIRE_VERSION;
        out[10] = 0;
        out[11] = WIRE_OBS_MAX;
        break;
    case 2:
        len = wire_encode_catchup(out, cap, 1, 1);
        out[1] = WIRE_VERSION + 1;
        break;
    case 3:
        len = wire_encode_end(out, cap, k);
        break;
    case 4:
        len = 0;
        break;
    default:
        len = cap < MALFORMED_MAX ? cap : MALFORMED_MAX;
        memset(out, 0xff, len);
        break;
    }
    return len;
}

static bool send_frame(void *sock, const uint8_t *frame, size_t len, const struct attack *a)
{
    while (!atomic_load(&a->stop))
        if (zmq_send(sock, frame, len, 0) >= 0)
            return true;
    return false;
}

/* OBS, PRICE and malformed frames in turn, each sent as soon as the hub's queue takes it. */
static void *flood_node(void *arg)
{
    struct attack *a = arg;
    static uint8_t frame[MALFORMED_MAX]; /* an OBS frame of WIRE_OBS_MAX is smaller */
    uint64_t msg_id = NEVER_FIRST, next_never = 0, next_price = 0, k = 0;
    while (!atomic_load(&a->stop)) {
        if (next_never + WIRE_OBS_MAX > a->nnever) { /* all sent once: again from the first (counted) */
            next_never = 0;
            atomic_fetch_add(&a->never_rounds, 1);
        }
        const signed_obs *batch = a->never + next_never;
        size_t len = wire_encode_obs(frame, sizeof frame, ++msg_id, batch, WIRE_OBS_MAX);
        if (!send_frame(a->node_sock, frame, len, a))
            break;
        next_never += WIRE_OBS_MAX;
        atomic_fetch_add(&a->obs_frames, 1);
        atomic_fetch_add(&a->never_obs, WIRE_OBS_MAX);

        len = wire_encode_price(frame, sizeof frame, ++msg_id, a->prices + next_price, WIRE_PRICE_MAX);
        next_price = (next_price + WIRE_PRICE_MAX) % PRICES;
        if (!send_frame(a->node_sock, frame, len, a))
            break;
        atomic_fetch_add(&a->price_frames, 1);

        len = malformed(frame, sizeof frame, k++);
        if (!send_frame(a->node_sock, frame, len, a))
            break;
        atomic_fetch_add(&a->malformed_frames, 1);
    }
    return NULL;
}

/* ---------------------------------------------------------------- the subscriber */

/* CATCHUP for the most records an answer holds, from the first, never reading the answers. */
static void *flood_catchup(void *arg)
{
    struct attack *a = arg;
    uint8_t frame[64];
    size_t len = wire_encode_catchup(frame, sizeof frame, 1, UINT32_MAX);
    while (send_frame(a->catchup_sock, frame, len, a))
        atomic_fetch_add(&a->catchup_requests, 1);
    return NULL;
}

/* ---------------------------------------------------------------- the run */

/* Signs what the faulty member sends, ahead; connects its and the subscriber's sockets. */
static rl_err attack_prepare(struct attack *a, bench_cluster *c, bus *b, const sim *s, pool *p, uint64_t events,
                             rl_why *why)
{
    a->events = &s->o;
    a->key = s->keys[ATTACKER];
    a->member = s->genesis.members[ATTACKER].id;
    a->nodes_port = c->ports[0];
    a->nnever = events * NEVER_PER_EVENT < NEVER_MAX ? events * NEVER_PER_EVENT : NEVER_MAX;
    a->never = malloc(a->nnever * sizeof *a->never);
    a->prices = malloc(PRICES * sizeof *a->prices);
    if (a->never == NULL || a->prices == NULL)
        return RL_ERR_NOMEM;
    pool_run(p, never_fn, a, a->nnever, 256);
    rl_err err = RL_OK;
    for (size_t i = 0; i < PRICES && err == RL_OK; i++)
        err = unknown_price(a, i, &a->prices[i], why);
    if (err != RL_OK)
        return err;
    char ep[64];
    int timeout = SEND_TIMEOUT_MS;
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", c->ports[0]);
    if ((a->node_sock = bus_client(b, ZMQ_DEALER, a->key, c->hub_pub.x25519, ep, NULL, why)) == NULL)
        return RL_ERR_IO;
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", c->ports[2]);
    if ((a->catchup_sock = bus_client(b, ZMQ_DEALER, c->subs[1], c->hub_pub.x25519, ep, NULL, why)) == NULL)
        return RL_ERR_IO;
    zmq_setsockopt(a->node_sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    zmq_setsockopt(a->catchup_sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
    return RL_OK;
}

/* Waits until the subscriber (or status.json) shows record `want`, or the hub exits, or the phase
 * times out; samples the hub's memory into *peak meanwhile (peak may be NULL). The seconds taken. */
static double run_phase(bench_cluster *c, void *sub, const char *go, uint64_t want, uint64_t *seen, struct mem *peak,
                        int *exits, int *status, rl_why *why, rl_err *err)
{
    uint64_t got = 0, t0 = mono_ms(), sampled = 0, checked = 0;
    if (!bench_write_file(go, "go", 2)) {
        *err = rl_fail(why, RL_ERR_IO, "%s: cannot write", go);
        return 0;
    }
    while (*seen < want && mono_ms() - t0 < PHASE_TIMEOUT_MS && !daemon_stopping) {
        zmq_pollitem_t it = {sub, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, SAMPLE_MS / 4);
        bench_drain_records(sub, seen, &got, NULL, NULL, NULL);
        uint64_t now = mono_ms();
        if (now - sampled >= SAMPLE_MS) {
            sampled = now;
            struct mem m;
            if (hub_exited(c, exits, status))
                break;
            if (peak != NULL && hub_mem(c->hub, &m)) {
                peak->rss_mb = m.rss_mb > peak->rss_mb ? m.rss_mb : peak->rss_mb;
                peak->anon_mb = m.anon_mb > peak->anon_mb ? m.anon_mb : peak->anon_mb;
                peak->hwm_mb = m.hwm_mb;
                if (m.rss_mb > RSS_GUARD_MB)
                    break;
            }
        }
        if (now - checked >= 1000) { /* a record the subscriber lost: the hub's own count */
            checked = now;
            uint64_t head = hub_status(c, "head_seq");
            *seen = head > *seen ? head : *seen;
        }
    }
    return (double)(mono_ms() - t0) / 1000.0;
}

static rl_err raise_nofile(unsigned connections, rl_why *why)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return rl_fail(why, RL_ERR_IO, "getrlimit: %s", strerror(errno));
    rlim_t want = (rlim_t)connections + NOFILE_SPARE;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want)
        return rl_fail(why, RL_ERR_ARG, "%u connections need %llu descriptors; the hard limit is %llu", connections,
                       (unsigned long long)want, (unsigned long long)rl.rlim_max);
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
        return rl_fail(why, RL_ERR_IO, "setrlimit: %s", strerror(errno));
    return RL_OK;
}

static const char *const ATTACKS[] = {"connections", "node", "catchup"};

struct opts {
    uint64_t events, send_hwm; /* send_hwm 0: the hub's default */
    unsigned connections;
    unsigned attacks; /* bit i: ATTACKS[i] runs */
};

static bool parse_attacks(const char *list, unsigned *out)
{
    *out = 0;
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
        unsigned i = 0;
        while (i < 3 && strcmp(t, ATTACKS[i]) != 0)
            i++;
        if (i == 3)
            return false;
        *out |= 1u << i;
    }
    return *out != 0;
}

static bool parse(int argc, char **argv, struct opts *o)
{
    static const struct option opts[] = {{"events", required_argument, NULL, 'n'},
                                         {"connections", required_argument, NULL, 'c'},
                                         {"attacks", required_argument, NULL, 'a'},
                                         {"send-hwm", required_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'a') {
            if (!parse_attacks(optarg, &o->attacks))
                return false;
            continue;
        }
        char *end;
        unsigned long long v = c == 'n' || c == 'c' || c == 'h' ? strtoull(optarg, &end, 10) : 0;
        if (v == 0 || *end != '\0' || (c == 'c' && v > 1000000))
            return false;
        if (c == 'n')
            o->events = v;
        else if (c == 'c')
            o->connections = (unsigned)v;
        else
            o->send_hwm = v;
    }
    return optind == argc;
}

static void print_result(const struct result *r, const struct attack *a, const bench_cluster *c, double load)
{
    double growth = r->peak.rss_mb - r->before.rss_mb;
    double clean_cpu_us = r->clean_cpu_ms * 1e3 / (double)r->events;
    double attacked_cpu_us = r->credited ? r->attacked_cpu_ms * 1e3 / (double)r->credited : 0;
    json_t *atk = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connections",
                            (int)a->connections, "connections_opened", (json_int_t)atomic_load(&a->opened),
                            "connections_closed_by_hub", (json_int_t)atomic_load(&a->closed_by_hub),
                            "connections_failed", (json_int_t)atomic_load(&a->connect_failed), "obs_frames",
                            (json_int_t)atomic_load(&a->obs_frames), "never_completing_obs",
                            (json_int_t)atomic_load(&a->never_obs), "never_completing_signed",
                            (json_int_t)a->nnever, "never_completing_resent_from_first",
                            (json_int_t)atomic_load(&a->never_rounds), "unknown_feed_price_frames",
                            (json_int_t)atomic_load(&a->price_frames), "malformed_frames",
                            (json_int_t)atomic_load(&a->malformed_frames), "catchup_requests",
                            (json_int_t)atomic_load(&a->catchup_requests));
    json_t *hub = json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:I, s:I, s:f, s:f, s:f}", "attack_secs",
                            r->attack_secs, "rss_growth_mb_per_attack_s", growth / r->attack_secs, "rss_before_mb",
                            r->before.rss_mb, "rss_peak_mb", r->peak.rss_mb, "anon_before_mb", r->before.anon_mb,
                            "anon_peak_mb", r->peak.anon_mb, "hwm_mb", r->peak.hwm_mb, "clean_phase_rss_growth_mb",
                            r->clean_growth.rss_mb, "clean_phase_anon_growth_mb", r->clean_growth.anon_mb,
                            "events_short_of_quorum",
                            (json_int_t)hub_status(c, "events_short_of_quorum"), "awaiting_ack",
                            (json_int_t)hub_status(c, "awaiting_ack"), "cpu_us_per_event_clean", clean_cpu_us,
                            "cpu_us_per_event_attacked", attacked_cpu_us, "cpu_ratio",
                            attacked_cpu_us > 0 ? clean_cpu_us / attacked_cpu_us : 0.0);
    json_t *j = json_pack("{s:s, s:I, s:f, s:f, s:f, s:i, s:b, s:b, s:f, s:o, s:o, s:f}", "bench", "hostile", "events",
                          (json_int_t)r->events, "clean_events_per_s", r->clean_eps, "attacked_events_per_s",
                          r->attacked_eps, "hub_rss_growth_mb", growth, "hub_exits", r->exits,
                          "attacked_phase_complete", r->complete, "stopped_at_rss_guard", r->peak.rss_mb > RSS_GUARD_MB,
                          "loadavg_1m", load, "attack", atk, "hub", hub, "ratio",
                          r->clean_eps > 0 ? r->attacked_eps / r->clean_eps : 0.0);
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(6));
    puts(text ? text : "{}");
    free(text);
    json_decref(j);
}

int bench_hostile(int argc, char **argv)
{
    struct opts o = {.events = DEFAULT_EVENTS, .connections = DEFAULT_CONNECTIONS, .attacks = 7};
    if (!parse(argc, argv, &o)) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    bench_cluster cl = {.hub = -1, .nodes = {-1, -1, -1}};
    uint64_t events = o.events;
    unsigned connections = o.attacks & 1 ? o.connections : 0;
    struct attack a = {.connections = connections};
    pthread_t th[3];
    int started = 0, hub_status_code = 0;
    rl_why why = {{0}};
    pool *p = NULL;
    bus *b = NULL;
    void *sub = NULL;
    signed_obs *stream = NULL;
    size_t nobs = 0;
    sim s;
    bool have_sim = false;
    sim_opts so = {.events = 2 * events, .nodes = 3, .threshold = 2, .seed = 13};
    daemon_trap_signals(); /* SIGINT or SIGTERM ends the phase under way; every process is stopped below */
    rl_err err = raise_nofile(connections, &why);
    if (err == RL_OK && (cl.dir = bench_tmpdir("hostile")) == NULL)
        err = rl_fail(&why, RL_ERR_IO, "cannot create a scratch directory");
    if (err == RL_OK)
        err = pool_new(&p, 0);
    if (err == RL_OK && (err = sim_init(&s, &so, &why)) == RL_OK)
        have_sim = true;
    if (err != RL_OK)
        goto out;
    fprintf(stderr, "bench hostile: signing 2 x %llu events x 3 nodes and the attacker's frames (not timed)...\n",
            (unsigned long long)events);
    char extra[256];
    snprintf(extra, sizeof extra, "[prices]\nfeeds = ETH\n");
    if (o.send_hwm != 0)
        snprintf(extra + strlen(extra), sizeof extra - strlen(extra), "[limits]\nsend_hwm = %llu\n",
                 (unsigned long long)o.send_hwm);
    err = bench_cluster_write(&cl, &s, extra, &why);
    const char *tags[] = {"clean", "attacked"};
    for (int ph = 0; ph < 2 && err == RL_OK; ph++) {
        if ((err = sim_stream(&s, p, ph * events, (ph + 1) * events, &stream, &nobs, &why)) == RL_OK)
            err = bench_cluster_obs(&cl, tags[ph], stream, nobs, &why);
        free(stream);
        stream = NULL;
    }
    if (err == RL_OK && (err = bench_cluster_start_hub(&cl, &why)) == RL_OK)
        err = bus_new(&b, NULL, NULL, &why);
    if (err == RL_OK)
        err = attack_prepare(&a, &cl, b, &s, p, events, &why);
    bus_limits lim = {.rcvhwm = 10000000};
    if (err == RL_OK && (sub = bench_cluster_subscribe(&cl, b, 0, &lim, &why)) == NULL)
        err = RL_ERR_IO;
    char go[2][4200];
    for (int ph = 0; ph < 2; ph++)
        snprintf(go[ph], sizeof go[ph], "%s/go.%s", cl.dir, tags[ph]);
    if (err == RL_OK)
        err = bench_cluster_start_nodes(&cl, tags[0], go[0], &why);
    if (err != RL_OK)
        goto out;
    usleep(SETTLE_MS * 1000);

    struct result r = {.events = events};
    struct mem start = {0};
    hub_mem(cl.hub, &start);
    double cpu0 = hub_cpu_ms(cl.hub);
    fprintf(stderr, "bench hostile: clean phase, %llu events...\n", (unsigned long long)events);
    uint64_t seen = 0;
    double clean_secs = run_phase(&cl, sub, go[0], events + 1, &seen, NULL, &r.exits, &hub_status_code, &why, &err);
    r.clean_cpu_ms = hub_cpu_ms(cl.hub) - cpu0;
    if (err != RL_OK || seen < events + 1) {
        if (err == RL_OK)
            err = rl_fail(&why, RL_ERR_IO, "clean phase: %llu of %llu records (hub exits: %d, wait status %d)",
                          (unsigned long long)seen, (unsigned long long)events + 1, r.exits, hub_status_code);
        goto out;
    }
    r.clean_eps = (double)events / clean_secs;
    fprintf(stderr, "bench hostile: clean: %.2f s = %.0f events/s\n", clean_secs, r.clean_eps);
    bench_cluster_stop_nodes(&cl);
    if ((err = bench_cluster_start_nodes(&cl, tags[1], go[1], &why)) != RL_OK)
        goto out;
    usleep(SETTLE_MS * 1000);
    hub_mem(cl.hub, &r.before);
    r.clean_growth.rss_mb = r.before.rss_mb - start.rss_mb;
    r.clean_growth.anon_mb = r.before.anon_mb - start.anon_mb;
    r.peak = r.before;

    fprintf(stderr, "bench hostile: attack:%s%s%s...\n", o.attacks & 1 ? " plain connections held;" : "",
            o.attacks & 2 ? " node3 flooding;" : "", o.attacks & 4 ? " sub2 flooding catch-up;" : "");
    void *(*fns[3])(void *) = {hold_connections, flood_node, flood_catchup};
    for (int i = 0; i < 3; i++)
        if ((o.attacks & (1u << i)) && pthread_create(&th[started++], NULL, fns[i], &a) != 0) {
            started--;
            err = rl_fail(&why, RL_ERR_IO, "cannot start an attack thread");
            goto out;
        }
    uint64_t t_hold = mono_ms(); /* the attack starts */
    while (atomic_load(&a.held) < connections && mono_ms() - t_hold < HOLD_WAIT_MS && cl.hub > 0 && !daemon_stopping)
        usleep(50000);
    fprintf(stderr, "bench hostile: %llu connections held after %.1f s; attacked phase, %llu events...\n",
            (unsigned long long)atomic_load(&a.held), (double)(mono_ms() - t_hold) / 1000.0,
            (unsigned long long)events);
    double cpu1 = hub_cpu_ms(cl.hub);
    double attacked_secs =
        run_phase(&cl, sub, go[1], 2 * events + 1, &seen, &r.peak, &r.exits, &hub_status_code, &why, &err);
    r.attacked_cpu_ms = hub_cpu_ms(cl.hub) - cpu1;
    r.complete = seen >= 2 * events + 1;
    if (r.peak.rss_mb > RSS_GUARD_MB)
        fprintf(stderr, "bench hostile: the hub's RSS passed %d MiB: the attack stops here\n", RSS_GUARD_MB);
    r.credited = seen > events + 1 ? seen - events - 1 : 0;
    fprintf(stderr, "bench hostile: attacked: %llu events in %.2f s; stopping the attack...\n",
            (unsigned long long)r.credited, attacked_secs);
    atomic_store(&a.stop, true);
    for (; started > 0; started--)
        pthread_join(th[started - 1], NULL);
    r.attack_secs = (double)(mono_ms() - t_hold) / 1000.0;
    for (uint64_t t0 = mono_ms(); mono_ms() - t0 < AFTER_MS && !hub_exited(&cl, &r.exits, &hub_status_code);) {
        struct mem m;
        if (hub_mem(cl.hub, &m)) {
            r.peak.rss_mb = m.rss_mb > r.peak.rss_mb ? m.rss_mb : r.peak.rss_mb;
            r.peak.anon_mb = m.anon_mb > r.peak.anon_mb ? m.anon_mb : r.peak.anon_mb;
            r.peak.hwm_mb = m.hwm_mb;
        }
        usleep(SAMPLE_MS * 1000);
    }
    if (err == RL_OK && daemon_stopping)
        err = rl_fail(&why, RL_ERR_IO, "stopped by a signal during the attacked phase");
    if (err == RL_OK) {
        r.attacked_eps = (double)r.credited / attacked_secs;
        printf("hostile: clean %.0f events/s, attacked %.0f events/s; hub RSS %.1f -> peak %.1f MiB; hub exits %d\n",
               r.clean_eps, r.attacked_eps, r.before.rss_mb, r.peak.rss_mb, r.exits);
        print_result(&r, &a, &cl, loadavg1());
        if (r.exits > 0 || !r.complete)
            err = r.exits > 0 ? rl_fail(&why, RL_ERR_IO, "the hub exited (wait status %d)", hub_status_code)
                            : rl_fail(&why, RL_ERR_IO, "the hub did not credit every event in time");
    }
out:
    atomic_store(&a.stop, true);
    for (; started > 0; started--)
        pthread_join(th[started - 1], NULL);
    bus_close(a.node_sock);
    bus_close(a.catchup_sock);
    bus_close(sub);
    if (err != RL_OK && cl.dir != NULL)
        print_log_tail(&cl);
    bench_cluster_fini(&cl);
    bus_free(b);
    free(a.never);
    free(a.prices);
    if (have_sim)
        sim_fini(&s);
    pool_free(p);
    if (err != RL_OK) {
        fprintf(stderr, "relayer bench hostile: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}
