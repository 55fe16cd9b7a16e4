/*
 * export.c - writing and reading exported log files (format in export.h).
 */
#include "db/export.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest/bytes.h"
#include "attest/checkpoint.h"
#include "attest/hash.h"
#include "attest/hex.h"
#include "attest/record.h"
#include "db/ledger.h"
#include "db/ledger_ckpt.h"

static const uint8_t HEAD_MAGIC[8] = {'R', 'L', 'Y', 'L', 'O', 'G', 0, 1};
static const uint8_t FOOT_MAGIC[8] = {'R', 'L', 'Y', 'E', 'N', 'D', 0, 1};
#define EXPORT_FORMAT "relayer-attestation-log"
#define EXPORT_VERSION 2 /* 2: the header may carry "checkpoint"; version 1 files are still read */
#define HEADER_MAX (1u << 20)

/* ---- writing ---- */

struct out {
    FILE *f;
    hash_ctx h;
    const char *path;
};

static rl_err out_write(struct out *o, const void *p, size_t n, rl_why *why)
{
    hash_update(&o->h, p, n);
    if (fwrite(p, 1, n, o->f) != n)
        return rl_fail(why, errno == ENOSPC ? RL_ERR_NOSPC : RL_ERR_IO, "%s: write failed: %s", o->path,
                       strerror(errno));
    return RL_OK;
}

static json_t *header_json(MDB_txn *txn, store *s, const ledger_head *head, rl_why *why)
{
    relset genesis;
    char hh[2 * HASH_BYTES + 1];
    if (ledger_set_get(txn, s, 1, &genesis, why) != RL_OK)
        return NULL;
    json_t *j = json_pack("{s:s, s:i, s:I, s:I, s:I, s:s, s:o, s:s}", "format", EXPORT_FORMAT, "version",
                          EXPORT_VERSION, "records", (json_int_t)head->seq, "first_seq", (json_int_t)1, "head_seq",
                          (json_int_t)head->seq, "head_hash", hex_encode(hh, head->hash, HASH_BYTES), "genesis_set",
                          relset_to_json(&genesis), "framing",
                          "records as u32 big-endian length + record (attest/record.h v1); footer RLYEND: "
                          "count u64, head hash, BLAKE2b-256 'rly.export.v1' of all preceding bytes");
    checkpoint_signed cs;
    relset set;
    if (j != NULL && ledger_ckpt_latest(txn, s, &cs, NULL, NULL) == RL_OK) /* none yet: no key */
        json_object_set_new(j, "checkpoint", checkpoint_to_json(&cs, ledger_set_get(txn, s, cs.c.set_version, &set,
                                                                                     NULL) == RL_OK ? &set : NULL));
    return j;
}

/* Magic, length and the header's JSON text. */
static rl_err write_header(struct out *o, const json_t *hdr, rl_why *why)
{
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS);
    if (text == NULL)
        return RL_ERR_NOMEM;
    uint8_t len4[4];
    be32_put(len4, (uint32_t)strlen(text));
    rl_err err = out_write(o, HEAD_MAGIC, sizeof HEAD_MAGIC, why);
    if (err == RL_OK)
        err = out_write(o, len4, sizeof len4, why);
    if (err == RL_OK)
        err = out_write(o, text, strlen(text), why);
    free(text);
    return err;
}

/* The footer: count, head, and the digest of every byte written before it. */
static rl_err write_footer(struct out *o, uint64_t n, const uint8_t head[HASH_BYTES], rl_why *why)
{
    uint8_t foot[8 + 8 + HASH_BYTES], digest[HASH_BYTES];
    memcpy(foot, FOOT_MAGIC, 8);
    be64_put(foot + 8, n);
    memcpy(foot + 16, head, HASH_BYTES);
    rl_err err = out_write(o, foot, sizeof foot, why);
    if (err != RL_OK)
        return err;
    hash_final(&o->h, digest);
    if (fwrite(digest, 1, sizeof digest, o->f) != sizeof digest)
        return rl_fail(why, RL_ERR_IO, "%s: write failed: %s", o->path, strerror(errno));
    return RL_OK;
}

static rl_err write_all(MDB_txn *txn, store *s, struct out *o, const ledger_head *head, progress_fn progress,
                        void *pctx, rl_why *why)
{
    json_t *hdr = header_json(txn, s, head, why);
    if (hdr == NULL)
        return rl_fail(why, RL_ERR_STATE, "%s: the ledger has no genesis relayer set: nothing to export",
                       store_path(s));
    rl_err err = write_header(o, hdr, why);
    json_decref(hdr);
    if (err != RL_OK)
        return err;
    uint8_t len4[4];

    MDB_cursor *c;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, store_dbi(s, TABLE_LOG), &c);
    if (rc != 0)
        return store_err(rc, "cursor", why);
    uint64_t n = 0;
    while (err == RL_OK && (rc = mdb_cursor_get(c, &k, &v, n == 0 ? MDB_FIRST : MDB_NEXT)) == 0) {
        be32_put(len4, (uint32_t)v.mv_size);
        err = out_write(o, len4, sizeof len4, why);
        if (err == RL_OK)
            err = out_write(o, v.mv_data, v.mv_size, why);
        n++;
        if (progress != NULL && (n % 4096 == 0 || n == head->seq))
            progress(pctx, n, head->seq);
    }
    mdb_cursor_close(c);
    if (err != RL_OK)
        return err;
    if (rc != MDB_NOTFOUND)
        return store_err(rc, "read log", why);
    if (n != head->seq)
        return rl_fail(why, RL_ERR_DB, "%s: log holds %llu records but the head is %llu", store_path(s),
                       (unsigned long long)n, (unsigned long long)head->seq);
    return write_footer(o, n, head->hash, why);
}

rl_err export_write(store *s, const char *path, uint64_t *count, progress_fn progress, void *pctx, rl_why *why)
{
    struct stat st;
    if (stat(path, &st) == 0)
        return rl_fail(why, RL_ERR_EXISTS, "%s: exists; refusing to overwrite", path);
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp.%d", path, (int)getpid()) < 0)
        return RL_ERR_NOMEM;
    MDB_txn *txn = NULL;
    struct out o = {.path = path};
    ledger_head head;
    rl_err err = store_read_begin(s, &txn, why);
    if (err != RL_OK)
        goto done;
    err = ledger_head_get(txn, s, &head, why);
    if (err != RL_OK)
        goto done;
    o.f = fopen(tmp, "wbx");
    if (o.f == NULL) {
        err = rl_fail(why, RL_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto done;
    }
    hash_init(&o.h, HASH_DOMAIN_FILE);
    err = write_all(txn, s, &o, &head, progress, pctx, why);
    if (err == RL_OK && (fflush(o.f) != 0 || fsync(fileno(o.f)) != 0))
        err = rl_fail(why, RL_ERR_IO, "%s: flush failed: %s", path, strerror(errno));
    if (fclose(o.f) != 0 && err == RL_OK)
        err = rl_fail(why, RL_ERR_IO, "%s: close failed: %s", path, strerror(errno));
    if (err == RL_OK && rename(tmp, path) != 0)
        err = rl_fail(why, RL_ERR_IO, "%s: rename failed: %s", path, strerror(errno));
    if (err != RL_OK)
        unlink(tmp);
    else if (count != NULL)
        *count = head.seq;
done:
    if (txn != NULL)
        store_read_end(txn);
    free(tmp);
    return err;
}

/* ---- reading ---- */

struct export_reader {
    const uint8_t *map;
    size_t size;
    size_t pos;        /* offset of the next record's length field */
    size_t body_end;   /* offset of the footer */
    json_t *header;
    uint64_t announced, first_seq, index;
    uint8_t last_hash[HASH_BYTES];
    char *path;
    bool has_checkpoint;
    checkpoint_signed checkpoint; /* the header's, when has_checkpoint */
};

rl_err export_open(export_reader **out, const char *path, rl_why *why)
{
    export_reader *r = calloc(1, sizeof *r);
    if (r == NULL || (r->path = strdup(path)) == NULL) {
        free(r);
        return RL_ERR_NOMEM;
    }
    rl_err err;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        err = rl_fail(why, errno == ENOENT ? RL_ERR_NOTFOUND : RL_ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        goto fail;
    }
    r->size = (size_t)st.st_size;
    if (r->size < sizeof HEAD_MAGIC + 4 + EXPORT_FOOTER_BYTES) {
        close(fd);
        err = rl_fail(why, RL_ERR_TRUNCATED, "%s: %zu bytes is too short for an exported log", path, r->size);
        goto fail;
    }
    void *m = mmap(NULL, r->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        err = rl_fail(why, RL_ERR_IO, "%s: mmap: %s", path, strerror(errno));
        goto fail;
    }
    r->map = m;
    madvise(m, r->size, MADV_SEQUENTIAL);
    if (memcmp(r->map, HEAD_MAGIC, sizeof HEAD_MAGIC) != 0) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: not an exported relayer log (bad magic)", path);
        goto fail;
    }
    uint32_t hlen = be32_get(r->map + 8);
    r->body_end = r->size - EXPORT_FOOTER_BYTES;
    if (hlen > HEADER_MAX || 12 + (size_t)hlen > r->body_end) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: length %u does not fit the file", path, hlen);
        goto fail;
    }
    json_error_t jerr;
    r->header = json_loadb((const char *)r->map + 12, hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (r->header == NULL) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: bad JSON at column %d: %s", path, jerr.column, jerr.text);
        goto fail;
    }
    json_t *fmt = json_object_get(r->header, "format"), *ver = json_object_get(r->header, "version");
    json_t *recs = json_object_get(r->header, "records"), *first = json_object_get(r->header, "first_seq");
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), EXPORT_FORMAT) != 0) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: format is not '%s'", path, EXPORT_FORMAT);
        goto fail;
    }
    if (!json_is_integer(ver) || json_integer_value(ver) < 1 || json_integer_value(ver) > EXPORT_VERSION) {
        err = rl_fail(why, RL_ERR_VERSION, "%s: header: unsupported version", path);
        goto fail;
    }
    if (!json_is_integer(recs) || json_integer_value(recs) < 0 || !json_is_integer(first) ||
        json_integer_value(first) != 1) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: 'records' and 'first_seq' (= 1) are required", path);
        goto fail;
    }
    const json_t *ck = json_object_get(r->header, "checkpoint");
    if (ck != NULL && json_integer_value(ver) < 2) {
        err = rl_fail(why, RL_ERR_DECODE, "%s: header: a version 1 header carries no checkpoint", path);
        goto fail;
    }
    if (ck != NULL && (err = checkpoint_from_json(&r->checkpoint, ck, why)) != RL_OK) {
        rl_why_prefix(why, "%s: header: ", path);
        goto fail;
    }
    r->has_checkpoint = ck != NULL;
    r->announced = (uint64_t)json_integer_value(recs);
    r->first_seq = 1;
    r->pos = 12 + hlen;
    *out = r;
    return RL_OK;
fail:
    export_close(r);
    return err;
}

void export_close(export_reader *r)
{
    if (r == NULL)
        return;
    if (r->map != NULL)
        munmap((void *)r->map, r->size);
    json_decref(r->header);
    free(r->path);
    free(r);
}

const json_t *export_header(const export_reader *r) { return r->header; }
const checkpoint_signed *export_checkpoint(const export_reader *r) { return r->has_checkpoint ? &r->checkpoint : NULL; }
uint64_t export_announced(const export_reader *r) { return r->announced; }
uint64_t export_next_seq(const export_reader *r) { return r->first_seq + r->index; }
bool export_at_footer(const export_reader *r) { return r->pos == r->body_end; }

rl_err export_peek(const export_reader *r, const uint8_t **rec, size_t *len)
{
    if (r->body_end - r->pos < 4)
        return RL_ERR_NOTFOUND;
    uint32_t n = be32_get(r->map + r->pos);
    if (n < RECORD_HEADER_BYTES || n > RECORD_MAX_BYTES || n > r->body_end - r->pos - 4)
        return RL_ERR_NOTFOUND;
    *rec = r->map + r->pos + 4;
    *len = n;
    return RL_OK;
}

bool export_claimed_head(const export_reader *r, uint8_t head[32])
{
    const json_t *hh = json_object_get(r->header, "head_hash");
    char hex[2 * HASH_BYTES + 1];
    if (memcmp(r->map + r->body_end, FOOT_MAGIC, sizeof FOOT_MAGIC) != 0 || !json_is_string(hh))
        return false;
    memcpy(head, r->map + r->body_end + 16, HASH_BYTES);
    return strcmp(json_string_value(hh), hex_encode(hex, head, HASH_BYTES)) == 0;
}

bool export_last_record_altered(const export_reader *r)
{
    uint8_t head[HASH_BYTES];
    return r->index > 0 && export_claimed_head(r, head) && memcmp(head, r->last_hash, HASH_BYTES) != 0;
}

static rl_err check_footer(export_reader *r, rl_why *why)
{
    const uint8_t *f = r->map + r->body_end;
    if (memcmp(f, FOOT_MAGIC, sizeof FOOT_MAGIC) != 0)
        return rl_fail(why, RL_ERR_DECODE, "footer: bad magic after record %llu (file truncated or altered)",
                       (unsigned long long)(r->first_seq + r->index - 1));
    uint64_t count = be64_get(f + 8);
    if (count != r->index || r->announced != r->index)
        return rl_fail(why, RL_ERR_TRUNCATED, "footer: %llu records announced, the header says %llu, the file holds %llu",
                       (unsigned long long)count, (unsigned long long)r->announced, (unsigned long long)r->index);
    if (memcmp(f + 16, r->last_hash, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "footer: head hash does not match record %llu",
                       (unsigned long long)(r->first_seq + r->index - 1));
    const json_t *hh = json_object_get(r->header, "head_hash");
    char hex[2 * HASH_BYTES + 1];
    if (!json_is_string(hh) || strcmp(json_string_value(hh), hex_encode(hex, r->last_hash, HASH_BYTES)) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "header: head_hash does not match record %llu",
                       (unsigned long long)(r->first_seq + r->index - 1));
    uint8_t digest[HASH_BYTES];
    hash_domain(digest, HASH_DOMAIN_FILE, r->map, r->size - HASH_BYTES);
    if (memcmp(digest, r->map + r->size - HASH_BYTES, HASH_BYTES) != 0)
        return rl_fail(why, RL_ERR_CHAIN, "file digest mismatch: the header or footer was altered");
    return RL_OK;
}

rl_err export_next(export_reader *r, const uint8_t **rec, size_t *len, rl_why *why)
{
    uint64_t seq = r->first_seq + r->index;
    if (r->pos == r->body_end) {
        rl_err err = check_footer(r, why);
        return err == RL_OK ? RL_ERR_NOTFOUND : err;
    }
    if (r->body_end - r->pos < 4)
        return rl_fail(why, RL_ERR_TRUNCATED, "record %llu at byte %zu: length field cut off", (unsigned long long)seq,
                       r->pos);
    uint32_t n = be32_get(r->map + r->pos);
    if (n < RECORD_HEADER_BYTES || n > RECORD_MAX_BYTES)
        return rl_fail(why, RL_ERR_DECODE, "record %llu at byte %zu: length %u out of range", (unsigned long long)seq,
                       r->pos, n);
    if (n > r->body_end - r->pos - 4)
        return rl_fail(why, RL_ERR_TRUNCATED, "record %llu at byte %zu: %u bytes announced, %zu left before the footer",
                       (unsigned long long)seq, r->pos, n, r->body_end - r->pos - 4);
    *rec = r->map + r->pos + 4;
    *len = n;
    record_hash(r->last_hash, *rec, n);
    r->pos += 4 + (size_t)n;
    r->index++;
    return RL_OK;
}

/* ---- a dishonest exporter (tests, demo) ---- */

rl_err export_write_prefix(const char *in, const char *out, uint64_t keep, rl_why *why)
{
    export_reader *r = NULL;
    json_t *hdr = NULL;
    struct out o = {.path = out};
    uint8_t head[HASH_BYTES];
    char hh[2 * HASH_BYTES + 1];
    rl_err err = export_open(&r, in, why);
    if (err != RL_OK)
        return err;
    if (keep == 0 || keep > r->announced) {
        err = rl_fail(why, RL_ERR_ARG, "%s: cannot keep %llu of %llu records", in, (unsigned long long)keep,
                      (unsigned long long)r->announced);
        goto done;
    }
    if ((hdr = json_deep_copy(r->header)) == NULL || (o.f = fopen(out, "wbx")) == NULL) {
        err = hdr == NULL ? RL_ERR_NOMEM : rl_fail(why, RL_ERR_IO, "%s: cannot create: %s", out, strerror(errno));
        goto done;
    }
    hash_init(&o.h, HASH_DOMAIN_FILE);
    /* The head of the kept records first: the header names it. */
    const uint8_t *rec;
    size_t len;
    size_t start = r->pos;
    for (uint64_t i = 0; i < keep && err == RL_OK; i++)
        err = export_next(r, &rec, &len, why);
    if (err != RL_OK)
        goto done;
    memcpy(head, r->last_hash, HASH_BYTES);
    json_object_del(hdr, "checkpoint");
    json_object_set_new(hdr, "records", json_integer((json_int_t)keep));
    json_object_set_new(hdr, "head_seq", json_integer((json_int_t)keep));
    json_object_set_new(hdr, "head_hash", json_string(hex_encode(hh, head, HASH_BYTES)));
    if ((err = write_header(&o, hdr, why)) == RL_OK)
        err = out_write(&o, r->map + start, r->pos - start, why);
    if (err == RL_OK)
        err = write_footer(&o, keep, head, why);
done:
    if (o.f != NULL && fclose(o.f) != 0 && err == RL_OK)
        err = rl_fail(why, RL_ERR_IO, "%s: close failed: %s", out, strerror(errno));
    json_decref(hdr);
    export_close(r);
    return err;
}
