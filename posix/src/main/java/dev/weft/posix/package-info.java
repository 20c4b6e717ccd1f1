/**
 * The few POSIX and Linux calls weft makes itself, with no job knowledge: kill(2) and getpgid(2)
 * ({@link dev.weft.posix.Signals}), futex(2) ({@link dev.weft.posix.Futex}) through the FFM API,
 * and /proc/PID/stat ({@link dev.weft.posix.ProcessStat}). Linux only (x86_64, aarch64). The JVM
 * needs {@code --enable-native-access=ALL-UNNAMED}.
 */
package dev.weft.posix;
