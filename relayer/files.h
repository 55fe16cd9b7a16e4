/*
 * files.h - reading whole small files (configs, relayer sets) with errors that name the file.
 */
#ifndef RL_FILES_H
#define RL_FILES_H

#include <stddef.h>

#include "attest/checkpoint.h"
#include "attest/error.h"
#include "attest/relset.h"
#include "collateral/spec.h"

/* Reads path into a NUL-terminated malloc'd buffer (caller frees); limit bounds the size. */
RL_MUST_USE rl_err file_read_all(const char *path, size_t limit, char **out, size_t *len, rl_why *why);
/* Reads and validates a relayers.json. */
RL_MUST_USE rl_err relset_load(const char *path, relset *out, rl_why *why);
/* relset_load, and the member whose ed25519 key is `pub`'s: RL_ERR_ARG naming the file when the
 * key is not a member (*me points into *out). */
RL_MUST_USE rl_err relset_load_member(const char *path, const node_pub *pub, relset *out, const relset_member **me,
                                      rl_why *why);
/* Reads a quorum checkpoint's JSON (attest/checkpoint.h; strict; signatures not checked). */
RL_MUST_USE rl_err checkpoint_load(const char *path, checkpoint_signed *out, rl_why *why);
/* Writes its JSON (members named from set when given) to path, or stdout when path is NULL. */
RL_MUST_USE rl_err checkpoint_save(const char *path, const checkpoint_signed *cs, const relset *set, rl_why *why);
/* Reads and validates the calculator's risk parameters (collateral/spec.h). */
RL_MUST_USE rl_err risk_load(const char *path, mg_risk *out, rl_why *why);
/* Writes text to path (0644) through a temporary file and rename. */
RL_MUST_USE rl_err file_write_atomic(const char *path, const char *text, rl_why *why);

#endif
