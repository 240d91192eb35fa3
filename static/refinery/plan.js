/* The plan page: node colours follow their jobs' statuses over /ws/plans/<id>/ (a snapshot
   on every connect, then each change), a click on a node or a row shows it beside the DAG
   with its edges highlighted, and the table filters by text and status. */
"use strict";

(function () {
  const root = document.querySelector(".plan-page[data-socket]");
  if (!root) return;
  const nodes = JSON.parse(document.getElementById("plan-nodes").textContent);
  const svg = root.querySelector("svg.dag");
  const panel = root.querySelector(".node-panel");
  const table = root.querySelector("table.plan-nodes");
  const buildUrl = (template, job) => template.replace("/0/", `/${job}/`);
  const state = {};  // key -> {status, job}
  let selected = null;
  let retries = 0;

  function elementsFor(key) {
    const css = CSS.escape(key);
    return [...root.querySelectorAll(`[data-key="${css}"]`)];
  }

  function setStatus(key, status, job) {
    state[key] = { status, job };
    for (const el of elementsFor(key)) {
      el.dataset.status = status;
      const label = el.querySelector(".node-status");
      if (label) { label.textContent = status; label.setAttribute("class", `node-status status ${status}`); }
      const link = el.querySelector("a.job-link");
      if (link && job) { link.href = buildUrl(root.dataset.buildPage, job); link.textContent = `#${job}`; }
    }
    if (key === selected) show(key);
  }

  function updateCounts() {
    const counts = {};
    for (const key of Object.keys(nodes)) {
      const status = state[key] ? state[key].status : "not queued";
      counts[status] = (counts[status] || 0) + 1;
    }
    const select = root.querySelector("select.status-filter");
    for (const status of Object.keys(counts)) {
      if (![...select.options].some((o) => o.value === status)) select.add(new Option(status, status));
    }
    const list = root.querySelector(".status-counts");
    list.replaceChildren(...Object.entries(counts).sort().map(([status, n]) => {
      const item = document.createElement("li");
      item.className = `status ${status.replace(/ /g, "-")}`;
      item.textContent = `${status} ${n}`;
      return item;
    }));
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(`${scheme}${window.location.host}${root.dataset.socket}`);
    const live = root.querySelector(".live-state");
    socket.onopen = () => { retries = 0; live.textContent = "live"; };
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") {
        for (const [key, status] of Object.entries(message.nodes)) setStatus(key, status, message.jobs[key]);
      } else if (message.type === "status") {
        setStatus(message.node, message.status, message.job);
      }
      updateCounts();
      root.dataset.updates = String(Number(root.dataset.updates || 0) + 1);
    };
    socket.onclose = (event) => {
      if (event.code === 4403) { live.textContent = "not signed in: reload the page"; return; }
      if (event.code === 4404) { live.textContent = "this plan no longer exists"; return; }
      retries += 1;
      const delay = Math.min(5000, 250 * 2 ** Math.min(retries, 5));
      live.textContent = "reconnecting…";
      setTimeout(connect, delay);
    };
  }

  function show(key) {
    selected = key;
    const node = nodes[key];
    const current = state[key] || {};
    root.querySelectorAll(".selected").forEach((el) => el.classList.remove("selected"));
    root.querySelectorAll("path.hl").forEach((el) => el.classList.remove("hl"));
    elementsFor(key).forEach((el) => el.classList.add("selected"));
    svg.querySelectorAll(`path[data-from="${CSS.escape(key)}"], path[data-to="${CSS.escape(key)}"]`)
      .forEach((el) => el.classList.add("hl"));
    panel.hidden = false;
    panel.querySelector(".node-name").textContent = key;
    panel.querySelector(".node-action").textContent = node.action;
    panel.querySelector(".node-why").textContent = node.why || "";
    panel.querySelector(".node-roles").textContent = (node.roles || []).join(", ");
    panel.querySelector(".node-state").textContent = current.status || "not queued";
    panel.querySelector(".node-state").className = `node-state status ${current.status || ""}`;
    const jobLink = panel.querySelector(".node-job");
    jobLink.hidden = !current.job;
    if (current.job) jobLink.href = buildUrl(root.dataset.buildPage, current.job);
    panel.querySelector(".node-package").href = root.dataset.packagePage.replace("__name__", node.name);
    const enqueue = panel.querySelector("form.enqueue-node");
    enqueue.hidden = node.action !== "build" || Boolean(current.job);
    enqueue.querySelector("input[name=node]").value = key;
    const retry = panel.querySelector("form.retry-node");
    const retryable = ["failed", "cancelled", "missing", "system_recipe_failed", "skipped_known_failure"];
    retry.hidden = !current.job || !retryable.includes(current.status);
    if (current.job) retry.action = buildUrl(root.dataset.buildAction, current.job);
  }

  root.addEventListener("click", (event) => {
    const target = event.target.closest("[data-key]");
    if (!target || event.target.closest("a, button, form")) return;
    show(target.dataset.key);
    if (target.closest("table")) {
      const drawn = svg.querySelector(`g.node[data-key="${CSS.escape(target.dataset.key)}"]`);
      drawn?.scrollIntoView({ block: "center", inline: "center", behavior: "smooth" });
    }
  });
  root.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    const target = event.target.closest("g.node[data-key]");
    if (target) show(target.dataset.key);
  });

  const filterText = root.querySelector("input.node-filter");
  const filterStatus = root.querySelector("select.status-filter");
  function filterRows() {
    const text = filterText.value.trim().toLowerCase();
    const status = filterStatus.value;
    let shown = 0;
    for (const row of table.tBodies[0].rows) {
      const key = row.dataset.key;
      const current = state[key] ? state[key].status : "not queued";
      const visible = (!text || key.toLowerCase().includes(text)) && (!status || status === current);
      row.hidden = !visible;
      if (visible) shown += 1;
    }
    root.querySelector(".shown-count").textContent = `${shown} of ${table.tBodies[0].rows.length}`;
  }
  filterText.addEventListener("input", filterRows);
  filterStatus.addEventListener("change", filterRows);

  updateCounts();
  connect();
})();
