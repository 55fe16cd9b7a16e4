/*
 * hubinstr.h - the hub's side of instructions: turning the plans the ledger files for logged
 * decisions into INSTRUCTION records (instruction.h).
 *
 * For each plan not yet carried out, the hub adds what the decision does not fix, from its risk
 * file's chain entry (collateral/spec.h): the vault, the seize recipient (the chain's insurance
 * address), a deadline (now + the chain's deadline_s, in unix seconds; chains keep wall-clock
 * time) and a nonce one above the highest the vault has had, counting instructions still on their
 * way to the ledger. A plan whose instruction is on its way is not built twice; one the ledger
 * refused (the hub logged why) is built again after retry_ms. A chain without a vault in the risk
 * file gets no instructions: the plan waits, and the hub says so once.
 */
#ifndef RL_HUBINSTR_H
#define RL_HUBINSTR_H

#include "attest/instruction.h"
#include "collateral/spec.h"
#include "db/store.h"

typedef struct hubinstr hubinstr;

/* risk must outlive h. */
RL_MUST_USE rl_err hubinstr_new(hubinstr **out, const mg_risk *risk, uint64_t retry_ms);
void hubinstr_free(hubinstr *h);

/* Called once per instruction built; a non-RL_OK return stops the scan and is returned. */
typedef rl_err (*hubinstr_emit_fn)(void *ctx, const instruction *in, rl_why *why);

/* Builds the instructions due under the ledger state of txn: deadlines from wall_ms (unix), the
 * retry clock from mono_ms (a monotonic clock: a wall-clock step never rebuilds one in flight). */
RL_MUST_USE rl_err hubinstr_scan(hubinstr *h, MDB_txn *txn, const store *s, uint64_t wall_ms, uint64_t mono_ms,
                                 hubinstr_emit_fn emit, void *ctx, rl_why *why);

#endif
