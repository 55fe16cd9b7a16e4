/*
 * crash_test.c - a hub killed with SIGKILL at random moments loses nothing it reported committed,
 * applies nothing twice, and always leaves a log that `audit verify` accepts.
 *
 * The child is the real binary: `relayer dev simulate --report-commits`, which prints
 * "committed head=N" after each durable commit. After every kill the test checks the ledger's
 * head against the last report, exports and verifies the log; the run is then resumed. When a
 * resumed run finally completes, its ledger digest must equal that of a run never interrupted.
 * node1 equivocates on a quarter of the events: its evidence is kept once across the kills (keys
 * are in the digest).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "tests/testutil.h"

struct scale {
    unsigned events, kills;
};

static struct scale pick_scale(void)
{
    if (getenv("RL_TEST_SCALE") != NULL) /* sanitizers run several times slower */
        return (struct scale){.events = 4000, .kills = 8};
    return (struct scale){.events = 10000, .kills = 12};
}

static char *simulate_args(const char *dir, unsigned events)
{
    char *args = NULL;
    cr_assert(asprintf(&args,
                       "dev simulate --out %s --events %u --nodes 3 --threshold 2 --equivocators 1 --conflicts 10 "
                       "--rotate-at %u --commit-every 20 --commit-delay-ms 5 --seed 11",
                       dir, events, events / 2) > 0);
    return args;
}

/* The "key":value of a compact JSON line, as text; value must be a number or a string. */
static void json_field(const char *json, const char *key, char *val, size_t cap)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    cr_assert_not_null(p, "no %s in %s", key, json);
    p += strlen(pat);
    if (*p == '"')
        p++;
    size_t n = strcspn(p, "\",}");
    cr_assert(n < cap);
    memcpy(val, p, n);
    val[n] = '\0';
}

static void digest_of(const char *dir, char *digest, uint64_t *head_seq)
{
    char *out = NULL, seq[32];
    cr_assert_eq(tu_run(&out, "%s ledger digest --db %s/hub --json", RELAYER_BIN, dir), 0, "%s", out);
    json_field(out, "digest", digest, 65);
    json_field(out, "head_seq", seq, sizeof seq);
    *head_seq = strtoull(seq, NULL, 10);
    free(out);
}

/* Starts the simulation, kills it after delay_ms, and returns the highest head it reported as
 * committed (0 if none) and whether it finished on its own first. */
static uint64_t run_and_kill(const char *dir, unsigned events, unsigned delay_ms, bool *finished)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int null = open("/dev/null", O_WRONLY);
        dup2(null, STDERR_FILENO);
        char *args = simulate_args(dir, events), *cmd = NULL;
        if (asprintf(&cmd, "exec %s %s --report-commits", RELAYER_BIN, args) < 0)
            _exit(127);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t reported = 0;
    char line[256];
    size_t len = 0;
    *finished = false;
    for (;;) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long elapsed = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (elapsed >= (long)delay_ms)
            break;
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        if (poll(&pfd, 1, (int)(delay_ms - elapsed)) <= 0)
            continue;
        char c;
        ssize_t n = read(fds[0], &c, 1);
        if (n <= 0) {
            *finished = true;
            break;
        }
        if (c != '\n') {
            if (len < sizeof line - 1)
                line[len++] = c;
            continue;
        }
        line[len] = '\0';
        len = 0;
        uint64_t seq;
        if (sscanf(line, "committed head=%" SCNu64, &seq) == 1 && seq > reported)
            reported = seq;
    }
    kill(pid, SIGKILL);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    close(fds[0]);
    if (*finished)
        cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "simulate failed on its own: status %d", status);
    return reported;
}

static void export_and_verify(const char *dir, unsigned round)
{
    char *out = NULL;
    cr_assert_eq(tu_run(&out, "%s audit export --db %s/hub --out %s/round%u.rlog", RELAYER_BIN, dir, dir, round), 0,
                 "round %u export: %s", round, out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/round%u.rlog --relayers %s/relayers.json", RELAYER_BIN, dir, round,
                        dir),
                 0, "round %u: the log left by a SIGKILL does not verify: %s", round, out);
    free(out);
}

Test(crash, sigkill_at_random_moments_loses_and_doubles_nothing, .timeout = 600)
{
    struct scale sc = pick_scale();
    char *ref = tu_tmpdir(), *dir = tu_tmpdir(), *out = NULL;
    char *args = simulate_args(ref, sc.events);
    /* Kills land anywhere in a whole run: the delays span the reference run's duration. */
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(tu_run(&out, "%s %s", RELAYER_BIN, args), 0, "reference run: %s", out);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long span_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    unsigned span = span_ms > 50 ? (unsigned)span_ms : 50;
    free(out);
    free(args);
    char want[65], got[65];
    uint64_t want_seq, got_seq;
    digest_of(ref, want, &want_seq);

    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    unsigned kills = 0;
    for (unsigned round = 1; kills < sc.kills; round++) {
        cr_assert(round < sc.kills * 4, "seed %u: the run kept finishing before it could be killed", seed);
        unsigned delay = 5 + (unsigned)rand() % span;
        bool finished;
        uint64_t reported = run_and_kill(dir, sc.events, delay, &finished);
        if (tu_run(NULL, "test -s %s/hub/data.mdb", dir) != 0)
            continue; /* killed before the store existed */
        digest_of(dir, got, &got_seq);
        cr_assert_geq(got_seq, reported, "seed %u round %u: head %" PRIu64 " is behind reported commit %" PRIu64,
                      seed, round, got_seq, reported);
        if (got_seq == 0 && !finished)
            continue; /* killed after the store was made, before its genesis record committed */
        export_and_verify(dir, round);
        if (finished) {
            /* A completed run restarts from scratch to keep the kills coming. */
            cr_assert_str_eq(got, want, "seed %u: a run that completed after kills differs from the reference", seed);
            cr_assert_eq(tu_run(NULL, "rm -rf %s/hub %s/keys %s/relayers.json", dir, dir, dir), 0);
            continue;
        }
        kills++;
    }
    args = simulate_args(dir, sc.events);
    cr_assert_eq(tu_run(&out, "%s %s", RELAYER_BIN, args), 0, "final resume: %s", out);
    free(out);
    free(args);
    digest_of(dir, got, &got_seq);
    cr_assert_eq(got_seq, want_seq, "seed %u: head %" PRIu64 " after kills, %" PRIu64 " uninterrupted", seed, got_seq,
                 want_seq);
    cr_assert_str_eq(got, want, "seed %u: ledger after %u kills differs from an uninterrupted run", seed, kills);
    export_and_verify(dir, 0);
    tu_rmdir(ref);
    tu_rmdir(dir);
}
