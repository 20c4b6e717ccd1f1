package dev.weft.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Metadata;
import io.grpc.Status;
import java.net.ConnectException;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FollowOrderTest {
  @Test
  void withoutHintsTriesEachAddressInTurnAndBacksOffOncePerRound() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b", "c"));
    assertEquals("a", order.current());
    assertEquals(new FollowOrder.Next<>("b", false, false), order.failed(Optional.empty()));
    assertEquals(new FollowOrder.Next<>("c", false, false), order.failed(Optional.empty()));
    assertEquals(new FollowOrder.Next<>("a", true, false), order.failed(Optional.empty()));
    assertEquals(new FollowOrder.Next<>("b", false, false), order.failed(Optional.empty()));
  }

  @Test
  void aHintIsTriedBeforeTheNextAddress() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b", "c"));
    assertEquals(new FollowOrder.Next<>("c", false, true), order.failed(Optional.of("c")));
    // c is down too: then the next after it, in list order.
    assertEquals(new FollowOrder.Next<>("a", false, false), order.failed(Optional.empty()));
  }

  @Test
  void aHintOutsideTheListIsAddedAndTried() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b"));
    assertEquals(new FollowOrder.Next<>("x", false, true), order.failed(Optional.of("x")));
    assertEquals(List.of("a", "b", "x"), order.addresses());
    assertEquals("a", order.failed(Optional.empty()).address());
  }

  @Test
  void aHintNamingTheAddressThatFailedMovesOn() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b"));
    assertEquals(new FollowOrder.Next<>("b", false, false), order.failed(Optional.of("a")));
  }

  @Test
  void standbysNamingEachOtherStillBackOffOncePerRound() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b"));
    assertFalse(order.failed(Optional.of("b")).backOff());
    assertTrue(order.failed(Optional.of("a")).backOff());
  }

  @Test
  void aSuccessStartsANewRound() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a", "b"));
    order.failed(Optional.empty());
    order.succeeded();
    assertEquals(new FollowOrder.Next<>("a", false, false), order.failed(Optional.empty()));
  }

  @Test
  void aSingleAddressBacksOffAfterEveryFailure() {
    FollowOrder<String> order = new FollowOrder<>(List.of("a"));
    assertEquals(new FollowOrder.Next<>("a", true, false), order.failed(Optional.empty()));
    assertThrows(IllegalArgumentException.class, () -> new FollowOrder<>(List.of()));
  }

  @Test
  void aStandbysAnswerAndARefusedConnectionWereNotActedOn() {
    Metadata trailers = new Metadata();
    trailers.put(Leaders.LEADER, "10.0.0.2:7070");
    Status standby =
        Status.UNAVAILABLE.withDescription(
            "this coordinator is a standby; the leader is at 10.0.0.2:7070");
    Throwable answer = standby.asRuntimeException(trailers);
    assertEquals(Optional.of("10.0.0.2:7070"), Leaders.hint(answer));
    assertTrue(Leaders.notActedOn(answer));
    Throwable leaderUnknown =
        Status.UNAVAILABLE.withDescription("this coordinator is a standby").asRuntimeException();
    assertEquals(Optional.empty(), Leaders.hint(leaderUnknown));
    assertTrue(Leaders.notActedOn(leaderUnknown));
    Throwable refused =
        Status.UNAVAILABLE
            .withDescription("io exception")
            .withCause(new ConnectException("Connection refused"))
            .asRuntimeException();
    assertTrue(Leaders.notActedOn(refused));
    Throwable broken =
        Status.UNAVAILABLE
            .withDescription("Network closed for unknown reason")
            .asRuntimeException();
    assertFalse(Leaders.notActedOn(broken), "a stream that broke may have been acted on");
    assertFalse(Leaders.notActedOn(Status.INTERNAL.asRuntimeException(trailers)));
  }
}
