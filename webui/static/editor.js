/* Hand edits previewed on a canvas: quarter turns, straighten, crop, brightness/contrast/
   saturation. The same list the server applies before the chain ({op, params}), in the same
   order and with the same meaning (angles counter-clockwise, crop as fractions). */
"use strict";
window.Editor = function (imageUrl) {
  const $ = (id) => document.getElementById(id);
  const canvas = $("edit-canvas"), ctx = canvas.getContext("2d");
  const img = new Image();
  const st = { turns: 0 };
  const MAX_W = 480, MAX_H = 360;

  /* Largest axis-aligned rectangle inside a w×h rectangle rotated by `deg` (as the server). */
  function inscribed(w, h, deg) {
    const a = (deg * Math.PI) / 180, s = Math.abs(Math.sin(a)), c = Math.abs(Math.cos(a));
    if (s < 1e-12) return [w, h];
    const long = Math.max(w, h), short = Math.min(w, h);
    if (short <= 2 * s * c * long || Math.abs(s - c) < 1e-10) {
      const x = 0.5 * short;
      return w >= h ? [x / s, x / c] : [x / c, x / s];
    }
    const c2 = c * c - s * s;
    return [(w * c - h * s) / c2, (h * c - w * s) / c2];
  }

  const num = (id) => parseFloat($(id).value) || 0;
  const crop = () => ({ l: num("crop-left") / 100, t: num("crop-top") / 100, r: num("crop-right") / 100, b: num("crop-bottom") / 100 });

  function edits() {
    const list = [];
    if (st.turns % 4) list.push({ op: "rotate", params: { degrees: (st.turns % 4) * 90 } });
    const angle = num("straighten");
    if (angle) list.push({ op: "straighten", params: { angle } });
    const c = crop();
    if (c.l || c.t || c.r || c.b) {
      list.push({ op: "crop", params: { left: c.l, top: c.t, right: +(1 - c.r).toFixed(4), bottom: +(1 - c.b).toFixed(4) } });
    }
    const adj = { brightness: num("brightness"), contrast: num("contrast"), saturation: num("saturation") };
    if (adj.brightness !== 1 || adj.contrast !== 1 || adj.saturation !== 1) list.push({ op: "adjust", params: adj });
    return list;
  }

  function valid() {
    const c = crop();
    return c.l + c.r < 0.99 && c.t + c.b < 0.99 && [c.l, c.t, c.r, c.b].every((v) => v >= 0);
  }

  function draw() {
    $("rot-value").textContent = ((st.turns % 4) * 90) + "°";
    $("straighten-value").textContent = num("straighten").toFixed(1) + "°";
    for (const k of ["brightness", "contrast", "saturation"]) $(k + "-value").textContent = num(k).toFixed(2);
    if (!img.naturalWidth || !valid()) return;
    const W = img.naturalWidth, H = img.naturalHeight, odd = st.turns % 2 === 1;
    const W1 = odd ? H : W, H1 = odd ? W : H;
    const angle = num("straighten");
    const [iw, ih] = inscribed(W1, H1, angle);
    const c = crop();
    const x0 = (W1 - iw) / 2 + c.l * iw, y0 = (H1 - ih) / 2 + c.t * ih;
    const cw = iw * (1 - c.l - c.r), ch = ih * (1 - c.t - c.b);
    const s = Math.min(MAX_W / cw, MAX_H / ch);
    canvas.width = Math.max(1, Math.round(cw * s));
    canvas.height = Math.max(1, Math.round(ch * s));
    ctx.save();
    ctx.filter = "brightness(" + num("brightness") + ") contrast(" + num("contrast") + ") saturate(" + num("saturation") + ")";
    ctx.scale(s, s);
    ctx.translate(-x0 + W1 / 2, -y0 + H1 / 2);
    ctx.rotate((-angle * Math.PI) / 180); // canvas turns clockwise; the server's angle is counter-clockwise
    ctx.rotate((-st.turns * Math.PI) / 2);
    ctx.drawImage(img, -W / 2, -H / 2);
    ctx.restore();
    canvas.dataset.edits = JSON.stringify(edits());
  }

  function reset() {
    st.turns = 0;
    for (const id of ["straighten", "crop-left", "crop-top", "crop-right", "crop-bottom"]) $(id).value = 0;
    for (const id of ["brightness", "contrast", "saturation"]) $(id).value = 1;
    draw();
  }

  $("rot-left").addEventListener("click", () => { st.turns = (st.turns + 1) % 4; draw(); });
  $("rot-right").addEventListener("click", () => { st.turns = (st.turns + 3) % 4; draw(); });
  $("edit-reset").addEventListener("click", reset);
  for (const id of ["straighten", "crop-left", "crop-top", "crop-right", "crop-bottom", "brightness", "contrast", "saturation"]) {
    $(id).addEventListener("input", draw);
  }
  img.addEventListener("load", draw);
  img.src = imageUrl;

  /* Start from the edits of the job being reviewed, so a re-run of a re-run keeps them. */
  function setFrom(list) {
    reset();
    for (const e of list || []) {
      const p = e.params || {};
      if (e.op === "rotate") st.turns = Math.round(((p.degrees || 0) % 360) / 90);
      if (e.op === "straighten") $("straighten").value = p.angle || 0;
      if (e.op === "crop") {
        $("crop-left").value = ((p.left || 0) * 100).toFixed(1);
        $("crop-top").value = ((p.top || 0) * 100).toFixed(1);
        $("crop-right").value = ((1 - (p.right == null ? 1 : p.right)) * 100).toFixed(1);
        $("crop-bottom").value = ((1 - (p.bottom == null ? 1 : p.bottom)) * 100).toFixed(1);
      }
      if (e.op === "adjust") for (const k of ["brightness", "contrast", "saturation"]) if (p[k] != null) $(k).value = p[k];
    }
    draw();
  }

  return { edits, valid, setFrom };
};
