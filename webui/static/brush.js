/* "Keep the original here": paint a mask over the result in the viewer (mouse, touch and pen
   through Pointer Events). Strokes are stored as fractions of the image, so undo is a redraw
   and the canvas can follow the image's natural size. The mask leaves as a PNG data URL at
   the result image's natural size: white (opaque) where the original is kept, transparent
   elsewhere. A mask from the job being reviewed is shown and kept unless cleared. */
"use strict";
window.Brush = function (opts) {
  const $ = (id) => document.getElementById(id);
  const frame = $("compare"), img = $("after-img"), canvas = $("brush-canvas"), ctx = canvas.getContext("2d");
  const toggle = $("brush-toggle"), size = $("brush-size");
  const COLOR = "#ff2d8a";
  let strokes = [], base = null, dirty = false, erase = false, on = false;
  const initial = opts.initial || null;

  /* The previous mask as an alpha-only layer. */
  if (initial) {
    const im = new Image();
    im.onload = () => {
      base = window.PR.whiteAlpha(im, im.naturalWidth, im.naturalHeight);
      redraw();
    };
    im.src = initial;
  }

  function segment(s, from, to) {
    ctx.globalCompositeOperation = s.erase ? "destination-out" : "source-over";
    ctx.strokeStyle = ctx.fillStyle = COLOR;
    window.PR.paintSegment(ctx, s.r, from, to);
  }

  function redraw() {
    ctx.globalCompositeOperation = "source-over";
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (base) {
      ctx.drawImage(base, 0, 0, canvas.width, canvas.height);
      ctx.globalCompositeOperation = "source-in";
      ctx.fillStyle = COLOR;
      ctx.fillRect(0, 0, canvas.width, canvas.height);
    }
    for (const s of strokes) s.pts.forEach((p, i) => segment(s, i ? s.pts[i - 1] : null, p));
    ctx.globalCompositeOperation = "source-over";
  }

  /* The canvas follows the image's natural size (≤ 1280 px for the preview). */
  function fit() {
    if (!img.naturalWidth || (canvas.width === img.naturalWidth && canvas.height === img.naturalHeight)) return;
    canvas.width = img.naturalWidth;
    canvas.height = img.naturalHeight;
    redraw();
  }
  img.addEventListener("load", fit);

  /* Pointer → fractions of the image, with the same object-fit: contain as the <img>. */
  function scale() {
    const r = canvas.getBoundingClientRect();
    return { r, s: Math.min(r.width / canvas.width, r.height / canvas.height) };
  }
  function point(ev) {
    const { r, s } = scale();
    const x = (ev.clientX - r.left - (r.width - canvas.width * s) / 2) / s;
    const y = (ev.clientY - r.top - (r.height - canvas.height * s) / 2) / s;
    return [x / canvas.width, y / canvas.height];
  }

  canvas.addEventListener("pointerdown", (ev) => ev.stopPropagation()); // not the before/after slider underneath
  window.PR.brushStrokes(canvas, {
    point,
    begin(ev) {
      if (!on || !img.naturalWidth) return null;
      const r = Number(size.value) / 2 / scale().s / canvas.width; // screen px → fraction of the width
      const s = { erase, r, pts: [point(ev)] };
      strokes.push(s);
      dirty = true;
      return s;
    },
    paint: segment,
    ended: changed,
  });

  const painted = () => strokes.some((s) => !s.erase) || base !== null || (!!initial && !dirty);

  function changed() {
    const n = strokes.length;
    $("brush-status").textContent = painted()
      ? "Mask painted" + (n ? " (" + n + (n === 1 ? " stroke" : " strokes") + ")" : "") + ": on Re-run the original is put back there."
      : on ? "Paint over the parts of the result that should stay as in the original." : "";
    $("brush-undo").disabled = !n;
    $("brush-clear").disabled = !painted();
    if (opts.onChange) opts.onChange(painted());
  }

  function setMode(toErase) {
    erase = toErase;
    $("brush-paint").setAttribute("aria-pressed", String(!erase));
    $("brush-erase").setAttribute("aria-pressed", String(erase));
  }

  function setOn(value) {
    on = value && !toggle.disabled;
    toggle.setAttribute("aria-pressed", String(on));
    frame.classList.toggle("painting", on);
    canvas.hidden = !on;
    $("brush-tools").hidden = !on;
    if (on && opts.onEnable) opts.onEnable();
    fit();
    changed();
  }

  toggle.addEventListener("click", () => setOn(!on));
  $("brush-paint").addEventListener("click", () => setMode(false));
  $("brush-erase").addEventListener("click", () => setMode(true));
  size.addEventListener("input", () => { $("brush-size-value").textContent = size.value + " px"; });
  $("brush-undo").addEventListener("click", () => { strokes.pop(); dirty = true; redraw(); changed(); });
  $("brush-clear").addEventListener("click", () => { strokes = []; base = null; dirty = true; redraw(); changed(); });

  /* The mask as a PNG data URL, or null when nothing is painted. */
  function mask() {
    if (initial && !dirty) return initial;
    if (!painted() || !canvas.width) return null;
    return window.PR.maskPng(canvas);
  }

  setMode(false);
  changed();
  return { mask, painted, setOn, get on() { return on; } };
};
