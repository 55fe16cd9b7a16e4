/*
 * cmd_up.c - `relayer up --config cluster.conf`: a whole local cluster, supervised.
 *
 * It starts the hub, then every node's watchers (one per node and chain), any followers, the
 * margin calculator, the nodes' co-signers, executors (one per node and chain) and price oracles,
 * each as its own `relayer` process, and keeps them running: a child that dies is logged with how it
 * ended and restarted after a backoff that doubles while it keeps dying young (up to
 * restart_max_ms) and resets once it has run a minute. Ctrl-C or SIGTERM stops everything:
 * SIGTERM to every child, then SIGKILL to any still running after ten seconds.
 *
 *     # cluster.conf
 *     [cluster]
 *     hub = hub.conf
 *     node = node1.conf              ; one per relayer node
 *     node = node2.conf
 *     node = node3.conf
 *     chains = l1 l2                 ; each node runs `relayer watch --chain NAME` for each
 *     follow = follow.conf           ; optional audited replicas
 *     margin = margin.conf           ; optional: the live margin calculator
 *     cosign = cosign1.conf          ; optional, one per node: its co-signer
 *     execute = execute1.conf        ; optional, one per node: `relayer execute --chain NAME` for
 *                                    ; each of `chains` (every chain needs a [chain.NAME] there)
 *     oracle = node1.conf            ; optional, one per node: `relayer oracle` (its [feed.*])
 *     restart_min_ms = 200
 *     restart_max_ms = 10000
 *
 * Children are labelled in the log (`msg="started" child=execute:execute1.conf:l1 pid=N`), so an
 * operator, or the demo, can find one and kill it. A restarted executor looks at every bundle
 * again and asks the vault which nonces are used, so one killed mid-flight is taken over by the
 * next member after takeover_ms (cmd_execute.c); with restart_min_ms above takeover_ms the
 * takeover comes first.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/log.h"
#include "relayer/progress.h"

static const char USAGE[] = "usage: relayer up --config cluster.conf\n"
                            "\n"
                            "Starts and supervises a local cluster: the hub, each node's watchers (one per\n"
                            "chain), followers, the calculator, co-signers, executors (one per chain) and\n"
                            "oracles, restarting any that die, until Ctrl-C. Config:\n"
                            "  [cluster] hub = hub.conf, node = NODE.conf (repeat), chains = l1 l2,\n"
                            "            follow = follow.conf (optional, repeat), margin = margin.conf (optional),\n"
                            "            cosign = cosign1.conf (optional, repeat),\n"
                            "            execute = execute1.conf (optional, repeat: one per chain),\n"
                            "            oracle = node1.conf (optional, repeat),\n"
                            "            restart_min_ms, restart_max_ms\n";

#define MAX_CHILDREN 128
#define MAX_CHAINS 8
#define STOP_GRACE_MS 10000
#define HEALTHY_MS 60000

typedef struct up_config {
    char hub[CFG_STR_MAX], chains[CFG_STR_MAX];
    cfg_list nodes, follow, margin, cosign, execute, oracle;
    uint64_t restart_min_ms, restart_max_ms;
} up_config;

#define F(field) offsetof(up_config, field)
static const cfg_key schema[] = {
    {"cluster", "hub", CFG_PATH, 1, 0, 0, F(hub)},
    {"cluster", "node", CFG_PATHS, 1, 0, 0, F(nodes)},
    {"cluster", "chains", CFG_STRING, 1, 0, 0, F(chains)},
    {"cluster", "follow", CFG_PATHS, 0, 0, 0, F(follow)},
    {"cluster", "margin", CFG_PATHS, 0, 0, 0, F(margin)},
    {"cluster", "cosign", CFG_PATHS, 0, 0, 0, F(cosign)},
    {"cluster", "execute", CFG_PATHS, 0, 0, 0, F(execute)},
    {"cluster", "oracle", CFG_PATHS, 0, 0, 0, F(oracle)},
    {"cluster", "restart_min_ms", CFG_U64, 0, 10, 600000, F(restart_min_ms)},
    {"cluster", "restart_max_ms", CFG_U64, 0, 10, 3600000, F(restart_max_ms)},
};

struct child {
    char label[64];
    char *argv[8];
    pid_t pid;              /* 0: not running */
    uint64_t started_ms, restart_at_ms, backoff_ms;
    unsigned restarts;
};

static void start(struct child *c)
{
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        /* The cluster goes down with its supervisor, even when that is killed outright. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        signal(SIGINT, SIG_IGN); /* Ctrl-C reaches the supervisor, which stops children in order */
        execv("/proc/self/exe", c->argv);
        _exit(127);
    }
    if (pid < 0) {
        log_error("cannot start", "child=%s why=\"%s\"", c->label, strerror(errno));
        c->restart_at_ms = mono_ms() + c->backoff_ms;
        return;
    }
    c->pid = pid;
    c->started_ms = mono_ms();
    log_info("started", "child=%s pid=%d", c->label, (int)pid);
}

static void add(struct child *kids, size_t *n, const char *label, const char *what, const char *config,
                const char *chain)
{
    struct child *c = &kids[(*n)++];
    memset(c, 0, sizeof *c);
    snprintf(c->label, sizeof c->label, "%s", label);
    int k = 0;
    c->argv[k++] = "relayer";
    c->argv[k++] = (char *)what;
    c->argv[k++] = "--config";
    c->argv[k++] = (char *)config;
    if (chain != NULL) {
        c->argv[k++] = "--chain";
        c->argv[k++] = (char *)chain;
    }
}

/* A per-node child, labelled by what it runs, its config's file name and its chain (if any):
 * `watch:node1.conf:l1`, `cosign:cosign1.conf`. */
static void add_node_child(struct child *kids, size_t *n, const char *what, const char *config, const char *chain)
{
    char label[64];
    const char *base = strrchr(config, '/');
    base = base ? base + 1 : config;
    if (chain != NULL)
        snprintf(label, sizeof label, "%s:%.40s:%s", what, base, chain);
    else
        snprintf(label, sizeof label, "%s:%.40s", what, base);
    add(kids, n, label, what, config, chain);
}

/* How a child ended, for the log. */
static void describe(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "status %d", status);
}

static void reap(struct child *kids, size_t n, const up_config *cfg, bool stopping)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct child *c = &kids[i];
            if (c->pid != pid)
                continue;
            char how[32];
            describe(status, how, sizeof how);
            c->pid = 0;
            uint64_t ran = mono_ms() - c->started_ms;
            if (stopping) {
                log_info("stopped", "child=%s how=\"%s\"", c->label, how);
                break;
            }
            c->backoff_ms = ran >= HEALTHY_MS || c->backoff_ms == 0 ? cfg->restart_min_ms
                                                                    : c->backoff_ms * 2 > cfg->restart_max_ms
                                                                          ? cfg->restart_max_ms
                                                                          : c->backoff_ms * 2;
            c->restart_at_ms = mono_ms() + c->backoff_ms;
            c->restarts++;
            log_warn("child died; restarting", "child=%s how=\"%s\" ran_ms=%llu restart_in_ms=%llu restarts=%u",
                     c->label, how, (unsigned long long)ran, (unsigned long long)c->backoff_ms, c->restarts);
            break;
        }
    }
}

static void stop_all(struct child *kids, size_t n, const up_config *cfg)
{
    for (size_t i = n; i-- > 0;) /* watchers and followers first, the hub last */
        if (kids[i].pid > 0)
            kill(kids[i].pid, SIGTERM);
    uint64_t t0 = mono_ms();
    for (;;) {
        reap(kids, n, cfg, true);
        size_t running = 0;
        for (size_t i = 0; i < n; i++)
            running += kids[i].pid > 0;
        if (running == 0)
            return;
        if (mono_ms() - t0 > STOP_GRACE_MS) {
            for (size_t i = 0; i < n; i++)
                if (kids[i].pid > 0) {
                    log_warn("did not stop in time; killing", "child=%s pid=%d", kids[i].label, (int)kids[i].pid);
                    kill(kids[i].pid, SIGKILL);
                }
        }
        usleep(20000);
    }
}

int cmd_up(int argc, char **argv)
{
    int rc;
    const char *config = daemon_config_arg(argc, argv, "up", USAGE, &rc);
    if (config == NULL)
        return rc;
    log_init("up", "", LOG_INFO);
    up_config cfg = {.restart_min_ms = 200, .restart_max_ms = 10000};
    rl_why why = {{0}};
    if (cfg_load(config, schema, sizeof schema / sizeof schema[0], &cfg, &why) != RL_OK) {
        fprintf(stderr, "relayer up: %s\n", why.text);
        return EXIT_USAGE;
    }
    char *chains[MAX_CHAINS];
    size_t nchains = 0;
    for (char *save = NULL, *t = strtok_r(cfg.chains, " ,", &save); t != NULL && nchains < MAX_CHAINS;
         t = strtok_r(NULL, " ,", &save))
        chains[nchains++] = t;
    static struct child kids[MAX_CHILDREN];
    size_t n = 0;
    if (1 + (cfg.nodes.n + cfg.execute.n) * nchains + cfg.follow.n + cfg.margin.n + cfg.cosign.n + cfg.oracle.n >
        MAX_CHILDREN) {
        fprintf(stderr, "relayer up: %s: more than %d processes\n", config, MAX_CHILDREN);
        return EXIT_USAGE;
    }
    add(kids, &n, "hub", "hub", cfg.hub, NULL);
    for (size_t i = 0; i < cfg.nodes.n; i++)
        for (size_t k = 0; k < nchains; k++)
            add_node_child(kids, &n, "watch", cfg.nodes.item[i], chains[k]);
    for (size_t i = 0; i < cfg.follow.n; i++)
        add(kids, &n, "follow", "follow", cfg.follow.item[i], NULL);
    for (size_t i = 0; i < cfg.margin.n; i++)
        add(kids, &n, "margin", "margin", cfg.margin.item[i], NULL);
    for (size_t i = 0; i < cfg.cosign.n; i++)
        add_node_child(kids, &n, "cosign", cfg.cosign.item[i], NULL);
    for (size_t i = 0; i < cfg.execute.n; i++)
        for (size_t k = 0; k < nchains; k++)
            add_node_child(kids, &n, "execute", cfg.execute.item[i], chains[k]);
    for (size_t i = 0; i < cfg.oracle.n; i++)
        add_node_child(kids, &n, "oracle", cfg.oracle.item[i], NULL);
    daemon_trap_signals();
    log_info("cluster starting", "processes=%zu nodes=%zu chains=%zu", n, cfg.nodes.n, nchains);
    for (size_t i = 0; i < n; i++)
        start(&kids[i]);
    while (!daemon_stopping) {
        reap(kids, n, &cfg, false);
        uint64_t now = mono_ms();
        for (size_t i = 0; i < n && !daemon_stopping; i++)
            if (kids[i].pid == 0 && now >= kids[i].restart_at_ms)
                start(&kids[i]);
        usleep(20000);
    }
    log_info("cluster stopping", "processes=%zu", n);
    stop_all(kids, n, &cfg);
    log_info("cluster stopped", NULL);
    return 0;
}
