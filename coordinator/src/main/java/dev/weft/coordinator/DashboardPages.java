package dev.weft.coordinator;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Map;

/**
 * The web dashboard's files, built into the jar and read once: a page and its script and style,
 * which fetch everything they show from the JSON API. No build step, nothing from the network.
 */
final class DashboardPages {
  private static final String DIR = "dashboard/";

  /** A file as served. */
  record Asset(byte[] bytes, String contentType) {}

  private final Map<String, Asset> assets;

  private DashboardPages(Map<String, Asset> assets) {
    this.assets = assets;
  }

  static DashboardPages load() {
    return new DashboardPages(
        Map.of(
            "/", asset("index.html", "text/html; charset=utf-8"),
            "/ui/app.js", asset("app.js", "text/javascript; charset=utf-8"),
            "/ui/style.css", asset("style.css", "text/css; charset=utf-8")));
  }

  boolean has(String path) {
    return assets.containsKey(path);
  }

  Asset get(String path) {
    return assets.get(path);
  }

  /** A value for one inline script's Content-Security-Policy nonce. */
  static String nonce() {
    byte[] bytes = new byte[18];
    new SecureRandom().nextBytes(bytes);
    return Base64.getEncoder().encodeToString(bytes);
  }

  /**
   * Puts the session's key in this origin's storage and goes to the dashboard, replacing the login
   * URL in the tab's history. {@code key} is base64url, safe inside a JavaScript string.
   */
  static String loggedIn(String nonce, String key) {
    return page(
        "weft: logging in",
        "<p>Logging in&hellip;</p>\n<script nonce=\""
            + nonce
            + "\">localStorage.setItem(\"weft-key\", \""
            + key
            + "\"); location.replace(\"/\");</script>\n"
            + "<noscript><p>The weft dashboard needs JavaScript.</p></noscript>");
  }

  static String badCode() {
    return page(
        "weft: login refused",
        "<h1>This login link does not work</h1>\n<p>A link from <code>weft dashboard</code> works"
            + " once, within a minute. Run <code>weft dashboard</code> again and open the new"
            + " link.</p>");
  }

  static String loggedOut() {
    return page(
        "weft: log in",
        "<h1>Log in to see this coordinator</h1>\n<p>Run <code>weft dashboard</code> (it finds"
            + " its credential as the other client commands do) and open the link it prints.</p>");
  }

  private static String page(String title, String body) {
    return "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>"
        + title
        + "</title></head>\n<body>\n"
        + body
        + "\n</body></html>\n";
  }

  private static Asset asset(String name, String contentType) {
    try (InputStream in = DashboardPages.class.getResourceAsStream(DIR + name)) {
      if (in == null) {
        throw new IllegalStateException("the dashboard's " + name + " is missing from the jar");
      }
      return new Asset(in.readAllBytes(), contentType);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the dashboard's " + name, e);
    }
  }
}
