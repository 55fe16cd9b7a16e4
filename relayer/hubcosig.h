/*
 * hubcosig.h - the hub's side of co-signing: collecting members' secp256k1 signatures of logged
 * instructions and building each instruction's BUNDLE (bundle.h) once a quorum signed.
 *
 * A signature is taken only when it recovers its member's EVM address (relayer set in force)
 * from the instruction's EIP-712 digest; the caller has checked the message came from that
 * member's connection. A bundle takes `threshold` signatures, lowest signer addresses first, in
 * the vault's order. One handed to the caller is not handed out again before retry_ms (the ledger
 * may refuse it, and the hub logs why); an instruction leaves once its bundle is in the ledger.
 */
#ifndef RL_HUBCOSIG_H
#define RL_HUBCOSIG_H

#include "attest/bundle.h"
#include "db/store.h"

typedef struct hubcosig hubcosig;

RL_MUST_USE rl_err hubcosig_new(hubcosig **out, uint64_t retry_ms);
void hubcosig_free(hubcosig *h);

/* Takes member's signature of the instruction logged at seq. RL_ERR_STATE when seq is not an
 * instruction or is bundled already, RL_ERR_SIG when the signature does not recover the member's
 * address, RL_ERR_SIGNER when member is not in `set`; why says which. */
RL_MUST_USE rl_err hubcosig_offer(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t seq,
                                  uint16_t member, const uint8_t sig[EVM_SIG_BYTES], rl_why *why);

/* The next bundle due under `set` (now_ms: a monotonic clock, for retry_ms): returns true and
 * fills out. Call until false. */
bool hubcosig_due(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t now_ms, bundle *out);

/* Instructions with signatures waiting (for status). */
size_t hubcosig_waiting(const hubcosig *h);

#endif
