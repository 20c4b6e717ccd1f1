package dev.weft.coordinator.security;

import dev.weft.security.JoinToken;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The client tokens of a coordinator, in {@code security/clients} (0600), one line each:
 *
 * <pre>
 *   NAME ROLE exec|- SHA256(secret) CREATED_UNIX_MS
 * </pre>
 *
 * Only the secret's hash is kept, so the file alone lets nobody in; the token is printed once, by
 * {@code weft token create}. A running coordinator follows the file, so a revoked token is refused
 * from its next call on.
 */
public final class ClientTokens {
  /** A client token's name: what jobs record as their owner. */
  public static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9._-]{0,63}");

  /** The token a coordinator makes for its own user, in {@code security/admin-token}. */
  public static final String ADMIN_NAME = "admin";

  /** One client, as listed. */
  public record Client(
      String name, Caller.Role role, boolean exec, String secretHash, long createdMs) {
    Caller caller() {
      return new Caller(name, false, role, exec);
    }

    String line() {
      return String.join(
          " ", name, role.wireName(), exec ? "exec" : "-", secretHash, Long.toString(createdMs));
    }
  }

  private final FollowedFile<Map<String, Client>> byHash;

  ClientTokens(Path file) {
    this.byHash = new FollowedFile<>(file, ClientTokens::parseByHash, Map.of());
  }

  /** The client whose secret this is, if any. */
  Optional<Caller> find(byte[] secret) throws IOException {
    return Optional.ofNullable(byHash.current().get(RevokedSecrets.hash(secret)))
        .map(Client::caller);
  }

  /** The client whose secret has {@code secretHash}, as the file stands now, if any. */
  Optional<Caller> withHash(String secretHash) throws IOException {
    return Optional.ofNullable(byHash.current().get(secretHash)).map(Client::caller);
  }

  /** The clients of the coordinator with {@code dataDir}, oldest first. */
  public static List<Client> list(Path dataDir) throws IOException {
    SecurityFiles files = new SecurityFiles(dataDir);
    return List.copyOf(read(files).values());
  }

  /**
   * Makes a new client token named {@code name}; returns the token, which is not kept anywhere and
   * cannot be shown again. Fails when the name is taken or malformed.
   */
  public static String create(Path dataDir, String name, Caller.Role role, boolean exec)
      throws IOException {
    checkName(name);
    SecurityFiles files = new SecurityFiles(dataDir);
    JoinRecord record = JoinRecord.read(files);
    try (SecurityFiles.Lock _ = files.lock()) {
      Map<String, Client> clients = read(files);
      if (clients.containsKey(name)) {
        throw new IllegalArgumentException(
            "a client token named '"
                + name
                + "' exists; revoke it first (`weft token revoke "
                + name
                + "`) or choose another name");
      }
      return add(files, clients, name, role, exec, record.fingerprint());
    }
  }

  /** Removes the token named {@code name}; a running coordinator refuses it from now on. */
  public static void revoke(Path dataDir, String name) throws IOException {
    SecurityFiles files = new SecurityFiles(dataDir);
    try (SecurityFiles.Lock _ = files.lock()) {
      Map<String, Client> clients = read(files);
      if (clients.remove(name) == null) {
        throw new IllegalArgumentException(
            "no client token named '"
                + name
                + "' in "
                + files.clients()
                + "; `weft token list` shows them");
      }
      write(files, clients);
    }
  }

  /**
   * Makes sure the coordinator's own user has an admin token in {@code security/admin-token}
   * pinning {@code fingerprint}: kept when it still matches, made anew otherwise. Called with the
   * directory locked.
   */
  static void ensureAdmin(SecurityFiles files, byte[] fingerprint) throws IOException {
    Map<String, Client> clients = read(files);
    Client admin = clients.get(ADMIN_NAME);
    JoinToken kept = null;
    try {
      kept = JoinToken.parse(java.nio.file.Files.readString(files.adminToken()));
    } catch (java.nio.file.NoSuchFileException | IllegalArgumentException e) {
      // Missing or damaged: a new one is made below.
    }
    if (admin != null
        && admin.role() == Caller.Role.ADMIN
        && kept != null
        && RevokedSecrets.hash(kept.secret()).equals(admin.secretHash())) {
      if (!MessageDigest.isEqual(kept.fingerprint(), fingerprint)) {
        // A new CA: the same secret, pinned to the new certificate.
        files.write(files.adminToken(), JoinToken.of(fingerprint, kept.secret()).text() + "\n");
      }
      return;
    }
    clients.remove(ADMIN_NAME);
    files.write(
        files.adminToken(),
        add(files, clients, ADMIN_NAME, Caller.Role.ADMIN, true, fingerprint) + "\n");
  }

  private static String add(
      SecurityFiles files,
      Map<String, Client> clients,
      String name,
      Caller.Role role,
      boolean exec,
      byte[] fingerprint)
      throws IOException {
    byte[] secret = JoinToken.newSecret();
    clients.put(
        name,
        new Client(name, role, exec, RevokedSecrets.hash(secret), System.currentTimeMillis()));
    write(files, clients);
    return JoinToken.of(fingerprint, secret).text();
  }

  static void checkName(String name) {
    if (!NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "a client token's name is 1 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter"
              + " or digit; got '"
              + name
              + "'");
    }
  }

  private static Map<String, Client> read(SecurityFiles files) throws IOException {
    try {
      return parse(
          files.clients(),
          java.nio.file.Files.readString(files.clients(), StandardCharsets.US_ASCII));
    } catch (java.nio.file.NoSuchFileException e) {
      return new LinkedHashMap<>();
    }
  }

  private static void write(SecurityFiles files, Map<String, Client> clients) throws IOException {
    StringBuilder text = new StringBuilder();
    for (Client client : clients.values()) {
      text.append(client.line()).append('\n');
    }
    files.write(files.clients(), text.toString());
  }

  private static Map<String, Client> parseByHash(Path path, String text) throws IOException {
    Map<String, Client> byHash = new LinkedHashMap<>();
    for (Client client : parse(path, text).values()) {
      byHash.put(client.secretHash(), client);
    }
    return Map.copyOf(byHash);
  }

  private static Map<String, Client> parse(Path path, String text) throws IOException {
    Map<String, Client> clients = new LinkedHashMap<>();
    List<String> lines = new ArrayList<>(text.lines().toList());
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      String[] fields = line.split(" ");
      try {
        if (fields.length != 5
            || !NAME.matcher(fields[0]).matches()
            || !fields[3].matches("[0-9a-f]{64}")
            || !(fields[2].equals("exec") || fields[2].equals("-"))) {
          throw new IllegalArgumentException("not NAME ROLE exec|- SHA256 CREATED");
        }
        clients.put(
            fields[0],
            new Client(
                fields[0],
                Caller.Role.parse(fields[1]),
                fields[2].equals("exec"),
                fields[3],
                Long.parseLong(fields[4])));
      } catch (IllegalArgumentException e) {
        throw new IOException(
            path + " line " + (i + 1) + " is damaged (" + e.getMessage() + "); fix or remove it",
            e);
      }
    }
    return clients;
  }
}
