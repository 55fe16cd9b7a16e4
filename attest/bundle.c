/*
 * bundle.c - instructions with their signatures (layout in bundle.h).
 */
#include "attest/bundle.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/hash.h"

rl_err bundle_encode(uint8_t out[BUNDLE_MAX_BYTES], size_t *len, const bundle *b, rl_why *why)
{
    if (b->n == 0 || b->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_ARG, "bundle: %u signatures, expected 1..%d", b->n, RELSET_MAX_MEMBERS);
    out[0] = BUNDLE_VERSION;
    be64_put(out + 1, b->instruction);
    out[9] = b->n;
    uint8_t *p = out + BUNDLE_FIXED_BYTES;
    for (unsigned i = 0; i < b->n; i++, p += BUNDLE_SIG_BYTES) {
        be16_put(p, b->e[i].member);
        memcpy(p + 2, b->e[i].sig, EVM_SIG_BYTES);
    }
    *len = (size_t)(p - out);
    return RL_OK;
}

rl_err bundle_decode(bundle *b, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < BUNDLE_FIXED_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "bundle: %zu bytes is too short", len);
    if (in[0] != BUNDLE_VERSION)
        return rl_fail(why, RL_ERR_DECODE, "bundle: unknown version %u", in[0]);
    b->instruction = be64_get(in + 1);
    b->n = in[9];
    if (b->n == 0 || b->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_DECODE, "bundle: %u signatures, expected 1..%d", b->n, RELSET_MAX_MEMBERS);
    if (len != BUNDLE_FIXED_BYTES + (size_t)b->n * BUNDLE_SIG_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "bundle: %zu bytes for %u signatures", len, b->n);
    const uint8_t *p = in + BUNDLE_FIXED_BYTES;
    for (unsigned i = 0; i < b->n; i++, p += BUNDLE_SIG_BYTES) {
        b->e[i].member = be16_get(p);
        memcpy(b->e[i].sig, p + 2, EVM_SIG_BYTES);
    }
    return RL_OK;
}

void bundle_key(uint8_t out[HASH_BYTES], uint64_t instruction_seq)
{
    uint8_t b[8];
    be64_put(b, instruction_seq);
    hash_domain(out, HASH_DOMAIN_BUNKEY, b, sizeof b);
}

rl_err bundle_check_signers(const bundle *b, const relset *set, rl_why *why)
{
    if (b->n < set->threshold)
        return rl_fail(why, RL_ERR_QUORUM, "bundle of instruction %llu has %u signatures, threshold is %u",
                       (unsigned long long)b->instruction, b->n, set->threshold);
    const relset_member *prev = NULL;
    for (unsigned i = 0; i < b->n; i++) {
        const relset_member *m = relset_find(set, b->e[i].member);
        if (m == NULL)
            return rl_fail(why, RL_ERR_SIGNER, "bundle of instruction %llu: signer %u is not in relayer set version %u",
                           (unsigned long long)b->instruction, b->e[i].member, set->version);
        if (prev != NULL && memcmp(prev->pub.evm, m->pub.evm, EVM_ADDR_BYTES) >= 0)
            return rl_fail(why, RL_ERR_STATE,
                           "bundle of instruction %llu: signers not in strictly ascending address order at %u",
                           (unsigned long long)b->instruction, i);
        prev = m;
    }
    return RL_OK;
}

rl_err bundle_verify(const bundle *b, const relset *set, const uint8_t digest[HASH_BYTES], rl_why *why)
{
    rl_err err = bundle_check_signers(b, set, why);
    for (unsigned i = 0; i < b->n && err == RL_OK; i++) {
        uint8_t addr[EVM_ADDR_BYTES];
        const relset_member *m = relset_find(set, b->e[i].member);
        if (evm_recover(addr, digest, b->e[i].sig) != RL_OK || memcmp(addr, m->pub.evm, EVM_ADDR_BYTES) != 0)
            err = rl_fail(why, RL_ERR_SIG, "bundle of instruction %llu: the signature of member %u does not verify",
                          (unsigned long long)b->instruction, b->e[i].member);
    }
    return err;
}

static int by_address(const void *x, const void *y, void *ctx)
{
    const relset *set = ctx;
    const relset_member *a = relset_find(set, ((const bundle_sig *)x)->member);
    const relset_member *b = relset_find(set, ((const bundle_sig *)y)->member);
    if (a == NULL || b == NULL)
        return (a == NULL) - (b == NULL);
    return memcmp(a->pub.evm, b->pub.evm, EVM_ADDR_BYTES);
}

void bundle_sort(bundle *b, const relset *set)
{
    qsort_r(b->e, b->n, sizeof b->e[0], by_address, (void *)set);
}
