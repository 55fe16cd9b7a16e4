/* checkpoint_test.c - attest/checkpoint, the CHECKPOINT record (record, audit, db/ledger_ckpt), db/export's header
 * checkpoint and export_write_prefix, `audit verify --checkpoint`, `relayer checkpoint`, relayer/hubckpt. */
#include <sodium.h>

#include "attest/audit.h"
#include "attest/checkpoint.h"
#include "db/export.h"
#include "db/ingest.h"
#include "db/ledger_ckpt.h"
#include "db/replay.h"
#include "relayer/files.h"
#include "relayer/hubckpt.h"
#include "relayer/sim.h"
#include "tests/testutil.h"

/* A hub log of simulated deposits (3 nodes, threshold 2), exported to DIR/log.rlog, with the
 * genesis set in DIR/relayers.json. */
struct hublog {
    char *dir;
    char file[512], rel[512];
    sim s;
    pool *p;
    store *st;
    ingest *g;
};

static void hublog_open(struct hublog *h, uint64_t events, uint64_t conflicts, uint64_t rotate_at)
{
    rl_why why = {{0}};
    cr_assert(sodium_init() >= 0);
    memset(h, 0, sizeof *h);
    h->dir = tu_tmpdir();
    sim_opts o = {.events = events, .nodes = 3, .threshold = 2, .seed = 9, .conflicts = conflicts,
                  .rotate_at = rotate_at};
    cr_assert_eq(sim_init(&h->s, &o, &why), RL_OK, "%s", why.text);
    cr_assert_eq(pool_new(&h->p, 2), RL_OK);
    char hub[600];
    snprintf(hub, sizeof hub, "%s/hub", h->dir);
    cr_assert_eq(store_open(&h->st, hub, NULL, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_open(&h->g, h->st, h->p, &h->s.genesis, NULL, 1, &why), RL_OK, "%s", why.text);
    cr_assert_eq(sim_ingest(&h->s, h->p, h->g, NULL, NULL, &why), RL_OK, "%s", why.text);
    snprintf(h->rel, sizeof h->rel, "%s/relayers.json", h->dir);
    json_t *j = relset_to_json(&h->s.genesis);
    cr_assert_eq(json_dump_file(j, h->rel, 0), 0);
    json_decref(j);
}

static void hublog_export(struct hublog *h, const char *name)
{
    rl_why why = {{0}};
    snprintf(h->file, sizeof h->file, "%s/%s", h->dir, name);
    cr_assert_eq(ingest_flush(h->g, 2, &why), RL_OK, "%s", why.text);
    cr_assert_eq(export_write(h->st, h->file, NULL, NULL, NULL, &why), RL_OK, "%s", why.text);
}

static void hublog_close(struct hublog *h)
{
    ingest_close(h->g);
    store_close(h->st);
    pool_free(h->p);
    sim_fini(&h->s);
    tu_rmdir(h->dir);
}

/* The set in force and the hash of record seq in the hub's ledger. */
static void hub_hash(struct hublog *h, uint64_t seq, uint8_t out[HASH_BYTES])
{
    MDB_txn *txn;
    MDB_val v;
    cr_assert_eq(store_read_begin(h->st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_record_get(txn, h->st, seq, &v, NULL), RL_OK);
    record_hash(out, v.mv_data, v.mv_size);
    store_read_end(txn);
}

static const relset *set_of(const struct hublog *h, uint32_t version)
{
    return version == 2 ? &h->s.rotated : &h->s.genesis;
}

/* A checkpoint of (seq, head) signed by the first n members of the set of version v. */
static void sign_by(const struct hublog *h, checkpoint_signed *cs, uint64_t seq, const uint8_t head[HASH_BYTES],
                    uint32_t v, unsigned n)
{
    const relset *set = set_of(h, v);
    memset(cs, 0, sizeof *cs);
    cs->c.seq = seq;
    cs->c.set_version = v;
    memcpy(cs->c.head, head, HASH_BYTES);
    for (unsigned i = 0; i < n; i++) {
        cs->sigs.e[i].member = set->members[i].id;
        checkpoint_sign(&cs->c, h->s.keys[set->members[i].id - 1], cs->sigs.e[i].sig);
    }
    cs->sigs.n = (uint8_t)n;
}

static void save(const struct hublog *h, const checkpoint_signed *cs, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", h->dir, name);
    rl_why why = {{0}};
    cr_assert_eq(checkpoint_save(path, cs, NULL, &why), RL_OK, "%s", why.text);
}

/* The head's quorum checkpoint, signed by every member, saved as DIR/head.json. */
static uint64_t head_checkpoint(struct hublog *h, char *path, size_t cap)
{
    const ledger_head *head = ingest_head(h->g);
    checkpoint_signed cs;
    sign_by(h, &cs, head->seq, head->hash, head->set_version, set_of(h, head->set_version)->n);
    save(h, &cs, "head.json", path, cap);
    return head->seq;
}

/* ---- the module ---- */

Test(checkpoint, body_round_trips_and_decoding_is_strict)
{
    checkpoint c = {.seq = 77, .set_version = 3}, d;
    memset(c.head, 0xab, HASH_BYTES);
    uint8_t b[CHECKPOINT_BODY_BYTES];
    cr_assert_eq(checkpoint_body_encode(b, &c, NULL), RL_OK);
    cr_assert_eq(checkpoint_body_decode(&d, b, sizeof b, NULL), RL_OK);
    cr_assert(d.seq == 77 && d.set_version == 3 && memcmp(d.head, c.head, HASH_BYTES) == 0);
    cr_assert_eq(checkpoint_body_decode(&d, b, sizeof b - 1, NULL), RL_ERR_DECODE);
    b[0] = 2;
    cr_assert_eq(checkpoint_body_decode(&d, b, sizeof b, NULL), RL_ERR_VERSION);
    b[0] = 1;
    memset(b + 1, 0, 8);
    cr_assert_eq(checkpoint_body_decode(&d, b, sizeof b, NULL), RL_ERR_DECODE, "seq 0");
    c.seq = 0;
    cr_assert_eq(checkpoint_body_encode(b, &c, NULL), RL_ERR_ARG);
}

Test(checkpoint, a_quorum_verifies_and_too_few_forged_foreign_or_misversioned_signatures_do_not)
{
    struct hublog h;
    hublog_open(&h, 20, 0, 0);
    uint8_t head[HASH_BYTES];
    hub_hash(&h, 5, head);
    checkpoint_signed cs;
    rl_why why = {{0}};
    sign_by(&h, &cs, 5, head, 1, 2);
    cr_assert_eq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_OK, "%s", why.text);
    sign_by(&h, &cs, 5, head, 1, 1);
    cr_assert_eq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_ERR_QUORUM);
    sign_by(&h, &cs, 5, head, 1, 2);
    cs.sigs.e[1].sig[3] ^= 1;
    cr_assert_eq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_ERR_SIG);
    cr_assert(strstr(why.text, "member 2") != NULL, "%s", why.text);
    sign_by(&h, &cs, 5, head, 1, 2);
    cs.sigs.e[1].member = 9;
    cr_assert_eq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_ERR_SIGNER);
    sign_by(&h, &cs, 5, head, 1, 2);
    cs.sigs.e[1].member = cs.sigs.e[0].member; /* one member twice is one signer */
    cr_assert_neq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_OK);
    sign_by(&h, &cs, 5, head, 1, 2);
    cs.c.set_version = 2;
    cr_assert_eq(checkpoint_quorum_verify(&cs, &h.s.genesis, &why), RL_ERR_STATE);
    hublog_close(&h);
}

Test(checkpoint, signed_form_and_json_round_trip_and_refuse_what_is_not_canonical)
{
    struct hublog h;
    hublog_open(&h, 10, 0, 0);
    uint8_t head[HASH_BYTES], enc[CHECKPOINT_MAX_BYTES];
    hub_hash(&h, 3, head);
    checkpoint_signed cs, back;
    sign_by(&h, &cs, 3, head, 1, 3);
    size_t len;
    cr_assert_eq(checkpoint_signed_encode(enc, &len, &cs, NULL), RL_OK);
    cr_assert_eq(len, CHECKPOINT_BODY_BYTES + 1 + 3 * SIG_ENTRY_BYTES);
    cr_assert_eq(checkpoint_signed_decode(&back, enc, len, NULL), RL_OK);
    cr_assert_eq(memcmp(&back.sigs.e[2], &cs.sigs.e[2], sizeof cs.sigs.e[2]), 0);
    cr_assert_eq(checkpoint_signed_decode(&back, enc, len - 1, NULL), RL_ERR_DECODE, "truncated");
    enc[len] = 0;
    cr_assert_eq(checkpoint_signed_decode(&back, enc, len + 1, NULL), RL_ERR_DECODE, "trailing byte");
    enc[CHECKPOINT_BODY_BYTES] = 0;
    cr_assert_eq(checkpoint_signed_decode(&back, enc, CHECKPOINT_BODY_BYTES + 1, NULL), RL_ERR_DECODE, "no signature");

    json_t *j = checkpoint_to_json(&cs, &h.s.genesis);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "signatures"), 0), "name")),
                     h.s.genesis.members[0].pub.name);
    cr_assert_eq(checkpoint_from_json(&back, j, NULL), RL_OK);
    cr_assert_eq(back.c.seq, 3);
    cr_assert_eq(memcmp(back.c.head, head, HASH_BYTES), 0);
    json_object_set_new(j, "extra", json_true());
    cr_assert_eq(checkpoint_from_json(&back, j, NULL), RL_ERR_DECODE, "an unknown key");
    json_object_del(j, "extra");
    json_t *sigs = json_object_get(j, "signatures");
    json_t *first = json_incref(json_array_get(sigs, 0));
    json_array_remove(sigs, 0);
    json_array_append_new(sigs, first);
    rl_why why = {{0}};
    cr_assert_eq(checkpoint_from_json(&back, j, &why), RL_ERR_DECODE, "members out of order");
    json_decref(j);
    hublog_close(&h);
}

/* ---- the CHECKPOINT record: hub ledger, audit ---- */

static rl_err append_checkpoint(struct hublog *h, const checkpoint_signed *cs)
{
    uint8_t enc[CHECKPOINT_MAX_BYTES];
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(checkpoint_signed_encode(enc, &len, cs, &why), RL_OK, "%s", why.text);
    uint64_t before = ingest_head(h->g)->seq;
    cr_assert_eq(ingest_append(h->g, RECORD_CHECKPOINT, enc, len, 5, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_flush(h->g, 6, &why), RL_OK, "%s", why.text);
    return ingest_head(h->g)->seq == before + 1 ? RL_OK : RL_ERR_STATE;
}

Test(checkpoint, the_ledger_logs_a_quorum_of_its_own_head_and_refuses_other_heads_short_quorums_and_old_seqs)
{
    struct hublog h;
    hublog_open(&h, 30, 0, 0);
    uint64_t head = ingest_head(h.g)->seq;
    uint8_t hash[HASH_BYTES], other[HASH_BYTES];
    checkpoint_signed cs;
    hub_hash(&h, head, hash);
    memset(other, 0x42, sizeof other);
    sign_by(&h, &cs, head, other, 1, 3);
    cr_assert_neq(append_checkpoint(&h, &cs), RL_OK, "a head that is not the ledger's record hash");
    sign_by(&h, &cs, head, hash, 1, 1);
    cr_assert_neq(append_checkpoint(&h, &cs), RL_OK, "one signer, threshold 2");
    sign_by(&h, &cs, head, hash, 1, 2);
    cr_assert_eq(append_checkpoint(&h, &cs), RL_OK);
    MDB_txn *txn;
    checkpoint_signed got;
    uint64_t at;
    cr_assert_eq(store_read_begin(h.st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_ckpt_latest(txn, h.st, &got, &at, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(got.c.seq, head);
    cr_assert_eq(at, head + 1);
    hub_hash(&h, head - 3, hash);
    sign_by(&h, &cs, head - 3, hash, 1, 2);
    cr_assert_neq(append_checkpoint(&h, &cs), RL_OK, "a seq below the latest checkpoint's");

    /* the auditor checks the same record, and a replay reaches the hub's state */
    hublog_export(&h, "log.rlog");
    replay_opts ro = {.genesis = &h.s.genesis, .pool = h.p};
    audit_summary sum;
    replay_failure fail;
    cr_assert_eq(replay_file(h.file, &ro, &sum, &fail), RL_OK, "record %llu: %s", (unsigned long long)fail.seq,
                 fail.why.text);
    cr_assert_eq(sum.checkpoints, 1);
    cr_assert_eq(sum.checkpoint_seq, head);
    hublog_close(&h);
}

/* An exported file whose record k is replaced (the hash chain rewritten after it) fails where a
 * CHECKPOINT record names record k: built by editing the hub's log before it is logged. */
Test(checkpoint, audit_refuses_a_checkpoint_record_whose_head_is_not_the_records_hash)
{
    struct hublog h;
    hublog_open(&h, 10, 0, 0);
    audit *a;
    cr_assert_eq(audit_new(&a, &h.s.genesis), RL_OK);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    MDB_txn *txn;
    MDB_val v;
    uint64_t head = ingest_head(h.g)->seq;
    cr_assert_eq(store_read_begin(h.st, &txn, NULL), RL_OK);
    for (uint64_t seq = 1; seq <= head; seq++) {
        size_t n = 0;
        cr_assert_eq(ledger_record_get(txn, h.st, seq, &v, NULL), RL_OK);
        cr_assert_eq(audit_next(a, v.mv_data, v.mv_size, jobs, &n, NULL), RL_OK);
    }
    store_read_end(txn);
    uint8_t other[HASH_BYTES], payload[CHECKPOINT_MAX_BYTES], rec[RECORD_MAX_BYTES];
    memset(other, 7, sizeof other);
    checkpoint_signed cs;
    sign_by(&h, &cs, head - 1, other, 1, 2);
    size_t plen, rlen, n = 0;
    cr_assert_eq(checkpoint_signed_encode(payload, &plen, &cs, NULL), RL_OK);
    record r = {.type = RECORD_CHECKPOINT, .seq = head + 1, .time_ms = ingest_head(h.g)->time_ms, /* ledger.h T1 */
                .payload = payload, .payload_len = (uint32_t)plen};
    memcpy(r.prev, ingest_head(h.g)->hash, HASH_BYTES);
    cr_assert_eq(record_encode(&r, rec, &rlen, NULL), RL_OK);
    rl_why why = {{0}};
    cr_assert_eq(audit_next(a, rec, rlen, jobs, &n, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "not the hash of record") != NULL, "%s", why.text);
    audit_free(a);
    hublog_close(&h);
}

/* ---- audit verify --checkpoint ---- */

static int verify_cli(const struct hublog *h, const char *file, const char *extra, char **out)
{
    return tu_run(out, "%s audit verify %s --relayers %s %s", RELAYER_BIN, file, h->rel, extra);
}

/* The attack of issue 14: an exporter drops the last K records and rewrites the header and
 * footer. Without a checkpoint the file verifies (that is the hole); with a node's checkpoint of
 * the head it fails, naming the checkpoint. */
Test(checkpoint, a_tail_cut_by_1_5_or_100_records_verifies_alone_and_fails_against_a_nodes_checkpoint)
{
    struct hublog h;
    hublog_open(&h, 240, 0, 120);
    hublog_export(&h, "log.rlog");
    char cp[600], extra[700], cut[600], *out = NULL;
    head_checkpoint(&h, cp, sizeof cp);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 0, "%s", out);
    cr_assert(strstr(out, "agrees with 1 quorum checkpoint") != NULL, "%s", out);
    free(out);
    uint64_t ks[] = {1, 5, 100};
    for (size_t i = 0; i < 3; i++) {
        rl_why why = {{0}};
        snprintf(cut, sizeof cut, "%s/cut%llu.rlog", h.dir, (unsigned long long)ks[i]);
        uint64_t n = ingest_head(h.g)->seq;
        cr_assert_eq(export_write_prefix(h.file, cut, n - ks[i], &why), RL_OK, "%s", why.text);
        cr_assert_eq(verify_cli(&h, cut, "", &out), 0, "K=%llu: the cut file verifies alone: %s",
                     (unsigned long long)ks[i], out);
        free(out);
        cr_assert_eq(verify_cli(&h, cut, extra, &out), 1, "K=%llu: %s", (unsigned long long)ks[i], out);
        cr_assert(strstr(out, cp) != NULL && strstr(out, "records were cut") != NULL, "%s", out);
        free(out);
    }
    hublog_close(&h);
}

Test(checkpoint, a_forked_export_fails_and_two_conflicting_checkpoints_prove_a_fork)
{
    /* Two logs of one genesis set that differ from some record on: the nodes checkpointed A. */
    struct hublog a, b;
    hublog_open(&a, 40, 0, 0);
    hublog_open(&b, 40, 4, 0);
    char cpa[600], cpb[600], extra[1400], *out = NULL;
    uint64_t seq = head_checkpoint(&a, cpa, sizeof cpa);
    cr_assert_geq(ingest_head(b.g)->seq, seq);
    uint8_t hb[HASH_BYTES];
    hub_hash(&b, seq, hb);
    checkpoint_signed csb;
    sign_by(&b, &csb, seq, hb, 1, 2);
    save(&a, &csb, "b.json", cpb, sizeof cpb);
    hublog_export(&b, "b.rlog");
    snprintf(extra, sizeof extra, "--checkpoint %s", cpa);
    cr_assert_eq(verify_cli(&a, b.file, extra, &out), 1, "%s", out);
    cr_assert(strstr(out, "the log forked") != NULL && strstr(out, cpa) != NULL, "%s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s --checkpoint %s", cpa, cpb);
    cr_assert_eq(verify_cli(&a, b.file, extra, &out), 1, "%s", out);
    cr_assert(strstr(out, "proof that the log forked") != NULL, "%s", out);
    free(out);
    hublog_close(&b);
    hublog_close(&a);
}

/* Attack 1a (review of issue 14): the log rotated to version 2, retiring member 3; members of
 * version 1 (3 among them) sign a checkpoint marked version 1 at a seq after the rotation, with a
 * bogus head. Retired keys prove nothing about seqs after their rotation: the honest log is not
 * accused (exit 2, the auditor's input), alone or as a pair "proving" a fork. */
Test(checkpoint, a_retired_quorum_cannot_accuse_an_honest_log_of_forking_after_its_rotation)
{
    struct hublog h;
    hublog_open(&h, 60, 0, 30);
    hublog_export(&h, "log.rlog");
    const ledger_head *head = ingest_head(h.g);
    cr_assert_eq(head->set_version, 2);
    uint8_t bogus[HASH_BYTES];
    memset(bogus, 0x5a, HASH_BYTES);
    checkpoint_signed cs;
    char cp1[600], cp2[600], extra[1400], *out = NULL;
    sign_by(&h, &cs, head->seq, bogus, 1, 3);
    save(&h, &cs, "retired1.json", cp1, sizeof cp1);
    bogus[0] ^= 1;
    sign_by(&h, &cs, head->seq, bogus, 1, 3);
    save(&h, &cs, "retired2.json", cp2, sizeof cp2);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp1);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "refused") != NULL && strstr(out, "rotated out") != NULL, "%s", out);
    cr_assert(strstr(out, "forked") == NULL, "%s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s --checkpoint %s", cp1, cp2);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "proof that the log forked") == NULL, "%s", out);
    free(out);
    /* beyond the end of the log too: a retired set cannot claim records were cut */
    sign_by(&h, &cs, head->seq + 5, bogus, 1, 3);
    save(&h, &cs, "retired3.json", cp1, sizeof cp1);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp1);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "rotated out") != NULL, "%s", out);
    free(out);
    /* the quorum of the set in force at that seq still speaks for it */
    sign_by(&h, &cs, head->seq, head->hash, 2, 2);
    save(&h, &cs, "v2.json", cp1, sizeof cp1);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp1);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 0, "%s", out);
    free(out);
    hublog_close(&h);
}

/* Attack 1b: the hub's fork never installs version 2 and runs past the seq of the nodes' real
 * version 2 checkpoint. Without the set of version 2 the auditor cannot check that quorum and is
 * told to pass it (exit 2); with --set it is a fork (exit 1), and a cut one when the fork is short. */
Test(checkpoint, a_fork_that_leaves_out_the_rotation_is_reported_as_a_fork_given_the_new_set)
{
    struct hublog nodes, fork;
    hublog_open(&nodes, 40, 0, 20);
    hublog_open(&fork, 60, 0, 0);
    const ledger_head *head = ingest_head(nodes.g);
    cr_assert_eq(head->set_version, 2);
    cr_assert_gt(ingest_head(fork.g)->seq, head->seq);
    checkpoint_signed cs;
    char cp[600], setf[600], extra[1400], *out = NULL;
    sign_by(&nodes, &cs, head->seq, head->hash, 2, 2);
    save(&nodes, &cs, "head.json", cp, sizeof cp);
    snprintf(setf, sizeof setf, "%s/v2.json", nodes.dir);
    json_t *j = relset_to_json(&nodes.s.rotated);
    cr_assert_eq(json_dump_file(j, setf, 0), 0);
    json_decref(j);
    hublog_export(&fork, "fork.rlog");
    snprintf(extra, sizeof extra, "--checkpoint %s", cp);
    cr_assert_eq(verify_cli(&nodes, fork.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "--set") != NULL, "the auditor is told what is missing: %s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s --set %s", cp, setf);
    cr_assert_eq(verify_cli(&nodes, fork.file, extra, &out), 1, "%s", out);
    cr_assert(strstr(out, "the log forked") != NULL && strstr(out, "not in force at seq") != NULL, "%s", out);
    free(out);
    /* a fork cut before the checkpoint's seq */
    char cut[600];
    snprintf(cut, sizeof cut, "%s/cut.rlog", fork.dir);
    cr_assert_eq(export_write_prefix(fork.file, cut, head->seq - 3, NULL), RL_OK);
    cr_assert_eq(verify_cli(&nodes, cut, extra, &out), 1, "%s", out);
    free(out);
    /* a forged set of version 2 proves nothing: its quorum does not verify */
    sign_by(&nodes, &cs, head->seq, head->hash, 2, 2);
    cs.sigs.e[1].sig[3] ^= 1;
    save(&nodes, &cs, "forged.json", cp, sizeof cp);
    snprintf(extra, sizeof extra, "--checkpoint %s --set %s", cp, setf);
    cr_assert_eq(verify_cli(&nodes, fork.file, extra, &out), 2, "%s", out);
    free(out);
    /* the nodes' own log agrees with the real one, --set or not */
    sign_by(&nodes, &cs, head->seq, head->hash, 2, 2);
    save(&nodes, &cs, "head.json", cp, sizeof cp);
    hublog_export(&nodes, "log.rlog");
    snprintf(extra, sizeof extra, "--checkpoint %s --set %s", cp, setf);
    cr_assert_eq(verify_cli(&nodes, nodes.file, extra, &out), 0, "%s", out);
    free(out);
    hublog_close(&fork);
    hublog_close(&nodes);
}

Test(checkpoint, a_checkpoint_with_too_few_or_forged_signatures_is_refused_with_exit_2)
{
    struct hublog h;
    hublog_open(&h, 30, 0, 0);
    hublog_export(&h, "log.rlog");
    const ledger_head *head = ingest_head(h.g);
    checkpoint_signed cs;
    char cp[600], extra[700], *out = NULL;
    sign_by(&h, &cs, head->seq + 10, head->hash, 1, 1);
    save(&h, &cs, "few.json", cp, sizeof cp);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "refused") != NULL && strstr(out, "threshold is 2") != NULL, "%s", out);
    free(out);
    sign_by(&h, &cs, head->seq, head->hash, 1, 2);
    cs.sigs.e[0].sig[0] ^= 0x80;
    save(&h, &cs, "forged.json", cp, sizeof cp);
    snprintf(extra, sizeof extra, "--checkpoint %s", cp);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "%s", out);
    cr_assert(strstr(out, "does not verify") != NULL, "%s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s/relayers.json", h.dir);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 2, "not a checkpoint file: %s", out);
    free(out);
    hublog_close(&h);
}

Test(checkpoint, an_export_carries_the_latest_checkpoint_in_its_header_and_verify_checks_it)
{
    struct hublog h;
    hublog_open(&h, 30, 0, 0);
    const ledger_head *head = ingest_head(h.g);
    checkpoint_signed cs;
    uint64_t seq = head->seq;
    sign_by(&h, &cs, head->seq, head->hash, 1, 2);
    cr_assert_eq(append_checkpoint(&h, &cs), RL_OK);
    hublog_export(&h, "log.rlog");
    export_reader *r;
    cr_assert_eq(export_open(&r, h.file, NULL), RL_OK);
    cr_assert_not_null(export_checkpoint(r));
    cr_assert_eq(export_checkpoint(r)->c.seq, seq);
    cr_assert_eq(json_integer_value(json_object_get(export_header(r), "version")), 2);
    export_close(r);
    char *out = NULL, cut[600];
    cr_assert_eq(verify_cli(&h, h.file, "", &out), 0, "%s", out);
    cr_assert(strstr(out, "agrees with 1 quorum checkpoint") != NULL, "%s", out);
    free(out);
    /* the exporter cuts the CHECKPOINT record and the record it witnesses, keeping the header */
    snprintf(cut, sizeof cut, "%s/cut.rlog", h.dir);
    cr_assert_eq(export_write_prefix(h.file, cut, seq - 1, NULL), RL_OK);
    cr_assert_eq(verify_cli(&h, cut, "", &out), 0, "the dishonest exporter drops the header's checkpoint too: %s",
                 out);
    free(out);
    hublog_close(&h);
}

/* ---- relayer checkpoint ---- */

Test(checkpoint, relayer_checkpoint_prints_the_newest_checkpoint_of_a_replicas_data_directory)
{
    struct hublog h;
    hublog_open(&h, 20, 0, 0);
    char conf[700], *out = NULL;
    snprintf(conf, sizeof conf, "%s/follow.conf", h.dir);
    tu_write(h.dir, "follow.conf", "[follow]\ndata = hub\nkey = keys/x.key\nrelayers = relayers.json\n[hub]\n"
                                   "records = ipc://x\ncatchup = ipc://y\nkey = keys/hub.pub\n");
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s", RELAYER_BIN, conf), 1, "none yet: %s", out);
    free(out);
    const ledger_head *head = ingest_head(h.g);
    checkpoint_signed cs;
    uint64_t seq = head->seq;
    sign_by(&h, &cs, head->seq, head->hash, 1, 3);
    cr_assert_eq(append_checkpoint(&h, &cs), RL_OK);
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s", RELAYER_BIN, conf), 0, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    checkpoint_signed back;
    cr_assert_eq(checkpoint_from_json(&back, j, NULL), RL_OK);
    cr_assert_eq(back.c.seq, seq);
    cr_assert_eq(back.sigs.n, 3);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "signatures"), 1), "name")),
                     h.s.genesis.members[1].pub.name);
    json_decref(j);
    free(out);
    hublog_close(&h);
}

/* Attack 2: a hub that never logs a checkpoint leaves no quorum checkpoint anywhere, and cuts
 * its log. Each node's own signed head (one signature) is refused alone, but threshold members'
 * heads of one (seq, head, version) combine into a quorum that catches the cut. */
Test(checkpoint, own_heads_of_threshold_members_combine_and_catch_a_cut_log_the_hub_never_checkpointed)
{
    struct hublog h;
    hublog_open(&h, 60, 0, 0);
    hublog_export(&h, "log.rlog");
    const ledger_head *head = ingest_head(h.g);
    checkpoint_signed one;
    char own[3][600], extra[2000], cut[600], *out = NULL;
    for (unsigned i = 0; i < 3; i++) {
        char name[32];
        checkpoint k = {.seq = head->seq, .set_version = 1};
        memcpy(k.head, head->hash, HASH_BYTES);
        memset(&one, 0, sizeof one);
        one.c = k;
        one.sigs.n = 1;
        one.sigs.e[0].member = h.s.genesis.members[i].id;
        checkpoint_sign(&k, h.s.keys[i], one.sigs.e[0].sig);
        snprintf(name, sizeof name, "own%u.json", i + 1);
        save(&h, &one, name, own[i], sizeof own[i]);
    }
    snprintf(cut, sizeof cut, "%s/cut.rlog", h.dir);
    cr_assert_eq(export_write_prefix(h.file, cut, head->seq - 4, NULL), RL_OK);
    snprintf(extra, sizeof extra, "--checkpoint %s", own[0]);
    cr_assert_eq(verify_cli(&h, cut, extra, &out), 2, "one member is no quorum: %s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s --checkpoint %s", own[0], own[2]);
    cr_assert_eq(verify_cli(&h, cut, extra, &out), 1, "%s", out);
    cr_assert(strstr(out, "records were cut") != NULL && strstr(out, "2 members signed") != NULL, "%s", out);
    cr_assert(strstr(out, own[0]) != NULL && strstr(out, own[2]) != NULL, "both files named: %s", out);
    free(out);
    snprintf(extra, sizeof extra, "--checkpoint %s --checkpoint %s --checkpoint %s", own[0], own[1], own[2]);
    cr_assert_eq(verify_cli(&h, h.file, extra, &out), 0, "%s", out);
    cr_assert(strstr(out, "agrees with 1 quorum checkpoint") != NULL, "%s", out);
    free(out);
    /* one member cannot stand in twice: the same file twice is still one signature */
    snprintf(extra, sizeof extra, "--checkpoint %s --checkpoint %s", own[0], own[0]);
    cr_assert_eq(verify_cli(&h, cut, extra, &out), 2, "%s", out);
    free(out);
    hublog_close(&h);
}

Test(checkpoint, merging_unites_members_once_and_refuses_two_signatures_of_one_member_or_other_heads)
{
    checkpoint_signed a = {0}, b = {0};
    a.c.seq = b.c.seq = 9;
    a.c.set_version = b.c.set_version = 1;
    a.sigs.n = 2;
    a.sigs.e[0].member = 1;
    a.sigs.e[1].member = 3;
    b.sigs.n = 2;
    b.sigs.e[0].member = 2;
    b.sigs.e[1].member = 3;
    cr_assert_eq(checkpoint_merge(&a, &b, NULL), RL_OK);
    cr_assert_eq(a.sigs.n, 3);
    cr_assert(a.sigs.e[0].member == 1 && a.sigs.e[1].member == 2 && a.sigs.e[2].member == 3);
    b.sigs.e[1].sig[0] = 1;
    cr_assert_eq(checkpoint_merge(&a, &b, NULL), RL_ERR_SIG);
    b.c.seq = 10;
    cr_assert_eq(checkpoint_merge(&a, &b, NULL), RL_ERR_ARG);
}

struct own_put {
    const store *st;
    checkpoint k;
    uint16_t member;
    uint8_t sig[ED25519_SIG_BYTES];
};

static rl_err own_put_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct own_put *o = ctx;
    return ledger_ckpt_own_put(txn, o->st, &o->k, o->member, o->sig, why);
}

/* `relayer checkpoint --own`: the head the node's replica filed last, whether or not any quorum
 * checkpoint was ever logged; a forged one is not printed. */
Test(checkpoint, relayer_checkpoint_own_prints_the_nodes_latest_signed_head_without_any_logged_checkpoint)
{
    struct hublog h;
    hublog_open(&h, 20, 0, 0);
    char conf[700], *out = NULL;
    snprintf(conf, sizeof conf, "%s/follow.conf", h.dir);
    tu_write(h.dir, "follow.conf", "[follow]\ndata = hub\nkey = keys/x.key\nrelayers = relayers.json\n[hub]\n"
                                   "records = ipc://x\ncatchup = ipc://y\nkey = keys/hub.pub\n");
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s --own", RELAYER_BIN, conf), 1, "none yet: %s", out);
    free(out);
    cr_assert_eq(ingest_flush(h.g, 2, NULL), RL_OK);
    const ledger_head *head = ingest_head(h.g);
    checkpoint k = {.seq = head->seq, .set_version = 1};
    memcpy(k.head, head->hash, HASH_BYTES);
    struct own_put o = {.st = h.st, .k = k, .member = h.s.genesis.members[1].id};
    checkpoint_sign(&k, h.s.keys[1], o.sig);
    cr_assert_eq(store_write(h.st, own_put_fn, &o, NULL), RL_OK);
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s", RELAYER_BIN, conf), 1, "no quorum logged: %s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s --own", RELAYER_BIN, conf), 0, "%s", out);
    json_t *j = json_loads(out, 0, NULL);
    cr_assert_not_null(j, "%s", out);
    checkpoint_signed back;
    cr_assert_eq(checkpoint_from_json(&back, j, NULL), RL_OK);
    cr_assert(back.c.seq == head->seq && back.sigs.n == 1 && back.sigs.e[0].member == h.s.genesis.members[1].id);
    json_decref(j);
    free(out);
    o.sig[5] ^= 1;
    cr_assert_eq(store_write(h.st, own_put_fn, &o, NULL), RL_OK);
    cr_assert_eq(tu_run(&out, "%s checkpoint --config %s --own", RELAYER_BIN, conf), 2, "%s", out);
    cr_assert(strstr(out, "does not verify") != NULL, "%s", out);
    free(out);
    hublog_close(&h);
}

/* ---- the hub's collection ---- */

struct fake_log {
    uint64_t head;
    uint8_t hashes[64][HASH_BYTES];
};

static bool fake_hash(void *ctx, uint64_t seq, uint8_t out[HASH_BYTES])
{
    struct fake_log *l = ctx;
    if (seq == 0 || seq > l->head)
        return false;
    memcpy(out, l->hashes[seq - 1], HASH_BYTES);
    return true;
}

static rl_err offer(hubckpt *k, const struct hublog *h, struct fake_log *l, unsigned member_index, uint64_t seq,
                    const uint8_t *head, uint64_t now, checkpoint_signed *out, bool *ready)
{
    const relset *set = &h->s.genesis;
    checkpoint c = {.seq = seq, .set_version = 1};
    memcpy(c.head, head != NULL ? head : l->hashes[seq - 1], HASH_BYTES);
    uint8_t sig[ED25519_SIG_BYTES];
    checkpoint_sign(&c, h->s.keys[set->members[member_index].id - 1], sig);
    return hubckpt_offer(k, set, l->head, fake_hash, l, set->members[member_index].id, &c, sig, now, out, ready);
}

static void fake_log_init(struct fake_log *l)
{
    l->head = 64;
    for (unsigned i = 0; i < 64; i++)
        memset(l->hashes[i], (int)i + 1, HASH_BYTES);
}

/* Each hubckpt test: a set of 3 (threshold 2) and a fake hub log of 64 records. */
static struct hublog h;
static struct fake_log l;
static hubckpt *k;

static void collect_open(void)
{
    hublog_open(&h, 4, 0, 0);
    fake_log_init(&l);
    cr_assert_eq(hubckpt_new(&k, 0), RL_OK);
}

static void collect_close(void)
{
    hubckpt_free(k);
    hublog_close(&h);
}

Test(hubckpt, a_member_alone_below_threshold_gets_nothing_logged_and_a_second_one_makes_a_quorum,
     .init = collect_open, .fini = collect_close)
{
    checkpoint_signed out;
    bool ready;
    for (uint64_t seq = 1; seq <= 64; seq++) {
        cr_assert_eq(offer(k, &h, &l, 0, seq, NULL, 1000, &out, &ready), RL_OK);
        cr_assert(!ready, "one member of threshold 2 made seq %llu ready", (unsigned long long)seq);
    }
    cr_assert_eq(offer(k, &h, &l, 0, 64, NULL, 1000, &out, &ready), RL_ERR_DUPLICATE, "counted once");
    cr_assert_eq(offer(k, &h, &l, 1, 64, NULL, 1001, &out, &ready), RL_OK);
    cr_assert(ready);
    cr_assert_eq(out.sigs.n, 2);
    cr_assert_eq(checkpoint_quorum_verify(&out, &h.s.genesis, NULL), RL_OK);
    hubckpt_logged(k, 64);
    cr_assert_eq(hubckpt_held(k), 0);
    cr_assert_eq(offer(k, &h, &l, 2, 64, NULL, 1002, &out, &ready), RL_ERR_DUPLICATE, "already logged");
}

Test(hubckpt, heads_that_are_not_the_hubs_forged_signatures_and_strangers_are_not_counted, .init = collect_open,
     .fini = collect_close)
{
    checkpoint_signed out;
    bool ready;
    uint8_t other[HASH_BYTES];
    memset(other, 0xee, sizeof other);
    cr_assert_eq(offer(k, &h, &l, 0, 10, other, 1, &out, &ready), RL_ERR_CHAIN);
    cr_assert_eq(offer(k, &h, &l, 1, 10, other, 1, &out, &ready), RL_ERR_CHAIN);
    cr_assert_eq(offer(k, &h, &l, 0, 65, l.hashes[0], 1, &out, &ready), RL_ERR_STATE, "past the hub's head");
    cr_assert_eq(hubckpt_held(k), 0);
    checkpoint c = {.seq = 10, .set_version = 1};
    memcpy(c.head, l.hashes[9], HASH_BYTES);
    uint8_t sig[ED25519_SIG_BYTES];
    checkpoint_sign(&c, h.s.keys[0], sig); /* member 1's key, claimed as member 2 */
    cr_assert_eq(hubckpt_offer(k, &h.s.genesis, l.head, fake_hash, &l, h.s.genesis.members[1].id, &c, sig, 1, &out,
                               &ready), RL_ERR_SIG);
    cr_assert_eq(hubckpt_offer(k, &h.s.genesis, l.head, fake_hash, &l, 999, &c, sig, 1, &out, &ready), RL_ERR_SIGNER);
    c.set_version = 2;
    checkpoint_sign(&c, h.s.keys[0], sig);
    cr_assert_eq(hubckpt_offer(k, &h.s.genesis, l.head, fake_hash, &l, h.s.genesis.members[0].id, &c, sig, 1, &out,
                               &ready), RL_ERR_STATE);
    cr_assert_eq(hubckpt_held(k), 0);
}

Test(hubckpt, memory_stays_bounded_per_member_and_heads_expire, .init = collect_open, .fini = collect_close)
{
    checkpoint_signed out;
    bool ready;
    for (uint64_t seq = 1; seq <= 64; seq++)
        cr_assert_eq(offer(k, &h, &l, 0, seq, NULL, 10, &out, &ready), RL_OK);
    cr_assert_eq(hubckpt_held(k), HUBCKPT_PER_MEMBER, "a member holds at most %d heads", HUBCKPT_PER_MEMBER);
    /* its oldest heads were evicted: another member signing one of them finds no partner */
    cr_assert_eq(offer(k, &h, &l, 1, 3, NULL, 11, &out, &ready), RL_OK);
    cr_assert(!ready);
    cr_assert_eq(offer(k, &h, &l, 1, 64, NULL, 12, &out, &ready), RL_OK);
    cr_assert(ready, "the newest head is kept");
    cr_assert_eq(offer(k, &h, &l, 2, 40, NULL, 12 + HUBCKPT_EXPIRE_MS + 1, &out, &ready), RL_OK);
    cr_assert_eq(hubckpt_held(k), 1, "the others expired");
}
