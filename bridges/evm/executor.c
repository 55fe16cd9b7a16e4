/*
 * executor.c - CollateralVault.execute submission: estimate, fees, nonce, send, follow,
 * replace, give up (the steps and their rules are in executor.h).
 *
 * Fees are wei per gas. They are computed in 128-bit integers: a fee that does not fit in 128
 * bits (3.4e38 wei per gas) is refused as an answer no real chain gives.
 */
#include "bridges/evm/executor.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest/hex.h"
#include "bridges/evm/rpceth.h"
#include "bridges/evm/tx.h"

#define GWEI 1000000000ULL
#define PERMILLE 1000
#define MAX_SENT (1 + EXECUTOR_MAX_BUMPS) /* transactions per nonce: the first and its replacements */

typedef unsigned __int128 u128;

struct executor {
    rpc *c;
    const evm_key *key;
    uint8_t vault[EVM_ADDR_BYTES];
    executor_opts o;
    executor_hooks h;
    bool has_nonce;
    uint64_t next_nonce;
};

/* The transactions of one nonce: the first and its replacements, any of which may be mined. */
typedef struct pending {
    evm_tx tx;
    u128 tip, max_fee;
    uint8_t hashes[MAX_SENT][HASH_BYTES];
    size_t n_hashes;
    uint8_t *raw; /* the latest signed bytes, broadcast again after a lost answer */
    size_t raw_len;
    unsigned bumps;
    uint64_t sent_ms; /* when the latest transaction was signed */
} pending;

typedef enum send_result {
    SEND_ACCEPTED,    /* the node has it (now or already) */
    SEND_UNKNOWN,     /* no answer: it may have arrived */
    SEND_NONCE_LOW,   /* the nonce is taken */
    SEND_UNDERPRICED, /* the node wants a bigger bump to replace */
} send_result;

const char *executor_outcome_name(executor_outcome o)
{
    switch (o) {
    case EXECUTOR_MINED: return "mined";
    case EXECUTOR_REVERTED: return "reverted";
    case EXECUTOR_GAVE_UP: return "gave up";
    }
    return "unknown";
}

executor_opts executor_opts_default(void)
{
    return (executor_opts){
        .confirmations = 2,
        .gas_margin_pct = 20,
        .max_gas = EXECUTOR_DEFAULT_MAX_GAS,
        .max_fee_cap_wei = u256_from_u64(500 * GWEI),
        .min_priority_fee_wei = u256_from_u64(1 * GWEI),
        .bump_permille = EXECUTOR_MIN_BUMP_PERMILLE,
        .max_bumps = 5,
        .stuck_ms = 30000,
        .poll_ms = 1000,
        .timeout_ms = 600000,
    };
}

static uint64_t default_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void default_sleep_ms(void *ctx, uint64_t ms)
{
    (void)ctx;
    struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static bool to_u128(const u256 *v, u128 *out)
{
    if (v->w[2] != 0 || v->w[3] != 0)
        return false;
    *out = ((u128)v->w[1] << 64) | v->w[0];
    return true;
}

static u256 from_u128(u128 v)
{
    return (u256){{(uint64_t)v, (uint64_t)(v >> 64), 0, 0}};
}

static u128 max128(u128 a, u128 b) { return a > b ? a : b; }
static u128 min128(u128 a, u128 b) { return a < b ? a : b; }

/* a * (1000 + permille) / 1000, rounded up: a replacement must reach the bump, not fall short. */
static u128 bumped(u128 a, uint32_t permille)
{
    u128 m = (u128)(PERMILLE + permille);
    if (a > ((u128)-1) / m)
        return (u128)-1;
    return (a * m + PERMILLE - 1) / PERMILLE;
}

rl_err executor_new(executor **out, rpc *c, const evm_key *key, const uint8_t vault[EVM_ADDR_BYTES],
                    const executor_opts *opts, const executor_hooks *hooks, rl_why *why)
{
    *out = NULL;
    executor_opts o = opts ? *opts : executor_opts_default();
    u128 cap = 0, floor = 0;
    if (o.confirmations == 0)
        return rl_fail(why, RL_ERR_ARG, "executor: confirmations must be at least 1");
    if (o.bump_permille < EXECUTOR_MIN_BUMP_PERMILLE)
        return rl_fail(why, RL_ERR_ARG, "executor: bump_permille %u below %d (nodes refuse smaller replacements)",
                       o.bump_permille, EXECUTOR_MIN_BUMP_PERMILLE);
    if (o.max_bumps > EXECUTOR_MAX_BUMPS)
        return rl_fail(why, RL_ERR_ARG, "executor: max_bumps %u above %d", o.max_bumps, EXECUTOR_MAX_BUMPS);
    if (!to_u128(&o.max_fee_cap_wei, &cap) || cap == 0 || !to_u128(&o.min_priority_fee_wei, &floor) || floor > cap)
        return rl_fail(why, RL_ERR_ARG, "executor: max_fee_cap_wei must be 1..2^128-1 and at least "
                                        "min_priority_fee_wei");
    if (o.max_gas < EXECUTOR_MIN_GAS)
        return rl_fail(why, RL_ERR_ARG, "executor: max_gas %" PRIu64 " below %d (a transaction's intrinsic gas)",
                       o.max_gas, EXECUTOR_MIN_GAS);
    if (o.poll_ms == 0 || o.stuck_ms == 0 || o.timeout_ms == 0)
        return rl_fail(why, RL_ERR_ARG, "executor: poll_ms, stuck_ms and timeout_ms must be positive");
    executor *x = calloc(1, sizeof *x);
    if (x == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "executor");
    x->c = c;
    x->key = key;
    memcpy(x->vault, vault, EVM_ADDR_BYTES);
    x->o = o;
    if (hooks != NULL)
        x->h = *hooks;
    if (x->h.now_ms == NULL)
        x->h.now_ms = default_now_ms;
    if (x->h.sleep_ms == NULL)
        x->h.sleep_ms = default_sleep_ms;
    *out = x;
    return RL_OK;
}

void executor_free(executor *x)
{
    free(x);
}

bool executor_next_nonce(const executor *x, uint64_t *nonce)
{
    if (x->has_nonce)
        *nonce = x->next_nonce;
    return x->has_nonce;
}

static uint64_t now(const executor *x) { return x->h.now_ms(x->h.ctx); }

/* What the last RL_ERR_RPC revert said: the selector of its data, the vault's name for it. */
static void read_revert(executor *x, executor_report *rep, const char *when)
{
    const rpc_error *e = rpc_last_error(x->c);
    uint8_t *data = NULL;
    size_t len = 0;
    rep->has_error = false;
    rep->error_name = NULL;
    if (e->data != NULL && rpcjson_bytes(e->data, &data, &len, "revert data", NULL) == RL_OK &&
        abi_revert_selector(data, len, rep->error_selector) == RL_OK) {
        rep->has_error = true;
        rep->error_name = abi_vault_error(rep->error_selector);
    }
    free(data);
    char sel[2 * ABI_SELECTOR_BYTES + 3];
    if (rep->error_name != NULL)
        snprintf(rep->detail, sizeof rep->detail, "%s: %s (%.120s)", when, rep->error_name, e->message);
    else if (rep->has_error)
        snprintf(rep->detail, sizeof rep->detail, "%s: error 0x%s unknown to the vault (%.120s)", when,
                 hex_encode(sel, rep->error_selector, ABI_SELECTOR_BYTES), e->message);
    else
        snprintf(rep->detail, sizeof rep->detail, "%s: reverted without data (%.120s)", when, e->message);
}

/* Is the last RL_ERR_RPC a revert (the node ran the call and it failed), rather than a node
 * complaint (bad params, unknown method)? Revert answers carry data or say so. */
static bool is_revert(const executor *x)
{
    const rpc_error *e = rpc_last_error(x->c);
    return e->data != NULL || strcasestr(e->message, "revert") != NULL;
}

static rpc_callmsg call_of(const executor *x, const uint8_t *cd, size_t len)
{
    return (rpc_callmsg){.from = evm_key_address(x->key), .to = x->vault, .data = cd, .data_len = len};
}

/* The node's fees now: tip (floored, capped) and max fee (2 x next base fee + tip, capped). */
static rl_err current_fees(executor *x, u128 *tip, u128 *max_fee, rl_why *why)
{
    u256 suggested;
    rpc_fee_history fh = {0};
    rl_err err = rpc_eth_max_priority_fee(x->c, &suggested, why);
    if (err == RL_OK)
        err = rpc_eth_fee_history(x->c, 1, rpc_block_tag(RPC_LATEST), NULL, 0, &fh, why);
    if (err != RL_OK)
        return err;
    u128 s, base, cap = 0, floor = 0;
    bool ok = to_u128(&suggested, &s) && fh.n_blocks >= 1 && to_u128(&fh.base_fee[fh.n_blocks], &base);
    rpc_fee_history_fini(&fh);
    if (!ok)
        return rl_fail(why, RL_ERR_DECODE, "executor: fee answers beyond 2^128 wei per gas, or no base fee");
    (void)to_u128(&x->o.max_fee_cap_wei, &cap); /* checked by executor_new */
    (void)to_u128(&x->o.min_priority_fee_wei, &floor);
    *tip = min128(max128(s, floor), cap);
    u128 want = base > ((u128)-1 - *tip) / 2 ? (u128)-1 : 2 * base + *tip;
    *max_fee = min128(want, cap);
    return RL_OK;
}

/* Signs p->tx with p's fees: the new bytes become p's latest, their hash joins p's list. */
static rl_err sign_pending(executor *x, pending *p, rl_why *why)
{
    p->tx.max_priority_fee_wei = from_u128(p->tip);
    p->tx.max_fee_wei = from_u128(p->max_fee);
    uint8_t *raw;
    size_t len;
    uint8_t hash[HASH_BYTES];
    rl_err err = tx_sign(&p->tx, x->key, &raw, &len, hash, why);
    if (err != RL_OK)
        return err;
    free(p->raw);
    p->raw = raw;
    p->raw_len = len;
    memcpy(p->hashes[p->n_hashes++], hash, HASH_BYTES);
    p->sent_ms = now(x);
    if (x->h.on_submit != NULL) {
        executor_submit s = {.nonce = p->tx.nonce, .max_fee_wei = p->tx.max_fee_wei,
                             .max_priority_fee_wei = p->tx.max_priority_fee_wei, .gas_limit = p->tx.gas_limit,
                             .bump = p->bumps};
        memcpy(s.tx_hash, hash, HASH_BYTES);
        x->h.on_submit(x->h.ctx, &s);
    }
    return RL_OK;
}

static rl_err broadcast(executor *x, pending *p, send_result *res, rl_why *why)
{
    uint8_t node_hash[HASH_BYTES];
    rl_err err = rpc_eth_send_raw_tx(x->c, p->raw, p->raw_len, node_hash, why);
    if (err == RL_OK) {
        *res = SEND_ACCEPTED;
        return RL_OK;
    }
    if (err == RL_ERR_TRANSPORT || err == RL_ERR_UNAVAILABLE || err == RL_ERR_RATELIMIT || err == RL_ERR_DECODE) {
        *res = SEND_UNKNOWN;
        return RL_OK;
    }
    if (err != RL_ERR_RPC)
        return err;
    const char *m = rpc_last_error(x->c)->message;
    if (strcasestr(m, "already known") || strcasestr(m, "known transaction") || strcasestr(m, "already imported"))
        *res = SEND_ACCEPTED;
    else if (strcasestr(m, "nonce too low") || strcasestr(m, "nonce is too low"))
        *res = SEND_NONCE_LOW;
    else if (strcasestr(m, "underpriced"))
        *res = SEND_UNDERPRICED;
    else
        return rl_fail(why, RL_ERR_RPC, "executor: the node refused the transaction of nonce %" PRIu64 ": %s",
                       p->tx.nonce, m);
    return RL_OK;
}

/* The receipt of any transaction of p, newest first; RL_ERR_NOTFOUND when none is mined. */
static rl_err find_receipt(executor *x, const pending *p, rpc_receipt **out, rl_why *why)
{
    for (size_t i = p->n_hashes; i-- > 0;) {
        rl_err err = rpc_eth_get_receipt(x->c, p->hashes[i], out, why);
        if (err != RL_ERR_NOTFOUND)
            return err;
    }
    return RL_ERR_NOTFOUND;
}

/* Raises p's fees for a replacement: by the bump, or to the chain's current asking if more;
 * false when the cap (or max_bumps) allows no replacement. */
static bool bump_fees(executor *x, pending *p, rl_why *why)
{
    u128 tip, max_fee, cap = 0;
    if (p->bumps >= x->o.max_bumps || current_fees(x, &tip, &max_fee, why) != RL_OK)
        return false;
    (void)to_u128(&x->o.max_fee_cap_wei, &cap);
    u128 need_tip = bumped(p->tip, x->o.bump_permille), need_max = bumped(p->max_fee, x->o.bump_permille);
    u128 new_max = max128(need_max, max_fee), new_tip = max128(need_tip, tip);
    if (new_max > cap || new_tip > new_max)
        return false;
    p->tip = new_tip;
    p->max_fee = new_max;
    p->bumps++;
    return true;
}

/* Fills rep from a receipt at the confirmation depth. */
static void settle(executor *x, const rpc_receipt *r, const uint8_t *cd, size_t cd_len, executor_report *rep)
{
    memcpy(rep->tx_hash, r->tx_hash, HASH_BYTES);
    memcpy(rep->block_hash, r->block_hash, HASH_BYTES);
    rep->block_number = r->block_number;
    rep->gas_used = r->gas_used;
    rep->effective_gas_price_wei = r->has_effective_gas_price ? r->effective_gas_price : u256_zero();
    if (r->status == 1) {
        rep->outcome = EXECUTOR_MINED;
        return;
    }
    rep->outcome = EXECUTOR_REVERTED;
    /* why: the same call replayed on the state before its block */
    rpc_callmsg m = call_of(x, cd, cd_len);
    uint8_t *ret = NULL;
    size_t ret_len;
    rl_why w = {{0}};
    rl_err err = rpc_eth_call(x->c, &m, rpc_block_at(r->block_number ? r->block_number - 1 : 0), &ret, &ret_len, &w);
    free(ret);
    if (err == RL_ERR_RPC && is_revert(x))
        read_revert(x, rep, "mined with status 0");
    else
        snprintf(rep->detail, sizeof rep->detail, "mined with status 0 in block %" PRIu64
                 "; a replay on the block before does not say why", r->block_number);
}

/* Is r still r at the confirmation depth? RL_OK: settled; RL_ERR_NOTFOUND: not yet (or reorged). */
static rl_err confirmed(executor *x, const rpc_receipt *r, rl_why *why)
{
    uint64_t head;
    rl_err err = rpc_eth_block_number(x->c, &head, why);
    if (err != RL_OK)
        return err;
    if (head < r->block_number || head - r->block_number + 1 < x->o.confirmations)
        return RL_ERR_NOTFOUND;
    rpc_receipt *again = NULL;
    err = rpc_eth_get_receipt(x->c, r->tx_hash, &again, why);
    if (err == RL_OK && (again->block_number != r->block_number ||
                         memcmp(again->block_hash, r->block_hash, HASH_BYTES) != 0))
        err = RL_ERR_NOTFOUND; /* moved by a reorg: wait for it again */
    rpc_receipt_free(again);
    return err;
}

static void gave_up(executor *x, const pending *p, executor_report *rep, const char *why_text)
{
    char h[2 * HASH_BYTES + 3];
    rep->outcome = EXECUTOR_GAVE_UP;
    memcpy(rep->tx_hash, p->hashes[p->n_hashes - 1], HASH_BYTES);
    snprintf(rep->detail, sizeof rep->detail, "%s; nonce %" PRIu64 " last sent as %s", why_text, p->tx.nonce,
             hex_encode_0x(h, rep->tx_hash, HASH_BYTES));
    x->has_nonce = false; /* the node knows better now whether that nonce is held */
}

/* Send p (the first transaction, or after a restart) and follow it to an outcome. RL_ERR_SEQ:
 * the nonce was taken by another transaction; the caller starts again with a fresh nonce. */
static rl_err follow(executor *x, pending *p, const uint8_t *cd, size_t cd_len, uint64_t deadline_ms,
                     executor_report *rep, rl_why *why)
{
    bool need_send = true, replace_now = false;
    for (;;) {
        if (need_send) {
            send_result res = SEND_UNKNOWN;
            rl_err err = broadcast(x, p, &res, why);
            if (err != RL_OK)
                return err;
            rep->sent = rep->sent || res != SEND_NONCE_LOW;
            need_send = res == SEND_UNKNOWN;
            if (res == SEND_NONCE_LOW) {
                rpc_receipt *r = NULL;
                err = find_receipt(x, p, &r, why);
                rpc_receipt_free(r);
                if (err == RL_ERR_NOTFOUND)
                    return rl_fail(why, RL_ERR_SEQ, "nonce %" PRIu64 " was taken by another transaction",
                                   p->tx.nonce);
                if (err != RL_OK && err != RL_ERR_TRANSPORT && err != RL_ERR_UNAVAILABLE)
                    return err;
            }
            replace_now = res == SEND_UNDERPRICED; /* the node wants a bigger bump: at once */
        }
        rpc_receipt *r = NULL;
        rl_why w = {{0}};
        rl_err err = find_receipt(x, p, &r, &w);
        if (err == RL_OK) {
            rl_err c = confirmed(x, r, &w);
            if (c == RL_OK) {
                settle(x, r, cd, cd_len, rep);
                x->has_nonce = true;
                x->next_nonce = p->tx.nonce + 1;
                rpc_receipt_free(r);
                return RL_OK;
            }
            rpc_receipt_free(r);
        } else if (err != RL_ERR_NOTFOUND && err != RL_ERR_TRANSPORT && err != RL_ERR_UNAVAILABLE &&
                   err != RL_ERR_RATELIMIT && err != RL_ERR_DECODE) {
            return rl_fail(why, err, "executor: receipt of nonce %" PRIu64 ": %s", p->tx.nonce, w.text);
        }
        uint64_t t = now(x);
        if (t >= deadline_ms) {
            gave_up(x, p, rep, "not mined in time");
            return RL_OK;
        }
        if (err == RL_ERR_NOTFOUND && (replace_now || t - p->sent_ms >= x->o.stuck_ms)) {
            replace_now = false;
            if (bump_fees(x, p, &w)) {
                rl_err s = sign_pending(x, p, why);
                if (s != RL_OK)
                    return s;
                rep->submissions++;
                need_send = true;
                continue;
            }
            if (t - p->sent_ms >= x->o.stuck_ms) {
                gave_up(x, p, rep, p->bumps >= x->o.max_bumps ? "not mined after every replacement allowed"
                                                              : "not mined, and the fee cap allows no replacement");
                return RL_OK;
            }
        }
        x->h.sleep_ms(x->h.ctx, x->o.poll_ms);
    }
}

/* The gas limit offered for an estimate: the estimate plus the margin, never above max_gas; an
 * estimate above max_gas is refused (nothing is sent). */
static rl_err gas_limit(const executor *x, const vault_instruction *ins, uint64_t estimate, uint64_t *limit,
                        rl_why *why)
{
    if (estimate > x->o.max_gas) {
        char nonce[U256_DEC_MAX];
        return rl_fail(why, RL_ERR_STATE,
                       "executor: chain %" PRIu64 ", instruction nonce %s: gas estimate %" PRIu64
                       " above max_gas %" PRIu64 ", not sent",
                       rpc_chain_id(x->c), u256_to_dec(&ins->nonce, nonce), estimate, x->o.max_gas);
    }
    /* estimate <= max_gas: the sum cannot overflow once the margin is capped at what is left */
    uint64_t margin = estimate / 100 * x->o.gas_margin_pct + (estimate % 100) * x->o.gas_margin_pct / 100;
    *limit = margin > x->o.max_gas - estimate ? x->o.max_gas : estimate + margin;
    return RL_OK;
}

rl_err executor_execute(executor *x, const vault_instruction *ins, const uint8_t (*sigs)[EVM_SIG_BYTES], size_t n,
                        executor_report *rep, rl_why *why)
{
    memset(rep, 0, sizeof *rep);
    uint64_t deadline_ms = now(x) + x->o.timeout_ms;
    uint8_t *cd = NULL;
    size_t cd_len = 0;
    pending p = {0};
    rl_err err = abi_execute_calldata(ins, sigs, n, &cd, &cd_len, why);
    if (err != RL_OK)
        return err;

    rpc_callmsg m = call_of(x, cd, cd_len);
    uint64_t gas;
    err = rpc_eth_estimate_gas(x->c, &m, &gas, why);
    if (err == RL_ERR_RPC && is_revert(x)) {
        rep->outcome = EXECUTOR_REVERTED;
        read_revert(x, rep, "refused at the estimate, nothing sent");
        err = RL_OK;
        goto done;
    }
    if (err != RL_OK)
        goto done;
    uint64_t limit = 0;
    if ((err = gas_limit(x, ins, gas, &limit, why)) != RL_OK)
        goto done;
    p.tx = (evm_tx){.chain_id = rpc_chain_id(x->c), .gas_limit = limit, .has_to = true, .data = cd,
                    .data_len = cd_len};
    memcpy(p.tx.to, x->vault, EVM_ADDR_BYTES);

    for (unsigned attempt = 0;; attempt++) {
        if (!x->has_nonce) {
            err = rpc_eth_get_tx_count(x->c, evm_key_address(x->key), rpc_block_tag(RPC_PENDING), &x->next_nonce,
                                       why);
            if (err != RL_OK)
                goto done;
            x->has_nonce = true;
        }
        p.tx.nonce = x->next_nonce;
        p.n_hashes = 0;
        p.bumps = 0;
        err = current_fees(x, &p.tip, &p.max_fee, why);
        if (err == RL_OK)
            err = sign_pending(x, &p, why);
        if (err != RL_OK)
            goto done;
        rep->submissions++;
        rep->nonce = p.tx.nonce;
        err = follow(x, &p, cd, cd_len, deadline_ms, rep, why);
        if (err != RL_ERR_SEQ)
            break;
        x->has_nonce = false;
        if (attempt + 1 >= EXECUTOR_MAX_RENONCE) {
            err = rl_fail(why, RL_ERR_SEQ, "executor: the account's nonce was taken %d times in a row; another "
                                           "sender uses this key", EXECUTOR_MAX_RENONCE);
            break;
        }
    }
    rep->nonce = p.tx.nonce;
done:
    free(p.raw);
    free(cd);
    return err;
}
