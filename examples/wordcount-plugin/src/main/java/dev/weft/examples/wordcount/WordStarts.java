package dev.weft.examples.wordcount;

/**
 * Counts where words start, in bytes fed in file order: a word is a maximal run of non-whitespace
 * bytes, and starts at a non-whitespace byte that follows whitespace or nothing. Counting starts,
 * not words, is what lets each chunk of a file count on its own: a word is counted by the chunk
 * that holds its first byte, whatever chunk it ends in.
 */
final class WordStarts {
  private boolean inWord;
  private long count;

  /**
   * @param afterWordByte whether the byte just before the first one fed is part of a word (a word
   *     that started there is not counted here)
   */
  WordStarts(boolean afterWordByte) {
    this.inWord = afterWordByte;
  }

  /** Whitespace as C's {@code isspace} in the C locale: space, \t, \n, \v, \f, \r. */
  static boolean isSpace(byte b) {
    return b == ' ' || (b >= '\t' && b <= '\r');
  }

  void add(byte[] bytes, int offset, int length) {
    boolean in = inWord;
    long starts = count;
    for (int i = offset; i < offset + length; i++) {
      boolean space = isSpace(bytes[i]);
      if (!space && !in) {
        starts++;
      }
      in = !space;
    }
    inWord = in;
    count = starts;
  }

  long count() {
    return count;
  }
}
