// The page of `diplo serve`: sends a case to this server's API and shows the answers. It talks
// to this server only (its Content-Security-Policy allows nothing else) and builds what it
// shows from text nodes; the report itself is the HTML report the server renders, shown in a
// shadow root so that its styles and the page's stay apart. Its addresses are relative, so
// that it works behind a reverse proxy that serves it under a prefix (/diplo/).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const SHEETS = /\.(xlsx|xlsm|csv)$/i;
  let last = null;          // what the shown report was made from: {body, options, caseId}

  function setStatus(text, error) {
    const status = $("status");
    status.textContent = text;
    status.className = error ? "error" : "";
  }

  function showProblems(lines) {
    const list = $("problems");
    list.replaceChildren(...lines.map((line) => {
      const item = document.createElement("li");
      item.textContent = line;
      return item;
    }));
    list.hidden = lines.length === 0;
  }

  // the case as a request body: the chosen file (with its mapping, for a spreadsheet) or the
  // pasted text
  function caseBody() {
    const file = $("case-file").files[0];
    if (file) {
      const form = new FormData();
      form.append("case", file, file.name);
      const mapping = $("mapping-file").files[0];
      if (mapping && SHEETS.test(file.name)) {
        form.append("mapping", mapping, mapping.name);
      }
      return { body: form, type: null };
    }
    const text = $("case-text").value;
    if (!text.trim()) {
      throw new Error("Paste a case or choose a file first.");
    }
    return { body: text, type: /^\s*[{[]/.test(text) ? "application/json" : "application/yaml" };
  }

  class Problem extends Error {
    constructor(status, found) {
      super(found && found.detail ? found.detail : "the server answered " + status);
      this.status = status;
      this.lines = found && found.errors ? found.errors.map((e) => e.detail) : [];
      if (found && found.more) {
        this.lines.push(found.more + " more problems not shown");
      }
    }
  }

  async function call(path, params, request) {
    const headers = {};
    if (request.type) {
      headers["Content-Type"] = request.type;
    }
    const token = $("token").value.trim();
    if (token) {
      headers.Authorization = "Bearer " + token;
    }
    const query = new URLSearchParams(params).toString();
    const answer = await fetch(path + (query ? "?" + query : ""),
      { method: "POST", body: request.body, headers: headers });
    if (!answer.ok) {
      let found = null;
      try {
        found = await answer.json();
      } catch (ignored) {
        found = null;
      }
      if (answer.status === 401) {
        $("token-row").hidden = false;
      }
      throw new Problem(answer.status, found);
    }
    return answer;
  }

  function options() {
    const found = { fail_on: $("fail-on").value };
    if ($("near-miss").checked) {
      found.near_miss = "true";
    }
    return found;
  }

  // the report's own page, its <style> and <main>, into a shadow root
  function showReport(html) {
    const host = $("report");
    const root = host.shadowRoot || host.attachShadow({ mode: "open" });
    const parsed = new DOMParser().parseFromString(html, "text/html");
    const parts = [...parsed.querySelectorAll("head style"), parsed.querySelector("main")]
      .filter(Boolean).map((node) => document.importNode(node, true));
    root.replaceChildren(...parts);
  }

  // the numeric case fields the findings rest on, with their values, for the what-if
  function figures(explanation) {
    const found = new Map();
    const visit = (node) => {
      for (const input of node.inputs || []) {
        if (typeof input.value === "number" && !found.has(input.path)) {
          found.set(input.path, input.value);
        }
      }
      (node.because || []).forEach(visit);
    };
    (explanation.proofs || []).forEach(visit);
    return [...found.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  }

  function fillWhatif(explanation) {
    const select = $("whatif-path");
    const entries = figures(explanation);
    select.replaceChildren(...entries.map(([path, value]) => {
      const option = document.createElement("option");
      option.value = path;
      option.dataset.value = String(value);
      option.textContent = path + " (now " + value + ")";
      return option;
    }));
    $("whatif-value").value = entries.length ? String(entries[0][1]) : "";
    $("whatif").hidden = entries.length === 0;
    $("comparison").replaceChildren();
  }

  async function assess(event) {
    event.preventDefault();
    let request;
    try {
      request = caseBody();
    } catch (error) {
      setStatus(error.message, true);
      return;
    }
    const button = $("assess");
    button.disabled = true;
    showProblems([]);
    setStatus("Assessing\u2026", false);
    try {
      const chosen = options();
      const [page, explained] = await Promise.all([
        call("v1/assess", { ...chosen, format: "html" }, request).then((a) => a.text()),
        call("v1/explain", { format: "json" }, request).then((a) => a.json()),
      ]);
      showReport(page);
      fillWhatif(explained);
      last = { request: request, options: chosen, caseId: explained.case };
      $("result").hidden = false;
      setStatus("Assessed " + explained.case + ".", false);
    } catch (error) {
      setStatus(error.message, true);
      showProblems(error.lines || []);
    } finally {
      button.disabled = false;
    }
  }

  function cell(row, text, tag) {
    const element = document.createElement(tag || "td");
    element.textContent = text;
    row.append(element);
    return element;
  }

  function changeTable(title, changes) {
    const wrapper = document.createElement("div");
    const heading = document.createElement("h3");
    heading.textContent = title + " (" + changes.length + ")";
    wrapper.append(heading);
    if (!changes.length) {
      return wrapper;
    }
    const table = document.createElement("table");
    table.className = "changes";
    const head = document.createElement("tr");
    ["severity", "finding", "because"].forEach((name) => cell(head, name, "th"));
    table.append(head);
    for (const change of changes) {
      const row = document.createElement("tr");
      row.dataset.finding = change.id;
      cell(row, (change.base_severity || "none") + " \u2192 " + (change.proposal_severity || "none"));
      const what = cell(row, change.title);
      const id = document.createElement("code");
      id.textContent = change.id;
      what.append(document.createElement("br"), id);
      cell(row, change.causes.map((c) => c.path + ": " + c.base + " \u2192 " + c.proposal)
        .join("; ") || "-");
      table.append(row);
    }
    wrapper.append(table);
    return wrapper;
  }

  function showComparison(result) {
    const verdicts = document.createElement("p");
    verdicts.className = "verdicts";
    const before = document.createElement("strong");
    before.className = "verdict-" + result.base_verdict;
    before.textContent = result.base_verdict.toUpperCase();
    const after = document.createElement("strong");
    after.className = "verdict-" + result.proposal_verdict;
    after.textContent = result.proposal_verdict.toUpperCase();
    verdicts.append("Verdict: ", before, " \u2192 ", after, " (" + result.edits.map(
      (e) => e.path + ": " + e.base + " \u2192 " + e.proposal).join("; ") + ")");
    $("comparison").replaceChildren(verdicts, changeTable("New", result.new),
      changeTable("Resolved", result.resolved), changeTable("Changed in severity", result.changed));
  }

  async function whatif(event) {
    event.preventDefault();
    if (!last) {
      return;
    }
    const path = $("whatif-path").value;
    const value = $("whatif-value").value;
    const button = $("whatif-run");
    button.disabled = true;
    showProblems([]);
    setStatus("Comparing\u2026", false);
    try {
      const params = new URLSearchParams({ format: "json", fail_on: last.options.fail_on });
      params.append("set", path + "=" + value);
      const answer = await call("v1/whatif", params, last.request);
      showComparison(await answer.json());
      setStatus("Compared with " + path + " = " + value + ".", false);
    } catch (error) {
      setStatus(error.message, true);
      showProblems(error.lines || []);
    } finally {
      button.disabled = false;
    }
  }

  async function download(event) {
    const format = event.target.dataset.format;
    if (!format || !last) {
      return;
    }
    try {
      const answer = await call("v1/assess", { ...last.options, format: format }, last.request);
      const blob = await answer.blob();
      const link = document.createElement("a");
      const suffix = { json: "json", html: "html", markdown: "md", sarif: "sarif" }[format];
      link.href = URL.createObjectURL(blob);
      link.download = last.caseId + "." + suffix;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      setStatus(error.message, true);
      showProblems(error.lines || []);
    }
  }

  async function template() {
    const answer = await fetch("page/template.yaml");
    $("case-text").value = await answer.text();
    clearFile();
  }

  function clearFile() {
    $("case-file").value = "";
    $("mapping-file").value = "";
    $("mapping-row").hidden = true;
    $("clear-file").hidden = true;
  }

  function fileChosen() {
    const file = $("case-file").files[0];
    $("mapping-row").hidden = !(file && SHEETS.test(file.name));
    $("clear-file").hidden = !file;
  }

  $("case-form").addEventListener("submit", assess);
  $("whatif-form").addEventListener("submit", whatif);
  $("whatif-path").addEventListener("change", () => {
    const chosen = $("whatif-path").selectedOptions[0];
    $("whatif-value").value = chosen ? chosen.dataset.value : "";
  });
  document.querySelector(".downloads").addEventListener("click", download);
  $("template").addEventListener("click", template);
  $("case-file").addEventListener("change", fileChosen);
  $("clear-file").addEventListener("click", clearFile);
}());
