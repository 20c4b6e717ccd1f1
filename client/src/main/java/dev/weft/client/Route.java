package dev.weft.client;

import dev.weft.security.ClientSecurity;
import dev.weft.wire.Address;

/**
 * How an address is reached as things are now: {@code target} is the address itself or the
 * coordinator's Unix socket that stands for it; {@code security} is null when there is nothing to
 * talk with (no token given or found), and then nothing is sent.
 *
 * <p>Public for tools that choose their own routes ({@link ToolConnection}); applications use
 * {@link Credentials}.
 */
public record Route(Address target, ClientSecurity security) {
  static ClientSecurity plainText() {
    return new ClientSecurity().conclude();
  }

  boolean same(Route other) {
    return other != null
        && target.equals(other.target)
        && (security == null ? other.security == null : security.sameSettings(other.security));
  }
}
