/* Feature extraction for the offline classifier: tokenising, hashed word and
 * character n-grams of title, body prose and body code, handcrafted signals
 * (templates, checkboxes, stack traces, code blocks, version strings,
 * phrases) and the TF-IDF weighting shared by training and inference. Pure functions over a
 * caller-owned workspace; no globals, thread-safe. */
#ifndef DISPATCHAI_CLS_FEATURES_H
#define DISPATCHAI_CLS_FEATURES_H

#include "lexicon.h"
#include "offline.h"
#include "signals.h"

#include <stdint.h>

/* Feature blocks; each is L2-normalised on its own, then scaled. */
enum cls_block {
    CLS_BLK_TITLE = 0, /* title word uni+bigrams (with start/end markers) */
    CLS_BLK_BODY,      /* body word uni+bigrams (+trigrams) */
    CLS_BLK_TCHAR,     /* title char 2..5-grams within words */
    CLS_BLK_META,      /* handcrafted signals */
    CLS_BLK_CODE,      /* body words inside code fences and stack traces */
    CLS_BLK_COUNT
};

/* Flags in cls_feat_cfg.flags. */
#define CLS_FEAT_BODY_TRIGRAMS 0x1u
#define CLS_FEAT_NUM_CLASSES 0x2u /* long digit runs collapse to a class token */
#define CLS_FEAT_STEM 0x4u        /* words hash by a light suffix-stripped stem */
#define CLS_FEAT_SPLIT 0x8u       /* camelCase / snake_case words add their parts */
#define CLS_FEAT_CODE 0x10u       /* code and trace lines go to CLS_BLK_CODE */
#define CLS_FEAT_BINARY 0x20u     /* term frequency 1 instead of 1 + ln tf */
#define CLS_FEAT_QUOTE 0x40u      /* quoted lines ("> ...") count as code too */
#define CLS_FEAT_CODE_BIGRAMS 0x80u /* word bigrams in CLS_BLK_CODE too */
#define CLS_FEAT_ALL 0xffu           /* every known switch; others fail the load */

/* Extraction settings; stored in the model header so inference matches
 * training exactly. */
struct cls_feat_cfg {
    unsigned bits;                    /* hash table has 2^bits rows, 16..22 */
    unsigned flags;                   /* CLS_FEAT_* */
    unsigned body_max;                /* body bytes used for n-grams and signals */
    float blk_weight[CLS_BLK_COUNT];  /* 0 disables a block */
    float da_weight;                  /* weight of the per-repository copy, 0 = off */
};

/* One hashed feature: row in the weight table, block, and value (a count
 * after extraction, a TF-IDF weight after cls_feat_weigh). */
struct cls_feat {
    uint32_t idx;
    uint16_t blk;
    uint16_t slot; /* workspace bookkeeping */
    float val;
};

/* Per-thread workspace; one per concurrent caller. */
#define CLS_FEAT_MAX 4096u /* ample for body_max <= 4000 */
struct cls_feat_buf {
    struct cls_feat v[CLS_FEAT_MAX];
    size_t n;
    uint16_t table[2 * CLS_FEAT_MAX]; /* 1 + index into v of each used slot, 0 = free */
    struct cls_signals sig;
};

/* Extract counts of every feature of in into b (b->n, b->sig). Deterministic;
 * never fails: text past body_max and features past CLS_FEAT_MAX are ignored.
 * The title may contain any bytes (non-UTF-8 included). */
void cls_feat_extract(const struct cls_feat_cfg *cfg, const struct cls_lexicon *lex,
                      const struct cls_issue_text *in, struct cls_feat_buf *b);

/* Turn counts into weights: (1 + ln count) * idf, where idf = q[idx * stride]
 * * idf_scale (quantised, as stored in the model), L2-normalised per block and
 * multiplied by the block weight. Features whose q is 0 (never seen in
 * training) are removed. */
void cls_feat_weigh(const struct cls_feat_cfg *cfg, const int16_t *q, size_t stride,
                    float idf_scale, struct cls_feat_buf *b);

/* Row of the per-repository copy of feature row idx for known repository k
 * (0-based index into the model's repository list). */
uint32_t cls_feat_da_row(uint32_t idx, unsigned k, unsigned bits);

/* A word of the title with its unigram row, for explanations. */
struct cls_title_word {
    size_t off, len;
    uint32_t row;
};
/* Up to max words (letters first, length >= 2) of title[0..n); count returned. */
size_t cls_feat_title_words(const struct cls_feat_cfg *cfg, const char *title, size_t n,
                            struct cls_title_word *out, size_t max);

/* 64-bit hash of a lower-cased token (same function the lexicon uses). */
uint64_t cls_hash_token(const char *s, size_t n);

#endif
