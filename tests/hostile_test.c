/*
 * hostile_test.c - the hub (relayer/cmd_hub.c, hublimits, hubprice, bus) under hostile load, as a
 * separate process fed by three `relayer watch` processes with simulated chains: a stranger's
 * plain TCP connections under a low descriptor limit, an allow-listed node key flooding price
 * observations of unknown feeds or with broken signatures, allow-lists naming one peer twice,
 * and the catch-up budget per subscriber key.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <zmq.h>

#include "relayer/bus.h"
#include "relayer/hublimits.h"
#include "relayer/hubprice.h"
#include "relayer/keyfile.h"
#include "relayer/sim.h"
#include "relayer/wire.h"
#include "tests/testutil.h"

#define EVENTS 3000          /* credited on l1: the simulated stream (twice as long) puts the even ones there */
#define LOW_NOFILE 256       /* the hub's descriptor limit, soft and hard: raising cannot help */
#define HANDSHAKE_MS 500     /* the hub's [limits] handshake_ms here */
#define FLOOD_CONNECTIONS 10000
#define FLOOD_BATCH 300      /* held at once: more than the hub's whole descriptor table */
#define FLOOD_HOLD_MS 150
#define WAIT_MS 120000       /* for every event to be credited, on a loaded two-core machine */

struct hostile {
    char *dir;
    sim s;
    node_key *hub_key;
    int port; /* the hub's nodes socket, tcp on loopback */
    pid_t hub, watcher[3];
};

/* A loopback TCP port free a moment ago. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* hub.conf with `allow` as its [allow] section, and node1..3.conf streaming EVENTS on l1. */
static void write_confs(struct hostile *h, const char *allow)
{
    char text[4096];
    snprintf(text, sizeof text,
             "[hub]\ndata = hub\nkey = keys/hub.key\nrelayers = relayers.json\ncommit_delay_ms = 5\n"
             "[listen]\nnodes = tcp://127.0.0.1:%d\nrecords = ipc://%s/r.sock\ncatchup = ipc://%s/c.sock\n"
             "[allow]\n%s[prices]\nfeeds = ETH\n[limits]\nhandshake_ms = %d\n",
             h->port, h->dir, h->dir, allow, HANDSHAKE_MS);
    tu_write(h->dir, "hub.conf", text);
    for (unsigned i = 1; i <= 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "node%u.conf", i);
        snprintf(text, sizeof text,
                 "[node]\nkey = keys/node%u.key\nrelayers = relayers.json\ndata = node%u\n"
                 "[hub]\nnodes = tcp://127.0.0.1:%d\nkey = keys/hub.pub\n"
                 "[chain.l1]\nsource = sim\nseed = 5\nevents = %d\nper_message = 50\n",
                 i, i, h->port, 2 * EVENTS);
        tu_write(h->dir, name, text);
    }
}

static const char ALLOW_NODES[] = "node = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n";

static void setup(struct hostile *h)
{
    rl_why why = {{0}};
    cr_assert(sodium_init() >= 0);
    memset(h, 0, sizeof *h);
    h->dir = tu_tmpdir();
    h->port = free_port();
    sim_opts o = {.events = 10, .nodes = 3, .threshold = 2, .seed = 21};
    cr_assert_eq(sim_init(&h->s, &o, &why), RL_OK);
    char keys[700];
    snprintf(keys, sizeof keys, "%s/keys", h->dir);
    cr_assert_eq(mkdir(keys, 0700), 0);
    for (unsigned i = 0; i < 3; i++)
        cr_assert_eq(keyfile_write(keys, h->s.keys[i], &why), RL_OK, "%s", why.text);
    cr_assert_eq(node_key_generate(&h->hub_key, "hub", &why), RL_OK);
    cr_assert_eq(keyfile_write(keys, h->hub_key, &why), RL_OK);
    json_t *j = relset_to_json(&h->s.genesis);
    char *rel = json_dumps(j, 0);
    tu_write(h->dir, "relayers.json", rel);
    free(rel);
    json_decref(j);
    write_confs(h, ALLOW_NODES);
}

static void teardown(struct hostile *h)
{
    for (unsigned i = 0; i < 3; i++)
        tu_stop(&h->watcher[i], SIGTERM);
    tu_stop(&h->hub, SIGTERM);
    node_key_free(h->hub_key);
    sim_fini(&h->s);
    tu_rmdir(h->dir);
}

/* The hub with its descriptor limit at `nofile` (soft and hard, set in the child before exec). */
static void start_hub(struct hostile *h, rlim_t nofile)
{
    char log[700], conf[700];
    snprintf(log, sizeof log, "%s/hub.log", h->dir);
    snprintf(conf, sizeof conf, "%s/hub.conf", h->dir);
    h->hub = fork();
    cr_assert(h->hub >= 0);
    if (h->hub == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        struct rlimit rl = {nofile, nofile};
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 || setrlimit(RLIMIT_NOFILE, &rl) != 0)
            _exit(127);
        close(fd);
        execl(RELAYER_BIN, "relayer", "hub", "--config", conf, (char *)NULL);
        _exit(127);
    }
}

static void start_watchers(struct hostile *h)
{
    for (unsigned i = 0; i < 3; i++) {
        char name[16], log[700], conf[700];
        snprintf(name, sizeof name, "node%u", i + 1);
        snprintf(log, sizeof log, "%s/%s.log", h->dir, name);
        snprintf(conf, sizeof conf, "%s/%s.conf", h->dir, name);
        const char *argv[] = {RELAYER_BIN, "watch", "--config", conf, "--chain", "l1", NULL};
        h->watcher[i] = tu_spawn_argv(log, argv);
    }
}

/* The hub still runs: it has not exited on its own. */
static void assert_hub_alive(struct hostile *h, const char *when)
{
    int status;
    pid_t got = waitpid(h->hub, &status, WNOHANG);
    if (got == h->hub)
        h->hub = 0;
    char *log = NULL;
    if (got != 0)
        tu_run(&log, "tail -5 %s/hub.log", h->dir);
    cr_assert_eq(got, 0, "the hub exited %s (status %d): %s", when, status, log ? log : "");
}

static uint64_t credited(struct hostile *h)
{
    char *out = NULL;
    uint64_t n = 0;
    if (tu_run(&out, "%s ledger digest --db %s/hub --json", RELAYER_BIN, h->dir) == 0) {
        const char *p = strstr(out, "\"events_credited\":");
        n = p ? strtoull(p + 18, NULL, 10) : 0;
    }
    free(out);
    return n;
}

/* Waits until every event is credited, the hub alive all along. */
static void await_all_credited(struct hostile *h)
{
    uint64_t t0 = tu_now_ms(), n = 0;
    while ((n = credited(h)) < EVENTS && tu_now_ms() - t0 < WAIT_MS) {
        assert_hub_alive(h, "while nodes streamed");
        tu_sleep_ms(200);
    }
    cr_assert_eq(n, EVENTS, "%llu of %d events credited", (unsigned long long)n, EVENTS);
    assert_hub_alive(h, "after every event was credited");
}

/* Opens FLOOD_BATCH plain TCP connections to the hub's nodes port (never a byte sent), holds
 * them, closes them: FLOOD_CONNECTIONS in all, and on (at most three times as many) until the
 * hub has credited something. The watchers start after the first batches, so they connect to a
 * hub whose descriptors the stranger holds. Returns what was credited when the flood stopped. */
static uint64_t flood(struct hostile *h)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fds[FLOOD_BATCH];
    uint64_t got = 0;
    for (int done = 0, batch = 0; done < 3 * FLOOD_CONNECTIONS && (done < FLOOD_CONNECTIONS || got == 0); batch++) {
        int n = 0;
        for (; n < FLOOD_BATCH; n++, done++) {
            fds[n] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            cr_assert(fds[n] >= 0, "socket: %s", strerror(errno));
            (void)connect(fds[n], (struct sockaddr *)&a, sizeof a); /* EINPROGRESS past the backlog */
        }
        if (batch == 3)
            start_watchers(h);
        tu_sleep_ms(FLOOD_HOLD_MS);
        for (int i = 0; i < n; i++)
            close(fds[i]);
        assert_hub_alive(h, "during the flood");
        if (batch >= 3)
            got = credited(h);
    }
    return got;
}

Test(hostile, a_stranger_with_ten_thousand_plain_connections_neither_stops_the_hub_nor_its_crediting)
{
    struct hostile h;
    setup(&h);
    struct rlimit own;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &own), 0);
    cr_assert(own.rlim_cur > FLOOD_BATCH + 64, "the test itself needs %d descriptors", FLOOD_BATCH + 64);
    start_hub(&h, LOW_NOFILE);
    cr_assert_gt(flood(&h), 0, "nothing credited while the stranger held the hub's descriptors");
    await_all_credited(&h);
    char *log = NULL;
    tu_run(&log, "cat %s/hub.log", h.dir);
    cr_assert(strstr(log, "descriptor limit") != NULL && strstr(log, "hard=256") != NULL, "%s", log);
    cr_assert(strstr(log, "hub failed") == NULL, "%s", log);
    free(log);
    teardown(&h);
}

/* One PRICE frame of WIRE_PRICE_MAX observations signed by member 1 (node1), the sending peer:
 * with `next`, each of a feed never configured (X0, X1, ...: well-formed and honestly signed, so
 * only the feed list refuses it); without, of the configured feed ETH with every signature
 * broken (each costs the hub a verification). */
static size_t member1_prices(const struct hostile *h, uint8_t *frame, size_t cap, uint64_t msg, unsigned *next)
{
    signed_price sp[WIRE_PRICE_MAX];
    for (size_t i = 0; i < WIRE_PRICE_MAX; i++) {
        price_obs o = {.price_e18 = (__int128)1000000000000000000, .time_ms = (uint64_t)time(NULL) * 1000};
        if (next != NULL)
            snprintf(o.feed, sizeof o.feed, "X%u", (*next)++);
        else
            snprintf(o.feed, sizeof o.feed, "ETH");
        uint8_t enc[PRICE_OBS_BYTES];
        cr_assert_eq(price_encode(enc, &o, NULL), RL_OK);
        price_sign(&sp[i], enc, 1, h->s.keys[0]);
        if (next == NULL)
            sp[i].sig[0] ^= 1;
    }
    return wire_encode_price(frame, cap, msg, sp, WIRE_PRICE_MAX);
}

/* The hub's status.json's updated_ms (wall clock), 0 while there is none. */
static uint64_t status_updated_ms(const struct hostile *h)
{
    char path[700];
    snprintf(path, sizeof path, "%s/hub/status.json", h->dir);
    json_t *j = json_load_file(path, 0, NULL);
    uint64_t ms = (uint64_t)json_integer_value(json_object_get(j, "updated_ms"));
    json_decref(j);
    return ms;
}

static uint64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The hub (descriptors aplenty) once it wrote its status, and a DEALER of node1's key on it. */
static void *start_hub_and_node1(struct hostile *h, bus **b)
{
    start_hub(h, 4096);
    rl_why why = {{0}};
    cr_assert_eq(bus_new(b, NULL, NULL, &why), RL_OK);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", h->port);
    void *s = bus_client(*b, ZMQ_DEALER, h->s.keys[0], node_key_pub(h->hub_key)->x25519, ep, NULL, &why);
    cr_assert_not_null(s, "%s", why.text);
    for (uint64_t t0 = tu_now_ms(); status_updated_ms(h) == 0 && tu_now_ms() - t0 < WAIT_MS;)
        tu_sleep_ms(100);
    return s;
}

/* The hub's anonymous resident memory (heap, not LMDB's file pages), in KiB. */
static uint64_t rss_anon_kb(pid_t pid)
{
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "grep RssAnon /proc/%d/status", (int)pid), 0, "%s", out);
    uint64_t kb = strtoull(out + strcspn(out, "0123456789"), NULL, 10);
    free(out);
    return kb;
}

#define PRICE_FRAMES 500             /* 32 000 feed names: about 480 MB in a table that grew per name */
#define PRICE_GROWTH_MAX_KB (64 << 10) /* generous: the honest stream and the logs move it too */

Test(hostile, thousands_of_unknown_price_feeds_from_one_node_key_do_not_grow_the_hub_and_crediting_goes_on)
{
    struct hostile h;
    setup(&h);
    bus *b;
    void *s = start_hub_and_node1(&h, &b);
    uint64_t rss0 = rss_anon_kb(h.hub);
    start_watchers(&h);
    static uint8_t frame[WIRE_PRICE_MAX * (PRICE_OBS_BYTES + 2 + ED25519_SIG_BYTES) + 64];
    unsigned next = 0;
    for (uint64_t m = 1; m <= PRICE_FRAMES; m++) {
        size_t len = member1_prices(&h, frame, sizeof frame, m, &next);
        cr_assert_eq(zmq_send(s, frame, len, 0), (int)len);
    }
    /* Until every price frame was read (each refused message is one log line), the hub within
     * its memory bound all along, then every honest event credited. */
    uint64_t t0 = tu_now_ms();
    unsigned lines = 0;
    while (lines < PRICE_FRAMES && tu_now_ms() - t0 < WAIT_MS) {
        uint64_t rss1 = rss_anon_kb(h.hub);
        cr_assert(rss1 < rss0 + PRICE_GROWTH_MAX_KB, "the hub grew from %llu KiB to %llu KiB",
                  (unsigned long long)rss0, (unsigned long long)rss1);
        char *out = NULL;
        tu_run(&out, "grep -c 'not a feed the hub' %s/hub.log", h.dir);
        lines = (unsigned)strtoul(out, NULL, 10);
        free(out);
        if (lines < PRICE_FRAMES)
            tu_sleep_ms(200);
    }
    cr_assert_eq(lines, PRICE_FRAMES, "%u of %d price frames refused", lines, PRICE_FRAMES);
    await_all_credited(&h);
    bus_close(s);
    bus_free(b);
    teardown(&h);
}

/* Appends lines to hub.conf's last section, [limits]. */
static void add_limits(const struct hostile *h, const char *lines)
{
    char path[700];
    snprintf(path, sizeof path, "%s/hub.conf", h->dir);
    FILE *f = fopen(path, "a");
    cr_assert_not_null(f);
    fputs(lines, f);
    fclose(f);
}

/* One OBS frame of WIRE_OBS_MAX observations signed by member 1 (node1), the sending peer: each
 * of a fresh event on a chain no other member watches (chain 77, event *next, *next + 1, ...),
 * well-formed and honestly signed, so it waits for a quorum that never comes. */
static size_t member1_fresh_events(const struct hostile *h, uint8_t *frame, size_t cap, uint64_t msg, unsigned *next)
{
    signed_obs so[WIRE_OBS_MAX];
    for (size_t i = 0; i < WIRE_OBS_MAX; i++, (*next)++) {
        obs o = {.kind = OBS_KIND_DEPOSIT, .chain_id = 77, .block_number = 1, .vault_seq = *next + 1};
        memcpy(o.tx_hash, next, sizeof *next);
        o.amount = u256_from_u64(1);
        uint8_t enc[OBS_BYTES];
        cr_assert_eq(obs_encode(enc, &o, NULL), RL_OK);
        obs_sign(&so[i], enc, 1, h->s.keys[0]);
    }
    return wire_encode_obs(frame, cap, msg, so, WIRE_OBS_MAX);
}

/* status.json's value at a path of two keys (the second may be NULL). */
static int64_t status_value(const struct hostile *h, const char *key, const char *sub)
{
    char path[700];
    snprintf(path, sizeof path, "%s/hub/status.json", h->dir);
    json_t *j = json_load_file(path, 0, NULL), *v = json_object_get(j, key);
    int64_t n = (int64_t)json_integer_value(sub ? json_object_get(v, sub) : v);
    json_decref(j);
    return n;
}

#define PENDING_BUDGET 200
#define FRESH_FRAMES 25 /* 6000 fresh events from one key: thirty times its budget */

Test(hostile, one_node_key_signing_thousands_of_never_completing_events_holds_at_most_its_budget_and_crediting_goes_on)
{
    struct hostile h;
    setup(&h);
    add_limits(&h, "pending_per_member = 200\n");
    bus *b;
    void *s = start_hub_and_node1(&h, &b);
    start_watchers(&h);
    static uint8_t frame[WIRE_OBS_MAX * (OBS_BYTES + 2 + ED25519_SIG_BYTES) + 64];
    unsigned next = 0;
    for (uint64_t m = 1; m <= FRESH_FRAMES; m++) {
        size_t len = member1_fresh_events(&h, frame, sizeof frame, 1000000 + m, &next);
        cr_assert_eq(zmq_send(s, frame, len, 0), (int)len);
    }
    await_all_credited(&h);
    /* Every fresh event was taken (its member's oldest dropped past the budget), and what is
     * short of a quorum now is at most that budget. */
    uint64_t t0 = tu_now_ms();
    while (status_value(&h, "dropped", "pending_over_budget") < (int64_t)next - PENDING_BUDGET &&
           tu_now_ms() - t0 < WAIT_MS)
        tu_sleep_ms(200);
    /* Honest events still in flight are pending too for a moment: once the stream is done, only
     * the flood's are, within the budget (the old hub held all 6000). */
    int64_t pending;
    while ((pending = status_value(&h, "events_short_of_quorum", NULL)) > PENDING_BUDGET && tu_now_ms() - t0 < WAIT_MS)
        tu_sleep_ms(200);
    cr_assert_leq(pending, PENDING_BUDGET, "%lld events short of a quorum", (long long)pending);
    cr_assert_geq(status_value(&h, "dropped", "pending_over_budget"), (int64_t)next - PENDING_BUDGET);
    char *log = NULL;
    tu_run(&log, "grep -c 'pending observations dropped.*member=1 ' %s/hub.log", h.dir);
    cr_assert_gt(strtol(log, NULL, 10), 0, "no drop alert naming member 1");
    free(log);
    assert_hub_alive(&h, "after the flood");
    bus_close(s);
    bus_free(b);
    teardown(&h);
}

#define WAITING_BOUND 10
#define UNSETTLED_FRAMES 40 /* messages from one key whose events never settle: four times its bound */

Test(hostile, one_node_key_whose_messages_never_settle_holds_at_most_its_waiting_bound_and_crediting_goes_on)
{
    struct hostile h;
    setup(&h);
    add_limits(&h, "waiting_per_peer = 10\n");
    bus *b;
    void *s = start_hub_and_node1(&h, &b);
    start_watchers(&h); /* node1's own honest messages share its bound: forgotten ones are resent */
    static uint8_t frame[WIRE_OBS_MAX * (OBS_BYTES + 2 + ED25519_SIG_BYTES) + 64];
    unsigned next = 0;
    for (uint64_t m = 1; m <= UNSETTLED_FRAMES; m++) {
        size_t len = member1_fresh_events(&h, frame, sizeof frame, 1000000 + m, &next);
        cr_assert_eq(zmq_send(s, frame, len, 0), (int)len);
    }
    await_all_credited(&h);
    uint64_t t0 = tu_now_ms();
    while (status_value(&h, "dropped", "waiting_over_budget") < UNSETTLED_FRAMES - WAITING_BOUND &&
           tu_now_ms() - t0 < WAIT_MS)
        tu_sleep_ms(200);
    int64_t waiting; /* honest messages in flight wait for a moment too; the old hub held all 40 */
    while ((waiting = status_value(&h, "awaiting_ack", NULL)) > WAITING_BOUND && tu_now_ms() - t0 < WAIT_MS)
        tu_sleep_ms(200);
    cr_assert_leq(waiting, WAITING_BOUND, "%lld messages awaiting acknowledgement", (long long)waiting);
    cr_assert_geq(status_value(&h, "dropped", "waiting_over_budget"), UNSETTLED_FRAMES - WAITING_BOUND);
    assert_hub_alive(&h, "after the flood");
    bus_close(s);
    bus_free(b);
    teardown(&h);
}

/* Starts the hub on hub.conf and expects it to stop at once, its log saying all of `want`. */
static void expect_refused_at_start(struct hostile *h, const char *const *want, size_t n)
{
    start_hub(h, 4096);
    int status = 0;
    pid_t got = 0;
    for (uint64_t t0 = tu_now_ms(); (got = waitpid(h->hub, &status, WNOHANG)) == 0 && tu_now_ms() - t0 < 30000;)
        tu_sleep_ms(50);
    cr_assert_eq(got, h->hub, "the hub started and runs");
    h->hub = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "the hub started (status %d)", status);
    char *log = NULL;
    tu_run(&log, "cat %s/hub.log", h->dir);
    for (size_t i = 0; i < n; i++)
        cr_assert(strstr(log, want[i]) != NULL, "'%s' not in: %s", want[i], log);
    free(log);
}

Test(hostile, an_allow_list_naming_one_key_twice_stops_the_hub_at_start_naming_the_files)
{
    struct hostile h;
    setup(&h);
    write_confs(&h, "node = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\nnode = keys/node1.pub\n");
    const char *want[] = {"hub.conf: [allow] node:", "keys/node1.pub and", "the same name 'node1'"};
    expect_refused_at_start(&h, want, 3);
    teardown(&h);
}

Test(hostile, two_allow_listed_keys_under_one_name_stop_the_hub_at_start)
{
    struct hostile h;
    setup(&h);
    /* Another key that calls itself node2: ZAP would report either as "node2". */
    rl_why why = {{0}};
    node_key *twin;
    char dir[700];
    snprintf(dir, sizeof dir, "%s/twin", h.dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert_eq(node_key_generate(&twin, "node2", &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, twin, &why), RL_OK, "%s", why.text);
    node_key_free(twin);
    write_confs(&h, "node = keys/node1.pub\nnode = keys/node2.pub\nnode = keys/node3.pub\n"
                    "subscriber = keys/node1.pub\nsubscriber = twin/node2.pub\nsubscriber = keys/node2.pub\n");
    const char *want[] = {"[allow] subscriber:", "twin/node2.pub and", "keys/node2.pub", "the same name 'node2'"};
    expect_refused_at_start(&h, want, 4);
    teardown(&h);
}

#define STALL_FLOOD_MS 8000 /* node1 sends badly signed prices this long, as fast as it can */
#define STATUS_STALE_MAX_MS 4000 /* status.json is rewritten every second: 4x that is generous */

Test(hostile, a_flood_of_badly_signed_prices_from_one_node_key_stalls_neither_status_nor_crediting)
{
    struct hostile h;
    setup(&h);
    bus *b;
    void *s = start_hub_and_node1(&h, &b);
    start_watchers(&h);
    static uint8_t frame[WIRE_PRICE_MAX * (PRICE_OBS_BYTES + 2 + ED25519_SIG_BYTES) + 64];
    size_t len = member1_prices(&h, frame, sizeof frame, 1, NULL);
    uint64_t stalest = 0, t0 = tu_now_ms(), sent = 0;
    for (uint64_t last_check = t0; tu_now_ms() - t0 < STALL_FLOOD_MS;) {
        if (zmq_send(s, frame, len, ZMQ_DONTWAIT) == (int)len) /* past the high-water mark: dropped */
            sent++;
        if (tu_now_ms() - last_check >= 250) {
            uint64_t age = wall_now_ms() - status_updated_ms(&h);
            stalest = age > stalest ? age : stalest;
            last_check = tu_now_ms();
        }
    }
    cr_assert_gt(sent, 100, "the flood never got going");
    cr_assert_lt(stalest, STATUS_STALE_MAX_MS, "status.json went %llu ms without a rewrite during the flood",
                 (unsigned long long)stalest);
    await_all_credited(&h);
    bus_close(s);
    bus_free(b);
    teardown(&h);
}

Test(hostile, one_subscriber_key_past_its_catch_up_budget_is_not_answered_until_the_next_second)
{
    static hublimits_rate r = {.per_second = 3};
    for (int i = 0; i < 3; i++)
        cr_assert(hublimits_rate_take(&r, "auditor", 5000 + (uint64_t)i));
    cr_assert_not(hublimits_rate_take(&r, "auditor", 5999), "a fourth request in one second");
    cr_assert(hublimits_rate_take(&r, "follower", 5999), "another key has its own budget");
    cr_assert(hublimits_rate_take(&r, "auditor", 6000), "a new second, a new budget");
    cr_assert_eq(r.refused, 1);
}

Test(hostile, the_price_table_holds_the_configured_feeds_and_refuses_any_other_without_growing)
{
    cr_assert(sodium_init() >= 0);
    rl_why why = {{0}};
    sim s;
    sim_opts so = {.events = 1, .nodes = 3, .threshold = 2, .seed = 3};
    cr_assert_eq(sim_init(&s, &so, &why), RL_OK);
    const char feeds[][PRICE_FEED_BYTES + 1] = {"ETH", "BTC", "ETH"};
    hubprice_opts o = {.max_age_ms = 60000, .heartbeat_ms = 1000, .feeds = feeds, .nfeeds = 3};
    hubprice *hp;
    cr_assert_eq(hubprice_new(&hp, &o), RL_OK);
    cr_assert_eq(hubprice_feeds(hp), 2, "ETH named twice is one feed");
    uint64_t now = 1700000000000;
    for (unsigned i = 0; i < 5000; i++) {
        bool known = i % 1000 == 0; /* now and then ETH, otherwise a fresh name */
        price_obs p = {.price_e18 = (__int128)1000000000000000000, .time_ms = now + i};
        snprintf(p.feed, sizeof p.feed, known ? "ETH" : "Y%u", i);
        uint8_t enc[PRICE_OBS_BYTES];
        signed_price sp;
        cr_assert_eq(price_encode(enc, &p, NULL), RL_OK);
        price_sign(&sp, enc, 1, s.keys[0]);
        rl_err want = known ? RL_OK : RL_ERR_ARG;
        cr_assert_eq(hubprice_takes(hp, &sp), want == RL_OK);
        cr_assert_eq(hubprice_offer(hp, &sp, node_key_pub(s.keys[0])->ed25519, now + i, &why), want, "%u: %s", i,
                     why.text);
    }
    cr_assert_eq(hubprice_feeds(hp), 2, "5000 offers of unknown feeds added nothing");
    cr_assert(strstr(why.text, "is not one the hub's config names") != NULL, "%s", why.text);
    hubprice_free(hp);
    sim_fini(&s);
}

#define SILENT_CONNECTIONS 50
#define SILENT_WAIT_MS (6 * HANDSHAKE_MS) /* the hub closes them after HANDSHAKE_MS */

Test(hostile, plain_connections_that_never_authenticate_are_closed_after_the_handshake_interval)
{
    struct hostile h;
    setup(&h);
    bus *b;
    void *s = start_hub_and_node1(&h, &b);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)h.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct pollfd p[SILENT_CONNECTIONS];
    for (int i = 0; i < SILENT_CONNECTIONS; i++) {
        p[i] = (struct pollfd){socket(AF_INET, SOCK_STREAM, 0), POLLIN, 0};
        cr_assert_eq(connect(p[i].fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    }
    /* Each is closed by the hub (end of file, or a reset) within the wait: none is left open. */
    int closed = 0;
    for (uint64_t t0 = tu_now_ms(); closed < SILENT_CONNECTIONS && tu_now_ms() - t0 < SILENT_WAIT_MS;) {
        if (poll(p, SILENT_CONNECTIONS, 50) <= 0)
            continue;
        for (int i = 0; i < SILENT_CONNECTIONS; i++) {
            char buf[256];
            ssize_t got = p[i].fd >= 0 && p[i].revents != 0 ? recv(p[i].fd, buf, sizeof buf, MSG_DONTWAIT) : -1;
            if (got == 0 || (got < 0 && p[i].revents != 0 && errno != EAGAIN)) { /* the greeting is read past */
                close(p[i].fd);
                p[i].fd = -1; /* poll skips it */
                closed++;
            }
        }
    }
    for (int i = 0; i < SILENT_CONNECTIONS; i++)
        if (p[i].fd >= 0)
            close(p[i].fd);
    cr_assert_eq(closed, SILENT_CONNECTIONS, "%d of %d silent connections closed by the hub within %d ms", closed,
                 SILENT_CONNECTIONS, SILENT_WAIT_MS);
    bus_close(s);
    bus_free(b);
    teardown(&h);
}
