/* The phrase lexicon of the offline classifier: words and two-word phrases
 * that mark a signal (how-to, crash, regression, ...), hashed into a small
 * open-addressing table once at model load. */
#include "lexicon.h"

#include "tokenize.h"

#include <string.h>

struct lex_entry {
    const char *phrase; /* one word, or two separated by one space */
    enum cls_sig sig;
};

static const struct lex_entry lex_entries[] = {
    {"how do", CLS_SIG_HOWTO}, {"how can", CLS_SIG_HOWTO}, {"how to", CLS_SIG_HOWTO},
    {"how should", CLS_SIG_HOWTO}, {"it possible", CLS_SIG_HOWTO}, {"a way", CLS_SIG_HOWTO},
    {"possible to", CLS_SIG_HOWTO}, {"any way", CLS_SIG_HOWTO}, {"best way", CLS_SIG_HOWTO},
    {"correct way", CLS_SIG_HOWTO}, {"right way", CLS_SIG_HOWTO},
    {"be nice", CLS_SIG_WISH}, {"be great", CLS_SIG_WISH}, {"be useful", CLS_SIG_WISH},
    {"be helpful", CLS_SIG_WISH}, {"would like", CLS_SIG_WISH}, {"i'd like", CLS_SIG_WISH},
    {"feature request", CLS_SIG_WISH}, {"please add", CLS_SIG_WISH},
    {"add support", CLS_SIG_WISH}, {"to see", CLS_SIG_WISH}, {"nice to", CLS_SIG_WISH},
    {"suggestion", CLS_SIG_WISH}, {"proposal", CLS_SIG_WISH}, {"propose", CLS_SIG_WISH},
    {"suggest", CLS_SIG_WISH}, {"wish", CLS_SIG_WISH},
    {"error", CLS_SIG_ERROR}, {"errors", CLS_SIG_ERROR}, {"exception", CLS_SIG_ERROR},
    {"exceptions", CLS_SIG_ERROR}, {"fail", CLS_SIG_ERROR}, {"fails", CLS_SIG_ERROR},
    {"failed", CLS_SIG_ERROR}, {"failing", CLS_SIG_ERROR}, {"failure", CLS_SIG_ERROR},
    {"crash", CLS_SIG_CRASH}, {"crashes", CLS_SIG_CRASH}, {"crashed", CLS_SIG_CRASH},
    {"crashing", CLS_SIG_CRASH}, {"segfault", CLS_SIG_CRASH}, {"sigsegv", CLS_SIG_CRASH},
    {"segmentation", CLS_SIG_CRASH}, {"core dumped", CLS_SIG_CRASH}, {"abort", CLS_SIG_CRASH},
    {"aborted", CLS_SIG_CRASH}, {"panic", CLS_SIG_CRASH}, {"fatal", CLS_SIG_CRASH},
    {"assertion", CLS_SIG_CRASH},
    {"hang", CLS_SIG_HANG}, {"hangs", CLS_SIG_HANG}, {"hanging", CLS_SIG_HANG},
    {"freeze", CLS_SIG_HANG}, {"freezes", CLS_SIG_HANG}, {"frozen", CLS_SIG_HANG},
    {"deadlock", CLS_SIG_HANG}, {"unresponsive", CLS_SIG_HANG}, {"stuck", CLS_SIG_HANG},
    {"data loss", CLS_SIG_DATALOSS}, {"lost data", CLS_SIG_DATALOSS},
    {"loses data", CLS_SIG_DATALOSS}, {"lose data", CLS_SIG_DATALOSS},
    {"lost funds", CLS_SIG_DATALOSS}, {"funds lost", CLS_SIG_DATALOSS},
    {"corrupt", CLS_SIG_DATALOSS}, {"corrupted", CLS_SIG_DATALOSS},
    {"corruption", CLS_SIG_DATALOSS}, {"dataloss", CLS_SIG_DATALOSS},
    {"security", CLS_SIG_SECURITY}, {"vulnerability", CLS_SIG_SECURITY},
    {"vulnerabilities", CLS_SIG_SECURITY}, {"vulnerable", CLS_SIG_SECURITY},
    {"cve", CLS_SIG_SECURITY}, {"exploit", CLS_SIG_SECURITY}, {"exploitable", CLS_SIG_SECURITY},
    {"xss", CLS_SIG_SECURITY}, {"csrf", CLS_SIG_SECURITY}, {"rce", CLS_SIG_SECURITY},
    {"remote code", CLS_SIG_SECURITY}, {"buffer overflow", CLS_SIG_SECURITY},
    {"privilege escalation", CLS_SIG_SECURITY}, {"code execution", CLS_SIG_SECURITY},
    {"information disclosure", CLS_SIG_SECURITY}, {"sql injection", CLS_SIG_SECURITY},
    {"regression", CLS_SIG_REGRESSION}, {"regressed", CLS_SIG_REGRESSION},
    {"used to", CLS_SIG_REGRESSION}, {"no longer", CLS_SIG_REGRESSION},
    {"stopped working", CLS_SIG_REGRESSION}, {"after updating", CLS_SIG_REGRESSION},
    {"after upgrading", CLS_SIG_REGRESSION}, {"since updating", CLS_SIG_REGRESSION},
    {"since upgrading", CLS_SIG_REGRESSION}, {"worked before", CLS_SIG_REGRESSION},
    {"docs", CLS_SIG_DOCS}, {"documentation", CLS_SIG_DOCS}, {"doc", CLS_SIG_DOCS},
    {"typo", CLS_SIG_DOCS}, {"typos", CLS_SIG_DOCS}, {"readme", CLS_SIG_DOCS},
    {"docstring", CLS_SIG_DOCS}, {"docstrings", CLS_SIG_DOCS}, {"tutorial", CLS_SIG_DOCS},
    {"improve", CLS_SIG_IMPROVE}, {"improves", CLS_SIG_IMPROVE}, {"improved", CLS_SIG_IMPROVE},
    {"improvement", CLS_SIG_IMPROVE}, {"improvements", CLS_SIG_IMPROVE},
    {"enhance", CLS_SIG_IMPROVE}, {"enhancement", CLS_SIG_IMPROVE}, {"better", CLS_SIG_IMPROVE},
    {"faster", CLS_SIG_IMPROVE}, {"optimize", CLS_SIG_IMPROVE}, {"optimise", CLS_SIG_IMPROVE},
    {"optimization", CLS_SIG_IMPROVE}, {"refactor", CLS_SIG_IMPROVE},
    {"simplify", CLS_SIG_IMPROVE}, {"more efficient", CLS_SIG_IMPROVE},
    {"slow", CLS_SIG_PERF}, {"slower", CLS_SIG_PERF}, {"performance", CLS_SIG_PERF},
    {"latency", CLS_SIG_PERF}, {"memory usage", CLS_SIG_PERF}, {"memory leak", CLS_SIG_PERF},
    {"leak", CLS_SIG_PERF}, {"cpu usage", CLS_SIG_PERF}, {"throughput", CLS_SIG_PERF},
    {"build", CLS_SIG_BUILD}, {"building", CLS_SIG_BUILD}, {"compile", CLS_SIG_BUILD},
    {"compiling", CLS_SIG_BUILD}, {"compiler", CLS_SIG_BUILD}, {"cmake", CLS_SIG_BUILD},
    {"linker", CLS_SIG_BUILD}, {"undefined reference", CLS_SIG_BUILD},
    {"install", CLS_SIG_BUILD}, {"installation", CLS_SIG_BUILD}, {"installing", CLS_SIG_BUILD},
    {"makefile", CLS_SIG_BUILD}, {"bazel", CLS_SIG_BUILD},
    {"why", CLS_SIG_QWORD}, {"what", CLS_SIG_QWORD}, {"how", CLS_SIG_QWORD},
    {"which", CLS_SIG_QWORD}, {"where", CLS_SIG_QWORD}, {"whether", CLS_SIG_QWORD},
    {"can i", CLS_SIG_QWORD}, {"should i", CLS_SIG_QWORD}, {"do i", CLS_SIG_QWORD},
    {"is it", CLS_SIG_QWORD}, {"does it", CLS_SIG_QWORD},
    {"thanks", CLS_SIG_THANKS}, {"thank", CLS_SIG_THANKS}, {"please", CLS_SIG_THANKS},
    {"help", CLS_SIG_THANKS}, {"anyone", CLS_SIG_THANKS}, {"somebody", CLS_SIG_THANKS},
    {"advice", CLS_SIG_THANKS},
    {"fix", CLS_SIG_FIXWORD}, {"fixes", CLS_SIG_FIXWORD}, {"fixed", CLS_SIG_FIXWORD},
    {"fixing", CLS_SIG_FIXWORD}, {"resolves", CLS_SIG_FIXWORD}, {"closes", CLS_SIG_FIXWORD},
    {"this pr", CLS_SIG_FIXWORD},
    {"add", CLS_SIG_ADDWORD}, {"adds", CLS_SIG_ADDWORD}, {"adding", CLS_SIG_ADDWORD},
    {"support", CLS_SIG_ADDWORD}, {"allow", CLS_SIG_ADDWORD}, {"allows", CLS_SIG_ADDWORD},
    {"implement", CLS_SIG_ADDWORD}, {"provide", CLS_SIG_ADDWORD}, {"option", CLS_SIG_ADDWORD},
    {"introduce", CLS_SIG_ADDWORD}, {"ability to", CLS_SIG_ADDWORD},
    {"bug", CLS_SIG_BUGWORD}, {"bugs", CLS_SIG_BUGWORD}, {"broken", CLS_SIG_BUGWORD},
    {"wrong", CLS_SIG_BUGWORD}, {"incorrect", CLS_SIG_BUGWORD}, {"unexpected", CLS_SIG_BUGWORD},
    {"doesn't work", CLS_SIG_BUGWORD}, {"not working", CLS_SIG_BUGWORD},
    {"does not", CLS_SIG_BUGWORD},
    {"rewrite", CLS_SIG_BIG}, {"redesign", CLS_SIG_BIG}, {"migrate", CLS_SIG_BIG},
    {"migration", CLS_SIG_BIG}, {"overhaul", CLS_SIG_BIG}, {"architecture", CLS_SIG_BIG},
    {"repro", CLS_SIG_REPRO}, {"reproduce", CLS_SIG_REPRO}, {"reproducible", CLS_SIG_REPRO},
    {"reproduction", CLS_SIG_REPRO},
    {"expected behavior", CLS_SIG_EXPECTED}, {"expected behaviour", CLS_SIG_EXPECTED},
    {"expected result", CLS_SIG_EXPECTED}, {"actual behavior", CLS_SIG_EXPECTED},
    {"actual behaviour", CLS_SIG_EXPECTED}, {"current behavior", CLS_SIG_EXPECTED},
    {"current behaviour", CLS_SIG_EXPECTED},
};

void cls_lexicon_init(struct cls_lexicon *lex)
{
    memset(lex, 0, sizeof(*lex));
    for (size_t i = 0; i < sizeof(lex_entries) / sizeof(lex_entries[0]); i++) {
        const char *p = lex_entries[i].phrase;
        const char *sp = strchr(p, ' ');
        uint64_t k;
        size_t s;

        if (sp)
            k = cls_hash_pair(cls_hash_token(p, (size_t)(sp - p)),
                              cls_hash_token(sp + 1, strlen(sp + 1)));
        else
            k = cls_hash_token(p, strlen(p));
        k = cls_lexicon_key(k);
        s = (size_t)(k & (CLS_LEX_SLOTS - 1));
        while (lex->key[s] && lex->key[s] != k)
            s = (s + 1) & (CLS_LEX_SLOTS - 1);
        lex->key[s] = k;
        lex->bits[s] |= 1u << lex_entries[i].sig;
    }
}
