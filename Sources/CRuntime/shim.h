// Process-wide runtime settings for the circuitry executable.
#include <stddef.h>
#if defined(__GLIBC__) || defined(__linux__)
#include <malloc.h>
#endif

// Keeps freed buffers of up to 32 MB in the heap for reuse instead of returning them to the
// system, so repeated forward passes do not page-fault their outputs in afresh.
static inline void circuitry_keep_freed_memory(void) {
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}
