/* relset_test.c - relayer sets: rules, canonical encoding, JSON. */
#include <jansson.h>

#include "tests/fixture.h"

Test(relset, encodes_and_decodes_to_the_same_digest)
{
    fixture f;
    fx_init(&f, 3, 2);
    uint8_t enc[RELSET_MAX_BYTES], d1[32], d2[32];
    size_t len;
    relset back;
    cr_assert_eq(relset_encode(&f.set, enc, &len, NULL), RL_OK);
    cr_assert_eq(relset_decode(&back, enc, len, NULL), RL_OK);
    cr_assert_eq(relset_digest(&f.set, d1), RL_OK);
    cr_assert_eq(relset_digest(&back, d2), RL_OK);
    cr_assert_eq(memcmp(d1, d2, 32), 0);
    cr_assert_eq(memcmp(back.members[2].pub.x25519, f.set.members[2].pub.x25519, 32), 0);
    fx_fini(&f);
}

Test(relset, requires_a_strict_majority_threshold)
{
    fixture f;
    fx_init(&f, 4, 3);
    rl_why why;
    f.set.threshold = 2; /* 2 of 4: two disjoint quorums could disagree */
    cr_assert_eq(relset_validate(&f.set, &why), RL_ERR_ARG);
    cr_assert(strstr(why.text, "majority") != NULL, "%s", why.text);
    f.set.threshold = 5;
    cr_assert_eq(relset_validate(&f.set, NULL), RL_ERR_ARG);
    f.set.threshold = 0;
    cr_assert_eq(relset_validate(&f.set, NULL), RL_ERR_ARG);
    fx_fini(&f);
}

Test(relset, rejects_duplicate_keys_names_and_unordered_ids)
{
    fixture f;
    fx_init(&f, 3, 2);
    relset s = f.set;
    s.members[2].pub = s.members[0].pub;
    cr_assert_eq(relset_validate(&s, NULL), RL_ERR_ARG);
    s = f.set;
    strcpy(s.members[1].pub.name, s.members[0].pub.name);
    cr_assert_eq(relset_validate(&s, NULL), RL_ERR_ARG);
    s = f.set;
    s.members[1].id = 1;
    cr_assert_eq(relset_validate(&s, NULL), RL_ERR_ARG);
    fx_fini(&f);
}

Test(relset, decode_rejects_truncation_and_trailing_bytes)
{
    fixture f;
    fx_init(&f, 3, 2);
    uint8_t enc[RELSET_MAX_BYTES + 1];
    size_t len;
    relset back;
    cr_assert_eq(relset_encode(&f.set, enc, &len, NULL), RL_OK);
    for (size_t cut = 0; cut < len; cut += 7)
        cr_assert_neq(relset_decode(&back, enc, cut, NULL), RL_OK, "accepted %zu of %zu bytes", cut, len);
    enc[len] = 0;
    cr_assert_eq(relset_decode(&back, enc, len + 1, NULL), RL_ERR_DECODE);
    enc[0] = 7;
    cr_assert_eq(relset_decode(&back, enc, len, NULL), RL_ERR_VERSION);
    /* A NUL inside a name (found by fuzz_relset) would make two encodings of one set. */
    enc[0] = RELSET_FORMAT;
    cr_assert_geq(enc[11], 2, "first member's name too short for this case");
    enc[13] = 0;
    rl_why why = {{0}};
    cr_assert_eq(relset_decode(&back, enc, len, &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "NUL") != NULL, "%s", why.text);
    fx_fini(&f);
}

Test(relset, json_round_trips)
{
    fixture f;
    fx_init(&f, 3, 2);
    json_t *j = relset_to_json(&f.set);
    char *text = json_dumps(j, 0);
    relset back;
    uint8_t d1[32], d2[32];
    cr_assert_eq(relset_from_json(&back, text, strlen(text), NULL), RL_OK);
    cr_assert_eq(relset_digest(&f.set, d1), RL_OK);
    cr_assert_eq(relset_digest(&back, d2), RL_OK);
    cr_assert_eq(memcmp(d1, d2, 32), 0);
    free(text);
    json_decref(j);
    fx_fini(&f);
}

Test(relset, json_errors_name_the_member_and_field)
{
    rl_why why;
    relset s;
    const char *bad_json = "{\"version\": 1, \"threshold\": 1, \"members\": [";
    cr_assert_eq(relset_from_json(&s, bad_json, strlen(bad_json), &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "line") != NULL, "%s", why.text);
    const char *no_thr = "{\"version\": 1, \"members\": []}";
    cr_assert_eq(relset_from_json(&s, no_thr, strlen(no_thr), &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "threshold") != NULL, "%s", why.text);
    const char *bad_key = "{\"version\": 1, \"threshold\": 1, \"members\": [{\"id\": 1, \"name\": \"a\", "
                          "\"ed25519\": \"abcd\", \"evm\": \"0x0000000000000000000000000000000000000001\"}]}";
    cr_assert_eq(relset_from_json(&s, bad_key, strlen(bad_key), &why), RL_ERR_DECODE);
    cr_assert(strstr(why.text, "member 0") != NULL && strstr(why.text, "ed25519") != NULL, "%s", why.text);
}

Test(relset, finds_members_by_id_and_key)
{
    fixture f;
    fx_init(&f, 5, 3);
    cr_assert_eq(relset_find(&f.set, 4)->id, 4);
    cr_assert_null(relset_find(&f.set, 6));
    cr_assert_null(relset_find(&f.set, 0));
    cr_assert_eq(relset_find_key(&f.set, f.set.members[2].pub.ed25519)->id, 3);
    cr_assert_null(relset_find_key(&f.set, node_key_pub(f.keys[5])->ed25519));
    fx_fini(&f);
}
