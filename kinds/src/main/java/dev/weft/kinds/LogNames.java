package dev.weft.kinds;

import com.google.common.hash.Hashing;
import java.nio.charset.StandardCharsets;

/**
 * File names for ids that come from elsewhere (job ids, worker ids): letters, digits, '-' and '_'
 * stay; every other byte of the UTF-8 form becomes {@code %XX}, so no name is {@code .}, {@code
 * ..}, hidden or holds a '/', and two ids never share a name. A name too long for a file system
 * keeps its start and ends in {@code ~} and a hash of the whole id.
 */
final class LogNames {
  static final int MAX_NAME = 128;
  private static final int KEPT_PREFIX = 100;

  private LogNames() {}

  static String encode(String id) {
    if (id.isEmpty()) {
      throw new IllegalArgumentException("an id for a file name must not be empty");
    }
    StringBuilder name = new StringBuilder(id.length());
    for (byte b : id.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if ((c >= 'a' && c <= 'z')
          || (c >= 'A' && c <= 'Z')
          || (c >= '0' && c <= '9')
          || c == '-'
          || c == '_') {
        name.append((char) c);
      } else {
        name.append('%').append(Character.toUpperCase(Character.forDigit(c >> 4, 16)));
        name.append(Character.toUpperCase(Character.forDigit(c & 0xF, 16)));
      }
    }
    if (name.length() <= MAX_NAME) {
      return name.toString();
    }
    // '~' never appears in an encoded name, so a shortened one cannot equal another's full name.
    String hash = Hashing.sha256().hashString(id, StandardCharsets.UTF_8).toString();
    return name.substring(0, KEPT_PREFIX) + "~" + hash.substring(0, 24);
  }
}
