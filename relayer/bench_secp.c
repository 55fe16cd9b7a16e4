/*
 * bench_secp.c - libsecp256k1's own speed on every core, the bound the liquidation bench is
 * measured against (bench.h).
 */
#include <secp256k1.h>
#include <sodium.h>
#include <stdlib.h>

#include "attest/pool.h"
#include "relayer/bench.h"

#define RATE_MEASURE_NS 2000000000ull
#define RATE_JOBS 2048

struct rate_job {
    enum bench_secp_op op;
    const secp256k1_context *ctx;
    const uint8_t *sk;
    const secp256k1_pubkey *pk;
    uint8_t (*digest)[32];
    uint8_t (*sig)[EVM_SIG_BYTES];
    bool bad;
};

static void rate_fn(void *ctx, size_t begin, size_t end)
{
    struct rate_job *j = ctx;
    for (size_t i = begin; i < end; i++) {
        if (j->op == BENCH_SECP_SIGN) {
            j->bad |= evm_sign_digest(j->sig[i], j->digest[i], j->sk) != RL_OK;
        } else if (j->op == BENCH_SECP_VERIFY) {
            secp256k1_ecdsa_signature s;
            j->bad |= !secp256k1_ecdsa_signature_parse_compact(j->ctx, &s, j->sig[i]) ||
                      !secp256k1_ecdsa_verify(j->ctx, &s, j->digest[i], j->pk);
        } else {
            uint8_t addr[EVM_ADDR_BYTES];
            j->bad |= evm_recover(addr, j->digest[i], j->sig[i]) != RL_OK;
        }
    }
}

rl_err bench_secp_rate(pool *p, enum bench_secp_op op, double *rate)
{
    uint8_t sk[32];
    struct rate_job j = {.op = op, .sk = sk, .digest = malloc(RATE_JOBS * 32), .sig = malloc(RATE_JOBS * EVM_SIG_BYTES)};
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    secp256k1_pubkey pk;
    rl_err err = j.digest && j.sig && ctx ? RL_OK : RL_ERR_NOMEM;
    do
        randombytes_buf(sk, sizeof sk);
    while (err == RL_OK && !secp256k1_ec_pubkey_create(ctx, &pk, sk));
    j.ctx = ctx;
    j.pk = &pk;
    if (err == RL_OK) {
        randombytes_buf(j.digest, RATE_JOBS * 32);
        enum bench_secp_op want = j.op;
        j.op = BENCH_SECP_SIGN;
        pool_run(p, rate_fn, &j, RATE_JOBS, 16); /* signatures to check, and a warm-up */
        j.op = want;
        *rate = bench_pool_rate(p, rate_fn, &j, RATE_JOBS, 16, RATE_MEASURE_NS, NULL);
        if (j.bad)
            err = RL_ERR_CRYPTO;
    }
    sodium_memzero(sk, sizeof sk);
    secp256k1_context_destroy(ctx);
    free(j.digest);
    free(j.sig);
    return err;
}


int bench_cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}
