// Small helpers without a build step: buttons and forms that call the JSON API with the CSRF token.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  async function callApi(method, path, body) {
    const response = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const data = await response.json();
        detail = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      } catch (_) { /* not JSON */ }
      throw new Error(response.status + ": " + detail);
    }
    return response.json();
  }

  function showError(error) {
    const box = document.getElementById("api-error");
    if (box) { box.textContent = error.message; box.hidden = false; } else { alert(error.message); }
  }

  document.querySelectorAll("button[data-api]").forEach(function (button) {
    button.addEventListener("click", function () {
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) { return; }
      const [method, path] = button.dataset.api.split(" ");
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : undefined;
      callApi(method, path, body).then(function () { location.reload(); }, showError);
    });
  });

  // plain form buttons that ask first (approve / reject a plan)
  document.querySelectorAll("form button[data-confirm]:not([data-api])").forEach(function (button) {
    button.addEventListener("click", function (event) {
      if (!window.confirm(button.dataset.confirm)) { event.preventDefault(); }
    });
  });

  document.querySelectorAll("form.override").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const data = new FormData(form);
      const body = {
        asset_id: form.dataset.asset,
        kind: data.get("kind"),
        duration_minutes: Number(data.get("duration_minutes")),
      };
      if (body.kind === "setpoint") { body.value = Number(data.get("value")); }
      if (data.get("reason")) { body.reason = data.get("reason"); }
      // the question comes translated from the page, with {value} and {minutes} to fill in in
      // the page's number format (2,5 in German)
      const lang = document.documentElement.lang || undefined;
      const shown = function (value) { return Number(value).toLocaleString(lang); };
      const question = (body.kind === "setpoint" ? form.dataset.confirmSetpoint : form.dataset.confirmLocal)
        .replace("{value}", shown(body.value)).replace("{minutes}", shown(body.duration_minutes));
      if (!window.confirm(question)) { return; }
      callApi("POST", "/api/overrides", body).then(function () { location.reload(); }, showError);
    });
  });
})();
