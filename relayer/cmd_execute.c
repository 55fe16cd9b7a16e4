/*
 * cmd_execute.c - `relayer execute --config FILE --chain NAME`: a relayer node's executor for
 * one chain.
 *
 * It keeps an audited replica of the hub's log (replica.h) and takes each BUNDLE of an
 * instruction for its chain: an instruction with a quorum's signatures, ready for the vault's
 * execute(). Every node runs one; each instruction has one primary, by rotation over the set's
 * members in id order (the member at index nonce mod n), and every other member takes over in
 * turn, the k-th after k x takeover_ms without the instruction executed. Any of them may submit:
 * the vault checks the signatures and refuses a used nonce, so two submissions never execute
 * twice.
 *
 * Before submitting, and again after a failure, it asks the vault whether the nonce is used
 * (nonceUsed) at the settled block (below): if so the instruction has executed (whoever sent it)
 * and is done here. Otherwise it submits through the executor (bridges/evm/executor.h: EIP-1559
 * transactions it signs itself, nonce management, fee bumps of a stuck transaction, receipts to
 * the confirmation depth). A revert with NonceUsed means another executor's transaction came
 * first, but the estimate that says so runs against the pending state: that transaction may still
 * fail (mined after the deadline, dropped from the pool). So the instruction stays here, with no
 * new submission for takeover_ms at a time, until nonceUsed is true at the settled block, its
 * execution is attested, or its expiry is proved; dropping it there left too few executors to
 * prove an expiry when the other transaction reverted DeadlinePassed (a chain halted past the
 * deadline: tests/integration/faults_test.c). With DeadlinePassed the instruction can no longer
 * execute; a give-up or an RPC failure is retried after retry_ms. Nothing is kept on disk but the
 * replica: after a restart every bundle is looked at again, and the vault says which are done.
 *
 * Expiry (DESIGN.md invariant 5). Every retry_ms the executor reads the chain's settled time: the
 * timestamp of the block at the confirmation depth or, with `finality = finalized`, of the node's
 * `finalized` block. Once it is past an instruction's deadline (bundled or not; or once the vault
 * reverted DeadlinePassed), it finds the first block B whose timestamp is after the deadline (a
 * binary search up to that settled block; every node finds the same B) and asks nonceUsed at B:
 * true, the instruction executed (done); false, it never can (the vault refuses execute() after
 * the deadline and every later block is later still), so the node signs the expired observation
 * of B (obs.h) and sends it to the hub's nodes socket, again every retry_ms until the ATTEST of
 * that expiry is in its replica. The hub logs it with a quorum of nodes' identical observations,
 * and only then does the ledger free the reservation.
 *
 * Finality. B must never be taken back: a reorg that replaced B with a block holding the
 * execution would make the freed funds move after all. So expiry reads a block as settled as the
 * watchers' (cmd_watch.c) or more: an executor with `confirmations = N` beside watchers with
 * `finality = finalized` could free a reservation the watchers later see executed (an unmatched
 * execution: an incident). Use `finality = finalized` on both wherever the chain has the tag
 * (post-merge Ethereum, most L2s), or an executor depth at least the watchers'. With finalized,
 * every nonceUsed question is asked at the finalized block too, and even this node's own mined
 * transaction leaves the instruction waiting (as above) until nonceUsed is true at the finalized
 * block or its ATTEST is logged: if the execution is reorged away, the instruction is submitted
 * again before its deadline or expires by finalised time, never both.
 *
 * One config serves all of a node's executors, one process per chain; each keeps its own replica
 * in DATA/NAME (two processes appending the same records to one replica would collide).
 *
 * The account paying for gas is the node key's secp256k1 key (the address the cluster's
 * `relayers.json` lists for the node), or `account`, another key file, when given.
 *
 *     # execute1.conf
 *     [execute]
 *     key = keys/node1.key        ; the node: member id (rotation), CURVE identity at the hub
 *     relayers = relayers.json
 *     data = node1-execute        ; the replicas' directory: one LMDB per chain, in DATA/NAME
 *     ; account = keys/gas1.key   ; pays for gas instead of the node key
 *     takeover_ms = 30000         ; how long each member in turn waits for the one before it
 *     retry_ms = 5000
 *     timeout_ms = 120000         ; one submission, replacements included, before it is retried
 *     [hub]
 *     nodes = tcp://127.0.0.1:7401     ; where expired observations go (as a watcher's)
 *     records = tcp://127.0.0.1:7402
 *     catchup = tcp://127.0.0.1:7403
 *     key = keys/hub.pub
 *     [chain.l1]
 *     rpc = http://127.0.0.1:8545 http://10.0.0.2:8545   ; in priority order
 *     chain_id = 1
 *     vault = 0x...
 *     confirmations = 2          ; nonceUsed, receipts and the expiry clock at this depth (default 2)
 *     ; finality = finalized     ; instead: at the node's `finalized` block (as the watcher's)
 *     max_fee_gwei = 500          ; no transaction is signed with a higher max fee per gas
 *     max_gas = 500000            ; nor with a higher gas limit; a costlier estimate is not sent
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uthash.h>

#include "attest/bundle.h"
#include "attest/hex.h"
#include "bridges/evm/executor.h"
#include "bridges/evm/rpceth.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/daemon.h"
#include "relayer/files.h"
#include "relayer/hubclient.h"
#include "relayer/keyfile.h"
#include "relayer/log.h"
#include "relayer/progress.h"
#include "relayer/replica.h"

static const char USAGE[] = "usage: relayer execute --config FILE --chain NAME\n"
                            "\n"
                            "Runs a node's executor for one chain: submits the logged bundles of\n"
                            "instructions for that chain to its vault, in turn with the other nodes.\n";

#define MAX_CHAIN_NAME 32
#define GWEI 1000000000ull

typedef struct execute_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], data[CFG_STR_MAX], account[CFG_STR_MAX];
    uint64_t takeover_ms, retry_ms, timeout_ms;
    char nodes[CFG_STR_MAX], records[CFG_STR_MAX], catchup[CFG_STR_MAX], hub_key[CFG_STR_MAX];
    char rpc[CFG_STR_MAX], vault[CFG_STR_MAX], finality[CFG_STR_MAX];
    uint64_t chain_id, confirmations, max_fee_gwei, max_gas;
} execute_config;

#define UNSET UINT64_MAX /* confirmations the config did not give */
#define DEFAULT_CONFIRMATIONS 2

/* An instruction of this chain: logged, then bundled, then done. */
struct job {
    uint64_t seq; /* of the INSTRUCTION */
    instruction in;
    bool bundled;
    uint64_t bundled_ms;  /* the BUNDLE record's time: the takeover clock starts there */
    uint8_t sigs[RELSET_MAX_MEMBERS][EVM_SIG_BYTES];
    size_t nsigs;
    uint64_t next_try_ms; /* wall clock; 0: as soon as it is this node's turn */
    bool expiring;        /* its deadline passed: only its expiry is left to prove */
    bool executed;        /* seen executed, not settled yet: no new submission until quiet_until_ms */
    bool mined_here;      /* by this node's transaction */
    uint64_t quiet_until_ms;
    bool have_obs;        /* the expired observation found: resent until logged */
    obs expired;
    UT_hash_handle hh;
};

struct exec_node {
    execute_config cfg;
    char chain[MAX_CHAIN_NAME + 1];
    char replica_dir[CFG_STR_MAX + MAX_CHAIN_NAME + 2]; /* DATA/NAME */
    uint8_t vault[EVM_ADDR_BYTES];
    node_key *key; /* hubc's: the node's key, read once */
    node_pub hub;
    relset genesis;
    size_t my_index; /* in the set's members, by id */
    evm_key *account;
    rpc *rpc;
    executor *x;
    replica *r;
    hubclient hubc; /* the nodes socket: expired observations */
    uint64_t next_msg;
    bool finalized;             /* `finality = finalized`: settled means the `finalized` block */
    uint64_t chain_time_s;      /* the settled block's timestamp; 0: not read yet */
    uint64_t chain_time_next_ms; /* when to read it again */
    struct job *jobs;
    uint64_t mined, lost, expired, done;
};

/* ---- the log */

static void done(struct exec_node *e, struct job *j, const char *how, uint64_t *counter)
{
    (*counter)++;
    e->done++;
    log_info("instruction done", "instruction=%llu nonce=%llu how=\"%s\"", (unsigned long long)j->seq,
             (unsigned long long)j->in.nonce, how);
    HASH_DEL(e->jobs, j);
    free(j);
}

static rl_err on_record(void *ctx, const uint8_t *rec, size_t len, uint64_t seq, rl_why *why)
{
    struct exec_node *e = ctx;
    (void)why;
    record r;
    if (record_decode(&r, rec, len, NULL) != RL_OK)
        return RL_OK;
    if (r.type == RECORD_INSTRUCTION) {
        instruction in;
        if (instruction_decode(&in, r.payload, r.payload_len, NULL) != RL_OK || in.chain_id != e->cfg.chain_id ||
            memcmp(in.vault, e->vault, EVM_ADDR_BYTES) != 0)
            return RL_OK;
        struct job *j = calloc(1, sizeof *j);
        if (j == NULL)
            return RL_ERR_NOMEM;
        j->seq = seq;
        j->in = in;
        HASH_ADD(hh, e->jobs, seq, sizeof j->seq, j);
    } else if (r.type == RECORD_ATTEST) {
        /* an execution or expiry of one of ours, logged: nothing more to do (after a restart, the
         * replica's old instructions are dropped here, not asked about one by one) */
        payload_attest p;
        obs o;
        struct job *j, *t;
        if (payload_attest_decode(&p, &r, NULL) != RL_OK || obs_decode(&o, p.obs, OBS_BYTES, NULL) != RL_OK ||
            (o.kind != OBS_KIND_EXPIRED && o.kind != OBS_KIND_EXECUTED) || o.chain_id != e->cfg.chain_id ||
            memcmp(o.vault, e->vault, EVM_ADDR_BYTES) != 0)
            return RL_OK;
        HASH_ITER(hh, e->jobs, j, t) {
            if (j->in.nonce == o.nonce) {
                char how[64];
                snprintf(how, sizeof how, "%s attested (record %llu)",
                         o.kind == OBS_KIND_EXPIRED ? "expiry" : "execution", (unsigned long long)seq);
                if (j->mined_here && o.kind == OBS_KIND_EXECUTED) /* (finalized) ours, attested before final */
                    done(e, j, "mined by this node", &e->mined);
                else
                    done(e, j, how, o.kind == OBS_KIND_EXPIRED ? &e->expired : &e->lost);
            }
        }
    } else if (r.type == RECORD_BUNDLE) {
        bundle b;
        struct job *j = NULL;
        if (bundle_decode(&b, r.payload, r.payload_len, NULL) == RL_OK)
            HASH_FIND(hh, e->jobs, &b.instruction, sizeof b.instruction, j);
        if (j == NULL || j->bundled)
            return RL_OK;
        for (unsigned i = 0; i < b.n; i++) /* in the vault's order, as logged */
            memcpy(j->sigs[i], b.e[i].sig, EVM_SIG_BYTES);
        j->nsigs = b.n;
        j->bundled = true;
        j->bundled_ms = r.time_ms;
    }
    return RL_OK;
}

/* ---- turns and submissions */

/* How many takeover periods after the bundle this node's turn starts: 0 for the primary. */
static uint64_t turn(const struct exec_node *e, const instruction *in)
{
    size_t n = e->genesis.n, primary = (size_t)(in->nonce % n);
    return (e->my_index + n - primary) % n;
}

static rl_err settled_time(struct exec_node *e, rpc_block *tip, rl_why *why);

/* The settled block: at the confirmation depth, or the node's `finalized` block. An execution a
 * reorg could still take back does not count as done, and a deadline counts as passed only by
 * this block's time. */
static rl_err settled_block(struct exec_node *e, uint64_t *number, rl_why *why)
{
    if (e->finalized) {
        rpc_block fin = {0};
        rl_err err = settled_time(e, &fin, why);
        *number = fin.number;
        return err;
    }
    uint64_t head;
    rl_err err = rpc_eth_block_number(e->rpc, &head, why);
    uint64_t depth = e->cfg.confirmations - 1;
    *number = head > depth ? head - depth : 0;
    return err;
}

/* The chain's settled time: the number and timestamp of the settled block. */
static rl_err settled_time(struct exec_node *e, rpc_block *tip, rl_why *why)
{
    if (e->finalized)
        return rpc_eth_get_block(e->rpc, rpc_block_tag(RPC_FINALIZED), tip, why);
    uint64_t number;
    rl_err err = settled_block(e, &number, why);
    return err != RL_OK ? err : rpc_eth_get_block(e->rpc, rpc_block_at(number), tip, why);
}

static rl_err nonce_used_at(struct exec_node *e, uint64_t nonce, uint64_t block, bool *used, rl_why *why);

static rl_err nonce_used(struct exec_node *e, uint64_t nonce, bool *used, rl_why *why)
{
    uint64_t at;
    rl_err err = settled_block(e, &at, why);
    return err != RL_OK ? err : nonce_used_at(e, nonce, at, used, why);
}

static rl_err nonce_used_at(struct exec_node *e, uint64_t nonce, uint64_t block, bool *used, rl_why *why)
{
    rl_err err;
    rpc_blockid at = rpc_block_at(block);
    uint8_t data[ABI_SELECTOR_BYTES + ABI_WORD_BYTES], *out = NULL;
    size_t len = 0;
    abi_selector(data, "nonceUsed(uint256)");
    eip712_word_u64(data + ABI_SELECTOR_BYTES, nonce);
    rpc_callmsg m = {.to = e->vault, .data = data, .data_len = sizeof data};
    err = rpc_eth_call(e->rpc, &m, at, &out, &len, why);
    if (err == RL_OK)
        err = abi_read_bool(out, len, 0, used, "nonceUsed", why);
    free(out);
    return err;
}

static void on_submit(void *ctx, const executor_submit *s)
{
    (void)ctx;
    char hash[2 * HASH_BYTES + 3], fee[U256_DEC_MAX];
    log_info("transaction sent", "nonce=%llu tx=%s max_fee_wei=%s gas=%llu bump=%u", (unsigned long long)s->nonce,
             hex_encode_0x(hash, s->tx_hash, HASH_BYTES), u256_to_dec(&s->max_fee_wei, fee),
             (unsigned long long)s->gas_limit, s->bump);
}

/* An instruction seen executed but not settled: kept, without a new submission for takeover_ms,
 * until nonceUsed is true at the settled block (the file comment). Only this node's own receipt
 * at the confirmation depth is settled already. */
static void executed(struct exec_node *e, struct job *j, const char *how, bool mined_here, uint64_t now_ms)
{
    if (mined_here && !e->finalized) {
        done(e, j, how, &e->mined);
        return;
    }
    if (!j->executed)
        log_info("executed, not settled yet", "instruction=%llu nonce=%llu seen=\"%s\"", (unsigned long long)j->seq,
                 (unsigned long long)j->in.nonce, how);
    j->executed = true;
    j->mined_here = j->mined_here || mined_here;
    j->next_try_ms = now_ms + e->cfg.retry_ms;
    j->quiet_until_ms = now_ms + e->cfg.takeover_ms;
}

/* Done: the vault's nonce is used at the settled block. */
static void nonce_settled(struct exec_node *e, struct job *j, const char *how)
{
    if (j->mined_here)
        done(e, j, "mined by this node", &e->mined);
    else
        done(e, j, how, &e->lost);
}

/* One attempt at one instruction whose turn it is. */
static void attempt(struct exec_node *e, struct job *j, uint64_t now_ms)
{
    rl_why why = {{0}};
    bool used = false;
    rl_err err = nonce_used(e, j->in.nonce, &used, &why);
    if (err == RL_OK && used) {
        nonce_settled(e, j, "the vault's nonce is used: executed");
        return;
    }
    if (err == RL_OK && j->executed && now_ms < j->quiet_until_ms) { /* not settled yet: no new submission */
        j->next_try_ms = now_ms + e->cfg.retry_ms;
        return;
    }
    executor_report rep;
    vault_instruction v;
    instruction_to_vault(&v, &j->in);
    if (err == RL_OK)
        err = executor_execute(e->x, &v, (const uint8_t(*)[EVM_SIG_BYTES])j->sigs, j->nsigs, &rep, &why);
    if (err != RL_OK) {
        log_warn("execution not attempted", "instruction=%llu why=\"%s\"", (unsigned long long)j->seq,
                 why.text[0] ? why.text : rl_strerror(err));
        j->next_try_ms = now_ms + e->cfg.retry_ms;
        return;
    }
    char hash[2 * HASH_BYTES + 3];
    if (rep.outcome == EXECUTOR_MINED) {
        log_info("executed", "instruction=%llu nonce=%llu tx=%s block=%llu submissions=%u", (unsigned long long)j->seq,
                 (unsigned long long)j->in.nonce, hex_encode_0x(hash, rep.tx_hash, HASH_BYTES),
                 (unsigned long long)rep.block_number, rep.submissions);
        executed(e, j, "mined by this node", true, now_ms);
    } else if (rep.outcome == EXECUTOR_REVERTED && rep.error_name != NULL &&
               strncmp(rep.error_name, "NonceUsed(", 10) == 0) {
        executed(e, j, "NonceUsed: another executor's transaction came first", false, now_ms);
    } else if (rep.outcome == EXECUTOR_REVERTED && rep.error_name != NULL &&
               strncmp(rep.error_name, "DeadlinePassed(", 15) == 0) {
        log_info("deadline passed", "instruction=%llu nonce=%llu why=\"DeadlinePassed: the vault refuses it now\"",
                 (unsigned long long)j->seq, (unsigned long long)j->in.nonce);
        j->expiring = true;
        j->next_try_ms = now_ms;
    } else {
        log_warn("execution failed, will retry", "instruction=%llu outcome=%s why=\"%s\"", (unsigned long long)j->seq,
                 executor_outcome_name(rep.outcome), rep.detail);
        j->next_try_ms = now_ms + e->cfg.retry_ms;
    }
}

/* The first block whose timestamp is after deadline_s, searching [0, hi] (block hi's timestamp is
 * after it): every node that asks finds the same block. */
static rl_err first_block_after(struct exec_node *e, uint64_t deadline_s, uint64_t hi, rpc_block *out, rl_why *why)
{
    uint64_t lo = 0;
    rl_err err = RL_OK;
    while (lo < hi && err == RL_OK && !daemon_stopping) {
        uint64_t mid = lo + (hi - lo) / 2;
        rpc_block b;
        if ((err = rpc_eth_get_block(e->rpc, rpc_block_at(mid), &b, why)) == RL_OK) {
            if (b.timestamp > deadline_s)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    if (err == RL_OK && daemon_stopping)
        err = rl_fail(why, RL_ERR_IO, "stopping");
    return err != RL_OK ? err : rpc_eth_get_block(e->rpc, rpc_block_at(hi), out, why);
}

/* One step towards proving a passed deadline: wait for the chain's settled time, find the block,
 * ask the vault, sign and send the expired observation (again until it is logged). */
static void expiry_step(struct exec_node *e, struct job *j, uint64_t now_ms)
{
    rl_why why = {{0}};
    rl_err err = RL_OK;
    j->next_try_ms = now_ms + e->cfg.retry_ms;
    if (!j->have_obs) {
        rpc_block tip, first;
        bool used = false;
        if ((err = settled_time(e, &tip, &why)) == RL_OK && tip.timestamp <= j->in.deadline_s)
            return; /* after a DeadlinePassed: the settled time has not passed the deadline yet */
        if (err == RL_OK && (err = first_block_after(e, j->in.deadline_s, tip.number, &first, &why)) == RL_OK)
            err = nonce_used_at(e, j->in.nonce, first.number, &used, &why);
        if (err == RL_OK && used) {
            nonce_settled(e, j, "the vault's nonce is used: executed before its deadline");
            return;
        }
        if (err == RL_OK) {
            instruction_expired_obs(&j->expired, &j->in, first.number, first.hash, first.timestamp);
            j->have_obs = true;
            log_info("instruction expired", "instruction=%llu nonce=%llu block=%llu block_time=%llu deadline=%llu",
                     (unsigned long long)j->seq, (unsigned long long)j->in.nonce, (unsigned long long)first.number,
                     (unsigned long long)first.timestamp, (unsigned long long)j->in.deadline_s);
        }
    }
    if (err == RL_OK)
        err = hubclient_send_obs(&e->hubc, &j->expired, e->next_msg++, &why);
    if (err != RL_OK)
        log_warn("expiry not proved yet, will retry", "instruction=%llu why=\"%s\"", (unsigned long long)j->seq,
                 why.text[0] ? why.text : rl_strerror(err));
}

static void work(struct exec_node *e)
{
    uint64_t now = wall_ms();
    struct job *j, *t;
    hubclient_drain(&e->hubc); /* acknowledgements: the replica is what counts */
    if (HASH_COUNT(e->jobs) > 0 && now >= e->chain_time_next_ms) {
        rl_why why = {{0}};
        rpc_block tip;
        rl_err err = settled_time(e, &tip, &why);
        if (err == RL_OK)
            e->chain_time_s = tip.timestamp;
        else
            log_warn("chain time not read", "why=\"%s\"", why.text[0] ? why.text : rl_strerror(err));
        e->chain_time_next_ms = now + e->cfg.retry_ms;
    }
    HASH_ITER(hh, e->jobs, j, t) {
        if (daemon_stopping)
            return;
        if (now < j->next_try_ms)
            continue;
        if (j->expiring || e->chain_time_s > j->in.deadline_s) { /* bundled or not: the vault refuses it now */
            j->expiring = true;
            expiry_step(e, j, now);
            continue;
        }
        if (!j->bundled || now < j->bundled_ms + turn(e, &j->in) * e->cfg.takeover_ms)
            continue;
        attempt(e, j, now);
    }
}

/* ---- set-up */

static rl_err load_config(struct exec_node *e, const char *path, rl_why *why)
{
    char section[MAX_CHAIN_NAME + 8];
    snprintf(section, sizeof section, "chain.%s", e->chain);
#define F(field) offsetof(execute_config, field)
    const cfg_key schema[] = {
        {"execute", "key", CFG_PATH, 1, 0, 0, F(key)},
        {"execute", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
        {"execute", "data", CFG_PATH, 1, 0, 0, F(data)},
        {"execute", "account", CFG_PATH, 0, 0, 0, F(account)},
        {"execute", "takeover_ms", CFG_U64, 0, 100, 86400000, F(takeover_ms)},
        {"execute", "retry_ms", CFG_U64, 0, 100, 3600000, F(retry_ms)},
        {"execute", "timeout_ms", CFG_U64, 0, 1000, 3600000, F(timeout_ms)},
        {"hub", "nodes", CFG_ENDPOINT, 1, 0, 0, F(nodes)},
        {"hub", "records", CFG_ENDPOINT, 1, 0, 0, F(records)},
        {"hub", "catchup", CFG_ENDPOINT, 1, 0, 0, F(catchup)},
        {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
        {section, "rpc", CFG_STRING, 1, 0, 0, F(rpc)},
        {section, "chain_id", CFG_U64, 1, 1, UINT64_MAX - 1, F(chain_id)},
        {section, "vault", CFG_STRING, 1, 0, 0, F(vault)},
        {section, "confirmations", CFG_U64, 0, 1, 128, F(confirmations)},
        {section, "finality", CFG_STRING, 0, 0, 0, F(finality)},
        {section, "max_fee_gwei", CFG_U64, 0, 1, 1000000, F(max_fee_gwei)},
        {section, "max_gas", CFG_U64, 0, EXECUTOR_MIN_GAS, 100000000, F(max_gas)},
    };
#undef F
    e->cfg.takeover_ms = 30000;
    e->cfg.retry_ms = 5000;
    e->cfg.timeout_ms = 120000;
    e->cfg.confirmations = UNSET;
    e->cfg.max_fee_gwei = 500;
    e->cfg.max_gas = EXECUTOR_DEFAULT_MAX_GAS;
    rl_err err = cfg_load_part(path, schema, sizeof schema / sizeof schema[0], &e->cfg, "chain.", why);
    if (err == RL_OK)
        err = cfg_finality(path, section, e->cfg.finality, e->cfg.confirmations != UNSET, &e->finalized, why);
    if (e->cfg.confirmations == UNSET) /* with finalized: receipts in the including block, finality after */
        e->cfg.confirmations = e->finalized ? 1 : DEFAULT_CONFIRMATIONS;
    if (err == RL_OK && (strncmp(e->cfg.vault, "0x", 2) != 0 ||
                         hex_decode(e->vault, EVM_ADDR_BYTES, e->cfg.vault + 2, "vault", NULL) != RL_OK))
        err = rl_fail(why, RL_ERR_ARG, "%s: [%s] vault: \"%s\" is not a 20-byte 0x address", path, section,
                      e->cfg.vault);
    return err;
}

static rl_err exec_open(struct exec_node *e, const char *config, rl_why *why)
{
    rl_err err = load_config(e, config, why);
    if (err == RL_OK) /* reads the node key: e->key is the hubclient's */
        err = hubclient_open(&e->hubc, e->cfg.key, e->cfg.hub_key, e->cfg.nodes, why);
    e->key = e->hubc.key;
    if (e->key != NULL)
        log_set_node_chain(node_key_pub(e->key)->name, e->chain);
    const relset_member *me = NULL;
    if (err == RL_OK)
        err = relset_load_member(e->cfg.relayers, node_key_pub(e->key), &e->genesis, &me, why);
    if (err == RL_OK)
        err = pubfile_read(e->cfg.hub_key, &e->hub, why);
    e->next_msg = wall_ms(); /* ids only tell acknowledgements apart, and those are ignored */
    if (err == RL_OK) {
        e->hubc.member = me->id;
        e->my_index = (size_t)(me - e->genesis.members); /* members are kept in id order */
    }
    node_key *payer = NULL;
    if (err == RL_OK && e->cfg.account[0] != '\0')
        err = keyfile_read(e->cfg.account, &payer, why);
    if (err == RL_OK)
        err = evm_key_from_secret(&e->account, node_key_secp256k1_secret(payer ? payer : e->key), why);
    node_key_free(payer);
    rpc_opts ro = rpc_opts_default();
    ro.chain_id = e->cfg.chain_id;
    if (err == RL_OK && (err = rpc_open_list(&e->rpc, e->cfg.rpc, &ro, NULL, why)) != RL_OK)
        rl_why_prefix(why, "[chain.%s] rpc: ", e->chain);
    executor_opts xo = executor_opts_default();
    xo.confirmations = e->cfg.confirmations;
    xo.max_fee_cap_wei = u256_from_u64(e->cfg.max_fee_gwei * GWEI);
    xo.max_gas = e->cfg.max_gas;
    xo.timeout_ms = (uint32_t)e->cfg.timeout_ms; /* the replica and SIGTERM wait this long at most */
    executor_hooks hooks = {.on_submit = on_submit, .ctx = e};
    if (err == RL_OK)
        err = executor_new(&e->x, e->rpc, e->account, e->vault, &xo, &hooks, why);
    if (err == RL_OK) {
        snprintf(e->replica_dir, sizeof e->replica_dir, "%s/%s", e->cfg.data, e->chain);
        if (mkdir(e->cfg.data, 0700) != 0 && errno != EEXIST)
            err = rl_fail(why, RL_ERR_IO, "%s: mkdir: %s", e->cfg.data, strerror(errno));
    }
    replica_opts o = {.data = e->replica_dir, .key = e->key, .hub = &e->hub, .genesis = &e->genesis,
                      .records = e->cfg.records, .catchup = e->cfg.catchup, .on_record = on_record, .ctx = e};
    if (err == RL_OK)
        err = replica_open(&e->r, &o, why);
    return err;
}

static void exec_close(struct exec_node *e)
{
    replica_close(e->r);
    hubclient_close(&e->hubc, 0);
    executor_free(e->x);
    rpc_close(e->rpc);
    evm_key_free(e->account);
    struct job *j, *t;
    HASH_ITER(hh, e->jobs, j, t) {
        HASH_DEL(e->jobs, j);
        free(j);
    }
}

int cmd_execute(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", 1, 0, 'c'}, {"chain", 1, 0, 'n'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *config = NULL, *chain = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(USAGE, stdout);
            return 0;
        }
        if (c == 'c')
            config = optarg;
        else if (c == 'n')
            chain = optarg;
        else {
            fputs(USAGE, stderr);
            return EXIT_USAGE;
        }
    }
    if (config == NULL || chain == NULL || strlen(chain) > MAX_CHAIN_NAME || optind != argc) {
        fputs(USAGE, stderr);
        return EXIT_USAGE;
    }
    log_init("execute", "", LOG_INFO);
    log_set_node_chain("", chain);
    daemon_trap_signals();
    struct exec_node *e = calloc(1, sizeof *e);
    if (e == NULL)
        return EXIT_USAGE;
    snprintf(e->chain, sizeof e->chain, "%s", chain);
    rl_why why = {{0}};
    rl_err err = exec_open(e, config, &why);
    if (err == RL_OK) {
        char addr[43];
        log_info("executor started", "chain_id=%llu member_index=%zu account=%s head=%llu waiting=%u",
                 (unsigned long long)e->cfg.chain_id, e->my_index,
                 evm_addr_to_hex(evm_key_address(e->account), addr), (unsigned long long)replica_head(e->r),
                 HASH_COUNT(e->jobs));
    }
    while (err == RL_OK && !daemon_stopping) {
        if ((err = replica_poll(e->r, 50, &why)) == RL_OK)
            work(e);
    }
    int rc = replica_exit(e->r, "executor", err, &why);
    exec_close(e);
    free(e);
    return rc;
}
