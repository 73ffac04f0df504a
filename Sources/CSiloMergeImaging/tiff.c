// TIFF through libtiff's RGBA interface (every photometric, bit depth and compression libtiff
// knows, palette and CMYK included), one strip or one row of tiles at a time. The file is a
// memory buffer behind libtiff's client procedures, errors and warnings go to per-handle
// handlers (never to stderr), and libtiff's own single-allocation ceiling is set to the memory
// limit. Only the first image (IFD0) is read.
#include "box.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

typedef struct tiff_ctx {
    const uint8_t *data;
    uint64_t len;
    uint64_t pos;
    char message[200];
} tiff_ctx;

static tmsize_t on_read(thandle_t h, void *buf, tmsize_t size) {
    tiff_ctx *ctx = h;
    if (size <= 0 || ctx->pos >= ctx->len) return 0;
    uint64_t n = (uint64_t)size < ctx->len - ctx->pos ? (uint64_t)size : ctx->len - ctx->pos;
    memcpy(buf, ctx->data + ctx->pos, n);
    ctx->pos += n;
    return (tmsize_t)n;
}

static tmsize_t on_write(thandle_t h, void *buf, tmsize_t size) { (void)h; (void)buf; (void)size; return -1; }

static toff_t on_seek(thandle_t h, toff_t off, int whence) {
    tiff_ctx *ctx = h;
    uint64_t base = whence == SEEK_CUR ? ctx->pos : whence == SEEK_END ? ctx->len : 0;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    ctx->pos = base + off;
    return ctx->pos;
}

static int on_close(thandle_t h) { (void)h; return 0; }
static toff_t on_size(thandle_t h) { return ((tiff_ctx *)h)->len; }
static int on_map(thandle_t h, void **base, toff_t *size) { (void)h; (void)base; (void)size; return 0; }
static void on_unmap(thandle_t h, void *base, toff_t size) { (void)h; (void)base; (void)size; }

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif;
    tiff_ctx *ctx = user;
    if (ctx->message[0] == 0) {
        char text[160];
        vsnprintf(text, sizeof text, fmt, ap);
        snprintf(ctx->message, sizeof ctx->message, "%s%s%s", module ? module : "", module ? ": " : "", text);
    }
    return 1;  // handled: libtiff's global handler (stderr) is not called
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    (void)tif; (void)user; (void)module; (void)fmt; (void)ap;
    return 1;
}

// libtiff's own ceiling (TIFFOpenOptionsSetMaxSingleMemAlloc) speaks through its error handler.
static int over_limit(const tiff_ctx *ctx) { return strstr(ctx->message, "limit defined in open options") != NULL; }

smi_status smi_decode_tiff(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out) {
    tiff_ctx ctx = { .data = data, .len = len };
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (opts == NULL) return smi_fail(out, SMI_NO_MEMORY, "out of memory");
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)(limits->max_memory > (uint64_t)INT64_MAX ? INT64_MAX : limits->max_memory));
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, &ctx);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, &ctx);
    // "m": no memory mapping (the procedures above serve the bytes).
    TIFF *tif = TIFFClientOpenExt("image", "rm", &ctx, on_read, on_write, on_seek, on_close, on_size, on_map, on_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (tif == NULL) return smi_fail(out, over_limit(&ctx) ? SMI_TOO_LARGE : SMI_CORRUPT, "TIFF: %s", ctx.message[0] ? ctx.message : "cannot be opened");

    smi_status result = SMI_OK;
    TIFFRGBAImage img;
    int began = 0;
    uint32_t *raster = NULL;
    smi_box box;
    memset(&box, 0, sizeof box);

    uint32_t w = 0, h = 0;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    result = smi_check_size(limits, out, w, h);
    if (result != SMI_OK) goto done;
    uint16_t orientation = ORIENTATION_TOPLEFT;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ORIENTATION, &orientation);
    out->orientation = orientation >= 1 && orientation <= 8 ? orientation : 1;
    uint16_t extra = 0;
    uint16_t *extra_types = NULL;
    if (TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &extra, &extra_types) && extra > 0) out->has_alpha = 1;

    // Rows per call: a strip, or a row of tiles, so each is decoded once.
    uint32_t chunk = h;
    if (TIFFIsTiled(tif)) {
        uint32_t th = 0;
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        if (th > 0) chunk = th;
    } else {
        uint32_t rps = 0;
        if (TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps) && rps > 0) chunk = rps;
    }
    if (chunk > h) chunk = h;
    uint64_t raster_bytes = (uint64_t)w * chunk * 4;
    if (raster_bytes > limits->max_memory) {
        result = smi_fail(out, SMI_TOO_LARGE, "a TIFF strip of %u rows needs more than the memory limit of %llu MiB",
                          chunk, (unsigned long long)(limits->max_memory >> 20));
        goto done;
    }
    char emsg[1024] = {0};
    if (!TIFFRGBAImageOK(tif, emsg)) {
        result = smi_fail(out, SMI_UNSUPPORTED, "TIFF: %s", emsg);
        goto done;
    }
    if (!TIFFRGBAImageBegin(&img, tif, 1 /* stop on error */, emsg)) {
        result = smi_fail(out, over_limit(&ctx) ? SMI_TOO_LARGE : SMI_CORRUPT, "TIFF: %s", emsg[0] ? emsg : ctx.message);
        goto done;
    }
    began = 1;
    // Stored order, top row first: the orientation is applied by the caller, as for every format
    // (left to itself, libtiff would apply some orientations' flips but never their rotation).
    img.orientation = ORIENTATION_TOPLEFT;
    img.req_orientation = ORIENTATION_TOPLEFT;
    raster = malloc((size_t)raster_bytes);
    if (raster == NULL) {
        result = smi_fail(out, SMI_NO_MEMORY, "out of memory for a TIFF strip");
        goto done;
    }
    result = smi_box_init(&box, w, h, out);
    if (result != SMI_OK) goto done;
    out->decoded_w = w;
    out->decoded_h = h;
    for (uint32_t row = 0; row < h; row += chunk) {
        uint32_t n = h - row < chunk ? h - row : chunk;
        img.row_offset = (int)row;
        img.col_offset = 0;
        if (!TIFFRGBAImageGet(&img, raster, w, n)) {
            result = smi_fail(out, over_limit(&ctx) ? SMI_TOO_LARGE : SMI_CORRUPT, "TIFF: %s", ctx.message[0] ? ctx.message : "cannot read the image data");
            goto done;
        }
        for (uint32_t r = 0; r < n; r++) {
            // ABGR in a uint32: R, G, B, A in memory on the little-endian machines SiloMerge runs on.
            smi_box_to_grey(&box, (const uint8_t *)(raster + (size_t)r * w), w, 4);
            smi_box_add(&box, row + r, box.grey, w, 0, 1);
        }
    }
    // libtiff reports some damage (a short strip) as an error yet returns success.
    if (ctx.message[0]) {
        result = smi_fail(out, SMI_CORRUPT, "TIFF: %s", ctx.message);
        goto done;
    }
    smi_box_finish(&box, out);

done:
    if (began) TIFFRGBAImageEnd(&img);
    free(raster);
    smi_box_free(&box);
    TIFFClose(tif);
    return result;
}

const char *smi_tiff_version(void) { return TIFFGetVersion(); }
