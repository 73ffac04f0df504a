#!/usr/bin/env bash
# Makes Fixtures/similar/: one synthetic scene as each decoder meets it, written by the real
# producers (ImageMagick, Pillow, jpegtran, exiftool, cwebp-compatible libwebp via Pillow,
# heif-enc), and a second, different scene. The SiloMergeImaging tests read them.
#
# Usage: tools/similar/make-similar-fixtures.sh
# Needs: ImageMagick 6 (convert), python3 with Pillow, libjpeg-turbo-progs (jpegtran),
# exiftool, libheif-examples (heif-enc), libtiff-tools (tiffcp).
#
# The scenes are drawn by ImageMagick from a fixed seed, so reruns give the same pictures (the
# encoders' bytes may differ between library versions; the tests never compare bytes).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="$root/Fixtures/similar"
rm -rf "$out"
mkdir -p "$out"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# Scene A: a smooth colour field with shapes (structure at several scales, like a photo).
convert -seed 7 -size 320x240 plasma:steelblue-khaki -blur 0x3 \
  -fill '#7a2e1c' -draw 'circle 90,120 90,70' \
  -fill '#f4efe6' -draw 'rectangle 190,40 290,150' \
  -fill '#1d3b2a' -draw 'polygon 20,230 160,160 300,230' \
  -alpha off a.png
# Scene B: another seed and other shapes.
convert -seed 31 -size 320x240 plasma:darkorange-navy -blur 0x3 \
  -fill '#e8e8e0' -draw 'circle 230,80 230,30' \
  -fill '#202020' -draw 'rectangle 30,150 150,220' \
  -alpha off b.png

convert a.png -quality 90 "$out/a.jpg"
convert b.png -quality 90 "$out/b.jpg"
convert a.png -resize 50% -quality 75 "$out/a-half.jpg"
convert a.png -interlace JPEG -quality 85 "$out/a-progressive.jpg"
convert a.png -colorspace Gray -quality 85 "$out/a-grey.jpg"
convert a.png -colorspace CMYK -quality 85 "$out/a-cmyk.jpg"
convert a.png -gravity southeast -crop 306x230+0+0 +repage -quality 85 "$out/a-crop.jpg"
# Stored turned a quarter (lossless), with the orientation that turns it back: displays as a.jpg.
jpegtran -rotate 270 -trim -copy all -outfile "$out/a-stored-rot270-orient6.jpg" "$out/a.jpg"
exiftool -q -overwrite_original -n -Orientation=6 "$out/a-stored-rot270-orient6.jpg"
# Only the tag changed: displays a quarter turn round.
cp "$out/a.jpg" "$out/a-tag6.jpg"
exiftool -q -overwrite_original -n -Orientation=6 "$out/a-tag6.jpg"
convert a.png -resize 128x96 -interlace PNG "$out/a-adam7.png"
convert a.png -resize 96x72 -depth 16 "$out/a-16bit.png"
convert a.png -resize 96x72 -alpha set -channel A -evaluate set 80% +channel "$out/a-alpha.png"
convert a.png -resize 160x120 -colors 64 -type Palette "$out/a-palette.png"
python3 - "$tmp/a.png" "$out" <<'EOF'
import sys
from PIL import Image
src, out = sys.argv[1], sys.argv[2]
im = Image.open(src).convert("RGB")
im.resize((240, 180), Image.LANCZOS).save(f"{out}/a-lossy.webp", quality=80)
im.resize((128, 96), Image.LANCZOS).save(f"{out}/a-lossless.webp", lossless=True)
im.resize((128, 96), Image.LANCZOS).save(f"{out}/a-pillow.png", optimize=True)
EOF
convert a.png -resize 128x96 -compress LZW "$out/a-lzw.tif"
convert a.png -resize 160x120 -compress LZW a-160.tif
tiffcp -t -w 64 -l 64 -c zip a-160.tif "$out/a-tiled.tif"
convert a.png -resize 50% -compress JPEG -quality 85 "$out/a-jpeg.tif"
convert a.png -resize 50% a-half.png
heif-enc -q 60 -o "$out/a.heic" a-half.png >/dev/null

ls -l "$out" | awk 'NR > 1 { n += $5 } END { printf "Fixtures/similar: %d files, %d bytes\n", NR - 1, n }'
