// Test helpers: a stand-in for anywidget's model (the widget's host, not code under test) and
// encoders for the binary traits, written the way qjm_widget/widget.py packs them.
import type { AnyModel } from "@anywidget/types";
import type { ChunkDetail, Histogram, Message, Model } from "./model";
import widget from "./widget";

type Handler = (...args: never[]) => void;

export function packStates(seq: number, codes: ArrayLike<number>): DataView<ArrayBuffer> {
  const view = new DataView(new ArrayBuffer(4 + codes.length));
  view.setUint32(0, seq, true);
  for (let i = 0; i < codes.length; i++) {
    view.setUint8(4 + i, codes[i] ?? 0);
  }
  return view;
}

export function packDelta(
  seq: number,
  changes: ReadonlyArray<[number, number]>,
): DataView<ArrayBuffer> {
  const view = new DataView(new ArrayBuffer(4 + 5 * changes.length));
  view.setUint32(0, seq, true);
  changes.forEach(([index, code], i) => {
    view.setUint32(4 + 5 * i, index, true);
    view.setUint8(8 + 5 * i, code);
  });
  return view;
}

export function packBounds(bounds: ReadonlyArray<[number, number]>): DataView<ArrayBuffer> {
  const view = new DataView(new ArrayBuffer(8 * bounds.length));
  bounds.forEach(([start, end], i) => {
    view.setUint32(8 * i, start, true);
    view.setUint32(8 * i + 4, end, true);
  });
  return view;
}

/** Model values for a set of chunks with the given codes, 10 experiments per chunk. */
export function modelFor(codes: readonly number[], overrides: Partial<Model> = {}): Model {
  return {
    job_set_id: "3f2a9c",
    name: "sweep",
    backend_name: "aer_simulator",
    tags: ["demo"],
    num_chunks: codes.length,
    num_experiments: codes.length * 10,
    started_at: 1_700_000_000,
    finished_at: 0,
    usage_seconds: -1,
    can_cancel: true,
    states: packStates(0, codes),
    delta: packDelta(0, []),
    bounds: packBounds(codes.map((_, i): [number, number] => [10 * i, 10 * i + 9])),
    errors: [],
    errors_total: 0,
    selected_detail: {},
    histogram: { experiment: -1, bars: [], other: 0, total: 0 },
    ...overrides,
  };
}

/** A histogram of experiment 0 as a sweep of `shape` points (all of them shown by default). */
export function sweepHistogram(shape: number[], overrides: Partial<Histogram> = {}): Histogram {
  return {
    experiment: 0,
    point: -1,
    num_points: shape.reduce((n, d) => n * d, 1),
    shape,
    values: {},
    bars: [["000", 50]],
    other: 0,
    total: 50,
    ...overrides,
  };
}

export class FakeModel implements AnyModel<Model> {
  readonly sent: Message[] = [];
  readonly widget_manager = {
    get_model: () => Promise.reject(new Error("FakeModel has no widget manager")),
  };
  private readonly listeners = new Map<string, Set<Handler>>();

  constructor(private values: Model) {}

  get<K extends keyof Model>(key: K): Model[K] {
    return this.values[key];
  }

  set<K extends keyof Model>(key: K, value: Model[K]): void {
    this.values = { ...this.values, [key]: value };
  }

  on(eventName: string, callback: Handler): void {
    let handlers = this.listeners.get(eventName);
    if (handlers === undefined) {
      handlers = new Set();
      this.listeners.set(eventName, handlers);
    }
    handlers.add(callback);
  }

  off(eventName?: string | null, callback?: Handler | null): void {
    for (const [name, handlers] of this.listeners) {
      if (eventName !== undefined && eventName !== null && name !== eventName) {
        continue;
      }
      if (callback === undefined || callback === null) {
        handlers.clear();
      } else {
        handlers.delete(callback);
      }
    }
  }

  send(content: Message): void {
    this.sent.push(content);
  }

  save_changes(): void {}

  get listenerCount(): number {
    let total = 0;
    for (const handlers of this.listeners.values()) {
      total += handlers.size;
    }
    return total;
  }

  /** Sets several traits, then announces each change, as Backbone does for one message. */
  update(changes: Partial<Model>): void {
    this.values = { ...this.values, ...changes };
    for (const key of Object.keys(changes)) {
      for (const handler of [...(this.listeners.get(`change:${key}`) ?? [])]) {
        handler();
      }
    }
  }

  /** Messages sent of one type. */
  sentOf(type: Message["type"]): Message[] {
    return this.sent.filter((message) => message.type === type);
  }
}

/** Renders the widget into a fresh element attached to the document. */
export function mount(values: Model): {
  model: FakeModel;
  el: HTMLElement;
  root: HTMLElement;
  cleanup: () => void;
} {
  const model = new FakeModel(values);
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = widget.render({ model, el });
  const root = el.querySelector<HTMLElement>(".qjm-widget");
  if (root === null) {
    throw new Error("render() did not create a .qjm-widget root");
  }
  return { model, el, root, cleanup };
}

export function cells(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(".qjm-cell")];
}

export function byClass<T extends Element = HTMLElement>(root: ParentNode, className: string): T {
  const el = root.querySelector<T & Element>(`.${className}`);
  if (el === null) {
    throw new Error(`no .${className} element`);
  }
  return el;
}

/** The blocks of a grid that shows blocks of chunks (a large set). */
export function blocks(root: HTMLElement): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>(".qjm-block")];
}

/** The details the kernel sends for chunk `index` of a `modelFor` set (10 experiments each). */
export function detailFor(index: number, overrides: Partial<ChunkDetail> = {}): ChunkDetail {
  return {
    index,
    start: 10 * index,
    end: 10 * index + 9,
    shots: 100,
    state: "pending",
    job_id: null,
    attempts: 0,
    error: null,
    note: null,
    can_cancel: true,
    can_retry: false,
    ...overrides,
  };
}
