/*
 * abi.c - selectors, words, the vault's calldata and return words (layouts in abi.h).
 */
#include "bridges/evm/abi.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/hash.h"

/* The vault's custom errors, as declared in CollateralVault.sol. */
static const char *const VAULT_ERRORS[] = {
    "ZeroAmount()",
    "ZeroAccount()",
    "ZeroRecipient()",
    "NativeAssetNotAToken()",
    "UnknownKind(uint8)",
    "DeadlinePassed(uint256,uint256)",
    "NonceUsed(uint256)",
    "InsufficientBalance(uint256,uint256)",
    "NativeTransferFailed(address,uint256)",
    "EmptySignerSet()",
    "ZeroSigner()",
    "SignersNotAscending()",
    "BadThreshold(uint256,uint256)",
    "BadVersion(uint256,uint256)",
    "NotEnoughSigners(uint256,uint256)",
    "BadSignatureLength(uint256,uint256)",
    "BadSignatureV(uint256,uint8)",
    "SignatureHighS(uint256)",
    "BadSignature(uint256)",
    "UnknownSigner(address)",
    "AssetNotAllowed(address)",
    "DepositBelowMinimum(address,uint256,uint256)",
    "LimitsLengthMismatch(uint256,uint256)",
    "AssetsNotAscending()",
    "GasTooLow(uint256,uint256)",
    "NothingToClaim(address)",
    "ReentrancyGuardReentrantCall()",
    "SafeERC20FailedOperation(address)",
};

void abi_selector(uint8_t out[ABI_SELECTOR_BYTES], const char *signature)
{
    uint8_t h[HASH_BYTES];
    keccak256(h, signature, strlen(signature));
    memcpy(out, h, ABI_SELECTOR_BYTES);
}

static size_t padded(size_t n)
{
    return (n + ABI_WORD_BYTES - 1) / ABI_WORD_BYTES * ABI_WORD_BYTES;
}

/* Bytes a bytes[] of n signatures takes: count, n offsets, n x (length + padded data). */
static size_t sigs_size(size_t n)
{
    return ABI_WORD_BYTES + n * (2 * ABI_WORD_BYTES + padded(EVM_SIG_BYTES));
}

/* Writes the bytes[] of n signatures at `at`; returns the bytes written (sigs_size(n)). */
static size_t put_sigs(uint8_t *at, const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n)
{
    uint8_t *p = at;
    eip712_word_u64(p, n);
    p += ABI_WORD_BYTES;
    uint8_t *offsets = p, *tail = p + n * ABI_WORD_BYTES;
    size_t elem = ABI_WORD_BYTES + padded(EVM_SIG_BYTES);
    for (size_t i = 0; i < n; i++) {
        eip712_word_u64(offsets + i * ABI_WORD_BYTES, (uint64_t)(tail - offsets) + i * elem);
        uint8_t *e = tail + i * elem;
        eip712_word_u64(e, EVM_SIG_BYTES);
        memset(e + ABI_WORD_BYTES, 0, padded(EVM_SIG_BYTES));
        memcpy(e + ABI_WORD_BYTES, sigs[i], EVM_SIG_BYTES);
    }
    return sigs_size(n);
}

/* A buffer of len bytes for calldata, or RL_ERR_NOMEM naming what. */
static rl_err alloc_calldata(uint8_t **out, size_t len, const char *what, rl_why *why)
{
    *out = malloc(len);
    return *out ? RL_OK : rl_fail(why, RL_ERR_NOMEM, "%s: %zu bytes of calldata", what, len);
}

/* A count that keeps every size computation far from overflow. */
#define ABI_MAX_ITEMS 4096

rl_err abi_execute_calldata(const vault_instruction *ins, const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n,
                            uint8_t **out, size_t *len, rl_why *why)
{
    *len = 0;
    *out = NULL;
    if (n > ABI_MAX_ITEMS)
        return rl_fail(why, RL_ERR_ARG, "execute: %zu signatures, at most %d", n, ABI_MAX_ITEMS);
    size_t head = (VAULT_INSTRUCTION_WORDS + 1) * ABI_WORD_BYTES, total = ABI_SELECTOR_BYTES + head + sigs_size(n);
    rl_err err = alloc_calldata(out, total, "execute", why);
    if (err != RL_OK)
        return err;
    uint8_t *p = *out;
    abi_selector(p, VAULT_EXECUTE_SIG);
    p += ABI_SELECTOR_BYTES;
    eip712_instruction_words(p, ins);
    eip712_word_u64(p + VAULT_INSTRUCTION_WORDS * ABI_WORD_BYTES, head);
    put_sigs(p + head, sigs, n);
    *len = total;
    return RL_OK;
}

rl_err abi_rotate_calldata(const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n_signers, const u256 *threshold,
                           const u256 *version, const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n_sigs, uint8_t **out,
                           size_t *len, rl_why *why)
{
    *len = 0;
    *out = NULL;
    if (n_signers > ABI_MAX_ITEMS || n_sigs > ABI_MAX_ITEMS)
        return rl_fail(why, RL_ERR_ARG, "rotate: %zu signers and %zu signatures, at most %d each", n_signers, n_sigs,
                       ABI_MAX_ITEMS);
    size_t head = 4 * ABI_WORD_BYTES, signers_size = ABI_WORD_BYTES * (1 + n_signers);
    size_t total = ABI_SELECTOR_BYTES + head + signers_size + sigs_size(n_sigs);
    rl_err err = alloc_calldata(out, total, "rotate", why);
    if (err != RL_OK)
        return err;
    uint8_t *p = *out;
    abi_selector(p, VAULT_ROTATE_SIG);
    p += ABI_SELECTOR_BYTES;
    eip712_word_u64(p, head);
    eip712_word_u256(p + ABI_WORD_BYTES, threshold);
    eip712_word_u256(p + 2 * ABI_WORD_BYTES, version);
    eip712_word_u64(p + 3 * ABI_WORD_BYTES, head + signers_size);
    uint8_t *a = p + head;
    eip712_word_u64(a, n_signers);
    for (size_t i = 0; i < n_signers; i++)
        eip712_word_address(a + (1 + i) * ABI_WORD_BYTES, signers[i]);
    put_sigs(a + signers_size, sigs, n_sigs);
    *len = total;
    return RL_OK;
}

/* Word index of data into *w, its first `zeros` bytes required zero (the padding of a narrower
 * type): RL_ERR_TRUNCATED or RL_ERR_DECODE naming what. */
static rl_err word_at(const uint8_t *data, size_t len, size_t index, size_t zeros, const char *type,
                      const uint8_t **w, const char *what, rl_why *why)
{
    if (index >= len / ABI_WORD_BYTES)
        return rl_fail(why, RL_ERR_TRUNCATED, "%s: return data of %zu bytes has no word %zu", what, len, index);
    *w = data + index * ABI_WORD_BYTES;
    for (size_t i = 0; i < zeros; i++)
        if ((*w)[i] != 0)
            return rl_fail(why, RL_ERR_DECODE, "%s: not a canonical %s word (byte %zu is 0x%02x)", what, type, i,
                           (*w)[i]);
    return RL_OK;
}

rl_err abi_read_u256(const uint8_t *data, size_t len, size_t index, u256 *out, const char *what, rl_why *why)
{
    const uint8_t *w = NULL;
    rl_err err = word_at(data, len, index, 0, "uint256", &w, what, why);
    if (err == RL_OK)
        *out = u256_from_be(w);
    return err;
}

rl_err abi_read_u64(const uint8_t *data, size_t len, size_t index, uint64_t *out, const char *what, rl_why *why)
{
    const uint8_t *w = NULL;
    rl_err err = word_at(data, len, index, ABI_WORD_BYTES - 8, "uint64", &w, what, why);
    if (err == RL_ERR_DECODE)
        return rl_fail(why, RL_ERR_OVERFLOW, "%s: value does not fit in 64 bits", what);
    if (err == RL_OK)
        *out = be64_get(w + ABI_WORD_BYTES - 8);
    return err;
}

rl_err abi_read_bool(const uint8_t *data, size_t len, size_t index, bool *out, const char *what, rl_why *why)
{
    const uint8_t *w = NULL;
    rl_err err = word_at(data, len, index, ABI_WORD_BYTES - 1, "bool", &w, what, why);
    if (err == RL_OK && w[ABI_WORD_BYTES - 1] > 1)
        err = rl_fail(why, RL_ERR_DECODE, "%s: not a canonical bool word (value %u)", what, w[ABI_WORD_BYTES - 1]);
    if (err == RL_OK)
        *out = w[ABI_WORD_BYTES - 1] == 1;
    return err;
}

rl_err abi_read_address(const uint8_t *data, size_t len, size_t index, uint8_t out[EVM_ADDR_BYTES], const char *what,
                        rl_why *why)
{
    const uint8_t *w = NULL;
    rl_err err = word_at(data, len, index, ABI_WORD_BYTES - EVM_ADDR_BYTES, "address", &w, what, why);
    if (err == RL_OK)
        memcpy(out, w + ABI_WORD_BYTES - EVM_ADDR_BYTES, EVM_ADDR_BYTES);
    return err;
}

rl_err abi_read_bytes32(const uint8_t *data, size_t len, size_t index, uint8_t out[ABI_WORD_BYTES], const char *what,
                        rl_why *why)
{
    const uint8_t *w = NULL;
    rl_err err = word_at(data, len, index, 0, "bytes32", &w, what, why);
    if (err == RL_OK)
        memcpy(out, w, ABI_WORD_BYTES);
    return err;
}

rl_err abi_revert_selector(const uint8_t *data, size_t len, uint8_t sel[ABI_SELECTOR_BYTES])
{
    if (data == NULL || len < ABI_SELECTOR_BYTES)
        return RL_ERR_NOTFOUND;
    memcpy(sel, data, ABI_SELECTOR_BYTES);
    return RL_OK;
}

const char *abi_vault_error(const uint8_t sel[ABI_SELECTOR_BYTES])
{
    for (size_t i = 0; i < sizeof VAULT_ERRORS / sizeof VAULT_ERRORS[0]; i++) {
        uint8_t s[ABI_SELECTOR_BYTES];
        abi_selector(s, VAULT_ERRORS[i]);
        if (memcmp(s, sel, ABI_SELECTOR_BYTES) == 0)
            return VAULT_ERRORS[i];
    }
    return NULL;
}
