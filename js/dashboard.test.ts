import type { AnyModel } from "@anywidget/types";
import { afterEach, describe, expect, it, vi } from "vitest";
import dashboard, { FILTER_DELAY_MS, VIEW_HEARTBEAT_MS } from "./dashboard";
import type { DashboardMessage, DashboardModel, Row } from "./dashboard-model";

type Handler = (...args: never[]) => void;

class FakeDashboardModel implements AnyModel<DashboardModel> {
  /** What the view sent, but for its views messages (those are in `views`). */
  readonly sent: DashboardMessage[] = [];
  readonly views: DashboardMessage[] = [];
  readonly widget_manager = {
    get_model: () => Promise.reject(new Error("no widget manager")),
  };
  private readonly listeners = new Map<string, Set<Handler>>();
  constructor(private values: DashboardModel) {}
  get<K extends keyof DashboardModel>(key: K): DashboardModel[K] {
    return this.values[key];
  }
  set<K extends keyof DashboardModel>(key: K, value: DashboardModel[K]): void {
    this.values = { ...this.values, [key]: value };
  }
  on(eventName: string, callback: Handler): void {
    const handlers = this.listeners.get(eventName) ?? new Set<Handler>();
    handlers.add(callback);
    this.listeners.set(eventName, handlers);
  }
  off(eventName?: string | null, callback?: Handler | null): void {
    for (const [name, handlers] of this.listeners) {
      if (eventName && name !== eventName) {
        continue;
      }
      if (callback) {
        handlers.delete(callback);
      } else {
        handlers.clear();
      }
    }
  }
  send(content: DashboardMessage): void {
    (content.type === "views" ? this.views : this.sent).push(content);
  }
  save_changes(): void {}
  update(changes: Partial<DashboardModel>): void {
    this.values = { ...this.values, ...changes };
    for (const key of Object.keys(changes)) {
      for (const handler of [...(this.listeners.get(`change:${key}`) ?? [])]) {
        handler();
      }
    }
  }
}

function row(index: number, overrides: Partial<Row> = {}): Row {
  return {
    id: `${String(index).padStart(4, "0")}abcdef0123456789abcdef01234567`,
    name: `set ${index}`,
    backend: "aer_simulator",
    created: 1_700_000_000 - index,
    tags: [],
    state: "done",
    final: 4,
    chunks: 4,
    experiments: 8,
    usage: -1,
    where: "here",
    read_only: false,
    message: "",
    ...overrides,
  };
}

function values(rows: Row[], overrides: Partial<DashboardModel> = {}): DashboardModel {
  return {
    rows,
    updates: { seq: 0, rows: [] },
    total: rows.length,
    page: 0,
    page_size: 50,
    sort: "created",
    descending: true,
    name_filter: "",
    tag_filter: "",
    sort_keys: ["created", "name", "id", "backend", "state", "chunks", "experiments", "usage"],
    opened: "",
    message: "",
    ...overrides,
  };
}

let cleanups: Array<() => void> = [];

function mount(initial: DashboardModel) {
  const model = new FakeDashboardModel(initial);
  const el = document.createElement("div");
  document.body.append(el);
  const cleanup = dashboard.render({ model, el });
  cleanups.push(() => {
    cleanup();
    el.remove();
  });
  const trs = () => [...el.querySelectorAll<HTMLTableRowElement>("tr.qjm-d-row")];
  const q = <T extends Element = HTMLElement>(selector: string, root: ParentNode = el): T => {
    const found = root.querySelector<T>(selector);
    if (found === null) {
      throw new Error(`no ${selector}`);
    }
    return found;
  };
  return { model, el, trs, q };
}

/** A key pressed on the focused element, as the browser dispatches it; returns the event. */
function press(key: string): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true });
  (document.activeElement ?? document.body).dispatchEvent(event);
  return event;
}

afterEach(() => {
  for (const cleanup of cleanups) {
    cleanup();
  }
  cleanups = [];
  vi.useRealTimers();
});

describe("dashboard view", () => {
  it("renders one row per set from the rows trait", () => {
    const { trs, q, el } = mount(
      values([row(0, { state: "running", final: 1, tags: ["x"] }), row(1, { usage: 2.5 })], {
        total: 120,
      }),
    );
    expect(trs()).toHaveLength(2);
    const first = trs()[0] as HTMLTableRowElement;
    expect(q(".qjm-d-name", first).textContent).toBe("set 0x");
    expect(q(".qjm-d-id", first).textContent).toBe("0000abcd");
    expect(q(".qjm-d-state", first).textContent).toBe("running");
    expect(q(".qjm-d-count", first).textContent).toBe("1 / 4");
    expect(q<HTMLElement>(".qjm-d-fill", first).style.width).toBe("25%");
    expect(q(".qjm-d-usage", trs()[1]).textContent).toBe("2.5 s");
    expect(q(".qjm-d-page", el).textContent).toBe("page 1 of 3");
    expect(q(".qjm-d-total", el).textContent).toBe("120 sets");
    expect(q<HTMLButtonElement>(".qjm-d-cancel", first).disabled).toBe(false);
    expect(q<HTMLButtonElement>(".qjm-d-delete", first).disabled).toBe(true);
  });

  it("applies a row delta to that row only", () => {
    const { model, trs, q } = mount(values([row(0, { state: "running", final: 1 }), row(1)]));
    const untouched = trs()[1];
    model.update({
      updates: { seq: 1, rows: [row(0, { state: "1 failed", final: 4 }), row(99)] },
    });
    expect(trs()).toHaveLength(2);
    expect(q(".qjm-d-state", trs()[0]).textContent).toBe("1 failed");
    expect(trs()[0]?.classList.contains("qjm-d-failed")).toBe(true);
    expect(q<HTMLButtonElement>(".qjm-d-retry-failed", trs()[0]).disabled).toBe(false);
    expect(trs()[1]).toBe(untouched);
  });

  it("sends sort, filter and page queries", () => {
    vi.useFakeTimers();
    const { model, q, el } = mount(values([row(0)], { total: 200 }));
    q<HTMLButtonElement>('button[data-sort="name"]').click();
    expect(model.sent[model.sent.length - 1]).toEqual({
      type: "query",
      sort: "name",
      descending: true,
    });
    model.update({ sort: "name", descending: true });
    q<HTMLButtonElement>('button[data-sort="name"]').click();
    expect(model.sent[model.sent.length - 1]).toEqual({
      type: "query",
      sort: "name",
      descending: false,
    });
    q<HTMLButtonElement>(".qjm-d-next", el).click();
    expect(model.sent[model.sent.length - 1]).toEqual({ type: "query", page: 1 });
    const input = q<HTMLInputElement>(".qjm-d-filter-name", el);
    input.value = "sweep";
    input.dispatchEvent(new Event("input"));
    input.value = "sweeps";
    input.dispatchEvent(new Event("input"));
    const before = model.sent.length;
    vi.advanceTimersByTime(FILTER_DELAY_MS);
    expect(model.sent.slice(before)).toEqual([{ type: "query", name: "sweeps", tag: "", page: 0 }]);
    expect(q<HTMLButtonElement>(".qjm-d-prev", el).disabled).toBe(true);
  });

  it("offers retry and delete for an interrupted set, never cancel", () => {
    const { trs, q } = mount(values([row(0, { state: "interrupted", final: 1, where: "stored" })]));
    const tr = trs()[0] as HTMLTableRowElement;
    expect(tr.classList.contains("qjm-d-interrupted")).toBe(true);
    expect(q<HTMLButtonElement>(".qjm-d-cancel", tr).disabled).toBe(true);
    expect(q<HTMLButtonElement>(".qjm-d-retry-failed", tr).disabled).toBe(false);
    expect(q<HTMLButtonElement>(".qjm-d-delete", tr).disabled).toBe(false);
  });

  it("sorts by every column that has figures, Id and Chunks too", () => {
    const { model, q, el } = mount(values([row(0)]));
    const sortable = [...el.querySelectorAll<HTMLButtonElement>("button[data-sort]")];
    expect(sortable.map((b) => b.dataset.sort)).toEqual([
      "name",
      "id",
      "backend",
      "created",
      "state",
      "chunks",
      "experiments",
      "usage",
    ]);
    expect(sortable.every((b) => !b.hidden)).toBe(true);
    q<HTMLButtonElement>('button[data-sort="chunks"]').click();
    expect(model.sent).toEqual([{ type: "query", sort: "chunks", descending: true }]);
  });

  it("asks before deleting", () => {
    const { model, trs, q } = mount(values([row(0)]));
    const tr = trs()[0] as HTMLTableRowElement;
    q<HTMLButtonElement>(".qjm-d-delete", tr).click();
    expect(model.sent).toEqual([]);
    expect(q<HTMLElement>(".qjm-d-confirm", tr).hidden).toBe(false);
    q<HTMLButtonElement>(".qjm-d-confirm-no", tr).click();
    expect(q<HTMLElement>(".qjm-d-confirm", tr).hidden).toBe(true);
    expect(model.sent).toEqual([]);
    q<HTMLButtonElement>(".qjm-d-delete", tr).click();
    q<HTMLButtonElement>(".qjm-d-confirm-yes", tr).click();
    expect(model.sent).toEqual([{ type: "delete", id: row(0).id }]);
  });

  it("opens, retries and cancels with one message each; Enter on a row opens it", () => {
    const { model, trs, q } = mount(values([row(0, { state: "2 failed" }), row(1)]));
    q<HTMLButtonElement>(".qjm-d-open", trs()[1]).click();
    q<HTMLButtonElement>(".qjm-d-retry-failed", trs()[0]).click();
    expect(model.sent).toEqual([
      { type: "open", id: row(1).id },
      { type: "retry_failed", id: row(0).id },
    ]);
    const first = trs()[0] as HTMLTableRowElement;
    first.focus();
    first.dispatchEvent(new KeyboardEvent("keydown", { key: "ArrowDown", bubbles: true }));
    expect(document.activeElement).toBe(trs()[1]);
    trs()[1]?.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.sent[model.sent.length - 1]).toEqual({ type: "open", id: row(1).id });
  });

  it("is one tab stop: rows rove, buttons stay out of the tab order and say which set", () => {
    const { el, trs, q } = mount(values([row(0), row(1, { state: "2 failed" }), row(2)]));
    const table = q(".qjm-d-table", el);
    expect(table.getAttribute("role")).toBe("grid");
    const stops = () => [...table.querySelectorAll('[tabindex="0"]')];
    expect(stops()).toEqual([trs()[0]]);
    const rowButtons = [...table.querySelectorAll<HTMLButtonElement>("tbody button")];
    expect(rowButtons).toHaveLength(3 * 6);
    expect(rowButtons.every((b) => b.getAttribute("tabindex") === "-1")).toBe(true);
    const labels = (tr: Element | undefined) =>
      [...(tr?.querySelectorAll("button") ?? [])].map((b) => b.getAttribute("aria-label"));
    expect(labels(trs()[1])).toEqual([
      "Open set 1",
      "Retry failed set 1",
      "Cancel set 1",
      "Delete set 1",
      "Yes, delete set 1",
      "Keep set 1",
    ]);
    expect(trs()[1]?.getAttribute("aria-label")).toBe("set 1, 2 failed, 4 of 4 chunks");
    (trs()[0] as HTMLElement).focus();
    press("ArrowDown");
    expect(document.activeElement).toBe(trs()[1]);
    expect(stops()).toEqual([trs()[1]]);
    // A button clicked (focused) takes the tab stop to its row.
    q<HTMLButtonElement>(".qjm-d-open", trs()[2]).focus();
    expect(stops()).toEqual([trs()[2]]);
  });

  it("Home and End jump to the first and last row; Space opens the set like Enter", () => {
    const { model, trs } = mount(values([row(0), row(1), row(2), row(3)]));
    (trs()[1] as HTMLElement).focus();
    expect(press("End").defaultPrevented).toBe(true);
    expect(document.activeElement).toBe(trs()[3]);
    press("Home");
    expect(document.activeElement).toBe(trs()[0]);
    press("ArrowDown");
    const space = press(" ");
    expect(space.defaultPrevented).toBe(true); // no page scroll
    expect(model.sent).toEqual([{ type: "open", id: row(1).id }]);
    press("Enter");
    expect(model.sent).toEqual([
      { type: "open", id: row(1).id },
      { type: "open", id: row(1).id },
    ]);
  });

  it("ArrowRight and ArrowLeft move into and along a row's enabled buttons", () => {
    const { model, trs, q } = mount(values([row(0), row(1, { state: "1 failed" })]));
    const second = trs()[1] as HTMLTableRowElement;
    second.focus();
    press("ArrowRight");
    expect(document.activeElement).toBe(q(".qjm-d-open", second));
    press("ArrowRight");
    expect(document.activeElement).toBe(q(".qjm-d-retry-failed", second));
    press("ArrowRight"); // Cancel is disabled: skipped
    expect(document.activeElement).toBe(q(".qjm-d-delete", second));
    press("ArrowRight"); // the last one: stays
    expect(document.activeElement).toBe(q(".qjm-d-delete", second));
    press("ArrowLeft");
    press("ArrowLeft");
    expect(document.activeElement).toBe(q(".qjm-d-open", second));
    press("ArrowLeft");
    expect(document.activeElement).toBe(second);
    press("ArrowLeft"); // nothing left of the row: handled, it does not move a row
    expect(document.activeElement).toBe(second);
    press("ArrowRight");
    press("ArrowUp");
    expect(document.activeElement).toBe(trs()[0]);
    press("ArrowRight");
    press("End");
    expect(document.activeElement).toBe(second);
    expect(model.sent).toEqual([]); // moving never acts
  });

  it("Escape cancels a pending delete, else closes the opened set, else goes on", () => {
    const { model, trs, q } = mount(values([row(0), row(1)]));
    const first = trs()[0] as HTMLTableRowElement;
    q<HTMLButtonElement>(".qjm-d-delete", first).click();
    expect(document.activeElement).toBe(q(".qjm-d-confirm-no", first));
    expect(press("Escape").defaultPrevented).toBe(true);
    expect(q<HTMLElement>(".qjm-d-confirm", first).hidden).toBe(true);
    expect(document.activeElement).toBe(q(".qjm-d-delete", first));
    q<HTMLButtonElement>(".qjm-d-delete", first).click();
    first.focus();
    press("Escape"); // on the row too
    expect(q<HTMLElement>(".qjm-d-confirm", first).hidden).toBe(true);
    expect(model.sent).toEqual([]);

    const passed = press("Escape"); // nothing to cancel or close: the host's key
    expect(passed.defaultPrevented).toBe(false);
    model.update({ opened: row(1).id });
    expect(press("Escape").defaultPrevented).toBe(true);
    expect(model.sent).toEqual([{ type: "close" }]);
    press("ArrowRight");
    press("Escape"); // from a button as well
    expect(model.sent).toEqual([{ type: "close" }, { type: "close" }]);
  });

  it("keeps the focused button, and a pending delete, when its row is updated", () => {
    const { model, trs, q, el } = mount(values([row(0, { state: "running", final: 1 })]));
    q<HTMLButtonElement>(".qjm-d-cancel", trs()[0]).focus();
    model.update({ updates: { seq: 1, rows: [row(0, { state: "running", final: 2 })] } });
    expect(document.activeElement).toBe(q(".qjm-d-cancel", trs()[0]));
    model.update({ updates: { seq: 2, rows: [row(0)] } }); // done: Cancel is gone, the row not
    expect(document.activeElement).toBe(trs()[0]);
    q<HTMLButtonElement>(".qjm-d-delete", trs()[0]).click();
    const filter = q<HTMLInputElement>(".qjm-d-filter-name", el);
    filter.focus();
    model.update({ updates: { seq: 3, rows: [row(0, { message: "x" })] } });
    expect(q<HTMLElement>(".qjm-d-confirm", trs()[0]).hidden).toBe(false);
    expect(document.activeElement).toBe(filter); // an update never takes the focus
  });

  it("renders every string as text, never markup", () => {
    const payload = "<img src=x onerror=alert(1)>";
    const { el, model, q } = mount(
      values([row(0, { name: payload, backend: payload, message: payload, tags: [payload] })], {
        message: payload,
      }),
    );
    expect(el.querySelector("img")).toBeNull();
    expect(q(".qjm-d-backend").textContent).toBe(payload);
    expect(q(".qjm-d-message").textContent).toBe(payload);
    expect(q(".qjm-d-message-bar").textContent).toBe(payload);
    model.update({ updates: { seq: 1, rows: [row(0, { state: payload })] } });
    expect(el.querySelector("img")).toBeNull();
  });

  it("tells the kernel when each view is shown and removed", () => {
    const first = mount(values([row(0)]));
    const second = mount(values([row(0)]));
    expect(first.model.views).toHaveLength(1);
    const [shown] = first.model.views;
    expect(shown).toMatchObject({ type: "views", shown: true });
    const view = shown?.type === "views" ? shown.view : "";
    expect(view).not.toBe("");
    expect(second.model.views[0]).not.toEqual(shown); // another view, another id
    cleanups.shift()?.();
    expect(first.model.views).toEqual([shown, { type: "views", view, shown: false }]);
    expect(first.model.sent).toEqual([]);
  });

  it("says a shown view is shown again every heartbeat, and stops once it is removed", () => {
    vi.useFakeTimers();
    const { model } = mount(values([row(0)]));
    const [shown] = model.views;
    vi.advanceTimersByTime(VIEW_HEARTBEAT_MS - 1);
    expect(model.views).toEqual([shown]);
    vi.advanceTimersByTime(1);
    expect(model.views).toEqual([shown, shown]);
    vi.advanceTimersByTime(2 * VIEW_HEARTBEAT_MS);
    expect(model.views).toEqual([shown, shown, shown, shown]);
    cleanups.shift()?.();
    const removed = model.views.length;
    vi.advanceTimersByTime(3 * VIEW_HEARTBEAT_MS);
    expect(model.views).toHaveLength(removed);
    expect(model.views[removed - 1]).toMatchObject({ type: "views", shown: false });
    expect(model.sent).toEqual([]);
  });

  it("ignores malformed rows and stops listening on cleanup", () => {
    const bad = [{ id: 3 }, null, row(0)] as unknown as Row[];
    const { trs, model } = mount(values(bad));
    expect(trs()).toHaveLength(1);
    const tr = trs()[0] as HTMLTableRowElement;
    const open = tr.querySelector(".qjm-d-open") as HTMLButtonElement;
    const cleanup = cleanups.pop();
    cleanup?.();
    model.update({ rows: [row(0), row(1)] });
    for (const target of [tr, open]) {
      const event = new KeyboardEvent("keydown", { key: "End", bubbles: true, cancelable: true });
      target.dispatchEvent(event);
      expect(event.defaultPrevented).toBe(false);
    }
    open.click();
    expect(model.sent).toEqual([]);
  });
});
