/*
 * hubcosig.c - signatures of instructions, and bundles once a quorum signed (hubcosig.h).
 */
#include "relayer/hubcosig.h"

#include <stdlib.h>
#include <string.h>

#include "attest/vec.h"
#include "db/ledger.h"

struct pending {
    uint64_t seq;
    uint8_t digest[HASH_BYTES];
    bundle b;             /* the signatures so far, one per member */
    uint8_t signer[RELSET_MAX_MEMBERS][EVM_ADDR_BYTES]; /* the address each one recovered */
    uint64_t handed_ms;   /* 0: not handed out yet */
};

struct hubcosig {
    uint64_t retry_ms;
    struct pending *p;
    size_t n, cap;
};

rl_err hubcosig_new(hubcosig **out, uint64_t retry_ms)
{
    hubcosig *h = calloc(1, sizeof *h);
    if (h == NULL)
        return RL_ERR_NOMEM;
    h->retry_ms = retry_ms;
    *out = h;
    return RL_OK;
}

void hubcosig_free(hubcosig *h)
{
    if (h == NULL)
        return;
    free(h->p);
    free(h);
}

size_t hubcosig_waiting(const hubcosig *h) { return h->n; }

static bool bundled(MDB_txn *txn, const store *s, uint64_t seq)
{
    uint8_t key[HASH_BYTES];
    uint64_t at;
    bundle_key(key, seq);
    return ledger_key_get(txn, s, key, &at) == RL_OK;
}

static struct pending *find(hubcosig *h, uint64_t seq)
{
    for (size_t i = 0; i < h->n; i++)
        if (h->p[i].seq == seq)
            return &h->p[i];
    return NULL;
}

/* A new entry for the instruction at seq, with its digest. */
static rl_err open_entry(hubcosig *h, MDB_txn *txn, const store *s, uint64_t seq, struct pending **out, rl_why *why)
{
    MDB_val v;
    record r;
    instruction in;
    if (ledger_record_get(txn, s, seq, &v, NULL) != RL_OK || record_decode(&r, v.mv_data, v.mv_size, NULL) != RL_OK ||
        r.type != RECORD_INSTRUCTION || instruction_decode(&in, r.payload, r.payload_len, NULL) != RL_OK)
        return rl_fail(why, RL_ERR_STATE, "record %llu is not a logged instruction", (unsigned long long)seq);
    if (bundled(txn, s, seq))
        return rl_fail(why, RL_ERR_STATE, "instruction %llu is bundled already", (unsigned long long)seq);
    if (!vec_reserve((void **)&h->p, &h->cap, h->n + 1, sizeof *h->p, 16))
        return RL_ERR_NOMEM;
    struct pending *p = &h->p[h->n++];
    memset(p, 0, sizeof *p);
    p->seq = seq;
    p->b.instruction = seq;
    instruction_digest(p->digest, &in);
    *out = p;
    return RL_OK;
}

rl_err hubcosig_offer(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t seq, uint16_t member,
                      const uint8_t sig[EVM_SIG_BYTES], rl_why *why)
{
    const relset_member *m = relset_find(set, member);
    if (m == NULL)
        return rl_fail(why, RL_ERR_SIGNER, "member %u is not in relayer set version %u", member, set->version);
    struct pending *p = find(h, seq);
    rl_err err = p == NULL ? open_entry(h, txn, s, seq, &p, why) : RL_OK;
    if (err != RL_OK)
        return err;
    uint8_t addr[EVM_ADDR_BYTES];
    if (evm_recover(addr, p->digest, sig) != RL_OK || memcmp(addr, m->pub.evm, EVM_ADDR_BYTES) != 0)
        return rl_fail(why, RL_ERR_SIG, "signature of instruction %llu by member %u does not recover its address",
                       (unsigned long long)seq, member);
    for (unsigned i = 0; i < p->b.n; i++)
        if (p->b.e[i].member == member)
            return RL_OK; /* a resend */
    if (p->b.n == RELSET_MAX_MEMBERS)
        return RL_OK;
    memcpy(p->signer[p->b.n], addr, EVM_ADDR_BYTES);
    p->b.e[p->b.n].member = member;
    memcpy(p->b.e[p->b.n].sig, sig, EVM_SIG_BYTES);
    p->b.n++;
    return RL_OK;
}

bool hubcosig_due(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t now_ms, bundle *out)
{
    for (size_t i = 0; i < h->n; i++) {
        struct pending *p = &h->p[i];
        if (bundled(txn, s, p->seq)) { /* done: drop it */
            h->p[i--] = h->p[--h->n];
            continue;
        }
        /* Signers no longer in the set with that key (a rotation) do not count. */
        bundle b = {.instruction = p->seq};
        for (unsigned k = 0; k < p->b.n; k++) {
            const relset_member *m = relset_find(set, p->b.e[k].member);
            if (m != NULL && memcmp(p->signer[k], m->pub.evm, EVM_ADDR_BYTES) == 0)
                b.e[b.n++] = p->b.e[k];
        }
        if (b.n < set->threshold || (p->handed_ms != 0 && now_ms - p->handed_ms < h->retry_ms))
            continue;
        bundle_sort(&b, set);
        b.n = (uint8_t)set->threshold;
        p->handed_ms = now_ms;
        *out = b;
        return true;
    }
    return false;
}
