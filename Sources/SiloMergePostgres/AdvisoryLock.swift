import PostgresNIO

/// A session-level PostgreSQL advisory lock, named by a string (e.g. `scan:<silo id>`).
///
/// The server holds it for the session until it is released or the session ends, including
/// when the client dies and its connection drops: no stale lock file to clean up.
public struct AdvisoryLockKey: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// The 64-bit key: FNV-1a 64 of `"silomerge:" + name` in UTF-8, as a signed integer. Stable
    /// across hosts, builds and versions (a test pins known values): every SiloMerge computes
    /// the same key for the same name.
    public let key: Int64

    public init(_ name: String) {
        self.name = name
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in "silomerge:".utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        for b in name.utf8 { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        key = Int64(bitPattern: hash)
    }

    public var description: String { "advisory lock \"\(name)\" (key \(key))" }
}

/// Who holds an advisory lock, as far as the server lets us see.
public struct AdvisoryLockHolder: Sendable, Equatable, CustomStringConvertible {
    /// The holder's `silomerge <host> <pid>`, when it is a SiloMerge session and visible to us.
    public var client: ClientIdentity?
    /// Its `application_name` as the server has it (nil when hidden from our role).
    public var applicationName: String?
    /// The server process serving it.
    public var backendPID: Int32
    /// Its address (nil for a Unix socket or when hidden).
    public var clientAddress: String?
    /// When its session started, as the server prints it.
    public var since: String?

    public var description: String {
        var text: String
        if let client { text = "SiloMerge on host \(client.host), pid \(client.pid)" }
        else if let applicationName, !applicationName.isEmpty { text = "\"\(applicationName)\"" }
        else { text = "another session" }
        text += " (server process \(backendPID)"
        if let clientAddress { text += ", from \(clientAddress)" }
        if let since { text += ", connected since \(since)" }
        return text + ")"
    }
}

/// What `tryAdvisoryLock` found.
public enum AdvisoryLockOutcome: Sendable, Equatable {
    /// This session holds the lock now.
    case acquired
    /// Another session holds it; nil when it let go between the attempt and the look-up.
    case held(by: AdvisoryLockHolder?)
}

extension PostgresSession {
    /// Takes the lock if it is free (`pg_try_advisory_lock`), or says who holds it. Session-level
    /// locks stack: a session taking a lock it already holds succeeds, and must release it as
    /// many times.
    public func tryAdvisoryLock(_ key: AdvisoryLockKey) throws(PostgresClientError) -> AdvisoryLockOutcome {
        let rows = try query("SELECT pg_try_advisory_lock(\(key.key))", as: Bool.self)
        if rows.first == true { return .acquired }
        return .held(by: try advisoryLockHolder(key))
    }

    /// Takes the lock or throws `.lockHeld` at once, naming the holder: "PURPOSE is already under
    /// way: advisory lock "NAME" ... is held by SiloMerge on host H, pid P (...)".
    public func advisoryLock(_ key: AdvisoryLockKey, purpose: String) throws(PostgresClientError) {
        guard case .held(let holder) = try tryAdvisoryLock(key) else { return }
        throw PostgresClientError(.lockHeld,
                            "\(purpose) is already under way: \(key) on \(settings.display) is held by \(holder.map { "\($0)" } ?? "another session")",
                            server: settings.display)
    }

    /// Releases a lock this session holds; false when it held none.
    @discardableResult
    public func advisoryUnlock(_ key: AdvisoryLockKey) throws(PostgresClientError) -> Bool {
        try query("SELECT pg_advisory_unlock(\(key.key))", as: Bool.self).first == true
    }

    /// The session holding `key` in this database, if any.
    public func advisoryLockHolder(_ key: AdvisoryLockKey) throws(PostgresClientError) -> AdvisoryLockHolder? {
        // A bigint key is stored as classid (high 32 bits), objid (low 32 bits), objsubid 1.
        let high = Int64(UInt32(truncatingIfNeeded: UInt64(bitPattern: key.key) >> 32))
        let low = Int64(UInt32(truncatingIfNeeded: UInt64(bitPattern: key.key)))
        let rows = try query("""
            SELECT l.pid, a.application_name, host(a.client_addr), to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ')
            FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
              AND l.classid::bigint = \(high) AND l.objid::bigint = \(low)
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            LIMIT 1
            """, as: (Int32, String?, String?, String?).self)
        guard let (pid, application, address, since) = rows.first else { return nil }
        return AdvisoryLockHolder(client: application.flatMap(ClientIdentity.parse(applicationName:)),
                                  applicationName: application, backendPID: pid, clientAddress: address, since: since)
    }
}
