package dev.weft.security;

import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;

/**
 * What a worker or client needs to join a secure coordinator, in one string, as {@code docker swarm
 * join --token} has it:
 *
 * <pre>
 *   weft1-&lt;fingerprint: 64 hex digits&gt;-&lt;secret: 32 hex digits&gt;
 * </pre>
 *
 * The fingerprint is the SHA-256 of the top certificate of the chain the coordinator presents (its
 * own CA, unless it was given certificates), so the holder can check the coordinator's certificate
 * without any trust store; the secret proves the holder to the coordinator. Hex keeps the token
 * URL-safe and lets a user compare the fingerprint with {@code openssl x509 -fingerprint -sha256}.
 */
public final class JoinToken {
  public static final String PREFIX = "weft1-";
  public static final int FINGERPRINT_BYTES = 32;
  public static final int SECRET_BYTES = 16;
  static final String SHAPE = PREFIX + "<64 hex digits>-<32 hex digits>";
  private static final HexFormat HEX = HexFormat.of();

  private final byte[] fingerprint;
  private final byte[] secret;

  private JoinToken(byte[] fingerprint, byte[] secret) {
    this.fingerprint = fingerprint.clone();
    this.secret = secret.clone();
  }

  public static JoinToken of(byte[] fingerprint, byte[] secret) {
    Objects.requireNonNull(fingerprint, "fingerprint");
    Objects.requireNonNull(secret, "secret");
    if (fingerprint.length != FINGERPRINT_BYTES || secret.length != SECRET_BYTES) {
      throw new IllegalArgumentException(
          "a join token holds a "
              + FINGERPRINT_BYTES
              + "-byte fingerprint and a "
              + SECRET_BYTES
              + "-byte secret, got "
              + fingerprint.length
              + " and "
              + secret.length);
    }
    return new JoinToken(fingerprint, secret);
  }

  /**
   * Parses a token as printed by the coordinator. The message of a failure never repeats the text,
   * which may be a real secret with a typo.
   */
  public static JoinToken parse(String text) {
    Objects.requireNonNull(text, "text");
    String token = text.strip().toLowerCase(Locale.ROOT);
    if (token.isEmpty()) {
      throw new IllegalArgumentException("the join token is empty");
    }
    if (!token.startsWith(PREFIX)) {
      throw new IllegalArgumentException(
          "not a weft join token (it must look like "
              + SHAPE
              + "); copy it whole from the coordinator's output or `weft token show`");
    }
    String[] parts = token.substring(PREFIX.length()).split("-", -1);
    if (parts.length != 2
        || parts[0].length() != 2 * FINGERPRINT_BYTES
        || parts[1].length() != 2 * SECRET_BYTES
        || !isHex(parts[0])
        || !isHex(parts[1])) {
      throw new IllegalArgumentException(
          "the join token is damaged (it must look like "
              + SHAPE
              + "); copy it whole from the coordinator's output or `weft token show`");
    }
    return new JoinToken(HEX.parseHex(parts[0]), HEX.parseHex(parts[1]));
  }

  /** A fresh random secret. */
  public static byte[] newSecret() {
    byte[] secret = new byte[SECRET_BYTES];
    new SecureRandom().nextBytes(secret);
    return secret;
  }

  /** The token as the user copies it. */
  public String text() {
    return PREFIX + HEX.formatHex(fingerprint) + "-" + HEX.formatHex(secret);
  }

  public byte[] fingerprint() {
    return fingerprint.clone();
  }

  public String fingerprintHex() {
    return HEX.formatHex(fingerprint);
  }

  public byte[] secret() {
    return secret.clone();
  }

  /** Compares the secret in constant time, so the answer's timing says nothing about it. */
  public boolean secretEquals(byte[] expected) {
    return MessageDigest.isEqual(secret, expected);
  }

  private static boolean isHex(String text) {
    for (int i = 0; i < text.length(); i++) {
      if (Character.digit(text.charAt(i), 16) < 0) {
        return false;
      }
    }
    return true;
  }

  /** Never the secret: tokens end up in logs through string concatenation. */
  @Override
  public String toString() {
    return PREFIX + HEX.formatHex(fingerprint) + "-<secret>";
  }
}
