// The selected chunk's details, and the buttons that cancel or retry it.
import { button, element } from "./dom";
import {
  type ChunkDetail,
  formatQpuSeconds,
  isChunkDetail,
  type Model,
  pointRange,
  pointsOf,
  type Send,
  usageOf,
} from "./model";

export type Details = {
  update(detail: Model["selected_detail"] | undefined): void;
  /** A chunk was clicked: until the kernel sends its details, no button acts on the old one. */
  awaitDetails(index: number): void;
  cleanup(): void;
};

function rows(detail: ChunkDetail): Array<[string, string]> {
  const range =
    detail.start === detail.end ? String(detail.start) : `${detail.start}–${detail.end}`;
  const result: Array<[string, string]> = [["Experiments", range]];
  const points = pointRange(detail);
  if (points !== null) {
    result.push(["Points", pointsOf(points)]);
  }
  result.push(
    ["State", detail.state],
    ["Shots", detail.shots === null ? "—" : String(detail.shots)],
    ["Job id", detail.job_id ?? "—"],
    ["Attempts", String(detail.attempts)],
  );
  if (typeof detail.worker === "string" && detail.worker !== "") {
    result.push(["Worker", detail.worker]);
  }
  const usage = usageOf(detail.usage_seconds);
  if (usage !== null) {
    result.push(["QPU usage", formatQpuSeconds(usage)]);
  }
  if (detail.error) {
    result.push(["Error", detail.error]);
  }
  if (detail.note) {
    result.push(["Note", detail.note]);
  }
  return result;
}

/**
 * `refocus(index)` is called when the focused Cancel or Retry button of chunk `index` is disabled
 * (the kernel took the action): a disabled button drops the focus, and a keyboard user would
 * otherwise have to start again from the top of the page.
 */
export function createDetails(
  parent: HTMLElement,
  send: Send,
  select: (index: number) => void,
  refocus: (index: number) => void = () => {},
): Details {
  const root = element("section", "qjm-details");
  root.setAttribute("aria-label", "Chunk details");
  const heading = element("div", "qjm-details-title");
  const title = document.createElement("span");
  const close = button("×", "qjm-details-close");
  close.disabled = false;
  close.setAttribute("aria-label", "Clear the selection");
  close.setAttribute("title", "Clear the selection");
  heading.append(title, close);
  const list = element("dl", "qjm-details-list");
  const actions = element("div", "qjm-actions");
  const cancel = button("Cancel chunk", "qjm-cancel-chunk");
  const retry = button("Retry chunk", "qjm-retry-chunk");
  actions.append(cancel, retry);
  root.append(heading, list, actions);
  parent.append(root);

  let index = -1;

  function onCancel(): void {
    if (index >= 0) {
      send({ type: "cancel_chunk", index });
    }
  }
  function onRetry(): void {
    if (index >= 0) {
      send({ type: "retry_chunk", index });
    }
  }
  function onClose(): void {
    select(-1);
  }
  cancel.addEventListener("click", onCancel);
  retry.addEventListener("click", onRetry);
  close.addEventListener("click", onClose);

  function update(detail: Model["selected_detail"] | undefined): void {
    if (!isChunkDetail(detail)) {
      index = -1;
      root.classList.add("qjm-empty");
      title.textContent = "Click a chunk (or press Enter on it) to see its details.";
      list.replaceChildren();
      cancel.disabled = true;
      retry.disabled = true;
      close.hidden = true;
      actions.hidden = true;
      return;
    }
    const focused = document.activeElement;
    const buttonFocused = detail.index === index && (focused === cancel || focused === retry);
    index = detail.index;
    root.classList.remove("qjm-empty");
    title.textContent = `Chunk ${detail.index}`;
    const items: HTMLElement[] = [];
    for (const [term, value] of rows(detail)) {
      const dt = document.createElement("dt");
      dt.textContent = term;
      const dd = element("dd", `qjm-detail-${term.toLowerCase().replace(/\s+/g, "-")}`, value);
      items.push(dt, dd);
    }
    list.replaceChildren(...items);
    cancel.disabled = !detail.can_cancel;
    retry.disabled = !detail.can_retry;
    cancel.setAttribute("aria-label", `Cancel chunk ${detail.index}`);
    retry.setAttribute("aria-label", `Retry chunk ${detail.index}`);
    close.hidden = false;
    actions.hidden = false;
    if (buttonFocused && focused instanceof HTMLButtonElement && focused.disabled) {
      refocus(index);
    }
  }

  function awaitDetails(chunk: number): void {
    update(undefined);
    if (chunk >= 0) {
      root.classList.remove("qjm-empty");
      title.textContent = `Chunk ${chunk}`;
      const waiting = document.createElement("dd");
      waiting.textContent = "Loading details…";
      list.replaceChildren(waiting);
    }
  }

  update(undefined);

  return {
    update,
    awaitDetails,
    cleanup(): void {
      cancel.removeEventListener("click", onCancel);
      retry.removeEventListener("click", onRetry);
      close.removeEventListener("click", onClose);
    },
  };
}
