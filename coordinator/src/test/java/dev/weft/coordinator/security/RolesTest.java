package dev.weft.coordinator.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.weft.coordinator.Coordinator;
import dev.weft.coordinator.CoordinatorConfig;
import dev.weft.security.ClientSecurity;
import dev.weft.v1.CancelJobRequest;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.DrainWorkerRequest;
import dev.weft.v1.ExecParams;
import dev.weft.v1.GetJobRequest;
import dev.weft.v1.Job;
import dev.weft.v1.JobServiceGrpc;
import dev.weft.v1.JobSpec;
import dev.weft.v1.JobView;
import dev.weft.v1.ListJobsRequest;
import dev.weft.v1.SubmitJobRequest;
import dev.weft.v1.SumParams;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Who may do what, tried as each caller over TLS on a real loopback port: the join token, client
 * tokens of each role, with and without the exec grant, and a revoked one.
 */
class RolesTest {
  @TempDir Path dir;
  private Coordinator coordinator;
  private final List<ManagedChannel> channels = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    coordinator = Coordinator.start(new CoordinatorConfig().listen("127.0.0.1", 0).dataDir(dir));
  }

  @AfterEach
  void stop() throws InterruptedException {
    for (ManagedChannel channel : channels) {
      channel.shutdownNow();
      channel.awaitTermination(5, TimeUnit.SECONDS);
    }
    coordinator.close();
  }

  private JobServiceGrpc.JobServiceBlockingStub as(String token) {
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1",
                coordinator.port(),
                new ClientSecurity().token(token).conclude().credentials())
            .build();
    channels.add(channel);
    return JobServiceGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS);
  }

  private String client(String name, Caller.Role role, boolean exec) throws Exception {
    return ClientTokens.create(dir, name, role, exec);
  }

  private static Status.Code refusal(Executable call) {
    return assertThrows(StatusRuntimeException.class, call).getStatus().getCode();
  }

  private static StatusRuntimeException refused(Executable call) {
    return assertThrows(StatusRuntimeException.class, call);
  }

  private static SubmitJobRequest sum() {
    return SubmitJobRequest.newBuilder()
        .setSpec(JobSpec.newBuilder().setSum(SumParams.newBuilder().setFrom(1).setTo(10)))
        .build();
  }

  private static SubmitJobRequest exec(String secret) {
    return SubmitJobRequest.newBuilder()
        .setSpec(
            JobSpec.newBuilder()
                .setExec(ExecParams.newBuilder().addCommand("true").putEnv("API_KEY", secret)))
        .build();
  }

  @Test
  void theJoinTokenOnlyAttachesAndAClientTokenNeverAttaches() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub worker =
        as(coordinator.security().joinToken().orElseThrow());
    assertEquals(Status.Code.PERMISSION_DENIED, refusal(() -> worker.submitJob(sum())));
    assertEquals(
        Status.Code.PERMISSION_DENIED,
        refusal(() -> worker.cancelJob(CancelJobRequest.newBuilder().setId("j1").build())));
    assertEquals(
        Status.Code.PERMISSION_DENIED,
        refusal(() -> worker.listJobs(ListJobsRequest.getDefaultInstance())));

    String admin = coordinator.security().adminToken().orElseThrow();
    ManagedChannel channel =
        Grpc.newChannelBuilderForAddress(
                "127.0.0.1",
                coordinator.port(),
                new ClientSecurity().token(admin).conclude().credentials())
            .build();
    channels.add(channel);
    CompletableFuture<Status> ended = new CompletableFuture<>();
    StreamObserver<WorkerMessage> attach =
        WorkerServiceGrpc.newStub(channel)
            .attach(
                new StreamObserver<>() {
                  @Override
                  public void onNext(CoordinatorMessage message) {
                    ended.completeExceptionally(new AssertionError("welcomed: " + message));
                  }

                  @Override
                  public void onError(Throwable t) {
                    ended.complete(Status.fromThrowable(t));
                  }

                  @Override
                  public void onCompleted() {
                    ended.complete(Status.OK);
                  }
                });
    attach.onNext(WorkerMessage.getDefaultInstance());
    Status status = ended.get(10, TimeUnit.SECONDS);
    assertEquals(Status.Code.PERMISSION_DENIED, status.getCode(), status::toString);
    assertTrue(status.getDescription().contains("cannot attach a worker"), status::toString);
  }

  @Test
  void eachRoleMayDoWhatItSaysAndNoMore() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub admin =
        as(coordinator.security().adminToken().orElseThrow());
    JobServiceGrpc.JobServiceBlockingStub reader = as(client("dashboard", Caller.Role.READ, false));
    JobServiceGrpc.JobServiceBlockingStub submitter = as(client("ci", Caller.Role.SUBMIT, false));
    JobServiceGrpc.JobServiceBlockingStub runner = as(client("ops", Caller.Role.SUBMIT, true));

    StatusRuntimeException readOnly = refused(() -> reader.submitJob(sum()));
    assertEquals(Status.Code.PERMISSION_DENIED, readOnly.getStatus().getCode());
    assertTrue(
        readOnly.getStatus().getDescription().contains("token 'dashboard' has role read"),
        readOnly::toString);

    Job own = submitter.submitJob(sum());
    assertEquals("ci", own.getSpec().getOwner(), "jobs record who submitted them");
    StatusRuntimeException noExec = refused(() -> submitter.submitJob(exec("s3cret")));
    assertEquals(Status.Code.PERMISSION_DENIED, noExec.getStatus().getCode());
    assertTrue(noExec.getStatus().getDescription().contains("--allow-exec"), noExec::toString);

    // What a client says about the owner is replaced by who it is.
    Job forged =
        runner.submitJob(
            exec("s3cret").toBuilder()
                .setSpec(exec("s3cret").getSpec().toBuilder().setOwner("admin"))
                .build());
    assertEquals("ops", forged.getSpec().getOwner());

    Job adminJob = admin.submitJob(sum());
    StatusRuntimeException notOwn =
        refused(
            () ->
                submitter.cancelJob(CancelJobRequest.newBuilder().setId(adminJob.getId()).build()));
    assertEquals(Status.Code.PERMISSION_DENIED, notOwn.getStatus().getCode());
    assertTrue(notOwn.getStatus().getDescription().contains("belongs to 'admin'"));
    assertTrue(
        submitter
            .cancelJob(CancelJobRequest.newBuilder().setId(own.getId()).build())
            .getCancelled());
    assertTrue(
        admin
            .cancelJob(CancelJobRequest.newBuilder().setId(forged.getId()).build())
            .getCancelled());
    assertEquals(
        Status.Code.PERMISSION_DENIED,
        refusal(() -> submitter.drainWorker(DrainWorkerRequest.newBuilder().setId("w1").build())));

    // A higher class takes slots first and may preempt: above --max-submit-priority, admins only.
    SubmitJobRequest urgent =
        SubmitJobRequest.newBuilder().setSpec(sum().getSpec().toBuilder().setPriority(5)).build();
    StatusRuntimeException tooHigh = refused(() -> submitter.submitJob(urgent));
    assertEquals(Status.Code.PERMISSION_DENIED, tooHigh.getStatus().getCode());
    assertTrue(
        tooHigh.getStatus().getDescription().contains("--max-submit-priority"),
        tooHigh.getStatus().getDescription());
    Job niced =
        submitter.submitJob(
            SubmitJobRequest.newBuilder()
                .setSpec(sum().getSpec().toBuilder().setPriority(-3))
                .build());
    assertEquals(-3, niced.getSpec().getPriority());
    assertEquals(5, admin.submitJob(urgent).getSpec().getPriority());
    dev.weft.v1.SetJobPriorityRequest raise =
        dev.weft.v1.SetJobPriorityRequest.newBuilder().setId(niced.getId()).setPriority(9).build();
    assertEquals(Status.Code.PERMISSION_DENIED, refusal(() -> submitter.setJobPriority(raise)));

    // The exec job's env values: its owner and admins see them, other readers do not.
    GetJobRequest get = GetJobRequest.newBuilder().setId(forged.getId()).build();
    assertEquals("s3cret", runner.getJob(get).getSpec().getExec().getEnvOrThrow("API_KEY"));
    assertEquals("s3cret", admin.getJob(get).getSpec().getExec().getEnvOrThrow("API_KEY"));
    assertEquals("<redacted>", reader.getJob(get).getSpec().getExec().getEnvOrThrow("API_KEY"));
    for (Job listed :
        reader
            .listJobs(ListJobsRequest.newBuilder().setView(JobView.JOB_VIEW_FULL).build())
            .getJobsList()) {
      assertTrue(
          !listed.getSpec().getExec().getEnvMap().containsValue("s3cret"),
          () -> "a reader saw the secret: " + listed);
    }
  }

  @Test
  void aRevokedClientTokenIsRefusedAtOnce() throws Exception {
    JobServiceGrpc.JobServiceBlockingStub reader = as(client("gone", Caller.Role.READ, false));
    reader.listJobs(ListJobsRequest.getDefaultInstance());
    ClientTokens.revoke(dir, "gone");
    assertEquals(
        Status.Code.UNAUTHENTICATED,
        refusal(() -> reader.listJobs(ListJobsRequest.getDefaultInstance())));
    IllegalArgumentException again =
        assertThrows(IllegalArgumentException.class, () -> ClientTokens.revoke(dir, "gone"));
    assertTrue(again.getMessage().contains("no client token named 'gone'"));
    IllegalArgumentException badName =
        assertThrows(
            IllegalArgumentException.class, () -> client("Bad Name", Caller.Role.READ, false));
    assertTrue(badName.getMessage().contains("a-z, 0-9"), badName::toString);
  }
}
