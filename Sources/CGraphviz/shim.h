// Graphviz's layout and rendering library (libgvc) and graph library (cgraph); include path from
// pkg-config (libgvc). Swift 6 cannot import the `Agdirected` descriptor (a global struct value),
// so a tiny inline wrapper opens directed graphs for us.
#include <gvc.h>
#include <cgraph.h>

static inline Agraph_t *circuitry_agopen_directed(char *name) {
    return agopen(name, Agdirected, NULL);
}
