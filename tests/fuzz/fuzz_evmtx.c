/* fuzz_evmtx.c - the EIP-1559 transaction decoder (bridges/evm/tx.h): any input is a signed
 * type-2 transaction that re-encodes to exactly the same bytes, or is refused with a reason; the
 * sender of an accepted one is recovered or refused as a bad signature. */
#include <stdlib.h>
#include <string.h>

#include "bridges/evm/tx.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    evm_tx tx;
    uint8_t sig[EVM_SIG_BYTES], sender[EVM_ADDR_BYTES];
    rl_why why = {{0}};
    rl_err err = tx_decode(data, size, &tx, sig, &why);
    if (err != RL_OK) {
        fuzz_require(err == RL_ERR_DECODE || err == RL_ERR_TRUNCATED || err == RL_ERR_OVERFLOW,
                     "unexpected error code");
        fuzz_require(why.text[0] != '\0', "refused without a reason");
        return 0;
    }
    uint8_t *raw;
    size_t len;
    fuzz_require(tx_encode_signed(&tx, sig, &raw, &len, &why) == RL_OK, why.text);
    fuzz_require(len == size && memcmp(raw, data, size) == 0, "accepted transaction re-encodes differently");
    free(raw);
    err = tx_sender(data, size, sender, &why);
    fuzz_require(err == RL_OK || err == RL_ERR_SIG, "sender recovery failed with an unexpected code");
    return 0;
}
