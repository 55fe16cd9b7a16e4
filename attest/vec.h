/*
 * vec.h - growing a malloc'd array by doubling.
 */
#ifndef RL_VEC_H
#define RL_VEC_H

#include <stdbool.h>
#include <stdlib.h>

/* Makes room for `need` elements of `size` bytes in *items (capacity *cap, first growth to
 * `first`). False, with *items untouched, when memory runs out. Call with (void **)&array. */
static inline bool vec_reserve(void **items, size_t *cap, size_t need, size_t size, size_t first)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : first;
    while (c < need)
        c *= 2;
    void *p = realloc(*items, c * size);
    if (p == NULL)
        return false;
    *items = p;
    *cap = c;
    return true;
}

#endif
