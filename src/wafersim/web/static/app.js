// The dashboard's machinery: forms built from each page's field list (pages.js), the URL that reproduces a
// view (?page=...&field=value...: opening it fills the form and runs it), errors shown next to their field,
// long jobs followed with a progress bar and a Cancel button. No build step: plain browser JavaScript.
"use strict";

const wafersim = (() => {
  const pages = {};
  const catalog = { models: [], systems: [] };
  let page = null;
  let currentJob = null;

  const $ = (id) => document.getElementById(id);

  function register(id, spec) { pages[id] = spec; }

  async function getJSON(url, options) {
    const response = await fetch(url, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = { detail: response.statusText }; }
    return { status: response.status, data };
  }

  function choices(field) {
    if (field.options === "models") return catalog.models.map((m) => m.id);
    if (field.options === "systems") return catalog.systems.map((s) => s.id);
    return field.options;
  }

  function buildForm() {
    const box = $("fields");
    box.innerHTML = "";
    for (const field of page.fields) {
      const wrap = document.createElement("div");
      wrap.className = "field" + (field.wide ? " wide" : "");
      wrap.id = "field-" + field.name;
      const label = document.createElement("label");
      label.htmlFor = "f-" + field.name;
      label.textContent = field.label;
      let input;
      if (field.options) {
        input = document.createElement("select");
        for (const choice of choices(field)) {
          const option = document.createElement("option");
          option.value = choice;
          option.textContent = choice === "" ? (field.empty || "(default)") : choice;
          input.appendChild(option);
        }
      } else {
        input = document.createElement("input");
        input.type = field.type === "checkbox" ? "checkbox" : "text";
        if (field.type === "number") input.inputMode = "decimal";
        if (field.placeholder) input.placeholder = field.placeholder;
      }
      input.id = "f-" + field.name;
      input.name = field.name;
      if (field.help) input.title = field.help;
      setValue(input, field.default ?? "");
      const error = document.createElement("p");
      error.className = "error";
      error.id = "err-" + field.name;
      wrap.append(label, input, error);
      box.appendChild(wrap);
    }
  }

  function setValue(input, value) {
    if (input.type === "checkbox") input.checked = value === true || value === "true";
    else input.value = String(value);
  }

  function formValues() {
    const values = {};
    for (const field of page.fields) {
      const input = $("f-" + field.name);
      values[field.name] = input.type === "checkbox" ? input.checked : input.value.trim();
    }
    return values;
  }

  // Form strings to a JSON body: empty optional fields left out (the API's default), numbers as numbers.
  // A value that is not a number is sent as typed, so that the API's 422 names the field.
  function toBody(values) {
    const body = {};
    for (const field of page.fields) {
      const value = values[field.name];
      if (field.type === "checkbox") { body[field.name] = value; continue; }
      if (value === "") continue;
      if (field.type === "number") {
        const number = Number(value);
        body[field.name] = Number.isFinite(number) ? number : value;
      } else {
        body[field.name] = value;
      }
    }
    return page.body ? page.body(body) : body;
  }

  function clearErrors() {
    $("form-error").textContent = "";
    for (const el of document.querySelectorAll(".field")) el.classList.remove("invalid");
    for (const el of document.querySelectorAll(".field .error")) el.textContent = "";
  }

  // FastAPI's 422: detail = [{loc: ["body", "count"], msg}], each shown next to its field.
  function showErrors(status, data) {
    const detail = data && data.detail;
    if (status === 422 && Array.isArray(detail)) {
      for (const item of detail) {
        const name = item.loc && item.loc.length > 1 ? String(item.loc[1]) : null;
        const where = name && $("err-" + name);
        const message = item.msg.replace(/^Value error, /, "") +
          (item.loc.length > 2 ? ` (${item.loc.slice(2).join(".")})` : "");
        if (where) {
          where.textContent = message;
          $("field-" + name).classList.add("invalid");
        } else {
          $("form-error").textContent += (name ? name + ": " : "") + message + " ";
        }
      }
      return;
    }
    $("form-error").textContent = typeof detail === "string" ? detail : `error ${status}`;
  }

  function remember(values) {
    const params = new URLSearchParams({ page: page.id });
    for (const [name, value] of Object.entries(values)) params.set(name, String(value));
    const url = "?" + params.toString();
    history.replaceState(null, "", url);
    const link = $("permalink");
    link.href = url;
    link.hidden = false;
  }

  function busy(on) {
    $("run").disabled = on;
  }

  async function run(event) {
    if (event) event.preventDefault();
    clearErrors();
    const values = formValues();
    remember(values);
    $("summary").innerHTML = "";
    $("charts").innerHTML = "";
    busy(true);
    try {
      const body = toBody(values);
      if (page.job) await runJob(body);
      else {
        const { status, data } = page.method === "GET"
          ? await getJSON(page.endpoint + "?" + new URLSearchParams(body))
          : await getJSON(page.endpoint, post(body));
        if (status === 200) show(data, body);
        else showErrors(status, data);
      }
    } catch (error) {
      $("form-error").textContent = String(error);
    } finally {
      busy(false);
    }
  }

  function post(body) {
    return { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  }

  async function runJob(body) {
    const { status, data } = await getJSON("/api/jobs/" + page.job, post(body));
    if (status !== 202) { showErrors(status, data); return; }
    currentJob = data.id;
    $("job").hidden = false;
    $("cancel").hidden = false;
    let job = data;
    while (!["done", "failed", "cancelled"].includes(job.state)) {
      // A stage whose length is not known ahead (a capacity search's probes) shows an indeterminate bar.
      if (job.progress === null) $("progress").removeAttribute("value");
      else $("progress").value = job.progress;
      $("stage").textContent = `${job.state}: ${job.stage} (${job.elapsed_s.toFixed(1)} s)`;
      await new Promise((resolve) => setTimeout(resolve, 250));
      job = (await getJSON("/api/jobs/" + data.id)).data;
    }
    currentJob = null;
    $("cancel").hidden = true;
    $("progress").value = 1;
    $("stage").textContent = `${job.state} in ${job.elapsed_s.toFixed(1)} s`;
    if (job.state === "done") show(job.result, body);
    else if (job.state === "failed" && job.error_field && $("err-" + job.error_field)) {
      showErrors(422, { detail: [{ loc: ["body", job.error_field], msg: job.error }] });
    } else if (job.state === "failed") $("form-error").textContent = job.error;
  }

  async function cancel() {
    if (currentJob) await fetch("/api/jobs/" + currentJob, { method: "DELETE" });
  }

  function show(result, body) {
    page.render(result, body, { summary: $("summary"), chart: chart, table: table });
  }

  // A chart panel with a Plotly figure; data-name lets tests and readers find it.
  function chart(name, traces, layout, full) {
    const div = document.createElement("div");
    div.className = "chart" + (full ? " full" : "");
    div.dataset.name = name;
    $("charts").appendChild(div);
    const base = { margin: { t: 48, r: 20, b: 60, l: 70 }, font: { size: 12 } };
    Plotly.newPlot(div, traces, Object.assign(base, layout),
      { responsive: true, displaylogo: false });
    return div;
  }

  function table(rows, columns, title) {
    const element = document.createElement("table");
    if (title) element.createCaption().textContent = title;
    const head = element.createTHead().insertRow();
    for (const [, label] of columns) {
      const th = document.createElement("th");
      th.textContent = label;
      head.appendChild(th);
    }
    const bodyRows = element.createTBody();
    for (const row of rows) {
      const tr = bodyRows.insertRow();
      for (const [key] of columns) tr.insertCell().textContent = format(typeof key === "function" ? key(row) : row[key]);
    }
    $("summary").appendChild(element);
    return element;
  }

  function format(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value) && Math.abs(value) < 1e6) return value.toLocaleString("en-US");
      const abs = Math.abs(value);
      for (const [limit, suffix] of [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]]) {
        if (abs >= limit) return (value / limit).toPrecision(3) + suffix;
      }
      return value.toPrecision(3);
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    return String(value);
  }

  async function start() {
    const nav = $("nav");
    const params = new URLSearchParams(location.search);
    const id = pages[params.get("page")] ? params.get("page") : "compare";
    for (const [key, spec] of Object.entries(pages)) {
      const link = document.createElement("a");
      link.href = "?page=" + key;
      link.textContent = spec.title;
      link.id = "nav-" + key;
      if (key === id) link.className = "active";
      nav.appendChild(link);
    }
    page = Object.assign({ id }, pages[id]);
    document.title = `wafersim · ${page.title}`;
    $("title").textContent = page.title;
    $("intro").textContent = page.intro;
    const [models, systems] = await Promise.all([
      getJSON("/api/catalog/models"), getJSON("/api/catalog/systems"),
    ]);
    catalog.models = models.data.models;
    catalog.systems = systems.data.systems;
    buildForm();
    $("form").addEventListener("submit", run);
    $("cancel").addEventListener("click", cancel);
    // A URL with field values reproduces the view: fill the form and run it.
    let given = false;
    for (const field of page.fields) {
      if (params.has(field.name)) {
        setValue($("f-" + field.name), params.get(field.name));
        given = true;
      }
    }
    document.body.dataset.ready = "true";
    if (given || page.autorun) await run();
  }

  return { register, start, format, catalog };
})();
