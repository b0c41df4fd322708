/* The offline classifier's tokeniser (tokenize.c): splits text into words,
 * numbers and one-character tokens, hashing each in the same pass, plus the
 * hash primitives every feature and the lexicon are built from. Byte-level
 * and encoding-agnostic; no state, thread-safe. */
#ifndef DISPATCHAI_CLS_TOKENIZE_H
#define DISPATCHAI_CLS_TOKENIZE_H

#include <dispatchai/hash.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The token hash is common's stable FNV-1a 64 (hash.h): the committed
 * model's feature ids are made of it, so it must never change. */
/* Odd multiplier (2^64 / golden ratio) of the multiply-shift row hashes. */
#define CLS_K_MUL 0x9e3779b97f4a7c15ULL

static inline unsigned char cls_lc(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* A 64-bit finaliser (splitmix64's): every output bit depends on every input bit. */
static inline uint64_t cls_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

/* The hash of an ordered pair of hashes (bigrams, lexicon phrases). */
static inline uint64_t cls_hash_pair(uint64_t a, uint64_t b)
{
    return cls_mix64(a * CLS_K_MUL + b);
}

/* 64-bit hash of a lower-cased token (same function the lexicon uses). */
uint64_t cls_hash_token(const char *s, size_t n);

enum cls_tok_kind { CLS_TOK_OTHER = 0, CLS_TOK_WORD, CLS_TOK_NUMBER, CLS_TOK_APOS, CLS_TOK_PUNCT };

struct cls_tok {
    const unsigned char *s; /* borrowed from the text */
    size_t n;
    uint64_t h;             /* cls_hash_token of the token (numbers: see cls_tok_next) */
    int kind;               /* CLS_TOK_WORD, CLS_TOK_NUMBER or CLS_TOK_PUNCT */
};

/* Next token in [*pp, end); false at the end. Words are [A-Za-z_][A-Za-z0-9_']*
 * (bytes >= 0x80 count as letters, so any encoding tokenises), numbers are
 * digit runs, and ?!`#*[]: are one-character tokens. *version is set when a
 * number is followed by ".<digit>". num_classes: numbers of 3+ digits hash
 * as a class token of their length (up to 6). */
bool cls_tok_next(const unsigned char **pp, const unsigned char *end, bool num_classes,
                  bool *version, struct cls_tok *t);

/* The hash of a word's light stem (crash/crashes/crashed share one); t->h
 * for anything that is not an ASCII letter word of 4..32 bytes or has no
 * suffix to strip. */
uint64_t cls_tok_stem_hash(const struct cls_tok *t);

#endif
