/*
 * bench.h - pieces the benchmarks share (cmd_bench.c, cmd_bench_bus.c).
 */
#ifndef RL_BENCH_H
#define RL_BENCH_H

#include "db/ingest.h"
#include "relayer/sim.h"

/* The stream through a fresh ledger in dir, in process: verify + quorum + group commit. */
RL_MUST_USE rl_err bench_ingest_once(pool *p, const sim *s, const signed_obs *stream, size_t nobs, const char *dir,
                                     ingest_stats *stats, double *secs, rl_why *why);

int bench_bus(int argc, char **argv);
int bench_bus_node(int argc, char **argv);
int bench_margin(int argc, char **argv);

/* Monotonic nanoseconds, and this process's peak resident set so far in MiB. */
uint64_t bench_now_ns(void);
double bench_peak_rss_mb(void);

#endif
