/*
 * store.c - LMDB environment, tables, and the grow-and-retry write path.
 */
#include "db/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const table_names[TABLE_COUNT_] = {
    [TABLE_LOG] = "log",
    [TABLE_META] = "meta",
    [TABLE_BALANCES] = "balances",
    [TABLE_RESERVATIONS] = "reservations",
    [TABLE_EVENTS] = "events",
    [TABLE_VAULT_SEQS] = "vault_seqs",
    [TABLE_VAULTS] = "vaults",
    [TABLE_CONFLICTS] = "conflicts",
    [TABLE_SETS] = "sets",
    [TABLE_OUTBOX] = "outbox",
    [TABLE_CURSORS] = "cursors",
    [TABLE_KEYS] = "keys",
    [TABLE_PLANS] = "plans",
    [TABLE_NONCES] = "nonces",
    [TABLE_EXECUTIONS] = "executions",
    [TABLE_INSURANCE] = "insurance",
    [TABLE_BAD_DEBT] = "bad_debt",
};

struct store {
    MDB_env *env;
    MDB_dbi dbi[TABLE_COUNT_];
    uint64_t map_bytes, map_max;
    char *path;
    /* Growing the map needs every transaction of this process closed: transactions hold it
     * shared, grow() exclusive. */
    pthread_rwlock_t remap;
};

rl_err store_err(int rc, const char *op, rl_why *why)
{
    switch (rc) {
    case MDB_SUCCESS:
        return RL_OK;
    case MDB_NOTFOUND:
        return rl_fail(why, RL_ERR_NOTFOUND, "%s: not found", op);
    case MDB_MAP_FULL:
        return rl_fail(why, RL_ERR_FULL, "%s: LMDB map full", op);
    case ENOSPC:
    case EFBIG:
    case EDQUOT:
        return rl_fail(why, RL_ERR_NOSPC, "%s: %s", op, strerror(rc));
    default:
        return rl_fail(why, rc > 0 ? RL_ERR_IO : RL_ERR_DB, "%s: %s", op, mdb_strerror(rc));
    }
}

rl_err store_open(store **out, const char *dir, const store_opts *opts, rl_why *why)
{
    store_opts o = opts ? *opts : (store_opts){0};
    if (o.map_initial_bytes == 0)
        o.map_initial_bytes = STORE_DEFAULT_MAP_INITIAL;
    if (o.map_max_bytes == 0)
        o.map_max_bytes = STORE_DEFAULT_MAP_MAX;
    if (o.map_initial_bytes > o.map_max_bytes)
        o.map_initial_bytes = o.map_max_bytes;
    if (!o.read_only && mkdir(dir, 0700) != 0 && errno != EEXIST)
        return rl_fail(why, RL_ERR_IO, "%s: cannot create directory: %s", dir, strerror(errno));

    store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->path = strdup(dir)) == NULL) {
        free(s);
        return RL_ERR_NOMEM;
    }
    pthread_rwlock_init(&s->remap, NULL);
    rl_err err;
    int rc = mdb_env_create(&s->env);
    if (rc != 0) {
        err = store_err(rc, "mdb_env_create", why);
        goto fail;
    }
    mdb_env_set_userctx(s->env, s);
    mdb_env_set_maxdbs(s->env, TABLE_COUNT_);
    /* An existing environment may already be larger than our initial size: keep its size. */
    mdb_env_set_mapsize(s->env, o.map_initial_bytes);
    rc = mdb_env_open(s->env, dir, o.read_only ? MDB_RDONLY : 0, 0600);
    if (rc != 0) {
        err = store_err(rc, "open ledger", why);
        rl_why_prefix(why, "%s: ", dir);
        goto fail;
    }
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_bytes = info.me_mapsize;
    s->map_max = o.map_max_bytes > s->map_bytes ? o.map_max_bytes : s->map_bytes;

    MDB_txn *txn;
    rc = mdb_txn_begin(s->env, NULL, o.read_only ? MDB_RDONLY : 0, &txn);
    if (rc != 0) {
        err = store_err(rc, "begin", why);
        goto fail;
    }
    for (int t = 0; t < TABLE_COUNT_; t++) {
        rc = mdb_dbi_open(txn, table_names[t], o.read_only ? 0 : MDB_CREATE, &s->dbi[t]);
        if (rc != 0) {
            mdb_txn_abort(txn);
            if (rc == MDB_NOTFOUND && t > 0) /* the first tables make a ledger: a later one is new */
                err = rl_fail(why, RL_ERR_NOTFOUND,
                              "%s: a ledger from an older version (no '%s' table): the hub adds it when it "
                              "next opens the ledger, or rebuild it with `relayer audit replay`",
                              dir, table_names[t]);
            else if (rc == MDB_NOTFOUND)
                err = rl_fail(why, RL_ERR_NOTFOUND, "%s: not a relayer ledger (no '%s' table)", dir,
                              table_names[t]);
            else
                err = store_err(rc, table_names[t], why);
            goto fail;
        }
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        err = store_err(rc, "create tables", why);
        goto fail;
    }
    *out = s;
    return RL_OK;
fail:
    store_close(s);
    return err;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    if (s->env != NULL)
        mdb_env_close(s->env);
    pthread_rwlock_destroy(&s->remap);
    free(s->path);
    free(s);
}

MDB_dbi store_dbi(const store *s, enum store_table t) { return s->dbi[t]; }
const char *store_path(const store *s) { return s->path; }
uint64_t store_map_bytes(const store *s) { return s->map_bytes; }

/* Doubles the map, bounded by the limit. Waits until no transaction is open in this process
 * (the caller must not hold one). */
static rl_err grow(store *s, rl_why *why)
{
    if (s->map_bytes >= s->map_max)
        return rl_fail(why, RL_ERR_FULL,
                       "%s: ledger map full at %llu MiB, the configured limit; ingest stopped, "
                       "everything committed is intact",
                       s->path, (unsigned long long)(s->map_bytes >> 20));
    uint64_t next = s->map_bytes * 2 < s->map_max ? s->map_bytes * 2 : s->map_max;
    pthread_rwlock_wrlock(&s->remap);
    int rc = mdb_env_set_mapsize(s->env, next);
    pthread_rwlock_unlock(&s->remap);
    if (rc != 0)
        return store_err(rc, "grow map", why);
    s->map_bytes = next;
    return RL_OK;
}

rl_err store_write(store *s, store_write_fn fn, void *ctx, rl_why *why)
{
    for (;;) {
        MDB_txn *txn;
        pthread_rwlock_rdlock(&s->remap);
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {
            /* Another process grew the map: adopt its size and go again. */
            pthread_rwlock_unlock(&s->remap);
            pthread_rwlock_wrlock(&s->remap);
            rc = mdb_env_set_mapsize(s->env, 0);
            pthread_rwlock_unlock(&s->remap);
            if (rc == 0) {
                MDB_envinfo info;
                mdb_env_info(s->env, &info);
                s->map_bytes = info.me_mapsize;
                continue;
            }
            return store_err(rc, "adopt map size", why);
        }
        if (rc != 0) {
            pthread_rwlock_unlock(&s->remap);
            return store_err(rc, "begin write", why);
        }
        rl_err err = fn(txn, ctx, why);
        if (err == RL_OK) {
            rc = mdb_txn_commit(txn); /* frees txn whatever the outcome */
            err = rc == 0 ? RL_OK : store_err(rc, "commit", why);
        } else {
            mdb_txn_abort(txn);
        }
        pthread_rwlock_unlock(&s->remap);
        if (err != RL_ERR_FULL)
            return err;
        err = grow(s, why);
        if (err != RL_OK)
            return err;
    }
}

rl_err store_read_begin(store *s, MDB_txn **txn, rl_why *why)
{
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    if (rc == MDB_MAP_RESIZED) {
        pthread_rwlock_wrlock(&s->remap);
        rc = mdb_env_set_mapsize(s->env, 0);
        pthread_rwlock_unlock(&s->remap);
        if (rc == 0)
            rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, txn);
    }
    if (rc == 0)
        pthread_rwlock_rdlock(&s->remap);
    return store_err(rc, "begin read", why);
}

void store_read_end(MDB_txn *txn)
{
    store *s = mdb_env_get_userctx(mdb_txn_env(txn));
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->remap);
}

rl_err store_get(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, MDB_val *val, rl_why *why)
{
    MDB_val k = {klen, (void *)key};
    return store_err(mdb_get(txn, dbi, &k, val), "get", why);
}

rl_err store_put(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen,
                 unsigned flags, rl_why *why)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    return store_err(mdb_put(txn, dbi, &k, &v, flags), "put", why);
}

rl_err store_del(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, rl_why *why)
{
    MDB_val k = {klen, (void *)key};
    return store_err(mdb_del(txn, dbi, &k, NULL), "del", why);
}

rl_err store_each(MDB_txn *txn, MDB_dbi dbi, store_each_fn fn, void *ctx, const char *what, rl_why *why)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return store_err(rc, what, why);
    rl_err err = RL_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && err == RL_OK; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        err = fn(ctx, &k, &v, why);
    mdb_cursor_close(c);
    if (err == RL_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = store_err(rc, what, why);
    return err;
}
