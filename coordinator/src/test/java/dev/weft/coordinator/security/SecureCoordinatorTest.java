package dev.weft.coordinator.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.security.CertificateRejectedException;
import dev.weft.security.ClientSecurity;
import dev.weft.security.JoinToken;
import dev.weft.security.Pem;
import dev.weft.security.TestPki;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.Hello;
import dev.weft.v1.HostIdentity;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.ListWorkersRequest;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A coordinator in secure mode, in this JVM on a loopback port ({@code --tls on}), and clients with
 * and without the right join token, certificates and names.
 */
class SecureCoordinatorTest {
  @TempDir Path dir;
  private final List<Coordinator> coordinators = new ArrayList<>();
  private final List<ManagedChannel> channels = new ArrayList<>();

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    coordinators.forEach(Coordinator::close);
  }

  private Coordinator start(Path dataDir, String host, SecurityConfig security) throws Exception {
    Coordinator coordinator =
        Coordinator.start(
            new CoordinatorConfig().listen(host, 0).dataDir(dataDir).security(security));
    coordinators.add(coordinator);
    return coordinator;
  }

  private static SecurityConfig tlsOn() {
    return new SecurityConfig().tls(SecurityConfig.Tls.ON);
  }

  private ManagedChannel channel(Coordinator coordinator, ClientSecurity security) {
    ManagedChannelBuilder<?> builder =
        Grpc.newChannelBuilderForAddress("127.0.0.1", coordinator.port(), security.credentials());
    if (security.serverName() != null) {
      builder.overrideAuthority(security.serverName());
    }
    ManagedChannel channel = builder.build();
    channels.add(channel);
    return channel;
  }

  private static void listWorkers(ManagedChannel channel) {
    JobServiceGrpc.newBlockingStub(channel)
        .withDeadlineAfter(10, TimeUnit.SECONDS)
        .listWorkers(ListWorkersRequest.getDefaultInstance());
  }

  private static String admin(Coordinator coordinator) throws java.io.IOException {
    return coordinator.security().adminToken().orElseThrow();
  }

  private static StatusRuntimeException refused(ManagedChannel channel) {
    return assertThrows(StatusRuntimeException.class, () -> listWorkers(channel));
  }

  @Test
  void theAdminTokenLetsInTheJoinTokenOnlyAttachesAndHealthNeedsNone() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    String token = coordinator.security().joinToken().orElseThrow();
    assertTrue(token.matches("weft1-[0-9a-f]{64}-[0-9a-f]{32}"), token);
    assertTrue(admin(coordinator).matches("weft1-[0-9a-f]{64}-[0-9a-f]{32}"));
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(
            Files.getPosixFilePermissions(dir.resolve("security/admin-token"))));

    listWorkers(channel(coordinator, new ClientSecurity().token(admin(coordinator))));
    StatusRuntimeException worker =
        refused(channel(coordinator, new ClientSecurity().token(token)));
    assertEquals(Status.Code.PERMISSION_DENIED, worker.getStatus().getCode());
    assertTrue(
        worker
            .getStatus()
            .getDescription()
            .startsWith("a worker's join token cannot use JobService"),
        worker::toString);

    // TLS, trusting the CA, but no token: health answers, the job service refuses.
    Path ca = dir.resolve("security/ca.pem");
    ManagedChannel anonymous = channel(coordinator, new ClientSecurity().caFile(ca));
    assertEquals(
        ServingStatus.SERVING,
        HealthGrpc.newBlockingStub(anonymous)
            .withDeadlineAfter(10, TimeUnit.SECONDS)
            .check(HealthCheckRequest.getDefaultInstance())
            .getStatus());
    StatusRuntimeException e = refused(anonymous);
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("no token"), e::toString);
    assertTrue(e.getStatus().getDescription().contains("weft token create NAME"));
  }

  @Test
  void aWrongSecretIsRefused() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    JoinToken right = JoinToken.parse(coordinator.security().joinToken().orElseThrow());
    String wrong = JoinToken.of(right.fingerprint(), JoinToken.newSecret()).text();
    StatusRuntimeException e = refused(channel(coordinator, new ClientSecurity().token(wrong)));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    assertTrue(e.getStatus().getDescription().startsWith("the token was not accepted"));
  }

  @Test
  void aTokenOfAnotherCoordinatorRejectsItsCertificate() throws Exception {
    Coordinator ours = start(dir.resolve("a"), "127.0.0.1", tlsOn());
    Coordinator theirs = start(dir.resolve("b"), "127.0.0.1", tlsOn());
    String theirToken = theirs.security().joinToken().orElseThrow();
    StatusRuntimeException e = refused(channel(ours, new ClientSecurity().token(theirToken)));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    String why = CertificateRejectedException.describe(e).orElseThrow();
    assertTrue(why.startsWith("the coordinator's certificate does not match the join token"), why);
  }

  @Test
  void aNameTheCertificateDoesNotCoverIsRejected() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    String token = coordinator.security().joinToken().orElseThrow();
    StatusRuntimeException e =
        refused(
            channel(coordinator, new ClientSecurity().token(token).serverName("elsewhere.test")));
    String why = CertificateRejectedException.describe(e).orElseThrow();
    assertTrue(why.startsWith("the coordinator's certificate was rejected"), why);
    assertTrue(why.contains("--tls-server-name"), why);
  }

  @Test
  void plainTextIsNotServedAndTheClientIsToldWhy() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    ClientSecurity plain = new ClientSecurity();
    StatusRuntimeException e = refused(channel(coordinator, plain));
    assertEquals(Status.Code.UNAVAILABLE, e.getStatus().getCode());
    String hint =
        plain
            .mismatch(e.getStatus())
            .orElseThrow(() -> new AssertionError("no hint for " + e.getStatus(), e));
    assertTrue(hint.startsWith("it hung up; it uses TLS"), hint);
  }

  @Test
  void aTokenForAPlainTextCoordinatorIsToldWhy() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", new SecurityConfig().insecure(true));
    assertFalse(coordinator.security().tls());
    assertTrue(coordinator.security().joinToken().isEmpty());
    JoinToken token = JoinToken.of(new byte[32], JoinToken.newSecret());
    ClientSecurity tls = new ClientSecurity().token(token.text());
    StatusRuntimeException e = refused(channel(coordinator, tls));
    assertTrue(tls.mismatch(e.getStatus()).orElseThrow().startsWith("it does not speak TLS"));
    assertFalse(Files.exists(dir.resolve("security")), "a plain-text coordinator makes no keys");
  }

  @Test
  void rotationInvalidatesTheOldToken() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    String old = coordinator.security().joinToken().orElseThrow();
    // Known (a worker): not allowed on JobService, but not unknown either.
    assertEquals(
        Status.Code.PERMISSION_DENIED,
        refused(channel(coordinator, new ClientSecurity().token(old))).getStatus().getCode());

    JoinTokenFiles.Join rotated = JoinTokenFiles.rotate(dir);
    String fresh = rotated.token().orElseThrow();
    assertNotEquals(old, fresh);
    assertEquals(fresh, JoinTokenFiles.show(dir).token().orElseThrow());
    assertEquals("127.0.0.1:" + coordinator.port(), rotated.address());
    assertEquals(
        "weft worker --join 127.0.0.1:" + coordinator.port() + " --token " + fresh,
        rotated.workerCommand());

    StatusRuntimeException e = refused(channel(coordinator, new ClientSecurity().token(old)));
    assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
    assertEquals(
        Status.Code.PERMISSION_DENIED,
        refused(channel(coordinator, new ClientSecurity().token(fresh))).getStatus().getCode());
    assertEquals(fresh, coordinator.security().joinToken().orElseThrow());
    // Client tokens are not the join token: rotation leaves them alone.
    listWorkers(channel(coordinator, new ClientSecurity().token(admin(coordinator))));
  }

  @Test
  void rotationWithDetachWorkersEndsTheAttachStreamsOfTheOldToken() throws Exception {
    Coordinator coordinator = start(dir, "127.0.0.1", tlsOn());
    String old = coordinator.security().joinToken().orElseThrow();
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<WorkerMessage> attach =
        WorkerServiceGrpc.newStub(channel(coordinator, new ClientSecurity().token(old)))
            .attach(
                new StreamObserver<>() {
                  @Override
                  public void onNext(CoordinatorMessage message) {}

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(Status.OK);
                  }
                });
    attach.onNext(
        WorkerMessage.newBuilder()
            .setHello(
                Hello.newBuilder()
                    .setWorkerId("leaked")
                    .setPid(1)
                    .setSlots(1)
                    .addKinds("sum")
                    .addTransports("grpc")
                    .setHost(HostIdentity.newBuilder().setHostname("elsewhere")))
            .build());
    assertTrue(coordinator.awaitWorkers(1, Duration.ofSeconds(10)));

    JoinTokenFiles.rotate(dir, true);
    Status status = ended.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.UNAUTHENTICATED, status.getCode());
    assertTrue(status.getDescription().contains("was revoked"), status::toString);
    assertEquals(
        "rw-------",
        PosixFilePermissions.toString(
            Files.getPosixFilePermissions(dir.resolve("security/revoked"))));
    attach.onCompleted();
  }

  @Test
  void revokedSecretsKeepTheNewestAndAreSeenAtOnce() throws Exception {
    SecurityFiles files = new SecurityFiles(dir);
    files.create();
    RevokedSecrets revoked = new RevokedSecrets(files.revoked());
    byte[] first = JoinToken.newSecret();
    assertFalse(revoked.contains(RevokedSecrets.hash(first)), "no file: nothing is revoked");
    RevokedSecrets.revoke(files, first);
    assertTrue(revoked.contains(RevokedSecrets.hash(first)));
    for (int i = 0; i < RevokedSecrets.KEPT; i++) {
      RevokedSecrets.revoke(files, JoinToken.newSecret());
    }
    assertFalse(revoked.contains(RevokedSecrets.hash(first)), "the oldest was dropped");
    assertEquals(RevokedSecrets.KEPT, Files.readAllLines(files.revoked()).size());
  }

  @Test
  void keysArePrivateAndSurviveARestartWhileTheServerCertificateFollowsTheAddress()
      throws Exception {
    Coordinator first = start(dir, "127.0.0.1", tlsOn());
    String token = first.security().joinToken().orElseThrow();
    first.close();
    coordinators.remove(first);
    for (String key : List.of("ca.key", "server.key", "token-secret")) {
      assertEquals(
          "rw-------",
          PosixFilePermissions.toString(
              Files.getPosixFilePermissions(dir.resolve("security").resolve(key))),
          key);
    }
    assertEquals(
        "rwx------",
        PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("security"))));
    X509Certificate before = Pem.readCertificates(dir.resolve("security/server.pem")).getFirst();

    Coordinator again = start(dir, "127.0.0.1", tlsOn());
    assertEquals(token, again.security().joinToken().orElseThrow());
    assertEquals(before, Pem.readCertificates(dir.resolve("security/server.pem")).getFirst());
    again.close();
    coordinators.remove(again);

    // Another address: a new server certificate, still under the same CA and token.
    Coordinator moved = start(dir, "127.0.0.2", tlsOn());
    assertEquals(token, moved.security().joinToken().orElseThrow());
    X509Certificate after = Pem.readCertificates(dir.resolve("security/server.pem")).getFirst();
    assertNotEquals(before, after);
    assertTrue(SubjectNames.of(after).covers("127.0.0.2"));
    assertFalse(SubjectNames.of(after).covers("127.0.0.1"));
  }

  @Test
  void ownCertificatesWithClientCertificates() throws Exception {
    TestPki pki = new TestPki("weft test CA");
    Path ca = pki.writeCa(dir.resolve("ca.pem"));
    pki.issueServer(dir.resolve("server.pem"), dir.resolve("server.key"));
    pki.issueClient(dir.resolve("client.pem"), dir.resolve("client.key"));
    TestPki other = new TestPki("another CA");
    other.issueClient(dir.resolve("stranger.pem"), dir.resolve("stranger.key"));

    Coordinator coordinator =
        start(
            dir.resolve("data"),
            "127.0.0.1",
            new SecurityConfig()
                .certificate(dir.resolve("server.pem"), dir.resolve("server.key"))
                .clientCa(ca));
    String token = admin(coordinator);

    listWorkers(
        channel(
            coordinator,
            new ClientSecurity()
                .caFile(ca)
                .token(token)
                .certFile(dir.resolve("client.pem"))
                .keyFile(dir.resolve("client.key"))));
    // The token alone pins the top of the served chain: no --tls-ca needed.
    listWorkers(
        channel(
            coordinator,
            new ClientSecurity()
                .token(token)
                .certFile(dir.resolve("client.pem"))
                .keyFile(dir.resolve("client.key"))));

    StatusRuntimeException noCert =
        refused(channel(coordinator, new ClientSecurity().token(token)));
    assertEquals(Status.Code.UNAUTHENTICATED, noCert.getStatus().getCode());
    assertTrue(noCert.getStatus().getDescription().contains("requires a client certificate"));

    StatusRuntimeException stranger =
        refused(
            channel(
                coordinator,
                new ClientSecurity()
                    .token(token)
                    .certFile(dir.resolve("stranger.pem"))
                    .keyFile(dir.resolve("stranger.key"))));
    // TLS offers only certificates of the client CA, so the stranger's is never sent.
    assertEquals(Status.Code.UNAUTHENTICATED, stranger.getStatus().getCode(), stranger::toString);
    assertTrue(stranger.getStatus().getDescription().contains("requires a client certificate"));

    // The local workers' token stands in for a client certificate; it is a worker's.
    StatusRuntimeException local =
        refused(
            channel(
                coordinator,
                new ClientSecurity().token(coordinator.security().localToken().orElseThrow())));
    assertEquals(Status.Code.PERMISSION_DENIED, local.getStatus().getCode(), local::toString);
  }

  @Test
  void badCombinationsAreRefusedWithTheirReason() {
    IllegalArgumentException plain =
        assertThrows(
            IllegalArgumentException.class,
            () -> new SecurityConfig().tls(SecurityConfig.Tls.OFF).conclude("0.0.0.0"));
    assertTrue(plain.getMessage().startsWith("refusing to serve plain text on 0.0.0.0"));
    assertFalse(new SecurityConfig().insecure(true).conclude("0.0.0.0").secure());
    assertTrue(new SecurityConfig().conclude("0.0.0.0").secure());
    // Loopback is no open door: TLS and tokens there too, plain text only when asked for.
    assertTrue(new SecurityConfig().conclude("127.0.0.2").secure());
    assertTrue(new SecurityConfig().tls(SecurityConfig.Tls.ON).conclude("127.0.0.2").secure());
    IllegalArgumentException loopbackPlain =
        assertThrows(
            IllegalArgumentException.class,
            () -> new SecurityConfig().tls(SecurityConfig.Tls.OFF).conclude("127.0.0.1"));
    assertTrue(loopbackPlain.getMessage().contains("every local user"), loopbackPlain::toString);
    assertFalse(new SecurityConfig().insecure(true).conclude("127.0.0.1").secure());
    assertEquals(
        "--no-token needs --tls-client-ca: without a join token or client certificates, anyone who"
            + " reaches the port could run any command on every worker",
        assertThrows(
                IllegalArgumentException.class,
                () -> new SecurityConfig().tokenRequired(false).conclude("0.0.0.0"))
            .getMessage());
    assertEquals(
        "--tls-cert and --tls-key go together: the certificate chain and its private key",
        assertThrows(
                IllegalArgumentException.class,
                () -> new SecurityConfig().certificate(dir, null).conclude("0.0.0.0"))
            .getMessage());
    assertEquals(
        "--tls-san: 'not a name' is neither an IP address nor a DNS name",
        assertThrows(
                IllegalArgumentException.class,
                () -> new SecurityConfig().extraNames(List.of("not a name")).conclude("0.0.0.0"))
            .getMessage());
  }
}
