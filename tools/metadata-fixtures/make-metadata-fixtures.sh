#!/usr/bin/env bash
# make-metadata-fixtures.sh -- regenerate Fixtures/metadata, the still images the metadata
# tests read: files made by the real producers of each format (exiftool, ImageMagick 6,
# Pillow, tifffile, cwebp, rdflib) reproducing the structures that broke SiloMerge's readers
# on real files (signed EXIF types, stray bytes between JPEG segments, multi-segment EXIF,
# padded XMP packets, ImageMagick's PNG profiles, BigTIFF, raw layouts, PSD, EPS...), and
# expected-exiftool.json, what ExifTool reads from each of them.
#
#   tools/metadata-fixtures/make-metadata-fixtures.sh [OUT_DIR]   (default: <repo>/Fixtures/metadata)
#
# Needs: exiftool 12.58 or later (for -ImageDataHash; Debian 12 ships 12.57: point EXIFTOOL
# at a newer one, e.g. EXIFTOOL=/path/to/Image-ExifTool-13.x/exiftool), ImageMagick 6
# `convert`, cwebp, python3 with Pillow, numpy, tifffile and rdflib
# (`pip install pillow numpy tifffile rdflib`). The recorded files were made with
# ExifTool 13.58, ImageMagick 6.9.11, Pillow 13.0, tifffile 2026.3, rdflib 7.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
OUT="${1:-$REPO/Fixtures/metadata}"
export EXIFTOOL="${EXIFTOOL:-exiftool}"
export TZ=UTC LC_ALL=C.UTF-8
for tool in "$EXIFTOOL" convert cwebp python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 1; }
done
version="$("$EXIFTOOL" -ver)"
if ! awk -v v="$version" 'BEGIN { exit !(v + 0 >= 12.58) }'; then
  echo "exiftool $version has no ImageDataHash: set EXIFTOOL to exiftool 12.58 or later" >&2
  exit 1
fi
python3 -c 'import PIL, numpy, tifffile, rdflib' || { echo "pip install pillow numpy tifffile rdflib" >&2; exit 1; }
python3 "$HERE/make_metadata_fixtures.py" "$OUT"
echo "metadata fixtures written to $OUT ($(du -sb "$OUT" | cut -f1) bytes, $(find "$OUT" -type f | wc -l) files)"
