#ifndef SILOMERGE_CZLIB_SHIM_H
#define SILOMERGE_CZLIB_SHIM_H
#include <zlib.h>
#endif
