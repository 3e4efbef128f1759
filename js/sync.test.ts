// How the view keeps its chunk states in step with Python: snapshot + numbered deltas.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cells, modelFor, mount, packDelta, packStates } from "./fake-model";
import { State } from "./model";
import { RESYNC_RETRY_MS } from "./widget";

function classes(root: HTMLElement): string[] {
  return cells(root).map((cell) => cell.className.replace("qjm-cell qjm-s-", ""));
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
  document.body.replaceChildren();
});

describe("state sync", () => {
  it("applies the current delta at render when it follows the snapshot", () => {
    const { root, model } = mount(
      modelFor([0, 0], { states: packStates(4, [0, 0]), delta: packDelta(5, [[1, State.queued]]) }),
    );
    expect(classes(root)).toEqual(["pending", "queued"]);
    expect(model.sent).toEqual([]);
  });

  it("ignores a delta at render that the snapshot already holds", () => {
    const { root, model } = mount(
      modelFor([0, 0], { states: packStates(5, [0, 0]), delta: packDelta(5, [[1, State.queued]]) }),
    );
    expect(classes(root)).toEqual(["pending", "pending"]);
    expect(model.sent).toEqual([]);
  });

  it("asks for a snapshot at render when the delta is ahead of it", () => {
    const { model } = mount(
      modelFor([0, 0], { states: packStates(1, [0, 0]), delta: packDelta(3, [[1, State.done]]) }),
    );
    expect(model.sent).toEqual([{ type: "resync" }]);
  });

  it("applies deltas in sequence and ignores old ones", () => {
    const { root, model } = mount(modelFor([0, 0, 0]));
    model.update({ delta: packDelta(1, [[0, State.running]]) });
    model.update({
      delta: packDelta(2, [
        [0, State.done],
        [2, State.error],
      ]),
    });
    expect(classes(root)).toEqual(["done", "pending", "error"]);
    model.update({ delta: packDelta(1, [[0, State.pending]]) });
    expect(classes(root)).toEqual(["done", "pending", "error"]);
    expect(model.sent).toEqual([]);
  });

  it("sends resync on a gap, once, then takes the snapshot and follows it", () => {
    const { root, model } = mount(modelFor([0, 0]));
    model.update({ delta: packDelta(2, [[0, State.done]]) });
    expect(classes(root)).toEqual(["pending", "pending"]);
    expect(model.sentOf("resync")).toHaveLength(1);
    model.update({ delta: packDelta(3, [[1, State.done]]) });
    expect(model.sentOf("resync")).toHaveLength(1); // still waiting for the first answer
    model.update({ states: packStates(3, [State.done, State.done]) });
    expect(classes(root)).toEqual(["done", "done"]);
    model.update({ delta: packDelta(4, [[1, State.error]]) });
    expect(classes(root)).toEqual(["done", "error"]);
    expect(model.sentOf("resync")).toHaveLength(1);
  });

  it("asks again when the snapshot does not come", () => {
    const { model } = mount(modelFor([0, 0]));
    model.update({ delta: packDelta(2, [[0, State.done]]) });
    vi.advanceTimersByTime(RESYNC_RETRY_MS);
    model.update({ delta: packDelta(3, [[0, State.done]]) });
    expect(model.sentOf("resync")).toHaveLength(2);
  });

  it("replaces everything with a snapshot, even one older than the deltas seen", () => {
    const { root, model } = mount(modelFor([0, 0]));
    model.update({ delta: packDelta(1, [[0, State.done]]) });
    model.update({ states: packStates(1, [State.cancelled, State.lost]) });
    expect(classes(root)).toEqual(["cancelled", "lost"]);
  });

  it("handles a snapshot and a delta arriving in one message, in either order", () => {
    for (const order of ["delta first", "states first"]) {
      const { root, model } = mount(modelFor([0, 0]));
      const states = packStates(6, [State.done, State.running]);
      const delta = packDelta(6, [[1, State.running]]);
      model.update(order === "delta first" ? { delta, states } : { states, delta });
      expect(classes(root), order).toEqual(["done", "running"]);
      expect(model.sent, order).toEqual([]);
      model.update({ delta: packDelta(7, [[1, State.done]]) });
      expect(classes(root), order).toEqual(["done", "done"]);
    }
  });

  it("shows all chunks pending until a first snapshot arrives", () => {
    const { root, model } = mount(
      modelFor([0, 0, 0], { states: new Uint8Array(0), delta: new Uint8Array(0) }),
    );
    expect(classes(root)).toEqual(["pending", "pending", "pending"]);
    model.update({ states: new Uint8Array([2, 0, 0, 0, State.done, State.done, State.done]) });
    expect(classes(root)).toEqual(["done", "done", "done"]);
  });

  it("accepts bytes as ArrayBuffer and Uint8Array as well as DataView", () => {
    const { root, model } = mount(modelFor([0, 0], { states: packStates(0, [0, 0]).buffer }));
    const delta = packDelta(1, [[1, State.done]]);
    model.update({ delta: new Uint8Array(delta.buffer) });
    expect(classes(root)).toEqual(["pending", "done"]);
  });

  it("updates the progress bar and counts with each delta", () => {
    const { root, model } = mount(modelFor([0, 0, 0, 0]));
    model.update({ delta: packDelta(1, [[0, State.done]]) });
    const done = root.querySelector<HTMLElement>(".qjm-segment-done");
    expect(done?.style.width).toBe("25%");
    const counts = [...root.querySelectorAll(".qjm-count:not([hidden])")].map((c) => c.textContent);
    expect(counts).toEqual(["pending 3", "done 1"]);
  });
});
