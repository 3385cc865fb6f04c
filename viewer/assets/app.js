// execkit journal viewer. Everything recorded is put in the page as text
// (textContent), never parsed as markup.
(function () {
  "use strict";
  const transcript = document.getElementById("transcript");
  const search = document.getElementById("search");
  const hits = document.getElementById("hits");
  const params = new URLSearchParams(location.search);
  let session = params.get("session") || "";
  let marks = [];
  let current = -1;

  function entries() { return Array.from(transcript.querySelectorAll("section.entry")); }

  // Filters: by session (sidebar) and by status (checkboxes).
  function statusOn(st) {
    const box = document.querySelector('input[data-status="' + st + '"]');
    return !box || box.checked;
  }
  function applyFilters() {
    for (const e of entries()) {
      const show = (!session || e.dataset.session === session) && statusOn(e.dataset.status);
      e.classList.toggle("hidden", !show);
    }
    for (const a of document.querySelectorAll("a.session")) {
      a.classList.toggle("current", a.dataset.session === session);
    }
  }
  for (const a of document.querySelectorAll("a.session")) {
    a.addEventListener("click", function (ev) {
      ev.preventDefault();
      session = a.dataset.session;
      applyFilters();
      runSearch();
    });
  }
  for (const box of document.querySelectorAll("input[data-status]")) {
    box.addEventListener("change", function () { applyFilters(); runSearch(); });
  }
  const only = params.get("status");
  if (only) {
    for (const box of document.querySelectorAll("input[data-status]")) {
      box.checked = only.split(",").indexOf(box.dataset.status) >= 0;
    }
  }

  // Search: every match in commands and outputs is marked; Enter goes to
  // the next one.
  function clearMarks() {
    for (const m of transcript.querySelectorAll("mark")) {
      const parent = m.parentNode;
      parent.replaceChild(document.createTextNode(m.textContent), m);
      parent.normalize();
    }
    marks = [];
    current = -1;
  }
  function markIn(el, needle) {
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    const nodes = [];
    while (walker.nextNode()) nodes.push(walker.currentNode);
    const lower = needle.toLowerCase();
    for (const node of nodes) {
      let text = node.nodeValue;
      let i = text.toLowerCase().indexOf(lower);
      if (i < 0) continue;
      const frag = document.createDocumentFragment();
      let from = 0;
      while (i >= 0) {
        frag.appendChild(document.createTextNode(text.slice(from, i)));
        const m = document.createElement("mark");
        m.textContent = text.slice(i, i + needle.length);
        frag.appendChild(m);
        marks.push(m);
        from = i + needle.length;
        i = text.toLowerCase().indexOf(lower, from);
      }
      frag.appendChild(document.createTextNode(text.slice(from)));
      node.parentNode.replaceChild(frag, node);
    }
  }
  function runSearch() {
    clearMarks();
    const q = search.value;
    if (!q) { hits.textContent = ""; return; }
    for (const e of entries()) {
      if (e.classList.contains("hidden")) continue;
      for (const part of e.querySelectorAll(".cmd, pre")) markIn(part, q);
    }
    hits.textContent = marks.length + (marks.length === 1 ? " match" : " matches");
    if (marks.length) go(0);
  }
  function go(i) {
    if (current >= 0 && marks[current]) marks[current].classList.remove("current");
    current = (i + marks.length) % marks.length;
    marks[current].classList.add("current");
    marks[current].scrollIntoView({ block: "center" });
  }
  search.addEventListener("input", runSearch);
  search.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && marks.length) { ev.preventDefault(); go(current + (ev.shiftKey ? -1 : 1)); }
  });

  // Jump to the next failing entry below the one in view.
  function nextError() {
    const failing = entries().filter(function (e) { return e.classList.contains("failing") && !e.classList.contains("hidden"); });
    if (!failing.length) return;
    const y = window.scrollY + 80;
    let target = failing.find(function (e) { return e.offsetTop > y; }) || failing[0];
    for (const e of transcript.querySelectorAll(".focus")) e.classList.remove("focus");
    target.classList.add("focus");
    history.replaceState(null, "", "#" + target.id);
    target.scrollIntoView({ block: "start" });
  }
  document.getElementById("next-error").addEventListener("click", nextError);
  document.addEventListener("keydown", function (ev) {
    if (ev.target === search) return;
    if (ev.key === "n") nextError();
    if (ev.key === "/") { ev.preventDefault(); search.focus(); }
  });

  // Live: new entries are fetched and added as they are committed.
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function ms(f) { return f < 1 ? Math.round(f * 1000) + "µs" : f < 1000 ? f.toFixed(1) + "ms" : (f / 1000).toFixed(2) + "s"; }
  function render(e) {
    const failing = e.status !== "ok" && e.status !== "running";
    const s = el("section", "entry status-" + e.status + (failing ? " failing" : ""));
    s.id = "e-" + e.seq;
    s.dataset.session = e.session;
    s.dataset.status = e.status;
    const line = el("div", "cmdline");
    const a = el("a", "seq", String(e.seq));
    a.href = "#e-" + e.seq;
    line.append(a, " ", el("span", "cwd", e.cwd_before), " ", el("span", "prompt", "$"), " ", el("span", "cmd", e.command));
    s.appendChild(line);
    const c = e.completion;
    if (c && c.stdout) s.appendChild(el("pre", "stdout", c.stdout));
    if (c && c.stderr) s.appendChild(el("pre", "stderr", c.stderr));
    const st = el("div", "status");
    if (e.status === "blocked") {
      st.append(el("span", "badge blocked", "blocked"), " " + (e.decision.rule || "") + ": " + (e.decision.reason || ""));
    } else if (c) {
      st.append(el("span", "badge exit" + (c.exit_code ? " nonzero" : ""), "exit " + c.exit_code), " " + ms(c.duration_ms));
      if (c.timed_out) st.append(" ", el("span", "badge timeout", "timed out"));
      if (c.canceled) st.append(" ", el("span", "badge timeout", "canceled"));
      if (c.shell_ended) st.append(" ", el("span", "badge ended", "shell ended"));
    } else {
      st.append(el("span", "badge running", e.status));
    }
    st.append(el("span", "session-tag", e.session));
    s.appendChild(st);
    return s;
  }
  if (document.body.dataset.live === "true") {
    let last = Number(document.body.dataset.last) || 0;
    const poll = function () {
      fetch("api/entries?after=" + last, { cache: "no-store" }).then(function (r) { return r.json(); }).then(function (d) {
        const empty = transcript.querySelector(".empty");
        // Ask next time from the first entry still running (sessions run
        // at once, so a later one may finish first), else after the last.
        let firstRunning = Infinity;
        for (const e of d.entries) {
          if (e.status === "running") firstRunning = Math.min(firstRunning, e.seq);
        }
        for (const e of d.entries) {
          const old = document.getElementById("e-" + e.seq);
          if (e.status === "running" && old) continue;
          if (empty) empty.remove();
          const node = render(e);
          if (old) {
            old.replaceWith(node);
          } else {
            transcript.appendChild(node);
            const n = document.querySelector('[data-count="' + e.session + '"]');
            if (n) n.textContent = String(Number(n.textContent) + 1);
          }
          if (e.seq < firstRunning) last = Math.max(last, e.seq);
        }
        if (d.sealed) { document.getElementById("state").textContent = "sealed"; return; }
        applyFilters();
        setTimeout(poll, 1000);
      }).catch(function () { setTimeout(poll, 3000); });
    };
    setTimeout(poll, 1000);
  }

  applyFilters();
  if (params.get("q")) { search.value = params.get("q"); runSearch(); }
})();
