/*
 * record.c - log record encoding and strict decoding (layouts in record.h).
 */
#include "attest/record.h"

#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/bundle.h"
#include "attest/checkpoint.h"
#include "attest/decision.h"
#include "attest/instruction.h"
#include "attest/request.h"

const char *record_type_name(uint8_t type)
{
    switch (type) {
    case RECORD_SET: return "set";
    case RECORD_ATTEST: return "attest";
    case RECORD_CONFLICT: return "conflict";
    case RECORD_PRICE: return "price";
    case RECORD_REQUEST: return "request";
    case RECORD_DECISION: return "decision";
    case RECORD_INSTRUCTION: return "instruction";
    case RECORD_BUNDLE: return "bundle";
    case RECORD_EQUIVOCATION: return "equivocation";
    case RECORD_CHECKPOINT: return "checkpoint";
    default: return "unknown";
    }
}

static bool type_known(uint8_t type)
{
    return (type >= RECORD_SET && type <= RECORD_EQUIVOCATION) || type == RECORD_CHECKPOINT;
}

rl_err record_encode(const record *r, uint8_t *out, size_t *len, rl_why *why)
{
    if (!type_known(r->type))
        return rl_fail(why, RL_ERR_ARG, "record: unknown type %u", r->type);
    if (r->payload_len > RECORD_MAX_PAYLOAD)
        return rl_fail(why, RL_ERR_ARG, "record: payload of %u bytes exceeds %d", r->payload_len,
                       RECORD_MAX_PAYLOAD);
    if (r->seq == 0)
        return rl_fail(why, RL_ERR_ARG, "record: sequence numbers start at 1");
    out[0] = RECORD_VERSION;
    out[1] = r->type;
    be64_put(out + 2, r->seq);
    be64_put(out + 10, r->time_ms);
    memcpy(out + 18, r->prev, HASH_BYTES);
    be32_put(out + 50, r->payload_len);
    if (r->payload_len > 0)
        memmove(out + RECORD_HEADER_BYTES, r->payload, r->payload_len);
    *len = RECORD_HEADER_BYTES + r->payload_len;
    return RL_OK;
}

rl_err record_decode(record *r, const uint8_t *in, size_t len, rl_why *why)
{
    if (len < RECORD_HEADER_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "record: %zu bytes, shorter than the %d-byte header", len,
                       RECORD_HEADER_BYTES);
    if (in[0] != RECORD_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "record: unknown version %u", in[0]);
    r->type = in[1];
    if (!type_known(r->type))
        return rl_fail(why, RL_ERR_DECODE, "record: unknown type %u", r->type);
    r->seq = be64_get(in + 2);
    if (r->seq == 0)
        return rl_fail(why, RL_ERR_DECODE, "record: sequence number 0");
    r->time_ms = be64_get(in + 10);
    memcpy(r->prev, in + 18, HASH_BYTES);
    r->payload_len = be32_get(in + 50);
    if (r->payload_len > RECORD_MAX_PAYLOAD)
        return rl_fail(why, RL_ERR_DECODE, "record: payload length %u exceeds %d", r->payload_len,
                       RECORD_MAX_PAYLOAD);
    if (len != RECORD_HEADER_BYTES + (size_t)r->payload_len)
        return rl_fail(why, RL_ERR_DECODE, "record: payload length %u but %zu bytes follow the header",
                       r->payload_len, len - RECORD_HEADER_BYTES);
    r->payload = in + RECORD_HEADER_BYTES;
    /* Check the payload's shape now, so a decoded record is always a well-formed one. */
    switch (r->type) {
    case RECORD_SET: {
        payload_set *p = malloc(sizeof *p);
        if (p == NULL)
            return RL_ERR_NOMEM;
        rl_err err = payload_set_decode(p, r, why);
        free(p);
        return err;
    }
    case RECORD_ATTEST: {
        payload_attest p;
        return payload_attest_decode(&p, r, why);
    }
    case RECORD_CONFLICT: {
        payload_conflict *p = malloc(sizeof *p);
        if (p == NULL)
            return RL_ERR_NOMEM;
        rl_err err = payload_conflict_decode(p, r, why);
        free(p);
        return err;
    }
    case RECORD_PRICE: {
        payload_price *p = malloc(sizeof *p);
        if (p == NULL)
            return RL_ERR_NOMEM;
        rl_err err = payload_price_decode(p, r, why);
        free(p);
        return err;
    }
    case RECORD_REQUEST: {
        request q;
        return request_decode(&q, r->payload, r->payload_len, why);
    }
    case RECORD_DECISION: {
        decision *d = malloc(sizeof *d);
        if (d == NULL)
            return RL_ERR_NOMEM;
        rl_err err = decision_decode(d, r->payload, r->payload_len, why);
        free(d);
        return err;
    }
    case RECORD_INSTRUCTION: {
        instruction ins;
        return instruction_decode(&ins, r->payload, r->payload_len, why);
    }
    case RECORD_BUNDLE: {
        bundle b;
        return bundle_decode(&b, r->payload, r->payload_len, why);
    }
    case RECORD_EQUIVOCATION: {
        payload_equivocation p;
        return payload_equivocation_decode(&p, r, NULL, why);
    }
    case RECORD_CHECKPOINT: {
        checkpoint_signed cs;
        return checkpoint_signed_decode(&cs, r->payload, r->payload_len, why);
    }
    default: return rl_fail(why, RL_ERR_DECODE, "record: unknown type %u", r->type);
    }
}

void record_hash(uint8_t out[HASH_BYTES], const uint8_t *enc, size_t len)
{
    hash_domain(out, HASH_DOMAIN_RECORD, enc, len);
}

/* ---- signature lists ---- */

static rl_err sigs_check(const sig_list *s, bool allow_empty, rl_why *why)
{
    if (s->n == 0 && !allow_empty)
        return rl_fail(why, RL_ERR_ARG, "signature list is empty");
    if (s->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_ARG, "signature list of %u entries exceeds %d", s->n, RELSET_MAX_MEMBERS);
    for (unsigned i = 1; i < s->n; i++)
        if (s->e[i].member <= s->e[i - 1].member)
            return rl_fail(why, RL_ERR_ARG, "signature list: members not strictly ascending (%u after %u)",
                           s->e[i].member, s->e[i - 1].member);
    return RL_OK;
}

static uint8_t *sigs_put(uint8_t *p, const sig_list *s)
{
    *p++ = s->n;
    for (unsigned i = 0; i < s->n; i++) {
        be16_put(p, s->e[i].member), p += 2;
        memcpy(p, s->e[i].sig, ED25519_SIG_BYTES), p += ED25519_SIG_BYTES;
    }
    return p;
}

static rl_err sigs_read(reader *r, sig_list *s, bool allow_empty, const char *what, rl_why *why)
{
    if (!reader_u8(r, &s->n))
        return rl_fail(why, RL_ERR_DECODE, "%s: signature count missing", what);
    for (unsigned i = 0; i < s->n && i < RELSET_MAX_MEMBERS; i++)
        if (!reader_u16(r, &s->e[i].member) || !reader_copy(r, s->e[i].sig, ED25519_SIG_BYTES))
            return rl_fail(why, RL_ERR_DECODE, "%s: signature %u of %u truncated", what, i + 1, s->n);
    rl_err err = sigs_check(s, allow_empty, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "%s: ", what);
        return RL_ERR_DECODE;
    }
    return RL_OK;
}

rl_err sig_list_check(const sig_list *s, rl_why *why) { return sigs_check(s, false, why); }
uint8_t *sig_list_put(uint8_t *p, const sig_list *s) { return sigs_put(p, s); }
rl_err sig_list_read(reader *r, sig_list *s, const char *what, rl_why *why)
{
    return sigs_read(r, s, false, what, why);
}

static rl_err variant_read(reader *r, signed_variant *v, const char *what, rl_why *why)
{
    if (!reader_copy(r, v->obs, OBS_BYTES))
        return rl_fail(why, RL_ERR_DECODE, "%s: observation truncated", what);
    obs o;
    rl_err err = obs_decode(&o, v->obs, OBS_BYTES, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "%s: ", what);
        return err;
    }
    return sigs_read(r, &v->sigs, false, what, why);
}

static rl_err variant_check(const signed_variant *v, const char *what, rl_why *why)
{
    obs o;
    rl_err err = obs_decode(&o, v->obs, OBS_BYTES, why);
    if (err == RL_OK)
        err = sigs_check(&v->sigs, false, why);
    if (err != RL_OK)
        rl_why_prefix(why, "%s: ", what);
    return err;
}

static rl_err no_trailing(const reader *r, const char *what, rl_why *why)
{
    if (r->left != 0)
        return rl_fail(why, RL_ERR_DECODE, "%s: %zu trailing bytes", what, r->left);
    return RL_OK;
}

/* ---- SET ---- */

rl_err payload_set_encode(const payload_set *p, uint8_t *out, size_t *len, rl_why *why)
{
    size_t set_len;
    rl_err err = relset_encode(&p->set, out + 2, &set_len, why);
    if (err != RL_OK)
        return err;
    err = sigs_check(&p->sigs, true, why);
    if (err != RL_OK)
        return err;
    be16_put(out, (uint16_t)set_len);
    uint8_t *end = sigs_put(out + 2 + set_len, &p->sigs);
    *len = (size_t)(end - out);
    return RL_OK;
}

rl_err payload_set_decode(payload_set *p, const record *rec, rl_why *why)
{
    reader r = {rec->payload, rec->payload_len};
    uint16_t set_len;
    const uint8_t *set_bytes;
    if (!reader_u16(&r, &set_len) || (set_bytes = reader_take(&r, set_len)) == NULL)
        return rl_fail(why, RL_ERR_DECODE, "set record: relayer set truncated");
    rl_err err = relset_decode(&p->set, set_bytes, set_len, why);
    if (err != RL_OK)
        return err;
    err = sigs_read(&r, &p->sigs, true, "set record", why);
    if (err != RL_OK)
        return err;
    return no_trailing(&r, "set record", why);
}

/* ---- ATTEST ---- */

rl_err payload_attest_encode(const payload_attest *p, uint8_t *out, size_t *len, rl_why *why)
{
    rl_err err = variant_check(p, "attest record", why);
    if (err != RL_OK)
        return err;
    memcpy(out, p->obs, OBS_BYTES);
    uint8_t *end = sigs_put(out + OBS_BYTES, &p->sigs);
    *len = (size_t)(end - out);
    return RL_OK;
}

rl_err payload_attest_decode(payload_attest *p, const record *rec, rl_why *why)
{
    reader r = {rec->payload, rec->payload_len};
    rl_err err = variant_read(&r, p, "attest record", why);
    if (err != RL_OK)
        return err;
    return no_trailing(&r, "attest record", why);
}

/* ---- CONFLICT ---- */

rl_err payload_conflict_encode(const payload_conflict *p, uint8_t *out, size_t *len, rl_why *why)
{
    if (p->reason != CONFLICT_CONTENT && p->reason != CONFLICT_VAULT_SEQ)
        return rl_fail(why, RL_ERR_ARG, "conflict record: unknown reason %u", p->reason);
    if (p->credited > 1)
        return rl_fail(why, RL_ERR_ARG, "conflict record: credited flag must be 0 or 1");
    rl_err err = variant_check(&p->a, "conflict record variant A", why);
    if (err == RL_OK)
        err = variant_check(&p->b, "conflict record variant B", why);
    if (err != RL_OK)
        return err;
    if (memcmp(p->a.obs, p->b.obs, OBS_BYTES) == 0)
        return rl_fail(why, RL_ERR_ARG, "conflict record: variants are identical");
    uint8_t *q = out;
    *q++ = p->reason;
    *q++ = p->credited;
    memcpy(q, p->a.obs, OBS_BYTES), q += OBS_BYTES;
    q = sigs_put(q, &p->a.sigs);
    memcpy(q, p->b.obs, OBS_BYTES), q += OBS_BYTES;
    q = sigs_put(q, &p->b.sigs);
    *len = (size_t)(q - out);
    return RL_OK;
}

rl_err payload_conflict_decode(payload_conflict *p, const record *rec, rl_why *why)
{
    reader r = {rec->payload, rec->payload_len};
    if (!reader_u8(&r, &p->reason) || !reader_u8(&r, &p->credited))
        return rl_fail(why, RL_ERR_DECODE, "conflict record: truncated");
    if (p->reason != CONFLICT_CONTENT && p->reason != CONFLICT_VAULT_SEQ)
        return rl_fail(why, RL_ERR_DECODE, "conflict record: unknown reason %u", p->reason);
    if (p->credited > 1)
        return rl_fail(why, RL_ERR_DECODE, "conflict record: credited flag %u is not 0 or 1", p->credited);
    rl_err err = variant_read(&r, &p->a, "conflict record variant A", why);
    if (err == RL_OK)
        err = variant_read(&r, &p->b, "conflict record variant B", why);
    if (err != RL_OK)
        return err;
    if (memcmp(p->a.obs, p->b.obs, OBS_BYTES) == 0)
        return rl_fail(why, RL_ERR_DECODE, "conflict record: variants are identical");
    return no_trailing(&r, "conflict record", why);
}

/* ---- PRICE ---- */

rl_err payload_price_encode(const payload_price *p, uint8_t *out, size_t *len, rl_why *why)
{
    if (p->n == 0 || p->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_ARG, "price record: %u observations, 1 to %d allowed", p->n, RELSET_MAX_MEMBERS);
    rl_err err = name16_put(out, p->feed, "price record feed", why);
    if (err != RL_OK)
        return err;
    uint8_t *q = out + PRICE_FEED_BYTES;
    *q++ = p->n;
    for (unsigned i = 0; i < p->n; i++) {
        price_obs o;
        if ((err = price_decode(&o, p->e[i].bytes, PRICE_OBS_BYTES, why)) != RL_OK)
            return err;
        if (strcmp(o.feed, p->feed) != 0)
            return rl_fail(why, RL_ERR_ARG, "price record of %s: observation %u is of %s", p->feed, i, o.feed);
        if (i > 0 && p->e[i].member <= p->e[i - 1].member)
            return rl_fail(why, RL_ERR_ARG, "price record: members not strictly ascending");
        memcpy(q, p->e[i].bytes, PRICE_OBS_BYTES), q += PRICE_OBS_BYTES;
        be16_put(q, p->e[i].member), q += 2;
        memcpy(q, p->e[i].sig, ED25519_SIG_BYTES), q += ED25519_SIG_BYTES;
    }
    *len = (size_t)(q - out);
    return RL_OK;
}

rl_err payload_price_decode(payload_price *p, const record *rec, rl_why *why)
{
    reader r = {rec->payload, rec->payload_len};
    const uint8_t *feed = reader_take(&r, PRICE_FEED_BYTES);
    if (feed == NULL || !reader_u8(&r, &p->n))
        return rl_fail(why, RL_ERR_DECODE, "price record: truncated");
    rl_err err = name16_get(p->feed, feed, "price record feed", why);
    if (err != RL_OK)
        return err;
    if (p->n == 0 || p->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_DECODE, "price record: %u observations, 1 to %d allowed", p->n,
                       RELSET_MAX_MEMBERS);
    for (unsigned i = 0; i < p->n; i++) {
        signed_price *e = &p->e[i];
        price_obs o;
        if (!reader_copy(&r, e->bytes, PRICE_OBS_BYTES) || !reader_u16(&r, &e->member) ||
            !reader_copy(&r, e->sig, ED25519_SIG_BYTES))
            return rl_fail(why, RL_ERR_DECODE, "price record: observation %u of %u truncated", i + 1, p->n);
        if ((err = price_decode(&o, e->bytes, PRICE_OBS_BYTES, why)) != RL_OK) {
            rl_why_prefix(why, "price record observation %u: ", i + 1);
            return err;
        }
        if (strcmp(o.feed, p->feed) != 0)
            return rl_fail(why, RL_ERR_DECODE, "price record of %s: observation %u is of %s", p->feed, i + 1, o.feed);
        if (i > 0 && e->member <= p->e[i - 1].member)
            return rl_fail(why, RL_ERR_DECODE, "price record: members not strictly ascending (%u after %u)", e->member,
                           p->e[i - 1].member);
    }
    return no_trailing(&r, "price record", why);
}

/* ---- EQUIVOCATION ---- */

/* The rules both directions check: one member, two observations that decode, one event id,
 * different bytes. code: RL_ERR_ARG when encoding, RL_ERR_DECODE when decoding. */
static rl_err equivocation_check(const payload_equivocation *p, uint8_t *event_id, rl_err code, rl_why *why)
{
    obs a, b;
    uint8_t ida[HASH_BYTES], idb[HASH_BYTES];
    if (p->a.member != p->b.member)
        return rl_fail(why, code, "equivocation record: observations of members %u and %u", p->a.member,
                       p->b.member);
    rl_err err = obs_decode(&a, p->a.bytes, OBS_BYTES, why);
    if (err != RL_OK) {
        rl_why_prefix(why, "equivocation record observation A: ");
        return code;
    }
    if ((err = obs_decode(&b, p->b.bytes, OBS_BYTES, why)) != RL_OK) {
        rl_why_prefix(why, "equivocation record observation B: ");
        return code;
    }
    obs_event_id(ida, a.chain_id, a.tx_hash, a.log_index);
    obs_event_id(idb, b.chain_id, b.tx_hash, b.log_index);
    if (memcmp(ida, idb, HASH_BYTES) != 0)
        return rl_fail(why, code, "equivocation record: the observations are of two different events");
    if (memcmp(p->a.bytes, p->b.bytes, OBS_BYTES) == 0)
        return rl_fail(why, code, "equivocation record: the observations are identical");
    if (event_id != NULL)
        memcpy(event_id, ida, HASH_BYTES);
    return RL_OK;
}

rl_err payload_equivocation_encode(const payload_equivocation *p, uint8_t *out, size_t *len, rl_why *why)
{
    rl_err err = equivocation_check(p, NULL, RL_ERR_ARG, why);
    if (err != RL_OK)
        return err;
    uint8_t *q = out;
    be16_put(q, p->a.member), q += 2;
    memcpy(q, p->a.bytes, OBS_BYTES), q += OBS_BYTES;
    memcpy(q, p->a.sig, ED25519_SIG_BYTES), q += ED25519_SIG_BYTES;
    memcpy(q, p->b.bytes, OBS_BYTES), q += OBS_BYTES;
    memcpy(q, p->b.sig, ED25519_SIG_BYTES), q += ED25519_SIG_BYTES;
    *len = (size_t)(q - out);
    return RL_OK;
}

rl_err payload_equivocation_decode(payload_equivocation *p, const record *rec, uint8_t *event_id, rl_why *why)
{
    reader r = {rec->payload, rec->payload_len};
    if (!reader_u16(&r, &p->a.member) || !reader_copy(&r, p->a.bytes, OBS_BYTES) ||
        !reader_copy(&r, p->a.sig, ED25519_SIG_BYTES) || !reader_copy(&r, p->b.bytes, OBS_BYTES) ||
        !reader_copy(&r, p->b.sig, ED25519_SIG_BYTES))
        return rl_fail(why, RL_ERR_DECODE, "equivocation record: truncated");
    p->b.member = p->a.member;
    rl_err err = no_trailing(&r, "equivocation record", why);
    return err != RL_OK ? err : equivocation_check(p, event_id, RL_ERR_DECODE, why);
}

void payload_equivocation_key(uint8_t out[HASH_BYTES], const uint8_t event_id[HASH_BYTES], uint16_t member)
{
    uint8_t buf[HASH_BYTES + 2];
    memcpy(buf, event_id, HASH_BYTES);
    be16_put(buf + HASH_BYTES, member);
    hash_domain(out, HASH_DOMAIN_EQVKEY, buf, sizeof buf);
}
