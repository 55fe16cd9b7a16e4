/*
 * daemon.h - what every long-running `relayer` process shares: its one --config argument, and
 * SIGTERM/SIGINT turned into a flag its loop checks, so it finishes the work in hand and exits.
 */
#ifndef RL_DAEMON_H
#define RL_DAEMON_H

#include <signal.h>

/* Set by SIGTERM or SIGINT once daemon_trap_signals ran. */
extern volatile sig_atomic_t daemon_stopping;

/* Parses `NAME --config FILE` (and --help). Returns the config path, or NULL with *rc set to the
 * exit code (0 after --help). */
const char *daemon_config_arg(int argc, char **argv, const char *name, const char *usage, int *rc);

void daemon_trap_signals(void);

#endif
