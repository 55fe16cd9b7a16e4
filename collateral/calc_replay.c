/*
 * calc_replay.c - re-deriving logged decisions with the calculator (calc.h, "Re-deriving
 * decisions"): a calculator fed every record keeps its own decisions by key, and each DECISION
 * record met must equal the one made at its basis. Apart from calc.c, which holds the state
 * machine, because it only uses the calculator through calc.h.
 */
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/hex.h"
#include "attest/record.h"
#include "collateral/calc.h"

struct seen_decision {
    uint8_t key[HASH_BYTES];
    size_t len;
    uint8_t body[DECISION_MAX_BYTES];
    UT_hash_handle hh;
};

struct calc_replay {
    calc *c;
    struct seen_decision *made;
    calc_replay_summary sum;
    rl_err err;
};

static void replay_emit(void *ctx, const decision *d)
{
    calc_replay *r = ctx;
    struct seen_decision *s = calloc(1, sizeof *s);
    if (s == NULL || decision_encode_body(s->body, &s->len, d, NULL) != RL_OK) {
        free(s);
        r->err = RL_ERR_NOMEM;
        return;
    }
    decision_key(s->key, d);
    HASH_ADD(hh, r->made, key, HASH_BYTES, s);
    r->sum.not_logged++;
}

rl_err calc_replay_new(calc_replay **out, const mg_risk *risk)
{
    calc_replay *r = calloc(1, sizeof *r);
    if (r == NULL)
        return RL_ERR_NOMEM;
    rl_err err = calc_new(&r->c, risk, replay_emit, r, NULL, NULL);
    if (err != RL_OK) {
        free(r);
        return err;
    }
    *out = r;
    return RL_OK;
}

void calc_replay_free(calc_replay *r)
{
    if (r == NULL)
        return;
    struct seen_decision *s, *t;
    HASH_ITER(hh, r->made, s, t) {
        HASH_DEL(r->made, s);
        free(s);
    }
    calc_free(r->c);
    free(r);
}

calc *calc_replay_calc(calc_replay *r) { return r->c; }
void calc_replay_get_summary(const calc_replay *r, calc_replay_summary *out) { *out = r->sum; }

/* Compares a logged decision with ours at its basis. */
static rl_err compare(calc_replay *r, const uint8_t *payload, size_t len, rl_why *why)
{
    decision *d = malloc(sizeof *d), *mine = malloc(sizeof *mine);
    uint8_t *body = malloc(DECISION_MAX_BYTES);
    rl_err err = d == NULL || mine == NULL || body == NULL ? RL_ERR_NOMEM : decision_decode(d, payload, len, why);
    if (err != RL_OK)
        goto done;
    r->sum.logged++;
    char hex[43];
    if (memcmp(d->risk, calc_risk(r->c)->digest, HASH_BYTES) != 0) {
        char logged[2 * HASH_BYTES + 1], given[2 * HASH_BYTES + 1];
        r->sum.other_risk++;
        err = rl_fail(why, RL_ERR_STATE,
                      "%s of %s based on record %llu was made under risk parameters %s, not the ones given (%s): "
                      "it cannot be checked",
                      decision_kind_name(d->kind), evm_addr_to_hex(d->account, hex), (unsigned long long)d->basis,
                      hex_encode(logged, d->risk, HASH_BYTES), hex_encode(given, calc_risk(r->c)->digest, HASH_BYTES));
        goto done;
    }
    uint8_t key[HASH_BYTES];
    decision_key(key, d);
    struct seen_decision *s = NULL;
    HASH_FIND(hh, r->made, key, HASH_BYTES, s);
    if (s == NULL) {
        err = rl_fail(why, RL_ERR_STATE, "%s of %s based on record %llu: the calculator reached no such decision there",
                      decision_kind_name(d->kind), evm_addr_to_hex(d->account, hex), (unsigned long long)d->basis);
        goto done;
    }
    size_t blen;
    memset(d->calculator, 0, ED25519_PK_BYTES); /* the signer may differ; everything else must not */
    if ((err = decision_encode_body(body, &blen, d, why)) != RL_OK)
        goto done;
    if (blen != s->len || memcmp(body, s->body, blen) != 0) {
        char e1[FIXED_STR_MAX], e2[FIXED_STR_MAX];
        memcpy(body, s->body, s->len);
        memset(body + s->len, 0, ED25519_SIG_BYTES);
        if (decision_decode(mine, body, s->len + ED25519_SIG_BYTES, NULL) != RL_OK)
            memset(mine, 0, sizeof *mine);
        err = rl_fail(why, RL_ERR_STATE,
                      "%s of %s based on record %llu differs from the calculator's: equity %s logged, %s "
                      "recomputed; %u seizes logged, %u recomputed",
                      decision_kind_name(d->kind), evm_addr_to_hex(d->account, hex), (unsigned long long)d->basis,
                      fixed_format_i128(d->equity_u, FIXED_U_DIGITS, true, e1),
                      fixed_format_i128(mine->equity_u, FIXED_U_DIGITS, true, e2), d->nseize, mine->nseize);
        goto done;
    }
    r->sum.reproduced++;
    r->sum.not_logged--;
    HASH_DEL(r->made, s);
    free(s);
done:
    free(d);
    free(mine);
    free(body);
    return err;
}

rl_err calc_replay_next(calc_replay *r, const uint8_t *enc, size_t len, rl_why *why)
{
    rl_err err = calc_apply(r->c, enc, len, why);
    if (err == RL_OK && r->err != RL_OK)
        err = r->err;
    if (err != RL_OK)
        return err;
    record rec;
    if ((err = record_decode(&rec, enc, len, why)) != RL_OK || rec.type != RECORD_DECISION)
        return err;
    return compare(r, rec.payload, rec.payload_len, why);
}
