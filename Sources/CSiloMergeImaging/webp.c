// WebP through libwebp's advanced decoding API, scaled by libwebp's own rescaler to the preview's
// size while it decodes (a lossy image then never exists at full size; a lossless one does,
// inside libwebp, so its frame is counted against the memory limit first). libwebp reports
// errors by status code: no jumps needed.
#include "box.h"

#include <stdlib.h>
#include <string.h>

#include <webp/decode.h>

static uint32_t le32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

// The EXIF chunk of an extended (VP8X) file: RIFF chunks after the 12-byte header.
static void keep_exif(const uint8_t *data, size_t len, smi_preview *out) {
    size_t pos = 12;
    while (len >= 8 && pos <= len - 8) {
        uint32_t size = le32(data + pos + 4);
        size_t body = pos + 8;
        if (size > len - body) return;
        if (memcmp(data + pos, "EXIF", 4) == 0) {
            const uint8_t *p = data + body;
            size_t n = size;
            // Some writers keep JPEG's "Exif\0\0" prefix; the specification says the TIFF header.
            if (n > 6 && memcmp(p, "Exif\0\0", 6) == 0) { p += 6; n -= 6; }
            smi_keep_exif(out, p, n);
            return;
        }
        pos = body + size + (size & 1);
    }
}

static const char *describe(VP8StatusCode code) {
    switch (code) {
    case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
    case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
    case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error";
    case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
    case VP8_STATUS_SUSPENDED: return "suspended";
    case VP8_STATUS_USER_ABORT: return "aborted";
    case VP8_STATUS_NOT_ENOUGH_DATA: return "the file ends inside the image";
    default: return "unknown error";
    }
}

smi_status smi_decode_webp(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out) {
    WebPDecoderConfig config;
    if (!WebPInitDecoderConfig(&config)) return smi_fail(out, SMI_UNSUPPORTED, "libwebp version mismatch");
    VP8StatusCode status = WebPGetFeatures(data, len, &config.input);
    if (status != VP8_STATUS_OK) return smi_fail(out, SMI_CORRUPT, "WebP: %s", describe(status));
    if (config.input.has_animation) return smi_fail(out, SMI_UNSUPPORTED, "an animated WebP");
    smi_status result = smi_check_size(limits, out, (uint64_t)config.input.width, (uint64_t)config.input.height);
    if (result != SMI_OK) return result;
    uint64_t pixels = (uint64_t)config.input.width * (uint64_t)config.input.height;
    // A lossless frame is decoded whole (4 bytes a pixel), and so is a lossy image's alpha plane.
    uint64_t frame = config.input.format == 2 ? pixels * 4 : config.input.has_alpha ? pixels : 0;
    if (frame > limits->max_memory)
        return smi_fail(out, SMI_TOO_LARGE, "a WebP of %.1f megapixels needs more than the memory limit of %llu MiB",
                        (double)pixels / 1e6, (unsigned long long)(limits->max_memory >> 20));
    keep_exif(data, len, out);
    out->has_alpha = config.input.has_alpha;

    uint32_t w = out->width < out->max_w ? out->width : out->max_w;
    uint32_t h = out->height < out->max_h ? out->height : out->max_h;
    size_t stride = (size_t)w * 4;
    uint8_t *rgba = malloc(stride * h);
    if (rgba == NULL) return smi_fail(out, SMI_NO_MEMORY, "out of memory");
    config.options.use_scaling = (w != out->width || h != out->height);
    config.options.scaled_width = (int)w;
    config.options.scaled_height = (int)h;
    config.options.use_threads = 0;
    config.output.colorspace = MODE_RGBA;
    config.output.is_external_memory = 1;
    config.output.u.RGBA.rgba = rgba;
    config.output.u.RGBA.stride = (int)stride;
    config.output.u.RGBA.size = stride * h;
    status = WebPDecode(data, len, &config);
    if (status != VP8_STATUS_OK) {
        result = smi_fail(out, status == VP8_STATUS_OUT_OF_MEMORY ? SMI_NO_MEMORY : SMI_CORRUPT, "WebP: %s", describe(status));
    } else {
        // libwebp's rescaler already averaged; the box filter here is one to one.
        smi_box box;
        result = smi_box_init(&box, w, h, out);
        if (result == SMI_OK) {
            for (uint32_t y = 0; y < h; y++) {
                smi_box_to_grey(&box, rgba + y * stride, w, 4);
                smi_box_add(&box, y, box.grey, w, 0, 1);
            }
            smi_box_finish(&box, out);
            smi_box_free(&box);
        }
        out->decoded_w = w;
        out->decoded_h = h;
    }
    WebPFreeDecBuffer(&config.output);
    free(rgba);
    return result;
}

int smi_webp_decoder_version(void) { return WebPGetDecoderVersion(); }
