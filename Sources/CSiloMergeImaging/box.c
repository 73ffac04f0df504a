#include "box.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

smi_status smi_fail(smi_preview *out, smi_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->message, sizeof out->message, fmt, ap);
    va_end(ap);
    return status;
}

smi_status smi_check_size(const smi_limits *limits, smi_preview *out, uint64_t w, uint64_t h) {
    if (w == 0 || h == 0)
        return smi_fail(out, SMI_CORRUPT, "the image is empty (%llux%llu)", (unsigned long long)w, (unsigned long long)h);
    if (w > limits->max_width || h > limits->max_height)
        return smi_fail(out, SMI_TOO_LARGE, "%llux%llu pixels is over the limit of %ux%u",
                        (unsigned long long)w, (unsigned long long)h, limits->max_width, limits->max_height);
    if (w * h > limits->max_pixels)
        return smi_fail(out, SMI_TOO_LARGE, "%llux%llu is %.1f megapixels, over the limit of %.1f",
                        (unsigned long long)w, (unsigned long long)h, (double)(w * h) / 1e6,
                        (double)limits->max_pixels / 1e6);
    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    return SMI_OK;
}

void smi_keep_exif(smi_preview *out, const uint8_t *tiff, size_t len) {
    if (out->exif == NULL || out->exif_cap == 0 || out->exif_len > 0) return;
    size_t n = len < out->exif_cap ? len : out->exif_cap;
    memcpy(out->exif, tiff, n);
    out->exif_len = n;
}

smi_status smi_box_init(smi_box *box, uint32_t sw, uint32_t sh, smi_preview *out) {
    memset(box, 0, sizeof *box);
    uint32_t dw = sw < out->max_w ? sw : out->max_w;
    uint32_t dh = sh < out->max_h ? sh : out->max_h;
    if (dw == 0 || dh == 0) return smi_fail(out, SMI_CORRUPT, "the image is empty");
    box->sw = sw; box->sh = sh; box->dw = dw; box->dh = dh;
    box->sum = calloc((size_t)dw * dh, sizeof *box->sum);
    box->col = malloc((size_t)sw * sizeof *box->col);
    box->colcount = calloc(dw, sizeof *box->colcount);
    box->rowcount = calloc(dh, sizeof *box->rowcount);
    box->grey = malloc(sw);
    if (!box->sum || !box->col || !box->colcount || !box->rowcount || !box->grey) {
        smi_box_free(box);
        return smi_fail(out, SMI_NO_MEMORY, "out of memory for a %ux%u preview of a %ux%u image", dw, dh, sw, sh);
    }
    for (uint32_t x = 0; x < sw; x++) {
        uint32_t c = (uint32_t)((uint64_t)x * dw / sw);
        box->col[x] = c;
        box->colcount[c]++;
    }
    for (uint32_t y = 0; y < sh; y++) box->rowcount[(uint64_t)y * dh / sh]++;
    return SMI_OK;
}

void smi_box_free(smi_box *box) {
    free(box->sum); free(box->col); free(box->colcount); free(box->rowcount); free(box->grey);
    memset(box, 0, sizeof *box);
}

static inline uint8_t luma(uint32_t r, uint32_t g, uint32_t b) {
    // ITU-R BT.601, as libjpeg computes Y from RGB (so a PNG made from a JPEG greys alike).
    return (uint8_t)((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
}

static inline uint8_t over_white(uint32_t y, uint32_t a) {
    return (uint8_t)((y * a + 255u * (255u - a) + 127u) / 255u);
}

void smi_box_to_grey(smi_box *box, const uint8_t *px, uint32_t n, int channels) {
    uint8_t *g = box->grey;
    switch (channels) {
    case 1:
        memcpy(g, px, n);
        break;
    case 2:
        for (uint32_t i = 0; i < n; i++) g[i] = over_white(px[2 * i], px[2 * i + 1]);
        break;
    case 3:
        for (uint32_t i = 0; i < n; i++) g[i] = luma(px[3 * i], px[3 * i + 1], px[3 * i + 2]);
        break;
    default:
        for (uint32_t i = 0; i < n; i++)
            g[i] = over_white(luma(px[4 * i], px[4 * i + 1], px[4 * i + 2]), px[4 * i + 3]);
        break;
    }
}

void smi_box_add(smi_box *box, uint32_t y, const uint8_t *grey, uint32_t n, uint32_t x0, uint32_t step) {
    if (y >= box->sh) return;
    uint64_t *row = box->sum + (size_t)((uint64_t)y * box->dh / box->sh) * box->dw;
    const uint32_t *col = box->col;
    if (step == 1 && x0 == 0) {
        uint32_t m = n < box->sw ? n : box->sw;
        for (uint32_t i = 0; i < m; i++) row[col[i]] += grey[i];
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t x = (uint64_t)x0 + (uint64_t)i * step;
        if (x >= box->sw) break;
        row[col[x]] += grey[i];
    }
}

void smi_box_finish(smi_box *box, smi_preview *out) {
    for (uint32_t r = 0; r < box->dh; r++)
        for (uint32_t c = 0; c < box->dw; c++) {
            uint64_t count = (uint64_t)box->rowcount[r] * box->colcount[c];
            uint64_t s = box->sum[(size_t)r * box->dw + c];
            out->pixels[(size_t)r * box->dw + c] = count ? (uint8_t)((s + count / 2) / count) : 0;
        }
    out->w = box->dw;
    out->h = box->dh;
}
