/*
 * keys.c - node identity keys: ed25519 (signing, and X25519 for CURVE) and secp256k1 (EVM).
 * All secret bytes live in one sodium_malloc'd block, read-only except while it is filled.
 */
#include "attest/keys.h"

#include <pthread.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "attest/hash.h"
#include "attest/hex.h"

struct secrets {
    uint8_t ed25519_sk[crypto_sign_SECRETKEYBYTES]; /* seed || public key, libsodium's form */
    uint8_t x25519_sk[crypto_scalarmult_curve25519_BYTES];
    uint8_t secp256k1_sk[SECP256K1_SK_BYTES];
};

struct node_key {
    node_pub pub;
    struct secrets *sec; /* guarded memory */
};

/* One context for the process: created once, read-only afterwards (safe across threads). */
static secp256k1_context *secp_ctx;
static pthread_once_t secp_once = PTHREAD_ONCE_INIT;

static void secp_destroy(void)
{
    secp256k1_context_destroy(secp_ctx);
}

static void secp_create(void)
{
    secp_ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    /* Blinding against side channels while signing. It changes no signature (RFC 6979 nonces),
     * and a context it failed on is still correct, so its result decides nothing. */
    unsigned char seed[32];
    randombytes_buf(seed, sizeof seed);
    int blinded = secp256k1_context_randomize(secp_ctx, seed);
    (void)blinded;
    sodium_memzero(seed, sizeof seed);
    atexit(secp_destroy);
}

static secp256k1_context *secp(void)
{
    pthread_once(&secp_once, secp_create);
    return secp_ctx;
}

bool node_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > NODE_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return false;
    }
    return true;
}

/* keccak256(uncompressed public key without its 0x04 prefix)[12..32] */
static void address_of_pubkey(uint8_t addr[EVM_ADDR_BYTES], const secp256k1_pubkey *pk)
{
    uint8_t ser[65], h[HASH_BYTES];
    size_t len = sizeof ser;
    secp256k1_ec_pubkey_serialize(secp(), ser, &len, pk, SECP256K1_EC_UNCOMPRESSED);
    keccak256(h, ser + 1, 64);
    memcpy(addr, h + 12, EVM_ADDR_BYTES);
}

rl_err evm_address_of_secret(uint8_t addr[EVM_ADDR_BYTES], const uint8_t secp_sk[SECP256K1_SK_BYTES])
{
    secp256k1_pubkey pk;
    if (!secp256k1_ec_seckey_verify(secp(), secp_sk) || !secp256k1_ec_pubkey_create(secp(), &pk, secp_sk))
        return RL_ERR_CRYPTO;
    address_of_pubkey(addr, &pk);
    return RL_OK;
}

rl_err node_key_from_secrets(node_key **out, const char *name, const uint8_t ed_seed[ED25519_SEED_BYTES],
                             const uint8_t secp_sk[SECP256K1_SK_BYTES], rl_why *why)
{
    if (!node_name_valid(name))
        return rl_fail(why, RL_ERR_ARG, "node name must be 1..%d characters of A-Z a-z 0-9 . _ -", NODE_NAME_MAX);
    if (!secp256k1_ec_seckey_verify(secp(), secp_sk))
        return rl_fail(why, RL_ERR_CRYPTO, "node '%s': secp256k1 secret is not a valid scalar", name);
    node_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return RL_ERR_NOMEM;
    k->sec = sodium_malloc(sizeof *k->sec);
    if (k->sec == NULL) {
        free(k);
        return RL_ERR_NOMEM;
    }
    strcpy(k->pub.name, name);
    rl_err err = RL_OK;
    if (crypto_sign_seed_keypair(k->pub.ed25519, k->sec->ed25519_sk, ed_seed) != 0 ||
        crypto_sign_ed25519_pk_to_curve25519(k->pub.x25519, k->pub.ed25519) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(k->sec->x25519_sk, k->sec->ed25519_sk) != 0)
        err = rl_fail(why, RL_ERR_CRYPTO, "node '%s': ed25519 key derivation failed", name);
    memcpy(k->sec->secp256k1_sk, secp_sk, SECP256K1_SK_BYTES);
    if (err == RL_OK && evm_address_of_secret(k->pub.evm, secp_sk) != RL_OK)
        err = rl_fail(why, RL_ERR_CRYPTO, "node '%s': secp256k1 public key derivation failed", name);
    if (err != RL_OK) {
        node_key_free(k);
        return err;
    }
    sodium_mprotect_readonly(k->sec);
    *out = k;
    return RL_OK;
}

rl_err node_key_generate(node_key **out, const char *name, rl_why *why)
{
    uint8_t *seeds = sodium_malloc(ED25519_SEED_BYTES + SECP256K1_SK_BYTES);
    if (seeds == NULL)
        return RL_ERR_NOMEM;
    uint8_t *ed = seeds, *sk = seeds + ED25519_SEED_BYTES;
    randombytes_buf(ed, ED25519_SEED_BYTES);
    do
        randombytes_buf(sk, SECP256K1_SK_BYTES);
    while (!secp256k1_ec_seckey_verify(secp(), sk));
    rl_err err = node_key_from_secrets(out, name, ed, sk, why);
    sodium_free(seeds); /* wipes */
    return err;
}

void node_key_free(node_key *k)
{
    if (k == NULL)
        return;
    sodium_free(k->sec);
    free(k);
}

const node_pub *node_key_pub(const node_key *k) { return &k->pub; }
const uint8_t *node_key_ed25519_seed(const node_key *k) { return k->sec->ed25519_sk; } /* first 32 bytes */
const uint8_t *node_key_secp256k1_secret(const node_key *k) { return k->sec->secp256k1_sk; }
const uint8_t *node_key_x25519_secret(const node_key *k) { return k->sec->x25519_sk; }

void node_key_sign(const node_key *k, uint8_t sig[ED25519_SIG_BYTES], const uint8_t *msg, size_t len)
{
    crypto_sign_detached(sig, NULL, msg, len, k->sec->ed25519_sk);
}

bool ed25519_verify(const uint8_t sig[ED25519_SIG_BYTES], const uint8_t *msg, size_t len,
                    const uint8_t pk[ED25519_PK_BYTES])
{
    return crypto_sign_verify_detached(sig, msg, len, pk) == 0;
}

char *evm_addr_to_hex(const uint8_t addr[EVM_ADDR_BYTES], char buf[43])
{
    return hex_encode_0x(buf, addr, EVM_ADDR_BYTES);
}

char *evm_addr_to_checksum(const uint8_t addr[EVM_ADDR_BYTES], char buf[43])
{
    /* EIP-55: uppercase a hex letter when the matching nibble of keccak256(lowercase hex) >= 8. */
    char lower[41];
    uint8_t h[HASH_BYTES];
    hex_encode(lower, addr, EVM_ADDR_BYTES);
    keccak256(h, lower, 40);
    buf[0] = '0';
    buf[1] = 'x';
    for (int i = 0; i < 40; i++) {
        uint8_t nibble = (uint8_t)((h[i / 2] >> (i % 2 ? 0 : 4)) & 0xf);
        char c = lower[i];
        buf[2 + i] = (c >= 'a' && c <= 'f' && nibble >= 8) ? (char)(c - 'a' + 'A') : c;
    }
    buf[42] = '\0';
    return buf;
}

json_t *node_pub_to_json(const node_pub *p)
{
    char ed[2 * ED25519_PK_BYTES + 1], x[2 * X25519_PK_BYTES + 1], evm[43];
    return json_pack("{s:s, s:s, s:s, s:s}", "name", p->name, "ed25519", hex_encode(ed, p->ed25519, ED25519_PK_BYTES),
                     "x25519", hex_encode(x, p->x25519, X25519_PK_BYTES), "evm", evm_addr_to_checksum(p->evm, evm));
}

rl_err node_pub_from_json(node_pub *out, const json_t *obj, rl_why *why)
{
    if (!json_is_object(obj))
        return rl_fail(why, RL_ERR_DECODE, "expected a JSON object");
    const char *name = json_string_value(json_object_get(obj, "name"));
    if (name == NULL || !node_name_valid(name))
        return rl_fail(why, RL_ERR_DECODE, "field 'name': 1..%d characters of A-Z a-z 0-9 . _ - required",
                       NODE_NAME_MAX);
    memset(out, 0, sizeof *out);
    strcpy(out->name, name);
    rl_err err = hex_decode(out->ed25519, ED25519_PK_BYTES, json_string_value(json_object_get(obj, "ed25519")),
                            "field 'ed25519'", why);
    if (err == RL_OK)
        err = hex_decode(out->evm, EVM_ADDR_BYTES, json_string_value(json_object_get(obj, "evm")), "field 'evm'", why);
    if (err != RL_OK) {
        rl_why_prefix(why, "'%s': ", name);
        return RL_ERR_DECODE;
    }
    if (crypto_sign_ed25519_pk_to_curve25519(out->x25519, out->ed25519) != 0)
        return rl_fail(why, RL_ERR_DECODE, "'%s': field 'ed25519' is not a valid public key", name);
    const json_t *x = json_object_get(obj, "x25519");
    if (x != NULL) {
        uint8_t given[X25519_PK_BYTES];
        if (hex_decode(given, X25519_PK_BYTES, json_string_value(x), "field 'x25519'", why) != RL_OK)
            return RL_ERR_DECODE;
        if (memcmp(given, out->x25519, X25519_PK_BYTES) != 0)
            return rl_fail(why, RL_ERR_DECODE, "'%s': field 'x25519' is not derived from 'ed25519'", name);
    }
    return RL_OK;
}

/* ---- secp256k1 signatures over digests */

#define EVM_V_BASE 27 /* v = 27 + recovery id (Ethereum's pre-EIP-155 convention, ecrecover's) */

rl_err evm_sign_digest(uint8_t sig[EVM_SIG_BYTES], const uint8_t digest[EVM_DIGEST_BYTES],
                       const uint8_t secp_sk[SECP256K1_SK_BYTES])
{
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_ecdsa_signature plain;
    int recid = 0;
    /* NULL nonce function: RFC 6979 with HMAC-SHA256, libsecp256k1's default */
    if (!secp256k1_ecdsa_sign_recoverable(secp(), &rs, digest, secp_sk, NULL, NULL))
        return RL_ERR_CRYPTO;
    secp256k1_ecdsa_recoverable_signature_serialize_compact(secp(), sig, &recid, &rs);
    secp256k1_ecdsa_recoverable_signature_convert(secp(), &plain, &rs);
    /* normalize returns 1 when s was in the upper half: libsecp256k1 never signs so, and a
     * vault would refuse it, so it is an error rather than a silent fix-up */
    if (secp256k1_ecdsa_signature_normalize(secp(), NULL, &plain) || recid < 0 || recid > 1) {
        sodium_memzero(sig, EVM_SIG_BYTES);
        return RL_ERR_CRYPTO;
    }
    sig[64] = (uint8_t)(EVM_V_BASE + recid);
    return RL_OK;
}

rl_err node_key_sign_evm(const node_key *k, uint8_t sig[EVM_SIG_BYTES], const uint8_t digest[EVM_DIGEST_BYTES])
{
    return evm_sign_digest(sig, digest, k->sec->secp256k1_sk);
}

rl_err evm_recover(uint8_t addr[EVM_ADDR_BYTES], const uint8_t digest[EVM_DIGEST_BYTES],
                   const uint8_t sig[EVM_SIG_BYTES])
{
    if (sig[64] != EVM_V_BASE && sig[64] != EVM_V_BASE + 1)
        return RL_ERR_SIG;
    secp256k1_ecdsa_signature plain;
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_pubkey pk;
    /* parse_compact refuses r or s not below the group order */
    if (!secp256k1_ecdsa_signature_parse_compact(secp(), &plain, sig) ||
        secp256k1_ecdsa_signature_normalize(secp(), NULL, &plain) ||
        !secp256k1_ecdsa_recoverable_signature_parse_compact(secp(), &rs, sig, sig[64] - EVM_V_BASE) ||
        !secp256k1_ecdsa_recover(secp(), &pk, &rs, digest))
        return RL_ERR_SIG;
    address_of_pubkey(addr, &pk);
    return RL_OK;
}

struct evm_key {
    uint8_t addr[EVM_ADDR_BYTES];
    uint8_t *sk; /* SECP256K1_SK_BYTES of guarded memory, read-only once filled */
};

rl_err evm_key_from_secret(evm_key **out, const uint8_t secp_sk[SECP256K1_SK_BYTES], rl_why *why)
{
    *out = NULL;
    evm_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return rl_fail(why, RL_ERR_NOMEM, "evm key");
    if (evm_address_of_secret(k->addr, secp_sk) != RL_OK) {
        free(k);
        return rl_fail(why, RL_ERR_CRYPTO, "evm key: the secret is not a valid secp256k1 scalar");
    }
    k->sk = sodium_malloc(SECP256K1_SK_BYTES);
    if (k->sk == NULL) {
        free(k);
        return rl_fail(why, RL_ERR_NOMEM, "evm key: guarded memory");
    }
    memcpy(k->sk, secp_sk, SECP256K1_SK_BYTES);
    sodium_mprotect_readonly(k->sk);
    *out = k;
    return RL_OK;
}

void evm_key_free(evm_key *k)
{
    if (k == NULL)
        return;
    sodium_free(k->sk); /* wipes */
    free(k);
}

const uint8_t *evm_key_address(const evm_key *k) { return k->addr; }

rl_err evm_key_sign(const evm_key *k, uint8_t sig[EVM_SIG_BYTES], const uint8_t digest[EVM_DIGEST_BYTES])
{
    return evm_sign_digest(sig, digest, k->sk);
}
