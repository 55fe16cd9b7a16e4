/* fuzz_relset.c - relayer sets, binary and JSON: what is accepted is valid and canonical. */
#include <string.h>

#include "attest/relset.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    relset s;
    rl_why why = {{0}};
    static uint8_t again[RELSET_MAX_BYTES];
    size_t len = 0;
    if (relset_decode(&s, data, size, &why) == RL_OK) {
        fuzz_require(relset_validate(&s, &why) == RL_OK, "decoded set is not valid");
        fuzz_require(relset_encode(&s, again, &len, &why) == RL_OK, "decoded set does not re-encode");
        fuzz_require(len == size && memcmp(again, data, size) == 0, "accepted set is not canonical");
    } else {
        fuzz_require(why.text[0] != '\0', "set refused without a reason");
    }
    why.text[0] = '\0';
    if (relset_from_json(&s, (const char *)data, size, &why) == RL_OK) {
        fuzz_require(relset_validate(&s, &why) == RL_OK, "set from JSON is not valid");
        fuzz_require(relset_encode(&s, again, &len, &why) == RL_OK, "set from JSON does not encode");
    } else {
        fuzz_require(why.text[0] != '\0', "JSON set refused without a reason");
    }
    return 0;
}
