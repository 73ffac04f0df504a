import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - The writer

/// Writes the unified catalogue in one export format, one asset at a time.
///
/// ```swift
/// let writer = try ExportWriter(format: .jsonl, destination: .file(FilePath("/tmp/catalogue.jsonl")))
/// for asset in assets { try writer.write(asset) }
/// let summary = try writer.finish()
/// ```
/// A writer dropped without `finish()` removes its temporary files and leaves an existing
/// destination file as it was.
///
/// The writer owns what every format shares — the destination (an `AtomicFile`, a descriptor or
/// a folder), the state, the summary — and hands each asset to one `ExportFormatWriter`, which
/// knows only its format (Periphery's `OutputFormatter` shape). A new format is one new type.
public final class ExportWriter {
    public let format: ExportFormat
    public let destination: ExportDestination
    public let options: ExportOptions
    /// What was written so far.
    public private(set) var summary: ExportSummary

    private enum State { case open, failed, finished }
    private var state = State.open
    private let sink: ExportSink
    private var formatWriter: any ExportFormatWriter
    /// Every file the export writes goes through it (tests inject faults).
    let fileSystem: any FileOps
    /// bagit: lines sorted in memory before spilling a sorted run to a temporary file.
    var manifestRunLimit: Int {
        get { (formatWriter as? BagItFormatWriter)?.manifest.runLimit ?? 0 }
        set { (formatWriter as? BagItFormatWriter)?.manifest.runLimit = max(1, newValue) }
    }

    public init(format: ExportFormat, destination: ExportDestination, options: ExportOptions = ExportOptions(),
                fileSystem: any FileOps = RealFileOps()) throws {
        self.format = format; self.destination = destination; self.options = options
        self.fileSystem = fileSystem
        self.summary = ExportSummary(format: format)
        switch (format.writesFolder, destination) {
        case (true, .directory(let dir)):
            try ExportFileOps.makeDirectories(dir)
            sink = ExportSink(folder: dir, fs: fileSystem, options: options)
        case (true, .file(let p)):
            throw ExportError(.destination, path: p, reason: "the xmp format writes one sidecar per asset: give a folder")
        case (true, .fileDescriptor):
            throw ExportError(.destination, path: nil, reason: "the xmp format writes one sidecar per asset: give a folder")
        case (false, .directory(let dir)):
            throw ExportError(.destination, path: dir, reason: "the \(format.rawValue) format writes one file: give a file, not a folder")
        case (false, .file(let p)):
            sink = ExportSink(output: try ExportOutput(file: p, fs: fileSystem), fs: fileSystem, options: options)
        case (false, .fileDescriptor(let fd)):
            sink = ExportSink(output: ExportOutput(fd: fd), fs: fileSystem, options: options)
        }
        var temporaryParent = FilePath(NSTemporaryDirectory())
        if case .file(let p) = destination { temporaryParent = ExportFileOps.parent(of: p) }
        formatWriter = Self.formatWriter(for: format, options: options, temporaryParent: temporaryParent)
        try guarded { try formatWriter.begin(sink) }
    }

    /// The writer of each format.
    static func formatWriter(for format: ExportFormat, options: ExportOptions, temporaryParent: FilePath) -> any ExportFormatWriter {
        switch format {
        case .jsonl: JSONLFormatWriter()
        case .csv:
            if let profile = options.profile { DAMProfileWriter(profile: profile, damRoot: options.damRoot) } else { CSVFormatWriter() }
        case .exiftool: ExifToolFormatWriter()
        case .xmp: XMPFormatWriter()
        case .bagit: BagItFormatWriter(temporaryParent: temporaryParent)
        }
    }

    deinit {
        sink.output?.abandon()
        formatWriter.abandon()
    }

    /// Writes one asset.
    public func write(_ asset: ReconciledAsset) throws {
        try checkOpen()
        summary.assets += 1
        summary.copies += asset.copies.count
        // A stream half written is incomplete from then on; a sidecar that could not be written
        // is one file, and the export goes on with the next.
        if sink.output == nil {
            try formatWriter.write(asset, to: sink, summary: &summary)
        } else {
            try guarded { try formatWriter.write(asset, to: sink, summary: &summary) }
        }
    }

    /// Completes the output (closing brackets, sorting the manifest, putting the file in
    /// place) and returns the summary. Nothing is visible under the destination name before.
    @discardableResult
    public func finish() throws -> ExportSummary {
        try checkOpen()
        try guarded {
            try formatWriter.finish(sink)
            try sink.output?.commit()
        }
        state = .finished
        return summary
    }

    private func checkOpen() throws {
        switch state {
        case .open: break
        case .failed: throw ExportError(.state, path: nil, reason: "an earlier write failed; the export is incomplete")
        case .finished: throw ExportError(.state, path: nil, reason: "the export is already finished")
        }
    }

    /// Runs a step; a failure leaves the writer failed.
    private func guarded(_ body: () throws -> Void) throws {
        do { try body() } catch {
            state = .failed
            throw error
        }
    }
}

/// One export format: how assets become the records or files of that format. The writer
/// calls `begin` once, `write` per asset (adding what it wrote and left out to the summary),
/// `finish` once before the output is put in place, and `abandon` when the export is dropped.
protocol ExportFormatWriter {
    mutating func begin(_ sink: ExportSink) throws
    mutating func write(_ asset: ReconciledAsset, to sink: ExportSink, summary: inout ExportSummary) throws
    mutating func finish(_ sink: ExportSink) throws
    /// Removes what the format made on the side (temporary files).
    mutating func abandon()
}

extension ExportFormatWriter {
    mutating func begin(_ sink: ExportSink) throws {}
    mutating func finish(_ sink: ExportSink) throws {}
    mutating func abandon() {}
}

/// Where a format writes: one stream (`output`) for single-file formats, or a folder of
/// sidecars written whole through `AtomicFile`.
final class ExportSink {
    let output: ExportOutput?
    let folder: FilePath?
    let fs: any FileOps
    let options: ExportOptions

    init(output: ExportOutput, fs: any FileOps, options: ExportOptions) {
        self.output = output; folder = nil; self.fs = fs; self.options = options
    }

    init(folder: FilePath, fs: any FileOps, options: ExportOptions) {
        output = nil; self.folder = folder; self.fs = fs; self.options = options
    }

    func write(_ text: String) throws { try output?.write(text) }

    /// Writes a file named `name` in the folder; true when it was created or replaced, false
    /// when an identical one was there. One with other bytes is an error unless
    /// `replaceDifferentSidecars`; a file that appears meanwhile is never clobbered.
    func writeFile(_ bytes: [UInt8], at name: RelativePath) throws -> Bool {
        guard let folder else { return false }
        let target = folder.appending(name)
        if !name.parent.isRoot { try ExportFileOps.makeDirectories(folder.appending(name.parent)) }
        var replace = false
        switch try ExportFileOps.compare(target, with: bytes) {
        case .identical: return false
        case .different:
            guard options.replaceDifferentSidecars else {
                throw ExportError(.exists, path: target, reason: "a different file is already there; not overwritten")
            }
            replace = true
        case .missing: break
        }
        do {
            if try AtomicFile.write(target, bytes, fs: fs, placement: replace ? .replace : .keepExisting) { return true }
        } catch let e as AtomicFile.Failure {
            throw ExportError(e)
        }
        // The name was taken meanwhile (never clobbered): the same file, or another one.
        if try ExportFileOps.compare(target, with: bytes) == .identical { return false }
        throw ExportError(.exists, path: target, reason: "a different file is already there; not overwritten")
    }
}
