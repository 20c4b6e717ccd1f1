package dev.weft.coordinator.security;

import dev.weft.local.HostIdentity;
import dev.weft.security.CertificateFingerprint;
import dev.weft.security.JoinToken;
import dev.weft.security.KeyMaterial;
import dev.weft.security.Pem;
import io.grpc.InsecureServerCredentials;
import io.grpc.ServerBuilder;
import io.grpc.ServerCredentials;
import io.grpc.TlsServerCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;

/**
 * A coordinator's transport security, ready for its server: the TLS credentials, the interceptor
 * that checks join tokens and client certificates, and the tokens to hand out. {@link #prepare}
 * makes (first start) or loads the CA, server certificate and secret under the data directory.
 */
public final class ServerSecurity {
  private static final System.Logger LOG = System.getLogger(ServerSecurity.class.getName());

  private final SecurityConfig config;
  private final SecurityFiles files;
  private final ServerCredentials credentials;
  private final io.grpc.ServerInterceptor interceptor;
  // Null when callers are not told apart by client tokens.
  private final ClientTokens clients;
  private final byte[] fingerprint;
  private final SecretFile secret;
  private final byte[] localSecret;
  private final SubjectNames names;
  private final String description;
  // The server certificate's key material, for the HTTP port; null in plain text.
  private final KeyManager[] keyManagers;

  private ServerSecurity(
      SecurityConfig config,
      SecurityFiles files,
      ServerCredentials credentials,
      byte[] fingerprint,
      SecretFile secret,
      SubjectNames names,
      String description,
      KeyManager[] keyManagers) {
    this.keyManagers = keyManagers;
    this.config = config;
    this.files = files;
    this.credentials = credentials;
    this.fingerprint = fingerprint;
    this.secret = secret;
    this.names = names;
    this.description = description;
    this.localSecret = JoinToken.newSecret();
    this.clients =
        credentials instanceof TlsServerCredentials && secret != null
            ? new ClientTokens(files.clients())
            : null;
    this.interceptor =
        credentials instanceof TlsServerCredentials
            ? new AuthInterceptor(
                secret,
                secret == null ? null : new RevokedSecrets(files.revoked()),
                clients,
                localSecret,
                config.clientCaFile() != null)
            : AuthInterceptor.open();
  }

  /** Plain text, no checks: a coordinator on loopback, or one started with --insecure. */
  public static ServerSecurity plaintext(SecurityConfig config) {
    return new ServerSecurity(
        config,
        null,
        InsecureServerCredentials.create(),
        null,
        null,
        null,
        config.insecure() && !config.loopback()
            ? "plain text, no authentication (--insecure)"
            : "plain text",
        null);
  }

  /**
   * Loads or makes what {@code config} (concluded for {@code host}) needs under {@code dataDir}.
   * Bad files fail with an {@link IllegalArgumentException} that names them.
   */
  public static ServerSecurity prepare(SecurityConfig config, Path dataDir, String host)
      throws IOException {
    if (!config.secure()) {
      return plaintext(config);
    }
    if (dataDir == null) {
      throw new IllegalArgumentException(
          "a coordinator with TLS keeps its keys in its data directory: set one");
    }
    SecurityFiles files = new SecurityFiles(dataDir);
    files.create();
    List<X509Certificate> chain;
    PrivateKey key;
    SecretFile secret = null;
    SubjectNames names;
    String description;
    try (SecurityFiles.Lock _ = files.lock()) {
      if (config.certFile() != null) {
        chain = option("--tls-cert", () -> Pem.readCertificates(config.certFile()));
        key = option("--tls-key", () -> Pem.readPrivateKey(config.keyFile()));
        option(
            "--tls-key",
            () -> {
              Pem.checkKeyPair(key, chain.getFirst(), config.keyFile());
              return null;
            });
        names = SubjectNames.of(chain.getFirst());
        description = "TLS with the certificate in " + config.certFile();
      } else {
        CertificateAuthority ca = loadOrCreateCa(files);
        CertificateAuthority.IssuedCertificate server =
            loadOrIssueServer(files, ca, SubjectNames.forListenHost(host, config.extraNames()));
        chain = List.of(server.certificate(), ca.certificate());
        key = server.key();
        names = SubjectNames.of(server.certificate());
        description = "TLS with its own CA (" + files.dir() + ")";
      }
      if (config.tokenRequired()) {
        if (!Files.exists(files.secret())) {
          SecretFile.writeNew(files);
        }
        warnIfShared(files.secret());
        secret = new SecretFile(files.secret());
        secret.current(); // a damaged file fails the start, not the first call
        ClientTokens.ensureAdmin(files, CertificateFingerprint.sha256(chain.getLast()));
      }
    } catch (GeneralSecurityException e) {
      throw new IOException("cannot make the coordinator's certificates: " + e.getMessage(), e);
    }
    KeyManager[] keyManagers = KeyMaterial.keyManagers(key, chain);
    TlsServerCredentials.Builder tls = TlsServerCredentials.newBuilder().keyManager(keyManagers);
    if (config.clientCaFile() != null) {
      List<X509Certificate> clientCas =
          option("--tls-client-ca", () -> Pem.readCertificates(config.clientCaFile()));
      // OPTIONAL, not REQUIRE: a presented certificate is still verified in the handshake, and a
      // missing one is refused by the interceptor with a message (a failed handshake says little),
      // while health probes and the coordinator's local workers get in without one.
      tls.trustManager(KeyMaterial.trustManager(clientCas))
          .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL);
      description += "; client certificates from " + config.clientCaFile() + " required";
    }
    description += config.tokenRequired() ? "; join token required" : "";
    return new ServerSecurity(
        config,
        files,
        tls.build(),
        CertificateFingerprint.sha256(chain.getLast()),
        secret,
        names,
        description,
        keyManagers);
  }

  private static CertificateAuthority loadOrCreateCa(SecurityFiles files)
      throws IOException, GeneralSecurityException {
    boolean haveCert = Files.exists(files.caCert());
    boolean haveKey = Files.exists(files.caKey());
    if (haveCert != haveKey) {
      throw new IllegalArgumentException(
          files.dir()
              + " holds "
              + (haveCert ? "ca.pem but no ca.key" : "ca.key but no ca.pem")
              + "; restore the missing file, or remove both to make a new CA (every join token"
              + " changes)");
    }
    Instant now = Instant.now();
    if (haveCert) {
      X509Certificate certificate = Pem.readCertificates(files.caCert()).getFirst();
      PrivateKey key = Pem.readPrivateKey(files.caKey());
      Pem.checkKeyPair(key, certificate, files.caKey());
      warnIfShared(files.caKey());
      if (certificate.getNotAfter().toInstant().isAfter(now)) {
        return new CertificateAuthority(certificate, key);
      }
      LOG.log(
          System.Logger.Level.WARNING,
          "the coordinator''s CA in {0} expired on {1}; making a new one: every join token changes",
          files.caCert(),
          certificate.getNotAfter().toInstant());
    }
    CertificateAuthority ca = CertificateAuthority.create(now);
    files.write(files.caKey(), Pem.encode(ca.key()));
    files.write(files.caCert(), Pem.encode(List.of(ca.certificate())));
    LOG.log(System.Logger.Level.INFO, "made a new certificate authority in {0}", files.dir());
    return ca;
  }

  /** The stored server certificate, or a new one when the names, the CA or the time moved on. */
  private static CertificateAuthority.IssuedCertificate loadOrIssueServer(
      SecurityFiles files, CertificateAuthority ca, SubjectNames names)
      throws IOException, GeneralSecurityException {
    Instant now = Instant.now();
    if (Files.exists(files.serverCert()) && Files.exists(files.serverKey())) {
      X509Certificate certificate = Pem.readCertificates(files.serverCert()).getFirst();
      PrivateKey key = Pem.readPrivateKey(files.serverKey());
      boolean current =
          ca.signed(certificate)
              && SubjectNames.of(certificate).equals(names)
              && certificate.getNotAfter().toInstant().isAfter(now);
      if (current) {
        Pem.checkKeyPair(key, certificate, files.serverKey());
        return new CertificateAuthority.IssuedCertificate(certificate, key);
      }
    }
    CertificateAuthority.IssuedCertificate issued = ca.issueServer(names, now);
    files.write(files.serverKey(), Pem.encode(issued.key()));
    files.write(files.serverCert(), Pem.encode(List.of(issued.certificate())));
    LOG.log(System.Logger.Level.INFO, "made a server certificate for {0}", names);
    return issued;
  }

  private static void warnIfShared(Path file) {
    if (SecurityFiles.readableByOthers(file)) {
      LOG.log(
          System.Logger.Level.WARNING,
          "{0} is readable by other users; make it private: chmod 600 {0}",
          file);
    }
  }

  private interface Reader<T> {
    T read();
  }

  /** Runs {@code reader}, prefixing a failure's message with the option that named the file. */
  private static <T> T option(String name, Reader<T> reader) {
    try {
      return reader.read();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
  }

  /** For the server builder: plain text or TLS. */
  public ServerCredentials credentials() {
    return credentials;
  }

  /**
   * Adds the door to {@code builder}: who is calling, and whether it may (in plain text everyone is
   * {@link Caller#ANONYMOUS}).
   */
  public void intercept(ServerBuilder<?> builder) {
    builder.intercept(interceptor);
  }

  /** The web dashboard's logins, judged against this coordinator's client tokens. */
  public DashboardSessions dashboardSessions(LongSupplier nanos) {
    return new DashboardSessions(clients, nanos);
  }

  /**
   * Adds the HTTP port's door to {@code builder}: a dashboard session of {@code sessions} acts as
   * its caller; anything else meets the door {@link #intercept} adds.
   */
  public void interceptForHttp(ServerBuilder<?> builder, DashboardSessions sessions) {
    builder.intercept(sessions.door(interceptor));
  }

  /**
   * For a call being handled now: whether the join secret it was let in with has since been revoked
   * ({@code weft token rotate --detach-workers}). Always false for a call let in otherwise (this
   * run's local workers, client certificates alone, plain text).
   */
  public static BooleanSupplier revocationOfThisCall() {
    AuthInterceptor.JoinedWith joined = AuthInterceptor.JOINED_WITH.get();
    return joined == null ? () -> false : joined::isRevoked;
  }

  /**
   * TLS for the HTTP port with the certificate gRPC serves; empty in plain text. Client
   * certificates are not asked for there: HTTP callers present a client token.
   */
  public Optional<SSLContext> httpsContext() throws GeneralSecurityException {
    if (keyManagers == null) {
      return Optional.empty();
    }
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(keyManagers, null, null);
    return Optional.of(context);
  }

  public boolean tls() {
    return credentials instanceof TlsServerCredentials;
  }

  /** Whether callers need a client certificate (mutual TLS). */
  public boolean clientCertificates() {
    return tls() && config.clientCaFile() != null;
  }

  /** A line for the coordinator's banner: "plain text", "TLS with its own CA (...)", ... */
  public String description() {
    return description;
  }

  /** The join token to hand out now; empty in plain text or when calls need no token. */
  public Optional<String> joinToken() throws IOException {
    if (secret == null) {
      return Optional.empty();
    }
    return Optional.of(JoinToken.of(fingerprint, secret.current()).text());
  }

  /**
   * The admin client token of the coordinator's own user ({@code security/admin-token}); empty in
   * plain text or when calls need no token.
   */
  public Optional<String> adminToken() throws IOException {
    if (secret == null) {
      return Optional.empty();
    }
    return Optional.of(Files.readString(files.adminToken()).strip());
  }

  /** The data directory's security files, for the local registry; null in plain text. */
  Path securityDir() {
    return files == null ? null : files.dir();
  }

  /**
   * The token for the workers this coordinator starts itself: pins the same certificate and carries
   * a secret of this run, so they join whatever the mode and however often the public token is
   * rotated. Empty in plain text.
   */
  public Optional<String> localToken() {
    return tls() ? Optional.of(JoinToken.of(fingerprint, localSecret).text()) : Optional.empty();
  }

  /**
   * The name local workers that join {@code host} should check in our certificate, when {@code
   * host} is not one it covers (a certificate of the user's made for a DNS name); null otherwise.
   */
  public String serverNameFor(String host) {
    if (!tls() || names.covers(host)) {
      return null;
    }
    return names.first();
  }

  /**
   * Records where workers join this coordinator, for {@code weft token show}; {@code listenHost}
   * {@code 0.0.0.0} or {@code ::} becomes the host name.
   */
  public void published(String listenHost, int port) throws IOException {
    if (!tls()) {
      return;
    }
    String host =
        switch (listenHost) {
          case "0.0.0.0", "::", "[::]", "" -> HostIdentity.localHostname();
          default -> listenHost;
        };
    String address = (host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host);
    new JoinRecord(
            address + ":" + port,
            fingerprint,
            config.tokenRequired(),
            config.clientCaFile() != null)
        .write(files);
  }
}
