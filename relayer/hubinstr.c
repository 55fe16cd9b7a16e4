/*
 * hubinstr.c - INSTRUCTION records from the ledger's plans (hubinstr.h).
 */
#include "relayer/hubinstr.h"

#include <stdlib.h>
#include <string.h>

#include "attest/vec.h"
#include "db/ledger.h"
#include "relayer/log.h"

/* A plan whose instruction was handed to ingest and is not in the ledger yet. */
struct flight {
    uint8_t key[INSTRUCTION_PLAN_KEY_BYTES];
    uint64_t since_ms;
};

/* The highest nonce handed out per vault (the ledger's may lag behind it). */
struct issued {
    uint64_t chain_id;
    uint8_t vault[EVM_ADDR_BYTES];
    uint64_t nonce;
};

struct hubinstr {
    const mg_risk *risk;
    uint64_t retry_ms;
    struct flight *flights;
    size_t nflights, capflights;
    struct issued *issued;
    size_t nissued, capissued;
    uint64_t *warned; /* chain ids without a vault, said once */
    size_t nwarned, capwarned;
    /* one scan's plans */
    instruction_plan *plans;
    uint8_t *attempts;
    uint8_t (*keys)[INSTRUCTION_PLAN_KEY_BYTES]; /* each plan's key, hashed once per scan */
    size_t nplans, capplans, capattempts, capkeys;
    bool nomem;
};

rl_err hubinstr_new(hubinstr **out, const mg_risk *risk, uint64_t retry_ms)
{
    hubinstr *h = calloc(1, sizeof *h);
    if (h == NULL)
        return RL_ERR_NOMEM;
    h->risk = risk;
    h->retry_ms = retry_ms;
    *out = h;
    return RL_OK;
}

void hubinstr_free(hubinstr *h)
{
    if (h == NULL)
        return;
    free(h->flights);
    free(h->issued);
    free(h->warned);
    free(h->plans);
    free(h->attempts);
    free(h->keys);
    free(h);
}

static int collect(void *ctx, const instruction_plan *p, uint8_t attempt)
{
    hubinstr *h = ctx;
    if (!vec_reserve((void **)&h->plans, &h->capplans, h->nplans + 1, sizeof *h->plans, 16) ||
        !vec_reserve((void **)&h->attempts, &h->capattempts, h->nplans + 1, 1, 16) ||
        !vec_reserve((void **)&h->keys, &h->capkeys, h->nplans + 1, sizeof *h->keys, 16)) {
        h->nomem = true;
        return 1;
    }
    h->attempts[h->nplans] = attempt;
    instruction_plan_key(h->keys[h->nplans], p->decision, p->index, attempt);
    h->plans[h->nplans++] = *p;
    return 0;
}

static void warn_once(hubinstr *h, uint64_t chain_id)
{
    for (size_t i = 0; i < h->nwarned; i++)
        if (h->warned[i] == chain_id)
            return;
    if (vec_reserve((void **)&h->warned, &h->capwarned, h->nwarned + 1, sizeof *h->warned, 4))
        h->warned[h->nwarned++] = chain_id;
    log_warn("instructions waiting: no vault for the chain in the hub's risk file", "chain_id=%llu",
             (unsigned long long)chain_id);
}

static struct flight *flight_find(hubinstr *h, const uint8_t key[INSTRUCTION_PLAN_KEY_BYTES])
{
    for (size_t i = 0; i < h->nflights; i++)
        if (memcmp(h->flights[i].key, key, INSTRUCTION_PLAN_KEY_BYTES) == 0)
            return &h->flights[i];
    return NULL;
}

/* Drops flights whose plans are gone from the ledger (their instruction committed). */
static void prune(hubinstr *h)
{
    size_t keep = 0;
    for (size_t i = 0; i < h->nflights; i++) {
        bool due = false;
        for (size_t j = 0; j < h->nplans && !due; j++)
            due = memcmp(h->keys[j], h->flights[i].key, INSTRUCTION_PLAN_KEY_BYTES) == 0;
        if (due)
            h->flights[keep++] = h->flights[i];
    }
    h->nflights = keep;
}

static rl_err next_nonce(hubinstr *h, MDB_txn *txn, const store *s, uint64_t chain_id,
                         const uint8_t vault[EVM_ADDR_BYTES], uint64_t *nonce, rl_why *why)
{
    uint64_t last;
    rl_err err = ledger_last_nonce(txn, s, chain_id, vault, &last, why);
    if (err != RL_OK)
        return err;
    struct issued *is = NULL;
    for (size_t i = 0; i < h->nissued && is == NULL; i++)
        if (h->issued[i].chain_id == chain_id && memcmp(h->issued[i].vault, vault, EVM_ADDR_BYTES) == 0)
            is = &h->issued[i];
    if (is == NULL) {
        if (!vec_reserve((void **)&h->issued, &h->capissued, h->nissued + 1, sizeof *h->issued, 4))
            return RL_ERR_NOMEM;
        is = &h->issued[h->nissued++];
        *is = (struct issued){.chain_id = chain_id};
        memcpy(is->vault, vault, EVM_ADDR_BYTES);
    }
    is->nonce = (is->nonce > last ? is->nonce : last) + 1;
    *nonce = is->nonce;
    return RL_OK;
}

rl_err hubinstr_scan(hubinstr *h, MDB_txn *txn, const store *s, uint64_t wall_ms, uint64_t mono_ms,
                     hubinstr_emit_fn emit, void *ctx, rl_why *why)
{
    h->nplans = 0;
    h->nomem = false;
    rl_err err = ledger_plans(txn, s, collect, h, why);
    if (err == RL_OK && h->nomem)
        err = RL_ERR_NOMEM;
    if (err != RL_OK)
        return err;
    prune(h);
    for (size_t i = 0; i < h->nplans && err == RL_OK; i++) {
        const instruction_plan *p = &h->plans[i];
        const uint8_t *key = h->keys[i];
        struct flight *f = flight_find(h, key);
        if (f != NULL && mono_ms - f->since_ms < h->retry_ms)
            continue;
        const mg_chain *ch = h->risk ? mg_risk_chain(h->risk, p->chain_id) : NULL;
        if (ch == NULL) {
            warn_once(h, p->chain_id);
            continue;
        }
        uint64_t deadline_s = wall_ms / 1000 + ch->deadline_s;
        if (p->kind == INSTRUCTION_RELEASE && deadline_s > p->expiry_s)
            deadline_s = p->expiry_s; /* instruction.h I1: no later than the owner allowed */
        instruction in = {.kind = p->kind, .decision = p->decision, .index = p->index, .attempt = h->attempts[i],
                          .chain_id = p->chain_id, .amount = p->amount, .deadline_s = deadline_s};
        memcpy(in.vault, ch->vault, EVM_ADDR_BYTES);
        memcpy(in.account, p->account, EVM_ADDR_BYTES);
        memcpy(in.asset, p->asset, EVM_ADDR_BYTES);
        memcpy(in.recipient, p->kind == INSTRUCTION_RELEASE ? p->recipient : ch->insurance, EVM_ADDR_BYTES);
        if ((err = next_nonce(h, txn, s, p->chain_id, ch->vault, &in.nonce, why)) != RL_OK)
            break;
        if (f == NULL) {
            if (!vec_reserve((void **)&h->flights, &h->capflights, h->nflights + 1, sizeof *h->flights, 16))
                return RL_ERR_NOMEM;
            f = &h->flights[h->nflights++];
            memcpy(f->key, key, INSTRUCTION_PLAN_KEY_BYTES);
        }
        f->since_ms = mono_ms;
        err = emit(ctx, &in, why);
    }
    return err;
}
