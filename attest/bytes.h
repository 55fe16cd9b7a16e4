/*
 * bytes.h - big-endian integer load/store for the wire formats, and a bounds-checked reader.
 */
#ifndef RL_BYTES_H
#define RL_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void be16_put(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void be32_put(uint8_t *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline void be64_put(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline uint16_t be16_get(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32_get(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64_get(const uint8_t *p)
{
    return ((uint64_t)be32_get(p) << 32) | be32_get(p + 4);
}

static inline void be128_put(uint8_t *p, unsigned __int128 v)
{
    be64_put(p, (uint64_t)(v >> 64));
    be64_put(p + 8, (uint64_t)v);
}
static inline unsigned __int128 be128_get(const uint8_t *p)
{
    return ((unsigned __int128)be64_get(p) << 64) | be64_get(p + 8);
}

/* A cursor over input that never reads past the end: every take reports whether the bytes were
 * there, so decoders check once per field instead of doing offset arithmetic. */
typedef struct reader {
    const uint8_t *p;
    size_t left;
} reader;

static inline const uint8_t *reader_take(reader *r, size_t n)
{
    if (r->left < n)
        return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}
static inline bool reader_u8(reader *r, uint8_t *v)
{
    const uint8_t *p = reader_take(r, 1);
    return p ? (*v = *p, true) : false;
}
static inline bool reader_u16(reader *r, uint16_t *v)
{
    const uint8_t *p = reader_take(r, 2);
    return p ? (*v = be16_get(p), true) : false;
}
static inline bool reader_u32(reader *r, uint32_t *v)
{
    const uint8_t *p = reader_take(r, 4);
    return p ? (*v = be32_get(p), true) : false;
}
static inline bool reader_u64(reader *r, uint64_t *v)
{
    const uint8_t *p = reader_take(r, 8);
    return p ? (*v = be64_get(p), true) : false;
}
static inline bool reader_copy(reader *r, void *out, size_t n)
{
    const uint8_t *p = reader_take(r, n);
    return p ? (memcpy(out, p, n), true) : false;
}

#endif
