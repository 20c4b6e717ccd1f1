package dev.weft.coordinator.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * The web dashboard's logins. A client that is already let in ({@code weft dashboard}) asks for a
 * one-time code; the browser that opens the printed URL exchanges the code for a session, so no
 * token is ever put in a URL. A session is two secrets: an HttpOnly cookie, and a key the page
 * keeps in its origin's storage and sends as a header. Both are needed: a browser sends the cookie
 * to every port of the host, so a server another local user runs on another port would get it, but
 * storage is kept per origin, port included. A session acts as the caller who asked for its code,
 * and is judged again on each use: a revoked client token ends its sessions at once.
 *
 * <p>Everything here is held in memory, bounded, and forgotten by a restart.
 */
public final class DashboardSessions {
  /** How long a code may wait to be used. */
  public static final long CODE_SECONDS = 60;

  /** How long a session lasts from its login, however it is used. */
  public static final long SESSION_HOURS = 12;

  static final int MAX_CODES = 256;
  static final int MAX_SESSIONS = 1024;
  private static final int SECRET_BYTES = 32;

  /** gRPC metadata the HTTP port sets on its private in-process calls, never taken from outside. */
  public static final Metadata.Key<String> SESSION_HEADER =
      Metadata.Key.of("weft-dashboard-session", Metadata.ASCII_STRING_MARSHALLER);

  public static final Metadata.Key<String> SESSION_KEY_HEADER =
      Metadata.Key.of("weft-dashboard-key", Metadata.ASCII_STRING_MARSHALLER);

  /** A session as the login hands it to the browser. */
  public record Login(String cookie, String key, Caller caller, long maxAgeSeconds) {}

  // tokenHash: the client token the caller asked with, or null when it was let in otherwise.
  private record Pending(Caller caller, String tokenHash, long expiresNanos) {}

  private record Session(Caller caller, String tokenHash, byte[] keyHash, long expiresNanos) {}

  private final ClientTokens clients;
  private final LongSupplier nanos;
  private final SecureRandom random = new SecureRandom();
  // Insertion order is age order: the oldest go first when a bound is reached. Keyed by the
  // secret's hash, so comparing a presented secret takes the same time whatever it shares.
  private final LinkedHashMap<String, Pending> codes = new LinkedHashMap<>();
  private final LinkedHashMap<String, Session> sessions = new LinkedHashMap<>();

  /**
   * @param clients the client tokens sessions are checked against again; null when callers are not
   *     client tokens (plain text, client certificates alone)
   * @param nanos a monotonic clock
   */
  DashboardSessions(ClientTokens clients, LongSupplier nanos) {
    this.clients = clients;
    this.nanos = nanos;
  }

  /**
   * A code that logs a browser in as the caller of the call being handled, once, within {@link
   * #CODE_SECONDS}. Its sessions last only while the client token that call presented does.
   */
  public String issueCode(Caller caller) {
    return issueCode(caller, AuthInterceptor.CLIENT_TOKEN.get());
  }

  synchronized String issueCode(Caller caller, String tokenHash) {
    long now = nanos.getAsLong();
    expire(codes, now, Pending::expiresNanos);
    while (codes.size() >= MAX_CODES) {
      dropOldest(codes);
    }
    String code = newSecret();
    codes.put(
        hash(code), new Pending(caller, tokenHash, now + TimeUnit.SECONDS.toNanos(CODE_SECONDS)));
    return code;
  }

  /** The session {@code code} opens; empty when it is unknown, spent or expired. */
  public synchronized Optional<Login> redeem(String code) {
    long now = nanos.getAsLong();
    expire(codes, now, Pending::expiresNanos);
    Pending pending = code == null ? null : codes.remove(hash(code));
    if (pending == null) {
      return Optional.empty();
    }
    expire(sessions, now, Session::expiresNanos);
    while (sessions.size() >= MAX_SESSIONS) {
      dropOldest(sessions);
    }
    String cookie = newSecret();
    String key = newSecret();
    long lifetime = TimeUnit.HOURS.toNanos(SESSION_HOURS);
    sessions.put(
        hash(cookie),
        new Session(pending.caller(), pending.tokenHash(), digest(key), now + lifetime));
    return Optional.of(
        new Login(cookie, key, pending.caller(), TimeUnit.HOURS.toSeconds(SESSION_HOURS)));
  }

  /** Whether {@code cookie} names a live session: enough to be served the (data-free) pages. */
  public synchronized boolean known(String cookie) {
    return live(cookie) != null;
  }

  /**
   * Who the session of {@code cookie} and {@code key} acts as, judged now; empty when either is
   * wrong, the session ended, or its caller has since lost its token.
   */
  public Optional<Caller> caller(String cookie, String key) {
    return valid(cookie, key).map(Session::caller);
  }

  private Optional<Session> valid(String cookie, String key) {
    Session session;
    synchronized (this) {
      session = live(cookie);
    }
    if (session == null || key == null || !MessageDigest.isEqual(session.keyHash(), digest(key))) {
      return Optional.empty();
    }
    return stillValid(session) ? Optional.of(session) : Optional.empty();
  }

  /** Ends the session of {@code cookie}, if any. */
  public synchronized void end(String cookie) {
    if (cookie != null) {
      sessions.remove(hash(cookie));
    }
  }

  /**
   * A door for the HTTP port's in-process calls: a call carrying a session acts as its caller,
   * within the caller's role; any other goes through {@code door}.
   */
  ServerInterceptor door(ServerInterceptor door) {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        String cookie = headers.get(SESSION_HEADER);
        if (cookie == null) {
          return door.interceptCall(call, headers, next);
        }
        Optional<Session> session = valid(cookie, headers.get(SESSION_KEY_HEADER));
        Status refusal =
            session.isEmpty()
                ? Status.UNAUTHENTICATED.withDescription(
                    "the dashboard session ended (it expired, was logged out, the coordinator"
                        + " restarted, or its token was revoked); run `weft dashboard` again")
                : AuthInterceptor.allowed(
                    session.get().caller(), call.getMethodDescriptor().getFullMethodName());
        if (refusal != null) {
          call.close(refusal, new Metadata());
          return new ServerCall.Listener<>() {};
        }
        // A code asked for through a session lasts only as long as the session's token does.
        Context context = Context.current().withValue(Caller.KEY, session.get().caller());
        if (session.get().tokenHash() != null) {
          context = context.withValue(AuthInterceptor.CLIENT_TOKEN, session.get().tokenHash());
        }
        return Contexts.interceptCall(context, call, headers, next);
      }
    };
  }

  /**
   * Whether the session's caller stands as its client token does now: a token revoked (or revoked
   * and made again, even with the same name and role) since the login ends the session. Callers not
   * let in by a client token (the Unix socket's uids, plain text, client certificates) were judged
   * by the coordinator's fixed settings and stand as they were.
   */
  private boolean stillValid(Session session) {
    if (session.tokenHash() == null) {
      return true;
    }
    if (clients == null) {
      return false;
    }
    try {
      return clients.withHash(session.tokenHash()).filter(session.caller()::equals).isPresent();
    } catch (IOException e) {
      System.getLogger(DashboardSessions.class.getName())
          .log(System.Logger.Level.ERROR, "cannot read the client tokens; refusing a session", e);
      return false;
    }
  }

  private Session live(String cookie) {
    if (cookie == null) {
      return null;
    }
    long now = nanos.getAsLong();
    expire(sessions, now, Session::expiresNanos);
    return sessions.get(hash(cookie));
  }

  private static <V> void expire(
      LinkedHashMap<String, V> map, long now, java.util.function.ToLongFunction<V> expires) {
    // Every entry lives equally long, so age order is expiry order.
    Iterator<Map.Entry<String, V>> entries = map.entrySet().iterator();
    while (entries.hasNext()) {
      if (expires.applyAsLong(entries.next().getValue()) - now > 0) {
        return;
      }
      entries.remove();
    }
  }

  private static void dropOldest(LinkedHashMap<String, ?> map) {
    Iterator<String> keys = map.keySet().iterator();
    keys.next();
    keys.remove();
  }

  private String newSecret() {
    byte[] bytes = new byte[SECRET_BYTES];
    random.nextBytes(bytes);
    return Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);
  }

  private static String hash(String secret) {
    return Base64.getEncoder().encodeToString(digest(secret));
  }

  private static byte[] digest(String secret) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8));
    } catch (java.security.NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
