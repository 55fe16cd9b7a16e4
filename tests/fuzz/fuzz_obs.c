/* fuzz_obs.c - the observation decoder: canonical or refused with a reason. */
#include <string.h>

#include "attest/obs.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    obs o;
    rl_why why = {{0}};
    if (obs_decode(&o, data, size, &why) != RL_OK) {
        fuzz_require(why.text[0] != '\0', "observation refused without a reason");
        return 0;
    }
    uint8_t again[OBS_BYTES];
    fuzz_require(size == OBS_BYTES, "observation of the wrong length accepted");
    fuzz_require(obs_encode(again, &o, &why) == RL_OK, "accepted observation does not re-encode");
    fuzz_require(memcmp(again, data, OBS_BYTES) == 0, "accepted observation is not canonical");
    return 0;
}
