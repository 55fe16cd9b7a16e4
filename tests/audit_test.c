/* audit_test.c - exported logs: verify, replay, and every kind of tampering named precisely. */
#include <sodium.h>
#include <sys/stat.h>

#include "attest/bytes.h"
#include "attest/hex.h"
#include "db/export.h"
#include "db/ingest.h"
#include "db/ledger.h"
#include "db/replay.h"
#include "relayer/sim.h"
#include "tests/testutil.h"

/* A small hub log: deposits, two conflicts, a relayer-set rotation. */
struct log_fixture {
    char *dir;
    char file[512];
    sim s;
    pool *p;
    uint8_t hub_digest[HASH_BYTES];
    uint64_t records;
};

static void make_log(struct log_fixture *lf, uint64_t events)
{
    rl_why why = {{0}};
    cr_assert(sodium_init() >= 0);
    lf->dir = tu_tmpdir();
    sim_opts opts = {.events = events, .nodes = 3, .threshold = 2, .seed = 5, .conflicts = 2, .rotate_at = events / 2};
    cr_assert_eq(sim_init(&lf->s, &opts, &why), RL_OK, "%s", why.text);
    cr_assert_eq(pool_new(&lf->p, 2), RL_OK);
    char hub[600];
    snprintf(hub, sizeof hub, "%s/hub", lf->dir);
    store *st;
    ingest *g;
    cr_assert_eq(store_open(&st, hub, NULL, &why), RL_OK, "%s", why.text);
    cr_assert_eq(ingest_open(&g, st, lf->p, &lf->s.genesis, NULL, 1, &why), RL_OK, "%s", why.text);
    cr_assert_eq(sim_ingest(&lf->s, lf->p, g, NULL, NULL, &why), RL_OK, "%s", why.text);
    lf->records = ingest_head(g)->seq;
    ingest_close(g);
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, st, lf->hub_digest, NULL, NULL), RL_OK);
    store_read_end(txn);
    snprintf(lf->file, sizeof lf->file, "%s/log.rlog", lf->dir);
    uint64_t count;
    cr_assert_eq(export_write(st, lf->file, &count, NULL, NULL, &why), RL_OK, "%s", why.text);
    cr_assert_eq(count, lf->records);
    store_close(st);
}

static void free_log(struct log_fixture *lf)
{
    pool_free(lf->p);
    sim_fini(&lf->s);
    tu_rmdir(lf->dir);
}

static rl_err verify(struct log_fixture *lf, const char *path, audit_summary *sum, replay_failure *fail)
{
    replay_opts ro = {.genesis = &lf->s.genesis, .pool = lf->p};
    return replay_file(path, &ro, sum, fail);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *buf = malloc(*len);
    cr_assert_eq(fread(buf, 1, *len, f), *len);
    fclose(f);
    return buf;
}

static void spill(const char *path, const uint8_t *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
}

/* The genesis set as the relayers.json an auditor is handed. */
static void write_relayers(struct log_fixture *lf, char *path, size_t cap)
{
    snprintf(path, cap, "%s/relayers.json", lf->dir);
    json_t *j = relset_to_json(&lf->s.genesis);
    cr_assert_eq(json_dump_file(j, path, 0), 0);
    json_decref(j);
}

Test(audit, verifies_a_whole_log_and_summarises_it)
{
    struct log_fixture lf;
    make_log(&lf, 40);
    audit_summary sum;
    replay_failure fail;
    cr_assert_eq(verify(&lf, lf.file, &sum, &fail), RL_OK, "record %llu: %s", (unsigned long long)fail.seq,
                 fail.why.text);
    cr_assert_eq(sum.records, lf.records);
    cr_assert_eq(sum.conflicts, 2);
    cr_assert_eq(sum.rotations, 1);
    cr_assert_eq(sum.set_version, 2);
    cr_assert_eq(sum.attested + sum.conflicts + 2, sum.records, "genesis + rotation + events");
    free_log(&lf);
}

Test(audit, a_replayed_ledger_has_the_hubs_digest)
{
    struct log_fixture lf;
    make_log(&lf, 40);
    char out[600];
    snprintf(out, sizeof out, "%s/replayed", lf.dir);
    store *st;
    cr_assert_eq(store_open(&st, out, NULL, NULL), RL_OK);
    replay_opts ro = {.genesis = &lf.s.genesis, .pool = lf.p, .out = st};
    audit_summary sum;
    replay_failure fail;
    cr_assert_eq(replay_file(lf.file, &ro, &sum, &fail), RL_OK, "%s", fail.why.text);
    MDB_txn *txn;
    uint8_t d[HASH_BYTES];
    cr_assert_eq(store_read_begin(st, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, st, d, NULL, NULL), RL_OK);
    store_read_end(txn);
    store_close(st);
    cr_assert_eq(memcmp(d, lf.hub_digest, HASH_BYTES), 0);
    free_log(&lf);
}

Test(audit, refuses_a_log_that_starts_from_another_genesis_set)
{
    struct log_fixture lf;
    make_log(&lf, 10);
    relset other = lf.s.genesis;
    other.threshold = 3;
    replay_opts ro = {.genesis = &other, .pool = lf.p};
    audit_summary sum;
    replay_failure fail;
    cr_assert_neq(replay_file(lf.file, &ro, &sum, &fail), RL_OK);
    cr_assert_eq(fail.seq, 1);
    cr_assert(strstr(fail.why.text, "genesis") != NULL, "%s", fail.why.text);
    free_log(&lf);
}

/* Which record (sequence number) holds byte `at`; 0 for the header and footer. */
static uint64_t record_at(const uint8_t *buf, size_t len, size_t at)
{
    size_t pos = 12 + be32_get(buf + 8);
    uint64_t seq = 1;
    while (pos < len - EXPORT_FOOTER_BYTES) {
        size_t end = pos + 4 + be32_get(buf + pos);
        if (at >= pos && at < end)
            return seq;
        pos = end;
        seq++;
    }
    return 0;
}

Test(audit, every_flipped_byte_fails_verification_naming_the_altered_record)
{
    struct log_fixture lf;
    make_log(&lf, 12);
    size_t len;
    uint8_t *orig = slurp(lf.file, &len);
    char path[600];
    snprintf(path, sizeof path, "%s/tampered.rlog", lf.dir);
    /* Under the sanitizers every third byte, to keep the run short. */
    size_t stride = getenv("RL_TEST_SCALE") ? 3 : 1;
    size_t checked = 0;
    for (size_t at = 0; at < len; at += stride) {
        uint8_t *buf = malloc(len);
        memcpy(buf, orig, len);
        buf[at] ^= 0x01;
        spill(path, buf, len);
        audit_summary sum;
        replay_failure fail;
        rl_err err = verify(&lf, path, &sum, &fail);
        cr_assert_neq(err, RL_OK, "byte %zu of %zu flipped and the log still verified", at, len);
        uint64_t want = record_at(orig, len, at);
        cr_assert_eq(fail.seq, want, "byte %zu (record %llu) blamed on record %llu: %s", at, (unsigned long long)want,
                     (unsigned long long)fail.seq, fail.why.text);
        free(buf);
        checked++;
    }
    cr_assert_gt(checked, 1000);
    free(orig);
    free_log(&lf);
}

Test(audit, a_truncated_file_is_refused_naming_where_it_ends)
{
    struct log_fixture lf;
    make_log(&lf, 12);
    size_t len;
    uint8_t *orig = slurp(lf.file, &len);
    char path[600];
    snprintf(path, sizeof path, "%s/short.rlog", lf.dir);
    size_t cuts[] = {len - 1, len - EXPORT_FOOTER_BYTES, len / 2, 200, 20, 5};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        spill(path, orig, cuts[i]);
        audit_summary sum;
        replay_failure fail;
        cr_assert_neq(verify(&lf, path, &sum, &fail), RL_OK, "cut at %zu verified", cuts[i]);
        cr_assert(fail.why.text[0] != '\0');
    }
    free(orig);
    free_log(&lf);
}

Test(audit, cli_verify_exits_1_and_names_the_bad_record)
{
    struct log_fixture lf;
    make_log(&lf, 12);
    char rel[600], *out = NULL;
    write_relayers(&lf, rel, sizeof rel);
    cr_assert_eq(tu_run(&out, "%s audit verify %s --relayers %s", RELAYER_BIN, lf.file, rel), 0, "%s", out);
    cr_assert(strstr(out, "audit verify: OK") != NULL, "%s", out);
    free(out);

    size_t len;
    uint8_t *buf = slurp(lf.file, &len);
    size_t at = 12 + be32_get(buf + 8); /* record 1's length prefix ... */
    at += 4 + be32_get(buf + at);        /* ... record 2 starts here */
    at += 4 + 60;                        /* a byte inside record 2's payload */
    buf[at] ^= 0x40;
    char path[600];
    snprintf(path, sizeof path, "%s/bad.rlog", lf.dir);
    spill(path, buf, len);
    cr_assert_eq(tu_run(&out, "%s audit verify %s --relayers %s", RELAYER_BIN, path, rel), 1, "%s", out);
    cr_assert(strstr(out, "FAILED at record 2") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s --relayers %s --json", RELAYER_BIN, path, rel), 1, "%s", out);
    cr_assert(strstr(out, "\"bad_record\":2") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify /nonexistent.rlog --relayers %s", RELAYER_BIN, rel), 2, "%s", out);
    free(out);
    free(buf);
    free_log(&lf);
}

Test(audit, dev_simulate_with_an_equivocator_credits_every_event_once_and_verify_counts_its_evidence)
{
    char *dir = tu_tmpdir(), *out = NULL;
    cr_assert_eq(tu_run(&out, "%s dev simulate --out %s --events 400 --nodes 3 --threshold 2 --equivocators 1 "
                              "--rotate-at 200 --seed 9 --json",
                        RELAYER_BIN, dir),
                 0, "%s", out);
    free(out);
    /* One evidence record per event the seed picks: the equivocator signs a lie, then the truth. */
    sim s;
    cr_assert(sodium_init() >= 0);
    sim_opts o = {.events = 400, .nodes = 3, .threshold = 2, .seed = 9, .equivocators = 1, .rotate_at = 200};
    cr_assert_eq(sim_init(&s, &o, NULL), RL_OK);
    unsigned want = 0;
    for (uint64_t i = 0; i < o.events; i++)
        want += sim_is_equivocation(&s, i);
    sim_fini(&s);
    cr_assert_gt(want, 0);
    cr_assert_eq(tu_run(&out, "%s audit export --db %s/hub --out %s/log.rlog", RELAYER_BIN, dir, dir), 0, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit verify %s/log.rlog --relayers %s/relayers.json --json", RELAYER_BIN, dir, dir),
                 0, "%s", out);
    char field[64];
    snprintf(field, sizeof field, "\"equivocations\":%u", want);
    cr_assert(strstr(out, field) != NULL, "want %s: %s", field, out);
    cr_assert(strstr(out, "\"attested\":400,") != NULL && strstr(out, "\"conflicts\":0,") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s dev simulate --out %s/x --events 10 --nodes 3 --threshold 2 --equivocators 2",
                        RELAYER_BIN, dir),
                 2, "the fault budget is threshold - 1: %s", out);
    free(out);
    tu_rmdir(dir);
}

Test(audit, cli_replay_refuses_an_existing_ledger_and_matches_the_hub)
{
    struct log_fixture lf;
    make_log(&lf, 12);
    char rel[600], *out = NULL;
    write_relayers(&lf, rel, sizeof rel);
    cr_assert_eq(tu_run(&out, "%s audit replay %s --relayers %s --out %s/r1", RELAYER_BIN, lf.file, rel, lf.dir), 0,
                 "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s ledger digest --db %s/r1 --json", RELAYER_BIN, lf.dir), 0);
    char hex[65];
    sodium_bin2hex(hex, sizeof hex, lf.hub_digest, HASH_BYTES);
    cr_assert(strstr(out, hex) != NULL, "replayed digest differs: %s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s audit replay %s --relayers %s --out %s/r1", RELAYER_BIN, lf.file, rel, lf.dir), 2);
    cr_assert(strstr(out, "already holds a ledger") != NULL, "%s", out);
    free(out);
    free_log(&lf);
}

/* The first deposit's (account, chain, asset) in a ledger's log, and its balance there. */
static void first_deposit(const char *db, obs *o, u256 *balance)
{
    store *st;
    MDB_txn *txn;
    rl_why why = {{0}};
    store_opts so = {.read_only = true};
    cr_assert_eq(store_open(&st, db, &so, &why), RL_OK, "%s", why.text);
    cr_assert_eq(store_read_begin(st, &txn, NULL), RL_OK);
    bool found = false;
    for (uint64_t seq = 1; !found; seq++) {
        MDB_val v;
        record r;
        payload_attest p;
        cr_assert_eq(ledger_record_get(txn, st, seq, &v, &why), RL_OK, "no deposit in %s: %s", db, why.text);
        cr_assert_eq(record_decode(&r, v.mv_data, v.mv_size, &why), RL_OK, "%s", why.text);
        found = r.type == RECORD_ATTEST && payload_attest_decode(&p, &r, NULL) == RL_OK &&
                obs_decode(o, p.obs, OBS_BYTES, NULL) == RL_OK && o->kind == OBS_KIND_DEPOSIT;
    }
    u256 reserved;
    cr_assert_eq(ledger_balance(txn, st, o->account, o->chain_id, o->asset, balance, &reserved, &why), RL_OK, "%s",
                 why.text);
    store_read_end(txn);
    store_close(st);
}

Test(audit, cli_ledger_balance_prints_what_the_ledger_holds_and_names_a_bad_argument)
{
    struct log_fixture lf;
    make_log(&lf, 12);
    char db[600], *out = NULL;
    snprintf(db, sizeof db, "%s/hub", lf.dir);
    obs o;
    u256 balance;
    first_deposit(db, &o, &balance);
    char account[2 * EVM_ADDR_BYTES + 3], asset[2 * EVM_ADDR_BYTES + 3], want[U256_DEC_MAX + 64];
    hex_encode_0x(account, o.account, EVM_ADDR_BYTES);
    hex_encode_0x(asset, o.asset, EVM_ADDR_BYTES);
    char dec[U256_DEC_MAX];
    cr_assert(!u256_is_zero(&balance), "the first deposit credited nothing");
    snprintf(want, sizeof want, "balance %s reserved 0\n", u256_to_dec(&balance, dec));
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account %s --chain-id %llu --asset %s", RELAYER_BIN, db,
                        account, (unsigned long long)o.chain_id, asset),
                 0, "%s", out);
    cr_assert_str_eq(out, want);
    free(out);
    snprintf(want, sizeof want, "{\"balance\":\"%s\",\"reserved\":\"0\"}\n", dec);
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account %s --chain-id %llu --asset %s --json", RELAYER_BIN,
                        db, account, (unsigned long long)o.chain_id, asset),
                 0, "%s", out);
    cr_assert_str_eq(out, want);
    free(out);
    /* Another chain: never credited there. */
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account %s --chain-id 999 --asset %s", RELAYER_BIN, db,
                        account, asset),
                 0, "%s", out);
    cr_assert_str_eq(out, "balance 0 reserved 0\n");
    free(out);
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account 0x12 --chain-id 1 --asset %s", RELAYER_BIN, db,
                        asset),
                 2, "%s", out);
    cr_assert(strstr(out, "--account \"0x12\": expected a 0x-prefixed 20-byte address") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account %s --chain-id 1x --asset %s", RELAYER_BIN, db,
                        account, asset),
                 2, "%s", out);
    cr_assert(strstr(out, "--chain-id \"1x\": expected a whole number") != NULL, "%s", out);
    free(out);
    cr_assert_eq(tu_run(&out, "%s ledger balance --db %s --account %s --chain-id 1", RELAYER_BIN, db, account), 2,
                 "%s", out);
    cr_assert(strstr(out, "--asset \"\": expected a 0x-prefixed 20-byte address") != NULL, "%s", out);
    free(out);
    free_log(&lf);
}
