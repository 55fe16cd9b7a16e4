/*
 * cmd_margin.c - `relayer margin eval FILE.json | -`: the what-if margin query a venue runs
 * without a cluster. The rules are collateral/margin.h's; the JSON is collateral/spec.h's.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "collateral/margin.h"
#include "collateral/spec.h"
#include "relayer/cmd.h"

static const char USAGE[] = "usage: relayer margin eval FILE.json\n"
                            "       relayer margin eval -          (the query on standard input)\n"
                            "       relayer margin --config FILE   (the live calculator daemon)\n"
                            "       relayer margin query --config FILE --account 0x..\n"
                            "\n"
                            "The daemon follows the hub's log with an audited replica, keeps every account\n"
                            "in memory, decides margin calls, liquidations and withdrawals and sends the\n"
                            "signed decisions to the hub (config: relayer/cmd_margind.c). query prints one\n"
                            "account as the daemon's replica has it.\n"
                            "\n"
                            "eval: "
                            "Values one account against the assets, markets and parameters in the query\n"
                            "(cross, isolated or portfolio margin) and prints one JSON object: equity,\n"
                            "initial and maintenance margin, free collateral, status, a line per position,\n"
                            "the withdrawal check when asked, the seize plan and bad debt when the account\n"
                            "is liquidatable, portfolio scenarios. Exit 0 with the answer; exit 2 with an\n"
                            "error naming the field when the query is malformed. Format: collateral/spec.h.\n";

static int eval(const char *file)
{
    json_error_t jerr;
    json_t *root = strcmp(file, "-") == 0 ? json_loadf(stdin, JSON_REJECT_DUPLICATES, &jerr)
                                          : json_load_file(file, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        fprintf(stderr, "relayer margin eval: %s:%d:%d: %s\n", strcmp(file, "-") == 0 ? "<stdin>" : file, jerr.line,
                jerr.column, jerr.text);
        return EXIT_USAGE;
    }
    mg_spec spec;
    rl_why why = {{0}};
    rl_err err = mg_spec_parse(root, &spec, &why);
    json_decref(root);
    if (err != RL_OK) {
        fprintf(stderr, "relayer margin eval: %s: %s\n", file, why.text);
        return EXIT_USAGE;
    }
    mg_ctx ctx;
    mg_result r;
    err = mg_ctx_init(&ctx, &spec.book);
    if (err == RL_OK) {
        err = mg_evaluate(&ctx, &spec.book, &spec.account, spec.has_withdraw ? &spec.withdraw : NULL, &r, &why);
        mg_ctx_fini(&ctx);
    }
    int rc = 0;
    if (err != RL_OK) {
        fprintf(stderr, "relayer margin eval: %s: %s\n", file, why.text[0] ? why.text : rl_strerror(err));
        rc = EXIT_USAGE;
    } else {
        json_t *out = mg_result_to_json(&spec, &r);
        char *text = out ? json_dumps(out, JSON_INDENT(2)) : NULL;
        if (text == NULL) {
            fprintf(stderr, "relayer margin eval: out of memory\n");
            rc = EXIT_USAGE;
        } else {
            puts(text);
        }
        free(text);
        json_decref(out);
        mg_result_fini(&r);
    }
    mg_spec_fini(&spec);
    return rc;
}

int cmd_margin(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "eval") == 0)
        return eval(argv[2]);
    if (argc == 3 && strcmp(argv[1], "--config") == 0)
        return margin_daemon(argv[2]);
    if (argc == 6 && strcmp(argv[1], "query") == 0) {
        const char *config = NULL, *account = NULL;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (strcmp(argv[i], "--config") == 0)
                config = argv[i + 1];
            else if (strcmp(argv[i], "--account") == 0)
                account = argv[i + 1];
        }
        if (config != NULL && account != NULL)
            return margin_query(config, account);
    }
    fputs(USAGE, stderr);
    return EXIT_USAGE;
}
