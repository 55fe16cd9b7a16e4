/*
 * eip712.c - EIP-712 domain separator, struct hashes and digests (encoding in eip712.h).
 */
#include "attest/eip712.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"

#define W EIP712_WORD_BYTES

void eip712_word_u256(uint8_t w[W], const u256 *v)
{
    u256_to_be(w, v);
}

void eip712_word_u64(uint8_t w[W], uint64_t v)
{
    memset(w, 0, W - 8);
    be64_put(w + W - 8, v);
}

void eip712_word_address(uint8_t w[W], const uint8_t addr[EVM_ADDR_BYTES])
{
    memset(w, 0, W - EVM_ADDR_BYTES);
    memcpy(w + W - EVM_ADDR_BYTES, addr, EVM_ADDR_BYTES);
}

void eip712_instruction_words(uint8_t out[VAULT_INSTRUCTION_WORDS * W], const vault_instruction *ins)
{
    eip712_word_u64(out, ins->kind);
    eip712_word_address(out + 1 * W, ins->account);
    eip712_word_address(out + 2 * W, ins->asset);
    eip712_word_u256(out + 3 * W, &ins->amount);
    eip712_word_address(out + 4 * W, ins->recipient);
    eip712_word_u256(out + 5 * W, &ins->nonce);
    eip712_word_u256(out + 6 * W, &ins->deadline);
}

static void typehash(uint8_t out[HASH_BYTES], const char *type)
{
    keccak256(out, type, strlen(type));
}

void eip712_domain_separator(uint8_t out[HASH_BYTES], const char *name, const char *version, uint64_t chain_id,
                             const uint8_t contract[EVM_ADDR_BYTES])
{
    uint8_t enc[5 * W];
    typehash(enc, EIP712_DOMAIN_TYPE);
    keccak256(enc + W, name, strlen(name));
    keccak256(enc + 2 * W, version, strlen(version));
    eip712_word_u64(enc + 3 * W, chain_id);
    eip712_word_address(enc + 4 * W, contract);
    keccak256(out, enc, sizeof enc);
}

void eip712_vault_domain(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES])
{
    eip712_domain_separator(out, EIP712_VAULT_NAME, EIP712_VAULT_VERSION, chain_id, vault);
}

void eip712_owner_domain(uint8_t out[HASH_BYTES], const uint8_t cluster[HASH_BYTES])
{
    uint8_t enc[4 * W];
    typehash(enc, EIP712_OWNER_DOMAIN_TYPE);
    keccak256(enc + W, EIP712_OWNER_NAME, strlen(EIP712_OWNER_NAME));
    keccak256(enc + 2 * W, EIP712_OWNER_VERSION, strlen(EIP712_OWNER_VERSION));
    memcpy(enc + 3 * W, cluster, HASH_BYTES); /* bytes32: the word is the value */
    keccak256(out, enc, sizeof enc);
}

void eip712_withdrawal_digest(uint8_t out[HASH_BYTES], const uint8_t cluster[HASH_BYTES], const owner_withdrawal *w)
{
    uint8_t enc[8 * W], domain[HASH_BYTES], sh[HASH_BYTES];
    typehash(enc, EIP712_WITHDRAWAL_TYPE);
    eip712_word_address(enc + 1 * W, w->account);
    eip712_word_u64(enc + 2 * W, w->chain_id);
    eip712_word_address(enc + 3 * W, w->asset);
    eip712_word_u256(enc + 4 * W, &w->amount);
    eip712_word_address(enc + 5 * W, w->recipient);
    eip712_word_u64(enc + 6 * W, w->nonce);
    eip712_word_u64(enc + 7 * W, w->expiry_s);
    keccak256(sh, enc, sizeof enc);
    eip712_owner_domain(domain, cluster);
    eip712_digest(out, domain, sh);
}

void eip712_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES], const uint8_t struct_hash[HASH_BYTES])
{
    uint8_t pre[2 + 2 * HASH_BYTES] = {0x19, 0x01};
    memcpy(pre + 2, domain, HASH_BYTES);
    memcpy(pre + 2 + HASH_BYTES, struct_hash, HASH_BYTES);
    keccak256(out, pre, sizeof pre);
}

void eip712_instruction_hash(uint8_t out[HASH_BYTES], const vault_instruction *ins)
{
    uint8_t enc[(1 + VAULT_INSTRUCTION_WORDS) * W];
    typehash(enc, EIP712_INSTRUCTION_TYPE);
    eip712_instruction_words(enc + W, ins);
    keccak256(out, enc, sizeof enc);
}

/* An array member: the hash of its elements' words, concatenated (the addresses when uints is
 * NULL, else the uints). */
static rl_err array_hash(uint8_t out[HASH_BYTES], const uint8_t (*addrs)[EVM_ADDR_BYTES], const u256 *uints, size_t n)
{
    uint8_t *words = malloc(n ? n * W : 1);
    if (words == NULL)
        return RL_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        if (uints != NULL)
            eip712_word_u256(words + i * W, &uints[i]);
        else
            eip712_word_address(words + i * W, addrs[i]);
    }
    keccak256(out, words, n * W);
    free(words);
    return RL_OK;
}

rl_err eip712_rotate_hash(uint8_t out[HASH_BYTES], const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n,
                          const u256 *threshold, const u256 *version)
{
    uint8_t enc[4 * W];
    typehash(enc, EIP712_ROTATE_TYPE);
    if (array_hash(enc + W, signers, NULL, n) != RL_OK)
        return RL_ERR_NOMEM;
    eip712_word_u256(enc + 2 * W, threshold);
    eip712_word_u256(enc + 3 * W, version);
    keccak256(out, enc, sizeof enc);
    return RL_OK;
}

void eip712_instruction_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                               const vault_instruction *ins)
{
    uint8_t sh[HASH_BYTES];
    eip712_instruction_hash(sh, ins);
    eip712_digest(out, domain, sh);
}

rl_err eip712_rotate_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                            const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n, const u256 *threshold,
                            const u256 *version)
{
    uint8_t sh[HASH_BYTES];
    rl_err err = eip712_rotate_hash(sh, signers, n, threshold, version);
    if (err == RL_OK)
        eip712_digest(out, domain, sh);
    return err;
}

rl_err eip712_limits_hash(uint8_t out[HASH_BYTES], const uint8_t (*assets)[EVM_ADDR_BYTES], const u256 *minimums,
                          size_t n, const u256 *version)
{
    uint8_t enc[4 * W];
    typehash(enc, EIP712_LIMITS_TYPE);
    if (array_hash(enc + W, assets, NULL, n) != RL_OK || array_hash(enc + 2 * W, NULL, minimums, n) != RL_OK)
        return RL_ERR_NOMEM;
    eip712_word_u256(enc + 3 * W, version);
    keccak256(out, enc, sizeof enc);
    return RL_OK;
}

rl_err eip712_limits_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                            const uint8_t (*assets)[EVM_ADDR_BYTES], const u256 *minimums, size_t n,
                            const u256 *version)
{
    uint8_t sh[HASH_BYTES];
    rl_err err = eip712_limits_hash(sh, assets, minimums, n, version);
    if (err == RL_OK)
        eip712_digest(out, domain, sh);
    return err;
}
