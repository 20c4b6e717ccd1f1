package dev.weft.coordinator.security;

import io.grpc.Attributes;
import java.net.SocketAddress;

/**
 * The process at the other end of one connection to the coordinator's Unix socket, as the kernel
 * reported it when it connected (SO_PEERCRED): its uid and pid. Set by {@link
 * PeerCredentialsNegotiator} on the transport's attributes under {@link #KEY}, and as the
 * connection's remote address; nothing a client sends can set either. Equal only to itself, so each
 * connection is a peer of its own (the per-connection limits count connections by remote address,
 * and every client of a Unix socket has the same unnamed one).
 */
public final class UnixPeer extends SocketAddress {
  /** The peer of a call that arrived on the Unix socket; absent for any other transport. */
  public static final Attributes.Key<UnixPeer> KEY = Attributes.Key.create("weft-unix-peer");

  private final int uid;
  private final int pid;

  UnixPeer(int uid, int pid) {
    this.uid = uid;
    this.pid = pid;
  }

  public int uid() {
    return uid;
  }

  public int pid() {
    return pid;
  }

  @Override
  public String toString() {
    return "unix peer uid " + Integer.toUnsignedString(uid) + " pid " + pid;
  }
}
