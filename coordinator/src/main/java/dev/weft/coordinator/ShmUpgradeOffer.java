package dev.weft.coordinator;

import dev.weft.v1.Hello;
import dev.weft.v1.ShmAccept;
import dev.weft.v1.ShmDecline;

/** Moves a same-host worker's task traffic onto shared memory once it proves it can reach it. */
interface ShmUpgradeOffer {

  /**
   * Before the worker is welcomed: why it cannot be taken when shared memory is required (by the
   * worker or by us) but cannot work between us (another host, namespace or user); else null.
   */
  String impossibleRequirement(Hello hello);

  /**
   * Called on the conductor after the hello; offers a segment when the worker may share memory with
   * us. Making the segment is file work: it happens on a thread of the offer's own.
   */
  void offer(AttachedWorker session, Hello hello);

  /** The worker read the nonce back: verify it and switch the session to the shared-memory link. */
  void accepted(AttachedWorker session, ShmAccept accept, WorkerAdapter adapter);

  /** The worker's link closed: drop any offer still waiting for its answer. */
  void closed(AttachedWorker session);

  /** The worker could not use the segment: remove it and stay on the current link. */
  void declined(AttachedWorker session, ShmDecline decline);
}
