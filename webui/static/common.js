/* Shared helpers of the dashboard: API calls with the CSRF token, safe DOM building
   (text only: data never goes through innerHTML), live job events, small formatters. */
"use strict";
window.PR = (function () {
  const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

  async function api(method, url, body) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf();
    if (body instanceof FormData) opts.body = body;
    else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(url, opts);
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) {
      if (res.status === 401) window.location.href = "/login?next=" + encodeURIComponent(location.pathname);
      throw new Error((data && data.error) || res.status + " " + res.statusText);
    }
    return data;
  }

  /* el("a", {href: "/x", class: "c"}, "text", child) — strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  let toastTimer = null;
  function toast(message, bad) {
    const t = document.getElementById("toast");
    t.textContent = message;
    t.className = "toast" + (bad ? " bad" : "");
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
  }

  /* One EventSource per page; handlers get each job event {id, status, steps}. */
  const handlers = [];
  let source = null;
  function onJob(fn) {
    handlers.push(fn);
    if (source) return;
    source = new EventSource("/api/events");
    const state = document.getElementById("live-state");
    source.onopen = () => { if (state) { state.textContent = "live"; state.className = "live on"; } };
    source.onerror = () => { if (state) { state.textContent = "reconnecting…"; state.className = "live"; } };
    source.addEventListener("job", (ev) => {
      let data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      handlers.forEach((h) => h(data));
    });
    window.addEventListener("pagehide", () => source.close());
  }

  const fmtTime = (t) => (t ? new Date(t * 1000).toLocaleString() : "");
  const fmtDuration = (s) => (s == null ? "" : s < 1 ? Math.round(s * 1000) + " ms" : s.toFixed(1) + " s");
  const fmtSize = (n) => (n > 1048576 ? (n / 1048576).toFixed(1) + " MB" : Math.max(1, Math.round(n / 1024)) + " kB");
  /* " · 9 model calls · ≈ $0.270" for a chain of the catalog; "" when it calls no model. */
  const chainCost = (c) => (!c.calls ? "" : " · " + c.calls + " model call" + (c.calls === 1 ? "" : "s")
    + (c.cost_usd == null ? "" : " · ≈ $" + c.cost_usd.toFixed(3)));
  const statusLabel = (job) => (job.status === "done" && job.decision ? job.decision : job.status === "done" && job.to_review ? "to review" : job.status);

  /* One brush dab or stroke on a canvas, in fractions of its size (radius `r` of its width):
     the keep-original brush and the damage-mask brush paint alike. The caller sets the
     composite operation and colour. */
  function paintSegment(x, r, from, to) {
    const W = x.canvas.width, H = x.canvas.height;
    x.lineWidth = 2 * r * W;
    x.lineCap = x.lineJoin = "round";
    x.beginPath();
    if (from) {
      x.moveTo(from[0] * W, from[1] * H);
      x.lineTo(to[0] * W, to[1] * H);
      x.stroke();
    } else {
      x.arc(to[0] * W, to[1] * H, r * W, 0, 2 * Math.PI);
      x.fill();
    }
  }

  /* Mouse, touch and pen strokes on a brush canvas, through Pointer Events, one pointer at a
     time: `begin(ev)` returns a new stroke ({r, …} plus its `pts`, the first point) or null when
     the press is not for painting; `paint(s, from, to)` draws one piece of it (from null: the
     first dab); `drawn()`, if given, after each press or move; `ended()` when the pointer lets go. */
  function brushStrokes(canvas, { begin, point, paint, drawn, ended }) {
    let current = null;
    canvas.addEventListener("pointerdown", (ev) => {
      if (current || (ev.pointerType === "mouse" && ev.button !== 0)) return;
      const s = begin(ev);
      if (!s) return;
      ev.preventDefault();
      canvas.setPointerCapture(ev.pointerId);
      current = Object.assign(s, { id: ev.pointerId });
      paint(current, null, current.pts[0]);
      if (drawn) drawn();
    });
    canvas.addEventListener("pointermove", (ev) => {
      if (!current || ev.pointerId !== current.id) return;
      for (const e of ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev]) {
        const p = point(e);
        paint(current, current.pts[current.pts.length - 1], p);
        current.pts.push(p);
      }
      if (drawn) drawn();
    });
    const end = (ev) => {
      if (!current || ev.pointerId !== current.id) return;
      current = null;
      ended();
    };
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
  }

  /* A mask image's painted part as white with alpha on a new canvas of `w`×`h` (alpha ×
     luminance covers both kinds of PNG: white on black, and white on transparent). */
  function whiteAlpha(im, w, h) {
    const c = document.createElement("canvas");
    c.width = w;
    c.height = h;
    const x = c.getContext("2d");
    x.drawImage(im, 0, 0, w, h);
    const d = x.getImageData(0, 0, w, h), p = d.data;
    for (let i = 0; i < p.length; i += 4) {
      p[i + 3] = Math.round((p[i + 3] * (p[i] + p[i + 1] + p[i + 2])) / 765);
      p[i] = p[i + 1] = p[i + 2] = 255;
    }
    x.putImageData(d, 0, 0);
    return c;
  }

  /* A painted canvas as a mask PNG data URL (white and opaque where painted, whatever the
     colour shown), or null when nothing is painted on it. */
  const MASK_MAX_CHARS = 2 * 1024 * 1024;
  function maskPng(c) {
    const alpha = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let any = false;
    for (let i = 3; i < alpha.length && !any; i += 4) any = alpha[i] > 0;
    if (!any) return null;
    for (let k = 1; ; k *= 0.7) { // shrink in the rare case the PNG is too big
      const out = document.createElement("canvas");
      out.width = Math.max(1, Math.round(c.width * k));
      out.height = Math.max(1, Math.round(c.height * k));
      const o = out.getContext("2d");
      o.drawImage(c, 0, 0, out.width, out.height);
      o.globalCompositeOperation = "source-in";
      o.fillStyle = "#fff";
      o.fillRect(0, 0, out.width, out.height);
      const url = out.toDataURL("image/png");
      if (url.length <= MASK_MAX_CHARS || out.width < 64) return url;
    }
  }

  return {
    api, el, toast, onJob, fmtTime, fmtDuration, fmtSize, statusLabel, chainCost, csrf,
    paintSegment, brushStrokes, whiteAlpha, maskPng,
  };
})();
