/// The fields SiloMerge reconciles across copies, whatever source they came from.
public enum UnifiedField: String, Sendable, Codable, CaseIterable, Comparable {
    case title, description, keywords, creator, rights
    case dateCreated = "date_created"
    case city, state, country, gps, rating, make, model, width, height, orientation, format

    /// Fields holding a list of values (merged item by item).
    public var isList: Bool { self == .keywords || self == .creator }

    public static func < (a: UnifiedField, b: UnifiedField) -> Bool { a.index < b.index }

    /// The field's position in `allCases`: per-field tables are arrays indexed by it, not
    /// dictionaries hashed per value.
    public var index: Int {
        switch self {
        case .title: 0
        case .description: 1
        case .keywords: 2
        case .creator: 3
        case .rights: 4
        case .dateCreated: 5
        case .city: 6
        case .state: 7
        case .country: 8
        case .gps: 9
        case .rating: 10
        case .make: 11
        case .model: 12
        case .width: 13
        case .height: 14
        case .orientation: 15
        case .format: 16
        }
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
