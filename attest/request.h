/*
 * request.h - what a venue asks of the hub: set a position, withdraw collateral.
 *
 * A venue signs each request with its ed25519 key and numbers it (nonce, unique per venue key).
 * The hub logs a request once per (venue key, nonce): a resend is a no-op, a different request
 * under a used nonce is refused. The record carries the venue's key and signature, so an
 * auditor checks the request without trusting the hub. The calculator applies positions and
 * answers withdrawals with a logged decision (decision.h).
 *
 * Request, version 1 (positions, and withdrawals logged before owner signatures, which every
 * checker now refuses) or 2 (withdrawals); integers big-endian, signed ones two's complement:
 *
 *   offset  size  field
 *        0     1  version      1 (position) or 2 (withdraw)
 *        1     1  kind         1 = position, 2 = withdraw
 *        2    32  venue        the venue's ed25519 public key
 *       34     8  nonce        the venue's request number
 *       42    20  account      EVM address of the trader
 *     position (kind 1):
 *       62     1  mode         0 cross, 2 portfolio (the account's margin mode from now on)
 *       63    16  market       name, NUL-padded (price.h names)
 *       79    16  size_e18     signed, |size| <= 10^36 (REQUEST_MAX_E18); 0 closes the position
 *       95    16  entry_e18    average entry price, 0 ..= 10^36
 *      111    64  sig
 *     withdraw (kind 2), version 2:
 *       62     8  chain_id
 *       70    20  asset        token address; zero for the native coin
 *       90    32  amount       uint256, base units, > 0
 *      122    20  recipient    where a release pays out
 *      142     8  owner_nonce  the owner's withdrawal number (attest/admit.h: above every earlier one)
 *      150     8  expiry_s     unix seconds: the owner's signature is void in a record stamped later
 *      158    65  owner_sig    r | s | v: the account's secp256k1 signature of the EIP-712 Withdrawal
 *                              (attest/eip712.h) of the fields above; checked by admit.h, not here
 *      223     8  positions_nonce  the venue nonce of the last position request this venue sent for the
 *                              account, 0 when none: the venue's view the withdrawal is bound to (admit.h
 *                              A6). The venue's statement, so under the venue's signature, not the owner's.
 *      231    64  sig
 *     withdraw (kind 2), version 1 (decoded so that old logs read; no owner signature: refused):
 *       62 .. 142 as above, then 142 64 sig
 *
 * positions_nonce joined version 2 before any version 2 request was deployed (the same release that
 * introduced it), so version 2 has one layout; a 287-byte version 2 request does not decode.
 *
 * sig = ed25519 by `venue` over BLAKE2b-256(personal "rly.request.v1", bytes before sig)
 * request key = BLAKE2b-256(personal "rly.reqkey.v1", venue | nonce)   -- idempotency key
 */
#ifndef RL_REQUEST_H
#define RL_REQUEST_H

#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/price.h"
#include "attest/u256.h"

#define REQUEST_VERSION 1          /* positions */
#define REQUEST_VERSION_OWNER 2    /* withdrawals carrying the owner's signature */
#define REQUEST_POSITION_BYTES 175
#define REQUEST_WITHDRAW_V1_BYTES 206
#define REQUEST_WITHDRAW_BYTES 295
#define REQUEST_MAX_BYTES REQUEST_WITHDRAW_BYTES
/* Bound on |size_e18| and entry_e18: 10^18 units at scale 10^18, so products with prices stay
 * far from the 128-bit limits and negation is always defined. */
#define REQUEST_MAX_E18 ((__int128)1000000000000000000 * 1000000000000000000)

enum request_kind {
    REQUEST_POSITION = 1,
    REQUEST_WITHDRAW = 2,
};

/* Margin modes a request may set (margin.h numbers: 0 cross, 2 portfolio). */
#define REQUEST_MODE_CROSS 0
#define REQUEST_MODE_PORTFOLIO 2

typedef struct request {
    uint8_t version; /* 0 when encoding: the current one for the kind (1 position, 2 withdraw) */
    uint8_t kind;
    uint8_t venue[ED25519_PK_BYTES];
    uint64_t nonce;
    uint8_t account[EVM_ADDR_BYTES];
    /* position */
    uint8_t mode;
    char market[PRICE_FEED_BYTES + 1];
    __int128 size_e18, entry_e18;
    /* withdraw */
    uint64_t chain_id;
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
    uint8_t recipient[EVM_ADDR_BYTES];
    uint64_t owner_nonce, expiry_s;      /* version 2 */
    uint8_t owner_sig[EVM_SIG_BYTES];    /* version 2; all zero in version 1 */
    uint64_t positions_nonce;            /* version 2: the venue's last position nonce for the account (A6) */
} request;

/* Encodes and signs r with the venue key k (r->venue must be k's public key); *len gets the
 * length. */
RL_MUST_USE rl_err request_sign(uint8_t out[REQUEST_MAX_BYTES], size_t *len, const request *r, const node_key *k,
                                rl_why *why);
/* Strict decode of exactly len bytes, signature included but not verified. */
RL_MUST_USE rl_err request_decode(request *r, const uint8_t *in, size_t len, rl_why *why);
/* The signed message hash and where the signature is, for verification (a verify_job). */
void request_sig_parts(const uint8_t *in, size_t len, uint8_t msg[HASH_BYTES], const uint8_t **sig);
void request_key(uint8_t out[HASH_BYTES], const uint8_t venue[ED25519_PK_BYTES], uint64_t nonce);

#endif
