/* Files: inboxes and their restored folders, thumbnails, pick-and-restore, upload, download. */
"use strict";
(function () {
  const { api, el, toast, fmtSize } = window.PR;
  const $ = (id) => document.getElementById(id);
  let current = null;

  async function loadInboxes() {
    const data = await api("GET", "/api/inboxes?fresh=1");
    const list = $("inbox-list");
    list.replaceChildren(...data.inboxes.flatMap((a) => [
      el("li", {}, el("button", { type: "button", class: "link", onclick: () => open(a.inbox) }, a.inbox)),
      el("li", { class: "output" }, el("button", { type: "button", class: "link", onclick: () => open(a.output) }, a.output)),
    ]));
    if (!data.inboxes.length) list.append(el("li", {}, "No to-restore folder found yet."));
    const wanted = new URLSearchParams(location.search).get("path");
    if (wanted) open(wanted);
    else if (data.inboxes.length) open(data.inboxes[0].inbox);
  }

  function entry(e, side) {
    const q = encodeURIComponent(e.path);
    if (e.is_dir) {
      return el("li", { class: "dir" }, el("button", { type: "button", class: "link", onclick: () => open(e.path) }, "📁 ", e.name));
    }
    const thumb = el("img", { src: "/api/files/thumb?path=" + q, alt: "", loading: "lazy", class: "thumb" });
    thumb.addEventListener("error", () => { thumb.hidden = true; });
    const parts = [thumb];
    if (side === "inbox") {
      const id = "pick-" + Math.random().toString(36).slice(2);
      parts.push(el("input", { type: "checkbox", id, value: e.path, class: "pick-box" }), el("label", { for: id }, e.name));
    } else {
      parts.push(el("span", { class: "name" }, e.name));
    }
    parts.push(el("small", {}, fmtSize(e.size)));
    if (e.job) parts.push(el("a", { href: "/jobs/" + encodeURIComponent(e.job.id), class: "status status-" + e.job.status }, e.job.decision || e.job.status));
    parts.push(el("a", { href: "/api/files/download?path=" + q, download: e.name }, "Download"));
    return el("li", { class: "file" }, ...parts);
  }

  async function open(path) {
    try {
      const data = await api("GET", "/api/files?path=" + encodeURIComponent(path));
      current = data;
      $("folder-title").textContent = data.path;
      $("up").hidden = !data.up;
      $("upload-form").hidden = data.side !== "inbox";
      $("pick-bar").hidden = data.side !== "inbox";
      $("entries").replaceChildren(...data.entries.map((e) => entry(e, data.side)));
      if (!data.entries.length) $("entries").append(el("li", {}, "Empty folder."));
      history.replaceState(null, "", "/files?path=" + encodeURIComponent(data.path));
    } catch (e) { toast(e.message, true); }
  }

  $("up").addEventListener("click", () => current && current.up && open(current.up));
  $("upload-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("upload-input");
    if (!input.files.length || !current) { toast("Choose one or more files first.", true); return; }
    const form = new FormData();
    form.append("folder", current.path);
    for (const f of input.files) form.append("file", f, f.name);
    try {
      const r = await api("POST", "/api/files/upload", form);
      input.value = "";
      toast(r.results.length + " file(s) uploaded and queued");
      await open(current.path);
    } catch (e) { toast(e.message, true); }
  });
  $("enqueue").addEventListener("click", async () => {
    const paths = [...document.querySelectorAll(".pick-box:checked")].map((b) => b.value);
    if (!paths.length) { toast("Pick one or more files first.", true); return; }
    try {
      const r = await api("POST", "/api/files/enqueue", { paths, chain: $("pick-chain").value || null });
      const fresh = r.results.filter((x) => x.new).length;
      toast(fresh + " job(s) queued" + (fresh < paths.length ? "; the others already had this job" : ""));
      await open(current.path);
    } catch (e) { toast(e.message, true); }
  });
  api("GET", "/api/chains").then((c) => {
    $("pick-chain").append(...c.chains.filter((x) => x.can_run).map((x) => el("option", { value: x.name }, x.title + window.PR.chainCost(x))));
  });
  loadInboxes().catch((e) => toast(e.message, true));
})();
