/*
 * relset.h - relayer sets: who may attest, and how many must agree.
 *
 * A set is versioned; version 1 is the genesis set the hub starts with and the auditor is given.
 * Each later version is installed by a SET record signed by a quorum of the set in force, so the
 * log itself proves every rotation. The threshold must be a strict majority (2M > N): two
 * quorums then always share an honest-or-equivocating member, which is what makes a conflict
 * detectable rather than silently creditable twice.
 *
 * Venue keys are pinned in the set: the ed25519 keys whose REQUEST records (attest/request.h) the
 * calculator, the co-signers (through their calculator) and the auditor accept. They are inside the
 * digest, so they change only by a quorum-signed rotation like the members: a hub that allow-lists
 * its own key gets its requests logged at most, never applied (see attest/withdrawal.h).
 *
 * Canonical encoding, format 1 (no venues) or 2 (with venues); what a rotation quorum signs;
 * integers big-endian. A set without venues encodes as format 1, one with venues as format 2, so
 * the encoding (and digest) of a set is one function of its content and older sets keep theirs:
 *
 *   offset  size  field
 *        0     1  format            = 1
 *        1     4  version           set version, >= 1
 *        5     2  threshold         M
 *        7     2  n                 number of members, 1..RELSET_MAX_MEMBERS
 *        9        n members, each:
 *                   2  id           strictly ascending
 *                   1  name_len     1..32
 *                   k  name         [A-Za-z0-9._-]
 *                  32  ed25519 public key
 *                  20  EVM address
 *     format 2 only, after the members:
 *        1  nv                number of venues, 1..RELSET_MAX_VENUES
 *           nv venues, each:
 *                   1  name_len     1..32
 *                   k  name         [A-Za-z0-9._-], unique
 *                  32  ed25519 public key, strictly ascending (bytewise)
 *
 * digest = BLAKE2b-256(personal "rly.set.v1", encoding). Rotation signatures are ed25519 over the
 * digest. JSON form (relayers.json):
 *   {"version": 1, "threshold": 2,
 *    "members": [{"id": 0, "name": "node1", "ed25519": "..", "x25519": "..", "evm": "0x.."}, ..],
 *    "venues": [{"name": "venue", "ed25519": ".."}, ..]}          (optional; any order in JSON)
 */
#ifndef RL_RELSET_H
#define RL_RELSET_H

#include <jansson.h>
#include <stdint.h>

#include "attest/error.h"
#include "attest/hash.h"
#include "attest/keys.h"

#define RELSET_FORMAT 1        /* without venues */
#define RELSET_FORMAT_VENUES 2 /* with venues */
#define RELSET_MAX_MEMBERS 64
#define RELSET_MAX_VENUES 16
#define RELSET_MAX_BYTES                                                                                              \
    (9 + RELSET_MAX_MEMBERS * (2 + 1 + NODE_NAME_MAX + ED25519_PK_BYTES + EVM_ADDR_BYTES) +                            \
     1 + RELSET_MAX_VENUES * (1 + NODE_NAME_MAX + ED25519_PK_BYTES))

typedef struct relset_member {
    uint16_t id;
    node_pub pub;
} relset_member;

/* A venue whose signed requests count. */
typedef struct relset_venue {
    char name[NODE_NAME_MAX + 1];
    uint8_t ed25519[ED25519_PK_BYTES];
} relset_venue;

typedef struct relset {
    uint32_t version;
    uint16_t threshold;
    uint16_t n;
    relset_member members[RELSET_MAX_MEMBERS];
    uint8_t nvenues;
    relset_venue venues[RELSET_MAX_VENUES]; /* ascending by key */
} relset;

/* Checks the rules above (ids ascending, keys, addresses and names unique, 2M > N, M <= N;
 * venues at most RELSET_MAX_VENUES, keys strictly ascending, names valid and unique). */
RL_MUST_USE rl_err relset_validate(const relset *s, rl_why *why);

/* Encodes into out (RELSET_MAX_BYTES); *len gets the length. The set must be valid. */
RL_MUST_USE rl_err relset_encode(const relset *s, uint8_t *out, size_t *len, rl_why *why);
/* Decodes and validates exactly len bytes. */
RL_MUST_USE rl_err relset_decode(relset *s, const uint8_t *in, size_t len, rl_why *why);
/* Digest of the canonical encoding. */
RL_MUST_USE rl_err relset_digest(const relset *s, uint8_t out[HASH_BYTES]);

/* JSON (see above). from_json validates; errors name the member and field. */
RL_MUST_USE rl_err relset_from_json(relset *s, const char *text, size_t len, rl_why *why);
/* New reference. */
json_t *relset_to_json(const relset *s);

/* Member by id, or NULL. */
const relset_member *relset_find(const relset *s, uint16_t id);
/* Adds a venue in canonical (key) order; RL_ERR_ARG when full or the key or name is already there. */
RL_MUST_USE rl_err relset_add_venue(relset *s, const char *name, const uint8_t ed25519[ED25519_PK_BYTES], rl_why *why);
/* Pinned venue by ed25519 public key, or NULL. */
const relset_venue *relset_find_venue(const relset *s, const uint8_t ed25519[ED25519_PK_BYTES]);
/* Member by ed25519 public key, or NULL. */
const relset_member *relset_find_key(const relset *s, const uint8_t ed25519[ED25519_PK_BYTES]);

#endif
