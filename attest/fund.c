/*
 * fund.c - the insurance fund's and bad debt's entries and digest (fund.h).
 */
#include "attest/fund.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/bytes.h"

#define I128_MAX ((__int128)(((unsigned __int128)1 << 127) - 1))

void fund_ins_key(uint8_t k[FUND_INS_KEY_BYTES], uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES])
{
    be64_put(k, chain_id);
    memcpy(k + 8, asset, EVM_ADDR_BYTES);
}

void fund_ins_encode(uint8_t v[FUND_INS_VAL_BYTES], const fund_insurance *e)
{
    u256_to_be(v, &e->amount);
    be64_put(v + U256_BYTES, e->seizes);
}

rl_err fund_ins_decode(fund_insurance *e, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen, rl_why *why)
{
    if (klen != FUND_INS_KEY_BYTES || vlen != FUND_INS_VAL_BYTES)
        return rl_fail(why, RL_ERR_DB, "insurance fund entry of %zu + %zu bytes, expected %d + %d", klen, vlen,
                       FUND_INS_KEY_BYTES, FUND_INS_VAL_BYTES);
    e->chain_id = be64_get(k);
    memcpy(e->asset, k + 8, EVM_ADDR_BYTES);
    e->amount = u256_from_be(v);
    e->seizes = be64_get(v + U256_BYTES);
    return RL_OK;
}

rl_err fund_ins_credit(fund_insurance *e, const u256 *amount, rl_why *why)
{
    u256 after;
    if (u256_add(&after, &e->amount, amount) != RL_OK || e->seizes == UINT64_MAX)
        return rl_fail(why, RL_ERR_OVERFLOW, "insurance fund of chain %llu overflows", (unsigned long long)e->chain_id);
    e->amount = after;
    e->seizes++;
    return RL_OK;
}

void fund_debt_encode(uint8_t v[FUND_DEBT_VAL_BYTES], const fund_debt *e)
{
    be128_put(v, (unsigned __int128)e->closed_u);
    be128_put(v + 16, (unsigned __int128)e->open_u);
    be64_put(v + 32, e->open_seq);
}

rl_err fund_debt_decode(fund_debt *e, const uint8_t *k, size_t klen, const uint8_t *v, size_t vlen, rl_why *why)
{
    if (klen != FUND_DEBT_KEY_BYTES || vlen != FUND_DEBT_VAL_BYTES)
        return rl_fail(why, RL_ERR_DB, "bad debt entry of %zu + %zu bytes, expected %d + %d", klen, vlen,
                       FUND_DEBT_KEY_BYTES, FUND_DEBT_VAL_BYTES);
    memcpy(e->account, k, EVM_ADDR_BYTES);
    e->closed_u = (__int128)be128_get(v);
    e->open_u = (__int128)be128_get(v + 16);
    e->open_seq = be64_get(v + 32);
    if (e->closed_u < 0 || e->open_u < 0 || e->closed_u > I128_MAX - e->open_u)
        return rl_fail(why, RL_ERR_DB, "bad debt entry out of range");
    return RL_OK;
}

rl_err fund_debt_on_decision(fund_debt *e, const decision *d, uint64_t seq, bool *changed, rl_why *why)
{
    fund_debt n = *e;
    memcpy(n.account, d->account, EVM_ADDR_BYTES);
    if (d->kind == DECISION_LIQUIDATE) {
        /* Opens the episode, or replaces its shortfall with the newer decision's. */
        if (d->bad_debt_u > I128_MAX - n.closed_u)
            return rl_fail(why, RL_ERR_OVERFLOW, "bad debt of the account overflows 128 bits");
        n.open_u = d->bad_debt_u;
        n.open_seq = seq;
    } else if (d->kind == DECISION_MARGIN_CALL || d->kind == DECISION_HEALTHY) {
        n.closed_u += n.open_u; /* fits: the sum was checked when open_u was set */
        n.open_u = 0;
        n.open_seq = 0;
    }
    *changed = memcmp(&n, e, sizeof n) != 0;
    *e = n;
    return RL_OK;
}

__int128 fund_debt_total(const fund_debt *e) { return e->closed_u + e->open_u; }

void fund_digest_init(fund_digest_ctx *c)
{
    memset(c, 0, sizeof *c);
    hash_init(&c->h, HASH_DOMAIN_FUND);
}

void fund_digest_insurance(fund_digest_ctx *c, const fund_insurance *e)
{
    uint8_t b[1 + FUND_INS_KEY_BYTES + FUND_INS_VAL_BYTES];
    b[0] = 'I';
    fund_ins_key(b + 1, e->chain_id, e->asset);
    fund_ins_encode(b + 1 + FUND_INS_KEY_BYTES, e);
    hash_update(&c->h, b, sizeof b);
    c->sum.insurance_holdings++;
    c->sum.seizes += e->seizes;
}

void fund_digest_debt(fund_digest_ctx *c, const fund_debt *e)
{
    uint8_t b[1 + FUND_DEBT_KEY_BYTES + FUND_DEBT_VAL_BYTES];
    b[0] = 'D';
    memcpy(b + 1, e->account, EVM_ADDR_BYTES);
    fund_debt_encode(b + 1 + FUND_DEBT_KEY_BYTES, e);
    hash_update(&c->h, b, sizeof b);
    c->sum.debt_accounts++;
    __int128 t = fund_debt_total(e); /* an account's total fits; the sum of many saturates */
    c->sum.debt_u = t > I128_MAX - c->sum.debt_u ? I128_MAX : c->sum.debt_u + t;
}

void fund_digest_final(fund_digest_ctx *c, fund_summary *out)
{
    hash_final(&c->h, c->sum.digest);
    *out = c->sum;
}

/* ---- in memory (audit verify) ---- */

struct book_entry {
    uint8_t key[FUND_INS_KEY_BYTES]; /* insurance key, or the account in the first 20 bytes */
    fund_insurance ins;
    fund_debt debt;
    UT_hash_handle hh;
};

struct fund_book {
    struct book_entry *ins, *debt;
};

rl_err fund_book_new(fund_book **out)
{
    *out = calloc(1, sizeof **out);
    return *out == NULL ? RL_ERR_NOMEM : RL_OK;
}

static void book_clear(struct book_entry **head)
{
    struct book_entry *e, *t;
    HASH_ITER(hh, *head, e, t) {
        HASH_DEL(*head, e);
        free(e);
    }
}

void fund_book_free(fund_book *b)
{
    if (b == NULL)
        return;
    book_clear(&b->ins);
    book_clear(&b->debt);
    free(b);
}

static struct book_entry *book_slot(struct book_entry **head, const uint8_t *key, size_t len)
{
    struct book_entry *e = NULL;
    HASH_FIND(hh, *head, key, len, e);
    if (e != NULL || (e = calloc(1, sizeof *e)) == NULL)
        return e;
    memcpy(e->key, key, len);
    HASH_ADD(hh, *head, key, len, e);
    return e;
}

rl_err fund_book_seize(fund_book *b, uint64_t chain_id, const uint8_t asset[EVM_ADDR_BYTES], const u256 *amount,
                       rl_why *why)
{
    uint8_t k[FUND_INS_KEY_BYTES];
    fund_ins_key(k, chain_id, asset);
    struct book_entry *e = NULL;
    HASH_FIND(hh, b->ins, k, sizeof k, e);
    fund_insurance cur;
    memset(&cur, 0, sizeof cur);
    cur.chain_id = chain_id;
    memcpy(cur.asset, asset, EVM_ADDR_BYTES);
    if (e != NULL)
        cur = e->ins;
    rl_err err = fund_ins_credit(&cur, amount, why); /* a credit that fails leaves no entry behind */
    if (err != RL_OK)
        return err;
    if (e == NULL && (e = book_slot(&b->ins, k, sizeof k)) == NULL)
        return RL_ERR_NOMEM;
    e->ins = cur;
    return RL_OK;
}

rl_err fund_book_decision(fund_book *b, const decision *d, uint64_t seq, rl_why *why)
{
    struct book_entry *e = NULL;
    HASH_FIND(hh, b->debt, d->account, EVM_ADDR_BYTES, e);
    fund_debt cur;
    memset(&cur, 0, sizeof cur);
    memcpy(cur.account, d->account, EVM_ADDR_BYTES);
    if (e != NULL)
        cur = e->debt;
    bool changed;
    rl_err err = fund_debt_on_decision(&cur, d, seq, &changed, why);
    if (err != RL_OK || !changed)
        return err;
    if (fund_debt_total(&cur) == 0) { /* as the ledger: an entry exists while there is bad debt */
        if (e != NULL) {
            HASH_DEL(b->debt, e);
            free(e);
        }
        return RL_OK;
    }
    if (e == NULL && (e = book_slot(&b->debt, d->account, EVM_ADDR_BYTES)) == NULL)
        return RL_ERR_NOMEM;
    e->debt = cur;
    return RL_OK;
}

static int entry_cmp(const void *x, const void *y)
{
    return memcmp((*(struct book_entry *const *)x)->key, (*(struct book_entry *const *)y)->key, FUND_INS_KEY_BYTES);
}

/* The entries of head sorted by key (the debt table's keys are zero-padded past 20 bytes, so
 * comparing FUND_INS_KEY_BYTES orders them as the ledger's 20-byte keys). *out: caller frees. */
static rl_err book_sorted(struct book_entry *head, struct book_entry ***out, size_t *n)
{
    *n = HASH_COUNT(head);
    *out = malloc((*n ? *n : 1) * sizeof **out);
    if (*out == NULL)
        return RL_ERR_NOMEM;
    size_t i = 0;
    for (struct book_entry *e = head; e != NULL; e = e->hh.next)
        (*out)[i++] = e;
    qsort(*out, *n, sizeof **out, entry_cmp);
    return RL_OK;
}

rl_err fund_book_summary(const fund_book *b, fund_summary *out)
{
    struct book_entry **ins = NULL, **debt = NULL;
    size_t ni = 0, nd = 0;
    rl_err err = book_sorted(b->ins, &ins, &ni);
    if (err == RL_OK)
        err = book_sorted(b->debt, &debt, &nd);
    if (err == RL_OK) {
        fund_digest_ctx c;
        fund_digest_init(&c);
        for (size_t i = 0; i < ni; i++)
            fund_digest_insurance(&c, &ins[i]->ins);
        for (size_t i = 0; i < nd; i++)
            fund_digest_debt(&c, &debt[i]->debt);
        fund_digest_final(&c, out);
    }
    free(ins);
    free(debt);
    return err;
}
