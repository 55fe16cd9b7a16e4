/* hashidx_test.c - the open-addressing index of 32-byte hashes. */
#include <criterion/criterion.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hashidx.h"

#define KEYS 6000

static uint8_t (*make_keys(void))[32]
{
    uint8_t (*k)[32] = malloc(KEYS * sizeof *k);
    for (size_t i = 0; i < KEYS; i++) {
        uint8_t in[8];
        memcpy(in, &i, sizeof in);
        crypto_generichash(k[i], 32, in, sizeof in, NULL, 0);
    }
    return k;
}

Test(hashidx, finds_every_key_added_and_nothing_else)
{
    cr_assert_geq(sodium_init(), 0);
    uint8_t (*k)[32] = make_keys();
    hashidx x;
    hashidx_init(&x);
    cr_assert_null(hashidx_find(&x, k[0]), "an empty index finds nothing");
    for (size_t i = 0; i < KEYS / 2; i++)
        cr_assert_eq(hashidx_add(&x, k[i], k[i]), RL_OK);
    cr_assert_eq(hashidx_count(&x), KEYS / 2);
    for (size_t i = 0; i < KEYS; i++)
        cr_assert_eq(hashidx_find(&x, k[i]), i < KEYS / 2 ? (void *)k[i] : NULL, "key %zu", i);
    hashidx_fini(&x);
    free(k);
}

/* Random adds and deletes against a plain array of flags: every run of probes stays findable
 * after holes are made anywhere in it, the wrap-around at the end of the slot array included. */
Test(hashidx, deletes_keep_every_other_key_findable)
{
    cr_assert_geq(sodium_init(), 0);
    uint8_t (*k)[32] = make_keys();
    bool *in = calloc(KEYS, sizeof *in);
    size_t n = 0;
    hashidx x;
    hashidx_init(&x);
    for (int round = 0; round < 60000; round++) {
        size_t i = randombytes_uniform(KEYS);
        if (in[i]) {
            hashidx_del(&x, k[i]);
            in[i] = false;
            n--;
        } else {
            cr_assert_eq(hashidx_add(&x, k[i], k[i]), RL_OK);
            in[i] = true;
            n++;
        }
        if (round % 5000 == 0)
            for (size_t j = 0; j < KEYS; j++)
                cr_assert_eq(hashidx_find(&x, k[j]), in[j] ? (void *)k[j] : NULL, "round %d key %zu", round, j);
    }
    cr_assert_eq(hashidx_count(&x), n);
    for (size_t j = 0; j < KEYS; j++)
        cr_assert_eq(hashidx_find(&x, k[j]), in[j] ? (void *)k[j] : NULL, "key %zu", j);
    hashidx_del(&x, k[0]);
    hashidx_del(&x, k[0]); /* deleting what is not there changes nothing */
    cr_assert_null(hashidx_find(&x, k[0]));
    hashidx_fini(&x);
    free(in);
    free(k);
}
