package dev.weft.coordinator.security;

import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.InternalNettyServerCredentials;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * The coordinator's local door: its Unix socket, whose callers are known by the uid the kernel
 * reports for their connection (SO_PEERCRED, see {@link PeerCredentialsNegotiator}), never by
 * anything they send. The coordinator's own user is an operator (a worker too, admin, exec); a uid
 * granted with {@code --allow-uid} has its grant, with {@code uid:N} as the owner of its jobs; any
 * other uid is refused with PERMISSION_DENIED naming its uid and the flag. Tokens play no part
 * here: one sent on the socket is ignored, so a user's rights on the socket are the same whatever
 * tokens it holds. What each role may call is {@link AuthInterceptor#allowed}, as on the TCP port.
 */
public final class LocalDoor implements ServerInterceptor {
  private static final String HEALTH = HealthGrpc.SERVICE_NAME + "/";

  private final int ownUid;
  private final Map<Integer, UidGrant> grants;

  LocalDoor(int ownUid, List<UidGrant> grants) {
    this.ownUid = ownUid;
    this.grants =
        grants.stream()
            .collect(Collectors.toUnmodifiableMap(UidGrant::uid, Function.identity(), (a, b) -> b));
  }

  /** The door of a coordinator run by this process's user, with {@code grants} for others. */
  public static LocalDoor of(List<UidGrant> grants) throws IOException {
    return new LocalDoor(uidOfThisProcess(), grants);
  }

  /** This process's (effective) uid: the owner of its {@code /proc} directory. */
  public static int uidOfThisProcess() throws IOException {
    return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
  }

  /** For the socket's server builder: plain text, with the peer's credentials on every call. */
  public static ServerCredentials credentials() {
    return InternalNettyServerCredentials.create(new PeerCredentialsNegotiator());
  }

  /** Whether users other than the coordinator's own were granted anything. */
  public boolean grantsOthers() {
    return grants.keySet().stream().anyMatch(uid -> uid != ownUid);
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (method.startsWith(HEALTH)) {
      return next.startCall(call, headers);
    }
    UnixPeer peer = call.getAttributes().get(UnixPeer.KEY);
    Caller caller = peer == null ? null : callerOf(peer.uid());
    Status refusal =
        peer == null
            ? Status.UNAUTHENTICATED.withDescription(
                "the coordinator could not tell who is calling on its socket")
            : caller == null
                ? Status.PERMISSION_DENIED.withDescription(
                    "uid "
                        + Integer.toUnsignedString(peer.uid())
                        + " may not use this coordinator's socket: the coordinator's user grants"
                        + " it with --allow-uid "
                        + Integer.toUnsignedString(peer.uid())
                        + "[:read|submit|admin][+exec], or use a client token over TCP")
                : AuthInterceptor.allowed(caller, method);
    if (refusal != null) {
      call.close(refusal, new Metadata());
      return new ServerCall.Listener<>() {};
    }
    return Contexts.interceptCall(
        Context.current().withValue(Caller.KEY, caller), call, headers, next);
  }

  /** Who {@code uid} is on the socket; null when it may not come in. */
  Caller callerOf(int uid) {
    if (uid == ownUid) {
      return new Caller(UidGrant.ownerName(uid), true, Caller.Role.ADMIN, true);
    }
    UidGrant grant = grants.get(uid);
    return grant == null
        ? null
        : new Caller(UidGrant.ownerName(uid), false, grant.role(), grant.exec());
  }
}
