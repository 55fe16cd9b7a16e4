/*
 * checkpoint.c - witnessed log heads: encoding, signing, the quorum rule, JSON (checkpoint.h).
 */
#include "attest/checkpoint.h"

#include <string.h>

#include "attest/audit.h"
#include "attest/bytes.h"
#include "attest/hex.h"

static void body_put(uint8_t out[CHECKPOINT_BODY_BYTES], const checkpoint *c)
{
    out[0] = CHECKPOINT_VERSION;
    be64_put(out + 1, c->seq);
    memcpy(out + 9, c->head, HASH_BYTES);
    be32_put(out + 41, c->set_version);
}

rl_err checkpoint_body_encode(uint8_t out[CHECKPOINT_BODY_BYTES], const checkpoint *c, rl_why *why)
{
    if (c->seq == 0 || c->set_version == 0)
        return rl_fail(why, RL_ERR_ARG, "checkpoint: seq and set version start at 1");
    body_put(out, c);
    return RL_OK;
}

rl_err checkpoint_body_decode(checkpoint *c, const uint8_t *in, size_t len, rl_why *why)
{
    if (len != CHECKPOINT_BODY_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: %zu bytes, expected %d", len, CHECKPOINT_BODY_BYTES);
    if (in[0] != CHECKPOINT_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "checkpoint: unknown version %u", in[0]);
    c->seq = be64_get(in + 1);
    memcpy(c->head, in + 9, HASH_BYTES);
    c->set_version = be32_get(in + 41);
    if (c->seq == 0 || c->set_version == 0)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: seq and set version start at 1");
    return RL_OK;
}

void checkpoint_message(uint8_t out[HASH_BYTES], const checkpoint *c)
{
    uint8_t body[CHECKPOINT_BODY_BYTES];
    body_put(body, c);
    hash_domain(out, HASH_DOMAIN_CKPT, body, sizeof body);
}

void checkpoint_sign(const checkpoint *c, const node_key *k, uint8_t sig[ED25519_SIG_BYTES])
{
    uint8_t msg[HASH_BYTES];
    checkpoint_message(msg, c);
    node_key_sign(k, sig, msg, sizeof msg);
}

bool checkpoint_verify_one(const checkpoint *c, const uint8_t pk[ED25519_PK_BYTES],
                           const uint8_t sig[ED25519_SIG_BYTES])
{
    uint8_t msg[HASH_BYTES];
    checkpoint_message(msg, c);
    return ed25519_verify(sig, msg, sizeof msg, pk);
}

rl_err checkpoint_signed_encode(uint8_t out[CHECKPOINT_MAX_BYTES], size_t *len, const checkpoint_signed *cs,
                                rl_why *why)
{
    rl_err err = checkpoint_body_encode(out, &cs->c, why);
    if (err == RL_OK)
        err = sig_list_check(&cs->sigs, why);
    if (err != RL_OK)
        return err;
    uint8_t *end = sig_list_put(out + CHECKPOINT_BODY_BYTES, &cs->sigs);
    *len = (size_t)(end - out);
    return RL_OK;
}

rl_err checkpoint_signed_decode(checkpoint_signed *cs, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < CHECKPOINT_BODY_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint record: %zu bytes, shorter than its body", len);
    rl_err err = checkpoint_body_decode(&cs->c, in, CHECKPOINT_BODY_BYTES, why);
    if (err != RL_OK)
        return err;
    reader r = {in + CHECKPOINT_BODY_BYTES, len - CHECKPOINT_BODY_BYTES};
    if ((err = sig_list_read(&r, &cs->sigs, "checkpoint record", why)) != RL_OK)
        return err;
    if (r.left != 0)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint record: %zu trailing bytes", r.left);
    return RL_OK;
}

/* ---- the quorum rule (C1) ---- */

rl_err checkpoint_quorum_jobs(const checkpoint_signed *cs, const relset *set, uint64_t tag, verify_job *jobs,
                              size_t *njobs, rl_why *why)
{
    if (set->version != cs->c.set_version)
        return rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu names relayer set version %u, not %u",
                       (unsigned long long)cs->c.seq, cs->c.set_version, set->version);
    rl_err err = sig_list_check(&cs->sigs, why); /* distinct: strictly ascending members */
    if (err != RL_OK)
        return err;
    if (cs->sigs.n < set->threshold)
        return rl_fail(why, RL_ERR_QUORUM, "checkpoint of seq %llu signed by %u members, threshold is %u",
                       (unsigned long long)cs->c.seq, cs->sigs.n, set->threshold);
    uint8_t msg[HASH_BYTES];
    checkpoint_message(msg, &cs->c);
    for (unsigned i = 0; i < cs->sigs.n; i++) {
        const relset_member *m = relset_find(set, cs->sigs.e[i].member);
        if (m == NULL)
            return rl_fail(why, RL_ERR_SIGNER, "checkpoint of seq %llu: signer %u is not in relayer set version %u",
                           (unsigned long long)cs->c.seq, cs->sigs.e[i].member, set->version);
        verify_job *j = &jobs[(*njobs)++];
        memcpy(j->pk, m->pub.ed25519, ED25519_PK_BYTES);
        memcpy(j->msg, msg, HASH_BYTES);
        memcpy(j->sig, cs->sigs.e[i].sig, ED25519_SIG_BYTES);
        j->tag = tag;
        j->ok = false;
    }
    return RL_OK;
}

rl_err checkpoint_quorum_verify(const checkpoint_signed *cs, const relset *set, rl_why *why)
{
    verify_job jobs[RELSET_MAX_MEMBERS];
    size_t n = 0;
    rl_err err = checkpoint_quorum_jobs(cs, set, 0, jobs, &n, why);
    if (err != RL_OK)
        return err;
    verify_jobs_fn(jobs, 0, n);
    for (size_t i = 0; i < n; i++)
        if (!jobs[i].ok)
            return rl_fail(why, RL_ERR_SIG, "checkpoint of seq %llu: the signature of member %u does not verify",
                           (unsigned long long)cs->c.seq, cs->sigs.e[i].member);
    return RL_OK;
}

/* ---- combining members' own heads ---- */

bool checkpoint_same_body(const checkpoint *x, const checkpoint *y)
{
    return x->seq == y->seq && x->set_version == y->set_version && memcmp(x->head, y->head, HASH_BYTES) == 0;
}

rl_err checkpoint_merge(checkpoint_signed *into, const checkpoint_signed *from, rl_why *why)
{
    if (!checkpoint_same_body(&into->c, &from->c))
        return rl_fail(why, RL_ERR_ARG, "checkpoints of different heads do not combine");
    sig_list out = {0};
    unsigned i = 0, j = 0;
    while (i < into->sigs.n || j < from->sigs.n) {
        const sig_entry *x = i < into->sigs.n ? &into->sigs.e[i] : NULL;
        const sig_entry *y = j < from->sigs.n ? &from->sigs.e[j] : NULL;
        const sig_entry *take;
        if (y == NULL || (x != NULL && x->member < y->member)) {
            take = x;
            i++;
        } else if (x == NULL || y->member < x->member) {
            take = y;
            j++;
        } else if (memcmp(x->sig, y->sig, ED25519_SIG_BYTES) != 0) {
            return rl_fail(why, RL_ERR_SIG, "checkpoint of seq %llu: two different signatures of member %u (ed25519 "
                           "signs one message one way: one is forged)", (unsigned long long)into->c.seq, x->member);
        } else {
            take = x;
            i++;
            j++;
        }
        if (out.n == RELSET_MAX_MEMBERS)
            return rl_fail(why, RL_ERR_ARG, "checkpoint of seq %llu: more than %d signatures",
                           (unsigned long long)into->c.seq, RELSET_MAX_MEMBERS);
        out.e[out.n++] = *take;
    }
    into->sigs = out;
    return RL_OK;
}

/* ---- a log against a checkpoint (C3) ---- */

/* The set that speaks for cs at its seq (checkpoint.h, rule C4), or NULL with why (refused). */
static const relset *speaking_set(const checkpoint_signed *cs, const audit *a, const relset *given, size_t ngiven,
                                  uint32_t in_force, rl_why *why)
{
    uint32_t v = cs->c.set_version, newest = audit_version_at(a, audit_expected_seq(a) - 1);
    unsigned long long seq = cs->c.seq;
    if (v == in_force)
        return audit_set_of_version(a, v);
    if (v < in_force || (v < newest && audit_set_of_version(a, v) != NULL)) {
        rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu names relayer set version %u, which this log rotated out "
                "at record %llu (version %u is in force at seq %llu): keys of a retired set prove nothing about "
                "the records after their rotation", seq, v, (unsigned long long)audit_set_since(a, v + 1), in_force,
                seq);
        return NULL;
    }
    if (v == newest)
        return audit_set_of_version(a, v); /* installed after seq in this log, and still in force at its end */
    for (size_t i = 0; i < ngiven; i++)
        if (given[i].version == v)
            return &given[i];
    rl_fail(why, RL_ERR_STATE, "checkpoint of seq %llu names relayer set version %u, which is not in the log (it "
            "installs versions up to %u): pass that set (audit verify --set) to check its quorum", seq, v, newest);
    return NULL;
}

rl_err checkpoint_check_log(const checkpoint_signed *cs, const audit *a, const relset *given, size_t ngiven,
                            bool *refused, rl_why *why)
{
    uint64_t end = audit_expected_seq(a) - 1;
    uint32_t in_force = audit_version_at(a, cs->c.seq);
    const relset *set = speaking_set(cs, a, given, ngiven, in_force, why);
    rl_err err = set == NULL ? RL_ERR_STATE : checkpoint_quorum_verify(cs, set, why);
    *refused = err != RL_OK;
    if (err != RL_OK)
        return err;
    uint8_t h[HASH_BYTES];
    char want[2 * HASH_BYTES + 1], got[2 * HASH_BYTES + 1];
    if (cs->c.set_version != in_force && cs->c.seq > end)
        return rl_fail(why, RL_ERR_TRUNCATED, "the log ends at record %llu with relayer set version %u in force, "
                       "before the checkpoint of seq %llu that %u members of version %u signed: the log was cut or "
                       "forked before that rotation", (unsigned long long)end, in_force,
                       (unsigned long long)cs->c.seq, cs->sigs.n, cs->c.set_version);
    if (cs->c.set_version != in_force)
        return rl_fail(why, RL_ERR_CHAIN, "the log forked: the checkpoint's set version %u is not in force at seq "
                       "%llu in this log (version %u is), and %u of its members signed it", cs->c.set_version,
                       (unsigned long long)cs->c.seq, in_force, cs->sigs.n);
    if (cs->c.seq > end)
        return rl_fail(why, RL_ERR_TRUNCATED, "the log ends at record %llu, before the checkpoint of seq %llu that "
                       "%u members signed: records were cut", (unsigned long long)end,
                       (unsigned long long)cs->c.seq, cs->sigs.n);
    if (!audit_record_hash(a, cs->c.seq, h) || memcmp(h, cs->c.head, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "record %llu has hash %.16s.., the checkpoint that %u members signed has "
                       "%.16s..: the log forked", (unsigned long long)cs->c.seq, hex_encode(got, h, HASH_BYTES),
                       cs->sigs.n, hex_encode(want, cs->c.head, HASH_BYTES));
    return RL_OK;
}

/* ---- JSON ---- */

json_t *checkpoint_to_json(const checkpoint_signed *cs, const relset *set)
{
    char hh[2 * HASH_BYTES + 1], sh[2 * ED25519_SIG_BYTES + 1];
    json_t *sigs = json_array();
    for (unsigned i = 0; i < cs->sigs.n; i++) {
        const relset_member *m = set != NULL ? relset_find(set, cs->sigs.e[i].member) : NULL;
        json_t *e = json_pack("{s:i, s:s}", "member", (int)cs->sigs.e[i].member, "sig",
                              hex_encode(sh, cs->sigs.e[i].sig, ED25519_SIG_BYTES));
        if (m != NULL)
            json_object_set_new(e, "name", json_string(m->pub.name));
        json_array_append_new(sigs, e);
    }
    return json_pack("{s:s, s:i, s:I, s:s, s:I, s:o}", "format", CHECKPOINT_JSON_FORMAT, "version",
                     CHECKPOINT_VERSION, "seq", (json_int_t)cs->c.seq, "head",
                     hex_encode(hh, cs->c.head, HASH_BYTES), "set_version", (json_int_t)cs->c.set_version,
                     "signatures", sigs);
}

static bool only_keys(const json_t *obj, const char *const *keys, size_t n, const char **extra)
{
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool known = false;
        for (size_t i = 0; i < n && !known; i++)
            known = strcmp(k, keys[i]) == 0;
        if (!known) {
            *extra = k;
            return false;
        }
    }
    return true;
}

static rl_err sig_from_json(sig_entry *e, const json_t *j, size_t i, rl_why *why)
{
    static const char *const keys[] = {"member", "name", "sig"};
    const char *extra = NULL;
    const json_t *m = json_object_get(j, "member"), *s = json_object_get(j, "sig"), *name = json_object_get(j, "name");
    if (!json_is_object(j))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: signature %zu is not an object", i);
    if (!only_keys(j, keys, 3, &extra))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: signature %zu: unknown key '%s'", i, extra);
    if (!json_is_integer(m) || json_integer_value(m) < 0 || json_integer_value(m) > UINT16_MAX || !json_is_string(s) ||
        (name != NULL && !json_is_string(name)))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: signature %zu needs 'member' (0..65535) and 'sig' (hex)", i);
    e->member = (uint16_t)json_integer_value(m);
    rl_err err = hex_decode(e->sig, ED25519_SIG_BYTES, json_string_value(s), "checkpoint signature", why);
    if (err != RL_OK)
        rl_why_prefix(why, "signature %zu: ", i);
    return err;
}

rl_err checkpoint_from_json(checkpoint_signed *cs, const json_t *j, rl_why *why)
{
    static const char *const keys[] = {"format", "version", "seq", "head", "set_version", "signatures"};
    const char *extra = NULL;
    memset(cs, 0, sizeof *cs);
    if (!json_is_object(j))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: not a JSON object");
    if (!only_keys(j, keys, sizeof keys / sizeof keys[0], &extra))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: unknown key '%s'", extra);
    const json_t *fmt = json_object_get(j, "format"), *ver = json_object_get(j, "version");
    const json_t *seq = json_object_get(j, "seq"), *head = json_object_get(j, "head");
    const json_t *sv = json_object_get(j, "set_version"), *sigs = json_object_get(j, "signatures");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), CHECKPOINT_JSON_FORMAT) != 0)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: 'format' is not '%s'", CHECKPOINT_JSON_FORMAT);
    if (!json_is_integer(ver) || json_integer_value(ver) != CHECKPOINT_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "checkpoint: unsupported 'version'");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_integer(sv) || json_integer_value(sv) < 1 ||
        json_integer_value(sv) > UINT32_MAX || !json_is_string(head) || !json_is_array(sigs))
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: 'seq' (>= 1), 'head' (hex), 'set_version' (>= 1) and "
                                           "'signatures' (array) are required");
    cs->c.seq = (uint64_t)json_integer_value(seq);
    cs->c.set_version = (uint32_t)json_integer_value(sv);
    rl_err err = hex_decode(cs->c.head, HASH_BYTES, json_string_value(head), "checkpoint head", why);
    if (err != RL_OK)
        return err;
    size_t n = json_array_size(sigs);
    if (n == 0 || n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_DECODE, "checkpoint: %zu signatures, 1 to %d allowed", n, RELSET_MAX_MEMBERS);
    cs->sigs.n = (uint8_t)n;
    for (size_t i = 0; i < n && err == RL_OK; i++)
        err = sig_from_json(&cs->sigs.e[i], json_array_get(sigs, i), i, why);
    if (err == RL_OK && (err = sig_list_check(&cs->sigs, why)) != RL_OK)
        rl_why_prefix(why, "checkpoint: ");
    return err == RL_OK ? RL_OK : RL_ERR_DECODE;
}
