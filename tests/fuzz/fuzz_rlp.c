/* fuzz_rlp.c - the strict RLP decoder (bridges/evm/rlp.h): any input is one canonical item,
 * which re-encodes to exactly the same bytes, or is refused with a reason; integers read from
 * strings re-encode to the same item. */
#include <stdlib.h>
#include <string.h>

#include "bridges/evm/rlp.h"
#include "tests/fuzz/fuzz.h"

/* Deeper nesting is walked no further (the decoder itself does not recurse). */
#define MAX_DEPTH 64

static void refused(rl_err err, const rl_why *why)
{
    fuzz_require(err == RL_ERR_DECODE || err == RL_ERR_TRUNCATED || err == RL_ERR_OVERFLOW, "unexpected error code");
    fuzz_require(why->text[0] != '\0', "refused without a reason");
}

/* Re-encodes it into b from its parts; false when nesting is too deep to follow. */
static bool reencode(rlp_buf *b, const rlp_item *it, int depth)
{
    if (!it->list) {
        rlp_put_bytes(b, it->p, it->len);
        rl_why why = {{0}};
        uint64_t v;
        u256 w;
        rl_err err;
        if ((err = rlp_item_u64(it, &v, "u64", &why)) == RL_OK) {
            rlp_buf one;
            rlp_buf_init(&one);
            rlp_put_u64(&one, v);
            fuzz_require(!one.oom && one.len == it->enc_len && memcmp(one.p, it->p - (it->enc_len - it->len),
                                                                     one.len) == 0,
                         "an accepted u64 re-encodes differently");
            rlp_buf_fini(&one);
        } else {
            refused(err, &why);
        }
        if ((err = rlp_item_u256(it, &w, "u256", &why)) != RL_OK)
            refused(err, &why);
        return true;
    }
    if (depth >= MAX_DEPTH)
        return false;
    size_t mark = rlp_list_begin(b);
    rlp_iter i = rlp_iter_of(it);
    while (!rlp_iter_done(&i)) {
        rlp_item child;
        rl_why why = {{0}};
        fuzz_require(rlp_iter_next(&i, &child, "child", &why) == RL_OK, "an accepted list has an undecodable item");
        if (!reencode(b, &child, depth + 1))
            return false;
    }
    rlp_list_end(b, mark);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rlp_item it;
    rl_why why = {{0}};
    rl_err err = rlp_decode(data, size, &it, "input", &why);
    if (err != RL_OK) {
        refused(err, &why);
        return 0;
    }
    fuzz_require(it.enc_len == size, "accepted item does not span the input");
    rlp_buf b;
    rlp_buf_init(&b);
    if (reencode(&b, &it, 0))
        fuzz_require(!b.oom && b.len == size && memcmp(b.p, data, size) == 0,
                     "accepted input does not re-encode to the same bytes");
    rlp_buf_fini(&b);
    return 0;
}
