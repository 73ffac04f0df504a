// The C side of SiloMergeImaging: one function per format that decodes an image held in memory
// into a small greyscale preview, under hard limits, with every library error returned as a
// status and a message (libjpeg and libpng report errors by longjmp, which Swift cannot catch;
// libjpeg's default handler even calls exit()). Nothing here reads a file, prints, or keeps
// state between calls: the libraries only ever see bytes already in memory, so no callback can
// block, and each call's work is bounded by the pixel limit.
#ifndef SILOMERGE_IMAGING_H
#define SILOMERGE_IMAGING_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What one decode may cost. Checked against the image's header before any pixel is decoded.
typedef struct smi_limits {
    uint32_t max_width;
    uint32_t max_height;
    /// Width × height of the stored image.
    uint64_t max_pixels;
    /// Bytes a decoder may allocate for the image (libjpeg's virtual arrays for a progressive
    /// JPEG, libtiff's strip buffer, libwebp's lossless frame, libheif's decoded frame).
    uint64_t max_memory;
    /// Scans of a progressive JPEG (each one a pass over the whole image: a file of many tiny
    /// scans is a known denial of service).
    uint32_t max_scans;
} smi_limits;

typedef enum smi_status {
    SMI_OK = 0,
    /// The library refused the data; `message` says why.
    SMI_CORRUPT = 1,
    /// A limit in `smi_limits` would be exceeded; `message` says which.
    SMI_TOO_LARGE = 2,
    /// A valid file this build cannot decode (animated WebP, a codec libheif lacks, ...).
    SMI_UNSUPPORTED = 3,
    /// malloc failed.
    SMI_NO_MEMORY = 4,
} smi_status;

/// The output of a decode: the image reduced by area averaging (a box filter) to at most
/// `max_w` × `max_h` (each axis independently, never enlarged), in stored orientation.
typedef struct smi_preview {
    // In: the largest preview wanted, and the caller's buffers.
    uint32_t max_w;
    uint32_t max_h;
    /// max_w * max_h bytes.
    uint8_t *pixels;
    /// The raw EXIF block (from its TIFF header on) is copied here when the decoder meets it.
    uint8_t *exif;
    size_t exif_cap;

    // Out.
    /// The stored image's size.
    uint32_t width;
    uint32_t height;
    /// The preview's size.
    uint32_t w;
    uint32_t h;
    /// What the library produced before the box filter (a JPEG after DCT scaling).
    uint32_t decoded_w;
    uint32_t decoded_h;
    /// 1-8 when the format says it outside EXIF (TIFF's tag); 0 when unknown (see `exif`);
    /// 1 when the decoder has already applied it (HEIF's irot/imir).
    int orientation;
    size_t exif_len;
    /// 1 when the image has an alpha channel (composited over white in the preview).
    int has_alpha;
    char message[256];
} smi_preview;

smi_status smi_decode_jpeg(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out);
smi_status smi_decode_png(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out);
smi_status smi_decode_webp(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out);
smi_status smi_decode_tiff(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out);
smi_status smi_decode_heif(const uint8_t *data, size_t len, const smi_limits *limits, smi_preview *out);

/// Encodes a greyscale picture (`w` × `h`, row-major, one byte a pixel) as a baseline JPEG of
/// `quality` (1-100) into `out` (`cap` bytes). Returns SMI_OK and the length in `*len`;
/// SMI_TOO_LARGE when the JPEG does not fit `cap`; SMI_CORRUPT (with `message`, 256 bytes)
/// when libjpeg refuses. For the report's thumbnails: libjpeg's errors end in a status here,
/// never in exit().
smi_status smi_encode_jpeg_grey(const uint8_t *pixels, uint32_t w, uint32_t h, int quality,
                                uint8_t *out, size_t cap, size_t *len, char *message);

/// 1 when libheif was built with a decoder for HEVC (HEIC) / AV1 (AVIF).
int smi_heif_can_decode_hevc(void);
int smi_heif_can_decode_av1(void);
/// Library versions, for diagnostics.
const char *smi_heif_version(void);
int smi_jpeg_lib_version(void);
const char *smi_png_version(void);
int smi_webp_decoder_version(void);
const char *smi_tiff_version(void);

#ifdef __cplusplus
}
#endif
#endif
