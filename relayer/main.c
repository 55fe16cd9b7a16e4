/*
 * main.c - the one `relayer` command: finds the subcommand and hands over its arguments.
 * Each subcommand lives in its own cmd_*.c; nothing else belongs here.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "relayer/cmd.h"

#define RELAYER_VERSION "0.1.0"

struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct subcommand subcommands[] = {
    {"keygen", cmd_keygen, "make a node key pair: keygen --out DIR --name NAME"},
    {"relayers", cmd_relayers, "the genesis set: relayers init --threshold M [--venue V.pub] --out F NODE.pub..."},
    {"audit", cmd_audit, "export, verify and replay the attestation log"},
    {"ledger", cmd_ledger, "inspect a ledger: ledger digest --db DIR"},
    {"dev", cmd_dev, "developer tools: dev simulate --out DIR --events N --nodes K --threshold M"},
    {"bench", cmd_bench, "benchmarks: bench ingest | replay | bus | margin"},
    {"hub", cmd_hub, "the hub daemon: hub --config FILE"},
    {"up", cmd_up, "a supervised local cluster: up --config cluster.conf"},
    {"status", cmd_status, "what the hub is doing: status --config hub.conf [--json]"},
    {"watch", cmd_watch, "a node's chain watcher: watch --config FILE --chain NAME"},
    {"follow", cmd_follow, "an audited replica of the hub's ledger: follow --config FILE"},
    {"margin", cmd_margin, "margin: margin eval FILE.json | margin --config FILE | margin query ..."},
    {"venue", cmd_venue, "a venue's signed request: venue position|withdraw --config FILE ..."},
    {"oracle", cmd_oracle, "a node's price oracle (aggregators, HTTP feeds): oracle --config FILE"},
    {"cosign", cmd_cosign, "a node's co-signer of instructions it re-derives: cosign --config FILE"},
    {"checkpoint", cmd_checkpoint, "a node's newest quorum checkpoint, for auditors: checkpoint --config FILE"},
    {"execute", cmd_execute, "a node's executor of bundles on one chain: execute --config FILE --chain NAME"},
    {"limits", cmd_limits, "a node's signature of a vault's deposit limits: limits sign --key FILE ..."},
    {"price", cmd_price, "a node's signed price observation: price send --config NODE.conf ..."},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: relayer COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        fprintf(f, "  %-10s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(f, "\n`relayer COMMAND --help` describes each command.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("relayer %s\n", RELAYER_VERSION);
        return 0;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "relayer: libsodium failed to initialise\n");
        return EXIT_USAGE;
    }
    for (size_t i = 0; i < sizeof subcommands / sizeof subcommands[0]; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0)
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "relayer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
