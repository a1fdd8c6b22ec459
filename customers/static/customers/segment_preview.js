// Live preview of a segment's rules: how many customers they match now, before saving.
// Calls the same endpoint as API clients (POST /api/segments/preview/) with the admin session.
(function () {
  "use strict";
  const field = document.getElementById("id_rules");
  if (!field) return;

  const button = document.createElement("button");
  button.type = "button";
  button.className = "button";
  button.id = "segment-preview";
  button.textContent = "Preview matches";
  const result = document.createElement("div");
  result.id = "segment-preview-result";
  result.setAttribute("aria-live", "polite");
  result.style.marginTop = "0.5em";
  const panel = document.createElement("div");
  panel.style.marginTop = "0.5em";
  panel.append(button, result);
  (field.closest(".form-row") || field.parentElement).appendChild(panel);

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function show(text, isError) {
    result.textContent = text;
    result.className = isError ? "errornote" : "help";
  }

  button.addEventListener("click", async function () {
    let rules;
    try {
      rules = JSON.parse(field.value);
    } catch (err) {
      show("The rules are not valid JSON: " + err.message, true);
      return;
    }
    show("Counting…", false);
    const response = await fetch("/api/segments/preview/", {
      method: "POST",
      credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRFToken": csrfToken(), "Accept": "application/json"},
      body: JSON.stringify({rules: rules}),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const problems = body.rules || [body.detail || ("Preview failed (" + response.status + ")")];
      show(problems.join("\n"), true);
      return;
    }
    const names = body.sample.map((c) => c.name).join(", ");
    show(body.count + " customers match now" + (names ? " — e.g. " + names : "") + ".", false);
  });
})();
