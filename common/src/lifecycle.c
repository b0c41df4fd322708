/* Signal handling for foreground daemons: SIGTERM/SIGINT set the stop flag,
 * SIGHUP counts a log re-open request, SIGPIPE is ignored. Handlers only set
 * flags and poke a self-pipe so dai_lifecycle_wait wakes promptly; what a
 * stop or a re-open means (drain, dai_log_reopen) is the daemon's loop. */
#include <dispatchai/lifecycle.h>
#include <dispatchai/log.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The only mutable globals here are the signal flags (CONTRIBUTING.md allows them):
 * a handler has no user-data slot to reach a context struct through. */
static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t stop_requested; /* set by request_stop, not a signal */
static volatile sig_atomic_t hup_count;
static sig_atomic_t hup_taken; /* only touched by the thread calling take_reopen */
static int wake_pipe[2] = { -1, -1 };

static void wake(void)
{
    int saved = errno;
    char c = 1;
    ssize_t r;

    if (wake_pipe[1] < 0)
        return;
    r = write(wake_pipe[1], &c, 1);
    (void)r; /* EAGAIN means the pipe is full, which already wakes waiters */
    errno = saved;
}

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup_count++;
    else
        stop_flag = 1;
    wake();
}

int dai_lifecycle_install(void)
{
    struct sigaction sa;
    static const int sigs[] = { SIGTERM, SIGINT, SIGHUP };

    if (wake_pipe[0] < 0 && pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    /* Block the other stop/hup signals while one handler runs, and restart
     * interrupted syscalls: loops notice the flags at their next turn. */
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(&sa.sa_mask, sigs[i]);
    sa.sa_flags = SA_RESTART;
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], &sa, NULL) < 0)
            return -errno;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return -errno;
    return 0;
}

bool dai_lifecycle_stopping(void)
{
    return stop_flag != 0;
}

void dai_lifecycle_request_stop(const char *why)
{
    if (!stop_flag)
        dai_log(DAI_LOG_WARN, "stop requested reason=\"%s\"", why ? why : "unspecified");
    stop_requested = 1;
    stop_flag = 1;
    wake();
}

bool dai_lifecycle_take_reopen(void)
{
    sig_atomic_t seen = hup_count;

    /* Comparing counts rather than clearing a flag means a SIGHUP that lands
     * between the read and the store is never lost, only merged. */
    if (seen == hup_taken)
        return false;
    hup_taken = seen;
    return true;
}

static void drain(void)
{
    char buf[64];

    while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
        ;
}

/* A signal that arrived since the previous wait also ends this one at once:
 * its byte is still in the pipe, and the caller has a flag to look at. */
void dai_lifecycle_wait(int timeout_ms)
{
    struct pollfd pfd;

    if (timeout_ms <= 0 || stop_flag)
        return;
    if (wake_pipe[0] < 0) {
        /* Not installed: no handler can wake us, so just sleep. */
        struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        return;
    }
    pfd.fd = wake_pipe[0];
    pfd.events = POLLIN;
    pfd.revents = 0;
    /* A signal taken on this thread ends poll with EINTR before the byte is
     * seen, so drain whatever poll returned. After a stop the bytes stay so
     * every later or concurrent waiter returns at once. */
    if (poll(&pfd, 1, timeout_ms) != 0 && !stop_flag)
        drain();
}

int dai_lifecycle_exit_code(void)
{
    return stop_requested ? 1 : 0;
}
