/*
 * rlp.h - Ethereum's Recursive Length Prefix encoding (yellow paper, appendix B): the byte form of
 * transactions (tx.h). An encoder that builds into a growing buffer, and a strict decoder that
 * accepts exactly one encoding per value, for the tests and the fuzzers (what a node would refuse
 * as non-canonical is refused here too).
 *
 * An item is a byte string or a list of items. Its encoding:
 *
 *   first byte   what follows                            what it is
 *   0x00..0x7f   nothing                                 the one-byte string of that byte
 *   0x80+n       n bytes (n <= 55)                       a string of n bytes
 *   0xb7+k       k bytes of length L (big-endian), then  a string of L bytes, L >= 56
 *                L bytes
 *   0xc0+n       n bytes of encoded items (n <= 55)      a list
 *   0xf7+k       k bytes of length L, then L bytes       a list, L >= 56
 *
 * Canonical (the decoder refuses anything else): a one-byte string below 0x80 is that byte, not
 * 0x81 b; a length uses the short form when it can (L <= 55); a long-form length has no leading
 * zero byte; k is 1..8. Integers are strings of their big-endian bytes with no leading zero; 0 is
 * the empty string (0x80).
 */
#ifndef RL_RLP_H
#define RL_RLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/u256.h"

#define RLP_SHORT_MAX 55 /* longest payload whose length fits in the first byte */
#define RLP_MAX_DEPTH 256 /* lists nested deeper are refused by rlp_decode */

/* ---- encoder ---- */

/* A growing output buffer. Out of memory is sticky (like an sds or a FILE error flag): every put
 * after a failed allocation does nothing and rlp_buf_take reports RL_ERR_NOMEM once, so encoders
 * check one result instead of one per field. */
typedef struct rlp_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} rlp_buf;

void rlp_buf_init(rlp_buf *b);
/* Frees what the buffer holds (after a take, nothing). */
void rlp_buf_fini(rlp_buf *b);

/* A string of n bytes. */
void rlp_put_bytes(rlp_buf *b, const uint8_t *s, size_t n);
/* Integers: their big-endian bytes without leading zeros (0 is the empty string). */
void rlp_put_u64(rlp_buf *b, uint64_t v);
void rlp_put_u256(rlp_buf *b, const u256 *v);
/* n bytes that are already an RLP encoding (of one or more items), copied as they are. */
void rlp_put_raw(rlp_buf *b, const uint8_t *enc, size_t n);

/* A list: items put between begin and end become its payload; end writes the header in front of
 * them. Lists nest (marks are offsets, so keep each begin's mark for its own end). */
size_t rlp_list_begin(const rlp_buf *b);
void rlp_list_end(rlp_buf *b, size_t mark);

/* Hands the encoding over: *out (malloc'd, the caller frees; never NULL on RL_OK, even for an
 * empty buffer) and *len. The buffer is empty afterwards. RL_ERR_NOMEM if any put ran out of
 * memory (nothing is handed over then). */
RL_MUST_USE rl_err rlp_buf_take(rlp_buf *b, uint8_t **out, size_t *len, rl_why *why);

/* ---- strict decoder ---- */

/* One decoded item: a view into the input, which must outlive it. */
typedef struct rlp_item {
    bool list;        /* a list: p..p+len are its encoded items; else the string's bytes */
    const uint8_t *p; /* payload */
    size_t len;       /* payload length */
    size_t enc_len;   /* header + payload: the bytes the item took in its input */
} rlp_item;

/* Decodes the item at the start of in (len bytes), which may be followed by more items. Refuses
 * with RL_ERR_TRUNCATED (input ends inside the item) or RL_ERR_DECODE (non-canonical), why naming
 * `what` and the offending byte offset within in. */
RL_MUST_USE rl_err rlp_decode_item(const uint8_t *in, size_t len, rlp_item *out, const char *what, rl_why *why);
/* Exactly one item and nothing after it, checked all the way down: every item inside a list is
 * canonical and fits in its list exactly, and lists nest at most RLP_MAX_DEPTH deep. Iterating
 * an item from rlp_decode (rlp_iter_next) then never fails but at the end of a list. */
RL_MUST_USE rl_err rlp_decode(const uint8_t *in, size_t len, rlp_item *out, const char *what, rl_why *why);

/* Walks a list's items in order. */
typedef struct rlp_iter {
    const uint8_t *p;
    size_t left;
    size_t index; /* of the next item */
} rlp_iter;

rlp_iter rlp_iter_of(const rlp_item *list);
static inline bool rlp_iter_done(const rlp_iter *it) { return it->left == 0; }
/* The next item; RL_ERR_TRUNCATED when the list has no more items (or ends inside one). */
RL_MUST_USE rl_err rlp_iter_next(rlp_iter *it, rlp_item *out, const char *what, rl_why *why);

/* Typed readings of a string item; each refuses a list, and integers refuse a leading zero byte
 * (RL_ERR_DECODE) and a value that does not fit (RL_ERR_OVERFLOW). */
RL_MUST_USE rl_err rlp_item_u64(const rlp_item *it, uint64_t *out, const char *what, rl_why *why);
RL_MUST_USE rl_err rlp_item_u256(const rlp_item *it, u256 *out, const char *what, rl_why *why);
/* A string of exactly n bytes (addresses, hashes). */
RL_MUST_USE rl_err rlp_item_fixed(const rlp_item *it, uint8_t *out, size_t n, const char *what, rl_why *why);

#endif
