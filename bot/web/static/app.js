// Rimpllee dashboard: progressive enhancement only (every page works without this file).
// Copy buttons: <button data-copy="ID"> copies the text of the element with that ID.
"use strict";

function copyText(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) {
    return;
  }
  const text = source.textContent.trim();
  const done = (label) => {
    button.textContent = label;
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(() => done("Copied"), () => selectText(source, done));
  } else {
    selectText(source, done);
  }
}

// Without the clipboard API (plain http on another host), select the text for Ctrl+C.
function selectText(element, done) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  done("Press Ctrl+C");
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    button.addEventListener("click", () => copyText(button));
  }
});
