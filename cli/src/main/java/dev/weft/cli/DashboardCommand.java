package dev.weft.cli;

import dev.weft.v1.CreateDashboardLoginRequest;
import dev.weft.v1.DashboardLogin;
import dev.weft.wire.Address;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code weft dashboard}: a link that logs a browser into the coordinator's web dashboard. */
@Command(
    name = "dashboard",
    mixinStandardHelpOptions = true,
    description = {
      "Print a link that logs a browser into the coordinator's web dashboard (jobs, a page per"
          + " job with a cancel button, workers), as the credential this command finds (--token,"
          + " WEFT_TOKEN, the coordinator's Unix socket, ...): the dashboard shows and allows what"
          + " that credential may.",
      "The link holds a one-time code, not the token: it works once, within a minute, and is"
          + " exchanged for a session that lasts 12 hours, until Log out, or until the coordinator"
          + " restarts. A revoked token ends its sessions.",
    },
    footerHeading = "%n",
    footer = {
      "Examples:",
      "  weft dashboard",
      "  weft dashboard --coordinator cluster-head:7070 --token \"$(cat ~/.weft-token)\"",
    })
final class DashboardCommand implements Callable<Integer> {
  @Spec private CommandSpec spec;

  @Mixin private ClientOptions client;

  @Override
  public Integer call() {
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (CoordinatorClient coordinator = client.connect()) {
      DashboardLogin login;
      try {
        login =
            coordinator
                .stub(CoordinatorClient.UNARY_DEADLINE)
                .createDashboardLogin(CreateDashboardLoginRequest.getDefaultInstance());
      } catch (StatusRuntimeException e) {
        throw coordinator.failure(e);
      }
      out.println(url(coordinator.address(), login));
      out.flush();
      err.printf("open this link within %d s; it works once%n", login.getExpiresIn().getSeconds());
      err.flush();
      return ExitCodes.OK;
    }
  }

  /**
   * The login URL: the HTTP port's own address, or, when it listens on every address, the host this
   * command reached the coordinator at (loopback for its Unix socket).
   */
  static String url(Address coordinator, DashboardLogin login) {
    String host = login.getHttpHost();
    if (host.isEmpty()) {
      host = coordinator.isUnix() ? "127.0.0.1" : coordinator.host();
    }
    if (host.contains(":")) {
      host = "[" + host + "]";
    }
    return (login.getHttps() ? "https://" : "http://")
        + host
        + ":"
        + login.getHttpPort()
        + login.getPath();
  }
}
