package dev.weft.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.ExpectedConditions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The web dashboard in a real headless Chromium (Debian's chromium and chromium-driver, which
 * scripts/test-tools.sh installs) against a real coordinator and worker: refused before the login,
 * logged in through the URL {@code weft dashboard} prints, a job submitted through the JSON API
 * appears, progresses and finishes, another is cancelled from its page, and the log out ends the
 * session. A screenshot of each step goes to {@code target/dashboard-screenshots}.
 */
final class DashboardBrowserTest {
  private static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  private static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Path SCREENSHOTS = Path.of("target", "dashboard-screenshots");
  private static final Pattern JOB_ID = Pattern.compile("\"id\":\"([^\"]+)\"");

  private ProcessCluster cluster;
  private ChromeDriverService service;
  private WebDriver browser;
  private final HttpClient http = HttpClient.newHttpClient();

  @BeforeEach
  void start() throws IOException {
    assumeTrue(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "needs Debian's chromium and chromium-driver (scripts/test-tools.sh installs them)");
    cluster = new ProcessCluster();
    Files.createDirectories(SCREENSHOTS);
  }

  @AfterEach
  void stop() throws Exception {
    try {
      if (browser != null) {
        browser.quit();
      }
    } finally {
      if (service != null) {
        service.stop();
      }
      if (cluster != null) {
        cluster.close();
      }
    }
  }

  private WebDriver browser(Path profile) throws IOException {
    service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .withLogFile(profile.resolveSibling("chromedriver.log").toFile())
            .build();
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    options.addArguments(
        "--headless=new",
        // Root may not use Chromium's sandbox; the browser only ever loads the loopback port.
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--window-size=1280,900",
        "--user-data-dir=" + profile);
    return new ChromeDriver(service, options);
  }

  private void screenshot(String name) throws IOException {
    Files.write(
        SCREENSHOTS.resolve(name + ".png"),
        ((TakesScreenshot) browser).getScreenshotAs(OutputType.BYTES));
  }

  /**
   * Clicks the element {@code by} finds, again if the live page re-rendered it between the finding
   * and the click (a stale element takes no click).
   */
  private void click(By by) {
    waiting()
        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
        .until(
            driver -> {
              WebElement element = ExpectedConditions.elementToBeClickable(by).apply(driver);
              if (element == null) {
                return false;
              }
              element.click();
              return true;
            });
  }

  private WebDriverWait waiting() {
    return new WebDriverWait(browser, WAIT);
  }

  private String submit(String json) throws Exception {
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(URI.create(cluster.httpUrl() + "/api/v1/jobs"))
                .header("Authorization", "Bearer " + cluster.adminToken())
                .POST(HttpRequest.BodyPublishers.ofString(json))
                .timeout(WAIT)
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(201, response.statusCode(), response::body);
    Matcher m = JOB_ID.matcher(response.body());
    assertTrue(m.find(), response.body());
    return m.group(1);
  }

  private static String json(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  @Test
  void logInWatchAJobFinishAndCancelAnotherFromThePage() throws Exception {
    cluster.startCoordinator(0, "--tls", "on", "--local-workers", "1", "--local-slots", "2");
    assertNotNull(cluster.adminToken(), cluster::logTails);
    cluster.awaitWorkers(1);
    String base = cluster.httpUrl();
    Path work = cluster.dataDir().resolveSibling("work");
    Files.createDirectories(work);
    browser = browser(work.resolve("chromium-profile"));

    // Without the login: the page refuses, and so does the API with no session.
    browser.get(base + "/");
    waiting().until(ExpectedConditions.titleContains("log in"));
    assertTrue(browser.getPageSource().contains("Log in to see this coordinator"));
    screenshot("01-refused-without-login");

    CliResult login = cluster.client("dashboard");
    ProcessCluster.assertExit(0, login);
    String url = login.out().strip();
    assertTrue(url.startsWith(base + "/login?code="), url);
    browser.get(url);
    waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("no-jobs")));
    assertEquals(base + "/", browser.getCurrentUrl(), "the login URL left the tab's history");
    assertTrue(browser.findElement(By.id("who")).getText().contains("admin"));
    screenshot("02-logged-in");

    // A job from the JSON API: three tasks end at once, the rest wait for a gate the test opens.
    Path gate = work.resolve("gate");
    String script =
        "if [ {} -gt 3 ]; then while [ ! -e " + gate + " ]; do sleep 0.05; done; fi; echo {}";
    String jobId =
        submit(
            "{\"name\": \"<img src=x onerror=alert(1)>gated\", \"exec\": {\"command\": [\"sh\", \"-c\", "
                + json(script)
                + "], \"inputs\": [\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]}}");
    By row = By.cssSelector("tr[data-job='" + jobId + "']");
    waiting().until(ExpectedConditions.presenceOfElementLocated(row));
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("tr[data-job='" + jobId + "'] td.progress"), "3 / 8"));
    assertEquals(
        "running", browser.findElement(row).findElement(By.cssSelector(".state")).getText());
    screenshot("03-job-in-progress");
    Files.writeString(gate, "");
    waiting()
        .until(
            ExpectedConditions.textToBePresentInElementLocated(
                By.cssSelector("tr[data-job='" + jobId + "'] .state"), "succeeded"));
    assertEquals(
        "8 / 8",
        browser.findElement(By.cssSelector("tr[data-job='" + jobId + "'] td.progress")).getText());
    screenshot("04-job-finished");

    click(By.linkText(jobId));
    waiting().until(ExpectedConditions.textToBe(By.id("job-state"), "succeeded"));
    assertEquals("8 of 8 tasks done", browser.findElement(By.id("job-counts")).getText());
    assertTrue(browser.findElements(By.id("cancel")).isEmpty(), "no cancel for a finished job");
    // What a submitter names a job is shown as text, never run as markup.
    assertTrue(
        browser
            .findElement(By.tagName("main"))
            .getText()
            .contains("<img src=x onerror=alert(1)>gated"));
    assertTrue(browser.findElements(By.cssSelector("main img")).isEmpty());
    screenshot("05-job-page");

    // Another job, cancelled from its page: a confirming second click sends the cancel.
    String sleeper =
        submit("{\"name\": \"sleeper\", \"exec\": {\"command\": [\"sleep\", \"300\"]}}");
    browser.get(base + "/#/jobs/" + sleeper);
    waiting().until(ExpectedConditions.textToBe(By.id("job-state"), "running"));
    click(By.id("cancel"));
    waiting().until(ExpectedConditions.textToBe(By.id("cancel"), "Confirm cancel"));
    screenshot("06-cancel-confirm");
    click(By.id("cancel"));
    waiting().until(ExpectedConditions.textToBe(By.id("job-state"), "cancelled"));
    waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("stops")));
    screenshot("07-cancelled");
    CliResult status = cluster.client("status", sleeper);
    assertTrue(status.out().contains("cancelled"), status::toString);

    click(By.id("nav-workers"));
    waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("workers")));
    List<WebElement> workers = browser.findElements(By.cssSelector("#workers tbody tr"));
    assertEquals(1, workers.size());
    screenshot("08-workers");

    // Log out: the page says so, and the dashboard refuses again.
    click(By.id("logout"));
    waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("logged-out")));
    screenshot("09-logged-out");
    browser.get(base + "/");
    waiting().until(ExpectedConditions.titleContains("log in"));
    // The spent login URL does not log in again.
    browser.get(url);
    waiting().until(ExpectedConditions.titleContains("login refused"));
    assertFalse(browser.getPageSource().contains("weft-key"));
    screenshot("10-spent-link-refused");
  }
}
