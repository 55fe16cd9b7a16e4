/*
 * keys.h - a relayer node's identity: an ed25519 key and a secp256k1 key.
 *
 * The ed25519 key signs observations and log material and, converted to X25519, is the node's
 * CURVE key on the bus, so one key file identifies a node everywhere. The secp256k1 key signs
 * EIP-712 digests for vault instructions; its EVM address is what the vault contract knows.
 *
 * The same secp256k1 signing serves the executor's transaction key (evm_key below), which is an
 * account key only: it has no ed25519 half and no place in the relayer set.
 *
 * Secret halves live in libsodium guarded memory (sodium_malloc: guard pages, mlock, excluded
 * from core dumps where the OS allows) and are wiped by node_key_free. They are never printed.
 * Public halves are plain values (node_pub) that may be copied freely.
 */
#ifndef RL_KEYS_H
#define RL_KEYS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"

#define ED25519_PK_BYTES 32
#define ED25519_SIG_BYTES 64
#define ED25519_SEED_BYTES 32
#define X25519_PK_BYTES 32
#define SECP256K1_SK_BYTES 32
#define EVM_ADDR_BYTES 20
#define EVM_DIGEST_BYTES 32
#define EVM_SIG_BYTES 65 /* r (32) || s (32) || v (1), v = 27 + recovery id */
#define NODE_NAME_MAX 32 /* bytes, excluding NUL; [A-Za-z0-9._-] */

typedef struct node_pub {
    char name[NODE_NAME_MAX + 1];
    uint8_t ed25519[ED25519_PK_BYTES];
    uint8_t x25519[X25519_PK_BYTES]; /* CURVE public key, derived from ed25519 */
    uint8_t evm[EVM_ADDR_BYTES];     /* keccak256(uncompressed secp256k1 pk)[12..32] */
} node_pub;

typedef struct node_key node_key; /* opaque; secrets in guarded memory */

/* Fresh random keys. Caller frees with node_key_free. */
RL_MUST_USE rl_err node_key_generate(node_key **out, const char *name, rl_why *why);
/* Keys from given secret material (32-byte ed25519 seed, 32-byte secp256k1 secret), e.g. read
 * from a key file or derived for the dev simulator. Rejects an invalid secp256k1 scalar. */
RL_MUST_USE rl_err node_key_from_secrets(node_key **out, const char *name,
                                         const uint8_t ed_seed[ED25519_SEED_BYTES],
                                         const uint8_t secp_sk[SECP256K1_SK_BYTES], rl_why *why);
/* Wipes and frees; NULL is a no-op. */
void node_key_free(node_key *k);

const node_pub *node_key_pub(const node_key *k);
/* The secret material, for writing the key file only (points into guarded memory). */
const uint8_t *node_key_ed25519_seed(const node_key *k);
const uint8_t *node_key_secp256k1_secret(const node_key *k);
/* The X25519 secret for CURVE (points into guarded memory). */
const uint8_t *node_key_x25519_secret(const node_key *k);

/* Detached ed25519 signature over msg. */
void node_key_sign(const node_key *k, uint8_t sig[ED25519_SIG_BYTES], const uint8_t *msg, size_t len);

/* Verifies a detached ed25519 signature; true when valid. Thread-safe, no allocation. */
bool ed25519_verify(const uint8_t sig[ED25519_SIG_BYTES], const uint8_t *msg, size_t len,
                    const uint8_t pk[ED25519_PK_BYTES]);

/* EVM address of a secp256k1 secret key (for tests against published vectors). */
RL_MUST_USE rl_err evm_address_of_secret(uint8_t addr[EVM_ADDR_BYTES],
                                         const uint8_t secp_sk[SECP256K1_SK_BYTES]);

/* ---- secp256k1 signatures over 32-byte digests (EIP-712 digests, transaction signing hashes)
 *
 * Recoverable ECDSA with libsecp256k1: the nonce is RFC 6979's (deterministic: the same key and
 * digest always give the same bytes, as any other RFC 6979 signer gives), s is in the lower half
 * of the group order (EIP-2; libsecp256k1 normalises, and the result is checked), and
 * v = 27 + recovery id, the form ecrecover and CollateralVault expect. A transaction's y parity
 * is sig[64] - 27. The digest is signed as is: hashing is the caller's (eip712.h, tx.h). */
RL_MUST_USE rl_err evm_sign_digest(uint8_t sig[EVM_SIG_BYTES], const uint8_t digest[EVM_DIGEST_BYTES],
                                   const uint8_t secp_sk[SECP256K1_SK_BYTES]);
/* The node's secp256k1 key signing a digest (a cosigner's EIP-712 approval). */
RL_MUST_USE rl_err node_key_sign_evm(const node_key *k, uint8_t sig[EVM_SIG_BYTES],
                                     const uint8_t digest[EVM_DIGEST_BYTES]);
/* The address that signed digest, as the vault's ecrecover finds it. Refuses (RL_ERR_SIG) what
 * the vault refuses: v other than 27/28, s in the upper half, r or s zero or not below the group
 * order, and a signature that recovers no key. */
RL_MUST_USE rl_err evm_recover(uint8_t addr[EVM_ADDR_BYTES], const uint8_t digest[EVM_DIGEST_BYTES],
                               const uint8_t sig[EVM_SIG_BYTES]);

/* An EVM account key that signs transactions (the executor's): the secret in guarded memory,
 * wiped by evm_key_free, never printed. */
typedef struct evm_key evm_key;
/* Rejects a secret that is not a valid scalar (zero, or not below the group order). */
RL_MUST_USE rl_err evm_key_from_secret(evm_key **out, const uint8_t secp_sk[SECP256K1_SK_BYTES], rl_why *why);
/* Wipes and frees; NULL is a no-op. */
void evm_key_free(evm_key *k);
const uint8_t *evm_key_address(const evm_key *k); /* EVM_ADDR_BYTES */
RL_MUST_USE rl_err evm_key_sign(const evm_key *k, uint8_t sig[EVM_SIG_BYTES], const uint8_t digest[EVM_DIGEST_BYTES]);

/* "0x" + 40 lowercase hex digits (buf >= 43 bytes). EIP-55 checksum case is written by
 * evm_addr_to_checksum (buf >= 43 bytes). */
char *evm_addr_to_hex(const uint8_t addr[EVM_ADDR_BYTES], char buf[43]);
char *evm_addr_to_checksum(const uint8_t addr[EVM_ADDR_BYTES], char buf[43]);

/* The public-key JSON object, as written to NAME.pub and inside relayers.json members:
 * {"name": "node1", "ed25519": "<64 hex>", "x25519": "<64 hex>", "evm": "0x<40 hex>"}.
 * node_pub_to_json returns a new reference. node_pub_from_json requires name, ed25519 and evm,
 * derives x25519 (and, when present in the object, checks it matches). */
json_t *node_pub_to_json(const node_pub *p);
RL_MUST_USE rl_err node_pub_from_json(node_pub *out, const json_t *obj, rl_why *why);

/* True when name is 1..NODE_NAME_MAX bytes of [A-Za-z0-9._-]. */
bool node_name_valid(const char *name);

#endif
