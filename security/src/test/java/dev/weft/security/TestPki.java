package dev.weft.security;

import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/** A user's own PKI for tests of --tls-cert and --tls-client-ca: RSA keys, as a real one has. */
public final class TestPki {
  private final KeyPair caKeys;
  private final X509Certificate ca;

  public TestPki(String name) throws Exception {
    caKeys = rsa();
    X500Name subject = new X500Name("CN=" + name);
    ca =
        sign(
            new JcaX509v3CertificateBuilder(
                    subject, serial(), from(), to(), subject, caKeys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
                .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign)),
            caKeys);
  }

  /** Writes the CA certificate to {@code file}. */
  public Path writeCa(Path file) throws Exception {
    Files.writeString(file, Pem.encode(List.of(ca)));
    return file;
  }

  /** Issues a server certificate for 127.0.0.1 and localhost; writes chain and key. */
  public void issueServer(Path cert, Path key) throws Exception {
    issue("weft test server", KeyPurposeId.id_kp_serverAuth, cert, key);
  }

  /** Issues a client certificate; writes chain and key. */
  public void issueClient(Path cert, Path key) throws Exception {
    issue("weft test client", KeyPurposeId.id_kp_clientAuth, cert, key);
  }

  private void issue(String name, KeyPurposeId purpose, Path cert, Path key) throws Exception {
    KeyPair keys = rsa();
    X509Certificate issued =
        sign(
            new JcaX509v3CertificateBuilder(
                    ca, serial(), from(), to(), new X500Name("CN=" + name), keys.getPublic())
                .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
                .addExtension(
                    Extension.keyUsage,
                    true,
                    new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
                .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(purpose))
                .addExtension(
                    Extension.subjectAlternativeName,
                    false,
                    new GeneralNames(
                        new GeneralName[] {
                          new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
                          new GeneralName(GeneralName.dNSName, "localhost")
                        })),
            caKeys);
    Files.writeString(cert, Pem.encode(List.of(issued, ca)));
    Files.writeString(key, Pem.encode(keys.getPrivate()));
  }

  private static KeyPair rsa() throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
    generator.initialize(2048);
    return generator.generateKeyPair();
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, KeyPair signer)
      throws Exception {
    return new JcaX509CertificateConverter()
        .getCertificate(
            builder.build(new JcaContentSignerBuilder("SHA256withRSA").build(signer.getPrivate())));
  }

  private static BigInteger serial() {
    return new BigInteger(64, new SecureRandom());
  }

  private static Date from() {
    return Date.from(Instant.now().minus(Duration.ofHours(1)));
  }

  private static Date to() {
    return Date.from(Instant.now().plus(Duration.ofDays(30)));
  }
}
