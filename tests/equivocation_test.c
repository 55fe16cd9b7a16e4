/*
 * equivocation_test.c - EQUIVOCATION records (record.h): their strict decoding, the ledger applying
 * them once per (event id, member) with no balance change (ledger.h, E3), and the audit refusing
 * forged evidence in the ledger's terms and verifying both signatures.
 *
 * Every record goes to a real LMDB ledger and through audit_next; both must answer alike.
 */
#include <criterion/criterion.h>

#include "attest/audit.h"
#include "attest/bytes.h"
#include "attest/pool.h"
#include "db/ledger.h"
#include "tests/fixture.h"

typedef struct world {
    fixture f;
    audit *a;
} world;

static void setup(world *w)
{
    memset(w, 0, sizeof *w);
    fx_init(&w->f, 3, 2); /* the fixture's fourth key is a spare, not a member */
    fx_open_store(&w->f, NULL);
    cr_assert_eq(audit_new(&w->a, &w->f.set), RL_OK);
    payload_set ps = {.set = w->f.set};
    uint8_t buf[RECORD_MAX_PAYLOAD], *enc;
    size_t len, elen;
    cr_assert_eq(payload_set_encode(&ps, buf, &len, NULL), RL_OK);
    fx_encode_next(w->f.s, RECORD_SET, buf, len, 1, &enc, &elen);
    cr_assert_eq(fx_append(w->f.s, enc, elen, NULL), RL_OK);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    size_t nj = 0;
    cr_assert_eq(audit_next(w->a, enc, elen, jobs, &nj, NULL), RL_OK);
    free(enc);
}

static void teardown(world *w)
{
    audit_free(w->a);
    fx_fini(&w->f);
}

/* The payload bytes as the table in record.h lays them out, whatever they hold. */
static size_t raw_payload(uint8_t *out, const signed_obs *a, const signed_obs *b)
{
    be16_put(out, a->member);
    memcpy(out + 2, a->bytes, OBS_BYTES);
    memcpy(out + 2 + OBS_BYTES, a->sig, ED25519_SIG_BYTES);
    memcpy(out + 2 + OBS_BYTES + ED25519_SIG_BYTES, b->bytes, OBS_BYTES);
    memcpy(out + 2 + 2 * OBS_BYTES + ED25519_SIG_BYTES, b->sig, ED25519_SIG_BYTES);
    return EQUIVOCATION_PAYLOAD_BYTES;
}

/* Appends an EQUIVOCATION record with these payload bytes to the ledger and the audit: both must
 * answer want. *sigs_ok: whether every signature job verified (when both accepted it). */
static void push(world *w, const uint8_t *payload, size_t plen, rl_err want, bool *sigs_ok)
{
    uint8_t *enc;
    size_t len;
    rl_why why = {{0}}, awhy = {{0}};
    uint64_t seq = fx_encode_next(w->f.s, RECORD_EQUIVOCATION, payload, plen, 2, &enc, &len);
    rl_err got = fx_append(w->f.s, enc, len, &why);
    cr_assert_eq(got, want, "record %llu: ledger says %s (%s)", (unsigned long long)seq, rl_strerror(got), why.text);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    size_t nj = 0;
    rl_err aerr = audit_next(w->a, enc, len, jobs, &nj, &awhy);
    cr_assert_eq(aerr, want, "record %llu: audit says %s (%s)", (unsigned long long)seq, rl_strerror(aerr), awhy.text);
    if (want != RL_OK && want != RL_ERR_DUPLICATE)
        cr_assert_str_eq(awhy.text, why.text, "the same check on both sides, in the same words");
    if (sigs_ok != NULL) {
        cr_assert_eq(nj, 2, "both signatures are verify jobs");
        verify_jobs_fn(jobs, 0, nj);
        *sigs_ok = jobs[0].ok && jobs[1].ok;
    }
    free(enc);
}

static ledger_stats stats_of(world *w)
{
    MDB_txn *txn;
    uint8_t d[HASH_BYTES];
    ledger_stats st;
    cr_assert_eq(store_read_begin(w->f.s, &txn, NULL), RL_OK);
    cr_assert_eq(ledger_digest(txn, w->f.s, d, &st, NULL), RL_OK);
    store_read_end(txn);
    return st;
}

Test(equivocation, evidence_is_logged_once_per_event_and_member_and_moves_no_funds)
{
    world w;
    setup(&w);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 5000), third = fx_obs(1, 1, 1, 7);
    payload_equivocation e = {fx_sign(&w.f, &lie, 3), fx_sign(&w.f, &honest, 3)};
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    bool ok;
    cr_assert_eq(payload_equivocation_encode(&e, buf, &len, NULL), RL_OK);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert(ok, "both signatures verify");
    ledger_stats st = stats_of(&w);
    cr_assert(st.balances == 0 && st.events_credited == 0 && st.keys == 1, "E3: a key, nothing else");
    /* The same member on the same event again, with any pair: refused on both sides. */
    push(&w, buf, len, RL_ERR_DUPLICATE, NULL);
    payload_equivocation again = {fx_sign(&w.f, &honest, 3), fx_sign(&w.f, &third, 3)};
    cr_assert_eq(payload_equivocation_encode(&again, buf, &len, NULL), RL_OK);
    push(&w, buf, len, RL_ERR_DUPLICATE, NULL);
    /* Another member on that event, or that member on another event: evidence of its own. */
    payload_equivocation other = {fx_sign(&w.f, &lie, 2), fx_sign(&w.f, &honest, 2)};
    cr_assert_eq(payload_equivocation_encode(&other, buf, &len, NULL), RL_OK);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert(ok);
    obs honest2 = fx_obs(1, 2, 2, 500), lie2 = fx_obs(1, 2, 2, 1);
    payload_equivocation next = {fx_sign(&w.f, &honest2, 3), fx_sign(&w.f, &lie2, 3)};
    cr_assert_eq(payload_equivocation_encode(&next, buf, &len, NULL), RL_OK);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert(ok);
    audit_summary sum;
    audit_get_summary(w.a, &sum);
    cr_assert_eq(sum.equivocations, 3);
    cr_assert_eq(sum.attested, 0);
    teardown(&w);
}

Test(equivocation, forged_evidence_is_refused_or_fails_its_signature_check)
{
    world w;
    setup(&w);
    obs honest = fx_obs(1, 1, 1, 500), lie = fx_obs(1, 1, 1, 5000), elsewhere = fx_obs(1, 9, 1, 500);
    signed_obs h3 = fx_sign(&w.f, &honest, 3), l3 = fx_sign(&w.f, &lie, 3);
    uint8_t buf[RECORD_MAX_PAYLOAD];
    size_t len;
    bool ok;

    /* A signature that is not the member's: accepted in shape, its job fails (audit verify
     * refuses the record; the hub never logs one, it verified both before). */
    signed_obs forged = l3;
    forged.sig[5] ^= 1;
    len = raw_payload(buf, &forged, &h3);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert_not(ok, "a bad signature fails");
    /* Signed by member 2's key but naming member 1: fails too. */
    obs honest2 = fx_obs(1, 2, 2, 500), lie2 = fx_obs(1, 2, 2, 1);
    signed_obs l2 = fx_sign(&w.f, &lie2, 2), h2 = fx_sign(&w.f, &honest2, 2);
    l2.member = h2.member = 1;
    len = raw_payload(buf, &l2, &h2);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert_not(ok, "another member's signatures fail");

    /* Shapes the encoder refuses and the decoder refuses on both sides. */
    payload_equivocation same = {h3, h3};
    cr_assert_eq(payload_equivocation_encode(&same, buf, &len, NULL), RL_ERR_ARG);
    len = raw_payload(buf, &h3, &h3);
    push(&w, buf, len, RL_ERR_DECODE, NULL);
    signed_obs e3 = fx_sign(&w.f, &elsewhere, 3);
    payload_equivocation two_events = {h3, e3};
    cr_assert_eq(payload_equivocation_encode(&two_events, buf, &len, NULL), RL_ERR_ARG);
    len = raw_payload(buf, &h3, &e3);
    push(&w, buf, len, RL_ERR_DECODE, NULL);
    payload_equivocation two_members = {fx_sign(&w.f, &lie, 1), h3};
    cr_assert_eq(payload_equivocation_encode(&two_members, buf, &len, NULL), RL_ERR_ARG);
    len = raw_payload(buf, &l3, &h3);
    push(&w, buf, len - 1, RL_ERR_DECODE, NULL); /* truncated */
    buf[len] = 0;
    push(&w, buf, len + 1, RL_ERR_DECODE, NULL); /* a trailing byte */
    signed_obs junk = l3;
    junk.bytes[0] = 99; /* not an observation */
    len = raw_payload(buf, &junk, &h3);
    push(&w, buf, len, RL_ERR_DECODE, NULL);

    /* A key outside the set in force (the fixture's spare, as member 4). */
    signed_obs s1 = fx_sign(&w.f, &lie, 4), s2 = fx_sign(&w.f, &honest, 4);
    len = raw_payload(buf, &s1, &s2);
    push(&w, buf, len, RL_ERR_SIGNER, NULL);

    /* A genuine pair still goes in (event 1's key is taken by the forged one above). */
    obs honest3 = fx_obs(1, 3, 3, 500), lie3 = fx_obs(1, 3, 3, 1);
    signed_obs a3 = fx_sign(&w.f, &lie3, 3), b3 = fx_sign(&w.f, &honest3, 3);
    len = raw_payload(buf, &a3, &b3);
    push(&w, buf, len, RL_OK, &ok);
    cr_assert(ok);
    teardown(&w);
}
