package dev.weft.security;

import java.net.Socket;
import java.security.cert.CertificateException;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * How clients and workers check a coordinator. With a join token's pin: the chain must contain the
 * pinned certificate, and is validated (validity, signatures, the host name) with that certificate
 * as the only anchor; the coordinator sends its own CA in the handshake, and the token says which
 * CA that must be. With {@code --tls-ca} certificates: the chain must validate against those. With
 * both, both. No system trust store takes part. Failures are {@link CertificateRejectedException}s
 * that say what to do.
 */
public final class CoordinatorTrustManager extends X509ExtendedTrustManager {
  private static final String HOW_TO_FIX =
      "get the current join token from the coordinator's output or `weft token show --data-dir DIR`"
          + " on its host";

  private final byte[] pin;
  private final X509ExtendedTrustManager alsoRequired;

  /**
   * @param pin the SHA-256 of the certificate to anchor at; null for none
   * @param alsoRequired trust the chain must satisfy as well (or alone); null for none
   */
  public CoordinatorTrustManager(byte[] pin, X509ExtendedTrustManager alsoRequired) {
    if (pin == null && alsoRequired == null) {
      throw new IllegalArgumentException("nothing to check the coordinator's certificate against");
    }
    if (pin != null && pin.length != JoinToken.FINGERPRINT_BYTES) {
      throw new IllegalArgumentException("a pin is a SHA-256, 32 bytes; got " + pin.length);
    }
    this.pin = pin == null ? null : pin.clone();
    this.alsoRequired = alsoRequired;
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    X509ExtendedTrustManager anchored = anchoredAt(chain);
    try {
      if (anchored != null) {
        anchored.checkServerTrusted(chain, authType, engine);
      }
      if (alsoRequired != null) {
        alsoRequired.checkServerTrusted(chain, authType, engine);
      }
    } catch (CertificateException e) {
      throw rejected(e, engine == null ? null : engine.getPeerHost());
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    X509ExtendedTrustManager anchored = anchoredAt(chain);
    try {
      if (anchored != null) {
        anchored.checkServerTrusted(chain, authType, socket);
      }
      if (alsoRequired != null) {
        alsoRequired.checkServerTrusted(chain, authType, socket);
      }
    } catch (CertificateException e) {
      throw rejected(e, null);
    }
  }

  @Override
  public void checkServerTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    X509ExtendedTrustManager anchored = anchoredAt(chain);
    try {
      if (anchored != null) {
        anchored.checkServerTrusted(chain, authType);
      }
      if (alsoRequired != null) {
        alsoRequired.checkServerTrusted(chain, authType);
      }
    } catch (CertificateException e) {
      throw rejected(e, null);
    }
  }

  /** A trust manager anchored at the pinned certificate in {@code chain}; null without a pin. */
  private X509ExtendedTrustManager anchoredAt(X509Certificate[] chain)
      throws CertificateRejectedException {
    if (chain == null || chain.length == 0) {
      throw new CertificateRejectedException("the coordinator presented no certificate");
    }
    if (pin == null) {
      return null;
    }
    for (X509Certificate certificate : chain) {
      if (Arrays.equals(CertificateFingerprint.sha256(certificate), pin)) {
        return KeyMaterial.trustManager(List.of(certificate));
      }
    }
    X509Certificate top = chain[chain.length - 1];
    throw new CertificateRejectedException(
        "the coordinator's certificate does not match the join token: the token expects a"
            + " certificate authority with SHA-256 fingerprint "
            + HexFormat.of().formatHex(pin)
            + ", the coordinator presented "
            + CertificateFingerprint.sha256Hex(top)
            + " ("
            + CertificateFingerprint.subject(top)
            + "); the token belongs to another coordinator, or this one's keys were replaced; "
            + HOW_TO_FIX);
  }

  private static CertificateRejectedException rejected(CertificateException e, String host) {
    if (e instanceof CertificateRejectedException already) {
      return already;
    }
    return new CertificateRejectedException(
        "the coordinator's certificate was rejected"
            + (host == null ? "" : " for " + host)
            + ": "
            + e.getMessage()
            + (isNameMismatch(e)
                ? "; join it by a name or address its certificate covers (the coordinator's"
                    + " --tls-san adds names to a certificate it made itself), or give the name"
                    + " to check with --tls-server-name"
                : ""),
        e);
  }

  private static boolean isNameMismatch(CertificateException e) {
    String message = String.valueOf(e.getMessage());
    return message.contains("subject alternative") || message.contains("No name matching");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
      throws CertificateException {
    throw new CertificateException("this trust manager checks coordinators, not clients");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
      throws CertificateException {
    throw new CertificateException("this trust manager checks coordinators, not clients");
  }

  @Override
  public void checkClientTrusted(X509Certificate[] chain, String authType)
      throws CertificateException {
    throw new CertificateException("this trust manager checks coordinators, not clients");
  }

  @Override
  public X509Certificate[] getAcceptedIssuers() {
    return new X509Certificate[0];
  }
}
