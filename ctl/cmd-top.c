/* SPDX-License-Identifier: MIT */
/* emperorctl top: the fleet's live numbers, from a `status` request every -d seconds, as frames
 * (top.c). On a terminal: full screen, drawn anew each frame, with keys. Without a terminal on
 * stdout it is top's batch mode: frames one after another, plain text. With --json every
 * frame is one JSON line, terminal or not. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>

#include "ctl.h"
#include "format.h"
#include "jsonutil.h"
#include "macro.h"
#include "top.h"

/* The quick second sample that gives the first frame its rates; when a vassal has not
 * reported again by then, more samples TOP_FIRST_RETRY apart, up to TOP_FIRST_WAIT after the
 * first: `top -n 1` should not print a frame of "-". */
#define TOP_FIRST_SPAN 0.5
#define TOP_FIRST_RETRY 0.25
#define TOP_FIRST_WAIT 2.0

/* ---- the command ---- */

/* The terminal's state, for the signal handlers that restore it: an interrupted top must not
 * leave the shell in raw mode on the alternate screen. Only async-signal-safe calls
 * (tcsetattr, write, signal, raise) touch it from a handler. */
static struct termios term_saved;
static volatile sig_atomic_t term_keys_wanted, term_keys_on; /* raw keyboard */
static volatile sig_atomic_t term_screen_wanted, term_screen_on; /* alternate screen */
static volatile sig_atomic_t term_redraw; /* SIGWINCH, or back from a stop */
static int term_wake = -1; /* the write end of the pipe the loop polls */

/* Alternate screen and hidden cursor; leaving shows the cursor and the old screen. */
#define TERM_ENTER "\033[?1049h\033[?25l"
#define TERM_LEAVE "\033[?25h\033[?1049l"

static void write_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, s, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return;
                s += k;
                n -= (size_t) k;
        }
}

static void term_enter(void) {
        if (term_keys_wanted && !term_keys_on) {
                /* Keys one at a time, unechoed; ISIG stays, so ^C is still SIGINT. */
                struct termios raw = term_saved;
                raw.c_lflag &= ~(tcflag_t) (ICANON | ECHO);
                raw.c_cc[VMIN] = 0;
                raw.c_cc[VTIME] = 0;
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
                        term_keys_on = 1;
        }
        if (term_screen_wanted && !term_screen_on) {
                write_all(STDOUT_FILENO, TERM_ENTER, strlen(TERM_ENTER));
                term_screen_on = 1;
        }
}

static void term_leave(void) {
        if (term_screen_on) {
                write_all(STDOUT_FILENO, TERM_LEAVE, strlen(TERM_LEAVE));
                term_screen_on = 0;
        }
        if (term_keys_on) {
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &term_saved);
                term_keys_on = 0;
        }
}

static void term_wakeup(void) {
        if (term_wake >= 0)
                (void) !write(term_wake, "x", 1); /* a full pipe already wakes the loop */
}

/* SIGINT, SIGTERM, SIGHUP, SIGQUIT: restore the terminal, then die of the signal as if we had
 * not caught it (the shell sees 128 + sig). */
static void on_fatal_signal(int sig) {
        term_leave();
        (void) signal(sig, SIG_DFL);
        (void) raise(sig); /* blocked until the handler returns, then the default action */
}

/* SIGTSTP (^Z): restore the terminal, stop, and take it back once continued. The stop
 * happens inside raise(), with SIGTSTP unblocked, so that the code after it runs on SIGCONT;
 * in an orphaned process group the kernel discards the stop, and it runs at once. */
static void on_stop_signal(int sig) {
        int saved = errno;
        sigset_t set;

        term_leave();
        (void) signal(sig, SIG_DFL);
        (void) sigemptyset(&set);
        (void) sigaddset(&set, sig);
        (void) sigprocmask(SIG_UNBLOCK, &set, NULL);
        (void) raise(sig);
        (void) sigprocmask(SIG_BLOCK, &set, NULL);
        (void) signal(sig, on_stop_signal);
        term_enter();
        term_redraw = 1;
        term_wakeup();
        errno = saved;
}

static void on_winch_signal(int sig) {
        int saved = errno;

        (void) sig;
        term_redraw = 1;
        term_wakeup();
        errno = saved;
}

static const int fatal_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };

typedef struct Top {
        TopSort sort;
        double delay;
        unsigned count; /* frames to show; 0: until q or a signal */
        bool json;      /* --json: a JSON line per frame */
        bool screen;    /* stdout is a terminal: full-screen */
        bool keys;      /* stdin is one too: keyboard commands */
        bool started;   /* top_start() ran */
        int wake;       /* the read end of the signal handlers' pipe */
        TopLayout layout;
        TopFrame *last; /* the newest frame */
        unsigned frames;
        char *error; /* what to print on stderr once the terminal is restored */
} Top;

static double top_now(void) {
        struct timespec ts;

        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Keeps a one-line error for after the terminal is restored. Returns status. */
_printf_(3, 4) static int top_error(Top *t, int status, const char *fmt, ...) {
        va_list ap;
        char *msg = NULL;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        free(t->error);
        t->error = NULL;
        if (msg && asprintf(&t->error, "emperorctl: %s\n", msg) < 0)
                t->error = NULL;
        free(msg);
        return status;
}

static void top_size(Top *t) {
        struct winsize ws = {};

        if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) < 0 || ws.ws_col == 0 || ws.ws_row == 0)
                ws = (struct winsize) { .ws_col = 80, .ws_row = 24 };
        /* One column short: a line that fills the last column leaves some terminals in their
         * pending-wrap state, where the next erase or newline misbehaves. */
        t->layout = (TopLayout) { .width = ws.ws_col > 1 ? ws.ws_col - 1u : 1u,
                                  .height = ws.ws_row,
                                  .keys = t->keys };
}

static int top_start(Top *t) {
        struct sigaction sa = { .sa_flags = SA_RESTART };
        int fds[2];

        if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
                return top_error(t, CTL_EXIT_FAILED, "cannot make a pipe: %m");
        t->started = true;
        t->wake = fds[0];
        term_wake = fds[1];
        if (t->keys && tcgetattr(STDIN_FILENO, &term_saved) < 0)
                t->keys = false;
        term_keys_wanted = t->keys;
        term_screen_wanted = 1;
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_fatal_signal;
        for (size_t i = 0; i < ELEMENTSOF(fatal_signals); i++)
                (void) sigaction(fatal_signals[i], &sa, NULL);
        sa.sa_handler = on_stop_signal;
        (void) sigaction(SIGTSTP, &sa, NULL);
        sa.sa_handler = on_winch_signal;
        (void) sigaction(SIGWINCH, &sa, NULL);
        top_size(t);
        term_enter();
        return 0;
}

/* Undoes top_start(); safe to call when it did not run. */
static void top_stop(Top *t) {
        if (!t->started)
                return;
        t->started = false;
        (void) signal(SIGWINCH, SIG_DFL);
        (void) signal(SIGTSTP, SIG_DFL);
        (void) fflush(stdout); /* the last frame before the screen goes */
        term_leave();
        term_keys_wanted = term_screen_wanted = 0;
        for (size_t i = 0; i < ELEMENTSOF(fatal_signals); i++)
                (void) signal(fatal_signals[i], SIG_DFL);
        term_wake = safe_close(term_wake);
        t->wake = safe_close(t->wake);
}

static void top_done(Top *t) {
        top_stop(t);
        top_frame_free(t->last);
        free(t->error);
}

/* Draws the newest frame: home, each line erased to its end, the rest of the screen erased.
 * The last line gets no newline, so a full screen never scrolls. */
static void top_draw_screen(Top *t) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *m = open_memstream(&text, &size);

        if (!m)
                return;
        top_frame_print(m, t->last, t->sort, &t->layout);
        if (fclose(m) != 0 || !text)
                return;
        fputs("\033[H", stdout);
        for (char *line = text, *nl; *line; line = nl + 1) {
                nl = strchr(line, '\n');
                if (!nl)
                        break;
                fwrite(line, 1, (size_t) (nl - line), stdout);
                fputs("\033[K", stdout);
                if (nl[1])
                        fputs("\r\n", stdout);
        }
        fputs("\033[J", stdout);
        (void) fflush(stdout);
}

static void top_draw(Top *t) {
        if (t->json) {
                _cleanup_(cJSON_Deletep) cJSON *j = top_frame_json(t->last, t->sort);
                _cleanup_free_ char *s = j ? cJSON_PrintUnformatted(j) : NULL;
                if (s)
                        printf("%s\n", s);
                else
                        (void) top_error(t, CTL_EXIT_FAILED, "out of memory");
        } else if (t->screen) {
                top_draw_screen(t);
                return;
        } else {
                if (t->frames > 0)
                        fputc('\n', stdout);
                top_frame_print(stdout, t->last, t->sort, NULL);
        }
        (void) fflush(stdout);
}

/* Sends "status" and reads the reply into a frame. What ctl_request() prints on failure is
 * kept for later, so that it is not drawn on the alternate screen and lost with it: glibc's
 * stderr is a variable, pointed at a memory stream for the request. */
static int top_fetch(Top *t, TopFrame **ret) {
        _cleanup_(cJSON_Deletep) cJSON *reply = NULL;
        char *text = NULL;
        size_t size = 0;
        FILE *saved = stderr, *m = open_memstream(&text, &size);
        int r;

        if (m)
                stderr = m;
        r = ctl_request("status", NULL, false, false, &reply);
        if (m) {
                stderr = saved;
                if (fclose(m) != 0)
                        text = mfree(text);
        }
        if (r != CTL_EXIT_OK) {
                free(t->error);
                t->error = text;
                return r;
        }
        free(text);
        r = top_frame_new(reply, top_now(), time(NULL), ret);
        if (r == -ENOMEM)
                return top_error(t, CTL_EXIT_FAILED, "out of memory");
        if (r < 0)
                return top_error(t, CTL_EXIT_FAILED,
                                 "malformed reply from the emperor: no \"vassals\" list");
        reply = NULL; /* the frame's now */
        return CTL_EXIT_OK;
}

enum {
        TOP_NEXT, /* time for the next frame (or s, space) */
        TOP_QUIT, /* q */
};

/* A key from the terminal. Returns TOP_NEXT to refresh now, TOP_QUIT, or -1 for nothing. */
static int top_key(Top *t, char key) {
        TopSort s;

        if (key == 'q' || key == 'Q')
                return TOP_QUIT;
        if (key == 's' || key == 'S' || key == ' ')
                return TOP_NEXT;
        s = top_sort_from_key(key);
        if (s >= 0 && t->last) {
                t->sort = s;
                top_frame_sort(t->last, s);
                top_draw_screen(t);
        }
        return -1;
}

/* Waits until the monotonic time until, for the keyboard and the signal handlers meanwhile.
 * Returns TOP_NEXT, TOP_QUIT, or an exit status > TOP_QUIT after an error. */
static int top_wait(Top *t, double until) {
        for (;;) {
                struct pollfd p[2] = {
                        { .fd = t->wake, .events = POLLIN },
                        { .fd = t->keys ? STDIN_FILENO : -1, .events = POLLIN },
                };
                double left;
                char buf[64];
                ssize_t k;
                int r;

                if (term_redraw && t->screen) {
                        term_redraw = 0;
                        top_size(t);
                        if (t->last)
                                top_draw_screen(t);
                }
                left = until - top_now();
                if (left <= 0)
                        return TOP_NEXT;
                r = poll(p, 2, (int) ceil(left * 1000));
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return top_error(t, CTL_EXIT_FAILED, "cannot wait: %m");
                if (p[0].revents)
                        while (read(t->wake, buf, sizeof(buf)) > 0)
                                ;
                if (!p[1].revents)
                        continue;
                k = read(STDIN_FILENO, buf, sizeof(buf));
                if (k < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (k <= 0) {
                        /* The terminal hung up (SIGHUP follows) or stdin is gone: no more keys,
                         * and no busy loop on a descriptor that stays readable. */
                        t->keys = false;
                        continue;
                }
                for (ssize_t i = 0; i < k; i++) {
                        r = top_key(t, buf[i]);
                        if (r >= 0)
                                return r;
                }
        }
}

static int top_options(Top *t) {
        if (ctl_args.sort) {
                t->sort = top_sort_from_string(ctl_args.sort);
                if (t->sort < 0) {
                        _cleanup_free_ char *clean = format_clean_line(ctl_args.sort, 40);
                        return ctl_err(CTL_EXIT_USAGE,
                                       "invalid --sort '%s' (rps, latency, memory, cpu or name)",
                                       clean ? clean : "?");
                }
        }
        if (ctl_args.delay && top_parse_delay(ctl_args.delay, &t->delay) < 0) {
                _cleanup_free_ char *clean = format_clean_line(ctl_args.delay, 40);
                return ctl_err(CTL_EXIT_USAGE,
                               "invalid -d '%s' (seconds between refreshes, %g to %g)",
                               clean ? clean : "?", TOP_DELAY_MIN, TOP_DELAY_MAX);
        }
        if (ctl_args.lines && top_parse_count(ctl_args.lines, &t->count) < 0) {
                _cleanup_free_ char *clean = format_clean_line(ctl_args.lines, 40);
                return ctl_err(CTL_EXIT_USAGE,
                               "invalid -n '%s' (the number of refreshes, 1 to %u)",
                               clean ? clean : "?", TOP_COUNT_MAX);
        }
        return 0;
}

/* Whether every row with counters has its rates. */
static bool frame_rated(const TopFrame *f) {
        for (size_t i = 0; i < f->n; i++)
                if (isfinite(f->rows[i].report) && isfinite(f->rows[i].requests) &&
                    !isfinite(f->rows[i].rps))
                        return false;
        return true;
}

/* The loop: a frame every delay seconds (from the start of the last request), until -n
 * frames, q, or the emperor goes away. */
static int top_run(Top *t) {
        int r;

        /* The base of the first frame's rates, a moment before it. On a terminal it is drawn
         * at once (rates "-"), so the screen is never blank. */
        r = top_fetch(t, &t->last);
        if (r != CTL_EXIT_OK)
                return r;
        top_frame_sort(t->last, t->sort);
        if (t->screen) {
                r = top_start(t);
                if (r != 0)
                        return r;
                top_draw_screen(t);
        }
        double first = t->last->now;
        r = top_wait(t, first + MIN(TOP_FIRST_SPAN, t->delay));

        while (r == TOP_NEXT) {
                _cleanup_(top_frame_freep) TopFrame *f = NULL;
                double started = top_now();

                r = top_fetch(t, &f);
                if (r == CTL_EXIT_NOT_RUNNING) {
                        char *said = TAKE_PTR(t->error);
                        (void) top_error(t, r, "top: the emperor went away");
                        if (said && t->error) {
                                char *both = NULL;
                                if (asprintf(&both, "%s%s", said, t->error) >= 0) {
                                        free(t->error);
                                        t->error = both;
                                }
                        }
                        free(said);
                }
                if (r != CTL_EXIT_OK)
                        return r;
                top_frame_rates(f, t->last);
                top_frame_sort(f, t->sort);
                top_frame_free(t->last);
                t->last = TAKE_PTR(f);
                if (t->frames == 0 && !frame_rated(t->last) &&
                    top_now() + TOP_FIRST_RETRY < first + TOP_FIRST_WAIT) {
                        if (t->screen)
                                top_draw_screen(t);
                        r = top_wait(t, top_now() + TOP_FIRST_RETRY);
                        continue;
                }
                top_draw(t);
                t->frames++;
                if (t->count > 0 && t->frames >= t->count)
                        return CTL_EXIT_OK;
                r = top_wait(t, started + t->delay);
        }
        return r == TOP_QUIT ? CTL_EXIT_OK : r;
}

int ctl_cmd_top(const CtlInvocation *inv) {
        Top t = { .sort = TOP_SORT_RPS, .delay = TOP_DELAY_DEFAULT, .wake = -1 };
        int r;

        (void) inv;
        r = top_options(&t);
        if (r != 0)
                return r;
        t.json = ctl_args.json;
        t.screen = !t.json && isatty(STDOUT_FILENO);
        t.keys = t.screen && isatty(STDIN_FILENO);

        r = top_run(&t);
        bool shown = t.screen && term_screen_on && t.count > 0 && t.frames >= t.count;
        top_stop(&t);
        /* Left after -n frames: the last one stays on the terminal, as top -n does. */
        if (shown && t.last)
                top_frame_print(stdout, t.last, t.sort,
                                &(TopLayout) { .width = t.layout.width + 1 });
        if (t.error)
                fputs(t.error, stderr);
        top_done(&t);
        return r;
}
