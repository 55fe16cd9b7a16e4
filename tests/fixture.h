/*
 * fixture.h - test fixtures: deterministic node keys, relayer sets, observations and a fresh
 * ledger in a temporary directory.
 */
#ifndef RL_FIXTURE_H
#define RL_FIXTURE_H

#include <sodium.h>

#include "attest/admit.h"
#include "attest/decision.h"
#include "attest/instruction.h"
#include "attest/obs.h"
#include "attest/record.h"
#include "attest/relset.h"
#include "attest/request.h"
#include "collateral/spec.h"
#include "db/ledger.h"
#include "db/store.h"
#include "tests/testutil.h"

#define FX_MAX_KEYS 8

typedef struct fixture {
    node_key *keys[FX_MAX_KEYS];
    unsigned nkeys;
    relset set; /* members 1..n with keys[0..n-1] */
    char *dir;
    store *s;
} fixture;

static inline void fx_keys(fixture *f, unsigned n)
{
    cr_assert(sodium_init() >= 0);
    for (unsigned i = 0; i < n; i++) {
        uint8_t ed[32], sk[32];
        char name[16];
        memset(ed, (int)(i + 1), sizeof ed);
        memset(sk, (int)(i + 0x41), sizeof sk);
        snprintf(name, sizeof name, "node%u", i + 1);
        cr_assert_eq(node_key_from_secrets(&f->keys[i], name, ed, sk, NULL), RL_OK);
    }
    f->nkeys = n;
}

/* Keys 0..n-1 as members 1..n, version 1; the spare key n, when there is one, pinned as the venue
 * "venue" (attest/admit.h: only pinned venue keys' requests count). */
static inline void fx_set(fixture *f, unsigned n, unsigned threshold)
{
    memset(&f->set, 0, sizeof f->set);
    f->set.version = 1;
    f->set.threshold = (uint16_t)threshold;
    f->set.n = (uint16_t)n;
    for (unsigned i = 0; i < n; i++) {
        f->set.members[i].id = (uint16_t)(i + 1);
        f->set.members[i].pub = *node_key_pub(f->keys[i]);
    }
    if (f->nkeys > n)
        cr_assert_eq(relset_add_venue(&f->set, "venue", node_key_pub(f->keys[n])->ed25519, NULL), RL_OK);
    cr_assert_eq(relset_validate(&f->set, NULL), RL_OK);
}

static inline void fx_init(fixture *f, unsigned n, unsigned threshold)
{
    memset(f, 0, sizeof *f);
    fx_keys(f, n + 1); /* one spare key that is not a member */
    fx_set(f, n, threshold);
}

static inline void fx_open_store(fixture *f, const store_opts *o)
{
    f->dir = tu_tmpdir();
    cr_assert_eq(store_open(&f->s, f->dir, o, NULL), RL_OK);
}

struct fx_apply {
    const store *s;
    const uint8_t *enc;
    size_t len;
};

static inline rl_err fx_apply_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct fx_apply *c = ctx;
    ledger_head head;
    rl_err err = ledger_head_get(txn, c->s, &head, why);
    if (err == RL_OK)
        err = ledger_append(txn, c->s, c->enc, c->len, &head, why);
    return err;
}

/* Appends an encoded record after the ledger's head, in a write transaction of its own. */
static inline rl_err fx_append(store *s, const uint8_t *enc, size_t len, rl_why *why)
{
    struct fx_apply c = {s, enc, len};
    return store_write(s, fx_apply_fn, &c, why);
}

/* The next record after the ledger's head, stamped time_ms or the head's time when later (as the hub
 * stamps, ledger.h T1), encoded into a malloc'd buffer (*enc, *len); returns
 * its sequence number. */
static inline uint64_t fx_encode_next(store *s, uint8_t type, const uint8_t *payload, size_t plen, uint64_t time_ms,
                                      uint8_t **enc, size_t *len)
{
    MDB_txn *txn;
    ledger_head head;
    cr_assert_eq(store_read_begin(s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_head_get(txn, s, &head, NULL), RL_OK);
    store_read_end(txn);
    record r = {.type = type, .seq = head.seq + 1, .time_ms = time_ms > head.time_ms ? time_ms : head.time_ms,
                .payload = payload, .payload_len = (uint32_t)plen};
    memcpy(r.prev, head.hash, HASH_BYTES);
    *enc = malloc(RECORD_MAX_BYTES);
    cr_assert_not_null(*enc);
    cr_assert_eq(record_encode(&r, *enc, len, NULL), RL_OK);
    return r.seq;
}

/* Trader i's secp256k1 secret and EVM address: the account whose owner signs its withdrawals. */
static inline void fx_owner(uint8_t sk[SECP256K1_SK_BYTES], uint8_t addr[EVM_ADDR_BYTES], unsigned i)
{
    memset(sk, (int)(0x61 + i), SECP256K1_SK_BYTES);
    cr_assert_eq(evm_address_of_secret(addr, sk), RL_OK);
}

/* Risk parameters (collateral/spec.h) from JSON text that must parse. */
static inline void fx_risk(mg_risk *out, const char *json)
{
    json_error_t je;
    json_t *root = json_loads(json, 0, &je);
    cr_assert_not_null(root, "%s", je.text);
    rl_why why = {{0}};
    cr_assert_eq(mg_risk_parse(root, out, &why), RL_OK, "%s", why.text);
    json_decref(root);
}

static inline void fx_fini(fixture *f)
{
    store_close(f->s);
    f->s = NULL;
    tu_rmdir(f->dir);
    f->dir = NULL;
    for (unsigned i = 0; i < f->nkeys; i++)
        node_key_free(f->keys[i]);
}

/* A deposit: event n on chain, vault sequence vseq, amount. */
static inline obs fx_obs(uint64_t chain, uint64_t n, uint64_t vseq, uint64_t amount)
{
    obs o;
    memset(&o, 0, sizeof o);
    o.kind = OBS_KIND_DEPOSIT;
    o.chain_id = chain;
    memset(o.vault, 0xaa, sizeof o.vault);
    o.block_number = 100 + n;
    memset(o.block_hash, (int)(n & 0xff), sizeof o.block_hash);
    memset(o.tx_hash, 0, sizeof o.tx_hash);
    o.tx_hash[0] = (uint8_t)(n >> 8);
    o.tx_hash[1] = (uint8_t)n;
    o.log_index = 0;
    o.vault_seq = vseq;
    memset(o.account, 0x11, sizeof o.account);
    o.account[19] = (uint8_t)(n % 7);
    o.amount = u256_from_u64(amount);
    return o;
}

/* member (1-based) signs o. */
static inline signed_obs fx_sign(const fixture *f, const obs *o, uint16_t member)
{
    uint8_t enc[OBS_BYTES];
    signed_obs so;
    cr_assert_eq(obs_encode(enc, o, NULL), RL_OK);
    obs_sign(&so, enc, member, f->keys[member - 1]);
    return so;
}

/* An attestation payload for o signed by members 1..nsig. */
static inline payload_attest fx_attest(const fixture *f, const obs *o, unsigned nsig)
{
    payload_attest p;
    memset(&p, 0, sizeof p);
    for (unsigned i = 0; i < nsig; i++) {
        signed_obs so = fx_sign(f, o, (uint16_t)(i + 1));
        memcpy(p.obs, so.bytes, OBS_BYTES);
        p.sigs.e[i].member = so.member;
        memcpy(p.sigs.e[i].sig, so.sig, 64);
    }
    p.sigs.n = (uint8_t)nsig;
    return p;
}

/* ---- a withdrawal requested, approved and instructed (attest/instruction.h) ---- */

/* Who signs a withdrawal and where it moves funds: the venue signs the request, the account's
 * owner its withdrawal (admit.h), the calculator the decision; native asset (all-zero address). */
typedef struct fx_withdrawal {
    const relset *genesis;                       /* the cluster's (its id salts the owner's domain), borrowed */
    node_key *venue, *calc;                      /* borrowed */
    const uint8_t *owner_sk;                     /* SECP256K1_SK_BYTES, borrowed */
    const uint8_t *account, *recipient, *vault; /* EVM_ADDR_BYTES each, borrowed */
    uint64_t chain_id;
} fx_withdrawal;

/* The venue's signed request to withdraw amount (venue nonce and owner nonce `nonce`, the owner's
 * signature valid until expiry_s) into buf (*len); key gets its request key. */
static inline void fx_withdraw_request(const fx_withdrawal *w, u256 amount, uint64_t nonce, uint64_t expiry_s,
                                       uint8_t buf[REQUEST_MAX_BYTES], size_t *len, uint8_t key[HASH_BYTES])
{
    request q = {.kind = REQUEST_WITHDRAW, .chain_id = w->chain_id, .amount = amount, .nonce = nonce,
                 .owner_nonce = nonce, .expiry_s = expiry_s};
    memcpy(q.venue, node_key_pub(w->venue)->ed25519, ED25519_PK_BYTES);
    memcpy(q.account, w->account, EVM_ADDR_BYTES);
    memcpy(q.recipient, w->recipient, EVM_ADDR_BYTES);
    uint8_t cluster_id[HASH_BYTES];
    cr_assert_eq(admit_cluster_id(cluster_id, w->genesis), RL_OK);
    cr_assert_eq(admit_owner_sign(&q, cluster_id, w->owner_sk), RL_OK);
    cr_assert_eq(request_sign(buf, len, &q, w->venue, NULL), RL_OK);
    request_key(key, q.venue, q.nonce);
}

/* d signed by the calculator into buf (*len); its calculator and account are filled in here. */
static inline void fx_decision(const fx_withdrawal *w, decision *d, uint8_t buf[DECISION_MAX_BYTES], size_t *len)
{
    memcpy(d->calculator, node_key_pub(w->calc)->ed25519, ED25519_PK_BYTES);
    memcpy(d->account, w->account, EVM_ADDR_BYTES);
    rl_why why = {{0}};
    cr_assert_eq(decision_sign(buf, len, d, w->calc, &why), RL_OK, "%s", why.text);
}

/* The release that carries out the WITHDRAW_OK decision logged at decision_seq. */
static inline instruction fx_release(const fx_withdrawal *w, uint64_t decision_seq, u256 amount, uint64_t nonce,
                                     uint64_t deadline_s)
{
    instruction in = {.kind = INSTRUCTION_RELEASE, .decision = decision_seq, .chain_id = w->chain_id,
                      .amount = amount, .nonce = nonce, .deadline_s = deadline_s};
    memcpy(in.vault, w->vault, EVM_ADDR_BYTES);
    memcpy(in.account, w->account, EVM_ADDR_BYTES);
    memcpy(in.recipient, w->recipient, EVM_ADDR_BYTES);
    return in;
}

/* An observation of w's vault event vseq (in transaction n) for w's account, native asset. */
static inline obs fx_vault_obs(const fx_withdrawal *w, uint8_t kind, uint64_t n, uint64_t vseq)
{
    obs o = fx_obs(w->chain_id, n, vseq, 0);
    o.kind = kind;
    memcpy(o.vault, w->vault, EVM_ADDR_BYTES);
    memset(o.asset, 0, EVM_ADDR_BYTES);
    memcpy(o.account, w->account, EVM_ADDR_BYTES);
    return o;
}

/* The vault's Executed event (vault sequence vseq, transaction n) of the release of `nonce`. */
static inline obs fx_executed(const fx_withdrawal *w, uint64_t n, uint64_t vseq, uint64_t nonce, u256 amount)
{
    obs o = fx_vault_obs(w, OBS_KIND_EXECUTED, n, vseq);
    o.nonce = nonce;
    o.ins_kind = INSTRUCTION_RELEASE;
    o.amount = amount;
    return o;
}

/* The expiry of release `nonce` (amount and deadline are not part of it) seen at block 500 + n
 * with timestamp time_s. */
static inline obs fx_expired(const fx_withdrawal *w, uint64_t nonce, uint64_t time_s, uint64_t n)
{
    instruction in = fx_release(w, 0, u256_zero(), nonce, 0);
    uint8_t block_hash[HASH_BYTES];
    obs o;
    memset(block_hash, (int)n, sizeof block_hash);
    instruction_expired_obs(&o, &in, 500 + n, block_hash, time_s);
    return o;
}

/* Calls each(record, ctx) for every record of `type` in the log of the LMDB environment at
 * db_dir (opened read-only, beside a running hub) and returns how many there were; 0 when the
 * environment does not exist yet. The record's payload is valid during the call only. */
static inline size_t fx_each_record(const char *db_dir, uint8_t type, void (*each)(const record *r, void *ctx),
                                    void *ctx)
{
    store *s;
    store_opts so = {.read_only = true};
    if (store_open(&s, db_dir, &so, NULL) != RL_OK)
        return 0;
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(s, &txn, NULL), RL_OK);
    ledger_head head;
    cr_assert_eq(ledger_head_get(txn, s, &head, NULL), RL_OK);
    size_t n = 0;
    for (uint64_t seq = 1; seq <= head.seq; seq++) {
        MDB_val v;
        record r;
        cr_assert_eq(ledger_record_get(txn, s, seq, &v, NULL), RL_OK);
        cr_assert_eq(record_decode(&r, v.mv_data, v.mv_size, NULL), RL_OK);
        if (r.type != type)
            continue;
        n++;
        if (each != NULL)
            each(&r, ctx);
    }
    store_read_end(txn);
    store_close(s);
    return n;
}

#endif
