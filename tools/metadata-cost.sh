#!/bin/bash
# metadata-cost.sh — the CPU that reading metadata adds to a full scan, on any folder.
#
#   tools/metadata-cost.sh [--runs N] [--baseline OLD/silomerge] BIN FOLDER
#
# Scans FOLDER (one silo per subfolder, or FOLDER itself when it has none) with
# `silomerge scan -q --hash full` and with `--no-metadata`, alternating, each into a fresh
# catalogue, after reading every file once (warm page cache), and prints the medians and minima
# of CPU time (user + system, from GNU time) and the cost in per cent. With --baseline, the
# same for another build, alternated run for run with BIN, so both see the same machine noise.
# The issue #11 target: at most +10 %.
set -euo pipefail
runs=5; baseline=""
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; shift 2 ;;
        --baseline) baseline="$2"; shift 2 ;;
        -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
[ $# -eq 2 ] || { echo "usage: $0 [--runs N] [--baseline OLD] BIN FOLDER" >&2; exit 64; }
bin="$1"; folder="${2%/}"
[ -x /usr/bin/time ] || { echo "$0: needs GNU time (/usr/bin/time; apt-get install time)" >&2; exit 69; }
[ -d "$folder" ] || { echo "$0: $folder: not a folder" >&2; exit 66; }
silos=()
for d in "$folder"/*/; do [ -d "$d" ] && silos+=("$(basename "$d")=${d%/}"); done
[ ${#silos[@]} -gt 0 ] || silos=("media=$folder")
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
find "$folder" -type f -print0 | xargs -0 cat > /dev/null
measure() {   # BIN MODE → CPU seconds
    rm -f "$work"/c.db*
    local extra=(); [ "$2" = without ] && extra=(--no-metadata)
    /usr/bin/time -f "%U %S" -o "$work/t" "$1" scan -q --hash full "${extra[@]}" --catalog "$work/c.db" "${silos[@]}" > /dev/null 2>&1 || true
    awk '{ printf "%.2f\n", $1 + $2 }' "$work/t"
}
bins=("$bin"); [ -n "$baseline" ] && bins+=("$baseline")
for i in $(seq "$runs"); do
    for b in "${bins[@]}"; do
        for mode in with without; do echo "$b $mode $(measure "$b" $mode)"; done
    done
done > "$work/runs"
python3 - "$work/runs" <<'PY'
import sys, statistics as st
d = {}
for line in open(sys.argv[1]):
    b, mode, cpu = line.split()
    d.setdefault(b, {}).setdefault(mode, []).append(float(cpu))
for b, m in d.items():
    w, wo = m["with"], m["without"]
    print(f"{b}: CPU with metadata median {st.median(w):.2f} s (min {min(w):.2f}), without {st.median(wo):.2f} s (min {min(wo):.2f}): "
          f"{100 * (st.median(w) / st.median(wo) - 1):+.1f} % (minima {100 * (min(w) / min(wo) - 1):+.1f} %)")
PY
