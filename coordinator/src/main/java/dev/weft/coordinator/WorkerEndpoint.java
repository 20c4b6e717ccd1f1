package dev.weft.coordinator;

import dev.weft.coordinator.security.ServerSecurity;
import dev.weft.v1.CoordinatorMessage;
import dev.weft.v1.WorkerMessage;
import dev.weft.v1.WorkerServiceGrpc;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;

/** {@code WorkerService}: turns each Attach stream into a {@link GrpcWorkerLink}. */
final class WorkerEndpoint extends WorkerServiceGrpc.WorkerServiceImplBase {
  private final Conductor conductor;
  private final Scheduler scheduler;
  private final ShmUpgradeOffer shmUpgrade;

  WorkerEndpoint(Conductor conductor, Scheduler scheduler, ShmUpgradeOffer shmUpgrade) {
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.shmUpgrade = shmUpgrade;
  }

  @Override
  public StreamObserver<WorkerMessage> attach(StreamObserver<CoordinatorMessage> responses) {
    ServerCallStreamObserver<CoordinatorMessage> out =
        (ServerCallStreamObserver<CoordinatorMessage>) responses;
    GrpcWorkerLink link = new GrpcWorkerLink(out, ServerSecurity.revocationOfThisCall());
    WorkerAdapter adapter = new WorkerAdapter(conductor, scheduler, link, shmUpgrade);
    out.setOnCancelHandler(
        () -> {
          link.markClosed();
          adapter.onClosed("its stream was cancelled");
        });
    return new StreamObserver<>() {
      @Override
      public void onNext(WorkerMessage message) {
        adapter.onMessage(message);
      }

      @Override
      public void onError(Throwable t) {
        link.markClosed();
        adapter.onClosed("its stream broke: " + Status.fromThrowable(t).getCode());
      }

      @Override
      public void onCompleted() {
        adapter.onClosed("it closed its stream");
        link.complete();
      }
    };
  }
}
