/*
 * ledger_fund.h - the ledger's insurance-fund and bad-debt accounts (what moves them, and why the
 * fund does not cover bad debt: attest/fund.h).
 *
 * ledger_append calls these in the record's write transaction, in two steps like the rest of the
 * ledger: a prepare that only reads and checks (a refusal writes nothing), then an apply:
 *   - an ATTEST of an executed observation that settles its reservation (matched, ledger.h):
 *     when the INSTRUCTION logged under the instruction id is a seize, its amount is credited to
 *     the insurance holding of (chain, asset), in the transaction that debits the trader;
 *   - a DECISION: its account's bad-debt entry moves as fund.h says.
 *
 * Tables (store.h): `insurance` and `bad_debt`, layouts in attest/fund.h. Both are part of
 * `ledger digest`. A ledger written before they existed gets them empty when the hub opens it:
 * rebuild it with `relayer audit replay` to have them filled from its log.
 */
#ifndef RL_LEDGER_FUND_H
#define RL_LEDGER_FUND_H

#include "attest/decision.h"
#include "attest/fund.h"
#include "db/store.h"

/* A credit worked out by ledger_fund_seize_prepare; due is false for a release. */
typedef struct ledger_fund_credit {
    bool due;
    fund_insurance after; /* the holding once credited */
} ledger_fund_credit;

RL_MUST_USE rl_err ledger_fund_seize_prepare(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES],
                                             const u256 *amount, ledger_fund_credit *out, rl_why *why);
RL_MUST_USE rl_err ledger_fund_seize_apply(MDB_txn *txn, const store *s, const ledger_fund_credit *c, rl_why *why);

/* A bad-debt change worked out by ledger_fund_decision_prepare; changed is false when none. */
typedef struct ledger_fund_debt {
    bool changed;
    fund_debt after; /* deleted when its total is zero */
} ledger_fund_debt;

RL_MUST_USE rl_err ledger_fund_decision_prepare(MDB_txn *txn, const store *s, const decision *d, uint64_t seq,
                                                ledger_fund_debt *out, rl_why *why);
RL_MUST_USE rl_err ledger_fund_decision_apply(MDB_txn *txn, const store *s, const ledger_fund_debt *c, rl_why *why);

/* One holding of the insurance fund (zero, seizes 0, when never credited) and one account's bad
 * debt (all zero when none). */
RL_MUST_USE rl_err ledger_insurance_get(MDB_txn *txn, const store *s, uint64_t chain_id,
                                        const uint8_t asset[EVM_ADDR_BYTES], fund_insurance *out, rl_why *why);
RL_MUST_USE rl_err ledger_bad_debt_get(MDB_txn *txn, const store *s, const uint8_t account[EVM_ADDR_BYTES],
                                       fund_debt *out, rl_why *why);

/* Every holding, then every bad-debt entry, in key order: fn(ctx, holding, NULL) or
 * fn(ctx, NULL, debt) (NULL fn: none). *sum gets the fund digest and totals (fund.h), as audit
 * verify derives them (NULL allowed). */
typedef void (*ledger_fund_fn)(void *ctx, const fund_insurance *holding, const fund_debt *debt);
RL_MUST_USE rl_err ledger_fund_walk(MDB_txn *txn, const store *s, ledger_fund_fn fn, void *ctx, fund_summary *sum,
                                    rl_why *why);

#endif
