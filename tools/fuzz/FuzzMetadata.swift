// libFuzzer entry point for the metadata parsers. Built by tools/fuzz/fuzz-metadata.sh together
// with Sources/SiloMergeCore/Metadata/*.swift and the few core files they use; not part of the
// SwiftPM package.

#if canImport(Glibc)
import Glibc
#endif

/// Every input goes through everything a hostile file can reach: format sniffing and all the
/// block readers, in-file reconciliation, the sidecar XMP parser and the sidecar sniffer, the
/// SVG reader, and the image data hash (each supported format, whatever the magic bytes say, so
/// the hash code sees every input too).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let source = DataByteSource(bytes)
    let metadata = MetadataReader.read(source)
    _ = MetadataReader.reconcileInFile(metadata)
    precondition(metadata.problems.count <= 64, "problems are capped")
    // The per-file caps hold whatever the input.
    var perField: [UnifiedField: Int] = [:]
    for value in metadata.values { perField[value.field, default: 0] += 1 }
    precondition(perField.allSatisfy { $0.key == .width || $0.key == .height || $0.value <= MetadataLimits.maxValuesPerField }, "values per field are capped")
    precondition(metadata.values.allSatisfy { v in
        if case .list(let items) = v.value { return items.count <= MetadataLimits.maxListItems } else { return true }
    }, "list items are capped")
    precondition(metadata.values.allSatisfy { $0.field != .dateCreated || $0.value.date != nil }, "a date is a date")
    for value in metadata.values {
        if case .integer(let n) = value.value, value.field == .orientation { precondition((1...8).contains(n)) }
        if case .gps(let lat, let lon) = value.value { precondition(abs(lat) <= 90 && abs(lon) <= 180) }
    }
    // The opt-in packet scan (scan --scan-for-xmp) on top of the structural readers.
    _ = MetadataReader.read(source, options: MetadataReadOptions(scanForXMP: true))
    _ = MetadataReader.readSidecar(bytes)
    // Whether a .xmp beside an asset is a sidecar, and the SVG reader whatever the sniffer says.
    _ = SidecarPlan.classify(head: bytes)
    let svg = MetadataCollector(source: source)
    try? SVGReader.read(svg)
    _ = svg.finish()
    var hashes: [SHA256Digest?] = []
    for format in MediaFormat.allCases where ImageDataHash.supports(format) {
        hashes.append(try? ImageDataHash.compute(source, format: format))
        _ = try? ImageDataHash.prefix(source, format: format, bytes: 4096)   // the scan's prefix stage
    }
    // The same input lent in place (what a scan uses for a file that fit in its read buffer):
    // the same metadata and the same image hashes and prefixes.
    bytes.withUnsafeBytes { raw in
        let lent = BorrowedByteSource(raw)
        precondition(MetadataReader.read(lent) == metadata, "BorrowedByteSource reads as DataByteSource")
        var i = 0
        for format in MediaFormat.allCases where ImageDataHash.supports(format) {
            precondition((try? ImageDataHash.compute(lent, format: format)) == hashes[i], "BorrowedByteSource hashes as DataByteSource")
            precondition((try? ImageDataHash.prefix(lent, format: format, bytes: 4096))?.digest
                         == (try? ImageDataHash.prefix(source, format: format, bytes: 4096))?.digest,
                         "BorrowedByteSource prefixes as DataByteSource")
            i += 1
        }
    }
    // The same input as a file, read through FileByteSource's windows (what a scan uses): the
    // same metadata and the same image hashes, wherever its windows fall.
    if let fd = fuzzFile, ftruncate(fd, 0) == 0, bytes.withUnsafeBytes({ pwrite(fd, $0.baseAddress, $0.count, 0) }) == size {
        precondition(MetadataReader.read(FileByteSource(fd: fd, size: Int64(size))) == metadata, "FileByteSource reads as DataByteSource")
        var i = 0
        for format in MediaFormat.allCases where ImageDataHash.supports(format) {
            precondition((try? ImageDataHash.compute(FileByteSource(fd: fd, size: Int64(size)), format: format)) == hashes[i],
                         "FileByteSource hashes as DataByteSource")
            i += 1
        }
        // Lent its first bytes (what a scan does with a file larger than its read buffer: the
        // first chunk stays in memory), cut anywhere: the input's last byte picks where.
        let cut = size == 0 ? 0 : (Int(bytes[size - 1]) * 131 + size / 3) % (size + 1)
        Array(bytes.prefix(cut)).withUnsafeBytes { head in
            precondition(MetadataReader.read(FileByteSource(fd: fd, size: Int64(size), lending: head)) == metadata,
                         "FileByteSource lent a head reads as DataByteSource")
            var i = 0
            for format in MediaFormat.allCases where ImageDataHash.supports(format) {
                precondition((try? ImageDataHash.compute(FileByteSource(fd: fd, size: Int64(size), lending: head), format: format)) == hashes[i],
                             "FileByteSource lent a head hashes as DataByteSource")
                i += 1
            }
        }
    }
    return 0
}

/// One scratch file (unlinked at once) that every input is written to (libFuzzer calls the
/// entry point from one thread at a time).
let fuzzFile: Int32? = {
    let path = "/tmp/silomerge-fuzz-\(getpid())"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
    unlink(path)
    return fd >= 0 ? fd : nil
}()
