/* fuzz_obs.c - the observation decoder: canonical or refused with a reason, and what is accepted
 * is inside its kind's domain (deposit, executed, rotated, expired; seeds of each from seeds.c). */
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
    static const uint8_t zero[EVM_ADDR_BYTES];
    switch (o.kind) {
    case OBS_KIND_DEPOSIT:
        fuzz_require(o.nonce == 0 && o.ins_kind == 0 && o.vault_seq != 0, "deposit accepted with executed fields");
        break;
    case OBS_KIND_EXECUTED:
        fuzz_require(o.nonce != 0 && (o.ins_kind == 1 || o.ins_kind == 2), "executed accepted outside its domain");
        break;
    case OBS_KIND_ROTATED:
        fuzz_require(memcmp(o.account, zero, sizeof zero) == 0 && memcmp(o.asset, zero, sizeof zero) == 0 &&
                         !u256_is_zero(&o.amount) && o.nonce == 0,
                     "rotated accepted outside its domain");
        break;
    case OBS_KIND_EXPIRED: {
        u256 max = u256_from_u64(UINT64_MAX);
        fuzz_require(o.vault_seq == 0 && o.log_index == OBS_EXPIRED_LOG_INDEX && o.nonce != 0 &&
                         (o.ins_kind == 1 || o.ins_kind == 2) && !u256_is_zero(&o.amount) &&
                         u256_cmp(&o.amount, &max) <= 0 && obs_expired_time_s(&o) != 0,
                     "expired accepted outside its domain");
        break;
    }
    default: fuzz_require(false, "unknown kind accepted");
    }
    return 0;
}
