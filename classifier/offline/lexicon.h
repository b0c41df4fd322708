/* The phrase lexicon (lexicon.c): maps the hash of a word, or of a pair of
 * words (cls_hash_pair of their token hashes), to the signals it marks.
 * Built once at model load, read-only afterwards. */
#ifndef DISPATCHAI_CLS_LEXICON_H
#define DISPATCHAI_CLS_LEXICON_H

#include "signals.h"

#include <stddef.h>
#include <stdint.h>

#define CLS_LEX_SLOTS 512
struct cls_lexicon {
    uint64_t key[CLS_LEX_SLOTS]; /* 0 = empty */
    uint32_t bits[CLS_LEX_SLOTS];
};
void cls_lexicon_init(struct cls_lexicon *lex);

/* The stored form of a hash: 0 marks an empty slot. */
static inline uint64_t cls_lexicon_key(uint64_t k)
{
    return k ? k : 1;
}

/* Signal bits (1u << CLS_SIG_*) of a word or phrase hash, 0 when unknown.
 * Inline: it runs twice per token. */
static inline uint32_t cls_lexicon_find(const struct cls_lexicon *lex, uint64_t k)
{
    size_t s;

    k = cls_lexicon_key(k);
    s = (size_t)(k & (CLS_LEX_SLOTS - 1));
    while (lex->key[s]) {
        if (lex->key[s] == k)
            return lex->bits[s];
        s = (s + 1) & (CLS_LEX_SLOTS - 1);
    }
    return 0;
}

#endif
