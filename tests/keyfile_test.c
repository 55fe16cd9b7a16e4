/* keyfile_test.c - key files on disk and `relayer keygen`: modes, no overwrite, errors that
 * never show a secret. */
#include <sodium.h>
#include <sys/stat.h>

#include "attest/hex.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"
#include "tests/testutil.h"

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s missing", path);
    return st.st_mode & 0777;
}

Test(keyfile, written_keys_read_back_identically)
{
    cr_assert(sodium_init() >= 0);
    char *dir = tu_tmpdir(), path[600];
    node_key *k, *back;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&k, "n1", &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, k, &why), RL_OK, "%s", why.text);
    snprintf(path, sizeof path, "%s/n1.key", dir);
    cr_assert_eq(mode_of(path), 0600);
    cr_assert_eq(keyfile_read(path, &back, &why), RL_OK, "%s", why.text);
    cr_assert_eq(memcmp(node_key_pub(back), node_key_pub(k), sizeof(node_pub)), 0);
    cr_assert_eq(memcmp(node_key_secp256k1_secret(back), node_key_secp256k1_secret(k), SECP256K1_SK_BYTES), 0);
    node_pub pub;
    snprintf(path, sizeof path, "%s/n1.pub", dir);
    cr_assert_eq(pubfile_read(path, &pub, &why), RL_OK, "%s", why.text);
    cr_assert_eq(memcmp(&pub, node_key_pub(k), sizeof pub), 0);
    node_key_free(back);
    node_key_free(k);
    tu_rmdir(dir);
}

Test(keyfile, never_overwrites_and_leaves_no_temporary_files)
{
    cr_assert(sodium_init() >= 0);
    char *dir = tu_tmpdir(), path[600];
    node_key *a, *b;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&a, "n1", &why), RL_OK);
    cr_assert_eq(node_key_generate(&b, "n1", &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, a, &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, b, &why), RL_ERR_EXISTS);
    cr_assert(strstr(why.text, "refusing to overwrite") != NULL, "%s", why.text);
    node_key *back;
    snprintf(path, sizeof path, "%s/n1.key", dir);
    cr_assert_eq(keyfile_read(path, &back, &why), RL_OK);
    cr_assert_eq(memcmp(node_key_pub(back)->ed25519, node_key_pub(a)->ed25519, ED25519_PK_BYTES), 0);
    /* A .pub alone also blocks a new key of that name. */
    snprintf(path, sizeof path, "%s/n2.key", dir);
    node_key *c;
    cr_assert_eq(node_key_generate(&c, "n2", &why), RL_OK);
    cr_assert_eq(pubfile_write(dir, node_key_pub(c), &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, c, &why), RL_ERR_EXISTS);
    cr_assert_neq(access(path, F_OK), 0, "a key was written although its .pub existed");
    cr_assert_eq(tu_run(NULL, "ls %s | grep -q tmp", dir), 1, "temporary files left behind");
    node_key_free(a);
    node_key_free(b);
    node_key_free(c);
    node_key_free(back);
    tu_rmdir(dir);
}

Test(keyfile, refuses_a_key_others_can_read)
{
    cr_assert(sodium_init() >= 0);
    char *dir = tu_tmpdir(), path[600];
    node_key *k;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&k, "n1", &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, k, &why), RL_OK);
    snprintf(path, sizeof path, "%s/n1.key", dir);
    cr_assert_eq(chmod(path, 0644), 0);
    node_key *back = NULL;
    cr_assert_eq(keyfile_read(path, &back, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "644") != NULL && strstr(why.text, path) != NULL, "%s", why.text);
    node_key_free(k);
    tu_rmdir(dir);
}

Test(keyfile, refuses_a_symbolic_link_so_a_swap_after_the_check_cannot_be_read)
{
    cr_assert(sodium_init() >= 0);
    char *dir = tu_tmpdir(), path[600], link_path[600];
    node_key *k, *back = NULL;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&k, "n1", &why), RL_OK);
    cr_assert_eq(keyfile_write(dir, k, &why), RL_OK, "%s", why.text);
    snprintf(path, sizeof path, "%s/n1.key", dir);
    snprintf(link_path, sizeof link_path, "%s/link.key", dir);
    cr_assert_eq(symlink(path, link_path), 0);
    /* The link's target is a good key: what is refused is reading through a link at all. */
    cr_assert_eq(keyfile_read(link_path, &back, &why), RL_ERR_ARG);
    cr_assert_null(back);
    cr_assert_not_null(strstr(why.text, "symbolic link"), "%s", why.text);
    cr_assert_not_null(strstr(why.text, link_path), "%s", why.text);
    node_key_free(k);
}

Test(keyfile, refuses_what_is_not_a_regular_file)
{
    char *dir = tu_tmpdir(), path[600];
    node_key *back = NULL;
    rl_why why = {{0}};
    snprintf(path, sizeof path, "%s/fifo.key", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    /* Opened without blocking, then refused on its type: a FIFO would hang a plain read. */
    cr_assert_eq(keyfile_read(path, &back, &why), RL_ERR_ARG);
    cr_assert_not_null(strstr(why.text, "not a regular file"), "%s", why.text);
}

Test(keyfile, errors_name_file_and_line_but_never_the_secret)
{
    cr_assert(sodium_init() >= 0);
    char *dir = tu_tmpdir(), path[600];
    snprintf(path, sizeof path, "%s/bad.key", dir);
    const char *secret = "deadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeefdeadbeXX";
    char text[400];
    snprintf(text, sizeof text, "# comment\nname=bad\ned25519_seed=%s\nsecp256k1_secret=%s\n", secret, secret);
    put(path, text, 0600);
    node_key *k = NULL;
    rl_why why = {{0}};
    cr_assert_eq(keyfile_read(path, &k, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, ":3:") != NULL && strstr(why.text, "ed25519_seed") != NULL, "%s", why.text);
    cr_assert_null(strstr(why.text, "deadbeef"), "secret leaked into: %s", why.text);

    put(path, "name=bad\nsecret=1\n", 0600);
    cr_assert_eq(keyfile_read(path, &k, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, ":2:") != NULL && strstr(why.text, "unknown key 'secret'") != NULL, "%s", why.text);

    put(path, "name=bad\ned25519_seed=0000000000000000000000000000000000000000000000000000000000000001\n", 0600);
    cr_assert_eq(keyfile_read(path, &k, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "missing 'secp256k1_secret'") != NULL, "%s", why.text);

    /* The secp256k1 scalar must be in range: zero is not a key. */
    char zero[65];
    memset(zero, '0', 64);
    zero[64] = '\0';
    snprintf(text, sizeof text, "name=bad\ned25519_seed=%s\nsecp256k1_secret=%s\n", zero, zero);
    put(path, text, 0600);
    cr_assert_neq(keyfile_read(path, &k, &why), RL_OK);
    cr_assert_null(k);
    tu_rmdir(dir);
}

Test(keygen, cli_writes_a_key_pair_and_refuses_to_overwrite)
{
    char *dir = tu_tmpdir(), *out = NULL, path[600];
    cr_assert_eq(tu_run(&out, "%s keygen --out %s/keys --name node1", RELAYER_BIN, dir), 0, "%s", out);
    cr_assert(strstr(out, "\"x25519\"") != NULL && strstr(out, "\"evm\": \"0x") != NULL, "%s", out);
    cr_assert_null(strstr(out, "secret="), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/keys/node1.key", dir);
    cr_assert_eq(mode_of(path), 0600);
    char *before = NULL, *after = NULL;
    size_t n;
    cr_assert_eq(file_read_all(path, 4096, &before, &n, NULL), RL_OK);
    cr_assert_eq(tu_run(&out, "%s keygen --out %s/keys --name node1", RELAYER_BIN, dir), 2, "%s", out);
    cr_assert(strstr(out, "refusing to overwrite") != NULL, "%s", out);
    free(out);
    cr_assert_eq(file_read_all(path, 4096, &after, &n, NULL), RL_OK);
    cr_assert_str_eq(before, after, "the existing key changed");
    cr_assert_eq(tu_run(&out, "%s keygen --out %s/keys --name 'a/b'", RELAYER_BIN, dir), 2, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s keygen --name x", RELAYER_BIN), 2);
    cr_assert(strstr(out, "--out and --name are required") != NULL, "%s", out);
    free(out);
    free(before);
    free(after);
    tu_rmdir(dir);
}

Test(relayers, cli_builds_a_genesis_set_from_pub_files_and_refuses_a_minority_threshold)
{
    char *dir = tu_tmpdir(), *out = NULL;
    for (int i = 1; i <= 3; i++)
        cr_assert_eq(tu_run(NULL, "%s keygen --out %s --name n%d", RELAYER_BIN, dir, i), 0);
    cr_assert_eq(tu_run(&out, "%s relayers init --threshold 1 --out %s/r.json %s/n1.pub %s/n2.pub %s/n3.pub",
                        RELAYER_BIN, dir, dir, dir, dir),
                 2, "%s", out);
    cr_assert(strstr(out, "not a strict majority") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s relayers init --threshold 2 --out %s/r.json %s/n1.pub %s/n2.pub %s/n3.pub",
                        RELAYER_BIN, dir, dir, dir, dir),
                 0, "%s", out);
    free(out);
    char path[600];
    snprintf(path, sizeof path, "%s/r.json", dir);
    relset set;
    rl_why why = {{0}};
    cr_assert_eq(relset_load(path, &set, &why), RL_OK, "%s", why.text);
    cr_assert_eq(set.n, 3);
    cr_assert_eq(set.threshold, 2);
    cr_assert_str_eq(set.members[2].pub.name, "n3");
    cr_assert_eq(tu_run(&out, "%s relayers init --threshold 2 --out %s/r.json %s/n1.pub %s/n2.pub %s/n3.pub",
                        RELAYER_BIN, dir, dir, dir, dir),
                 2, "%s", out);
    cr_assert(strstr(out, "refusing to overwrite") != NULL, "%s", out);
    free(out);
    tu_rmdir(dir);
}
