import NIOSSL
import PostgresNIO

/// How a connection's `sslmode` maps onto PostgresNIO's TLS modes (`.disable`, `.prefer`,
/// `.require`) and NIOSSL's certificate checks, following libpq:
///
/// | sslmode     | first attempt       | then                   | certificate check                      |
/// |-------------|---------------------|------------------------|----------------------------------------|
/// | disable     | plain               | —                      | —                                      |
/// | allow       | plain               | TLS if the server asks | chain, when a root certificate exists  |
/// | prefer      | TLS if offered      | —                      | chain, when a root certificate exists  |
/// | require     | TLS                 | —                      | chain, when a root certificate exists  |
/// | verify-ca   | TLS                 | —                      | chain to sslrootcert                   |
/// | verify-full | TLS                 | —                      | chain to sslrootcert, and the host name|
///
/// libpq checks the chain whenever a root certificate file exists (`sslrootcert`, or
/// `~/.postgresql/root.crt`), whatever the mode; so does SiloMerge. A Unix-domain socket never
/// uses TLS (libpq: sslmode does not apply to it). TLS versions default to TLSv1.2 and up, as
/// libpq's `ssl_min_protocol_version`.
struct TLSPlan {
    var first: PostgresConnection.Configuration.TLS
    /// For `allow`: the TLS attempt made when the server refuses the plain one.
    var retry: PostgresConnection.Configuration.TLS?
    /// The name checked against the certificate (verify-full) and sent as SNI.
    var serverName: String?

    static func make(for settings: ConnectionSettings) throws(PostgresClientError) -> TLSPlan {
        guard case .tcp(let host, _) = settings.endpoint else { return TLSPlan(first: .disable, retry: nil, serverName: nil) }
        func context(verifyHost: Bool) throws(PostgresClientError) -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = nioVersion(settings.sslMinProtocolVersion.flatMap(TLSVersion.init) ?? .v1_2)
            configuration.maximumTLSVersion = settings.sslMaxProtocolVersion.flatMap(TLSVersion.init).map(nioVersion)
            switch settings.sslRootCert {
            case nil:
                configuration.certificateVerification = .none
            case "system"?:
                configuration.trustRoots = .default
                configuration.certificateVerification = verifyHost ? .fullVerification : .noHostnameVerification
            case let file?:
                configuration.trustRoots = .file(file)
                configuration.certificateVerification = verifyHost ? .fullVerification : .noHostnameVerification
            }
            do {
                return try NIOSSLContext(configuration: configuration)
            } catch {
                throw PostgresClientError(.invalidSettings,
                    "cannot use the root certificate \"\(settings.sslRootCert ?? "")\" for \(settings.display): \(error)",
                    server: settings.display)
            }
        }
        switch settings.sslMode {
        case .disable:
            return TLSPlan(first: .disable, retry: nil, serverName: nil)
        case .allow:
            return TLSPlan(first: .disable, retry: .require(try context(verifyHost: false)), serverName: nil)
        case .prefer:
            return TLSPlan(first: .prefer(try context(verifyHost: false)), retry: nil, serverName: nil)
        case .require, .verifyCA:
            return TLSPlan(first: .require(try context(verifyHost: false)), retry: nil, serverName: nil)
        case .verifyFull:
            return TLSPlan(first: .require(try context(verifyHost: true)), retry: nil, serverName: isIPAddress(host) ? nil : host)
        }
    }

    private static func nioVersion(_ version: TLSVersion) -> NIOSSL.TLSVersion {
        switch version { case .v1_0: .tlsv1; case .v1_1: .tlsv11; case .v1_2: .tlsv12; case .v1_3: .tlsv13 }
    }

    static func isIPAddress(_ host: String) -> Bool {
        (try? SocketAddress(ipAddress: host, port: 0)) != nil
    }
}
