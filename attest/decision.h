/*
 * decision.h - what the margin calculator decided, as the hub logs it.
 *
 * The calculator is a deterministic function of the log: after applying record `basis`, it
 * evaluates the accounts that record touched and decides. It signs each decision with its
 * ed25519 key and sends it to the hub, which logs it once per decision key (a resend after a
 * restart is a no-op). An auditor re-runs the calculator over the records up to `basis` with the
 * risk parameters whose digest the decision names, and must get the same bytes (audit replay).
 *
 * Decision, version 1 (integers big-endian, signed ones two's complement, USD in micro-dollars):
 *
 *   offset  size  field
 *        0     1  version      = 1
 *        1     1  kind         decision_kind below
 *        2     1  reason       withdrawals refused: decision_reason; else 0
 *        3    32  calculator   its ed25519 public key
 *       35     8  basis        sequence number of the record the decision follows
 *       43    20  account
 *       63    32  risk         digest of the risk parameters in force (calc.h)
 *       95    16  equity_u
 *      111    16  im_u
 *      127    16  mm_u
 *      143    32  request      a withdrawal's request key (request.h); zero otherwise
 *      175    16  bad_debt_u   liquidations: what the holdings cannot cover, >= 0; zero otherwise
 *      191     1  n            liquidations: seizes, 0..DECISION_MAX_SEIZE
 *      192        n x (chain_id (8) | asset (20) | amount (32))      base units
 *        +    64  sig          ed25519 over BLAKE2b-256(personal "rly.decision.v1", bytes before)
 *
 * decision key = BLAKE2b-256(personal "rly.deckey.v1", request)      for a withdrawal: one answer
 *                                                                   per request, approve or refuse
 *              = BLAKE2b-256(personal "rly.deckey.v1", basis | kind | account | request)  otherwise
 */
#ifndef RL_DECISION_H
#define RL_DECISION_H

#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"
#include "attest/u256.h"

#define DECISION_VERSION 1
#define DECISION_FIXED_BYTES 192
#define DECISION_SEIZE_BYTES 60
#define DECISION_MAX_SEIZE 64
#define DECISION_MAX_BYTES (DECISION_FIXED_BYTES + DECISION_MAX_SEIZE * DECISION_SEIZE_BYTES + ED25519_SIG_BYTES)

enum decision_kind {
    DECISION_MARGIN_CALL = 1,    /* equity fell below initial margin */
    DECISION_LIQUIDATE = 2,      /* equity fell below maintenance: the seize plan */
    DECISION_HEALTHY = 3,        /* back above initial margin */
    DECISION_WITHDRAW_OK = 4,    /* a withdrawal request approved */
    DECISION_WITHDRAW_REFUSED = 5,
};

enum decision_reason {
    REASON_NONE = 0,
    REASON_UNSAFE = 1,       /* the account would not stay healthy with equity >= IM */
    REASON_FUNDS = 2,        /* more than the free balance of that chain and asset */
    REASON_STALE_PRICE = 3,  /* a price the account depends on is missing or stale */
    REASON_UNKNOWN_ASSET = 4,/* not an asset the risk parameters know on that chain */
    REASON_LIQUIDATING = 5,  /* the account is liquidatable */
    REASON_VENUE_KEY = 6,    /* the request's venue key is not pinned in the relayer set (admit.h A1) */
    REASON_OWNER_SIGNATURE = 7, /* no valid, unexpired, unused signature by the account's owner (A2..A5) */
    REASON_POSITIONS_STALE = 8, /* the venue saw positions the calculator has not applied (admit.h A6) */
    REASON_OWNER_EXPIRY = 9,    /* the owner's expiry leaves the vault too little time (instruction.h I2) */
};
#define REASON_LAST REASON_OWNER_EXPIRY

typedef struct decision_seize {
    uint64_t chain_id;
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;
} decision_seize;

typedef struct decision {
    uint8_t kind, reason;
    uint8_t calculator[ED25519_PK_BYTES];
    uint64_t basis;
    uint8_t account[EVM_ADDR_BYTES];
    uint8_t risk[HASH_BYTES];
    __int128 equity_u, im_u, mm_u, bad_debt_u;
    uint8_t request[HASH_BYTES];
    uint8_t nseize;
    decision_seize seize[DECISION_MAX_SEIZE];
} decision;

/* Encodes d without the signature (what the signature covers, and what replay compares);
 * *len gets the length. */
RL_MUST_USE rl_err decision_encode_body(uint8_t out[DECISION_MAX_BYTES], size_t *len, const decision *d,
                                        rl_why *why);
/* Encodes and signs with k (d->calculator must be k's public key). */
RL_MUST_USE rl_err decision_sign(uint8_t out[DECISION_MAX_BYTES], size_t *len, const decision *d, const node_key *k,
                                 rl_why *why);
RL_MUST_USE rl_err decision_decode(decision *d, const uint8_t *in, size_t len, rl_why *why);
void decision_sig_parts(const uint8_t *in, size_t len, uint8_t msg[HASH_BYTES], const uint8_t **sig);
void decision_key(uint8_t out[HASH_BYTES], const decision *d);
const char *decision_kind_name(uint8_t kind);
const char *decision_reason_name(uint8_t reason);

#endif
