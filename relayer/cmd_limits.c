/*
 * cmd_limits.c - `relayer limits sign`: a node's signature of a vault's new deposit limits.
 *
 * CollateralVault takes only listed assets, each from a minimum, and changes the list only by
 * setLimits(assets, minimums, version, signatures) signed by a quorum of its signer set over the
 * EIP-712 Limits digest (attest/eip712.h). Each node operator runs this with the node's key on the
 * same arguments; whoever collects a quorum's lines sends setLimits with the signatures ordered by
 * signer address ascending (the vault's rule), e.g. with cast:
 *
 *     relayer limits sign --key keys/node1.key --chain-id 1 --vault 0xVAULT --version 2 \
 *         0x0000000000000000000000000000000000000000=1000000000000000 0xTOKEN=1000000
 *     -> signer=0x... digest=0x... signature=0x...
 *     cast send 0xVAULT "setLimits(address[],uint256[],uint256,bytes[])" "[0x00..00,0xTOKEN]" \
 *         "[1000000000000000,1000000]" 2 "[SIG_OF_LOWER_SIGNER,SIG_OF_HIGHER_SIGNER]"
 *
 * version is the vault's limitsVersion() + 1: a signed message applies once. A minimum of 0
 * delists the asset. Nothing is sent from here: signing needs only the key, no chain access.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/eip712.h"
#include "attest/hex.h"
#include "relayer/cmd.h"
#include "relayer/keyfile.h"

static const char USAGE[] =
    "usage: relayer limits sign --key NODE.key --chain-id N --vault 0xADDR --version V ASSET=MIN...\n"
    "\n"
    "Signs CollateralVault's EIP-712 Limits(assets, minimums, version) with the node's EVM key and\n"
    "prints one line: signer=0x.. digest=0x.. signature=0x... ASSET is a 0x address (the native\n"
    "coin is 0x0000000000000000000000000000000000000000), listed in ascending order; MIN a decimal\n"
    "number of base units (0 delists the asset); V the vault's limitsVersion() + 1.\n";

#define MAX_LIMIT_ASSETS 64

/* "0xADDR=MIN" into asset and minimum. */
static rl_err parse_limit(const char *arg, uint8_t asset[EVM_ADDR_BYTES], u256 *minimum, rl_why *why)
{
    const char *eq = strchr(arg, '=');
    char addr[2 * EVM_ADDR_BYTES + 3];
    if (eq == NULL || (size_t)(eq - arg) >= sizeof addr)
        return rl_fail(why, RL_ERR_ARG, "\"%s\": expected 0xASSET=MINIMUM", arg);
    memcpy(addr, arg, (size_t)(eq - arg));
    addr[eq - arg] = '\0';
    rl_err err = strncmp(addr, "0x", 2) == 0 ? hex_decode(asset, EVM_ADDR_BYTES, addr, "asset", why)
                                             : rl_fail(why, RL_ERR_ARG, "\"%s\": the asset is not a 0x address", arg);
    if (err == RL_OK && (err = u256_from_dec(minimum, eq + 1, why)) != RL_OK)
        rl_why_prefix(why, "\"%s\": minimum: ", arg);
    return err;
}

static int limits_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},     {"chain-id", required_argument, NULL, 'c'},
        {"vault", required_argument, NULL, 'v'},   {"version", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *key = NULL, *chain = NULL, *vault_hex = NULL, *version_dec = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'k': key = optarg; break;
        case 'c': chain = optarg; break;
        case 'v': vault_hex = optarg; break;
        case 'n': version_dec = optarg; break;
        case 'h': fputs(USAGE, stdout); return 0;
        default: fputs(USAGE, stderr); return EXIT_USAGE;
        }
    }
    size_t n = (size_t)(argc - optind);
    if (key == NULL || chain == NULL || vault_hex == NULL || version_dec == NULL || n == 0) {
        fprintf(stderr, "relayer limits sign: --key, --chain-id, --vault, --version and ASSET=MIN are required\n%s",
                USAGE);
        return EXIT_USAGE;
    }
    rl_why why = {{0}};
    rl_err err = RL_OK;
    uint8_t vault[EVM_ADDR_BYTES], assets[MAX_LIMIT_ASSETS][EVM_ADDR_BYTES];
    u256 minimums[MAX_LIMIT_ASSETS], version, chain_id;
    if (n > MAX_LIMIT_ASSETS)
        err = rl_fail(&why, RL_ERR_ARG, "%zu assets, at most %d in one message", n, MAX_LIMIT_ASSETS);
    if (err == RL_OK && strncmp(vault_hex, "0x", 2) != 0)
        err = rl_fail(&why, RL_ERR_ARG, "--vault \"%s\": not a 0x address", vault_hex);
    if (err == RL_OK)
        err = hex_decode(vault, EVM_ADDR_BYTES, vault_hex, "--vault", &why);
    if (err == RL_OK && (err = u256_from_dec(&chain_id, chain, &why)) == RL_OK &&
        (chain_id.w[1] | chain_id.w[2] | chain_id.w[3]) != 0)
        err = rl_fail(&why, RL_ERR_ARG, "--chain-id %s: above 2^64-1", chain);
    if (err == RL_OK && (err = u256_from_dec(&version, version_dec, &why)) != RL_OK)
        rl_why_prefix(&why, "--version: ");
    for (size_t i = 0; err == RL_OK && i < n; i++) {
        err = parse_limit(argv[optind + (int)i], assets[i], &minimums[i], &why);
        /* the vault refuses anything else (AssetsNotAscending): no point signing it */
        if (err == RL_OK && i > 0 && memcmp(assets[i - 1], assets[i], EVM_ADDR_BYTES) >= 0)
            err = rl_fail(&why, RL_ERR_ARG, "\"%s\": assets must be strictly ascending", argv[optind + (int)i]);
    }
    node_key *k = NULL;
    uint8_t domain[HASH_BYTES], digest[HASH_BYTES], sig[EVM_SIG_BYTES];
    if (err == RL_OK)
        err = keyfile_read(key, &k, &why);
    if (err == RL_OK) {
        eip712_vault_domain(domain, chain_id.w[0], vault);
        err = eip712_limits_digest(digest, domain, (const uint8_t(*)[EVM_ADDR_BYTES])assets, minimums, n, &version);
    }
    if (err == RL_OK)
        err = node_key_sign_evm(k, sig, digest);
    if (err == RL_OK) {
        char addr[43], d[2 * HASH_BYTES + 3], s[2 * EVM_SIG_BYTES + 3];
        printf("signer=%s digest=%s signature=%s\n", evm_addr_to_hex(node_key_pub(k)->evm, addr),
               hex_encode_0x(d, digest, HASH_BYTES), hex_encode_0x(s, sig, EVM_SIG_BYTES));
    }
    node_key_free(k);
    if (err != RL_OK) {
        fprintf(stderr, "relayer limits sign: %s\n", why.text[0] ? why.text : rl_strerror(err));
        return EXIT_USAGE;
    }
    return 0;
}

int cmd_limits(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sign") == 0)
        return limits_sign(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs(USAGE, stdout);
        return 0;
    }
    fputs(USAGE, stderr);
    return EXIT_USAGE;
}
