/*
 * tx.h - EIP-1559 (type 2) transactions: the signing hash, the signed raw bytes that
 * eth_sendRawTransaction takes, the transaction hash, and a strict decoder (tests, fuzzing,
 * recovering the sender of raw bytes).
 *
 *   signing hash = keccak256(0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas,
 *                                         max_fee_per_gas, gas_limit, to, value, data,
 *                                         access_list]))
 *   raw          = 0x02 || rlp([chain_id, nonce, max_priority_fee_per_gas, max_fee_per_gas,
 *                               gas_limit, to, value, data, access_list,
 *                               y_parity, r, s])
 *   tx hash      = keccak256(raw)
 *
 *   field                      RLP item
 *   chain_id, nonce, gas_limit integer (no leading zeros; 0 is the empty string)
 *   fees, value                integer, wei (per gas for the fees)
 *   to                         20-byte string; the empty string creates a contract
 *   data                       string
 *   access_list                list; the relayer sends none, so it is always [] (0xc0) here
 *                              and the decoder refuses a non-empty one
 *   y_parity                   integer 0 or 1 (the signature's recovery id)
 *   r, s                       integers; s in the lower half of the group order (EIP-2)
 */
#ifndef RL_TX_H
#define RL_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/u256.h"

#define TX_TYPE_EIP1559 0x02

typedef struct evm_tx {
    uint64_t chain_id;
    uint64_t nonce;
    u256 max_priority_fee_wei; /* per gas: the tip */
    u256 max_fee_wei;          /* per gas: base fee + tip at most */
    uint64_t gas_limit;
    bool has_to; /* false: contract creation */
    uint8_t to[EVM_ADDR_BYTES];
    u256 value_wei;
    const uint8_t *data; /* borrowed (by tx_decode: points into the raw bytes) */
    size_t data_len;
} evm_tx;

/* What the sender signs. RL_ERR_NOMEM only. */
RL_MUST_USE rl_err tx_signing_hash(const evm_tx *tx, uint8_t out[HASH_BYTES], rl_why *why);

/* The signed raw bytes of tx with sig (r || s || v as attest/keys.h makes it, v 27/28). *raw is
 * malloc'd, the caller frees. RL_ERR_ARG for a v other than 27/28. */
RL_MUST_USE rl_err tx_encode_signed(const evm_tx *tx, const uint8_t sig[EVM_SIG_BYTES], uint8_t **raw, size_t *len,
                                    rl_why *why);

/* Signs tx with key: *raw as tx_encode_signed, hash its transaction hash. */
RL_MUST_USE rl_err tx_sign(const evm_tx *tx, const evm_key *key, uint8_t **raw, size_t *len,
                           uint8_t hash[HASH_BYTES], rl_why *why);

/* keccak256(raw). */
void tx_hash(uint8_t out[HASH_BYTES], const uint8_t *raw, size_t len);

/* Decodes signed raw bytes strictly (the type byte, one canonical RLP list of exactly 12 items,
 * nothing after it, y_parity 0 or 1, an empty access list). out->data points into raw. sig gets
 * r || s || (27 + y_parity). Errors name the field. */
RL_MUST_USE rl_err tx_decode(const uint8_t *raw, size_t len, evm_tx *out, uint8_t sig[EVM_SIG_BYTES], rl_why *why);

/* The sender of signed raw bytes: decoded, then recovered from the signing hash. RL_ERR_SIG when
 * the signature recovers no key (or has a high s). */
RL_MUST_USE rl_err tx_sender(const uint8_t *raw, size_t len, uint8_t addr[EVM_ADDR_BYTES], rl_why *why);

#endif
