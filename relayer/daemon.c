/*
 * daemon.c - argument and signal handling shared by the daemons.
 */
#include "relayer/daemon.h"

#include <getopt.h>
#include <stdio.h>

#include "relayer/cmd.h"

volatile sig_atomic_t daemon_stopping;

static void on_signal(int sig)
{
    (void)sig;
    daemon_stopping = 1;
}

const char *daemon_config_arg(int argc, char **argv, const char *name, const char *usage, int *rc)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *config = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'h': fputs(usage, stdout); *rc = 0; return NULL;
        default: fputs(usage, stderr); *rc = EXIT_USAGE; return NULL;
        }
    }
    if (config == NULL || optind != argc) {
        fprintf(stderr, "relayer %s: --config is required\n%s", name, usage);
        *rc = EXIT_USAGE;
        return NULL;
    }
    return config;
}

void daemon_trap_signals(void)
{
    struct sigaction sa = {.sa_handler = on_signal}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    /* Under `relayer up` SIGINT is ignored on purpose (Ctrl-C is the supervisor's to handle, and
     * it stops its children in order): keep it so. */
    if (sigaction(SIGINT, NULL, &old) == 0 && old.sa_handler != SIG_IGN)
        sigaction(SIGINT, &sa, NULL);
}
