/* The review page: before/after, step images, timeline, approve/reject, edit and re-run,
   the "keep the original here" mask brush over the result, the damage mask and its brush
   (damage.js), and the clip (clip.js). */
"use strict";
(function () {
  const { api, el, toast, onJob, fmtTime, fmtDuration, statusLabel } = window.PR;
  const $ = (id) => document.getElementById(id);
  let job = JSON.parse($("job-data").textContent);
  const catalog = JSON.parse($("catalog-data").textContent);
  const base = "/api/jobs/" + encodeURIComponent(job.id);
  const viewer = window.Compare();
  const aligned = window.AlignedBefore(base, () => viewer.load(imageUrls()));
  const clip = window.ClipView(catalog);
  const editor = window.Editor(base + "/image/source");
  editor.setFrom(job.edits);
  /* The mask is painted over the result as shown; a new crop or rotation moves the frame. */
  const geometry = () => JSON.stringify(editor.edits().filter((e) => ["rotate", "straighten", "crop"].includes(e.op)));
  const shownFrame = geometry();
  let painted = false;
  function frameNote(now) {
    if (now !== undefined) painted = now;
    $("brush-frame-note").hidden = !painted || geometry() === shownFrame;
  }
  const editFields = document.querySelector(".editor fieldset");
  for (const type of ["input", "click"]) editFields.addEventListener(type, () => setTimeout(() => frameNote()));
  const corrected = (job.edits || []).find((e) => e.op === "damage_mask");
  const damage = window.DamageMask(base, corrected ? corrected.params : null);
  const kept = (job.edits || []).find((e) => e.op === "keep_original");
  const brush = window.Brush({
    initial: kept && kept.params ? kept.params.mask : null,
    onEnable: () => { viewer.load(imageUrls(), "After restoration"); viewer.show("slider"); },
    onChange: frameNote,
  });

  function imageUrls(stamp) {
    const done = job.status === "done" && job.decision !== "rejected";
    const v = "?v=" + encodeURIComponent(stamp || job.updated);
    return {
      before: aligned.url(job, v), beforeFull: base + "/file/original" + v,
      after: (done ? base + "/image/result" : base + "/image/source") + v,
      afterFull: (done ? base + "/file/result" : base + "/file/original") + v,
    };
  }

  function renderHeader() {
    const s = $("job-status");
    s.textContent = statusLabel(job);
    s.className = "status status-" + job.status;
    $("job-decision").textContent = job.decision ? job.decision : "";
    $("job-error").textContent = job.error || "";
    $("job-error").hidden = !job.error;
    const done = job.status === "done";
    $("approve").disabled = !done || job.decision === "approved";
    $("reject").disabled = !done || job.decision === "rejected";
    $("download").hidden = !done || job.decision === "rejected";
    $("no-result").hidden = done && job.decision !== "rejected";
    $("brush-toggle").disabled = !done || job.decision === "rejected";
    if (brush.on && $("brush-toggle").disabled) brush.setOn(false);
    damage.render(job, "?v=" + encodeURIComponent(job.updated));
    clip.render(job);
  }

  function renderSteps() {
    const strip = $("step-strip");
    const items = job.steps.map((s, i) => {
      const b = el("button", { type: "button", class: "step-thumb", "aria-label": "Compare step " + (i + 1) + ": " + s.label + " with the original" },
        el("img", { src: base + "/image/" + i + "?v=" + job.updated, alt: "", loading: "lazy", onerror: (ev) => { ev.target.hidden = true; } }),
        el("span", {}, (i + 1) + ". " + s.label), el("small", {}, s.status));
      b.addEventListener("click", () => {
        brush.setOn(false); // the mask is painted over the final result only
        viewer.load({ after: base + "/image/" + i + "?v=" + job.updated }, "After step " + (i + 1) + ": " + s.label);
        viewer.show("slider");
      });
      return el("li", {}, b);
    });
    if (job.status === "done") {
      const b = el("button", { type: "button", class: "step-thumb" }, el("img", { src: base + "/image/result?v=" + job.updated, alt: "" }), el("span", {}, "Final result"));
      b.addEventListener("click", () => viewer.load(imageUrls(), "After"));
      items.push(el("li", {}, b));
    }
    strip.replaceChildren(...items);
    const rows = job.steps.map((s, i) => el("tr", { class: "step-" + s.status },
      el("td", {}, String(i + 1)), el("td", {}, s.label), el("td", {}, s.status),
      el("td", {}, [s.provider, s.model].filter(Boolean).join(" · ") || (s.kind === "local" ? "local" : "")),
      el("td", {}, fmtDuration(s.duration)), el("td", {}, String(s.retries || 0)), el("td", {}, s.note || "", window.Findings.summary(s))));
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 7 }, job.status === "queued" ? "Waiting in the queue." : "No steps recorded.")));
    $("timeline").replaceChildren(...rows);
    const parts = ["Attempts: " + job.attempts, "created " + fmtTime(job.created)];
    if (job.started) parts.push("started " + fmtTime(job.started));
    if (job.finished) parts.push("finished " + fmtTime(job.finished) + " (" + fmtDuration(job.finished - (job.started || job.created)) + ")");
    if (job.cost_usd) parts.push("≈ $" + job.cost_usd.toFixed(3));
    if (job.note) parts.push(job.note);
    $("timeline-caption").textContent = parts.join(" · ");
    window.Findings.render(job, base);
  }

  function renderChains() {
    const sel = $("rerun-chain");
    sel.replaceChildren(...catalog.chains.map((c) => el("option", { value: c.name, disabled: !c.can_run, selected: c.name === job.chain },
      c.title + window.PR.chainCost(c) + (c.can_run ? "" : " (cannot run: " + c.missing.join("; ") + ")"))));
    const fill = () => {
      const c = catalog.chains.find((x) => x.name === sel.value);
      const levels = (c && c.fidelity) || [];
      $("fidelity-row").hidden = !levels.length;
      $("rerun-fidelity").replaceChildren(el("option", { value: "" }, "chain default"),
        ...levels.map((l) => el("option", { value: l, selected: l === job.fidelity }, l)));
      const prompts = (c ? c.steps : []).filter((s) => s.prompt).map((s) => s.prompt);
      $("rerun-prompt").placeholder = prompts.length ? prompts[0] : "This chain has no remote step: the prompt is not used";
      clip.fillRerun(sel.value, job);
    };
    sel.addEventListener("change", fill);
    fill();
    if (job.prompt) $("rerun-prompt").value = job.prompt;
    if (job.params && Object.keys(job.params).length) $("rerun-params").value = JSON.stringify(job.params);
  }

  async function refresh() {
    const before = job.status + "/" + job.decision;
    job = await api("GET", base);
    renderHeader();
    renderSteps();
    if (before !== job.status + "/" + job.decision) viewer.load(imageUrls());
  }

  async function decide(action) {
    try {
      const r = await api("POST", base + "/" + action);
      job = r;
      renderHeader();
      viewer.load(imageUrls(Date.now()));
      const what = job.clip ? "the result and its clip were" : "the result was";
      toast(action === "approve" ? "Approved: the result stays." : r.deleted ? "Rejected: " + what + " deleted; the original stays." : "Rejected.");
    } catch (e) { toast(e.message, true); }
  }
  $("approve").addEventListener("click", () => decide("approve"));
  $("reject").addEventListener("click", () => decide("reject"));

  $("rerun-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("rerun-error");
    err.hidden = true;
    let params = {};
    const raw = $("rerun-params").value.trim();
    if (raw) {
      try { params = JSON.parse(raw); } catch (e) { err.textContent = "Parameters must be JSON, e.g. {\"guidance_scale\": 2}"; err.hidden = false; return; }
    }
    if (!editor.valid()) { err.textContent = "The crop leaves nothing of the photo."; err.hidden = false; return; }
    const body = { chain: $("rerun-chain").value, prompt: $("rerun-prompt").value.trim() || null, params,
      fidelity: $("rerun-fidelity").value || null, edits: editor.edits(), ...clip.rerunFields($("rerun-chain").value) };
    const mask = brush.mask();
    if (mask) body.edits.push({ op: "keep_original", params: { mask, feather: 3 } });
    const correction = damage.edit();
    if (correction) body.edits.push(correction);
    try {
      const r = await api("POST", base + "/rerun", body);
      window.location.href = "/jobs/" + encodeURIComponent(r.id);
    } catch (e) { err.textContent = e.message; err.hidden = false; }
  });

  onJob((ev) => { if (ev.id === job.id) refresh().catch(() => {}); });
  renderHeader();
  renderSteps();
  renderChains();
  viewer.load(imageUrls());
})();
