package dev.weft.coordinator.security;

import dev.weft.security.JoinToken;
import java.io.IOException;
import java.nio.file.Path;
import java.util.HexFormat;

/**
 * The join token's secret in {@code token-secret}, followed as {@code weft token rotate} replaces
 * it (see {@link FollowedFile}), so the old token stops working at once.
 */
final class SecretFile {
  private final FollowedFile<byte[]> file;

  SecretFile(Path path) {
    this.file = new FollowedFile<>(path, SecretFile::parse, null);
  }

  /** The secret now in the file. */
  byte[] current() throws IOException {
    return file.current();
  }

  /** Writes a new random secret, replacing the old one; returns it. */
  static byte[] writeNew(SecurityFiles files) throws IOException {
    byte[] secret = JoinToken.newSecret();
    files.write(files.secret(), HexFormat.of().formatHex(secret) + "\n");
    return secret;
  }

  static byte[] parse(Path path, String text) throws IOException {
    String hex = text.strip();
    if (hex.length() != 2 * JoinToken.SECRET_BYTES || !hex.chars().allMatch(SecretFile::isHex)) {
      throw new IOException(
          path
              + " is damaged (it should hold 32 hex digits); write a new secret with `weft token"
              + " rotate`");
    }
    return HexFormat.of().parseHex(hex);
  }

  private static boolean isHex(int c) {
    return Character.digit(c, 16) >= 0;
  }
}
