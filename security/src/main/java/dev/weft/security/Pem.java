package dev.weft.security;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.openssl.PEMEncryptedKeyPair;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.pkcs.PKCS8EncryptedPrivateKeyInfo;

/**
 * PEM files of certificates and private keys. Keys may be PKCS#8 ({@code PRIVATE KEY}), PKCS#1
 * ({@code RSA PRIVATE KEY}) or SEC1 ({@code EC PRIVATE KEY}); encrypted keys are refused, since
 * nobody would be there to type their pass phrase. Failures are {@link IllegalArgumentException}s
 * whose message names the file.
 */
public final class Pem {
  private Pem() {}

  /** Every certificate in {@code file}, in file order (a chain is leaf first). */
  public static List<X509Certificate> readCertificates(Path file) {
    try (InputStream in = Files.newInputStream(file)) {
      List<X509Certificate> certificates = new ArrayList<>();
      for (var certificate : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        certificates.add((X509Certificate) certificate);
      }
      if (certificates.isEmpty()) {
        throw new IllegalArgumentException(file + " holds no PEM certificate");
      }
      return certificates;
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": no such file", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
    } catch (CertificateException e) {
      throw new IllegalArgumentException(
          file + " is not a PEM certificate file: " + e.getMessage(), e);
    }
  }

  /** The one private key in {@code file}. */
  public static PrivateKey readPrivateKey(Path file) {
    try (Reader reader = Files.newBufferedReader(file, StandardCharsets.US_ASCII);
        PEMParser parser = new PEMParser(reader)) {
      JcaPEMKeyConverter converter = new JcaPEMKeyConverter();
      for (Object object = parser.readObject(); object != null; object = parser.readObject()) {
        switch (object) {
          case PrivateKeyInfo info -> {
            return converter.getPrivateKey(info);
          }
          case PEMKeyPair pair -> {
            return converter.getKeyPair(pair).getPrivate();
          }
          case PEMEncryptedKeyPair _, PKCS8EncryptedPrivateKeyInfo _ ->
              throw new IllegalArgumentException(
                  file
                      + " holds an encrypted private key; give weft an unencrypted one (openssl"
                      + " pkey -in KEY -out PLAIN_KEY), readable only by its user");
          default -> {
            // certificates or parameters next to the key: look further
          }
        }
      }
      throw new IllegalArgumentException(file + " holds no PEM private key");
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(file + ": no such file", e);
    } catch (IOException e) {
      throw new IllegalArgumentException(
          "cannot read a private key from " + file + ": " + e.getMessage(), e);
    }
  }

  /**
   * Fails unless {@code key} is the private half of {@code certificate}'s key: signs a few bytes
   * and checks the signature, which works for every key type without taking the key apart.
   */
  public static void checkKeyPair(PrivateKey key, X509Certificate certificate, Path keyFile) {
    String algorithm =
        switch (key.getAlgorithm()) {
          case "RSA" -> "SHA256withRSA";
          case "EC", "ECDSA" -> "SHA256withECDSA";
          case "Ed25519", "Ed448", "EdDSA" -> key.getAlgorithm();
          default -> null;
        };
    if (algorithm == null) {
      return; // an unusual key type: the TLS handshake will tell
    }
    byte[] probe = "weft key check".getBytes(StandardCharsets.US_ASCII);
    boolean matches;
    try {
      Signature signer = Signature.getInstance(algorithm);
      signer.initSign(key);
      signer.update(probe);
      byte[] signature = signer.sign();
      Signature verifier = Signature.getInstance(algorithm);
      verifier.initVerify(certificate.getPublicKey());
      verifier.update(probe);
      matches = verifier.verify(signature);
    } catch (GeneralSecurityException e) {
      // A key of another type than the certificate's (an EC key for an RSA certificate) lands here.
      matches = false;
    }
    if (!matches) {
      throw new IllegalArgumentException(
          "the private key in "
              + keyFile
              + " does not belong to the certificate "
              + CertificateFingerprint.subject(certificate));
    }
  }

  /** PEM text of {@code certificates}, in order. */
  public static String encode(List<X509Certificate> certificates) {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      for (X509Certificate certificate : certificates) {
        writer.writeObject(certificate);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode certificates as PEM", e);
    }
    return text.toString();
  }

  /** PEM text of {@code key} as PKCS#8, the form every TLS library reads. */
  public static String encode(PrivateKey key) {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(new JcaPKCS8Generator(key, null));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot encode a private key as PEM", e);
    }
    return text.toString();
  }
}
