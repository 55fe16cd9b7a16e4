/*
 * ledger.h - applying log records to the unified ledger, and reading it.
 *
 * ledger_append is the one path by which anything enters the log: the hub calls it for records
 * it builds, `audit replay` for records read from an exported file. It checks the record links
 * to the head (sequence and previous hash), checks the record is consistent with the ledger
 * (an event or vault sequence number credited once, a rotation to the next version), and only
 * then writes the record and its effects, all in the caller's write transaction. A record that
 * fails a check writes nothing, so the caller may skip it and carry on in the same transaction.
 * An attestation of an event already settled is refused with RL_ERR_DUPLICATE; one claiming a
 * vault sequence number another event holds, with RL_ERR_CONFLICT (the hub logs a conflict).
 * A venue request or calculator decision whose key is logged already is refused with
 * RL_ERR_DUPLICATE; a price record with fewer observations than the threshold, with
 * RL_ERR_QUORUM. A decision that moves funds files its instruction plans; an INSTRUCTION is
 * accepted only as one of them (instruction_check), removes it, and reserves its amount
 * (RL_ERR_FUNDS when the free balance is short).
 *
 * Attestations, by observation kind (obs.h). Every kind claims its event id exactly once, and
 * every vault event (all kinds but expired) its vault sequence number too, as above, and marks
 * the vault's sequence; then:
 *   deposit   credits amount to (account, chain, asset).
 *   rotated   nothing more (the vault's signer set is the chain's business; the record keeps it).
 *   executed  finalises the instruction the vault ran. id = instruction_id(chain, vault, nonce).
 *     1. A nonce the ledger saw executed before (an `executions` entry under id) is refused with
 *        RL_ERR_STATE: the vault runs each nonce once, so a second Executed is not this vault's.
 *     2. Matched: a reservation under id for the same account, asset and amount is settled
 *        (balance and reserved both fall by amount): the instruction is final. A seize's amount
 *        is credited to the insurance fund's holding of (chain, asset) in the same transaction
 *        (ledger_fund.h): the vault sent it to the insurance address.
 *     3. Unmatched, otherwise (no reservation under id, or one for another account, asset or
 *        amount): the chain moved funds the ledger did not set aside. A reservation under id is
 *        released first (its nonce is spent on chain: that instruction can never execute); then
 *        debit = min(amount, balance - reserved) of (account, chain, asset) after the release,
 *        so funds reserved for instructions that may still execute are never taken and no
 *        balance goes below zero; shortfall = amount - debit is what the ledger could not
 *        cover. Both are filed in `executions` and counted (ledger_stats.unmatched,
 *        .shortfalls) for status and the operator: an unmatched execution is an incident.
 *     Kind and recipient are not compared: the observation has no recipient, and both are bound
 *     by the cluster's signatures over the instruction's EIP-712 digest.
 *   expired   frees the reservation of an instruction that can never execute (DESIGN.md,
 *     invariant 5). id = instruction_id(chain, vault, nonce). Refused with RL_ERR_STATE, in this
 *     order: a nonce attested executed ("already executed"); an instruction already expired
 *     (its expiry key in `keys`: "already expired"); no INSTRUCTION logged under id ("no
 *     instruction logged under it"); then instruction_expiry_check: another kind, account or
 *     asset, or a chain time (the observation's block timestamp) not after the deadline.
 *     Accepted: the reservation under id is released and the expiry key is filed, in the same
 *     transaction. A later Executed of that nonce (a vault that broke its deadline rule) finds
 *     no reservation: it is unmatched, an incident, as above.
 *
 * Fault budget (DESIGN.md invariant 8): with at most threshold - 1 faulty members, no event is
 * credited twice and no event that honest members attest is left uncredited. The rules that keep
 * it, cited by number in ledger.c, db/ingest.c, attest/quorum.c, attest/audit.c and the tests:
 *   E1. An event id is applied once (its `events` entry): the first content that `threshold`
 *       members of the set in force signed is the one applied, and a second ATTEST of the event
 *       is refused (RL_ERR_DUPLICATE). A second content reaches a quorum only if an honest member
 *       signed it too (a reorg deeper than its confirmations): the hub logs it as a CONFLICT with
 *       credited = 1, an alert; the first credit stands. Applies to every kind: a deposit credits,
 *       an execution settles and an expiry frees a reservation once.
 *   E2. A member counts for one content of an event at a time, its latest signature (quorum.h):
 *       what faulty members sign can neither block nor delay a content the honest members attest,
 *       and honest members that re-sign after a reorg converge on one content.
 *   E3. An EQUIVOCATION record (record.h) is evidence, no veto: it changes no balance, reservation
 *       or event. It names a member of the set in force (RL_ERR_SIGNER otherwise), and is logged
 *       once per (event id, member): its payload_equivocation_key is filed in `keys`, a second is
 *       refused with RL_ERR_DUPLICATE. Its signatures are the auditor's to check (audit.h).
 *
 * Record time. A record's time_ms is the hub's wall clock (record.h), and the admission rules
 * (admit.h A4: an owner signature's expiry) and the calculator (price freshness, calc.h) read it.
 * A hub that could stamp a record earlier than the one before it could log a withdrawal held past
 * its owner's expiry, or one refused for a stale price, as if it came in time. So, cited by
 * ledger.c, db/ingest.c, attest/audit.c and the tests:
 *   T1. A record's time_ms is not below the time_ms of the record before it (the head's,
 *       ledger_head.time_ms). The ledger refuses a backdated record with RL_ERR_STATE naming it,
 *       and the auditor (audit.h) likewise, so a replica following the log stops at it. The hub
 *       stamps max(its clock, the head's time): a hub whose wall clock steps back keeps logging,
 *       stamping the head's time until its clock catches up.
 *
 * Decisions: a LIQUIDATE, MARGIN_CALL or HEALTHY decision moves its account's bad-debt entry
 * (ledger_fund.h); the insurance fund never covers bad debt in the ledger (why: attest/fund.h).
 *
 * Signatures are not checked here: the hub verified them before building the record and the
 * auditor verifies them before replaying (audit.h).
 *
 * Tables (keys and values big-endian; account and asset are 20-byte EVM addresses):
 *   balances      account | chain_id(8) | asset  ->  balance u256 (32) | reserved u256 (32)
 *   reservations  id (32)  ->  account | chain_id(8) | asset | amount u256 (32)
 *   events        event_id (32)  ->  status (1) | log seq (8) | content hash (32)
 *   vault_seqs    chain_id(8) | vault | vault_seq(8)  ->  event_id (32) | log seq (8)
 *   vaults        chain_id(8) | vault  ->  next (8) | max (8)
 *                 next: lowest vault sequence not yet seen; max: highest seen. The numbers
 *                 between them without a vault_seqs entry are gaps to re-observe.
 *   conflicts     event_id (32)  ->  log seq (8) of the CONFLICT record (one alert per event)
 *   sets          version (4)  ->  relayer set encoding
 *   keys          request, decision, bundle or equivocation key (32)  ->  log seq (8): each is
 *                 logged once;
 *                 instruction id (32)  ->  log seq of its INSTRUCTION (8);
 *                 expiry key (instruction.h) (32)  ->  log seq of the ATTEST that expired it
 *   plans         decision seq (8) | index (1) | attempt (1)  ->  plan (instruction.h): an
 *                 instruction a logged decision calls for and that is not logged yet
 *   nonces        chain_id (8) | vault  ->  the highest instruction nonce logged (8)
 *   executions    instruction id (32)  ->  log seq (8) | matched (1: settled its reservation,
 *                 0: unmatched) | debited u256 (32) | shortfall u256 (32): one per vault nonce
 *                 attested executed
 *   insurance     chain_id (8) | asset  ->  amount u256 (32) | seizes (8): the insurance fund
 *   bad_debt      account  ->  closed_u (16) | open_u (16) | open_seq (8): bad debt (fund.h)
 *   meta          "head" -> seq (8) | record hash (32) | time_ms (8) of that record (T1);
 *                 "set" -> version (4)
 */
#ifndef RL_LEDGER_H
#define RL_LEDGER_H

#include "attest/fund.h"
#include "attest/instruction.h"
#include "attest/record.h"
#include "attest/relset.h"
#include "attest/u256.h"
#include "db/store.h"

enum event_status {
    EVENT_CREDITED = 1, /* applied: credited (deposit), finalised (executed) or recorded (rotated) */
    EVENT_CONFLICT = 2, /* never credits */
};

typedef struct ledger_head {
    uint64_t seq;               /* 0: empty log */
    uint8_t hash[HASH_BYTES];   /* hash of record seq; zero when empty */
    uint32_t set_version;       /* 0 until the genesis set record */
    uint64_t time_ms;           /* time_ms of record seq (T1); 0 when empty */
} ledger_head;

typedef struct event_info {
    uint8_t status;
    uint64_t log_seq;
    uint8_t content[HASH_BYTES];
} event_info;

RL_MUST_USE rl_err ledger_head_get(MDB_txn *txn, const store *s, ledger_head *out, rl_why *why);
/* The relayer set in force (RL_ERR_NOTFOUND before genesis). */
RL_MUST_USE rl_err ledger_set_get(MDB_txn *txn, const store *s, uint32_t version, relset *out, rl_why *why);

/* Decodes, checks and applies one encoded record (see above). *head is the head in this
 * transaction (from ledger_head_get, or the previous call) and becomes the new head on
 * success; on failure it is unchanged. */
RL_MUST_USE rl_err ledger_append(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len,
                                 ledger_head *head, rl_why *why);
/* The same for a record whose BUNDLE signatures the caller has just checked, each against its
 * member's address (the hub, hubcosig.h; a replica, after audit_next): its signers are checked
 * (members of the set in force, at least the threshold, the vault's order), the signatures not
 * a second time. set: the caller's decoded copy of the set in force, used when its version is
 * the head's (decoding the ledger's copy for every bundle costs more than the rest of the
 * apply); NULL or another version: the ledger's is read. Anything read from elsewhere goes
 * through ledger_append. */
RL_MUST_USE rl_err ledger_append_verified(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len,
                                          ledger_head *head, const relset *set, rl_why *why);

/* ledger_append for a writer that appends many records per transaction and already hashed
 * what an attestation's checks hash again. With known->event_id and known->content (both or
 * neither; NULL for any other record type) the ATTEST record's event id and content hash are
 * taken as given: they must be obs_event_id and obs_content_hash of its observation, computed
 * by the caller from the same bytes. With known->head_later the meta head is not written: the
 * caller writes it once with ledger_head_put after its last append, before the transaction
 * commits. With known->bundle_verified a BUNDLE is applied as ledger_append_verified does, with
 * known->set as its set. known == NULL is ledger_append. */
typedef struct ledger_known {
    const uint8_t *event_id, *content;
    bool head_later;
    bool bundle_verified;
    const relset *set;
} ledger_known;
RL_MUST_USE rl_err ledger_append_known(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len,
                                       const ledger_known *known, ledger_head *head, rl_why *why);
RL_MUST_USE rl_err ledger_head_put(MDB_txn *txn, const store *s, const ledger_head *head, rl_why *why);

/* A record by sequence number; val points into the transaction's snapshot. */
RL_MUST_USE rl_err ledger_record_get(MDB_txn *txn, const store *s, uint64_t seq, MDB_val *val, rl_why *why);

RL_MUST_USE rl_err ledger_event_get(MDB_txn *txn, const store *s, const uint8_t event_id[HASH_BYTES],
                                    event_info *out);
/* The event credited under a vault sequence number (RL_ERR_NOTFOUND when none). */
RL_MUST_USE rl_err ledger_vault_seq_get(MDB_txn *txn, const store *s, uint64_t chain_id,
                                        const uint8_t vault[EVM_ADDR_BYTES], uint64_t vault_seq,
                                        uint8_t event_id[HASH_BYTES], uint64_t *log_seq);
/* The log sequence number of a request or decision key (RL_ERR_NOTFOUND when not logged). */
RL_MUST_USE rl_err ledger_key_get(MDB_txn *txn, const store *s, const uint8_t key[HASH_BYTES], uint64_t *log_seq);
RL_MUST_USE rl_err ledger_conflict_logged(MDB_txn *txn, const store *s, const uint8_t event_id[HASH_BYTES],
                                          bool *logged);

/* Balance and reserved amount of one (account, chain, asset); zero when never credited. */
RL_MUST_USE rl_err ledger_balance(MDB_txn *txn, const store *s, const uint8_t account[EVM_ADDR_BYTES],
                                  uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES], u256 *balance,
                                  u256 *reserved, rl_why *why);

/* Reservations: funds set aside for an instruction. reserve fails with RL_ERR_FUNDS when
 * balance - reserved < amount and RL_ERR_EXISTS for a reused id; release frees the funds (the
 * instruction can no longer execute); settle turns them into a debit (it executed). */
RL_MUST_USE rl_err ledger_reserve(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES],
                                  const uint8_t account[EVM_ADDR_BYTES], uint64_t chain_id,
                                  const uint8_t asset[EVM_ADDR_BYTES], const u256 *amount, rl_why *why);
RL_MUST_USE rl_err ledger_release(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], rl_why *why);
RL_MUST_USE rl_err ledger_settle(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], rl_why *why);

/* Vault sequence state: next unseen, max seen, and up to cap missing numbers below max. */
typedef struct vault_state {
    uint64_t next, max;
} vault_state;
RL_MUST_USE rl_err ledger_vault_gaps(MDB_txn *txn, const store *s, uint64_t chain_id,
                                     const uint8_t vault[EVM_ADDR_BYTES], vault_state *st, uint64_t *missing,
                                     size_t cap, size_t *n, rl_why *why);

/* The instruction plans not yet carried out, in key order (decision, index, attempt): calls
 * fn for each until it returns non-zero. */
typedef int (*ledger_plan_fn)(void *ctx, const instruction_plan *p, uint8_t attempt);
RL_MUST_USE rl_err ledger_plans(MDB_txn *txn, const store *s, ledger_plan_fn fn, void *ctx, rl_why *why);
/* The log seq of every INSTRUCTION whose reservation is open (neither executed nor expired), in
 * instruction id order; fn returns non-zero to stop. */
typedef int (*ledger_open_fn)(void *ctx, uint64_t instruction_seq);
RL_MUST_USE rl_err ledger_open_instructions(MDB_txn *txn, const store *s, ledger_open_fn fn, void *ctx, rl_why *why);

/* How an attested execution of instruction id was applied (RL_ERR_NOTFOUND: none seen). */
typedef struct ledger_execution {
    uint64_t log_seq; /* the ATTEST record */
    bool matched;     /* it settled the reservation filed under id */
    u256 debited;     /* what left the balance */
    u256 shortfall;   /* executed amount the ledger could not debit (unmatched only) */
} ledger_execution;
RL_MUST_USE rl_err ledger_execution_get(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES],
                                        ledger_execution *out, rl_why *why);
/* How many executions were applied, how many of them unmatched, and how many of those debited
 * less than the chain paid out (one pass over `executions`). */
RL_MUST_USE rl_err ledger_execution_counts(MDB_txn *txn, const store *s, uint64_t *executions, uint64_t *unmatched,
                                           uint64_t *shortfalls, rl_why *why);

/* The highest instruction nonce logged for a vault; 0 when none. */
RL_MUST_USE rl_err ledger_last_nonce(MDB_txn *txn, const store *s, uint64_t chain_id,
                                     const uint8_t vault[EVM_ADDR_BYTES], uint64_t *nonce, rl_why *why);

/* Every vault the ledger has seen, with its sequence cursor and how many numbers below its
 * highest are still missing (gaps to re-observe; counted up to 256). *n gets how many were
 * written (at most cap). */
typedef struct vault_checkpoint {
    uint64_t chain_id;
    uint8_t vault[EVM_ADDR_BYTES];
    vault_state st;
    uint64_t gaps;
} vault_checkpoint;
RL_MUST_USE rl_err ledger_vaults(MDB_txn *txn, const store *s, vault_checkpoint *out, size_t cap, size_t *n,
                                 rl_why *why);

/* One hash over every ledger table, the head's sequence number and the set version, in key
 * order: equal digests mean equal ledger state. The head hash is left out (it covers record
 * timestamps); the log is what `audit verify` checks. Counts come back in stats (NULL allowed). */
typedef struct ledger_stats {
    uint64_t balances, accounts, events_credited, events_conflicted, conflicts, reservations, vaults, gaps, keys;
    uint64_t executions; /* attested executions applied */
    uint64_t unmatched;  /* of them, with no matching reservation (an incident) */
    uint64_t shortfalls; /* of those, debited less than the chain paid out */
    fund_summary fund;   /* the insurance fund and bad debt (attest/fund.h), as audit verify has them */
    ledger_head head;
} ledger_stats;
RL_MUST_USE rl_err ledger_digest(MDB_txn *txn, const store *s, uint8_t out[HASH_BYTES], ledger_stats *stats,
                                 rl_why *why);

#endif
