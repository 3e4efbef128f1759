// The model's shape (the traits qjm_widget.widget.JobSetWidget syncs), the chunk state codes,
// and the decoding of the binary traits into a ChunkStore.
import type { AnyModel } from "@anywidget/types";

/** A Bytes trait as it reaches the view: a DataView in anywidget, other views in tests. */
export type Bytes = DataView | ArrayBuffer | ArrayBufferView;

/**
 * The slice of one sweep a chunk holds: [experiment, first point, last point], inclusive, points
 * counted in the flattened (C order) index of the experiment's points.
 */
export type PointRange = [experiment: number, first: number, last: number];

export type ErrorEntry = {
  index: number;
  start: number;
  end: number;
  state: string;
  /** Python's contract says string; a partial chunk may have none, so null is accepted. */
  error: string | null;
  job_id: string | null;
  attempts: number;
  /**
   * The part of one sweep the chunk holds; null (or missing, from an older kernel) where it
   * holds whole experiments.
   */
  points?: PointRange | null;
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
  /** As in ErrorEntry: the part of one sweep the chunk holds, or null. */
  points?: PointRange | null;
  /**
   * QPU seconds the chunk's jobs used, retries included, as IBM Quantum reports them; null where
   * the backend reports none (or missing, from an older kernel). Read it through usageOf().
   */
  usage_seconds?: number | null;
  /** The Dask worker that runs or ran the chunk; null off Dask (missing: older kernel). */
  worker?: string | null;
};

/**
 * The counts shown. The sweep fields (point, num_points, shape, values) may be missing, from an
 * older kernel: read them through sweepOf(), which treats that as "no points".
 */
export type Histogram = {
  /** -1 for all experiments. */
  experiment: number;
  /** Flat (C order) index of the point shown; -1 for all points of the experiment. */
  point?: number;
  /** Number of points of the experiment shown; 0 for a bound circuit or all experiments. */
  num_points?: number;
  /** Shape of the experiment's points (their product is num_points); [] when it has none. */
  shape?: number[];
  /** Each parameter's value at the point shown, by parameter name; {} for all points. */
  values?: Record<string, number>;
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
  /**
   * QPU seconds the set's jobs used so far, as IBM Quantum reports them; negative (-1.0, the
   * default) where the backend reports none, as simulators do. Read it through usageOf(): an
   * older kernel does not send it.
   */
  usage_seconds: number;
  /**
   * IBM's pending-job limit learned from its error 3458 for the set's account and backend; 0
   * (the default) while none is learned. Missing from an older kernel: read it through
   * pendingLimitText() in header.ts.
   */
  pending_job_limit?: number;
  can_cancel: boolean;
  /** The Dask dashboard of the cluster the set runs on; "" elsewhere (missing: older kernel). */
  dashboard_link?: string;
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
  /** index -1: all experiments; point (flat, C order) -1 or absent: all its points. */
  | { type: "show_experiment"; index: number; point?: number }
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

/** The sweep fields of a histogram, checked, with defaults for a missing or malformed field. */
export type Sweep = {
  /** -1 for all points (and whenever numPoints is 0). */
  point: number;
  /** 0: the experiment shown has no points to pick from (or all experiments are shown). */
  numPoints: number;
  shape: number[];
  /** [parameter name, value] of the point shown, in the order Python sent them. */
  values: Array<[string, number]>;
};

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

export function sweepOf(histogram: Histogram): Sweep {
  const numPoints =
    histogram.experiment >= 0 && isCount(histogram.num_points) ? histogram.num_points : 0;
  const point =
    numPoints > 0 && isCount(histogram.point) && histogram.point < numPoints ? histogram.point : -1;
  const shape =
    Array.isArray(histogram.shape) && histogram.shape.every(isCount) ? [...histogram.shape] : [];
  const values: Array<[string, number]> = [];
  if (point >= 0 && typeof histogram.values === "object" && histogram.values !== null) {
    for (const [name, value] of Object.entries(histogram.values)) {
      if (typeof value === "number") {
        values.push([name, value]);
      }
    }
  }
  return { point, numPoints, shape, values };
}

/** The point range of a chunk summary, or null where it has none (or a malformed one). */
export function pointRange(value: { points?: PointRange | null }): PointRange | null {
  const points: unknown = value.points;
  if (!Array.isArray(points) || points.length !== 3 || !points.every(isCount)) {
    return null;
  }
  const [experiment, first, last] = points as PointRange;
  return first <= last ? [experiment, first, last] : null;
}

/** "2000–3999 of experiment 0", or "5 of experiment 0" for a single point. */
export function pointsOf([experiment, first, last]: PointRange): string {
  return `${first === last ? first : `${first}–${last}`} of experiment ${experiment}`;
}

/**
 * QPU seconds as a number, or null for "none reported": a negative, non-finite or non-number
 * value (-1.0 from the trait, null or missing from a chunk's details or an older kernel).
 */
export function usageOf(value: unknown): number | null {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : null;
}

/** "12.3 s", or with minutes from 60 s on: "2 min 5.0 s" (tenths rounded before splitting). */
export function formatQpuSeconds(seconds: number): string {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const minutes = Math.floor(tenths / 600);
  const rest = ((tenths % 600) / 10).toFixed(1);
  return minutes > 0 ? `${minutes} min ${rest} s` : `${rest} s`;
}

/** The multi-index of flat point `flat` into `shape` (C order); null if it is not in there. */
export function unravel(flat: number, shape: readonly number[]): number[] | null {
  const size = shape.reduce((n, d) => n * d, 1);
  if (shape.length === 0 || !Number.isInteger(flat) || flat < 0 || flat >= size) {
    return null;
  }
  const index = new Array<number>(shape.length);
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    const dim = shape[axis] ?? 1;
    index[axis] = rest % dim;
    rest = Math.floor(rest / dim);
  }
  return index;
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
