/*
 * testutil.h - small helpers shared by the Criterion suites: temporary directories, a monotonic
 * clock, and running the real `relayer` binary (RELAYER_BIN, set by the Makefile) with its output
 * captured or as a daemon whose output goes to a log file.
 */
#ifndef RL_TESTUTIL_H
#define RL_TESTUTIL_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR (or /tmp); the caller removes it with tu_rmdir. */
static inline char *tu_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/rltest.XXXXXX", base ? base : "/tmp") > 0);
    cr_assert_not_null(mkdtemp(path), "mkdtemp failed");
    return path;
}

static inline void tu_rmdir(char *path)
{
    if (path == NULL)
        return;
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm -rf '%s'", path) > 0);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
    free(path);
}

/* Milliseconds on the monotonic clock (for deadlines, never for timestamps). */
static inline uint64_t tu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleeps ms milliseconds, the whole time even when a signal interrupts it. */
static inline void tu_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Starts argv (argv[0] a path, NULL-terminated) with stdout and stderr appended to log_path; the
 * child dies with the test process (a failed test leaves no daemon behind). */
static inline pid_t tu_spawn_argv(const char *log_path, const char *const *argv)
{
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd < 0 || dup2(fd, STDERR_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0)
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Sends sig to *pid and reaps it; *pid becomes 0. Nothing when *pid is 0 (not running). */
static inline void tu_stop(pid_t *pid, int sig)
{
    if (*pid <= 0)
        return;
    kill(*pid, sig);
    while (waitpid(*pid, NULL, 0) < 0 && errno == EINTR)
        ;
    *pid = 0;
}

/* Runs a shell command line (printf format) and returns its exit status; stdout and stderr are
 * captured together into *out (malloc'd, caller frees) when out is not NULL. */
static inline int tu_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int tu_run(char **out, const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert(vasprintf(&cmd, fmt, ap) > 0);
    va_end(ap);
    char *full = NULL;
    cr_assert(asprintf(&full, "%s 2>&1", cmd) > 0);
    FILE *p = popen(full, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    buf[len] = '\0';
    int status = pclose(p);
    free(full);
    free(cmd);
    if (out != NULL)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Writes text to DIR/NAME. */
static inline void tu_write(const char *dir, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s", path);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
}

#ifdef RELAYER_BIN
/* Starts `relayer WHAT --config DIR/CONF.conf` with its output appended to DIR/CONF.log; the
 * child dies with the test process (a failed test leaves no daemon behind). */
static inline pid_t tu_spawn(const char *dir, const char *what, const char *conf_name)
{
    char log[700], conf[700];
    snprintf(log, sizeof log, "%s/%s.log", dir, conf_name);
    snprintf(conf, sizeof conf, "%s/%s.conf", dir, conf_name);
    const char *argv[] = {RELAYER_BIN, what, "--config", conf, NULL};
    return tu_spawn_argv(log, argv);
}
#endif

#endif
