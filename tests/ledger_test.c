/* ledger_test.c - applying records to the LMDB ledger, reservations, gaps, digests. */
#include "db/ledger.h"
#include "tests/fixture.h"

static ledger_head head_of(fixture *f)
{
    MDB_txn *txn;
    ledger_head head;
    cr_assert_eq(store_read_begin(f->s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_head_get(txn, f->s, &head, NULL), RL_OK);
    store_read_end(txn);
    return head;
}

/* Appends a record of the given type after the current head, stamped time_ms. */
static rl_err append_at(fixture *f, uint8_t type, const uint8_t *payload, size_t plen, uint64_t time_ms, rl_why *why)
{
    ledger_head head = head_of(f);
    record r = {.type = type, .seq = head.seq + 1, .time_ms = time_ms, .payload = payload,
                .payload_len = (uint32_t)plen};
    memcpy(r.prev, head.hash, 32);
    uint8_t *enc = malloc(RECORD_MAX_BYTES);
    size_t len;
    cr_assert_eq(record_encode(&r, enc, &len, NULL), RL_OK);
    rl_err err = fx_append(f->s, enc, len, why);
    free(enc);
    return err;
}

/* append_at stamped 1000, or the head's time when later (ledger.h T1). */
static rl_err append(fixture *f, uint8_t type, const uint8_t *payload, size_t plen, rl_why *why)
{
    uint64_t t = head_of(f).time_ms;
    return append_at(f, type, payload, plen, t > 1000 ? t : 1000, why);
}

static void genesis(fixture *f)
{
    payload_set *p = calloc(1, sizeof *p);
    p->set = f->set;
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_set_encode(p, buf, &len, NULL), RL_OK);
    cr_assert_eq(append(f, RECORD_SET, buf, len, NULL), RL_OK);
    free(p);
}

static rl_err credit(fixture *f, const obs *o, rl_why *why)
{
    payload_attest p = fx_attest(f, o, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
    return append(f, RECORD_ATTEST, buf, len, why);
}

static u256 balance_of(fixture *f, const obs *o, u256 *reserved)
{
    MDB_txn *txn;
    u256 b, r;
    cr_assert_eq(store_read_begin(f->s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_balance(txn, f->s, o->account, o->chain_id, o->asset, &b, &r, NULL), RL_OK);
    store_read_end(txn);
    if (reserved)
        *reserved = r;
    return b;
}

static void setup(fixture *f)
{
    fx_init(f, 3, 2);
    fx_open_store(f, NULL);
    genesis(f);
}

/* Two ledgers with the same genesis: g signs nothing, its records carry f's signatures. */
static void setup_pair(fixture *f, fixture *g)
{
    setup(f);
    fx_init(g, 3, 2);
    fx_open_store(g, NULL);
    genesis(g);
}

static void digest_of(fixture *f, uint8_t out[32], ledger_stats *st)
{
    MDB_txn *txn;
    cr_assert_eq(store_read_begin(f->s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, f->s, out, st, NULL), RL_OK);
    store_read_end(txn);
}

Test(ledger, credits_an_attested_deposit_exactly_once)
{
    fixture f;
    setup(&f);
    obs o = fx_obs(1, 1, 1, 250);
    rl_why why;
    cr_assert_eq(credit(&f, &o, NULL), RL_OK);
    u256 b = balance_of(&f, &o, NULL), want = u256_from_u64(250);
    cr_assert_eq(u256_cmp(&b, &want), 0);
    cr_assert_eq(head_of(&f).seq, 2);
    cr_assert_eq(credit(&f, &o, &why), RL_ERR_DUPLICATE);
    cr_assert(strstr(why.text, "already applied by record 2") != NULL, "%s", why.text);
    b = balance_of(&f, &o, NULL);
    cr_assert_eq(u256_cmp(&b, &want), 0);
    cr_assert_eq(head_of(&f).seq, 2, "a refused record leaves no trace");
    fx_fini(&f);
}

Test(ledger, refuses_a_second_event_under_the_same_vault_sequence_number)
{
    fixture f;
    setup(&f);
    obs a = fx_obs(1, 1, 7, 10), b = fx_obs(1, 2, 7, 10); /* different tx, same vault seq */
    rl_why why;
    cr_assert_eq(credit(&f, &a, NULL), RL_OK);
    cr_assert_eq(credit(&f, &b, &why), RL_ERR_CONFLICT);
    cr_assert(strstr(why.text, "vault sequence 7") != NULL, "%s", why.text);
    fx_fini(&f);
}

Test(ledger, first_record_must_install_the_genesis_set)
{
    fixture f;
    fx_init(&f, 3, 2);
    fx_open_store(&f, NULL);
    obs o = fx_obs(1, 1, 1, 10);
    cr_assert_eq(credit(&f, &o, NULL), RL_ERR_STATE);
    cr_assert_eq(head_of(&f).seq, 0);
    fx_fini(&f);
}

/* ledger.h T1: a hub that stamps a record before the one in front of it (to bring an expired owner
 * signature or a stale price back to life) finds it refused, named; an equal time is fine. */
Test(ledger, refuses_a_record_stamped_before_the_record_in_front_of_it_naming_it)
{
    fixture f;
    setup(&f);
    uint64_t later = 1000 + 2 * 3600 * 1000;
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    obs o1 = fx_obs(1, 1, 1, 250), o2 = fx_obs(1, 2, 2, 250);
    payload_attest p1 = fx_attest(&f, &o1, 2), p2 = fx_attest(&f, &o2, 2);
    cr_assert_eq(payload_attest_encode(&p1, buf, &len, NULL), RL_OK);
    cr_assert_eq(append_at(&f, RECORD_ATTEST, buf, len, later, NULL), RL_OK);
    cr_assert_eq(head_of(&f).time_ms, later, "the head carries the last record's time");
    cr_assert_eq(payload_attest_encode(&p2, buf, &len, NULL), RL_OK);
    rl_why why = {{0}};
    cr_assert_eq(append_at(&f, RECORD_ATTEST, buf, len, 1100, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "record 3 is stamped 1100 ms") != NULL && strstr(why.text, "backdated") != NULL, "%s",
              why.text);
    cr_assert_eq(head_of(&f).seq, 2, "a backdated record leaves no trace");
    cr_assert_eq(append_at(&f, RECORD_ATTEST, buf, len, later, NULL), RL_OK, "the same time is not backwards");
    fx_fini(&f);
}

Test(ledger, refuses_records_that_do_not_link_to_the_head)
{
    fixture f;
    setup(&f);
    obs o = fx_obs(1, 1, 1, 10);
    payload_attest p = fx_attest(&f, &o, 2);
    uint8_t buf[RECORD_MAX_PAYLOAD], enc[RECORD_MAX_BYTES];
    size_t plen, len;
    cr_assert_eq(payload_attest_encode(&p, buf, &plen, NULL), RL_OK);
    ledger_head head = head_of(&f);
    record r = {.type = RECORD_ATTEST, .seq = head.seq + 2, .payload = buf, .payload_len = (uint32_t)plen};
    memcpy(r.prev, head.hash, 32);
    cr_assert_eq(record_encode(&r, enc, &len, NULL), RL_OK);
    cr_assert_eq(fx_append(f.s, enc, len, NULL), RL_ERR_SEQ);
    r.seq = head.seq + 1;
    r.prev[0] ^= 1;
    cr_assert_eq(record_encode(&r, enc, &len, NULL), RL_OK);
    cr_assert_eq(fx_append(f.s, enc, len, NULL), RL_ERR_CHAIN);
    fx_fini(&f);
}

Test(ledger, an_overflowing_credit_writes_nothing)
{
    fixture f;
    setup(&f);
    obs big = fx_obs(1, 1, 1, 0), one = fx_obs(1, 2, 2, 1);
    memset(&big.amount, 0xff, sizeof big.amount);
    memcpy(one.account, big.account, sizeof one.account);
    cr_assert_eq(credit(&f, &big, NULL), RL_OK);
    rl_why why;
    cr_assert_eq(credit(&f, &one, &why), RL_ERR_OVERFLOW);
    MDB_txn *txn;
    event_info ev;
    uint8_t id[32];
    obs_event_id(id, one.chain_id, one.tx_hash, one.log_index);
    cr_assert_eq(store_read_begin(f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_event_get(txn, f.s, id, &ev), RL_ERR_NOTFOUND);
    store_read_end(txn);
    fx_fini(&f);
}

Test(ledger, detects_gaps_in_a_vaults_event_sequence)
{
    fixture f;
    setup(&f);
    uint64_t seqs[] = {1, 2, 4, 6};
    for (size_t i = 0; i < 4; i++) {
        obs o = fx_obs(1, i + 1, seqs[i], 5);
        cr_assert_eq(credit(&f, &o, NULL), RL_OK);
    }
    obs any = fx_obs(1, 1, 1, 5);
    MDB_txn *txn;
    vault_state st;
    uint64_t missing[8];
    size_t n;
    cr_assert_eq(store_read_begin(f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_vault_gaps(txn, f.s, 1, any.vault, &st, missing, 8, &n, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(st.next, 3);
    cr_assert_eq(st.max, 6);
    cr_assert_eq(n, 2);
    cr_assert_eq(missing[0], 3);
    cr_assert_eq(missing[1], 5);

    obs three = fx_obs(1, 9, 3, 5);
    cr_assert_eq(credit(&f, &three, NULL), RL_OK);
    cr_assert_eq(store_read_begin(f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_vault_gaps(txn, f.s, 1, any.vault, &st, missing, 8, &n, NULL), RL_OK);
    store_read_end(txn);
    cr_assert_eq(st.next, 5, "filling 3 makes 1..4 contiguous");
    cr_assert_eq(n, 1);
    fx_fini(&f);
}

struct resv_ctx {
    const store *s;
    const obs *o;
    uint8_t id[32];
    uint64_t amount;
    int op; /* 0 reserve, 1 release, 2 settle */
};

static rl_err resv_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct resv_ctx *c = ctx;
    u256 amount = u256_from_u64(c->amount);
    switch (c->op) {
    case 0: return ledger_reserve(txn, c->s, c->id, c->o->account, c->o->chain_id, c->o->asset, &amount, why);
    case 1: return ledger_release(txn, c->s, c->id, why);
    default: return ledger_settle(txn, c->s, c->id, why);
    }
}

static rl_err resv(fixture *f, const obs *o, uint8_t id, uint64_t amount, int op)
{
    struct resv_ctx c = {f->s, o, {id}, amount, op};
    return store_write(f->s, resv_fn, &c, NULL);
}

Test(ledger, reservations_hold_funds_until_released_or_settled)
{
    fixture f;
    setup(&f);
    obs o = fx_obs(1, 1, 1, 100);
    cr_assert_eq(credit(&f, &o, NULL), RL_OK);
    cr_assert_eq(resv(&f, &o, 1, 60, 0), RL_OK);
    cr_assert_eq(resv(&f, &o, 2, 50, 0), RL_ERR_FUNDS, "only 40 is available");
    cr_assert_eq(resv(&f, &o, 1, 10, 0), RL_ERR_EXISTS);
    u256 r, b = balance_of(&f, &o, &r), want_b = u256_from_u64(100), want_r = u256_from_u64(60);
    cr_assert_eq(u256_cmp(&b, &want_b), 0);
    cr_assert_eq(u256_cmp(&r, &want_r), 0);
    cr_assert_eq(resv(&f, &o, 1, 0, 2), RL_OK); /* settle: executed on chain */
    b = balance_of(&f, &o, &r);
    want_b = u256_from_u64(40);
    cr_assert_eq(u256_cmp(&b, &want_b), 0);
    cr_assert(u256_is_zero(&r));
    cr_assert_eq(resv(&f, &o, 2, 30, 0), RL_OK);
    cr_assert_eq(resv(&f, &o, 2, 0, 1), RL_OK); /* release: expired */
    b = balance_of(&f, &o, &r);
    cr_assert_eq(u256_cmp(&b, &want_b), 0);
    cr_assert(u256_is_zero(&r));
    cr_assert_eq(resv(&f, &o, 2, 0, 1), RL_ERR_NOTFOUND);
    fx_fini(&f);
}

Test(ledger, a_conflict_blocks_the_event_for_good)
{
    fixture f;
    setup(&f);
    obs honest = fx_obs(1, 1, 1, 10), lie = fx_obs(1, 1, 1, 11);
    payload_conflict *c = calloc(1, sizeof *c);
    c->reason = CONFLICT_CONTENT;
    c->a = fx_attest(&f, &lie, 1);
    c->b = fx_attest(&f, &honest, 1);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    cr_assert_eq(payload_conflict_encode(c, buf, &len, NULL), RL_OK);
    cr_assert_eq(append(&f, RECORD_CONFLICT, buf, len, NULL), RL_OK);
    cr_assert_eq(credit(&f, &honest, NULL), RL_ERR_DUPLICATE);
    cr_assert_eq(append(&f, RECORD_CONFLICT, buf, len, NULL), RL_ERR_DUPLICATE, "one alert per event");
    u256 b = balance_of(&f, &honest, NULL);
    cr_assert(u256_is_zero(&b));
    free(c);
    fx_fini(&f);
}

Test(ledger, digest_is_equal_for_equal_state_whatever_the_timestamps)
{
    fixture f, g;
    setup_pair(&f, &g);
    uint8_t d1[32], d2[32];
    for (uint64_t i = 1; i <= 5; i++) {
        obs o = fx_obs(1, i, i, 100 * i);
        payload_attest p = fx_attest(&f, &o, 2);
        uint8_t buf[RECORD_MAX_PAYLOAD];
        size_t len;
        cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
        cr_assert_eq(append_at(&f, RECORD_ATTEST, buf, len, 1000 + i, NULL), RL_OK);
        cr_assert_eq(append_at(&g, RECORD_ATTEST, buf, len, 9000 + i, NULL), RL_OK);
    }
    ledger_stats st;
    digest_of(&f, d1, &st);
    digest_of(&g, d2, NULL);
    cr_assert_eq(memcmp(d1, d2, 32), 0);
    cr_assert_eq(st.events_credited, 5);
    cr_assert_eq(st.head.seq, 6);

    obs extra = fx_obs(1, 6, 6, 1);
    cr_assert_eq(credit(&g, &extra, NULL), RL_OK);
    digest_of(&g, d2, NULL);
    cr_assert_neq(memcmp(d1, d2, 32), 0);
    fx_fini(&f);
    fx_fini(&g);
}

Test(ledger, a_full_map_stops_with_a_clear_error_and_keeps_what_was_committed)
{
    fixture f;
    fx_init(&f, 3, 2);
    store_opts o = {.map_initial_bytes = 256 << 10, .map_max_bytes = 1 << 20};
    fx_open_store(&f, &o);
    genesis(&f);
    rl_why why = {{0}};
    rl_err err = RL_OK;
    uint64_t ok = 0;
    for (uint64_t i = 1; i < 100000 && err == RL_OK; i++) {
        obs x = fx_obs(1, i, i, i);
        x.tx_hash[5] = (uint8_t)(i >> 16);
        err = credit(&f, &x, &why);
        if (err == RL_OK)
            ok++;
    }
    cr_assert_eq(err, RL_ERR_FULL, "got %s: %s", rl_strerror(err), why.text);
    cr_assert(strstr(why.text, "limit") != NULL && strstr(why.text, f.dir) != NULL, "%s", why.text);
    cr_assert_gt(ok, 100, "the map grew from 256 KiB before it filled");
    store_close(f.s);
    cr_assert_eq(store_open(&f.s, f.dir, &o, NULL), RL_OK);
    cr_assert_eq(head_of(&f).seq, ok + 1, "every committed record is still there");
    fx_fini(&f);
}

/* Five attestations in one write transaction through ledger_append_known, with their event ids
 * and content hashes given and the head written once at the end. */
struct known_batch {
    fixture *f;
    uint8_t enc[5][RECORD_MAX_BYTES];
    size_t len[5];
    uint8_t id[5][32], content[5][32];
};

static rl_err known_batch_fn(MDB_txn *txn, void *ctx, rl_why *why)
{
    struct known_batch *b = ctx;
    ledger_head head;
    rl_err err = ledger_head_get(txn, b->f->s, &head, why);
    for (int i = 0; i < 5 && err == RL_OK; i++) {
        ledger_known k = {.event_id = b->id[i], .content = b->content[i], .head_later = true};
        err = ledger_append_known(txn, b->f->s, b->enc[i], b->len[i], &k, &head, why);
    }
    return err != RL_OK ? err : ledger_head_put(txn, b->f->s, &head, why);
}

Test(ledger, append_known_with_the_head_written_once_gives_the_state_of_plain_appends)
{
    fixture f, g;
    setup_pair(&f, &g);
    struct known_batch *b = calloc(1, sizeof *b);
    b->f = &g;
    ledger_head gh = head_of(&g);
    for (int i = 0; i < 5; i++) {
        obs o = fx_obs(1, (uint64_t)i + 1, (uint64_t)i + 1, 100 * ((uint64_t)i + 1));
        payload_attest p = fx_attest(&f, &o, 2);
        uint8_t buf[RECORD_MAX_PAYLOAD];
        size_t len;
        cr_assert_eq(payload_attest_encode(&p, buf, &len, NULL), RL_OK);
        cr_assert_eq(append(&f, RECORD_ATTEST, buf, len, NULL), RL_OK);
        record r = {.type = RECORD_ATTEST, .seq = gh.seq + 1, .time_ms = 1000, .payload = buf,
                    .payload_len = (uint32_t)len};
        memcpy(r.prev, gh.hash, 32);
        cr_assert_eq(record_encode(&r, b->enc[i], &b->len[i], NULL), RL_OK);
        gh.seq++;
        record_hash(gh.hash, b->enc[i], b->len[i]);
        obs_event_id(b->id[i], o.chain_id, o.tx_hash, o.log_index);
        obs_content_hash(b->content[i], p.obs);
    }
    cr_assert_eq(store_write(g.s, known_batch_fn, b, NULL), RL_OK);
    ledger_head hf = head_of(&f), hg = head_of(&g);
    cr_assert_eq(hg.seq, 6);
    cr_assert_eq(hf.seq, hg.seq);
    cr_assert_eq(memcmp(hf.hash, hg.hash, 32), 0);
    uint8_t d1[32], d2[32];
    digest_of(&f, d1, NULL);
    digest_of(&g, d2, NULL);
    cr_assert_eq(memcmp(d1, d2, 32), 0);
    free(b);
    fx_fini(&f);
    fx_fini(&g);
}
