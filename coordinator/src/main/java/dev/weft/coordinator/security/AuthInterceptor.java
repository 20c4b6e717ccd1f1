package dev.weft.coordinator.security;

import dev.weft.security.AuthMetadata;
import dev.weft.security.JoinToken;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import java.io.IOException;
import java.security.MessageDigest;
import java.security.cert.Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * The coordinator's door: establishes who is calling ({@link Caller}) and lets the call through
 * only to what that caller may do. Workers present the join token (or this run's local-worker
 * secret) and may only attach; clients present a client token and use JobService within its role.
 * When the coordinator checks client certificates, a verified one is needed too (TLS has already
 * checked that it chains to the client CA). Health checks pass without anything, so probes need no
 * credentials; they still come over TLS. Who is not known is UNAUTHENTICATED, with how to join; who
 * is known but not allowed is PERMISSION_DENIED, saying what would be.
 */
final class AuthInterceptor implements ServerInterceptor {
  private static final System.Logger LOG = System.getLogger(AuthInterceptor.class.getName());
  private static final String HEALTH = HealthGrpc.SERVICE_NAME + "/";
  private static final String WORKERS = WorkerServiceGrpc.SERVICE_NAME + "/";
  private static final String JOBS = JobServiceGrpc.SERVICE_NAME + "/";
  static final String HOW_TO_JOIN =
      "workers pass the join token (`weft token show` on the coordinator's host), clients a client"
          + " token (`weft token create NAME --role submit`), with --token or WEFT_TOKEN";

  /** The join secret a call was let in with, for {@link ServerSecurity#revocationOfThisCall}. */
  static final Context.Key<JoinedWith> JOINED_WITH = Context.key("weft-joined-with");

  /** The hash of the client token a call was let in with, for {@link DashboardSessions}. */
  static final Context.Key<String> CLIENT_TOKEN = Context.key("weft-client-token");

  /** A call let in with the join token's secret whose hash is {@code secretHash}. */
  record JoinedWith(RevokedSecrets revoked, String secretHash) {
    /** Whether that secret has been revoked since; a revocation list that cannot be read: no. */
    boolean isRevoked() {
      try {
        return revoked.contains(secretHash);
      } catch (IOException e) {
        LOG.log(System.Logger.Level.WARNING, "cannot read the revoked join secrets", e);
        return false;
      }
    }
  }

  private final SecretFile secret;
  private final RevokedSecrets revoked;
  private final ClientTokens clients;
  private final byte[] localSecret;
  private final boolean clientCertificates;

  /**
   * @param secret the join token's secret; null when calls need none (client certificates only)
   * @param revoked the secrets revoked since; null when {@code secret} is
   * @param clients the client tokens; null when {@code secret} is
   * @param localSecret the secret of this run's local workers
   * @param clientCertificates whether calls need a verified client certificate
   */
  AuthInterceptor(
      SecretFile secret,
      RevokedSecrets revoked,
      ClientTokens clients,
      byte[] localSecret,
      boolean clientCertificates) {
    this.secret = secret;
    this.revoked = revoked;
    this.clients = clients;
    this.localSecret = localSecret.clone();
    this.clientCertificates = clientCertificates;
  }

  /** For a coordinator in plain text: everyone is {@link Caller#ANONYMOUS}. */
  static ServerInterceptor open() {
    return new ServerInterceptor() {
      @Override
      public <Q, R> ServerCall.Listener<Q> interceptCall(
          ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
        return Contexts.interceptCall(
            Context.current().withValue(Caller.KEY, Caller.ANONYMOUS), call, headers, next);
      }
    };
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (method.startsWith(HEALTH)) {
      return next.startCall(call, headers);
    }
    Verdict verdict = check(call, headers);
    Status refusal =
        verdict.refusal() != null ? verdict.refusal() : allowed(verdict.caller(), method);
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    Context context = Context.current().withValue(Caller.KEY, verdict.caller());
    if (verdict.clientTokenHash() != null) {
      context = context.withValue(CLIENT_TOKEN, verdict.clientTokenHash());
    }
    // Only a worker's stream outlives a revocation; unary calls are checked one by one anyway.
    if (verdict.joinSecret() != null && method.startsWith(WORKERS)) {
      context =
          context.withValue(
              JOINED_WITH, new JoinedWith(revoked, RevokedSecrets.hash(verdict.joinSecret())));
    }
    return Contexts.interceptCall(context, call, headers, next);
  }

  /** PERMISSION_DENIED when {@code caller} may not call {@code method}; null when it may. */
  static Status allowed(Caller caller, String method) {
    if (method.startsWith(WORKERS)) {
      return caller.worker()
          ? null
          : Status.PERMISSION_DENIED.withDescription(
              (caller.local() ? caller.described() : "client token '" + caller.name() + "'")
                  + " cannot attach a worker: workers join with the join token (`weft token"
                  + " show` on the coordinator's host)");
    }
    if (method.startsWith(JOBS)) {
      Caller.Role needed = needed(method.substring(JOBS.length()));
      if (caller.role() == null) {
        return Status.PERMISSION_DENIED.withDescription(
            "a worker's join token cannot use JobService: clients need a client token (`weft"
                + " token create NAME --role "
                + needed.wireName()
                + "` on the coordinator's host)");
      }
      return caller.may(needed)
          ? null
          : Status.PERMISSION_DENIED.withDescription(
              caller.described()
                  + " has role "
                  + caller.role().wireName()
                  + "; "
                  + method.substring(JOBS.length())
                  + " needs "
                  + needed.wireName()
                  + (needed == Caller.Role.ADMIN ? "" : " or admin"));
    }
    // Server reflection and anything else: any caller the door knows.
    return null;
  }

  /** The role each JobService method needs; a method not listed here needs admin. */
  static Caller.Role needed(String method) {
    return switch (method) {
      // TaskLogs of exec jobs also need the job's owner (checked where the job is known).
      case "GetJob", "ListJobs", "WatchJob", "ListWorkers", "TaskLogs", "CreateDashboardLogin" ->
          Caller.Role.READ;
      case "SubmitJob", "RunJob", "RunJobs", "CancelJob" -> Caller.Role.SUBMIT;
      default -> Caller.Role.ADMIN;
    };
  }

  /** Who is calling, or why the call is refused; and the join secret, if that let it in. */
  private record Verdict(Status refusal, Caller caller, byte[] joinSecret, String clientTokenHash) {
    static Verdict refuse(Status why) {
      return new Verdict(why, null, null, null);
    }

    static Verdict as(Caller caller) {
      return new Verdict(null, caller, null, null);
    }
  }

  private Verdict check(ServerCall<?, ?> call, Metadata headers) {
    String bearer = AuthMetadata.bearer(headers);
    JoinToken presented = null;
    if (bearer != null) {
      try {
        presented = JoinToken.parse(bearer);
      } catch (IllegalArgumentException e) {
        return Verdict.refuse(
            Status.UNAUTHENTICATED.withDescription(e.getMessage() + "; " + HOW_TO_JOIN));
      }
      if (presented.secretEquals(localSecret)) {
        return Verdict.as(Caller.WORKER);
      }
    }
    if (clientCertificates && !hasClientCertificate(call)) {
      return Verdict.refuse(
          Status.UNAUTHENTICATED.withDescription(
              "this coordinator requires a client certificate issued by its client CA (none was"
                  + " presented; TLS sends only one issued by that CA): pass --tls-cert and"
                  + " --tls-key"));
    }
    if (secret == null) {
      return Verdict.as(Caller.CERTIFICATE);
    }
    if (presented == null) {
      return Verdict.refuse(
          Status.UNAUTHENTICATED.withDescription(
              "no token: this coordinator requires one; " + HOW_TO_JOIN));
    }
    try {
      if (MessageDigest.isEqual(presented.secret(), secret.current())) {
        return new Verdict(null, Caller.WORKER, presented.secret(), null);
      }
      java.util.Optional<Caller> client = clients.find(presented.secret());
      if (client.isPresent()) {
        return new Verdict(null, client.get(), null, RevokedSecrets.hash(presented.secret()));
      }
    } catch (IOException e) {
      LOG.log(System.Logger.Level.ERROR, "cannot read the coordinator's tokens; refusing calls", e);
      return Verdict.refuse(
          Status.UNAVAILABLE.withDescription(
              "the coordinator cannot read its tokens; see its log"));
    }
    return Verdict.refuse(
        Status.UNAUTHENTICATED.withDescription(
            "the token was not accepted (it is wrong, or was rotated or revoked since); "
                + HOW_TO_JOIN));
  }

  private static boolean hasClientCertificate(ServerCall<?, ?> call) {
    SSLSession session = call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION);
    if (session == null) {
      return false;
    }
    try {
      Certificate[] chain = session.getPeerCertificates();
      return chain != null && chain.length > 0;
    } catch (SSLPeerUnverifiedException e) {
      // No certificate was presented: the caller is told what to pass.
      return false;
    }
  }
}
