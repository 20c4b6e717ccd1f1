package dev.weft.coordinator.security;

import dev.weft.security.JoinToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The join token's secret in {@code token-secret}. {@link #current()} checks the file's identity
 * and modification time on every call (one stat) and reads it again when it changed, so a running
 * coordinator follows {@code weft token rotate} at once, without a watcher thread.
 */
final class SecretFile {
  private final Path path;
  private volatile Snapshot snapshot;

  private record Snapshot(Object fileKey, FileTime modified, long size, byte[] secret) {
    boolean sameFile(BasicFileAttributes attributes) {
      return Objects.equals(fileKey, attributes.fileKey())
          && modified.equals(attributes.lastModifiedTime())
          && size == attributes.size();
    }
  }

  SecretFile(Path path) {
    this.path = path;
  }

  /** The secret now in the file. */
  byte[] current() throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(path, BasicFileAttributes.class);
    Snapshot last = snapshot;
    if (last != null && last.sameFile(attributes)) {
      return last.secret();
    }
    byte[] secret = parse(path, Files.readString(path, StandardCharsets.US_ASCII));
    snapshot =
        new Snapshot(
            attributes.fileKey(), attributes.lastModifiedTime(), attributes.size(), secret);
    return secret;
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
