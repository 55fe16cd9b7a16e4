/*
 * fuzz.h - shared by the libFuzzer targets and their seed generator.
 *
 * Every decoder must either accept its input, and then re-encode it to exactly the same bytes
 * (canonical form), or refuse it with a reason in rl_why. Anything else, including a crash or a
 * sanitizer report, is a finding: fuzz_require aborts so libFuzzer keeps the input.
 */
#ifndef RL_FUZZ_H
#define RL_FUZZ_H

#include <stdio.h>
#include <stdlib.h>

#include "relayer/sim.h"

/* The simulated cluster whose log seeds the corpora; fuzz_export verifies against its genesis. */
#define FUZZ_SIM_OPTS                                                                                            \
    {.events = 48, .nodes = 3, .threshold = 2, .seed = 3, .conflicts = 4, .equivocators = 1, .rotate_at = 24}

/* The vault address of fuzz_vaultlog's logs. */
#define FUZZ_VAULT {0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, \
                    0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01}

#define fuzz_require(cond, what)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s (%s:%d)\n", what, __FILE__, __LINE__);                       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
