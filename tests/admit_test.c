/*
 * admit_test.c - attest/admit, the owners' EIP-712 Withdrawal (attest/eip712), request version 2
 * (attest/request), venues pinned in the relayer set (attest/relset), and what the calculator
 * (collateral/calc) and audit_next (attest/audit) make of requests that fail the admission rules:
 * a compromised hub's own venue key, withdrawals without their owner's valid signature, and
 * withdrawals the hub logged without (or before) the venue's position requests (A6).
 */
#include "attest/hex.h"
#include "tests/calclog.h"

/* scripts/owner_vector.sh: cast's signature of this Withdrawal with the key 0x61..61, for the
 * cluster of fx_init(1, 1)'s set (tests/owner_vector_relayers.json), whose id is the domain's salt. */
static const char OWNER_VECTOR_SIG[] = "eff2eda58d0d32db69da7c8283dc95f73566c6d0f7c12c522b8ccb95dff63a68"
                                       "7159e78b88ccfcbf280885d446f9f9b4a08fb172dfbca8267862a1037e5736901b";
static const char OWNER_VECTOR_CLUSTER[] = "0x716a0b4a2ebf1ce40d4e1d1079b0ab5bb8eb617068ed01cec04391b23994f7cd";

static request vector_request(void)
{
    request q = {.kind = REQUEST_WITHDRAW, .chain_id = 31337, .amount = u256_from_u64(E18), .owner_nonce = 7,
                 .expiry_s = 1700003600};
    uint8_t sk[SECP256K1_SK_BYTES];
    fx_owner(sk, q.account, 0);
    memset(q.recipient, 0x22, EVM_ADDR_BYTES);
    return q;
}

Test(eip712, an_owner_signature_of_a_withdrawal_is_the_one_cast_makes_from_the_typed_data)
{
    request q = vector_request();
    fixture f;
    fx_init(&f, 1, 1);
    uint8_t sk[SECP256K1_SK_BYTES], want[EVM_SIG_BYTES], cluster[HASH_BYTES];
    fx_owner(sk, q.account, 0);
    char hex[43];
    cr_assert_str_eq(evm_addr_to_hex(q.account, hex), "0xed5970f07eea5a9e7b359d3c5d3f82b34a8f1e15");
    cr_assert_eq(admit_cluster_id(cluster, &f.set), RL_OK);
    cr_assert_eq(hex_decode(want, sizeof want, OWNER_VECTOR_SIG, "vector", NULL), RL_OK);
    cr_assert_eq(admit_owner_sign(&q, cluster, sk), RL_OK);
    cr_assert_arr_eq(q.owner_sig, want, EVM_SIG_BYTES, "the digest differs from cast's EIP-712 digest");
    /* and the typed data is what that script gave cast: the salt is the cluster id */
    json_t *j = admit_owner_typed_data(&q, cluster);
    cr_assert_str_eq(json_string_value(json_object_get(j, "primaryType")), "Withdrawal");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "message"), "expiry")), "1700003600");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "domain"), "salt")), OWNER_VECTOR_CLUSTER);
    json_decref(j);
    fx_fini(&f);
}

Test(request, a_withdrawal_carries_the_owner_part_and_decodes_back_and_version_1_still_reads)
{
    fixture f;
    fx_init(&f, 1, 1);
    uint8_t cluster[HASH_BYTES];
    cr_assert_eq(admit_cluster_id(cluster, &f.set), RL_OK);
    request q = vector_request(), back;
    uint8_t sk[SECP256K1_SK_BYTES], buf[REQUEST_MAX_BYTES];
    size_t len;
    rl_why why = {{0}};
    fx_owner(sk, q.account, 0);
    sign_owner_for(&q, &f.set, sk);
    memcpy(q.venue, node_key_pub(f.keys[1])->ed25519, ED25519_PK_BYTES);
    q.positions_nonce = 41;
    cr_assert_eq(request_sign(buf, &len, &q, f.keys[1], &why), RL_OK, "%s", why.text);
    cr_assert_eq(len, REQUEST_WITHDRAW_BYTES);
    cr_assert_eq(buf[0], REQUEST_VERSION_OWNER);
    cr_assert_eq(request_decode(&back, buf, len, &why), RL_OK, "%s", why.text);
    cr_assert_eq(back.version, REQUEST_VERSION_OWNER);
    cr_assert_eq(back.owner_nonce, 7);
    cr_assert_eq(back.expiry_s, 1700003600);
    cr_assert_arr_eq(back.owner_sig, q.owner_sig, EVM_SIG_BYTES);
    cr_assert_eq(back.positions_nonce, 41);
    cr_assert_eq(admit_request(&f.set, cluster, &back, 1700000000000ull, 6, &why), ADMIT_OK, "%s", why.text);
    /* the owner part is under the venue's signature: changing it is a bad request signature */
    const uint8_t *sig;
    uint8_t msg[HASH_BYTES];
    buf[150] ^= 1;
    request_sig_parts(buf, len, msg, &sig);
    cr_assert_not(ed25519_verify(sig, msg, HASH_BYTES, q.venue));
    buf[150] ^= 1; /* and so is positions_nonce, the venue's own statement */
    buf[230] ^= 1;
    request_sig_parts(buf, len, msg, &sig);
    cr_assert_not(ed25519_verify(sig, msg, HASH_BYTES, q.venue));
    /* version 1 withdrawals (old logs) decode, without an owner part */
    q.version = REQUEST_VERSION;
    cr_assert_eq(request_sign(buf, &len, &q, f.keys[1], &why), RL_OK, "%s", why.text);
    cr_assert_eq(len, REQUEST_WITHDRAW_V1_BYTES);
    cr_assert_eq(request_decode(&back, buf, len, &why), RL_OK, "%s", why.text);
    cr_assert_eq(back.version, REQUEST_VERSION);
    cr_assert_eq(back.owner_nonce, 0);
    /* there is no version 2 position */
    request p = {.version = REQUEST_VERSION_OWNER, .kind = REQUEST_POSITION, .mode = REQUEST_MODE_CROSS};
    memcpy(p.venue, q.venue, ED25519_PK_BYTES);
    snprintf(p.market, sizeof p.market, "ETH-PERP");
    cr_assert_eq(request_sign(buf, &len, &p, f.keys[1], &why), RL_ERR_ARG);
    fx_fini(&f);
}

Test(relset, venues_are_pinned_in_key_order_inside_the_digest_and_format_1_still_decodes)
{
    fixture f;
    fx_keys(&f, 4);
    fx_set(&f, 3, 2); /* pins key 3 */
    relset plain = f.set, back;
    plain.nvenues = 0;
    uint8_t enc[RELSET_MAX_BYTES], d1[HASH_BYTES], d2[HASH_BYTES];
    size_t len;
    rl_why why = {{0}};
    cr_assert_eq(relset_encode(&plain, enc, &len, NULL), RL_OK);
    cr_assert_eq(enc[0], RELSET_FORMAT, "a set without venues keeps format 1 and its digest");
    cr_assert_eq(relset_decode(&back, enc, len, NULL), RL_OK);
    cr_assert_eq(back.nvenues, 0);
    /* a second venue whose key sorts first goes first, whatever the order added */
    uint8_t low[ED25519_PK_BYTES] = {0};
    low[31] = 9; /* any 32 bytes: a venue key is only compared */
    cr_assert_eq(relset_add_venue(&f.set, "other", low, &why), RL_OK, "%s", why.text);
    cr_assert_str_eq(f.set.venues[0].name, "other");
    cr_assert_eq(relset_add_venue(&f.set, "again", low, &why), RL_ERR_ARG);
    cr_assert_eq(relset_add_venue(&f.set, "venue", (uint8_t[ED25519_PK_BYTES]){1}, &why), RL_ERR_ARG);
    cr_assert_eq(relset_encode(&f.set, enc, &len, NULL), RL_OK);
    cr_assert_eq(enc[0], RELSET_FORMAT_VENUES);
    cr_assert_eq(relset_decode(&back, enc, len, &why), RL_OK, "%s", why.text);
    cr_assert_eq(back.nvenues, 2);
    cr_assert_not_null(relset_find_venue(&back, node_key_pub(f.keys[3])->ed25519));
    cr_assert_eq(relset_digest(&plain, d1), RL_OK);
    cr_assert_eq(relset_digest(&f.set, d2), RL_OK);
    cr_assert_arr_neq(d1, d2, HASH_BYTES, "the venues are inside the digest");
    /* out of order bytes are not canonical */
    relset swapped = f.set;
    swapped.venues[0] = f.set.venues[1];
    swapped.venues[1] = f.set.venues[0];
    cr_assert_eq(relset_validate(&swapped, &why), RL_ERR_ARG);
    /* JSON round trip */
    json_t *j = relset_to_json(&f.set);
    char *text = json_dumps(j, 0);
    cr_assert_eq(relset_from_json(&back, text, strlen(text), &why), RL_OK, "%s", why.text);
    cr_assert_eq(relset_digest(&back, d1), RL_OK);
    cr_assert_arr_eq(d1, d2, HASH_BYTES);
    free(text);
    json_decref(j);
    for (unsigned i = 0; i < f.nkeys; i++)
        node_key_free(f.keys[i]);
}

/* The trader: 10 ETH, long 2 ETH-PERP at 3000 (by the pinned venue), prices fresh. */
static void trader(logb *l)
{
    deposit(l, 1, 0x00, 10 * E18, 1, T0 + 1);
    price(l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
    position(l, 2, 3000, T0 + 20);
}

/* The first entry of the account's `list` ("positions", "collateral"), its `field`, as text. */
static const char *first_of(logb *l, const char *list, const char *field)
{
    static char text[64];
    json_t *j = calc_account_json(l->c, ACCOUNT);
    snprintf(text, sizeof text, "%s", json_string_value(json_object_get(json_array_get(json_object_get(j, list), 0),
                                                                         field)));
    json_decref(j);
    return text;
}

/* The attack of issue 14: the hub allow-lists its own venue key, logs "size 0" for the trader's
 * position, then "withdraw everything to the attacker". Before the admission rules the calculator
 * applied both and approved the withdrawal, so every honest co-signer signed its release. */
Test(admit, a_compromised_hubs_own_venue_key_can_neither_close_positions_nor_withdraw)
{
    logb l;
    setup(&l);
    trader(&l);
    node_key *rogue;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&rogue, "rogue", &why), RL_OK);
    request close = {.kind = REQUEST_POSITION, .mode = REQUEST_MODE_CROSS};
    snprintf(close.market, sizeof close.market, "ETH-PERP");
    memcpy(close.account, ACCOUNT, EVM_ADDR_BYTES);
    req_by(&l, &close, rogue, T0 + 30);
    uint64_t close_seq = l.seq;
    request drain = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(10 * E18), .owner_nonce = 1,
                     .expiry_s = T0 / 1000 + 3600};
    memcpy(drain.account, ACCOUNT, EVM_ADDR_BYTES);
    memcpy(drain.recipient, node_key_pub(rogue)->evm, EVM_ADDR_BYTES);
    /* the best it can do for an owner signature: its own key's */
    sign_owner_for(&drain, &l.f.set, node_key_secp256k1_secret(rogue));
    req_by(&l, &drain, rogue, T0 + 31);

    cr_assert_eq(l.nmade, 1, "one answer: the withdrawal's");
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[0].reason, REASON_VENUE_KEY);
    cr_assert_str_eq(first_of(&l, "positions", "size"), "2", "the rogue 'size 0' was not applied");
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0", "nothing reserved");
    cr_assert_eq(calc_get_stats(l.c)->requests_refused, 2);
    log_decisions(&l, 0); /* the refusal is logged and the log still audits, record by record */
    audit_summary sum;
    audit_get_summary(l.a, &sum);
    cr_assert_eq(sum.requests_refused, 2);
    cr_assert_eq(sum.first_refused_seq, close_seq);
    cr_assert(strstr(sum.first_refused_why.text, "not in relayer set v1") != NULL, "%s", sum.first_refused_why.text);
    node_key_free(rogue);
    teardown(&l);
}

/* A withdrawal of 1 ETH by the pinned venue, with the owner part as given. */
static void withdraw_as(logb *l, request *q, uint64_t t)
{
    q->kind = REQUEST_WITHDRAW;
    q->chain_id = 1;
    q->amount = u256_from_u64(E18);
    memcpy(q->account, ACCOUNT, EVM_ADDR_BYTES);
    memset(q->recipient, 0x66, EVM_ADDR_BYTES);
    q->positions_nonce = l->pos_nonce;
    req_by(l, q, l->f.keys[3], t);
}

/* The reviewer's attack (ledger.h T1): the owner signs W5 (nonce 5, a minute to live); the hub
 * holds it; two hours later the owner signs W6. The hub logs a record stamped two hours later,
 * then W5 stamped back to when its signature was fresh (A4 reads the record's time), then W6:
 * both would be approved, 2 ETH reserved where the owner never allowed more than 1 at a time.
 * The auditor, and with it every replica, refuses the backdated record, naming it. */
Test(admit, a_withdrawal_backdated_before_the_record_in_front_of_it_is_refused_naming_it)
{
    logb l;
    setup(&l);
    trader(&l);
    uint64_t t5 = T0 + 100, later = T0 + 2 * 3600 * 1000;
    request w5 = {.kind = REQUEST_WITHDRAW, .owner_nonce = 5, .expiry_s = t5 / 1000 + 60, .chain_id = 1,
                  .amount = u256_from_u64(E18), .positions_nonce = l.pos_nonce, .nonce = ++l.nonce};
    memcpy(w5.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(w5.recipient, 0x66, EVM_ADDR_BYTES);
    memcpy(w5.venue, node_key_pub(l.f.keys[3])->ed25519, ED25519_PK_BYTES);
    sign_owner_for(&w5, &l.f.set, OWNER_SK);
    deposit(&l, 1, 0x00, E18, 2, later); /* any record the hub stamps two hours on */

    uint8_t buf[REQUEST_MAX_BYTES];
    size_t plen, len;
    rl_why why = {{0}};
    cr_assert_eq(request_sign(buf, &plen, &w5, l.f.keys[3], &why), RL_OK, "%s", why.text);
    record r = {.type = RECORD_REQUEST, .seq = l.seq + 1, .time_ms = t5, .payload = buf, .payload_len = (uint32_t)plen};
    memcpy(r.prev, l.prev, HASH_BYTES);
    uint8_t *enc = malloc(RECORD_MAX_BYTES);
    cr_assert_eq(record_encode(&r, enc, &len, &why), RL_OK);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    size_t nj = 0;
    char name[32];
    snprintf(name, sizeof name, "record %llu ", (unsigned long long)r.seq);
    cr_assert_eq(audit_next(l.a, enc, len, jobs, &nj, &why), RL_ERR_STATE, "the backdated W5 was accepted");
    cr_assert(strstr(why.text, name) != NULL && strstr(why.text, "backdated") != NULL, "%s", why.text);
    cr_assert_eq(nj, 0);
    free(enc);
    teardown(&l);
}

/* instruction.h I2: an owner expiry that leaves the vault less than MG_DEADLINE_MIN_S after the
 * record's time is refused with its own reason (its release could not execute in time), the owner
 * nonce used; one that leaves it enough is approved. */
Test(admit, a_withdrawal_whose_owner_expiry_is_too_close_is_refused_with_a_reason)
{
    logb l;
    setup(&l);
    trader(&l);
    uint64_t t = T0 + 100;
    request close = {.owner_nonce = 5, .expiry_s = (t + MG_DEADLINE_MIN_S * 1000) / 1000 - 1, .chain_id = 1,
                     .amount = u256_from_u64(E18)};
    memcpy(close.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(close.recipient, 0x66, EVM_ADDR_BYTES);
    sign_owner_for(&close, &l.f.set, OWNER_SK);
    withdraw_as(&l, &close, t);
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[0].reason, REASON_OWNER_EXPIRY, "refused for %s", decision_reason_name(l.made[0].reason));
    cr_assert_str_eq(decision_reason_name(REASON_OWNER_EXPIRY), "owner_expiry");
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0");
    json_t *j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "owner_nonce")), "5", "the owner nonce is used (A5)");
    json_decref(j);

    request enough = {.owner_nonce = 6, .expiry_s = (t + MG_DEADLINE_MIN_S * 1000) / 1000 + 1, .chain_id = 1,
                      .amount = u256_from_u64(E18)};
    memcpy(enough.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(enough.recipient, 0x66, EVM_ADDR_BYTES);
    sign_owner_for(&enough, &l.f.set, OWNER_SK);
    withdraw_as(&l, &enough, t + 1);
    cr_assert_eq(l.nmade, 2);
    cr_assert_eq(l.made[1].kind, DECISION_WITHDRAW_OK);
    log_decisions(&l, 0);
    audit_summary sum;
    audit_get_summary(l.a, &sum);
    cr_assert_eq(sum.requests_refused, 0, "no log defect: the hub may log it, the calculator refuses it");
    calc_replay *r = replay_all(&l);
    calc_replay_summary rs;
    calc_replay_get_summary(r, &rs);
    cr_assert_eq(rs.reproduced, 2, "audit replay --risk reproduces the refusal");
    calc_replay_free(r);
    teardown(&l);
}

Test(admit, withdrawals_without_a_valid_owner_signature_are_refused_and_change_nothing)
{
    logb l;
    setup(&l);
    trader(&l);
    uint64_t t = T0 + 100;
    uint64_t exp_s = t / 1000 + 60;
    uint8_t other_sk[SECP256K1_SK_BYTES], other[EVM_ADDR_BYTES];
    fx_owner(other_sk, other, 1);
    request missing = {.version = REQUEST_VERSION};
    withdraw_as(&l, &missing, t);
    request zero = {.owner_nonce = 5, .expiry_s = exp_s}; /* malformed: r = s = 0 */
    withdraw_as(&l, &zero, t);
    request wrong = {.owner_nonce = 5, .expiry_s = exp_s, .chain_id = 1, .amount = u256_from_u64(E18)};
    memcpy(wrong.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(wrong.recipient, 0x66, EVM_ADDR_BYTES);
    sign_owner_for(&wrong, &l.f.set, other_sk);
    withdraw_as(&l, &wrong, t);
    request expired = {.owner_nonce = 5, .expiry_s = t / 1000 - 1, .chain_id = 1, .amount = u256_from_u64(E18)};
    memcpy(expired.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(expired.recipient, 0x66, EVM_ADDR_BYTES);
    sign_owner_for(&expired, &l.f.set, OWNER_SK);
    withdraw_as(&l, &expired, t);
    cr_assert_eq(l.nmade, 4);
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(l.made[i].kind, DECISION_WITHDRAW_REFUSED, "case %zu", i);
        cr_assert_eq(l.made[i].reason, REASON_OWNER_SIGNATURE, "case %zu", i);
    }
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0");

    /* signed right: approved; the same owner signature in a new venue request: refused */
    request good = {.owner_nonce = 5, .expiry_s = exp_s, .chain_id = 1, .amount = u256_from_u64(E18)};
    memcpy(good.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(good.recipient, 0x66, EVM_ADDR_BYTES);
    sign_owner_for(&good, &l.f.set, OWNER_SK);
    request replay = good;
    withdraw_as(&l, &good, t + 1);
    withdraw_as(&l, &replay, t + 2);
    cr_assert_eq(l.nmade, 6);
    cr_assert_eq(l.made[4].kind, DECISION_WITHDRAW_OK);
    cr_assert_eq(l.made[5].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[5].reason, REASON_OWNER_SIGNATURE);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "1", "only the approved withdrawal is reserved");
    json_t *j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "owner_nonce")), "5", "margin query shows the nonce used");
    json_decref(j);

    /* the auditor counts the five the hub should not have logged, and names the first */
    log_decisions(&l, 0);
    audit_summary sum;
    audit_get_summary(l.a, &sum);
    cr_assert_eq(sum.requests_refused, 5);
    cr_assert(strstr(sum.first_refused_why.text, "without the owner's signature") != NULL, "%s",
              sum.first_refused_why.text);
    /* and a replay of the log reproduces every refusal */
    calc_replay *r = replay_all(&l);
    calc_replay_summary rs;
    calc_replay_get_summary(r, &rs);
    cr_assert_eq(rs.reproduced, 6);
    calc_replay_free(r);
    teardown(&l);
}

Test(admit, the_owner_signature_names_the_signer_and_the_account_when_they_differ)
{
    fixture f;
    fx_init(&f, 1, 1);
    uint8_t cluster[HASH_BYTES];
    cr_assert_eq(admit_cluster_id(cluster, &f.set), RL_OK);
    request q = vector_request();
    uint8_t other_sk[SECP256K1_SK_BYTES], other[EVM_ADDR_BYTES];
    fx_owner(other_sk, other, 1);
    q.version = REQUEST_VERSION_OWNER;
    memcpy(q.venue, node_key_pub(f.keys[1])->ed25519, ED25519_PK_BYTES);
    sign_owner_for(&q, &f.set, other_sk);
    rl_why why = {{0}};
    char want[128], a[43], b[43];
    snprintf(want, sizeof want, "owner signature by %s not the account %s", evm_addr_to_hex(other, a),
             evm_addr_to_hex(q.account, b));
    cr_assert_eq(admit_request(&f.set, cluster, &q, 1700000000000ull, 0, &why), ADMIT_OWNER);
    cr_assert(strstr(why.text, want) != NULL, "%s", why.text);
    /* a venue key the set does not pin fails first */
    memcpy(q.venue, node_key_pub(f.keys[0])->ed25519, ED25519_PK_BYTES);
    cr_assert_eq(admit_request(&f.set, cluster, &q, 1700000000000ull, 0, &why), ADMIT_VENUE_KEY);
    fx_fini(&f);
}

/* A forged approval of the refused withdrawal d, signed by a calculator key, appended to l's log:
 * audit_next refuses it (no plan may follow). */
static void audit_refuses_approval_of(logb *l, const decision *refused)
{
    decision d = *refused;
    d.kind = DECISION_WITHDRAW_OK;
    d.reason = REASON_NONE;
    memcpy(d.calculator, node_key_pub(l->calc_key)->ed25519, ED25519_PK_BYTES);
    uint8_t buf[DECISION_MAX_BYTES], *enc;
    size_t len, elen;
    cr_assert_eq(decision_sign(buf, &len, &d, l->calc_key, NULL), RL_OK);
    record r = {.type = RECORD_DECISION, .seq = l->seq + 1, .time_ms = T0 + 200000, .payload = buf,
                .payload_len = (uint32_t)len};
    memcpy(r.prev, l->prev, HASH_BYTES);
    enc = malloc(RECORD_MAX_BYTES);
    cr_assert_eq(record_encode(&r, enc, &elen, NULL), RL_OK);
    verify_job jobs[AUDIT_MAX_JOBS_PER_RECORD];
    size_t nj = 0;
    rl_why why = {{0}};
    cr_assert_eq(audit_next(l->a, enc, elen, jobs, &nj, &why), RL_ERR_STATE);
    cr_assert(strstr(why.text, "admission rules refuse") != NULL, "%s", why.text);
    free(enc);
}

Test(audit, an_approval_of_a_withdrawal_the_admission_rules_refuse_is_a_bad_record)
{
    logb l;
    setup(&l);
    trader(&l);
    request missing = {.version = REQUEST_VERSION};
    withdraw_as(&l, &missing, T0 + 100);
    /* a forged approval signed by a calculator key: audit_next refuses it (no plan may follow) */
    audit_refuses_approval_of(&l, &l.made[0]);
    teardown(&l);
}

/* Signs a position request by the pinned venue for the trader, using up a venue nonce, and returns
 * its bytes without logging it: what a compromised hub holds back. */
static size_t position_signed(logb *l, __int128 size, uint8_t out[REQUEST_MAX_BYTES], uint64_t *nonce)
{
    request q = {.kind = REQUEST_POSITION, .mode = REQUEST_MODE_CROSS, .size_e18 = size * E18,
                 .entry_e18 = (__int128)3000 * E18};
    snprintf(q.market, sizeof q.market, "ETH-PERP");
    memcpy(q.account, ACCOUNT, EVM_ADDR_BYTES);
    memcpy(q.venue, node_key_pub(l->f.keys[3])->ed25519, ED25519_PK_BYTES);
    q.nonce = *nonce = l->pos_nonce = ++l->nonce; /* the venue sent it: its view moves on */
    size_t len;
    cr_assert_eq(request_sign(out, &len, &q, l->f.keys[3], NULL), RL_OK);
    return len;
}

/* Logs the request bytes a compromised hub held back (position_signed), late. */
static void log_late(logb *l, const uint8_t *enc, size_t len, uint64_t t)
{
    push(l, RECORD_REQUEST, enc, len, t);
}

/* 10 ETH at 3000 deposited, priced; no position yet. */
static void funded(logb *l)
{
    deposit(l, 1, 0x00, 10 * E18, 1, T0 + 1);
    price(l, "ETH", (uint64_t[]){3000, 3000}, 2, T0 + 3, T0 + 10);
}

static void withdraw_all(logb *l, uint64_t t)
{
    request all = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(10 * E18)};
    memset(all.recipient, 0x22, EVM_ADDR_BYTES);
    req(l, &all, t);
}

/* The log audits record by record (push), no request counted as one the hub should not have
 * logged (so `audit verify` passes), and a replay reproduces every decision. */
static void log_audits_and_replays(logb *l, size_t decisions)
{
    log_decisions(l, 0);
    audit_summary sum;
    audit_get_summary(l->a, &sum);
    cr_assert_eq(sum.requests_refused, 0, "an A6 refusal is not a bad record: %s", sum.first_refused_why.text);
    calc_replay *r = replay_all(l);
    calc_replay_summary rs;
    calc_replay_get_summary(r, &rs);
    cr_assert_eq(rs.reproduced, decisions);
    calc_replay_free(r);
}

/* The attack of issue 15: the trader opens 8 ETH-PERP on the venue (the venue signs and sends the
 * request), then signs a withdrawal of all 10 ETH; the hub never logs the position. Before A6 the
 * calculator saw no position and approved, and so did every co-signer: the collateral left while
 * the venue held the account's position. */
Test(admit, a_withdrawal_whose_venue_saw_a_position_the_hub_held_back_is_refused)
{
    logb l;
    setup(&l);
    funded(&l);
    uint8_t held[REQUEST_MAX_BYTES];
    uint64_t held_nonce;
    size_t held_len = position_signed(&l, 8, held, &held_nonce);
    withdraw_all(&l, T0 + 30);
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED, "the hidden position's collateral left");
    cr_assert_eq(l.made[0].reason, REASON_POSITIONS_STALE);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0", "nothing reserved");
    cr_assert_eq(calc_get_stats(l.c)->withdrawals_stale, 1);
    cr_assert_eq(calc_get_stats(l.c)->requests_refused, 0);
    json_t *j = calc_account_json(l.c, ACCOUNT);
    cr_assert_str_eq(json_string_value(json_object_get(j, "positions_nonce")), "0", "margin query: none applied");
    cr_assert_str_eq(json_string_value(json_object_get(j, "owner_nonce")), "2", "the owner nonce is used all the same");
    json_decref(j);
    /* once the position is logged, the owner's next withdrawal is judged against it: unsafe */
    log_late(&l, held, held_len, T0 + 40);
    j = calc_account_json(l.c, ACCOUNT);
    char want[24];
    snprintf(want, sizeof want, "%llu", (unsigned long long)held_nonce);
    cr_assert_str_eq(json_string_value(json_object_get(j, "positions_nonce")), want);
    json_decref(j);
    withdraw_all(&l, T0 + 50);
    cr_assert_eq(l.made[l.nmade - 1].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[l.nmade - 1].reason, REASON_UNSAFE);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0");
    log_audits_and_replays(&l, l.nmade);
    teardown(&l);
}

Test(admit, a_withdrawal_logged_before_the_position_its_venue_sent_first_is_refused)
{
    logb l;
    setup(&l);
    funded(&l);
    uint8_t held[REQUEST_MAX_BYTES];
    uint64_t held_nonce;
    size_t held_len = position_signed(&l, 8, held, &held_nonce);
    withdraw_all(&l, T0 + 30); /* reordered: the withdrawal first */
    log_late(&l, held, held_len, T0 + 31);
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[0].reason, REASON_POSITIONS_STALE);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0");
    cr_assert_str_eq(first_of(&l, "positions", "size"), "8", "the position applies when it comes");
    log_audits_and_replays(&l, l.nmade);
    teardown(&l);
}

Test(admit, a_withdrawal_naming_the_last_position_applied_is_judged_on_its_margin)
{
    logb l;
    setup(&l);
    funded(&l);
    position(&l, 8, 3000, T0 + 20);
    request one = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(E18)};
    memset(one.recipient, 0x22, EVM_ADDR_BYTES);
    req(&l, &one, T0 + 30);
    cr_assert_eq(one.positions_nonce, l.pos_nonce);
    cr_assert_eq(l.made[l.nmade - 1].kind, DECISION_WITHDRAW_OK);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "1");
    request rest = {.kind = REQUEST_WITHDRAW, .chain_id = 1, .amount = u256_from_u64(9 * E18)};
    memset(rest.recipient, 0x22, EVM_ADDR_BYTES);
    req(&l, &rest, T0 + 40); /* bound right, but 8 ETH-PERP need margin */
    cr_assert_eq(l.made[l.nmade - 1].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(l.made[l.nmade - 1].reason, REASON_UNSAFE);
    log_audits_and_replays(&l, l.nmade);
    teardown(&l);
}

Test(admit, rule_a6_names_what_the_venue_saw_and_what_was_applied)
{
    fixture f;
    fx_init(&f, 1, 1);
    request q = vector_request();
    memcpy(q.venue, node_key_pub(f.keys[1])->ed25519, ED25519_PK_BYTES);
    admit_positions none = {0}, p = {0};
    rl_why why = {{0}};
    cr_assert_eq(admit_request_positions(&q, &none, &why), ADMIT_OK, "none sent, none applied");
    q.positions_nonce = 4;
    cr_assert_eq(admit_request_positions(&q, &none, &why), ADMIT_POSITIONS);
    cr_assert(strstr(why.text, "names position request 4, none is applied") != NULL, "%s", why.text);
    request pos = {.kind = REQUEST_POSITION, .nonce = 3};
    memcpy(pos.venue, q.venue, ED25519_PK_BYTES);
    admit_positions_apply(&p, &pos);
    cr_assert_eq(admit_request_positions(&q, &p, &why), ADMIT_POSITIONS);
    cr_assert(strstr(why.text, "names position request 4, the last applied is 3") != NULL, "%s", why.text);
    q.positions_nonce = 3;
    cr_assert_eq(admit_request_positions(&q, &p, &why), ADMIT_OK);
    q.positions_nonce = 0;
    cr_assert_eq(admit_request_positions(&q, &p, &why), ADMIT_POSITIONS, "0 when a position is applied");
    /* another pinned venue cannot withdraw for an account whose positions this one set */
    q.positions_nonce = 3;
    memcpy(q.venue, node_key_pub(f.keys[0])->ed25519, ED25519_PK_BYTES);
    cr_assert_eq(admit_request_positions(&q, &p, &why), ADMIT_POSITIONS);
    cr_assert(strstr(why.text, "by a venue key other than") != NULL, "%s", why.text);
    fx_fini(&f);
}

Test(audit, an_approval_of_a_withdrawal_rule_a6_refuses_is_a_bad_record)
{
    logb l;
    setup(&l);
    funded(&l);
    uint8_t held[REQUEST_MAX_BYTES];
    uint64_t held_nonce;
    position_signed(&l, 8, held, &held_nonce);
    withdraw_all(&l, T0 + 30);
    cr_assert_eq(l.made[0].reason, REASON_POSITIONS_STALE);
    audit_refuses_approval_of(&l, &l.made[0]);
    teardown(&l);
}

/* The owner's signature of q for the cluster whose genesis set is `genesis` (the EIP-712 domain's
 * salt, eip712.h). */
static void sign_for_cluster(request *q, const relset *genesis) { sign_owner_for(q, genesis, OWNER_SK); }

Test(admit, an_owner_signature_made_for_another_cluster_is_refused_by_the_calculator_and_the_auditor)
{
    logb l;
    setup(&l);
    trader(&l);
    fixture staging; /* another deployment where the same trader has an account: another genesis set */
    fx_init(&staging, 4, 3);
    uint64_t t = T0 + 100;
    request q = {.owner_nonce = 1, .expiry_s = t / 1000 + 60, .chain_id = 1, .amount = u256_from_u64(E18)};
    memcpy(q.account, ACCOUNT, EVM_ADDR_BYTES);
    memset(q.recipient, 0x66, EVM_ADDR_BYTES);
    sign_for_cluster(&q, &staging.set);
    request mine = q; /* the same Withdrawal signed for this cluster */
    sign_for_cluster(&mine, &l.f.set);
    withdraw_as(&l, &q, t);
    cr_assert_eq(l.nmade, 1);
    cr_assert_eq(l.made[0].kind, DECISION_WITHDRAW_REFUSED, "the staging signature drained this cluster");
    cr_assert_eq(l.made[0].reason, REASON_OWNER_SIGNATURE);
    cr_assert_str_eq(first_of(&l, "collateral", "reserved"), "0");
    withdraw_as(&l, &mine, t + 1); /* signed for this cluster: judged on its margin */
    cr_assert_eq(l.made[1].kind, DECISION_WITHDRAW_OK, "reason %u", l.made[1].reason);
    log_decisions(&l, 0); /* both, stamped after the requests (ledger.h T1) */
    audit_summary sum;
    audit_get_summary(l.a, &sum);
    cr_assert_eq(sum.requests_refused, 1);
    cr_assert(strstr(sum.first_refused_why.text, "not the account") != NULL, "%s", sum.first_refused_why.text);
    cr_assert(strstr(sum.first_refused_why.text, "cluster") != NULL, "%s", sum.first_refused_why.text);
    fx_fini(&staging);
    teardown(&l);
}
