package dev.weft.coordinator;

import dev.weft.v1.Hello;
import dev.weft.v1.WorkerMessage;
import io.grpc.Status;

/**
 * Decodes the messages of one worker, whichever link carries them, into commands for the conductor.
 * Every transport feeds one of these, so protocol rules live in one place. It runs on the link's
 * reader thread: a hello is checked there, and everything that touches the coordinator's state is
 * posted to the conductor, in the order the worker sent it.
 */
final class WorkerAdapter {
  static final int MAX_WORKER_ID_CHARS = 200;
  static final int MAX_SLOTS = 4096;

  private final Conductor conductor;
  private final Scheduler scheduler;
  private final WorkerLink link;
  private final ShmUpgradeOffer shmUpgrade;
  // Read by the link's reader threads (the control link's and, once upgraded, the ring's).
  private volatile boolean helloSeen;
  // Conductor thread only.
  private AttachedWorker session;

  /**
   * @param shmUpgrade offers a same-host worker shared memory after its hello; null when the link
   *     cannot be upgraded
   */
  WorkerAdapter(
      Conductor conductor, Scheduler scheduler, WorkerLink link, ShmUpgradeOffer shmUpgrade) {
    this.conductor = conductor;
    this.scheduler = scheduler;
    this.link = link;
    this.shmUpgrade = shmUpgrade;
  }

  /** Handles one message; a protocol violation closes the link with INVALID_ARGUMENT. */
  void onMessage(WorkerMessage message) {
    if (!helloSeen) {
      if (!message.hasHello()) {
        link.refuse(
            Status.INVALID_ARGUMENT.withDescription(
                "the first message on a worker link must be a hello, got "
                    + message.getBodyCase()));
        return;
      }
      String problem = checkHello(message.getHello());
      if (problem != null) {
        link.refuse(Status.INVALID_ARGUMENT.withDescription(problem));
        return;
      }
      String impossible =
          shmUpgrade == null ? null : shmUpgrade.impossibleRequirement(message.getHello());
      if (impossible != null) {
        // Refused before the welcome: no task is ever assigned over a link about to close.
        link.refuse(Status.FAILED_PRECONDITION.withDescription(impossible));
        return;
      }
      helloSeen = true;
      // Whatever the worker sends next is posted after this, so it finds the session.
      conductor.post(
          () -> {
            session = scheduler.attach(message.getHello(), link);
            if (shmUpgrade != null) {
              shmUpgrade.offer(session, message.getHello());
            }
          });
      return;
    }
    // A beat is timed where it arrives, not when the conductor gets to it.
    long arrivedNanos = message.hasHeartbeat() ? conductor.nanoTimeNow() : 0;
    conductor.post(
        () -> {
          if (session != null) {
            handle(session, message, arrivedNanos);
          }
        });
  }

  private void handle(AttachedWorker current, WorkerMessage message, long arrivedNanos) {
    switch (message.getBodyCase()) {
      case CREDIT -> scheduler.credit(current, message.getCredit().getSlots());
      case RESULTS -> scheduler.results(current, message.getResults().getResultsList());
      case HEARTBEAT -> scheduler.heartbeat(current, message.getHeartbeat(), arrivedNanos);
      case DRAINING ->
          scheduler.handBack(current, message.getDraining().getReturnedAttemptIdsList());
      case GOODBYE -> {
        scheduler.handBack(current, message.getGoodbye().getReturnedAttemptIdsList());
        scheduler.detached(current, "it said goodbye: " + message.getGoodbye().getReason());
        link.close("goodbye");
      }
      case SHM_ACCEPT -> {
        if (shmUpgrade != null) {
          shmUpgrade.accepted(current, message.getShmAccept(), this);
        }
      }
      case SHM_DECLINE -> {
        if (shmUpgrade != null) {
          shmUpgrade.declined(current, message.getShmDecline());
        }
      }
      case LOG_CHUNK -> scheduler.logRelays().chunk(current, message.getLogChunk());
      case HELLO -> link.refuse(Status.INVALID_ARGUMENT.withDescription("hello sent twice"));
      case BODY_NOT_SET ->
          link.refuse(Status.INVALID_ARGUMENT.withDescription("empty WorkerMessage (no body set)"));
    }
  }

  /** The link is gone: the worker's attempts go back to the queue. */
  void onClosed(String reason) {
    conductor.post(
        () -> {
          if (session != null) {
            scheduler.detached(session, reason);
            if (shmUpgrade != null) {
              shmUpgrade.closed(session);
            }
          }
        });
  }

  /** Returns what is wrong with a hello, or null when it is acceptable. */
  static String checkHello(Hello hello) {
    String id = hello.getWorkerId();
    if (id.isBlank() || id.length() > MAX_WORKER_ID_CHARS) {
      return "hello.worker_id: must be 1.." + MAX_WORKER_ID_CHARS + " characters, not blank";
    }
    for (int i = 0; i < id.length(); i++) {
      if (Character.isISOControl(id.charAt(i)) || Character.isWhitespace(id.charAt(i))) {
        return "hello.worker_id: must not contain spaces or control characters";
      }
    }
    if (hello.getSlots() < 1 || hello.getSlots() > MAX_SLOTS) {
      return "hello.slots: must be 1.." + MAX_SLOTS + ", got " + hello.getSlots();
    }
    if (hello.getKindsCount() == 0) {
      return "hello.kinds: a worker must run at least one kind";
    }
    return null;
  }
}
