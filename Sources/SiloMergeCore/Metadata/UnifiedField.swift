/// The fields SiloMerge reconciles across copies, whatever source they came from.
public enum UnifiedField: String, Sendable, Codable, CaseIterable, Comparable {
    case title, description, keywords, creator, rights
    case dateCreated = "date_created"
    case city, state, country, gps, rating, make, model, width, height, orientation, format

    /// Fields holding a list of values (merged item by item).
    public var isList: Bool { self == .keywords || self == .creator }

    public static func < (a: UnifiedField, b: UnifiedField) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// How the values of one field are reconciled across the copies of one content.
public enum ReconcilePolicy: String, Sendable, Codable, CaseIterable {
    /// Every value, normalised and de-duplicated case-insensitively (keywords, creators).
    case union
    /// The value from the silo with the best priority.
    case priority
    /// The value whose source is newest / oldest.
    case newest, oldest
    /// The longest text; a value that is a truncated prefix of another loses to it.
    case longest
    /// Kept only when every copy agrees; otherwise left empty as a conflict.
    case agree
    /// Never merged silently: differing values are a conflict for a person to resolve.
    case conflict
}
