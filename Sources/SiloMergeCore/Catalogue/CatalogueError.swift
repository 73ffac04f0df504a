import Foundation

/// Errors of the catalogue stage: the catalogue (an SQLite file, or a PostgreSQL database) cannot
/// be opened, is not a catalogue, was written by a newer SiloMerge, or a query failed.
public enum CatalogueError: Error, CustomStringConvertible, Sendable {
    case cannotOpen(path: String, reason: String)
    /// Nothing to open there: no such file, or no SiloMerge catalogue in the database
    /// (`what` says which). Commands that read a catalogue someone names (`catalogue merge`,
    /// `copy`) word their own advice from it; the others advise a first scan.
    case missing(path: String, what: String)
    case notACatalogue(path: String, reason: String)
    case newerSchema(path: String, unknown: [String])
    case olderSchema(path: String, missing: [String])
    case locked(path: String, holder: String)
    /// A query or a write failed (`catalogue`: the file's path or the server's URL, never a password).
    case failed(catalogue: String, operation: String, reason: String)
    case unknownSilo(String)
    case siloRootTaken(root: String, existing: String, requested: String)
    case empty(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason):
            "cannot open the catalogue \(path): \(reason)"
        case .missing(let path, let what):
            "cannot open the catalogue \(path): \(what); run `silomerge scan` or `silomerge audit` first, or pass --catalog"
        case .notACatalogue(let path, let reason):
            "\(path) is not a SiloMerge catalogue: \(reason)"
        case .newerSchema(let path, let unknown):
            "the catalogue \(path) was written by a newer SiloMerge (schema \(unknown.joined(separator: ", "))); upgrade silomerge to use it"
        case .olderSchema(let path, let missing):
            "the catalogue \(path) was written by an older SiloMerge (it lacks \(missing.joined(separator: ", "))) and this command only reads; run `silomerge scan` to upgrade it"
        case .locked(let path, let holder):
            "the catalogue \(path) is in use by another silomerge (\(holder)); wait for it to finish"
        case .failed(let path, let operation, let reason):
            "catalogue \(path): \(operation) failed: \(reason)"
        case .unknownSilo(let name):
            "no silo named '\(name)' in the catalogue"
        case .siloRootTaken(let root, let existing, let requested):
            "the folder \(root) is already catalogued as silo '\(existing)'; scan it under that name, or remove '\(existing)' first (silomerge silos remove \(existing)) before adding it as '\(requested)'"
        case .empty(let path):
            "the catalogue \(path) holds no silos yet; scan some first (silomerge scan NAME=PATH ...)"
        }
    }
}
