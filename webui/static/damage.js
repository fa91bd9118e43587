/* The damage mask: what the repair step marked as damage (the job's "mask" preview, made when it
   ran), drawn in red over the original in the result's frame (the "aligned" preview: the frame
   the repair step saw), and a brush to correct it before a re-run. "Add to mask" marks damage
   the detector missed, "Erase from mask" picture it took for damage; a later stroke wins where
   strokes cross, so the two layers never overlap. They leave as PNG data URLs (white and opaque
   where painted) in the `damage_mask` hand edit; the repair step scales them to its frame.
   A correction from the job being reviewed is shown and sent again unless cleared. */
"use strict";
window.DamageMask = function (base, previous) {
  const $ = (id) => document.getElementById(id);
  const section = $("mask-section"), toggle = $("mask-toggle"), tools = $("mask-tools");
  const img = $("mask-before"), canvas = $("mask-canvas"), ctx = canvas.getContext("2d"), size = $("mask-size");
  const RED = "#ff1a1a";
  const layer = () => document.createElement("canvas");
  const found = layer(), added = layer(), erased = layer();
  let strokes = [], erasing = false, on = false, shownFor = null, ready = false;
  let initial = { add: null, erase: null }, kept = !!(previous && (previous.add || previous.erase));
  // `kept`: the reviewed job's own correction, sent again unless cleared (loaded into the layers
  // once the view is shown; sent as it came when it never was).

  /* An image's painted part (white with alpha) drawn over `target`, at its size. */
  function paintedOnto(target, im) {
    target.getContext("2d").drawImage(window.PR.whiteAlpha(im, target.width, target.height), 0, 0);
  }

  function load(url) {
    return new Promise((resolve, reject) => {
      const im = new Image();
      im.onload = () => resolve(im);
      im.onerror = reject;
      im.src = url;
    });
  }

  function segment(target, s, from, to, op) {
    const x = target.getContext("2d");
    x.globalCompositeOperation = op;
    x.strokeStyle = x.fillStyle = "#fff";
    window.PR.paintSegment(x, s.r, from, to);
    x.globalCompositeOperation = "source-over";
  }

  /* A stroke on its own layer, and taken off the other one: the later stroke wins. */
  function apply(s, from, to) {
    segment(s.erase ? erased : added, s, from, to, "source-over");
    segment(s.erase ? added : erased, s, from, to, "destination-out");
  }

  /* What the repair step will use: the mask found, plus additions, minus erasures. */
  function compose() {
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.drawImage(found, 0, 0);
    ctx.drawImage(added, 0, 0);
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = RED;
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.globalCompositeOperation = "destination-out";
    ctx.drawImage(erased, 0, 0);
    ctx.globalCompositeOperation = "source-over";
  }

  function redraw() {
    for (const c of [added, erased]) c.getContext("2d").clearRect(0, 0, c.width, c.height);
    if (initial.add) paintedOnto(added, initial.add);
    if (initial.erase) paintedOnto(erased, initial.erase);
    for (const s of strokes) s.pts.forEach((p, i) => apply(s, i ? s.pts[i - 1] : null, p));
    compose();
  }

  /* Every layer at the natural size of the "before" shown (the mask preview's size too). */
  async function fit(maskUrl) {
    const w = img.naturalWidth, h = img.naturalHeight;
    for (const c of [canvas, found, added, erased]) { c.width = w; c.height = h; }
    paintedOnto(found, await load(maskUrl));
    if (previous && !initial.add && !initial.erase) {
      const [a, e] = await Promise.all([previous.add, previous.erase].map((u) => (u ? load(u).catch(() => null) : null)));
      initial = { add: a, erase: e };
    }
    ready = true;
    redraw();
    changed();
  }

  function point(ev) {
    const r = canvas.getBoundingClientRect();
    return [(ev.clientX - r.left) / r.width, (ev.clientY - r.top) / r.height];
  }
  window.PR.brushStrokes(canvas, {
    point,
    begin(ev) {
      if (!on || !ready) return null;
      const shown = canvas.getBoundingClientRect().width / canvas.width;
      const s = { erase: erasing, r: Number(size.value) / 2 / shown / canvas.width, pts: [point(ev)] };
      strokes.push(s);
      return s;
    },
    paint: apply,
    drawn: compose,
    ended: changed,
  });

  const corrected = () => strokes.length > 0 || kept;

  function changed() {
    const n = strokes.length;
    $("mask-status").textContent = corrected()
      ? "Mask corrected" + (n ? " (" + n + (n === 1 ? " stroke" : " strokes") + ")" : "") + ": on Re-run the repair uses your corrections."
      : on ? "Red is what the repair step took for damage. Add what it missed; erase what is picture." : "";
    $("mask-undo").disabled = !n;
    $("mask-clear").disabled = !corrected();
  }

  function setOn(value) {
    on = value && !toggle.disabled;
    toggle.setAttribute("aria-pressed", String(on));
    canvas.hidden = !on;
    tools.hidden = !on;
    changed();
  }

  function setMode(toErase) {
    erasing = toErase;
    $("mask-add").setAttribute("aria-pressed", String(!erasing));
    $("mask-erase").setAttribute("aria-pressed", String(erasing));
  }

  toggle.addEventListener("click", () => setOn(!on));
  $("mask-add").addEventListener("click", () => setMode(false));
  $("mask-erase").addEventListener("click", () => setMode(true));
  size.addEventListener("input", () => { $("mask-size-value").textContent = size.value + " px"; });
  $("mask-undo").addEventListener("click", () => { strokes.pop(); redraw(); changed(); });
  $("mask-clear").addEventListener("click", () => {
    strokes = [];
    initial = { add: null, erase: null };
    kept = false;
    redraw();
    changed();
  });

  /* Show the section for a finished job whose run left a mask (`v` a cache-busting query). */
  function render(job, v) {
    const offered = job.status === "done" && !!job.damage_mask;
    section.hidden = !offered;
    if (!offered || shownFor === job.id + v) return;
    shownFor = job.id + v;
    toggle.disabled = false;
    const maskUrl = base + "/image/mask" + v;
    img.onload = () => fit(maskUrl).catch(() => gone());
    img.onerror = gone;
    img.src = base + "/image/aligned" + v;
  }

  function gone() {
    setOn(false);
    toggle.disabled = true;
    $("mask-status").textContent = "The damage mask of this job has expired: re-run to see it again" +
      (kept ? " (its earlier corrections go with the re-run)." : ".");
  }

  /* The `damage_mask` hand edit for a re-run, or null when nothing is corrected. */
  function edit() {
    if (!corrected()) return null;
    if (!ready) { // never shown (or the mask expired): the previous correction as it came
      const params = {};
      for (const k of ["add", "erase"]) if (previous[k]) params[k] = previous[k];
      return { op: "damage_mask", params };
    }
    const params = {}, add = window.PR.maskPng(added), erase = window.PR.maskPng(erased);
    if (add) params.add = add;
    if (erase) params.erase = erase;
    return add || erase ? { op: "damage_mask", params } : null;
  }

  setMode(false);
  changed();
  return { render, edit, setOn, get on() { return on; } };
};
