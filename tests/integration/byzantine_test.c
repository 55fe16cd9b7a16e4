/*
 * byzantine_test.c - a compromised hub cannot drain an account (issue 14, part A), on a real
 * chain with every piece of the cluster as a process (cluster_harness.h); and an owner's
 * withdrawal signature made by an independent wallet (cast) is what the C code admits.
 *
 * The compromised hub logs anything it likes. The test plays it honestly, without a switch in
 * the shipping code: with the hub stopped, it appends two REQUEST records to the hub's LMDB log
 * through the ledger's own append path (db/ledger.h), signed by the hub operator's own venue key
 * (which no relayer set pins): "size 0" for the trader's position, then "withdraw all 10 ETH to
 * the attacker", with an owner signature by the attacker's key. The hub restarts and publishes
 * them. Expected: the calculator logs the refusal (REASON_VENUE_KEY), no node co-signs, nothing
 * is instructed or bundled, the trader's vault balance is unchanged on chain, and `relayer audit
 * verify` exits 1 naming the first rogue record. The trader's own withdrawal, signed by its
 * wallet with cast, is then approved, co-signed and executed as usual. And (issue 15) a hub that
 * drops the venue's position request cannot get the owner's withdrawal approved past it (A6).
 */
#include <signal.h>

#include "attest/admit.h"
#include "attest/decision.h"
#include "attest/hex.h"
#include "attest/request.h"
#include "relayer/files.h"
#include "tests/cluster_harness.h"
#include "tests/evm_harness.h"
#include "tests/fixture.h"
#include "tests/testutil.h"

#define CHAIN_ID 31741
#define CONFIRMATIONS 1
#define ETH_10 "10000000000000000000"
#define ETH_9 "9000000000000000000"
#define ETH_1 "1000000000000000000"
#define NODE_GAS_WEI "100000000000000000000"
#define INSURANCE "0x1111111111111111111111111111111111110e01"
#define QUIET_MS 3000 /* many co-signer replays and resends */

static cluster c;
static anvil_node l1;
static char *vault;
static const anvil_account *trader;

static void setup(void)
{
    cr_assert(sodium_init() >= 0);
    cluster_init(&c);
    anvil_start(&l1, CHAIN_ID, 0);
    vault = cluster_deploy_vault(&c, &l1);
    trader = &l1.dev[5];
    cluster_fund_nodes(&c, &l1, NODE_GAS_WEI);
    cluster_chain ch = cluster_chain_of("l1", &l1, vault, CONFIRMATIONS);
    char *risk = NULL;
    cr_assert(asprintf(&risk,
                       "{\"chains\": {\"l1\": {\"chain_id\": %d, \"vault\": \"%s\", \"insurance\": \"%s\"}},\n"
                       " \"assets\": {\"ETH\": {\"decimals\": 18, \"haircut\": \"0.10\", \"seize_priority\": 1,\n"
                       "                       \"tokens\": {\"l1\": \"%s\"}}},\n"
                       " \"markets\": {\"ETH-PERP\": {\"feed\": \"ETH\", \"tiers\": [{\"from\": \"0\", \"imf\": "
                       "\"0.05\", \"mmf\": \"0.03\"}]}},\n"
                       " \"prices\": {\"max_deviation\": \"0.02\", \"max_age_ms\": 600000}}\n",
                       CHAIN_ID, vault, INSURANCE, CLUSTER_NATIVE) > 0);
    cluster_pipeline p = {.risk = risk, .takeover_ms = 1500, .retry_ms = 500, .confirmations = 1};
    cluster_configure_pipeline(&c, &ch, 1, &p);
    free(risk);
}

static void teardown(void)
{
    cluster_fini(&c);
    anvil_stop(&l1);
    free(vault);
    vault = NULL;
}

TestSuite(byzantine, .init = setup, .fini = teardown, .timeout = 150);

static char *vault_balance(void)
{
    char *out = cast_call(&l1, vault, "balanceOf(address,address)(uint256)", trader->address, CLUSTER_NATIVE, NULL);
    out[strcspn(out, " ")] = '\0';
    return out;
}

/* Signs q with the rogue venue key and appends it to the stopped hub's log, as the hub would
 * have logged it: the ledger's own append path. Returns its sequence number. */
static uint64_t rogue_append(store *s, request *q, node_key *rogue)
{
    uint8_t body[REQUEST_MAX_BYTES], *enc;
    size_t len, elen;
    rl_why why = {{0}};
    memcpy(q->venue, node_key_pub(rogue)->ed25519, ED25519_PK_BYTES);
    cr_assert_eq(request_sign(body, &len, q, rogue, &why), RL_OK, "%s", why.text);
    uint64_t seq = fx_encode_next(s, RECORD_REQUEST, body, len, tu_now_ms(), &enc, &elen);
    cr_assert_eq(fx_append(s, enc, elen, &why), RL_OK, "the ledger refused the rogue record: %s", why.text);
    free(enc);
    return seq;
}

struct seen {
    decision d[4];
    size_t n;
};

static void keep_decision(const record *r, void *ctx)
{
    struct seen *s = ctx;
    cr_assert_lt(s->n, 4);
    cr_assert_eq(decision_decode(&s->d[s->n++], r->payload, r->payload_len, NULL), RL_OK);
}

/* The first decision, once logged, is a withdrawal refused for `reason` (seen keeps the decisions);
 * after a quiet spell nothing is instructed or bundled and the trader's 10 ETH are in the vault. */
static void refused_and_nothing_moves(struct seen *seen, uint8_t reason)
{
    cluster_await_records(&c, RECORD_DECISION, 1);
    cluster_hub_records(&c, RECORD_DECISION, keep_decision, seen);
    cr_assert_eq(seen->d[0].kind, DECISION_WITHDRAW_REFUSED, "the withdrawal was decided %s",
                 decision_kind_name(seen->d[0].kind));
    cr_assert_eq(seen->d[0].reason, reason, "refused for %s", decision_reason_name(seen->d[0].reason));
    tu_sleep_ms(QUIET_MS);
    cr_assert_eq(cluster_hub_records(&c, RECORD_INSTRUCTION, NULL, NULL), 0, "an instruction was logged");
    cr_assert_eq(cluster_hub_records(&c, RECORD_BUNDLE, NULL, NULL), 0, "a bundle was logged");
    char *balance = vault_balance();
    cr_assert_str_eq(balance, ETH_10, "the trader's vault balance moved to %s", balance);
    free(balance);
}

/* The cluster up, the trader's 10 ETH credited and ETH priced at 3000 by a quorum. */
static void start_funded_and_priced(void)
{
    cluster_start(&c);
    cast_deposit_native(&l1, trader, vault, ETH_10, CONFIRMATIONS);
    cluster_await_hub(&c, 1, 0);
    cluster_price(&c, "ETH", "3000");
    cluster_await_records(&c, RECORD_PRICE, 1);
}

Test(byzantine, a_hub_logging_its_own_venue_keys_requests_cannot_close_positions_or_drain_the_account)
{
    start_funded_and_priced();
    char args[512];
    snprintf(args, sizeof args, "position --account %s --market ETH-PERP --size 2 --entry 3000", trader->address);
    uint64_t position_nonce = cluster_venue(&c, args);

    /* The compromised hub: its operator's own venue key, and its own address to be paid. */
    node_key *rogue;
    rl_why why = {{0}};
    cr_assert_eq(node_key_generate(&rogue, "rogue", &why), RL_OK);
    cluster_stop_hub(&c, SIGTERM);
    char hub_dir[600];
    snprintf(hub_dir, sizeof hub_dir, "%s/hub", c.dir);
    store *s;
    cr_assert_eq(store_open(&s, hub_dir, NULL, &why), RL_OK, "%s", why.text);
    request close = {.kind = REQUEST_POSITION, .nonce = 1, .mode = REQUEST_MODE_CROSS};
    snprintf(close.market, sizeof close.market, "ETH-PERP");
    cr_assert_eq(hex_decode(close.account, EVM_ADDR_BYTES, trader->address, "trader", NULL), RL_OK);
    uint64_t close_seq = rogue_append(s, &close, rogue);
    request drain = {.kind = REQUEST_WITHDRAW, .nonce = 2, .chain_id = CHAIN_ID, .owner_nonce = 1,
                     .expiry_s = tu_now_ms() / 1000 + 3600};
    memcpy(drain.account, close.account, EVM_ADDR_BYTES);
    cr_assert_eq(u256_from_dec(&drain.amount, ETH_10, NULL), RL_OK);
    memcpy(drain.recipient, node_key_pub(rogue)->evm, EVM_ADDR_BYTES);
    relset genesis;
    uint8_t cluster_id[HASH_BYTES];
    char *relayers = NULL;
    cr_assert(asprintf(&relayers, "%s/relayers.json", c.dir) > 0);
    cr_assert_eq(relset_load(relayers, &genesis, &why), RL_OK, "%s", why.text);
    free(relayers);
    cr_assert_eq(admit_cluster_id(cluster_id, &genesis), RL_OK);
    cr_assert_eq(admit_owner_sign(&drain, cluster_id, node_key_secp256k1_secret(rogue)), RL_OK);
    uint64_t drain_seq = rogue_append(s, &drain, rogue);
    store_close(s);
    cluster_start_hub(&c);

    /* The calculator's answer is logged: refused, for the venue key. */
    struct seen seen = {0};
    refused_and_nothing_moves(&seen, REASON_VENUE_KEY);
    cr_assert_eq(seen.d[0].basis, drain_seq);
    cr_assert_eq(cluster_hub_records(&c, RECORD_DECISION, NULL, NULL), 1, "the rogue 'size 0' moved the account");

    /* The auditor: the log verifies record by record except that it holds requests the hub should
     * never have logged; verify exits 1 naming the first. */
    char *out = NULL, key[2 * ED25519_PK_BYTES + 1], want[200];
    snprintf(want, sizeof want, "FAILED at record %llu: request by venue key %s not in relayer set v1",
             (unsigned long long)close_seq, hex_encode(key, node_key_pub(rogue)->ed25519, ED25519_PK_BYTES));
    int rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog > /dev/null && %s audit verify log.rlog "
                          "--relayers relayers.json",
                    c.dir, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 1, "audit verify: exit %d: %s", rc, out);
    cr_assert(strstr(out, want) != NULL, "audit verify does not name the rogue request: %s", out);
    free(out);

    /* The trader's own withdrawal, signed by its wallet (cast): approved, co-signed, executed. */
    snprintf(args, sizeof args, "--account %s --chain-id %d --asset %s --amount %s --recipient %s", trader->address,
             CHAIN_ID, CLUSTER_NATIVE, ETH_1, trader->address);
    cluster_withdraw(&c, trader, position_nonce, args); /* the rogue "size 0" was not applied (A1) */
    cluster_await_records(&c, RECORD_DECISION, 2);
    cluster_await_records(&c, RECORD_BUNDLE, 1);
    memset(&seen, 0, sizeof seen);
    cluster_hub_records(&c, RECORD_DECISION, keep_decision, &seen);
    cr_assert_eq(seen.d[1].kind, DECISION_WITHDRAW_OK, "the owner's withdrawal was decided %s (%s)",
                 decision_kind_name(seen.d[1].kind), decision_reason_name(seen.d[1].reason));
    uint64_t t0 = tu_now_ms();
    char *balance;
    for (;;) {
        balance = vault_balance();
        if (strcmp(balance, ETH_9) == 0)
            break;
        cr_assert(tu_now_ms() - t0 < CLUSTER_WAIT_MS, "the vault still holds %s for the trader", balance);
        free(balance);
        tu_sleep_ms(200);
    }
    free(balance);
    node_key_free(rogue);
}

/* Issue 15: the compromised hub drops the venue's position request (a 20 ETH-PERP long the venue
 * signed and sent with its nonce) and logs the owner's genuine withdrawal of all 10 ETH. Owner
 * signature and venue key are both right; the withdrawal names the venue's last position nonce,
 * which the calculator never applied (admit.h A6): refused, no node co-signs, nothing moves, and
 * the log verifies (a refusal, not a bad record). Logged late, the position applies and the same
 * withdrawal, bound right, is refused on its margin. */
Test(byzantine, a_hub_that_drops_the_venues_position_request_cannot_get_the_owners_withdrawal_co_signed)
{
    start_funded_and_priced();
    uint64_t dropped = tu_now_ms() * 1000; /* the venue's nonce for the position the hub dropped */
    char args[512];
    snprintf(args, sizeof args, "--account %s --chain-id %d --asset %s --amount %s --recipient %s", trader->address,
             CHAIN_ID, CLUSTER_NATIVE, ETH_10, trader->address);
    cluster_withdraw(&c, trader, dropped, args);
    struct seen seen = {0};
    refused_and_nothing_moves(&seen, REASON_POSITIONS_STALE);

    char pos[256];
    snprintf(pos, sizeof pos, "position --account %s --market ETH-PERP --size 20 --entry 3000 --nonce %llu",
             trader->address, (unsigned long long)dropped);
    cr_assert_eq(cluster_venue(&c, pos), dropped);
    cluster_withdraw(&c, trader, dropped, args);
    cluster_await_records(&c, RECORD_DECISION, 2);
    memset(&seen, 0, sizeof seen);
    cluster_hub_records(&c, RECORD_DECISION, keep_decision, &seen);
    cr_assert_eq(seen.n, 2, "%zu decisions", seen.n);
    cr_assert_eq(seen.d[1].kind, DECISION_WITHDRAW_REFUSED);
    cr_assert_eq(seen.d[1].reason, REASON_UNSAFE, "refused for %s", decision_reason_name(seen.d[1].reason));

    char *out = NULL;
    int rc = tu_run(&out, "cd %s && %s audit export --db hub --out log.rlog > /dev/null && %s audit verify log.rlog "
                          "--relayers relayers.json",
                    c.dir, RELAYER_BIN, RELAYER_BIN);
    cr_assert_eq(rc, 0, "audit verify: exit %d: %s", rc, out);
    free(out);
}

/* The genesis set of `f` written as relayers.json in directory dir; returns the file's path
 * (malloc'd). */
static char *write_relayers(const fixture *f, const char *dir)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/relayers.json", dir) > 0);
    json_t *j = relset_to_json(&f->set);
    cr_assert_eq(json_dump_file(j, path, JSON_INDENT(2)), 0);
    json_decref(j);
    return path;
}

/* Not a cluster: the typed data `relayer venue withdraw --print-typed-data` prints for a cluster
 * (--relayers: its genesis set, whose digest is the domain's salt), signed by cast (an independent
 * EIP-712 implementation), is a signature the admission rules accept in that cluster and in no
 * other. */
Test(owner_wallet, a_signature_cast_makes_from_the_printed_typed_data_is_admitted_in_that_cluster_only)
{
    anvil_account owner = {.key = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"};
    char *addr = cast_ok("wallet", "address", "--private-key", owner.key, NULL);
    snprintf(owner.address, sizeof owner.address, "%s", addr);
    free(addr);
    fixture f, other;
    fx_init(&f, 1, 1);
    fx_init(&other, 3, 2);
    char *dir = tu_tmpdir(), *relayers = write_relayers(&f, dir), *typed = NULL;
    int rc = tu_run(&typed,
                    "%s venue withdraw --print-typed-data --account %s --chain-id 42161 --asset "
                    "0xaf88d065e77c8cc2239327c5edb3a432268e5831 --amount 123456789 --recipient "
                    "0x3333333333333333333333333333333333333333 --owner-nonce 1733616000123 --expiry-s 4102444800 "
                    "--relayers %s",
                    RELAYER_BIN, owner.address, relayers);
    cr_assert_eq(rc, 0, "%s", typed);
    char *sig = cast_sign_typed(&owner, typed);
    uint8_t id[HASH_BYTES], other_id[HASH_BYTES];
    cr_assert_eq(admit_cluster_id(id, &f.set), RL_OK);
    cr_assert_eq(admit_cluster_id(other_id, &other.set), RL_OK);
    request q = {.version = REQUEST_VERSION_OWNER, .kind = REQUEST_WITHDRAW, .chain_id = 42161,
                 .amount = u256_from_u64(123456789), .owner_nonce = 1733616000123ull, .expiry_s = 4102444800ull};
    memcpy(q.venue, node_key_pub(f.keys[1])->ed25519, ED25519_PK_BYTES);
    cr_assert_eq(hex_decode(q.account, EVM_ADDR_BYTES, owner.address, "account", NULL), RL_OK);
    cr_assert_eq(hex_decode(q.asset, EVM_ADDR_BYTES, "0xaf88d065e77c8cc2239327c5edb3a432268e5831", "asset", NULL),
                 RL_OK);
    memset(q.recipient, 0x33, EVM_ADDR_BYTES);
    cr_assert_eq(hex_decode(q.owner_sig, EVM_SIG_BYTES, sig, "cast's signature", NULL), RL_OK);
    rl_why why = {{0}};
    cr_assert_eq(admit_request(&f.set, id, &q, 1733616000123ull, 0, &why), ADMIT_OK, "%s", why.text);
    /* another cluster (another genesis set) that pins the same venue key: the signer recovered
     * there is someone else */
    cr_assert_eq(admit_request(&f.set, other_id, &q, 1733616000123ull, 0, &why), ADMIT_OWNER);
    cr_assert(strstr(why.text, "not the account") != NULL, "%s", why.text);
    /* one unit more and it is another Withdrawal: the signer recovered is someone else */
    q.amount = u256_from_u64(123456790);
    cr_assert_eq(admit_request(&f.set, id, &q, 1733616000123ull, 0, &why), ADMIT_OWNER);
    free(sig);
    free(typed);
    free(relayers);
    tu_rmdir(dir);
    fx_fini(&other);
    fx_fini(&f);
}
