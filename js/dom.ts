// Small DOM builders shared by the parts. Text goes in only as textContent, never as markup.

/** A new element with the given class and, if given, text. */
export function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  el.className = className;
  if (text !== undefined) {
    el.textContent = text;
  }
  return el;
}

/** A `qjm-button` (type="button"), disabled until its part enables it. */
export function button(text: string, className: string, title?: string): HTMLButtonElement {
  const el = document.createElement("button");
  el.type = "button";
  el.className = `qjm-button ${className}`;
  el.textContent = text;
  if (title !== undefined) {
    el.setAttribute("title", title);
  }
  el.disabled = true;
  return el;
}

/** An input for an index from 0 (a number box or a slider), starting at 0. */
export function indexInput(
  type: "number" | "range",
  className: string,
  label: string,
): HTMLInputElement {
  const el = document.createElement("input");
  el.type = type;
  el.className = className;
  el.min = "0";
  el.step = "1";
  el.value = "0";
  el.setAttribute("aria-label", label);
  return el;
}
