/*
 * files.c - whole-file reads and atomic writes.
 */
#include "relayer/files.h"

#include <jansson.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rl_err file_read_all(const char *path, size_t limit, char **out, size_t *len, rl_why *why)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return rl_fail(why, errno == ENOENT ? RL_ERR_NOTFOUND : RL_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    rl_err err = RL_OK;
    while (buf != NULL) {
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
        if (n > limit) {
            err = rl_fail(why, RL_ERR_ARG, "%s: larger than %zu bytes", path, limit);
            break;
        }
        if (cap - n < 2) {
            char *b = realloc(buf, cap * 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    if (buf == NULL)
        err = RL_ERR_NOMEM;
    else if (err == RL_OK && ferror(f))
        err = rl_fail(why, RL_ERR_IO, "%s: read failed", path);
    fclose(f);
    if (err != RL_OK) {
        free(buf);
        return err;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return RL_OK;
}

rl_err relset_load(const char *path, relset *out, rl_why *why)
{
    char *text;
    size_t len;
    rl_err err = file_read_all(path, 1 << 20, &text, &len, why);
    if (err != RL_OK)
        return err;
    err = relset_from_json(out, text, len, why);
    free(text);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", path);
    return err;
}

rl_err checkpoint_load(const char *path, checkpoint_signed *out, rl_why *why)
{
    char *text;
    size_t len;
    rl_err err = file_read_all(path, 1 << 20, &text, &len, why);
    if (err != RL_OK)
        return err;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (j == NULL)
        return rl_fail(why, RL_ERR_DECODE, "%s: bad JSON at line %d: %s", path, jerr.line, jerr.text);
    err = checkpoint_from_json(out, j, why);
    json_decref(j);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", path);
    return err;
}

rl_err checkpoint_save(const char *path, const checkpoint_signed *cs, const relset *set, rl_why *why)
{
    json_t *j = checkpoint_to_json(cs, set);
    char *text = j != NULL ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    rl_err err = RL_OK;
    if (path == NULL)
        puts(text);
    else
        err = file_write_atomic(path, text, why);
    free(text);
    return err;
}

rl_err relset_load_member(const char *path, const node_pub *pub, relset *out, const relset_member **me, rl_why *why)
{
    rl_err err = relset_load(path, out, why);
    if (err != RL_OK)
        return err;
    *me = relset_find_key(out, pub->ed25519);
    if (*me == NULL)
        return rl_fail(why, RL_ERR_ARG, "%s: the key of %s is not a member of the relayer set", path, pub->name);
    return RL_OK;
}

rl_err file_write_atomic(const char *path, const char *text, rl_why *why)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return RL_ERR_NOMEM;
    FILE *f = fopen(tmp, "w");
    rl_err err = RL_OK;
    if (f == NULL) {
        err = rl_fail(why, RL_ERR_IO, "%s: %s", tmp, strerror(errno));
    } else {
        size_t n = strlen(text);
        if (fwrite(text, 1, n, f) != n || fflush(f) != 0 || fsync(fileno(f)) != 0)
            err = rl_fail(why, RL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
        if (fclose(f) != 0 && err == RL_OK)
            err = rl_fail(why, RL_ERR_IO, "%s: close failed", path);
        if (err == RL_OK && rename(tmp, path) != 0)
            err = rl_fail(why, RL_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
        if (err != RL_OK)
            unlink(tmp);
    }
    free(tmp);
    return err;
}

rl_err risk_load(const char *path, mg_risk *out, rl_why *why)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        return rl_fail(why, RL_ERR_ARG, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    rl_err err = mg_risk_parse(root, out, why);
    json_decref(root);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", path);
    return err;
}
