/*
 * error.h - the project's one error type.
 *
 * Every function that can fail returns an rl_err; 0 is success and results go through out
 * parameters. Where a bare code is not enough to act on (which field, which record, which
 * file), functions take an optional rl_why buffer and fill it with one line naming what and
 * where. Callers may pass NULL when they only need the code.
 */
#ifndef RL_ERROR_H
#define RL_ERROR_H

#include <stddef.h>

#define RL_MUST_USE __attribute__((warn_unused_result))

typedef enum rl_err {
    RL_OK = 0,
    RL_ERR_NOMEM,     /* allocation failed */
    RL_ERR_ARG,       /* caller passed a bad argument or option */
    RL_ERR_DECODE,    /* bytes are not a canonical encoding */
    RL_ERR_VERSION,   /* unknown format version */
    RL_ERR_SIG,       /* a signature does not verify */
    RL_ERR_SIGNER,    /* signer is not a member of the relayer set in force */
    RL_ERR_QUORUM,    /* fewer distinct valid signers than the threshold */
    RL_ERR_CHAIN,     /* a record does not link to the previous record's hash */
    RL_ERR_SEQ,       /* sequence numbers are not continuous */
    RL_ERR_OVERFLOW,  /* a uint256 result does not fit */
    RL_ERR_FUNDS,     /* a debit or reservation exceeds what is available */
    RL_ERR_DUPLICATE, /* the thing was already applied */
    RL_ERR_CONFLICT,  /* two signed versions of one event disagree */
    RL_ERR_IO,        /* a file or device operation failed */
    RL_ERR_DB,        /* LMDB reported an error */
    RL_ERR_FULL,      /* the LMDB map reached its configured limit */
    RL_ERR_NOSPC,     /* the disk (or file size limit) is full */
    RL_ERR_EXISTS,    /* refusing to overwrite */
    RL_ERR_NOTFOUND,  /* no such key, file or member */
    RL_ERR_CRYPTO,    /* a crypto library call failed */
    RL_ERR_TRUNCATED, /* input ended early */
    RL_ERR_STATE,     /* the operation does not fit the current state */
    RL_ERR_RPC,       /* a JSON-RPC node answered with an error object (deterministic) */
    RL_ERR_TRANSPORT, /* no answer: connect failure, timeout, closed connection, HTTP 5xx */
    RL_ERR_RATELIMIT, /* the endpoint said HTTP 429 (too many requests) */
    RL_ERR_WRONG_CHAIN, /* an endpoint serves another chain id than the one configured */
    RL_ERR_UNAVAILABLE, /* no endpoint may take a request now (disabled, demoted, resting) */
    RL_ERR_COUNT_
} rl_err;

/* A short, static, human-readable description of an error code. */
const char *rl_strerror(rl_err err);

/* One line of context for an error: "observation: 3 trailing bytes". */
typedef struct rl_why {
    char text[256];
} rl_why;

/* Sets w->text (printf format) when w is not NULL and returns err, so a failure site reads
 * `return rl_fail(why, RL_ERR_DECODE, "observation: length %zu", len);`. */
rl_err rl_fail(rl_why *w, rl_err err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes w->text with more context: "record 17: " + existing text. */
void rl_why_prefix(rl_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
