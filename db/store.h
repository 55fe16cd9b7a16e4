/*
 * store.h - the LMDB environment: one file holding the log, the ledger and their indexes.
 *
 * Everything a record changes commits in the same LMDB write transaction as the record itself
 * (DESIGN invariant 3), so a crash at any instant leaves either all of it or none. Writes go
 * through store_write, which runs a caller function inside a write transaction and commits it;
 * when the map fills (MDB_MAP_FULL) it aborts, doubles the map up to the configured limit and
 * runs the function again, so the function must derive everything from the transaction and its
 * own input, never from memory it changed on a previous attempt.
 *
 * At the limit, or when the disk refuses the write (ENOSPC, EFBIG), store_write returns
 * RL_ERR_FULL or RL_ERR_NOSPC with a message naming the directory and sizes; the transaction is
 * aborted and everything committed before it stays intact.
 *
 * Tables (named LMDB databases); layouts are documented where they are used (ledger.h).
 */
#ifndef RL_STORE_H
#define RL_STORE_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/error.h"

enum store_table {
    TABLE_LOG,       /* seq -> record bytes */
    TABLE_META,      /* name -> value */
    TABLE_BALANCES,
    TABLE_RESERVATIONS,
    TABLE_EVENTS,
    TABLE_VAULT_SEQS,
    TABLE_VAULTS,
    TABLE_CONFLICTS,
    TABLE_SETS,
    TABLE_OUTBOX,    /* a node's signed messages not yet acknowledged: chain id | msg id -> frame */
    TABLE_CURSORS,   /* a node's per-chain progress: chain name -> next event | next msg id */
    TABLE_KEYS,      /* idempotency keys of requests and decisions -> log seq */
    TABLE_PLANS,     /* instructions a decision calls for, not yet logged (instruction.h) */
    TABLE_NONCES,    /* chain_id | vault -> the highest instruction nonce logged */
    TABLE_EXECUTIONS, /* instruction id -> how its attested execution was applied (ledger.h) */
    TABLE_INSURANCE, /* chain_id | asset -> the insurance fund's holding (attest/fund.h) */
    TABLE_BAD_DEBT,  /* account -> its bad debt (attest/fund.h) */
    TABLE_COUNT_
};

#define STORE_DEFAULT_MAP_INITIAL (64ull << 20) /* 64 MiB; grows on demand */
#define STORE_DEFAULT_MAP_MAX (64ull << 30)     /* 64 GiB */

typedef struct store_opts {
    uint64_t map_initial_bytes; /* 0: STORE_DEFAULT_MAP_INITIAL */
    uint64_t map_max_bytes;     /* 0: STORE_DEFAULT_MAP_MAX */
    bool read_only;
} store_opts;

typedef struct store store;

/* Opens (creating the directory and tables when not read_only) the environment in dir. */
RL_MUST_USE rl_err store_open(store **out, const char *dir, const store_opts *opts, rl_why *why);
void store_close(store *s);

MDB_dbi store_dbi(const store *s, enum store_table t);
const char *store_path(const store *s);
uint64_t store_map_bytes(const store *s);

/* Runs fn in a write transaction and commits it, growing the map as described above.
 * Threads: one thread may write while others read. Growing waits for every open transaction
 * of the process to end, so a thread must not hold a read snapshot while it calls this. */
typedef rl_err (*store_write_fn)(MDB_txn *txn, void *ctx, rl_why *why);
RL_MUST_USE rl_err store_write(store *s, store_write_fn fn, void *ctx, rl_why *why);

/* A read-only snapshot; end it with store_read_end. */
RL_MUST_USE rl_err store_read_begin(store *s, MDB_txn **txn, rl_why *why);
void store_read_end(MDB_txn *txn);

/* LMDB result -> rl_err (MDB_MAP_FULL -> RL_ERR_FULL, MDB_NOTFOUND -> RL_ERR_NOTFOUND,
 * ENOSPC/EFBIG -> RL_ERR_NOSPC), with why naming the operation. */
rl_err store_err(int mdb_rc, const char *op, rl_why *why);

/* Thin wrappers that map errors through store_err. */
RL_MUST_USE rl_err store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val, rl_why *why);
RL_MUST_USE rl_err store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val,
                             size_t vlen, unsigned flags, rl_why *why);
RL_MUST_USE rl_err store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, rl_why *why);

/* Calls fn for every entry of dbi in key order until it returns an error, which is returned;
 * `what` names the table in a cursor failure. */
typedef rl_err (*store_each_fn)(void *ctx, const MDB_val *key, const MDB_val *val, rl_why *why);
RL_MUST_USE rl_err store_each(MDB_txn *txn, MDB_dbi dbi, store_each_fn fn, void *ctx, const char *what, rl_why *why);

#endif
