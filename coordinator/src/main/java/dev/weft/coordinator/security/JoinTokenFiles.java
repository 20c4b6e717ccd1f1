package dev.weft.coordinator.security;

import dev.weft.security.JoinToken;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * {@code weft token show} and {@code weft token rotate}: the join command of the coordinator that
 * last ran with a data directory, and a new secret for it. A running coordinator reads the secret
 * file on every check, so rotation takes effect at once; attached workers stay attached.
 */
public final class JoinTokenFiles {
  private JoinTokenFiles() {}

  /** What a worker needs to join: the address, the token (if any) and whether it needs a cert. */
  public record Join(String address, Optional<String> token, boolean clientCertificates) {
    /** {@code weft worker --join HOST:PORT --token TOKEN [--tls-cert CERT --tls-key KEY]}. */
    public String workerCommand() {
      StringBuilder command = new StringBuilder("weft worker --join ").append(address);
      token.ifPresent(t -> command.append(" --token ").append(t));
      if (clientCertificates) {
        command
            .append(token.isEmpty() ? " --tls-ca CA" : "")
            .append(" --tls-cert CERT --tls-key KEY");
      }
      return command.toString();
    }
  }

  /** The current join command; fails with a message when no secure coordinator ran there. */
  public static Join show(Path dataDir) throws IOException {
    SecurityFiles files = new SecurityFiles(dataDir);
    JoinRecord record = JoinRecord.read(files);
    if (!record.tokenRequired()) {
      return new Join(record.address(), Optional.empty(), record.clientCertificates());
    }
    byte[] secret = new SecretFile(files.secret()).current();
    return new Join(
        record.address(),
        Optional.of(JoinToken.of(record.fingerprint(), secret).text()),
        record.clientCertificates());
  }

  /** Replaces the secret: from now on only the new token joins. Returns the new join command. */
  public static Join rotate(Path dataDir) throws IOException {
    return rotate(dataDir, false);
  }

  /**
   * Replaces the secret; with {@code detachWorkers}, also revokes the old one, so a running
   * coordinator detaches the workers that attached with it (they are refused, and stop).
   */
  public static Join rotate(Path dataDir, boolean detachWorkers) throws IOException {
    SecurityFiles files = new SecurityFiles(dataDir);
    JoinRecord record = JoinRecord.read(files);
    if (!Files.exists(files.secret())) {
      throw new IOException(
          "the coordinator with --data-dir "
              + dataDir
              + " uses no join token (it was started with --no-token): there is nothing to rotate");
    }
    try (SecurityFiles.Lock _ = files.lock()) {
      byte[] old = new SecretFile(files.secret()).current();
      SecretFile.writeNew(files);
      if (detachWorkers) {
        // After the new secret: a failure in between leaves a plain rotation, never a revoked
        // secret that still joins.
        RevokedSecrets.revoke(files, old);
      }
    }
    return show(dataDir);
  }
}
