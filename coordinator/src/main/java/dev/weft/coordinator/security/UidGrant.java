package dev.weft.coordinator.security;

import java.util.Locale;

/**
 * {@code --allow-uid UID[:ROLE][+exec]}: a local user (other than the coordinator's own) let in
 * through the coordinator's Unix socket, known by the uid the kernel reports for the connection
 * (SO_PEERCRED), with a role and, when {@code +exec} is given, the right to run arbitrary code.
 *
 * @param uid the user id, 0..2^31-1
 * @param role what that user may do on JobService; {@code submit} unless given
 * @param exec whether that user may submit {@code exec} and plugin jobs
 */
public record UidGrant(int uid, Caller.Role role, boolean exec) {
  static final String FLAG = "--allow-uid";
  private static final String FORM =
      "UID[:ROLE][+exec], ROLE read, submit or admin (for example 1001, 1001:read or"
          + " 1001:submit+exec)";

  public UidGrant {
    if (uid < 0) {
      throw new IllegalArgumentException(FLAG + ": a uid is 0 or more, got " + uid);
    }
    if (role == null) {
      throw new IllegalArgumentException(FLAG + ": no role");
    }
  }

  /** Parses {@code UID[:ROLE][+exec]}; a bad value fails naming the flag and the form. */
  public static UidGrant parse(String text) {
    String rest = text.strip();
    boolean exec = false;
    if (rest.toLowerCase(Locale.ROOT).endsWith("+exec")) {
      exec = true;
      rest = rest.substring(0, rest.length() - "+exec".length());
    }
    int colon = rest.indexOf(':');
    String uidText = colon < 0 ? rest : rest.substring(0, colon);
    int uid;
    try {
      uid = uidText.matches("[0-9]{1,10}") ? Integer.parseInt(uidText) : -1;
    } catch (NumberFormatException e) {
      uid = -1; // beyond 2^31-1
    }
    if (uid < 0) {
      throw new IllegalArgumentException(
          FLAG + " '" + text + "': '" + uidText + "' is not a numeric uid; the form is " + FORM);
    }
    Caller.Role role = Caller.Role.SUBMIT;
    if (colon >= 0) {
      String roleText = rest.substring(colon + 1);
      try {
        role = Caller.Role.parse(roleText);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(
            FLAG + " '" + text + "': '" + roleText + "' is not a role; the form is " + FORM, e);
      }
    }
    return new UidGrant(uid, role, exec);
  }

  /** The name a job of this user records as its owner. */
  public static String ownerName(int uid) {
    return Caller.UID_PREFIX + Integer.toUnsignedString(uid);
  }

  @Override
  public String toString() {
    return uid + ":" + role.wireName() + (exec ? "+exec" : "");
  }
}
