// The set-wide buttons: cancel everything not final, retry every failed chunk.
import { button, element } from "./dom";
import { type ChunkStore, FAILED_STATES, type Send, State } from "./model";

export type Controls = {
  update(store: ChunkStore, canCancel: boolean): void;
  cleanup(): void;
};

export function createControls(parent: HTMLElement, send: Send): Controls {
  const root = element("div", "qjm-controls");
  const cancelAll = button(
    "Cancel all",
    "qjm-cancel-all",
    "Cancel every chunk that is not final (where the backend allows it)",
  );
  const retryFailed = button(
    "Retry failed",
    "qjm-retry-failed",
    "Resubmit every chunk that failed, errored, was lost or is partial",
  );
  // The visible text begins each name (WCAG's label in name); the title stays the description.
  cancelAll.setAttribute("aria-label", "Cancel all chunks");
  retryFailed.setAttribute("aria-label", "Retry failed chunks");
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "Job set actions");
  root.append(cancelAll, retryFailed);
  parent.append(root);

  function onCancelAll(): void {
    send({ type: "cancel_all" });
  }
  function onRetryFailed(): void {
    send({ type: "retry_failed" });
  }
  cancelAll.addEventListener("click", onCancelAll);
  retryFailed.addEventListener("click", onRetryFailed);

  function update(store: ChunkStore, canCancel: boolean): void {
    const allFinal = store.finalCount >= store.size;
    const notSubmitted = store.count(State.pending, State.waiting);
    cancelAll.disabled = allFinal || (!canCancel && notSubmitted === 0);
    retryFailed.disabled = store.count(...FAILED_STATES) === 0;
  }

  return {
    update,
    cleanup(): void {
      cancelAll.removeEventListener("click", onCancelAll);
      retryFailed.removeEventListener("click", onRetryFailed);
    },
  };
}
