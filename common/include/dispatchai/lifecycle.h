/* Process lifecycle for foreground daemons: SIGTERM/SIGINT ask for a
 * graceful stop, SIGHUP asks to re-open logs, SIGPIPE is ignored. Handlers
 * only set flags; loops poll them (and may sleep on dai_lifecycle_wait). */
#ifndef DISPATCHAI_LIFECYCLE_H
#define DISPATCHAI_LIFECYCLE_H

#include <dispatchai/err.h>
#include <stdbool.h>

DAI_MUST_CHECK int dai_lifecycle_install(void);
bool dai_lifecycle_stopping(void);
/* Ask for a stop from inside the process (e.g. a fatal Kafka error). */
void dai_lifecycle_request_stop(const char *why);
/* True once per SIGHUP received. */
bool dai_lifecycle_take_reopen(void);
/* Sleep up to timeout_ms, returning early when a signal arrives. */
void dai_lifecycle_wait(int timeout_ms);
/* Exit status a daemon should use: 0 after a signal stop, 1 after request_stop. */
int dai_lifecycle_exit_code(void);

#endif
