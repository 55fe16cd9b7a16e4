/*
 * testutil.h - small helpers shared by the Criterion suites: temporary directories and running
 * the real `relayer` binary (RELAYER_BIN, set by the Makefile) with its output captured.
 */
#ifndef RL_TESTUTIL_H
#define RL_TESTUTIL_H

#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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

#endif
