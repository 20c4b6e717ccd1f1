package dev.weft.coordinator.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * Join-token secrets revoked by {@code weft token rotate --detach-workers}, in {@code revoked}: the
 * SHA-256 of each, hex, one per line, newest last (the secrets themselves are not kept). A worker
 * that attached with a revoked secret is detached. Like {@link SecretFile}, {@link #contains} costs
 * one stat, and a read when the file changed.
 */
final class RevokedSecrets {
  /** How many revoked secrets the file keeps; older ones no longer matter to attached workers. */
  static final int KEPT = 32;

  private final Path path;
  private volatile Snapshot snapshot;

  private record Snapshot(Object fileKey, FileTime modified, long size, Set<String> hashes) {}

  RevokedSecrets(Path path) {
    this.path = path;
  }

  /** Whether the secret whose {@link #hash} this is has been revoked. */
  boolean contains(String hash) throws IOException {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(path, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return false;
    }
    Snapshot last = snapshot;
    if (last == null
        || !Objects.equals(last.fileKey(), attributes.fileKey())
        || !last.modified().equals(attributes.lastModifiedTime())
        || last.size() != attributes.size()) {
      last =
          new Snapshot(
              attributes.fileKey(),
              attributes.lastModifiedTime(),
              attributes.size(),
              Set.copyOf(read(path)));
      snapshot = last;
    }
    return last.hashes().contains(hash);
  }

  /** Adds {@code secret} to the revoked ones in {@code files}, keeping the newest {@link #KEPT}. */
  static void revoke(SecurityFiles files, byte[] secret) throws IOException {
    List<String> hashes = new ArrayList<>(read(files.revoked()));
    hashes.add(hash(secret));
    List<String> kept = hashes.subList(Math.max(0, hashes.size() - KEPT), hashes.size());
    files.write(files.revoked(), String.join("\n", kept) + "\n");
  }

  private static List<String> read(Path path) throws IOException {
    try {
      return Files.readAllLines(path, StandardCharsets.US_ASCII).stream()
          .map(String::strip)
          .filter(line -> !line.isEmpty())
          .toList();
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  static String hash(byte[] secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
