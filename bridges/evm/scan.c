/*
 * scan.c - reading a vault's events behind the confirmation depth, with reorg and gap handling
 * (contract in scan.h).
 */
#include "bridges/evm/scan.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "attest/bytes.h"
#include "attest/vec.h"
#include "bridges/evm/rpceth.h"

struct scan {
    rpc *c;
    scan_opts o;
    scan_state st;
    uint8_t topics[VAULT_EVENT_KINDS][RPC_HASH_BYTES];
};

/* eventSeq() - the vault's last assigned sequence number (the first 4 bytes of its keccak). */
#define EVENT_SEQ_SIG "eventSeq()"
#define ABI_WORD 32

rl_err scan_new(scan **out, rpc *c, const scan_opts *o, const scan_state *saved, rl_why *why)
{
    *out = NULL;
    if (o->max_range == 0)
        return rl_fail(why, RL_ERR_ARG, "scan: max_range must be at least 1");
    scan *s = calloc(1, sizeof *s);
    if (s == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "scan: state");
    s->c = c;
    s->o = *o;
    if (saved != NULL)
        s->st = *saved;
    vault_event_topics(s->topics);
    *out = s;
    return RL_OK;
}

void scan_free(scan *s)
{
    free(s);
}

const scan_state *scan_get_state(const scan *s)
{
    return &s->st;
}

void scan_commit(scan *s, const scan_batch *b)
{
    s->st = b->next;
}

void scan_batch_fini(scan_batch *b)
{
    free(b->ev);
    b->ev = NULL;
    b->n = b->cap = 0;
}

/* ---- the window of block hashes */

static scan_block *win_at(scan_state *st, uint64_t number)
{
    if (!st->started || st->n == 0 || number > st->scanned || st->scanned - number >= st->n)
        return NULL;
    return &st->win[st->n - 1 - (st->scanned - number)];
}

static void win_push(scan_state *st, uint64_t number, const uint8_t hash[RPC_HASH_BYTES])
{
    if (st->n == SCAN_WINDOW) {
        memmove(st->win, st->win + 1, (SCAN_WINDOW - 1) * sizeof st->win[0]);
        st->n--;
    }
    scan_block *e = &st->win[st->n++];
    memcpy(e->hash, hash, RPC_HASH_BYTES);
    e->first_seq = 0;
    e->events = 0;
    st->started = true;
    st->scanned = number;
    memcpy(st->scanned_hash, hash, RPC_HASH_BYTES);
}

/* ---- reads */

/* The highest block that may be read now. *none when the chain is not that long yet. */
static rl_err read_target(scan *s, uint64_t *target, bool *none, rl_why *why)
{
    *none = false;
    if (s->o.finalized) {
        rpc_block fin;
        rl_err err = rpc_eth_get_block(s->c, rpc_block_tag(RPC_FINALIZED), &fin, why);
        if (err == RL_OK)
            *target = fin.number;
        return err;
    }
    uint64_t head;
    rl_err err = rpc_head(s->c, &head, why);
    if (err != RL_OK)
        return err;
    if (head < s->o.confirmations)
        *none = true;
    else
        *target = head - s->o.confirmations;
    return RL_OK;
}

/* Headers from..to in one batch; out has to - from + 1 entries. */
static rl_err read_headers(scan *s, uint64_t from, uint64_t to, rpc_block *out, rl_why *why)
{
    size_t n = (size_t)(to - from + 1);
    rpc_req *req = calloc(n, sizeof *req);
    rpc_res *res = calloc(n, sizeof *res);
    rl_err err = RL_OK;
    if (req == NULL || res == NULL)
        err = rl_fail(why, RL_ERR_NOMEM, "scan: %zu headers", n);
    for (size_t i = 0; err == RL_OK && i < n; i++) {
        req[i].method = "eth_getBlockByNumber";
        if ((req[i].params = json_pack("[o,b]", rpcjson_from_u64(from + i), 0)) == NULL)
            err = rl_fail(why, RL_ERR_NOMEM, "scan: header request");
    }
    if (err == RL_OK)
        err = rpc_batch(s->c, n, req, res, why);
    for (size_t i = 0; err == RL_OK && i < n; i++) {
        err = rpcjson_block(res[i].result, &out[i], why);
        if (err == RL_ERR_NOTFOUND)
            err = rl_fail(why, RL_ERR_NOTFOUND, "block %" PRIu64 ": the node does not have it (yet)", from + i);
        else if (err == RL_OK && out[i].number != from + i)
            err = rl_fail(why, RL_ERR_DECODE, "asked for block %" PRIu64 ", got block %" PRIu64, from + i,
                          out[i].number);
        else if (err != RL_OK)
            rl_why_prefix(why, "block %" PRIu64 ": ", from + i);
    }
    if (res != NULL)
        rpc_batch_fini(res, n);
    for (size_t i = 0; req != NULL && i < n; i++)
        json_decref(req[i].params);
    free(req);
    free(res);
    return err;
}

static rl_err read_logs(scan *s, uint64_t from, uint64_t to, const uint8_t *block_hash, rpc_logs **logs,
                        rl_why *why)
{
    rpc_filter f;
    memset(&f, 0, sizeof f);
    f.addresses = (const uint8_t(*)[RPC_ADDR_BYTES])s->o.vault;
    f.n_addresses = 1;
    f.topics[0].any = (const uint8_t(*)[RPC_HASH_BYTES])s->topics;
    f.topics[0].n = VAULT_EVENT_KINDS;
    f.n_topics = 1;
    f.from = rpc_block_at(from);
    f.to = rpc_block_at(to);
    f.block_hash = block_hash;
    return rpc_eth_get_logs(s->c, &f, logs, why);
}

/* The vault's eventSeq() just before block `at`: where the sequence stands when reading begins
 * there. A block before the vault existed has no code there: empty return data, 0. */
static rl_err read_seq_before(scan *s, uint64_t at, uint64_t *seq, rl_why *why)
{
    *seq = 0;
    if (at == 0)
        return RL_OK;
    uint8_t sel[HASH_BYTES];
    keccak256(sel, EVENT_SEQ_SIG, strlen(EVENT_SEQ_SIG));
    rpc_callmsg m = {.to = s->o.vault, .data = sel, .data_len = 4};
    uint8_t *ret = NULL;
    size_t len = 0;
    rl_err err = rpc_eth_call(s->c, &m, rpc_block_at(at - 1), &ret, &len, why);
    if (err == RL_OK && len == ABI_WORD) {
        static const uint8_t zero[ABI_WORD - 8];
        if (memcmp(ret, zero, sizeof zero) != 0)
            err = rl_fail(why, RL_ERR_DECODE, "eventSeq() at block %" PRIu64 ": not a uint64", at - 1);
        else
            *seq = be64_get(ret + ABI_WORD - 8);
    } else if (err == RL_OK && len != 0) {
        err = rl_fail(why, RL_ERR_DECODE, "eventSeq() at block %" PRIu64 ": %zu bytes of return data", at - 1, len);
    }
    free(ret);
    return err;
}

/* ---- reorgs */

/* The chain no longer has what the window says at its top: walk back to the common ancestor and
 * drop everything above it from b->next. */
static rl_err rewind_to_ancestor(scan *s, scan_batch *b, rl_why *why)
{
    scan_state *st = &b->next;
    uint64_t tip = st->scanned;
    size_t keep = st->n;
    while (keep > 0) {
        uint64_t number = tip - (st->n - keep);
        rpc_block blk;
        rl_err err = rpc_eth_get_block(s->c, rpc_block_at(number), &blk, why);
        if (err == RL_ERR_NOTFOUND) {
            keep--; /* the new chain is shorter: this block is gone too */
            continue;
        }
        if (err != RL_OK)
            return err;
        if (memcmp(blk.hash, st->win[keep - 1].hash, RPC_HASH_BYTES) == 0)
            break;
        keep--;
    }
    if (keep == 0)
        return rl_fail(why, RL_ERR_STATE,
                       "reorg deeper than the %zu blocks kept (blocks %" PRIu64 "..%" PRIu64
                       " all changed): not resolvable automatically",
                       st->n, tip - st->n + 1, tip);
    uint64_t ancestor = tip - (st->n - keep);
    b->reorg = true;
    b->reorg_ancestor = ancestor;
    b->reorg_depth = tip - ancestor;
    for (size_t i = keep; i < st->n; i++) {
        if (st->win[i].events == 0)
            continue;
        if (b->reorg_dropped == 0)
            b->reorg_first_seq = st->win[i].first_seq;
        b->reorg_dropped += st->win[i].events;
    }
    if (b->reorg_dropped > 0)
        st->next_seq = b->reorg_first_seq;
    /* The event before next_seq is at or below the ancestor: find its block in what is kept. */
    if (st->last_event_block > ancestor) {
        st->last_event_block = 0;
        for (size_t i = keep; i-- > 0;)
            if (st->win[i].events > 0) {
                st->last_event_block = ancestor - (keep - 1 - i);
                break;
            }
    }
    st->n = keep;
    st->scanned = ancestor;
    memcpy(st->scanned_hash, st->win[keep - 1].hash, RPC_HASH_BYTES);
    return RL_OK;
}

/* ---- events */

static int by_position(const void *pa, const void *pb)
{
    const vault_event *a = pa, *b = pb;
    if (a->block_number != b->block_number)
        return a->block_number < b->block_number ? -1 : 1;
    return a->log_index < b->log_index ? -1 : a->log_index > b->log_index;
}

/* Decodes logs into b->ev (appended), each checked against the block hash read for its block:
 * hash_of(number) gives it, or NULL when the block is outside what was read. */
static rl_err take_logs(scan *s, scan_batch *b, const rpc_logs *logs, const rpc_block *hdr, uint64_t from,
                        uint64_t to, rl_why *why)
{
    for (size_t i = 0; i < logs->n; i++) {
        const rpc_log *l = &logs->v[i];
        if (l->block_number < from || l->block_number > to)
            return rl_fail(why, RL_ERR_DECODE, "eth_getLogs: a log of block %" PRIu64 " outside %" PRIu64 "..%" PRIu64,
                           l->block_number, from, to);
        const uint8_t *want = hdr != NULL ? hdr[l->block_number - from].hash : NULL;
        scan_block *w = hdr == NULL ? win_at(&b->next, l->block_number) : NULL;
        if (w != NULL)
            want = w->hash;
        if (want == NULL || memcmp(want, l->block_hash, RPC_HASH_BYTES) != 0)
            return rl_fail(why, RL_ERR_STATE,
                           "block %" PRIu64 ": a log's block hash is not the block read: the chain moved, reading again",
                           l->block_number);
        if (!vec_reserve((void **)&b->ev, &b->cap, b->n + 1, sizeof *b->ev, 16))
            return rl_fail(why, RL_ERR_NOMEM, "scan: %zu events", b->n + 1);
        rl_err err = vault_decode_log(l, s->o.vault, &b->ev[b->n], why);
        if (err != RL_OK) {
            rl_why_prefix(why, "block %" PRIu64 " log %" PRIu64 ": ", l->block_number, l->log_index);
            return err == RL_ERR_NOTFOUND ? RL_ERR_DECODE : err;
        }
        b->n++;
    }
    return RL_OK;
}

/* Drops events that appear twice (a log read both by range and by block hash). */
static void sort_unique(scan_batch *b)
{
    if (b->n == 0)
        return; /* b->ev may be NULL */
    qsort(b->ev, b->n, sizeof *b->ev, by_position);
    size_t keep = 0;
    for (size_t i = 0; i < b->n; i++)
        if (keep == 0 || by_position(&b->ev[keep - 1], &b->ev[i]) != 0)
            b->ev[keep++] = b->ev[i];
    b->n = keep;
}

/* The first position whose sequence number is not the expected one, or b->n. */
static size_t first_gap(const scan_batch *b, uint64_t next_seq)
{
    for (size_t i = 0; i < b->n; i++, next_seq++)
        if (b->ev[i].seq != next_seq)
            return i;
    return b->n;
}

/* A gap at b->ev[at]: re-read the blocks from the last event's block (or the oldest block known)
 * to the gap's block one by one by hash, and merge what they hold. */
static rl_err refill_gap(scan *s, scan_batch *b, size_t at, const rpc_block *hdr, uint64_t from, rl_why *why)
{
    uint64_t gap_block = b->ev[at].block_number;
    uint64_t lo = b->next.last_event_block;
    uint64_t oldest = b->next.n > 0 ? b->next.scanned - b->next.n + 1 : from;
    if (lo < oldest)
        lo = oldest;
    if (lo < from && b->next.n == 0)
        lo = from;
    if (gap_block - lo + 1 > s->o.max_range)
        lo = gap_block - s->o.max_range + 1; /* bounded: the rest on a later step */
    size_t before = b->n;
    for (uint64_t number = lo; number <= gap_block; number++) {
        const uint8_t *hash = number >= from ? hdr[number - from].hash : NULL;
        scan_block *w = number < from ? win_at(&b->next, number) : NULL;
        if (w != NULL)
            hash = w->hash;
        if (hash == NULL)
            continue; /* below what was ever read: nothing of ours can be there */
        rpc_logs *logs = NULL;
        rl_err err = read_logs(s, number, number, hash, &logs, why);
        if (err == RL_OK)
            err = take_logs(s, b, logs, number >= from ? hdr : NULL, number >= from ? from : number,
                            number >= from ? b->to : number, why);
        rpc_logs_free(logs);
        if (err != RL_OK)
            return err;
    }
    sort_unique(b);
    /* Re-read blocks below `from` also hold events handed out before: not again. */
    size_t keep = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->ev[i].block_number >= from || b->ev[i].seq >= b->next.next_seq)
            b->ev[keep++] = b->ev[i];
    b->n = keep;
    b->gap_filled = b->n > before ? b->n - before : 0;
    return RL_OK;
}

/* Every event's receipt holds the same log, in the same block, of a successful transaction. */
static rl_err recheck_receipts(scan *s, const scan_batch *b, rl_why *why)
{
    if (b->n == 0)
        return RL_OK;
    rpc_req *req = calloc(b->n, sizeof *req);
    rpc_res *res = calloc(b->n, sizeof *res);
    rl_err err = RL_OK;
    if (req == NULL || res == NULL)
        err = rl_fail(why, RL_ERR_NOMEM, "scan: %zu receipts", b->n);
    for (size_t i = 0; err == RL_OK && i < b->n; i++) {
        req[i].method = "eth_getTransactionReceipt";
        if ((req[i].params = json_pack("[o]", rpcjson_from_bytes(b->ev[i].tx_hash, RPC_HASH_BYTES))) == NULL)
            err = rl_fail(why, RL_ERR_NOMEM, "scan: receipt request");
    }
    if (err == RL_OK)
        err = rpc_batch(s->c, b->n, req, res, why);
    for (size_t i = 0; err == RL_OK && i < b->n; i++) {
        const vault_event *e = &b->ev[i];
        rpc_receipt r;
        err = rpcjson_receipt(res[i].result, &r, why);
        if (err == RL_ERR_NOTFOUND) {
            err = rl_fail(why, RL_ERR_STATE, "vault event %" PRIu64 ": its transaction has no receipt now (reorged out?)",
                          e->seq);
            break;
        }
        if (err != RL_OK) {
            rl_why_prefix(why, "receipt of vault event %" PRIu64 ": ", e->seq);
            break;
        }
        bool same_block = r.block_number == e->block_number && memcmp(r.block_hash, e->block_hash, RPC_HASH_BYTES) == 0;
        bool found = false;
        for (size_t k = 0; k < r.logs.n && !found; k++) {
            vault_event again;
            const rpc_log *l = &r.logs.v[k];
            found = l->log_index == e->log_index && vault_decode_log(l, s->o.vault, &again, NULL) == RL_OK &&
                    vault_event_equal(&again, e);
        }
        if (memcmp(r.tx_hash, e->tx_hash, RPC_HASH_BYTES) != 0)
            err = rl_fail(why, RL_ERR_DECODE, "vault event %" PRIu64 ": a receipt of another transaction", e->seq);
        else if (r.status != 1)
            err = rl_fail(why, RL_ERR_STATE, "vault event %" PRIu64 ": its transaction reverted", e->seq);
        else if (!same_block)
            err = rl_fail(why, RL_ERR_STATE, "vault event %" PRIu64 ": its receipt is in another block now", e->seq);
        else if (!found)
            err = rl_fail(why, RL_ERR_STATE, "vault event %" PRIu64 ": its receipt does not hold the same log", e->seq);
        rpc_receipt_fini(&r);
    }
    if (res != NULL)
        rpc_batch_fini(res, b->n);
    for (size_t i = 0; req != NULL && i < b->n; i++)
        json_decref(req[i].params);
    free(req);
    free(res);
    return err;
}

/* Block `to` still has its hash and is still deep enough: the range is canonical now. */
static rl_err recheck_range(scan *s, uint64_t to, const uint8_t hash[RPC_HASH_BYTES], rl_why *why)
{
    uint64_t target;
    bool none;
    rl_err err = read_target(s, &target, &none, why);
    if (err == RL_OK && (none || target < to))
        err = rl_fail(why, RL_ERR_STATE, "block %" PRIu64 " is no longer %s", to,
                      s->o.finalized ? "finalized" : "confirmed");
    rpc_block blk;
    if (err == RL_OK)
        err = rpc_eth_get_block(s->c, rpc_block_at(to), &blk, why);
    if (err == RL_OK && memcmp(blk.hash, hash, RPC_HASH_BYTES) != 0)
        err = rl_fail(why, RL_ERR_STATE, "block %" PRIu64 " changed while it was read (reorg)", to);
    if (err == RL_ERR_NOTFOUND)
        err = rl_fail(why, RL_ERR_STATE, "block %" PRIu64 " is gone (reorg)", to);
    return err;
}

/* The events of whole blocks from..to that fit in max_events; returns the last block taken
 * (from - 1 when none fits). */
static uint64_t fit_blocks(scan_batch *b, size_t max_events, uint64_t from, uint64_t to)
{
    if (b->n <= max_events)
        return to;
    uint64_t last = b->ev[max_events].block_number - 1; /* the block of the first one left out is not taken */
    size_t keep = 0;
    while (keep < b->n && b->ev[keep].block_number <= last)
        keep++;
    b->n = keep;
    return last >= from ? last : from - 1;
}

static rl_err step_range(scan *s, scan_batch *b, size_t max_events, rl_why *why)
{
    scan_state *st = &b->next;
    uint64_t from = b->from, to = b->to;
    rpc_block *hdr = calloc((size_t)(to - from + 1), sizeof *hdr);
    if (hdr == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "scan: %" PRIu64 " headers", to - from + 1);
    rpc_logs *logs = NULL;
    rl_err err = read_headers(s, from, to, hdr, why);
    if (err != RL_OK)
        goto done;
    if (st->started && st->n > 0 && memcmp(hdr[0].parent_hash, st->scanned_hash, RPC_HASH_BYTES) != 0) {
        b->to = from - 1;
        err = rewind_to_ancestor(s, b, why);
        goto done;
    }
    for (uint64_t i = 1; i <= to - from; i++)
        if (memcmp(hdr[i].parent_hash, hdr[i - 1].hash, RPC_HASH_BYTES) != 0) {
            err = rl_fail(why, RL_ERR_STATE, "block %" PRIu64 " does not link to block %" PRIu64 ": the chain moved",
                          from + i, from + i - 1);
            goto done;
        }
    if ((err = read_logs(s, from, to, NULL, &logs, why)) != RL_OK ||
        (err = take_logs(s, b, logs, hdr, from, to, why)) != RL_OK)
        goto done;
    sort_unique(b);

    size_t gap = first_gap(b, st->next_seq);
    if (gap < b->n && b->ev[gap].seq > st->next_seq) {
        b->gap = true;
        b->gap_expected = st->next_seq + gap;
        b->gap_seen = b->ev[gap].seq;
        b->gap_block = b->ev[gap].block_number;
        if ((err = refill_gap(s, b, gap, hdr, from, why)) != RL_OK)
            goto done;
        gap = first_gap(b, st->next_seq);
        if (gap == b->n)
            b->gap = false; /* filled */
    }
    if (gap < b->n && b->ev[gap].seq < st->next_seq + gap) {
        err = rl_fail(why, RL_ERR_STATE, "vault sequence went back: %" PRIu64 " after %" PRIu64 " at block %" PRIu64,
                      b->ev[gap].seq, st->next_seq + gap - 1, b->ev[gap].block_number);
        goto done;
    }
    if (gap < b->n) {
        /* Take the blocks before the gap's block; the rest is read again next time. */
        uint64_t last = b->ev[gap].block_number - 1;
        while (gap > 0 && b->ev[gap - 1].block_number > last)
            gap--;
        b->n = gap;
        to = last;
    }
    /* Events already handed out (below next_seq, re-read by a gap refill) are not handed again. */
    to = fit_blocks(b, max_events, from, to);
    if (to < from) {
        b->n = 0;
        b->to = from - 1;
        goto done;
    }
    if ((err = recheck_receipts(s, b, why)) != RL_OK || (err = recheck_range(s, to, hdr[to - from].hash, why)) != RL_OK)
        goto done;
    b->to = to;
    for (uint64_t number = from; number <= to; number++)
        win_push(st, number, hdr[number - from].hash);
    /* Each block counts the events handed out from it (a refilled gap's may be in older blocks),
     * so a reorg knows which of them it drops. */
    for (size_t k = 0; k < b->n; k++) {
        scan_block *w = win_at(st, b->ev[k].block_number);
        if (w != NULL && (w->events++ == 0 || b->ev[k].seq < w->first_seq))
            w->first_seq = b->ev[k].seq;
    }
    if (b->n > 0) {
        st->next_seq = b->ev[b->n - 1].seq + 1;
        st->last_event_block = b->ev[b->n - 1].block_number;
    }
done:
    rpc_logs_free(logs);
    free(hdr);
    return err;
}

rl_err scan_step(scan *s, size_t max_events, scan_batch *b, rl_why *why)
{
    memset(b, 0, sizeof *b);
    b->next = s->st;
    scan_state *st = &b->next;
    uint64_t target;
    bool none;
    rl_err err = read_target(s, &target, &none, why);
    if (err != RL_OK || none)
        return err;
    b->target = target;
    if (!st->started && st->next_seq == 0) {
        uint64_t seq;
        if ((err = read_seq_before(s, s->o.start_block, &seq, why)) != RL_OK)
            return err;
        st->next_seq = seq + 1;
        st->last_event_block = 0;
    }
    b->from = st->started ? st->scanned + 1 : s->o.start_block;
    if (b->from > target) {
        /* Nothing new is deep enough: check that what was read is still the chain. */
        b->to = b->from - 1;
        if (!st->started)
            return RL_OK;
        rpc_block tip;
        err = rpc_eth_get_block(s->c, rpc_block_at(st->scanned), &tip, why);
        if (err == RL_OK && memcmp(tip.hash, st->scanned_hash, RPC_HASH_BYTES) != 0)
            return rewind_to_ancestor(s, b, why);
        return err == RL_ERR_NOTFOUND ? rewind_to_ancestor(s, b, why) : err;
    }
    b->to = target - b->from + 1 > s->o.max_range ? b->from + s->o.max_range - 1 : target;
    err = step_range(s, b, max_events, why);
    if (err == RL_OK)
        b->more = b->reorg || b->to < target;
    if (err != RL_OK)
        scan_batch_fini(b);
    return err;
}

/* ---- checkpoint */

#define STATE_FLAG_STARTED 1
#define STATE_HEAD_BYTES 60
#define STATE_ENTRY_BYTES 44
_Static_assert(SCAN_STATE_MAX_BYTES == STATE_HEAD_BYTES + SCAN_WINDOW * STATE_ENTRY_BYTES, "checkpoint size");

size_t scan_state_encode(const scan_state *st, uint8_t out[SCAN_STATE_MAX_BYTES])
{
    uint8_t *p = out;
    *p++ = SCAN_STATE_VERSION;
    *p++ = st->started ? STATE_FLAG_STARTED : 0;
    be64_put(p, st->scanned), p += 8;
    memcpy(p, st->scanned_hash, RPC_HASH_BYTES), p += RPC_HASH_BYTES;
    be64_put(p, st->next_seq), p += 8;
    be64_put(p, st->last_event_block), p += 8;
    be16_put(p, (uint16_t)st->n), p += 2;
    for (size_t i = 0; i < st->n; i++) {
        memcpy(p, st->win[i].hash, RPC_HASH_BYTES), p += RPC_HASH_BYTES;
        be64_put(p, st->win[i].first_seq), p += 8;
        be32_put(p, st->win[i].events), p += 4;
    }
    return (size_t)(p - out);
}

rl_err scan_state_decode(scan_state *st, const uint8_t *in, size_t len, rl_why *why)
{
    reader r = {in, len};
    uint8_t version, flags;
    uint16_t n;
    scan_state s;
    memset(&s, 0, sizeof s);
    if (!reader_u8(&r, &version) || !reader_u8(&r, &flags) || !reader_u64(&r, &s.scanned) ||
        !reader_copy(&r, s.scanned_hash, RPC_HASH_BYTES) || !reader_u64(&r, &s.next_seq) ||
        !reader_u64(&r, &s.last_event_block) || !reader_u16(&r, &n))
        return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: %zu bytes, too short", len);
    if (version != SCAN_STATE_VERSION)
        return rl_fail(why, RL_ERR_VERSION, "scan checkpoint: unknown version %u", version);
    if ((flags & ~STATE_FLAG_STARTED) != 0)
        return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: unknown flags 0x%02x", flags);
    s.started = flags & STATE_FLAG_STARTED;
    if (n > SCAN_WINDOW || (!s.started && n != 0) || (s.started && (n == 0 || (uint64_t)n - 1 > s.scanned)))
        return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: a window of %u blocks does not fit", n);
    s.n = n;
    for (size_t i = 0; i < s.n; i++)
        if (!reader_copy(&r, s.win[i].hash, RPC_HASH_BYTES) || !reader_u64(&r, &s.win[i].first_seq) ||
            !reader_u32(&r, &s.win[i].events))
            return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: window entry %zu cut short", i);
    if (r.left != 0)
        return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: %zu trailing bytes", r.left);
    if (s.started && memcmp(s.win[s.n - 1].hash, s.scanned_hash, RPC_HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_DECODE, "scan checkpoint: the last window entry is not the scanned block");
    *st = s;
    return RL_OK;
}
