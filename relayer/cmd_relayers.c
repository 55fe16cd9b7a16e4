/*
 * cmd_relayers.c - `relayer relayers init --threshold M [--venue VENUE.pub]... --out FILE NODE.pub...`:
 * the genesis relayer set an operator hands to the hub, the nodes and every auditor, with the
 * venue keys whose requests count (attest/admit.h).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relayer/cmd.h"
#include "relayer/files.h"
#include "relayer/keyfile.h"

static const char USAGE[] = "usage: relayer relayers init --threshold M [--venue VENUE.pub]... --out FILE NODE.pub...\n"
                            "\n"
                            "Writes the genesis relayer set (version 1): the members' public keys in the\n"
                            "order given (member ids 1, 2, ...) and the threshold M, a strict majority,\n"
                            "and the venue keys pinned with it (at most 16; a request signed by any other\n"
                            "key is never applied, whatever the hub allow-lists). Never overwrites FILE.\n";

int cmd_relayers(int argc, char **argv)
{
    static const struct option opts[] = {{"threshold", required_argument, NULL, 't'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"venue", required_argument, NULL, 'v'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        fputs(USAGE, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_USAGE;
    }
    argc--;
    argv++;
    const char *out = NULL, *venues[RELSET_MAX_VENUES + 1];
    int nvenues = 0;
    long threshold = 0;
    char *end;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            threshold = strtol(optarg, &end, 10);
            if (*end != '\0')
                threshold = 0;
            break;
        case 'o': out = optarg; break;
        case 'v':
            if (nvenues > RELSET_MAX_VENUES) {
                fprintf(stderr, "relayer relayers init: at most %d venues\n", RELSET_MAX_VENUES);
                return EXIT_USAGE;
            }
            venues[nvenues++] = optarg;
            break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    int n = argc - optind;
    if (out == NULL || threshold <= 0 || n <= 0 || n > RELSET_MAX_MEMBERS) {
        fprintf(stderr, "relayer relayers init: --threshold, --out and 1..%d .pub files are required\n%s",
                RELSET_MAX_MEMBERS, USAGE);
        return EXIT_USAGE;
    }
    struct stat st;
    if (stat(out, &st) == 0) {
        fprintf(stderr, "relayer relayers init: %s exists; refusing to overwrite\n", out);
        return EXIT_USAGE;
    }
    relset set = {.version = 1, .threshold = (uint16_t)threshold, .n = (uint16_t)n};
    rl_why why = {{0}};
    for (int i = 0; i < n; i++) {
        set.members[i].id = (uint16_t)(i + 1);
        if (pubfile_read(argv[optind + i], &set.members[i].pub, &why) != RL_OK) {
            fprintf(stderr, "relayer relayers init: %s\n", why.text);
            return EXIT_USAGE;
        }
    }
    for (int i = 0; i < nvenues; i++) {
        node_pub vp;
        if (pubfile_read(venues[i], &vp, &why) != RL_OK || relset_add_venue(&set, vp.name, vp.ed25519, &why) != RL_OK) {
            fprintf(stderr, "relayer relayers init: venue %s: %s\n", venues[i], why.text);
            return EXIT_USAGE;
        }
    }
    if (relset_validate(&set, &why) != RL_OK) {
        fprintf(stderr, "relayer relayers init: %s\n", why.text);
        return EXIT_USAGE;
    }
    json_t *j = relset_to_json(&set);
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS), *line = NULL;
    json_decref(j);
    rl_err err = text && asprintf(&line, "%s\n", text) > 0 ? file_write_atomic(out, line, &why) : RL_ERR_NOMEM;
    free(text);
    free(line);
    if (err != RL_OK) {
        fprintf(stderr, "relayer relayers init: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    printf("wrote %s: relayer set version 1, %d members, threshold %ld, %d venues\n", out, n, threshold, nvenues);
    return 0;
}
