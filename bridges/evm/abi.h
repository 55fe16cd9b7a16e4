/*
 * abi.h - the Solidity ABI as the relayer needs it: function selectors, 32-byte words, the
 * calldata of CollateralVault.execute and .rotate, strict reading of return words, and the
 * vault's custom errors by selector (what a revert says).
 *
 * Words are 32 bytes, big-endian. A uint of fewer bits and an address are left-padded with
 * zeros; a reader refuses a word whose padding is not zero (the contract never returns one).
 * A selector is the first 4 bytes of keccak256 of the canonical signature (no spaces, tuples as
 * their component types in parentheses).
 *
 * execute((uint8,address,address,uint256,address,uint256,uint256),bytes[]) calldata:
 *
 *   offset      size  field
 *        0         4  selector 0x3faf73e6
 *        4    7 x 32  the Instruction, inline (a tuple of static types is static):
 *                     kind, account, asset, amount, recipient, nonce, deadline
 *      228        32  offset of signatures = 0x100 (from byte 4, the start of the arguments)
 *      260        32  n, the number of signatures
 *      292    n x 32  offset of signature i, from byte 292 (the start of the offsets)
 *        n x 128      each signature: a length word (65), then r || s || v padded to 96 bytes
 *
 * rotate(address[],uint256,uint256,bytes[]) calldata:
 *
 *        0         4  selector
 *        4        32  offset of signers = 0x80
 *       36        32  threshold
 *       68        32  version
 *      100        32  offset of signatures = 0x80 + 32 + 32 m
 *      132        32  m, the number of signers; then m address words
 *                     then the signatures as in execute
 *
 * Offsets count from the start of the enclosing head (the arguments after the selector, or the
 * first element offset of an array), as the ABI specification defines.
 */
#ifndef RL_ABI_H
#define RL_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/keys.h"
#include "attest/eip712.h"
#include "attest/u256.h"

#define ABI_WORD_BYTES EIP712_WORD_BYTES
#define ABI_SELECTOR_BYTES 4

#define VAULT_EXECUTE_SIG "execute((uint8,address,address,uint256,address,uint256,uint256),bytes[])"
#define VAULT_ROTATE_SIG "rotate(address[],uint256,uint256,bytes[])"

/* keccak256(signature)[0..4]. */
void abi_selector(uint8_t out[ABI_SELECTOR_BYTES], const char *signature);

/* Calldata of execute(ins, sigs): sigs are n signatures of EVM_SIG_BYTES, in the order the vault
 * wants (signers ascending; the caller's to sort). *out is malloc'd, the caller frees. */
RL_MUST_USE rl_err abi_execute_calldata(const vault_instruction *ins, const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n,
                                        uint8_t **out, size_t *len, rl_why *why);

/* Calldata of rotate(signers, threshold, version, sigs). */
RL_MUST_USE rl_err abi_rotate_calldata(const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n_signers,
                                       const u256 *threshold, const u256 *version,
                                       const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n_sigs, uint8_t **out,
                                       size_t *len, rl_why *why);

/* Word `index` of return data (len bytes), read strictly: RL_ERR_TRUNCATED when the data has no
 * such word, RL_ERR_DECODE when the padding is not zero (or a bool is neither 0 nor 1),
 * RL_ERR_OVERFLOW when a u64 reading does not fit. `what` names the value in why. */
RL_MUST_USE rl_err abi_read_u256(const uint8_t *data, size_t len, size_t index, u256 *out, const char *what,
                                 rl_why *why);
RL_MUST_USE rl_err abi_read_u64(const uint8_t *data, size_t len, size_t index, uint64_t *out, const char *what,
                                rl_why *why);
RL_MUST_USE rl_err abi_read_bool(const uint8_t *data, size_t len, size_t index, bool *out, const char *what,
                                 rl_why *why);
RL_MUST_USE rl_err abi_read_address(const uint8_t *data, size_t len, size_t index, uint8_t out[EVM_ADDR_BYTES],
                                    const char *what, rl_why *why);
RL_MUST_USE rl_err abi_read_bytes32(const uint8_t *data, size_t len, size_t index, uint8_t out[ABI_WORD_BYTES],
                                    const char *what, rl_why *why);

/* The custom error a revert carries: its selector (the first 4 bytes of the revert data).
 * RL_ERR_NOTFOUND when the revert has no data (a bare revert, running out of gas). */
RL_MUST_USE rl_err abi_revert_selector(const uint8_t *data, size_t len, uint8_t sel[ABI_SELECTOR_BYTES]);

/* The vault's custom error with this selector, as its signature ("DeadlinePassed(uint256,
 * uint256)"), or NULL for a selector the vault does not define. Thread-safe. */
const char *abi_vault_error(const uint8_t sel[ABI_SELECTOR_BYTES]);

#endif
