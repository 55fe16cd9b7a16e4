/*
 * wire.c - bus frames (layout in wire.h).
 */
#include "relayer/wire.h"

#include <string.h>

#include "attest/bytes.h"

#define HEAD_BYTES 2

rl_err wire_decode(wire_msg *m, const uint8_t *frame, size_t len, rl_why *why)
{
    memset(m, 0, sizeof *m);
    if (len < HEAD_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "frame: %zu bytes, too short for a header", len);
    if (frame[1] != WIRE_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "frame: unknown version %u", frame[1]);
    m->type = frame[0];
    reader r = {frame + HEAD_BYTES, len - HEAD_BYTES};
    uint16_t n16;
    switch (m->type) {
    case WIRE_OBS:
        if (!reader_u64(&r, &m->id) || !reader_u16(&r, &n16))
            return rl_fail(why, RL_ERR_DECODE, "OBS frame: truncated header");
        if (n16 == 0 || n16 > WIRE_OBS_MAX)
            return rl_fail(why, RL_ERR_DECODE, "OBS frame: %u observations, expected 1..%d", n16, WIRE_OBS_MAX);
        if (r.left != (size_t)n16 * WIRE_SIGNED_OBS_BYTES)
            return rl_fail(why, RL_ERR_DECODE, "OBS frame: %zu body bytes for %u observations", r.left, n16);
        m->n = n16;
        break;
    case WIRE_ACK:
        if (!reader_u16(&r, &n16))
            return rl_fail(why, RL_ERR_DECODE, "ACK frame: truncated header");
        if (n16 == 0 || n16 > WIRE_ACK_MAX || r.left != (size_t)n16 * 9)
            return rl_fail(why, RL_ERR_DECODE, "ACK frame: %zu body bytes for %u entries", r.left, n16);
        for (size_t i = 0; i < n16; i++)
            if (r.p[i * 9 + 8] > WIRE_ACK_REFUSED)
                return rl_fail(why, RL_ERR_DECODE, "ACK frame: entry %zu has unknown status %u", i, r.p[i * 9 + 8]);
        m->n = n16;
        break;
    case WIRE_RECORD:
        if (!reader_u64(&r, &m->id))
            return rl_fail(why, RL_ERR_DECODE, "RECORD frame: truncated header");
        if (r.left < RECORD_HEADER_BYTES || r.left > RECORD_MAX_BYTES)
            return rl_fail(why, RL_ERR_DECODE, "RECORD frame: record of %zu bytes", r.left);
        break;
    case WIRE_CATCHUP:
        if (!reader_u64(&r, &m->id) || !reader_u32(&r, &m->max) || r.left != 0)
            return rl_fail(why, RL_ERR_DECODE, "CATCHUP frame: %zu bytes, expected 14", len);
        if (m->id == 0 || m->max == 0)
            return rl_fail(why, RL_ERR_DECODE, "CATCHUP frame: from_seq and max must be >= 1");
        break;
    case WIRE_END:
        if (!reader_u64(&r, &m->id) || r.left != 0)
            return rl_fail(why, RL_ERR_DECODE, "END frame: %zu bytes, expected 10", len);
        break;
    case WIRE_PRICE:
        if (!reader_u64(&r, &m->id) || !reader_u16(&r, &n16))
            return rl_fail(why, RL_ERR_DECODE, "PRICE frame: truncated header");
        if (n16 == 0 || n16 > WIRE_PRICE_MAX || r.left != (size_t)n16 * PRICE_SIGNED_BYTES)
            return rl_fail(why, RL_ERR_DECODE, "PRICE frame: %zu body bytes for %u prices", r.left, n16);
        m->n = n16;
        break;
    case WIRE_SUBMIT:
        if (!reader_u64(&r, &m->id) || !reader_u8(&r, &m->record_type))
            return rl_fail(why, RL_ERR_DECODE, "SUBMIT frame: truncated header");
        if (m->record_type != RECORD_REQUEST && m->record_type != RECORD_DECISION)
            return rl_fail(why, RL_ERR_DECODE, "SUBMIT frame: record type %u cannot be submitted", m->record_type);
        if (r.left == 0 || r.left > RECORD_MAX_PAYLOAD)
            return rl_fail(why, RL_ERR_DECODE, "SUBMIT frame: payload of %zu bytes", r.left);
        break;
    case WIRE_COSIG:
        if (!reader_u64(&r, &m->id) || r.left != 2 + EVM_SIG_BYTES)
            return rl_fail(why, RL_ERR_DECODE, "COSIG frame: %zu bytes, expected %d", len, HEAD_BYTES + 10 + EVM_SIG_BYTES);
        if (m->id == 0)
            return rl_fail(why, RL_ERR_DECODE, "COSIG frame: instruction seq must be >= 1");
        break;
    case WIRE_CHECKPOINT: {
        checkpoint c;
        if (r.left != CHECKPOINT_BODY_BYTES + 2 + ED25519_SIG_BYTES)
            return rl_fail(why, RL_ERR_DECODE, "CHECKPOINT frame: %zu bytes, expected %d", len,
                           HEAD_BYTES + CHECKPOINT_BODY_BYTES + 2 + ED25519_SIG_BYTES);
        rl_err err = checkpoint_body_decode(&c, r.p, CHECKPOINT_BODY_BYTES, why);
        if (err != RL_OK) {
            rl_why_prefix(why, "CHECKPOINT frame: ");
            return err;
        }
        m->id = c.seq;
        break;
    }
    default:
        return rl_fail(why, RL_ERR_DECODE, "frame: unknown type %u", m->type);
    }
    m->body = r.p;
    m->body_len = r.left;
    return RL_OK;
}

void wire_obs_at(const wire_msg *m, size_t i, signed_obs *out)
{
    const uint8_t *p = m->body + i * WIRE_SIGNED_OBS_BYTES;
    memcpy(out->bytes, p, OBS_BYTES);
    out->member = be16_get(p + OBS_BYTES);
    memcpy(out->sig, p + OBS_BYTES + 2, ED25519_SIG_BYTES);
}

void wire_price_at(const wire_msg *m, size_t i, signed_price *out)
{
    const uint8_t *p = m->body + i * PRICE_SIGNED_BYTES;
    memcpy(out->bytes, p, PRICE_OBS_BYTES);
    out->member = be16_get(p + PRICE_OBS_BYTES);
    memcpy(out->sig, p + PRICE_OBS_BYTES + 2, ED25519_SIG_BYTES);
}

void wire_cosig_of(const wire_msg *m, uint16_t *member, uint8_t sig[EVM_SIG_BYTES])
{
    *member = be16_get(m->body);
    memcpy(sig, m->body + 2, EVM_SIG_BYTES);
}

void wire_checkpoint_of(const wire_msg *m, checkpoint *c, uint16_t *member, uint8_t sig[ED25519_SIG_BYTES])
{
    if (checkpoint_body_decode(c, m->body, CHECKPOINT_BODY_BYTES, NULL) != RL_OK) /* wire_decode checked it */
        memset(c, 0, sizeof *c);
    *member = be16_get(m->body + CHECKPOINT_BODY_BYTES);
    memcpy(sig, m->body + CHECKPOINT_BODY_BYTES + 2, ED25519_SIG_BYTES);
}

wire_ack wire_ack_at(const wire_msg *m, size_t i)
{
    const uint8_t *p = m->body + i * 9;
    return (wire_ack){be64_get(p), p[8]};
}

static uint8_t *head(uint8_t *out, uint8_t type)
{
    out[0] = type;
    out[1] = WIRE_VERSION;
    return out + HEAD_BYTES;
}

size_t wire_encode_cosig(uint8_t *out, size_t cap, uint64_t instruction_seq, uint16_t member,
                         const uint8_t sig[EVM_SIG_BYTES])
{
    size_t len = HEAD_BYTES + 10 + EVM_SIG_BYTES;
    if (len > cap)
        return 0;
    uint8_t *p = head(out, WIRE_COSIG);
    be64_put(p, instruction_seq);
    be16_put(p + 8, member);
    memcpy(p + 10, sig, EVM_SIG_BYTES);
    return len;
}

size_t wire_encode_checkpoint(uint8_t *out, size_t cap, const checkpoint *c, uint16_t member,
                              const uint8_t sig[ED25519_SIG_BYTES])
{
    size_t len = HEAD_BYTES + CHECKPOINT_BODY_BYTES + 2 + ED25519_SIG_BYTES;
    if (len > cap || checkpoint_body_encode(out + HEAD_BYTES, c, NULL) != RL_OK)
        return 0;
    uint8_t *p = head(out, WIRE_CHECKPOINT) + CHECKPOINT_BODY_BYTES;
    be16_put(p, member);
    memcpy(p + 2, sig, ED25519_SIG_BYTES);
    return len;
}

size_t wire_encode_obs(uint8_t *out, size_t cap, uint64_t msg_id, const signed_obs *so, size_t n)
{
    size_t len = HEAD_BYTES + 10 + n * WIRE_SIGNED_OBS_BYTES;
    if (n == 0 || n > WIRE_OBS_MAX || len > cap)
        return 0;
    uint8_t *p = head(out, WIRE_OBS);
    be64_put(p, msg_id);
    be16_put(p + 8, (uint16_t)n);
    p += 10;
    for (size_t i = 0; i < n; i++, p += WIRE_SIGNED_OBS_BYTES) {
        memcpy(p, so[i].bytes, OBS_BYTES);
        be16_put(p + OBS_BYTES, so[i].member);
        memcpy(p + OBS_BYTES + 2, so[i].sig, ED25519_SIG_BYTES);
    }
    return len;
}

size_t wire_encode_price(uint8_t *out, size_t cap, uint64_t msg_id, const signed_price *sp, size_t n)
{
    size_t len = HEAD_BYTES + 10 + n * PRICE_SIGNED_BYTES;
    if (n == 0 || n > WIRE_PRICE_MAX || len > cap)
        return 0;
    uint8_t *p = head(out, WIRE_PRICE);
    be64_put(p, msg_id);
    be16_put(p + 8, (uint16_t)n);
    p += 10;
    for (size_t i = 0; i < n; i++, p += PRICE_SIGNED_BYTES) {
        memcpy(p, sp[i].bytes, PRICE_OBS_BYTES);
        be16_put(p + PRICE_OBS_BYTES, sp[i].member);
        memcpy(p + PRICE_OBS_BYTES + 2, sp[i].sig, ED25519_SIG_BYTES);
    }
    return len;
}

size_t wire_encode_submit(uint8_t *out, size_t cap, uint64_t msg_id, uint8_t record_type, const uint8_t *payload,
                          size_t len)
{
    size_t total = HEAD_BYTES + 9 + len;
    if (len == 0 || total > cap)
        return 0;
    uint8_t *p = head(out, WIRE_SUBMIT);
    be64_put(p, msg_id);
    p[8] = record_type;
    memcpy(p + 9, payload, len);
    return total;
}

size_t wire_encode_ack(uint8_t *out, size_t cap, const wire_ack *acks, size_t n)
{
    size_t len = HEAD_BYTES + 2 + n * 9;
    if (n == 0 || n > WIRE_ACK_MAX || len > cap)
        return 0;
    uint8_t *p = head(out, WIRE_ACK);
    be16_put(p, (uint16_t)n);
    p += 2;
    for (size_t i = 0; i < n; i++, p += 9) {
        be64_put(p, acks[i].msg_id);
        p[8] = acks[i].status;
    }
    return len;
}

size_t wire_encode_record(uint8_t *out, size_t cap, uint64_t seq, const uint8_t *rec, size_t len)
{
    size_t total = HEAD_BYTES + 8 + len;
    if (total > cap)
        return 0;
    uint8_t *p = head(out, WIRE_RECORD);
    be64_put(p, seq);
    memcpy(p + 8, rec, len);
    return total;
}

size_t wire_encode_catchup(uint8_t *out, size_t cap, uint64_t from_seq, uint32_t max)
{
    if (cap < HEAD_BYTES + 12)
        return 0;
    uint8_t *p = head(out, WIRE_CATCHUP);
    be64_put(p, from_seq);
    be32_put(p + 8, max);
    return HEAD_BYTES + 12;
}

size_t wire_encode_end(uint8_t *out, size_t cap, uint64_t head_seq)
{
    if (cap < HEAD_BYTES + 8)
        return 0;
    be64_put(head(out, WIRE_END), head_seq);
    return HEAD_BYTES + 8;
}
