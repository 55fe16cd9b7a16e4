/*
 * config.c - schema-checked INI files over inih. inih calls the handler once per key as it reads
 * each line; a counting reader tells the handler which line that is.
 */
#include "relayer/config.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct load {
    const char *path;
    char dir[CFG_STR_MAX];
    FILE *f;
    int line;
    const cfg_key *schema;
    size_t nkeys;
    int *seen_at; /* line each key was first set on; 0: not yet */
    void *dest;
    const char *foreign;
    bool lenient; /* skip every key the schema does not know */
    rl_err err;
    rl_why *why;
};

static char *read_line(char *str, int num, void *stream)
{
    struct load *l = stream;
    char *s = fgets(str, num, l->f);
    if (s != NULL)
        l->line++;
    return s;
}

static void fail(struct load *l, const char *section, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(struct load *l, const char *section, const char *key, const char *fmt, ...)
{
    if (l->err != RL_OK)
        return; /* the first problem is the one reported */
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    l->err = rl_fail(l->why, RL_ERR_ARG, "%s:%d: [%s] %s: %s", l->path, l->line, section, key, msg);
}

static bool parse_u64(const char *s, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || s[0] == '+' || s[0] == ' ')
        return false;
    *v = x;
    return true;
}

static bool endpoint_ok(const char *s)
{
    if (strncmp(s, "ipc://", 6) == 0)
        return s[6] != '\0';
    if (strncmp(s, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr(s + 6, ':');
    uint64_t port;
    return colon != NULL && colon > s + 6 && (strcmp(colon + 1, "*") == 0 || (parse_u64(colon + 1, &port) && port > 0 &&
                                                                                  port < 65536));
}

/* value made relative to the config file's directory unless absolute. */
static bool resolve(struct load *l, const char *value, char out[CFG_STR_MAX])
{
    int n = value[0] == '/' || l->dir[0] == '\0' ? snprintf(out, CFG_STR_MAX, "%s", value)
                                                 : snprintf(out, CFG_STR_MAX, "%s/%s", l->dir, value);
    return n > 0 && n < CFG_STR_MAX;
}

/* Whether section starts with one of the space-separated prefixes in foreign (may be NULL). */
static bool foreign_section(const char *foreign, const char *section)
{
    for (const char *p = foreign; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, " ");
        if (n > 0 && strncmp(section, p, n) == 0)
            return true;
        p += n;
        p += strspn(p, " ");
    }
    return false;
}

static int on_key(void *user, const char *section, const char *key, const char *value)
{
    struct load *l = user;
    const cfg_key *k = NULL;
    size_t i;
    bool section_known = false;
    for (i = 0; i < l->nkeys && k == NULL; i++) {
        section_known = section_known || strcmp(l->schema[i].section, section) == 0;
        if (strcmp(l->schema[i].section, section) == 0 && strcmp(l->schema[i].key, key) == 0)
            k = &l->schema[i];
    }
    if (k == NULL && l->lenient)
        return 1;
    if (k == NULL) {
        for (size_t j = i; j < l->nkeys && !section_known; j++)
            section_known = strcmp(l->schema[j].section, section) == 0;
        if (!section_known && foreign_section(l->foreign, section))
            return 1; /* another daemon's section */
        fail(l, section, key, section_known ? "unknown key" : "unknown section");
        return 0;
    }
    i--;
    char *field = (char *)l->dest + k->offset;
    if (k->type != CFG_PATHS && l->seen_at[i] != 0) {
        fail(l, section, key, "set twice (first on line %d)", l->seen_at[i]);
        return 0;
    }
    if (l->seen_at[i] == 0)
        l->seen_at[i] = l->line;
    if (value[0] == '\0') {
        fail(l, section, key, "empty value");
        return 0;
    }
    switch (k->type) {
    case CFG_STRING:
        if (strlen(value) >= CFG_STR_MAX) {
            fail(l, section, key, "longer than %d bytes", CFG_STR_MAX - 1);
            return 0;
        }
        strcpy(field, value);
        return 1;
    case CFG_PATH:
        if (!resolve(l, value, field)) {
            fail(l, section, key, "path too long");
            return 0;
        }
        return 1;
    case CFG_ENDPOINT:
        if (strlen(value) >= CFG_STR_MAX || !endpoint_ok(value)) {
            fail(l, section, key, "'%.200s' is not an endpoint like tcp://127.0.0.1:7401 or ipc:///path", value);
            return 0;
        }
        strcpy(field, value);
        return 1;
    case CFG_U64: {
        uint64_t v;
        if (!parse_u64(value, &v)) {
            fail(l, section, key, "'%.200s' is not a whole number", value);
            return 0;
        }
        if (v < k->min || v > k->max) {
            fail(l, section, key, "%llu is out of range %llu..%llu", (unsigned long long)v,
                 (unsigned long long)k->min, (unsigned long long)k->max);
            return 0;
        }
        memcpy(field, &v, sizeof v);
        return 1;
    }
    case CFG_PATHS: {
        cfg_list *list = (cfg_list *)field;
        if (list->n == CFG_LIST_MAX) {
            fail(l, section, key, "more than %d entries", CFG_LIST_MAX);
            return 0;
        }
        if (!resolve(l, value, list->item[list->n])) {
            fail(l, section, key, "path too long");
            return 0;
        }
        list->n++;
        return 1;
    }
    }
    return 0;
}

rl_err cfg_load(const char *path, const cfg_key *schema, size_t nkeys, void *dest, rl_why *why)
{
    return cfg_load_part(path, schema, nkeys, dest, NULL, why);
}

static rl_err load(const char *path, const cfg_key *schema, size_t nkeys, void *dest, const char *foreign,
                   bool lenient, rl_why *why)
{
    struct load l = {.path = path, .schema = schema, .nkeys = nkeys, .dest = dest, .foreign = foreign,
                     .lenient = lenient, .why = why};
    const char *slash = strrchr(path, '/');
    if (slash != NULL)
        snprintf(l.dir, sizeof l.dir, "%.*s", (int)(slash - path), path);
    if (slash == path)
        strcpy(l.dir, "/");
    if ((l.f = fopen(path, "r")) == NULL)
        return rl_fail(why, errno == ENOENT ? RL_ERR_NOTFOUND : RL_ERR_IO, "%s: %s", path, strerror(errno));
    if ((l.seen_at = calloc(nkeys ? nkeys : 1, sizeof *l.seen_at)) == NULL) {
        fclose(l.f);
        return RL_ERR_NOMEM;
    }
    int rc = ini_parse_stream(read_line, &l, on_key, &l);
    fclose(l.f);
    if (l.err == RL_OK && rc > 0)
        l.err = rl_fail(why, RL_ERR_ARG, "%s:%d: not a 'key = value' line or a [section] header", path, rc);
    else if (l.err == RL_OK && rc < 0)
        l.err = rl_fail(why, RL_ERR_IO, "%s: cannot be read", path);
    for (size_t i = 0; i < nkeys && l.err == RL_OK; i++)
        if (schema[i].required && l.seen_at[i] == 0)
            l.err = rl_fail(why, RL_ERR_ARG, "%s: [%s] %s is required", path, schema[i].section, schema[i].key);
    free(l.seen_at);
    return l.err;
}

rl_err cfg_load_part(const char *path, const cfg_key *schema, size_t nkeys, void *dest, const char *foreign,
                     rl_why *why)
{
    return load(path, schema, nkeys, dest, foreign, false, why);
}

rl_err cfg_load_some(const char *path, const cfg_key *schema, size_t nkeys, void *dest, rl_why *why)
{
    return load(path, schema, nkeys, dest, NULL, true, why);
}

struct sections {
    const char *prefix;
    char (*names)[CFG_STR_MAX];
    size_t max, n;
    bool overflow;
};

static int on_section_key(void *user, const char *section, const char *key, const char *value)
{
    (void)key;
    (void)value;
    struct sections *s = user;
    size_t plen = strlen(s->prefix);
    if (strncmp(section, s->prefix, plen) != 0 || strlen(section + plen) >= CFG_STR_MAX)
        return 1;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->names[i], section + plen) == 0)
            return 1;
    if (s->n == s->max) {
        s->overflow = true;
        return 0;
    }
    strcpy(s->names[s->n++], section + plen);
    return 1;
}

rl_err cfg_sections(const char *path, const char *prefix, char (*names)[CFG_STR_MAX], size_t max, size_t *n,
                    rl_why *why)
{
    struct sections s = {.prefix = prefix, .names = names, .max = max};
    int rc = ini_parse(path, on_section_key, &s);
    *n = s.n;
    if (s.overflow)
        return rl_fail(why, RL_ERR_ARG, "%s: more than %zu [%s...] sections", path, max, prefix);
    if (rc < 0)
        return rl_fail(why, rc == -1 ? RL_ERR_NOTFOUND : RL_ERR_IO, "%s: cannot be read", path);
    if (rc > 0)
        return rl_fail(why, RL_ERR_ARG, "%s:%d: not a 'key = value' line or a [section] header", path, rc);
    return RL_OK;
}

rl_err cfg_finality(const char *path, const char *section, const char *finality, bool has_confirmations,
                    bool *finalized, rl_why *why)
{
    *finalized = false;
    if (finality[0] != '\0' && strcmp(finality, "finalized") != 0)
        return rl_fail(why, RL_ERR_ARG, "%s: [%s] finality: '%s' (the one finality tag read is 'finalized')", path,
                       section, finality);
    if (finality[0] != '\0' && has_confirmations)
        return rl_fail(why, RL_ERR_ARG, "%s: [%s]: confirmations and finality = finalized exclude each other", path,
                       section);
    *finalized = finality[0] != '\0';
    return RL_OK;
}
