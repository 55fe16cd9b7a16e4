/*
 * ledger_ckpt.c - applying and reading CHECKPOINT records (ledger_ckpt.h).
 */
#include "db/ledger_ckpt.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"

static const char META_CKPT[] = "ckpt";

/* meta "ckpt": (record seq, witnessed seq); both 0 when none. */
static rl_err latest_seqs(MDB_txn *txn, const store *s, uint64_t *record_seq, uint64_t *witnessed, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_META), META_CKPT, sizeof META_CKPT - 1, &v, why);
    *record_seq = *witnessed = 0;
    if (err == RL_ERR_NOTFOUND)
        return RL_OK;
    if (err != RL_OK)
        return err;
    if (v.mv_size != 16)
        return rl_fail(why, RL_ERR_DB, "%s: meta 'ckpt' has %zu bytes", store_path(s), v.mv_size);
    *record_seq = be64_get(v.mv_data);
    *witnessed = be64_get((const uint8_t *)v.mv_data + 8);
    return RL_OK;
}

rl_err ledger_ckpt_apply(MDB_txn *txn, const store *s, const record *r, const ledger_head *head, rl_why *why)
{
    checkpoint_signed cs;
    uint64_t last_record, last_seq;
    MDB_val v;
    uint8_t h[HASH_BYTES];
    relset *set = NULL;
    rl_err err = checkpoint_signed_decode(&cs, r->payload, r->payload_len, why);
    if (err == RL_OK)
        err = latest_seqs(txn, s, &last_record, &last_seq, why);
    if (err != RL_OK)
        return err;
    if (cs.c.seq >= r->seq)
        return rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu, which is not before it",
                       (unsigned long long)cs.c.seq);
    if (cs.c.seq <= last_seq)
        return rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu does not advance on the checkpoint of seq %llu",
                       (unsigned long long)cs.c.seq, (unsigned long long)last_seq);
    if ((err = ledger_record_get(txn, s, cs.c.seq, &v, why)) != RL_OK)
        return err;
    record_hash(h, v.mv_data, v.mv_size);
    if (memcmp(h, cs.c.head, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_STATE, "checkpoint head is not the hash of record %llu",
                       (unsigned long long)cs.c.seq);
    if ((set = malloc(sizeof *set)) == NULL)
        return RL_ERR_NOMEM;
    verify_job *jobs = malloc(RELSET_MAX_MEMBERS * sizeof *jobs);
    size_t n = 0;
    if (jobs == NULL)
        err = RL_ERR_NOMEM;
    if (err == RL_OK)
        err = ledger_set_get(txn, s, head->set_version, set, why);
    if (err == RL_OK) /* signers: a quorum of the set in force; the signatures were verified before */
        err = checkpoint_quorum_jobs(&cs, set, r->seq, jobs, &n, why);
    free(jobs);
    free(set);
    if (err != RL_OK)
        return err;
    uint8_t mv[16];
    be64_put(mv, r->seq);
    be64_put(mv + 8, cs.c.seq);
    return store_put(txn, store_dbi(s, TABLE_META), META_CKPT, sizeof META_CKPT - 1, mv, sizeof mv, 0, why);
}

rl_err ledger_ckpt_latest(MDB_txn *txn, const store *s, checkpoint_signed *out, uint64_t *record_seq, rl_why *why)
{
    uint64_t at, witnessed;
    MDB_val v;
    record r;
    rl_err err = latest_seqs(txn, s, &at, &witnessed, why);
    if (err == RL_OK && at == 0)
        return rl_fail(why, RL_ERR_NOTFOUND, "%s: the log holds no checkpoint yet", store_path(s));
    if (err == RL_OK)
        err = ledger_record_get(txn, s, at, &v, why);
    if (err == RL_OK)
        err = record_decode(&r, v.mv_data, v.mv_size, why);
    if (err == RL_OK && r.type != RECORD_CHECKPOINT)
        err = rl_fail(why, RL_ERR_DB, "%s: meta 'ckpt' names record %llu, a %s record", store_path(s),
                      (unsigned long long)at, record_type_name(r.type));
    if (err == RL_OK)
        err = checkpoint_signed_decode(out, r.payload, r.payload_len, why);
    if (err == RL_OK && record_seq != NULL)
        *record_seq = at;
    return err;
}

/* ---- the node's own latest signed head ---- */

/* meta "ckpt_own" (111 bytes):
 *   offset  size  field
 *        0    45  checkpoint body (checkpoint.h)
 *       45     2  member        the signer's id in the set of the body's version (big-endian)
 *       47    64  sig           ed25519 over checkpoint_message(body) */
static const char META_OWN[] = "ckpt_own";
#define OWN_BYTES (CHECKPOINT_BODY_BYTES + 2 + ED25519_SIG_BYTES)

rl_err ledger_ckpt_own_put(MDB_txn *txn, const store *s, const checkpoint *c, uint16_t member,
                           const uint8_t sig[ED25519_SIG_BYTES], rl_why *why)
{
    uint8_t v[OWN_BYTES];
    rl_err err = checkpoint_body_encode(v, c, why);
    if (err != RL_OK)
        return err;
    be16_put(v + CHECKPOINT_BODY_BYTES, member);
    memcpy(v + CHECKPOINT_BODY_BYTES + 2, sig, ED25519_SIG_BYTES);
    return store_put(txn, store_dbi(s, TABLE_META), META_OWN, sizeof META_OWN - 1, v, sizeof v, 0, why);
}

rl_err ledger_ckpt_own_get(MDB_txn *txn, const store *s, checkpoint_signed *out, rl_why *why)
{
    MDB_val v;
    rl_err err = store_get(txn, store_dbi(s, TABLE_META), META_OWN, sizeof META_OWN - 1, &v, why);
    if (err == RL_ERR_NOTFOUND)
        return rl_fail(why, RL_ERR_NOTFOUND, "%s: this node has signed no head yet", store_path(s));
    if (err != RL_OK)
        return err;
    if (v.mv_size != OWN_BYTES)
        return rl_fail(why, RL_ERR_DB, "%s: meta 'ckpt_own' has %zu bytes", store_path(s), v.mv_size);
    memset(out, 0, sizeof *out);
    const uint8_t *p = v.mv_data;
    if ((err = checkpoint_body_decode(&out->c, p, CHECKPOINT_BODY_BYTES, why)) != RL_OK)
        return err;
    out->sigs.n = 1;
    out->sigs.e[0].member = be16_get(p + CHECKPOINT_BODY_BYTES);
    memcpy(out->sigs.e[0].sig, p + CHECKPOINT_BODY_BYTES + 2, ED25519_SIG_BYTES);
    return RL_OK;
}
