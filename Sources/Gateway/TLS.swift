import GatewayConfig
import NIOCore
import NIOSSL

/// `server.tls`: wss:// with a PEM certificate chain and key.
enum TLS {
    /// Loads the certificate chain and key; TLS 1.2 and newer.
    static func makeContext(_ settings: TLSSettings) throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(settings.certificatePath)
        } catch {
            throw GatewayError(
                "server.tls.certificate: cannot read a PEM certificate from \(settings.certificatePath) (\(error))")
        }
        guard !chain.isEmpty else {
            throw GatewayError(
                "server.tls.certificate: \(settings.certificatePath) holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: settings.privateKeyPath, format: .pem)
        } catch {
            throw GatewayError(
                "server.tls.private_key: cannot read a PEM private key from \(settings.privateKeyPath) (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            return try NIOSSLContext(configuration: configuration)
        } catch {
            throw GatewayError(
                "server.tls: the certificate and key do not make a usable TLS setup (\(error))")
        }
    }

    /// Puts a TLS server handler first in a new connection's pipeline.
    static func addHandler(_ context: NIOSSLContext, to channel: any Channel) throws {
        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
    }
}
