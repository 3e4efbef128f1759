// The model's shape (the traits qjm_widget.widget.JobSetWidget syncs), the chunk state codes,
// and the decoding of the binary traits into a ChunkStore.
import type { AnyModel } from "@anywidget/types";

/** A Bytes trait as it reaches the view: a DataView in anywidget, other views in tests. */
export type Bytes = DataView | ArrayBuffer | ArrayBufferView;

export type ErrorEntry = {
  index: number;
  start: number;
  end: number;
  state: string;
  /** Python's contract says string; a partial chunk may have none, so null is accepted. */
  error: string | null;
  job_id: string | null;
  attempts: number;
};

export type ChunkDetail = {
  index: number;
  start: number;
  end: number;
  shots: number | null;
  state: string;
  job_id: string | null;
  attempts: number;
  error: string | null;
  note: string | null;
  can_cancel: boolean;
  can_retry: boolean;
};

export type Histogram = {
  /** -1 for all experiments. */
  experiment: number;
  /** [bitstring, count], most frequent first. */
  bars: Array<[string, number]>;
  other: number;
  total: number;
};

export type Model = {
  job_set_id: string;
  name: string;
  backend_name: string;
  tags: string[];
  num_chunks: number;
  num_experiments: number;
  started_at: number;
  finished_at: number;
  can_cancel: boolean;
  states: Bytes;
  delta: Bytes;
  bounds: Bytes;
  errors: ErrorEntry[];
  errors_total: number;
  /** {} when no chunk is selected. */
  selected_detail: ChunkDetail | Record<string, never>;
  /** {} before the first update. */
  histogram: Histogram | Record<string, never>;
};

export type WidgetModel = AnyModel<Model>;

/** What the view sends to Python; it never sets traits. */
export type Message =
  | { type: "cancel_all" }
  | { type: "retry_failed" }
  | { type: "cancel_chunk"; index: number }
  | { type: "retry_chunk"; index: number }
  | { type: "select"; index: number }
  | { type: "show_experiment"; index: number }
  | { type: "resync" };

export type Send = (message: Message) => void;

export const STATE_NAMES = [
  "pending",
  "submitting",
  "waiting",
  "queued",
  "running",
  "done",
  "error",
  "failed",
  "cancelled",
  "lost",
  "partial",
] as const;

export type StateName = (typeof STATE_NAMES)[number];

export const State = {
  pending: 0,
  submitting: 1,
  waiting: 2,
  queued: 3,
  running: 4,
  done: 5,
  error: 6,
  failed: 7,
  cancelled: 8,
  lost: 9,
  partial: 10,
} as const satisfies Record<StateName, number>;

/** Codes of final states: done and everything after it. */
export const FIRST_FINAL = State.done;
export const FAILED_STATES: readonly number[] = [
  State.error,
  State.failed,
  State.lost,
  State.partial,
];

export function stateName(code: number): string {
  return STATE_NAMES[code] ?? "unknown";
}

export function isFinal(code: number): boolean {
  return code >= FIRST_FINAL && code < STATE_NAMES.length;
}

export function isChunkDetail(value: Model["selected_detail"] | undefined): value is ChunkDetail {
  return value !== undefined && value !== null && typeof value.index === "number";
}

export function isHistogram(value: Model["histogram"] | undefined): value is Histogram {
  return value !== undefined && value !== null && Array.isArray(value.bars);
}

/** The bytes of a Bytes trait, whichever view of them arrived (no copy). */
export function toBytes(value: Bytes | null | undefined): Uint8Array {
  if (value === null || value === undefined) {
    return new Uint8Array(0);
  }
  if (value instanceof ArrayBuffer) {
    return new Uint8Array(value);
  }
  if (ArrayBuffer.isView(value)) {
    return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  }
  return new Uint8Array(0);
}

function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The leading uint32 LE sequence number, or null when the value is too short to hold one. */
export function readSeq(bytes: Uint8Array): number | null {
  return bytes.byteLength < 4 ? null : dataView(bytes).getUint32(0, true);
}

/** Inclusive experiment range of each chunk, from the `bounds` trait. */
export class Bounds {
  private readonly view: DataView;
  readonly length: number;

  constructor(value: Bytes | null | undefined) {
    const bytes = toBytes(value);
    this.view = dataView(bytes);
    this.length = Math.floor(bytes.byteLength / 8);
  }

  get(index: number): [number, number] | null {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      return null;
    }
    return [this.view.getUint32(index * 8, true), this.view.getUint32(index * 8 + 4, true)];
  }
}

export type DeltaResult =
  | { kind: "applied"; changed: number[] }
  | { kind: "stale" }
  | { kind: "gap" }
  | { kind: "empty" };

/** Per-chunk state codes, the sequence number they stand at, and counts per state. */
export class ChunkStore {
  codes: Uint8Array = new Uint8Array(0);
  /** -1 until a snapshot is loaded: then any delta but seq 0 is a gap. */
  seq = -1;
  readonly counts: number[] = new Array<number>(256).fill(0);

  get size(): number {
    return this.codes.length;
  }

  /** Replaces everything with a `states` snapshot; false (and nothing changed) if it is empty. */
  loadSnapshot(value: Bytes | null | undefined): boolean {
    const bytes = toBytes(value);
    const seq = readSeq(bytes);
    if (seq === null) {
      return false;
    }
    this.codes = bytes.slice(4);
    this.seq = seq;
    this.counts.fill(0);
    for (const code of this.codes) {
      this.counts[code] = (this.counts[code] ?? 0) + 1;
    }
    return true;
  }

  /** Chunks all pending, with no sequence number: used until the first snapshot arrives. */
  reset(size: number): void {
    this.codes = new Uint8Array(Math.max(0, size));
    this.seq = -1;
    this.counts.fill(0);
    this.counts[State.pending] = this.codes.length;
  }

  /** Applies a `delta` if it follows the current seq; says what it did. */
  applyDelta(value: Bytes | null | undefined): DeltaResult {
    const bytes = toBytes(value);
    const seq = readSeq(bytes);
    if (seq === null) {
      return { kind: "empty" };
    }
    if (seq <= this.seq) {
      return { kind: "stale" };
    }
    if (seq !== this.seq + 1) {
      return { kind: "gap" };
    }
    const view = dataView(bytes);
    const changed: number[] = [];
    for (let offset = 4; offset + 5 <= bytes.byteLength; offset += 5) {
      const index = view.getUint32(offset, true);
      const code = view.getUint8(offset + 4);
      if (index >= this.codes.length) {
        continue;
      }
      const old = this.codes[index] ?? 0;
      if (old !== code) {
        this.counts[old] = (this.counts[old] ?? 1) - 1;
        this.counts[code] = (this.counts[code] ?? 0) + 1;
        this.codes[index] = code;
        changed.push(index);
      }
    }
    this.seq = seq;
    return { kind: "applied", changed };
  }

  count(...codes: number[]): number {
    let total = 0;
    for (const code of codes) {
      total += this.counts[code] ?? 0;
    }
    return total;
  }

  get finalCount(): number {
    let total = 0;
    for (let code = FIRST_FINAL; code < STATE_NAMES.length; code++) {
      total += this.counts[code] ?? 0;
    }
    return total;
  }
}
