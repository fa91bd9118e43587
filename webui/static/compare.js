/* Before/after viewer: an ARIA slider that moves with pointer (mouse, pen, touch) and keys,
   side-by-side panes, and a 1:1 zoom of the full-size files with synced panning. */
"use strict";
window.Compare = function (opts) {
  const $ = (id) => document.getElementById(id);
  const compare = $("compare"), handle = $("handle"), clip = $("before-clip"), divider = $("divider");
  const side = $("side"), paneB = $("pane-before"), paneA = $("pane-after");
  let pos = 50, mode = "slider", urls = { before: "", after: "", beforeFull: "", afterFull: "" };

  function set(value) {
    pos = Math.max(0, Math.min(100, Math.round(value * 10) / 10));
    clip.style.clipPath = "inset(0 " + (100 - pos) + "% 0 0)";
    divider.style.left = pos + "%";
    handle.style.left = pos + "%";
    handle.setAttribute("aria-valuenow", String(pos));
    handle.setAttribute("aria-valuetext", pos + "% original");
  }

  function fromPointer(ev) {
    const r = compare.getBoundingClientRect();
    set(((ev.clientX - r.left) / r.width) * 100);
  }
  let dragging = false;
  compare.addEventListener("pointerdown", (ev) => {
    dragging = true;
    compare.setPointerCapture(ev.pointerId);
    fromPointer(ev);
    handle.focus({ preventScroll: true });
    ev.preventDefault();
  });
  compare.addEventListener("pointermove", (ev) => { if (dragging) fromPointer(ev); });
  const stop = () => { dragging = false; };
  compare.addEventListener("pointerup", stop);
  compare.addEventListener("pointercancel", stop);
  handle.addEventListener("keydown", (ev) => {
    const big = ev.shiftKey ? 10 : 1;
    const moves = { ArrowLeft: -big, ArrowDown: -big, ArrowRight: big, ArrowUp: big, PageDown: -10, PageUp: 10 };
    if (ev.key in moves) set(pos + moves[ev.key]);
    else if (ev.key === "Home") set(0);
    else if (ev.key === "End") set(100);
    else return;
    ev.preventDefault();
  });

  /* Keep the frame at the result's aspect ratio so both layers line up. */
  $("after-img").addEventListener("load", (ev) => {
    const im = ev.target;
    if (!im.naturalWidth) return;
    const ratio = im.naturalWidth / im.naturalHeight;
    compare.style.aspectRatio = im.naturalWidth + " / " + im.naturalHeight;
    compare.style.maxWidth = "calc(68vh * " + ratio.toFixed(4) + ")";
  });

  /* Synced pan: scrolling (or dragging) one pane moves the other to the same relative spot. */
  let syncing = false;
  function sync(from, to) {
    if (syncing) return;
    syncing = true;
    const fx = from.scrollWidth - from.clientWidth, fy = from.scrollHeight - from.clientHeight;
    const tx = to.scrollWidth - to.clientWidth, ty = to.scrollHeight - to.clientHeight;
    to.scrollLeft = fx > 0 ? (from.scrollLeft / fx) * tx : 0;
    to.scrollTop = fy > 0 ? (from.scrollTop / fy) * ty : 0;
    requestAnimationFrame(() => { syncing = false; });
  }
  paneB.addEventListener("scroll", () => sync(paneB, paneA));
  paneA.addEventListener("scroll", () => sync(paneA, paneB));
  [paneB, paneA].forEach((pane) => {
    let start = null;
    pane.addEventListener("pointerdown", (ev) => {
      if (mode !== "zoom") return;
      start = { x: ev.clientX, y: ev.clientY, l: pane.scrollLeft, t: pane.scrollTop };
      pane.setPointerCapture(ev.pointerId);
      ev.preventDefault();
    });
    pane.addEventListener("pointermove", (ev) => {
      if (!start) return;
      pane.scrollLeft = start.l - (ev.clientX - start.x);
      pane.scrollTop = start.t - (ev.clientY - start.y);
    });
    pane.addEventListener("pointerup", () => { start = null; });
    pane.addEventListener("pointercancel", () => { start = null; });
  });

  function show(newMode) {
    mode = newMode;
    compare.hidden = mode !== "slider";
    side.hidden = mode === "slider";
    side.classList.toggle("zoom", mode === "zoom");
    $("side-before").src = mode === "zoom" ? urls.beforeFull : urls.before;
    $("side-after").src = mode === "zoom" ? urls.afterFull : urls.after;
    document.querySelectorAll(".modes button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.mode === mode)));
  }
  document.querySelector(".modes").addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-mode]");
    if (b) show(b.dataset.mode);
  });

  function load(newUrls, afterLabel) {
    urls = Object.assign(urls, newUrls);
    $("before-img").src = urls.before;
    $("after-img").src = urls.after;
    $("side-after-caption").textContent = afterLabel || "After";
    $("after-img").alt = afterLabel || "After restoration";
    show(mode);
  }

  set(50);
  return { set, load, show, get position() { return pos; } };
};
