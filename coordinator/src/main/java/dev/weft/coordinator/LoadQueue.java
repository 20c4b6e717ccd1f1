package dev.weft.coordinator;

import java.util.Map;
import java.util.TreeMap;

/**
 * Members ordered by load (running tasks over weight), lowest first; members of equal load in the
 * order they reached it, so equal members take turns. Members of one load share a bucket, a linked
 * list threaded through the members themselves: loads take few distinct values (a job runs a
 * handful of tasks), so adding, removing and finding the first member cost O(1) plus a lookup among
 * the distinct loads, whatever the number of members, and touch no other member.
 */
final class LoadQueue<T extends LoadQueue.Member> {

  /** What a queue links: a job or an owner's share. In at most one queue at a time. */
  abstract static class Member {
    private Member prev;
    private Member next;
    private Bucket bucket;

    final boolean isQueued() {
      return bucket != null;
    }
  }

  private static final class Bucket {
    private final double load;
    private Member head;
    private Member tail;

    private Bucket(double load) {
      this.load = load;
    }
  }

  private final TreeMap<Double, Bucket> buckets = new TreeMap<>();
  private int size;

  boolean isEmpty() {
    return size == 0;
  }

  int size() {
    return size;
  }

  /** Adds a member that is in no queue, behind those of the same load. */
  void add(T added, double load) {
    Member member = added;
    Bucket bucket = buckets.get(load);
    if (bucket == null) {
      bucket = new Bucket(load);
      buckets.put(load, bucket);
    }
    member.bucket = bucket;
    member.prev = bucket.tail;
    member.next = null;
    if (bucket.tail == null) {
      bucket.head = member;
    } else {
      bucket.tail.next = member;
    }
    bucket.tail = member;
    size++;
  }

  /** Removes a member of this queue; false when it was in none. */
  boolean remove(T removed) {
    Member member = removed;
    Bucket bucket = member.bucket;
    if (bucket == null) {
      return false;
    }
    if (member.prev == null) {
      bucket.head = member.next;
    } else {
      member.prev.next = member.next;
    }
    if (member.next == null) {
      bucket.tail = member.prev;
    } else {
      member.next.prev = member.prev;
    }
    member.prev = null;
    member.next = null;
    member.bucket = null;
    if (bucket.head == null) {
      buckets.remove(bucket.load);
    }
    size--;
    return true;
  }

  /** Moves a queued member whose load changed to the back of its new load's members. */
  void move(T moved, double load) {
    Member member = moved;
    if (member.bucket != null && member.bucket.load != load) {
      remove(moved);
      add(moved, load);
    }
  }

  /** The member of lowest load that reached it first; null when empty. */
  @SuppressWarnings("unchecked")
  T first() {
    Map.Entry<Double, Bucket> lowest = buckets.firstEntry();
    return lowest == null ? null : (T) lowest.getValue().head;
  }

  /** The member after {@code member} in order; null after the last. */
  @SuppressWarnings("unchecked")
  T after(T current) {
    Member member = current;
    if (member.next != null) {
      return (T) member.next;
    }
    Map.Entry<Double, Bucket> higher = buckets.higherEntry(member.bucket.load);
    return higher == null ? null : (T) higher.getValue().head;
  }
}
