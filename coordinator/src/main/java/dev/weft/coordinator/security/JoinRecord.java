package dev.weft.coordinator.security;

import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.HexFormat;
import java.util.Properties;

/**
 * What a secure coordinator last published in {@code join.properties}: where workers join it, the
 * fingerprint its tokens pin, and whether it wants a token and client certificates. {@code weft
 * token show} builds the join command from this and the current secret.
 */
record JoinRecord(
    String address, byte[] fingerprint, boolean tokenRequired, boolean clientCertificates) {

  void write(SecurityFiles files) throws IOException {
    Properties properties = new Properties();
    properties.setProperty("address", address);
    properties.setProperty("fingerprint", HexFormat.of().formatHex(fingerprint));
    properties.setProperty("token", Boolean.toString(tokenRequired));
    properties.setProperty("client-certificates", Boolean.toString(clientCertificates));
    StringWriter text = new StringWriter();
    properties.store(text, "written by weft coordinator; read by weft token show");
    files.write(files.join(), text.toString());
  }

  static JoinRecord read(SecurityFiles files) throws IOException {
    String text;
    try {
      text = Files.readString(files.join(), StandardCharsets.ISO_8859_1);
    } catch (NoSuchFileException e) {
      throw new IOException(
          "no secure coordinator has run with --data-dir "
              + files.dataDir()
              + " ("
              + files.join()
              + " is missing); start one there, beyond loopback or with --tls on",
          e);
    }
    Properties properties = new Properties();
    properties.load(new StringReader(text));
    String address = properties.getProperty("address");
    String fingerprint = properties.getProperty("fingerprint");
    if (address == null || fingerprint == null || !fingerprint.matches("[0-9a-f]{64}")) {
      throw new IOException(
          files.join() + " is damaged; start the coordinator again to write it afresh");
    }
    return new JoinRecord(
        address,
        HexFormat.of().parseHex(fingerprint),
        Boolean.parseBoolean(properties.getProperty("token", "true")),
        Boolean.parseBoolean(properties.getProperty("client-certificates", "false")));
  }
}
