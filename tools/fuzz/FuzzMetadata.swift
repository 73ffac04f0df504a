// libFuzzer entry point for the metadata parsers. Built by tools/fuzz/fuzz-metadata.sh together
// with Sources/SiloMergeCore/Metadata/*.swift and the few core files they use; not part of the
// SwiftPM package.

/// Every input goes through everything a hostile file can reach: format sniffing and all the
/// block readers, in-file reconciliation, the sidecar XMP parser, and the image data hash (each
/// supported format, whatever the magic bytes say, so the hash code sees every input too).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMetadata(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let source = DataByteSource(bytes)
    let metadata = MetadataReader.read(source)
    _ = MetadataReader.reconcileInFile(metadata)
    precondition(metadata.problems.count <= 64, "problems are capped")
    for value in metadata.values {
        if case .integer(let n) = value.value, value.field == .orientation { precondition((1...8).contains(n)) }
        if case .gps(let lat, let lon) = value.value { precondition(abs(lat) <= 90 && abs(lon) <= 180) }
    }
    // The opt-in packet scan (scan --scan-for-xmp) on top of the structural readers.
    _ = MetadataReader.read(source, options: MetadataReadOptions(scanForXMP: true))
    _ = MetadataReader.readSidecar(bytes)
    for format in [MediaFormat.jpeg, .png, .tiff, .heic, .mp4] {
        _ = try? ImageDataHash.compute(source, format: format)
    }
    return 0
}
