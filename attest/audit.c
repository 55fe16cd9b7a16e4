/*
 * audit.c - record-by-record log checks. Event ids, vault sequence numbers and accounts seen
 * so far are kept in uthash sets so the exactly-once rules are checked without a database.
 */
#include "attest/audit.h"

#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/admit.h"
#include "attest/bundle.h"
#include "attest/bytes.h"
#include "attest/checkpoint.h"
#include "attest/decision.h"
#include "attest/fund.h"
#include "attest/instruction.h"
#include "attest/request.h"

#define VSEQ_KEY_BYTES (8 + EVM_ADDR_BYTES + 8)

struct seen_event {
    uint8_t id[HASH_BYTES];
    uint8_t content[HASH_BYTES];
    bool credited;
    bool alerted; /* a conflict record exists for it */
    UT_hash_handle hh;
};

struct seen_key {
    uint8_t key[VSEQ_KEY_BYTES]; /* vault sequence key, or an account in the first 20 bytes */
    uint8_t event[HASH_BYTES];
    UT_hash_handle hh;
};

/* A withdrawal request, kept until its decision (an approval's plan needs its recipient). */
struct seen_request {
    uint8_t key[HASH_BYTES];
    request q;
    bool refused; /* by the admission rules (admit.h A1..A5, or A6): it may not be approved */
    UT_hash_handle hh;
};

/* An instruction a logged decision calls for, until it is logged. */
struct seen_plan {
    uint8_t key[INSTRUCTION_PLAN_KEY_BYTES];
    instruction_plan p;
    UT_hash_handle hh;
};

/* An instruction logged and not bundled yet (a bundle's signatures are checked against it). */
struct seen_instruction {
    uint64_t seq;
    instruction in;
    UT_hash_handle hh;
};

/* A logged instruction whose execution is not attested yet (the ledger's reservation). */
struct seen_instr {
    uint8_t id[HASH_BYTES]; /* instruction_id */
    uint8_t account[EVM_ADDR_BYTES], asset[EVM_ADDR_BYTES];
    u256 amount;
    uint64_t seq;   /* the INSTRUCTION record */
    instruction in; /* as logged: an expiry is checked against it */
    UT_hash_handle hh;
};

/* Per account: the last admitted owner nonce (admit.h A5) and the last applied position (A6). */
struct seen_owner {
    uint8_t account[EVM_ADDR_BYTES];
    uint64_t nonce;
    admit_positions pos;
    UT_hash_handle hh;
};

/* The highest instruction nonce per vault. */
struct seen_nonce {
    uint8_t key[8 + EVM_ADDR_BYTES];
    uint64_t nonce;
    UT_hash_handle hh;
};

#define FREE_ALL(head, type)                                                                                           \
    do {                                                                                                               \
        type *e_, *t_;                                                                                                 \
        HASH_ITER(hh, head, e_, t_) {                                                                                  \
            HASH_DEL(head, e_);                                                                                        \
            free(e_);                                                                                                  \
        }                                                                                                              \
    } while (0)

struct audit {
    relset genesis;
    uint8_t cluster[HASH_BYTES]; /* the genesis set's digest: the owners' EIP-712 salt (admit.h) */
    relset set;
    uint64_t next_seq;
    uint8_t prev[HASH_BYTES];
    uint64_t prev_time_ms; /* time_ms of record next_seq - 1 (ledger.h T1) */
    struct seen_event *events;
    struct seen_key *vseqs;
    struct seen_key *accounts;
    struct seen_key *keys; /* request and decision keys: each logged once */
    struct seen_request *requests;
    struct seen_plan *plans;
    struct seen_nonce *nonces;
    struct seen_owner *owners;
    struct seen_instruction *instructions;
    struct seen_instr *instrs;
    struct seen_key *executed; /* instruction ids attested executed -> log seq (in `event`) */
    struct seen_key *expired;  /* instruction ids attested expired -> log seq (in `event`) */
    fund_book *fund;           /* the insurance fund and bad debt, as the ledger keeps them */
    uint8_t *hashes;           /* hash of record i + 1 at i * HASH_BYTES (owned) */
    size_t nhashes, caphashes;
    relset *sets;              /* sets[v - 1]: relayer set version v as installed (owned) */
    uint64_t *set_seqs;        /* set_seqs[v - 1]: the seq of the record that installed version v (owned) */
    uint32_t nsets;
    audit_summary sum;
};

rl_err audit_new(audit **out, const relset *genesis)
{
    rl_err err = relset_validate(genesis, NULL);
    if (err != RL_OK)
        return err;
    audit *a = calloc(1, sizeof *a);
    if (a == NULL)
        return RL_ERR_NOMEM;
    if (fund_book_new(&a->fund) != RL_OK) {
        free(a);
        return RL_ERR_NOMEM;
    }
    a->genesis = *genesis;
    if (admit_cluster_id(a->cluster, genesis) != RL_OK) {
        fund_book_free(a->fund);
        free(a);
        return RL_ERR_NOMEM;
    }
    a->next_seq = 1;
    *out = a;
    return RL_OK;
}

void audit_free(audit *a)
{
    if (a == NULL)
        return;
    fund_book_free(a->fund);
    FREE_ALL(a->events, struct seen_event);
    FREE_ALL(a->vseqs, struct seen_key);
    FREE_ALL(a->accounts, struct seen_key);
    FREE_ALL(a->keys, struct seen_key);
    FREE_ALL(a->requests, struct seen_request);
    FREE_ALL(a->plans, struct seen_plan);
    FREE_ALL(a->nonces, struct seen_nonce);
    FREE_ALL(a->owners, struct seen_owner);
    FREE_ALL(a->instructions, struct seen_instruction);
    FREE_ALL(a->instrs, struct seen_instr);
    FREE_ALL(a->executed, struct seen_key);
    FREE_ALL(a->expired, struct seen_key);
    free(a->hashes);
    free(a->sets);
    free(a->set_seqs);
    free(a);
}

uint64_t audit_expected_seq(const audit *a) { return a->next_seq; }

bool audit_record_hash(const audit *a, uint64_t seq, uint8_t out[HASH_BYTES])
{
    if (seq == 0 || seq > a->nhashes)
        return false;
    memcpy(out, a->hashes + (seq - 1) * HASH_BYTES, HASH_BYTES);
    return true;
}

const relset *audit_set_of_version(const audit *a, uint32_t version)
{
    return version >= 1 && version <= a->nsets ? &a->sets[version - 1] : NULL;
}

uint64_t audit_set_since(const audit *a, uint32_t version)
{
    return version >= 1 && version <= a->nsets ? a->set_seqs[version - 1] : 0;
}

uint32_t audit_version_at(const audit *a, uint64_t seq)
{
    uint32_t v = 0;
    for (uint32_t i = 0; i < a->nsets && a->set_seqs[i] <= seq; i++)
        v = i + 1;
    return v;
}

static rl_err remember_hash(audit *a, const uint8_t h[HASH_BYTES])
{
    if (a->nhashes == a->caphashes) {
        size_t cap = a->caphashes ? 2 * a->caphashes : 4096;
        uint8_t *p = realloc(a->hashes, cap * HASH_BYTES);
        if (p == NULL)
            return RL_ERR_NOMEM;
        a->hashes = p;
        a->caphashes = cap;
    }
    memcpy(a->hashes + a->nhashes++ * HASH_BYTES, h, HASH_BYTES);
    return RL_OK;
}
const relset *audit_set(const audit *a) { return &a->set; }
void audit_get_summary(const audit *a, audit_summary *out) { *out = a->sum; }
rl_err audit_fund_summary(const audit *a, fund_summary *out) { return fund_book_summary(a->fund, out); }

static void job_add(verify_job *jobs, size_t *n, const uint8_t pk[ED25519_PK_BYTES], const uint8_t msg[HASH_BYTES],
                    const uint8_t sig[ED25519_SIG_BYTES], uint64_t tag)
{
    verify_job *j = &jobs[(*n)++];
    memcpy(j->pk, pk, ED25519_PK_BYTES);
    memcpy(j->msg, msg, HASH_BYTES);
    memcpy(j->sig, sig, ED25519_SIG_BYTES);
    j->tag = tag;
    j->ok = false;
}

/* Jobs for one signature list over msg; every signer must be in set. */
static rl_err sigs_jobs(const relset *set, const sig_list *sigs, const uint8_t msg[HASH_BYTES], uint64_t tag,
                        verify_job *jobs, size_t *njobs, const char *what, rl_why *why)
{
    for (unsigned i = 0; i < sigs->n; i++) {
        const relset_member *m = relset_find(set, sigs->e[i].member);
        if (m == NULL)
            return rl_fail(why, RL_ERR_SIGNER, "%s: signer %u is not in relayer set version %u", what,
                           sigs->e[i].member, set->version);
        job_add(jobs, njobs, m->pub.ed25519, msg, sigs->e[i].sig, tag);
    }
    return RL_OK;
}

rl_err audit_rotation_jobs(const relset *current, const payload_set *p, verify_job *jobs, size_t *njobs,
                           rl_why *why)
{
    uint8_t digest[HASH_BYTES];
    if (p->set.version != current->version + 1)
        return rl_fail(why, RL_ERR_STATE, "relayer set version %u does not follow version %u", p->set.version,
                       current->version);
    if (p->sigs.n < current->threshold)
        return rl_fail(why, RL_ERR_QUORUM, "rotation to version %u signed by %u members, threshold is %u",
                       p->set.version, p->sigs.n, current->threshold);
    rl_err err = relset_digest(&p->set, digest);
    if (err != RL_OK)
        return err;
    return sigs_jobs(current, &p->sigs, digest, p->set.version, jobs, njobs, "rotation", why);
}

static rl_err check_set(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    payload_set *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    rl_err err = payload_set_decode(p, r, why);
    if (err != RL_OK)
        goto done;
    if (r->seq == 1) {
        uint8_t want[HASH_BYTES], got[HASH_BYTES];
        if ((err = relset_digest(&a->genesis, want)) != RL_OK || (err = relset_digest(&p->set, got)) != RL_OK)
            goto done;
        if (memcmp(want, got, HASH_BYTES) != 0) {
            err = rl_fail(why, RL_ERR_SIGNER, "genesis relayer set differs from the one given to the auditor");
            goto done;
        }
        if (p->sigs.n != 0) {
            err = rl_fail(why, RL_ERR_DECODE, "genesis set record carries signatures");
            goto done;
        }
    } else {
        err = audit_rotation_jobs(&a->set, p, jobs, njobs, why);
        if (err != RL_OK)
            goto done;
        for (size_t i = *njobs - p->sigs.n; i < *njobs; i++)
            jobs[i].tag = r->seq;
        a->sum.rotations++;
    }
    relset *sets = realloc(a->sets, (a->nsets + 1) * sizeof *sets); /* versions follow each other */
    if (sets == NULL) {
        err = RL_ERR_NOMEM;
        goto done;
    }
    a->sets = sets;
    uint64_t *seqs = realloc(a->set_seqs, (a->nsets + 1) * sizeof *seqs);
    if (seqs == NULL) {
        err = RL_ERR_NOMEM;
        goto done;
    }
    a->set_seqs = seqs;
    a->set_seqs[a->nsets] = r->seq;
    a->sets[a->nsets++] = p->set;
    a->set = p->set;
    a->sum.set_version = p->set.version;
done:
    free(p);
    return err;
}

static struct seen_event *event_find(audit *a, const uint8_t id[HASH_BYTES])
{
    struct seen_event *e = NULL;
    HASH_FIND(hh, a->events, id, HASH_BYTES, e);
    return e;
}

static struct seen_key *key_find(struct seen_key *set, const uint8_t *key, size_t len)
{
    struct seen_key *k = NULL;
    HASH_FIND(hh, set, key, len, k);
    return k;
}

static void vseq_key(uint8_t k[VSEQ_KEY_BYTES], const obs *o)
{
    be64_put(k, o->chain_id);
    memcpy(k + 8, o->vault, EVM_ADDR_BYTES);
    be64_put(k + 8 + EVM_ADDR_BYTES, o->vault_seq);
}

/* An executed observation against the instructions logged (the ledger's rule, ledger.h): a
 * nonce executed twice is refused; otherwise it is matched when the instruction logged under its
 * id is still open with the same account, asset and amount. *instr: that instruction (NULL when
 * none), which the execution closes either way. */
static rl_err executed_check(audit *a, const obs *o, uint8_t id[HASH_BYTES], struct seen_instr **instr,
                             bool *matched, rl_why *why)
{
    instruction_id(id, o->chain_id, o->vault, o->nonce);
    const struct seen_key *done = key_find(a->executed, id, HASH_BYTES);
    if (done != NULL) {
        char hex[43];
        return rl_fail(why, RL_ERR_STATE, "nonce %llu of vault %s on chain %llu already executed (record %llu)",
                       (unsigned long long)o->nonce, evm_addr_to_hex(o->vault, hex), (unsigned long long)o->chain_id,
                       (unsigned long long)be64_get(done->event));
    }
    struct seen_instr *in = NULL;
    HASH_FIND(hh, a->instrs, id, HASH_BYTES, in);
    *instr = in;
    *matched = in != NULL && memcmp(in->account, o->account, EVM_ADDR_BYTES) == 0 &&
               memcmp(in->asset, o->asset, EVM_ADDR_BYTES) == 0 && u256_cmp(&in->amount, &o->amount) == 0;
    return RL_OK;
}

/* An expired observation against the instructions logged, by the ledger's rule and in its words
 * (ledger.h): neither executed nor expired before, logged, and instruction_expiry_check. *instr:
 * the open instruction it expires. */
static rl_err expired_check(audit *a, const obs *o, uint8_t id[HASH_BYTES], struct seen_instr **instr, rl_why *why)
{
    char name[INSTRUCTION_NAME_MAX];
    instruction_id(id, o->chain_id, o->vault, o->nonce);
    instruction_nonce_name(name, o->chain_id, o->vault, o->nonce);
    const struct seen_key *done = key_find(a->executed, id, HASH_BYTES);
    if (done != NULL)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: already executed (record %llu)", name,
                       (unsigned long long)be64_get(done->event));
    if ((done = key_find(a->expired, id, HASH_BYTES)) != NULL)
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: already expired (record %llu)", name,
                       (unsigned long long)be64_get(done->event));
    HASH_FIND(hh, a->instrs, id, HASH_BYTES, *instr);
    if (*instr == NULL) /* neither executed nor expired: an instruction logged under id is open */
        return rl_fail(why, RL_ERR_STATE, "expiry of %s: no instruction logged under it", name);
    return instruction_expiry_check(&(*instr)->in, (*instr)->seq, o, why);
}

/* The highest instruction nonce of a vault (created at 0 when asked to). */
static struct seen_nonce *nonce_slot(audit *a, uint64_t chain_id, const uint8_t vault[EVM_ADDR_BYTES], bool create)
{
    uint8_t nk[8 + EVM_ADDR_BYTES];
    struct seen_nonce *n = NULL;
    be64_put(nk, chain_id);
    memcpy(nk + 8, vault, EVM_ADDR_BYTES);
    HASH_FIND(hh, a->nonces, nk, sizeof nk, n);
    if (n == NULL && create && (n = calloc(1, sizeof *n)) != NULL) {
        memcpy(n->key, nk, sizeof nk);
        HASH_ADD(hh, a->nonces, key, sizeof nk, n);
    }
    return n;
}

static rl_err check_attest(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    payload_attest p;
    obs o;
    uint8_t id[HASH_BYTES], content[HASH_BYTES], vk[VSEQ_KEY_BYTES], ins_id[HASH_BYTES];
    struct seen_instr *instr = NULL;
    bool matched = false;
    rl_err err = payload_attest_decode(&p, r, why);
    if (err == RL_OK)
        err = obs_decode(&o, p.obs, OBS_BYTES, why);
    if (err != RL_OK)
        return err;
    if (p.sigs.n < a->set.threshold)
        return rl_fail(why, RL_ERR_QUORUM, "attestation has %u signatures, threshold is %u", p.sigs.n,
                       a->set.threshold);
    obs_event_id(id, o.chain_id, o.tx_hash, o.log_index);
    obs_content_hash(content, p.obs);
    if (event_find(a, id) != NULL) /* ledger.h, E1 */
        return rl_fail(why, RL_ERR_DUPLICATE, "event credited or blocked by an earlier record");
    bool vault_event = o.kind != OBS_KIND_EXPIRED; /* an expiry has no vault sequence number */
    vseq_key(vk, &o);
    if (vault_event && key_find(a->vseqs, vk, sizeof vk) != NULL)
        return rl_fail(why, RL_ERR_DUPLICATE, "vault sequence %llu on chain %llu credited twice",
                       (unsigned long long)o.vault_seq, (unsigned long long)o.chain_id);
    if (o.kind == OBS_KIND_EXECUTED && (err = executed_check(a, &o, ins_id, &instr, &matched, why)) != RL_OK)
        return err;
    if (o.kind == OBS_KIND_EXPIRED && (err = expired_check(a, &o, ins_id, &instr, why)) != RL_OK)
        return err;
    err = sigs_jobs(&a->set, &p.sigs, content, r->seq, jobs, njobs, "attestation", why);
    if (err != RL_OK)
        return err;

    bool closes = o.kind == OBS_KIND_EXECUTED || o.kind == OBS_KIND_EXPIRED;
    struct seen_event *e = calloc(1, sizeof *e);
    struct seen_key *v = vault_event ? calloc(1, sizeof *v) : NULL;
    struct seen_key *x = closes ? calloc(1, sizeof *x) : NULL;
    if (e == NULL || (vault_event && v == NULL) || (closes && x == NULL)) {
        free(e);
        free(v);
        free(x);
        return RL_ERR_NOMEM;
    }
    memcpy(e->id, id, HASH_BYTES);
    memcpy(e->content, content, HASH_BYTES);
    e->credited = true;
    HASH_ADD(hh, a->events, id, HASH_BYTES, e);
    if (vault_event) {
        memcpy(v->key, vk, sizeof vk);
        memcpy(v->event, id, HASH_BYTES);
        HASH_ADD(hh, a->vseqs, key, VSEQ_KEY_BYTES, v);
    }
    a->sum.attested++;
    if (o.kind == OBS_KIND_EXPIRED) { /* the ledger frees its reservation */
        HASH_DEL(a->instrs, instr);
        free(instr);
        memcpy(x->key, ins_id, HASH_BYTES);
        be64_put(x->event, r->seq);
        HASH_ADD(hh, a->expired, key, HASH_BYTES, x);
        a->sum.expired++;
        return RL_OK;
    }
    if (o.kind == OBS_KIND_EXECUTED) {
        /* A settled seize: the tokens reached the insurance address (the ledger's fund credit). */
        if (matched && instr->in.kind == INSTRUCTION_SEIZE &&
            (err = fund_book_seize(a->fund, instr->in.chain_id, instr->in.asset, &instr->amount, why)) != RL_OK) {
            free(x); /* not filed: verify stops at this record */
            return err;
        }
        /* The nonce is spent on chain: the instruction under it is closed, matched or not. */
        if (instr != NULL) {
            HASH_DEL(a->instrs, instr);
            free(instr);
        }
        memcpy(x->key, ins_id, HASH_BYTES);
        be64_put(x->event, r->seq);
        HASH_ADD(hh, a->executed, key, HASH_BYTES, x);
        /* as the ledger: no later instruction may take a nonce the chain has spent */
        struct seen_nonce *n = nonce_slot(a, o.chain_id, o.vault, true);
        if (n == NULL)
            return RL_ERR_NOMEM;
        if (o.nonce > n->nonce)
            n->nonce = o.nonce;
        a->sum.executions++;
        a->sum.unmatched += !matched;
        return RL_OK;
    }
    if (o.kind != OBS_KIND_DEPOSIT)
        return RL_OK;
    if (key_find(a->accounts, o.account, EVM_ADDR_BYTES) == NULL) {
        struct seen_key *acc = calloc(1, sizeof *acc);
        if (acc == NULL)
            return RL_ERR_NOMEM;
        memcpy(acc->key, o.account, EVM_ADDR_BYTES);
        HASH_ADD(hh, a->accounts, key, EVM_ADDR_BYTES, acc);
        a->sum.accounts++;
    }
    return RL_OK;
}

static rl_err check_conflict(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    payload_conflict *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    obs oa, ob;
    uint8_t ida[HASH_BYTES], idb[HASH_BYTES], ca[HASH_BYTES], cb[HASH_BYTES];
    rl_err err = payload_conflict_decode(p, r, why);
    if (err != RL_OK)
        goto done;
    if ((err = obs_decode(&oa, p->a.obs, OBS_BYTES, why)) != RL_OK || (err = obs_decode(&ob, p->b.obs, OBS_BYTES, why)) != RL_OK)
        goto done;
    obs_event_id(ida, oa.chain_id, oa.tx_hash, oa.log_index);
    obs_event_id(idb, ob.chain_id, ob.tx_hash, ob.log_index);
    obs_content_hash(ca, p->a.obs);
    obs_content_hash(cb, p->b.obs);
    struct seen_event *ea = event_find(a, ida);
    bool a_credited = ea != NULL && ea->credited && memcmp(ea->content, ca, HASH_BYTES) == 0;
    if (p->reason == CONFLICT_CONTENT) {
        if (memcmp(ida, idb, HASH_BYTES) != 0) {
            err = rl_fail(why, RL_ERR_STATE, "content conflict between two different events");
            goto done;
        }
        if (p->credited != a_credited) {
            err = rl_fail(why, RL_ERR_STATE, "conflict says variant A %s credited, the log says it %s",
                          p->credited ? "was" : "was not", a_credited ? "was" : "was not");
            goto done;
        }
        if (!a_credited && ea != NULL) {
            err = rl_fail(why, RL_ERR_DUPLICATE, "event already settled by an earlier record");
            goto done;
        }
        if (ea != NULL && ea->alerted) {
            err = rl_fail(why, RL_ERR_DUPLICATE, "a conflict for this event is already logged");
            goto done;
        }
    } else {
        uint8_t vk[VSEQ_KEY_BYTES];
        vseq_key(vk, &oa);
        struct seen_key *owner = key_find(a->vseqs, vk, sizeof vk);
        if (oa.chain_id != ob.chain_id || memcmp(oa.vault, ob.vault, EVM_ADDR_BYTES) != 0 ||
            oa.vault_seq != ob.vault_seq || oa.vault_seq == 0 || memcmp(ida, idb, HASH_BYTES) == 0) {
            err = rl_fail(why, RL_ERR_STATE, "vault-sequence conflict must be two events with one vault sequence number");
            goto done;
        }
        if (!p->credited || !a_credited || owner == NULL || memcmp(owner->event, ida, HASH_BYTES) != 0) {
            err = rl_fail(why, RL_ERR_STATE, "vault-sequence conflict: variant A must be the credited event");
            goto done;
        }
        if (event_find(a, idb) != NULL) {
            err = rl_fail(why, RL_ERR_DUPLICATE, "event B already settled by an earlier record");
            goto done;
        }
    }
    if ((err = sigs_jobs(&a->set, &p->a.sigs, ca, r->seq, jobs, njobs, "conflict variant A", why)) != RL_OK ||
        (err = sigs_jobs(&a->set, &p->b.sigs, cb, r->seq, jobs, njobs, "conflict variant B", why)) != RL_OK)
        goto done;

    /* Remember the blocked event: it may never be credited later. */
    const uint8_t *blocked = p->reason == CONFLICT_CONTENT ? ida : idb;
    struct seen_event *e = event_find(a, blocked);
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            err = RL_ERR_NOMEM;
            goto done;
        }
        memcpy(e->id, blocked, HASH_BYTES);
        memcpy(e->content, p->reason == CONFLICT_CONTENT ? ca : cb, HASH_BYTES);
        HASH_ADD(hh, a->events, id, HASH_BYTES, e);
    }
    e->alerted = true;
    a->sum.conflicts++;
done:
    free(p);
    return err;
}

static rl_err check_price(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    payload_price *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    rl_err err = payload_price_decode(p, r, why);
    if (err == RL_OK && p->n < a->set.threshold)
        err = rl_fail(why, RL_ERR_QUORUM, "price of %s has %u observations, threshold is %u", p->feed, p->n,
                      a->set.threshold);
    for (unsigned i = 0; err == RL_OK && i < p->n; i++) {
        const relset_member *m = relset_find(&a->set, p->e[i].member);
        uint8_t h[HASH_BYTES];
        if (m == NULL) {
            err = rl_fail(why, RL_ERR_SIGNER, "price of %s: signer %u is not in relayer set version %u", p->feed,
                          p->e[i].member, a->set.version);
            break;
        }
        price_content_hash(h, p->e[i].bytes);
        job_add(jobs, njobs, m->pub.ed25519, h, p->e[i].sig, r->seq);
    }
    if (err == RL_OK)
        a->sum.prices++;
    free(p);
    return err;
}

/* A request or decision key, logged once (at seq, kept in the entry). */
static rl_err key_once(audit *a, const uint8_t key[HASH_BYTES], uint64_t seq, const char *what, rl_why *why)
{
    if (key_find(a->keys, key, HASH_BYTES) != NULL)
        return rl_fail(why, RL_ERR_DUPLICATE, "%s logged twice", what);
    struct seen_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return RL_ERR_NOMEM;
    memcpy(k->key, key, HASH_BYTES);
    be64_put(k->event, seq);
    HASH_ADD(hh, a->keys, key, HASH_BYTES, k);
    return RL_OK;
}

static rl_err check_request(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    request q;
    uint8_t key[HASH_BYTES], msg[HASH_BYTES];
    const uint8_t *sig;
    rl_err err = request_decode(&q, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    request_key(key, q.venue, q.nonce);
    if ((err = key_once(a, key, r->seq, "venue request (same venue key and nonce)", why)) != RL_OK)
        return err;
    struct seen_owner *owner = NULL;
    HASH_FIND(hh, a->owners, q.account, EVM_ADDR_BYTES, owner);
    rl_why w = {{0}};
    bool refused = admit_request(&a->set, a->cluster, &q, r->time_ms, owner ? owner->nonce : 0, &w) != ADMIT_OK;
    if (refused && a->sum.requests_refused++ == 0) {
        a->sum.first_refused_seq = r->seq;
        a->sum.first_refused_why = w;
    }
    if (!refused) {
        if (owner == NULL && (owner = calloc(1, sizeof *owner)) != NULL) {
            memcpy(owner->account, q.account, EVM_ADDR_BYTES);
            HASH_ADD(hh, a->owners, account, EVM_ADDR_BYTES, owner);
        }
        if (owner == NULL)
            return RL_ERR_NOMEM;
        if (q.kind == REQUEST_POSITION)
            admit_positions_apply(&owner->pos, &q); /* A6: the account's last applied position */
        else
            owner->nonce = q.owner_nonce; /* A5: the nonce is used */
    }
    if (q.kind == REQUEST_WITHDRAW) {
        struct seen_request *s = calloc(1, sizeof *s);
        if (s == NULL)
            return RL_ERR_NOMEM;
        memcpy(s->key, key, HASH_BYTES);
        s->q = q;
        /* A6 refuses without the log being bad (a race an honest hub may log): not counted */
        s->refused = refused || admit_request_positions(&q, &owner->pos, NULL) != ADMIT_OK;
        HASH_ADD(hh, a->requests, key, HASH_BYTES, s);
    }
    request_sig_parts(r->payload, r->payload_len, msg, &sig);
    job_add(jobs, njobs, q.venue, msg, sig, r->seq);
    a->sum.requests++;
    return RL_OK;
}

/* Files the instructions a decision calls for; a withdrawal's request is done with. */
static rl_err file_plans(audit *a, const decision *d, uint64_t seq, rl_why *why)
{
    struct seen_request *q = NULL;
    if (d->kind == DECISION_WITHDRAW_OK || d->kind == DECISION_WITHDRAW_REFUSED)
        HASH_FIND(hh, a->requests, d->request, HASH_BYTES, q);
    if (q != NULL && q->refused && d->kind == DECISION_WITHDRAW_OK)
        return rl_fail(why, RL_ERR_STATE, "approval of the withdrawal at record %llu, which the admission rules "
                       "refuse (attest/admit.h A1..A6)", (unsigned long long)d->basis);
    instruction_plan *plans = malloc(DECISION_MAX_SEIZE * sizeof *plans);
    size_t n = 0;
    rl_err err = plans == NULL ? RL_ERR_NOMEM : instruction_plans(d, seq, q ? &q->q : NULL, plans, &n, why);
    for (size_t i = 0; i < n && err == RL_OK; i++) {
        struct seen_plan *p = calloc(1, sizeof *p);
        if (p == NULL) {
            err = RL_ERR_NOMEM;
            break;
        }
        instruction_plan_key(p->key, seq, plans[i].index, 0);
        p->p = plans[i];
        HASH_ADD(hh, a->plans, key, INSTRUCTION_PLAN_KEY_BYTES, p);
    }
    if (err == RL_OK && q != NULL) {
        HASH_DEL(a->requests, q);
        free(q);
    }
    free(plans);
    return err;
}

static rl_err check_instruction(audit *a, const record *r, rl_why *why)
{
    instruction in;
    struct seen_plan *p = NULL;
    struct seen_nonce *n = NULL;
    uint8_t pk[INSTRUCTION_PLAN_KEY_BYTES];
    rl_err err = instruction_decode(&in, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    instruction_plan_key(pk, in.decision, in.index, in.attempt);
    HASH_FIND(hh, a->plans, pk, sizeof pk, p);
    if (p == NULL)
        return rl_fail(why, RL_ERR_STATE, "%s of decision %llu #%u (attempt %u): no such instruction is due",
                       instruction_kind_name(in.kind), (unsigned long long)in.decision, in.index, in.attempt);
    n = nonce_slot(a, in.chain_id, in.vault, false);
    if ((err = instruction_check(&in, &p->p, n ? n->nonce : 0, r->time_ms, why)) != RL_OK)
        return err;
    struct seen_instr *open = calloc(1, sizeof *open);
    if (open == NULL)
        return RL_ERR_NOMEM;
    instruction_id(open->id, in.chain_id, in.vault, in.nonce);
    memcpy(open->account, in.account, EVM_ADDR_BYTES);
    memcpy(open->asset, in.asset, EVM_ADDR_BYTES);
    open->amount = in.amount;
    open->seq = r->seq;
    open->in = in;
    HASH_ADD(hh, a->instrs, id, HASH_BYTES, open);
    if (n == NULL && (n = nonce_slot(a, in.chain_id, in.vault, true)) == NULL)
        return RL_ERR_NOMEM;
    n->nonce = in.nonce;
    HASH_DEL(a->plans, p);
    free(p);
    struct seen_instruction *si = calloc(1, sizeof *si);
    if (si == NULL)
        return RL_ERR_NOMEM;
    si->seq = r->seq;
    si->in = in;
    HASH_ADD(hh, a->instructions, seq, sizeof si->seq, si);
    a->sum.instructions++;
    return RL_OK;
}

/* A bundle: of an instruction logged and not bundled yet, each signature recovering its member's
 * address from the instruction's EIP-712 digest, a quorum of the set in force, in the vault's
 * order. secp256k1 recovery runs here, not as a verify_job. */
static rl_err check_bundle(audit *a, const record *r, rl_why *why)
{
    bundle *b = malloc(sizeof *b);
    if (b == NULL)
        return RL_ERR_NOMEM;
    rl_err err = bundle_decode(b, r->payload, r->payload_len, why);
    struct seen_instruction *si = NULL;
    uint8_t key[HASH_BYTES];
    if (err == RL_OK) {
        bundle_key(key, b->instruction);
        HASH_FIND(hh, a->instructions, &b->instruction, sizeof b->instruction, si);
        const struct seen_key *done = si == NULL ? key_find(a->keys, key, HASH_BYTES) : NULL;
        if (done != NULL)
            err = rl_fail(why, RL_ERR_DUPLICATE, "bundle of this instruction already logged at record %llu",
                          (unsigned long long)be64_get(done->event));
        else if (si == NULL)
            err = rl_fail(why, RL_ERR_STATE, "bundle of record %llu, which is not an instruction",
                          (unsigned long long)b->instruction);
    }
    if (err == RL_OK) {
        uint8_t digest[HASH_BYTES];
        instruction_digest(digest, &si->in);
        err = bundle_verify(b, &a->set, digest, why);
    }
    if (err == RL_OK)
        err = key_once(a, key, r->seq, "bundle of this instruction", why);
    if (err == RL_OK) {
        HASH_DEL(a->instructions, si);
        free(si);
        a->sum.bundles++;
    }
    free(b);
    return err;
}

static rl_err check_decision(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    decision *d = malloc(sizeof *d);
    if (d == NULL)
        return RL_ERR_NOMEM;
    uint8_t key[HASH_BYTES], msg[HASH_BYTES];
    const uint8_t *sig;
    rl_err err = decision_decode(d, r->payload, r->payload_len, why);
    if (err == RL_OK && d->basis >= r->seq)
        err = rl_fail(why, RL_ERR_STATE, "decision based on record %llu, which is not before it",
                      (unsigned long long)d->basis);
    if (err == RL_OK && (d->kind == DECISION_WITHDRAW_OK || d->kind == DECISION_WITHDRAW_REFUSED)) {
        const struct seen_key *q = key_find(a->keys, d->request, HASH_BYTES);
        if (q == NULL || be64_get(q->event) != d->basis)
            err = rl_fail(why, RL_ERR_STATE, "withdrawal decision based on record %llu, which is not its request",
                          (unsigned long long)d->basis);
    }
    if (err == RL_OK) {
        decision_key(key, d);
        err = key_once(a, key, r->seq, "decision (for this request, or this basis, kind and account)", why);
    }
    if (err == RL_OK)
        err = file_plans(a, d, r->seq, why);
    if (err == RL_OK) /* its account's bad debt, as the ledger moves it */
        err = fund_book_decision(a->fund, d, r->seq, why);
    if (err == RL_OK) {
        decision_sig_parts(r->payload, r->payload_len, msg, &sig);
        job_add(jobs, njobs, d->calculator, msg, sig, r->seq);
        a->sum.decisions++;
    }
    free(d);
    return err;
}

/* A quorum checkpoint of an earlier record (checkpoint.h, rules C1 and C2). */
static rl_err check_checkpoint(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    checkpoint_signed cs;
    uint8_t h[HASH_BYTES];
    rl_err err = checkpoint_signed_decode(&cs, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    if (cs.c.seq >= r->seq)
        return rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu, which is not before it",
                       (unsigned long long)cs.c.seq);
    if (cs.c.seq <= a->sum.checkpoint_seq)
        return rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu does not advance on the checkpoint of seq %llu",
                       (unsigned long long)cs.c.seq, (unsigned long long)a->sum.checkpoint_seq);
    if (!audit_record_hash(a, cs.c.seq, h) || memcmp(h, cs.c.head, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_STATE, "checkpoint head is not the hash of record %llu",
                       (unsigned long long)cs.c.seq);
    if ((err = checkpoint_quorum_jobs(&cs, &a->set, r->seq, jobs, njobs, why)) != RL_OK)
        return err;
    a->sum.checkpoints++;
    a->sum.checkpoint_seq = cs.c.seq;
    return RL_OK;
}

/* Evidence (ledger.h, E3): a member of the set in force, once per (event id, member); its two
 * signatures are verify jobs. The record's decoding checked one event id and two contents. */
static rl_err check_equivocation(audit *a, const record *r, verify_job *jobs, size_t *njobs, rl_why *why)
{
    payload_equivocation p;
    uint8_t id[HASH_BYTES], key[HASH_BYTES], ca[HASH_BYTES], cb[HASH_BYTES];
    rl_err err = payload_equivocation_decode(&p, r, id, why);
    if (err != RL_OK)
        return err;
    const relset_member *m = relset_find(&a->set, p.a.member);
    if (m == NULL)
        return rl_fail(why, RL_ERR_SIGNER, "equivocation of member %u, which is not in relayer set version %u",
                       p.a.member, a->set.version);
    payload_equivocation_key(key, id, p.a.member);
    if ((err = key_once(a, key, r->seq, "equivocation evidence of this member for this event", why)) != RL_OK)
        return err;
    obs_content_hash(ca, p.a.bytes);
    obs_content_hash(cb, p.b.bytes);
    job_add(jobs, njobs, m->pub.ed25519, ca, p.a.sig, r->seq);
    job_add(jobs, njobs, m->pub.ed25519, cb, p.b.sig, r->seq);
    a->sum.equivocations++;
    return RL_OK;
}

rl_err audit_next(audit *a, const uint8_t *enc, size_t len, verify_job *jobs, size_t *njobs, rl_why *why)
{
    record r;
    size_t first_job = *njobs;
    rl_err err = record_decode(&r, enc, len, why);
    if (err != RL_OK)
        return err;
    if (r.seq != a->next_seq)
        return rl_fail(why, RL_ERR_SEQ, "sequence number %llu where %llu was expected", (unsigned long long)r.seq,
                       (unsigned long long)a->next_seq);
    if (memcmp(r.prev, a->prev, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "previous-hash field does not match the hash of record %llu",
                       (unsigned long long)(r.seq - 1));
    if (r.seq == 1 && r.type != RECORD_SET)
        return rl_fail(why, RL_ERR_STATE, "the first record must install the genesis relayer set");
    if (r.time_ms < a->prev_time_ms) /* ledger.h T1 */
        return rl_fail(why, RL_ERR_STATE, "record %llu is stamped %llu ms, before record %llu's %llu ms (backdated)",
                       (unsigned long long)r.seq, (unsigned long long)r.time_ms, (unsigned long long)(r.seq - 1),
                       (unsigned long long)a->prev_time_ms);
    switch (r.type) {
    case RECORD_SET: err = check_set(a, &r, jobs, njobs, why); break;
    case RECORD_ATTEST: err = check_attest(a, &r, jobs, njobs, why); break;
    case RECORD_CONFLICT: err = check_conflict(a, &r, jobs, njobs, why); break;
    case RECORD_PRICE: err = check_price(a, &r, jobs, njobs, why); break;
    case RECORD_REQUEST: err = check_request(a, &r, jobs, njobs, why); break;
    case RECORD_DECISION: err = check_decision(a, &r, jobs, njobs, why); break;
    case RECORD_INSTRUCTION: err = check_instruction(a, &r, why); break;
    case RECORD_EQUIVOCATION: err = check_equivocation(a, &r, jobs, njobs, why); break;
    case RECORD_CHECKPOINT: err = check_checkpoint(a, &r, jobs, njobs, why); break;
    default: err = check_bundle(a, &r, why); break;
    }
    if (err != RL_OK) {
        *njobs = first_job;
        return err;
    }
    record_hash(a->prev, enc, len);
    a->prev_time_ms = r.time_ms;
    if (remember_hash(a, a->prev) != RL_OK) {
        *njobs = first_job;
        return RL_ERR_NOMEM;
    }
    a->sum.signatures += *njobs - first_job;
    a->next_seq++;
    a->sum.records++;
    a->sum.head_seq = r.seq;
    memcpy(a->sum.head_hash, a->prev, HASH_BYTES);
    return RL_OK;
}
