/*
 * admit.c - the request admission rules A1..A6 (admit.h).
 */
#include "attest/admit.h"

#include <stdio.h>
#include <string.h>

#include "attest/hex.h"

void admit_owner_withdrawal(owner_withdrawal *out, const request *q)
{
    memset(out, 0, sizeof *out);
    memcpy(out->account, q->account, EVM_ADDR_BYTES);
    out->chain_id = q->chain_id;
    memcpy(out->asset, q->asset, EVM_ADDR_BYTES);
    out->amount = q->amount;
    memcpy(out->recipient, q->recipient, EVM_ADDR_BYTES);
    out->nonce = q->owner_nonce;
    out->expiry_s = q->expiry_s;
}

json_t *admit_owner_typed_data(const request *q, const uint8_t cluster[HASH_BYTES])
{
    char account[43], asset[43], recipient[43], amount[U256_DEC_MAX], chain[24], nonce[24], expiry[24];
    char salt[2 + 2 * HASH_BYTES + 1] = "0x";
    hex_encode(salt + 2, cluster, HASH_BYTES);
    snprintf(chain, sizeof chain, "%llu", (unsigned long long)q->chain_id);
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)q->owner_nonce);
    snprintf(expiry, sizeof expiry, "%llu", (unsigned long long)q->expiry_s);
    return json_pack("{s:{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},"
                     "{s:s,s:s},{s:s,s:s}]}, s:s, s:{s:s,s:s,s:s}, s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s}}",
                     "types", "EIP712Domain", "name", "name", "type", "string", "name", "version", "type", "string",
                     "name", "salt", "type", "bytes32", "Withdrawal", "name", "account", "type", "address", "name",
                     "chainId", "type", "uint64", "name", "asset", "type", "address", "name", "amount", "type",
                     "uint256", "name", "recipient", "type", "address", "name", "nonce", "type", "uint64", "name",
                     "expiry", "type", "uint64", "primaryType", "Withdrawal", "domain", "name", EIP712_OWNER_NAME,
                     "version", EIP712_OWNER_VERSION, "salt", salt, "message", "account",
                     evm_addr_to_hex(q->account, account), "chainId", chain, "asset", evm_addr_to_hex(q->asset, asset),
                     "amount", u256_to_dec(&q->amount, amount), "recipient", evm_addr_to_hex(q->recipient, recipient),
                     "nonce", nonce, "expiry", expiry);
}

rl_err admit_cluster_id(uint8_t out[HASH_BYTES], const relset *genesis) { return relset_digest(genesis, out); }

rl_err admit_owner_sign(request *q, const uint8_t cluster[HASH_BYTES], const uint8_t secp_sk[SECP256K1_SK_BYTES])
{
    owner_withdrawal w;
    uint8_t digest[HASH_BYTES];
    admit_owner_withdrawal(&w, q);
    eip712_withdrawal_digest(digest, cluster, &w);
    return evm_sign_digest(q->owner_sig, digest, secp_sk);
}

admit_verdict admit_request(const relset *set, const uint8_t cluster[HASH_BYTES], const request *q, uint64_t time_ms,
                            uint64_t last_owner_nonce, rl_why *why)
{
    char a[43], b[43], key[2 * ED25519_PK_BYTES + 1], id[2 * HASH_BYTES + 1];
    if (relset_find_venue(set, q->venue) == NULL) { /* A1 */
        rl_fail(why, RL_ERR_SIGNER, "request by venue key %s not in relayer set v%u",
                hex_encode(key, q->venue, ED25519_PK_BYTES), set->version);
        return ADMIT_VENUE_KEY;
    }
    if (q->kind != REQUEST_WITHDRAW)
        return ADMIT_OK;
    if (q->version != REQUEST_VERSION_OWNER) { /* A2 */
        rl_fail(why, RL_ERR_SIG, "withdrawal without the owner's signature (request version %u)", q->version);
        return ADMIT_OWNER;
    }
    owner_withdrawal w;
    uint8_t digest[HASH_BYTES], signer[EVM_ADDR_BYTES];
    admit_owner_withdrawal(&w, q);
    eip712_withdrawal_digest(digest, cluster, &w);
    if (evm_recover(signer, digest, q->owner_sig) != RL_OK) { /* A3 */
        rl_fail(why, RL_ERR_SIG, "withdrawal owner signature is missing or malformed");
        return ADMIT_OWNER;
    }
    if (memcmp(signer, q->account, EVM_ADDR_BYTES) != 0) {
        rl_fail(why, RL_ERR_SIG,
                "withdrawal owner signature by %s not the account %s (in cluster %s: a signature for another "
                "cluster, of another Withdrawal or by another key)",
                evm_addr_to_hex(signer, a), evm_addr_to_hex(q->account, b), hex_encode(id, cluster, HASH_BYTES));
        return ADMIT_OWNER;
    }
    if ((unsigned __int128)q->expiry_s * 1000 < time_ms) { /* A4 */
        rl_fail(why, RL_ERR_SIG, "withdrawal owner signature expired at %llu s, the record is at %llu ms",
                (unsigned long long)q->expiry_s, (unsigned long long)time_ms);
        return ADMIT_OWNER;
    }
    if (q->owner_nonce <= last_owner_nonce) { /* A5 */
        rl_fail(why, RL_ERR_SIG, "withdrawal owner nonce %llu reused: account %s is at nonce %llu",
                (unsigned long long)q->owner_nonce, evm_addr_to_hex(q->account, a),
                (unsigned long long)last_owner_nonce);
        return ADMIT_OWNER;
    }
    return ADMIT_OK;
}

admit_verdict admit_request_positions(const request *q, const admit_positions *p, rl_why *why)
{
    char key[2 * ED25519_PK_BYTES + 1], a[43];
    if (!p->any) {
        if (q->positions_nonce == 0)
            return ADMIT_OK;
        rl_fail(why, RL_ERR_STATE, "withdrawal for %s names position request %llu, none is applied",
                evm_addr_to_hex(q->account, a), (unsigned long long)q->positions_nonce);
        return ADMIT_POSITIONS;
    }
    if (memcmp(p->venue, q->venue, ED25519_PK_BYTES) != 0) {
        rl_fail(why, RL_ERR_STATE, "withdrawal for %s by a venue key other than %s, which set its positions",
                evm_addr_to_hex(q->account, a), hex_encode(key, p->venue, ED25519_PK_BYTES));
        return ADMIT_POSITIONS;
    }
    if (q->positions_nonce != p->nonce) {
        rl_fail(why, RL_ERR_STATE, "withdrawal for %s names position request %llu, the last applied is %llu",
                evm_addr_to_hex(q->account, a), (unsigned long long)q->positions_nonce, (unsigned long long)p->nonce);
        return ADMIT_POSITIONS;
    }
    return ADMIT_OK;
}

void admit_positions_apply(admit_positions *p, const request *q)
{
    p->any = true;
    memcpy(p->venue, q->venue, ED25519_PK_BYTES);
    p->nonce = q->nonce;
}
