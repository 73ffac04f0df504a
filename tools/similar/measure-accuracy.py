#!/usr/bin/env python3
"""Measures how well SiloMerge's perceptual hash finds the same photo at another size or quality.

Usage:
  tools/similar/measure-accuracy.py --originals DIR [DIR...] [--videos DIR] --work DIR
                                    [--tool PATH] [--seed N] [--max-originals N] [--threshold T]

What it does, reproducibly for a given seed and set of inputs:

1. Originals: every JPEG under the --originals folders (camera and phone photos; the sample
   repositories' PNG and TIFF files are mostly icons, fax pages and fuzzed files) that Pillow
   decodes, at least 300 pixels on each side, in a seeded sample of --max-originals. Two
   originals that are themselves one photo (the sample repositories hold a few resized copies
   of one another) would make true matches count as false ones: pairs whose 32x32 grey
   thumbnails correlate at 0.90 or more are reduced to one, and listed.
2. Derivatives of each original, with Pillow, ImageMagick, jpegtran, exiftool and heif-enc,
   parameters drawn from the seed (the display orientation is applied first, as export tools do):
     resize       25-75 %, JPEG quality 85 (ImageMagick for odd originals, Pillow for even)
     quality      full size, JPEG quality 50-90
     png          50-100 % as PNG
     webp         30-100 % as WebP, quality 60-90
     tiff         50-100 % as LZW TIFF
     crop         up to 5 % off each axis, placed at random, JPEG quality 90
     orientation  the same display from other stored pixels: jpegtran rotates the pixels
                  losslessly and exiftool sets the EXIF orientation that undoes it
     heic         every fifth original, 50 %, heif-enc quality 60
   and, counted apart (a person sees these as turned or mirrored, not as the same picture):
     turned       only the EXIF orientation changed (shown a quarter turn round)
     mirrored     flipped left to right
3. Bursts (the hard case): frames half a second apart from each video under --videos (ffmpeg),
   distinct photos of one shoot that look nearly alike. Frames of one video are never "the
   same photo" here.
4. Every file is hashed with `silomerge-similar hash` (pHash with sign bits, SiloMerge's;
   pHash with pHash.org's median threshold; dHash), and for each hash and each threshold 0..20 it counts the pairs
   within the threshold: precision and recall over pairs (an original with each of its
   derivatives, and derivatives of one original with each other, are the positives; every
   other pair is a negative; burst pairs are counted separately too). Then it groups with
   `silomerge-similar group` at --threshold (DerivativeGrouping: masters and derivatives) and
   reports the grouping's pairwise precision and recall, per derivative kind.

Needs: python3 with Pillow and numpy, ImageMagick (convert), libjpeg-turbo-progs (jpegtran),
exiftool, libheif-examples (heif-enc), ffmpeg, and the tool: `swift build --product silomerge-similar`.
Results go to WORK/report.json and stdout.
"""
import argparse
import warnings
import io
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from PIL import Image, ImageOps

KINDS = ["resize", "quality", "png", "webp", "tiff", "crop", "orientation", "heic"]
APART = ["turned", "mirrored"]
EXTS = (".jpg", ".jpeg")


def run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def thumb(path):
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        g = np.asarray(im.convert("L").resize((32, 32), Image.BILINEAR), dtype=np.float64)
    g = g - g.mean()
    n = np.linalg.norm(g)
    return g / n if n > 0 else g


def usable(path):
    try:
        with Image.open(path) as im:
            if getattr(im, "n_frames", 1) > 1:
                return None
            im = ImageOps.exif_transpose(im)
            w, h = im.size
            if min(w, h) < 300:
                return None
            im.load()
            return (w, h)
    except Exception:
        return None


def make_derivatives(job):
    index, src, outdir, seed = job
    rng = random.Random(seed * 100003 + index)
    made = []
    base = os.path.join(outdir, f"o{index:04d}")
    done = base + "__made.json"
    if os.path.exists(done):   # --reuse: made by an earlier run with the same seed and originals
        with open(done) as f:
            return index, [tuple(m) for m in json.load(f)]
    with Image.open(src) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        w, h = im.size
        upright = base + "__upright.jpg"
        im.save(upright, quality=95)

        def out(kind, ext):
            path = f"{base}__{kind}{ext}"
            made.append((kind, path))
            return path

        p = rng.uniform(0.25, 0.75)
        if index % 2:
            run(["convert", upright, "-resize", f"{p * 100:.1f}%", "-quality", "85", out("resize", ".jpg")])
        else:
            im.resize((max(1, round(w * p)), max(1, round(h * p))), Image.LANCZOS).save(out("resize", ".jpg"), quality=85)
        im.save(out("quality", ".jpg"), quality=rng.randint(50, 90))
        p = rng.uniform(0.5, 1.0)
        im.resize((max(1, round(w * p)), max(1, round(h * p))), Image.LANCZOS).save(out("png", ".png"))
        p = rng.uniform(0.3, 1.0)
        im.resize((max(1, round(w * p)), max(1, round(h * p))), Image.LANCZOS).save(out("webp", ".webp"), quality=rng.randint(60, 90))
        p = rng.uniform(0.5, 1.0)
        run(["convert", upright, "-resize", f"{p * 100:.1f}%", "-compress", "LZW", out("tiff", ".tif")])
        cx, cy = rng.uniform(0, 0.05), rng.uniform(0, 0.05)
        left, top = round(w * cx * rng.random()), round(h * cy * rng.random())
        cw, ch = round(w * (1 - cx)), round(h * (1 - cy))
        im.crop((left, top, left + cw, top + ch)).save(out("crop", ".jpg"), quality=90)
        # Lossless re-storage: rotate the pixels, and set the orientation that turns them back.
        turn, tag = rng.choice([("90", 8), ("180", 3), ("270", 6)])
        path = out("orientation", ".jpg")
        run(["jpegtran", "-rotate", turn, "-trim", "-copy", "all", "-outfile", path, upright])
        run(["exiftool", "-q", "-overwrite_original", "-n", f"-Orientation={tag}", path])
        if index % 5 == 0:
            small = base + "__heicsrc.png"
            im.resize((max(1, w // 2), max(1, h // 2)), Image.LANCZOS).save(small)
            run(["heif-enc", "-q", "60", "-o", out("heic", ".heic"), small])
            os.remove(small)
        path = out("turned", ".jpg")
        shutil.copyfile(upright, path)
        run(["exiftool", "-q", "-overwrite_original", "-n", "-Orientation=6", path])
        ImageOps.mirror(im).save(out("mirrored", ".jpg"), quality=90)
    with open(done, "w") as f:
        json.dump(made, f)
    # The upright JPEG is not a file of the set (the original is).
    os.remove(upright)
    return index, made


def frames(video, outdir, name):
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=duration",
                            "-of", "csv=p=0", video], capture_output=True, text=True)
    try:
        duration = float(probe.stdout.strip().split(",")[0])
    except ValueError:
        return []
    made = []
    t = 0.25
    while t < duration and len(made) < 40:
        path = os.path.join(outdir, f"{name}_{len(made):02d}.jpg")
        r = subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", f"{t:.2f}", "-i", video, "-frames:v", "1", "-q:v", "3", path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if r.returncode == 0 and os.path.exists(path) and os.path.getsize(path) > 0:
            made.append(path)
        t += 0.5
    return made


POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def distances(a, b):
    """Hamming distances between every hash of a and every hash of b (lists of ints)."""
    x = np.array(a, dtype=np.uint64)[:, None] ^ np.array(b, dtype=np.uint64)[None, :]
    return POPCOUNT[x.view(np.uint8).reshape(x.shape + (8,))].sum(axis=-1, dtype=np.int32)


def dihedral_variants(h):
    """The 8 hashes of the turned and mirrored images, for the sign-bit pHash (see
    PerceptualHash.dihedralVariants): bit 63-k is coefficient k = u*8+v (vertical frequency
    u+1, horizontal v+1)."""
    bits = [(h >> (63 - k)) & 1 for k in range(64)]
    out = []
    for transpose, hflip, vflip in itertools.product([False, True], repeat=3):
        v = 0
        for k in range(64):
            u, w = divmod(k, 8)
            su, sw = (w, u) if transpose else (u, w)
            b = bits[su * 8 + sw]
            # Mirroring left-right negates odd horizontal frequencies (v + 1 odd: v even).
            if hflip and w % 2 == 0:
                b ^= 1
            if vflip and u % 2 == 0:
                b ^= 1
            v |= b << (63 - k)
        out.append(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--originals", nargs="+", required=True)
    ap.add_argument("--videos")
    ap.add_argument("--work", required=True)
    ap.add_argument("--tool", default=os.path.join(os.path.dirname(__file__), "../../.build/debug/silomerge-similar"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-originals", type=int, default=300)
    ap.add_argument("--threshold", type=int, default=None, help="grouping threshold (default: the tool's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reuse", action="store_true",
                    help="keep the derivatives an earlier run with the same seed and originals made in --work")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    work = os.path.abspath(args.work)
    for sub in ("derived", "bursts"):
        if not (args.reuse and sub == "derived"):
            shutil.rmtree(os.path.join(work, sub), ignore_errors=True)
        os.makedirs(os.path.join(work, sub), exist_ok=True)

    # 1. Originals.
    found = sorted(os.path.join(d, f) for root in args.originals for d, _, fs in os.walk(root) for f in fs
                   if f.lower().endswith(EXTS))
    rng = random.Random(args.seed)
    rng.shuffle(found)
    originals, dropped, thumbs = [], [], []
    for path in found:
        if len(originals) >= args.max_originals:
            break
        if usable(path) is None:
            continue
        t = thumb(path)
        same = next((o for o, u in zip(originals, thumbs) if float((t * u).sum()) >= 0.90), None)
        if same is not None:
            dropped.append((path, same))
            continue
        originals.append(path)
        thumbs.append(t)
    print(f"originals: {len(originals)} (of {len(found)} files; {len(dropped)} dropped as copies of another original)")

    # 2. Derivatives.
    jobs = [(i, p, os.path.join(work, "derived"), args.seed) for i, p in enumerate(originals)]
    family, kind_of, files = {}, {}, []
    for i, p in enumerate(originals):
        family[p], kind_of[p] = i, "original"
        files.append(p)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for i, made in pool.map(make_derivatives, jobs):
            for kind, path in made:
                family[path], kind_of[path] = i, kind
                files.append(path)

    # 3. Bursts.
    # A video that is another one re-encoded (sample collections hold a clip as .m4v and .mov)
    # would make its frames' matches with the other's count as false: one whose first frame
    # correlates at 0.90 or more with another video's first frame is left out, and listed.
    burst_of = {}
    dropped_videos = []
    if args.videos:
        firsts = []
        for n, v in enumerate(sorted(os.listdir(args.videos))):
            made = frames(os.path.join(args.videos, v), os.path.join(work, "bursts"), f"v{n:02d}")
            if not made:
                continue
            t = thumb(made[0])
            same = next((o for o, u in firsts if float((t * u).sum()) >= 0.90), None)
            if same is not None:
                dropped_videos.append((v, same))
                for path in made:
                    os.remove(path)
                continue
            firsts.append((v, t))
            for path in made:
                family[path], kind_of[path] = 100000 + len(files), "burst"
                burst_of[path] = n
                files.append(path)
        print(f"videos: {len(firsts)} ({len(dropped_videos)} dropped as another video re-encoded: "
              + ", ".join(f"{a} = {b}" for a, b in dropped_videos) + ")")
    print(f"files: {len(files)}: " + ", ".join(f"{k} {sum(1 for f in files if kind_of[f] == k)}"
                                                for k in ["original"] + KINDS + APART + ["burst"]))

    # 4. Hashes.
    listing = os.path.join(work, "files.txt")
    with open(listing, "w") as f:
        f.write("\n".join(files) + "\n")
    out = subprocess.run([args.tool, "hash", "--list", listing], check=True, capture_output=True, text=True).stdout
    rows = {r["path"]: r for r in map(json.loads, out.splitlines())}
    failed = {p: r["error"] for p, r in rows.items() if "error" in r}
    for p, e in failed.items():
        print(f"  not hashed: {p}: {e}")
    ok = [p for p in files if p in rows and "error" not in rows[p]]

    fam = np.array([family[p] for p in ok])
    kinds = np.array([kind_of[p] for p in ok])
    burst = np.array([burst_of.get(p, -1) for p in ok])
    iu = np.triu_indices(len(ok), 1)
    same = (fam[:, None] == fam[None, :])[iu]
    apart = np.isin(kinds, APART)
    apart_pair = (apart[:, None] | apart[None, :])[iu]
    burst_pair = ((burst[:, None] == burst[None, :]) & (burst[:, None] >= 0))[iu]
    report = {"originals": len(originals), "dropped_originals": dropped, "dropped_videos": dropped_videos,
              "files": len(files), "failed": failed,
              "curves": {}}

    def curve(name, dist):
        d = dist[iu]
        res = []
        for t in range(0, 21):
            hit = d <= t
            main_pos = same & ~apart_pair
            tp = int((hit & main_pos).sum())
            fp = int((hit & ~same).sum())
            fn = int((~hit & main_pos).sum())
            fp_burst = int((hit & burst_pair).sum())
            apart_found = int((hit & same & apart_pair).sum())
            res.append({"t": t, "precision": tp / (tp + fp) if tp + fp else 1.0, "recall": tp / (tp + fn) if tp + fn else 1.0,
                        "fp": fp, "fp_bursts": fp_burst, "burst_pairs": int(burst_pair.sum()),
                        "fp_without_bursts": fp - fp_burst,
                        "precision_without_bursts": tp / (tp + fp - fp_burst) if tp + fp - fp_burst else 1.0,
                        "apart_recall": apart_found / max(1, int((same & apart_pair).sum()))})
        report["curves"][name] = res
        print(f"\n{name}: pairs of one photo {int((same & ~apart_pair).sum())}, other pairs {int((~same).sum())}, burst pairs {int(burst_pair.sum())}")
        print("   t  precision  recall   false+ (bursts)  precision w/o bursts  turned/mirrored found")
        for r in res:
            print(f"  {r['t']:2d}  {r['precision']:.4f}    {r['recall']:.4f}  {r['fp']:6d} ({r['fp_bursts']:5d})      {r['precision_without_bursts']:.4f}"
                  f"               {r['apart_recall']:.3f}")

    for name in ("phash_median", "phash", "dhash"):
        h = [int(rows[p][name], 16) for p in ok]
        curve(name, distances(h, h))
    # The sign-bit pHash compared over its 8 turned/mirrored variants.
    hs = [int(rows[p]["phash"], 16) for p in ok]
    variants = [dihedral_variants(h) for h in hs]
    best = None
    for k in range(8):
        d = distances(hs, [v[k] for v in variants])
        d = np.minimum(d, d.T)
        best = d if best is None else np.minimum(best, d)
    curve("phash-dihedral", best)

    # 5. Grouping, as SiloMerge groups.
    cmd = [args.tool, "group", "--list", listing]
    if args.threshold is not None:
        cmd += ["--threshold", str(args.threshold)]
    groups = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["groups"]
    group_of = {}
    for g, grp in enumerate(groups):
        group_of[grp["master"]] = g
        for d in grp["derivatives"]:
            group_of[d["path"]] = g
    gid = np.array([group_of.get(p, -1 - i) for i, p in enumerate(ok)])
    together = (gid[:, None] == gid[None, :])[iu]
    tp = int((together & same & ~apart_pair).sum())
    fp = int((together & ~same).sum())
    fn = int((~together & same & ~apart_pair).sum())
    fpb = int((together & burst_pair).sum())
    per_kind = {}
    for k in KINDS + APART:
        # A derivative is found when it is in its original's group.
        idx = [i for i, p in enumerate(ok) if kind_of[p] == k]
        orig = {family[p]: i for i, p in enumerate(ok) if kind_of[p] == "original"}
        hits = sum(1 for i in idx if family[ok[i]] in orig and gid[i] == gid[orig[family[ok[i]]]])
        per_kind[k] = {"found": hits, "of": len(idx)}
    report["grouping"] = {"groups": len(groups), "precision": tp / (tp + fp) if tp + fp else 1.0,
                          "recall": tp / (tp + fn) if tp + fn else 1.0, "false_pairs": fp, "false_pairs_bursts": fpb,
                          "burst_pairs": int(burst_pair.sum()), "per_kind": per_kind}
    print(f"\ngrouping ({len(groups)} groups): precision {report['grouping']['precision']:.4f}, recall {report['grouping']['recall']:.4f}, "
          f"false pairs {fp} of which bursts {fpb} (of {int(burst_pair.sum())} burst pairs)")
    for k, v in per_kind.items():
        print(f"  {k:12s} {v['found']:4d} / {v['of']:4d} in their original's group")
    with open(os.path.join(work, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
