/// What a file's structure says about it: its format, and its width and height with the
/// group of the tag they were read from ("File" for a JPEG's frame header, "IFD0" or "SubIFD"
/// for a TIFF's directories, "Track" for a video's track header...). The readers give them as
/// values of origin `.header`, chosen before any other for those fields (`InFileReconciler`).
///
/// The catalogue does not keep them as `metadata` rows (since SQLite schema v15-header-facts
/// and PostgreSQL schema 4): the file's own columns (`format`, `width`, `height`,
/// `dimensions_group`) hold the same facts, and three rows per picture were a third of a
/// photo collection's rows, and most of what writing them cost. Readers of the catalogue
/// give them back as values (`values(...)`, placed by `insert`), exactly as the rows read:
/// first among the file's own values, chosen (`preferred`), with the file's modification time.
public enum HeaderFacts {
    /// The tags of the facts (ExifTool's names).
    public static let formatTag = "File:FileType"
    public static func widthTag(_ group: String) -> String { group + ":ImageWidth" }
    public static func heightTag(_ group: String) -> String { group + ":ImageHeight" }
}
