// The errors panel: the failed chunks Python lists (at most 100) and how many more there are.
import { element } from "./dom";
import { type ErrorEntry, pointRange, pointsOf } from "./model";

export type Errors = {
  update(errors: readonly ErrorEntry[] | undefined, total: number | undefined): void;
  cleanup(): void;
};

function entry(error: ErrorEntry): HTMLLIElement {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = `qjm-error-entry qjm-error-${/^[a-z]+$/.test(error.state) ? error.state : "unknown"}`;
  button.setAttribute("data-index", String(error.index));
  button.setAttribute("title", `Show chunk ${error.index}`);
  const range = error.start === error.end ? `${error.start}` : `${error.start}–${error.end}`;
  const meta = [`experiments ${range}`];
  const points = pointRange(error);
  if (points !== null) {
    meta.push(`point${points[1] === points[2] ? "" : "s"} ${pointsOf(points)}`);
  }
  meta.push(error.state);
  if (error.job_id) {
    meta.push(`job ${error.job_id}`);
  }
  if (error.attempts > 0) {
    meta.push(`${error.attempts} attempt${error.attempts === 1 ? "" : "s"}`);
  }
  button.append(
    element("span", "qjm-error-chunk", `Chunk ${error.index}`),
    element("span", "qjm-error-meta", meta.join(" · ")),
    element("span", "qjm-error-text", error.error ?? ""),
  );
  item.append(button);
  return item;
}

export function createErrors(parent: HTMLElement, onSelect: (index: number) => void): Errors {
  const root = element("section", "qjm-errors");
  const title = element("div", "qjm-errors-title");
  const list = element("ul", "qjm-errors-list");
  const more = element("div", "qjm-errors-more");
  root.append(title, list, more);
  parent.append(root);

  function onClick(event: MouseEvent): void {
    const target = event.target;
    if (!(target instanceof Element)) {
      return;
    }
    const button = target.closest("[data-index]");
    if (button !== null && list.contains(button)) {
      const index = Number(button.getAttribute("data-index"));
      if (Number.isInteger(index) && index >= 0) {
        onSelect(index);
      }
    }
  }
  list.addEventListener("click", onClick);

  function update(errors: readonly ErrorEntry[] | undefined, total: number | undefined): void {
    const shown = errors ?? [];
    const count = Math.max(total ?? 0, shown.length);
    root.hidden = count === 0;
    title.textContent = `${count} chunk${count === 1 ? "" : "s"} with errors`;
    list.replaceChildren(...shown.map(entry));
    const rest = count - shown.length;
    more.textContent = rest > 0 ? `… and ${rest} more` : "";
    more.hidden = rest <= 0;
  }

  update([], 0);

  return {
    update,
    cleanup(): void {
      list.removeEventListener("click", onClick);
    },
  };
}
