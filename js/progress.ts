// The progress bar: one segment per group of states, widths in percent of all chunks.
import { element } from "./dom";
import { type ChunkStore, State } from "./model";

export type SegmentKind = "done" | "failed" | "cancelled" | "running" | "queued" | "pending";

/** Which state codes each segment stands for, in the order the bar shows them. */
export const SEGMENTS: ReadonlyArray<{ kind: SegmentKind; label: string; codes: number[] }> = [
  { kind: "done", label: "done", codes: [State.done] },
  {
    kind: "failed",
    label: "failed",
    codes: [State.error, State.failed, State.lost, State.partial],
  },
  { kind: "cancelled", label: "cancelled", codes: [State.cancelled] },
  { kind: "running", label: "running", codes: [State.submitting, State.running] },
  { kind: "queued", label: "queued", codes: [State.queued] },
  // Not submitted yet: pending, and waiting to resubmit (back-off or a pending-job limit).
  { kind: "pending", label: "not submitted", codes: [State.pending, State.waiting] },
];

export type Progress = {
  update(store: ChunkStore): void;
  cleanup(): void;
};

export function createProgress(parent: HTMLElement): Progress {
  const root = element("div", "qjm-progress");
  const bar = element("div", "qjm-progress-bar");
  bar.setAttribute("role", "progressbar");
  bar.setAttribute("aria-valuemin", "0");
  const segments = new Map<SegmentKind, HTMLDivElement>();
  for (const { kind } of SEGMENTS) {
    const segment = element("div", `qjm-segment qjm-segment-${kind}`);
    segment.dataset.kind = kind;
    segment.style.width = "0%";
    segments.set(kind, segment);
    bar.append(segment);
  }
  const label = element("div", "qjm-progress-label");
  root.append(bar, label);
  parent.append(root);

  function update(store: ChunkStore): void {
    const total = store.size;
    const parts: string[] = [];
    for (const { kind, label: name, codes } of SEGMENTS) {
      const n = store.count(...codes);
      const segment = segments.get(kind);
      if (segment) {
        segment.style.width = total > 0 ? `${(100 * n) / total}%` : "0%";
        segment.setAttribute("title", `${n} ${name}`);
      }
      if (n > 0) {
        parts.push(`${n} ${name}`);
      }
    }
    const final = store.finalCount;
    const percent = total > 0 ? Math.floor((100 * final) / total) : 0;
    const summary = `${final} of ${total} chunks final (${percent}%)`;
    const detail = parts.length > 0 ? `${summary}: ${parts.join(", ")}` : summary;
    bar.setAttribute("aria-valuemax", String(total));
    bar.setAttribute("aria-valuenow", String(final));
    bar.setAttribute("title", detail);
    label.textContent = detail;
  }

  return { update, cleanup(): void {} };
}
