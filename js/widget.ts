// The anywidget module: builds every part into one root element and wires them to the model.
// The view never sets a trait; it sends messages (see Message in model.ts).
import type { AnyWidget, RenderProps } from "@anywidget/types";
import { createControls } from "./controls";
import { createDetails } from "./details";
import { element } from "./dom";
import { createErrors } from "./errors";
import { createGrid } from "./grid";
import { createHeader } from "./header";
import { createHistogram } from "./histogram";
import { listen } from "./listen";
import { Bounds, type Bytes, ChunkStore, isChunkDetail, type Model, type Send } from "./model";
import { createProgress } from "./progress";

/** After asking for a snapshot, wait this long before asking again on the next gap. */
export const RESYNC_RETRY_MS = 2000;

type ChangeEvent = `change:${keyof Model}`;

function render({ model, el }: Pick<RenderProps<Model>, "model" | "el">): () => void {
  const root = element("div", "qjm-widget");
  el.append(root);

  const send: Send = (message) => model.send(message);
  const select = (index: number): void => {
    grid.setSelected(index);
    details.awaitDetails(index);
    send({ type: "select", index });
  };

  const header = createHeader(root);
  const progress = createProgress(root);
  const controls = createControls(root, send);
  const main = element("div", "qjm-main");
  root.append(main);
  const grid = createGrid(main, select);
  const details = createDetails(main, send, select, (index) => grid.focusCell(index));
  const errors = createErrors(root, select);
  const histogram = createHistogram(root, send);

  const store = new ChunkStore();
  let snapshot: Bytes | undefined;
  let resyncAt: number | null = null;

  function refreshSummaries(): void {
    header.updateCounts(store);
    progress.update(store);
    controls.update(store, model.get("can_cancel") !== false);
  }

  function loadSnapshot(): void {
    snapshot = model.get("states");
    if (store.loadSnapshot(snapshot)) {
      resyncAt = null;
    } else if (store.seq < 0) {
      store.reset(model.get("num_chunks") ?? 0);
    }
    grid.update(store);
    refreshSummaries();
  }

  function requestResync(): void {
    const now = Date.now();
    if (resyncAt === null || now - resyncAt >= RESYNC_RETRY_MS) {
      resyncAt = now;
      send({ type: "resync" });
    }
  }

  function applyDelta(): void {
    const result = store.applyDelta(model.get("delta"));
    if (result.kind === "applied") {
      grid.updateCells(store, result.changed);
      refreshSummaries();
    } else if (result.kind === "gap") {
      requestResync();
    }
  }

  function onStates(): void {
    loadSnapshot();
    applyDelta();
  }

  function onDelta(): void {
    // A snapshot that came in the same message as this delta may not have been announced yet.
    if (model.get("states") !== snapshot) {
      loadSnapshot();
    }
    applyDelta();
  }

  function onNumChunks(): void {
    if (store.seq < 0) {
      loadSnapshot();
    }
  }

  function onHeader(): void {
    header.update({
      name: model.get("name") ?? "",
      jobSetId: model.get("job_set_id") ?? "",
      backendName: model.get("backend_name") ?? "",
      tags: model.get("tags") ?? [],
      startedAt: model.get("started_at") ?? 0,
      finishedAt: model.get("finished_at") ?? 0,
      dashboardLink: model.get("dashboard_link") ?? "",
    });
  }

  function onUsage(): void {
    header.updateUsage(model.get("usage_seconds"));
  }

  function onPendingLimit(): void {
    header.updatePendingLimit(model.get("pending_job_limit"));
  }

  function onBounds(): void {
    grid.setBounds(new Bounds(model.get("bounds")));
  }

  function onErrors(): void {
    const entries = model.get("errors");
    errors.update(entries, model.get("errors_total"));
    grid.setPoints(Array.isArray(entries) ? entries : []);
  }

  function onDetail(): void {
    const detail = model.get("selected_detail");
    details.update(detail);
    if (isChunkDetail(detail)) {
      grid.setPoints([detail]);
    }
    grid.setSelected(isChunkDetail(detail) ? detail.index : -1);
  }

  function onHistogram(): void {
    histogram.update(model.get("histogram"), model.get("num_experiments") ?? 0);
  }

  const listeners: Array<[ChangeEvent, () => void]> = [
    ["change:states", onStates],
    ["change:delta", onDelta],
    ["change:num_chunks", onNumChunks],
    ["change:can_cancel", refreshSummaries],
    ["change:name", onHeader],
    ["change:job_set_id", onHeader],
    ["change:backend_name", onHeader],
    ["change:tags", onHeader],
    ["change:started_at", onHeader],
    ["change:finished_at", onHeader],
    ["change:dashboard_link", onHeader],
    ["change:usage_seconds", onUsage],
    ["change:pending_job_limit", onPendingLimit],
    ["change:bounds", onBounds],
    ["change:errors", onErrors],
    ["change:errors_total", onErrors],
    ["change:selected_detail", onDetail],
    ["change:histogram", onHistogram],
    ["change:num_experiments", onHistogram],
  ];

  onHeader();
  onUsage();
  onPendingLimit();
  onBounds();
  onStates();
  onErrors();
  onDetail();
  onHistogram();
  return listen(model, listeners, () => {
    for (const part of [header, progress, controls, grid, details, errors, histogram]) {
      part.cleanup();
    }
  });
}

export default { render } satisfies AnyWidget<Model>;
