package dev.weft.security;

import io.grpc.ChannelCredentials;
import io.grpc.CompositeChannelCredentials;
import io.grpc.InsecureChannelCredentials;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Optional;
import javax.net.ssl.SSLException;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How a worker or client connects to its coordinator: in plain text (a coordinator on loopback), or
 * over TLS checked against a join token's pin and/or {@code --tls-ca} certificates, with the
 * token's secret on every call and optionally a client certificate. Fluent setters; {@link
 * #conclude()} reads the files and checks the combination, with messages that name the options.
 */
public final class ClientSecurity {
  private String token;
  private Path caFile;
  private Path certFile;
  private Path keyFile;
  private String serverName;
  private JoinToken joinToken;
  private ChannelCredentials credentials;

  /** The join token ({@code --token} or {@code WEFT_TOKEN}); null or blank for none. */
  public ClientSecurity token(String value) {
    this.token = value;
    return this;
  }

  /** Certificates to check the coordinator's against ({@code --tls-ca}); null for none. */
  public ClientSecurity caFile(Path value) {
    this.caFile = value;
    return this;
  }

  /** A client certificate chain ({@code --tls-cert}) for a coordinator that asks for one. */
  public ClientSecurity certFile(Path value) {
    this.certFile = value;
    return this;
  }

  /** The private key of {@link #certFile} ({@code --tls-key}). */
  public ClientSecurity keyFile(Path value) {
    this.keyFile = value;
    return this;
  }

  /**
   * The name to check in the coordinator's certificate instead of the host joined ({@code
   * --tls-server-name}); null or blank for the host.
   */
  public ClientSecurity serverName(String value) {
    this.serverName = value == null || value.isBlank() ? null : value.strip();
    return this;
  }

  /** Parses the token, reads the files and builds the credentials; returns this. */
  public ClientSecurity conclude() {
    if (credentials != null) {
      return this;
    }
    try {
      joinToken = token == null || token.isBlank() ? null : JoinToken.parse(token);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--token: " + e.getMessage(), e);
    }
    if ((certFile == null) != (keyFile == null)) {
      throw new IllegalArgumentException(
          certFile == null
              ? "--tls-key needs --tls-cert, the certificate that goes with it"
              : "--tls-cert needs --tls-key, the certificate's private key");
    }
    if (joinToken == null && caFile == null) {
      if (certFile != null) {
        throw new IllegalArgumentException(
            "--tls-cert needs --token or --tls-ca: something to check the coordinator's"
                + " certificate against");
      }
      if (serverName != null) {
        throw new IllegalArgumentException(
            "--tls-server-name needs --token or --tls-ca (it is a TLS setting)");
      }
      credentials = InsecureChannelCredentials.create();
      return this;
    }
    X509ExtendedTrustManager caTrust =
        caFile == null ? null : KeyMaterial.trustManager(option("--tls-ca", caFile));
    TlsChannelCredentials.Builder tls =
        TlsChannelCredentials.newBuilder()
            .trustManager(
                new CoordinatorTrustManager(
                    joinToken == null ? null : joinToken.fingerprint(), caTrust));
    if (certFile != null) {
      List<X509Certificate> chain = option("--tls-cert", certFile);
      PrivateKey key;
      try {
        key = Pem.readPrivateKey(keyFile);
        Pem.checkKeyPair(key, chain.getFirst(), keyFile);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("--tls-key: " + e.getMessage(), e);
      }
      tls.keyManager(KeyMaterial.keyManagers(key, chain));
    }
    credentials =
        joinToken == null
            ? tls.build()
            : CompositeChannelCredentials.create(tls.build(), new TokenCallCredentials(joinToken));
    return this;
  }

  private static List<X509Certificate> option(String name, Path file) {
    try {
      return Pem.readCertificates(file);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(name + ": " + e.getMessage(), e);
    }
  }

  /** Whether {@code other} was given the same token, files and server name. */
  public boolean sameSettings(ClientSecurity other) {
    return other != null
        && java.util.Objects.equals(token, other.token)
        && java.util.Objects.equals(caFile, other.caFile)
        && java.util.Objects.equals(certFile, other.certFile)
        && java.util.Objects.equals(keyFile, other.keyFile)
        && java.util.Objects.equals(serverName, other.serverName);
  }

  /** The credentials for a channel to the coordinator. */
  public ChannelCredentials credentials() {
    conclude();
    return credentials;
  }

  /** True when connections use TLS. */
  public boolean tls() {
    conclude();
    return !(credentials instanceof InsecureChannelCredentials);
  }

  /** True when calls carry a join token. */
  public boolean hasToken() {
    conclude();
    return joinToken != null;
  }

  /** The name to check in the coordinator's certificate, or null for the host joined. */
  public String serverName() {
    return serverName;
  }

  /**
   * What to do about a connection that failed because these settings do not match the
   * coordinator's: TLS against a plain-text coordinator (the handshake meets HTTP/2 bytes), or
   * plain text against a TLS one (it hangs up). Empty for every other failure.
   */
  public Optional<String> mismatch(Status status) {
    if (status.getCode() != Status.Code.UNAVAILABLE) {
      return Optional.empty();
    }
    if (tls()) {
      for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
        if (t instanceof SSLException && String.valueOf(t.getMessage()).startsWith("not an SSL")) {
          return Optional.of(
              "it does not speak TLS: it was started with --insecure; for it, leave out --token"
                  + " (and WEFT_TOKEN)");
        }
      }
      return Optional.empty();
    }
    if (hungUp(status)) {
      return Optional.of(
          "it hung up; it uses TLS, as every coordinator does unless started with --insecure: pass"
              + " a token with --token or WEFT_TOKEN (a client token from `weft token create` on its"
              + " host; this user's own coordinators on this host are found without one)");
    }
    return Optional.empty();
  }

  /**
   * A TLS server closes a plain-text connection after its first bytes: the client sees the close
   * (FIN), or a reset when the server closed with our later bytes still unread.
   */
  private static boolean hungUp(Status status) {
    String description = String.valueOf(status.getDescription());
    if (description.contains("Network closed") || description.contains("Connection closed")) {
      return true;
    }
    for (Throwable t = status.getCause(); t != null; t = t.getCause()) {
      if (t instanceof java.io.IOException
          && String.valueOf(t.getMessage()).contains("Connection reset")) {
        return true;
      }
    }
    return false;
  }
}
