/*
 * export.h - the exported log file auditors receive.
 *
 * Self-describing: a JSON header says what the file is and how it is framed; the records follow
 * verbatim as the hub stored them; a footer seals the count, the head hash and a digest of every
 * byte before it, so truncation, reordering or a flipped byte anywhere is detected.
 *
 *   offset  size  field
 *        0     8  magic "RLYLOG\0\1"
 *        8     4  header_len (big-endian)
 *       12     h  header: UTF-8 JSON object, e.g.
 *                 {"format": "relayer-attestation-log", "version": 2, "records": N,
 *                  "first_seq": 1, "head_seq": N, "head_hash": "<hex>",
 *                  "genesis_set": {...relayers.json...}, "framing": "...",
 *                  "checkpoint": {...attest/checkpoint.h JSON...}}
 *                 version 2 adds "checkpoint", the newest quorum checkpoint the exporting ledger
 *                 holds (absent when it holds none); version 1 files (without it) are still read.
 *                 The checkpoint is checked strictly on opening; `audit verify` checks the log
 *                 against it as against one an auditor brings (rule C3).
 *   12+h          N times: length (4, big-endian, <= RECORD_MAX_BYTES) | record (record.h)
 *   end-80    8  magic "RLYEND\0\1"
 *   end-72    8  record count (big-endian)
 *   end-64   32  hash of the last record (the head)
 *   end-32   32  BLAKE2b-256(personal "rly.export.v1", every byte before this field)
 */
#ifndef RL_EXPORT_H
#define RL_EXPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest/checkpoint.h"
#include "attest/error.h"
#include "db/store.h"

#define EXPORT_FOOTER_BYTES 80

/* Progress: done of total records. */
typedef void (*progress_fn)(void *ctx, uint64_t done, uint64_t total);

/* Writes the whole log of s to path (through a temporary file renamed into place, fsynced).
 * Refuses to overwrite an existing file. *count gets the number of records. */
RL_MUST_USE rl_err export_write(store *s, const char *path, uint64_t *count, progress_fn progress,
                                void *progress_ctx, rl_why *why);

typedef struct export_reader export_reader;

/* Maps the file and parses the header. */
RL_MUST_USE rl_err export_open(export_reader **out, const char *path, rl_why *why);
void export_close(export_reader *r);

/* The header object (owned by the reader) and the record count it announces. */
const json_t *export_header(const export_reader *r);
uint64_t export_announced(const export_reader *r);
/* The header's quorum checkpoint (owned by the reader), or NULL when it carries none. */
const checkpoint_signed *export_checkpoint(const export_reader *r);
/* Sequence number of the record export_next returns next. */
uint64_t export_next_seq(const export_reader *r);

/* The next record (pointing into the mapped file, valid until export_close). At the end,
 * checks the footer and returns RL_ERR_NOTFOUND when the file is whole. Errors name the record
 * ("record 17 at byte 5120: ...") or the header or footer. */
/* The record after the one export_next returned last, without moving on (RL_ERR_NOTFOUND at
 * the footer or when it cannot be framed). */
RL_MUST_USE rl_err export_peek(const export_reader *r, const uint8_t **rec, size_t *len);
/* The head hash the footer claims, when the header claims exactly the same (true); false when
 * they differ or either is unreadable. */
bool export_claimed_head(const export_reader *r, uint8_t head[32]);

/* At the footer: true when the footer and the header agree on a head hash that the last record
 * read does not have, i.e. that record was altered after export. */
bool export_last_record_altered(const export_reader *r);

/* True once every record was read (what fails now is the footer's, or the header's hash). */
bool export_at_footer(const export_reader *r);

RL_MUST_USE rl_err export_next(export_reader *r, const uint8_t **rec, size_t *len, rl_why *why);

/* What a dishonest exporter does, for tests and the demo: writes to out (not overwritten) the
 * first `keep` records of the export in, with a header and a footer rewritten to match them
 * (count, head, digest) and no checkpoint. Without a checkpoint, `audit verify` accepts it. */
RL_MUST_USE rl_err export_write_prefix(const char *in, const char *out, uint64_t keep, rl_why *why);

#endif
