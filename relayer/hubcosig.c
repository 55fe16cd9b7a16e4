/*
 * hubcosig.c - signatures of instructions, and bundles once a quorum signed (hubcosig.h).
 */
#include "relayer/hubcosig.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/pool.h"
#include "db/ledger.h"

struct pending {
    uint64_t seq;
    uint8_t digest[HASH_BYTES];
    bundle b;             /* the signatures so far, one per member */
    uint8_t signer[RELSET_MAX_MEMBERS][EVM_ADDR_BYTES]; /* the address each one recovered */
    uint64_t handed_ms;   /* 0: not handed out yet */
    uint64_t deadline_s;  /* the instruction's */
    uint64_t since_ms;    /* waited for since (0: not stamped yet: the next short scan does) */
    uint64_t alert_ms;    /* the next alert while short of the threshold (0: after alert_ms) */
    unsigned alerts;
    uint8_t planned;      /* hubcosig_offer_many: signatures being checked for it this round */
    UT_hash_handle hh;    /* by seq; iterated in the order instructions were first offered */
};

struct hubcosig {
    uint64_t retry_ms;
    struct pending *p;
    struct pending *next_due; /* where hubcosig_due's pass goes on (NULL: from the start) */
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
    struct pending *p, *t;
    HASH_ITER(hh, h->p, p, t) {
        HASH_DEL(h->p, p);
        free(p);
    }
    free(h);
}

size_t hubcosig_waiting(const hubcosig *h) { return HASH_COUNT(h->p); }

size_t hubcosig_unsigned(const hubcosig *h)
{
    size_t n = 0;
    for (const struct pending *p = h->p; p != NULL; p = p->hh.next)
        n += p->handed_ms == 0;
    return n;
}

static bool bundled(MDB_txn *txn, const store *s, uint64_t seq)
{
    uint8_t key[HASH_BYTES];
    uint64_t at;
    bundle_key(key, seq);
    return ledger_key_get(txn, s, key, &at) == RL_OK;
}

static struct pending *find(hubcosig *h, uint64_t seq)
{
    struct pending *p = NULL;
    HASH_FIND(hh, h->p, &seq, sizeof seq, p);
    return p;
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
    struct pending *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    p->seq = seq;
    p->b.instruction = seq;
    p->deadline_s = in.deadline_s;
    instruction_digest(p->digest, &in);
    HASH_ADD(hh, h->p, seq, sizeof p->seq, p);
    *out = p;
    return RL_OK;
}

/* The entry of the instruction at seq, opened if new (RL_ERR_STATE: not an instruction, or
 * bundled already). */
static rl_err entry(hubcosig *h, MDB_txn *txn, const store *s, uint64_t seq, struct pending **out, rl_why *why)
{
    *out = find(h, seq);
    return *out == NULL ? open_entry(h, txn, s, seq, out, why) : RL_OK;
}

/* The digest members sign for the instruction at seq (as entry()). */
static rl_err digest_of(hubcosig *h, MDB_txn *txn, const store *s, uint64_t seq, uint8_t digest[HASH_BYTES],
                        rl_why *why)
{
    struct pending *p;
    rl_err err = entry(h, txn, s, seq, &p, why);
    if (err == RL_OK)
        memcpy(digest, p->digest, HASH_BYTES);
    return err;
}

bool hubcosig_check(const uint8_t digest[HASH_BYTES], const uint8_t sig[EVM_SIG_BYTES],
                    const uint8_t addr[EVM_ADDR_BYTES])
{
    uint8_t got[EVM_ADDR_BYTES];
    return evm_recover(got, digest, sig) == RL_OK && memcmp(got, addr, EVM_ADDR_BYTES) == 0;
}

/* The entry of member's signature in p, or -1. */
static int entry_of(const struct pending *p, uint16_t member)
{
    for (unsigned i = 0; i < p->b.n; i++)
        if (p->b.e[i].member == member)
            return (int)i;
    return -1;
}

/* Whether entry i was signed by its member's key in set: after a rotation that gave the member
 * another key, or took it out, an earlier signature counts for nothing. */
static bool current(const struct pending *p, const relset *set, unsigned i)
{
    const relset_member *m = relset_find(set, p->b.e[i].member);
    return m != NULL && memcmp(p->signer[i], m->pub.evm, EVM_ADDR_BYTES) == 0;
}

static unsigned current_signers(const struct pending *p, const relset *set)
{
    unsigned n = 0;
    for (unsigned i = 0; i < p->b.n; i++)
        n += current(p, set, i);
    return n;
}

/* Takes a signature the caller checked against member's address in set (no second recovery). */
static rl_err offer_checked(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t seq,
                            uint16_t member, const uint8_t sig[EVM_SIG_BYTES], rl_why *why)
{
    const relset_member *m = relset_find(set, member);
    if (m == NULL)
        return rl_fail(why, RL_ERR_SIGNER, "member %u is not in relayer set version %u", member, set->version);
    struct pending *p;
    rl_err err = entry(h, txn, s, seq, &p, why);
    if (err != RL_OK)
        return err;
    int at = entry_of(p, member);
    if (at >= 0 && current(p, set, (unsigned)at))
        return RL_OK; /* a resend */
    if (at < 0 && p->b.n == RELSET_MAX_MEMBERS)
        return RL_OK;
    unsigned i = at >= 0 ? (unsigned)at : p->b.n++; /* a signature by the member's old key is replaced */
    memcpy(p->signer[i], m->pub.evm, EVM_ADDR_BYTES);
    p->b.e[i].member = member;
    memcpy(p->b.e[i].sig, sig, EVM_SIG_BYTES);
    return RL_OK;
}

/* One signature checked on a worker thread. */
struct check {
    size_t at; /* index into the caller's array */
    uint8_t digest[HASH_BYTES];
    uint8_t addr[EVM_ADDR_BYTES];
    const uint8_t *sig;
    bool ok;
};

static void check_fn(void *ctx, size_t begin, size_t end)
{
    struct check *c = ctx;
    for (size_t i = begin; i < end; i++)
        c[i].ok = hubcosig_check(c[i].digest, c[i].sig, c[i].addr);
}

rl_err hubcosig_offer_many(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, pool *p, hubcosig_sig *sigs,
                           size_t n)
{
    struct check *c = malloc((n ? n : 1) * sizeof *c);
    bool *open = calloc(n ? n : 1, sizeof *open); /* not decided yet */
    if (c == NULL || open == NULL) {
        free(c);
        free(open);
        return RL_ERR_NOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        rl_why why = {{0}};
        uint8_t digest[HASH_BYTES];
        sigs[i].result = relset_find(set, sigs[i].member) == NULL ? RL_ERR_SIGNER
                                                                   : digest_of(h, txn, s, sigs[i].seq, digest, &why);
        if (sigs[i].result == RL_ERR_NOMEM) {
            free(c);
            free(open);
            return RL_ERR_NOMEM;
        }
        open[i] = sigs[i].result == RL_OK;
    }
    /* Rounds: each checks, per instruction, only as many signatures as its bundle still needs;
     * a failed one lets the next round check another. */
    for (;;) {
        size_t nc = 0;
        for (size_t i = 0; i < n; i++) {
            if (!open[i])
                continue;
            struct pending *e = find(h, sigs[i].seq);
            int at = entry_of(e, sigs[i].member);
            if (at >= 0 && current(e, set, (unsigned)at)) { /* a resend of one taken */
                open[i] = false;
                continue;
            }
            if (current_signers(e, set) + e->planned >= set->threshold)
                continue; /* enough being checked or taken: maybe next round */
            e->planned++;
            c[nc].at = i;
            memcpy(c[nc].digest, e->digest, HASH_BYTES);
            memcpy(c[nc].addr, relset_find(set, sigs[i].member)->pub.evm, EVM_ADDR_BYTES);
            c[nc].sig = sigs[i].sig;
            nc++;
        }
        if (nc == 0)
            break;
        if (p != NULL)
            pool_run(p, check_fn, c, nc, 16);
        else
            check_fn(c, 0, nc);
        for (size_t k = 0; k < nc; k++) {
            hubcosig_sig *x = &sigs[c[k].at];
            struct pending *e = find(h, x->seq);
            e->planned = 0;
            open[c[k].at] = false;
            rl_why why = {{0}};
            x->result = c[k].ok ? offer_checked(h, txn, s, set, x->seq, x->member, x->sig, &why) : RL_ERR_SIG;
        }
    }
    for (size_t i = 0; i < n; i++)
        if (open[i]) /* its instruction has its quorum of checked signatures */
            sigs[i].result = RL_ERR_DUPLICATE;
    free(c);
    free(open);
    return RL_OK;
}

/* One pass over the entries per run of calls (each call goes on where the last one stopped),
 * so handing out n bundles costs one pass, not n. Entries leave here once bundled, and in
 * hubcosig_short_scan an hour past their deadline. */
bool hubcosig_due(hubcosig *h, MDB_txn *txn, const store *s, const relset *set, uint64_t now_ms, bundle *out)
{
    struct pending *p, *next;
    for (p = h->next_due ? h->next_due : h->p; p != NULL; p = next) {
        next = p->hh.next;
        /* Only this hub logs bundles and open_entry saw none: one not handed out is not bundled.
         * One handed out is looked up once its retry is due, not on every call. */
        if (p->handed_ms != 0 && now_ms - p->handed_ms < h->retry_ms)
            continue;
        if (p->handed_ms != 0 && bundled(txn, s, p->seq)) { /* done: drop it */
            HASH_DEL(h->p, p);
            free(p);
            continue;
        }
        /* Signers no longer in the set with that key (a rotation) do not count. */
        bundle b = {.instruction = p->seq};
        for (unsigned k = 0; k < p->b.n; k++)
            if (current(p, set, k))
                b.e[b.n++] = p->b.e[k];
        if (b.n < set->threshold)
            continue;
        bundle_sort(&b, set);
        b.n = (uint8_t)set->threshold;
        p->handed_ms = now_ms;
        *out = b;
        h->next_due = next;
        return true;
    }
    h->next_due = NULL;
    return false;
}

rl_err hubcosig_watch(hubcosig *h, MDB_txn *txn, const store *s, uint64_t seq, uint64_t now_ms, rl_why *why)
{
    if (find(h, seq) == NULL && bundled(txn, s, seq))
        return RL_OK; /* nothing to wait for */
    struct pending *p;
    rl_err err = entry(h, txn, s, seq, &p, why);
    if (err == RL_OK && p->since_ms == 0)
        p->since_ms = now_ms;
    return err;
}

size_t hubcosig_short_scan(hubcosig *h, const relset *set, uint64_t now_ms, uint64_t now_s, uint64_t alert_ms,
                           hubcosig_short_fn fn, void *ctx)
{
    size_t n = 0;
    struct pending *p, *t;
    HASH_ITER(hh, h->p, p, t) {
        if (p->deadline_s + HUBCOSIG_DROP_AFTER_S < now_s) { /* no vault takes it now: the expiry's turn */
            if (h->next_due == p) /* hubcosig_due's pass goes on after it */
                h->next_due = p->hh.next;
            HASH_DEL(h->p, p);
            free(p);
            continue;
        }
        if (p->since_ms == 0)
            p->since_ms = now_ms;
        hubcosig_short sh = {.seq = p->seq, .need = set->threshold, .waited_ms = now_ms - p->since_ms};
        for (unsigned i = 0; i < p->b.n; i++)
            if (current(p, set, i))
                sh.signed_by[sh.have++] = p->b.e[i].member;
        if (sh.have >= sh.need || p->deadline_s < now_s || sh.waited_ms < alert_ms)
            continue;
        n++;
        if (p->alert_ms > now_ms)
            continue;
        sh.alert = ++p->alerts;
        uint64_t gap = alert_ms << (p->alerts < 16 ? p->alerts : 16);
        p->alert_ms = now_ms + (gap < HUBCOSIG_ALERT_MAX_GAP_MS ? gap : HUBCOSIG_ALERT_MAX_GAP_MS);
        fn(ctx, &sh);
    }
    return n;
}
