/*
 * fundview.h - the insurance fund and bad debt (attest/fund.h) as `ledger digest`, `audit verify`
 * and `relayer status` show them, in one form: JSON fields and text lines.
 */
#ifndef RL_FUNDVIEW_H
#define RL_FUNDVIEW_H

#include <jansson.h>

#include "attest/fund.h"

/* {"digest", "insurance_holdings", "seizes", "bad_debt_accounts", "bad_debt_usd"}: bad debt in
 * USD with exactly 6 decimals (the decisions' micro-dollars), as a string. New reference. */
json_t *fund_summary_json(const fund_summary *f);
/* Two lines, each starting with `indent`: the fund and the bad debt. */
void fund_summary_print(const fund_summary *f, const char *indent);

/* One insurance holding, one account's bad debt (status). New references. */
json_t *fund_insurance_json(const fund_insurance *e);
json_t *fund_debt_json(const fund_debt *e);

#endif
