/*
 * cmd_hub_ckpt.c - the hub's side of witnessed log heads (hubd.h): CHECKPOINT messages from
 * nodes, checked and counted (hubckpt.h), and the CHECKPOINT record logged once a quorum of the
 * set in force signed one head of the hub's own log.
 */
#include <string.h>

#include "db/ledger_ckpt.h"
#include "relayer/daemon.h"
#include "relayer/hubd.h"
#include "relayer/log.h"
#include "relayer/progress.h"

rl_err hub_checkpoints_open(struct hub *h, rl_why *why)
{
    MDB_txn *txn;
    checkpoint_signed cs = {0};
    rl_err err = store_read_begin(h->st, &txn, why);
    if (err != RL_OK)
        return err;
    err = ledger_ckpt_latest(txn, h->st, &cs, NULL, why);
    store_read_end(txn);
    if (err != RL_OK && err != RL_ERR_NOTFOUND)
        return err;
    return hubckpt_new(&h->ckpt, err == RL_OK ? cs.c.seq : 0);
}

struct head_lookup {
    MDB_txn *txn;
    const store *st;
};

json_t *hub_checkpoints_json(const struct hub *h)
{
    return json_pack("{s:I, s:I, s:I, s:I}", "logged", (json_int_t)h->checkpoints_logged, "latest_seq",
                     (json_int_t)hubckpt_logged_seq(h->ckpt), "held", (json_int_t)hubckpt_held(h->ckpt), "cpu_ms",
                     (json_int_t)(h->ckpt_cpu_ns / 1000000));
}

static bool hash_at(void *ctx, uint64_t seq, uint8_t out[HASH_BYTES])
{
    struct head_lookup *c = ctx;
    MDB_val v;
    if (ledger_record_get(c->txn, c->st, seq, &v, NULL) != RL_OK)
        return false;
    record_hash(out, v.mv_data, v.mv_size);
    return true;
}

static const char *refusal(rl_err err)
{
    switch (err) {
    case RL_ERR_SIGNER: return "not a member of the set in force";
    case RL_ERR_STATE: return "another set version, or a seq past the head";
    case RL_ERR_CHAIN: return "not the hash of the hub's record at that seq";
    case RL_ERR_SIG: return "the signature does not verify";
    default: return rl_strerror(err);
    }
}

void hub_take_checkpoint(struct hub *h, const wire_msg *m, const char *peer)
{
    uint64_t cpu0 = thread_cpu_ns();
    checkpoint c;
    uint16_t member;
    uint8_t sig[ED25519_SIG_BYTES];
    wire_checkpoint_of(m, &c, &member, sig);
    const node_pub *from = hub_peer_pub(h, peer);
    const relset *set = ingest_set(h->g);
    const relset_member *mem = relset_find(set, member);
    if (from == NULL || mem == NULL || memcmp(mem->pub.ed25519, from->ed25519, ED25519_PK_BYTES) != 0) {
        log_warn("checkpoint refused: signer is not the sending peer", "peer=%s member=%u", peer, member);
        goto out;
    }
    MDB_txn *txn;
    rl_why why = {{0}};
    ledger_head head;
    checkpoint_signed *cs = &h->ckpt_ready;
    bool ready = false;
    rl_err err = store_read_begin(h->st, &txn, &why);
    if (err != RL_OK)
        goto fail;
    struct head_lookup hc = {txn, h->st};
    if ((err = ledger_head_get(txn, h->st, &head, &why)) == RL_OK)
        err = hubckpt_offer(h->ckpt, set, head.seq, hash_at, &hc, member, &c, sig, mono_ms(), cs, &ready);
    store_read_end(txn);
    if (err == RL_ERR_DUPLICATE)
        goto out;
    if (err != RL_OK) {
        log_warn("checkpoint refused", "member=%u seq=%llu why=\"%s\"", member, (unsigned long long)c.seq,
                 refusal(err));
        goto out;
    }
    if (!ready)
        goto out;
    uint8_t enc[CHECKPOINT_MAX_BYTES];
    size_t len;
    /* hubckpt checked every signature and the head; the ledger checks rule C2 again at commit */
    if ((err = checkpoint_signed_encode(enc, &len, cs, &why)) == RL_OK &&
        (err = ingest_append(h->g, RECORD_CHECKPOINT, enc, len, wall_ms(), &why)) == RL_OK) {
        hubckpt_logged(h->ckpt, cs->c.seq);
        h->checkpoints_logged++;
        log_info("checkpoint", "seq=%llu signatures=%u set_version=%u", (unsigned long long)cs->c.seq, cs->sigs.n,
                 cs->c.set_version);
        goto out;
    }
fail:
    log_warn("checkpoint not logged", "seq=%llu why=\"%s\"", (unsigned long long)c.seq,
             why.text[0] ? why.text : rl_strerror(err));
out:
    h->ckpt_cpu_ns += thread_cpu_ns() - cpu0;
}
