/*
 * hashidx.h - an index from 32-byte hashes (event ids, content hashes) to the caller's objects.
 *
 * Open addressing with linear probing over one array of slots, so a lookup that misses (the
 * common case: a new event) touches one or two cache lines instead of walking a chain of
 * separately allocated entries. Slots are placed by a SipHash of the key under a random key of
 * the index's own (libsodium's crypto_shorthash), so keys chosen to collide cannot pile up
 * probes. The index does not own keys or values: a key must stay valid and unchanged while it
 * is indexed (usually it lives inside the value).
 */
#ifndef RL_HASHIDX_H
#define RL_HASHIDX_H

#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"

struct hashidx_slot;
typedef struct hashidx {
    struct hashidx_slot *slots;
    size_t cap, n; /* cap is 0 or a power of two */
    uint8_t seed[16];
} hashidx;

/* An empty index (allocates on first add); hashidx_fini frees its slots, not the values. */
void hashidx_init(hashidx *x);
void hashidx_fini(hashidx *x);

/* The value indexed under key, or NULL. */
void *hashidx_find(const hashidx *x, const uint8_t key[HASH_BYTES]);
/* Indexes value (not NULL) under key, which must not be indexed yet. RL_ERR_NOMEM when the
 * index could not grow (nothing changed). */
RL_MUST_USE rl_err hashidx_add(hashidx *x, const uint8_t key[HASH_BYTES], void *value);
/* Removes key's entry if there is one. */
void hashidx_del(hashidx *x, const uint8_t key[HASH_BYTES]);
size_t hashidx_count(const hashidx *x);

#endif
