/* alloc.h - allocation that never returns NULL: out of memory aborts the process. */
#ifndef KC_LIB_ALLOC_H
#define KC_LIB_ALLOC_H

#include <stddef.h>

/* Each behaves like its libc namesake but aborts (after one line on stderr) instead of
 * returning NULL. xmalloc(0) returns a unique non-NULL pointer. Free with free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);

/* Returns a heap string built like printf; caller frees with free(). */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Growth for arrays: returns a capacity >= need, at least doubling 'cap'. Aborts when the
 * byte size (result * elem) would overflow. */
size_t kc_grow_cap(size_t cap, size_t need, size_t elem);

#endif
