import SiloMergeCore

/// The plan workflow asks which copies hold unverified content (open corruption).
extension SQLiteCatalogue: UnverifiedCopySource {}
