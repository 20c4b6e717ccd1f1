package dev.weft.security;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.util.HexFormat;

/** The SHA-256 of a certificate's DER encoding: what a join token pins. */
public final class CertificateFingerprint {
  private CertificateFingerprint() {}

  public static byte[] sha256(X509Certificate certificate) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(certificate.getEncoded());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("this JVM has no SHA-256", e);
    } catch (CertificateEncodingException e) {
      throw new IllegalArgumentException("cannot encode certificate " + subject(certificate), e);
    }
  }

  public static String sha256Hex(X509Certificate certificate) {
    return HexFormat.of().formatHex(sha256(certificate));
  }

  static String subject(X509Certificate certificate) {
    return certificate.getSubjectX500Principal().getName();
  }
}
