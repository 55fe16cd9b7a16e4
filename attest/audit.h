/*
 * audit.h - checking a log record by record, with nothing but the genesis relayer set.
 *
 * audit_next takes records in order and checks everything that needs no signature arithmetic:
 * the encoding, the sequence number, the link to the previous record's hash, that every signer
 * is a member of the set in force at that record and that attestations carry a quorum, that no
 * event and no vault sequence number is credited twice, that conflicts are consistent, and that
 * relayer-set rotations follow each other, that prices carry a quorum of members, and that each
 * venue request and calculator decision is logged once, and that every instruction carries out
 * a plan of a logged decision (instruction.h) with a rising vault nonce and a deadline ahead.
 * An attested execution (obs.h, executed) is refused for a vault nonce already attested executed,
 * and counted as matched when the instruction logged under its id (instruction_id) is still open
 * with the same account, asset and amount, unmatched otherwise (a nonce no logged instruction
 * names, or one whose instruction differs): the ledger's rule (ledger.h), which accepts both.
 * An attested expiry (obs.h, expired) is checked by the ledger's rule, in its words: refused for a
 * nonce attested executed or expired before, or one no logged instruction names, or when
 * instruction_expiry_check fails; accepted, it closes the instruction (a later Executed of its
 * nonce is unmatched). Expiries have no vault sequence number.
 * A CHECKPOINT record follows checkpoint.h rules C1 and C2: its head is the hash of the record at
 * its seq (the audit keeps every record's hash: 32 bytes a record), its signers a quorum of the
 * set in force, its seq above the previous checkpoint's.
 * The insurance fund and bad debt (fund.h) are derived as the ledger derives them: every matched
 * execution of a seize credits the fund, every decision moves its account's bad debt;
 * audit_fund_summary gives the digest and totals `ledger digest` shows for the same log.
 * An EQUIVOCATION record (ledger.h, E3) must name a member of the set in force, be the first for
 * its (event id, member), and both its signatures (jobs) must verify under that member's key.
 * Balances are audit replay's (through the ledger): how much an unmatched execution could debit. Venue and calculator signatures are
 * checked against the key the record names (which keys the hub admits is its allow-list);
 * whether a decision follows from the log is audit replay's question (calc.h). The signatures themselves come back as verify_jobs
 * (tagged with the record's sequence number) so the caller can verify them on every core; a
 * record is good when audit_next accepted it and all its jobs verified.
 *
 * Venue requests are held to the admission rules (admit.h A1..A5) against the set in force and
 * the record's time: a request by a venue key the set does not pin, or a withdrawal without a
 * valid, unexpired, unused signature by its account's owner, is one the hub should never have
 * logged. audit_next still accepts such a record (replicas must keep following a log that holds
 * one, so that the calculator's logged refusal can follow it) but counts it in requests_refused,
 * keeping the first one's sequence number and why; `relayer audit verify` and `audit replay` then
 * fail naming it. A WITHDRAW_OK decision for such a request is refused outright (no plan, no
 * instruction can follow from it). Rule A6 (a withdrawal bound to its venue's last position
 * request) is followed too, but a withdrawal failing it is no defect of the log (an honest hub may
 * log a withdrawal that raced its venue's position request): it is not counted in requests_refused;
 * only a WITHDRAW_OK decision for it is refused.
 *
 * Pure: no files, no clock; the caller feeds bytes.
 */
#ifndef RL_AUDIT_H
#define RL_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/fund.h"
#include "attest/pool.h"
#include "attest/record.h"
#include "attest/relset.h"

/* Most signature jobs one record can produce (a conflict: two full lists). */
#define AUDIT_MAX_JOBS_PER_RECORD (2 * RELSET_MAX_MEMBERS)

typedef struct audit_summary {
    uint64_t records, attested, conflicts, rotations, accounts, signatures;
    uint64_t prices, requests, decisions, instructions, bundles;
    uint64_t executions, unmatched; /* attested executions; of them, with no matching instruction */
    uint64_t expired;               /* attested expiries (each freed its instruction's reservation) */
    uint64_t checkpoints;           /* CHECKPOINT records (checkpoint.h) */
    uint64_t checkpoint_seq;        /* the seq the latest one witnessed; 0: none */
    uint64_t equivocations;         /* EQUIVOCATION records (evidence, ledger.h E3) */
    uint64_t requests_refused;      /* requests the admission rules refuse (admit.h); the log is bad */
    uint64_t first_refused_seq;     /* the first of them, and why */
    rl_why first_refused_why;
    fund_summary fund;              /* zero from audit_get_summary; audit_fund_summary fills it */
    uint32_t set_version;
    uint64_t head_seq;
    uint8_t head_hash[HASH_BYTES];
} audit_summary;

typedef struct audit audit;

/* The genesis set is the trust anchor: record 1 must install exactly this set. */
RL_MUST_USE rl_err audit_new(audit **out, const relset *genesis);
void audit_free(audit *a);

/* Checks the next record and appends its signature jobs at jobs[*njobs] (room for
 * AUDIT_MAX_JOBS_PER_RECORD). On failure why says what is wrong with the record; the caller
 * names the record (its sequence number is audit_expected_seq). */
RL_MUST_USE rl_err audit_next(audit *a, const uint8_t *enc, size_t len, verify_job *jobs, size_t *njobs,
                              rl_why *why);

/* The sequence number the next record must carry. */
uint64_t audit_expected_seq(const audit *a);
/* The set in force after the records seen so far. */
const relset *audit_set(const audit *a);
/* The hash of record seq, among the records seen so far (false: not seen). */
bool audit_record_hash(const audit *a, uint64_t seq, uint8_t out[HASH_BYTES]);
/* The relayer set of a version, as the records seen so far installed it (NULL: not seen). */
const relset *audit_set_of_version(const audit *a, uint32_t version);
/* The seq of the record that installed a version (0: not seen), and the version in force at seq:
 * the one the latest set record at or before seq installed (0: none yet). One seq per version. */
uint64_t audit_set_since(const audit *a, uint32_t version);
uint32_t audit_version_at(const audit *a, uint64_t seq);
void audit_get_summary(const audit *a, audit_summary *out);
/* The insurance fund and bad debt after the records seen so far (RL_ERR_NOMEM possible). */
RL_MUST_USE rl_err audit_fund_summary(const audit *a, fund_summary *out);

/* Signature jobs of a relayer-set rotation record against the set in force (used by the hub
 * before it logs a rotation, and by audit_next). Fails when the signers are not a quorum of
 * `current` or the version does not follow. */
RL_MUST_USE rl_err audit_rotation_jobs(const relset *current, const payload_set *p, verify_job *jobs,
                                       size_t *njobs, rl_why *why);

#endif
