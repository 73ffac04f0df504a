// Area averaging of a decoded image into the preview, one row (or one interlace pass row) at a
// time, so that no decoder needs a full-size frame for the preview's sake. Internal.
#ifndef SILOMERGE_IMAGING_BOX_H
#define SILOMERGE_IMAGING_BOX_H

#include "smimaging.h"

typedef struct smi_box {
    uint32_t sw, sh;   // source size
    uint32_t dw, dh;   // preview size
    uint64_t *sum;     // dw * dh
    uint32_t *col;     // source column -> preview column (sw)
    uint32_t *colcount;// source columns per preview column (dw)
    uint32_t *rowcount;// source rows per preview row (dh)
    uint8_t *grey;     // one source row of grey (sw)
} smi_box;

/// Sets up a box filter from sw x sh into min(sw, out->max_w) x min(sh, out->max_h).
/// Returns SMI_NO_MEMORY (with out->message) when an allocation fails.
smi_status smi_box_init(smi_box *box, uint32_t sw, uint32_t sh, smi_preview *out);
void smi_box_free(smi_box *box);

/// Converts `n` pixels of `channels` interleaved 8-bit samples (1 grey, 2 grey+alpha, 3 RGB,
/// 4 RGBA) into box->grey: BT.601 luma, alpha composited over white. Sets out->has_alpha.
void smi_box_to_grey(smi_box *box, const uint8_t *px, uint32_t n, int channels);

/// Adds `n` grey pixels of source row `y`, at columns x0, x0 + step, x0 + 2 step, ...
void smi_box_add(smi_box *box, uint32_t y, const uint8_t *grey, uint32_t n, uint32_t x0, uint32_t step);

/// Writes the averages into out->pixels and sets out->w, out->h.
void smi_box_finish(smi_box *box, smi_preview *out);

/// Copies an EXIF block into the caller's buffer (truncated to its capacity).
void smi_keep_exif(smi_preview *out, const uint8_t *tiff, size_t len);

/// Sets out->message with printf-style formatting; returns `status`.
smi_status smi_fail(smi_preview *out, smi_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/// Checks the stored size against the limits (and that it is not empty).
smi_status smi_check_size(const smi_limits *limits, smi_preview *out, uint64_t w, uint64_t h);

#endif
