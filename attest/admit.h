/*
 * admit.h - which logged venue requests count: the rules the calculator (collateral/calc.c, and
 * through it every co-signer and `audit replay --risk`), the auditor (attest/audit.c) and the hub
 * (relayer/cmd_hub.c, before it logs) apply to a REQUEST record, written once here.
 *
 * A compromised hub may log anything: its own venue key's requests, a withdrawal to any address.
 * The log stays a faithful record of what it did; what the request may do is decided by these
 * rules, which take nothing from the hub but the record's time:
 *
 *   A1  The request's venue key is pinned in the relayer set in force at the record (relset.h
 *       venues; a set changes only by a quorum-signed rotation). The hub's allow-list is not
 *       consulted. A position of another key is not applied; a withdrawal is refused.
 *   A2  A withdrawal carries its owner's signature (request version 2; version 1 has none).
 *   A3  That signature (r | s | v, as ecrecover takes it: v 27 or 28, s in the lower half) of the
 *       EIP-712 Withdrawal (eip712.h) of the request's account, chain, asset, amount, recipient,
 *       owner nonce and expiry recovers the request's account.
 *   A4  The record's time is not past the expiry: time_ms <= expiry_s x 1000.
 *   A5  The owner nonce is above the last owner nonce of the account's earlier admitted
 *       withdrawals (0 before the first). A withdrawal admitted (A1..A5), whatever the margin
 *       decision then says, makes its nonce the account's last: a signature is used once, and a
 *       venue cannot replay a captured one in a new request. One number per account.
 *
 * Failing A1 is ADMIT_VENUE_KEY, A2..A5 ADMIT_OWNER; the calculator answers such a withdrawal
 * with DECISION_WITHDRAW_REFUSED (REASON_VENUE_KEY, REASON_OWNER_SIGNATURE) and changes nothing
 * else. Pure: time is the record's.
 */
#ifndef RL_ADMIT_H
#define RL_ADMIT_H

#include <jansson.h>
#include <stdint.h>

#include "attest/eip712.h"
#include "attest/error.h"
#include "attest/relset.h"
#include "attest/request.h"

typedef enum admit_verdict {
    ADMIT_OK = 0,
    ADMIT_VENUE_KEY = 1, /* A1 */
    ADMIT_OWNER = 2,     /* A2..A5 */
} admit_verdict;

/* Rules A1..A5 for request q logged at time_ms under set, with the account's last admitted owner
 * nonce. why (may be NULL) says which rule failed and names the key or address. */
admit_verdict admit_request(const relset *set, const request *q, uint64_t time_ms, uint64_t last_owner_nonce,
                            rl_why *why);

/* The Withdrawal the owner signs for withdrawal request q (its owner nonce and expiry included). */
void admit_owner_withdrawal(owner_withdrawal *out, const request *q);

/* q's Withdrawal as the EIP-712 typed-data JSON a wallet signs (eth_signTypedData_v4, ethers
 * signTypedData, `cast wallet sign-typed-data --data`); integers as decimal strings. New reference. */
json_t *admit_owner_typed_data(const request *q);

/* Signs q's Withdrawal with the owner's secp256k1 secret into q->owner_sig (tests, the CLI's
 * --owner-key and the demo; a wallet does the same with eth_signTypedData_v4). */
RL_MUST_USE rl_err admit_owner_sign(request *q, const uint8_t secp_sk[SECP256K1_SK_BYTES]);

#endif
