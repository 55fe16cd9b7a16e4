/* fuzz_vaultlog.c - the vault's event decoder (vaultlog.h): any log is decoded strictly or refused
 * with a reason, and what is accepted encodes back to the same topics and data, byte for byte.
 *
 * Input: n (1 byte, taken mod 5) | n topics of 32 bytes | the log's data (the rest). The log
 * comes from FUZZ_VAULT and was not removed. */
#include <stdlib.h>
#include <string.h>

#include "bridges/evm/vaultlog.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t vault[RPC_ADDR_BYTES] = FUZZ_VAULT;
    if (size < 1)
        return 0;
    rpc_log l;
    memset(&l, 0, sizeof l);
    memcpy(l.address, vault, sizeof vault);
    l.n_topics = data[0] % (RPC_MAX_TOPICS + 1);
    size_t at = 1 + (size_t)l.n_topics * RPC_HASH_BYTES;
    if (size < at)
        return 0;
    for (unsigned i = 0; i < l.n_topics; i++)
        memcpy(l.topics[i], data + 1 + i * RPC_HASH_BYTES, RPC_HASH_BYTES);
    l.data = (uint8_t *)data + at;
    l.data_len = size - at;
    l.block_number = 7;
    l.log_index = 3;
    vault_event e;
    rl_why why = {{0}};
    rl_err err = vault_decode_log(&l, vault, &e, &why);
    if (err != RL_OK) {
        fuzz_require(err == RL_ERR_DECODE || err == RL_ERR_NOTFOUND, "unexpected error code");
        fuzz_require(why.text[0] != '\0', "refused without a reason");
        return 0;
    }
    rpc_log again;
    fuzz_require(vault_encode_log(&e, vault, &again, NULL) == RL_OK, "an accepted event does not encode");
    fuzz_require(again.n_topics == l.n_topics && memcmp(again.topics, l.topics, l.n_topics * RPC_HASH_BYTES) == 0,
                 "topics do not read back as written");
    fuzz_require(again.data_len == l.data_len && memcmp(again.data, l.data, l.data_len) == 0,
                 "data does not read back as written");
    vault_event twice;
    fuzz_require(vault_decode_log(&again, vault, &twice, NULL) == RL_OK && vault_event_equal(&e, &twice),
                 "the re-encoded log decodes to another event");
    free(again.data);
    return 0;
}
