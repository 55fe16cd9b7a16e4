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
 *       owner nonce and expiry, in this cluster's owners' domain (salt: the cluster id, the digest
 *       of the genesis relayer set), recovers the request's account. A signature made for another
 *       cluster recovers another address and is refused.
 *   A4  The record's time is not past the expiry: time_ms <= expiry_s x 1000.
 *   A5  The owner nonce is above the last owner nonce of the account's earlier admitted
 *       withdrawals (0 before the first). A withdrawal admitted (A1..A5), whatever the margin
 *       decision then says, makes its nonce the account's last: a signature is used once, and a
 *       venue cannot replay a captured one in a new request. One number per account.
 *
 * Failing A1 is ADMIT_VENUE_KEY, A2..A5 ADMIT_OWNER; the calculator answers such a withdrawal
 * with DECISION_WITHDRAW_REFUSED (REASON_VENUE_KEY, REASON_OWNER_SIGNATURE) and changes nothing
 * else. The hub, the calculator and the auditor apply A1..A5: a request failing them is one the hub
 * should never have logged (audit.h counts it; `audit verify` fails).
 *
 * A6 binds a withdrawal admitted by A1..A5 to the venue's view of its account. A compromised hub may
 * drop or reorder submissions: it could hold back (or log late) a venue's position request and log
 * the owner's withdrawal first, and every co-signer would approve against an account without that
 * position. So a withdrawal names positions_nonce, the venue nonce of the last position request
 * its venue sent for the account (request.h, 0 for none), and
 *
 *   A6  the last position request applied for the account (one admitted by A1, in log order) is
 *       exactly that one: by the withdrawal's venue key, with venue nonce positions_nonce; or, when
 *       none was applied, positions_nonce is 0. An account's positions are thus bound to the venue
 *       key that last set one: a withdrawal through another pinned venue is refused while that
 *       holds (one venue per account is the supported arrangement; venue nonces are per key).
 *       After a rotation replaces that venue key, the new key restates the account's position (any
 *       position request it sends) before the account can withdraw through it.
 *
 * Failing A6 is ADMIT_POSITIONS: the calculator refuses the withdrawal with REASON_POSITIONS_STALE
 * and changes nothing else, but the owner nonce is used all the same (A5: admitted by A1..A5, so
 * used, whatever the decision; the owner signs anew). Unlike A1..A5 this is no log defect: an
 * honest hub may log a withdrawal that raced its venue's position request, so the auditor does not
 * count it as a bad record; it only refuses an approval of such a withdrawal (audit.h). The hub
 * does not check A6 (it keeps no per-account state); the calculator, and through it every
 * co-signer and `audit replay --risk`, does.
 *
 * What A6 does not see: a position request held back while a later one by the same venue for the
 * same account is logged (the last nonce then matches). The venue numbers its requests; it should
 * send an account's next position request only once the previous one shows in `margin query`
 * (positions_nonce there), which is also how it learns the nonce to put in a withdrawal.
 *
 * Pure: time is the record's.
 */
#ifndef RL_ADMIT_H
#define RL_ADMIT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/eip712.h"
#include "attest/error.h"
#include "attest/relset.h"
#include "attest/request.h"

typedef enum admit_verdict {
    ADMIT_OK = 0,
    ADMIT_VENUE_KEY = 1, /* A1 */
    ADMIT_OWNER = 2,     /* A2..A5 */
    ADMIT_POSITIONS = 3, /* A6 */
} admit_verdict;

/* The last position request applied for an account (A6): its venue key and venue nonce. */
typedef struct admit_positions {
    bool any; /* false: none applied yet */
    uint8_t venue[ED25519_PK_BYTES];
    uint64_t nonce;
} admit_positions;

/* Rules A1..A5 for request q logged at time_ms under set (the one in force), in the cluster whose
 * id is `cluster` (relset_digest of its genesis set, the owners' EIP-712 salt), with the account's
 * last admitted owner nonce. why (may be NULL) says which rule failed and names the key or address. */
admit_verdict admit_request(const relset *set, const uint8_t cluster[HASH_BYTES], const request *q, uint64_t time_ms,
                            uint64_t last_owner_nonce, rl_why *why);

/* Rule A6 for withdrawal q, admitted by A1..A5, against its account's last applied position request
 * (p). why (may be NULL) says what the venue saw and what was applied. */
admit_verdict admit_request_positions(const request *q, const admit_positions *p, rl_why *why);

/* Position request q, admitted by A1, is now its account's last applied one (p). */
void admit_positions_apply(admit_positions *p, const request *q);

/* The Withdrawal the owner signs for withdrawal request q (its owner nonce and expiry included). */
void admit_owner_withdrawal(owner_withdrawal *out, const request *q);

/* q's Withdrawal in cluster `cluster`'s owners' domain as the EIP-712 typed-data JSON a wallet
 * signs (eth_signTypedData_v4, ethers signTypedData, `cast wallet sign-typed-data --data`);
 * integers as decimal strings, the salt as 0x and 64 hex digits. New reference. */
json_t *admit_owner_typed_data(const request *q, const uint8_t cluster[HASH_BYTES]);

/* Signs q's Withdrawal for cluster `cluster` with the owner's secp256k1 secret into q->owner_sig
 * (tests, the CLI's --owner-key and the demo; a wallet does the same with eth_signTypedData_v4). */
RL_MUST_USE rl_err admit_owner_sign(request *q, const uint8_t cluster[HASH_BYTES],
                                    const uint8_t secp_sk[SECP256K1_SK_BYTES]);

/* The cluster id: relset_digest of the genesis set. RL_ERR_NOMEM only (as relset_digest). */
RL_MUST_USE rl_err admit_cluster_id(uint8_t out[HASH_BYTES], const relset *genesis);

#endif
