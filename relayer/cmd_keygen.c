/*
 * cmd_keygen.c - `relayer keygen --out DIR --name NAME`: a node's key pair on disk.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relayer/cmd.h"
#include "relayer/keyfile.h"

static const char USAGE[] = "usage: relayer keygen --out DIR --name NAME\n"
                            "\n"
                            "Writes DIR/NAME.key (secret: an ed25519 and a secp256k1 key, mode 0600) and\n"
                            "DIR/NAME.pub (JSON: ed25519 key, its X25519 form for CURVE, EVM address).\n"
                            "Never overwrites an existing key.\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'}, {"name", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'o': dir = optarg; break;
        case 'n': name = optarg; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    if (dir == NULL || name == NULL || optind != argc) {
        fprintf(stderr, "relayer keygen: --out and --name are required\n%s", USAGE);
        return EXIT_USAGE;
    }
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "relayer keygen: %s: %s\n", dir, strerror(errno));
        return EXIT_USAGE;
    }
    node_key *k = NULL;
    rl_why why = {{0}};
    rl_err err = node_key_generate(&k, name, &why);
    if (err == RL_OK)
        err = keyfile_write(dir, k, &why);
    if (err != RL_OK) {
        fprintf(stderr, "relayer keygen: %s\n", why.text[0] ? why.text : rl_strerror(err));
        node_key_free(k);
        return EXIT_USAGE;
    }
    json_t *j = node_pub_to_json(node_key_pub(k));
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("wrote %s/%s.key (secret, 0600) and %s/%s.pub\n%s\n", dir, name, dir, name, text ? text : "");
    free(text);
    json_decref(j);
    node_key_free(k);
    return 0;
}
