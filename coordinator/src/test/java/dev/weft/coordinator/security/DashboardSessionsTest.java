package dev.weft.coordinator.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The dashboard's codes and sessions on a hand-set clock. */
class DashboardSessionsTest {
  private static final Caller READER = new Caller("viewer", false, Caller.Role.READ, false);

  private final AtomicLong now = new AtomicLong(1_000_000_000L);
  private final DashboardSessions sessions = new DashboardSessions(null, now::get);

  private void advance(long amount, TimeUnit unit) {
    now.addAndGet(unit.toNanos(amount));
  }

  @Test
  void aCodeOpensOneSessionOnce() {
    String code = sessions.issueCode(READER);
    DashboardSessions.Login login = sessions.redeem(code).orElseThrow();
    assertEquals(READER, login.caller());
    assertNotEquals(login.cookie(), login.key());
    assertTrue(sessions.redeem(code).isEmpty(), "a spent code");
    assertTrue(sessions.redeem("made-up").isEmpty());
    assertTrue(sessions.redeem(null).isEmpty());
    assertEquals(Optional.of(READER), sessions.caller(login.cookie(), login.key()));
    assertTrue(sessions.known(login.cookie()));
  }

  @Test
  void theCookieNeedsItsKey() {
    DashboardSessions.Login login = sessions.redeem(sessions.issueCode(READER)).orElseThrow();
    assertTrue(sessions.caller(login.cookie(), null).isEmpty());
    assertTrue(sessions.caller(login.cookie(), login.cookie()).isEmpty());
    assertTrue(sessions.caller(login.key(), login.key()).isEmpty());
    DashboardSessions.Login other = sessions.redeem(sessions.issueCode(READER)).orElseThrow();
    assertTrue(sessions.caller(login.cookie(), other.key()).isEmpty(), "keys are per session");
  }

  @Test
  void codesAndSessionsExpire() {
    String late = sessions.issueCode(READER);
    String inTime = sessions.issueCode(READER);
    advance(DashboardSessions.CODE_SECONDS - 1, TimeUnit.SECONDS);
    DashboardSessions.Login login = sessions.redeem(inTime).orElseThrow();
    advance(2, TimeUnit.SECONDS);
    assertTrue(sessions.redeem(late).isEmpty(), "a code past its minute");

    advance(DashboardSessions.SESSION_HOURS, TimeUnit.HOURS);
    assertTrue(sessions.caller(login.cookie(), login.key()).isEmpty(), "a session past its hours");
    assertFalse(sessions.known(login.cookie()));
  }

  @Test
  void logoutEndsTheSession() {
    DashboardSessions.Login login = sessions.redeem(sessions.issueCode(READER)).orElseThrow();
    sessions.end(login.cookie());
    assertTrue(sessions.caller(login.cookie(), login.key()).isEmpty());
  }

  @Test
  void theOldestGoFirstWhenTheBoundsAreReached() {
    List<String> codes = new ArrayList<>();
    for (int i = 0; i <= DashboardSessions.MAX_CODES; i++) {
      codes.add(sessions.issueCode(READER));
    }
    assertTrue(sessions.redeem(codes.getFirst()).isEmpty(), "the oldest code was dropped");
    assertTrue(sessions.redeem(codes.getLast()).isPresent());

    List<DashboardSessions.Login> logins = new ArrayList<>();
    for (int i = 0; i <= DashboardSessions.MAX_SESSIONS; i++) {
      logins.add(sessions.redeem(sessions.issueCode(READER)).orElseThrow());
    }
    // The code redeemed above made one more session before these.
    assertFalse(sessions.known(logins.getFirst().cookie()));
    assertTrue(sessions.known(logins.getLast().cookie()));
  }
}
