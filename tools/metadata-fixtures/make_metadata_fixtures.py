#!/usr/bin/env python3
"""Builds Fixtures/metadata: small still images made by the real producers of each format
(exiftool, ImageMagick, Pillow, tifffile, cwebp, rdflib), reproducing the structures that
broke SiloMerge's readers on real files, and records what ExifTool reads from each.

    python3 make_metadata_fixtures.py OUT_DIR        (run by make-metadata-fixtures.sh)

Every file is listed in CASES with the structure it reproduces; expected-exiftool.json holds
`exiftool -j -G1 -n -a -use MWG -ImageDataHash -api ImageHashType=SHA256` for all of them.
"""
import io, json, os, shutil, struct, subprocess, sys, zlib

import numpy as np
import tifffile
from PIL import Image, PngImagePlugin

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exifblock import (ASCII, LONG, RATIONAL, SHORT, SLONG, SRATIONAL, SSHORT, UNDEFINED, Entry, Sub,
                       build)

EXIFTOOL = os.environ.get("EXIFTOOL", "exiftool")
OUT = os.path.abspath(sys.argv[1])
CASES = {}   # relative path -> what it reproduces


def case(path, why):
    CASES[path] = why
    full = os.path.join(OUT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    return full


def run(*args, env=None):
    subprocess.run(list(args), check=True, env=env)


def et(path, *args):
    """exiftool, in place, quiet."""
    run(EXIFTOOL, "-q", "-q", "-overwrite_original", *args, path)


def picture(w=24, h=16, seed=0):
    """A small deterministic RGB picture."""
    y, x = np.mgrid[0:h, 0:w]
    r = (x * 255 // max(1, w - 1) + seed * 37) % 256
    g = (y * 255 // max(1, h - 1) + seed * 91) % 256
    b = ((x + y) * 13 + seed * 53) % 256
    return Image.fromarray(np.dstack([r, g, b]).astype(np.uint8), "RGB")


def png_chunk(type_, data):
    return struct.pack(">I", len(data)) + type_ + data + struct.pack(">I", zlib.crc32(type_ + data) & 0xFFFFFFFF)


def insert_png_chunk_before(path, before, chunk):
    data = open(path, "rb").read()
    i = 8
    while i < len(data):
        length = struct.unpack(">I", data[i:i + 4])[0]
        if data[i + 4:i + 8] == before:
            break
        i += 12 + length
    open(path, "wb").write(data[:i] + chunk + data[i:])


def jpeg_segments(data):
    """(offset, marker, total length) of each segment before SOS."""
    out, i = [], 2
    while i < len(data):
        m = data[i + 1]
        n = struct.unpack(">H", data[i + 2:i + 4])[0]
        out.append((i, m, n + 2))
        if m == 0xDA:
            break
        i += 2 + n
    return out


XMP_TEMPLATE = """<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>
<x:xmpmeta xmlns:x='adobe:ns:meta/'>
<rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>
{body}
</rdf:RDF>
</x:xmpmeta>
<?xpacket end='w'?>"""


def main():
    if os.path.exists(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)

    # ---------------------------------------------------------------- JPEG
    gps = Sub([Entry(0x0000, 1, bytes([2, 3, 0, 0])), Entry(1, ASCII, "N"),
               Entry(2, SRATIONAL, [(38, 1), (42, 1), (1440, 100)]),
               Entry(3, ASCII, "W"), Entry(4, SRATIONAL, [(9, 1), (8, 1), (2400, 100)])])
    exif = Sub([Entry(0x9003, ASCII, "2022:05:06 07:08:09"), Entry(0xA002, SLONG, [24]), Entry(0xA003, SSHORT, [16])])
    block = build([Entry(0x010F, ASCII, "Signed Cameras Inc."), Entry(0x0110, ASCII, "S-1"),
                   Entry(0x0112, SSHORT, [6]), Entry(0x8769, SLONG, exif), Entry(0x8825, SLONG, gps)])
    picture(seed=1).save(case("jpeg/signed-types.jpg",
                              "EXIF with signed types: Orientation SSHORT, ExifIFD and GPSInfo pointers SLONG, "
                              "GPS coordinates SRATIONAL, ExifImageWidth SLONG (Pillow embeds the block)"),
                         quality=85, exif=b"Exif\0\0" + block)

    gps0 = Sub([Entry(1, ASCII, "N"), Entry(2, RATIONAL, [(0, 0), (0, 0), (0, 0)]),
                Entry(3, ASCII, "E"), Entry(4, RATIONAL, [(0, 0), (0, 0), (0, 0)])])
    block = build([Entry(0x010F, ASCII, "NoFix Cameras"), Entry(0x0112, SHORT, [1]), Entry(0x8825, LONG, gps0)],
                  big_endian=False)
    picture(seed=2).save(case("jpeg/gps-zero-rationals.jpg",
                              "GPS latitude and longitude stored as 0/0 rationals (a camera without a fix)"),
                         quality=85, exif=b"Exif\0\0" + block)

    base = case("jpeg/tags-elsewhere.jpg",
                "exiftool writes ImageDescription and Make into the ExifIFD and DateTimeOriginal into IFD0")
    picture(seed=3).save(base, quality=85)
    et(base, "-ExifIFD:ImageDescription=Description in the ExifIFD", "-IFD0:DateTimeOriginal=2019:03:04 05:06:07",
       "-ExifIFD:Make=Elsewhere Optics")

    ms = case("jpeg/multi-segment-exif.jpg",
              "exiftool splits an EXIF block larger than 64 KiB over two APP1 segments; the GPS IFD lies in the second")
    picture(64, 48, seed=4).save(ms, quality=90)
    uc = os.path.join(OUT, ".usercomment.txt")
    open(uc, "w").write("Northwind field notes. " * 2900)
    et(ms, "-UserComment<=" + uc, "-Artist=Segment Two", "-Make=Acme", "-GPSLatitude=38.7", "-GPSLatitudeRef=N",
       "-GPSLongitude=9.14", "-GPSLongitudeRef=W")
    os.remove(uc)

    stray = case("jpeg/stray-bytes.jpg",
                 "a JPEG with stray bytes between segments (after APP1 and after DQT): EXIF, XMP, IPTC and SOF are read")
    picture(32, 24, seed=5).save(stray, quality=85)
    et(stray, "-EXIF:Make=Stray Bytes Co", "-XMP-dc:Title=Stray title", "-IPTC:Keywords=stray", "-IPTC:Keywords=bytes",
       "-EXIF:Artist=Ann Stray")
    data = open(stray, "rb").read()
    segs = jpeg_segments(data)
    app1 = next(s for s in segs if s[1] == 0xE1)
    dqt = next(s for s in segs if s[1] == 0xDB)
    cut1, cut2 = app1[0] + app1[2], dqt[0] + dqt[2]
    data = data[:cut1] + b"\x00\x13\x37" + data[cut1:cut2] + b"junk" + data[cut2:]
    open(stray, "wb").write(data)

    stale = case("jpeg/xmp-stale-tail.jpg",
                 "an XMP APP1 packet followed, inside the segment, by the tail of an older, longer packet")
    picture(seed=6).save(stale, quality=85)
    et(stale, "-XMP-dc:Title=Current title", "-XMP-dc:Subject=current", "-XMP-dc:Subject=keywords")
    data = open(stale, "rb").read()
    seg = next(s for s in jpeg_segments(data) if data[s[0] + 4:s[0] + 33] == b"http://ns.adobe.com/xap/1.0/\0")
    end = data.index(b"<?xpacket end='w'?>", seg[0]) + len(b"<?xpacket end='w'?>")
    old_tail = b"\n<rdf:li>old keyword</rdf:li></rdf:Bag></dc:subject></rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>"
    # The segment keeps the bytes after the packet's end (its length grows to include them).
    data = (data[:seg[0] + 2] + struct.pack(">H", seg[2] - 2 + len(old_tail)) + data[seg[0] + 4:end]
            + old_tail + data[end:])
    open(stale, "wb").write(data)

    cp = case("jpeg/iptc-windows-1252.jpg",
              "IPTC written by exiftool in its default Latin (Windows-1252) character set, without CodedCharacterSet: "
              "curly quotes, a dash and the euro sign are bytes 0x80-0x9F")
    picture(seed=7).save(cp, quality=85)
    et(cp, "-charset", "iptc=Latin", "-IPTC:Caption-Abstract=Café “déjà vu” – 5€ a ticket",
       "-IPTC:By-line=Zoë Œuvre", "-IPTC:City=Málaga")

    u8 = case("jpeg/iptc-utf8-no-charset.jpg",
              "IPTC written as UTF-8 without a CodedCharacterSet record")
    picture(seed=8).save(u8, quality=85)
    et(u8, "-charset", "iptc=UTF8", "-IPTC:City=Zürich", "-IPTC:Caption-Abstract=Grüße aus Zürich – 5 €")

    bad = case("jpeg/invalid-dates.jpg",
               "an EXIF DateTimeOriginal that is not a date, '2021:08:19 18:48:53A' (written raw with exiftool -n)")
    picture(seed=9).save(bad, quality=85)
    et(bad, "-n", "-EXIF:DateTimeOriginal=2021:08:19 18:48:53A", "-XMP-dc:Title=Bad dates")

    prog = case("jpeg/progressive.jpg", "a progressive JPEG (ImageMagick -interlace Plane): several scans for the image hash")
    picture(40, 30, seed=10).save(os.path.join(OUT, ".p.png"))
    run("convert", os.path.join(OUT, ".p.png"), "-strip", "-interlace", "Plane", "-quality", "80", prog)
    os.remove(os.path.join(OUT, ".p.png"))
    et(prog, "-XMP-dc:Title=Progressive", "-EXIF:Make=Scans Ltd")

    # ---------------------------------------------------------------- PNG
    src = os.path.join(OUT, ".im-source.jpg")
    picture(30, 20, seed=11).save(src, quality=90)
    et(src, "-EXIF:Make=Profile Camera", "-EXIF:Model=P-1", "-EXIF:Orientation#=3", "-EXIF:DateTimeOriginal=2020:02:02 10:11:12",
       "-IPTC:Keywords=imagemagick", "-IPTC:Keywords=profile", "-IPTC:City=Porto", "-XMP-dc:Title=Profiles in PNG",
       "-XMP-dc:Rights=(c) Profile Owner")
    im = case("png/imagemagick-profiles.png",
              "ImageMagick converts an EXIF+IPTC+XMP JPEG to PNG: the profiles become hex-encoded "
              "'Raw profile type iptc|xmp|8bim' text chunks; its eXIf chunk is rewritten as the "
              "'Raw profile type exif' chunk ImageMagick 6.8 and earlier wrote")
    run("convert", src, "-define", "png:exclude-chunks=date,time", im)
    os.remove(src)
    # ImageMagick 6.9 stores the EXIF in an eXIf chunk; 6.8 and earlier (and the PNGs they left
    # in the silos) wrote it, like the other profiles, as a hex-encoded "Raw profile type exif"
    # text chunk: "\nexif\n<length, 8 wide>\n<hex, 72 digits a line>\n". Turn the one into the other.
    data = open(im, "rb").read()
    i, out = 8, data[:8]
    while i < len(data):
        n = struct.unpack(">I", data[i:i + 4])[0]
        t = data[i + 4:i + 8]
        if t == b"eXIf":
            profile = b"Exif\0\0" + data[i + 8:i + 8 + n]
            hexed = profile.hex().encode()
            lines = b"\n".join(hexed[k:k + 72] for k in range(0, len(hexed), 72))
            out += png_chunk(b"tEXt", b"Raw profile type exif\0" + b"\nexif\n" + b"%8d" % len(profile) + b"\n" + lines + b"\n")
        else:
            out += data[i:i + 12 + n]
        i += 12 + n
    open(im, "wb").write(out)

    kw = case("png/text-keywords.png",
              "Pillow writes text chunks under the names other software uses: 'author', 'Comment' (GIMP's "
              "'Created with GIMP': not a description), 'CreationTime', 'Copyright' (zTXt), an iTXt 'Title' in UTF-8, 'Software'")
    info = PngImagePlugin.PngInfo()
    info.add_text("author", "Lower Case Author")
    info.add_text("Comment", "Created with GIMP")
    info.add_text("CreationTime", "2023-06-14T18:30:00")
    info.add_text("Copyright", "© 2023 Keyword Owner", zip=True)
    info.add_itxt("Title", "Título en UTF-8", lang="es", tkey="Title")
    info.add_text("Software", "Pillow")
    picture(seed=12).save(kw, pnginfo=info)

    inv = PngImagePlugin.PngInfo()
    inv.add_text("Creation Time", "31/02/2021 25:61")
    inv.add_text("Title", "A PNG with a bad date")
    picture(seed=17).save(case("png/invalid-date.png", "a Pillow PNG whose 'Creation Time' is not a date"), pnginfo=inv)

    sx = case("png/xmp-stale-tail.png",
              "an iTXt XML:com.adobe.xmp packet followed by the stale tail of an older packet")
    picture(seed=13).save(sx)
    body = """<rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'>
 <dc:title><rdf:Alt><rdf:li xml:lang='x-default'>PNG current title</rdf:li></rdf:Alt></dc:title>
 <dc:creator><rdf:Seq><rdf:li>Cora Current</rdf:li></rdf:Seq></dc:creator>
</rdf:Description>"""
    packet = XMP_TEMPLATE.format(body=body).encode("utf-8")
    packet += b"\n<rdf:li>Old Creator</rdf:li></rdf:Seq></dc:creator></rdf:Description></rdf:RDF></x:xmpmeta>\n<?xpacket end='w'?>\n"
    insert_png_chunk_before(sx, b"IDAT", png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0" + packet))

    anc = case("png/ancillary.png",
               "ImageMagick PNG with gAMA, cHRM, bKGD, pHYs chunks and exiftool text and XMP")
    picture(28, 20, seed=14).save(os.path.join(OUT, ".a.png"))
    run("convert", os.path.join(OUT, ".a.png"), "-define", "png:exclude-chunks=date,time", "-units", "PixelsPerInch",
        "-density", "150", anc)
    os.remove(os.path.join(OUT, ".a.png"))
    et(anc, "-PNG:Title=Ancillary", "-XMP-dc:Description=With ancillary chunks", "-PNG:Author=Anc Author")
    stripped = case("png/ancillary-stripped.png",
                    "the same PNG after `exiftool -all=`: text, XMP and ancillary chunks removed, pixels unchanged")
    shutil.copy(anc, stripped)
    et(stripped, "-all=")

    ap = case("png/animated.png", "an APNG of two frames (Pillow): IDAT, then fdAT for the second frame")
    f1, f2 = picture(20, 12, seed=15), picture(20, 12, seed=16)
    f1.save(ap, save_all=True, append_images=[f2], duration=100, loop=0)

    # ---------------------------------------------------------------- TIFF
    mp = case("tiff/multipage.tif", "a three-page TIFF (ImageMagick), metadata in IFD0 written by exiftool")
    pages = []
    for i in range(3):
        p = os.path.join(OUT, f".page{i}.png")
        picture(18, 12, seed=20 + i).save(p)
        pages.append(p)
    run("convert", *pages, "-define", "tiff:exclude-chunks=date", mp)
    for p in pages:
        os.remove(p)
    et(mp, "-IFD0:ImageDescription=Three pages", "-IFD0:Artist=Page Maker", "-XMP-dc:Subject=pages")

    bt = case("tiff/bigtiff.tif", "a two-page BigTIFF (tifffile): 8-byte offsets, 20-byte entries")
    with tifffile.TiffWriter(bt, bigtiff=True) as t:
        t.write(np.asarray(picture(16, 12, seed=24)), photometric="rgb", metadata=None,
                description="BigTIFF description",
                extratags=[(0x010F, "s", 0, "Big Camera", True), (0x013B, "s", 0, "Ada Lovelace", True),
                           (0x8298, "s", 0, "(c) 2024 Big Owner", True), (0x0112, "H", 1, 8, True)])
        t.write(np.asarray(picture(16, 12, seed=25)), photometric="rgb", metadata=None)
    cl = case("tiff/bigtiff-as-classic.tif",
              "the BigTIFF's two pages in a classic TIFF (the same strips): ExifTool hashes it, not the BigTIFF")
    with tifffile.TiffWriter(cl) as t:
        t.write(np.asarray(picture(16, 12, seed=24)), photometric="rgb", metadata=None)
        t.write(np.asarray(picture(16, 12, seed=25)), photometric="rgb", metadata=None)

    thumb = np.asarray(picture(16, 12, seed=26))
    raw = ((np.arange(48 * 64, dtype=np.uint32).reshape(48, 64) * 37) % 4096).astype(np.uint16)
    nef = case("raw/nikon-like.nef",
               "a NEF-shaped TIFF (tifffile): IFD0 a 16x12 RGB thumbnail (SubfileType 1), the 64x48 CFA raw image in a "
               "SubIFD (SubfileType 0), Make NIKON CORPORATION")
    with tifffile.TiffWriter(nef) as t:
        t.write(thumb, photometric="rgb", subfiletype=1, subifds=1, metadata=None,
                extratags=[(0x010F, "s", 0, "NIKON CORPORATION", True), (0x0110, "s", 0, "NIKON D70", True),
                           (0x0112, "H", 1, 1, True)])
        t.write(raw, photometric=32803, subfiletype=0, metadata=None,
                extratags=[(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True)])
    et(nef, "-EXIF:DateTimeOriginal=2004:07:01 10:00:00", "-EXIF:Artist=Raw Shooter")

    dng = case("raw/adobe-like.dng",
               "a DNG-shaped TIFF (tifffile): DNGVersion, IFD0 thumbnail, the raw image in a SubIFD; exiftool adds XMP")
    with tifffile.TiffWriter(dng) as t:
        t.write(thumb, photometric="rgb", subfiletype=1, subifds=1, metadata=None,
                extratags=[(0x010F, "s", 0, "Open Camera Co", True), (0x0110, "s", 0, "OC-DNG", True),
                           (50706, "B", 4, (1, 4, 0, 0), True), (50708, "s", 0, "Open Camera OC-DNG", True)])
        t.write(raw, photometric=32803, subfiletype=0, metadata=None,
                extratags=[(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True)])
    et(dng, "-XMP-dc:Title=Digital negative", "-XMP-dc:Subject=raw", "-EXIF:Orientation#=6")

    # ---------------------------------------------------------------- WebP
    still = case("webp/still.webp", "cwebp output with EXIF and XMP added by exiftool")
    picture(24, 16, seed=30).save(os.path.join(OUT, ".w.png"))
    run("cwebp", "-quiet", "-q", "80", os.path.join(OUT, ".w.png"), "-o", still)
    os.remove(os.path.join(OUT, ".w.png"))
    et(still, "-EXIF:Make=WebP Cam", "-XMP-dc:Title=Still WebP", "-XMP-dc:Creator=Web Person")
    anim = case("webp/animated.webp", "an animated WebP (Pillow): ANIM and two ANMF frames")
    picture(20, 12, seed=31).save(anim, save_all=True, append_images=[picture(20, 12, seed=32)], duration=100,
                                  loop=0, lossless=True)

    # ---------------------------------------------------------------- PSD, EPS, GIF, BMP, ICO
    psd = case("psd/photoshop.psd", "an ImageMagick PSD whose IPTC, EXIF and XMP resources exiftool writes")
    picture(26, 18, seed=40).save(os.path.join(OUT, ".s.png"))
    run("convert", os.path.join(OUT, ".s.png"), psd)
    et(psd, "-IPTC:ObjectName=PSD object", "-IPTC:Keywords=psd", "-IPTC:Keywords=resources", "-EXIF:Make=Layered Inc",
       "-EXIF:DateTimeOriginal=2018:08:08 08:08:08", "-XMP-dc:Creator=Pat Photoshop", "-XMP-photoshop:City=Faro")
    psb = case("psd/large-document.psb", "an ImageMagick PSB (version 2) with XMP written by exiftool")
    run("convert", os.path.join(OUT, ".s.png"), "PSB:" + psb)
    os.remove(os.path.join(OUT, ".s.png"))
    et(psb, "-XMP-dc:Title=Large document", "-XMP-dc:Rights=(c) PSB Owner")

    eps = case("eps/pillow.eps", "a Pillow EPS; exiftool adds the DSC %%Title, %%Author, %%Copyright and an XMP packet")
    picture(20, 10, seed=41).save(eps)
    et(eps, "-PostScript:Title=EPS title", "-PostScript:Author=Ann Author", "-PostScript:Copyright=(c) Ann",
       "-XMP-dc:Subject=alpha", "-XMP-dc:Subject=beta", "-XMP-dc:Description=XMP in EPS")
    # DOS EPS: the binary header in front of the PostScript and a TIFF preview (as Illustrator and
    # Photoshop save "EPS with TIFF preview").
    ps = open(eps, "rb").read()
    prev = io.BytesIO()
    picture(20, 10, seed=41).save(prev, format="TIFF")
    tiff = prev.getvalue()
    header = b"\xC5\xD0\xD3\xC6" + struct.pack("<IIIIIIH", 30, len(ps), 0, 0, 30 + len(ps), len(tiff), 0xFFFF)
    open(case("eps/dos-tiff-preview.eps", "the same EPS behind a DOS EPS binary header with a TIFF preview"),
         "wb").write(header + ps + tiff)

    gif = case("gif/xmp.gif", "an ImageMagick GIF with an XMP application extension written by exiftool")
    picture(22, 14, seed=42).save(os.path.join(OUT, ".g.png"))
    run("convert", os.path.join(OUT, ".g.png"), gif)
    os.remove(os.path.join(OUT, ".g.png"))
    et(gif, "-XMP-dc:Title=GIF title", "-XMP-dc:Subject=gif")

    picture(33, 17, seed=43).save(os.path.join(OUT, ".b.png"))
    run("convert", os.path.join(OUT, ".b.png"), case("bmp/v5.bmp", "ImageMagick BMP (BITMAPV5HEADER)"))
    run("convert", os.path.join(OUT, ".b.png"), "BMP2:" + case("bmp/os2.bmp", "ImageMagick BMP2 (OS/2 12-byte header)"))
    run("convert", os.path.join(OUT, ".b.png"), "BMP3:" + case("bmp/v3.bmp", "ImageMagick BMP3 (BITMAPINFOHEADER)"))
    run("convert", os.path.join(OUT, ".b.png"), case("pcx/im.pcx", "ImageMagick PC Paintbrush (PCX)"))
    run("convert", os.path.join(OUT, ".b.png"), case("pnm/raw.ppm", "ImageMagick binary PPM (P6)"))
    run("convert", os.path.join(OUT, ".b.png"), "-compress", "none",
        case("pnm/ascii.pgm", "ImageMagick plain-text PGM (P2)"))
    run("convert", os.path.join(OUT, ".b.png"), "-monochrome", case("pnm/raw.pbm", "ImageMagick binary PBM (P4)"))
    # A header with comments between its numbers, as the Netpbm format allows anywhere before
    # the raster (GIMP writes one after the magic number).
    ppm = open(os.path.join(OUT, "pnm/raw.ppm"), "rb").read()
    magic, width, height, rest = ppm.split(maxsplit=3)
    open(case("pnm/comments.ppm", "the PPM with # comments after the magic number and between width and height"),
         "wb").write(magic + b"\n# CREATOR: a comment\n" + width + b"\n# another\n" + height + b"\n" + rest)
    os.remove(os.path.join(OUT, ".b.png"))
    picture(48, 48, seed=44).save(os.path.join(OUT, ".i.png"))
    run("convert", os.path.join(OUT, ".i.png"), "-define", "icon:auto-resize=48,16",
        case("ico/two-sizes.ico", "an ImageMagick icon with a 48x48 and a 16x16 image"))
    run("convert", os.path.join(OUT, ".i.png"), "-resize", "32x32",
        case("ico/cursor.cur", "an ImageMagick cursor"))
    os.remove(os.path.join(OUT, ".i.png"))

    # ---------------------------------------------------------------- XMP forms
    from rdflib import BNode, Graph, Literal, Namespace, RDF, URIRef
    DC = Namespace("http://purl.org/dc/elements/1.1/")
    g = Graph()
    g.bind("dc", DC)
    s = URIRef("")
    bag, alt = BNode("kw"), BNode("title")
    g.add((s, DC.subject, bag)); g.add((bag, RDF.type, RDF.Bag))
    g.add((bag, RDF._1, Literal("alpha"))); g.add((bag, RDF._2, Literal("beta")))
    g.add((s, DC.title, alt)); g.add((alt, RDF.type, RDF.Alt)); g.add((alt, RDF._1, Literal("Blank node title", lang="x-default")))
    for fmt, name in (("xml", "rdflib-nodeid.xmp"), ("pretty-xml", "rdflib-typed-nodes.xmp")):
        rdf = g.serialize(format=fmt)
        rdf = rdf.split("?>", 1)[1] if rdf.startswith("<?xml") else rdf
        open(case("xmp/" + name, f"rdflib's '{fmt}' RDF/XML: dc:subject and dc:title as blank nodes "
                  + ("referenced by rdf:nodeID, members rdf:_1, rdf:_2" if fmt == "xml" else "typed rdf:Bag / rdf:Alt with rdf:_N members")),
             "w").write("<x:xmpmeta xmlns:x='adobe:ns:meta/'>" + rdf + "</x:xmpmeta>\n")
    body = """ <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/' xmlns:photoshop='http://ns.adobe.com/photoshop/1.0/'>
  <dc:subject rdf:nodeID='kw'/>
  <dc:title rdf:nodeID='t'/>
  <photoshop:City rdf:parseType='Resource'><rdf:value>Lisbon</rdf:value></photoshop:City>
  <dc:creator><rdf:Seq><rdf:li rdf:parseType='Resource'><rdf:value>Ann Qualified</rdf:value></rdf:li></rdf:Seq></dc:creator>
 </rdf:Description>
 <rdf:Description rdf:nodeID='kw'><rdf:type rdf:resource='http://www.w3.org/1999/02/22-rdf-syntax-ns#Bag'/><rdf:li>gamma</rdf:li><rdf:li>delta</rdf:li></rdf:Description>
 <rdf:Description rdf:nodeID='t'><rdf:value>Node title</rdf:value></rdf:Description>"""
    open(case("xmp/invalid-date.xmp", "an XMP sidecar whose photoshop:DateCreated is 2021-02-30"), "w").write(
        XMP_TEMPLATE.format(body=" <rdf:Description rdf:about='' xmlns:photoshop='http://ns.adobe.com/photoshop/1.0/' "
                                 "xmlns:dc='http://purl.org/dc/elements/1.1/' photoshop:DateCreated='2021-02-30' dc:format='image/jpeg'/>"))
    open(case("xmp/nodeid-parsetype.xmp", "rdf:nodeID references to blank nodes described at the rdf:RDF level, "
              "and rdf:parseType='Resource' values with rdf:value"), "w").write(XMP_TEMPLATE.format(body=body))

    # ---------------------------------------------------------------- what ExifTool reads
    files = sorted(CASES)
    out = subprocess.run([EXIFTOOL, "-j", "-G1", "-n", "-a", "-use", "MWG", "-all", "-ImageDataHash", "-api",
                          "ImageHashType=SHA256", "-x", "System:all", "-x", "ExifTool:ExifToolVersion", "-charset", "iptc=Latin"]
                         + files, cwd=OUT, capture_output=True, check=True).stdout
    records = json.loads(out)
    for r in records:
        for k in list(r):
            if isinstance(r[k], str) and r[k].startswith("(Binary data"):
                del r[k]
    version = subprocess.run([EXIFTOOL, "-ver"], capture_output=True, text=True, check=True).stdout.strip()
    json.dump({"exiftool": version, "files": records}, open(os.path.join(OUT, "expected-exiftool.json"), "w"),
              indent=1, ensure_ascii=False, sort_keys=True)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# Metadata fixtures\n\nMade by `tools/metadata-fixtures/make-metadata-fixtures.sh`; "
                f"`expected-exiftool.json` is what ExifTool {version} reads from each "
                "(`-j -G1 -n -a -use MWG -ImageDataHash -api ImageHashType=SHA256`).\n\n| file | reproduces |\n|---|---|\n")
        for p in files:
            f.write(f"| `{p}` | {CASES[p]} |\n")


main()
