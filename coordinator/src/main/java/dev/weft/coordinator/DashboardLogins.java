package dev.weft.coordinator;

import com.google.protobuf.Duration;
import dev.weft.coordinator.security.Caller;
import dev.weft.coordinator.security.DashboardSessions;
import dev.weft.v1.DashboardLogin;
import io.grpc.Status;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;

/**
 * Answers CreateDashboardLogin: a code of {@link DashboardSessions} and where the HTTP port that
 * takes it listens. The port starts after the gRPC services are bound, so it is told here when it
 * serves.
 */
final class DashboardLogins {
  private final DashboardSessions sessions;
  private volatile HttpApi http;

  DashboardLogins(DashboardSessions sessions) {
    this.sessions = sessions;
  }

  DashboardSessions sessions() {
    return sessions;
  }

  void serving(HttpApi http) {
    this.http = http;
  }

  DashboardLogin create(Caller caller) {
    HttpApi port = http;
    if (port == null) {
      throw Status.FAILED_PRECONDITION
          .withDescription(
              "the coordinator serves no HTTP port (it was started with --http-listen off, or"
                  + " could not listen; see its log), so there is no dashboard to log in to")
          .asRuntimeException();
    }
    String code = sessions.issueCode(caller);
    return DashboardLogin.newBuilder()
        .setPath(HttpApi.LOGIN + "?code=" + URLEncoder.encode(code, StandardCharsets.UTF_8))
        .setHttpHost(port.listenHost())
        .setHttpPort(port.port())
        .setHttps(port.tls())
        .setExpiresIn(Duration.newBuilder().setSeconds(DashboardSessions.CODE_SECONDS))
        .build();
  }
}
