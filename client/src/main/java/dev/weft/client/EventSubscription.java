package dev.weft.client;

import dev.weft.v1.JobEvent;
import java.util.concurrent.CancellationException;
import java.util.concurrent.Flow;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * One subscriber's watch of a job. The watch runs on a thread of its own (virtual) and reads the
 * next event from the stream only once the subscriber has asked for it, so gRPC's flow control
 * holds the coordinator back while the subscriber is busy.
 */
final class EventSubscription implements Flow.Subscription, Watch.Listener {
  private final Flow.Subscriber<? super JobEvent> subscriber;
  private final Watch watch;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition asked = lock.newCondition();
  private long demand; // guarded by lock
  private boolean cancelled; // guarded by lock
  private Throwable misuse; // guarded by lock: request(n) with n <= 0 (rule 3.9)

  EventSubscription(Flow.Subscriber<? super JobEvent> subscriber, Watch watch) {
    this.subscriber = subscriber;
    this.watch = watch;
  }

  @Override
  public void request(long n) {
    lock.lock();
    try {
      if (n <= 0) {
        misuse = new IllegalArgumentException("request(" + n + "): ask for at least one event");
        cancelled = true;
      } else {
        demand = demand + n < 0 ? Long.MAX_VALUE : demand + n;
      }
      asked.signalAll();
    } finally {
      lock.unlock();
    }
    if (n <= 0) {
      watch.stop();
    }
  }

  @Override
  public void cancel() {
    lock.lock();
    try {
      cancelled = true;
      asked.signalAll();
    } finally {
      lock.unlock();
    }
    watch.stop();
  }

  /** Waits for demand, then hands the event on; runs on the watch's thread. */
  @Override
  public void event(JobEvent event) throws InterruptedException {
    lock.lock();
    try {
      while (demand == 0 && !cancelled) {
        asked.await();
      }
      if (cancelled) {
        throw new CancellationException("the subscription was cancelled");
      }
      if (demand != Long.MAX_VALUE) {
        demand--;
      }
    } finally {
      lock.unlock();
    }
    subscriber.onNext(event);
  }

  /** The watch's body: runs it to the job's end and tells the subscriber how it ended. */
  void run(String id) {
    try {
      watch.await(id, this);
      if (!isCancelled()) {
        subscriber.onComplete();
      }
    } catch (CancellationException e) {
      Throwable error;
      lock.lock();
      try {
        error = misuse;
      } finally {
        lock.unlock();
      }
      if (error != null) {
        subscriber.onError(error);
      }
    } catch (InterruptedException e) {
      // The client is closing: the subscriber hears so, and this thread ends.
      Thread.currentThread().interrupt();
      if (!isCancelled()) {
        subscriber.onError(e);
      }
    } catch (RuntimeException e) {
      if (!isCancelled()) {
        subscriber.onError(e);
      }
    }
  }

  private boolean isCancelled() {
    lock.lock();
    try {
      return cancelled;
    } finally {
      lock.unlock();
    }
  }
}
