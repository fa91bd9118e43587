/* The jobs list: filters, search, paging, live updates from server-sent events,
   bulk retry of failed jobs, pause/resume of the queue. */
"use strict";
(function () {
  const { api, el, toast, onJob, fmtTime, statusLabel } = window.PR;
  const LIMIT = 50;
  const state = { status: "all", q: "", offset: 0, total: 0, paused: false };
  const rows = document.getElementById("job-rows");

  function progress(job) {
    if (job.status === "failed") return el("span", { class: "reason" }, job.error || "failed");
    const total = job.progress.total;
    if (job.status === "running" && total) {
      return el("span", {}, el("progress", { max: total, value: job.progress.done,
        "aria-label": "Steps done" }), " " + job.progress.done + "/" + total);
    }
    if (job.status === "done" && job.review && job.review.length) {
      return el("span", { class: "review-flag" }, "Needs a look: " + job.review.join("; "));
    }
    return el("span", {}, job.note || "");
  }

  function row(job) {
    const link = el("a", { href: "/jobs/" + encodeURIComponent(job.id) }, job.name);
    const thumb = job.status === "done"
      ? el("img", { src: "/api/jobs/" + encodeURIComponent(job.id) + "/image/result", alt: "", loading: "lazy", class: "thumb" })
      : el("img", { src: "/api/jobs/" + encodeURIComponent(job.id) + "/image/source", alt: "", loading: "lazy", class: "thumb" });
    thumb.addEventListener("error", () => { thumb.hidden = true; });
    const clip = job.clip && job.decision !== "rejected"
      ? el("span", { class: "badge has-clip", title: "A clip was made beside the photo" }, "▶ clip") : null;
    return el("tr", { "data-id": job.id, class: "status-" + job.status },
      el("td", {}, thumb),
      el("td", { title: job.source }, link, clip),
      el("td", {}, job.chain_title),
      el("td", { class: "status-cell" }, el("span", { class: "status status-" + job.status }, statusLabel(job))),
      el("td", { class: "progress-cell" }, progress(job)),
      el("td", {}, fmtTime(job.created)));
  }

  async function load() {
    const params = new URLSearchParams({ status: state.status, offset: state.offset, limit: LIMIT });
    if (state.q) params.set("q", state.q);
    const data = await api("GET", "/api/jobs?" + params);
    state.total = data.total;
    rows.replaceChildren(...data.jobs.map(row));
    if (!data.jobs.length) {
      rows.append(el("tr", {}, el("td", { colspan: 6 }, "No jobs here. Drop a scan into a to-restore folder, or upload one on the Files page.")));
    }
    for (const [k, v] of Object.entries(data.counts)) {
      const c = document.querySelector('[data-count="' + k + '"]');
      if (c) c.textContent = "(" + v + ")";
    }
    const last = Math.min(state.offset + LIMIT, data.total);
    document.getElementById("jobs-summary").textContent =
      data.total ? (state.offset + 1) + "–" + last + " of " + data.total + " jobs" : "0 jobs";
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = last >= data.total;
    setPaused(data.paused);
  }

  function setPaused(paused) {
    state.paused = paused;
    const b = document.getElementById("pause");
    b.textContent = paused ? "Resume queue" : "Pause queue";
    b.setAttribute("aria-pressed", String(paused));
  }

  let timer = null;
  const reload = () => { clearTimeout(timer); timer = setTimeout(() => load().catch((e) => toast(e.message, true)), 400); };

  /* Live: patch the row at once, then refresh the page of the list shortly after. */
  onJob((ev) => {
    const tr = rows.querySelector('tr[data-id="' + CSS.escape(ev.id) + '"]');
    if (tr) {
      tr.className = "status-" + ev.status;
      const cell = tr.querySelector(".status-cell");
      cell.replaceChildren(el("span", { class: "status status-" + ev.status }, ev.status));
      const steps = ev.steps || [];
      if (ev.status === "running" && steps.length) {
        const done = steps.filter((s) => s.status !== "pending" && s.status !== "running").length;
        tr.querySelector(".progress-cell").replaceChildren(el("progress", { max: steps.length, value: done, "aria-label": "Steps done" }), " " + done + "/" + steps.length);
      }
    }
    reload();
  });

  document.getElementById("filters").addEventListener("click", (e) => {
    const b = e.target.closest("button[data-status]");
    if (!b) return;
    state.status = b.dataset.status;
    state.offset = 0;
    document.querySelectorAll("#filters button").forEach((x) => x.setAttribute("aria-pressed", String(x === b)));
    load().catch((err) => toast(err.message, true));
  });
  const q = document.getElementById("q");
  let qTimer = null;
  q.addEventListener("input", () => { clearTimeout(qTimer); qTimer = setTimeout(() => { state.q = q.value.trim(); state.offset = 0; load(); }, 250); });
  document.getElementById("search").addEventListener("submit", (e) => { e.preventDefault(); state.q = q.value.trim(); state.offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - LIMIT); load(); });
  document.getElementById("next").addEventListener("click", () => { state.offset += LIMIT; load(); });
  document.getElementById("retry-failed").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/api/jobs/retry", {});
      toast(r.count + " failed job(s) queued again");
      load();
    } catch (e) { toast(e.message, true); }
  });
  document.getElementById("pause").addEventListener("click", async () => {
    try {
      const r = await api("POST", "/api/queue", { paused: !state.paused });
      setPaused(r.paused);
      toast(r.paused ? "Queue paused: running jobs finish, no new ones start" : "Queue resumed");
    } catch (e) { toast(e.message, true); }
  });
  load().catch((e) => toast(e.message, true));
})();
