/*
 * cluster_harness.h - a hub and three relayer nodes as real processes of build/relayer, for the
 * integration tests that watch EVM chains (tests/integration/watch_test.c, twochain_test.c).
 *
 * A cluster lives in one temporary directory: keys/ (hub, node1..node3), relayers.json (the three
 * nodes, threshold CLUSTER_THRESHOLD), hub.conf and node1..3.conf, each daemon's LMDB (hub/,
 * node1/...) and its log (hub.log, nodeN.CHAIN.log). Every node config holds one [chain.NAME]
 * section per chain of the cluster, and each node runs one `relayer watch --chain NAME` per
 * chain, as an operator would. The chains themselves (anvil, the vaults) are the test's:
 * evm_harness.h.
 *
 * What the hub credited is read from its LMDB environment directly (read-only; LMDB readers never
 * block the hub): ledger_digest's counts, balances per (account, chain id, asset), the vault
 * checkpoints. Waits poll until a condition holds or CLUSTER_WAIT_MS passes, then fail the test
 * saying what was expected and what was there.
 *
 *     static cluster c;
 *     static anvil_node l1;
 *     static void up(void)   { cluster_init(&c); anvil_start(&l1, 31501, 0); }
 *     static void down(void) { cluster_fini(&c); anvil_stop(&l1); }
 *     TestSuite(s, .init = up, .fini = down);
 *
 *     cluster_chain ch = {.name = "l1", .chain_id = 31501, .confirmations = 1};
 *     snprintf(ch.rpc, sizeof ch.rpc, "%s", l1.rpc_url);
 *     snprintf(ch.vault, sizeof ch.vault, "%s", vault);
 *     cluster_configure(&c, &ch, 1);
 *     cluster_start(&c);
 *     ... deposit with cast, anvil_mine(&l1, 1) ...
 *     cluster_await_hub(&c, 1, 0);
 *     cluster_assert_balance(&c, account, 31501, CLUSTER_NATIVE, "1000");
 *
 * The whole pipeline (tests/integration/liquidation_test.c): cluster_configure_pipeline with a
 * risk file also gives the hub its venue and calculator sockets and the risk file (it then logs
 * INSTRUCTION and BUNDLE records), allow-lists the calculator and the three node keys as
 * subscribers, and writes margin.conf (keys/calc), venue.conf (keys/venue), cosignN.conf and
 * executeN.conf (every chain, the node key paying for gas: fund it with cluster_fund_nodes).
 * cluster_start then also runs the margin calculator, one co-signer per node and one executor per
 * node and chain (logs margin.log, nodeN.cosign.log, nodeN.execute.CHAIN.log).
 *
 * Nodes are numbered 0..CLUSTER_NODES-1 here (node1..node3 in names and files); chains by their
 * index in the list given to cluster_configure. Every helper asserts (Criterion) on failure.
 * Processes die with the test process (PR_SET_PDEATHSIG) if .fini never runs.
 */
#ifndef RL_CLUSTER_HARNESS_H
#define RL_CLUSTER_HARNESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attest/instruction.h"
#include "attest/record.h"
#include "attest/u256.h"
#include "db/ledger.h"
#include "tests/evm_harness.h"

#define CLUSTER_NODES 3
#define CLUSTER_THRESHOLD 2
#define CLUSTER_MAX_CHAINS 4
#define CLUSTER_POLL_MS 100  /* every watcher's poll_ms when caught up */
#define CLUSTER_MAX_RANGE 50 /* every watcher's max_range, in blocks */
#define CLUSTER_WAIT_MS 20000
#define CLUSTER_COSIGN_ALERT_MS "1000" /* the pipeline hub's cosign_alert_ms */
#define CLUSTER_NATIVE "0x0000000000000000000000000000000000000000" /* the vault's native asset */

/* One [chain.NAME] section of every node config. */
typedef struct cluster_chain {
    char name[16];  /* [chain.NAME], `--chain NAME`, log nodeN.NAME.log */
    char rpc[160];  /* one URL, or several separated by spaces (fail-over, in priority order) */
    uint64_t chain_id;
    char vault[EVM_ADDRESS_CHARS + 1];
    unsigned confirmations;
} cluster_chain;

/* The section for chain n's vault: name, n's RPC URL and chain id. */
cluster_chain cluster_chain_of(const char *name, const anvil_node *n, const char *vault, unsigned confirmations);

/* What the pipeline runs under (cluster_configure_pipeline). */
typedef struct cluster_pipeline {
    const char *risk;                     /* risk.json (collateral/spec.h): the hub's, the calculator's */
    const char *node_risk[CLUSTER_NODES]; /* a node's co-signer's own copy; NULL: risk.json */
    unsigned takeover_ms, retry_ms;       /* every executor's; 0: 1500 and 500 */
    unsigned confirmations;               /* every executor's; 0: 1 */
    bool finalized;                       /* every executor's `finality = finalized` instead */
    char exec_rpc[256];                   /* every executor's rpc list for every chain; "": the chain's */
} cluster_pipeline;

typedef struct cluster {
    char *dir; /* removed by cluster_fini */
    cluster_chain chain[CLUSTER_MAX_CHAINS];
    size_t nchains;
    bool pipeline;                                     /* configured with cluster_configure_pipeline */
    pid_t hub;                                         /* 0 when not running, as every pid here */
    pid_t watcher[CLUSTER_NODES][CLUSTER_MAX_CHAINS];
    pid_t margin;
    pid_t cosigner[CLUSTER_NODES];
    pid_t executor[CLUSTER_NODES][CLUSTER_MAX_CHAINS];
} cluster;

/* A fresh directory with the hub's and the nodes' keys (`relayer keygen`) and relayers.json
 * (`relayer relayers init`: node1..3, threshold CLUSTER_THRESHOLD). Starts nothing. */
void cluster_init(cluster *c);

/* SIGTERM to every process of the pipeline and every watcher, then the hub (each finishes its
 * transaction), reaps them, removes the directory (kept, and named on stderr, when the
 * environment has RL_KEEP_CLUSTER: to read the daemons' logs after a run). Safe after a failed or partial set-up. */
void cluster_fini(cluster *c);

/* Writes hub.conf and node1..3.conf for these chains (n <= CLUSTER_MAX_CHAINS; copied), the hub
 * and nodes talking over ipc:// sockets in the directory. May be called again before start. */
void cluster_configure(cluster *c, const cluster_chain *chains, size_t n);

/* cluster_configure, and the pipeline's files as the file comment says. */
void cluster_configure_pipeline(cluster *c, const cluster_chain *chains, size_t n, const cluster_pipeline *p);

/* The hub, then every node's watcher of every chain; with a pipeline also the margin calculator,
 * the co-signers and the executors. */
void cluster_start(cluster *c);

/* One node's watcher of one chain; stop sends sig (SIGTERM: a clean stop, SIGKILL: a crash) and
 * reaps it. */
void cluster_start_watcher(cluster *c, unsigned node, size_t chain);
void cluster_stop_watcher(cluster *c, unsigned node, size_t chain, int sig);

/* The same for all of one node's watchers: the whole node. */
void cluster_start_node(cluster *c, unsigned node);
void cluster_stop_node(cluster *c, unsigned node, int sig);

/* The pipeline's processes, one by one; stops send sig and reap, as for watchers. */
/* The hub alone (sig SIGKILL: a crash; it recovers from its LMDB environment on start). */
void cluster_start_hub(cluster *c);
void cluster_stop_hub(cluster *c, int sig);
void cluster_start_margin(cluster *c);
void cluster_stop_margin(cluster *c, int sig);
void cluster_start_cosigner(cluster *c, unsigned node);
void cluster_stop_cosigner(cluster *c, unsigned node, int sig);
void cluster_start_executor(cluster *c, unsigned node, size_t chain);
void cluster_stop_executor(cluster *c, unsigned node, size_t chain, int sig);

/* Node `node`'s EVM address (keys/nodeN.pub "evm", EIP-55): its vault signer and gas payer. */
void cluster_node_evm(const cluster *c, unsigned node, char out[EVM_ADDRESS_CHARS + 1]);

/* A CollateralVault on chain n, deployed by its first dev account, whose signers are the three
 * nodes' EVM keys at CLUSTER_THRESHOLD. The caller frees the address. */
char *cluster_deploy_vault(const cluster *c, const anvil_node *n);

/* Sends `wei` from chain n's first dev account to every node's EVM address (executors' gas). */
void cluster_fund_nodes(const cluster *c, const anvil_node *n, const char *wei);

/* The node whose executor is primary for an instruction of this vault nonce: the relayer set's
 * member at index nonce mod n, in id order (cmd_execute.c), read back from relayers.json. */
unsigned cluster_primary(const cluster *c, uint64_t nonce);

/* `relayer price send --feed FEED --price PRICE` from the first CLUSTER_THRESHOLD nodes: the hub
 * logs a PRICE once they agree. */
void cluster_price(const cluster *c, const char *feed, const char *price);

/* `relayer venue ARGS --config venue.conf`, which must exit 0 (the hub logged the request); the
 * request's venue nonce (a venue keeps a position's: its withdrawals name it, admit.h A6). */
uint64_t cluster_venue(const cluster *c, const char *args);
/* A withdrawal, ARGS the `relayer venue withdraw` arguments (account, chain, asset, amount,
 * recipient): its typed data from `--print-typed-data`, signed by owner's key with cast (as any
 * wallet signs it: attest/admit.h), then submitted with that signature and --positions-nonce
 * positions_nonce (the venue nonce of the account's last position request, 0 for none); must exit
 * 0. The owner nonce is the wall clock in ms, rising across calls. */
void cluster_withdraw(const cluster *c, const anvil_account *owner, uint64_t positions_nonce, const char *args);

/* How many lines of the file DIR/name contain `what` (0 while there is no such file). */
unsigned cluster_file_count(const cluster *c, const char *name, const char *what);

/* The hub log's records of `type` (record.h), in order: how many; each is called with each one
 * (may be NULL), read beside the running hub. */
size_t cluster_hub_records(const cluster *c, uint8_t type, void (*each)(const record *r, void *ctx), void *ctx);

/* Waits until the hub has logged at least `want` records of `type`; fails at once if more than
 * `want` (a second decision, a second bundle...). */
void cluster_await_records(const cluster *c, uint8_t type, size_t want);

/* The hub log's INSTRUCTION records, decoded, in order, into in[] and their sequence numbers into
 * seq[] (at most cap: more fails the test); how many. */
size_t cluster_hub_instructions(const cluster *c, instruction *in, uint64_t *seq, size_t cap);

/* Waits until the hub has logged exactly `want` ATTEST records of expired observations (a quorum
 * of executors proved an instruction's deadline passed unexecuted); fails at once on more. */
void cluster_await_expiries(const cluster *c, size_t want);

/* How many lines of nodeN.CHAIN.log contain `what` (0 while there is no log yet). */
unsigned cluster_log_count(const cluster *c, unsigned node, size_t chain, const char *what);

/* Waits until every node's watcher log of `chain` has `what` on at least `times` lines. */
void cluster_await_logs(const cluster *c, size_t chain, const char *what, unsigned times);

/* The hub ledger's counts (ledger_digest); all zero before the hub has created its ledger. */
ledger_stats cluster_hub_stats(const cluster *c);

/* The hub's balance of (account, chain_id, asset), addresses as 0x hex, as a decimal string. */
void cluster_hub_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                         char out[U256_DEC_MAX]);

/* The hub's insurance fund holding of (chain_id, asset): what settled seizes sent to the
 * insurance address (db/ledger_fund.h), decimal. */
void cluster_hub_insurance(const cluster *c, uint64_t chain_id, const char *asset, char out[U256_DEC_MAX]);

/* The part of that balance reserved for instructions that may still execute, decimal. */
void cluster_hub_reserved(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                          char out[U256_DEC_MAX]);

/* Waits until the hub's ledger has applied exactly `executions` attested executions (the
 * watchers' executed observations); fails at once if it ever applies more. */
void cluster_await_executions(const cluster *c, uint64_t executions);

/* cluster_hub_balance must be `want`: the message names account, chain and asset. */
void cluster_assert_balance(const cluster *c, const char *account, uint64_t chain_id, const char *asset,
                            const char *want);

/* Every vault checkpoint of the hub's ledger (ledger_vaults): how many, at most cap, into out. */
size_t cluster_hub_vaults(const cluster *c, vault_checkpoint *out, size_t cap);

/* The hub's DATA/status.json (rewritten every second; see `relayer status`), or NULL before the
 * first one. The caller json_decref's it. */
json_t *cluster_hub_status(const cluster *c);

/* Waits until the hub has exactly `credited` events credited and `conflicts` conflicts logged;
 * fails at once if it ever credits more. */
void cluster_await_hub(const cluster *c, uint64_t credited, uint64_t conflicts);

/* After a few watcher polls, still exactly that: nothing more credited, no other conflict. */
void cluster_assert_settled(const cluster *c, uint64_t credited, uint64_t conflicts);

#endif
