// Live refresh: every few seconds, fetch this page again and swap in its
// [data-live] region. It pauses while the tab is hidden and while keyboard
// focus is inside the region, so nobody loses their place; a page whose
// session ended is followed to the sign-in form.
"use strict";
(() => {
  const region = document.querySelector("[data-live]");
  if (!region) return;
  const seconds = Number(region.dataset.live) || 5;
  const status = document.getElementById("live-status");
  const say = (text) => { if (status) status.textContent = text; };

  async function refresh() {
    if (document.hidden || region.contains(document.activeElement)) return;
    try {
      const response = await fetch(location.href, { credentials: "same-origin" });
      if (response.redirected) { location.assign(response.url); return; }
      if (!response.ok) { say(`Refresh failed (HTTP ${response.status}); retrying`); return; }
      const page = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = page.querySelector("[data-live]");
      if (fresh) region.replaceChildren(...fresh.childNodes);
      say(`Updated ${new Date().toLocaleTimeString()}`);
    } catch {
      say("Cannot reach the service; retrying");
    }
  }

  setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
})();
