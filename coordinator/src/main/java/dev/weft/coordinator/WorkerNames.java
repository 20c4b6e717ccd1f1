package dev.weft.coordinator;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Every worker id that has run a task, numbered, so a job can record which worker ran each task's
 * latest attempt as a small int rather than a string per task; with each, where that worker said it
 * keeps its task logs. Conductor thread only.
 */
final class WorkerNames {
  /** A task whose latest attempt no worker has run (or this coordinator does not know). */
  static final int NONE = -1;

  private final Map<String, Integer> indices = new HashMap<>();
  private final List<String> ids = new ArrayList<>();
  private final List<String> logDirs = new ArrayList<>();

  /** The index of worker {@code id}, which now keeps its task logs in {@code logDir}. */
  int index(String id, String logDir) {
    Integer known = indices.get(id);
    if (known != null) {
      logDirs.set(known, logDir);
      return known;
    }
    int index = ids.size();
    indices.put(id, index);
    ids.add(id);
    logDirs.add(logDir);
    return index;
  }

  String id(int index) {
    return ids.get(index);
  }

  /** Where the worker last said it keeps its task logs; empty if it keeps none. */
  String logDir(int index) {
    return logDirs.get(index);
  }
}
