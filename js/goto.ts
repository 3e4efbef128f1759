// "Go to chunk N": where the grid shows blocks, the way to any one chunk in a few key presses
// (type its number, Enter) rather than hunting for its block. A number outside the set is
// refused with a message read out by screen readers, and nothing is selected.
import { button, element } from "./dom";

export type GoTo = {
  /** The set has `count` chunks: numbers 0 .. count - 1 go. */
  setCount(count: number): void;
  cleanup(): void;
};

/** The chunk number typed, or null when it is not a whole number from 0 to `count` - 1. */
export function parseChunk(text: string, count: number): number | null {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) {
    return null;
  }
  const index = Number(trimmed);
  return Number.isSafeInteger(index) && index < count ? index : null;
}

export function createGoTo(parent: HTMLElement, onGo: (index: number) => void): GoTo {
  const root = element("div", "qjm-goto");
  root.setAttribute("role", "search");
  root.setAttribute("aria-label", "Go to a chunk");
  const label = element("label", "qjm-goto-label", "Go to chunk");
  const input = document.createElement("input");
  input.type = "number";
  input.className = "qjm-goto-input";
  input.min = "0";
  input.step = "1";
  input.inputMode = "numeric";
  label.append(" ", input);
  const go = button("Go", "qjm-goto-button");
  go.disabled = false;
  const message = element("span", "qjm-goto-message");
  message.setAttribute("role", "status");
  root.append(label, go, message);
  parent.append(root);

  let count = 0;

  function submit(): void {
    const index = parseChunk(input.value, count);
    if (index === null) {
      input.setAttribute("aria-invalid", "true");
      message.textContent =
        count > 0 ? `No chunk ${input.value.trim() || "(empty)"}: chunks are 0–${count - 1}` : "";
      return;
    }
    input.removeAttribute("aria-invalid");
    message.textContent = "";
    onGo(index);
  }

  function onKeyDown(event: KeyboardEvent): void {
    if (event.key === "Enter" && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation(); // Enter here is ours, not the notebook's "edit cell"
      submit();
    }
  }

  input.addEventListener("keydown", onKeyDown);
  go.addEventListener("click", submit);

  return {
    setCount(next: number): void {
      count = Math.max(0, next);
      input.max = String(Math.max(0, count - 1));
      input.setAttribute("aria-label", `Go to chunk (0 to ${Math.max(0, count - 1)})`);
    },
    cleanup(): void {
      input.removeEventListener("keydown", onKeyDown);
      go.removeEventListener("click", submit);
    },
  };
}
