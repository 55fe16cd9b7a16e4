/*
 * hash.h - domain-separated BLAKE2b-256 and Ethereum's Keccak-256.
 *
 * Every hash the project signs or chains is BLAKE2b-256 (libsodium) with a 16-byte BLAKE2
 * personalization naming its domain, so an observation digest can never be mistaken for a record
 * hash or a relayer-set digest even over identical bytes. The domains are listed here, in one
 * place, because changing one invalidates every stored signature of that kind.
 *
 * Keccak-256 (the pre-standard SHA-3 padding that Ethereum uses) is built on nettle's Keccak-f
 * permutation; it is used for EVM addresses and, later, ABI selectors and EIP-712 digests.
 */
#ifndef RL_HASH_H
#define RL_HASH_H

#include <stddef.h>
#include <stdint.h>

#define HASH_BYTES 32

/* 16-byte personalizations (BLAKE2b "personal" parameter), NUL-padded. */
#define HASH_DOMAIN_OBS     "rly.obs.v1"      /* content hash of an observation   */
#define HASH_DOMAIN_EVENT   "rly.event.v1"    /* event id                         */
#define HASH_DOMAIN_RECORD  "rly.record.v1"   /* log record hash (the chain link) */
#define HASH_DOMAIN_SET     "rly.set.v1"      /* relayer set digest               */
#define HASH_DOMAIN_FILE    "rly.export.v1"   /* whole exported file digest       */
#define HASH_DOMAIN_LEDGER  "rly.ledger.v1"   /* ledger state digest              */
#define HASH_DOMAIN_DEVSEED "rly.devseed.v1"  /* dev-only deterministic key seeds */
#define HASH_DOMAIN_PRICE   "rly.price.v1"    /* price observation content hash   */
#define HASH_DOMAIN_REQUEST "rly.request.v1"  /* what a venue signs               */
#define HASH_DOMAIN_REQKEY  "rly.reqkey.v1"   /* a venue request's idempotency key */
#define HASH_DOMAIN_DECISION "rly.decision.v1" /* what the calculator signs       */
#define HASH_DOMAIN_DECKEY  "rly.deckey.v1"   /* a decision's idempotency key     */
#define HASH_DOMAIN_RISK    "rly.risk.v1"     /* risk parameters digest           */
#define HASH_DOMAIN_INSID   "rly.insid.v1"    /* an instruction id (vault nonce)  */
#define HASH_DOMAIN_EXPKEY  "rly.expkey.v1"   /* an instruction's expiry, logged once */
#define HASH_DOMAIN_BUNKEY  "rly.bunkey.v1"   /* a bundle's idempotency key     */
#define HASH_DOMAIN_EQVKEY  "rly.eqvkey.v1"   /* an equivocation, logged once per event and member */
#define HASH_DOMAIN_CKPT    "rly.ckpt.v1"     /* what a node signs of a log head (checkpoint.h) */

/* out = BLAKE2b-256(personal = domain, data). */
void hash_domain(uint8_t out[HASH_BYTES], const char *domain, const void *data, size_t len);

/* Incremental form, for hashing streams (exported files, ledger digests). */
typedef struct hash_ctx {
    /* libsodium's state is 64-byte aligned; keep it opaque but sized here. */
    _Alignas(64) unsigned char opaque[384];
} hash_ctx;
void hash_init(hash_ctx *ctx, const char *domain);
void hash_update(hash_ctx *ctx, const void *data, size_t len);
void hash_final(hash_ctx *ctx, uint8_t out[HASH_BYTES]);

/* Ethereum Keccak-256 (padding 0x01 ... 0x80, rate 136 bytes). */
void keccak256(uint8_t out[HASH_BYTES], const void *data, size_t len);

#endif
