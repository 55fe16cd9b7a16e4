/*
 * fund.h - the insurance fund and bad debt as ledger accounts: what moves them, their byte
 * layout, and one digest over them. The ledger (db/ledger_fund.h) keeps them in LMDB tables and
 * audit verify (audit.h) in memory; both call the functions here on the same records, so both
 * derive the same entries, bit for bit, from the log alone.
 *
 * Insurance fund, one holding per (chain, asset), in the asset's base units (uint256):
 *   credited by every attested execution that settles a SEIZE instruction's reservation (a
 *   matched execution, ledger.h), by the instruction's amount, in the transaction that debits the
 *   trader: the vault moved exactly those tokens to the instruction's recipient, the insurance
 *   address of the hub's risk file that every co-signer checked. An unmatched execution credits
 *   nothing: no logged instruction says where its tokens went (it is an incident, counted as
 *   such). A release credits nothing (the tokens went to the trader). The holding also counts the
 *   seizes that built it.
 *
 * Bad debt, one entry per trader account, in micro-dollars (the decision's bad_debt_u: USD x 10^6,
 * signed 128-bit, exact as the calculator computed it, never negative):
 *   A liquidation episode is a run of LIQUIDATE decisions on the account with no MARGIN_CALL or
 *   HEALTHY decision between them (the calculator decides LIQUIDATE again in one episode after an
 *   expired seize). The episode's shortfall is the bad debt of its latest LIQUIDATE decision
 *   (`open_u`, with that decision's record in `open_seq`): a re-decision replaces it, it does not
 *   add to it. A MARGIN_CALL or HEALTHY decision ends the episode: its shortfall moves to
 *   `closed_u`, which sums every ended episode. The account's bad debt is closed_u + open_u; an
 *   entry exists while that is above zero. Withdrawal decisions do not touch it.
 *
 * Coverage: the insurance fund does not cover bad debt in the ledger, by design. The fund is
 * tokens at the venue's insurance address, outside every vault: the cluster holds no key to it, so
 * an entry "covering" bad debt would move nothing on chain and the fund would stop equalling
 * what the insurance addresses received from the vaults. And the fund is in base units per chain
 * and asset while bad debt is in USD: covering means choosing prices and an order, a venue's
 * decision, not the ledger's. The ledger keeps both exact and side by side (`relayer status`,
 * `ledger digest`, `audit verify`), for the venue to settle from its insurance address.
 *
 * Layouts (big-endian; the ledger's tables and the digest use the same bytes):
 *   insurance  chain_id (8) | asset (20)  ->  amount u256 (32) | seizes (8)
 *   bad_debt   account (20)               ->  closed_u (16) | open_u (16) | open_seq (8; 0: none)
 *
 * fund digest = BLAKE2b-256(personal "rly.fund.v1") over every insurance entry in key order, then
 * every bad-debt entry in key order, each as tag (1: 'I' or 'D') | key | value.
 */
#ifndef RL_FUND_H
#define RL_FUND_H

#include <stdbool.h>
#include <stdint.h>

#include "attest/decision.h"
#include "attest/hash.h"
#include "attest/u256.h"

#define FUND_INS_KEY_BYTES (8 + EVM_ADDR_BYTES)
#define FUND_INS_VAL_BYTES (U256_BYTES + 8)
#define FUND_DEBT_KEY_BYTES EVM_ADDR_BYTES
#define FUND_DEBT_VAL_BYTES (16 + 16 + 8)
#define HASH_DOMAIN_FUND "rly.fund.v1"

typedef struct fund_insurance {
    uint64_t chain_id;
    uint8_t asset[EVM_ADDR_BYTES];
    u256 amount;     /* base units received by the insurance address */
    uint64_t seizes; /* settled seizes that credited it */
} fund_insurance;

typedef struct fund_debt {
    uint8_t account[EVM_ADDR_BYTES];
    __int128 closed_u; /* ended episodes' shortfalls, summed */
    __int128 open_u;   /* the open episode's latest shortfall */
    uint64_t open_seq; /* the LIQUIDATE record behind open_u; 0: no episode open */
} fund_debt;

/* The figures an operator reads first, and the digest (fund_digest_*). */
typedef struct fund_summary {
    uint8_t digest[HASH_BYTES];
    uint64_t insurance_holdings, seizes; /* holdings (chain, asset) and seizes credited */
    uint64_t debt_accounts;              /* accounts with bad debt */
    __int128 debt_u;                     /* their bad debt, summed */
} fund_summary;

void fund_ins_key(uint8_t k[FUND_INS_KEY_BYTES], uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES]);
void fund_ins_encode(uint8_t v[FUND_INS_VAL_BYTES], const fund_insurance *e);
/* RL_ERR_DB when the sizes are not an entry's. */
RL_MUST_USE rl_err fund_ins_decode(fund_insurance *e, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                                   rl_why *why);
/* One settled seize of amount: RL_ERR_OVERFLOW past 2^256 - 1 (e unchanged). */
RL_MUST_USE rl_err fund_ins_credit(fund_insurance *e, const u256 *amount, rl_why *why);

void fund_debt_encode(uint8_t v[FUND_DEBT_VAL_BYTES], const fund_debt *e);
RL_MUST_USE rl_err fund_debt_decode(fund_debt *e, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen,
                                    rl_why *why);
/* What decision d, logged at seq, does to the account's entry e (all zero for an account without
 * one): *changed says whether e moved. RL_ERR_OVERFLOW when closed_u would pass 2^127 - 1 (e
 * unchanged). Negative bad debt never reaches here: decision_decode refuses it. */
RL_MUST_USE rl_err fund_debt_on_decision(fund_debt *e, const decision *d, uint64_t seq, bool *changed, rl_why *why);
/* closed_u + open_u (both >= 0 and their sum checked when stored). */
__int128 fund_debt_total(const fund_debt *e);

/* The digest and the summary, fed entry by entry: insurance entries in key order first, then
 * bad-debt entries in key order. */
typedef struct fund_digest_ctx {
    hash_ctx h;
    fund_summary sum;
} fund_digest_ctx;
void fund_digest_init(fund_digest_ctx *c);
void fund_digest_insurance(fund_digest_ctx *c, const fund_insurance *e);
void fund_digest_debt(fund_digest_ctx *c, const fund_debt *e);
void fund_digest_final(fund_digest_ctx *c, fund_summary *out);

/* The same accounts in memory, for audit verify (audit.h), which has no ledger: fed the same
 * events as the ledger (a settled seize, a decision), it derives the same entries and digest. */
typedef struct fund_book fund_book;
RL_MUST_USE rl_err fund_book_new(fund_book **out);
void fund_book_free(fund_book *b);
/* A seize instruction's execution settled its reservation: amount credited to (chain, asset). */
RL_MUST_USE rl_err fund_book_seize(fund_book *b, uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES],
                                   const u256 *amount, rl_why *why);
/* A logged decision (at seq) moves its account's bad debt. */
RL_MUST_USE rl_err fund_book_decision(fund_book *b, const decision *d, uint64_t seq, rl_why *why);
/* The digest and totals over every entry, in the ledger's key order (RL_ERR_NOMEM possible). */
RL_MUST_USE rl_err fund_book_summary(const fund_book *b, fund_summary *out);

#endif
