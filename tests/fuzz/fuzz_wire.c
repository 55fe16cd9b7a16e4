/* fuzz_wire.c - the bus frame decoder: canonical or refused with a reason. */
#include <string.h>

#include "relayer/wire.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_msg m;
    rl_why why = {{0}};
    if (wire_decode(&m, data, size, &why) != RL_OK) {
        fuzz_require(why.text[0] != '\0', "frame refused without a reason");
        return 0;
    }
    static uint8_t again[RECORD_MAX_BYTES + 64];
    static signed_obs so[WIRE_OBS_MAX];
    static wire_ack acks[WIRE_ACK_MAX];
    size_t len = 0;
    switch (m.type) {
    case WIRE_OBS:
        for (size_t i = 0; i < m.n; i++)
            wire_obs_at(&m, i, &so[i]);
        len = wire_encode_obs(again, sizeof again, m.id, so, m.n);
        break;
    case WIRE_ACK:
        for (size_t i = 0; i < m.n; i++)
            acks[i] = wire_ack_at(&m, i);
        len = wire_encode_ack(again, sizeof again, acks, m.n);
        break;
    case WIRE_RECORD: len = wire_encode_record(again, sizeof again, m.id, m.body, m.body_len); break;
    case WIRE_CATCHUP: len = wire_encode_catchup(again, sizeof again, m.id, m.max); break;
    case WIRE_END: len = wire_encode_end(again, sizeof again, m.id); break;
    case WIRE_PRICE: {
        static signed_price sp[WIRE_PRICE_MAX];
        for (size_t i = 0; i < m.n; i++)
            wire_price_at(&m, i, &sp[i]);
        len = wire_encode_price(again, sizeof again, m.id, sp, m.n);
        break;
    }
    case WIRE_SUBMIT: len = wire_encode_submit(again, sizeof again, m.id, m.record_type, m.body, m.body_len); break;
    case WIRE_COSIG: {
        uint16_t member;
        uint8_t sig[EVM_SIG_BYTES];
        wire_cosig_of(&m, &member, sig);
        len = wire_encode_cosig(again, sizeof again, m.id, member, sig);
        break;
    }
    case WIRE_CHECKPOINT: {
        checkpoint c;
        uint16_t member;
        uint8_t sig[ED25519_SIG_BYTES];
        wire_checkpoint_of(&m, &c, &member, sig);
        fuzz_require(c.seq == m.id, "a CHECKPOINT frame's id is not its seq");
        len = wire_encode_checkpoint(again, sizeof again, &c, member, sig);
        break;
    }
    default: fuzz_require(0, "accepted an unknown frame type");
    }
    fuzz_require(len == size && memcmp(again, data, size) == 0, "accepted frame is not canonical");
    return 0;
}
