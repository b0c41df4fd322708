/* Signals of an issue's text (signals.c), one bit each: lexical ones found
 * through the lexicon while tokenising, structural ones found here. They
 * become meta features and feed the explanation and the rules. Pure. */
#ifndef DISPATCHAI_CLS_SIGNALS_H
#define DISPATCHAI_CLS_SIGNALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Lexical and structural signals, one bit each; also used by the rules. */
enum cls_sig {
    CLS_SIG_HOWTO = 0, /* how do/can I, how to, is it possible, is there a way */
    CLS_SIG_WISH,      /* would be nice, feature request, please add, I'd like */
    CLS_SIG_ERROR,     /* error, exception, fails, failed */
    CLS_SIG_CRASH,     /* crash, segfault, sigsegv, panic, abort, core dumped */
    CLS_SIG_HANG,      /* hang, freeze, deadlock, unresponsive */
    CLS_SIG_DATALOSS,  /* data loss, corrupt, lost funds, deleted */
    CLS_SIG_SECURITY,  /* security, vulnerability, cve, xss, exploit, ... */
    CLS_SIG_REGRESSION,/* regression, used to work, no longer, since updating */
    CLS_SIG_DOCS,      /* docs, documentation, typo, readme, docstring */
    CLS_SIG_IMPROVE,   /* improve, enhance, better, faster, optimize */
    CLS_SIG_PERF,      /* slow, performance, latency, memory usage */
    CLS_SIG_BUILD,     /* build, compile, cmake, linker, install */
    CLS_SIG_QWORD,     /* why, what, how, which, where ... anywhere */
    CLS_SIG_THANKS,    /* thanks, help, please, anyone */
    CLS_SIG_FIXWORD,   /* fix, fixes, fixed, resolves (pull requests) */
    CLS_SIG_ADDWORD,   /* add, support, allow, implement, provide, option */
    CLS_SIG_BUGWORD,   /* bug, broken, wrong, incorrect, unexpected, issue */
    CLS_SIG_BIG,       /* rewrite, redesign, migrate, overhaul, architecture */
    /* structural */
    CLS_SIG_TRACE,     /* stack trace lines */
    CLS_SIG_CODE,      /* fenced code block */
    CLS_SIG_CHECKBOX,  /* - [ ] / - [x] */
    CLS_SIG_VERSION,   /* 1.2.3 style version string */
    CLS_SIG_QMARK,     /* title ends with '?' */
    CLS_SIG_PREFIX,    /* title starts with [tag] or word: */
    CLS_SIG_REPRO,     /* "steps to reproduce" / "repro" */
    CLS_SIG_EXPECTED,  /* "expected behavior/result" */
    CLS_SIG_COUNT
};

/* Signals found in one issue, filled by cls_feat_extract. */
struct cls_signals {
    uint32_t title;       /* bit (1u << CLS_SIG_*) set when found in the title */
    uint32_t body;        /* ... in the body (first body_max bytes) */
    unsigned trace_lines; /* stack-trace-looking lines */
    unsigned code_blocks;
    unsigned checkboxes;
    size_t body_len;      /* full body length */
    char prefix[24];      /* lower-cased title prefix ("devtools bug", "feat"), or "" */
};

/* Name of a signal ("howto", "stack-trace", ...). Static storage. */
const char *cls_sig_name(enum cls_sig s);

/* Title signals: CLS_SIG_QMARK and the prefix (CLS_SIG_PREFIX). */
void cls_sig_title(const char *title, size_t n, struct cls_signals *sig);
/* One pass over the lines of body[0..n): counts fences, checkboxes and trace
 * lines and sets their signals; each issue-template answer ("### Issue Type"
 * followed by a short answer line, or "Type: <b>...") is handed to on_answer
 * as a hash, in text order. */
void cls_sig_lines(const char *body, size_t n, struct cls_signals *sig,
                   void (*on_answer)(void *ud, uint64_t h), void *ud);
/* A line (without its indent) opening or closing a ``` / ~~~ code fence. */
bool cls_sig_is_fence(const char *l, size_t ll);
/* A stack-trace line: JS/Java "at f (...)" (indented), Python frames, gdb/
 * backtrace frames "#3 0x...". l is the line without its indent. */
bool cls_sig_is_trace(const char *l, size_t ll, size_t indent);

#endif
