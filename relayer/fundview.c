/*
 * fundview.c - showing the insurance fund and bad debt (fundview.h).
 */
#include "relayer/fundview.h"

#include <stdio.h>

#include "attest/hex.h"
#include "collateral/fixed.h"

json_t *fund_summary_json(const fund_summary *f)
{
    char dh[2 * HASH_BYTES + 1], usd[FIXED_STR_MAX];
    return json_pack("{s:s, s:I, s:I, s:I, s:s}", "digest", hex_encode(dh, f->digest, HASH_BYTES),
                     "insurance_holdings", (json_int_t)f->insurance_holdings, "seizes", (json_int_t)f->seizes,
                     "bad_debt_accounts", (json_int_t)f->debt_accounts, "bad_debt_usd",
                     fixed_format_i128(f->debt_u, FIXED_U_DIGITS, true, usd));
}

void fund_summary_print(const fund_summary *f, const char *indent)
{
    char dh[2 * HASH_BYTES + 1], usd[FIXED_STR_MAX];
    printf("%sinsurance   %llu holdings from %llu settled seizes (digest of fund and bad debt %s)\n", indent,
           (unsigned long long)f->insurance_holdings, (unsigned long long)f->seizes,
           hex_encode(dh, f->digest, HASH_BYTES));
    printf("%sbad debt    %s USD over %llu accounts (not covered by the fund: the venue settles it)\n", indent,
           fixed_format_i128(f->debt_u, FIXED_U_DIGITS, true, usd), (unsigned long long)f->debt_accounts);
}

json_t *fund_insurance_json(const fund_insurance *e)
{
    char asset[43], amount[U256_DEC_MAX];
    return json_pack("{s:I, s:s, s:s, s:I}", "chain_id", (json_int_t)e->chain_id, "asset",
                     evm_addr_to_checksum(e->asset, asset), "amount", u256_to_dec(&e->amount, amount), "seizes",
                     (json_int_t)e->seizes);
}

json_t *fund_debt_json(const fund_debt *e)
{
    char account[43], total[FIXED_STR_MAX], closed[FIXED_STR_MAX], open[FIXED_STR_MAX];
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "account", evm_addr_to_checksum(e->account, account),
                     "bad_debt_usd", fixed_format_i128(fund_debt_total(e), FIXED_U_DIGITS, true, total),
                     "closed_usd", fixed_format_i128(e->closed_u, FIXED_U_DIGITS, true, closed), "open_usd",
                     fixed_format_i128(e->open_u, FIXED_U_DIGITS, true, open), "open_seq", (json_int_t)e->open_seq);
}
