/*
 * cmd.h - the `relayer` subcommands. Each takes the arguments after its own name
 * (argv[0] is the subcommand name, as getopt expects) and returns the process exit code:
 * 0 success, 1 a check failed (audit found a bad record), 2 usage or runtime error.
 */
#ifndef RL_CMD_H
#define RL_CMD_H

#define EXIT_CHECK_FAILED 1
#define EXIT_USAGE 2

int cmd_keygen(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_ledger(int argc, char **argv);
int cmd_dev(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_hub(int argc, char **argv);
int cmd_follow(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_relayers(int argc, char **argv);
int cmd_margin(int argc, char **argv);
int cmd_venue(int argc, char **argv);
int cmd_price(int argc, char **argv);
int cmd_oracle(int argc, char **argv);
int cmd_cosign(int argc, char **argv);
int cmd_execute(int argc, char **argv);
int cmd_limits(int argc, char **argv);
int cmd_checkpoint(int argc, char **argv);

/* `relayer margin --config FILE` and `relayer margin query` (cmd_margind.c). */
int margin_daemon(const char *config);
int margin_query(const char *config, const char *account_hex);

#endif
