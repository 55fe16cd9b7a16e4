/*
 * pool.c - pthread worker pool. Work is handed out by an atomic cursor over chunks, so no lock
 * is taken per chunk; the mutex only guards job start and completion.
 */
#include "attest/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

struct pool {
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* a new job, or shutdown */
    pthread_cond_t done;  /* a chunk finished */
    uint64_t generation;  /* bumped per job so sleeping workers see a new one */
    bool shutdown;
    unsigned active;      /* workers inside drain(); a new job waits for zero */
    /* the current job */
    pool_fn fn;
    void *ctx;
    size_t n, chunk, nchunks;
    atomic_size_t next;     /* next chunk to hand out */
    atomic_size_t finished; /* chunks completed */
};

/* Takes and runs chunks until none are left. */
static void drain(pool *p)
{
    for (;;) {
        size_t c = atomic_fetch_add(&p->next, 1);
        if (c >= p->nchunks)
            return;
        size_t begin = c * p->chunk;
        size_t end = begin + p->chunk < p->n ? begin + p->chunk : p->n;
        p->fn(p->ctx, begin, end);
        if (atomic_fetch_add(&p->finished, 1) + 1 == p->nchunks) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker(void *arg)
{
    pool *p = arg;
    pthread_setname_np(pthread_self(), "rl-verify"); /* names the threads in top and perf */
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->shutdown && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->shutdown)
            break;
        seen = p->generation;
        p->active++;
        pthread_mutex_unlock(&p->mu);
        drain(p);
        pthread_mutex_lock(&p->mu);
        /* Only once every worker has left drain() may the job fields be reused. */
        if (--p->active == 0)
            pthread_cond_broadcast(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

rl_err pool_new(pool **out, unsigned threads)
{
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores > 0 ? (unsigned)cores : 1;
    }
    pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return RL_ERR_NOMEM;
    p->threads = calloc(threads, sizeof *p->threads);
    if (p->threads == NULL) {
        free(p);
        return RL_ERR_NOMEM;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    atomic_init(&p->finished, 0);
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
            p->nthreads = i;
            pool_free(p);
            return RL_ERR_NOMEM;
        }
        p->nthreads = i + 1;
    }
    *out = p;
    return RL_OK;
}

void pool_free(pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->shutdown = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

unsigned pool_threads(const pool *p)
{
    return p->nthreads;
}

void pool_start(pool *p, pool_fn fn, void *ctx, size_t n, size_t chunk)
{
    if (chunk == 0)
        chunk = 32;
    pthread_mutex_lock(&p->mu);
    /* A late-waking worker may still be in drain() for the previous job: let it leave. */
    while (p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    p->nchunks = (n + chunk - 1) / chunk;
    atomic_store(&p->finished, 0);
    atomic_store(&p->next, 0);
    p->generation++;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void pool_wait(pool *p)
{
    drain(p);
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->finished) < p->nchunks || p->active > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void pool_run(pool *p, pool_fn fn, void *ctx, size_t n, size_t chunk)
{
    pool_start(p, fn, ctx, n, chunk);
    pool_wait(p);
}

void verify_jobs_fn(void *ctx, size_t begin, size_t end)
{
    verify_job *jobs = ctx;
    for (size_t i = begin; i < end; i++)
        jobs[i].ok = ed25519_verify(jobs[i].sig, jobs[i].msg, HASH_BYTES, jobs[i].pk);
}
