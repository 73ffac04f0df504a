#!/usr/bin/env bash
# Fuzzes SiloMerge's metadata parsers with libFuzzer + AddressSanitizer.
#
# Usage:
#   tools/fuzz/fuzz-metadata.sh [SECONDS] [extra libFuzzer options...]
#       SECONDS  how long to fuzz (default 30), passed as -max_total_time.
#   e.g. tools/fuzz/fuzz-metadata.sh 300
#        tools/fuzz/fuzz-metadata.sh 60 -jobs=2 -workers=2
#   Reproduce a crash:  .build-fuzz/fuzz-metadata .build-fuzz/artifacts/crash-<sha1>
#   tools/fuzz/fuzz-metadata.sh --typecheck
#       only type-checks the harness with the sources it is built from (no sanitizers, no
#       run; some 20 seconds): CI runs it, so a reader that comes to depend on a file the
#       list below leaves out breaks CI, not the next fuzzing session.
#
# It compiles tools/fuzz/FuzzMetadata.swift (the LLVMFuzzerTestOneInput entry point) together
# with Sources/SiloMergeCore/Metadata/*.swift and the core files they depend on, with
# `swiftc -sanitize=fuzzer,address -parse-as-library`, into .build-fuzz/fuzz-metadata; seeds
# .build-fuzz/corpus from every file under Fixtures/ (assets, sidecars, and the container,
# document and audio files of Fixtures/media) and tools/fuzz/seeds (small XML and XMP
# edge cases for the XML tokenizer: references, namespaces, CDATA, comments, errors); and
# runs with the
# dictionary tools/fuzz/metadata.dict and the leak suppressions in tools/fuzz/lsan.supp. New
# interesting inputs accumulate in the corpus across runs; crashes, leaks and timeouts go to
# .build-fuzz/artifacts/ and make the script exit non-zero. Building takes about a minute.
# Needs: a Swift toolchain with libFuzzer (the Linux swift.org toolchains), libssl-dev, zlib1g-dev.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
typecheck=false
if [ "${1:-}" = "--typecheck" ]; then typecheck=true; shift; fi
seconds="${1:-30}"
shift || true
out="$root/.build-fuzz"
mkdir -p "$out/corpus" "$out/artifacts"

# Every metadata parser; the manifest reader is left out (it reads files named by the
# configuration, not bytes; its record splitter is checked against a reference parser on
# random input, cut at random chunk boundaries, in the test suite), and so is
# FileInspection.swift (what `inspect` prints: no parsing, and it needs the catalogue's
# Codable types).
metadata=()
for f in Sources/SiloMergeCore/Metadata/*.swift; do
    case "$(basename "$f")" in
        ManifestReader.swift|FileInspection.swift) ;;
        *) metadata+=("$f") ;;
    esac
done
sources=(
    tools/fuzz/FuzzMetadata.swift
    "${metadata[@]}"
    Sources/SiloMergeCore/Hash/SHA256.swift
    Sources/SiloMergeCore/Support/ByteWord.swift
    Sources/SiloMergeCore/Support/PathBytes.swift
    Sources/SiloMergeCore/Support/Time.swift
    Sources/SiloMergeCore/Report/Formatting.swift
    Sources/SiloMergeCore/Support/Posix.swift
    Sources/SiloMergeCore/Similar/PerceptualHash.swift
)

# The C shims (memmem, for the byte searches): compiled here, with a module map, as SwiftPM
# does for the package.
mkdir -p "$out/shims"
printf 'module CSiloMergeShims {\n    header "%s"\n    export *\n}\n' \
    "$root/Sources/CSiloMergeShims/include/silomerge_shims.h" > "$out/shims/module.modulemap"
if $typecheck; then
    echo "fuzz-metadata: type-checking the harness's ${#sources[@]} sources" >&2
    swiftc -typecheck -parse-as-library -module-name FuzzMetadata \
        -I Sources/COpenSSL -I Sources/CZlib -I "$out/shims" \
        -module-cache-path "$out/module-cache" "${sources[@]}"
    echo "fuzz-metadata: the harness builds from its sources" >&2
    exit 0
fi
echo "fuzz-metadata: building $out/fuzz-metadata" >&2
clang -c -O1 -g -fsanitize=address -I Sources/CSiloMergeShims/include \
    Sources/CSiloMergeShims/shims.c -o "$out/shims/shims.o"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name FuzzMetadata \
    -I Sources/COpenSSL -I Sources/CZlib -I "$out/shims" -lcrypto -lz \
    -module-cache-path "$out/module-cache" \
    "${sources[@]}" "$out/shims/shims.o" -o "$out/fuzz-metadata" \
    2> >(grep -v "Cannot export local symbol" >&2)

# Seed the corpus with every fixture file (the file name is its content hash, so reseeding is idempotent).
while IFS= read -r -d '' file; do
    sum="$(sha1sum "$file" | cut -d' ' -f1)"
    [ -e "$out/corpus/$sum" ] || cp "$file" "$out/corpus/$sum"
done < <(find Fixtures/marketing Fixtures/hr Fixtures/training Fixtures/media Fixtures/metadata tools/fuzz/seeds -type f -size +0 ! -name '*.json' ! -name '*.md' -print0)

# Leaks are checked too (tools/fuzz/lsan.supp lists the suppressions; none is needed since
# XML is no longer parsed by Foundation's XMLParser). Pass -detect_leaks=0 for ~30% more
# inputs per second.
export LSAN_OPTIONS="suppressions=$root/tools/fuzz/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
echo "fuzz-metadata: fuzzing for ${seconds}s ($(ls "$out/corpus" | wc -l) corpus inputs)" >&2
exec "$out/fuzz-metadata" "$out/corpus" \
    -dict=tools/fuzz/metadata.dict \
    -max_total_time="$seconds" \
    -max_len=131072 \
    -timeout=10 \
    -rss_limit_mb=4096 \
    -artifact_prefix="$out/artifacts/" \
    -print_final_stats=1 \
    "$@"
