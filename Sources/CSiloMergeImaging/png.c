// PNG through libpng's progressive-row API. Rows go straight into the box filter; an interlaced
// (Adam7) image is read pass by pass, each pass row's pixels placed at their columns, so memory
// stays one row whatever the image's size. Errors longjmp back here (libpng's default would
// abort on a missing jump buffer) and the warning handler stays silent.
#include "box.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct png_ctx {
    const uint8_t *data;
    size_t len;
    size_t pos;
    char message[200];
    smi_box box;
    uint8_t *row;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *ctx = png_get_error_ptr(png);
    snprintf(ctx->message, sizeof ctx->message, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

static void on_read(png_structp png, png_bytep dest, size_t count) {
    png_ctx *ctx = png_get_io_ptr(png);
    if (count > ctx->len - ctx->pos) png_error(png, "the file ends inside the image");
    memcpy(dest, ctx->data + ctx->pos, count);
    ctx->pos += count;
}

static void keep_exif(png_structp png, png_infop info, smi_preview *out) {
    png_uint_32 n = 0;
    png_bytep exif = NULL;
    if (png_get_eXIf_1(png, info, &n, &exif) && exif != NULL && n > 0) smi_keep_exif(out, exif, n);
}

smi_status smi_decode_png(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out) {
    png_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return smi_fail(out, SMI_NO_MEMORY, "out of memory");
    ctx->data = data;
    ctx->len = len;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, ctx, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    smi_status result = SMI_OK;
    if (png == NULL || info == NULL) {
        result = smi_fail(out, SMI_NO_MEMORY, "out of memory");
        goto done;
    }
    volatile int rows_done = 0;
    if (setjmp(png_jmpbuf(png))) {
        // An error after the last row (a truncated or damaged chunk after the image data)
        // leaves a complete image; before it, the image is damaged.
        result = rows_done ? SMI_OK : smi_fail(out, SMI_CORRUPT, "%s", ctx->message);
        goto done;
    }
    png_set_read_fn(png, ctx, on_read);
    // libpng's own size limits would report an oversized image as a libpng error; the check
    // after IHDR below reports it as over the limit (nothing is allocated for the image before).
    png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
    png_set_chunk_cache_max(png, 1000);
    png_set_chunk_malloc_max(png, 8u << 20);
    png_read_info(png, info);
    keep_exif(png, info, out);

    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    result = smi_check_size(limits, out, w, h);
    if (result != SMI_OK) goto done;

    png_set_expand(png);           // palette -> RGB, grey < 8 bits -> 8, tRNS -> alpha
    png_set_strip_16(png);
    int passes = interlace == PNG_INTERLACE_ADAM7 ? PNG_INTERLACE_ADAM7_PASSES : 1;
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels < 1 || channels > 4) {
        result = smi_fail(out, SMI_UNSUPPORTED, "a PNG of %d channels", channels);
        goto done;
    }
    out->has_alpha = channels == 2 || channels == 4;
    out->decoded_w = w;
    out->decoded_h = h;
    result = smi_box_init(&ctx->box, w, h, out);
    if (result != SMI_OK) goto done;
    ctx->row = malloc(png_get_rowbytes(png, info));
    if (ctx->row == NULL) {
        result = smi_fail(out, SMI_NO_MEMORY, "out of memory for a row of %u pixels", (unsigned)w);
        goto done;
    }
    for (int pass = 0; pass < passes; pass++) {
        uint32_t rows = passes == 1 ? h : PNG_PASS_ROWS(h, pass);
        uint32_t cols = passes == 1 ? w : PNG_PASS_COLS(w, pass);
        if (rows == 0 || cols == 0) continue;  // libpng skips empty passes too
        for (uint32_t r = 0; r < rows; r++) {
            png_read_row(png, ctx->row, NULL);
            smi_box_to_grey(&ctx->box, ctx->row, cols, channels);
            if (passes == 1) {
                smi_box_add(&ctx->box, r, ctx->box.grey, cols, 0, 1);
            } else {
                smi_box_add(&ctx->box, PNG_ROW_FROM_PASS_ROW(r, pass), ctx->box.grey, cols,
                            PNG_PASS_START_COL(pass), 1u << PNG_PASS_COL_SHIFT(pass));
            }
        }
    }
    smi_box_finish(&ctx->box, out);
    rows_done = 1;
    // eXIf may follow the image data.
    keep_exif(png, info, out);
    png_read_end(png, info);
    keep_exif(png, info, out);

done:
    if (png != NULL) png_destroy_read_struct(&png, info ? &info : NULL, NULL);
    smi_box_free(&ctx->box);
    free(ctx->row);
    free(ctx);
    return result;
}

const char *smi_png_version(void) { return PNG_LIBPNG_VER_STRING; }
