package dev.weft.coordinator.security;

import dev.weft.security.AuthMetadata;
import dev.weft.security.JoinToken;
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
 * Lets a call through only with the join token's current secret and, when the coordinator checks
 * client certificates, a verified one (TLS has already checked that a presented certificate chains
 * to the client CA). Health checks pass without either, so probes need no credentials; they still
 * come over TLS. The coordinator's own local workers carry a secret of this run instead, which no
 * rotation touches and which stands in for a client certificate. Refusals are UNAUTHENTICATED with
 * a message that says how to join.
 */
final class AuthInterceptor implements ServerInterceptor {
  private static final System.Logger LOG = System.getLogger(AuthInterceptor.class.getName());
  private static final String HEALTH = HealthGrpc.SERVICE_NAME + "/";
  private static final String WORKERS = WorkerServiceGrpc.SERVICE_NAME + "/";
  static final String HOW_TO_JOIN =
      "get the join token from the coordinator's output or `weft token show --data-dir DIR` on its"
          + " host, and pass it with --token or WEFT_TOKEN";

  /** The join secret a call was let in with, for {@link ServerSecurity#revocationOfThisCall}. */
  static final Context.Key<JoinedWith> JOINED_WITH = Context.key("weft-joined-with");

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
  private final byte[] localSecret;
  private final boolean clientCertificates;

  /**
   * @param secret the join token's secret; null when calls need none (client certificates only)
   * @param revoked the secrets revoked since; null when {@code secret} is
   * @param localSecret the secret of this run's local workers
   * @param clientCertificates whether calls need a verified client certificate
   */
  AuthInterceptor(
      SecretFile secret, RevokedSecrets revoked, byte[] localSecret, boolean clientCertificates) {
    this.secret = secret;
    this.revoked = revoked;
    this.localSecret = localSecret.clone();
    this.clientCertificates = clientCertificates;
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    if (call.getMethodDescriptor().getFullMethodName().startsWith(HEALTH)) {
      return next.startCall(call, headers);
    }
    Verdict verdict = check(call, headers);
    if (verdict.refusal() != null) {
      call.close(verdict.refusal(), new Metadata());
      return new ServerCall.Listener<>() {};
    }
    // Only a worker's stream outlives a revocation; unary calls are checked one by one anyway.
    if (verdict.joinSecret() == null
        || !call.getMethodDescriptor().getFullMethodName().startsWith(WORKERS)) {
      return next.startCall(call, headers);
    }
    Context joined =
        Context.current()
            .withValue(
                JOINED_WITH, new JoinedWith(revoked, RevokedSecrets.hash(verdict.joinSecret())));
    return Contexts.interceptCall(joined, call, headers, next);
  }

  /** Why a call is refused, or null; and the join secret it was let in with, if that was it. */
  private record Verdict(Status refusal, byte[] joinSecret) {
    static final Verdict LET_IN = new Verdict(null, null);

    static Verdict refuse(Status why) {
      return new Verdict(why, null);
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
        return Verdict.LET_IN;
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
      return Verdict.LET_IN;
    }
    if (presented == null) {
      return Verdict.refuse(
          Status.UNAUTHENTICATED.withDescription(
              "no join token: this coordinator requires one; " + HOW_TO_JOIN));
    }
    byte[] current;
    try {
      current = secret.current();
    } catch (IOException e) {
      LOG.log(System.Logger.Level.ERROR, "cannot read the join token's secret; refusing calls", e);
      return Verdict.refuse(
          Status.UNAVAILABLE.withDescription(
              "the coordinator cannot read its join token's secret; see its log"));
    }
    if (!MessageDigest.isEqual(presented.secret(), current)) {
      return Verdict.refuse(
          Status.UNAUTHENTICATED.withDescription(
              "the join token was not accepted (it is wrong, or was rotated since); "
                  + HOW_TO_JOIN));
    }
    return new Verdict(null, presented.secret());
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
