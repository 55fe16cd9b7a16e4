/*
 * hubcosig.h - the hub's side of co-signing: collecting members' secp256k1 signatures of logged
 * instructions and building each instruction's BUNDLE (bundle.h) once a quorum signed.
 *
 * A signature is taken only when it recovers its member's EVM address (relayer set in force)
 * from the instruction's EIP-712 digest; the caller has checked the message came from that
 * member's connection. A bundle takes `threshold` signatures, lowest signer addresses first, in
 * the vault's order. One handed to the caller is not handed out again before retry_ms (the ledger
 * may refuse it, and the hub logs why); an instruction leaves once its bundle is in the ledger,
 * or an hour past its deadline (hubcosig_short_scan).
 */
#ifndef RL_HUBCOSIG_H
#define RL_HUBCOSIG_H

#include "attest/bundle.h"
#include "attest/pool.h"
#include "db/store.h"

typedef struct hubcosig hubcosig;

RL_MUST_USE rl_err hubcosig_new(hubcosig **out, uint64_t retry_ms);
void hubcosig_free(hubcosig *h);

/* Whether sig of digest recovers addr (pure, thread-safe). */
bool hubcosig_check(const uint8_t digest[HASH_BYTES], const uint8_t sig[EVM_SIG_BYTES],
                    const uint8_t addr[EVM_ADDR_BYTES]);

/* Signatures received together (a batch off the sockets). result: RL_OK taken (or a resend of
 * one taken), RL_ERR_DUPLICATE not needed (the instruction has its threshold of checked
 * signatures: this one is neither checked nor kept; its member resends it until the bundle is
 * logged), RL_ERR_STATE when seq is not an instruction or is bundled already, RL_ERR_SIG when the
 * signature does not recover the member's address, RL_ERR_SIGNER when member is not in `set`.
 * After a rotation a signature by a member's old key counts for nothing: a new one replaces it. */
typedef struct hubcosig_sig {
    uint64_t seq; /* of the INSTRUCTION */
    uint16_t member;
    uint8_t sig[EVM_SIG_BYTES];
    rl_err result;
} hubcosig_sig;

/* Takes n signatures: each instruction's digest is looked up here, then only as many of its
 * signatures as its bundle still needs are checked, on p's threads (p NULL: on this one), and
 * taken without a second check; a failed one lets another be checked. Fails only for memory. */
RL_MUST_USE rl_err hubcosig_offer_many(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, pool *p,
                                       hubcosig_sig *sigs, size_t n);

/* The next bundle due under `set` (now_ms: a monotonic clock, for retry_ms): returns true and
 * fills out. Call until false: the calls make one pass over the waiting instructions. */
bool hubcosig_due(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t now_ms, bundle *out);

/* Co-signatures short of the threshold. Nodes resend theirs until the bundle is logged; an
 * instruction still short after alert_ms is alerted, then again after twice as long each time
 * (at most HUBCOSIG_ALERT_MAX_GAP_MS apart) while its deadline has not passed by the hub's clock.
 * The clock runs from hubcosig_watch (the hub logged it; after a restart, the hub watches every
 * open instruction again: ledger_open_instructions). HUBCOSIG_DROP_AFTER_S past its deadline no
 * vault takes it: it is forgotten here (its expiry frees or re-issues it). */
#define HUBCOSIG_ALERT_MAX_GAP_MS 3600000
#define HUBCOSIG_DROP_AFTER_S 3600

/* Waits for co-signatures of the instruction logged at seq from now_ms on; one bundled already
 * needs none (RL_OK, nothing kept). RL_ERR_STATE: seq is not an instruction. */
RL_MUST_USE rl_err hubcosig_watch(hubcosig *h, MDB_txn *txn, const store *s, uint64_t seq, uint64_t now_ms,
                                  rl_why *why);

typedef struct hubcosig_short {
    uint64_t seq;                             /* of the INSTRUCTION */
    uint64_t waited_ms;
    unsigned have, need;                      /* signatures by keys in force; the threshold */
    uint16_t signed_by[RELSET_MAX_MEMBERS];   /* members, first `have` */
    unsigned alert;                           /* 1 for its first alert, then 2, ... */
} hubcosig_short;
typedef void (*hubcosig_short_fn)(void *ctx, const hubcosig_short *s);

/* Calls fn for each instruction whose alert is due (now_ms monotonic, now_s unix seconds);
 * returns how many are short of the threshold past alert_ms (for status). */
size_t hubcosig_short_scan(hubcosig *h, const relset *set, uint64_t now_ms, uint64_t now_s, uint64_t alert_ms,
                           hubcosig_short_fn fn, void *ctx);

/* Logged instructions not bundled yet that this hub knows of: watched, or signed, or bundled
 * and not yet looked up again (hubcosig_due's retry). */
size_t hubcosig_waiting(const hubcosig *h);
/* Of them, those whose bundle was never handed out: still waiting for co-signatures (status). */
size_t hubcosig_unsigned(const hubcosig *h);

#endif
