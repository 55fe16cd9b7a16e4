/*
 * ledger.c - record application and ledger reads (table layouts in ledger.h).
 */
#include "db/ledger.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bundle.h"
#include "attest/bytes.h"
#include "attest/decision.h"
#include "attest/request.h"
#include "db/ledger_ckpt.h"
#include "db/ledger_fund.h"

#define BAL_KEY_BYTES (EVM_ADDR_BYTES + 8 + EVM_ADDR_BYTES)
#define VSEQ_KEY_BYTES (8 + EVM_ADDR_BYTES + 8)
#define VAULT_KEY_BYTES (8 + EVM_ADDR_BYTES)
#define EVENT_VAL_BYTES (1 + 8 + HASH_BYTES)
#define RESV_VAL_BYTES (BAL_KEY_BYTES + U256_BYTES)

static const char META_HEAD[] = "head";
static const char META_SET[] = "set";

static void bal_key(uint8_t k[BAL_KEY_BYTES], const uint8_t account[EVM_ADDR_BYTES], uint64_t chain_id,
                    const uint8_t asset[EVM_ADDR_BYTES])
{
    memcpy(k, account, EVM_ADDR_BYTES);
    be64_put(k + EVM_ADDR_BYTES, chain_id);
    memcpy(k + EVM_ADDR_BYTES + 8, asset, EVM_ADDR_BYTES);
}

static void vault_key(uint8_t k[VAULT_KEY_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES])
{
    be64_put(k, chain_id);
    memcpy(k + 8, vault, EVM_ADDR_BYTES);
}

static void vseq_key(uint8_t k[VSEQ_KEY_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                     uint64_t vault_seq)
{
    vault_key(k, chain_id, vault);
    be64_put(k + VAULT_KEY_BYTES, vault_seq);
}

/* ---- reads ---- */

rl_err ledger_head_get(MDB_txn *txn, const store *s, ledger_head *out, rl_why *why)
{
    MDB_val v;
    memset(out, 0, sizeof *out);
    rl_err err = store_get(txn, store_dbi(s, TABLE_META), META_HEAD, sizeof META_HEAD - 1, &v, why);
    if (err == RL_OK) {
        if (v.mv_size != 8 + HASH_BYTES + 8)
            return rl_fail(why, RL_ERR_DB, "%s: meta 'head' has %zu bytes", store_path(s), v.mv_size);
        out->seq = be64_get(v.mv_data);
        memcpy(out->hash, (uint8_t *)v.mv_data + 8, HASH_BYTES);
        out->time_ms = be64_get((uint8_t *)v.mv_data + 8 + HASH_BYTES);
    } else if (err != RL_ERR_NOTFOUND) {
        return err;
    }
    err = store_get(txn, store_dbi(s, TABLE_META), META_SET, sizeof META_SET - 1, &v, why);
    if (err == RL_OK && v.mv_size == 4)
        out->set_version = be32_get(v.mv_data);
    else if (err != RL_ERR_NOTFOUND && err != RL_OK)
        return err;
    return RL_OK;
}

rl_err ledger_set_get(MDB_txn *txn, const store *s, uint32_t version, relset *out, rl_why *why)
{
    uint8_t k[4];
    MDB_val v;
    be32_put(k, version);
    rl_err err = store_get(txn, store_dbi(s, TABLE_SETS), k, sizeof k, &v, why);
    if (err != RL_OK)
        return err == RL_ERR_NOTFOUND ? rl_fail(why, err, "relayer set version %u not in the ledger", version) : err;
    return relset_decode(out, v.mv_data, v.mv_size, why);
}

rl_err ledger_record_get(MDB_txn *txn, const store *s, uint64_t seq, MDB_val *val, rl_why *why)
{
    uint8_t k[8];
    be64_put(k, seq);
    rl_err err = store_get(txn, store_dbi(s, TABLE_LOG), k, sizeof k, val, why);
    if (err == RL_ERR_NOTFOUND)
        return rl_fail(why, err, "record %llu not in the log", (unsigned long long)seq);
    return err;
}

rl_err ledger_event_get(MDB_txn *txn, const store *s, const uint8_t event_id[HASH_BYTES], event_info *out)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_EVENTS), event_id, HASH_BYTES, &v, NULL);
    if (err != RL_OK)
        return err;
    if (v.mv_size != EVENT_VAL_BYTES)
        return RL_ERR_DB;
    const uint8_t *p = v.mv_data;
    out->status = p[0];
    out->log_seq = be64_get(p + 1);
    memcpy(out->content, p + 9, HASH_BYTES);
    return RL_OK;
}

rl_err ledger_vault_seq_get(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                            uint64_t vault_seq, uint8_t event_id[HASH_BYTES], uint64_t *log_seq)
{
    uint8_t k[VSEQ_KEY_BYTES];
    MDB_val v;
    vseq_key(k, chain_id, vault, vault_seq);
    rl_err err = store_get(txn, store_dbi(s, TABLE_VAULT_SEQS), k, sizeof k, &v, NULL);
    if (err != RL_OK)
        return err;
    if (v.mv_size != HASH_BYTES + 8)
        return RL_ERR_DB;
    memcpy(event_id, v.mv_data, HASH_BYTES);
    *log_seq = be64_get((uint8_t *)v.mv_data + HASH_BYTES);
    return RL_OK;
}

rl_err ledger_conflict_logged(MDB_txn *txn, const store *s, const uint8_t event_id[HASH_BYTES], bool *logged)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_CONFLICTS), event_id, HASH_BYTES, &v, NULL);
    *logged = err == RL_OK;
    return err == RL_ERR_NOTFOUND ? RL_OK : err;
}

static rl_err balance_read(MDB_txn *txn, const store *s, const uint8_t key[BAL_KEY_BYTES], u256 *balance,
                           u256 *reserved, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_BALANCES), key, BAL_KEY_BYTES, &v, why);
    if (err == RL_ERR_NOTFOUND) {
        *balance = u256_zero();
        *reserved = u256_zero();
        return RL_OK;
    }
    if (err != RL_OK)
        return err;
    if (v.mv_size != 2 * U256_BYTES)
        return rl_fail(why, RL_ERR_DB, "%s: balance entry has %zu bytes", store_path(s), v.mv_size);
    *balance = u256_from_be(v.mv_data);
    *reserved = u256_from_be((uint8_t *)v.mv_data + U256_BYTES);
    return RL_OK;
}

static rl_err balance_write(MDB_txn *txn, const store *s, const uint8_t key[BAL_KEY_BYTES], const u256 *balance,
                            const u256 *reserved, rl_why *why)
{
    uint8_t v[2 * U256_BYTES];
    u256_to_be(v, balance);
    u256_to_be(v + U256_BYTES, reserved);
    return store_put(txn, store_dbi(s, TABLE_BALANCES), key, BAL_KEY_BYTES, v, sizeof v, 0, why);
}

rl_err ledger_balance(MDB_txn *txn, const store *s, const uint8_t account[EVM_ADDR_BYTES], uint64_t chain_id,
                      const uint8_t asset[EVM_ADDR_BYTES], u256 *balance, u256 *reserved, rl_why *why)
{
    uint8_t k[BAL_KEY_BYTES];
    bal_key(k, account, chain_id, asset);
    return balance_read(txn, s, k, balance, reserved, why);
}

/* ---- reservations ---- */

rl_err ledger_reserve(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES],
                      const uint8_t account[EVM_ADDR_BYTES], uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES],
                      const u256 *amount, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_RESERVATIONS), id, HASH_BYTES, &v, NULL);
    if (err == RL_OK)
        return rl_fail(why, RL_ERR_EXISTS, "reservation already exists");
    if (err != RL_ERR_NOTFOUND)
        return err;
    uint8_t val[RESV_VAL_BYTES];
    bal_key(val, account, chain_id, asset);
    u256 balance, reserved, available, after;
    err = balance_read(txn, s, val, &balance, &reserved, why);
    if (err != RL_OK)
        return err;
    if (u256_sub(&available, &balance, &reserved) != RL_OK || u256_cmp(&available, amount) < 0) {
        char a[U256_DEC_MAX], b[U256_DEC_MAX];
        return rl_fail(why, RL_ERR_FUNDS, "reserve %s but only %s available", u256_to_dec(amount, a),
                       u256_to_dec(&available, b));
    }
    err = u256_add(&after, &reserved, amount);
    if (err != RL_OK)
        return rl_fail(why, err, "reserved amount overflows");
    u256_to_be(val + BAL_KEY_BYTES, amount);
    err = store_put(txn, store_dbi(s, TABLE_RESERVATIONS), id, HASH_BYTES, val, sizeof val, 0, why);
    if (err == RL_OK)
        err = balance_write(txn, s, val, &balance, &after, why);
    return err;
}

/* Removes reservation id; when debit, the amount also leaves the balance. */
static rl_err reservation_close(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], bool debit, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_RESERVATIONS), id, HASH_BYTES, &v, why);
    if (err != RL_OK)
        return err == RL_ERR_NOTFOUND ? rl_fail(why, err, "no such reservation") : err;
    if (v.mv_size != RESV_VAL_BYTES)
        return rl_fail(why, RL_ERR_DB, "reservation entry has %zu bytes", v.mv_size);
    uint8_t key[BAL_KEY_BYTES];
    memcpy(key, v.mv_data, BAL_KEY_BYTES);
    u256 amount = u256_from_be((uint8_t *)v.mv_data + BAL_KEY_BYTES), balance, reserved;
    err = balance_read(txn, s, key, &balance, &reserved, why);
    if (err != RL_OK)
        return err;
    /* A reservation is always covered by reserved <= balance; failing here means a corrupt ledger. */
    if (u256_sub(&reserved, &reserved, &amount) != RL_OK || (debit && u256_sub(&balance, &balance, &amount) != RL_OK))
        return rl_fail(why, RL_ERR_DB, "reservation exceeds the reserved balance: ledger corrupt");
    MDB_val k = {HASH_BYTES, (void *)id};
    int rc = mdb_del(txn, store_dbi(s, TABLE_RESERVATIONS), &k, NULL);
    if (rc != 0)
        return store_err(rc, "delete reservation", why);
    return balance_write(txn, s, key, &balance, &reserved, why);
}

rl_err ledger_release(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], rl_why *why)
{
    return reservation_close(txn, s, id, false, why);
}

rl_err ledger_settle(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], rl_why *why)
{
    return reservation_close(txn, s, id, true, why);
}

/* ---- vault sequence numbers ---- */

static rl_err vault_read(MDB_txn *txn, const store *s, const uint8_t k[VAULT_KEY_BYTES], vault_state *st, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_VAULTS), k, VAULT_KEY_BYTES, &v, why);
    if (err == RL_ERR_NOTFOUND) {
        st->next = 1;
        st->max = 0;
        return RL_OK;
    }
    if (err != RL_OK)
        return err;
    if (v.mv_size != 16)
        return rl_fail(why, RL_ERR_DB, "vault entry has %zu bytes", v.mv_size);
    st->next = be64_get(v.mv_data);
    st->max = be64_get((uint8_t *)v.mv_data + 8);
    return RL_OK;
}

/* Records vault_seq as seen and advances `next` over every contiguous number already present. */
static rl_err vault_mark(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                         uint64_t vault_seq, rl_why *why)
{
    uint8_t k[VAULT_KEY_BYTES];
    vault_state st;
    vault_key(k, chain_id, vault);
    rl_err err = vault_read(txn, s, k, &st, why);
    if (err != RL_OK)
        return err;
    if (vault_seq > st.max)
        st.max = vault_seq;
    if (vault_seq == st.next) {
        uint8_t probe[HASH_BYTES];
        uint64_t log_seq;
        do
            st.next++;
        while (st.next <= st.max &&
               ledger_vault_seq_get(txn, s, chain_id, vault, st.next, probe, &log_seq) == RL_OK);
    }
    uint8_t v[16];
    be64_put(v, st.next);
    be64_put(v + 8, st.max);
    return store_put(txn, store_dbi(s, TABLE_VAULTS), k, sizeof k, v, sizeof v, 0, why);
}

rl_err ledger_vault_gaps(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                         vault_state *st, uint64_t *missing, size_t cap, size_t *n, rl_why *why)
{
    uint8_t k[VAULT_KEY_BYTES];
    vault_key(k, chain_id, vault);
    *n = 0;
    rl_err err = vault_read(txn, s, k, st, why);
    if (err != RL_OK)
        return err;
    uint8_t probe[HASH_BYTES];
    uint64_t log_seq;
    for (uint64_t q = st->next; q < st->max && *n < cap; q++)
        if (ledger_vault_seq_get(txn, s, chain_id, vault, q, probe, &log_seq) == RL_ERR_NOTFOUND)
            missing[(*n)++] = q;
    return RL_OK;
}

rl_err ledger_vaults(MDB_txn *txn, const store *s, vault_checkpoint *out, size_t cap, size_t *n, rl_why *why)
{
    MDB_cursor *c;
    MDB_val k, v;
    *n = 0;
    int rc = mdb_cursor_open(txn, store_dbi(s, TABLE_VAULTS), &c);
    if (rc != 0)
        return store_err(rc, "vaults", why);
    rl_err err = RL_OK;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0 && *n < cap && err == RL_OK;
         rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
        if (k.mv_size != VAULT_KEY_BYTES) {
            err = rl_fail(why, RL_ERR_DB, "%s: vault key has %zu bytes", store_path(s), k.mv_size);
            break;
        }
        vault_checkpoint *cp = &out[*n];
        cp->chain_id = be64_get(k.mv_data);
        memcpy(cp->vault, (uint8_t *)k.mv_data + 8, EVM_ADDR_BYTES);
        uint64_t missing[256];
        size_t nm;
        err = ledger_vault_gaps(txn, s, cp->chain_id, cp->vault, &cp->st, missing, 256, &nm, why);
        cp->gaps = nm;
        (*n)++;
    }
    mdb_cursor_close(c);
    return err;
}

/* ---- applying records ---- */

static rl_err event_put(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], uint8_t status, uint64_t seq,
                        const uint8_t content[HASH_BYTES], rl_why *why)
{
    uint8_t v[EVENT_VAL_BYTES];
    v[0] = status;
    be64_put(v + 1, seq);
    memcpy(v + 9, content, HASH_BYTES);
    return store_put(txn, store_dbi(s, TABLE_EVENTS), id, HASH_BYTES, v, sizeof v, 0, why);
}

static rl_err apply_set(MDB_txn *txn, const store *s, const record *r, const ledger_head *head, rl_why *why)
{
    payload_set *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    rl_err err = payload_set_decode(p, r, why);
    if (err != RL_OK)
        goto done;
    if (head->set_version == 0 && (p->set.version != 1 || r->seq != 1)) {
        err = rl_fail(why, RL_ERR_STATE, "the first record must install relayer set version 1");
        goto done;
    }
    if (head->set_version != 0 && p->set.version != head->set_version + 1) {
        err = rl_fail(why, RL_ERR_STATE, "relayer set version %u does not follow version %u", p->set.version,
                      head->set_version);
        goto done;
    }
    uint8_t k[4], enc[RELSET_MAX_BYTES], v[4];
    size_t len;
    err = relset_encode(&p->set, enc, &len, why);
    if (err != RL_OK)
        goto done;
    be32_put(k, p->set.version);
    be32_put(v, p->set.version);
    err = store_put(txn, store_dbi(s, TABLE_SETS), k, sizeof k, enc, len, 0, why);
    if (err == RL_OK)
        err = store_put(txn, store_dbi(s, TABLE_META), META_SET, sizeof META_SET - 1, v, sizeof v, 0, why);
done:
    free(p);
    return err;
}

/* Inserts key -> val unless key is present: RL_OK when inserted; RL_ERR_EXISTS with *old set to
 * the present value (nothing written) otherwise. One B-tree search decides and inserts. */
static rl_err claim(MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen, const void *val, size_t vlen,
                    MDB_val *old, rl_why *why)
{
    MDB_val k = {klen, (void *)key}, v = {vlen, (void *)val};
    int rc = mdb_put(txn, dbi, &k, &v, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST) {
        *old = v;
        return RL_ERR_EXISTS;
    }
    return store_err(rc, "put", why);
}


static rl_err key_put(MDB_txn *txn, const store *s, const uint8_t key[HASH_BYTES], uint64_t seq, const char *what,
                      rl_why *why);

/* ---- executions ---- */

#define EXEC_VAL_BYTES (8 + 1 + 2 * U256_BYTES)

rl_err ledger_execution_get(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], ledger_execution *out,
                            rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_EXECUTIONS), id, HASH_BYTES, &v, NULL);
    if (err != RL_OK)
        return err == RL_ERR_NOTFOUND ? rl_fail(why, err, "no execution of this instruction id") : err;
    if (v.mv_size != EXEC_VAL_BYTES)
        return rl_fail(why, RL_ERR_DB, "%s: execution entry has %zu bytes", store_path(s), v.mv_size);
    const uint8_t *p = v.mv_data;
    out->log_seq = be64_get(p);
    out->matched = p[8] != 0;
    out->debited = u256_from_be(p + 9);
    out->shortfall = u256_from_be(p + 9 + U256_BYTES);
    return RL_OK;
}

/* Counts one executions entry into the unmatched and shortfall tallies. */
static void exec_tally(const MDB_val *v, uint64_t *unmatched, uint64_t *shortfalls)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size != EXEC_VAL_BYTES || p[8] != 0)
        return;
    (*unmatched)++;
    u256 short_by = u256_from_be(p + 9 + U256_BYTES);
    *shortfalls += !u256_is_zero(&short_by);
}

struct exec_counts {
    uint64_t *executions, *unmatched, *shortfalls;
};

static rl_err exec_count(void *ctx, const MDB_val *k, const MDB_val *v, rl_why *why)
{
    (void)k;
    (void)why;
    struct exec_counts *n = ctx;
    (*n->executions)++;
    exec_tally(v, n->unmatched, n->shortfalls);
    return RL_OK;
}

rl_err ledger_execution_counts(MDB_txn *txn, const store *s, uint64_t *executions, uint64_t *unmatched,
                               uint64_t *shortfalls, rl_why *why)
{
    struct exec_counts n = {executions, unmatched, shortfalls};
    *executions = *unmatched = *shortfalls = 0;
    return store_each(txn, store_dbi(s, TABLE_EXECUTIONS), exec_count, &n, "executions", why);
}

/* What an executed observation does (ledger.h), worked out before anything is written. */
typedef struct exec_plan {
    uint8_t id[HASH_BYTES];
    bool matched; /* settle the reservation under id */
    bool release; /* unmatched, and a reservation under id to free first */
    u256 debit, shortfall;
    ledger_fund_credit fund; /* matched seize: the insurance fund's credit */
} exec_plan;

static rl_err exec_prepare(MDB_txn *txn, const store *s, const obs *o, exec_plan *x, rl_why *why)
{
    uint8_t key[BAL_KEY_BYTES], resv_key[BAL_KEY_BYTES];
    u256 resv_amount = u256_zero();
    MDB_val v;
    memset(x, 0, sizeof *x);
    instruction_id(x->id, o->chain_id, o->vault, o->nonce);
    rl_err err = store_get(txn, store_dbi(s, TABLE_EXECUTIONS), x->id, HASH_BYTES, &v, NULL);
    if (err == RL_OK) {
        char hex[43];
        return rl_fail(why, RL_ERR_STATE, "nonce %llu of vault %s on chain %llu already executed (record %llu)",
                       (unsigned long long)o->nonce, evm_addr_to_hex(o->vault, hex), (unsigned long long)o->chain_id,
                       (unsigned long long)(v.mv_size == EXEC_VAL_BYTES ? be64_get(v.mv_data) : 0));
    }
    if (err != RL_ERR_NOTFOUND)
        return err;
    bal_key(key, o->account, o->chain_id, o->asset);
    err = store_get(txn, store_dbi(s, TABLE_RESERVATIONS), x->id, HASH_BYTES, &v, NULL);
    if (err == RL_OK) {
        if (v.mv_size != RESV_VAL_BYTES)
            return rl_fail(why, RL_ERR_DB, "%s: reservation entry has %zu bytes", store_path(s), v.mv_size);
        memcpy(resv_key, v.mv_data, BAL_KEY_BYTES);
        resv_amount = u256_from_be((const uint8_t *)v.mv_data + BAL_KEY_BYTES);
        x->matched = memcmp(resv_key, key, BAL_KEY_BYTES) == 0 && u256_cmp(&resv_amount, &o->amount) == 0;
        x->release = !x->matched;
    } else if (err != RL_ERR_NOTFOUND) {
        return err;
    }
    if (x->matched) {
        x->debit = o->amount;
        return ledger_fund_seize_prepare(txn, s, x->id, &o->amount, &x->fund, why);
    }
    u256 balance, reserved, avail;
    if ((err = balance_read(txn, s, key, &balance, &reserved, why)) != RL_OK)
        return err;
    /* The released reservation no longer holds this balance's funds. */
    if (x->release && memcmp(resv_key, key, BAL_KEY_BYTES) == 0 && u256_sub(&reserved, &reserved, &resv_amount) != RL_OK)
        return rl_fail(why, RL_ERR_DB, "reservation exceeds the reserved balance: ledger corrupt");
    if (u256_sub(&avail, &balance, &reserved) != RL_OK)
        return rl_fail(why, RL_ERR_DB, "reserved exceeds the balance: ledger corrupt");
    x->debit = u256_cmp(&avail, &o->amount) < 0 ? avail : o->amount;
    return u256_sub(&x->shortfall, &o->amount, &x->debit); /* debit <= amount: cannot fail */
}

static void nonce_key(uint8_t k[8 + EVM_ADDR_BYTES], uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES])
{
    be64_put(k, chain_id);
    memcpy(k + 8, vault, EVM_ADDR_BYTES);
}

rl_err ledger_last_nonce(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                         uint64_t *nonce, rl_why *why)
{
    uint8_t k[8 + EVM_ADDR_BYTES];
    MDB_val v;
    nonce_key(k, chain_id, vault);
    rl_err err = store_get(txn, store_dbi(s, TABLE_NONCES), k, sizeof k, &v, why);
    *nonce = 0;
    if (err == RL_ERR_NOTFOUND)
        return RL_OK;
    if (err == RL_OK && v.mv_size != 8)
        return rl_fail(why, RL_ERR_DB, "nonces: a value of %zu bytes for chain %llu", v.mv_size,
                       (unsigned long long)chain_id);
    if (err == RL_OK)
        *nonce = be64_get(v.mv_data);
    return err;
}

/* The vault's highest instruction nonce becomes at least `nonce`: an instruction logged later
 * never takes a nonce the chain has spent (an execution not from a logged instruction). */
static rl_err nonce_raise(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES],
                          uint64_t nonce, rl_why *why)
{
    uint64_t last;
    rl_err err = ledger_last_nonce(txn, s, chain_id, vault, &last, why);
    if (err != RL_OK || nonce <= last)
        return err;
    uint8_t k[8 + EVM_ADDR_BYTES], v[8];
    nonce_key(k, chain_id, vault);
    be64_put(v, nonce);
    return store_put(txn, store_dbi(s, TABLE_NONCES), k, sizeof k, v, sizeof v, 0, why);
}

static rl_err exec_apply(MDB_txn *txn, const store *s, const obs *o, const exec_plan *x, uint64_t seq, rl_why *why)
{
    rl_err err = RL_OK;
    if (x->matched) {
        if ((err = ledger_settle(txn, s, x->id, why)) == RL_OK) /* the seized tokens reached the insurance fund */
            err = ledger_fund_seize_apply(txn, s, &x->fund, why);
    } else if (x->release)
        err = ledger_release(txn, s, x->id, why);
    if (err == RL_OK && !x->matched && !u256_is_zero(&x->debit)) {
        uint8_t key[BAL_KEY_BYTES];
        u256 balance, reserved;
        bal_key(key, o->account, o->chain_id, o->asset);
        if ((err = balance_read(txn, s, key, &balance, &reserved, why)) == RL_OK &&
            (err = u256_sub(&balance, &balance, &x->debit)) == RL_OK)
            err = balance_write(txn, s, key, &balance, &reserved, why);
    }
    uint8_t v[EXEC_VAL_BYTES];
    be64_put(v, seq);
    v[8] = x->matched;
    u256_to_be(v + 9, &x->debit);
    u256_to_be(v + 9 + U256_BYTES, &x->shortfall);
    if (err == RL_OK)
        err = store_put(txn, store_dbi(s, TABLE_EXECUTIONS), x->id, HASH_BYTES, v, sizeof v, 0, why);
    if (err == RL_OK)
        err = nonce_raise(txn, s, o->chain_id, o->vault, o->nonce, why);
    return err;
}

/* An expired observation (ledger.h), checked before anything is written: the instruction under
 * its id, neither executed nor expired, with a chain time after its deadline. */
static rl_err expiry_prepare(MDB_txn *txn, const store *s, const obs *o, uint8_t id[HASH_BYTES], rl_why *why)
{
    char name[INSTRUCTION_NAME_MAX];
    uint8_t xk[HASH_BYTES];
    uint64_t at = 0;
    MDB_val v;
    instruction_id(id, o->chain_id, o->vault, o->nonce);
    instruction_nonce_name(name, o->chain_id, o->vault, o->nonce);
    rl_err err = store_get(txn, store_dbi(s, TABLE_EXECUTIONS), id, HASH_BYTES, &v, NULL);
    if (err == RL_OK)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: already executed (record %llu)", name,
                       (unsigned long long)(v.mv_size == EXEC_VAL_BYTES ? be64_get(v.mv_data) : 0));
    if (err != RL_ERR_NOTFOUND)
        return err;
    instruction_expiry_key(xk, id);
    if ((err = ledger_key_get(txn, s, xk, &at)) == RL_OK)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: already expired (record %llu)", name, (unsigned long long)at);
    if (err != RL_ERR_NOTFOUND)
        return err;
    if ((err = ledger_key_get(txn, s, id, &at)) == RL_ERR_NOTFOUND)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: no instruction logged under it", name);
    record ir;
    instruction in;
    if (err == RL_OK && (err = ledger_record_get(txn, s, at, &v, why)) == RL_OK &&
        ((err = record_decode(&ir, v.mv_data, v.mv_size, why)) != RL_OK || ir.type != RECORD_INSTRUCTION ||
         (err = instruction_decode(&in, ir.payload, ir.payload_len, why)) != RL_OK))
        return rl_fail(why, RL_ERR_DB, "%s: keys name record %llu as the instruction of %s: %s", store_path(s),
                       (unsigned long long)at, name, err != RL_OK ? rl_strerror(err) : "another record type");
    if (err != RL_OK)
        return err;
    return instruction_expiry_check(&in, at, o, why);
}

/* Frees the expired instruction's reservation and marks it expired (a later Executed of its
 * nonce finds no reservation: unmatched). */
static rl_err expiry_apply(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], uint64_t seq, rl_why *why)
{
    uint8_t xk[HASH_BYTES];
    rl_err err = ledger_release(txn, s, id, why);
    if (err == RL_ERR_NOTFOUND) /* an instruction neither executed nor expired holds its reservation */
        return rl_fail(why, RL_ERR_DB, "%s: an open instruction without its reservation: ledger corrupt", store_path(s));
    instruction_expiry_key(xk, id);
    return err != RL_OK ? err : key_put(txn, s, xk, seq, "expiry of this instruction", why);
}

static rl_err apply_attest(MDB_txn *txn, const store *s, const record *r, const ledger_known *known, rl_why *why)
{
    payload_attest p;
    obs o;
    rl_err err = payload_attest_decode(&p, r, why);
    if (err != RL_OK)
        return err;
    err = obs_decode(&o, p.obs, OBS_BYTES, why);
    if (err != RL_OK)
        return err;
    uint8_t id[HASH_BYTES], content[HASH_BYTES], key[BAL_KEY_BYTES], ev[EVENT_VAL_BYTES];
    uint8_t vs[VSEQ_KEY_BYTES], vv[HASH_BYTES + 8];
    if (known != NULL && known->event_id != NULL) {
        memcpy(id, known->event_id, HASH_BYTES);
        memcpy(content, known->content, HASH_BYTES);
    } else {
        obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
        obs_content_hash(content, p.obs);
    }

    /* The event and its vault sequence number are claimed by inserting them (one search each
     * decides and writes): an event id applies once, whatever content comes second (E1). A
     * refused record leaves the tables as they were: a claim that was made is taken back before
     * refusing. */
    MDB_val old = {0, NULL};
    ev[0] = EVENT_CREDITED;
    be64_put(ev + 1, r->seq);
    memcpy(ev + 9, content, HASH_BYTES);
    err = claim(txn, store_dbi(s, TABLE_EVENTS), id, HASH_BYTES, ev, sizeof ev, &old, why);
    if (err == RL_ERR_EXISTS) {
        const uint8_t *q = old.mv_data;
        if (old.mv_size != EVENT_VAL_BYTES)
            return rl_fail(why, RL_ERR_DB, "%s: event entry has %zu bytes", store_path(s), old.mv_size);
        return rl_fail(why, RL_ERR_DUPLICATE, "event already %s by record %llu",
                       q[0] == EVENT_CREDITED ? "applied" : "in conflict", (unsigned long long)be64_get(q + 1));
    }
    if (err != RL_OK)
        return err;
    /* An expiry is no vault event: it has no place in the vault's sequence. */
    bool vault_event = o.kind != OBS_KIND_EXPIRED;
    vseq_key(vs, o.chain_id, o.vault, o.vault_seq);
    memcpy(vv, id, HASH_BYTES);
    be64_put(vv + HASH_BYTES, r->seq);
    err = vault_event ? claim(txn, store_dbi(s, TABLE_VAULT_SEQS), vs, sizeof vs, vv, sizeof vv, &old, why) : RL_OK;
    if (err == RL_ERR_EXISTS) {
        uint64_t owner_seq = old.mv_size == sizeof vv ? be64_get((const uint8_t *)old.mv_data + HASH_BYTES) : 0;
        err = store_del(txn, store_dbi(s, TABLE_EVENTS), id, HASH_BYTES, why);
        return err != RL_OK ? err
                            : rl_fail(why, RL_ERR_CONFLICT, "vault sequence %llu already taken by record %llu",
                                      (unsigned long long)o.vault_seq, (unsigned long long)owner_seq);
    }
    if (err != RL_OK)
        return err;

    /* What the kind does, checked before it is written; a refusal takes both claims back. */
    u256 balance, reserved, after;
    exec_plan x;
    uint8_t ins_id[HASH_BYTES];
    bal_key(key, o.account, o.chain_id, o.asset);
    if (o.kind == OBS_KIND_DEPOSIT) {
        err = balance_read(txn, s, key, &balance, &reserved, why);
        if (err == RL_OK && u256_add(&after, &balance, &o.amount) != RL_OK)
            err = rl_fail(why, RL_ERR_OVERFLOW, "credit overflows the account's uint256 balance");
    } else if (o.kind == OBS_KIND_EXECUTED) {
        err = exec_prepare(txn, s, &o, &x, why);
    } else if (o.kind == OBS_KIND_EXPIRED) {
        err = expiry_prepare(txn, s, &o, ins_id, why);
    }
    if (err != RL_OK) {
        rl_err undo = vault_event ? store_del(txn, store_dbi(s, TABLE_VAULT_SEQS), vs, sizeof vs, why) : RL_OK;
        if (undo == RL_OK)
            undo = store_del(txn, store_dbi(s, TABLE_EVENTS), id, HASH_BYTES, why);
        return undo != RL_OK ? undo : err;
    }
    if (!vault_event)
        return expiry_apply(txn, s, ins_id, r->seq, why);
    err = vault_mark(txn, s, o.chain_id, o.vault, o.vault_seq, why);
    if (err == RL_OK && o.kind == OBS_KIND_DEPOSIT)
        err = balance_write(txn, s, key, &after, &reserved, why);
    if (err == RL_OK && o.kind == OBS_KIND_EXECUTED)
        err = exec_apply(txn, s, &o, &x, r->seq, why);
    return err;
}

static rl_err key_put(MDB_txn *txn, const store *s, const uint8_t key[HASH_BYTES], uint64_t seq, const char *what,
                      rl_why *why)
{
    uint8_t v[8];
    be64_put(v, seq);
    MDB_val k = {HASH_BYTES, (void *)key}, val = {sizeof v, v};
    int rc = mdb_put(txn, store_dbi(s, TABLE_KEYS), &k, &val, MDB_NOOVERWRITE);
    if (rc == MDB_KEYEXIST)
        return rl_fail(why, RL_ERR_DUPLICATE, "%s already logged at record %llu", what,
                       (unsigned long long)be64_get(val.mv_data)); /* NOOVERWRITE returns the existing value */
    return rc == 0 ? RL_OK : store_err(rc, "put key", why);
}

rl_err ledger_key_get(MDB_txn *txn, const store *s, const uint8_t key[HASH_BYTES], uint64_t *log_seq)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_KEYS), key, HASH_BYTES, &v, NULL);
    if (err == RL_OK && v.mv_size == 8)
        *log_seq = be64_get(v.mv_data);
    return err;
}

static rl_err apply_price(MDB_txn *txn, const store *s, const record *r, const ledger_head *head, rl_why *why)
{
    payload_price *p = malloc(sizeof *p);
    relset *set = malloc(sizeof *set);
    rl_err err = p == NULL || set == NULL ? RL_ERR_NOMEM : payload_price_decode(p, r, why);
    if (err == RL_OK)
        err = ledger_set_get(txn, s, head->set_version, set, why);
    for (unsigned i = 0; i < (err == RL_OK ? p->n : 0u) && err == RL_OK; i++)
        if (relset_find(set, p->e[i].member) == NULL)
            err = rl_fail(why, RL_ERR_SIGNER, "price of %s: signer %u is not in relayer set version %u", p->feed,
                          p->e[i].member, set->version);
    if (err == RL_OK && p->n < set->threshold)
        err = rl_fail(why, RL_ERR_QUORUM, "price of %s has %u observations, threshold is %u", p->feed, p->n,
                      set->threshold);
    free(p);
    free(set);
    return err;
}

static rl_err apply_request(MDB_txn *txn, const store *s, const record *r, rl_why *why)
{
    request q;
    uint8_t key[HASH_BYTES];
    rl_err err = request_decode(&q, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    request_key(key, q.venue, q.nonce);
    return key_put(txn, s, key, r->seq, "venue request with this nonce", why);
}

static rl_err apply_decision(MDB_txn *txn, const store *s, const record *r, rl_why *why)
{
    decision *d = malloc(sizeof *d);
    if (d == NULL)
        return RL_ERR_NOMEM;
    uint8_t key[HASH_BYTES];
    rl_err err = decision_decode(d, r->payload, r->payload_len, why);
    if (err == RL_OK && d->basis >= r->seq)
        err = rl_fail(why, RL_ERR_STATE, "decision based on record %llu, which is not before it",
                      (unsigned long long)d->basis);
    uint64_t at = 0;
    if (err == RL_OK && (d->kind == DECISION_WITHDRAW_OK || d->kind == DECISION_WITHDRAW_REFUSED) &&
        (ledger_key_get(txn, s, d->request, &at) != RL_OK || at != d->basis))
        err = at == 0 ? rl_fail(why, RL_ERR_STATE, "withdrawal decision for a request that is not logged")
                      : rl_fail(why, RL_ERR_STATE, "withdrawal decision based on record %llu, its request is record %llu",
                                (unsigned long long)d->basis, (unsigned long long)at);
    /* What it calls for, worked out before anything is written. */
    instruction_plan *plans = err == RL_OK ? malloc(DECISION_MAX_SEIZE * sizeof *plans) : NULL;
    size_t nplans = 0;
    if (err == RL_OK && plans == NULL)
        err = RL_ERR_NOMEM;
    request q;
    bool have_q = false;
    if (err == RL_OK && d->kind == DECISION_WITHDRAW_OK) {
        MDB_val v;
        record rq;
        if ((err = ledger_record_get(txn, s, at, &v, why)) == RL_OK &&
            (err = record_decode(&rq, v.mv_data, v.mv_size, why)) == RL_OK)
            err = request_decode(&q, rq.payload, rq.payload_len, why);
        have_q = err == RL_OK;
    }
    if (err == RL_OK)
        err = instruction_plans(d, r->seq, have_q ? &q : NULL, plans, &nplans, why);
    ledger_fund_debt debt;
    if (err == RL_OK)
        err = ledger_fund_decision_prepare(txn, s, d, r->seq, &debt, why);
    if (err == RL_OK) {
        decision_key(key, d);
        err = key_put(txn, s, key, r->seq, "decision", why);
    }
    for (size_t i = 0; i < nplans && err == RL_OK; i++) {
        uint8_t k[INSTRUCTION_PLAN_KEY_BYTES], v[INSTRUCTION_PLAN_BYTES];
        instruction_plan_key(k, r->seq, plans[i].index, 0);
        instruction_plan_encode(v, &plans[i]);
        err = store_put(txn, store_dbi(s, TABLE_PLANS), k, sizeof k, v, sizeof v, 0, why);
    }
    if (err == RL_OK)
        err = ledger_fund_decision_apply(txn, s, &debt, why);
    free(plans);
    free(d);
    return err;
}

/* Hands each row of table, in key order, to row(): setting *stop ends the walk early, an error
 * ends it and is returned. */
static rl_err each_row(MDB_txn *txn, const store *s, int table, const char *what,
                       rl_err (*row)(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *stop),
                       void *ctx, rl_why *why)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, store_dbi(s, table), &c);
    if (rc != 0)
        return store_err(rc, what, why);
    MDB_val k, v;
    rl_err err = RL_OK;
    bool stop = false;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
        if ((err = row(ctx, txn, &k, &v, &stop)) != RL_OK || stop)
            break;
    mdb_cursor_close(c);
    if (err == RL_OK && rc != 0 && rc != MDB_NOTFOUND)
        err = store_err(rc, what, why);
    return err;
}

struct plans_walk {
    ledger_plan_fn fn;
    void *ctx;
    rl_why *why;
};

static rl_err plan_row(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *stop)
{
    (void)txn;
    struct plans_walk *w = ctx;
    instruction_plan p;
    rl_err err = instruction_plan_decode(&p, k->mv_data, k->mv_size, v->mv_data, v->mv_size, w->why);
    if (err == RL_OK)
        *stop = w->fn(w->ctx, &p, ((const uint8_t *)k->mv_data)[9]) != 0;
    return err;
}

rl_err ledger_plans(MDB_txn *txn, const store *s, ledger_plan_fn fn, void *ctx, rl_why *why)
{
    struct plans_walk w = {fn, ctx, why};
    return each_row(txn, s, TABLE_PLANS, "read plans", plan_row, &w, why);
}

struct open_walk {
    const store *s;
    ledger_open_fn fn;
    void *ctx;
};

static rl_err open_row(void *ctx, MDB_txn *txn, const MDB_val *k, const MDB_val *v, bool *stop)
{
    (void)v;
    struct open_walk *w = ctx;
    uint64_t seq; /* (a reservation made by ledger_reserve alone has no INSTRUCTION: not listed) */
    if (k->mv_size == HASH_BYTES && ledger_key_get(txn, w->s, k->mv_data, &seq) == RL_OK)
        *stop = w->fn(w->ctx, seq) != 0;
    return RL_OK;
}

rl_err ledger_open_instructions(MDB_txn *txn, const store *s, ledger_open_fn fn, void *ctx, rl_why *why)
{
    struct open_walk w = {s, fn, ctx};
    return each_row(txn, s, TABLE_RESERVATIONS, "read reservations", open_row, &w, why);
}

/* A bundle: of a logged instruction, once, signed by a quorum of the set in force in the
 * vault's order, every signature recovering its member's address (as audit verify checks). */
static rl_err apply_bundle(MDB_txn *txn, const store *s, const record *r, const ledger_head *head, bool verified,
                           const relset *given, rl_why *why)
{
    bundle *b = malloc(sizeof *b);
    relset *set = malloc(sizeof *set);
    rl_err err = b == NULL || set == NULL ? RL_ERR_NOMEM : bundle_decode(b, r->payload, r->payload_len, why);
    MDB_val v;
    record ins;
    if (err == RL_OK && b->instruction >= r->seq)
        err = rl_fail(why, RL_ERR_STATE, "bundle of record %llu, which is not before it",
                      (unsigned long long)b->instruction);
    instruction in;
    if (err == RL_OK && (ledger_record_get(txn, s, b->instruction, &v, NULL) != RL_OK ||
                         record_decode(&ins, v.mv_data, v.mv_size, NULL) != RL_OK || ins.type != RECORD_INSTRUCTION ||
                         instruction_decode(&in, ins.payload, ins.payload_len, NULL) != RL_OK))
        err = rl_fail(why, RL_ERR_STATE, "bundle of record %llu, which is not an instruction",
                      (unsigned long long)b->instruction);
    if (err == RL_OK && given != NULL && given->version == head->set_version)
        *set = *given;
    else if (err == RL_OK)
        err = ledger_set_get(txn, s, head->set_version, set, why);
    uint8_t digest[HASH_BYTES];
    if (err == RL_OK) { /* as the auditor does: a bundle every replica would refuse is never logged */
        instruction_digest(digest, &in);
        err = verified ? bundle_check_signers(b, set, why) : bundle_verify(b, set, digest, why);
    }
    uint8_t key[HASH_BYTES];
    if (err == RL_OK) {
        bundle_key(key, b->instruction);
        err = key_put(txn, s, key, r->seq, "bundle of this instruction", why);
    }
    free(b);
    free(set);
    return err;
}

static rl_err apply_instruction(MDB_txn *txn, const store *s, const record *r, rl_why *why)
{
    instruction in;
    instruction_plan p;
    uint8_t pk[INSTRUCTION_PLAN_KEY_BYTES], id[HASH_BYTES];
    uint64_t last;
    MDB_val v;
    rl_err err = instruction_decode(&in, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    instruction_plan_key(pk, in.decision, in.index, in.attempt);
    err = store_get(txn, store_dbi(s, TABLE_PLANS), pk, sizeof pk, &v, NULL);
    if (err == RL_ERR_NOTFOUND)
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u (attempt %u): no such instruction is due",
                       instruction_kind_name(in.kind), (unsigned long long)in.decision, in.index, in.attempt);
    if (err == RL_OK)
        err = instruction_plan_decode(&p, pk, sizeof pk, v.mv_data, v.mv_size, why);
    if (err == RL_OK)
        err = ledger_last_nonce(txn, s, in.chain_id, in.vault, &last, why);
    if (err == RL_OK)
        err = instruction_check(&in, &p, last, r->time_ms, why);
    instruction_id(id, in.chain_id, in.vault, in.nonce);
    if (err == RL_OK) /* checks, then the first write: nothing is written when funds are short */
        err = ledger_reserve(txn, s, id, in.account, in.chain_id, in.asset, &in.amount, why);
    if (err == RL_OK)
        err = store_del(txn, store_dbi(s, TABLE_PLANS), pk, sizeof pk, why);
    if (err == RL_OK)
        err = nonce_raise(txn, s, in.chain_id, in.vault, in.nonce, why);
    if (err == RL_OK) /* an expiry finds the instruction by its id */
        err = key_put(txn, s, id, r->seq, "instruction with this vault nonce", why);
    return err;
}

static rl_err apply_conflict(MDB_txn *txn, const store *s, const record *r, rl_why *why)
{
    payload_conflict *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    obs a, b;
    uint8_t ida[HASH_BYTES], idb[HASH_BYTES], ca[HASH_BYTES], cb[HASH_BYTES];
    event_info ev;
    bool logged;
    rl_err err = payload_conflict_decode(p, r, why);
    if (err != RL_OK)
        goto done;
    if ((err = obs_decode(&a, p->a.obs, OBS_BYTES, why)) != RL_OK || (err = obs_decode(&b, p->b.obs, OBS_BYTES, why)) != RL_OK)
        goto done;
    obs_event_id(ida, a.chain_id, a.tx_hash, a.log_index);
    obs_event_id(idb, b.chain_id, b.tx_hash, b.log_index);
    obs_content_hash(ca, p->a.obs);
    obs_content_hash(cb, p->b.obs);
    bool a_credited = ledger_event_get(txn, s, ida, &ev) == RL_OK && ev.status == EVENT_CREDITED &&
                      memcmp(ev.content, ca, HASH_BYTES) == 0;

    /* The event that must never credit, and the event the alert is filed under. */
    const uint8_t *blocked = idb;
    if (p->reason == CONFLICT_CONTENT) {
        if (memcmp(ida, idb, HASH_BYTES) != 0) {
            err = rl_fail(why, RL_ERR_STATE, "content conflict between two different events");
            goto done;
        }
        if (p->credited != a_credited) {
            err = rl_fail(why, RL_ERR_STATE, "conflict says variant A %s credited, the ledger says it %s",
                          p->credited ? "was" : "was not", a_credited ? "was" : "was not");
            goto done;
        }
        if (!a_credited && ledger_event_get(txn, s, ida, &ev) == RL_OK) {
            err = rl_fail(why, RL_ERR_DUPLICATE, "event already in conflict since record %llu",
                          (unsigned long long)ev.log_seq);
            goto done;
        }
    } else {
        if (a.chain_id != b.chain_id || memcmp(a.vault, b.vault, EVM_ADDR_BYTES) != 0 || a.vault_seq != b.vault_seq ||
            a.vault_seq == 0 || memcmp(ida, idb, HASH_BYTES) == 0) {
            err = rl_fail(why, RL_ERR_STATE, "vault-sequence conflict must be two events with one vault sequence number");
            goto done;
        }
        if (!p->credited || !a_credited) {
            err = rl_fail(why, RL_ERR_STATE, "vault-sequence conflict: variant A must be the credited event");
            goto done;
        }
        if (ledger_event_get(txn, s, idb, &ev) == RL_OK) {
            err = rl_fail(why, RL_ERR_DUPLICATE, "event B already settled by record %llu", (unsigned long long)ev.log_seq);
            goto done;
        }
    }
    if ((err = ledger_conflict_logged(txn, s, blocked, &logged)) != RL_OK)
        goto done;
    if (logged) {
        err = rl_fail(why, RL_ERR_DUPLICATE, "a conflict for this event is already logged");
        goto done;
    }
    uint8_t v[8];
    be64_put(v, r->seq);
    err = store_put(txn, store_dbi(s, TABLE_CONFLICTS), blocked, HASH_BYTES, v, sizeof v, 0, why);
    if (err == RL_OK && !(p->reason == CONFLICT_CONTENT && a_credited))
        err = event_put(txn, s, blocked, EVENT_CONFLICT, r->seq, p->reason == CONFLICT_CONTENT ? ca : cb, why);
done:
    free(p);
    return err;
}

/* E3: evidence only, by a member of the set in force, once per (event id, member). */
static rl_err apply_equivocation(MDB_txn *txn, const store *s, const record *r, const ledger_head *head, rl_why *why)
{
    payload_equivocation p;
    uint8_t id[HASH_BYTES], key[HASH_BYTES];
    relset *set = malloc(sizeof *set);
    rl_err err = set == NULL ? RL_ERR_NOMEM : payload_equivocation_decode(&p, r, id, why);
    if (err == RL_OK)
        err = ledger_set_get(txn, s, head->set_version, set, why);
    if (err == RL_OK && relset_find(set, p.a.member) == NULL)
        err = rl_fail(why, RL_ERR_SIGNER, "equivocation of member %u, which is not in relayer set version %u",
                      p.a.member, head->set_version);
    free(set);
    if (err != RL_OK)
        return err;
    payload_equivocation_key(key, id, p.a.member);
    return key_put(txn, s, key, r->seq, "equivocation evidence of this member for this event", why);
}

rl_err ledger_head_put(MDB_txn *txn, const store *s, const ledger_head *head, rl_why *why)
{
    uint8_t hv[8 + HASH_BYTES + 8];
    be64_put(hv, head->seq);
    memcpy(hv + 8, head->hash, HASH_BYTES);
    be64_put(hv + 8 + HASH_BYTES, head->time_ms);
    return store_put(txn, store_dbi(s, TABLE_META), META_HEAD, sizeof META_HEAD - 1, hv, sizeof hv, 0, why);
}

rl_err ledger_append(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len, ledger_head *headp, rl_why *why)
{
    return ledger_append_known(txn, s, enc, len, NULL, headp, why);
}

rl_err ledger_append_known(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len, const ledger_known *known,
                           ledger_head *headp, rl_why *why)
{
    record r;
    ledger_head head = *headp;
    rl_err err = record_decode(&r, enc, len, why);
    if (err != RL_OK)
        return err;
    if (r.seq != head.seq + 1)
        return rl_fail(why, RL_ERR_SEQ, "record %llu does not follow head %llu", (unsigned long long)r.seq,
                       (unsigned long long)head.seq);
    if (memcmp(r.prev, head.hash, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "record %llu does not link to the hash of record %llu",
                       (unsigned long long)r.seq, (unsigned long long)head.seq);
    if (head.set_version == 0 && r.type != RECORD_SET)
        return rl_fail(why, RL_ERR_STATE, "the first record must install the genesis relayer set");
    if (r.time_ms < head.time_ms) /* T1 */
        return rl_fail(why, RL_ERR_STATE, "record %llu is stamped %llu ms, before record %llu's %llu ms (backdated)",
                       (unsigned long long)r.seq, (unsigned long long)r.time_ms, (unsigned long long)head.seq,
                       (unsigned long long)head.time_ms);

    switch (r.type) {
    case RECORD_SET: err = apply_set(txn, s, &r, &head, why); break;
    case RECORD_ATTEST: err = apply_attest(txn, s, &r, known, why); break;
    case RECORD_CONFLICT: err = apply_conflict(txn, s, &r, why); break;
    case RECORD_PRICE: err = apply_price(txn, s, &r, &head, why); break;
    case RECORD_REQUEST: err = apply_request(txn, s, &r, why); break;
    case RECORD_DECISION: err = apply_decision(txn, s, &r, why); break;
    case RECORD_INSTRUCTION: err = apply_instruction(txn, s, &r, why); break;
    case RECORD_EQUIVOCATION: err = apply_equivocation(txn, s, &r, &head, why); break;
    case RECORD_BUNDLE:
        err = apply_bundle(txn, s, &r, &head, known != NULL && known->bundle_verified, known != NULL ? known->set : NULL,
                           why);
        break;
    case RECORD_CHECKPOINT: err = ledger_ckpt_apply(txn, s, &r, &head, why); break;
    default: err = rl_fail(why, RL_ERR_DECODE, "unknown record type %u", r.type);
    }
    if (err != RL_OK)
        return err;

    uint8_t k[8];
    be64_put(k, r.seq);
    err = store_put(txn, store_dbi(s, TABLE_LOG), k, sizeof k, enc, len, MDB_APPEND, why);
    if (err != RL_OK)
        return err;
    head.seq = r.seq;
    head.time_ms = r.time_ms;
    record_hash(head.hash, enc, len);
    if ((known == NULL || !known->head_later) && (err = ledger_head_put(txn, s, &head, why)) != RL_OK)
        return err;
    if (r.type == RECORD_SET)
        head.set_version++;
    *headp = head;
    return RL_OK;
}

rl_err ledger_append_verified(MDB_txn *txn, const store *s, const uint8_t *enc, size_t len, ledger_head *head,
                              const relset *set, rl_why *why)
{
    ledger_known known = {.bundle_verified = true, .set = set};
    return ledger_append_known(txn, s, enc, len, &known, head, why);
}

/* ---- digest ---- */

static rl_err digest_table(MDB_txn *txn, const store *s, enum store_table t, hash_ctx *h, ledger_stats *st,
                           rl_why *why)
{
    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, store_dbi(s, t), &c);
    if (rc != 0)
        return store_err(rc, "cursor", why);
    uint8_t tag[5] = {(uint8_t)t};
    uint8_t last_account[EVM_ADDR_BYTES] = {0};
    uint64_t count = 0;
    while ((rc = mdb_cursor_get(c, &k, &v, count == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
        uint8_t lens[8];
        be32_put(lens, (uint32_t)k.mv_size);
        be32_put(lens + 4, (uint32_t)v.mv_size);
        hash_update(h, tag, 1);
        hash_update(h, lens, sizeof lens);
        hash_update(h, k.mv_data, k.mv_size);
        hash_update(h, v.mv_data, v.mv_size);
        count++;
        if (t == TABLE_BALANCES && (count == 1 || memcmp(last_account, k.mv_data, EVM_ADDR_BYTES) != 0)) {
            memcpy(last_account, k.mv_data, EVM_ADDR_BYTES);
            st->accounts++;
        }
        if (t == TABLE_EVENTS) {
            if (((uint8_t *)v.mv_data)[0] == EVENT_CREDITED)
                st->events_credited++;
            else
                st->events_conflicted++;
        }
        if (t == TABLE_EXECUTIONS)
            exec_tally(&v, &st->unmatched, &st->shortfalls);
        /* Vault sequences start at 1 and are unique, so the gaps are sum(max) - entries. */
        if (t == TABLE_VAULTS && v.mv_size == 16)
            st->gaps += be64_get((uint8_t *)v.mv_data + 8);
    }
    mdb_cursor_close(c);
    if (rc != MDB_NOTFOUND)
        return store_err(rc, "cursor", why);
    be32_put(tag + 1, (uint32_t)count);
    hash_update(h, tag, sizeof tag);
    switch (t) {
    case TABLE_BALANCES: st->balances = count; break;
    case TABLE_RESERVATIONS: st->reservations = count; break;
    case TABLE_CONFLICTS: st->conflicts = count; break;
    case TABLE_VAULTS: st->vaults = count; break;
    case TABLE_KEYS: st->keys = count; break;
    case TABLE_VAULT_SEQS: st->gaps -= count; break; /* VAULTS is digested first */
    case TABLE_EXECUTIONS: st->executions = count; break;
    default: break;
    }
    return RL_OK;
}

rl_err ledger_digest(MDB_txn *txn, const store *s, uint8_t out[HASH_BYTES], ledger_stats *stats, rl_why *why)
{
    static const enum store_table tables[] = {TABLE_BALANCES, TABLE_RESERVATIONS, TABLE_EVENTS, TABLE_VAULTS,
                                              TABLE_VAULT_SEQS, TABLE_CONFLICTS,  TABLE_SETS,
                                              TABLE_KEYS, TABLE_PLANS, TABLE_NONCES, TABLE_EXECUTIONS,
                                              TABLE_INSURANCE, TABLE_BAD_DEBT};
    ledger_stats st = {0};
    hash_ctx h;
    hash_init(&h, HASH_DOMAIN_LEDGER);
    rl_err err = ledger_head_get(txn, s, &st.head, why);
    if (err != RL_OK)
        return err;
    /* The head's sequence number is state; its hash is not: it covers each record's wall-clock
     * time, which differs between two hubs that applied the same records. The log itself is
     * checked by `audit verify`. */
    uint8_t hv[8 + 4];
    be64_put(hv, st.head.seq);
    be32_put(hv + 8, st.head.set_version);
    hash_update(&h, hv, sizeof hv);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        err = digest_table(txn, s, tables[i], &h, &st, why);
        if (err != RL_OK)
            return err;
    }
    hash_final(&h, out);
    if ((err = ledger_fund_walk(txn, s, NULL, NULL, &st.fund, why)) != RL_OK)
        return err;
    if (stats != NULL)
        *stats = st;
    return RL_OK;
}
