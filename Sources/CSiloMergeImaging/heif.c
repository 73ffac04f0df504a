// HEIF (HEIC, and AVIF when libheif has an AV1 decoder) through libheif, from memory. The
// primary image is decoded in its own colour space and only its luma (or, for RGB, the three
// colour planes) is read, so no colour conversion runs. libheif applies the file's rotation,
// mirroring and crop itself, so the preview is already in display orientation. libheif decodes
// the whole frame: its size is counted against the memory limit before decoding.
#include "box.h"

#include <stdlib.h>
#include <string.h>

#include <libheif/heif.h>

int smi_heif_can_decode_hevc(void) { return heif_have_decoder_for_format(heif_compression_HEVC); }
int smi_heif_can_decode_av1(void) { return heif_have_decoder_for_format(heif_compression_AV1); }
const char *smi_heif_version(void) { return heif_get_version(); }

static smi_status heif_failed(smi_preview *out, struct heif_error err) {
    smi_status status = SMI_CORRUPT;
    if (err.code == heif_error_Unsupported_feature || err.code == heif_error_Unsupported_filetype
        || err.code == heif_error_Plugin_loading_error)
        status = SMI_UNSUPPORTED;
    if (err.code == heif_error_Memory_allocation_error) status = SMI_NO_MEMORY;
    if (err.subcode == heif_suberror_Security_limit_exceeded) status = SMI_TOO_LARGE;
    return smi_fail(out, status, "HEIF: %s", err.message ? err.message : "error");
}

static uint8_t sample(const uint8_t *row, int x, int bits) {
    if (bits <= 8) return row[x];
    uint32_t v = (uint32_t)row[2 * x] | (uint32_t)row[2 * x + 1] << 8;
    return (uint8_t)(v >> (bits - 8));
}

smi_status smi_decode_heif(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out) {
    struct heif_context *ctx = heif_context_alloc();
    if (ctx == NULL) return smi_fail(out, SMI_NO_MEMORY, "out of memory");
    struct heif_image_handle *handle = NULL;
    struct heif_image *img = NULL;
    struct heif_decoding_options *options = NULL;
    smi_box box;
    memset(&box, 0, sizeof box);
    smi_status result = SMI_OK;

    uint32_t side = limits->max_width > limits->max_height ? limits->max_width : limits->max_height;
    heif_context_set_maximum_image_size_limit(ctx, (int)(side > 0x7fffffff ? 0x7fffffff : side));
    // One thread: SiloMerge decodes one file per worker already.
    heif_context_set_max_decoding_threads(ctx, 0);
    struct heif_error err = heif_context_read_from_memory_without_copy(ctx, data, len, NULL);
    if (err.code != heif_error_Ok) { result = heif_failed(out, err); goto done; }
    err = heif_context_get_primary_image_handle(ctx, &handle);
    if (err.code != heif_error_Ok) { result = heif_failed(out, err); goto done; }
    int w = heif_image_handle_get_width(handle), h = heif_image_handle_get_height(handle);
    if (w <= 0 || h <= 0) { result = smi_fail(out, SMI_CORRUPT, "HEIF: the image is empty"); goto done; }
    result = smi_check_size(limits, out, (uint64_t)w, (uint64_t)h);
    if (result != SMI_OK) goto done;
    // The decoded frame (up to 16-bit 4:4:4 plus alpha: 8 bytes a pixel), and as much again while
    // a grid's tiles are put together or the frame is rotated.
    uint64_t frame = (uint64_t)w * (uint64_t)h * 8 * 2;
    if (frame > limits->max_memory) {
        result = smi_fail(out, SMI_TOO_LARGE, "a HEIF image of %.1f megapixels needs more than the memory limit of %llu MiB",
                          (double)w * h / 1e6, (unsigned long long)(limits->max_memory >> 20));
        goto done;
    }
    out->has_alpha = heif_image_handle_has_alpha_channel(handle);
    options = heif_decoding_options_alloc();
    if (options == NULL) { result = smi_fail(out, SMI_NO_MEMORY, "out of memory"); goto done; }
    err = heif_decode_image(handle, &img, heif_colorspace_undefined, heif_chroma_undefined, options);
    if (err.code != heif_error_Ok) { result = heif_failed(out, err); goto done; }

    enum heif_colorspace space = heif_image_get_colorspace(img);
    enum heif_chroma chroma = heif_image_get_chroma_format(img);
    int iw = heif_image_get_primary_width(img), ih = heif_image_get_primary_height(img);
    if (iw <= 0 || ih <= 0 || (uint64_t)iw * (uint64_t)ih > limits->max_pixels) {
        result = smi_fail(out, SMI_CORRUPT, "HEIF: the decoded image is %dx%d", iw, ih);
        goto done;
    }
    result = smi_box_init(&box, (uint32_t)iw, (uint32_t)ih, out);
    if (result != SMI_OK) goto done;
    out->width = (uint32_t)iw;
    out->height = (uint32_t)ih;
    out->decoded_w = (uint32_t)iw;
    out->decoded_h = (uint32_t)ih;
    out->orientation = 1;  // libheif applied irot/imir

    if (space == heif_colorspace_YCbCr || space == heif_colorspace_monochrome) {
        int stride = 0;
        const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_Y, &stride);
        int bits = heif_image_get_bits_per_pixel_range(img, heif_channel_Y);
        if (plane == NULL || stride <= 0 || bits <= 0 || bits > 16
            || heif_image_get_width(img, heif_channel_Y) < iw || heif_image_get_height(img, heif_channel_Y) < ih) {
            result = smi_fail(out, SMI_CORRUPT, "HEIF: no luma plane");
            goto done;
        }
        for (int y = 0; y < ih; y++) {
            const uint8_t *row = plane + (size_t)y * (size_t)stride;
            for (int x = 0; x < iw; x++) box.grey[x] = sample(row, x, bits);
            smi_box_add(&box, (uint32_t)y, box.grey, (uint32_t)iw, 0, 1);
        }
    } else if (space == heif_colorspace_RGB && chroma == heif_chroma_444) {
        int sr = 0, sg = 0, sb = 0;
        const uint8_t *r = heif_image_get_plane_readonly(img, heif_channel_R, &sr);
        const uint8_t *g = heif_image_get_plane_readonly(img, heif_channel_G, &sg);
        const uint8_t *b = heif_image_get_plane_readonly(img, heif_channel_B, &sb);
        int bits = heif_image_get_bits_per_pixel_range(img, heif_channel_R);
        if (!r || !g || !b || sr <= 0 || sg <= 0 || sb <= 0 || bits <= 0 || bits > 16) {
            result = smi_fail(out, SMI_CORRUPT, "HEIF: missing colour planes");
            goto done;
        }
        uint8_t *rgb = malloc((size_t)iw * 3);
        if (rgb == NULL) { result = smi_fail(out, SMI_NO_MEMORY, "out of memory"); goto done; }
        for (int y = 0; y < ih; y++) {
            for (int x = 0; x < iw; x++) {
                rgb[3 * x] = sample(r + (size_t)y * sr, x, bits);
                rgb[3 * x + 1] = sample(g + (size_t)y * sg, x, bits);
                rgb[3 * x + 2] = sample(b + (size_t)y * sb, x, bits);
            }
            smi_box_to_grey(&box, rgb, (uint32_t)iw, 3);
            smi_box_add(&box, (uint32_t)y, box.grey, (uint32_t)iw, 0, 1);
        }
        free(rgb);
    } else if (space == heif_colorspace_RGB
               && (chroma == heif_chroma_interleaved_RGB || chroma == heif_chroma_interleaved_RGBA)) {
        int stride = 0;
        const uint8_t *plane = heif_image_get_plane_readonly(img, heif_channel_interleaved, &stride);
        int channels = chroma == heif_chroma_interleaved_RGB ? 3 : 4;
        if (plane == NULL || stride < iw * channels) { result = smi_fail(out, SMI_CORRUPT, "HEIF: no pixels"); goto done; }
        for (int y = 0; y < ih; y++) {
            smi_box_to_grey(&box, plane + (size_t)y * stride, (uint32_t)iw, channels);
            smi_box_add(&box, (uint32_t)y, box.grey, (uint32_t)iw, 0, 1);
        }
    } else {
        result = smi_fail(out, SMI_UNSUPPORTED, "HEIF: colour space %d, chroma %d", (int)space, (int)chroma);
        goto done;
    }
    smi_box_finish(&box, out);

done:
    smi_box_free(&box);
    if (img) heif_image_release(img);
    if (options) heif_decoding_options_free(options);
    if (handle) heif_image_handle_release(handle);
    heif_context_free(ctx);
    return result;
}
