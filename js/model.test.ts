import { describe, expect, it } from "vitest";
import { packBounds, packDelta, packStates } from "./fake-model";
import {
  Bounds,
  type ChunkDetail,
  ChunkStore,
  type Histogram,
  isChunkDetail,
  isHistogram,
  pointRange,
  readSeq,
  STATE_NAMES,
  State,
  stateName,
  sweepOf,
  toBytes,
  unravel,
} from "./model";

describe("toBytes", () => {
  it("reads a DataView, an ArrayBuffer and a Uint8Array alike, honouring offsets", () => {
    const buffer = new Uint8Array([9, 9, 1, 2, 3, 9]).buffer;
    expect([...toBytes(new DataView(buffer, 2, 3))]).toEqual([1, 2, 3]);
    expect([...toBytes(new Uint8Array(buffer, 2, 3))]).toEqual([1, 2, 3]);
    expect([...toBytes(buffer)]).toEqual([9, 9, 1, 2, 3, 9]);
    expect(toBytes(null).length).toBe(0);
  });

  it("reads the sequence number little-endian, or null when too short", () => {
    expect(readSeq(toBytes(packStates(0x01020304, [])))).toBe(0x01020304);
    expect(readSeq(new Uint8Array([1, 2, 3]))).toBeNull();
  });
});

describe("state codes", () => {
  it("match the order of ChunkState in Python, with partial last", () => {
    expect(STATE_NAMES).toEqual([
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
    ]);
    expect(stateName(State.partial)).toBe("partial");
    expect(stateName(200)).toBe("unknown");
  });
});

describe("ChunkStore", () => {
  it("loads a snapshot: codes, seq and counts per state", () => {
    const store = new ChunkStore();
    expect(store.loadSnapshot(packStates(7, [0, 5, 5, 6]))).toBe(true);
    expect(store.seq).toBe(7);
    expect([...store.codes]).toEqual([0, 5, 5, 6]);
    expect(store.count(State.done)).toBe(2);
    expect(store.finalCount).toBe(3);
  });

  it("ignores an empty snapshot", () => {
    const store = new ChunkStore();
    expect(store.loadSnapshot(new Uint8Array(0))).toBe(false);
    expect(store.seq).toBe(-1);
  });

  it("applies the next delta, keeping counts right, and reports what changed", () => {
    const store = new ChunkStore();
    store.loadSnapshot(packStates(3, [0, 0, 0]));
    const result = store.applyDelta(
      packDelta(4, [
        [0, State.running],
        [2, State.pending],
      ]),
    );
    expect(result).toEqual({ kind: "applied", changed: [0] });
    expect(store.seq).toBe(4);
    expect(store.count(State.running)).toBe(1);
    expect(store.count(State.pending)).toBe(2);
  });

  it("ignores a stale delta and reports a gap without applying it", () => {
    const store = new ChunkStore();
    store.loadSnapshot(packStates(3, [0, 0]));
    expect(store.applyDelta(packDelta(3, [[0, State.done]])).kind).toBe("stale");
    expect(store.applyDelta(packDelta(5, [[0, State.done]])).kind).toBe("gap");
    expect(store.applyDelta(new Uint8Array(0)).kind).toBe("empty");
    expect([...store.codes]).toEqual([0, 0]);
    expect(store.seq).toBe(3);
  });

  it("skips entries for chunks it does not have and a truncated trailing entry", () => {
    const store = new ChunkStore();
    store.loadSnapshot(packStates(0, [0, 0]));
    const bytes = toBytes(
      packDelta(1, [
        [1, State.done],
        [99, State.done],
      ]),
    );
    const result = store.applyDelta(bytes.subarray(0, bytes.length - 2));
    expect(result).toEqual({ kind: "applied", changed: [1] });
  });
});

describe("Bounds", () => {
  it("gives each chunk's inclusive experiment range", () => {
    const bounds = new Bounds(
      packBounds([
        [0, 99],
        [100, 150],
      ]),
    );
    expect(bounds.length).toBe(2);
    expect(bounds.get(1)).toEqual([100, 150]);
    expect(bounds.get(2)).toBeNull();
  });
});

describe("sweeps", () => {
  const counts = { bars: [] as Array<[string, number]>, other: 0, total: 0 };

  it("read an old-shaped histogram, with no sweep fields, as one with no points", () => {
    const old = { experiment: 2, ...counts };
    expect(isHistogram(old)).toBe(true);
    expect(sweepOf(old)).toEqual({ point: -1, numPoints: 0, shape: [], values: [] });
  });

  it("read the point, its values and the shape, and drop what is malformed", () => {
    const histogram: Histogram = {
      experiment: 0,
      point: 5,
      num_points: 8,
      shape: [2, 4],
      values: { b: 1.5, a: 0 },
      ...counts,
    };
    expect(sweepOf(histogram)).toEqual({
      point: 5,
      numPoints: 8,
      shape: [2, 4],
      values: [
        ["b", 1.5],
        ["a", 0],
      ],
    });
    expect(sweepOf({ ...histogram, point: 8 }).point).toBe(-1);
    expect(sweepOf({ ...histogram, point: 8 }).values).toEqual([]);
    expect(sweepOf({ ...histogram, experiment: -1 }).numPoints).toBe(0);
    const broken = { ...histogram, num_points: "8", shape: [2, -1] } as unknown as Histogram;
    expect(sweepOf(broken)).toEqual({ point: -1, numPoints: 0, shape: [], values: [] });
  });

  it("read a chunk's point range, or null", () => {
    expect(pointRange({ points: [0, 2000, 3999] })).toEqual([0, 2000, 3999]);
    expect(pointRange({ points: null })).toBeNull();
    expect(pointRange({})).toBeNull();
    expect(pointRange({ points: [0, 5, 4] })).toBeNull();
    expect(pointRange({ points: [0, 1] as unknown as [number, number, number] })).toBeNull();
  });

  it("unravel a flat point index in C order", () => {
    expect(unravel(5, [2, 4])).toEqual([1, 1]);
    expect(unravel(23, [2, 3, 4])).toEqual([1, 2, 3]);
    expect(unravel(0, [2, 3, 4])).toEqual([0, 0, 0]);
    expect(unravel(7, [8])).toEqual([7]);
    expect(unravel(8, [2, 4])).toBeNull();
    expect(unravel(0, [])).toBeNull();
  });
});

describe("chunk details", () => {
  const base: ChunkDetail = {
    index: 0,
    start: 0,
    end: 9,
    shots: 100,
    state: "done",
    job_id: "job-0",
    attempts: 1,
    error: null,
    note: null,
    can_cancel: false,
    can_retry: false,
  };

  it("accept details with QPU usage, with null, and old-shaped ones without the field", () => {
    expect(isChunkDetail(base)).toBe(true);
    expect(isChunkDetail({ ...base, usage_seconds: 12.34 })).toBe(true);
    expect(isChunkDetail({ ...base, usage_seconds: null })).toBe(true);
    expect(isChunkDetail({})).toBe(false);
    expect(isChunkDetail(undefined)).toBe(false);
  });
});
