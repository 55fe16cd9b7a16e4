/*
 * fuzz_export.c - a whole exported log through `audit verify`'s pipeline, against the genesis set
 * of the seed corpus's cluster: every file either verifies or fails naming a reason.
 */
#include <sodium.h>
#include <sys/mman.h>
#include <unistd.h>

#include "db/replay.h"
#include "tests/fuzz/fuzz.h"

static sim cluster;
static pool *workers;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sim_opts o = FUZZ_SIM_OPTS;
    fuzz_require(sodium_init() >= 0, "sodium_init");
    fuzz_require(sim_init(&cluster, &o, NULL) == RL_OK, "sim_init");
    fuzz_require(pool_new(&workers, 1) == RL_OK, "pool_new");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("rlog", MFD_CLOEXEC);
    fuzz_require(fd >= 0, "memfd_create");
    fuzz_require(write(fd, data, size) == (ssize_t)size, "memfd write");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    replay_opts ro = {.genesis = &cluster.genesis, .pool = workers};
    audit_summary sum;
    replay_failure fail = {0};
    if (replay_file(path, &ro, &sum, &fail) != RL_OK)
        fuzz_require(fail.why.text[0] != '\0', "log refused without a reason");
    close(fd);
    return 0;
}
