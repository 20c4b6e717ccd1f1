package dev.weft.security;

import java.security.cert.CertificateException;
import java.util.Optional;
import javax.net.ssl.SSLException;

/**
 * weft's own verdict on a coordinator's certificate, with a message the user can act on. It travels
 * inside the TLS handshake failure; {@link #describe} digs it out again.
 */
public final class CertificateRejectedException extends CertificateException {
  private static final long serialVersionUID = 1L;

  public CertificateRejectedException(String message) {
    super(message);
  }

  public CertificateRejectedException(String message, Throwable cause) {
    super(message, cause);
  }

  /** weft's verdict somewhere in {@code failure}'s causes, if there is one. */
  public static Optional<CertificateRejectedException> in(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof CertificateRejectedException rejected) {
        return Optional.of(rejected);
      }
    }
    return Optional.empty();
  }

  /**
   * What went wrong in a TLS handshake somewhere in {@code failure}'s causes: weft's verdict when
   * there is one, else the TLS layer's own message; empty when TLS was not the problem.
   */
  public static Optional<String> describe(Throwable failure) {
    String tls = null;
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof CertificateRejectedException rejected) {
        return Optional.of(rejected.getMessage());
      }
      if (tls == null && (t instanceof SSLException || t instanceof CertificateException)) {
        tls = t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
      }
    }
    return Optional.ofNullable(tls).map(message -> "TLS handshake failed: " + message);
  }
}
