/*
 * eip712.h - EIP-712 digests of the vault's instructions, rotations and deposit limits: what a
 * cosigner signs (evm_sign_digest in attest/keys.h) and what CollateralVault recovers signers
 * from.
 *
 *   domainSeparator = keccak256(DOMAIN_TYPEHASH || keccak256(name) || keccak256(version)
 *                               || word(chainId) || word(verifyingContract))
 *     DOMAIN_TYPEHASH = keccak256("EIP712Domain(string name,string version,uint256 chainId,
 *                                  address verifyingContract)")            (one line, no breaks)
 *     the vault's: name "CollateralVault", version "1"
 *
 *   Instruction struct hash = keccak256(INSTRUCTION_TYPEHASH || word(kind) || word(account)
 *       || word(asset) || word(amount) || word(recipient) || word(nonce) || word(deadline))
 *   Rotate struct hash      = keccak256(ROTATE_TYPEHASH || keccak256(word(signer_0) || ...
 *       || word(signer_m-1)) || word(threshold) || word(version))
 *   Limits struct hash      = keccak256(LIMITS_TYPEHASH || keccak256(word(asset_0) || ...)
 *       || keccak256(word(minimum_0) || ...) || word(version))
 *
 *   digest = keccak256(0x19 || 0x01 || domainSeparator || structHash)        (66 bytes hashed)
 *
 * with each TYPEHASH the keccak256 of the type string below, byte for byte, and word() the
 * 32-byte ABI word of the value: big-endian, a uint of fewer bits and an address left-padded
 * with zeros. The same words, in the same order, are the Instruction tuple in execute()'s
 * calldata (bridges/evm/abi.h).
 *
 * An account owner's consent to a withdrawal (attest/admit.h) is EIP-712 too, so any wallet signs it
 * (`cast wallet sign-typed-data`, ethers `signTypedData`, MetaMask `eth_signTypedData_v4`):
 *
 *   domain  EIP712Domain(string name,string version,bytes32 salt) with name "CollateralRelayer",
 *           version "1" and salt the cluster id: relset_digest of the genesis relayer set (version
 *           1, attest/relset.h), the log's trust anchor. No chainId and no verifyingContract: the
 *           message names its chain and no one contract verifies it (the cluster does, before any
 *           vault sees an instruction). The salt binds a signature to one cluster: owner nonces are
 *           per log, so without it a signature given to one deployment (another venue's cluster, a
 *           staging cluster on the same chains) would be valid in every other where the same
 *           address has an account. The vault is not in the message: the cluster's signers are
 *           the vault's (a vault accepts only their instructions), so the salt binds it too, and
 *           the auditor, who has no risk file, could not check a vault address.
 *   Withdrawal(address account,uint64 chainId,address asset,uint256 amount,address recipient,
 *              uint64 nonce,uint64 expiry)                                   (one line, no breaks)
 *     account    the trader (the signer must be this address)
 *     chainId    the chain the funds leave, asset its token (zero address: the native coin)
 *     amount     base units; recipient where the release pays out
 *     nonce      the owner's: above every nonce of that account's earlier withdrawals
 *     expiry     unix seconds; refused in a record stamped later
 *   digest = keccak256(0x19 0x01 || domainSeparator || keccak256(WITHDRAWAL_TYPEHASH || 7 words))
 *
 * Here in attest/ because an EIP-712 digest is what the cluster's secp256k1 signatures cover, as
 * the ed25519 ones cover the rly.* hashes: cosigners sign it, the hub and auditors check it.
 */
#ifndef RL_EIP712_H
#define RL_EIP712_H

#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/u256.h"

#define EIP712_WORD_BYTES 32

/* The vault's Instruction struct (bridges/evm/contracts/CollateralVault.sol). */
#define VAULT_KIND_RELEASE 1 /* pay the trader */
#define VAULT_KIND_SEIZE 2   /* pay the venue's insurance / liquidation address */

typedef struct vault_instruction {
    uint8_t kind;
    uint8_t account[EVM_ADDR_BYTES];
    uint8_t asset[EVM_ADDR_BYTES]; /* all zero: the chain's native coin */
    u256 amount;                   /* the asset's base units */
    uint8_t recipient[EVM_ADDR_BYTES];
    u256 nonce;    /* unique per vault, across kinds */
    u256 deadline; /* unix seconds; the vault refuses it in a block stamped later */
} vault_instruction;

#define VAULT_INSTRUCTION_WORDS 7

/* One ABI word. */
void eip712_word_u256(uint8_t w[EIP712_WORD_BYTES], const u256 *v);
void eip712_word_u64(uint8_t w[EIP712_WORD_BYTES], uint64_t v);
void eip712_word_address(uint8_t w[EIP712_WORD_BYTES], const uint8_t addr[EVM_ADDR_BYTES]);

/* The Instruction as its 7 words, in declaration order: after the type hash, the EIP-712 struct
 * encoding; and the tuple inside execute()'s calldata. */
void eip712_instruction_words(uint8_t out[VAULT_INSTRUCTION_WORDS * EIP712_WORD_BYTES], const vault_instruction *ins);

#define EIP712_DOMAIN_TYPE "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
#define EIP712_INSTRUCTION_TYPE                                                                                        \
    "Instruction(uint8 kind,address account,address asset,uint256 amount,address recipient,uint256 nonce,"             \
    "uint256 deadline)"
#define EIP712_ROTATE_TYPE "Rotate(address[] signers,uint256 threshold,uint256 version)"
#define EIP712_LIMITS_TYPE "Limits(address[] assets,uint256[] minimums,uint256 version)"
#define EIP712_VAULT_NAME "CollateralVault"
#define EIP712_VAULT_VERSION "1"

#define EIP712_OWNER_DOMAIN_TYPE "EIP712Domain(string name,string version,bytes32 salt)"
#define EIP712_OWNER_NAME "CollateralRelayer"
#define EIP712_OWNER_VERSION "1"
#define EIP712_WITHDRAWAL_TYPE                                                                                         \
    "Withdrawal(address account,uint64 chainId,address asset,uint256 amount,address recipient,uint64 nonce,"           \
    "uint64 expiry)"

/* What an account owner signs to withdraw (the Withdrawal type above). */
typedef struct owner_withdrawal {
    uint8_t account[EVM_ADDR_BYTES];
    uint64_t chain_id;
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
    uint8_t recipient[EVM_ADDR_BYTES];
    uint64_t nonce;
    uint64_t expiry_s;
} owner_withdrawal;

/* The domain separator of any EIP712Domain(name, version, chainId, verifyingContract). */
void eip712_domain_separator(uint8_t out[HASH_BYTES], const char *name, const char *version, uint64_t chain_id,
                             const uint8_t contract[EVM_ADDR_BYTES]);
/* The vault's: eip712_domain_separator("CollateralVault", "1", chain_id, vault). */
void eip712_vault_domain(uint8_t out[HASH_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES]);

/* EIP712Domain(name "CollateralRelayer", version "1", salt cluster): the owners' domain in the
 * cluster whose genesis set digest is `cluster`. */
void eip712_owner_domain(uint8_t out[HASH_BYTES], const uint8_t cluster[HASH_BYTES]);
/* The Withdrawal's full digest in that cluster's owners' domain: what the owner's secp256k1 key
 * signs. */
void eip712_withdrawal_digest(uint8_t out[HASH_BYTES], const uint8_t cluster[HASH_BYTES], const owner_withdrawal *w);

/* keccak256(0x19 0x01 || domain || struct_hash). */
void eip712_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES], const uint8_t struct_hash[HASH_BYTES]);

void eip712_instruction_hash(uint8_t out[HASH_BYTES], const vault_instruction *ins);
/* RL_ERR_NOMEM only (the signers' words are hashed from one buffer). */
RL_MUST_USE rl_err eip712_rotate_hash(uint8_t out[HASH_BYTES], const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n,
                                      const u256 *threshold, const u256 *version);

/* The vault's deposit limits (setLimits): assets ascending, minimums[i] for assets[i] in base
 * units (0: not allowed), version = the vault's limitsVersion() + 1. RL_ERR_NOMEM only. */
RL_MUST_USE rl_err eip712_limits_hash(uint8_t out[HASH_BYTES], const uint8_t (*assets)[EVM_ADDR_BYTES],
                                      const u256 *minimums, size_t n, const u256 *version);

/* The full digests, as the vault's instructionDigest(), rotateDigest() and limitsDigest() return
 * them. */
void eip712_instruction_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                               const vault_instruction *ins);
RL_MUST_USE rl_err eip712_rotate_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                                        const uint8_t (*signers)[EVM_ADDR_BYTES], size_t n, const u256 *threshold,
                                        const u256 *version);
RL_MUST_USE rl_err eip712_limits_digest(uint8_t out[HASH_BYTES], const uint8_t domain[HASH_BYTES],
                                        const uint8_t (*assets)[EVM_ADDR_BYTES], const u256 *minimums, size_t n,
                                        const u256 *version);

#endif
