#ifndef SILOMERGE_CWEBP_SHIM_H
#define SILOMERGE_CWEBP_SHIM_H
#include <webp/decode.h>
#endif
