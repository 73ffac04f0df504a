// JPEG through libjpeg(-turbo)'s own API rather than TurboJPEG's, for what TurboJPEG does not
// expose: a memory ceiling (max_memory_to_use, which libjpeg-turbo honours for the full-image
// coefficient buffers of progressive and multi-scan files), greyscale output that skips the
// chroma components' inverse DCT altogether, and the APP1 marker for the EXIF orientation.
#include "box.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

typedef struct jpeg_ctx {
    struct jpeg_error_mgr err;           // first: libjpeg's err pointer is cast back to the context
    struct jpeg_progress_mgr progress;
    struct jpeg_source_mgr src;
    const uint8_t *data;
    size_t len;
    int hit_eof;                         // the data ran out and a fake EOI was supplied
    jmp_buf jump;
    smi_status status;
    char message[JMSG_LENGTH_MAX];
    uint32_t max_scans;
    uint64_t max_memory;
    int rows_done;                       // after the last scanline, damage warnings no longer matter
    struct jpeg_decompress_struct cinfo;
    smi_box box;
    uint8_t *row;
} jpeg_ctx;

static void on_error(j_common_ptr c) {
    jpeg_ctx *ctx = (jpeg_ctx *)c->err;
    if (c->err->msg_code == JERR_NO_BACKING_STORE || c->err->msg_code == JERR_OUT_OF_MEMORY) {
        ctx->status = SMI_TOO_LARGE;
        snprintf(ctx->message, sizeof ctx->message,
                 "decoding needs more than the memory limit of %llu MiB",
                 (unsigned long long)(ctx->max_memory >> 20));
    } else {
        ctx->status = SMI_CORRUPT;
        c->err->format_message(c, ctx->message);
    }
    longjmp(ctx->jump, 1);
}

// Warnings: libjpeg goes on decoding a damaged file, filling what it lost with grey. A hash of
// that would be a hash of damage, so the signs of lost data end the decode; harmless notes
// (extraneous bytes before a marker, an unknown JFIF revision) do not.
static void on_message(j_common_ptr c, int level) {
    if (level >= 0) return;
    jpeg_ctx *ctx = (jpeg_ctx *)c->err;
    switch (c->err->msg_code) {
    case JWRN_HIT_MARKER:
    case JWRN_MUST_RESYNC:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_NOT_SEQUENTIAL:
        if (ctx->rows_done) return;
        ctx->status = SMI_CORRUPT;
        c->err->format_message(c, ctx->message);
        longjmp(ctx->jump, 1);
    default:
        c->err->num_warnings++;
    }
}

static void on_output(j_common_ptr c) { (void)c; }

static void on_progress(j_common_ptr c) {
    jpeg_ctx *ctx = (jpeg_ctx *)c->err;
    j_decompress_ptr d = (j_decompress_ptr)c;
    if (d->is_decompressor && d->progressive_mode && (uint32_t)d->input_scan_number > ctx->max_scans) {
        ctx->status = SMI_TOO_LARGE;
        snprintf(ctx->message, sizeof ctx->message,
                 "a progressive JPEG of more than %u scans", ctx->max_scans);
        longjmp(ctx->jump, 1);
    }
}

// A memory source like jpeg_mem_src, except at the end of the data: it supplies an EOI marker
// without libjpeg's "premature end" warning and notes that it did. Whether the data was cut
// short is then decided by the entropy decoder, which warns (JWRN_HIT_MARKER) only when it
// needed bits that are not there; a file whose only loss is its final EOI still decodes.
static const JOCTET fake_eoi[2] = { 0xFF, JPEG_EOI };

static void src_init(j_decompress_ptr d) { (void)d; }
static void src_term(j_decompress_ptr d) { (void)d; }

static boolean src_fill(j_decompress_ptr d) {
    jpeg_ctx *ctx = (jpeg_ctx *)d->err;
    ctx->hit_eof = 1;
    d->src->next_input_byte = fake_eoi;
    d->src->bytes_in_buffer = 2;
    return TRUE;
}

static void src_skip(j_decompress_ptr d, long n) {
    if (n <= 0) return;
    struct jpeg_source_mgr *src = d->src;
    if ((size_t)n > src->bytes_in_buffer) {  // past the end: what follows is the fake EOI
        src_fill(d);
        return;
    }
    src->next_input_byte += n;
    src->bytes_in_buffer -= (size_t)n;
}

static void keep_exif(jpeg_ctx *ctx, smi_preview *out) {
    for (jpeg_saved_marker_ptr m = ctx->cinfo.marker_list; m != NULL; m = m->next) {
        if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && memcmp(m->data, "Exif\0\0", 6) == 0) {
            smi_keep_exif(out, m->data + 6, m->data_length - 6);
            return;
        }
    }
}

static inline uint8_t cmyk_grey(const uint8_t *p, int inverted) {
    uint32_t c = p[0], m = p[1], y = p[2], k = p[3];
    if (!inverted) { c = 255 - c; m = 255 - m; y = 255 - y; k = 255 - k; }
    // Adobe's inverted CMYK: the stored values are 255 - ink, so light = value * key.
    uint32_t r = c * k / 255, g = m * k / 255, b = y * k / 255;
    return (uint8_t)((19595u * r + 38470u * g + 7471u * b + 32768u) >> 16);
}

smi_status smi_decode_jpeg(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out) {
    jpeg_ctx *ctx = calloc(1, sizeof *ctx);
    if (ctx == NULL) return smi_fail(out, SMI_NO_MEMORY, "out of memory");
    ctx->max_scans = limits->max_scans;
    ctx->max_memory = limits->max_memory;
    smi_status result = SMI_OK;

    ctx->cinfo.err = jpeg_std_error(&ctx->err);
    ctx->err.error_exit = on_error;
    ctx->err.emit_message = on_message;
    ctx->err.output_message = on_output;
    if (setjmp(ctx->jump)) {
        result = ctx->status;
        snprintf(out->message, sizeof out->message, "%s", ctx->message);
        goto done;
    }
    jpeg_create_decompress(&ctx->cinfo);
    ctx->cinfo.mem->max_memory_to_use = (long)(limits->max_memory > (uint64_t)0x7fffffff ? 0x7fffffff : limits->max_memory);
    ctx->progress.progress_monitor = on_progress;
    ctx->cinfo.progress = &ctx->progress;
    if (len == 0) {
        result = smi_fail(out, SMI_CORRUPT, "the file is empty");
        goto done;
    }
    ctx->src.init_source = src_init;
    ctx->src.fill_input_buffer = src_fill;
    ctx->src.skip_input_data = src_skip;
    ctx->src.resync_to_restart = jpeg_resync_to_restart;
    ctx->src.term_source = src_term;
    ctx->src.next_input_byte = data;
    ctx->src.bytes_in_buffer = len;
    ctx->cinfo.src = &ctx->src;
    jpeg_save_markers(&ctx->cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(&ctx->cinfo, TRUE);

    result = smi_check_size(limits, out, ctx->cinfo.image_width, ctx->cinfo.image_height);
    if (result != SMI_OK) goto done;
    keep_exif(ctx, out);

    // DCT scaling: the smallest of 1/8, 1/4, 1/2, 1/1 that still gives the preview its size.
    unsigned int num = 1;
    while (num < 8) {
        uint64_t w = ((uint64_t)ctx->cinfo.image_width * num + 7) / 8;
        uint64_t h = ((uint64_t)ctx->cinfo.image_height * num + 7) / 8;
        if (w >= out->max_w && h >= out->max_h) break;
        num *= 2;
    }
    ctx->cinfo.scale_num = num;
    ctx->cinfo.scale_denom = 8;
    ctx->cinfo.dct_method = JDCT_IFAST;
    ctx->cinfo.do_fancy_upsampling = FALSE;
    ctx->cinfo.do_block_smoothing = FALSE;
    int cmyk = 0, inverted = 0;
    switch (ctx->cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        ctx->cinfo.out_color_space = JCS_GRAYSCALE;
        break;
    case JCS_CMYK:
    case JCS_YCCK:
        ctx->cinfo.out_color_space = JCS_CMYK;
        cmyk = 1;
        inverted = ctx->cinfo.saw_Adobe_marker;
        break;
    default:
        result = smi_fail(out, SMI_UNSUPPORTED, "a JPEG in an unknown colour space (%d)", (int)ctx->cinfo.jpeg_color_space);
        goto done;
    }
    jpeg_start_decompress(&ctx->cinfo);
    out->decoded_w = ctx->cinfo.output_width;
    out->decoded_h = ctx->cinfo.output_height;
    result = smi_box_init(&ctx->box, ctx->cinfo.output_width, ctx->cinfo.output_height, out);
    if (result != SMI_OK) goto done;
    ctx->row = malloc((size_t)ctx->cinfo.output_width * (size_t)ctx->cinfo.output_components);
    if (ctx->row == NULL) {
        result = smi_fail(out, SMI_NO_MEMORY, "out of memory for a row of %u pixels", ctx->cinfo.output_width);
        goto done;
    }
    while (ctx->cinfo.output_scanline < ctx->cinfo.output_height) {
        JSAMPROW rows[1] = { ctx->row };
        uint32_t y = ctx->cinfo.output_scanline;
        if (jpeg_read_scanlines(&ctx->cinfo, rows, 1) != 1) {
            result = smi_fail(out, SMI_CORRUPT, "the image data ends at row %u of %u", y, ctx->cinfo.output_height);
            goto done;
        }
        if (cmyk) {
            for (uint32_t x = 0; x < ctx->cinfo.output_width; x++) ctx->box.grey[x] = cmyk_grey(ctx->row + 4 * x, inverted);
            smi_box_add(&ctx->box, y, ctx->box.grey, ctx->cinfo.output_width, 0, 1);
        } else {
            smi_box_add(&ctx->box, y, ctx->row, ctx->cinfo.output_width, 0, 1);
        }
    }
    ctx->rows_done = 1;
    // A progressive image is read whole before its first row: data that ended before the last
    // scan leaves later scans' detail out, silently. Refused, as a sequential cut is.
    if (ctx->hit_eof && ctx->cinfo.progressive_mode) {
        result = smi_fail(out, SMI_CORRUPT, "Premature end of JPEG file (a progressive JPEG cut short)");
        goto done;
    }
    smi_box_finish(&ctx->box, out);
    // The rest of the file (a missing EOI, trailing bytes) does not change the pixels.

done:
    jpeg_destroy_decompress(&ctx->cinfo);
    smi_box_free(&ctx->box);
    free(ctx->row);
    free(ctx);
    return result;
}

int smi_jpeg_lib_version(void) { return JPEG_LIB_VERSION; }

// MARK: - Encoding (the report's thumbnails)

typedef struct jpeg_enc_ctx {
    struct jpeg_error_mgr err;           // first: libjpeg's err pointer is cast back to the context
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_enc_ctx;

static void on_encode_error(j_common_ptr c) {
    jpeg_enc_ctx *ctx = (jpeg_enc_ctx *)c->err;
    c->err->format_message(c, ctx->message);
    longjmp(ctx->jump, 1);
}

smi_status smi_encode_jpeg_grey(const uint8_t *pixels, uint32_t w, uint32_t h, int quality,
                                uint8_t *out, size_t cap, size_t *len, char *message) {
    *len = 0;
    message[0] = 0;
    if (w == 0 || h == 0 || w > 4096 || h > 4096) {
        snprintf(message, 256, "a thumbnail of %ux%u pixels", w, h);
        return SMI_TOO_LARGE;
    }
    // volatile: read after a longjmp back into this frame.
    unsigned char *volatile buffer = NULL;
    unsigned long size = 0;
    jpeg_enc_ctx ctx;
    struct jpeg_compress_struct cinfo;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&ctx.err);
    ctx.err.error_exit = on_encode_error;
    ctx.err.output_message = on_output;
    ctx.message[0] = 0;
    if (setjmp(ctx.jump)) {
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        snprintf(message, 256, "%s", ctx.message);
        return SMI_CORRUPT;
    }
    jpeg_create_compress(&cinfo);
    unsigned char *mem = NULL;
    jpeg_mem_dest(&cinfo, &mem, &size);
    buffer = mem;
    cinfo.image_width = w;
    cinfo.image_height = h;
    cinfo.input_components = 1;
    cinfo.in_color_space = JCS_GRAYSCALE;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality < 1 ? 1 : (quality > 100 ? 100 : quality), TRUE);
    cinfo.optimize_coding = TRUE;
    cinfo.write_JFIF_header = TRUE;
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * w);
        jpeg_write_scanlines(&cinfo, &row, 1);
        buffer = mem;
    }
    jpeg_finish_compress(&cinfo);
    buffer = mem;
    jpeg_destroy_compress(&cinfo);
    if (size > cap) {
        free(mem);
        snprintf(message, 256, "the thumbnail takes %lu bytes, over %zu", size, cap);
        return SMI_TOO_LARGE;
    }
    memcpy(out, mem, size);
    *len = size;
    free(mem);
    return SMI_OK;
}
