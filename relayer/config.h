/*
 * config.h - human-edited INI config files (parsed by inih), checked against a schema.
 *
 *     # hub.conf: comments start with # or ;
 *     [hub]
 *     data = ./hub              ; relative paths are relative to this file
 *     commit_delay_ms = 20
 *     [allow]
 *     node = keys/node1.pub     ; list keys may repeat
 *     node = keys/node2.pub
 *
 * Everything is checked on load and the first problem is the error, naming the file, the line
 * and the key ("hub.conf:7: [hub] commit_delay_ms: '2o' is not a whole number"). Unknown
 * sections and keys are errors too: a misspelt key never silently falls back to a default.
 * A daemon whose config does not load does not start.
 */
#ifndef RL_CONFIG_H
#define RL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest/error.h"

#define CFG_STR_MAX 512
#define CFG_LIST_MAX 64

typedef enum cfg_type {
    CFG_STRING,   /* char[CFG_STR_MAX] */
    CFG_PATH,     /* char[CFG_STR_MAX], made relative to the config file's directory */
    CFG_ENDPOINT, /* char[CFG_STR_MAX], a ZeroMQ endpoint: tcp://host:port or ipc://path */
    CFG_U64,      /* uint64_t within [min, max] */
    CFG_PATHS,    /* cfg_list of paths; the key may repeat */
} cfg_type;

typedef struct cfg_list {
    size_t n;
    char item[CFG_LIST_MAX][CFG_STR_MAX];
} cfg_list;

typedef struct cfg_key {
    const char *section, *key;
    cfg_type type;
    int required;      /* must appear (lists: at least once) */
    uint64_t min, max; /* CFG_U64 only */
    size_t offset;     /* of the field in the destination struct */
} cfg_key;

/* Loads path into dest (which the caller zeroed and filled with defaults) as the schema says. */
RL_MUST_USE rl_err cfg_load(const char *path, const cfg_key *schema, size_t nkeys, void *dest, rl_why *why);
/* The same, skipping sections that the schema does not know and whose name starts with one of
 * the space-separated prefixes in `foreign`: one file configures several daemons (a node's
 * watchers read one [chain.NAME] each, its oracle the [feed.NAME] sections). */
RL_MUST_USE rl_err cfg_load_part(const char *path, const cfg_key *schema, size_t nkeys, void *dest,
                                 const char *foreign, rl_why *why);

/* The keys of schema that path sets, skipping every other key and section: for a command that
 * reads a value or two of a daemon's config (`relayer checkpoint` reads a replica's data
 * directory); the daemon itself checks the whole file. Values and required keys are checked. */
RL_MUST_USE rl_err cfg_load_some(const char *path, const cfg_key *schema, size_t nkeys, void *dest, rl_why *why);

/* The per-daemon sections of a node's config file, for cfg_load_part. */
#define CFG_NODE_FOREIGN "chain. feed."

/* A chain section's finality: `finality = finalized` (the node's `finalized` block) or a
 * confirmation depth, never both. finality is the key's value ("" when absent), has_confirmations
 * whether `confirmations` was given. *finalized says which; anything else is RL_ERR_ARG naming
 * path and section. The watcher (cmd_watch.c) and the executor (cmd_execute.c) share it: their
 * configs read the same two keys in the same words. */
RL_MUST_USE rl_err cfg_finality(const char *path, const char *section, const char *finality, bool has_confirmations,
                                bool *finalized, rl_why *why);

/* The distinct names of the sections of path that start with prefix (in file order, prefix
 * removed) into names[0..max-1], their count in *n. More than max is RL_ERR_ARG. */
RL_MUST_USE rl_err cfg_sections(const char *path, const char *prefix, char (*names)[CFG_STR_MAX], size_t max,
                                size_t *n, rl_why *why);

#endif
