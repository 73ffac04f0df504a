#ifndef SILOMERGE_CTIFF_SHIM_H
#define SILOMERGE_CTIFF_SHIM_H
#include <tiffio.h>
#endif
