// The dashboard's pages: each one's form fields (names are the API's body fields), its endpoint, and how its
// answer is drawn. The numbers come from the API as they are; only unit changes (s -> ms, W -> MW) happen here.
"use strict";

(() => {
  const f = wafersim.format;
  const PRECISIONS = ["", "bf16", "fp8", "fp4", "int8"];
  const MS = 1e3;
  const model = (d) => ({ name: "model", label: "model", options: "models", default: d });
  const system = (d) => ({ name: "system", label: "system", options: "systems", default: d });
  const num = (name, label, d, extra) => Object.assign({ name, label, type: "number", default: d ?? "" }, extra);
  const pick = (name, label, options, d) => ({ name, label, options, default: d ?? options[0] });
  const bar = (x, y, extra) => Object.assign({ type: "bar", x, y }, extra);

  wafersim.register("compare", {
    title: "Compare",
    intro: "One model on several systems: one user alone (batch 1) and the maximum-throughput batch. " +
      "Count 0 takes as many accelerators or wafers as the weights need.",
    endpoint: "/api/compare",
    fields: [
      model("llama-3.1-70b"),
      { name: "systems", label: "systems (SYSTEM:COUNT, …)", wide: true,
        default: "h100-sxm:8,h200-sxm:8,b200:8,gb200:72,mi300x:8,mi355x:8,tpu-v6e:8,tpu-v7:8,groq-lpu:0,cs-3:0" },
      pick("precision", "precision", PRECISIONS.slice(1), "fp8"),
      num("input_len", "input tokens", 1000),
      num("output_len", "output tokens", 1000),
    ],
    body(body) {
      const text = body.systems || "";
      body.systems = text.split(",").filter((s) => s.trim()).map((item) => {
        const [id, count] = item.trim().split(":");
        const number = Number(count ?? 0);
        return { system: id, count: Number.isInteger(number) ? number : count };
      });
      return body;
    },
    render(result, body, ui) {
      const rows = result.deployments.filter((r) => r.single_user && r.single_user.fits);
      const left = result.deployments.filter((r) => !(r.single_user && r.single_user.fits));
      const labels = rows.map((r) => `${r.system}×${r.count}`);
      ui.table(rows, [
        ["system", "system"], ["count", "count"],
        [(r) => r.single_user.output_tokens_per_s_per_user, "tokens/s per user"],
        [(r) => r.single_user.ttft_s * MS, "TTFT (ms, 1 user)"],
        [(r) => r.max_throughput.output_tokens_per_s, "max tokens/s"],
        [(r) => r.max_throughput.batch, "batch"],
        [(r) => r.max_throughput.power_w, "power (W)"],
        [(r) => r.max_throughput.output_tokens_per_s / (r.max_throughput.power_w / 1e6), "tokens/s per MW"],
        [(r) => r.max_throughput.usd_per_million_tokens, "$ per M tokens"],
      ], `${result.model}, ${result.precision}, ${result.input_len} in / ${result.output_len} out`);
      if (left.length) {
        const note = document.createElement("p");
        note.className = "note";
        note.textContent = "not shown: " + left.map((r) =>
          `${r.system} (${r.skipped || (r.single_user && r.single_user.reason) || "does not fit"})`).join("; ");
        ui.summary.appendChild(note);
      }
      ui.chart("tokens-per-user", [bar(labels, rows.map((r) => r.single_user.output_tokens_per_s_per_user))],
        { title: { text: "Tokens/s per user (one user alone)" }, yaxis: { title: { text: "tokens/s" } } });
      ui.chart("tokens-per-mw", [bar(labels, rows.map((r) =>
        r.max_throughput.output_tokens_per_s / (r.max_throughput.power_w / 1e6)), { marker: { color: "#2f855a" } })],
        { title: { text: "Tokens/s per MW (max-throughput batch)" }, yaxis: { title: { text: "tokens/s per MW" } } });
      const priced = rows.filter((r) => r.max_throughput.usd_per_million_tokens);
      ui.chart("usd-per-mtok", [bar(priced.map((r) => `${r.system}×${r.count}`),
        priced.map((r) => r.max_throughput.usd_per_million_tokens), { marker: { color: "#b7791f" } })],
        { title: { text: "$ per million output tokens (capex + energy)" },
          yaxis: { type: "log", title: { text: "$ / M tokens (log)" } } });
    },
  });

  wafersim.register("estimate", {
    title: "Estimate",
    intro: "Prefill and decode speed of one model on one deployment, with the decode and prefill step " +
      "broken down by operator (for wafers: compute, SRAM, fabric, I/O, idle).",
    endpoint: "/api/estimate",
    fields: [
      model("llama-3.1-70b"), system("h200-sxm"), num("count", "accelerators", 8),
      num("input_len", "input tokens", 1000), num("output_len", "output tokens", 1000),
      pick("precision", "precision", PRECISIONS, ""),
      num("batch", "batch per replica (empty: auto)", "", { placeholder: "auto" }),
      num("tp", "tensor parallel", "", { placeholder: "auto" }),
      num("pp", "pipeline parallel", "", { placeholder: "auto" }),
      num("max_tpot_s", "max TPOT, s (auto batch)", ""),
    ],
    render(r, body, ui) {
      if (!r.fits) {
        document.getElementById("form-error").textContent = `does not fit: ${r.reason}`;
        return;
      }
      ui.table([r], [
        [(x) => `tp${x.tp} pp${x.pp} ep${x.ep} dp${x.dp}`, "layout"], ["batch", "batch"],
        [(x) => x.ttft_s * MS, "TTFT (ms)"], [(x) => x.tpot_s * MS, "TPOT (ms)"],
        ["output_tokens_per_s_per_user", "tokens/s per user"], ["output_tokens_per_s", "tokens/s"],
        ["power_w", "power (W)"], ["joules_per_token", "J/token"], ["usd_per_million_tokens", "$ per M tokens"],
      ], `${r.model} on ${r.count} × ${r.system} (${r.precision})`);
      for (const phase of ["decode", "prefill"]) {
        const parts = Object.entries(r.breakdown[phase] || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
        ui.chart(`${phase}-breakdown`, [bar(parts.map((p) => p[1] * MS), parts.map((p) => p[0]),
          { orientation: "h", marker: { color: phase === "decode" ? "#2b6cb0" : "#805ad5" } })],
          { title: { text: `${phase} step by operator (ms per step)` }, yaxis: { autorange: "reversed" },
            xaxis: { title: { text: "ms" } }, margin: { l: 140, t: 48, r: 20, b: 50 } });
      }
    },
  });

  // Viridis at five stops, for the region rectangles (shapes take a colour, not a colour scale).
  const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  function viridis(t) {
    const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
    const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
    const c = VIRIDIS[i].map((v, k) => Math.round(v + (VIRIDIS[i + 1][k] - v) * (x - i)));
    return `rgb(${c.join(",")})`;
  }

  wafersim.register("wafer", {
    title: "Wafer",
    intro: "Where each layer sits on which wafer (decode placement), coloured by the SRAM each PE of the " +
      "region fills. Hover a region for its layers and SRAM use.",
    endpoint: "/api/wafer/map",
    fields: [
      model("llama-3.1-70b"), pick("system", "system", ["cs-3", "cs-2"]), num("count", "systems", 4),
      num("input_len", "input tokens", 1000), num("output_len", "output tokens", 1000),
      num("batch", "batch", 1), pick("precision", "precision", PRECISIONS, ""),
    ],
    render(d, body, ui) {
      const gap = d.fabric_cols * 0.08;
      const shapes = [];
      const x = [], y = [], fill = [], text = [];
      for (let w = 0; w < d.wafers_used; w++) {
        const x0 = w * (d.fabric_cols + gap);
        shapes.push({ type: "rect", x0, x1: x0 + d.fabric_cols, y0: 0, y1: d.fabric_rows,
          fillcolor: "#e2e5ea", line: { width: 0 }, layer: "below" });
      }
      for (const r of d.regions) {
        const x0 = r.wafer * (d.fabric_cols + gap) + r.x;
        shapes.push({ type: "rect", x0, x1: x0 + r.cols, y0: r.y, y1: r.y + r.rows,
          fillcolor: viridis(r.sram_fill), line: { color: "#ffffff", width: 1 } });
        x.push(x0 + r.cols / 2);
        y.push(r.y + r.rows / 2);
        fill.push(r.sram_fill);
        const holds = r.kind === "layers" ? `layers ${r.layers[0]}–${r.layers[1]}${r.vocab_rows ? " + head" : ""}` : `head (${r.vocab_rows} rows)`;
        text.push(`wafer ${r.wafer}, region ${r.index}: ${holds}<br>SRAM per PE ${f(Object.values(r.sram_bytes_per_pe)
          .reduce((a, b) => a + b, 0))} B (${(100 * r.sram_fill).toFixed(0)}%)`);
      }
      ui.table([d], [["model", "model"], ["system", "system"], ["wafers_used", "wafers"],
        [(v) => `${v.region_rows}×${v.region_cols}`, "region (PEs)"], ["regions_per_wafer", "regions per wafer"],
        ["layers_per_region", "layers per region"], ["batch", "batch"]], "placement");
      ui.chart("placement-map", [{ type: "scatter", mode: "markers", x, y, text, hoverinfo: "text",
        marker: { size: 6, color: fill, colorscale: "Viridis", cmin: 0, cmax: 1, symbol: "square",
          colorbar: { title: { text: "SRAM fill" }, tickformat: ".0%" } } }],
      { title: { text: `${d.model} on ${d.wafers_used} × ${d.system}` }, shapes, height: 560,
        xaxis: { visible: false, range: [-gap, d.wafers_used * (d.fabric_cols + gap)] },
        yaxis: { visible: false, autorange: "reversed", scaleanchor: "x" } }, true);
    },
  });

  const deployment = (m, s, c) => [model(m), system(s), num("count", "accelerators per replica", c),
    num("replicas", "replicas", 1), num("tp", "tensor parallel", "", { placeholder: "auto" }),
    num("pp", "pipeline parallel", "", { placeholder: "auto" }), pick("precision", "precision", PRECISIONS, ""),
    pick("scheduler", "scheduler", ["vllm", "sarathi", "static"]),
    pick("router", "router", ["least-outstanding", "round-robin", "least-kv"]),
    num("max_batch", "max batch per engine", 2048), num("seed", "seed", 0)];

  wafersim.register("serve", {
    title: "Serve",
    intro: "Replay a request trace against a deployment (discrete-event simulation): TTFT and TPOT " +
      "distributions, and KV-cache use and queue length over time.",
    job: "serve",
    fields: [...deployment("llama-3.1-8b", "h100-sxm", 1),
      pick("trace", "trace", ["azure-conv", "azure-code"]), num("requests", "requests", 2000),
      num("slo_ttft_s", "SLO TTFT, s (goodput)", ""), num("slo_tpot_s", "SLO TPOT, s (goodput)", "")],
    render(r, body, ui) {
      ui.table([r], [["accelerators", "accelerators"], ["engines", "engines"], ["completed", "completed"],
        [(x) => x.ttft_p50_s * MS, "TTFT p50 (ms)"], [(x) => x.ttft_p99_s * MS, "TTFT p99 (ms)"],
        [(x) => x.tpot_p50_s * MS, "TPOT p50 (ms)"], [(x) => x.tpot_p99_s * MS, "TPOT p99 (ms)"],
        ["output_tokens_per_s", "tokens/s"], ["requests_per_s", "requests/s"],
        ["goodput_rps", "goodput (req/s)"], ["kv_use_peak", "KV peak"], ["preemptions", "preemptions"]],
      `${r.model} on ${r.accelerators} × ${r.system}, ${r.requests} requests`);
      const hist = (name, values, title, color) => ui.chart(name, [{ type: "histogram", x: values.map((v) => v * MS),
        marker: { color } }], { title: { text: title }, xaxis: { title: { text: "ms" } },
        yaxis: { title: { text: "requests" } } });
      hist("ttft-distribution", r.per_request.ttft_s, "Time to first token", "#2b6cb0");
      hist("tpot-distribution", r.per_request.tpot_s, "Time per output token", "#805ad5");
      const line = (name, s, title, label, extra) => ui.chart(name, [{ type: "scatter", mode: "lines",
        line: { shape: "hv" }, x: s.time_s, y: s.value, name: label }, ...(extra || [])],
      { title: { text: title + (s.bins ? ` (peak in each of ${s.bins} time bins)` : "") },
        xaxis: { title: { text: "simulated time (s)" } }, yaxis: { title: { text: label } }, showlegend: false });
      const capacity = r.kv_capacity_tokens_per_engine * r.engines;
      const times = r.series.kv_tokens.time_s;
      line("kv-timeline", r.series.kv_tokens, "KV cache in use (all engines)", "tokens",
        times.length ? [{ type: "scatter", mode: "lines", x: [times[0], times[times.length - 1]],
          y: [capacity, capacity], line: { dash: "dash", color: "#b42318" }, name: "capacity" }] : []);
      line("queue-timeline", r.series.queue_len, "Requests waiting (all engines)", "requests");
    },
  });

  wafersim.register("capacity", {
    title: "Capacity",
    intro: "The highest request rate a deployment sustains within p90 TTFT and p90 TPOT targets, found by " +
      "bracketing and bisection over simulated runs (each probe shown).",
    job: "capacity",
    fields: [...deployment("llama-3.1-8b", "h100-sxm", 1),
      num("slo_ttft_s", "SLO p90 TTFT, s", 2), num("slo_tpot_s", "SLO p90 TPOT, s", 0.2),
      Object.assign(pick("trace", "trace", ["", "azure-conv", "azure-code"], ""), { empty: "(synthetic)" }),
      num("requests", "trace requests", ""), num("synthetic_requests", "synthetic requests", 1000)],
    render(r, body, ui) {
      ui.table([r], [["max_rate_rps", "max requests/s"], ["output_tokens_per_s", "tokens/s"],
        [(x) => x.ttft_p90_s * MS, "TTFT p90 (ms)"], [(x) => x.tpot_p90_s * MS, "TPOT p90 (ms)"],
        ["accelerators", "accelerators"], ["power_w", "power (W)"], ["requests_per_s_per_mw", "requests/s per MW"]],
      `${r.model} on ${r.accelerators} × ${r.system}`);
      if (r.note) {
        const note = document.createElement("p");
        note.className = "note";
        note.textContent = r.note;
        ui.summary.appendChild(note);
      }
      const probes = r.probes;
      const colors = probes.map((p) => (p.meets ? "#2f855a" : "#b42318"));
      const rates = probes.map((p) => p.rate_rps);
      const span = [Math.min(...rates), Math.max(...rates)];
      for (const [key, slo, title] of [["ttft_p90_s", r.slo_ttft_s, "p90 TTFT"], ["tpot_p90_s", r.slo_tpot_s, "p90 TPOT"]]) {
        ui.chart(`probes-${key.split("_")[0]}`, [
          { type: "scatter", mode: "markers", x: rates, y: probes.map((p) => p[key] * MS),
            marker: { size: 10, color: colors }, text: probes.map((p) => (p.meets ? "meets" : "misses")), name: "probe" },
          { type: "scatter", mode: "lines", x: span, y: [slo * MS, slo * MS], line: { dash: "dash" }, name: "target" },
        ], { title: { text: `${title} at each probed rate (green: within both targets)` }, showlegend: false,
          xaxis: { title: { text: "requests/s" } }, yaxis: { title: { text: "ms" }, type: "log" } });
      }
    },
  });

  wafersim.register("plan", {
    title: "Plan",
    intro: "A fleet for a scenario: capacity per system at the SLO (simulated, cached), the fleets within " +
      "each period's power budget, and how the answer moves when one input moves ±20%. The 750 MW " +
      "scenario runs on opening: ~12 s with its capacities cached, ~25 s from a cold cache (two cores).",
    job: "plan",
    autorun: true,
    fields: [pick("scenario", "scenario", ["openai-cerebras-750mw", "small-test"]),
      { name: "use_cache", label: "use the capacity cache", type: "checkbox", default: true }],
    render(r, body, ui) {
      const rows = [...r.options, Object.assign({ id: "mixed" }, r.chosen)];
      ui.table(rows, [["id", "fleet"], ["feasible", "feasible"], ["systems", "systems"], ["power_mw", "IT MW"],
        ["output_tokens_per_s", "output tokens/s"], ["users_served", "users"],
        ["usd_per_million_tokens", "$ per M tokens"], ["capex_usd", "capex $"], ["reason", "why not"]],
      `plan ${r.scenario} (${r.objective}, final period)`);
      const traces = [];
      for (const option of r.options) {
        const plan = option.plans.max_users || {};
        if (!plan.feasible) continue;
        traces.push({ type: "scatter", mode: "lines+markers", name: option.id,
          x: [0, ...plan.periods.map((p) => p.power_mw)], y: [0, ...plan.periods.map((p) => p.users_served)] });
      }
      const mixed = r.mixed.max_users || {};
      if (mixed.feasible) {
        traces.push({ type: "scatter", mode: "lines+markers", name: "mixed", line: { dash: "dash", color: "black" },
          x: [0, ...mixed.periods.map((p) => p.power_mw)], y: [0, ...mixed.periods.map((p) => p.users_served)] });
      }
      traces.push({ type: "scatter", mode: "markers", name: "demand (weekly users)", marker: { symbol: "x", size: 11, color: "red" },
        x: r.periods.map((p) => p.power_mw), y: r.periods.map((p) => p.weekly_active_users) });
      ui.chart("capacity-vs-power", traces, { title: { text: "Users served within SLO as IT power grows" },
        xaxis: { title: { text: "IT power (MW)" } }, yaxis: { title: { text: "weekly users" } } });
      const priced = r.capacity.filter((c) => c.usd_per_million_tokens);
      ui.chart("cost-by-option", [bar(priced.map((c) => `${c.option}<br>${c.model}`),
        priced.map((c) => c.usd_per_million_tokens), { marker: { color: "#b7791f" } })],
      { title: { text: "$ per million output tokens at SLO capacity" }, yaxis: { type: "log", title: { text: "$ / M tokens (log)" } } });
      if (r.chosen.feasible && r.chosen.periods) {
        const power = Object.fromEntries(r.options.map((o) => [o.id, o.it_power_w_per_system]));
        const names = r.chosen.periods.map((p) => p.period);
        const mix = Object.keys(power).map((id) => bar(names, r.chosen.periods.map((p) => p.systems[id] * power[id] / 1e6), { name: id }))
          .filter((t) => t.y.some((v) => v > 0));
        ui.chart("fleet-mix", mix, { barmode: "stack", title: { text: `Fleet mix over time (${r.objective})` },
          yaxis: { title: { text: "IT power (MW)" } } });
      }
      tornado(r, ui);
    },
  });

  function tornado(r, ui) {
    const [key, label] = r.objective === "max_users" ? ["users_served", "users served"] : ["total_cost_usd", "total cost"];
    const rows = r.sensitivity.filter((s) => s.objective === r.objective);
    const base = (rows.find((s) => s.parameter === "baseline") || {})[key];
    if (!base) return;
    const names = [...new Set(rows.filter((s) => s.parameter !== "baseline").map((s) => s.parameter))];
    const side = (low) => {
      const picked = names.map((n) => rows.find((s) => s.parameter === n && (low ? s.factor < 1 : s.factor > 1)));
      return bar(picked.map((s) => (s && s[key] != null ? (s[key] / base - 1) * 100 : null)), names, {
        orientation: "h", name: low ? "input −" : "input +", marker: { color: low ? "#c53030" : "#2f855a" },
        text: picked.map((s) => (s && s.mix_text) || ""), textposition: "none", hovertemplate: "%{y}: %{x:.1f}%<br>%{text}<extra></extra>" });
    };
    ui.chart("tornado", [side(true), side(false)], { barmode: "overlay", height: 120 + 26 * names.length,
      title: { text: `Sensitivity of the ${r.objective} answer (one input at a time)` },
      xaxis: { title: { text: `change in ${label} (%)` } }, yaxis: { autorange: "reversed" },
      margin: { l: 180, t: 48, r: 20, b: 50 } }, true);
  }

  wafersim.register("validate", {
    title: "Validate",
    intro: "The performance model against every published measurement: predicted against measured, per " +
      "group (calibration points set the efficiency factors, or for the wafer group the service-path constants; " +
      "test points never do).",
    endpoint: "/api/validate",
    method: "GET",
    autorun: true,
    fields: [pick("group", "group", ["all", "calibration", "test", "wafer"])],
    render(r, body, ui) {
      const groups = Object.entries(r.groups).filter(([, g]) => g.points);
      ui.table(groups.map(([name, g]) => Object.assign({ name }, g)), [["name", "group"], ["points", "points"],
        [(g) => `${(100 * g.median_ape).toFixed(1)}%`, "median APE"], [(g) => `${(100 * g.p90_ape).toFixed(1)}%`, "p90 APE"]],
      `test-group target: median APE ≤ ${(100 * r.test_median_ape_target).toFixed(0)}%`);
      const points = r.points.filter((p) => p.predicted != null && p.measured != null);
      const traces = groups.map(([name]) => {
        const mine = points.filter((p) => p.group === name);
        return { type: "scatter", mode: "markers", name, x: mine.map((p) => p.measured), y: mine.map((p) => p.predicted),
          text: mine.map((p) => `${p.id}<br>${p.metric}: APE ${(100 * p.ape).toFixed(1)}%`), hoverinfo: "text", marker: { size: 8 } };
      });
      const values = points.flatMap((p) => [p.measured, p.predicted]);
      const span = [Math.min(...values) / 1.5, Math.max(...values) * 1.5];
      traces.push({ type: "scatter", mode: "lines", x: span, y: span, name: "predicted = measured", line: { dash: "dot", color: "#888" } });
      ui.chart("predicted-vs-measured", traces, { title: { text: "Predicted against measured (log-log)" },
        xaxis: { type: "log", title: { text: "measured" } }, yaxis: { type: "log", title: { text: "predicted" } }, height: 520 }, true);
      const ranked = [...points].sort((a, b) => a.predicted / a.measured - b.predicted / b.measured);
      ui.chart("error-by-point", groups.map(([name]) => {
        const mine = ranked.filter((p) => p.group === name);
        return bar(mine.map((p) => p.id), mine.map((p) => (p.predicted / p.measured - 1) * 100), { name,
          hovertemplate: "%{x}: %{y:.1f}%<extra></extra>" });
      }), { title: { text: "Prediction error per point (predicted / measured − 1)" }, height: 420,
        xaxis: { showticklabels: false, title: { text: "published points, sorted by error" },
          categoryorder: "array", categoryarray: ranked.map((p) => p.id) },
        yaxis: { title: { text: "%" } } }, true);
      const skipped = r.points.length - points.length;
      const note = document.createElement("p");
      note.className = "note";
      note.textContent = `${points.length} points predicted; ${skipped} listed but not predictable from what their source publishes.`;
      ui.summary.appendChild(note);
    },
  });
})();
