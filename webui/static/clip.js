/* The review page's clip: the <video> beside the photo (poster = the restored photo, looping,
   muted until the viewer unmutes it), what was measured and what it cost, a download link,
   and the re-run choices for the clip (another clip model, another motion prompt). */
"use strict";
window.ClipView = function (catalog) {
  const { el } = window.PR;
  const $ = (id) => document.getElementById(id);
  const video = $("clip-video");
  let shown = null;

  const clipStep = (job) => (job.steps || []).find((s) => s.kind === "video");
  const makesClip = (name) => { const c = catalog.chains.find((x) => x.name === name); return !!c && c.output === "video"; };

  /* Show the clip of `job`, or why it has none; hidden for chains that make no clip. */
  function render(job) {
    const step = clipStep(job);
    const section = $("clip-section");
    section.hidden = !step && !makesClip(job.chain);
    if (section.hidden) return;
    const base = "/api/jobs/" + encodeURIComponent(job.id);
    const has = job.status === "done" && job.decision !== "rejected" && !!job.clip;
    video.hidden = !has;
    $("clip-download").hidden = !has;
    const v = "?v=" + encodeURIComponent(job.updated);
    if (has && shown !== job.clip + v) {
      shown = job.clip + v;
      video.poster = base + "/image/result" + v;
      video.src = base + "/clip" + v;
    } else if (!has && shown !== null) {
      shown = null;
      video.removeAttribute("src");
      video.load();
    }
    let info = "";
    if (has && step) {
      const cost = step.cost_usd ? " · ≈ $" + step.cost_usd.toFixed(3) : step.status === "cached" ? " · from the cache, no cost" : "";
      info = [step.model, step.provider].filter(Boolean).join(" via ") + " · " + (step.note || "") + cost;
    } else if (step && step.status === "failed") {
      info = "No clip: " + (step.note || "the clip step failed") + ". The restored photo was written.";
    } else if (job.decision === "rejected") {
      info = "Rejected: the clip was deleted with the photo.";
    } else {
      info = job.status === "done" ? "This run made no clip." : "The clip is made after the photo is restored.";
    }
    $("clip-info").textContent = info;
  }

  /* The re-run form's clip fields, shown when the chosen chain ends in a clip. */
  function fillRerun(chainName, job) {
    $("clip-rerun").hidden = !makesClip(chainName);
    const current = (job.clip_options && job.clip_options.model) || "";
    $("rerun-clip-model").replaceChildren(el("option", { value: "" }, "the chain's clip model"),
      ...(catalog.clip_models || []).map((m) => el("option", { value: m.name, selected: m.name === current },
        m.title + (m.clip_cost ? " (≈ $" + m.clip_cost.toFixed(2) + " per " + m.duration + " s clip)" : ""))));
    const chain = catalog.chains.find((x) => x.name === chainName);
    const step = chain ? chain.steps.find((s) => s.kind === "video") : null;
    $("rerun-clip-prompt").placeholder = step && step.prompt ? step.prompt : "The clip model's own prompt";
    if (job.clip_options && job.clip_options.prompt) $("rerun-clip-prompt").value = job.clip_options.prompt;
  }

  /* What the re-run body says of the clip (nothing when the chain makes none). */
  function rerunFields(chainName) {
    if (!makesClip(chainName)) return {};
    return { clip_model: $("rerun-clip-model").value || null, clip_prompt: $("rerun-clip-prompt").value.trim() || null };
  }

  return { render, fillRerun, rerunFields };
};
