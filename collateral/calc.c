/*
 * calc.c - the live calculator's state machine (calc.h).
 *
 * Accounts are kept in a uthash table by address and in a dense array by creation order; each
 * asset and market has the list of accounts exposed to it (an account joins a list when it
 * first holds the asset or trades the market, and holdings and positions are never removed, only
 * zeroed, so nobody joins twice). Lists are walked in order of joining, which follows the log, so
 * the decisions of one record come out in the same order on every replay.
 */
#include "collateral/calc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "attest/admit.h"
#include "attest/hex.h"
#include "attest/instruction.h"
#include "attest/request.h"
#include "attest/record.h"
#include "attest/relset.h"
#include "attest/vec.h"

struct hold {
    uint16_t chain, asset;
    u256 amount;     /* the ledger's balance: credited less executed */
    u256 reserved;   /* approved withdrawals and seizes decided here, not yet executed */
    u256 instructed; /* the ledger's reservation: logged instructions not yet executed */
    u256 seizing;    /* of reserved: seizes decided here, not yet executed or expired */
    u256 overdue;    /* of seizing: those of overdue instructions (may still execute) */
    u256 seized;     /* seizes executed in the account's current liquidation */
};

/* A logged instruction whose execution is not attested yet, by instruction_id. */
struct open_ins {
    uint8_t id[HASH_BYTES];
    uint32_t acct;
    uint16_t chain, asset;
    u256 amount;
    uint8_t kind;    /* release or seize */
    bool overdue;    /* its deadline passed by record time, neither executed nor expired yet */
    UT_hash_handle hh;
};

/* A logged instruction's deadline, until it passes (then its instruction is overdue) or the scan
 * after its closing drops it; kept in log order. */
struct due {
    uint8_t id[HASH_BYTES];
    uint64_t due_ms; /* deadline_s x 1000 */
};

struct pos {
    int market; /* -1: a market the risk parameters do not know */
    char name[PRICE_FEED_BYTES + 1];
    i128 size_e18, entry_e18;
};

struct acct {
    uint8_t addr[EVM_ADDR_BYTES];
    uint32_t idx;
    uint8_t mode;
    uint8_t status; /* the last status decided; healthy to begin with */
    bool reseize;   /* a seize of its liquidation expired: decide again even if still liquidatable */
    bool replan;    /* a seize of its liquidation is overdue: replace it if a plan can */
    uint64_t epoch; /* evaluated for this record already */
    uint64_t owner_nonce; /* the last owner nonce of its admitted withdrawals (admit.h A5) */
    admit_positions pos;  /* its last applied position request (admit.h A6) */
    struct hold *h;
    size_t nh, caph;
    struct pos *p;
    size_t np, capp;
    UT_hash_handle hh;
};

struct exposure {
    uint32_t *ids;
    size_t n, cap;
};

struct calc {
    const mg_risk *risk;
    mg_book book; /* the risk book with our own asset and market arrays: prices move here */
    mg_ctx mg;
    uint16_t threshold;
    relset *set;   /* the relayer set in force (owned): its venue keys admit requests (admit.h) */
    uint8_t cluster[HASH_BYTES]; /* the genesis set's digest (record 1): the owners' EIP-712 salt */
    uint64_t seq, now_ms, epoch;
    uint64_t *asset_ms, *market_ms; /* oldest observation behind the price; 0: none yet */
    struct exposure *asset_exp, *market_exp;
    mpz_t *var_e36; /* per market: EWMA variance of returns, scale 10^36 */
    size_t nvar;    /* of them initialised */
    bool mg_up;     /* mg initialised */
    i128 *sample_e18;       /* per market: the mark at the last EWMA sample */
    uint64_t *sample_ms;    /* and its record time; 0: no sample yet */
    mpz_t t1, t2;
    struct acct *by_addr;
    struct open_ins *open; /* looked up only, never walked: its order cannot leak into decisions */
    struct due *due;       /* open instructions' deadlines, in log order */
    size_t ndue, capdue;
    uint64_t next_due_ms;  /* the earliest of them; UINT64_MAX: none */
    uint32_t *chain_overdue; /* per book chain: open instructions overdue there */
    bool *defer;           /* per book chain: seized from last (scratch for seize plans) */
    uint32_t *replans;     /* accounts whose seize went overdue at this record, in that order */
    size_t nreplans, capreplans;
    struct acct **accts;
    size_t naccts, capaccts;
    mg_holding *hs;
    size_t caphs;
    mg_position *ps;
    size_t capps;
    decision d;
    calc_emit_fn emit;
    void *emit_ctx;
    calc_note_fn note;
    void *note_ctx;
    calc_stats st;
};

static void note(calc *c, const char *what, const char *why)
{
    if (c->note != NULL)
        c->note(c->note_ctx, c->seq, what, why);
}

rl_err calc_new(calc **out, const mg_risk *risk, calc_emit_fn emit, void *emit_ctx, calc_note_fn note_fn,
                void *note_ctx)
{
    calc *c = calloc(1, sizeof *c);
    if (c == NULL)
        return RL_ERR_NOMEM;
    c->risk = risk;
    c->book = risk->book;
    c->emit = emit;
    c->emit_ctx = emit_ctx;
    c->note = note_fn;
    c->note_ctx = note_ctx;
    size_t na = risk->book.nassets, nm = risk->book.nmarkets;
    mpz_init(c->t1);
    mpz_init(c->t2);
    c->book.assets = calloc(na + 1, sizeof *c->book.assets);
    c->book.markets = calloc(nm + 1, sizeof *c->book.markets);
    c->asset_ms = calloc(na + 1, sizeof *c->asset_ms);
    c->market_ms = calloc(nm + 1, sizeof *c->market_ms);
    c->asset_exp = calloc(na + 1, sizeof *c->asset_exp);
    c->market_exp = calloc(nm + 1, sizeof *c->market_exp);
    c->var_e36 = calloc(nm + 1, sizeof *c->var_e36);
    c->sample_e18 = calloc(nm + 1, sizeof *c->sample_e18);
    c->sample_ms = calloc(nm + 1, sizeof *c->sample_ms);
    c->chain_overdue = calloc(risk->book.nchains + 1, sizeof *c->chain_overdue);
    c->defer = calloc(risk->book.nchains + 1, sizeof *c->defer);
    c->next_due_ms = UINT64_MAX;
    c->set = calloc(1, sizeof *c->set); /* no venues until the genesis record installs the set */
    if (c->set == NULL || c->chain_overdue == NULL || c->defer == NULL || c->book.assets == NULL ||
        c->book.markets == NULL || c->asset_ms == NULL || c->market_ms == NULL || c->asset_exp == NULL ||
        c->market_exp == NULL || c->var_e36 == NULL || c->sample_e18 == NULL || c->sample_ms == NULL) {
        calc_free(c);
        return RL_ERR_NOMEM;
    }
    memcpy(c->book.assets, risk->book.assets, na * sizeof *c->book.assets);
    memcpy(c->book.markets, risk->book.markets, nm * sizeof *c->book.markets);
    for (size_t m = 0; m < nm; m++, c->nvar++) {
        mpz_init(c->var_e36[m]);
        fixed_set_i128(c->var_e36[m], c->book.markets[m].sigma_e18);
        mpz_mul(c->var_e36[m], c->var_e36[m], c->var_e36[m]);
    }
    rl_err err = mg_ctx_init(&c->mg, &c->book);
    if (err != RL_OK) {
        calc_free(c);
        return err;
    }
    c->mg_up = true;
    *out = c;
    return RL_OK;
}

void calc_free(calc *c)
{
    if (c == NULL)
        return;
    struct acct *a, *t;
    HASH_ITER(hh, c->by_addr, a, t) {
        HASH_DEL(c->by_addr, a);
        free(a->h);
        free(a->p);
        free(a);
    }
    struct open_ins *o, *ot;
    HASH_ITER(hh, c->open, o, ot) {
        HASH_DEL(c->open, o);
        free(o);
    }
    if (c->mg_up)
        mg_ctx_fini(&c->mg);
    for (size_t m = 0; m < c->nvar; m++)
        mpz_clear(c->var_e36[m]);
    for (size_t i = 0; c->asset_exp != NULL && i < c->book.nassets; i++)
        free(c->asset_exp[i].ids);
    for (size_t i = 0; c->market_exp != NULL && i < c->book.nmarkets; i++)
        free(c->market_exp[i].ids);
    mpz_clear(c->t1);
    mpz_clear(c->t2);
    free(c->due);
    free(c->set);
    free(c->chain_overdue);
    free(c->defer);
    free(c->replans);
    free(c->var_e36);
    free(c->sample_e18);
    free(c->sample_ms);
    free(c->asset_exp);
    free(c->market_exp);
    free(c->asset_ms);
    free(c->market_ms);
    free(c->book.assets);
    free(c->book.markets);
    free(c->accts);
    free(c->hs);
    free(c->ps);
    free(c);
}

uint64_t calc_seq(const calc *c) { return c->seq; }
const calc_stats *calc_get_stats(const calc *c) { return &c->st; }

/* ---- accounts ---- */

static struct acct *acct_find(calc *c, const uint8_t addr[EVM_ADDR_BYTES])
{
    struct acct *a = NULL;
    HASH_FIND(hh, c->by_addr, addr, EVM_ADDR_BYTES, a);
    return a;
}

static struct acct *acct_get(calc *c, const uint8_t addr[EVM_ADDR_BYTES])
{
    struct acct *a = acct_find(c, addr);
    if (a != NULL)
        return a;
    if (!vec_reserve((void **)&c->accts, &c->capaccts, c->naccts + 1, sizeof *c->accts, 1024) ||
        (a = calloc(1, sizeof *a)) == NULL)
        return NULL;
    memcpy(a->addr, addr, EVM_ADDR_BYTES);
    a->idx = (uint32_t)c->naccts;
    a->mode = MG_CROSS;
    a->status = MG_HEALTHY;
    c->accts[c->naccts++] = a;
    HASH_ADD(hh, c->by_addr, addr, EVM_ADDR_BYTES, a);
    c->st.accounts = c->naccts;
    return a;
}

static bool expose(struct exposure *e, uint32_t id)
{
    if (!vec_reserve((void **)&e->ids, &e->cap, e->n + 1, sizeof *e->ids, 64))
        return false;
    e->ids[e->n++] = id;
    return true;
}

static struct hold *hold_get(calc *c, struct acct *a, uint16_t chain, uint16_t asset)
{
    bool held = false;
    for (size_t i = 0; i < a->nh; i++) {
        if (a->h[i].chain == chain && a->h[i].asset == asset)
            return &a->h[i];
        held |= a->h[i].asset == asset;
    }
    if (!vec_reserve((void **)&a->h, &a->caph, a->nh + 1, sizeof *a->h, 4))
        return NULL;
    if (!held && !expose(&c->asset_exp[asset], a->idx))
        return NULL;
    struct hold *h = &a->h[a->nh++];
    memset(h, 0, sizeof *h);
    h->chain = chain;
    h->asset = asset;
    return h;
}

/* The account as margin.h takes it, from scratch arrays: holdings net of reservations, open
 * positions. *fresh: every price it depends on is known and within max_age. */
static rl_err view(calc *c, const struct acct *a, mg_account *out, bool *fresh)
{
    if (!vec_reserve((void **)&c->hs, &c->caphs, a->nh + 1, sizeof *c->hs, 16) ||
        !vec_reserve((void **)&c->ps, &c->capps, a->np + 1, sizeof *c->ps, 16))
        return RL_ERR_NOMEM;
    size_t nh = 0, np = 0;
    bool ok = true, open = false;
    for (size_t i = 0; i < a->np; i++) {
        const struct pos *p = &a->p[i];
        if (p->size_e18 == 0)
            continue;
        open = true;
        if (p->market < 0 || c->market_ms[p->market] == 0 || c->market_ms[p->market] + c->risk->max_age_ms < c->now_ms ||
            (a->mode == MG_PORTFOLIO && !c->book.markets[p->market].has_scan)) {
            ok = false;
            continue;
        }
        c->ps[np++] = (mg_position){.size_e18 = p->size_e18, .entry_e18 = p->entry_e18, .market = (uint16_t)p->market};
    }
    for (size_t i = 0; i < a->nh; i++) {
        const struct hold *h = &a->h[i];
        u256 net;
        if (u256_sub(&net, &h->amount, &h->reserved) != RL_OK || u256_is_zero(&net))
            continue;
        if (c->asset_ms[h->asset] == 0 || c->asset_ms[h->asset] + c->risk->max_age_ms < c->now_ms)
            ok = false;
        c->hs[nh++] = (mg_holding){.amount = net, .chain = h->chain, .asset = h->asset};
    }
    /* Without positions nothing is at risk: holdings alone are always healthy. */
    *fresh = ok || !open;
    *out = (mg_account){.mode = (mg_mode)a->mode, .holdings = c->hs, .nholdings = nh, .positions = c->ps,
                        .npositions = np};
    return RL_OK;
}

static rl_err figures(calc *c, const struct acct *a, mg_figures *fig, bool *fresh, rl_why *why)
{
    mg_account v;
    rl_err err = view(c, a, &v, fresh);
    if (err == RL_OK)
        err = mg_figures_of(&c->mg, &c->book, &v, fig, why);
    c->st.evaluations++;
    return err;
}

static void decision_start(calc *c, const struct acct *a, uint8_t kind, const mg_figures *fig)
{
    decision *d = &c->d;
    memset(d, 0, offsetof(decision, seize));
    d->kind = kind;
    d->basis = c->seq;
    memcpy(d->account, a->addr, EVM_ADDR_BYTES);
    memcpy(d->risk, c->risk->digest, HASH_BYTES);
    d->equity_u = fig->equity_u;
    d->im_u = fig->im_u;
    d->mm_u = fig->mm_u;
}

static void decide(calc *c)
{
    c->st.decisions++;
    c->emit(c->emit_ctx, &c->d);
}

#define VALUE_MAX_U ((i128)(((unsigned __int128)1 << 127) - 1))

/* x - min(x, y): what is left of x after taking y, never below zero. */
static void sub_floor(u256 *x, const u256 *y)
{
    if (u256_sub(x, x, y) != RL_OK)
        *x = u256_zero();
}

/* What the account's seizes already bring (calc.h): *covered_u, the value of those executed in
 * this liquidation and of those under way and not overdue; *pending_u, of the overdue ones (they
 * may still execute). Each term at price x (1 - haircut), down, as the plan values holdings. */
static rl_err seize_cover(calc *c, const struct acct *a, i128 *covered_u, i128 *pending_u, rl_why *why)
{
    *covered_u = *pending_u = 0;
    for (size_t i = 0; i < a->nh; i++) {
        const struct hold *h = &a->h[i];
        const mg_asset *as = &c->book.assets[h->asset];
        u256 under_way = h->seizing, done = h->seized;
        i128 v1, v2, v3;
        sub_floor(&under_way, &h->overdue);
        if (mg_value_u(&c->mg, as, &under_way, true, &v1) != RL_OK || mg_value_u(&c->mg, as, &done, true, &v2) != RL_OK ||
            mg_value_u(&c->mg, as, &h->overdue, true, &v3) != RL_OK || v1 > VALUE_MAX_U - v2 ||
            v1 + v2 > VALUE_MAX_U - *covered_u || v3 > VALUE_MAX_U - *pending_u)
            return rl_fail(why, RL_ERR_OVERFLOW, "seizes under way: value out of range");
        *covered_u += v1 + v2;
        *pending_u += v3;
    }
    return RL_OK;
}

/* The seize plan of a liquidatable account into c->d: at most DECISION_MAX_SEIZE holdings, in
 * seize order, holdings on overdue chains last, for what is owed less what its seizes under way
 * (not overdue) or executed already cover; what is left over waits for the next decision on the
 * account. Bad debt leaves out what the overdue seizes may still bring. What it seizes is
 * reserved here as the ledger reserves it for the instructions. A replacement for an overdue
 * seize (replacement) takes nothing on an overdue chain: a seize there could only execute when
 * the overdue one can, covering nothing the overdue one does not. */
static rl_err seize_plan(calc *c, struct acct *a, bool replacement, rl_why *why)
{
    mg_account v;
    bool fresh;
    mg_result r;
    i128 pending_u = 0;
    rl_err err = view(c, a, &v, &fresh);
    if (err == RL_OK)
        err = seize_cover(c, a, &v.covered_u, &pending_u, why);
    for (size_t i = 0; i < c->book.nchains; i++)
        c->defer[i] = c->chain_overdue[i] > 0;
    v.defer_chain = c->defer;
    if (err == RL_OK)
        err = mg_evaluate(&c->mg, &c->book, &v, NULL, &r, why);
    if (err != RL_OK)
        return err;
    decision *d = &c->d;
    d->bad_debt_u = r.bad_debt_u > pending_u ? r.bad_debt_u - pending_u : 0;
    for (size_t i = 0; i < r.nseize && err == RL_OK; i++) {
        const mg_token *t = mg_risk_token_at(c->risk, r.seize[i].chain, r.seize[i].asset);
        if (u256_is_zero(&r.seize[i].amount) || (replacement && c->defer[r.seize[i].chain]))
            continue; /* nothing to take there, or not worth asking for there */
        char text[sizeof why->text];
        if (d->nseize == DECISION_MAX_SEIZE) {
            snprintf(text, sizeof text, "%zu holdings to seize, the plan takes the first %d", r.nseize,
                     DECISION_MAX_SEIZE);
            note(c, "seize plan cut short", text);
            break;
        } else if (t == NULL) { /* cannot happen: holdings only come from known tokens */
            snprintf(text, sizeof text, "%s on chain %u has no token", c->book.assets[r.seize[i].asset].name,
                     r.seize[i].chain);
            note(c, "seize left out of the plan", text);
        } else {
            struct hold *h = hold_get(c, a, r.seize[i].chain, r.seize[i].asset);
            if (h == NULL || u256_add(&h->reserved, &h->reserved, &r.seize[i].amount) != RL_OK ||
                u256_add(&h->seizing, &h->seizing, &r.seize[i].amount) != RL_OK) {
                err = h == NULL ? RL_ERR_NOMEM : rl_fail(why, RL_ERR_OVERFLOW, "reservation overflows");
                break;
            }
            decision_seize *s = &d->seize[d->nseize++];
            s->chain_id = t->chain_id;
            memcpy(s->asset, t->address, EVM_ADDR_BYTES);
            s->amount = r.seize[i].amount;
        }
    }
    mg_result_fini(&r);
    return err;
}

/* Re-evaluates one account once per record and decides when its status changed. */
static rl_err evaluate(calc *c, struct acct *a, rl_why *why)
{
    if (a->epoch == c->epoch)
        return RL_OK;
    a->epoch = c->epoch;
    mg_figures fig;
    bool fresh;
    rl_err err = figures(c, a, &fig, &fresh, why);
    if (err == RL_ERR_OVERFLOW) { /* an absurd price or size: no decision on numbers we cannot hold */
        note(c, "account not evaluated", why ? why->text : "overflow");
        return RL_OK;
    }
    bool replan = a->replan && fig.status == MG_LIQUIDATABLE;
    if (err != RL_OK || !fresh || (fig.status == a->status && !a->reseize && !replan))
        return err;
    /* Only an overdue seize asks: a replacement is decided when there is something to seize. */
    bool only_replan = fig.status == a->status && !a->reseize;
    a->reseize = a->replan = false;
    uint8_t kind = fig.status == MG_LIQUIDATABLE ? DECISION_LIQUIDATE
                   : fig.status == MG_MARGIN_CALL ? DECISION_MARGIN_CALL
                                                  : DECISION_HEALTHY;
    decision_start(c, a, kind, &fig);
    if (kind == DECISION_LIQUIDATE && (err = seize_plan(c, a, only_replan, why)) != RL_OK)
        return err;
    if (only_replan && c->d.nseize == 0)
        return RL_OK; /* an empty plan reserved nothing */
    if (kind != DECISION_LIQUIDATE) /* the liquidation, if any, is over: its seizes are history */
        for (size_t i = 0; i < a->nh; i++)
            a->h[i].seized = u256_zero();
    a->status = (uint8_t)fig.status;
    decide(c);
    return RL_OK;
}

static rl_err evaluate_exposed(calc *c, const struct exposure *e, rl_why *why)
{
    rl_err err = RL_OK;
    for (size_t i = 0; i < e->n && err == RL_OK; i++)
        err = evaluate(c, c->accts[e->ids[i]], why);
    return err;
}

/* ---- records ---- */

static rl_err on_set(calc *c, const record *r, rl_why *why)
{
    payload_set *p = malloc(sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    rl_err err = payload_set_decode(p, r, why);
    if (err == RL_OK && r->seq == 1) /* the genesis record: its set names the cluster */
        err = admit_cluster_id(c->cluster, &p->set);
    if (err == RL_OK) {
        c->threshold = p->set.threshold;
        *c->set = p->set;
    }
    free(p);
    return err;
}

static rl_err on_deposit(calc *c, const obs *o, rl_why *why)
{
    const mg_token *t = mg_risk_token(c->risk, o->chain_id, o->asset);
    if (t == NULL)
        return RL_OK; /* credited in the ledger, but not collateral under these risk parameters */
    struct acct *a = acct_get(c, o->account);
    struct hold *h = a ? hold_get(c, a, t->chain, t->asset) : NULL;
    if (h == NULL)
        return RL_ERR_NOMEM;
    if (u256_add(&h->amount, &h->amount, &o->amount) != RL_OK) {
        note(c, "deposit not counted", "the balance would overflow 256 bits (the ledger refuses it too)");
        return RL_OK;
    }
    c->st.deposits++;
    return evaluate(c, a, why);
}

/* A logged instruction: the ledger reserved its amount (only a log the ledger accepted gets here). */
static rl_err on_instruction(calc *c, const record *r, rl_why *why)
{
    instruction in;
    rl_err err = instruction_decode(&in, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    const mg_token *t = mg_risk_token(c->risk, in.chain_id, in.asset);
    if (t == NULL)
        return RL_OK; /* instructions only come from this calculator's decisions, on known tokens */
    /* what can fail before the reservations change (out of memory may leave an empty account or
     * holding behind, which changes no figure) */
    struct acct *a = acct_get(c, in.account);
    struct hold *h = a ? hold_get(c, a, t->chain, t->asset) : NULL;
    if (h == NULL || !vec_reserve((void **)&c->due, &c->capdue, c->ndue + 1, sizeof *c->due, 64))
        return RL_ERR_NOMEM;
    u256 instructed;
    if (u256_add(&instructed, &h->instructed, &in.amount) != RL_OK)
        return rl_fail(why, RL_ERR_OVERFLOW, "record %llu: instructed amount overflows", (unsigned long long)r->seq);
    struct open_ins *o = calloc(1, sizeof *o);
    if (o == NULL)
        return RL_ERR_NOMEM;
    h->instructed = instructed;
    instruction_id(o->id, in.chain_id, in.vault, in.nonce);
    o->acct = a->idx;
    o->chain = t->chain;
    o->asset = t->asset;
    o->amount = in.amount;
    o->kind = in.kind;
    struct due *du = &c->due[c->ndue++];
    memcpy(du->id, o->id, HASH_BYTES);
    du->due_ms = in.deadline_s > UINT64_MAX / 1000 ? UINT64_MAX : in.deadline_s * 1000;
    if (du->due_ms < c->next_due_ms)
        c->next_due_ms = du->due_ms;
    HASH_ADD(hh, c->open, id, HASH_BYTES, o);
    return RL_OK;
}

/* Instruction o can no longer execute (executed or expired): its amount leaves the holding's
 * reservations (oh: its holding), and its chain counts one overdue instruction fewer. */
static void ins_close(calc *c, struct hold *oh, struct open_ins *o)
{
    sub_floor(&oh->instructed, &o->amount);
    sub_floor(&oh->reserved, &o->amount);
    if (o->kind == INSTRUCTION_SEIZE)
        sub_floor(&oh->seizing, &o->amount);
    if (o->overdue) {
        c->chain_overdue[o->chain]--;
        if (o->kind == INSTRUCTION_SEIZE)
            sub_floor(&oh->overdue, &o->amount);
    }
    HASH_DEL(c->open, o);
    free(o);
}

/* Marks the open instructions whose deadline the record time passed as overdue (calc.h), in log
 * order, and lists the liquidatable accounts whose seize it is for a replacement plan. */
static rl_err overdue_scan(calc *c)
{
    c->nreplans = 0;
    if (c->now_ms <= c->next_due_ms)
        return RL_OK;
    /* Room for a replan per due entry up front: nothing below allocates once the scan has marked
     * some. */
    if (!vec_reserve((void **)&c->replans, &c->capreplans, c->ndue, sizeof *c->replans, 16))
        return RL_ERR_NOMEM;
    size_t keep = 0;
    uint64_t next = UINT64_MAX;
    for (size_t i = 0; i < c->ndue; i++) {
        struct open_ins *o = NULL;
        HASH_FIND(hh, c->open, c->due[i].id, HASH_BYTES, o);
        if (o == NULL)
            continue; /* executed or expired before its deadline passed */
        if (c->now_ms <= c->due[i].due_ms) {
            if (c->due[i].due_ms < next)
                next = c->due[i].due_ms;
            c->due[keep++] = c->due[i];
            continue;
        }
        o->overdue = true;
        c->chain_overdue[o->chain]++;
        if (o->kind != INSTRUCTION_SEIZE)
            continue;
        struct acct *a = c->accts[o->acct];
        struct hold *h = hold_get(c, a, o->chain, o->asset); /* found: its instruction reserved on it */
        if (h == NULL)
            return RL_ERR_NOMEM;
        if (u256_add(&h->overdue, &h->overdue, &o->amount) != RL_OK) /* overdue <= seizing: cannot happen */
            h->overdue = h->seizing;
        if (a->status != MG_LIQUIDATABLE || a->replan)
            continue;
        a->replan = true;
        c->replans[c->nreplans++] = a->idx;
    }
    c->ndue = keep;
    c->next_due_ms = next;
    return RL_OK;
}

/* An attested execution, by the ledger's rule (ledger.h): a matched one takes its amount out of
 * the holding and out of both reservations; an unmatched one closes the instruction logged under
 * its nonce, if any, and takes what the ledger takes: min(amount, holding - instructed). */
static rl_err on_executed(calc *c, const obs *x, rl_why *why)
{
    uint8_t id[HASH_BYTES];
    struct open_ins *o = NULL;
    instruction_id(id, x->chain_id, x->vault, x->nonce);
    HASH_FIND(hh, c->open, id, HASH_BYTES, o);
    const mg_token *t = mg_risk_token(c->risk, x->chain_id, x->asset);
    struct acct *a = NULL, *closed = NULL;
    c->st.executions++;
    if (o != NULL) {
        closed = c->accts[o->acct];
        struct hold *oh = hold_get(c, closed, o->chain, o->asset);
        if (oh == NULL)
            return RL_ERR_NOMEM;
        bool matched = t != NULL && memcmp(closed->addr, x->account, EVM_ADDR_BYTES) == 0 && o->chain == t->chain &&
                       o->asset == t->asset && u256_cmp(&o->amount, &x->amount) == 0;
        if (matched)
            sub_floor(&oh->amount, &o->amount);
        if (matched && o->kind == INSTRUCTION_SEIZE && u256_add(&oh->seized, &oh->seized, &o->amount) != RL_OK)
            oh->seized = oh->amount; /* cannot pass the 256-bit deposits it came from */
        ins_close(c, oh, o);
        if (matched)
            return evaluate(c, closed, why);
    }
    c->st.unmatched++;
    note(c, "execution matching no open instruction", "the chain moved funds no logged instruction reserved");
    if (t != NULL) {
        a = acct_get(c, x->account);
        struct hold *h = a ? hold_get(c, a, t->chain, t->asset) : NULL;
        if (h == NULL)
            return RL_ERR_NOMEM;
        u256 free_amt = h->amount;
        sub_floor(&free_amt, &h->instructed);
        sub_floor(&h->amount, u256_cmp(&free_amt, &x->amount) < 0 ? &free_amt : &x->amount);
    }
    rl_err err = closed != NULL ? evaluate(c, closed, why) : RL_OK;
    return err == RL_OK && a != NULL ? evaluate(c, a, why) : err;
}

/* An attested expiry, by the ledger's rule (ledger.h): the instruction can never execute, its
 * amount leaves both reservations. A release's trader may ask again; for a seize, an account
 * still liquidatable gets a new liquidation decided at this record, whose plan takes what is free
 * now (the hub issues its seizes with new nonces). */
static rl_err on_expired(calc *c, const obs *x, rl_why *why)
{
    uint8_t id[HASH_BYTES];
    struct open_ins *o = NULL;
    instruction_id(id, x->chain_id, x->vault, x->nonce);
    HASH_FIND(hh, c->open, id, HASH_BYTES, o);
    if (o == NULL) { /* the ledger refuses such a record: only a log it did not accept gets here */
        note(c, "expiry of no open instruction", "nothing reserved here under its nonce");
        return RL_OK;
    }
    struct acct *a = c->accts[o->acct];
    struct hold *h = hold_get(c, a, o->chain, o->asset);
    if (h == NULL)
        return RL_ERR_NOMEM;
    ins_close(c, h, o);
    c->st.expired++;
    if (x->ins_kind == INSTRUCTION_SEIZE && a->status == MG_LIQUIDATABLE)
        a->reseize = true;
    return evaluate(c, a, why);
}

static rl_err on_attest(calc *c, const record *r, rl_why *why)
{
    payload_attest p;
    obs o;
    rl_err err = payload_attest_decode(&p, r, why);
    if (err == RL_OK)
        err = obs_decode(&o, p.obs, OBS_BYTES, why);
    if (err != RL_OK)
        return err;
    switch (o.kind) {
    case OBS_KIND_DEPOSIT: return on_deposit(c, &o, why);
    case OBS_KIND_EXECUTED: return on_executed(c, &o, why);
    case OBS_KIND_EXPIRED: return on_expired(c, &o, why);
    default: return RL_OK; /* a signer rotation moves no funds */
    }
}

/* EWMA of the mark's returns, sampled at most every ewma_interval_ms of record time:
 * var' = lambda var + (1 - lambda) r^2, r = (new - old) / old against the last sample. How often
 * the hub logs a price (moves, heartbeats) does not change the estimate; a longer gap between
 * samples counts as one sample, which can only overstate the variance. */
static void ewma_step(calc *c, size_t m, i128 new_e18)
{
    mg_market *mk = &c->book.markets[m];
    i128 old_e18 = c->sample_e18[m];
    if (!mk->has_vol)
        return;
    if (c->sample_ms[m] != 0 && c->now_ms - c->sample_ms[m] < c->risk->ewma_interval_ms)
        return;
    c->sample_e18[m] = new_e18;
    c->sample_ms[m] = c->now_ms > 0 ? c->now_ms : 1;
    if (old_e18 <= 0)
        return;
    mpz_t *v = &c->var_e36[m];
    fixed_set_i128(c->t1, new_e18 - old_e18); /* r x 10^18 = (new - old) x 10^18 / old, toward zero */
    mpz_mul(c->t1, c->t1, *fixed_pow10(18));
    fixed_set_i128(c->t2, old_e18);
    mpz_tdiv_q(c->t1, c->t1, c->t2);
    mpz_mul(c->t1, c->t1, c->t1); /* r^2 x 10^36 */
    fixed_set_i128(c->t2, FIXED_E18 - c->risk->ewma_lambda_e18);
    mpz_mul(c->t1, c->t1, c->t2);
    fixed_set_i128(c->t2, c->risk->ewma_lambda_e18);
    mpz_addmul(c->t1, *v, c->t2);
    mpz_cdiv_q(*v, c->t1, *fixed_pow10(18)); /* up: more variance, more margin */
    mpz_sqrtrem(c->t1, c->t2, *v);
    if (mpz_sgn(c->t2) != 0)
        mpz_add_ui(c->t1, c->t1, 1);
    i128 sigma;
    if (fixed_get_i128(&sigma, c->t1) != RL_OK) {
        /* Beyond 128 bits: hold it where the multiplier is at its cap, the most margin. */
        sigma = mk->cap_e18 / FIXED_E18 * mk->sigma_ref_e18 + mk->cap_e18 % FIXED_E18 * mk->sigma_ref_e18 / FIXED_E18;
        note(c, "volatility held at the cap", mk->name);
    }
    mk->sigma_e18 = sigma;
}

static rl_err on_price(calc *c, const record *r, rl_why *why)
{
    payload_price *p = malloc(sizeof *p);
    price_obs *o = malloc(RELSET_MAX_MEMBERS * sizeof *o);
    rl_err err = p == NULL || o == NULL ? RL_ERR_NOMEM : payload_price_decode(p, r, why);
    for (unsigned i = 0; err == RL_OK && i < p->n; i++)
        err = price_decode(&o[i], p->e[i].bytes, PRICE_OBS_BYTES, why);
    price_rule rule = {.threshold = c->threshold, .max_dev_e18 = c->risk->max_dev_e18,
                       .max_age_ms = c->risk->max_age_ms};
    i128 median;
    uint64_t oldest;
    rl_why refusal = {{0}};
    if (err == RL_OK && price_aggregate(o, p->n, &rule, c->now_ms, &median, &oldest, &refusal) != RL_OK) {
        c->st.prices_refused++;
        note(c, "price refused", refusal.text);
        goto done;
    }
    if (err != RL_OK)
        goto done;
    c->st.prices++;
    for (size_t i = 0; i < c->book.nassets; i++) {
        if (strcmp(c->risk->asset_feed[i], p->feed) != 0)
            continue;
        c->book.assets[i].price_e18 = median;
        c->asset_ms[i] = oldest;
    }
    for (size_t m = 0; m < c->book.nmarkets && err == RL_OK; m++) {
        if (strcmp(c->risk->market_feed[m], p->feed) != 0)
            continue;
        ewma_step(c, m, median);
        c->book.markets[m].mark_e18 = median;
        c->market_ms[m] = oldest;
    }
    /* Everyone exposed, in the order they joined: assets first, then markets. */
    for (size_t i = 0; i < c->book.nassets && err == RL_OK; i++)
        if (strcmp(c->risk->asset_feed[i], p->feed) == 0)
            err = evaluate_exposed(c, &c->asset_exp[i], why);
    for (size_t m = 0; m < c->book.nmarkets && err == RL_OK; m++)
        if (strcmp(c->risk->market_feed[m], p->feed) == 0)
            err = evaluate_exposed(c, &c->market_exp[m], why);
done:
    free(p);
    free(o);
    return err;
}

static int market_index(const calc *c, const char *name)
{
    for (size_t m = 0; m < c->book.nmarkets; m++)
        if (strcmp(c->book.markets[m].name, name) == 0)
            return (int)m;
    return -1;
}

static rl_err on_position(calc *c, struct acct *a, const request *q, rl_why *why)
{
    a->mode = q->mode == REQUEST_MODE_PORTFOLIO ? MG_PORTFOLIO : MG_CROSS;
    struct pos *p = NULL;
    for (size_t i = 0; i < a->np && p == NULL; i++)
        if (strcmp(a->p[i].name, q->market) == 0)
            p = &a->p[i];
    if (p == NULL) {
        int m = market_index(c, q->market);
        if (!vec_reserve((void **)&a->p, &a->capp, a->np + 1, sizeof *a->p, 4) ||
            (m >= 0 && !expose(&c->market_exp[m], a->idx)))
            return RL_ERR_NOMEM;
        p = &a->p[a->np++];
        p->market = m;
        snprintf(p->name, sizeof p->name, "%s", q->market);
        if (m < 0) {
            char msg[160];
            snprintf(msg, sizeof msg, "market %s is not in the risk parameters: the account gets no decisions",
                     q->market);
            note(c, "position in an unknown market", msg);
        }
    }
    p->size_e18 = q->size_e18;
    p->entry_e18 = q->entry_e18;
    c->st.positions++;
    return evaluate(c, a, why);
}

static rl_err on_withdraw(calc *c, struct acct *a, const request *q, rl_why *why)
{
    c->st.withdrawals++;
    mg_figures fig = {0};
    bool fresh = false;
    uint8_t reason = REASON_NONE;
    const mg_token *t = mg_risk_token(c->risk, q->chain_id, q->asset);
    struct hold *h = NULL;
    rl_err err = RL_OK;
    if (t == NULL) {
        reason = REASON_UNKNOWN_ASSET;
    } else if ((h = hold_get(c, a, t->chain, t->asset)) == NULL) {
        return RL_ERR_NOMEM;
    } else if ((err = figures(c, a, &fig, &fresh, why)) != RL_OK) {
        if (err != RL_ERR_OVERFLOW)
            return err;
        err = RL_OK;
        reason = REASON_UNSAFE;
    } else if (!fresh) {
        reason = REASON_STALE_PRICE;
    } else {
        u256 free_amt;
        if (u256_sub(&free_amt, &h->amount, &h->reserved) != RL_OK || u256_cmp(&free_amt, &q->amount) < 0)
            reason = REASON_FUNDS;
        else if (fig.status == MG_LIQUIDATABLE || a->status == MG_LIQUIDATABLE)
            reason = REASON_LIQUIDATING; /* also while a decided liquidation has not been undone */
    }
    if (reason == REASON_NONE) {
        mg_account v;
        mg_result r;
        mg_withdraw w = {.chain = t->chain, .asset = t->asset, .amount = q->amount, .market = -1};
        if ((err = view(c, a, &v, &fresh)) == RL_OK && (err = mg_evaluate(&c->mg, &c->book, &v, &w, &r, why)) == RL_OK) {
            reason = r.withdraw_allowed ? REASON_NONE : REASON_UNSAFE;
            mg_result_fini(&r);
        } else if (err == RL_ERR_OVERFLOW) {
            err = RL_OK;
            reason = REASON_UNSAFE;
        }
        if (err != RL_OK)
            return err;
    }
    decision_start(c, a, reason == REASON_NONE ? DECISION_WITHDRAW_OK : DECISION_WITHDRAW_REFUSED, &fig);
    c->d.reason = reason;
    request_key(c->d.request, q->venue, q->nonce);
    if (reason == REASON_NONE && (err = u256_add(&h->reserved, &h->reserved, &q->amount)) != RL_OK)
        return rl_fail(why, err, "record %llu: reservation overflows", (unsigned long long)c->seq);
    decide(c);
    /* An approval lowers equity (never below IM): the status may move. */
    return reason == REASON_NONE ? evaluate(c, a, why) : RL_OK;
}

/* A withdrawal the admission rules refuse (admit.h): a logged refusal, nothing else changes. */
static void refuse_request(calc *c, const struct acct *a, const request *q, uint8_t reason)
{
    mg_figures none = {0};
    c->st.withdrawals++;
    decision_start(c, a, DECISION_WITHDRAW_REFUSED, &none);
    c->d.reason = reason;
    request_key(c->d.request, q->venue, q->nonce);
    decide(c);
}

static rl_err on_request(calc *c, const record *r, rl_why *why)
{
    request q;
    rl_why w = {{0}};
    rl_err err = request_decode(&q, r->payload, r->payload_len, why);
    if (err != RL_OK)
        return err;
    const struct acct *known = acct_find(c, q.account);
    admit_verdict v = admit_request(c->set, c->cluster, &q, c->now_ms, known ? known->owner_nonce : 0, &w);
    if (v != ADMIT_OK) {
        c->st.requests_refused++;
        note(c, q.kind == REQUEST_POSITION ? "position request not applied" : "withdrawal request refused", w.text);
        if (q.kind == REQUEST_POSITION)
            return RL_OK;
    }
    struct acct *a = acct_get(c, q.account);
    if (a == NULL)
        return RL_ERR_NOMEM;
    if (v != ADMIT_OK) {
        refuse_request(c, a, &q, v == ADMIT_VENUE_KEY ? REASON_VENUE_KEY : REASON_OWNER_SIGNATURE);
        return RL_OK;
    }
    if (q.kind == REQUEST_POSITION) {
        admit_positions_apply(&a->pos, &q);
        return on_position(c, a, &q, why);
    }
    a->owner_nonce = q.owner_nonce; /* A5: used, whatever the decision (A6's included) */
    if (admit_request_positions(&q, &a->pos, &w) != ADMIT_OK) {
        c->st.withdrawals_stale++;
        note(c, "withdrawal refused: positions stale", w.text);
        refuse_request(c, a, &q, REASON_POSITIONS_STALE);
        return RL_OK;
    }
    if ((unsigned __int128)q.expiry_s * 1000 < (unsigned __int128)c->now_ms + MG_DEADLINE_MIN_S * 1000) {
        /* instruction.h I2: its release could not carry out the withdrawal before the owner's expiry */
        char text[128];
        snprintf(text, sizeof text, "owner expiry %llu s leaves less than %d s after the record's time %llu ms",
                 (unsigned long long)q.expiry_s, MG_DEADLINE_MIN_S, (unsigned long long)c->now_ms);
        note(c, "withdrawal refused: owner expiry too close", text);
        refuse_request(c, a, &q, REASON_OWNER_EXPIRY);
        return RL_OK;
    }
    return on_withdraw(c, a, &q, why);
}

rl_err calc_apply(calc *c, const uint8_t *enc, size_t len, rl_why *why)
{
    record r;
    rl_err err = record_decode(&r, enc, len, why);
    if (err != RL_OK)
        return err;
    if (r.seq != c->seq + 1)
        return rl_fail(why, RL_ERR_SEQ, "calculator: record %llu after %llu", (unsigned long long)r.seq,
                       (unsigned long long)c->seq);
    c->seq = r.seq;
    c->now_ms = r.time_ms;
    c->epoch++;
    c->st.records++;
    /* Overdue first, so that the record's own evaluations plan around the chains it marks. */
    if ((err = overdue_scan(c)) != RL_OK)
        return err;
    switch (r.type) {
    case RECORD_SET: err = on_set(c, &r, why); break;
    case RECORD_ATTEST: err = on_attest(c, &r, why); break;
    case RECORD_INSTRUCTION: err = on_instruction(c, &r, why); break;
    case RECORD_PRICE: err = on_price(c, &r, why); break;
    case RECORD_REQUEST: err = on_request(c, &r, why); break;
    default: break; /* conflicts credit nothing; decisions are outputs, not inputs */
    }
    /* Accounts the record did not evaluate: at most one decision per account and record. */
    for (size_t i = 0; i < c->nreplans && err == RL_OK; i++)
        err = evaluate(c, c->accts[c->replans[i]], why);
    return err;
}

/* ---- query ---- */

static json_t *usd(i128 v)
{
    char b[FIXED_STR_MAX];
    return json_string(fixed_format_i128(v, FIXED_U_DIGITS, true, b));
}

json_t *calc_account_json(calc *c, const uint8_t addr[EVM_ADDR_BYTES])
{
    struct acct *a = acct_find(c, addr);
    if (a == NULL)
        return NULL;
    char hex[43], b1[FIXED_STR_MAX], b2[FIXED_STR_MAX];
    json_t *holds = json_array(), *poss = json_array();
    for (size_t i = 0; i < a->nh; i++) {
        const struct hold *h = &a->h[i];
        const mg_asset *as = &c->book.assets[h->asset];
        json_array_append_new(holds, json_pack("{s:s, s:s, s:s, s:s}", "chain", c->book.chains[h->chain], "asset",
                                               as->name, "amount", fixed_format_base(&h->amount, as->decimals, b1),
                                               "reserved", fixed_format_base(&h->reserved, as->decimals, b2)));
    }
    for (size_t i = 0; i < a->np; i++) {
        const struct pos *p = &a->p[i];
        json_array_append_new(poss, json_pack("{s:s, s:s, s:s}", "market", p->name, "size",
                                               fixed_format_i128(p->size_e18, FIXED_E18_DIGITS, false, b1), "entry",
                                               fixed_format_i128(p->entry_e18, FIXED_E18_DIGITS, false, b2)));
    }
    mg_figures fig;
    bool fresh;
    rl_why why = {{0}};
    json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:s, s:I}", "account", evm_addr_to_checksum(a->addr, hex), "mode",
                          a->mode == MG_PORTFOLIO ? "portfolio" : "cross", "collateral", holds, "positions", poss,
                          "decided_status", mg_status_name((mg_status)a->status), "as_of_seq", (json_int_t)c->seq);
    if (j == NULL)
        return NULL;
    char nonce[24]; /* a string: owner nonces may pass 2^53 */
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)a->owner_nonce);
    json_object_set_new(j, "owner_nonce", json_string(nonce)); /* the next withdrawal's must be above it */
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)a->pos.nonce);
    json_object_set_new(j, "positions_nonce", json_string(nonce)); /* a withdrawal names it (admit.h A6) */
    if (a->pos.any) {
        char key[2 * ED25519_PK_BYTES + 1];
        json_object_set_new(j, "positions_venue", json_string(hex_encode(key, a->pos.venue, ED25519_PK_BYTES)));
    }
    if (figures(c, a, &fig, &fresh, &why) == RL_OK) {
        json_object_set_new(j, "equity", usd(fig.equity_u));
        json_object_set_new(j, "initial_margin", usd(fig.im_u));
        json_object_set_new(j, "maintenance_margin", usd(fig.mm_u));
        json_object_set_new(j, "status", json_string(mg_status_name(fig.status)));
        json_object_set_new(j, "prices_fresh", json_boolean(fresh));
    } else {
        json_object_set_new(j, "error", json_string(why.text));
    }
    return j;
}

const mg_risk *calc_risk(const calc *c) { return c->risk; }
