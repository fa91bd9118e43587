/* The slider's "before": the original carried through the same crops, turns, straightening and
   warp as the result (the job's "aligned" preview, made when it ran), so both halves show the
   same place at the same spot. The original as scanned stays one click away, and is shown by
   itself when a job has no aligned preview (an older job, or an expired preview). */
"use strict";
window.AlignedBefore = function (base, reload) {
  const $ = (id) => document.getElementById(id);
  const toggle = $("before-unaligned"), note = $("before-note"), img = $("before-img");
  let asScanned = false, missing = false;

  img.addEventListener("error", () => {
    if (missing || !img.src.includes("/image/aligned")) return;
    missing = true;
    note.textContent = "No aligned original for this job: shown as scanned";
    reload();
  });
  toggle.addEventListener("click", () => {
    asScanned = !asScanned;
    toggle.setAttribute("aria-pressed", String(asScanned));
    reload();
  });

  /* The URL of the slider's "before" for `job` (`v` a cache-busting query). */
  function url(job, v) {
    const offered = job.status === "done" && job.decision !== "rejected" && !missing;
    const aligned = offered && !asScanned;
    toggle.hidden = !offered;
    if (offered) note.textContent = aligned ? "Before: the original in the result's frame" : "Before: the original as scanned";
    img.alt = aligned ? "Before (the original scan), in the result's frame" : "Before (the original scan), as scanned";
    return base + "/image/" + (aligned ? "aligned" : "source") + v;
  }

  return { url };
};
