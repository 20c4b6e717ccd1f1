package dev.weft.coordinator.security;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Join-token secrets revoked by {@code weft token rotate --detach-workers}, in {@code revoked}: the
 * SHA-256 of each, hex, one per line, newest last (the secrets themselves are not kept). A worker
 * that attached with a revoked secret is detached. Followed like the secret ({@link FollowedFile}).
 */
final class RevokedSecrets {
  /** How many revoked secrets the file keeps; older ones no longer matter to attached workers. */
  static final int KEPT = 32;

  private final FollowedFile<Set<String>> file;

  RevokedSecrets(Path path) {
    this.file = new FollowedFile<>(path, (p, text) -> Set.copyOf(lines(text)), Set.of());
  }

  /** Whether the secret whose {@link #hash} this is has been revoked. */
  boolean contains(String hash) throws IOException {
    return file.current().contains(hash);
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
      return lines(Files.readString(path, StandardCharsets.US_ASCII));
    } catch (NoSuchFileException e) {
      return List.of();
    }
  }

  private static List<String> lines(String text) {
    return text.lines().map(String::strip).filter(line -> !line.isEmpty()).toList();
  }

  static String hash(byte[] secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java runtime has SHA-256", e);
    }
  }
}
