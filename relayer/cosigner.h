/*
 * cosigner.h - a co-signer's judgement: which logged instructions this node signs.
 *
 * Fed every record of the log in order (from seq 1, each one its audited replica applied), it
 * runs the margin calculator with the node's own risk file over them, as `audit replay --risk`
 * does (calc_replay): a logged DECISION counts as agreed only if this node's calculator reached
 * the same bytes at the same record. An INSTRUCTION (which the replica's ledger has matched to
 * its decision's plan and reserved: instruction_check, so a release's deadline is not past its
 * owner's expiry, instruction.h I1) is to be signed only if
 *
 *   - its decision is one this node agreed to,
 *   - the vault is the one this node's risk file names for that chain, and a seize pays that
 *     chain's insurance address,
 *   - the deadline is after the record's time and at most the chain's deadline_s (+ a minute of
 *     clock slack) after it, and no later than that after this node's own clock (the hub stamps
 *     record times: a hub clock far ahead cannot stretch a deadline);
 *
 * otherwise it is refused, with the reason. Signing itself is the caller's: the daemon signs
 * at once (relayer cosign), the liquidation bench on worker threads. Nothing here reads a clock
 * or prints: the node's wall clock is an argument.
 */
#ifndef RL_COSIGNER_H
#define RL_COSIGNER_H

#include "attest/instruction.h"
#include "collateral/spec.h"

#define COSIGNER_DEADLINE_SLACK_S 60 /* the hub's clock may run ahead of the record's time this much */

typedef struct cosigner cosigner;

/* What one record asks of the node. */
typedef enum cosigner_verdict {
    COSIGNER_NOTHING = 0,
    COSIGNER_SIGN,           /* in and digest: sign the digest */
    COSIGNER_REFUSE,         /* an instruction this node does not sign; why says why */
    COSIGNER_NOT_REPRODUCED, /* a decision this node's calculator did not reach; why says how */
    COSIGNER_BUNDLED,        /* the instruction logged at `bundled` has its bundle: stop resending */
} cosigner_verdict;

typedef struct cosigner_step {
    cosigner_verdict verdict;
    instruction in;              /* COSIGNER_SIGN, COSIGNER_REFUSE */
    uint8_t digest[HASH_BYTES];  /* COSIGNER_SIGN: the instruction's EIP-712 digest */
    uint64_t bundled;            /* COSIGNER_BUNDLED */
    char why[256];               /* COSIGNER_REFUSE, COSIGNER_NOT_REPRODUCED */
} cosigner_step;

/* risk must outlive c. */
RL_MUST_USE rl_err cosigner_new(cosigner **out, const mg_risk *risk);
void cosigner_free(cosigner *c);

/* Takes the record at seq (the next one) with the node's wall clock now_ms (unix). Fails only
 * when the calculator cannot go on (a record out of order, out of memory). */
RL_MUST_USE rl_err cosigner_next(cosigner *c, const uint8_t *rec, size_t len, uint64_t seq, uint64_t now_ms,
                                 cosigner_step *out, rl_why *why);

#endif
