/*
 * error.c - message table for rl_err and the rl_why helpers.
 */
#include "attest/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const messages[RL_ERR_COUNT_] = {
    [RL_OK] = "ok",
    [RL_ERR_NOMEM] = "out of memory",
    [RL_ERR_ARG] = "bad argument",
    [RL_ERR_DECODE] = "malformed encoding",
    [RL_ERR_VERSION] = "unknown format version",
    [RL_ERR_SIG] = "bad signature",
    [RL_ERR_SIGNER] = "signer not in the relayer set",
    [RL_ERR_QUORUM] = "quorum not reached",
    [RL_ERR_CHAIN] = "hash chain broken",
    [RL_ERR_SEQ] = "sequence gap",
    [RL_ERR_OVERFLOW] = "uint256 overflow",
    [RL_ERR_FUNDS] = "insufficient funds",
    [RL_ERR_DUPLICATE] = "already applied",
    [RL_ERR_CONFLICT] = "conflicting observations",
    [RL_ERR_IO] = "i/o error",
    [RL_ERR_DB] = "database error",
    [RL_ERR_FULL] = "database map full",
    [RL_ERR_NOSPC] = "no space left",
    [RL_ERR_EXISTS] = "already exists",
    [RL_ERR_NOTFOUND] = "not found",
    [RL_ERR_CRYPTO] = "crypto failure",
    [RL_ERR_TRUNCATED] = "truncated input",
    [RL_ERR_STATE] = "invalid state",
    [RL_ERR_RPC] = "JSON-RPC error",
    [RL_ERR_TRANSPORT] = "transport error",
    [RL_ERR_RATELIMIT] = "rate limited",
    [RL_ERR_WRONG_CHAIN] = "wrong chain id",
    [RL_ERR_UNAVAILABLE] = "no endpoint available",
};

const char *rl_strerror(rl_err err)
{
    if ((unsigned)err >= RL_ERR_COUNT_ || messages[err] == NULL)
        return "unknown error";
    return messages[err];
}

rl_err rl_fail(rl_why *w, rl_err err, const char *fmt, ...)
{
    if (w != NULL) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->text, sizeof w->text, fmt, ap);
        va_end(ap);
    }
    return err;
}

void rl_why_prefix(rl_why *w, const char *fmt, ...)
{
    if (w == NULL)
        return;
    char head[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char tail[sizeof w->text];
    memcpy(tail, w->text, sizeof tail);
    size_t n = strlen(head);
    if (n >= sizeof w->text)
        n = sizeof w->text - 1;
    memcpy(w->text, head, n);
    size_t room = sizeof w->text - 1 - n, t = strnlen(tail, sizeof tail);
    memcpy(w->text + n, tail, t < room ? t : room);
    w->text[n + (t < room ? t : room)] = '\0';
}
