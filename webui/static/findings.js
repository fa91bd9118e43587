/* What the steps found beyond their image, on the review page: why the job needs a look, the
   merge's drift estimate, how much it repaired and each face's score, and the flagged faces
   shown (a box over the merge step's image, and a close-up of the face). */
"use strict";
window.Findings = (function () {
  const { el } = window.PR;
  const num = (v, digits) => (typeof v === "number" ? v.toFixed(digits) : "?");

  function driftText(d) {
    const kinds = { small: "small, corrected", featureless: "none measurable", reframed: "reframed",
      mirrored: "mirrored", unmatched: "no match" };
    return "Drift: " + (kinds[d.kind] || d.kind) + " — shift " + num(d.shift_pct, 2) + "% (" +
      num(d.dx_px, 1) + ", " + num(d.dy_px, 1) + " px at the model's size), zoom ×" + num(d.scale, 3) +
      ", rotation " + num(d.rotation_deg, 2) + "°, match " + num(d.match, 2);
  }

  function facesText(faces) {
    if (!faces.length) return "Faces: none found";
    return "Faces: " + faces.map((f, i) => "#" + (i + 1) + " score " + num(f.score, 2) +
      (f.score > f.limit ? " > " : " ≤ ") + num(f.limit, 2) + (f.score > f.limit ? " (changed)" : "")).join("; ");
  }

  /* A list for the timeline's note cell, or null when the step measured nothing. */
  function summary(step) {
    const m = step.measurements || {};
    const items = [];
    if (m.drift) items.push(driftText(m.drift));
    if (typeof m.repaired_pct === "number") items.push("Repaired by the model: " + m.repaired_pct.toFixed(1) + "% of the picture");
    if (m.faces) items.push(facesText(m.faces));
    for (const reason of step.review || []) items.push("To review: " + reason);
    if (!items.length) return null;
    return el("ul", { class: "findings" }, ...items.map((t) => el("li", { class: t.startsWith("To review") ? "warn" : "" }, t)));
  }

  function place(node, box, frame) {
    const [x, y, w, h] = box;
    node.style.left = (100 * x / frame[0]) + "%";
    node.style.top = (100 * y / frame[1]) + "%";
    node.style.width = (100 * w / frame[0]) + "%";
    node.style.height = (100 * h / frame[1]) + "%";
  }

  /* The merge step's image with a box on every face (the changed ones marked), and a
     close-up of each changed face cut from the same image. */
  function faceFigure(step, url) {
    const m = step.measurements;
    const frame = m.frame;
    const flagged = m.faces.filter((f) => f.score > f.limit);
    const img = el("img", { src: url, alt: "The picture after " + step.label + ", faces boxed" });
    const wrap = el("div", { class: "face-frame" }, img);
    m.faces.forEach((f, i) => {
      const box = el("span", { class: "face-box" + (f.score > f.limit ? " changed" : ""), title: "face #" + (i + 1) + ": score " + num(f.score, 2) });
      place(box, f.box, frame);
      wrap.append(box);
    });
    const closeUps = flagged.map((f) => {
      const side = 160, [x, y, w, h] = f.box, zoom = side / w;
      const crop = el("span", { class: "face-crop", role: "img", "aria-label": "Close-up of the changed face, score " + num(f.score, 2) });
      crop.style.backgroundImage = "url(\"" + url + "\")";
      crop.style.width = side + "px";
      crop.style.height = Math.round(h * zoom) + "px";
      crop.style.backgroundSize = (frame[0] * zoom) + "px " + (frame[1] * zoom) + "px";
      crop.style.backgroundPosition = (-x * zoom) + "px " + (-y * zoom) + "px";
      return el("figure", {}, crop, el("figcaption", {}, "score " + num(f.score, 2) + " > " + num(f.limit, 2)));
    });
    img.addEventListener("error", () => { wrap.hidden = true; });
    return el("div", { class: "faces" }, wrap, ...closeUps);
  }

  /* The "needs a look" block: the reasons, and the faces behind any face reason. */
  function render(job, base) {
    const section = document.getElementById("review-reasons");
    const reasons = job.review || [];
    section.hidden = !reasons.length;
    if (!reasons.length) return;
    document.getElementById("review-list").replaceChildren(...reasons.map((r) => el("li", {}, r)));
    const figures = job.steps.map((s, i) => {
      const m = s.measurements || {};
      if (!m.faces || !m.frame || !m.faces.some((f) => f.score > f.limit)) return null;
      return faceFigure(s, base + "/image/" + i + "?v=" + encodeURIComponent(job.updated));
    }).filter(Boolean);
    document.getElementById("review-faces").replaceChildren(...figures);
  }

  return { summary, render };
})();
