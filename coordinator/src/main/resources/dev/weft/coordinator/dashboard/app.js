// The weft dashboard: reads the coordinator's JSON API once a second and draws jobs and workers.
// Every value from the API goes into the page as text, never as markup.
"use strict";

const POLL_MS = 1000;
const CHART_SAMPLES = 120;
const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED"]);

const key = localStorage.getItem("weft-key");
let session = null;
let timer = null;
let ended = false;
// Per job: the last progress seen and a smoothed rate; per job page: the rate history.
const rates = new Map();
let history = { id: null, points: [] };

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = value;
    else if (name === "style") Object.assign(node.style, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function show(...nodes) {
  document.getElementById("main").replaceChildren(...nodes);
}

function status(text) {
  document.getElementById("status").textContent = text;
}

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function api(path, options) {
  const init = Object.assign({ credentials: "same-origin", cache: "no-store" }, options || {});
  init.headers = Object.assign({ "X-Weft-Key": key || "" }, (options && options.headers) || {});
  const response = await fetch(path, init);
  let body = null;
  try {
    body = await response.json();
  } catch (e) {
    body = null;
  }
  if (!response.ok) {
    const message = body && body.error ? body.error : response.status + " " + response.statusText;
    throw new ApiError(response.status, message);
  }
  return body;
}

function loggedOut(message) {
  ended = true;
  clearTimeout(timer);
  document.getElementById("who").textContent = "";
  document.getElementById("logout").hidden = true;
  show(
    el("div", { class: "notice", id: "logged-out" },
      el("p", { text: message }),
      el("p", {}, "Run ", el("code", { text: "weft dashboard" }), " and open the link it prints.")));
}

// ---- formatting

function num(value) {
  return Number(value || 0);
}

function count(value) {
  return num(value).toLocaleString("en-US");
}

function age(timestamp) {
  if (!timestamp) return "";
  const seconds = Math.max(0, (Date.now() - Date.parse(timestamp)) / 1000);
  return duration(seconds);
}

function duration(seconds) {
  if (seconds < 60) return Math.floor(seconds) + "s";
  if (seconds < 3600) return Math.floor(seconds / 60) + "m " + Math.floor(seconds % 60) + "s";
  if (seconds < 86400) return Math.floor(seconds / 3600) + "h " + Math.floor((seconds % 3600) / 60) + "m";
  return Math.floor(seconds / 86400) + "d " + Math.floor((seconds % 86400) / 3600) + "h";
}

function when(timestamp) {
  return timestamp ? new Date(Date.parse(timestamp)).toLocaleString() : "";
}

function bytes(value) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let amount = num(value);
  let unit = 0;
  while (amount >= 1024 && unit < units.length - 1) {
    amount /= 1024;
    unit++;
  }
  return (unit === 0 ? amount : amount.toFixed(1)) + " " + units[unit];
}

function rate(value) {
  if (value === null || value === undefined) return "";
  if (value >= 100) return Math.round(value).toLocaleString("en-US") + "/s";
  return value.toFixed(1) + "/s";
}

function stateCell(state) {
  return el("span", { class: "state " + state, text: (state || "").toLowerCase() });
}

function progressBar(job, big) {
  const total = Math.max(1, num(job.tasks_total));
  const done = (100 * num(job.tasks_done)) / total;
  const failed = (100 * num(job.tasks_failed)) / total;
  return el("div", { class: big ? "bar big" : "bar", role: "progressbar",
      "aria-valuemin": "0", "aria-valuemax": String(num(job.tasks_total)),
      "aria-valuenow": String(num(job.tasks_done)) },
    // Through the style object: the page's policy refuses style attributes.
    el("span", { style: { width: done + "%" } }),
    el("span", { class: "failed", style: { left: done + "%", width: failed + "%" } }));
}

// Tasks finished per second, from successive polls, smoothed over a few of them.
function observe(job) {
  const now = performance.now();
  const done = num(job.tasks_done) + num(job.tasks_failed);
  const seen = rates.get(job.id);
  if (!seen) {
    rates.set(job.id, { done, at: now, rate: null });
    return null;
  }
  if (now - seen.at < 200) return seen.rate;
  const instant = ((done - seen.done) * 1000) / (now - seen.at);
  seen.rate = seen.rate === null ? instant : 0.5 * seen.rate + 0.5 * instant;
  if (TERMINAL.has(job.state)) seen.rate = 0;
  seen.done = done;
  seen.at = now;
  return seen.rate;
}

function mayCancel(job) {
  if (!session || TERMINAL.has(job.state) || job.state === "CANCELLING") return false;
  if (session.role === "admin") return true;
  return session.role === "submit" && job.spec && job.spec.owner === session.name;
}

// ---- views

async function jobsView() {
  const filter = sessionStorage.getItem("weft-filter") || "";
  const query = filter ? "?limit=200&state=" + encodeURIComponent(filter) : "?limit=200";
  const answer = await api("/api/v1/jobs" + query);
  const jobs = answer.jobs || [];
  const select = el("select", { id: "filter" },
    ...[["", "all jobs"], ["waiting,queued,running,cancelling", "active"],
        ["succeeded,failed,cancelled", "finished"], ["failed", "failed"]]
      .map(([value, label]) => el("option", { value, selected: value === filter, text: label })));
  select.addEventListener("change", () => {
    sessionStorage.setItem("weft-filter", select.value);
    refresh();
  });
  const rows = jobs.map((job) => {
    const jobRate = observe(job);
    return el("tr", { "data-job": job.id },
      el("td", {}, el("a", { href: "#/jobs/" + encodeURIComponent(job.id), text: job.id })),
      el("td", { text: job.kind }),
      el("td", { class: "state-cell" }, stateCell(job.state)),
      el("td", {}, progressBar(job, false)),
      el("td", { class: "num progress", text: count(job.tasks_done) + " / " + count(job.tasks_total) }),
      el("td", { class: "num", text: TERMINAL.has(job.state) ? "" : rate(jobRate) }),
      el("td", { text: (job.spec && job.spec.owner) || "" }),
      el("td", { class: "num", text: age(job.created) }));
  });
  show(
    el("h1", { text: "Jobs" }),
    el("div", { class: "filters" }, "Show ", select),
    jobs.length === 0
      ? el("p", { class: "muted", id: "no-jobs", text: "No jobs yet. Submit one with weft submit." })
      : el("table", { id: "jobs" },
          el("thead", {}, el("tr", {}, ...["Job", "Kind", "State", "Progress", "Tasks", "Rate", "Owner", "Age"]
            .map((name, i) => el("th", { class: i >= 4 && i !== 6 ? "num" : null, text: name })))),
          el("tbody", {}, ...rows)));
}

async function jobView(id) {
  const job = await api("/api/v1/jobs/" + encodeURIComponent(id) + "?view=summary");
  const jobRate = observe(job);
  if (history.id !== id) history = { id, points: [] };
  if (jobRate !== null) {
    history.points.push(jobRate);
    if (history.points.length > CHART_SAMPLES) history.points.shift();
  }
  const total = num(job.tasks_total);
  const queued = Math.max(0, total - num(job.tasks_done) - num(job.tasks_failed) - num(job.tasks_running)
    - num(job.tasks_stopped) - num(job.tasks_never_started));
  const figures = [
    ["tasks", count(total)], ["done", count(job.tasks_done)], ["failed", count(job.tasks_failed)],
    ["running", count(job.tasks_running)], ["not started", count(queued)],
    ["stopped", count(job.tasks_stopped)], ["never started", count(job.tasks_never_started)],
    ["attempts", count(job.attempts)], ["preemptions", count(job.preemptions)],
    ["rate", TERMINAL.has(job.state) ? "" : rate(jobRate)],
  ];
  const cancel = mayCancel(job)
    ? el("button", { id: "cancel", class: "danger", type: "button", text: "Cancel job" })
    : null;
  if (cancel) {
    cancel.addEventListener("click", () => cancelJob(job.id, cancel));
  }
  const chart = el("canvas", { id: "rate-chart", width: "900", height: "160" });
  const parts = [
    el("p", {}, el("a", { href: "#/jobs", text: "\u2190 all jobs" })),
    el("h1", {}, "Job ", el("span", { id: "job-id", text: job.id }), " ",
      el("span", { id: "job-state", class: "state " + job.state, text: (job.state || "").toLowerCase() })),
    el("p", { class: "muted", text: [job.kind, job.spec && job.spec.name ? "\u201c" + job.spec.name + "\u201d" : null,
      job.spec && job.spec.owner ? "owner " + job.spec.owner : null,
      "priority " + num(job.spec && job.spec.priority),
      job.created ? "created " + when(job.created) : null,
      job.finished ? "finished " + when(job.finished) : null].filter(Boolean).join(" \u00b7 ") }),
    el("div", { id: "job-progress" }, progressBar(job, true)),
    el("p", { class: "num", id: "job-counts",
      text: count(job.tasks_done) + " of " + count(total) + " tasks done" }),
    el("div", { class: "grid" }, ...figures.map(([label, value]) =>
      el("div", {}, el("b", { text: value }), el("span", { text: label })))),
    cancel,
    job.waiting_reason ? el("p", { class: "muted", id: "waiting", text: "Waiting: " + job.waiting_reason }) : null,
    job.error ? el("p", { class: "error", id: "job-error", text: job.error }) : null,
    job.result && job.result.summary
      ? el("div", {}, el("h2", { text: "Result" }), el("pre", { id: "job-result", text: job.result.summary }))
      : null,
    el("h2", { text: "Tasks finished per second" }),
    chart,
  ];
  const failures = job.failures || [];
  if (failures.length > 0) {
    parts.push(el("h2", { text: "Failures (" + failures.length + ")" }),
      el("table", { id: "failures" },
        el("thead", {}, el("tr", {}, ...["Task", "Attempt", "Worker", "Exit", "When", "Error"]
          .map((name) => el("th", { text: name })))),
        el("tbody", {}, ...failures.map((f) => el("tr", {},
          el("td", { class: "num", text: num(f.task) }), el("td", { class: "num", text: num(f.attempt) }),
          el("td", { text: f.worker_id || "" }),
          el("td", { class: "num", text: f.exit_code === undefined ? "" : f.exit_code }),
          el("td", { text: when(f.time) }), el("td", {}, el("pre", { text: f.error || "" })))))));
  }
  const stops = job.stops || [];
  if (stops.length > 0) {
    parts.push(el("h2", { text: "Stops (" + count(job.tasks_stopped) + ")" }),
      el("table", { id: "stops" },
        el("thead", {}, el("tr", {}, ...["Task", "Attempt", "Worker", "Outcome", "Took", "Detail"]
          .map((name) => el("th", { text: name })))),
        el("tbody", {}, ...stops.map((s) => el("tr", {},
          el("td", { class: "num", text: num(s.task) }), el("td", { class: "num", text: num(s.attempt) }),
          el("td", { text: s.worker_id || "" }), el("td", { text: (s.outcome || "").toLowerCase() }),
          el("td", { class: "num", text: num(s.stop_ms) + " ms" }), el("td", { text: s.detail || "" }))))));
  }
  const armed = document.getElementById("cancel");
  if (armed && armed.classList.contains("armed") && cancel) {
    // Keep a pending confirmation across the redraw.
    cancel.classList.add("armed");
    cancel.textContent = armed.textContent;
    cancel.dataset.armedUntil = armed.dataset.armedUntil;
  }
  show(...parts.filter(Boolean));
  drawChart(chart, history.points, TERMINAL.has(job.state));
}

async function cancelJob(id, button) {
  const armedUntil = Number(button.dataset.armedUntil || 0);
  if (!(armedUntil > Date.now())) {
    button.classList.add("armed");
    button.textContent = "Confirm cancel";
    button.dataset.armedUntil = String(Date.now() + 5000);
    return;
  }
  button.disabled = true;
  try {
    await api("/api/v1/jobs/" + encodeURIComponent(id) + "/cancel", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
    });
    status("Cancel sent for job " + id);
  } catch (e) {
    status("Cancel refused: " + e.message);
  }
  refresh();
}

function drawChart(canvas, points, finished) {
  const context = canvas.getContext("2d");
  const width = canvas.width;
  const height = canvas.height;
  context.clearRect(0, 0, width, height);
  context.font = "12px system-ui, sans-serif";
  context.fillStyle = "#68717d";
  if (points.length < 2) {
    context.fillText(finished ? "the job ended before this page measured it" : "measuring\u2026", 10, 20);
    return;
  }
  const top = Math.max(1, ...points);
  context.fillText(rate(top), 6, 14);
  context.strokeStyle = "#dde1e6";
  context.beginPath();
  context.moveTo(0, height - 0.5);
  context.lineTo(width, height - 0.5);
  context.stroke();
  context.strokeStyle = "#2764c5";
  context.lineWidth = 2;
  context.beginPath();
  points.forEach((value, i) => {
    const x = (i * width) / (CHART_SAMPLES - 1);
    const y = height - 4 - (value / top) * (height - 24);
    if (i === 0) context.moveTo(x, y);
    else context.lineTo(x, y);
  });
  context.stroke();
}

function resources(total, free) {
  const parts = [];
  total = total || {};
  free = free || {};
  if (total.cpu_millis) parts.push("cpu " + num(free.cpu_millis) / 1000 + "/" + num(total.cpu_millis) / 1000);
  if (total.mem_bytes) parts.push("mem " + bytes(free.mem_bytes) + "/" + bytes(total.mem_bytes));
  if (total.gpus) parts.push("gpu " + num(free.gpus) + "/" + num(total.gpus));
  for (const [name, amount] of Object.entries(total.custom || {})) {
    parts.push(name + " " + num((free.custom || {})[name]) + "/" + num(amount));
  }
  return parts.join(", ");
}

async function workersView() {
  const answer = await api("/api/v1/workers");
  const workers = answer.workers || [];
  const slots = workers.reduce((sum, w) => sum + num(w.slots), 0);
  const busy = workers.reduce((sum, w) => sum + num(w.busy), 0);
  show(
    el("h1", { text: "Workers" }),
    el("p", { class: "muted", id: "worker-summary",
      text: workers.length + " attached, " + busy + " of " + slots + " slots busy" }),
    workers.length === 0
      ? el("p", { class: "muted", text: "No worker is attached. Start one with weft worker --join." })
      : el("table", { id: "workers" },
          el("thead", {}, el("tr", {}, ...["Worker", "Host", "Transport", "State", "Slots busy", "", "Resources free/total", "Labels", "Tasks done", "Attached"]
            .map((name, i) => el("th", { class: i === 4 || i === 8 || i === 9 ? "num" : null, text: name })))),
          el("tbody", {}, ...workers.map((w) => el("tr", { "data-worker": w.id },
            el("td", { text: w.id }), el("td", { text: w.host + (w.pid ? " (pid " + w.pid + ")" : "") }),
            el("td", { text: w.transport }),
            el("td", { text: w.state + (w.drain_reason ? ": " + w.drain_reason : "") + (num(w.stuck) ? ", " + w.stuck + " stuck" : "") }),
            el("td", { class: "num", text: num(w.busy) + " / " + num(w.slots) }),
            el("td", {}, progressBar({ tasks_total: w.slots, tasks_done: w.busy, tasks_failed: 0 }, false)),
            el("td", { text: resources(w.resources_total, w.resources_free) }),
            el("td", { text: Object.entries(w.labels || {}).map(([k, v]) => k + "=" + v).join(", ") }),
            el("td", { class: "num", text: count(w.tasks_done) }),
            el("td", { class: "num", text: w.connected_unix_ms ? duration((Date.now() - num(w.connected_unix_ms)) / 1000) : "" }))))));
}

// ---- routing and the poll loop

function route() {
  const hash = location.hash || "#/jobs";
  const job = hash.match(/^#\/jobs\/(.+)$/);
  document.getElementById("nav-jobs").classList.toggle("active", hash.startsWith("#/jobs"));
  document.getElementById("nav-workers").classList.toggle("active", hash === "#/workers");
  if (job) return () => jobView(decodeURIComponent(job[1]));
  if (hash === "#/workers") return workersView;
  return jobsView;
}

async function refresh() {
  if (ended) return;
  clearTimeout(timer);
  try {
    await route()();
    status("Updated " + new Date().toLocaleTimeString());
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      loggedOut(e.message);
      return;
    }
    if (e instanceof ApiError && e.status === 404) {
      show(el("p", { class: "error", text: e.message }), el("p", {}, el("a", { href: "#/jobs", text: "All jobs" })));
    } else {
      status("Cannot reach the coordinator: " + e.message);
    }
  }
  if (!ended) timer = setTimeout(refresh, POLL_MS);
}

async function start() {
  document.getElementById("logout").addEventListener("click", async () => {
    try {
      await api("/logout", { method: "POST" });
    } finally {
      localStorage.removeItem("weft-key");
      loggedOut("Logged out.");
    }
  });
  if (!key) {
    loggedOut("This browser has no key for the session.");
    return;
  }
  try {
    session = await api("/api/v1/session");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      loggedOut(e.message);
      return;
    }
    status("Cannot reach the coordinator: " + e.message);
  }
  if (session) {
    document.getElementById("who").textContent = session.name + " (" + session.role + ")";
  }
  window.addEventListener("hashchange", refresh);
  refresh();
}

start();
