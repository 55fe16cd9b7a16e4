/* fuzz_record.c - the log record decoder and its typed payload decoders. */
#include <string.h>

#include "attest/bundle.h"
#include "attest/decision.h"
#include "attest/instruction.h"
#include "attest/record.h"
#include "attest/request.h"
#include "tests/fuzz/fuzz.h"

static void check_payload(const record *r)
{
    rl_why why = {{0}};
    uint8_t again[RECORD_MAX_PAYLOAD];
    size_t len = 0;
    rl_err err;
    if (r->type == RECORD_SET) {
        payload_set p;
        err = payload_set_decode(&p, r, &why);
        if (err == RL_OK)
            err = payload_set_encode(&p, again, &len, &why);
    } else if (r->type == RECORD_ATTEST) {
        payload_attest p;
        err = payload_attest_decode(&p, r, &why);
        if (err == RL_OK)
            err = payload_attest_encode(&p, again, &len, &why);
    } else if (r->type == RECORD_CONFLICT) {
        payload_conflict p;
        err = payload_conflict_decode(&p, r, &why);
        if (err == RL_OK)
            err = payload_conflict_encode(&p, again, &len, &why);
    } else if (r->type == RECORD_PRICE) {
        static payload_price p;
        err = payload_price_decode(&p, r, &why);
        if (err == RL_OK)
            err = payload_price_encode(&p, again, &len, &why);
    } else if (r->type == RECORD_REQUEST) {
        request q; /* re-encoding needs the venue's key: decode only */
        err = request_decode(&q, r->payload, r->payload_len, &why);
        if (err == RL_OK)
            return;
    } else if (r->type == RECORD_BUNDLE) {
        static bundle b;
        err = bundle_decode(&b, r->payload, r->payload_len, &why);
        if (err == RL_OK)
            err = bundle_encode(again, &len, &b, &why);
    } else if (r->type == RECORD_EQUIVOCATION) {
        payload_equivocation p;
        err = payload_equivocation_decode(&p, r, NULL, &why);
        if (err == RL_OK)
            err = payload_equivocation_encode(&p, again, &len, &why);
    } else if (r->type == RECORD_INSTRUCTION) {
        instruction in;
        err = instruction_decode(&in, r->payload, r->payload_len, &why);
        if (err == RL_OK && (err = instruction_encode(again, &in, &why)) == RL_OK)
            len = INSTRUCTION_BYTES;
    } else {
        static decision d;
        err = decision_decode(&d, r->payload, r->payload_len, &why);
        if (err == RL_OK && (err = decision_encode_body(again, &len, &d, &why)) == RL_OK) {
            memcpy(again + len, r->payload + len, ED25519_SIG_BYTES); /* the signature as it came */
            len += ED25519_SIG_BYTES;
        }
    }
    if (err != RL_OK) {
        fuzz_require(why.text[0] != '\0', "payload refused without a reason");
        return;
    }
    fuzz_require(len == r->payload_len && memcmp(again, r->payload, len) == 0, "accepted payload is not canonical");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    record r;
    rl_why why = {{0}};
    if (record_decode(&r, data, size, &why) != RL_OK) {
        fuzz_require(why.text[0] != '\0', "record refused without a reason");
        return 0;
    }
    static uint8_t again[RECORD_MAX_BYTES];
    size_t len = 0;
    fuzz_require(record_encode(&r, again, &len, &why) == RL_OK, "accepted record does not re-encode");
    fuzz_require(len == size && memcmp(again, data, size) == 0, "accepted record is not canonical");
    check_payload(&r);
    return 0;
}
