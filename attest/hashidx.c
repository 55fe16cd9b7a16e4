/*
 * hashidx.c - linear probing; deletion shifts the entries after a hole back, so no tombstones.
 */
#include "attest/hashidx.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 1024 /* slots on first add */

struct hashidx_slot {
    uint64_t h; /* SipHash of *key: compared before the key, and the slot's home */
    const uint8_t *key;
    void *value; /* NULL: empty */
};

_Static_assert(crypto_shorthash_KEYBYTES == 16, "hashidx.seed holds a SipHash key");
_Static_assert(crypto_shorthash_BYTES == 8, "a SipHash output is one uint64_t");

void hashidx_init(hashidx *x)
{
    memset(x, 0, sizeof *x);
    crypto_shorthash_keygen(x->seed);
}

void hashidx_fini(hashidx *x)
{
    free(x->slots);
    x->slots = NULL;
    x->cap = x->n = 0;
}

static uint64_t slot_hash(const hashidx *x, const uint8_t key[HASH_BYTES])
{
    uint8_t out[8];
    uint64_t h;
    crypto_shorthash(out, key, HASH_BYTES, x->seed);
    memcpy(&h, out, sizeof h);
    return h;
}

/* The slot holding key, or the empty slot where probing for it stops. */
static size_t probe(const hashidx *x, const uint8_t key[HASH_BYTES], uint64_t h)
{
    size_t mask = x->cap - 1, i = (size_t)h & mask;
    while (x->slots[i].value != NULL && (x->slots[i].h != h || memcmp(x->slots[i].key, key, HASH_BYTES) != 0))
        i = (i + 1) & mask;
    return i;
}

void *hashidx_find(const hashidx *x, const uint8_t key[HASH_BYTES])
{
    if (x->n == 0)
        return NULL;
    return x->slots[probe(x, key, slot_hash(x, key))].value;
}

/* Doubles the slot array (at most half full after). */
static rl_err grow(hashidx *x)
{
    size_t cap = x->cap ? x->cap * 2 : FIRST_CAP;
    struct hashidx_slot *old = x->slots, *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return RL_ERR_NOMEM;
    size_t old_cap = x->cap;
    x->slots = slots;
    x->cap = cap;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].value != NULL)
            x->slots[probe(x, old[i].key, old[i].h)] = old[i];
    free(old);
    return RL_OK;
}

rl_err hashidx_add(hashidx *x, const uint8_t key[HASH_BYTES], void *value)
{
    if ((x->n + 1) * 2 > x->cap) {
        rl_err err = grow(x);
        if (err != RL_OK)
            return err;
    }
    uint64_t h = slot_hash(x, key);
    x->slots[probe(x, key, h)] = (struct hashidx_slot){h, key, value};
    x->n++;
    return RL_OK;
}

void hashidx_del(hashidx *x, const uint8_t key[HASH_BYTES])
{
    if (x->n == 0)
        return;
    size_t mask = x->cap - 1, hole = probe(x, key, slot_hash(x, key));
    if (x->slots[hole].value == NULL)
        return;
    /* Move back every later entry of the run whose home is not between the hole and itself
     * (cyclically): probing for it would otherwise stop at the hole. */
    for (size_t j = (hole + 1) & mask; x->slots[j].value != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)x->slots[j].h & mask;
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (!stays) {
            x->slots[hole] = x->slots[j];
            hole = j;
        }
    }
    x->slots[hole].value = NULL;
    x->n--;
}

size_t hashidx_count(const hashidx *x)
{
    return x->n;
}
