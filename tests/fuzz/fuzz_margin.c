/* fuzz_margin.c - the what-if margin query: any bytes are refused with a reason or evaluated, and
 * what is evaluated is consistent (status agrees with the figures, seizes only when liquidatable). */
#include <jansson.h>
#include <string.h>

#include "collateral/margin.h"
#include "collateral/spec.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (root == NULL)
        return 0;
    mg_spec s;
    rl_why why = {{0}};
    rl_err err = mg_spec_parse(root, &s, &why);
    json_decref(root);
    if (err != RL_OK) {
        fuzz_require(why.text[0] != '\0', "query refused without a reason");
        return 0;
    }
    mg_ctx ctx;
    fuzz_require(mg_ctx_init(&ctx, &s.book) == RL_OK, "no context for a small book");
    mg_result r;
    err = mg_evaluate(&ctx, &s.book, &s.account, s.has_withdraw ? &s.withdraw : NULL, &r, &why);
    if (err == RL_OK) {
        const mg_figures *f = &r.fig;
        mg_status want = f->equity_u < f->mm_u ? MG_LIQUIDATABLE : f->equity_u < f->im_u ? MG_MARGIN_CALL : MG_HEALTHY;
        if (s.account.mode != MG_ISOLATED)
            fuzz_require(f->status == want, "status disagrees with the figures");
        fuzz_require(f->mm_u <= f->im_u || s.account.mode == MG_PORTFOLIO, "maintenance above initial margin");
        fuzz_require(r.nseize == 0 || f->status == MG_LIQUIDATABLE, "a seize plan for a solvent account");
        fuzz_require(r.bad_debt_u >= 0 && r.owed_u >= 0, "negative debt");
        json_t *out = mg_result_to_json(&s, &r);
        fuzz_require(out != NULL, "no JSON for an evaluated query");
        json_decref(out);
        mg_result_fini(&r);
    } else {
        fuzz_require(err == RL_ERR_OVERFLOW && why.text[0] != '\0', "evaluation failed without an overflow reason");
    }
    mg_ctx_fini(&ctx);
    mg_spec_fini(&s);
    return 0;
}
