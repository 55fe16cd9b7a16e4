/*
 * ledger_fund.c - the insurance-fund and bad-debt tables (ledger_fund.h).
 */
#include "db/ledger_fund.h"

#include <string.h>

#include "attest/instruction.h"
#include "attest/record.h"
#include "db/ledger.h"

rl_err ledger_insurance_get(MDB_txn *txn, const store *s, uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES],
                            fund_insurance *out, rl_why *why)
{
    uint8_t k[FUND_INS_KEY_BYTES];
    MDB_val v;
    fund_ins_key(k, chain_id, asset);
    memset(out, 0, sizeof *out);
    out->chain_id = chain_id;
    memcpy(out->asset, asset, EVM_ADDR_BYTES);
    rl_err err = store_get(txn, store_dbi(s, TABLE_INSURANCE), k, sizeof k, &v, why);
    if (err == RL_ERR_NOTFOUND)
        return RL_OK;
    return err != RL_OK ? err : fund_ins_decode(out, k, sizeof k, v.mv_data, v.mv_size, why);
}

rl_err ledger_bad_debt_get(MDB_txn *txn, const store *s, const uint8_t account[EVM_ADDR_BYTES], fund_debt *out,
                           rl_why *why)
{
    MDB_val v;
    memset(out, 0, sizeof *out);
    memcpy(out->account, account, EVM_ADDR_BYTES);
    rl_err err = store_get(txn, store_dbi(s, TABLE_BAD_DEBT), account, EVM_ADDR_BYTES, &v, why);
    if (err == RL_ERR_NOTFOUND)
        return RL_OK;
    return err != RL_OK ? err : fund_debt_decode(out, account, EVM_ADDR_BYTES, v.mv_data, v.mv_size, why);
}

rl_err ledger_fund_seize_prepare(MDB_txn *txn, const store *s, const uint8_t id[HASH_BYTES], const u256 *amount,
                                 ledger_fund_credit *out, rl_why *why)
{
    uint64_t at = 0;
    MDB_val v;
    record r;
    instruction in;
    memset(out, 0, sizeof *out);
    /* A reservation exists only for an instruction logged under its id (apply_instruction). */
    rl_err err = ledger_key_get(txn, s, id, &at);
    if (err == RL_OK)
        err = ledger_record_get(txn, s, at, &v, why);
    if (err == RL_OK && (record_decode(&r, v.mv_data, v.mv_size, NULL) != RL_OK || r.type != RECORD_INSTRUCTION ||
                         instruction_decode(&in, r.payload, r.payload_len, NULL) != RL_OK))
        err = RL_ERR_DB;
    if (err != RL_OK)
        return rl_fail(why, RL_ERR_DB, "%s: a settled reservation without its INSTRUCTION record (%llu): ledger corrupt",
                       store_path(s), (unsigned long long)at);
    if (in.kind != INSTRUCTION_SEIZE)
        return RL_OK;
    if ((err = ledger_insurance_get(txn, s, in.chain_id, in.asset, &out->after, why)) != RL_OK ||
        (err = fund_ins_credit(&out->after, amount, why)) != RL_OK)
        return err;
    out->due = true;
    return RL_OK;
}

rl_err ledger_fund_seize_apply(MDB_txn *txn, const store *s, const ledger_fund_credit *c, rl_why *why)
{
    if (!c->due)
        return RL_OK;
    uint8_t k[FUND_INS_KEY_BYTES], v[FUND_INS_VAL_BYTES];
    fund_ins_key(k, c->after.chain_id, c->after.asset);
    fund_ins_encode(v, &c->after);
    return store_put(txn, store_dbi(s, TABLE_INSURANCE), k, sizeof k, v, sizeof v, 0, why);
}

rl_err ledger_fund_decision_prepare(MDB_txn *txn, const store *s, const decision *d, uint64_t seq,
                                    ledger_fund_debt *out, rl_why *why)
{
    memset(out, 0, sizeof *out);
    if (d->kind != DECISION_LIQUIDATE && d->kind != DECISION_MARGIN_CALL && d->kind != DECISION_HEALTHY)
        return RL_OK;
    rl_err err = ledger_bad_debt_get(txn, s, d->account, &out->after, why);
    return err != RL_OK ? err : fund_debt_on_decision(&out->after, d, seq, &out->changed, why);
}

rl_err ledger_fund_decision_apply(MDB_txn *txn, const store *s, const ledger_fund_debt *c, rl_why *why)
{
    if (!c->changed)
        return RL_OK;
    if (fund_debt_total(&c->after) == 0) {
        rl_err err = store_del(txn, store_dbi(s, TABLE_BAD_DEBT), c->after.account, EVM_ADDR_BYTES, why);
        return err == RL_ERR_NOTFOUND ? RL_OK : err;
    }
    uint8_t v[FUND_DEBT_VAL_BYTES];
    fund_debt_encode(v, &c->after);
    return store_put(txn, store_dbi(s, TABLE_BAD_DEBT), c->after.account, EVM_ADDR_BYTES, v, sizeof v, 0, why);
}

struct walk {
    ledger_fund_fn fn;
    void *ctx;
    fund_digest_ctx dc;
};

static rl_err walk_insurance(void *ctx, const MDB_val *k, const MDB_val *v, rl_why *why)
{
    struct walk *w = ctx;
    fund_insurance e;
    rl_err err = fund_ins_decode(&e, k->mv_data, k->mv_size, v->mv_data, v->mv_size, why);
    if (err == RL_OK) {
        fund_digest_insurance(&w->dc, &e);
        if (w->fn != NULL)
            w->fn(w->ctx, &e, NULL);
    }
    return err;
}

static rl_err walk_debt(void *ctx, const MDB_val *k, const MDB_val *v, rl_why *why)
{
    struct walk *w = ctx;
    fund_debt e;
    rl_err err = fund_debt_decode(&e, k->mv_data, k->mv_size, v->mv_data, v->mv_size, why);
    if (err == RL_OK) {
        fund_digest_debt(&w->dc, &e);
        if (w->fn != NULL)
            w->fn(w->ctx, NULL, &e);
    }
    return err;
}

rl_err ledger_fund_walk(MDB_txn *txn, const store *s, ledger_fund_fn fn, void *ctx, fund_summary *sum, rl_why *why)
{
    struct walk w = {.fn = fn, .ctx = ctx};
    fund_digest_init(&w.dc);
    rl_err err = store_each(txn, store_dbi(s, TABLE_INSURANCE), walk_insurance, &w, "insurance", why);
    if (err == RL_OK)
        err = store_each(txn, store_dbi(s, TABLE_BAD_DEBT), walk_debt, &w, "bad_debt", why);
    fund_summary tmp;
    fund_digest_final(&w.dc, sum != NULL ? sum : &tmp);
    return err;
}
