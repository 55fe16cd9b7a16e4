/*
 * keyfile.c - node key files (format in keyfile.h). Secret text is only ever held in guarded
 * memory and never copied into error messages.
 */
#include "relayer/keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/hex.h"
#include "relayer/files.h"

#define KEYFILE_MAX 4096

/* Creates path with text, atomically and never over an existing file: the text goes to a
 * temporary file that is fsynced and then hard-linked into place (link fails if path exists), so a
 * crash leaves either no file or the whole file. */
static rl_err write_new(const char *path, const char *text, size_t len, mode_t mode, rl_why *why)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return rl_fail(why, RL_ERR_IO, "%s: %s", tmp, strerror(errno));
    rl_err err = RL_OK;
    if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) != 0)
        err = rl_fail(why, RL_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    if (close(fd) != 0 && err == RL_OK)
        err = rl_fail(why, RL_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (err == RL_OK && link(tmp, path) != 0)
        err = rl_fail(why, errno == EEXIST ? RL_ERR_EXISTS : RL_ERR_IO, "%s: %s", path,
                      errno == EEXIST ? "exists; refusing to overwrite" : strerror(errno));
    unlink(tmp);
    return err;
}

rl_err pubfile_write(const char *dir, const node_pub *pub, rl_why *why)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.pub", dir, pub->name);
    json_t *j = node_pub_to_json(pub);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(j);
    if (text == NULL)
        return RL_ERR_NOMEM;
    size_t n = strlen(text);
    char *with_nl = realloc(text, n + 2);
    if (with_nl == NULL) {
        free(text);
        return RL_ERR_NOMEM;
    }
    memcpy(with_nl + n, "\n", 2);
    rl_err err = write_new(path, with_nl, n + 1, 0644, why);
    free(with_nl);
    return err;
}

rl_err keyfile_write(const char *dir, const node_key *k, rl_why *why)
{
    const node_pub *pub = node_key_pub(k);
    char key_path[4096], pub_path[4096];
    struct stat st;
    snprintf(key_path, sizeof key_path, "%s/%s.key", dir, pub->name);
    snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, pub->name);
    if (stat(key_path, &st) == 0)
        return rl_fail(why, RL_ERR_EXISTS, "%s: exists; refusing to overwrite", key_path);
    if (stat(pub_path, &st) == 0)
        return rl_fail(why, RL_ERR_EXISTS, "%s: exists; refusing to overwrite", pub_path);

    /* The secret text is assembled in guarded memory and wiped when written. */
    char *text = sodium_malloc(KEYFILE_MAX);
    if (text == NULL)
        return RL_ERR_NOMEM;
    char ed[2 * ED25519_SEED_BYTES + 1], sk[2 * SECP256K1_SK_BYTES + 1];
    char *ed_hex = sodium_malloc(sizeof ed + sizeof sk);
    if (ed_hex == NULL) {
        sodium_free(text);
        return RL_ERR_NOMEM;
    }
    char *sk_hex = ed_hex + sizeof ed;
    hex_encode(ed_hex, node_key_ed25519_seed(k), ED25519_SEED_BYTES);
    hex_encode(sk_hex, node_key_secp256k1_secret(k), SECP256K1_SK_BYTES);
    int n = snprintf(text, KEYFILE_MAX,
                     "# relayer node key: keep secret, mode 0600\n"
                     "name=%s\n"
                     "ed25519_seed=%s\n"
                     "secp256k1_secret=%s\n",
                     pub->name, ed_hex, sk_hex);
    sodium_free(ed_hex);
    rl_err err = write_new(key_path, text, (size_t)n, 0600, why);
    sodium_free(text);
    if (err != RL_OK)
        return err;

    err = pubfile_write(dir, pub, why);
    if (err != RL_OK)
        unlink(key_path);
    return err;
}

rl_err keyfile_read(const char *path, node_key **out, rl_why *why)
{
    /* Opened once, then checked on the descriptor: a check by path and an open by path could see
     * two files (a symlink swapped between them). A symlink is refused outright. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return rl_fail(why, errno == ENOENT ? RL_ERR_NOTFOUND : errno == ELOOP ? RL_ERR_ARG : RL_ERR_IO, "%s: %s", path,
                       errno == ELOOP ? "a symbolic link; name the key file itself" : strerror(errno));
    struct stat st;
    rl_err bad = RL_OK;
    if (fstat(fd, &st) != 0)
        bad = rl_fail(why, RL_ERR_IO, "%s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        bad = rl_fail(why, RL_ERR_ARG, "%s: not a regular file", path);
    else if ((st.st_mode & 077) != 0)
        bad = rl_fail(why, RL_ERR_ARG, "%s: mode %03o lets others read a secret key; chmod 600 it", path,
                      (unsigned)(st.st_mode & 0777));
    else if (st.st_uid != geteuid() && st.st_uid != 0)
        bad = rl_fail(why, RL_ERR_ARG, "%s: owned by uid %u, not by this user (%u) or root", path,
                      (unsigned)st.st_uid, (unsigned)geteuid());
    else if (st.st_size > KEYFILE_MAX)
        bad = rl_fail(why, RL_ERR_ARG, "%s: larger than %d bytes: not a key file", path, KEYFILE_MAX);
    if (bad != RL_OK) {
        close(fd);
        return bad;
    }
    /* Everything secret (file text and decoded bytes) in one guarded block. */
    struct {
        char text[KEYFILE_MAX + 1];
        uint8_t ed[ED25519_SEED_BYTES], sk[SECP256K1_SK_BYTES];
        char name[NODE_NAME_MAX + 1];
    } *g = sodium_malloc(sizeof *g);
    if (g == NULL) {
        close(fd);
        return RL_ERR_NOMEM;
    }
    ssize_t n = read(fd, g->text, KEYFILE_MAX);
    close(fd);
    rl_err err = RL_OK;
    if (n < 0) {
        err = rl_fail(why, RL_ERR_IO, "%s: read failed", path);
        goto done;
    }
    g->text[n] = '\0';
    bool have_name = false, have_ed = false, have_sk = false;
    int lineno = 0;
    for (char *line = g->text, *next; line != NULL && *line != '\0'; line = next) {
        lineno++;
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *eq = strchr(line, '=');
        if (eq == NULL) {
            err = rl_fail(why, RL_ERR_DECODE, "%s:%d: expected key=value", path, lineno);
            goto done;
        }
        *eq = '\0';
        const char *value = eq + 1;
        if (strcmp(line, "name") == 0) {
            if (!node_name_valid(value)) {
                err = rl_fail(why, RL_ERR_DECODE, "%s:%d: 'name' is not a valid node name", path, lineno);
                goto done;
            }
            strcpy(g->name, value);
            have_name = true;
        } else if (strcmp(line, "ed25519_seed") == 0 || strcmp(line, "secp256k1_secret") == 0) {
            bool is_ed = line[0] == 'e';
            /* hex_decode's message names only the field, never the value. */
            if (hex_decode(is_ed ? g->ed : g->sk, 32, value, line, NULL) != RL_OK) {
                err = rl_fail(why, RL_ERR_DECODE, "%s:%d: '%s' must be 64 hex digits", path, lineno, line);
                goto done;
            }
            *(is_ed ? &have_ed : &have_sk) = true;
        } else {
            err = rl_fail(why, RL_ERR_DECODE, "%s:%d: unknown key '%.40s'", path, lineno, line);
            goto done;
        }
    }
    if (!have_name || !have_ed || !have_sk) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: missing '%s'", path,
                      !have_name ? "name" : !have_ed ? "ed25519_seed" : "secp256k1_secret");
        goto done;
    }
    err = node_key_from_secrets(out, g->name, g->ed, g->sk, why);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", path);
done:
    sodium_free(g);
    return err;
}

rl_err pubfile_read(const char *path, node_pub *out, rl_why *why)
{
    char *text;
    size_t len;
    rl_err err = file_read_all(path, 1 << 16, &text, &len, why);
    if (err != RL_OK)
        return err;
    json_error_t jerr;
    json_t *j = json_loadb(text, len, 0, &jerr);
    free(text);
    if (j == NULL)
        return rl_fail(why, RL_ERR_DECODE, "%s:%d: %s", path, jerr.line, jerr.text);
    err = node_pub_from_json(out, j, why);
    json_decref(j);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", path);
    return err;
}
