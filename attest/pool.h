/*
 * pool.h - a worker pool for pure, parallel work: signature verification and signing.
 *
 * State stays single-threaded (STYLE.md): the pool only runs a function over index ranges of
 * caller-owned arrays, each index touched by exactly one thread. pool_start returns at once so
 * the caller can do its serial work (applying the previous batch) while workers verify the next;
 * pool_wait makes the calling thread help with what is left and returns when all is done.
 * One job at a time per pool.
 */
#ifndef RL_POOL_H
#define RL_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"

typedef struct pool pool;
typedef void (*pool_fn)(void *ctx, size_t begin, size_t end);

/* threads = 0 means one per online core. */
RL_MUST_USE rl_err pool_new(pool **out, unsigned threads);
void pool_free(pool *p);
unsigned pool_threads(const pool *p);

/* Runs fn over [0, n) in chunks of `chunk` indices (0 picks a size). */
void pool_start(pool *p, pool_fn fn, void *ctx, size_t n, size_t chunk);
void pool_wait(pool *p);
/* pool_start + pool_wait. */
void pool_run(pool *p, pool_fn fn, void *ctx, size_t n, size_t chunk);

/* One ed25519 verification: sig over the 32-byte msg by pk. */
typedef struct verify_job {
    uint8_t pk[ED25519_PK_BYTES];
    uint8_t msg[HASH_BYTES];
    uint8_t sig[ED25519_SIG_BYTES];
    uint64_t tag; /* the caller's: which record or message this job belongs to */
    bool ok;
} verify_job;

/* pool_fn over a verify_job array (ctx). */
void verify_jobs_fn(void *ctx, size_t begin, size_t end);

#endif
