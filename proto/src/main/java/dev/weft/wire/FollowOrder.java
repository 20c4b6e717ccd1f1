package dev.weft.wire;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Which coordinator to try next when several share a journal and one of them leads: the leader a
 * standby named first, else the next address in the list. A caller backs off only once it has tried
 * as many addresses as it knows without finding the leader, so following a takeover costs no wait
 * per address. Not thread-safe: one caller owns it, or guards it.
 *
 * @param <A> an address
 */
public final class FollowOrder<A> {
  // Leaders named that are not in the list are added; a bound keeps a confused peer from growing
  // it.
  private static final int MAX_ADDED = 16;

  private final List<A> addresses;
  private final int listed;
  private int current;
  private int failedInRound;

  /** What to try after a failure. */
  public record Next<A>(A address, boolean backOff, boolean hinted) {}

  public FollowOrder(List<A> addresses) {
    if (addresses.isEmpty()) {
      throw new IllegalArgumentException("no coordinator address");
    }
    this.addresses = new ArrayList<>(addresses);
    this.listed = addresses.size();
  }

  /** The address to try now. */
  public A current() {
    return addresses.get(current);
  }

  /** Every address known: the list given, then leaders named that were not in it. */
  public List<A> addresses() {
    return List.copyOf(addresses);
  }

  /** The current address served: the next failure starts a new round. */
  public void succeeded() {
    failedInRound = 0;
  }

  /**
   * The current address could not serve (refused, unreachable, a standby). Moves to the leader
   * {@code hint} names, when it names another address, else to the next address; says whether to
   * back off first: once a whole round of addresses has failed.
   */
  public Next<A> failed(Optional<A> hint) {
    A failed = current();
    failedInRound++;
    boolean hinted = false;
    if (hint.isPresent() && !Objects.equals(hint.get(), failed)) {
      int at = addresses.indexOf(hint.get());
      if (at < 0 && addresses.size() < listed + MAX_ADDED) {
        addresses.add(hint.get());
        at = addresses.size() - 1;
      }
      if (at >= 0) {
        current = at;
        hinted = true;
      }
    }
    if (!hinted) {
      current = (current + 1) % addresses.size();
    }
    boolean backOff = failedInRound >= addresses.size();
    if (backOff) {
      failedInRound = 0;
    }
    return new Next<>(current(), backOff, hinted);
  }
}
