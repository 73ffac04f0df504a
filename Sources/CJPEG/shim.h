#ifndef SILOMERGE_CJPEG_SHIM_H
#define SILOMERGE_CJPEG_SHIM_H
#include <stdio.h>
#include <jpeglib.h>
#include <jerror.h>
#endif
