/*
 * cmd_hub_cosign.c - the hub's side of instructions and co-signing (hubd.h): building INSTRUCTION
 * records from the ledger's plans, taking the nodes' co-signatures in batches, logging bundles,
 * and alerting instructions short of their threshold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hex.h"
#include "relayer/daemon.h"
#include "relayer/hubd.h"
#include "relayer/log.h"
#include "relayer/progress.h"

static rl_err append_instruction(void *ctx, const instruction *in, rl_why *why)
{
    struct hub *h = ctx;
    uint8_t enc[INSTRUCTION_BYTES];
    char account[43], vault[43];
    rl_why bad = {{0}};
    if (instruction_encode(enc, in, &bad) != RL_OK) { /* a plan no vault could take: it waits, said */
        log_error("instruction cannot be built", "decision=%llu index=%u why=\"%s\"", (unsigned long long)in->decision,
                  in->index, bad.text);
        return RL_OK;
    }
    rl_err err = ingest_append(h->g, RECORD_INSTRUCTION, enc, sizeof enc, wall_ms(), why);
    if (err == RL_OK)
        log_info("instruction", "kind=%s decision=%llu index=%u chain_id=%llu vault=%s account=%s nonce=%llu "
                 "deadline=%llu",
                 instruction_kind_name(in->kind), (unsigned long long)in->decision, in->index,
                 (unsigned long long)in->chain_id, evm_addr_to_hex(in->vault, vault),
                 evm_addr_to_hex(in->account, account), (unsigned long long)in->nonce,
                 (unsigned long long)in->deadline_s);
    return err;
}

/* Instructions for the plans the ledger holds: after new records, and every second (retries). */
rl_err hub_instruct(struct hub *h, rl_why *why)
{
    uint64_t head = ingest_head(h->g)->seq;
    if (head == h->instr_head && mono_ms() - h->instr_ms < 1000)
        return RL_OK;
    h->instr_head = head;
    h->instr_ms = mono_ms();
    MDB_txn *txn;
    rl_err err = store_read_begin(h->st, &txn, why);
    if (err != RL_OK)
        return err;
    err = hubinstr_scan(h->instr, txn, h->st, wall_ms(), mono_ms(), append_instruction, h, why);
    store_read_end(txn);
    return err;
}

/* Queues one COSIG message: a member's signature of an instruction, from that member's
 * connection. The queue is checked as one batch (hub_take_cosigs). */
void hub_queue_cosig(struct hub *h, const wire_msg *m, const char *peer)
{
    const node_pub *from = hub_peer_pub(h, peer);
    hubcosig_sig *s = &h->cosigs[h->ncosigs];
    wire_cosig_of(m, &s->member, s->sig);
    const relset_member *mem = relset_find(ingest_set(h->g), s->member);
    if (from == NULL || mem == NULL || memcmp(mem->pub.ed25519, from->ed25519, ED25519_PK_BYTES) != 0) {
        log_warn("co-signature refused: signer is not the sending peer", "peer=%s member=%u", peer, s->member);
        return;
    }
    s->seq = m->id;
    h->ncosigs++;
}

/* The queued co-signatures, checked on the pool's threads (only as many per instruction as its
 * bundle still needs: hubcosig_offer_many). */
void hub_take_cosigs(struct hub *h)
{
    if (h->ncosigs == 0)
        return;
    MDB_txn *txn;
    rl_why why = {{0}};
    rl_err err = store_read_begin(h->st, &txn, &why);
    if (err == RL_OK) {
        err = hubcosig_offer_many(h->cosig, txn, h->st, ingest_set(h->g), h->pool, h->cosigs, h->ncosigs);
        store_read_end(txn);
    }
    if (err != RL_OK) {
        log_warn("co-signatures dropped", "count=%zu why=\"%s\"", h->ncosigs, why.text[0] ? why.text : rl_strerror(err));
        h->ncosigs = 0;
        return;
    }
    for (size_t i = 0; i < h->ncosigs; i++) {
        const hubcosig_sig *s = &h->cosigs[i];
        h->cosig_news |= s->result == RL_OK;
        if (s->result == RL_ERR_STATE)
            log_debug("co-signature not needed", "member=%u instruction=%llu why=\"not an instruction, or bundled\"",
                      s->member, (unsigned long long)s->seq);
        else if (s->result == RL_ERR_DUPLICATE)
            log_debug("co-signature not needed", "member=%u instruction=%llu why=\"a quorum of signatures is in\"",
                      s->member, (unsigned long long)s->seq);
        else if (s->result == RL_ERR_SIG)
            log_warn("co-signature refused", "member=%u instruction=%llu why=\"does not recover the member's address\"",
                     s->member, (unsigned long long)s->seq);
        else if (s->result != RL_OK)
            log_warn("co-signature refused", "member=%u instruction=%llu why=\"%s\"", s->member,
                     (unsigned long long)s->seq, rl_strerror(s->result));
    }
    h->ncosigs = 0;
}

struct watch_ctx {
    struct hub *h;
    MDB_txn *txn;
    rl_err err;
    rl_why *why;
};

static int watch_open(void *ctx, uint64_t seq)
{
    struct watch_ctx *w = ctx;
    w->err = hubcosig_watch(w->h->cosig, w->txn, w->h->st, seq, mono_ms(), w->why);
    return w->err != RL_OK;
}

rl_err hub_watch_open_instructions(struct hub *h, rl_why *why)
{
    MDB_txn *txn;
    rl_err err = store_read_begin(h->st, &txn, why);
    if (err != RL_OK)
        return err;
    struct watch_ctx w = {.h = h, .txn = txn, .why = why};
    err = ledger_open_instructions(txn, h->st, watch_open, &w, why);
    store_read_end(txn);
    return err != RL_OK ? err : w.err;
}

rl_err hub_watch_record(struct hub *h, MDB_txn *txn, uint64_t seq, const uint8_t *rec, size_t len,
                        rl_why *why)
{
    record r;
    if (!h->pin_risk || record_decode(&r, rec, len, NULL) != RL_OK || r.type != RECORD_INSTRUCTION)
        return RL_OK;
    return hubcosig_watch(h->cosig, txn, h->st, seq, mono_ms(), why);
}

static void on_short(void *ctx, const hubcosig_short *sh)
{
    (void)ctx;
    char members[RELSET_MAX_MEMBERS * 6 + 1] = "";
    size_t at = 0;
    for (unsigned i = 0; i < sh->have && at < sizeof members; i++)
        at += (size_t)snprintf(members + at, sizeof members - at, "%s%u", i ? "," : "", sh->signed_by[i]);
    log_warn("instruction short of co-signatures", "instruction=%llu signatures=%u threshold=%u signed_by=\"%s\" "
             "waited_ms=%llu alert=%u",
             (unsigned long long)sh->seq, sh->have, sh->need, members, (unsigned long long)sh->waited_ms, sh->alert);
}

/* Logs the bundles that are due. */
rl_err hub_log_bundles(struct hub *h, uint64_t now, rl_why *why)
{
    /* Only after a new signature, a commit (a bundle may have landed) or a second (retries): not
     * one ledger lookup per waiting instruction on every tick. */
    uint64_t head = ingest_head(h->g)->seq;
    if (hubcosig_waiting(h->cosig) == 0 ||
        (!h->cosig_news && head == h->bundles_head && mono_ms() - h->bundles_ms < 1000))
        return RL_OK;
    h->cosig_news = false;
    h->bundles_head = head;
    h->bundles_ms = mono_ms();
    MDB_txn *txn;
    rl_err err = store_read_begin(h->st, &txn, why);
    bool open = err == RL_OK;
    bundle *b = malloc(sizeof *b);
    uint8_t *enc = malloc(BUNDLE_MAX_BYTES);
    if (err == RL_OK && (b == NULL || enc == NULL))
        err = RL_ERR_NOMEM;
    while (err == RL_OK && hubcosig_due(h->cosig, txn, h->st, ingest_set(h->g), mono_ms(), b)) {
        size_t len;
        if ((err = bundle_encode(enc, &len, b, why)) == RL_OK &&
            (err = ingest_append_verified(h->g, RECORD_BUNDLE, enc, len, now, why)) == RL_OK) { /* hubcosig checked */
            h->bundles_logged++;
            log_info("bundle", "instruction=%llu signatures=%u", (unsigned long long)b->instruction, b->n);
        }
    }
    if (open)
        store_read_end(txn);
    free(b);
    free(enc);
    return err;
}

void hub_cosig_alerts(struct hub *h)
{
    h->cosig_short = hubcosig_short_scan(h->cosig, ingest_set(h->g), mono_ms(), wall_ms() / 1000,
                                         h->cfg.cosign_alert_ms, on_short, h);
}
