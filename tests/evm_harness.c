/*
 * evm_harness.c - anvil nodes and the cast client for the integration tests (see evm_harness.h).
 * Both are the native binaries of the npm packages @foundry-rs/anvil and @foundry-rs/cast, run
 * directly rather than through their node wrappers, so that killing the pid kills the node.
 * cast runs with an argument vector, never through a shell: typed-data JSON and tuples pass
 * through unquoted.
 */
#include "tests/evm_harness.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "attest/vec.h"
#include "tests/testutil.h"

#ifndef RL_SOURCE_DIR
#error "RL_SOURCE_DIR (the repository, holding node_modules) is set by the Makefile"
#endif
#ifndef EVM_CONTRACTS_DIR
#error "EVM_CONTRACTS_DIR (the compiled contracts, make contracts) is set by the Makefile"
#endif

/* anvil starts in well under a second; the margin is for a loaded CI machine. */
#define ANVIL_START_TIMEOUT_MS 30000
#define ANVIL_POLL_MS 20
#define LISTENING "Listening on 127.0.0.1:"

typedef struct argvec {
    const char **v;
    size_t n, cap;
} argvec;

static void argv_push(argvec *a, const char *s)
{
    cr_assert(vec_reserve((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, 16));
    a->v[a->n++] = s;
}

static void argv_push_n(argvec *a, const char *const *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        argv_push(a, v[i]);
}

static void argv_push_va(argvec *a, va_list ap)
{
    const char *s;
    while ((s = va_arg(ap, const char *)) != NULL)
        argv_push(a, s);
}

static void rtrim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
}

/* The one binary of @foundry-rs/TOOL-<platform>: npm installs only the platform that matches. */
static char *tool_path(const char *tool)
{
    char *pattern = NULL;
    cr_assert(asprintf(&pattern, "%s/node_modules/@foundry-rs/%s-*/bin/%s", RL_SOURCE_DIR, tool, tool) > 0);
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    cr_assert(rc == 0 && g.gl_pathc == 1, "%s: expected one binary (run `make deps`)", pattern);
    char *path = strdup(g.gl_pathv[0]);
    cr_assert_not_null(path);
    globfree(&g);
    free(pattern);
    return path;
}

/* Appends what is readable on fd to *buf; false at end of file. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap)
{
    cr_assert(vec_reserve((void **)buf, cap, *len + 4097, 1, 4096));
    ssize_t r = read(fd, *buf + *len, 4096);
    if (r < 0 && errno == EINTR)
        return true;
    if (r <= 0)
        return false;
    *len += (size_t)r;
    return true;
}

/* Runs argv (argv[0] a path), stdin from /dev/null; collects stdout and stderr. */
static int run_argv(const char *const *argv, char **out, char **err)
{
    int po[2], pe[2];
    cr_assert(pipe(po) == 0 && pipe(pe) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY);
        if (in < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(po[1], STDOUT_FILENO) < 0 ||
            dup2(pe[1], STDERR_FILENO) < 0)
            _exit(127);
        close(po[0]);
        close(pe[0]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    char *b[2] = {NULL, NULL};
    size_t len[2] = {0, 0}, cap[2] = {0, 0};
    struct pollfd fds[2] = {{.fd = po[0], .events = POLLIN}, {.fd = pe[0], .events = POLLIN}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(fds, 2, -1) < 0) {
            cr_assert(errno == EINTR, "poll: %s", strerror(errno));
            continue;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd < 0 || fds[i].revents == 0)
                continue;
            if (!drain(fds[i].fd, &b[i], &len[i], &cap[i])) {
                close(fds[i].fd);
                fds[i].fd = -1;
                open_fds--;
            }
        }
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        cr_assert(errno == EINTR, "waitpid: %s", strerror(errno));
    for (int i = 0; i < 2; i++) {
        cr_assert(vec_reserve((void **)&b[i], &cap[i], len[i] + 1, 1, 1));
        b[i][len[i]] = '\0';
        rtrim(b[i]);
    }
    if (out != NULL)
        *out = b[0];
    else
        free(b[0]);
    if (err != NULL)
        *err = b[1];
    else
        free(b[1]);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int cast_run_argv(argvec *a, char **out, char **err)
{
    char *cast = tool_path("cast");
    a->v[0] = cast;
    argv_push(a, NULL);
    int rc = run_argv(a->v, out, err);
    free(cast);
    free(a->v);
    return rc;
}

int cast_run(char **out, char **err, const char *arg, ...)
{
    argvec a = {0};
    argv_push(&a, NULL); /* argv[0]: the binary, filled in by cast_run_argv */
    argv_push(&a, arg);
    va_list ap;
    va_start(ap, arg);
    argv_push_va(&a, ap);
    va_end(ap);
    return cast_run_argv(&a, out, err);
}

/* Runs a (argv[0] left for cast) and fails the test, naming the command, unless cast succeeds. */
static char *cast_must(argvec *a)
{
    const char *what = a->n > 1 ? a->v[1] : "?";
    char *cmd = strdup(what);
    cr_assert_not_null(cmd);
    char *out = NULL, *err = NULL;
    int rc = cast_run_argv(a, &out, &err);
    cr_assert_eq(rc, 0, "cast %s: exit %d: %s", cmd, rc, err);
    free(err);
    free(cmd);
    return out;
}

char *cast_ok(const char *arg, ...)
{
    argvec a = {0};
    argv_push(&a, NULL);
    argv_push(&a, arg);
    va_list ap;
    va_start(ap, arg);
    argv_push_va(&a, ap);
    va_end(ap);
    return cast_must(&a);
}

static char *call_va(const anvil_node *n, const char *to, const char *sig, va_list ap)
{
    argvec a = {0};
    const char *head[] = {NULL, "call", "--rpc-url", n->rpc_url, to, sig};
    argv_push_n(&a, head, sizeof head / sizeof head[0]);
    argv_push_va(&a, ap);
    return cast_must(&a);
}

char *cast_call(const anvil_node *n, const char *to, const char *sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    char *out = call_va(n, to, sig, ap);
    va_end(ap);
    return out;
}

uint64_t cast_call_u64(const anvil_node *n, const char *to, const char *sig, ...)
{
    va_list ap;
    va_start(ap, sig);
    char *out = call_va(n, to, sig, ap);
    va_end(ap);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(out, &end, 10);
    cr_assert(errno == 0 && end != out && (*end == '\0' || *end == ' '), "%s: not a uint64: %s", sig, out);
    free(out);
    return (uint64_t)v;
}

/* Sends what a holds; the receipt's status decides, since cast exits 0 for a mined revert. */
static int send_argv(argvec *a, json_t **receipt, char **err)
{
    char *out = NULL, *e = NULL;
    int rc = cast_run_argv(a, &out, &e);
    json_t *r = NULL;
    if (rc == 0) {
        json_error_t je;
        r = json_loads(out, 0, &je);
        cr_assert_not_null(r, "cast send: receipt is not JSON (%s): %s", je.text, out);
        const char *status = json_string_value(json_object_get(r, "status"));
        if (status == NULL || strcmp(status, "0x1") != 0) {
            rc = 1;
            free(e);
            cr_assert(asprintf(&e, "transaction mined with status %s", status ? status : "(none)") > 0);
            json_decref(r);
            r = NULL;
        }
    }
    free(out);
    if (receipt != NULL)
        *receipt = r;
    else
        json_decref(r);
    if (err != NULL)
        *err = e;
    else
        free(e);
    return rc;
}

/* cast send ... [--value V] TO [SIG ARGS...] */
static void send_args(argvec *a, const anvil_node *n, const anvil_account *from, const char *value_wei,
                      const char *to, const char *sig, va_list ap)
{
    const char *head[] = {NULL, "send", "--rpc-url", n->rpc_url, "--private-key", from->key, "--json"};
    argv_push_n(a, head, sizeof head / sizeof head[0]);
    if (value_wei != NULL) {
        argv_push(a, "--value");
        argv_push(a, value_wei);
    }
    if (to != NULL)
        argv_push(a, to);
    if (sig != NULL) {
        argv_push(a, sig);
        argv_push_va(a, ap);
    }
}

/* Sends a, which must fail with the custom error error_sig; what names the call in messages. */
static void expect_revert(argvec *a, const char *what, const char *error_sig)
{
    char *selector = cast_ok("sig", error_sig, NULL);
    char *err = NULL;
    int rc = send_argv(a, NULL, &err);
    cr_assert_neq(rc, 0, "%s: succeeded, expected %s", what, error_sig);
    cr_assert_not_null(strstr(err, selector), "%s: expected %s (%s), got: %s", what, error_sig, selector, err);
    free(err);
    free(selector);
}

int cast_send(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
              json_t **receipt, char **err, const char *sig, ...)
{
    argvec a = {0};
    va_list ap;
    va_start(ap, sig);
    send_args(&a, n, from, value_wei, to, sig, ap);
    va_end(ap);
    return send_argv(&a, receipt, err);
}

json_t *cast_send_ok(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
                     const char *sig, ...)
{
    argvec a = {0};
    va_list ap;
    va_start(ap, sig);
    send_args(&a, n, from, value_wei, to, sig, ap);
    va_end(ap);
    json_t *receipt = NULL;
    char *err = NULL;
    int rc = send_argv(&a, &receipt, &err);
    cr_assert_eq(rc, 0, "send %s: %s", sig, err);
    free(err);
    return receipt;
}

void cast_send_reverts(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
                       const char *error_sig, const char *sig, ...)
{
    argvec a = {0};
    va_list ap;
    va_start(ap, sig);
    send_args(&a, n, from, value_wei, to, sig, ap);
    va_end(ap);
    expect_revert(&a, sig, error_sig);
}

/* build/contracts/NAME.json; the caller json_decref's it (after the last use of *bytecode). */
static json_t *load_artifact(const char *name, const char **bytecode)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s.json", EVM_CONTRACTS_DIR, name) > 0);
    json_error_t je;
    json_t *artifact = json_load_file(path, 0, &je);
    cr_assert_not_null(artifact, "%s: %s (run `make contracts`)", path, je.text);
    *bytecode = json_string_value(json_object_get(artifact, "bytecode"));
    cr_assert_not_null(*bytecode, "%s: no bytecode", path);
    free(path);
    return artifact;
}

/* cast send ... --create BYTECODE [CTOR_SIG ARGS...] */
static void deploy_args(argvec *a, const anvil_node *n, const anvil_account *from, const char *bytecode,
                        const char *ctor_sig, va_list ap)
{
    send_args(a, n, from, NULL, NULL, NULL, ap);
    argv_push(a, "--create");
    argv_push(a, bytecode);
    if (ctor_sig != NULL) {
        argv_push(a, ctor_sig);
        argv_push_va(a, ap);
    }
}

char *cast_deploy(const anvil_node *n, const anvil_account *from, const char *name, const char *ctor_sig, ...)
{
    const char *bytecode;
    json_t *artifact = load_artifact(name, &bytecode);
    argvec a = {0};
    va_list ap;
    va_start(ap, ctor_sig);
    deploy_args(&a, n, from, bytecode, ctor_sig, ap);
    va_end(ap);
    json_t *receipt = NULL;
    char *err = NULL;
    int rc = send_argv(&a, &receipt, &err);
    cr_assert_eq(rc, 0, "deploy %s: %s", name, err);
    const char *addr = json_string_value(json_object_get(receipt, "contractAddress"));
    cr_assert(addr != NULL && strlen(addr) == EVM_ADDRESS_CHARS, "deploy %s: no contract address", name);
    char *address = strdup(addr);
    cr_assert_not_null(address);
    json_decref(receipt);
    json_decref(artifact);
    free(err);
    return address;
}

void cast_deploy_reverts(const anvil_node *n, const anvil_account *from, const char *name, const char *error_sig,
                         const char *ctor_sig, ...)
{
    const char *bytecode;
    json_t *artifact = load_artifact(name, &bytecode);
    argvec a = {0};
    va_list ap;
    va_start(ap, ctor_sig);
    deploy_args(&a, n, from, bytecode, ctor_sig, ap);
    va_end(ap);
    expect_revert(&a, name, error_sig);
    json_decref(artifact);
}

static int by_address(const void *a, const void *b)
{
    return strcasecmp(*(const char *const *)a, *(const char *const *)b);
}

char *cast_deploy_vault_for(const anvil_node *n, const anvil_account *from, const char *const *signers, size_t count,
                            unsigned threshold)
{
    return cast_deploy_vault_with(n, from, signers, count, threshold, VAULT_NATIVE_ONLY_ASSETS,
                                  VAULT_NATIVE_ONLY_MINIMUMS);
}

char *cast_deploy_vault_with(const anvil_node *n, const anvil_account *from, const char *const *signers, size_t count,
                             unsigned threshold, const char *assets, const char *minimums)
{
    cr_assert(count > 0 && count <= 32, "a vault of %zu signers", count);
    const char *sorted[32];
    memcpy(sorted, signers, count * sizeof sorted[0]);
    /* Same-length hex: case-blind order is numeric order, mixed-case (EIP-55) or not. */
    qsort(sorted, count, sizeof sorted[0], by_address);
    char *list = NULL;
    for (size_t i = 0; i < count; i++) {
        char *next = NULL;
        cr_assert(asprintf(&next, "%s%s%s", list ? list : "[", i ? "," : "", sorted[i]) > 0);
        free(list);
        list = next;
    }
    char *closed = NULL, th[12];
    cr_assert(asprintf(&closed, "%s]", list) > 0);
    snprintf(th, sizeof th, "%u", threshold);
    char *vault = cast_deploy(n, from, "CollateralVault", VAULT_CTOR_SIG, closed, th, assets, minimums, NULL);
    free(closed);
    free(list);
    return vault;
}

char *cast_limits_signatures(const anvil_node *n, const char *vault, const anvil_account *const *signers, size_t count,
                             const char *assets, const char *minimums, uint64_t version)
{
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)version);
    char *digest = cast_call(n, vault, "limitsDigest(address[],uint256[],uint256)(bytes32)", assets, minimums, v, NULL);
    char *list = NULL;
    for (size_t i = 0; i < count; i++) {
        char *sig = cast_sign_digest(signers[i], digest), *next = NULL;
        cr_assert(asprintf(&next, "%s%s%s", list ? list : "[", i ? "," : "", sig) > 0);
        free(sig);
        free(list);
        list = next;
    }
    char *closed = NULL;
    cr_assert(asprintf(&closed, "%s]", list ? list : "[") > 0);
    free(list);
    free(digest);
    return closed;
}

void cast_vault_set_limits(const anvil_node *n, const anvil_account *from, const char *vault,
                           const anvil_account *const *signers, size_t count, const char *assets, const char *minimums)
{
    uint64_t version = cast_call_u64(n, vault, "limitsVersion()(uint256)", NULL) + 1;
    char *sigs = cast_limits_signatures(n, vault, signers, count, assets, minimums, version);
    char v[24];
    snprintf(v, sizeof v, "%llu", (unsigned long long)version);
    json_decref(cast_send_ok(n, from, vault, NULL, VAULT_SET_LIMITS_SIG, assets, minimums, v, sigs, NULL));
    free(sigs);
}

static int by_account_address(const void *a, const void *b)
{
    return strcmp((*(const anvil_account *const *)a)->address, (*(const anvil_account *const *)b)->address);
}

char *cast_deploy_vault(const anvil_node *n, const anvil_account *from, size_t first, size_t count,
                        unsigned threshold, const anvil_account **set)
{
    cr_assert(count > 0 && first + count <= ANVIL_DEV_ACCOUNTS);
    const char *addrs[ANVIL_DEV_ACCOUNTS];
    for (size_t i = 0; i < count; i++)
        set[i] = &n->dev[first + i];
    qsort(set, count, sizeof set[0], by_account_address);
    for (size_t i = 0; i < count; i++)
        addrs[i] = set[i]->address;
    return cast_deploy_vault_for(n, from, addrs, count, threshold);
}

void cast_deposit_native(const anvil_node *n, const anvil_account *from, const char *vault, const char *wei,
                         unsigned confirm)
{
    json_decref(cast_send_ok(n, from, vault, wei, "depositNative(address)", from->address, NULL));
    anvil_mine(n, confirm);
}

void cast_deposit_token(const anvil_node *n, const anvil_account *from, const char *vault, const char *token,
                        const char *units, unsigned confirm)
{
    json_decref(cast_send_ok(n, from, token, NULL, "mint(address,uint256)", from->address, units, NULL));
    json_decref(cast_send_ok(n, from, token, NULL, "approve(address,uint256)", vault, units, NULL));
    json_decref(cast_send_ok(n, from, vault, NULL, "deposit(address,address,uint256)", token, from->address, units,
                             NULL));
    anvil_mine(n, confirm);
}

char *cast_rpc(const anvil_node *n, const char *method, ...)
{
    argvec a = {0};
    const char *head[] = {NULL, "rpc", "--rpc-url", n->rpc_url, method};
    argv_push_n(&a, head, sizeof head / sizeof head[0]);
    va_list ap;
    va_start(ap, method);
    argv_push_va(&a, ap);
    va_end(ap);
    return cast_must(&a);
}

char *cast_sign_digest(const anvil_account *who, const char *digest)
{
    return cast_ok("wallet", "sign", "--no-hash", "--private-key", who->key, digest, NULL);
}

char *cast_sign_typed(const anvil_account *who, const char *typed_json)
{
    return cast_ok("wallet", "sign", "--data", "--private-key", who->key, typed_json, NULL);
}

char *cast_typed_vault(uint64_t chain_id, const char *vault, const char *primary, json_t *fields, json_t *message)
{
    json_t *td = json_pack("{s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:o}, s:s, s:{s:s, s:s, s:I, s:s}, s:o}",
                           "types", "EIP712Domain", "name", "name", "type", "string", "name", "version", "type",
                           "string", "name", "chainId", "type", "uint256", "name", "verifyingContract", "type",
                           "address", primary, fields, "primaryType", primary, "domain", "name", "CollateralVault",
                           "version", "1", "chainId", (json_int_t)chain_id, "verifyingContract", vault, "message",
                           message);
    cr_assert_not_null(td, "typed data of %s", primary);
    char *s = json_dumps(td, JSON_COMPACT);
    cr_assert_not_null(s);
    json_decref(td);
    return s;
}

char *cast_typed_instruction(uint64_t chain_id, const char *vault, unsigned kind, const char *account,
                             const char *asset, const char *amount, const char *recipient, uint64_t nonce,
                             uint64_t deadline)
{
    char n[24], d[24];
    snprintf(n, sizeof n, "%llu", (unsigned long long)nonce);
    snprintf(d, sizeof d, "%llu", (unsigned long long)deadline);
    json_t *fields = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "name",
                               "kind", "type", "uint8", "name", "account", "type", "address", "name", "asset", "type",
                               "address", "name", "amount", "type", "uint256", "name", "recipient", "type", "address",
                               "name", "nonce", "type", "uint256", "name", "deadline", "type", "uint256");
    json_t *message = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:s}", "kind", (int)kind, "account", account, "asset",
                                asset, "amount", amount, "recipient", recipient, "nonce", n, "deadline", d);
    cr_assert(fields != NULL && message != NULL);
    return cast_typed_vault(chain_id, vault, "Instruction", fields, message);
}

void anvil_mine(const anvil_node *n, unsigned blocks)
{
    char count[16];
    snprintf(count, sizeof count, "%u", blocks);
    free(cast_rpc(n, "anvil_mine", count, NULL));
}

uint64_t anvil_balance_wei(const anvil_node *n, const char *who)
{
    char *out = cast_ok("balance", "--rpc-url", n->rpc_url, who, NULL);
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(out, &end, 10);
    cr_assert(end != out && *end == '\0' && errno == 0, "balance of %s: %s", who, out);
    free(out);
    return (uint64_t)v;
}

uint64_t anvil_head(const anvil_node *n)
{
    char *out = cast_ok("block-number", "--rpc-url", n->rpc_url, NULL);
    char *end = NULL;
    unsigned long long h = strtoull(out, &end, 10);
    cr_assert(end != out && *end == '\0', "block-number: %s", out);
    free(out);
    return (uint64_t)h;
}

/* One field of a block, a whole number, as `cast block TAG --field FIELD` prints it. */
static uint64_t block_field(const anvil_node *n, const char *tag, const char *field)
{
    char *out = cast_ok("block", tag, "--field", field, "--rpc-url", n->rpc_url, NULL);
    char *end = NULL;
    unsigned long long v = strtoull(out, &end, 10);
    cr_assert(end != out && *end == '\0', "block %s %s: %s", tag, field, out);
    free(out);
    return (uint64_t)v;
}

uint64_t anvil_timestamp(const anvil_node *n) { return block_field(n, "latest", "timestamp"); }

uint64_t anvil_finalized(const anvil_node *n) { return block_field(n, "finalized", "number"); }

void anvil_halt(const anvil_node *n)
{
    free(cast_rpc(n, "evm_setAutomine", "false", NULL));
    free(cast_rpc(n, "evm_setIntervalMining", "0", NULL));
}

void anvil_resume(const anvil_node *n)
{
    free(cast_rpc(n, "evm_setAutomine", "true", NULL));
}

/* ---- the node */

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    while (drain(fileno(f), &buf, &len, &cap))
        ;
    fclose(f);
    cr_assert(vec_reserve((void **)&buf, &cap, len + 1, 1, 1));
    buf[len] = '\0';
    return buf;
}

/* Stops the half-started node, then fails the test with why and anvil's own output. */
static void start_failed(anvil_node *n, const char *why)
{
    char *log_path = NULL;
    cr_assert(asprintf(&log_path, "%s/anvil.log", n->dir) > 0);
    char *log = read_text(log_path);
    char msg[4096];
    snprintf(msg, sizeof msg, "anvil (chain %llu): %s; its output:\n%s", (unsigned long long)n->chain_id, why,
             log ? log : "(none)");
    free(log);
    free(log_path);
    anvil_stop(n);
    cr_assert_fail("%s", msg);
}

static bool anvil_exited(anvil_node *n)
{
    int status;
    if (waitpid(n->pid, &status, WNOHANG) == n->pid) {
        n->pid = 0;
        return true;
    }
    return false;
}

static void load_accounts(anvil_node *n, const char *config_path)
{
    json_error_t je;
    json_t *cfg = json_load_file(config_path, 0, &je);
    if (cfg == NULL)
        start_failed(n, "no readable --config-out file");
    json_t *addrs = json_object_get(cfg, "available_accounts");
    json_t *keys = json_object_get(cfg, "private_keys");
    if (json_array_size(addrs) < ANVIL_DEV_ACCOUNTS || json_array_size(keys) < ANVIL_DEV_ACCOUNTS)
        start_failed(n, "--config-out lists fewer dev accounts than expected");
    for (size_t i = 0; i < ANVIL_DEV_ACCOUNTS; i++) {
        const char *a = json_string_value(json_array_get(addrs, i));
        const char *k = json_string_value(json_array_get(keys, i));
        if (a == NULL || k == NULL || strlen(a) != EVM_ADDRESS_CHARS || strlen(k) != EVM_KEY_CHARS)
            start_failed(n, "--config-out: malformed dev account");
        memcpy(n->dev[i].address, a, EVM_ADDRESS_CHARS + 1);
        memcpy(n->dev[i].key, k, EVM_KEY_CHARS + 1);
    }
    json_decref(cfg);
}

void anvil_start(anvil_node *n, uint64_t chain_id, unsigned block_time_s)
{
    anvil_start_epoch(n, chain_id, block_time_s, 0);
}

void anvil_start_epoch(anvil_node *n, uint64_t chain_id, unsigned block_time_s, unsigned slots_in_an_epoch)
{
    memset(n, 0, sizeof *n);
    n->chain_id = chain_id;
    n->dir = tu_tmpdir();
    char *anvil = tool_path("anvil");
    char *log_path = NULL, *config_path = NULL;
    cr_assert(asprintf(&log_path, "%s/anvil.log", n->dir) > 0);
    cr_assert(asprintf(&config_path, "%s/anvil.json", n->dir) > 0);
    char id[24], block_time[16];
    snprintf(id, sizeof id, "%llu", (unsigned long long)chain_id);
    snprintf(block_time, sizeof block_time, "%u", block_time_s);
    /* Port 0: the kernel picks a free port and anvil prints it; no window for another test to
     * take it between our choosing and anvil binding. */
    char accounts[8];
    snprintf(accounts, sizeof accounts, "%d", ANVIL_DEV_ACCOUNTS);
    argvec a = {0};
    const char *fixed[] = {anvil, "--host", "127.0.0.1", "--port", "0", "--chain-id", id,
                           "--accounts", accounts, "--config-out", config_path};
    argv_push_n(&a, fixed, sizeof fixed / sizeof fixed[0]);
    if (block_time_s > 0) {
        argv_push(&a, "--block-time");
        argv_push(&a, block_time);
    }
    char slots[16];
    snprintf(slots, sizeof slots, "%u", slots_in_an_epoch);
    if (slots_in_an_epoch > 0) {
        argv_push(&a, "--slots-in-an-epoch");
        argv_push(&a, slots);
    }
    argv_push(&a, NULL);

    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        /* Dies with the test process, whatever kills it. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open("/dev/null", O_RDONLY);
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (in < 0 || fd < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(fd, STDOUT_FILENO) < 0 ||
            dup2(fd, STDERR_FILENO) < 0)
            _exit(127);
        execv(anvil, (char *const *)a.v);
        _exit(127);
    }
    n->pid = pid;
    free(a.v);
    free(anvil);

    uint64_t deadline = tu_now_ms() + ANVIL_START_TIMEOUT_MS;
    while (n->port == 0) {
        char *log = read_text(log_path);
        const char *at = log ? strstr(log, LISTENING) : NULL;
        if (at != NULL)
            n->port = (unsigned)strtoul(at + strlen(LISTENING), NULL, 10);
        free(log);
        if (n->port != 0)
            break;
        if (anvil_exited(n))
            start_failed(n, "exited before listening");
        if (tu_now_ms() > deadline)
            start_failed(n, "not listening in time");
        tu_sleep_ms(ANVIL_POLL_MS);
    }
    snprintf(n->rpc_url, sizeof n->rpc_url, "http://127.0.0.1:%u", n->port);

    for (;;) {
        char *out = NULL;
        int rc = cast_run(&out, NULL, "chain-id", "--rpc-url", n->rpc_url, NULL);
        bool up = rc == 0 && strtoull(out, NULL, 10) == chain_id;
        free(out);
        if (up)
            break;
        if (anvil_exited(n))
            start_failed(n, "exited before answering eth_chainId");
        if (tu_now_ms() > deadline)
            start_failed(n, "eth_chainId did not answer with the chain id in time");
        tu_sleep_ms(ANVIL_POLL_MS);
    }
    load_accounts(n, config_path);
    free(config_path);
    free(log_path);
}

void anvil_stop(anvil_node *n)
{
    if (n->pid > 0) {
        kill(n->pid, SIGKILL);
        while (waitpid(n->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        n->pid = 0;
    }
    if (n->dir != NULL) {
        tu_rmdir(n->dir);
        n->dir = NULL;
    }
}
