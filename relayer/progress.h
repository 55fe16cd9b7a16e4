/*
 * progress.h - a progress bar on stderr for long runs, drawn only when stderr is a terminal
 * (so logs and CI output stay clean), at most ten times a second.
 */
#ifndef RL_PROGRESS_H
#define RL_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct progress {
    const char *label;
    bool tty;
    uint64_t last_draw_ms, start_ms;
} progress;

void progress_init(progress *p, const char *label);
/* Matches progress_fn (db/export.h): ctx is the progress. */
void progress_update(void *ctx, uint64_t done, uint64_t total);
/* Clears the bar line. */
void progress_done(progress *p);

/* Monotonic milliseconds, and wall-clock Unix milliseconds. */
uint64_t mono_ms(void);
uint64_t wall_ms(void);
/* CPU time of the calling thread, nanoseconds (what a share of a daemon's work costs). */
uint64_t thread_cpu_ns(void);

#endif
