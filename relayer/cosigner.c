/*
 * cosigner.c - which instructions a co-signer signs (cosigner.h).
 */
#include "relayer/cosigner.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/bundle.h"
#include "attest/record.h"
#include "collateral/calc.h"

/* A decision this node's calculator reached, by the seq of its DECISION record. */
struct agreed {
    uint64_t seq;
    UT_hash_handle hh;
};

struct cosigner {
    const mg_risk *risk;
    calc_replay *cr;
    struct agreed *agreed;
};

rl_err cosigner_new(cosigner **out, const mg_risk *risk)
{
    cosigner *c = calloc(1, sizeof *c);
    if (c == NULL)
        return RL_ERR_NOMEM;
    c->risk = risk;
    rl_err err = calc_replay_new(&c->cr, risk);
    if (err != RL_OK) {
        free(c);
        return err;
    }
    *out = c;
    return RL_OK;
}

void cosigner_free(cosigner *c)
{
    if (c == NULL)
        return;
    calc_replay_free(c->cr);
    struct agreed *a, *at;
    HASH_ITER(hh, c->agreed, a, at) {
        HASH_DEL(c->agreed, a);
        free(a);
    }
    free(c);
}

/* The checks of the header comment; false with why for the first that fails. */
static bool acceptable(const cosigner *c, const instruction *in, uint64_t time_ms, uint64_t now_ms, char *why,
                       size_t cap)
{
    struct agreed *a = NULL;
    HASH_FIND(hh, c->agreed, &in->decision, sizeof in->decision, a);
    const mg_chain *ch = mg_risk_chain(c->risk, in->chain_id);
    uint64_t t = time_ms / 1000;
    if (a == NULL)
        snprintf(why, cap, "decision %llu is not one this node's calculator reached",
                 (unsigned long long)in->decision);
    else if (ch == NULL)
        snprintf(why, cap, "chain %llu has no vault in this node's risk file", (unsigned long long)in->chain_id);
    else if (memcmp(ch->vault, in->vault, EVM_ADDR_BYTES) != 0)
        snprintf(why, cap, "vault is not the one this node's risk file names for chain %llu",
                 (unsigned long long)in->chain_id);
    else if (in->kind == INSTRUCTION_SEIZE && memcmp(ch->insurance, in->recipient, EVM_ADDR_BYTES) != 0)
        snprintf(why, cap, "a seize must pay chain %llu's insurance address", (unsigned long long)in->chain_id);
    else if (in->deadline_s <= t || in->deadline_s > t + ch->deadline_s + COSIGNER_DEADLINE_SLACK_S)
        snprintf(why, cap, "deadline %llu is not within %llu s after the record's time %llu",
                 (unsigned long long)in->deadline_s, (unsigned long long)(ch->deadline_s + COSIGNER_DEADLINE_SLACK_S),
                 (unsigned long long)t);
    else if (in->deadline_s > now_ms / 1000 + ch->deadline_s + COSIGNER_DEADLINE_SLACK_S)
        snprintf(why, cap, "deadline %llu is more than %llu s after this node's clock",
                 (unsigned long long)in->deadline_s, (unsigned long long)(ch->deadline_s + COSIGNER_DEADLINE_SLACK_S));
    else
        return true;
    return false;
}

rl_err cosigner_next(cosigner *c, const uint8_t *rec, size_t len, uint64_t seq, uint64_t now_ms,
                     cosigner_step *out, rl_why *why)
{
    out->verdict = COSIGNER_NOTHING;
    out->why[0] = '\0';
    calc_replay_summary before, after;
    calc_replay_get_summary(c->cr, &before);
    rl_why w = {{0}};
    rl_err err = calc_replay_next(c->cr, rec, len, &w);
    if (err == RL_ERR_STATE) { /* a decision this node does not reach */
        out->verdict = COSIGNER_NOT_REPRODUCED;
        snprintf(out->why, sizeof out->why, "%s", w.text);
        return RL_OK;
    }
    if (err != RL_OK) {
        *why = w;
        return err;
    }
    record r;
    if (record_decode(&r, rec, len, NULL) != RL_OK)
        return RL_OK; /* the calculator took it: unreachable */
    calc_replay_get_summary(c->cr, &after);
    if (r.type == RECORD_DECISION && after.reproduced > before.reproduced) {
        struct agreed *a = calloc(1, sizeof *a);
        if (a == NULL)
            return RL_ERR_NOMEM;
        a->seq = seq;
        HASH_ADD(hh, c->agreed, seq, sizeof a->seq, a);
    } else if (r.type == RECORD_INSTRUCTION) {
        if (instruction_decode(&out->in, r.payload, r.payload_len, NULL) != RL_OK)
            return RL_OK; /* the replica's ledger accepted it: unreachable */
        if (acceptable(c, &out->in, r.time_ms, now_ms, out->why, sizeof out->why)) {
            instruction_digest(out->digest, &out->in);
            out->verdict = COSIGNER_SIGN;
        } else {
            out->verdict = COSIGNER_REFUSE;
        }
    } else if (r.type == RECORD_BUNDLE) {
        bundle b;
        if (bundle_decode(&b, r.payload, r.payload_len, NULL) == RL_OK) {
            out->verdict = COSIGNER_BUNDLED;
            out->bundled = b.instruction;
        }
    }
    return RL_OK;
}
