package dev.weft.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.grpc.Status;
import java.io.IOException;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The hints a client gives when its security does not match the coordinator's. */
class ClientSecurityTest {
  private final ClientSecurity plain = new ClientSecurity();

  @Test
  void aPlainTextClientThatATlsServerHungUpOnIsToldToPassTheToken() {
    for (Status status :
        new Status[] {
          Status.UNAVAILABLE.withDescription("Network closed for unknown reason"),
          Status.UNAVAILABLE.withDescription(
              "Connection closed while performing protocol negotiation"),
          // The server closed with our later bytes unread: a reset, not a close.
          Status.UNAVAILABLE
              .withDescription("io exception")
              .withCause(new IOException("Connection reset by peer")),
        }) {
      String hint = plain.mismatch(status).orElseThrow(() -> new AssertionError(status));
      assertTrue(hint.startsWith("it hung up; it uses TLS") && hint.contains("--token"), hint);
    }
  }

  @Test
  void otherFailuresGetNoHint() {
    assertEquals(
        Optional.empty(),
        plain.mismatch(
            Status.UNAVAILABLE
                .withDescription("io exception")
                .withCause(new IOException("Connection refused"))));
    assertEquals(
        Optional.empty(), plain.mismatch(Status.DEADLINE_EXCEEDED.withDescription("deadline")));
  }
}
