/* The per-key table: for every issue/PR key, the latest classification (as
 * compact JSON, ~0.5 KB a key), the hash of the text it was made for, and the
 * pipeline's per-key ordering bookkeeping, in common's seeded dai_map (issue
 * keys come from outside). Filled by the pipeline and by the state rebuild;
 * not thread-safe (the consume loop owns it). */
#include "state.h"

#include "router.h"

#include <dispatchai/err.h>
#include <dispatchai/events.h>
#include <dispatchai/json.h>
#include <dispatchai/map.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct cls_state {
    struct dai_map map; /* key -> struct cls_keystate * (keyed by ks->key) */
};

struct cls_state *cls_state_new(void)
{
    struct cls_state *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    dai_map_init(&s->map);
    if (dai_map_reserve(&s->map, 1024)) {
        free(s);
        return NULL;
    }
    return s;
}

static void entry_free(struct cls_keystate *ks)
{
    free(ks->key);
    free(ks->classification);
    free(ks);
}

void cls_state_free(struct cls_state *s)
{
    size_t pos = 0;
    uint64_t v;

    if (!s)
        return;
    while (dai_map_next(&s->map, &pos, NULL, NULL, &v))
        entry_free((struct cls_keystate *)(uintptr_t)v);
    dai_map_free(&s->map);
    free(s);
}

struct cls_keystate *cls_state_get(struct cls_state *s, const char *key)
{
    return dai_map_get_ptr(&s->map, key, strlen(key));
}

struct cls_keystate *cls_state_upsert(struct cls_state *s, const char *key)
{
    struct cls_keystate *ks = cls_state_get(s, key);

    if (ks)
        return ks;
    ks = calloc(1, sizeof(*ks));
    if (!ks)
        return NULL;
    ks->key = strdup(key);
    ks->partition = -1;
    ks->home = -1;
    if (!ks->key || dai_map_put_ptr(&s->map, ks->key, strlen(ks->key), ks)) {
        entry_free(ks);
        return NULL;
    }
    return ks;
}

int cls_state_set(struct cls_keystate *ks, uint64_t text_hash,
                  const struct dai_classification *c, const char *model_version)
{
    json_t *obj = dai_classification_to_json(c);
    char *s;

    if (!obj)
        return -ENOMEM;
    s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (!s)
        return -ENOMEM;
    free(ks->classification);
    ks->classification = s;
    ks->text_hash = text_hash;
    snprintf(ks->model_version, sizeof(ks->model_version), "%s",
             model_version ? model_version : "unknown");
    return 0;
}

int cls_state_classification(const struct cls_keystate *ks, struct dai_classification *out)
{
    char err[128];
    json_t *obj;
    int rc;

    if (!ks || !ks->classification)
        return DAI_ENOTFOUND;
    obj = json_loads(ks->classification, 0, NULL);
    if (!obj)
        return DAI_ESCHEMA;
    rc = dai_classification_from_json(obj, out, err, sizeof(err));
    json_decref(obj);
    return rc;
}

size_t cls_state_count(const struct cls_state *s)
{
    return s->map.n;
}

void cls_state_each(struct cls_state *s, void (*fn)(struct cls_keystate *ks, void *ud), void *ud)
{
    size_t pos = 0;
    uint64_t v;

    while (dai_map_next(&s->map, &pos, NULL, NULL, &v))
        fn((struct cls_keystate *)(uintptr_t)v, ud);
}

size_t cls_state_drop_partition(struct cls_state *s, int32_t partition)
{
    size_t pos = 0, n = 0;
    uint64_t v;

    /* dai_map must not change during a walk: restart after each removal
     * from where the walk stood (a removal may move a later entry back). */
    while (dai_map_next(&s->map, &pos, NULL, NULL, &v)) {
        struct cls_keystate *ks = (struct cls_keystate *)(uintptr_t)v;
        int32_t home = ks->home >= 0 ? ks->home : ks->partition;

        if (home != partition || ks->busy || ks->wait_head)
            continue;
        (void)dai_map_del(&s->map, ks->key, strlen(ks->key));
        entry_free(ks);
        n++;
        pos = pos > 0 ? pos - 1 : 0;
    }
    return n;
}

static bool parse_hash(const char *hdr, size_t len, uint64_t *out)
{
    char buf[24];
    char *end;

    if (!hdr || len == 0 || len > 16)
        return false;
    memcpy(buf, hdr, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtoull(buf, &end, 16);
    return errno == 0 && *end == '\0';
}

int cls_state_apply_record(struct cls_state *s, const char *key, size_t klen, const void *value,
                           size_t len, const char *text_hash_hdr, size_t hdr_len,
                           int32_t partition)
{
    char kbuf[512], err[128];
    struct cls_keystate *ks = NULL;
    struct dai_classification c;
    struct dai_subject subj;
    uint64_t hash = 0;
    bool ours;
    json_t *ev;
    int rc;

    ours = parse_hash(text_hash_hdr, hdr_len, &hash);
    if (key && klen > 0 && klen < sizeof(kbuf)) {
        memcpy(kbuf, key, klen);
        kbuf[klen] = '\0';
        ks = cls_state_get(s, kbuf);
        /* Our own record for an issue we are feeding: what we hold is at
         * least as new, so skip it without even parsing. */
        if (ks && ks->live && ours) {
            ks->home = partition;
            return 0;
        }
    }
    ev = dai_json_parse(value, len, err, sizeof(err));
    if (!ev)
        return DAI_ESCHEMA;
    rc = DAI_ESCHEMA;
    if (dai_event_subject(ev, &subj) != 0 ||
        dai_classification_from_json(json_object_get(ev, "classification"), &c, err,
                                     sizeof(err)) != 0)
        goto out;
    if (!ks) {
        if (dai_event_key(kbuf, sizeof(kbuf), subj.repo, subj.type, subj.number, NULL))
            goto out;
        ks = cls_state_get(s, kbuf);
    }
    if (!ours)
        hash = cls_text_hash(subj.title, subj.body);
    /* Someone else's record (a human correction) for a key we feed: it wins
     * only for the text it was made for; a later edit we classified stands. */
    if (ks && ks->live && (c.source != DAI_SRC_HUMAN || hash != ks->text_hash)) {
        rc = 0;
        goto out;
    }
    if (!ks)
        ks = cls_state_upsert(s, kbuf);
    rc = -ENOMEM;
    if (!ks)
        goto out;
    ks->home = partition;
    rc = cls_state_set(ks, hash, &c,
                       dai_json_str(json_object_get(ev, "processing_metadata"), "model_version",
                                    "unknown"));
    if (!rc)
        rc = 1;
out:
    json_decref(ev);
    return rc;
}
