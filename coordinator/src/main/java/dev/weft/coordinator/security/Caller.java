package dev.weft.coordinator.security;

import io.grpc.Context;
import java.util.Locale;

/**
 * Who is calling, as the coordinator's door established it: a worker (join token, or a local
 * worker's secret) or a client (a named client token with a role), and what that caller may do. Set
 * on the call's {@link Context} by the interceptor before any handler runs.
 *
 * @param name the client token's name, {@code "worker"} for workers, {@code "anonymous"} in plain
 *     text; it is what a job records as its owner
 * @param worker whether the caller may attach as a worker
 * @param role what the caller may do on JobService; null when it may not use it at all
 * @param exec whether the caller may submit jobs that run arbitrary code ({@code exec})
 */
public record Caller(String name, boolean worker, Role role, boolean exec) {
  /** What a client may do; each role includes the ones before it. */
  public enum Role {
    /** List and watch jobs and workers. */
    READ,
    /** Also submit jobs, and cancel its own. */
    SUBMIT,
    /** Everything: any job, drain and resume workers. */
    ADMIN;

    public String wireName() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code read}, {@code submit} or {@code admin}; throws naming what is allowed. */
    public static Role parse(String text) {
      for (Role role : values()) {
        if (role.wireName().equals(text)) {
          return role;
        }
      }
      throw new IllegalArgumentException("a role is read, submit or admin, got '" + text + "'");
    }

    boolean includes(Role other) {
      return compareTo(other) >= 0;
    }
  }

  static final String UID_PREFIX = "uid:";

  static final Context.Key<Caller> KEY = Context.key("weft-caller");

  /**
   * A coordinator in plain text (--insecure) cannot tell callers apart: everyone may do anything,
   * which is what that flag says.
   */
  public static final Caller ANONYMOUS = new Caller("anonymous", true, Role.ADMIN, true);

  /** A caller authenticated by a client certificate alone (--no-token): trusted as an operator. */
  static final Caller CERTIFICATE = new Caller("certificate", true, Role.ADMIN, true);

  static final Caller WORKER = new Caller("worker", true, null, false);

  /** The caller of the call being handled on this thread. */
  public static Caller current() {
    Caller caller = KEY.get();
    if (caller == null) {
      throw new IllegalStateException("no caller on this call: the coordinator's door let it pass");
    }
    return caller;
  }

  /** Whether this caller may use JobService with {@code needed}. */
  public boolean may(Role needed) {
    return role != null && role.includes(needed);
  }

  public boolean admin() {
    return may(Role.ADMIN);
  }

  /**
   * Whether this caller came in through the coordinator's Unix socket, known by its uid (owner
   * names {@code uid:N}; a client token's name cannot contain a colon).
   */
  public boolean local() {
    return name.startsWith(UID_PREFIX);
  }

  /** How messages name this caller: {@code token 'ci'}, or {@code uid 1001} on the socket. */
  public String described() {
    return local() ? "uid " + name.substring(UID_PREFIX.length()) : "token '" + name + "'";
  }

  /** Whether this caller may act on (cancel, see the secrets of) a job owned by {@code owner}. */
  public boolean owns(String owner) {
    return admin() || name.equals(owner);
  }
}
