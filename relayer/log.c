/*
 * log.c - logfmt writer. One fprintf per line so concurrent processes sharing a terminal or
 * file do not interleave within a line.
 */
#include "relayer/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Set once by log_init before any other thread starts; read-only afterwards. */
static struct {
    char component[32];
    char node[48], chain[32];
    enum log_level min;
} cfg = {"relayer", "", "", LOG_INFO};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *component, const char *node, enum log_level min)
{
    snprintf(cfg.component, sizeof cfg.component, "%s", component ? component : "relayer");
    snprintf(cfg.node, sizeof cfg.node, "%s", node ? node : "");
    cfg.min = min;
    const char *env = getenv("RELAYER_LOG_LEVEL");
    for (int l = LOG_DEBUG; env != NULL && l <= LOG_ERROR; l++)
        if (strcmp(env, level_names[l]) == 0)
            cfg.min = (enum log_level)l;
}

/* Writes s as a logfmt quoted value: backslash, quote and control characters escaped. */
static size_t quote(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 3)
        return 0;
    out[n++] = '"';
    for (; *s && n + 3 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            out[n++] = ' ';
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    out[n] = '\0';
    return n;
}

void log_set_node_chain(const char *node, const char *chain)
{
    snprintf(cfg.node, sizeof cfg.node, "%s", node ? node : "");
    snprintf(cfg.chain, sizeof cfg.chain, "%s", chain ? chain : "");
}

void log_line(enum log_level level, const char *msg, const char *fields, ...)
{
    if (level < cfg.min)
        return;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32], qmsg[512], extra[1024] = "";
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    quote(qmsg, sizeof qmsg, msg);
    if (fields != NULL) {
        va_list ap;
        va_start(ap, fields);
        extra[0] = ' ';
        vsnprintf(extra + 1, sizeof extra - 1, fields, ap);
        va_end(ap);
    }
    fprintf(stderr, "ts=%s.%03ldZ level=%s comp=%s%s%s%s%s msg=%s%s\n", when, ts.tv_nsec / 1000000,
            level_names[level], cfg.component, cfg.node[0] ? " node=" : "", cfg.node, cfg.chain[0] ? " chain=" : "",
            cfg.chain, qmsg, extra);
}
