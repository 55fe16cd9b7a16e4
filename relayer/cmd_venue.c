/*
 * cmd_venue.c - the clients that feed the calculator through the hub:
 *
 *   relayer venue position|withdraw --config venue.conf ...   a venue's signed request
 *   relayer price send --config node.conf --feed F --price P  a node's signed price observation
 *
 * A request is numbered (--nonce, by default the wall clock in microseconds) and resent until the
 * hub acknowledges it: exit 0 once it is in the log, 1 when the hub refused it (the nonce holds
 * another request, or the signature or role is wrong), 2 when no answer came in time. A price
 * observation is sent once; the hub logs it with others when a quorum agrees (hubprice.h).
 * A withdrawal carries its owner's EIP-712 signature (attest/admit.h), made by the owner's wallet
 * from the typed data --print-typed-data prints, or here from a key file (--owner-key). Both need
 * the cluster's genesis relayer set (--relayers: the hub's `relayers` file), whose digest is the
 * signature's EIP-712 salt: a signature for one cluster is refused by every other.
 *
 *     # venue.conf
 *     [venue]
 *     key = keys/venue.key           ; allow-listed at the hub as a venue
 *     [hub]
 *     venue = tcp://127.0.0.1:7404
 *     key = keys/hub.pub
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "attest/admit.h"
#include "attest/hex.h"
#include "attest/request.h"
#include "collateral/fixed.h"
#include "relayer/args.h"
#include "relayer/cmd.h"
#include "relayer/config.h"
#include "relayer/files.h"
#include "relayer/hubclient.h"
#include "relayer/keyfile.h"
#include "relayer/progress.h"
#include "relayer/wire.h"

static const char VENUE_USAGE[] =
    "usage: relayer venue position --config FILE --account 0x.. --market NAME --size DEC --entry DEC\n"
    "                              [--mode cross|portfolio] [--nonce N] [--timeout-ms MS]\n"
    "       relayer venue withdraw --config FILE --account 0x.. --chain-id ID --asset 0x.. --amount BASE\n"
    "                              --recipient 0x.. --positions-nonce N\n"
    "                              (--owner-signature 0x.. | --owner-key FILE --relayers SET.json)\n"
    "                              [--owner-nonce N] [--expiry-s T] [--nonce N] [--timeout-ms MS]\n"
    "       relayer venue withdraw --print-typed-data --account 0x.. --chain-id ID --asset 0x.. --amount BASE\n"
    "                              --recipient 0x.. --owner-nonce N --expiry-s T --relayers SET.json\n"
    "\n"
    "Signs a venue request with the venue key and submits it to the hub: a position (size signed,\n"
    "0 closes it; the account's margin mode) or a withdrawal (amount in the asset's base units).\n"
    "A withdrawal carries the account owner's EIP-712 signature of Withdrawal(account, chainId,\n"
    "asset, amount, recipient, nonce, expiry) in domain {name CollateralRelayer, version 1, salt}\n"
    "with salt the cluster id, the digest of the genesis relayer set (--relayers: the hub's relayers\n"
    "file; a signature for another cluster is refused): made by a wallet from --print-typed-data's\n"
    "JSON (cast wallet sign --data ..) and passed as\n"
    "--owner-signature, or made here from a relayer key file's secp256k1 key (--owner-key; tests,\n"
    "the demo). --owner-nonce must exceed the account's last (default: unix ms); --expiry-s is unix\n"
    "seconds (default: now + 1 h). --positions-nonce is the nonce of the last position request this\n"
    "venue sent for the account (0: none; `margin query` shows positions_nonce): the calculator\n"
    "refuses the withdrawal (positions_stale) unless that is the last position it applied.\n"
    "Exit 0 once logged, 1 refused, 2 no answer or bad arguments.\n"
    "Config: [venue] key; [hub] venue, key.\n";

static const char PRICE_USAGE[] =
    "usage: relayer price send --config NODE.conf --feed NAME --price DEC [--time-ms MS]\n"
    "\n"
    "Signs one price observation with the node's key and sends it to the hub, which logs a price\n"
    "once a quorum of nodes agree within its deviation limit. --time-ms is when the source says the\n"
    "value is from (default: now). Config: the node's ([node] key, relayers; [hub] nodes, key).\n";

/* The observation leaves once the CURVE handshake is done: wait this long for it at exit. */
#define PRICE_SEND_LINGER_MS 3000

typedef struct client_config {
    char key[CFG_STR_MAX], relayers[CFG_STR_MAX], data[CFG_STR_MAX];
    char endpoint[CFG_STR_MAX], hub_key[CFG_STR_MAX];
} client_config;

#define F(field) offsetof(client_config, field)
static const cfg_key venue_schema[] = {
    {"venue", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"hub", "venue", CFG_ENDPOINT, 1, 0, 0, F(endpoint)},
    {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
};
static const cfg_key node_schema[] = {
    {"node", "key", CFG_PATH, 1, 0, 0, F(key)},
    {"node", "relayers", CFG_PATH, 1, 0, 0, F(relayers)},
    {"node", "data", CFG_PATH, 0, 0, 0, F(data)},
    {"hub", "nodes", CFG_ENDPOINT, 1, 0, 0, F(endpoint)},
    {"hub", "key", CFG_PATH, 1, 0, 0, F(hub_key)},
};

/* Sends the SUBMIT frame every second until an ACK comes or timeout_ms passes. */
static int submit(void *sock, const uint8_t *frame, size_t len, uint64_t msg_id, uint64_t timeout_ms)
{
    uint64_t start = mono_ms(), sent = 0;
    while (mono_ms() - start < timeout_ms) {
        if (sent == 0 || mono_ms() - sent >= 1000) {
            zmq_send(sock, frame, len, ZMQ_DONTWAIT);
            sent = mono_ms();
        }
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, 100) <= 0)
            continue;
        uint8_t ack[64];
        int got = zmq_recv(sock, ack, sizeof ack, 0);
        wire_msg m;
        if (got < 0 || (size_t)got > sizeof ack || wire_decode(&m, ack, (size_t)got, NULL) != RL_OK ||
            m.type != WIRE_ACK)
            continue;
        for (size_t i = 0; i < m.n; i++) {
            wire_ack a = wire_ack_at(&m, i);
            if (a.msg_id != msg_id)
                continue;
            if (a.status == WIRE_ACK_SETTLED) {
                printf("logged (nonce %llu)\n", (unsigned long long)msg_id);
                return 0;
            }
            fprintf(stderr, "refused by the hub (nonce %llu): see the hub's log\n", (unsigned long long)msg_id);
            return EXIT_CHECK_FAILED;
        }
    }
    fprintf(stderr, "no answer from the hub in %llu ms\n", (unsigned long long)timeout_ms);
    return EXIT_USAGE;
}

/* The typed data the owner's wallet signs, on stdout. */
static int print_typed_data(const request *q, const uint8_t cluster[HASH_BYTES])
{
    json_t *j = admit_owner_typed_data(q, cluster);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return EXIT_USAGE;
    puts(text);
    free(text);
    return 0;
}

/* The cluster id (the owners' EIP-712 salt) from --relayers, the genesis set. */
static rl_err cluster_of(uint8_t cluster[HASH_BYTES], const char *relayers, rl_why *why)
{
    if (relayers == NULL)
        return rl_fail(why, RL_ERR_ARG, "--print-typed-data and --owner-key need --relayers (the cluster's genesis "
                                        "relayer set, the hub's relayers file): its digest is the signature's salt");
    relset genesis;
    rl_err err = relset_load(relayers, &genesis, why);
    if (err == RL_OK && genesis.version != 1)
        err = rl_fail(why, RL_ERR_ARG, "--relayers %s is relayer set version %u, not the genesis set (1)", relayers,
                      genesis.version);
    if (err == RL_OK && (err = admit_cluster_id(cluster, &genesis)) != RL_OK)
        rl_fail(why, err, "hashing the relayer set %s", relayers);
    return err;
}

/* A withdrawal's owner part: nonce, expiry and signature (given, or made with --owner-key for the
 * cluster, whose id is written to `cluster`). With `print`, nonce and expiry must be given (the
 * signature comes later, from the wallet). */
static rl_err owner_part(request *q, uint8_t cluster[HASH_BYTES], const char *const *v, bool print, uint64_t now_ms,
                         rl_why *why)
{
    rl_err err = RL_OK;
    q->owner_nonce = now_ms;
    q->expiry_s = now_ms / 1000 + 3600;
    if (print && (v['N'] == NULL || v['E'] == NULL))
        return rl_fail(why, RL_ERR_ARG, "--print-typed-data needs --owner-nonce and --expiry-s (the signature "
                                        "made from it must be sent with the same ones)");
    if (v['N'])
        err = arg_u64(&q->owner_nonce, v['N'], "--owner-nonce", why);
    if (err == RL_OK && v['E'])
        err = arg_u64(&q->expiry_s, v['E'], "--expiry-s", why);
    if (err == RL_OK && print)
        return cluster_of(cluster, v['R'], why);
    if (err != RL_OK)
        return err;
    if ((v['g'] == NULL) == (v['k'] == NULL))
        return rl_fail(why, RL_ERR_ARG, "a withdrawal needs the owner's signature: --owner-signature or --owner-key");
    if (v['g'])
        return hex_decode(q->owner_sig, EVM_SIG_BYTES, v['g'], "--owner-signature", why);
    if ((err = cluster_of(cluster, v['R'], why)) != RL_OK)
        return err;
    node_key *owner = NULL;
    if ((err = keyfile_read(v['k'], &owner, why)) != RL_OK)
        return err;
    if (memcmp(node_key_pub(owner)->evm, q->account, EVM_ADDR_BYTES) != 0)
        err = rl_fail(why, RL_ERR_ARG, "--owner-key %s is not the key of --account", v['k']);
    else if ((err = admit_owner_sign(q, cluster, node_key_secp256k1_secret(owner))) != RL_OK)
        rl_fail(why, err, "signing the owner's withdrawal");
    node_key_free(owner);
    return err;
}

int cmd_venue(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "position") != 0 && strcmp(argv[1], "withdraw") != 0)) {
        fputs(VENUE_USAGE, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_USAGE;
    }
    bool position = strcmp(argv[1], "position") == 0;
    static const struct option opts[] = {
        {"config", 1, 0, 'c'}, {"account", 1, 0, 'a'},   {"market", 1, 0, 'm'},  {"size", 1, 0, 's'},
        {"entry", 1, 0, 'e'},  {"mode", 1, 0, 'o'},      {"nonce", 1, 0, 'n'},   {"chain-id", 1, 0, 'i'},
        {"asset", 1, 0, 'x'},  {"amount", 1, 0, 'q'},    {"recipient", 1, 0, 'r'}, {"timeout-ms", 1, 0, 't'},
        {"owner-key", 1, 0, 'k'}, {"owner-signature", 1, 0, 'g'}, {"owner-nonce", 1, 0, 'N'}, {"expiry-s", 1, 0, 'E'},
        {"print-typed-data", 0, 0, 'P'}, {"positions-nonce", 1, 0, 'p'}, {"relayers", 1, 0, 'R'}, {0, 0, 0, 0}};
    const char *v[128] = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == '?') {
            fputs(VENUE_USAGE, stderr);
            return EXIT_USAGE;
        }
        v[c] = optarg ? optarg : "";
    }
    request q = {.kind = position ? REQUEST_POSITION : REQUEST_WITHDRAW};
    uint8_t cluster[HASH_BYTES];
    uint64_t timeout = 10000;
    client_config cfg = {0};
    rl_why why = {{0}};
    bool print = !position && v['P'] != NULL;
    rl_err err = print  ? RL_OK
                 : v['c'] ? cfg_load(v['c'], venue_schema, sizeof venue_schema / sizeof venue_schema[0], &cfg, &why)
                         : rl_fail(&why, RL_ERR_ARG, "--config is required");
    if (err == RL_OK)
        err = arg_addr(q.account, v['a'], "--account", &why);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    q.nonce = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000; /* microseconds */
    if (err == RL_OK && v['n'])
        err = arg_u64(&q.nonce, v['n'], "--nonce", &why);
    if (err == RL_OK && v['t'])
        err = arg_u64(&timeout, v['t'], "--timeout-ms", &why);
    if (err == RL_OK && position) {
        const char *mode = v['o'] ? v['o'] : "cross";
        if (strcmp(mode, "cross") != 0 && strcmp(mode, "portfolio") != 0)
            err = rl_fail(&why, RL_ERR_ARG, "--mode \"%s\": cross or portfolio", mode);
        q.mode = strcmp(mode, "portfolio") == 0 ? REQUEST_MODE_PORTFOLIO : REQUEST_MODE_CROSS;
        if (err == RL_OK && (v['m'] == NULL || strlen(v['m']) > PRICE_FEED_BYTES))
            err = rl_fail(&why, RL_ERR_ARG, "--market: a market name of 1..%d characters", PRICE_FEED_BYTES);
        if (err == RL_OK)
            snprintf(q.market, sizeof q.market, "%s", v['m']);
        if (err == RL_OK && (v['s'] == NULL || fixed_parse_e18(&q.size_e18, v['s'], true, &why) != RL_OK))
            err = rl_fail(&why, RL_ERR_ARG, "--size \"%s\": a decimal such as -5 or 0.25", v['s'] ? v['s'] : "");
        if (err == RL_OK && (v['e'] == NULL || fixed_parse_e18(&q.entry_e18, v['e'], false, &why) != RL_OK))
            err = rl_fail(&why, RL_ERR_ARG, "--entry \"%s\": a price such as 2900.5", v['e'] ? v['e'] : "");
    } else if (err == RL_OK) {
        err = arg_u64(&q.chain_id, v['i'], "--chain-id", &why);
        if (err == RL_OK)
            err = arg_addr(q.asset, v['x'], "--asset", &why);
        if (err == RL_OK)
            err = arg_addr(q.recipient, v['r'], "--recipient", &why);
        if (err == RL_OK && (v['q'] == NULL || fixed_parse_base(&q.amount, v['q'], 0, &why) != RL_OK))
            err = rl_fail(&why, RL_ERR_ARG, "--amount \"%s\": a whole number of base units", v['q'] ? v['q'] : "");
        /* Required, no default: 0 would be refused for any account with a position (admit.h A6). */
        if (err == RL_OK && !print)
            err = arg_u64(&q.positions_nonce, v['p'], "--positions-nonce", &why);
        if (err == RL_OK)
            err = owner_part(&q, cluster, v, print, (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000,
                             &why);
        if (err == RL_OK && print)
            return print_typed_data(&q, cluster);
    }
    hubclient hc = {0};
    uint8_t body[REQUEST_MAX_BYTES], frame[REQUEST_MAX_BYTES + 32];
    size_t len = 0;
    if (err == RL_OK)
        err = hubclient_open(&hc, cfg.key, cfg.hub_key, cfg.endpoint, &why);
    if (err == RL_OK) {
        memcpy(q.venue, node_key_pub(hc.key)->ed25519, ED25519_PK_BYTES);
        err = request_sign(body, &len, &q, hc.key, &why);
    }
    int rc = EXIT_USAGE;
    if (err == RL_OK) {
        size_t flen = wire_encode_submit(frame, sizeof frame, q.nonce, RECORD_REQUEST, body, len);
        rc = submit(hc.sock, frame, flen, q.nonce, timeout);
    } else {
        fprintf(stderr, "relayer venue %s: %s\n", argv[1], why.text[0] ? why.text : rl_strerror(err));
    }
    hubclient_close(&hc, 0);
    return rc;
}

int cmd_price(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "send") != 0) {
        fputs(PRICE_USAGE, argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
        return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : EXIT_USAGE;
    }
    static const struct option opts[] = {
        {"config", 1, 0, 'c'}, {"feed", 1, 0, 'f'}, {"price", 1, 0, 'p'}, {"time-ms", 1, 0, 't'}, {0, 0, 0, 0}};
    const char *v[128] = {0};
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == '?') {
            fputs(PRICE_USAGE, stderr);
            return EXIT_USAGE;
        }
        v[c] = optarg;
    }
    client_config cfg = {0};
    price_obs o = {.time_ms = wall_ms()};
    rl_why why = {{0}};
    rl_err err = v['c'] ? cfg_load_part(v['c'], node_schema, sizeof node_schema / sizeof node_schema[0], &cfg,
                                        CFG_NODE_FOREIGN, &why)
                        : rl_fail(&why, RL_ERR_ARG, "--config is required");
    if (err == RL_OK && (v['f'] == NULL || strlen(v['f']) > PRICE_FEED_BYTES))
        err = rl_fail(&why, RL_ERR_ARG, "--feed: a feed name of 1..%d characters", PRICE_FEED_BYTES);
    if (err == RL_OK)
        snprintf(o.feed, sizeof o.feed, "%s", v['f']);
    if (err == RL_OK && (v['p'] == NULL || fixed_parse_e18(&o.price_e18, v['p'], false, &why) != RL_OK))
        err = rl_fail(&why, RL_ERR_ARG, "--price \"%s\": a decimal such as 3000.25", v['p'] ? v['p'] : "");
    if (err == RL_OK && v['t'])
        err = arg_u64(&o.time_ms, v['t'], "--time-ms", &why);
    hubclient hc = {0};
    if (err == RL_OK)
        err = hubclient_open(&hc, cfg.key, cfg.hub_key, cfg.endpoint, &why);
    if (err == RL_OK)
        err = hubclient_member(&hc, cfg.relayers, &why);
    if (err == RL_OK)
        err = hubclient_send_price(&hc, &o, wall_ms(), &why);
    if (err != RL_OK)
        fprintf(stderr, "relayer price send: %s\n", why.text[0] ? why.text : rl_strerror(err));
    hubclient_close(&hc, PRICE_SEND_LINGER_MS);
    return err == RL_OK ? 0 : EXIT_USAGE;
}
