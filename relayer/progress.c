/*
 * progress.c - terminal progress bar and the process clocks.
 */
#include "relayer/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30

uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void progress_init(progress *p, const char *label)
{
    p->label = label;
    p->tty = isatty(STDERR_FILENO) == 1;
    p->start_ms = mono_ms();
    p->last_draw_ms = 0;
}

void progress_update(void *ctx, uint64_t done, uint64_t total)
{
    progress *p = ctx;
    if (!p->tty)
        return;
    uint64_t now = mono_ms();
    if (done < total && now - p->last_draw_ms < 100)
        return;
    p->last_draw_ms = now;
    unsigned filled = total ? (unsigned)(done * BAR_WIDTH / total) : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (unsigned i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double secs = (double)(now - p->start_ms) / 1000.0; /* display only */
    fprintf(stderr, "\r%-10s [%s] %llu/%llu records  %.1fs", p->label, bar, (unsigned long long)done,
            (unsigned long long)total, secs);
    fflush(stderr);
}

void progress_done(progress *p)
{
    if (p->tty)
        fprintf(stderr, "\r\033[K");
}
