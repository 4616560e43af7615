// Poll the API for captures still in progress and update their rows until all are done.
(function () {
  const table = document.querySelector("table[data-poll]");
  if (!table || !table.dataset.poll) return;
  const ids = table.dataset.poll;
  const status = document.getElementById("poll-status");
  const finished = new Set(["stored", "failed"]);

  async function poll() {
    let body;
    try {
      const response = await fetch("/api/v1/captures?ids=" + encodeURIComponent(ids),
                                   { headers: { Accept: "application/json" } });
      body = await response.json();
    } catch (err) {
      if (status) status.textContent = "Could not reach the server; retrying…";
      setTimeout(poll, 3000);
      return;
    }
    let pending = 0;
    for (const c of body.captures) {
      const row = document.getElementById("capture-" + c.id);
      if (!row) continue;
      row.dataset.state = c.state;
      const state = row.querySelector(".state");
      state.textContent = c.state;
      state.className = "state state-" + c.state;
      row.querySelector(".status").textContent = c.http_status || "";
      row.querySelector(".detail").textContent = c.error ? c.error.message : (c.title || "");
      if (!finished.has(c.state)) pending += 1;
    }
    if (status) {
      status.textContent = pending ? pending + " capture(s) still in progress…" : "All captures finished.";
    }
    if (pending) setTimeout(poll, 1000);
  }
  poll();
})();
