/*
 * keyfile.h - a node's key files on disk.
 *
 * DIR/NAME.key (mode 0600, never overwritten) holds the secret material as text:
 *     # relayer node key: keep secret, mode 0600
 *     name=node1
 *     ed25519_seed=<64 hex>
 *     secp256k1_secret=<64 hex>
 * It is read into libsodium guarded memory and wiped after parsing; its contents never reach a
 * log or an error message. DIR/NAME.pub is the public JSON object of node_pub_to_json. Both are
 * created atomically: after a crash a file is either absent or whole.
 */
#ifndef RL_KEYFILE_H
#define RL_KEYFILE_H

#include "attest/keys.h"

/* Writes DIR/NAME.key and DIR/NAME.pub; RL_ERR_EXISTS if either exists (nothing written). */
RL_MUST_USE rl_err keyfile_write(const char *dir, const node_key *k, rl_why *why);
/* Reads a .key file. Refuses a file readable by group or others (RL_ERR_ARG, naming the mode).
 * Errors name the file and line, never the secret value. Caller frees with node_key_free. */
RL_MUST_USE rl_err keyfile_read(const char *path, node_key **out, rl_why *why);
/* Writes DIR/NAME.pub alone (for a key whose .pub was lost); RL_ERR_EXISTS if it exists. */
RL_MUST_USE rl_err pubfile_write(const char *dir, const node_pub *pub, rl_why *why);
/* Reads a .pub file. */
RL_MUST_USE rl_err pubfile_read(const char *path, node_pub *out, rl_why *why);

#endif
