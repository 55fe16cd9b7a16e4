/*
 * evm_harness.h - real local EVM chains for the integration tests. anvil (foundry's node, from
 * the project's node_modules: scripts/npm-deps.sh) runs on a free loopback port; contracts are
 * deployed from build/contracts/NAME.json (`make contracts`); transactions, calls, JSON-RPC and
 * signatures go through cast, foundry's command-line client. cast is an implementation of ABI,
 * EIP-712 and secp256k1 independent of the relayer's C code, so a test where the two agree
 * proves something; nothing here signs with the relayer's own keys or code.
 *
 * Every helper asserts (Criterion) on an unexpected failure. A test starts one node per chain in
 * its .init and stops it in its .fini, which Criterion runs also when the test fails; a test
 * process that dies outright takes its anvil with it (PR_SET_PDEATHSIG).
 *
 *     static anvil_node chain;
 *     static void up(void)   { anvil_start(&chain, 31337, 0); }
 *     static void down(void) { anvil_stop(&chain); }
 *     TestSuite(vault, .init = up, .fini = down);
 *
 *     char *token = cast_deploy(&chain, &chain.dev[0], "TestToken",
 *                               "constructor(string,string,uint8)", "USD Coin", "USDC", "6", NULL);
 *     json_t *receipt = cast_send_ok(&chain, &chain.dev[0], token, NULL,
 *                                    "mint(address,uint256)", chain.dev[1].address, "1000", NULL);
 *     char *bal = cast_call(&chain, token, "balanceOf(address)(uint256)", chain.dev[1].address, NULL);
 *
 * Argument lists end with NULL. Arguments are cast's: decimal or 0x-hex numbers, 0x addresses,
 * tuples "(1,0xabc..,2)", arrays "[0x..,0x..]". Returned strings and JSON are the caller's to
 * free (free, json_decref).
 */
#ifndef RL_EVM_HARNESS_H
#define RL_EVM_HARNESS_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>

#define ANVIL_DEV_ACCOUNTS 10
#define EVM_ADDRESS_CHARS 42 /* "0x" + 40 hex digits */
#define EVM_KEY_CHARS 66     /* "0x" + 64 hex digits */

/* One of anvil's funded development accounts (from its --config-out file): lower-case hex. */
typedef struct anvil_account {
    char address[EVM_ADDRESS_CHARS + 1];
    char key[EVM_KEY_CHARS + 1];
} anvil_account;

typedef struct anvil_node {
    pid_t pid; /* 0 when not running */
    uint64_t chain_id;
    unsigned port;
    char rpc_url[48];                       /* http://127.0.0.1:PORT */
    char *dir;                              /* anvil.log and anvil.json; removed by anvil_stop */
    anvil_account dev[ANVIL_DEV_ACCOUNTS]; /* each funded with 10 000 ether */
} anvil_node;

/* Starts anvil on 127.0.0.1 with chain id chain_id, on a port the kernel picks (anvil is given
 * port 0 and its "Listening on" line is read back, so parallel tests never race for a port).
 * block_time_s 0 mines a block per transaction (a send returns its receipt at once); otherwise
 * a block every block_time_s seconds. Returns once eth_chainId answers chain_id. */
void anvil_start(anvil_node *n, uint64_t chain_id, unsigned block_time_s);

/* The same with anvil's --slots-in-an-epoch (0: anvil's default, 32). anvil answers the
 * `finalized` block tag with the head minus two epochs (saturating at block 0) and `safe` with the
 * head minus one: with 1 slot, `finalized` is two blocks behind the head (anvil 1.7.1, checked by
 * faults_test.c). */
void anvil_start_epoch(anvil_node *n, uint64_t chain_id, unsigned block_time_s, unsigned slots_in_an_epoch);

/* Kills anvil and reaps it, removes its directory. Safe to call twice, or after a failed start. */
void anvil_stop(anvil_node *n);

/* Runs cast with the given arguments (NULL-terminated). Returns cast's exit status; *out and *err
 * (either may be NULL) receive its stdout and stderr, trailing white space removed. */
int cast_run(char **out, char **err, const char *arg, ...) __attribute__((sentinel));

/* cast ARGS... that must succeed; returns its stdout. */
char *cast_ok(const char *arg, ...) __attribute__((sentinel));

/* eth_call of sig on to, e.g. "balanceOf(address)(uint256)": the decoded return value(s) as cast
 * prints them (for a uint256, the decimal; large ones get a " [1e18]" suffix: use cast_call_u64
 * or compare the prefix). */
char *cast_call(const anvil_node *n, const char *to, const char *sig, ...) __attribute__((sentinel));

/* The same for a uint256 return value that fits in 64 bits. */
uint64_t cast_call_u64(const anvil_node *n, const char *to, const char *sig, ...) __attribute__((sentinel));

/* from signs and sends a transaction calling sig(args...) on to, with value_wei (decimal; NULL
 * for none); sig NULL sends no calldata (write NULL, NULL: the list still ends with NULL). Returns 0 once it is mined with status 1, and its receipt in *receipt (may be
 * NULL). Otherwise non-zero, with cast's message in *err (may be NULL): for a revert it holds the
 * revert data, "custom error 0xSELECTOR...". */
int cast_send(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
              json_t **receipt, char **err, const char *sig, ...) __attribute__((sentinel));

/* cast_send that must succeed; returns the receipt. */
json_t *cast_send_ok(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
                     const char *sig, ...) __attribute__((sentinel));

/* cast_send that must revert with the custom error error_sig (e.g. "NonceUsed(uint256)"),
 * checked by its selector. Returns nothing: a success or another error fails the test. */
void cast_send_reverts(const anvil_node *n, const anvil_account *from, const char *to, const char *value_wei,
                       const char *error_sig, const char *sig, ...) __attribute__((sentinel));

/* Deploys build/contracts/NAME.json from `from`, with constructor arguments (for a constructor
 * that takes none: ctor_sig NULL, then the closing NULL). Returns the contract's address. */
char *cast_deploy(const anvil_node *n, const anvil_account *from, const char *name, const char *ctor_sig, ...)
    __attribute__((sentinel));

/* cast_deploy that must revert with the custom error error_sig. */
void cast_deploy_reverts(const anvil_node *n, const anvil_account *from, const char *name, const char *error_sig,
                         const char *ctor_sig, ...) __attribute__((sentinel));

/* CollateralVault's constructor and setLimits (bridges/evm/contracts/CollateralVault.sol). */
#define VAULT_CTOR_SIG "constructor(address[],uint256,address[],uint256[])"
#define VAULT_SET_LIMITS_SIG "setLimits(address[],uint256[],uint256,bytes[])"
/* The limits the deployers below install: the native coin allowed from 1 wei, no token allowed. */
#define VAULT_NATIVE_ONLY_ASSETS "[0x0000000000000000000000000000000000000000]"
#define VAULT_NATIVE_ONLY_MINIMUMS "[1]"

/* Deploys CollateralVault (from `from`) whose signer set is the dev accounts first..first+count-1,
 * sorted ascending by address as the vault requires, into set[count], with threshold. Returns
 * the vault's address. */
char *cast_deploy_vault(const anvil_node *n, const anvil_account *from, size_t first, size_t count,
                        unsigned threshold, const anvil_account **set);

/* Deploys CollateralVault (from `from`) whose signers are the given addresses (any case; count at
 * most 32), which it sorts ascending as the vault requires. Returns the vault's address. */
char *cast_deploy_vault_for(const anvil_node *n, const anvil_account *from, const char *const *signers, size_t count,
                            unsigned threshold);

/* The same with the first limits given: assets and minimums as cast array literals, assets
 * ascending ("[0x0000..0000,0xTOKEN]", "[1,1000]"). */
char *cast_deploy_vault_with(const anvil_node *n, const anvil_account *from, const char *const *signers, size_t count,
                             unsigned threshold, const char *assets, const char *minimums);

/* "[sig,...]": each of signers (in the order given) signs the vault's own limitsDigest(assets,
 * minimums, version), as setLimits checks it. */
char *cast_limits_signatures(const anvil_node *n, const char *vault, const anvil_account *const *signers, size_t count,
                             const char *assets, const char *minimums, uint64_t version);

/* setLimits(assets, minimums, limitsVersion() + 1) signed by signers (ascending, a quorum), sent
 * by `from`; must succeed. */
void cast_vault_set_limits(const anvil_node *n, const anvil_account *from, const char *vault,
                           const anvil_account *const *signers, size_t count, const char *assets, const char *minimums);

/* A trader's deposits as a wallet makes them, for `from` itself, each followed by `confirm` mined
 * blocks: depositNative(from) with value wei; for a TestToken, mint(from, units), approve(vault,
 * units) and deposit(token, from, units). */
void cast_deposit_native(const anvil_node *n, const anvil_account *from, const char *vault, const char *wei,
                         unsigned confirm);
void cast_deposit_token(const anvil_node *n, const anvil_account *from, const char *vault, const char *token,
                        const char *units, unsigned confirm);

/* A raw JSON-RPC request, e.g. cast_rpc(n, "evm_increaseTime", "3600", NULL); returns the result
 * as JSON text. */
char *cast_rpc(const anvil_node *n, const char *method, ...) __attribute__((sentinel));

/* 65-byte r||s||v signature (0x + 130 hex digits, v 27/28) by `who` over a 32-byte digest
 * (0x + 64 hex digits), signed as is (`cast wallet sign --no-hash`). */
char *cast_sign_digest(const anvil_account *who, const char *digest);

/* The same over EIP-712 typed data given as JSON ({types, primaryType, domain, message}):
 * cast hashes it with its own EIP-712 implementation (`cast wallet sign --data`). */
char *cast_sign_typed(const anvil_account *who, const char *typed_json);

/* EIP-712 typed data (JSON text for cast_sign_typed; the caller frees) of a message to
 * CollateralVault at vault on chain_id: {types: {EIP712Domain, primary: fields}, primaryType,
 * domain (name "CollateralVault", version "1"), message}. Takes ownership of fields (the type's
 * [{name, type}, ...]) and message. */
char *cast_typed_vault(uint64_t chain_id, const char *vault, const char *primary, json_t *fields, json_t *message);

/* The same for the vault's Instruction, as a wallet would be asked to sign it (amount decimal). */
char *cast_typed_instruction(uint64_t chain_id, const char *vault, unsigned kind, const char *account,
                             const char *asset, const char *amount, const char *recipient, uint64_t nonce,
                             uint64_t deadline);

/* Mines `blocks` empty blocks at once (anvil_mine): confirmations on demand. */
void anvil_mine(const anvil_node *n, unsigned blocks);

/* who's balance of the native coin, in wei (it must fit in 64 bits). */
uint64_t anvil_balance_wei(const anvil_node *n, const char *who);

/* The number of the latest block. */
uint64_t anvil_head(const anvil_node *n);

/* The timestamp of the latest block. */
uint64_t anvil_timestamp(const anvil_node *n);

/* The number of the block anvil answers for the `finalized` tag. */
uint64_t anvil_finalized(const anvil_node *n);

/* A halted chain: no automine, no interval mining; transactions wait in the pool, no block comes
 * until anvil_mine or anvil_resume (automine again; the pool goes into the next block mined). */
void anvil_halt(const anvil_node *n);
void anvil_resume(const anvil_node *n);

#endif
