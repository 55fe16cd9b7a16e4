/*
 * bench.h - pieces the benchmarks share (cmd_bench.c, cmd_bench_bus.c, cmd_bench_hostile.c).
 */
#ifndef RL_BENCH_H
#define RL_BENCH_H

#include <stdint.h>
#include <sys/types.h>

#include "db/ingest.h"
#include "relayer/bus.h"
#include "relayer/sim.h"

/* Checkpoint rounds run alongside (replica.h, hubckpt.h): how many were logged, and the CPU
 * time they took (signing, the hub's checks, logging). */
typedef struct bench_checkpoints {
    uint64_t logged, cpu_ns;
} bench_checkpoints;

/* The stream through a fresh ledger in dir, in process: verify + quorum + group commit, and a
 * checkpoint round every REPLICA_CHECKPOINT_RECORDS records (the 3 nodes sign the committed head,
 * the hub checks and logs the quorum) as a cluster does. */
RL_MUST_USE rl_err bench_ingest_once(pool *p, const sim *s, const signed_obs *stream, size_t nobs, const char *dir,
                                     ingest_stats *stats, double *secs, bench_checkpoints *ck, rl_why *why);

int bench_bus(int argc, char **argv);
int bench_bus_node(int argc, char **argv);
int bench_margin(int argc, char **argv);
int bench_liquidation(int argc, char **argv);

int bench_watch(int argc, char **argv);
int bench_hostile(int argc, char **argv);

/* A loopback TCP port free a moment ago (0 when none could be had). */
uint16_t bench_free_port(void);
/* Runs this binary with args (args[0] included), stderr (and stdout, unless out_fd) appended to
 * log_path; with out_fd, the child's stdout is a pipe whose read end comes back there. The child
 * dies with this process. -1 when it could not be started. */
pid_t bench_spawn_self(char *const args[], const char *log_path, int *out_fd);

/* A hub and three node processes over CURVE/TCP on loopback (cmd_bench_bus.c), as `bench bus` and
 * `bench hostile` run them. Set hub and nodes to -1 and dir to a bench_tmpdir before use. */
typedef struct bench_cluster {
    char *dir;         /* scratch space, removed by bench_cluster_fini (owned) */
    uint16_t ports[3]; /* the hub's nodes, records and catchup sockets */
    node_key *subs[2]; /* allow-listed subscriber keys sub1, sub2 (owned) */
    node_pub hub_pub;
    pid_t hub, nodes[3];
} bench_cluster;

/* Keys (the hub's, s's three members', two subscribers'), relayers.json and hub.conf in c->dir,
 * the [allow] section naming them all, then `extra` (further sections) verbatim. */
RL_MUST_USE rl_err bench_cluster_write(bench_cluster *c, const sim *s, const char *extra, rl_why *why);
/* Each member's observations of stream, for its node process: c->dir/nodeM.TAG.obs. */
RL_MUST_USE rl_err bench_cluster_obs(bench_cluster *c, const char *tag, const signed_obs *stream, size_t nobs,
                                     rl_why *why);
/* The hub process, once its log says it started (log: c->dir/hub.log). */
RL_MUST_USE rl_err bench_cluster_start_hub(bench_cluster *c, rl_why *why);
/* Three `bench bus-node` processes sending nodeM.TAG.obs once the file `go` exists; returns when
 * each has connected and loaded. */
RL_MUST_USE rl_err bench_cluster_start_nodes(bench_cluster *c, const char *tag, const char *go, rl_why *why);
/* A SUB socket on the hub's records with subscriber key `which` (0 or 1), subscribed to all. */
void *bench_cluster_subscribe(bench_cluster *c, bus *b, int which, const bus_limits *lim, rl_why *why);
/* Reads what a SUB socket holds: records counted into *got, the highest seq into *seen, deposits
 * (ATTEST records) into *attested (may be NULL); each record is also handed to `each` (may be
 * NULL) with ctx. */
typedef void (*bench_record_fn)(void *ctx, uint64_t seq, const uint8_t *rec, size_t len);
void bench_drain_records(void *sock, uint64_t *seen, uint64_t *got, uint64_t *attested, bench_record_fn each,
                         void *ctx);
/* A process's CPU time (user + system, every thread) so far, ns, from /proc/PID/stat; 0 when it
 * cannot be read. */
uint64_t bench_proc_cpu_ns(pid_t pid);
/* SIGTERM, then SIGKILL if it has not stopped within 30 s; the wait status (-1 when *pid <= 0);
 * *pid becomes -1. */
int bench_stop_child(pid_t *pid);
void bench_cluster_stop_nodes(bench_cluster *c);
/* Stops every process, frees the keys, removes c->dir. */
void bench_cluster_fini(bench_cluster *c);
/* Writes a whole file; false on any failure. */
bool bench_write_file(const char *path, const void *data, size_t len);

/* Removes a directory tree (a bench's scratch space). */
void bench_rm_rf(const char *dir);
/* A fresh directory $TMPDIR/relayer-bench-NAME.XXXXXX (/tmp without TMPDIR); malloc'd, NULL on
 * failure. */
char *bench_tmpdir(const char *name);

/* libsecp256k1 operations per second with all of p's threads busy (measured for about 2 s):
 * signing a 32-byte digest (RFC 6979, recoverable, as a co-signer signs), verifying against a
 * parsed public key, or recovering the signer's address (as the hub and the ledger check). */
enum bench_secp_op { BENCH_SECP_SIGN, BENCH_SECP_VERIFY, BENCH_SECP_RECOVER };
RL_MUST_USE rl_err bench_secp_rate(pool *p, enum bench_secp_op op, double *rate);

/* Runs fn over njobs jobs on p's threads, whole rounds, for at least measure_ns: jobs per second,
 * and (cpu_ns_per_job may be NULL) CPU time per job, every thread. Warming up is the caller's. */
double bench_pool_rate(pool *p, pool_fn fn, void *ctx, size_t njobs, size_t chunk, uint64_t measure_ns,
                       double *cpu_ns_per_job);

/* qsort comparator for uint64_t. */
int bench_cmp_u64(const void *a, const void *b);

/* Monotonic nanoseconds; CPU time of this process so far (every thread, user + system); and its
 * peak resident set so far in MiB. */
uint64_t bench_now_ns(void);
uint64_t bench_cpu_ns(void);
double bench_peak_rss_mb(void);

#endif
