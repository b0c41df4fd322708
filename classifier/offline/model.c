/* Weights file and linear scoring for the offline classifier. Owns the
 * on-disk format (little-endian header, 8-bit IDF and 16-bit weight tables,
 * CRC-32 trailer), its validation, and z = W x + b. Training lives in
 * learn.c/train.c; categories and rules in offline.c. */
#include "model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/*---- format ----------------------------------------------------------------
 *  0  "DAIOFFM1"          8  u32 format (2)      12 u32 bits
 * 16  u32 flags          20  u32 body_max        24 f32 blk_weight[5]
 * 44  f32 da_weight      48  f32 temperature     52 f32 bias[3]
 * 64  f32 wscale[3]      76  f32 idf_scale       80 u32 n_train
 * 84  u32 n_repos        88  n_repos * 64 bytes of NUL-padded "owner/name"
 * then u8 idf[2^bits], i16 w[2^bits][3], u32 CRC-32 of all preceding bytes.
 * Bump CLS_MODEL_FORMAT whenever featurize.c changes what a row means
 * (tokeniser, hashing, signals): an old file would otherwise load cleanly and
 * score garbage. */
#define OFF_BLK 24u
#define OFF_DA (OFF_BLK + 4u * CLS_BLK_COUNT)
#define OFF_TEMP (OFF_DA + 4u)
#define OFF_BIAS (OFF_TEMP + 4u)
#define OFF_WSCALE (OFF_BIAS + 4u * CLS_N_CLASSES)
#define OFF_IDF (OFF_WSCALE + 4u * CLS_N_CLASSES)
#define OFF_NTRAIN (OFF_IDF + 4u)
#define OFF_NREPOS (OFF_NTRAIN + 4u)
#define HDR_FIXED (OFF_NREPOS + 4u)

uint32_t cls_crc32(const unsigned char *p, size_t n)
{
    uint32_t table[256], c = 0xffffffffu;

    for (uint32_t i = 0; i < 256; i++) {
        uint32_t v = i;
        for (int k = 0; k < 8; k++)
            v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
        table[i] = v;
    }
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_f32(unsigned char *p, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof(v));
    put_u32(p, v);
}

static float get_f32(const unsigned char *p)
{
    uint32_t v = get_u32(p);
    float f;
    memcpy(&f, &v, sizeof(f));
    return f;
}

static size_t image_size(unsigned bits, unsigned n_repos)
{
    size_t rows = (size_t)1 << bits;
    return HDR_FIXED + (size_t)n_repos * CLS_REPO_LEN + rows + rows * 3 * 2 + 4;
}

static bool cfg_valid(const struct cls_feat_cfg *c)
{
    if (c->bits < 16 || c->bits > 22 || c->body_max > 65536 || !(c->da_weight >= 0) ||
        c->da_weight > 100 || (c->flags & ~CLS_FEAT_ALL))
        return false;
    for (int k = 0; k < CLS_BLK_COUNT; k++)
        if (!(c->blk_weight[k] >= 0) || c->blk_weight[k] > 100)
            return false;
    return true;
}

void cls_model_quantize_idf(const float *idf, size_t rows, int16_t *q, float *scale)
{
    float mx = 0;

    for (size_t i = 0; i < rows; i++)
        mx = fmaxf(mx, idf[i]);
    *scale = mx > 0 ? mx / 255.0f : 1.0f;
    for (size_t i = 0; i < rows; i++) {
        long v = idf[i] > 0 ? lrintf(idf[i] / *scale) : 0;
        /* a seen row must stay distinguishable from "never seen" */
        q[i] = (int16_t)(idf[i] > 0 && v < 1 ? 1 : v > 255 ? 255 : v);
    }
}

int cls_model_encode(const struct cls_model_params *p, unsigned char **out, size_t *len)
{
    size_t rows = (size_t)1 << p->cfg.bits, sz, off;
    float wscale[CLS_N_CLASSES] = {0}, idf_scale;
    unsigned char *b;
    int16_t *q;

    *out = NULL;
    *len = 0;
    if (!cfg_valid(&p->cfg) || p->n_repos > CLS_MAX_REPOS || !(p->temperature > 0))
        return DAI_EINVAL;
    for (unsigned r = 0; r < p->n_repos; r++)
        if (strlen(p->repos[r]) >= CLS_REPO_LEN)
            return DAI_EINVAL;
    sz = image_size(p->cfg.bits, p->n_repos);
    b = calloc(1, sz);
    q = malloc(rows * sizeof(*q));
    if (!b || !q) {
        free(b);
        free(q);
        return -ENOMEM;
    }
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < CLS_N_CLASSES; c++)
            wscale[c] = fmaxf(wscale[c], fabsf(p->w[i * 3 + c]));
    for (int c = 0; c < CLS_N_CLASSES; c++)
        wscale[c] = wscale[c] > 0 ? wscale[c] / 32767.0f : 1.0f;
    cls_model_quantize_idf(p->idf, rows, q, &idf_scale);

    memcpy(b, CLS_MODEL_MAGIC, 8);
    put_u32(b + 8, CLS_MODEL_FORMAT);
    put_u32(b + 12, p->cfg.bits);
    put_u32(b + 16, p->cfg.flags);
    put_u32(b + 20, p->cfg.body_max);
    for (int k = 0; k < CLS_BLK_COUNT; k++)
        put_f32(b + OFF_BLK + 4 * k, p->cfg.blk_weight[k]);
    put_f32(b + OFF_DA, p->cfg.da_weight);
    put_f32(b + OFF_TEMP, p->temperature);
    for (int c = 0; c < CLS_N_CLASSES; c++) {
        put_f32(b + OFF_BIAS + 4 * c, p->bias[c]);
        put_f32(b + OFF_WSCALE + 4 * c, wscale[c]);
    }
    put_f32(b + OFF_IDF, idf_scale);
    put_u32(b + OFF_NTRAIN, p->n_train);
    put_u32(b + OFF_NREPOS, p->n_repos);
    off = HDR_FIXED;
    for (unsigned r = 0; r < p->n_repos; r++, off += CLS_REPO_LEN)
        memcpy(b + off, p->repos[r], strlen(p->repos[r]));
    for (size_t i = 0; i < rows; i++)
        b[off + i] = (unsigned char)q[i];
    free(q);
    off += rows;
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < CLS_N_CLASSES; c++, off += 2) {
            long v = lrintf(p->w[i * 3 + c] / wscale[c]);
            uint16_t u = (uint16_t)(int16_t)(v > 32767 ? 32767 : v < -32767 ? -32767 : v);
            b[off] = (unsigned char)u;
            b[off + 1] = (unsigned char)(u >> 8);
        }
    put_u32(b + off, cls_crc32(b, off));
    *out = b;
    *len = sz;
    return 0;
}

struct cls_offline_model *cls_model_decode(const unsigned char *buf, size_t len, char *err,
                                           size_t errlen)
{
    struct cls_offline_model *m;
    size_t rows, off, want;
    uint32_t fmt, n_repos;

    if (len < HDR_FIXED + 4 || memcmp(buf, CLS_MODEL_MAGIC, 8)) {
        snprintf(err, errlen, "not an offline model file (bad magic or too short)");
        return NULL;
    }
    fmt = get_u32(buf + 8);
    if (fmt != CLS_MODEL_FORMAT) {
        snprintf(err, errlen, "unsupported model format %u (want %u)", fmt, CLS_MODEL_FORMAT);
        return NULL;
    }
    n_repos = get_u32(buf + OFF_NREPOS);
    if (get_u32(buf + 12) < 16 || get_u32(buf + 12) > 22 || n_repos > CLS_MAX_REPOS) {
        snprintf(err, errlen, "model header out of range");
        return NULL;
    }
    want = image_size(get_u32(buf + 12), n_repos);
    if (len != want) {
        snprintf(err, errlen, "model file is %zu bytes, header says %zu (truncated?)", len, want);
        return NULL;
    }
    if (cls_crc32(buf, len - 4) != get_u32(buf + len - 4)) {
        snprintf(err, errlen, "model checksum mismatch (corrupt file)");
        return NULL;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->cfg.bits = get_u32(buf + 12);
    m->cfg.flags = get_u32(buf + 16);
    m->cfg.body_max = get_u32(buf + 20);
    for (int k = 0; k < CLS_BLK_COUNT; k++)
        m->cfg.blk_weight[k] = get_f32(buf + OFF_BLK + 4 * k);
    m->cfg.da_weight = get_f32(buf + OFF_DA);
    m->temperature = get_f32(buf + OFF_TEMP);
    for (int c = 0; c < CLS_N_CLASSES; c++) {
        m->bias[c] = get_f32(buf + OFF_BIAS + 4 * c);
        m->wscale[c] = get_f32(buf + OFF_WSCALE + 4 * c);
        if (!isfinite(m->bias[c]) || !isfinite(m->wscale[c]))
            goto bad;
    }
    m->idf_scale = get_f32(buf + OFF_IDF);
    m->n_train = get_u32(buf + OFF_NTRAIN);
    m->n_repos = n_repos;
    if (!cfg_valid(&m->cfg) || !(m->temperature > 0) || m->temperature > 1000 ||
        !isfinite(m->idf_scale))
        goto bad;
    off = HDR_FIXED;
    for (unsigned r = 0; r < n_repos; r++, off += CLS_REPO_LEN) {
        if (memchr(buf + off, '\0', CLS_REPO_LEN) == NULL)
            goto bad;
        memcpy(m->repos[r], buf + off, CLS_REPO_LEN);
    }
    rows = (size_t)1 << m->cfg.bits;
    m->tab = malloc(rows * 4 * sizeof(*m->tab));
    if (!m->tab) {
        snprintf(err, errlen, "out of memory");
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < rows; i++)
        m->tab[i * 4 + 3] = buf[off + i];
    off += rows;
    for (size_t i = 0; i < rows; i++)
        for (int c = 0; c < CLS_N_CLASSES; c++, off += 2)
            m->tab[i * 4 + c] = (int16_t)(uint16_t)(buf[off] | buf[off + 1] << 8);
    cls_lexicon_init(&m->lex);
    snprintf(m->version, sizeof(m->version), "offline-v%u-%08x", fmt, get_u32(buf + len - 4));
    return m;
bad:
    snprintf(err, errlen, "model header holds invalid values");
    free(m);
    return NULL;
}

int cls_model_write(const char *path, const unsigned char *buf, size_t len)
{
    char tmp[4096];
    FILE *f;
    int rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "wb");
    if (!f)
        return -errno;
    if (fwrite(buf, 1, len, f) != len) {
        rc = -EIO;
        fclose(f);
        unlink(tmp);
        return rc;
    }
    if (fclose(f)) {
        rc = -errno;
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path)) {
        rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}

int cls_model_repo_index(const struct cls_offline_model *m, const char *repo)
{
    if (!repo)
        return -1;
    for (unsigned r = 0; r < m->n_repos; r++)
        if (!strcasecmp(m->repos[r], repo))
            return (int)r;
    return -1;
}

static size_t da_off(uint32_t idx, unsigned k, unsigned bits)
{
    return (size_t)cls_feat_da_row(idx, k, bits) * 4;
}

void cls_model_logits(const struct cls_offline_model *m, const struct cls_issue_text *in,
                      struct cls_feat_buf *b, float z[CLS_N_CLASSES])
{
    int k = m->cfg.da_weight > 0 ? cls_model_repo_index(m, in->repo) : -1;
    float acc[CLS_N_CLASSES] = {0, 0, 0}, da = m->cfg.da_weight;
    unsigned bits = m->cfg.bits;

    cls_feat_extract(&m->cfg, &m->lex, in, b);
    cls_feat_weigh(&m->cfg, m->tab + 3, 4, m->idf_scale, b);
    for (size_t i = 0; i < b->n; i++) {
        const int16_t *row = m->tab + (size_t)b->v[i].idx * 4;
        float v = b->v[i].val;
        acc[0] += v * row[0];
        acc[1] += v * row[1];
        acc[2] += v * row[2];
    }
    if (k >= 0) {
        /* the per-repository copies live at unrelated rows: prefetch ahead */
        for (size_t i = 0; i < b->n && i < 16; i++)
            __builtin_prefetch(m->tab + da_off(b->v[i].idx, (unsigned)k, bits));
        for (size_t i = 0; i < b->n; i++) {
            const int16_t *r2;
            float v = b->v[i].val * da;
            if (i + 16 < b->n)
                __builtin_prefetch(m->tab + da_off(b->v[i + 16].idx, (unsigned)k, bits));
            r2 = m->tab + da_off(b->v[i].idx, (unsigned)k, bits);
            acc[0] += v * r2[0];
            acc[1] += v * r2[1];
            acc[2] += v * r2[2];
        }
    }
    for (int c = 0; c < CLS_N_CLASSES; c++)
        z[c] = m->bias[c] + acc[c] * m->wscale[c];
}

void cls_softmax(const float z[CLS_N_CLASSES], float t, float p[CLS_N_CLASSES])
{
    float mx = z[0], s = 0;

    for (int c = 1; c < CLS_N_CLASSES; c++)
        mx = fmaxf(mx, z[c]);
    for (int c = 0; c < CLS_N_CLASSES; c++) {
        p[c] = expf((z[c] - mx) / t);
        s += p[c];
    }
    for (int c = 0; c < CLS_N_CLASSES; c++)
        p[c] /= s;
}
