/*
 * relset.c - relayer set validation, canonical encoding and JSON (formats in relset.h).
 */
#include "attest/relset.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "attest/bytes.h"
#include "attest/hex.h"

rl_err relset_validate(const relset *s, rl_why *why)
{
    if (s->version == 0)
        return rl_fail(why, RL_ERR_ARG, "relayer set: version must be >= 1");
    if (s->n == 0 || s->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_ARG, "relayer set: %u members, expected 1..%d", s->n,
                       RELSET_MAX_MEMBERS);
    if (s->threshold == 0 || s->threshold > s->n)
        return rl_fail(why, RL_ERR_ARG, "relayer set: threshold %u out of 1..%u", s->threshold, s->n);
    if (2u * s->threshold <= s->n)
        return rl_fail(why, RL_ERR_ARG,
                       "relayer set: threshold %u of %u is not a strict majority; two quorums "
                       "could disagree without sharing a member",
                       s->threshold, s->n);
    for (uint16_t i = 0; i < s->n; i++) {
        const relset_member *m = &s->members[i];
        if (!node_name_valid(m->pub.name))
            return rl_fail(why, RL_ERR_ARG, "relayer set: member %u: bad name", m->id);
        if (i > 0 && m->id <= s->members[i - 1].id)
            return rl_fail(why, RL_ERR_ARG, "relayer set: member ids must be strictly ascending (%u after %u)",
                           m->id, s->members[i - 1].id);
        for (uint16_t j = 0; j < i; j++) {
            const relset_member *o = &s->members[j];
            if (memcmp(m->pub.ed25519, o->pub.ed25519, ED25519_PK_BYTES) == 0)
                return rl_fail(why, RL_ERR_ARG, "relayer set: members %u and %u share an ed25519 key", o->id, m->id);
            if (memcmp(m->pub.evm, o->pub.evm, EVM_ADDR_BYTES) == 0)
                return rl_fail(why, RL_ERR_ARG, "relayer set: members %u and %u share an EVM address", o->id, m->id);
            if (strcmp(m->pub.name, o->pub.name) == 0)
                return rl_fail(why, RL_ERR_ARG, "relayer set: members %u and %u share the name '%s'", o->id, m->id,
                               m->pub.name);
        }
    }
    if (s->nvenues > RELSET_MAX_VENUES)
        return rl_fail(why, RL_ERR_ARG, "relayer set: %u venues, at most %d", s->nvenues, RELSET_MAX_VENUES);
    for (uint8_t i = 0; i < s->nvenues; i++) {
        const relset_venue *v = &s->venues[i];
        if (!node_name_valid(v->name))
            return rl_fail(why, RL_ERR_ARG, "relayer set: venue %u: bad name", i);
        if (i > 0 && memcmp(v->ed25519, s->venues[i - 1].ed25519, ED25519_PK_BYTES) <= 0)
            return rl_fail(why, RL_ERR_ARG, "relayer set: venue keys must be unique and ascending ('%s' after '%s')",
                           v->name, s->venues[i - 1].name);
        for (uint8_t j = 0; j < i; j++)
            if (strcmp(v->name, s->venues[j].name) == 0)
                return rl_fail(why, RL_ERR_ARG, "relayer set: two venues share the name '%s'", v->name);
    }
    return RL_OK;
}

rl_err relset_encode(const relset *s, uint8_t *out, size_t *len, rl_why *why)
{
    rl_err err = relset_validate(s, why);
    if (err != RL_OK)
        return err;
    uint8_t *p = out;
    *p++ = s->nvenues > 0 ? RELSET_FORMAT_VENUES : RELSET_FORMAT;
    be32_put(p, s->version), p += 4;
    be16_put(p, s->threshold), p += 2;
    be16_put(p, s->n), p += 2;
    for (uint16_t i = 0; i < s->n; i++) {
        const relset_member *m = &s->members[i];
        size_t nl = strlen(m->pub.name);
        be16_put(p, m->id), p += 2;
        *p++ = (uint8_t)nl;
        memcpy(p, m->pub.name, nl), p += nl;
        memcpy(p, m->pub.ed25519, ED25519_PK_BYTES), p += ED25519_PK_BYTES;
        memcpy(p, m->pub.evm, EVM_ADDR_BYTES), p += EVM_ADDR_BYTES;
    }
    if (s->nvenues > 0)
        *p++ = s->nvenues;
    for (uint8_t i = 0; i < s->nvenues; i++) {
        size_t nl = strlen(s->venues[i].name);
        *p++ = (uint8_t)nl;
        memcpy(p, s->venues[i].name, nl), p += nl;
        memcpy(p, s->venues[i].ed25519, ED25519_PK_BYTES), p += ED25519_PK_BYTES;
    }
    *len = (size_t)(p - out);
    return RL_OK;
}

rl_err relset_decode(relset *s, const uint8_t *in, size_t len, rl_why *why)
{
    reader r = {in, len};
    uint8_t format;
    memset(s, 0, sizeof *s);
    if (!reader_u8(&r, &format) || !reader_u32(&r, &s->version) || !reader_u16(&r, &s->threshold) ||
        !reader_u16(&r, &s->n))
        return rl_fail(why, RL_ERR_DECODE, "relayer set: truncated header (%zu bytes)", len);
    if (format != RELSET_FORMAT && format != RELSET_FORMAT_VENUES)
        return rl_fail(why, RL_ERR_VERSION, "relayer set: unknown format %u", format);
    if (s->n == 0 || s->n > RELSET_MAX_MEMBERS)
        return rl_fail(why, RL_ERR_DECODE, "relayer set: %u members, expected 1..%d", s->n, RELSET_MAX_MEMBERS);
    for (uint16_t i = 0; i < s->n; i++) {
        relset_member *m = &s->members[i];
        uint8_t nl;
        if (!reader_u16(&r, &m->id) || !reader_u8(&r, &nl))
            return rl_fail(why, RL_ERR_DECODE, "relayer set: member %u truncated", i);
        if (nl == 0 || nl > NODE_NAME_MAX)
            return rl_fail(why, RL_ERR_DECODE, "relayer set: member %u: name length %u", i, nl);
        if (!reader_copy(&r, m->pub.name, nl) || !reader_copy(&r, m->pub.ed25519, ED25519_PK_BYTES) ||
            !reader_copy(&r, m->pub.evm, EVM_ADDR_BYTES))
            return rl_fail(why, RL_ERR_DECODE, "relayer set: member %u truncated", i);
        m->pub.name[nl] = '\0';
        if (strlen(m->pub.name) != nl) /* a NUL inside would hide bytes from the name check */
            return rl_fail(why, RL_ERR_DECODE, "relayer set: member %u: name contains a NUL byte", i);
        if (crypto_sign_ed25519_pk_to_curve25519(m->pub.x25519, m->pub.ed25519) != 0)
            return rl_fail(why, RL_ERR_DECODE, "relayer set: member %u: ed25519 key is not a curve point", m->id);
    }
    if (format == RELSET_FORMAT_VENUES) {
        if (!reader_u8(&r, &s->nvenues) || s->nvenues == 0 || s->nvenues > RELSET_MAX_VENUES)
            return rl_fail(why, RL_ERR_DECODE, "relayer set: format 2 needs 1..%d venues", RELSET_MAX_VENUES);
        for (uint8_t i = 0; i < s->nvenues; i++) {
            relset_venue *v = &s->venues[i];
            uint8_t nl;
            if (!reader_u8(&r, &nl) || nl == 0 || nl > NODE_NAME_MAX || !reader_copy(&r, v->name, nl) ||
                !reader_copy(&r, v->ed25519, ED25519_PK_BYTES))
                return rl_fail(why, RL_ERR_DECODE, "relayer set: venue %u truncated or badly named", i);
            v->name[nl] = '\0';
            if (strlen(v->name) != nl)
                return rl_fail(why, RL_ERR_DECODE, "relayer set: venue %u: name contains a NUL byte", i);
        }
    }
    if (r.left != 0)
        return rl_fail(why, RL_ERR_DECODE, "relayer set: %zu trailing bytes", r.left);
    rl_err err = relset_validate(s, why);
    return err == RL_OK ? RL_OK : RL_ERR_DECODE;
}

rl_err relset_digest(const relset *s, uint8_t out[HASH_BYTES])
{
    uint8_t buf[RELSET_MAX_BYTES];
    size_t len;
    rl_err err = relset_encode(s, buf, &len, NULL);
    if (err != RL_OK)
        return err;
    hash_domain(out, HASH_DOMAIN_SET, buf, len);
    return RL_OK;
}

rl_err relset_from_json(relset *s, const char *text, size_t len, rl_why *why)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    rl_err err = RL_ERR_DECODE;
    memset(s, 0, sizeof *s);
    if (root == NULL)
        return rl_fail(why, RL_ERR_DECODE, "relayer set JSON: line %d column %d: %s", jerr.line, jerr.column,
                       jerr.text);
    json_t *version = json_object_get(root, "version");
    json_t *threshold = json_object_get(root, "threshold");
    json_t *members = json_object_get(root, "members");
    if (!json_is_integer(version) || json_integer_value(version) < 1 || json_integer_value(version) > UINT32_MAX) {
        err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: 'version' must be an integer >= 1");
        goto done;
    }
    if (!json_is_integer(threshold) || json_integer_value(threshold) < 1 ||
        json_integer_value(threshold) > RELSET_MAX_MEMBERS) {
        err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: 'threshold' must be an integer 1..%d",
                      RELSET_MAX_MEMBERS);
        goto done;
    }
    if (!json_is_array(members) || json_array_size(members) == 0 ||
        json_array_size(members) > RELSET_MAX_MEMBERS) {
        err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: 'members' must be an array of 1..%d members",
                      RELSET_MAX_MEMBERS);
        goto done;
    }
    s->version = (uint32_t)json_integer_value(version);
    s->threshold = (uint16_t)json_integer_value(threshold);
    s->n = (uint16_t)json_array_size(members);
    for (uint16_t i = 0; i < s->n; i++) {
        json_t *jm = json_array_get(members, i);
        json_t *id = json_object_get(jm, "id");
        if (!json_is_integer(id) || json_integer_value(id) < 0 || json_integer_value(id) > UINT16_MAX) {
            err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: member %u: 'id' must be an integer 0..65535", i);
            goto done;
        }
        s->members[i].id = (uint16_t)json_integer_value(id);
        err = node_pub_from_json(&s->members[i].pub, jm, why);
        if (err != RL_OK) {
            rl_why_prefix(why, "relayer set JSON: member %u: ", i);
            goto done;
        }
    }
    json_t *venues = json_object_get(root, "venues");
    if (venues != NULL && (!json_is_array(venues) || json_array_size(venues) > RELSET_MAX_VENUES)) {
        err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: 'venues' must be an array of at most %d venues",
                      RELSET_MAX_VENUES);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(venues); i++) {
        json_t *jv = json_array_get(venues, i);
        const char *name = json_string_value(json_object_get(jv, "name"));
        const char *key = json_string_value(json_object_get(jv, "ed25519"));
        uint8_t pk[ED25519_PK_BYTES];
        if (name == NULL || key == NULL || hex_decode(pk, sizeof pk, key, "ed25519", NULL) != RL_OK) {
            err = rl_fail(why, RL_ERR_DECODE, "relayer set JSON: venue %zu: needs 'name' and a 32-byte hex 'ed25519'",
                          i);
            goto done;
        }
        if ((err = relset_add_venue(s, name, pk, why)) != RL_OK) {
            rl_why_prefix(why, "relayer set JSON: ");
            goto done;
        }
    }
    err = relset_validate(s, why);
    if (err != RL_OK)
        err = RL_ERR_DECODE;
done:
    json_decref(root);
    return err;
}

json_t *relset_to_json(const relset *s)
{
    json_t *members = json_array();
    for (uint16_t i = 0; i < s->n; i++) {
        json_t *m = node_pub_to_json(&s->members[i].pub);
        json_object_set_new(m, "id", json_integer(s->members[i].id));
        json_array_append_new(members, m);
    }
    json_t *j = json_pack("{s:I, s:i, s:o}", "version", (json_int_t)s->version, "threshold", (int)s->threshold,
                          "members", members);
    if (s->nvenues > 0) {
        json_t *venues = json_array();
        for (uint8_t i = 0; i < s->nvenues; i++) {
            char hex[2 * ED25519_PK_BYTES + 1];
            json_array_append_new(venues, json_pack("{s:s, s:s}", "name", s->venues[i].name, "ed25519",
                                                    hex_encode(hex, s->venues[i].ed25519, ED25519_PK_BYTES)));
        }
        json_object_set_new(j, "venues", venues);
    }
    return j;
}

rl_err relset_add_venue(relset *s, const char *name, const uint8_t ed25519[ED25519_PK_BYTES], rl_why *why)
{
    if (!node_name_valid(name))
        return rl_fail(why, RL_ERR_ARG, "venue name '%s' is not 1..%d of [A-Za-z0-9._-]", name, NODE_NAME_MAX);
    if (s->nvenues >= RELSET_MAX_VENUES)
        return rl_fail(why, RL_ERR_ARG, "at most %d venues", RELSET_MAX_VENUES);
    uint8_t at = 0;
    while (at < s->nvenues && memcmp(s->venues[at].ed25519, ed25519, ED25519_PK_BYTES) < 0)
        at++;
    if (at < s->nvenues && memcmp(s->venues[at].ed25519, ed25519, ED25519_PK_BYTES) == 0)
        return rl_fail(why, RL_ERR_ARG, "venue '%s': its key is already pinned as '%s'", name, s->venues[at].name);
    for (uint8_t i = 0; i < s->nvenues; i++)
        if (strcmp(s->venues[i].name, name) == 0)
            return rl_fail(why, RL_ERR_ARG, "two venues named '%s'", name);
    memmove(&s->venues[at + 1], &s->venues[at], (size_t)(s->nvenues - at) * sizeof *s->venues);
    memset(&s->venues[at], 0, sizeof *s->venues);
    snprintf(s->venues[at].name, sizeof s->venues[at].name, "%s", name);
    memcpy(s->venues[at].ed25519, ed25519, ED25519_PK_BYTES);
    s->nvenues++;
    return RL_OK;
}

const relset_venue *relset_find_venue(const relset *s, const uint8_t ed25519[ED25519_PK_BYTES])
{
    for (uint8_t i = 0; i < s->nvenues; i++)
        if (memcmp(s->venues[i].ed25519, ed25519, ED25519_PK_BYTES) == 0)
            return &s->venues[i];
    return NULL;
}

const relset_member *relset_find(const relset *s, uint16_t id)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->members[mid].id == id)
            return &s->members[mid];
        if (s->members[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const relset_member *relset_find_key(const relset *s, const uint8_t ed25519[ED25519_PK_BYTES])
{
    for (uint16_t i = 0; i < s->n; i++)
        if (memcmp(s->members[i].pub.ed25519, ed25519, ED25519_PK_BYTES) == 0)
            return &s->members[i];
    return NULL;
}
