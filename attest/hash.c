/*
 * hash.c - BLAKE2b-256 with BLAKE2 personalization (libsodium) and Keccak-256 on nettle's
 * Keccak-f[1600] permutation.
 */
#include "attest/hash.h"

#include <nettle/sha3.h>
#include <sodium.h>
#include <string.h>

_Static_assert(sizeof(((hash_ctx *)0)->opaque) >= sizeof(crypto_generichash_blake2b_state),
               "hash_ctx must hold libsodium's BLAKE2b state");

static void personal(unsigned char out[crypto_generichash_blake2b_PERSONALBYTES], const char *domain)
{
    memset(out, 0, crypto_generichash_blake2b_PERSONALBYTES);
    size_t n = strlen(domain);
    memcpy(out, domain, n < crypto_generichash_blake2b_PERSONALBYTES ? n : crypto_generichash_blake2b_PERSONALBYTES);
}

void hash_domain(uint8_t out[HASH_BYTES], const char *domain, const void *data, size_t len)
{
    unsigned char p[crypto_generichash_blake2b_PERSONALBYTES];
    personal(p, domain);
    crypto_generichash_blake2b_salt_personal(out, HASH_BYTES, data, len, NULL, 0, NULL, p);
}

void hash_init(hash_ctx *ctx, const char *domain)
{
    unsigned char p[crypto_generichash_blake2b_PERSONALBYTES];
    personal(p, domain);
    crypto_generichash_blake2b_init_salt_personal((crypto_generichash_blake2b_state *)ctx->opaque, NULL, 0,
                                                  HASH_BYTES, NULL, p);
}

void hash_update(hash_ctx *ctx, const void *data, size_t len)
{
    crypto_generichash_blake2b_update((crypto_generichash_blake2b_state *)ctx->opaque, data, len);
}

void hash_final(hash_ctx *ctx, uint8_t out[HASH_BYTES])
{
    crypto_generichash_blake2b_final((crypto_generichash_blake2b_state *)ctx->opaque, out, HASH_BYTES);
}

#define KECCAK256_RATE 136 /* bytes: 1600-bit state minus 2 x 256-bit capacity */

static void absorb_block(struct sha3_state *st, const uint8_t *block)
{
    for (int i = 0; i < KECCAK256_RATE / 8; i++) {
        uint64_t lane = 0;
        for (int j = 7; j >= 0; j--)
            lane = (lane << 8) | block[i * 8 + j]; /* lanes are little-endian */
        st->a[i] ^= lane;
    }
    sha3_permute(st);
}

void keccak256(uint8_t out[HASH_BYTES], const void *data, size_t len)
{
    struct sha3_state st;
    const uint8_t *p = data;
    memset(&st, 0, sizeof st);
    while (len >= KECCAK256_RATE) {
        absorb_block(&st, p);
        p += KECCAK256_RATE;
        len -= KECCAK256_RATE;
    }
    /* Ethereum's Keccak padding is the original 0x01 ... 0x80, not SHA-3's 0x06. */
    uint8_t last[KECCAK256_RATE] = {0};
    memcpy(last, p, len);
    last[len] ^= 0x01;
    last[KECCAK256_RATE - 1] ^= 0x80;
    absorb_block(&st, last);
    for (int i = 0; i < HASH_BYTES / 8; i++)
        for (int j = 0; j < 8; j++)
            out[i * 8 + j] = (uint8_t)(st.a[i] >> (8 * j));
}
