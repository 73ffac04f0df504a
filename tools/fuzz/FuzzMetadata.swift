// libFuzzer entry point for the metadata parsers. Built by tools/fuzz/fuzz-metadata.sh together
// with Sources/SiloMergeCore/Metadata/*.swift and the few core files they use; not part of the
// SwiftPM package.

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
    for format in MediaFormat.allCases where ImageDataHash.supports(format) {
        _ = try? ImageDataHash.compute(source, format: format)
        _ = try? ImageDataHash.prefix(source, format: format, bytes: 4096)   // the scan's prefix stage
    }
    return 0
}
