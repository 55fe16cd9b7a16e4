/* config_test.c - config files: what loads, and errors that name the file, the line and the key. */
#include "db/ingest.h"
#include "relayer/hub.h"
#include "relayer/hublimits.h"
#include "tests/testutil.h"

static char *write_conf(const char *dir, const char *text)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/hub.conf", dir) > 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static const char GOOD[] = "# a hub\n"
                           "[hub]\n"
                           "data = hub            ; relative to this file\n"
                           "key = /etc/relayer/hub.key\n"
                           "relayers = relayers.json\n"
                           "commit_delay_ms = 7\n"
                           "[listen]\n"
                           "nodes = tcp://127.0.0.1:7401\n"
                           "records = tcp://0.0.0.0:7402\n"
                           "catchup = ipc:///run/relayer/catchup.sock\n"
                           "[allow]\n"
                           "node = keys/node1.pub\n"
                           "node = keys/node2.pub\n";

Test(config, a_good_file_loads_with_defaults_and_resolved_paths)
{
    char *dir = tu_tmpdir(), *path = write_conf(dir, GOOD);
    hub_config c;
    rl_why why = {{0}};
    cr_assert_eq(hub_config_load(path, &c, &why), RL_OK, "%s", why.text);
    char want[600];
    snprintf(want, sizeof want, "%s/hub", dir);
    cr_assert_str_eq(c.data, want);
    cr_assert_str_eq(c.key, "/etc/relayer/hub.key");
    cr_assert_eq(c.commit_delay_ms, 7);
    cr_assert_eq(c.commit_max_records, INGEST_HUB_COMMIT_MAX, "default kept");
    cr_assert_eq(c.commit_load_records, INGEST_HUB_LOAD_RECORDS, "default kept");
    cr_assert_eq(c.allow_node.n, 2);
    snprintf(want, sizeof want, "%s/keys/node2.pub", dir);
    cr_assert_str_eq(c.allow_node.item[1], want);
    cr_assert_str_eq(c.catchup, "ipc:///run/relayer/catchup.sock");
    /* The hostile-load bounds have their documented defaults (hub.h). */
    cr_assert_eq(c.handshake_ms, 5000);
    cr_assert_eq(c.frames_per_round, 256);
    cr_assert_eq(c.catchup_per_second, 50);
    cr_assert_eq(c.catchup_hwm, 8192);
    cr_assert_eq(c.pending_per_member, 16384);
    cr_assert_eq(c.pending_ttl_ms, 600000);
    cr_assert_eq(c.waiting_per_peer, 4096);
    cr_assert_str_eq(c.price_feeds, "", "no feed unless named");
    free(path);
    tu_rmdir(dir);
}

Test(config, the_hub_takes_prices_only_for_the_feeds_it_names_and_its_risk_files)
{
    char feeds[4][PRICE_FEED_BYTES + 1];
    size_t n;
    rl_why why = {{0}};
    cr_assert_eq(hublimits_feeds("hub.conf", " ETH, BTC ETH,,", NULL, feeds, 4, &n, &why), RL_OK, "%s", why.text);
    cr_assert_eq(n, 2, "duplicates count once");
    cr_assert_str_eq(feeds[0], "ETH");
    cr_assert_str_eq(feeds[1], "BTC");
    cr_assert_eq(hublimits_feeds("hub.conf", "A B C D E", NULL, feeds, 4, &n, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "hub.conf: [prices] feeds: 'E'") != NULL, "%s", why.text);
    cr_assert_eq(hublimits_feeds("hub.conf", "ABCDEFGHIJKLMNOPQ", NULL, feeds, 4, &n, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "longer than 16 bytes") != NULL, "%s", why.text);
}

struct bad {
    const char *find, *replace, *expect;
};

Test(config, every_mistake_names_file_line_and_key)
{
    const struct bad cases[] = {
        {"commit_delay_ms = 7", "commit_delay_ms = 7o", ":6: [hub] commit_delay_ms: '7o' is not a whole number"},
        {"commit_delay_ms = 7", "commit_delay_ms = 0", ":6: [hub] commit_delay_ms: 0 is out of range 1..60000"},
        {"commit_delay_ms = 7", "commit_dealy_ms = 7", ":6: [hub] commit_dealy_ms: unknown key"},
        {"[listen]", "[lisen]", ":8: [lisen] nodes: unknown section"},
        {"tcp://127.0.0.1:7401", "tcp//127.0.0.1:7401", ":8: [listen] nodes: 'tcp//127.0.0.1:7401' is not an endpoint"},
        {"tcp://127.0.0.1:7401", "tcp://127.0.0.1:99999", ":8: [listen] nodes: "},
        {"key = /etc/relayer/hub.key\n", "key = /etc/relayer/hub.key\nkey = other\n", ":5: [hub] key: set twice (first on line 4)"},
        {"relayers = relayers.json\n", "", "hub.conf: [hub] relayers is required"},
        {"node = keys/node1.pub\nnode = keys/node2.pub\n", "", "hub.conf: [allow] node is required"},
        {"data = hub ", "data hub ", ":3: not a 'key = value' line"},
        {"data = hub            ; relative to this file", "data =", ":3: [hub] data: empty value"},
    };
    char *dir = tu_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[2048];
        const char *at = strstr(GOOD, cases[i].find);
        cr_assert_not_null(at, "case %zu", i);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - GOOD), GOOD, cases[i].replace, at + strlen(cases[i].find));
        char *path = write_conf(dir, text);
        hub_config c;
        rl_why why = {{0}};
        cr_assert_neq(hub_config_load(path, &c, &why), RL_OK, "case %zu loaded:\n%s", i, text);
        cr_assert(strstr(why.text, cases[i].expect) != NULL, "case %zu: '%s' does not say '%s'", i, why.text,
                  cases[i].expect);
        cr_assert(strncmp(why.text, path, strlen(path)) == 0, "case %zu: '%s' does not start with the file", i,
                  why.text);
        free(path);
    }
    hub_config c;
    rl_why why = {{0}};
    cr_assert_eq(hub_config_load("/nonexistent/hub.conf", &c, &why), RL_ERR_NOTFOUND);
    cr_assert(strstr(why.text, "/nonexistent/hub.conf") != NULL, "%s", why.text);
    tu_rmdir(dir);
}

Test(config, the_hub_does_not_start_on_a_bad_file)
{
    char *dir = tu_tmpdir(), *out = NULL;
    char *path = write_conf(dir, "[hub]\ndata = x\nbogus = 1\n");
    cr_assert_eq(tu_run(&out, "%s hub --config %s", RELAYER_BIN, path), 2, "%s", out);
    cr_assert(strstr(out, "hub.conf:3: [hub] bogus: unknown key") != NULL, "%s", out);
    free(out);
    free(path);
    tu_rmdir(dir);
}

/* The watcher and the executor read a chain's finality with one check (cfg_finality): the same
 * mistake stops both with the same words, naming file and section. */
Test(config, watch_and_execute_refuse_a_bad_finality_in_the_same_words)
{
    static const struct {
        const char *lines, *expect;
    } cases[] = {
        {"finality = final\n", "[chain.l1] finality: 'final' (the one finality tag read is 'finalized')"},
        {"finality = finalized\nconfirmations = 3\n",
         "[chain.l1]: confirmations and finality = finalized exclude each other"},
    };
    char *dir = tu_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int cmd = 0; cmd < 2; cmd++) {
            char text[1024];
            snprintf(text, sizeof text,
                     "[%s]\nkey = k.key\nrelayers = r.json\ndata = d\n"
                     "[hub]\nnodes = ipc:///tmp/n\n%skey = h.pub\n"
                     "[chain.l1]\n%srpc = http://127.0.0.1:1\nchain_id = 1\n"
                     "vault = 0x5FbDB2315678afecb367f032d93F642f64180aa3\n%s",
                     cmd ? "execute" : "node", cmd ? "records = ipc:///tmp/r\ncatchup = ipc:///tmp/c\n" : "",
                     cmd ? "" : "source = evm\n", cases[i].lines);
            char *path = write_conf(dir, text), *out = NULL;
            int rc = tu_run(&out, "%s %s --config %s --chain l1", RELAYER_BIN, cmd ? "execute" : "watch", path);
            cr_assert_neq(rc, 0, "case %zu: %s started:\n%s", i, cmd ? "execute" : "watch", out);
            cr_assert(strstr(out, cases[i].expect) != NULL && strstr(out, path) != NULL,
                      "case %zu: %s says '%s', not '%s' with the file", i, cmd ? "execute" : "watch", out,
                      cases[i].expect);
            free(out);
            free(path);
        }
    }
    tu_rmdir(dir);
}
