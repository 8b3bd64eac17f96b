// Workspace settings: the URL parameters editor's live preview and its "Add a row".
// Without this file the page works the same through its Preview and Add a row buttons.
"use strict";

function paramsEditor(form) {
  const output = document.getElementById("preview-url");
  const rows = document.getElementById("param-rows");
  let asked = 0;
  let timer = null;

  async function refresh() {
    const mine = ++asked;
    const body = new URLSearchParams(new FormData(form));
    body.set("action", "preview");
    let text;
    try {
      const answer = await fetch(form.dataset.preview, {
        method: "POST", body, credentials: "same-origin", headers: { Accept: "application/json" },
      });
      const found = await answer.json();
      text = found.url || found.error || "No preview.";
      output.classList.toggle("bad", !found.url);
    } catch (error) {
      text = "The preview is not available right now: press Preview.";
      output.classList.add("bad");
    }
    if (mine === asked) output.textContent = text;
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 250);
  }

  // A copy of the last row, renumbered and empty.
  function addRow(event) {
    event.preventDefault();
    const last = rows.querySelector("tr.param-row:last-child");
    const row = last.cloneNode(true);
    const index = rows.querySelectorAll("tr.param-row").length;
    for (const el of row.querySelectorAll("[name], [for], [id]")) {
      for (const attr of ["name", "for", "id"]) {
        const value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/_\d+$/, `_${index}`));
      }
      if (el.type === "checkbox") el.checked = false;
      else if (el.value !== undefined && el.tagName === "INPUT") el.value = "";
    }
    for (const hidden of row.querySelectorAll(".visually-hidden")) {
      hidden.textContent = hidden.textContent.replace(/\d+$/, String(index + 1));
    }
    rows.appendChild(row);
    row.querySelector("input").focus();
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
  document.getElementById("add-row").addEventListener("click", addRow);
  document.getElementById("preview-button").addEventListener("click", (event) => {
    event.preventDefault();
    refresh();
  });
  refresh();
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("params-form");
  if (form) paramsEditor(form);
});
