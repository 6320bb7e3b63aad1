// Rimpllee panels editor: the preview follows the form as the admin types.
// A field with data-preview-target="NAME" updates every element with data-preview="NAME";
// data-preview-kind says how (text by default). Without this file the preview follows on save.
"use strict";

const BUTTON_STYLES = ["primary", "secondary", "success", "danger"];
const NO_COLOUR = "#1e1f22";

function colourOf(text) {
  const hex = text.trim().toLowerCase().replace(/^#/, "").replace(/^0x/, "");
  return /^[0-9a-f]{6}$/.test(hex) ? "#" + hex : NO_COLOUR;
}

function emojiOf(text) {
  const custom = /^<a?:([A-Za-z0-9_]{2,32}):\d{15,21}>$/.exec(text.trim());
  return custom ? ":" + custom[1] + ":" : text.trim();
}

function show(field, target) {
  const value = field.type === "checkbox" ? field.checked : field.value;
  switch (target.dataset.previewKind || "text") {
    case "fill":
      target.setAttribute("fill", colourOf(value));
      break;
    case "style":
      target.classList.remove(...BUTTON_STYLES);
      target.classList.add(BUTTON_STYLES.includes(value) ? value : "primary");
      break;
    case "emoji":
      target.textContent = emojiOf(value);
      break;
    case "checked":
      target.hidden = !value;
      break;
    case "inputstyle":
      target.classList.toggle("paragraph", value === "paragraph");
      target.classList.toggle("short", value !== "paragraph");
      break;
    default:
      target.textContent = value;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const field of document.querySelectorAll("[data-preview-target]")) {
    const name = field.dataset.previewTarget;
    const update = () => {
      for (const target of document.querySelectorAll("[data-preview]")) {
        if (target.dataset.preview === name) {
          show(field, target);
        }
      }
    };
    field.addEventListener("input", update);
    field.addEventListener("change", update);
  }
});
