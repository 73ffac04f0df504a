#ifndef SILOMERGE_CHEIF_SHIM_H
#define SILOMERGE_CHEIF_SHIM_H
#include <libheif/heif.h>
#endif
