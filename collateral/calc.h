/*
 * calc.h - the live margin calculator: a deterministic state machine over the log.
 *
 * It takes log records in order (from seq 1) and keeps every account in memory: balances from
 * attested deposits, positions and modes from venue requests, prices from PRICE records. After
 * each record it re-evaluates only the accounts that record can move (the depositor, the venue's
 * account, or every account exposed to a repriced asset or market) with the same code as
 * `margin eval` (margin.h), and decides:
 *
 *   - a status change: margin call (equity < IM), liquidation (equity < MM, with the seize plan
 *     and bad debt), healthy again. Each is decided once, when the status changes.
 *   - each venue request first passes the admission rules (attest/admit.h) against the relayer set
 *     of the last SET record: a position by a venue key the set does not pin is not applied (a
 *     note), a withdrawal that fails them is refused (REASON_VENUE_KEY, REASON_OWNER_SIGNATURE)
 *     with no other effect; an admitted withdrawal's owner nonce becomes its account's last. An
 *     applied position request becomes its account's last (venue key and nonce); a withdrawal that
 *     does not name exactly that one is refused (A6, REASON_POSITIONS_STALE), nothing else changes;
 *     so is one whose owner expiry leaves less than MG_DEADLINE_MIN_S after the record's time
 *     (instruction.h I2, REASON_OWNER_EXPIRY): its release could not execute in time.
 *   - each withdrawal request: approved when the account stays healthy with equity >= IM after
 *     it (the amount is then reserved in the calculator's view until it executes), refused with
 *     a reason otherwise.
 *
 * Decisions go out through a callback with `basis` = the record's sequence number and the risk
 * parameters' digest; the caller signs and sends them. Decision records in the log are not
 * inputs: the state after record N depends only on records 1..N, so an auditor running this code
 * over the log gets the very same decisions (calc_check replays and compares).
 *
 * Prices: a PRICE record moves a price only if it meets the rule again here (price.h) with the
 * threshold of the relayer set in force, the risk file's maximum deviation and age, and the
 * record's time as now. An account whose positions depend on a price that is missing or older
 * than max_age at the record's time gets no status decision, and its withdrawals are refused
 * (stale_price): a stale price never liquidates anyone and never frees collateral. An account
 * without positions needs no price to withdraw what it has.
 *
 * Volatility: for each market with `vol`, an EWMA of the mark's simple returns, the mark sampled
 * at most every ewma_interval_ms of record time, var' = lambda x var + (1 - lambda) x r^2,
 * starting at sigma^2; sigma = sqrt(var) rounded up, in GMP, feeds the margin multiplier
 * min(cap, max(1, sigma / sigma_ref)).
 *
 * Executions: INSTRUCTION records are what the ledger reserved (`instructed`, per holding); an
 * attested executed observation applies the ledger's rule (ledger.h), so each holding here equals
 * the ledger's balance: matched (the instruction logged under its nonce, same account, asset and
 * amount) lowers the holding, its reservation here and the instructed amount by the amount;
 * unmatched closes the instruction logged under that nonce, if any (its amounts leave both
 * reservations), and lowers the holding by min(amount, holding - instructed). A rotation does
 * nothing. An attested expiry (the ledger frees the instruction's reservation) takes the
 * instruction's amount out of both reservations here: an expired release leaves the funds free
 * (the trader may ask again); after an expired seize an account still liquidatable is decided
 * LIQUIDATE again at that record (basis = the expiry's ATTEST), its seize plan taking what is
 * free now, so the hub re-issues the seize with new nonces; one no longer liquidatable gets the
 * status decision its figures call for. With a stale price the new decision waits for a fresh
 * one. Withdrawals are refused while the account's last decided status is liquidatable.
 *
 * A liquidation's later plans (calc.c seize_cover) seize what is owed less what the account's
 * seizes already bring: those executed since the liquidation began (it ends with a MARGIN_CALL
 * or HEALTHY decision) and those decided and not yet executed or expired, each valued at price x
 * (1 - haircut) now. So a seize that expires is replaced, not the whole plan again (which would
 * seize twice what the other seizes still take).
 *
 * Overdue chains. A logged instruction whose deadline (x 1000) is below a record's time_ms,
 * neither executed nor expired, is overdue from that record on, and its chain with it. The
 * vault refuses it after the deadline in chain time, but the chain may be behind, halted, or
 * have run it in a block not yet attested, so an overdue instruction may still execute: its
 * reservation stays (here and in the ledger) until an attested execution or expiry closes it.
 * While a chain is overdue, every seize plan takes holdings on the other chains first and the
 * overdue chain's last (margin.h defer_chain). When a seize becomes overdue and its account is
 * still liquidatable, a replacement is decided at that record: the plan as above, where the
 * overdue seizes count as not bringing anything (they are what is replaced); it is decided only
 * when it seizes something (else the expiry re-decides, as above). Its bad debt leaves out what
 * the overdue seizes may still bring.
 * Over-seizing: the replacement and the overdue seize can both execute (a chain that was slow,
 * not down): the account then loses up to the overdue seize's amount more than it owed. Nothing
 * here can prevent that (no chain can make one execution conditional on another chain's); it is
 * bounded by the overdue amount, each execution settles its own reservation, both reach the
 * insurance fund (ledger.h), and every later plan counts both as executed, so nothing more is
 * seized for it. Waiting for the expiry instead (no replacement) never over-seizes but leaves
 * the venue uncovered while the chain is down; that is the trade this rule makes.
 *
 * Time is the record's time_ms (logged, so replay sees the same); nothing here reads a clock.
 */
#ifndef RL_CALC_H
#define RL_CALC_H

#include <jansson.h>

#include "attest/decision.h"
#include "collateral/spec.h"

typedef struct calc calc;

/* A decision the calculator made (calculator key left zero: the caller signs). */
typedef void (*calc_emit_fn)(void *ctx, const decision *d);
/* Something worth a log line: a price record refused, a position in an unknown market. */
typedef void (*calc_note_fn)(void *ctx, uint64_t seq, const char *what, const char *why);

typedef struct calc_stats {
    uint64_t records, prices, prices_refused, deposits, positions, withdrawals, decisions, evaluations;
    uint64_t executions, unmatched; /* attested executions; of them, matching no open instruction */
    uint64_t expired;               /* attested expiries of open instructions */
    uint64_t accounts;
    uint64_t requests_refused; /* requests the admission rules A1..A5 refuse (attest/admit.h) */
    uint64_t withdrawals_stale; /* withdrawals A6 refuses: the venue saw positions not applied (admit.h) */
} calc_stats;

/* risk must outlive the calculator. note may be NULL. */
RL_MUST_USE rl_err calc_new(calc **out, const mg_risk *risk, calc_emit_fn emit, void *emit_ctx, calc_note_fn note,
                            void *note_ctx);
void calc_free(calc *c);

/* Applies the next record (the caller checked it: hash chain, signatures). Fails only on a
 * record out of order or undecodable, or out of memory; anything the rules refuse is a note. */
RL_MUST_USE rl_err calc_apply(calc *c, const uint8_t *rec, size_t len, rl_why *why);

/* Sequence number of the last record applied. */
uint64_t calc_seq(const calc *c);
const calc_stats *calc_get_stats(const calc *c);

/* The risk parameters it runs under. */
const mg_risk *calc_risk(const calc *c);

/* One account as `relayer margin query` shows it (new reference; NULL when unknown). */
json_t *calc_account_json(calc *c, const uint8_t account[EVM_ADDR_BYTES]);

/* Re-deriving decisions from a log (audit replay, tests; calc_replay.c): a calculator fed every record, whose
 * own decisions are kept by key; each DECISION record met must equal, byte for byte apart from
 * the calculator's key and signature, the decision the calculator made at its basis. */
typedef struct calc_replay calc_replay;

typedef struct calc_replay_summary {
    uint64_t logged;        /* DECISION records met */
    uint64_t reproduced;    /* equal to the calculator's */
    uint64_t not_logged;    /* decided here but not (yet) in the log */
    uint64_t other_risk;    /* logged under other risk parameters: not checkable, so not reproduced */
} calc_replay_summary;

RL_MUST_USE rl_err calc_replay_new(calc_replay **out, const mg_risk *risk);
void calc_replay_free(calc_replay *r);
/* Applies the next record. A DECISION the calculator did not reach, or one made under other risk
 * parameters (which cannot be checked against these), is RL_ERR_STATE with why naming the
 * difference (kind, figures, seizes, risk digests); the replay can go on after it. */
RL_MUST_USE rl_err calc_replay_next(calc_replay *r, const uint8_t *rec, size_t len, rl_why *why);
void calc_replay_get_summary(const calc_replay *r, calc_replay_summary *out);
calc *calc_replay_calc(calc_replay *r);

#endif
