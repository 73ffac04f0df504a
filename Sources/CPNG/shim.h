#ifndef SILOMERGE_CPNG_SHIM_H
#define SILOMERGE_CPNG_SHIM_H
#include <png.h>
#endif
